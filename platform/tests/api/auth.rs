//! Local accounts: registration, login, refresh, logout, password change and reset, invitations.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Reply, TestApp, TestUser, user_from_session};

const NEW_PASSWORD: &str = "a brand new passphrase 42";

/// The field paths of a validation problem's `errors`.
fn problem_fields(reply: &Reply) -> Vec<String> {
    reply.json()["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn registration_signs_in_a_learner_and_rejects_bad_input() {
    let app = TestApp::spawn().await;
    app.create_tenant("acme").await;

    let reply = app
        .post("/api/v1/auth/register")
        .tenant("acme")
        .json(json!({
            "email": "Ada@Example.org",
            "password": PASSWORD,
            "display_name": "Ada Lovelace",
        }))
        .send()
        .await;
    reply.assert_status(StatusCode::CREATED);
    let body = reply.json();
    assert_eq!(body["token_type"], "Bearer", "{body}");
    assert!(body["expires_in"].as_u64().is_some_and(|s| s > 0), "{body}");
    assert_eq!(body["user"]["email"], "ada@example.org", "{body}");
    assert_eq!(body["user"]["display_name"], "Ada Lovelace", "{body}");
    assert_eq!(body["user"]["roles"], json!(["learner"]), "{body}");
    assert_eq!(body["user"]["status"], "active", "{body}");
    assert!(body.get("csrf_token").is_none(), "{body}");
    let user = user_from_session(&body, "ada@example.org");
    assert!(!user.refresh_token.is_empty());

    // The tokens it returned are live.
    let who = app.me("acme", &user.access_token).await;
    who.assert_status(StatusCode::OK);
    assert_eq!(who.json()["id"], user.id.as_str());
    app.refresh("acme", &user.refresh_token)
        .await
        .assert_status(StatusCode::OK);

    // The same email again, whatever its case, is taken.
    app.post("/api/v1/auth/register")
        .tenant("acme")
        .json(
            json!({ "email": " ADA@example.org ", "password": PASSWORD, "display_name": "Other" }),
        )
        .send()
        .await
        .assert_problem(StatusCode::CONFLICT, "email_taken");

    let weak = app
        .post("/api/v1/auth/register")
        .tenant("acme")
        .json(json!({ "email": "bob@example.org", "password": "short", "display_name": "Bob" }))
        .send()
        .await;
    weak.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(problem_fields(&weak), ["password"], "{}", weak.text);

    let invalid = app
        .post("/api/v1/auth/register")
        .tenant("acme")
        .json(json!({ "email": "not-an-email", "password": PASSWORD, "display_name": "Bob" }))
        .send()
        .await;
    invalid.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(problem_fields(&invalid), ["email"], "{}", invalid.text);

    // None of the rejected attempts created an account.
    app.login("acme", "bob@example.org", PASSWORD)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
}

#[tokio::test]
async fn a_tenant_admin_can_turn_self_registration_off() {
    let (app, tenant) = TestApp::with_tenant("acme").await;

    // A learner may not change the setting.
    app.call(Method::PATCH, "/api/v1/tenant")
        .tenant("acme")
        .bearer(&tenant.learner.access_token)
        .json(json!({ "settings": { "self_registration": false } }))
        .send()
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    app.register("acme", "still-open@example.org").await;

    let patched = app
        .call(Method::PATCH, "/api/v1/tenant")
        .tenant("acme")
        .bearer(&tenant.admin.access_token)
        .json(json!({ "settings": { "self_registration": false } }))
        .send()
        .await;
    patched.assert_status(StatusCode::OK);
    assert_eq!(patched.json()["self_registration"], false);

    let public = app.get("/api/v1/tenant").tenant("acme").send().await;
    public.assert_status(StatusCode::OK);
    assert_eq!(public.json()["self_registration"], false);

    app.post("/api/v1/auth/register")
        .tenant("acme")
        .json(json!({ "email": "late@example.org", "password": PASSWORD, "display_name": "Late" }))
        .send()
        .await
        .assert_problem(StatusCode::FORBIDDEN, "registration_disabled");
    app.login("acme", "late@example.org", PASSWORD)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
}

#[tokio::test]
async fn login_me_refresh_rotation_and_logout() {
    let (app, tenant) = TestApp::with_tenant("acme").await;
    let email = tenant.learner.email.clone();

    let login = app.login("acme", &email, PASSWORD).await;
    login.assert_status(StatusCode::OK);
    let session = user_from_session(&login.json(), &email);
    assert_eq!(session.id, tenant.learner.id);

    let who = app.me("acme", &session.access_token).await;
    who.assert_status(StatusCode::OK);
    let who = who.json();
    assert_eq!(who["id"], tenant.learner.id.as_str(), "{who}");
    assert_eq!(who["email"], email.as_str(), "{who}");
    assert_eq!(who["roles"], json!(["learner"]), "{who}");
    assert!(who.get("password_hash").is_none(), "{who}");

    let rotated = app.refresh("acme", &session.refresh_token).await;
    rotated.assert_status(StatusCode::OK);
    let rotated = user_from_session(&rotated.json(), &email);
    assert_ne!(rotated.refresh_token, session.refresh_token);
    assert_ne!(rotated.access_token, session.access_token);
    let who = app.me("acme", &rotated.access_token).await;
    who.assert_status(StatusCode::OK);
    assert_eq!(who.json()["id"], tenant.learner.id.as_str());

    app.post("/api/v1/auth/logout")
        .tenant("acme")
        .json(json!({ "refresh_token": rotated.refresh_token }))
        .send()
        .await
        .assert_status(StatusCode::NO_CONTENT);
    app.refresh("acme", &rotated.refresh_token)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_refresh_token");

    // Logging out one session leaves the others alone.
    app.refresh("acme", &tenant.learner.refresh_token)
        .await
        .assert_status(StatusCode::OK);
    // An unknown refresh token is simply refused.
    app.refresh("acme", "not-a-real-refresh-token")
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_refresh_token");
}

#[tokio::test]
async fn changing_the_password_ends_every_session() {
    let (app, tenant) = TestApp::with_tenant("acme").await;
    let learner = &tenant.learner;

    let wrong = app
        .post("/api/v1/auth/password")
        .tenant("acme")
        .bearer(&learner.access_token)
        .json(
            json!({ "current_password": "not the password at all", "new_password": NEW_PASSWORD }),
        )
        .send()
        .await;
    wrong.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(
        problem_fields(&wrong),
        ["current_password"],
        "{}",
        wrong.text
    );
    // The failed attempt changed nothing.
    app.me("acme", &learner.access_token)
        .await
        .assert_status(StatusCode::OK);

    app.post("/api/v1/auth/password")
        .tenant("acme")
        .bearer(&learner.access_token)
        .json(json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD }))
        .send()
        .await
        .assert_status(StatusCode::NO_CONTENT);

    app.me("acme", &learner.access_token)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_token");
    app.refresh("acme", &learner.refresh_token)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_refresh_token");
    app.login("acme", &learner.email, PASSWORD)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
    let fresh = app.login("acme", &learner.email, NEW_PASSWORD).await;
    fresh.assert_status(StatusCode::OK);
    let fresh = user_from_session(&fresh.json(), &learner.email);
    app.me("acme", &fresh.access_token)
        .await
        .assert_status(StatusCode::OK);
}

