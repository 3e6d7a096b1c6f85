//! Per-address request rate limits and the per-account login backoff.

use std::time::Duration;

use lms_platform::config::RateLimits;
use reqwest::StatusCode;

use crate::helpers::{PASSWORD, Reply, TestApp};

/// `Retry-After` in whole seconds; panics if the header is missing or not a number.
#[track_caller]
fn retry_after(reply: &Reply) -> u64 {
    reply
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no numeric Retry-After header; body: {}", reply.text))
}

#[track_caller]
fn assert_rate_limited(reply: &Reply) {
    reply.assert_problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert!(retry_after(reply) >= 1, "Retry-After must be at least 1 s");
}

/// Sends `n` requests at once (so that the limiter sees them within the same instant, however
/// slow a loaded machine hashes passwords) and returns the replies.
async fn burst<F, Fut>(n: usize, make: F) -> Vec<Reply>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Reply>,
{
    futures::future::join_all((0..n).map(|_| make())).await
}

fn count(replies: &[Reply], status: StatusCode) -> usize {
    replies.iter().filter(|r| r.status == status).count()
}

#[tokio::test]
async fn the_auth_limit_answers_429_beyond_the_burst_and_spares_other_routes() {
    let app = TestApp::spawn_with(|c| {
        c.rate_limits = RateLimits {
            auth_per_second: 1,
            auth_burst: 3,
            global_per_second: 10_000,
            global_burst: 10_000,
        };
    })
    .await;
    // Operator routes are not auth routes: this uses none of the auth budget.
    app.create_tenant("acme").await;

    let replies = burst(4, || {
        app.login("acme", "someone@acme.example", "not the password")
    })
    .await;
    assert_eq!(
        count(&replies, StatusCode::UNAUTHORIZED),
        3,
        "three logins within the burst are answered normally; got {:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    let limited: Vec<&Reply> = replies
        .iter()
        .filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert_eq!(limited.len(), 1);
    assert_rate_limited(limited[0]);

    // Right away another login is limited, while non-auth endpoints are still served.
    assert_rate_limited(&app.login("acme", "someone@acme.example", PASSWORD).await);
    let tenant = app.get("/api/v1/tenant").tenant("acme").send().await;
    tenant.assert_status(StatusCode::OK);
    assert_eq!(tenant.json()["slug"], "acme");
}

#[tokio::test]
async fn the_global_limit_applies_to_every_route() {
    let app = TestApp::spawn_with(|c| {
        c.rate_limits = RateLimits {
            auth_per_second: 10_000,
            auth_burst: 10_000,
            global_per_second: 1,
            global_burst: 3,
        };
    })
    .await;

    let replies = burst(4, || app.get("/api/v1/tenant").tenant("nowhere").send()).await;
    assert_eq!(
        count(&replies, StatusCode::NOT_FOUND),
        3,
        "three requests within the burst are answered normally; got {:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    let limited: Vec<&Reply> = replies
        .iter()
        .filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert_eq!(limited.len(), 1);
    assert_rate_limited(limited[0]);
    // Whatever the route, auth or not.
    assert_rate_limited(&app.login("nowhere", "x@example.org", PASSWORD).await);
    assert_rate_limited(&app.get("/api/v1/openapi.json").send().await);

    // The budget refills with time.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    app.get("/api/v1/tenant")
        .tenant("nowhere")
        .send()
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn repeated_wrong_passwords_slow_down_that_account_only() {
    let app = TestApp::spawn().await;
    app.create_tenant("acme").await;
    let victim = app.register("acme", "victim@acme.example").await;
    let bystander = app.register("acme", "bystander@acme.example").await;

    for attempt in 1..=5 {
        let reply = app.login("acme", &victim.email, "wrong password!").await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}: {}",
            reply.text
        );
    }
    // Even the right password now waits.
    let blocked = app.login("acme", &victim.email, PASSWORD).await;
    assert_rate_limited(&blocked);
    let wait = retry_after(&blocked);
    assert!(wait <= 2, "the first backoff is short: {wait} s");
    // Email case and spacing do not get around it.
    assert_rate_limited(&app.login("acme", " VICTIM@acme.example", PASSWORD).await);

    // Others from the same address are answered normally.
    app.login("acme", &bystander.email, PASSWORD)
        .await
        .assert_status(StatusCode::OK);
    app.login("acme", &bystander.email, "wrong password!")
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_credentials");

    // Once the wait is over the right password works again.
    tokio::time::sleep(Duration::from_millis(wait * 1_000 + 200)).await;
    app.login("acme", &victim.email, PASSWORD)
        .await
        .assert_status(StatusCode::OK);
}

#[tokio::test]
async fn guessing_the_current_password_with_a_stolen_token_is_slowed_down() {
    let (app, tenant) = TestApp::with_tenant("acme").await;
    let guess = |n: usize| {
        app.post("/api/v1/auth/password")
            .tenant("acme")
            .bearer(&tenant.learner.access_token)
            .json(serde_json::json!({ "current_password": format!("guess number {n}"), "new_password": "a brand new password" }))
            .send()
    };
    for n in 0..5 {
        guess(n).await.assert_problem(
            reqwest::StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        );
    }
    let blocked = guess(5).await;
    blocked.assert_problem(reqwest::StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert!(
        blocked.headers.contains_key("retry-after"),
        "no Retry-After"
    );
}
