//! Tenant webhooks end to end: a receiver on loopback (allowed by `LMS_OUTBOUND_ALLOW`) verifies
//! every delivery with the Standard Webhooks reference library
//! (`platform/tests/peers/webhook_receiver.py`); failing receivers are retried on the published
//! schedule (the clock advanced by moving the job's run time); secrets rotate with an overlap;
//! an endpoint failing for days is disabled and its admins emailed; private, loopback and
//! metadata targets, redirects and names resolving to loopback are refused.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use lms_platform::outbound::AllowList;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Reply, TestApp, TestTenant};

/// The Python receiver; killed when dropped.
struct Receiver {
    child: Child,
    port: u16,
    http: reqwest::Client,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Receiver {
    fn start() -> Self {
        let python = std::env::var("LMS_TEST_PYTHON").unwrap_or_else(|_| {
            panic!(
                "LMS_TEST_PYTHON is not set (the python of the test-peers venv): run `cargo xtask test`"
            )
        });
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/peers/webhook_receiver.py"
        );
        let mut child = Command::new(&python)
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start the webhook receiver with {python}: {e}"));
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the receiver's first line");
        let port = line
            .trim()
            .strip_prefix("ready ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the receiver did not start: {line:?}"));
        Self {
            child,
            port,
            http: reqwest::Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The secrets to verify with, and the statuses of the next answers.
    async fn configure(&self, secrets: &[&str], statuses: &[u16]) {
        let answer = self
            .http
            .put(self.url("/_config"))
            .json(&json!({ "secrets": secrets, "statuses": statuses }))
            .send()
            .await
            .expect("configure the receiver");
        assert_eq!(answer.status(), StatusCode::NO_CONTENT);
    }

    async fn received(&self) -> Vec<Value> {
        self.http
            .get(self.url("/_received"))
            .send()
            .await
            .expect("ask the receiver")
            .json()
            .await
            .expect("the receiver's JSON")
    }

    /// Waits up to 10 s until the receiver holds `count` deliveries; returns them all.
    async fn wait_for(&self, count: usize) -> Vec<Value> {
        for _ in 0..200 {
            let received = self.received().await;
            if received.len() >= count {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "the receiver holds {:?} deliveries, not {count}",
            self.received().await
        )
    }
}

/// A server whose outbound calls may reach loopback (as `LMS_OUTBOUND_ALLOW=127.0.0.1` allows),
/// with the tenant `acme`.
async fn allowing_loopback() -> (TestApp, TestTenant) {
    let app = TestApp::spawn_with(|config| {
        config.outbound_allow = AllowList::parse("127.0.0.1").expect("allow list");
    })
    .await;
    let t = app.seed_tenant("acme").await;
    (app, t)
}

async fn admin_call(
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

/// `GET` of an endpoint, as its tenant's admin.
async fn endpoint_reply(app: &TestApp, t: &TestTenant, id: &str) -> Reply {
    admin_call(
        app,
        t,
        Method::GET,
        &format!("/api/v1/webhooks/endpoints/{id}"),
        None,
    )
    .await
}

/// A manual redelivery, as the tenant's admin.
async fn redeliver(app: &TestApp, t: &TestTenant, delivery: &str) -> Reply {
    admin_call(
        app,
        t,
        Method::POST,
        &format!("/api/v1/webhooks/deliveries/{delivery}/redeliver"),
        None,
    )
    .await
}

/// Registers an endpoint; returns its id and secret.
async fn create_endpoint(app: &TestApp, t: &TestTenant, body: Value) -> (String, String) {
    let created = admin_call(
        app,
        t,
        Method::POST,
        "/api/v1/webhooks/endpoints",
        Some(body),
    )
    .await;
    created.assert_status(StatusCode::CREATED);
    let created = created.json();
    (
        created["id"].as_str().expect("id").to_owned(),
        created["secret"].as_str().expect("secret").to_owned(),
    )
}

/// Registers a learner, which emits `user.created`; returns the event's id.
async fn user_created(app: &TestApp, t: &TestTenant, name: &str) -> String {
    let user = app
        .register(&t.slug, &format!("{name}@{}.example", t.slug))
        .await;
    sqlx::query_scalar(
        "select id::text from domain_events
         where tenant_id = $1::uuid and kind = 'user.created' and subject_id = $2::uuid",
    )
    .bind(&t.id)
    .bind(&user.id)
    .fetch_one(&mut app.db.superuser().await)
    .await
    .expect("the user.created event")
}

async fn deliveries(app: &TestApp, t: &TestTenant, endpoint: &str) -> Vec<Value> {
    let listed = admin_call(
        app,
        t,
        Method::GET,
        &format!("/api/v1/webhooks/endpoints/{endpoint}/deliveries"),
        None,
    )
    .await;
    listed.assert_status(StatusCode::OK);
    listed.json()["items"].as_array().cloned().expect("items")
}

async fn delivery(app: &TestApp, t: &TestTenant, id: &str) -> Value {
    let got = admin_call(
        app,
        t,
        Method::GET,
        &format!("/api/v1/webhooks/deliveries/{id}"),
        None,
    )
    .await;
    got.assert_status(StatusCode::OK);
    got.json()
}

/// Waits up to 10 s until the delivery has made `attempts` attempts and no job of it runs.
async fn settled(app: &TestApp, t: &TestTenant, id: &str, attempts: i64) -> Value {
    for _ in 0..200 {
        let current = delivery(app, t, id).await;
        let running: i64 = sqlx::query_scalar(
            "select count(*) from jobs where kind = 'webhook.deliver'
             and payload->>'delivery_id' = $1 and state = 'running'",
        )
        .bind(id)
        .fetch_one(&mut app.db.superuser().await)
        .await
        .expect("running jobs");
        if current["attempts"] == attempts && running == 0 {
            return current;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "delivery {id} did not settle at {attempts} attempts: {}",
        delivery(app, t, id).await
    )
}

/// Seconds until the delivery's queued job runs.
async fn seconds_to_next_run(app: &TestApp, delivery: &str) -> f64 {
    sqlx::query_scalar(
        "select extract(epoch from run_at - now())::float8 from jobs
         where kind = 'webhook.deliver' and payload->>'delivery_id' = $1 and state = 'queued'",
    )
    .bind(delivery)
    .fetch_one(&mut app.db.superuser().await)
    .await
    .expect("a queued delivery job")
}

/// Moves the clock: the delivery's queued job is due now (and the workers are told).
async fn advance_clock(app: &TestApp, delivery: &str) {
    sqlx::query(
        "with due as (update jobs set run_at = now()
                      where kind = 'webhook.deliver' and payload->>'delivery_id' = $1
                        and state = 'queued' returning 1)
         select pg_notify('lms_jobs', '') from due",
    )
    .bind(delivery)
    .execute(&mut app.db.superuser().await)
    .await
    .expect("advance the clock");
}

#[tokio::test]
async fn deliveries_are_signed_filtered_and_logged() {
    let (app, acme) = allowing_loopback().await;
    let receiver = Receiver::start();
    let (all, all_secret) = create_endpoint(
        &app,
        &acme,
        json!({ "url": receiver.url("/all"), "description": "Everything" }),
    )
    .await;
    let (filtered, filtered_secret) = create_endpoint(
        &app,
        &acme,
        json!({ "url": receiver.url("/enrolments"), "event_types": ["enrollment.created"] }),
    )
    .await;
    assert!(all_secret.starts_with("whsec_"), "{all_secret}");
    assert_ne!(all_secret, filtered_secret);
    receiver.configure(&[&all_secret], &[]).await;

    let event = user_created(&app, &acme, "newcomer").await;
    let received = receiver.wait_for(1).await;
    // Nothing else comes: the filtered endpoint does not take user.created.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let received_now = receiver.received().await;
    assert_eq!(received_now.len(), 1, "{received_now:?}");
    let got = &received[0];
    assert_eq!(got["path"], "/all");
    assert_eq!(got["verified_with"], json!([0]), "{got}");
    assert_eq!(got["webhook_id"], event.as_str());
    let body: Value = serde_json::from_str(got["body"].as_str().expect("body")).expect("JSON");
    assert_eq!(body["id"], event.as_str());
    assert_eq!(body["type"], "user.created");
    assert_eq!(body["tenant_id"], acme.id.as_str());
    assert_eq!(body["data"]["email"], "newcomer@acme.example");
    // The signature is over exactly the bytes sent: a changed body would not verify.
    let timestamp: i64 = got["webhook_timestamp"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("timestamp");
    assert!((chrono::Utc::now().timestamp() - timestamp).abs() < 60);

    // The log: one delivery, succeeded at its first attempt, with the answer's start.
    let listed = deliveries(&app, &acme, &all).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["event_id"], event.as_str());
    let id = listed[0]["id"].as_str().expect("id");
    let detail = settled(&app, &acme, id, 1).await;
    assert_eq!(detail["state"], "succeeded", "{detail}");
    let log = detail["attempt_log"].as_array().expect("attempt log");
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["status"], 200);
    assert!(log[0]["latency_ms"].as_i64().is_some());
    assert!(
        log[0]["response_excerpt"]
            .as_str()
            .is_some_and(|e| e.contains("answered")),
        "{detail}"
    );
    assert!(deliveries(&app, &acme, &filtered).await.is_empty());

    // A manual redelivery sends it once more, with the same id, signed afresh.
    let again = redeliver(&app, &acme, id).await;
    again.assert_status(StatusCode::ACCEPTED);
    assert_eq!(again.json()["state"], "pending");
    let received = receiver.wait_for(2).await;
    assert_eq!(received[1]["webhook_id"], event.as_str());
    assert_eq!(received[1]["verified_with"], json!([0]));
    let detail = settled(&app, &acme, id, 2).await;
    assert_eq!(detail["state"], "succeeded");
    assert_eq!(detail["attempt_log"][0]["attempt"], 2);

    // A learner may not see or manage endpoints.
    let learner = app
        .get("/api/v1/webhooks/endpoints")
        .tenant("acme")
        .bearer(&acme.learner.access_token)
        .send()
        .await;
    learner.assert_problem(StatusCode::FORBIDDEN, "forbidden");
    let secret_shown = endpoint_reply(&app, &acme, &all).await;
    secret_shown.assert_status(StatusCode::OK);
    assert!(!secret_shown.text.contains(&all_secret));
    assert!(!secret_shown.text.contains("whsec_"));
}

#[tokio::test]
async fn a_failing_receiver_is_retried_on_the_schedule_until_it_answers() {
    let (app, acme) = allowing_loopback().await;
    let receiver = Receiver::start();
    let (endpoint, secret) =
        create_endpoint(&app, &acme, json!({ "url": receiver.url("/flaky") })).await;
    // 500, a redirect (not followed), then 200.
    receiver.configure(&[&secret], &[500, 302, 200]).await;
    let event = user_created(&app, &acme, "patient").await;
    receiver.wait_for(1).await;
    let id = deliveries(&app, &acme, &endpoint).await[0]["id"]
        .as_str()
        .expect("id")
        .to_owned();

    let first = settled(&app, &acme, &id, 1).await;
    assert_eq!(first["state"], "pending");
    assert!(first["next_attempt_at"].is_string(), "{first}");
    let wait = seconds_to_next_run(&app, &id).await;
    assert!(
        (3.0..=5.5).contains(&wait),
        "the second attempt waits 5 s, not {wait}"
    );
    advance_clock(&app, &id).await;

    receiver.wait_for(2).await;
    let second = settled(&app, &acme, &id, 2).await;
    assert_eq!(second["attempt_log"][0]["status"], 302);
    assert_eq!(
        second["attempt_log"][0]["error"],
        "redirects are not followed"
    );
    let wait = seconds_to_next_run(&app, &id).await;
    assert!(
        (295.0..=300.5).contains(&wait),
        "the third attempt waits 5 min, not {wait}"
    );
    advance_clock(&app, &id).await;

    let received = receiver.wait_for(3).await;
    let third = settled(&app, &acme, &id, 3).await;
    assert_eq!(third["state"], "succeeded", "{third}");
    let statuses: Vec<_> = third["attempt_log"]
        .as_array()
        .expect("log")
        .iter()
        .map(|a| a["status"].clone())
        .collect();
    assert_eq!(statuses, [json!(200), json!(302), json!(500)]);
    // Three requests, no fourth: the redirect's target was never asked.
    assert_eq!(received.len(), 3, "{received:?}");
    for got in &received {
        assert_eq!(got["path"], "/flaky");
        assert_eq!(got["webhook_id"], event.as_str());
        assert_eq!(got["verified_with"], json!([0]), "{got}");
    }
    let endpoint = endpoint_reply(&app, &acme, &endpoint).await.json();
    assert!(endpoint["failing_since"].is_null(), "{endpoint}");
}

#[tokio::test]
async fn after_the_last_scheduled_attempt_the_delivery_fails_without_a_dead_job() {
    let (app, acme) = allowing_loopback().await;
    let receiver = Receiver::start();
    let (endpoint, secret) =
        create_endpoint(&app, &acme, json!({ "url": receiver.url("/down") })).await;
    receiver.configure(&[&secret], &[503; 8]).await;
    user_created(&app, &acme, "unlucky").await;
    receiver.wait_for(1).await;
    let id = deliveries(&app, &acme, &endpoint).await[0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let schedule = [5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0];
    for (attempt, expected) in (1..).zip(schedule) {
        settled(&app, &acme, &id, attempt).await;
        let wait = seconds_to_next_run(&app, &id).await;
        assert!(
            (expected - 2.0..=expected + 0.5).contains(&wait),
            "after attempt {attempt} the wait is {expected} s, not {wait}"
        );
        advance_clock(&app, &id).await;
    }
    let last = settled(&app, &acme, &id, 8).await;
    assert_eq!(last["state"], "failed", "{last}");
    assert_eq!(receiver.received().await.len(), 8);
    let jobs: Vec<(String, i32)> = sqlx::query_as(
        "select state, attempts from jobs where kind = 'webhook.deliver' and payload->>'delivery_id' = $1",
    )
    .bind(&id)
    .fetch_all(&mut app.db.superuser().await)
    .await
    .expect("jobs");
    assert_eq!(jobs, [("succeeded".to_owned(), 8)]);
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_old_one_until_the_overlap_ends() {
    let (app, acme) = allowing_loopback().await;
    let receiver = Receiver::start();
    let (endpoint, old) =
        create_endpoint(&app, &acme, json!({ "url": receiver.url("/rotating") })).await;
    let rotated = admin_call(
        &app,
        &acme,
        Method::POST,
        &format!("/api/v1/webhooks/endpoints/{endpoint}/rotate-secret"),
        None,
    )
    .await;
    rotated.assert_status(StatusCode::OK);
    let new = rotated.json()["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    assert_ne!(new, old);
    let until = rotated.json()["previous_secret_expires_at"].clone();
    assert!(until.is_string(), "{}", rotated.text);

    receiver.configure(&[&old, &new], &[]).await;
    user_created(&app, &acme, "during").await;
    let received = receiver.wait_for(1).await;
    assert_eq!(received[0]["signatures"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        received[0]["verified_with"],
        json!([0, 1]),
        "{}",
        received[0]
    );

    // The overlap ends: only the new secret signs.
    sqlx::query(
        "update webhook_endpoints set previous_secret_expires_at = now() - interval '1 second'
         where id = $1::uuid",
    )
    .bind(&endpoint)
    .execute(&mut app.db.superuser().await)
    .await
    .expect("end the overlap");
    user_created(&app, &acme, "after").await;
    let received = receiver.wait_for(2).await;
    assert_eq!(received[1]["signatures"].as_array().map(Vec::len), Some(1));
    assert_eq!(received[1]["verified_with"], json!([1]), "{}", received[1]);
}

#[tokio::test]
async fn an_endpoint_failing_for_days_is_disabled_and_its_admins_emailed() {
    let (app, acme) = allowing_loopback().await;
    let receiver = Receiver::start();
    let (endpoint, secret) =
        create_endpoint(&app, &acme, json!({ "url": receiver.url("/broken") })).await;
    receiver.configure(&[&secret], &[500]).await;
    // It has been failing for six days.
    sqlx::query(
        "update webhook_endpoints set failing_since = now() - interval '6 days' where id = $1::uuid",
    )
    .bind(&endpoint)
    .execute(&mut app.db.superuser().await)
    .await
    .expect("age the failure");
    user_created(&app, &acme, "trigger").await;
    receiver.wait_for(1).await;
    let id = deliveries(&app, &acme, &endpoint).await[0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let failed = settled(&app, &acme, &id, 1).await;
    assert_eq!(failed["state"], "failed", "not retried: {failed}");
    let path = format!("/api/v1/webhooks/endpoints/{endpoint}");
    let current = admin_call(&app, &acme, Method::GET, &path, None)
        .await
        .json();
    assert_eq!(current["enabled"], false, "{current}");
    assert_eq!(current["disabled_reason"], "failing");
    let mail = app
        .last_email_containing(&acme.admin.email, "was disabled")
        .await;
    assert!(mail.contains(&receiver.url("/broken")), "{mail}");

    // Disabled: new events make no deliveries; a redelivery is refused.
    user_created(&app, &acme, "ignored").await;
    assert_eq!(deliveries(&app, &acme, &endpoint).await.len(), 1);
    redeliver(&app, &acme, &id)
        .await
        .assert_problem(StatusCode::CONFLICT, "endpoint_disabled");

    // Enabled again (the receiver works now): the failure is forgotten, the delivery redone.
    let enabled = admin_call(
        &app,
        &acme,
        Method::PATCH,
        &path,
        Some(json!({ "enabled": true })),
    )
    .await;
    enabled.assert_status(StatusCode::OK);
    assert!(enabled.json()["disabled_reason"].is_null());
    assert!(enabled.json()["failing_since"].is_null());
    redeliver(&app, &acme, &id)
        .await
        .assert_status(StatusCode::ACCEPTED);
    receiver.wait_for(2).await;
    assert_eq!(settled(&app, &acme, &id, 2).await["state"], "succeeded");
}

#[tokio::test]
async fn a_gone_receiver_disables_its_endpoint_at_once() {
    let (app, acme) = allowing_loopback().await;
    let receiver = Receiver::start();
    let (endpoint, secret) =
        create_endpoint(&app, &acme, json!({ "url": receiver.url("/gone") })).await;
    receiver.configure(&[&secret], &[410]).await;
    user_created(&app, &acme, "late").await;
    receiver.wait_for(1).await;
    let id = deliveries(&app, &acme, &endpoint).await[0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(settled(&app, &acme, &id, 1).await["state"], "failed");
    let current = endpoint_reply(&app, &acme, &endpoint).await.json();
    assert_eq!(current["enabled"], false);
    assert_eq!(current["disabled_reason"], "gone");
}

/// A loopback listener that counts the connections reaching it.
async fn counting_listener() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let count = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&count);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    (port, count)
}

#[tokio::test]
async fn private_targets_are_refused_when_saved_or_when_resolved() {
    // No LMS_OUTBOUND_ALLOW: only public https targets.
    let (app, acme) = TestApp::with_tenant("acme").await;
    for url in [
        "http://hooks.example.com/plain-http",
        "https://10.0.0.5/private",
        "https://127.0.0.1/loopback",
        "https://2130706433/decimal-loopback",
        "https://[::1]/loopback6",
        "https://[::ffff:127.0.0.1]/mapped",
        "https://169.254.169.254/latest/meta-data",
        "https://[fd00:ec2::254]/metadata6",
        "https://user:secret@hooks.example.com/credentials",
        "ftp://hooks.example.com/",
        "not a url",
    ] {
        let refused = admin_call(
            &app,
            &acme,
            Method::POST,
            "/api/v1/webhooks/endpoints",
            Some(json!({ "url": url })),
        )
        .await;
        refused.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(refused.json()["errors"][0]["code"], "invalid_url", "{url}");
    }

    // A name is checked where it resolves, and `localhost` resolves to loopback: the attempt is
    // refused before any connection.
    let (port, connections) = counting_listener().await;
    let (endpoint, _) = create_endpoint(
        &app,
        &acme,
        json!({ "url": format!("https://localhost:{port}/rebinding") }),
    )
    .await;
    user_created(&app, &acme, "probe").await;
    let mut listed = Vec::new();
    for _ in 0..100 {
        listed = deliveries(&app, &acme, &endpoint).await;
        if listed.first().is_some_and(|d| d["attempts"] == 1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let id = listed[0]["id"].as_str().expect("id").to_owned();
    let detail = settled(&app, &acme, &id, 1).await;
    let attempt = &detail["attempt_log"][0];
    assert!(attempt["status"].is_null(), "{detail}");
    assert_eq!(attempt["error"], "the address is not public");
    assert_eq!(connections.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn endpoint_input_is_validated_and_bounded() {
    let (app, acme) = TestApp::with_tenant("acme").await;
    let post = |body: Value| {
        admin_call(
            &app,
            &acme,
            Method::POST,
            "/api/v1/webhooks/endpoints",
            Some(body),
        )
    };
    let unknown = post(json!({ "url": "https://hooks.example.com/", "event_types": ["user.created", "user.exploded"] })).await;
    unknown.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(unknown.json()["errors"][0]["field"], "event_types[1]");
    post(json!({ "url": "https://hooks.example.com/", "description": "x".repeat(501) }))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    post(json!({ "url": format!("https://hooks.example.com/{}", "a".repeat(2000)) }))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    post(json!({ "url": "https://hooks.example.com/", "secret": "whsec_mine" }))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

    let (id, _) = create_endpoint(
        &app,
        &acme,
        json!({ "url": "https://hooks.example.com/a", "event_types": ["user.created", "user.created", "enrollment.created"] }),
    )
    .await;
    let got = endpoint_reply(&app, &acme, &id).await.json();
    assert_eq!(
        got["event_types"],
        json!(["enrollment.created", "user.created"])
    );
    admin_call(
        &app,
        &acme,
        Method::PATCH,
        &format!("/api/v1/webhooks/endpoints/{id}"),
        Some(json!({ "url": "https://192.168.1.1/" })),
    )
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

    for n in 1..20 {
        create_endpoint(
            &app,
            &acme,
            json!({ "url": format!("https://hooks.example.com/{n}") }),
        )
        .await;
    }
    post(json!({ "url": "https://hooks.example.com/21" }))
        .await
        .assert_problem(StatusCode::CONFLICT, "too_many_endpoints");
    admin_call(
        &app,
        &acme,
        Method::DELETE,
        &format!("/api/v1/webhooks/endpoints/{id}"),
        None,
    )
    .await
    .assert_status(StatusCode::NO_CONTENT);
    endpoint_reply(&app, &acme, &id)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    post(json!({ "url": "https://hooks.example.com/21" }))
        .await
        .assert_status(StatusCode::CREATED);
}

#[tokio::test]
async fn events_of_one_tenant_never_reach_another_tenants_endpoints() {
    let (app, acme) = allowing_loopback().await;
    let globex = app.seed_tenant("globex").await;
    let receiver = Receiver::start();
    let (_, acme_secret) =
        create_endpoint(&app, &acme, json!({ "url": receiver.url("/acme") })).await;
    let (_, globex_secret) =
        create_endpoint(&app, &globex, json!({ "url": receiver.url("/globex") })).await;
    receiver
        .configure(&[&acme_secret, &globex_secret], &[])
        .await;
    user_created(&app, &acme, "only-acme").await;
    let received = receiver.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let received_now = receiver.received().await;
    assert_eq!(received_now.len(), 1, "{received_now:?}");
    assert_eq!(received[0]["path"], "/acme");
    assert_eq!(received[0]["verified_with"], json!([0]));
    let body: Value =
        serde_json::from_str(received[0]["body"].as_str().expect("body")).expect("JSON");
    assert_eq!(body["tenant_id"], acme.id.as_str());
}

#[tokio::test]
async fn the_delivery_log_keeps_thirty_days() {
    let (app, acme) = allowing_loopback().await;
    let receiver = Receiver::start();
    let (endpoint, secret) =
        create_endpoint(&app, &acme, json!({ "url": receiver.url("/kept") })).await;
    receiver.configure(&[&secret], &[]).await;
    user_created(&app, &acme, "first").await;
    user_created(&app, &acme, "second").await;
    receiver.wait_for(2).await;
    let listed = deliveries(&app, &acme, &endpoint).await;
    let (newer, older) = (
        listed[0]["id"].as_str().expect("id").to_owned(),
        listed[1]["id"].as_str().expect("id").to_owned(),
    );
    settled(&app, &acme, &older, 1).await;
    settled(&app, &acme, &newer, 1).await;
    sqlx::query(
        "update webhook_deliveries set finished_at = now() - interval '31 days' where id = $1::uuid",
    )
    .bind(&older)
    .execute(&mut app.db.superuser().await)
    .await
    .expect("age a delivery");
    let mut conn = app
        .state
        .operator_db
        .pool()
        .acquire()
        .await
        .expect("operator connection");
    lms_platform::webhooks::prune_deliveries(&app.state, &mut conn)
        .await
        .expect("prune");
    let kept: Vec<_> = deliveries(&app, &acme, &endpoint)
        .await
        .iter()
        .map(|d| d["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(kept, [newer]);
    let attempts: i64 =
        sqlx::query_scalar("select count(*) from webhook_attempts where delivery_id = $1::uuid")
            .bind(&older)
            .fetch_one(&mut app.db.superuser().await)
            .await
            .expect("attempts");
    assert_eq!(attempts, 0);
}
