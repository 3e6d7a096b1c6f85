//! `/api/v1/tenant`: the public profile a white-labelled app reads, and the tenant admin's edits.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Reply, TestApp, TestTenant, paths};

async fn patch(app: &TestApp, t: &TestTenant, token: &str, body: Value) -> Reply {
    app.call(Method::PATCH, "/api/v1/tenant")
        .tenant(&t.slug)
        .bearer(token)
        .json(body)
        .send()
        .await
}

async fn public(app: &TestApp, slug: &str) -> Value {
    let reply = app.get("/api/v1/tenant").tenant(slug).send().await;
    reply.assert_status(StatusCode::OK);
    reply.json()
}

#[tokio::test]
async fn the_public_profile_shows_only_what_an_app_needs() {
    let (app, t) = TestApp::with_tenant("acme").await;
    app.post(&paths::operator_domains(&t.id))
        .operator()
        .json(json!({ "domain": "learn.acme.test" }))
        .send()
        .await
        .assert_status(StatusCode::CREATED);
    for call in [
        app.get("/api/v1/tenant").tenant("acme"),
        app.get("/api/v1/tenant").host("acme.lms.test"),
        app.get("/api/v1/tenant").host("learn.acme.test"),
    ] {
        let reply = call.send().await;
        reply.assert_status(StatusCode::OK);
        let body = reply.json();
        let keys: BTreeSet<&str> = body
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            BTreeSet::from(["slug", "display_name", "branding", "self_registration"]),
            "{}",
            reply.text
        );
        assert_eq!(body["slug"], "acme");
        assert_eq!(body["display_name"], "Tenant acme");
        assert!(body["branding"].is_object());
        assert_eq!(body["self_registration"], true);
        // Internal ids, status and domains are not public.
        for private in [t.id.as_str(), "learn.acme.test", "active"] {
            assert!(!reply.text.contains(private), "{private} in {}", reply.text);
        }
    }
}

#[tokio::test]
async fn admins_update_name_branding_and_settings() {
    let (app, t) = TestApp::with_tenant("acme").await;
    app.seed_tenant("other").await;
    let branding = json!({
        "logo_url": "https://cdn.acme.example/logo.svg",
        "primary_color": "#12ab3F",
        "accent_color": "#000000",
        "support_email": "help@acme.example",
        "theme": { "radius": "8px", "font-family": "Inter, sans-serif" }
    });
    let updated = patch(
        &app,
        &t,
        &t.admin.access_token,
        json!({ "display_name": "  Acme Academy ", "branding": branding }),
    )
    .await;
    updated.assert_status(StatusCode::OK);
    assert_eq!(updated.json()["display_name"], "Acme Academy");
    assert_eq!(updated.json()["branding"]["primary_color"], "#12ab3F");

    let shown = public(&app, "acme").await;
    assert_eq!(shown["display_name"], "Acme Academy");
    assert_eq!(
        shown["branding"]["logo_url"],
        "https://cdn.acme.example/logo.svg"
    );
    assert_eq!(shown["branding"]["primary_color"], "#12ab3F");
    assert_eq!(shown["branding"]["theme"]["radius"], "8px");
    // Other tenants are untouched.
    let untouched = public(&app, "other").await;
    assert_eq!(untouched["display_name"], "Tenant other");
    assert!(
        untouched["branding"]["primary_color"].is_null(),
        "{untouched}"
    );

    // Fields left out stay as they are; branding is replaced as a whole when given.
    patch(
        &app,
        &t,
        &t.admin.access_token,
        json!({ "settings": { "self_registration": false } }),
    )
    .await
    .assert_status(StatusCode::OK);
    let shown = public(&app, "acme").await;
    assert_eq!(shown["self_registration"], false);
    assert_eq!(shown["display_name"], "Acme Academy");
    assert_eq!(shown["branding"]["primary_color"], "#12ab3F");
    // The switch takes effect: sign-up is closed.
    app.post("/api/v1/auth/register")
        .tenant("acme")
        .json(json!({ "email": "new@acme.example", "password": PASSWORD, "display_name": "New" }))
        .send()
        .await
        .assert_problem(StatusCode::FORBIDDEN, "registration_disabled");
    app.register("other", "new@other.example").await;

    patch(
        &app,
        &t,
        &t.admin.access_token,
        json!({ "branding": { "accent_color": "#ffffff" } }),
    )
    .await
    .assert_status(StatusCode::OK);
    let shown = public(&app, "acme").await;
    assert!(shown["branding"]["primary_color"].is_null(), "{shown}");
    assert_eq!(shown["branding"]["accent_color"], "#ffffff");

    // The operator sees the same tenant.
    let seen = app
        .get(&paths::operator_tenant(&t.id))
        .operator()
        .send()
        .await;
    assert_eq!(seen.json()["display_name"], "Acme Academy");
    assert_eq!(seen.json()["settings"]["self_registration"], false);
    assert_eq!(seen.json()["status"], "active");

    // Each change is in the audit trail, by the admin.
    let trail = app
        .get("/api/v1/audit-events?action=tenant.updated")
        .tenant("acme")
        .bearer(&t.admin.access_token)
        .send()
        .await;
    trail.assert_status(StatusCode::OK);
    let events = trail.json()["items"].as_array().cloned().expect("items");
    assert_eq!(events.len(), 3, "{}", trail.text);
    for event in &events {
        assert_eq!(event["action"], "tenant.updated");
        assert_eq!(event["actor_kind"], "user");
        assert_eq!(event["actor_id"], t.admin.id.as_str());
        assert_eq!(event["target_type"], "tenant");
        assert_eq!(event["target_id"], t.id.as_str());
        assert_eq!(event["ip"], "127.0.0.1");
    }
    assert_eq!(events[1]["details"]["settings"]["self_registration"], false);
}