#[tokio::test]
async fn password_reset_by_email_link_works_once_and_ends_sessions() {
    let (app, tenant) = TestApp::with_tenant("acme").await;
    let learner = &tenant.learner;
    // A second session besides the one registration started.
    let other = app.login("acme", &learner.email, PASSWORD).await;
    other.assert_status(StatusCode::OK);
    let other = user_from_session(&other.json(), &learner.email);

    let requested = app
        .post("/api/v1/auth/password-reset")
        .tenant("acme")
        .json(json!({ "email": learner.email }))
        .send()
        .await;
    requested.assert_status(StatusCode::ACCEPTED);
    assert_eq!(requested.json()["status"], "accepted");
    let email = app.last_email_to(&learner.email).await;
    assert!(email.contains("reset-password?token="), "{email}");
    let token = app.token_from_last_email(&learner.email).await;

    app.post("/api/v1/auth/password-reset/confirm")
        .tenant("acme")
        .json(json!({ "token": token, "new_password": NEW_PASSWORD }))
        .send()
        .await
        .assert_status(StatusCode::NO_CONTENT);

    app.login("acme", &learner.email, NEW_PASSWORD)
        .await
        .assert_status(StatusCode::OK);
    app.login("acme", &learner.email, PASSWORD)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_credentials");

    // The link works once.
    app.post("/api/v1/auth/password-reset/confirm")
        .tenant("acme")
        .json(json!({ "token": token, "new_password": "yet another passphrase" }))
        .send()
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_reset_token");
    app.login("acme", &learner.email, NEW_PASSWORD)
        .await
        .assert_status(StatusCode::OK);

    // Every session from before the reset is over.
    for earlier in [learner, &other] {
        app.refresh("acme", &earlier.refresh_token)
            .await
            .assert_problem(StatusCode::UNAUTHORIZED, "invalid_refresh_token");
        app.me("acme", &earlier.access_token)
            .await
            .assert_problem(StatusCode::UNAUTHORIZED, "invalid_token");
    }
}

