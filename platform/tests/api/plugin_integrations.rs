//! Integration plugins end to end: a probe integration (`plugins/testing/probe-integration`)
//! installed with its settings receives the events it subscribed to through jobs, calls a
//! receiver on loopback only where its install allows, keeps its key-value store between calls,
//! and an integration that traps is retried, then dead, without holding up another install.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use lms_platform::outbound::AllowList;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Reply, SCHOOL, School, TestApp, TestTenant, plugin_wasm};

type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// An HTTP receiver on loopback that answers 204 and remembers each request's path and
/// `x-probe` header.
struct Receiver {
    port: u16,
    seen: Seen,
}

impl Receiver {
    async fn start() -> Self {
        let seen: Seen = Arc::default();
        async fn record(
            State(seen): State<Seen>,
            uri: axum::http::Uri,
            headers: HeaderMap,
        ) -> StatusCode {
            let probe = headers
                .get("x-probe")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            seen.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push((uri.path().to_owned(), probe));
            StatusCode::NO_CONTENT
        }
        let app = axum::Router::new()
            .fallback(record)
            .with_state(Arc::clone(&seen));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the receiver");
        let port = listener.local_addr().expect("address").port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { port, seen }
    }

    fn seen(&self) -> Vec<(String, Option<String>)> {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    async fn wait_for(&self, count: usize) -> Vec<(String, Option<String>)> {
        for _ in 0..300 {
            let seen = self.seen();
            if seen.len() >= count {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the receiver saw {:?}, not {count} requests", self.seen())
    }
}

async fn admin(
    app: &TestApp,
    t: &TestTenant,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Reply {
    let mut call = app
        .call(method, path)
        .tenant(&t.slug)
        .bearer(&t.admin.access_token);
    if let Some(body) = body {
        call = call.json(body);
    }
    call.send().await
}

const CAPABILITIES: [&str; 5] = ["http", "key_value", "learner_profile", "log", "secrets"];

/// Uploads the probe as `name`, installs it with every capability it asks for, enables it and
/// saves `settings`.
async fn install_probe(
    app: &TestApp,
    t: &TestTenant,
    name: &str,
    hosts: &[String],
    settings: Value,
) {
    use base64::Engine;
    let body = json!({
        "manifest": {
            "name": name,
            "version": "1.0.0",
            "world": "integration",
            "capabilities": CAPABILITIES,
            "config_schema": {"type": "object"},
            "description": "a probe",
            "events": ["enrollment.created"],
        },
        "component": base64::engine::general_purpose::STANDARD
            .encode(plugin_wasm("probe_integration")),
    });
    admin(app, t, Method::POST, "/api/v1/plugins", Some(body))
        .await
        .assert_status(StatusCode::CREATED);
    admin(
        app,
        t,
        Method::POST,
        &format!("/api/v1/plugins/{name}/versions/1.0.0/install"),
        Some(json!({ "granted_capabilities": CAPABILITIES })),
    )
    .await
    .assert_status(StatusCode::OK);
    admin(
        app,
        t,
        Method::POST,
        &format!("/api/v1/plugins/{name}/enable"),
        None,
    )
    .await
    .assert_status(StatusCode::OK);
    admin(
        app,
        t,
        Method::PUT,
        &format!("/api/v1/plugins/{name}/settings"),
        Some(
            json!({ "settings": settings, "allowed_hosts": hosts, "secrets": {"token": "s3cret"} }),
        ),
    )
    .await
    .assert_status(StatusCode::OK);
}

async fn school_allowing_loopback() -> School {
    let app = TestApp::spawn_with(|config| {
        config.outbound_allow = AllowList::parse("127.0.0.1").expect("allow list");
    })
    .await;
    School::on(app).await
}

/// A published course the school's learner enrolls in; returns the course's title.
async fn enroll_learner(school: &School, slug: &str) -> String {
    let course = school.teaching().create_course(slug, json!({})).await;
    school.teaching().publish(&course).await;
    school
        .by(&school.t.learner)
        .enroll(&course)
        .await
        .assert_status(StatusCode::CREATED);
    format!("Course {slug}")
}

async fn key_value(app: &TestApp, plugin: &str, key: &str) -> Option<String> {
    let value: Option<Vec<u8>> = sqlx::query_scalar(
        "select kv.value from plugin_kv kv join plugins p
           on p.tenant_id = kv.tenant_id and p.id = kv.plugin_id
         where p.name = $1 and kv.key = $2",
    )
    .bind(plugin)
    .bind(key)
    .fetch_optional(&mut app.db.superuser().await)
    .await
    .expect("read the key-value store");
    value.map(|v| String::from_utf8_lossy(&v).into_owned())
}

async fn delivery_states(app: &TestApp) -> Vec<(String, String, i32)> {
    sqlx::query_as(
        "select p.name, j.state, j.attempts from jobs j
         join plugins p on p.tenant_id = j.tenant_id and p.id = (j.payload->>'plugin')::uuid
         where j.kind = 'plugins.deliver_event' order by p.name",
    )
    .fetch_all(&mut app.db.superuser().await)
    .await
    .expect("read the delivery jobs")
}

#[tokio::test]
async fn an_integration_receives_its_events_through_jobs_and_keeps_its_store() {
    let school = school_allowing_loopback().await;
    let (app, t) = (&school.app, &school.t);
    let receiver = Receiver::start().await;
    let host = format!("127.0.0.1:{}", receiver.port);
    install_probe(
        app,
        t,
        "probe",
        &[host.clone()],
        json!({"mode": "http", "url": format!("http://{host}/hook"), "count": 1}),
    )
    .await;

    // The secret is kept sealed and only its name is shown.
    let settings = admin(app, t, Method::GET, "/api/v1/plugins/probe/settings", None).await;
    settings.assert_status(StatusCode::OK);
    assert_eq!(settings.json()["secrets"], json!(["token"]));
    assert_eq!(
        settings.json()["event_types"],
        json!(["enrollment.created"])
    );
    assert!(!settings.text.contains("s3cret"));
    let stored: Value = sqlx::query_scalar("select secrets from plugin_install_settings")
        .fetch_one(&mut app.db.superuser().await)
        .await
        .expect("the stored secrets");
    assert!(!stored.to_string().contains("s3cret"), "{stored}");

    let title = enroll_learner(&school, "rust-101").await;
    let seen = receiver.wait_for(1).await;
    assert_eq!(seen[0].0, "/hook");
    let event_id = seen[0].1.clone().expect("the probe names the event");
    let kind: String = sqlx::query_scalar("select kind from domain_events where id = $1::uuid")
        .bind(&event_id)
        .fetch_one(&mut app.db.superuser().await)
        .await
        .expect("the delivered event exists");
    assert_eq!(kind, "enrollment.created");

    // The store is saved with the job's completion; learner_profile lets it see the email.
    for _ in 0..100 {
        if key_value(app, "probe", "status").await.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        key_value(app, "probe", "status").await.as_deref(),
        Some("204")
    );
    let last = key_value(app, "probe", "last-event")
        .await
        .expect("last-event");
    assert_eq!(
        last,
        format!(
            "enrollment.created|{}|{}|-|{title}|{SCHOOL}",
            t.learner.id, t.learner.email
        )
    );

    let invocations = admin(app, t, Method::GET, "/api/v1/plugin-invocations", None).await;
    let items = invocations.json()["items"].clone();
    assert_eq!(items[0]["plugin"], "probe");
    assert_eq!(items[0]["outcome"], "success");
    assert_eq!(items[0]["wit_version"], "0.2.0");
    assert!(items[0]["invoked_by"].is_null());
}

#[tokio::test]
async fn requests_reach_only_the_allowed_hosts() {
    let school = school_allowing_loopback().await;
    let (app, t) = (&school.app, &school.t);
    let receiver = Receiver::start().await;
    // Allowed: another port. The receiver's port is not among the install's hosts.
    install_probe(
        app,
        t,
        "probe",
        &["127.0.0.1:1".to_owned()],
        json!({"mode": "http", "url": format!("http://127.0.0.1:{}/hook", receiver.port), "count": 1}),
    )
    .await;
    enroll_learner(&school, "rust-101").await;
    for _ in 0..100 {
        let states = delivery_states(app).await;
        if states.iter().any(|(_, _, attempts)| *attempts >= 1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(receiver.seen().is_empty(), "{:?}", receiver.seen());
    let invocations = admin(app, t, Method::GET, "/api/v1/plugin-invocations", None).await;
    assert_eq!(
        invocations.json()["items"][0]["outcome"],
        "integration_failed"
    );
    let error: Option<String> =
        sqlx::query_scalar("select last_error from jobs where kind = 'plugins.deliver_event'")
            .fetch_one(&mut app.db.superuser().await)
            .await
            .expect("the job");
    assert!(
        error
            .as_deref()
            .is_some_and(|e| e.contains("HostNotAllowed")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_trapping_integration_is_retried_then_dead_and_others_still_receive() {
    let school = school_allowing_loopback().await;
    let (app, t) = (&school.app, &school.t);
    let receiver = Receiver::start().await;
    let host = format!("127.0.0.1:{}", receiver.port);
    install_probe(app, t, "broken", &[], json!({"mode": "trap"})).await;
    install_probe(
        app,
        t,
        "working",
        &[host.clone()],
        json!({"mode": "http", "url": format!("http://{host}/ok"), "count": 1}),
    )
    .await;
    enroll_learner(&school, "rust-101").await;
    receiver.wait_for(1).await;

    // Move the clock until the broken install's job has used its attempts.
    let mut dead = false;
    for _ in 0..400 {
        sqlx::query(
            "with due as (update jobs set run_at = now()
                          where kind = 'plugins.deliver_event' and state = 'queued' returning 1)
             select pg_notify('lms_jobs', '') from due",
        )
        .execute(&mut app.db.superuser().await)
        .await
        .expect("advance the clock");
        let states = delivery_states(app).await;
        if states
            .iter()
            .any(|(name, state, _)| name == "broken" && state == "dead")
        {
            dead = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(dead, "{:?}", delivery_states(app).await);
    let states = delivery_states(app).await;
    assert_eq!(
        states,
        vec![
            ("broken".to_owned(), "dead".to_owned(), 10),
            ("working".to_owned(), "succeeded".to_owned(), 1),
        ]
    );
    assert_eq!(receiver.seen().len(), 1);
}

#[tokio::test]
async fn settings_are_checked_and_graders_have_none() {
    let school = school_allowing_loopback().await;
    let (app, t) = (&school.app, &school.t);
    install_probe(app, t, "probe", &[], json!({})).await;
    let refused = admin(
        app,
        t,
        Method::PUT,
        "/api/v1/plugins/probe/settings",
        Some(json!({
            "allowed_hosts": ["discord.com/api"],
            "event_types": ["course.exploded"],
            "secrets": {"Bad-Name": "x"},
        })),
    )
    .await;
    refused.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let codes: Vec<String> = refused.json()["errors"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter_map(|e| e["code"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        codes,
        ["invalid_host", "unknown_event_type", "invalid_name"]
    );

    // Removing a secret by null.
    let removed = admin(
        app,
        t,
        Method::PUT,
        "/api/v1/plugins/probe/settings",
        Some(json!({ "secrets": {"token": null} })),
    )
    .await;
    removed.assert_status(StatusCode::OK);
    assert_eq!(removed.json()["secrets"], json!([]));

    // A grader has no settings.
    admin(
        app,
        t,
        Method::POST,
        "/api/v1/plugins",
        Some(crate::helpers::plugin_upload(
            "numeric",
            "1.0.0",
            &plugin_wasm("numeric_grader"),
        )),
    )
    .await
    .assert_status(StatusCode::CREATED);
    admin(
        app,
        t,
        Method::POST,
        "/api/v1/plugins/numeric/versions/1.0.0/install",
        Some(json!({ "granted_capabilities": ["log"] })),
    )
    .await
    .assert_status(StatusCode::OK);
    admin(
        app,
        t,
        Method::GET,
        "/api/v1/plugins/numeric/settings",
        None,
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "not_an_integration");
}
