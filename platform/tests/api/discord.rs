//! The first-party Discord integration against a Discord API double on loopback: the double
//! enforces the documented message limits (content 2000, 10 embeds, 6000 characters over all
//! embeds, title 256, description 4096, field value 1024) with Discord's `50035` error, answers
//! the first post with a `429` and `retry_after`, and checks webhook tokens.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode as AxumStatus;
use axum::response::{IntoResponse, Response};
use lms_platform::outbound::AllowList;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{School, TestApp, plugin_wasm};

#[derive(Default)]
struct Double {
    /// Messages accepted.
    messages: Vec<Value>,
    /// Requests answered 429 so far.
    limited: usize,
    /// Requests refused for breaking a limit.
    invalid: usize,
}

type Shared = Arc<Mutex<Double>>;

fn chars(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

/// Discord's checks of an execute-webhook body; the first broken limit's message.
fn broken_limit(body: &Value) -> Option<&'static str> {
    let embeds = body["embeds"].as_array().cloned().unwrap_or_default();
    if chars(&body["content"]) > 2000 {
        return Some("content");
    }
    if embeds.is_empty() && chars(&body["content"]) == 0 {
        return Some("empty message");
    }
    if embeds.len() > 10 {
        return Some("embeds");
    }
    let mut total = 0;
    for e in &embeds {
        let fields = e["fields"].as_array().cloned().unwrap_or_default();
        if chars(&e["title"]) > 256
            || chars(&e["description"]) > 4096
            || chars(&e["footer"]["text"]) > 2048
            || fields.len() > 25
            || fields
                .iter()
                .any(|f| chars(&f["name"]) > 256 || chars(&f["value"]) > 1024)
        {
            return Some("embed field");
        }
        total += chars(&e["title"])
            + chars(&e["description"])
            + chars(&e["footer"]["text"])
            + fields
                .iter()
                .map(|f| chars(&f["name"]) + chars(&f["value"]))
                .sum::<usize>();
    }
    (total > 6000).then_some("embeds total")
}

async fn execute_webhook(
    State(double): State<Shared>,
    Path((id, token)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Response {
    let mut double = double
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if id != "1" || token != "webhook-token" {
        return (
            AxumStatus::UNAUTHORIZED,
            Json(json!({"message": "Invalid Webhook Token", "code": 50027})),
        )
            .into_response();
    }
    if double.limited == 0 {
        double.limited += 1;
        return (
            AxumStatus::TOO_MANY_REQUESTS,
            [
                ("x-ratelimit-limit", "5"),
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset-after", "0.05"),
                ("x-ratelimit-bucket", "webhook-1"),
                ("x-ratelimit-scope", "shared"),
            ],
            Json(json!({"message": "You are being rate limited.", "retry_after": 0.05, "global": false})),
        )
            .into_response();
    }
    if let Some(limit) = broken_limit(&body) {
        double.invalid += 1;
        return (
            AxumStatus::BAD_REQUEST,
            Json(json!({"message": format!("Invalid Form Body ({limit})"), "code": 50035})),
        )
            .into_response();
    }
    double.messages.push(body.clone());
    (
        AxumStatus::OK,
        Json(json!({"id": "900", "channel_id": "7"})),
    )
        .into_response()
}

async fn start_double() -> (u16, Shared) {
    let shared: Shared = Arc::default();
    let app = axum::Router::new()
        .route(
            "/api/webhooks/{id}/{token}",
            axum::routing::post(execute_webhook),
        )
        .with_state(Arc::clone(&shared));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the Discord double");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (port, shared)
}

#[tokio::test]
async fn enrolments_are_posted_to_the_channel_within_discords_limits_after_a_429() {
    let app = TestApp::spawn_with(|config| {
        config.outbound_allow = AllowList::parse("127.0.0.1").expect("allow list");
    })
    .await;
    let school = School::on(app).await;
    let (app, t) = (&school.app, &school.t);
    let (port, double) = start_double().await;
    let admin = |method: Method, path: String, body: Option<Value>| {
        let mut call = app
            .call(method, &path)
            .tenant(&t.slug)
            .bearer(&t.admin.access_token);
        if let Some(body) = body {
            call = call.json(body);
        }
        call.send()
    };

    use base64::Engine;
    let manifest: Value =
        serde_json::from_str(include_str!("../../../plugins/discord/plugin.json"))
            .expect("manifest");
    let capabilities = manifest["capabilities"].clone();
    admin(
        Method::POST,
        "/api/v1/plugins".into(),
        Some(json!({
            "manifest": manifest,
            "component": base64::engine::general_purpose::STANDARD.encode(plugin_wasm("discord")),
        })),
    )
    .await
    .assert_status(StatusCode::CREATED);
    admin(
        Method::POST,
        "/api/v1/plugins/discord/versions/0.1.0/install".into(),
        Some(json!({ "granted_capabilities": capabilities })),
    )
    .await
    .assert_status(StatusCode::OK);
    admin(Method::POST, "/api/v1/plugins/discord/enable".into(), None)
        .await
        .assert_status(StatusCode::OK);
    let settings = admin(
        Method::PUT,
        "/api/v1/plugins/discord/settings".into(),
        Some(json!({
            "settings": { "username": "Acme Academy", "announce": ["enrollment.created"] },
            "secrets": { "webhook_url": format!("http://127.0.0.1:{port}/api/webhooks/1/webhook-token") },
            "allowed_hosts": [format!("127.0.0.1:{port}")],
        })),
    )
    .await;
    settings.assert_status(StatusCode::OK);
    assert_eq!(settings.json()["secrets"], json!(["webhook_url"]));

    let long_title = format!("Rust {}", "for the impatient ".repeat(10));
    let course = school
        .teaching()
        .create_course("rust-101", json!({ "title": long_title.trim() }))
        .await;
    school.teaching().publish(&course).await;
    school
        .by(&t.learner)
        .enroll(&course)
        .await
        .assert_status(StatusCode::CREATED);

    // The first post is answered 429; the job is retried (the clock moved) and then accepted.
    let mut messages = Vec::new();
    for _ in 0..300 {
        sqlx::query(
            "with due as (update jobs set run_at = now()
                          where kind = 'plugins.deliver_event' and state = 'queued' returning 1)
             select pg_notify('lms_jobs', '') from due",
        )
        .execute(&mut app.db.superuser().await)
        .await
        .expect("advance the clock");
        messages = double
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .messages
            .clone();
        if !messages.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let tenant_name: String =
        sqlx::query_scalar("select display_name from tenants where slug = 'acme'")
            .fetch_one(&mut app.db.superuser().await)
            .await
            .expect("the tenant's name");
    let (limited, invalid) = {
        let state = double
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (state.limited, state.invalid)
    };
    assert_eq!(limited, 1);
    assert_eq!(invalid, 0);
    assert_eq!(messages.len(), 1, "{messages:?}");
    let message = &messages[0];
    assert_eq!(message["username"], "Acme Academy");
    assert_eq!(message["allowed_mentions"]["parse"], json!([]));
    let embed = &message["embeds"][0];
    let title = embed["title"].as_str().unwrap_or_default();
    assert!(title.starts_with("👋 "), "{title}");
    assert!(
        title.contains("enrolled in Rust for the impatient"),
        "{title}"
    );
    assert!(title.chars().count() <= 256);
    assert_eq!(embed["footer"]["text"], tenant_name.as_str());
}