#[tokio::test]
async fn an_expired_reset_link_is_refused() {
    let (app, tenant) = TestApp::with_tenant("acme").await;
    let learner = &tenant.learner;
    app.post("/api/v1/auth/password-reset")
        .tenant("acme")
        .json(json!({ "email": learner.email }))
        .send()
        .await
        .assert_status(StatusCode::ACCEPTED);
    let token = app.token_from_last_email(&learner.email).await;

    let mut db = app.db.superuser().await;
    let expired = sqlx::query(
        "update user_tokens set expires_at = now() - interval '1 minute'
         where purpose = 'password_reset' and consumed_at is null and user_id = $1::uuid",
    )
    .bind(&learner.id)
    .execute(&mut db)
    .await
    .expect("expire the reset token");
    assert_eq!(expired.rows_affected(), 1);

    app.post("/api/v1/auth/password-reset/confirm")
        .tenant("acme")
        .json(json!({ "token": token, "new_password": NEW_PASSWORD }))
        .send()
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_reset_token");
    // Nothing changed: the old password and the old session still work.
    app.login("acme", &learner.email, PASSWORD)
        .await
        .assert_status(StatusCode::OK);
    app.me("acme", &learner.access_token)
        .await
        .assert_status(StatusCode::OK);
}

#[tokio::test]
async fn an_invitation_is_accepted_once_and_gates_sign_in() {
    let (app, tenant) = TestApp::with_tenant("acme").await;
    let invitee = "grace@example.org";

    // Only admins invite.
    app.post("/api/v1/users/invitations")
        .tenant("acme")
        .bearer(&tenant.learner.access_token)
        .json(json!({ "email": invitee, "display_name": "Grace", "roles": ["instructor"] }))
        .send()
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");

    let invited = app
        .post("/api/v1/users/invitations")
        .tenant("acme")
        .bearer(&tenant.admin.access_token)
        .json(json!({ "email": invitee, "display_name": "Grace", "roles": ["instructor"] }))
        .send()
        .await;
    invited.assert_status(StatusCode::CREATED);
    let invited: Value = invited.json();
    assert_eq!(invited["email"], invitee, "{invited}");
    assert_eq!(invited["status"], "invited", "{invited}");
    assert_eq!(invited["roles"], json!(["instructor"]), "{invited}");

    // Not before accepting, with any password.
    app.login("acme", invitee, PASSWORD)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_credentials");

    let token = app.token_from_last_email(invitee).await;
    let accepted = app
        .post("/api/v1/auth/invitations/accept")
        .tenant("acme")
        .json(json!({ "token": token, "password": PASSWORD, "display_name": "Grace Hopper" }))
        .send()
        .await;
    accepted.assert_status(StatusCode::OK);
    let body = accepted.json();
    assert_eq!(body["user"]["id"], invited["id"], "{body}");
    assert_eq!(body["user"]["status"], "active", "{body}");
    assert_eq!(body["user"]["display_name"], "Grace Hopper", "{body}");
    assert_eq!(body["user"]["roles"], json!(["instructor"]), "{body}");
    let grace: TestUser = user_from_session(&body, invitee);
    app.me("acme", &grace.access_token)
        .await
        .assert_status(StatusCode::OK);

    app.post("/api/v1/auth/invitations/accept")
        .tenant("acme")
        .json(json!({ "token": token, "password": "somebody else's pass" }))
        .send()
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_invitation");
    // The second attempt did not take over the account.
    app.login("acme", invitee, "somebody else's pass")
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
    app.login("acme", invitee, PASSWORD)
        .await
        .assert_status(StatusCode::OK);
}