#[tokio::test]
async fn unsafe_branding_is_refused_with_the_field_path() {
    let (app, t) = TestApp::with_tenant("acme").await;
    let cases = [
        (json!({ "primary_color": "red" }), "branding.primary_color"),
        (
            json!({ "primary_color": "#12345" }),
            "branding.primary_color",
        ),
        (
            json!({ "primary_color": "#12345g" }),
            "branding.primary_color",
        ),
        (
            json!({ "accent_color": "#1234567" }),
            "branding.accent_color",
        ),
        (
            json!({ "logo_url": "javascript:alert(1)" }),
            "branding.logo_url",
        ),
        (
            json!({ "logo_url": "http://cdn.acme.example/logo.svg" }),
            "branding.logo_url",
        ),
        (
            json!({ "logo_url": "data:image/svg+xml,<svg onload=alert(1)>" }),
            "branding.logo_url",
        ),
        (
            json!({ "logo_url": "https://x.example/a b" }),
            "branding.logo_url",
        ),
        (
            json!({ "support_email": "nobody" }),
            "branding.support_email",
        ),
        (
            json!({ "theme": { "radius": "4px}body{display:none" } }),
            "branding.theme",
        ),
        (
            json!({ "theme": { "radius": "4px;color:red" } }),
            "branding.theme",
        ),
        (
            json!({ "theme": { "x": "</style><script>" } }),
            "branding.theme",
        ),
        (json!({ "theme": { "bad key": "1" } }), "branding.theme"),
        (json!({ "primary_color": 5 }), "branding.primary_color"),
        (json!({ "favicon": "https://x.example/f.ico" }), "branding"),
    ];
    for (branding, field) in cases {
        let reply = patch(
            &app,
            &t,
            &t.admin.access_token,
            json!({ "branding": branding.clone() }),
        )
        .await;
        reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let reported = reply.json()["errors"][0]["field"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            reported == field || (field == "branding" && reported.starts_with("branding")),
            "{branding}: expected field {field}, got {}",
            reply.text
        );
    }
    let too_many: serde_json::Map<String, Value> =
        (0..33).map(|i| (format!("v{i}"), json!("1"))).collect();
    patch(
        &app,
        &t,
        &t.admin.access_token,
        json!({ "branding": { "theme": too_many } }),
    )
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    for name in ["", "   ", "a\u{0007}b"] {
        let reply = patch(
            &app,
            &t,
            &t.admin.access_token,
            json!({ "display_name": name }),
        )
        .await;
        reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(reply.json()["errors"][0]["field"], "display_name");
    }
    // Nothing was stored, and nothing was audited.
    let shown = public(&app, "acme").await;
    assert_eq!(shown["display_name"], "Tenant acme");
    assert_eq!(
        shown["branding"],
        json!({ "logo_url": null, "primary_color": null, "accent_color": null, "support_email": null, "theme": {} })
    );
    let trail = app
        .get("/api/v1/audit-events?action=tenant.updated")
        .tenant("acme")
        .bearer(&t.admin.access_token)
        .send()
        .await;
    assert_eq!(trail.json()["items"], json!([]));
}

#[tokio::test]
async fn only_admins_may_edit_the_profile() {
    let (app, t) = TestApp::with_tenant("acme").await;
    let body = json!({ "display_name": "Hijacked", "branding": { "primary_color": "#ff0000" } });
    patch(&app, &t, &t.learner.access_token, body.clone())
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    let anonymous = app
        .call(Method::PATCH, "/api/v1/tenant")
        .tenant("acme")
        .json(body.clone())
        .send()
        .await;
    anonymous.assert_problem(StatusCode::UNAUTHORIZED, "missing_token");
    // An instructor is not an admin either.
    app.call(Method::PUT, &paths::user_roles(&t.learner.id))
        .tenant("acme")
        .bearer(&t.admin.access_token)
        .json(json!({ "roles": ["instructor", "mentor", "corporate_manager"] }))
        .send()
        .await
        .assert_status(StatusCode::OK);
    let session = app.login("acme", &t.learner.email, PASSWORD).await;
    let instructor = session.json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    patch(&app, &t, &instructor, body)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(public(&app, "acme").await["display_name"], "Tenant acme");
}
