//! In-app notifications: created from domain events for the user they are about, honouring
//! their preferences; an inbox of one's own only; and a live stream that delivers at once,
//! resumes without gaps, and never carries anyone else's.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{School, TestApp, TestUser, item};

const NOTIFICATIONS: &str = "/api/v1/notifications";
const STREAM: &str = "/api/v1/notifications/stream";

/// `who`'s notifications in `slug` (first page, newest first).
async fn inbox(app: &TestApp, slug: &str, who: &TestUser, query: &str) -> Vec<Value> {
    let reply = app
        .get(&format!("{NOTIFICATIONS}{query}"))
        .tenant(slug)
        .bearer(&who.access_token)
        .send()
        .await;
    reply.assert_status(StatusCode::OK);
    reply.json()["items"].as_array().cloned().expect("items")
}

/// Waits up to 5 seconds for `who` to have `count` notifications; returns them newest first.
async fn await_inbox(app: &TestApp, slug: &str, who: &TestUser, count: usize) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let items = inbox(app, slug, who, "").await;
        if items.len() >= count {
            assert_eq!(
                items.len(),
                count,
                "more notifications than expected: {items:?}"
            );
            return items;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{} has {} notifications, not {count}: {items:?}",
            who.email,
            items.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until no `notifications.from_event` job of the database is queued or running.
async fn jobs_settled(app: &TestApp) {
    let mut su = app.db.superuser().await;
    for _ in 0..100 {
        let busy: i64 = sqlx::query_scalar(
            "select count(*) from jobs
             where kind = 'notifications.from_event' and state in ('queued', 'running')",
        )
        .fetch_one(&mut su)
        .await
        .expect("jobs");
        if busy == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("notification jobs did not finish");
}

async fn unread(app: &TestApp, slug: &str, who: &TestUser) -> i64 {
    let reply = app
        .get(&format!("{NOTIFICATIONS}/unread-count"))
        .tenant(slug)
        .bearer(&who.access_token)
        .send()
        .await;
    reply.assert_status(StatusCode::OK);
    reply.json()["unread"].as_i64().expect("unread")
}

/// A published course of the school's teacher, with one item.
async fn course(s: &School, slug: &str, title: &str) -> String {
    let teacher = s.teaching();
    let course = teacher.create_course(slug, json!({ "title": title })).await;
    let module = teacher.add_module(&course, "Module").await;
    teacher
        .add_item(&course, &module, item::text("Chapter"))
        .await;
    teacher.publish(&course).await;
    course.0
}

/// The school's admin enrolls `who` in `course` (a staff enrollment, which notifies).
async fn enroll(s: &School, course: &str, who: &TestUser) {
    s.by(&s.t.admin)
        .enroll_users(course, json!([who.id]))
        .await
        .assert_status(StatusCode::OK);
}

#[tokio::test]
async fn enrollments_and_released_grades_notify_the_learner_and_the_inbox_is_theirs() {
    let s = School::new().await;
    let app = &s.app;
    let learner = &s.t.learner;
    let algebra = course(&s, "algebra", "Algebra").await;
    enroll(&s, &algebra, learner).await;
    let items = await_inbox(app, "acme", learner, 1).await;
    assert_eq!(items[0]["type"], "enrollment.created");
    assert_eq!(items[0]["title"], "You were enrolled in Algebra");
    assert_eq!(items[0]["link"], format!("/courses/{algebra}"));
    assert_eq!(items[0]["read_at"], Value::Null);
    assert_eq!(unread(app, "acme", learner).await, 1);

    // Enrolling oneself is no news; nor is a grade held back from its learner.
    let other = s.learner("other").await;
    let geometry = course(&s, "geometry", "Geometry").await;
    s.by(&other)
        .enroll(&geometry)
        .await
        .assert_status(StatusCode::CREATED);
    let teacher = s.teaching();
    let essays = teacher
        .create_course("essays", json!({ "title": "Essays" }))
        .await;
    let module = teacher.add_module(&essays, "Module").await;
    let essay = teacher
        .add_item(&essays, &module, item::assignment("Essay"))
        .await;
    teacher
        .set_assignment(
            &essays,
            &essay,
            json!({ "points": 10, "accepts_text": true }),
        )
        .await
        .assert_status(StatusCode::OK);
    teacher.publish(&essays).await;
    s.by(&other)
        .enroll(&essays)
        .await
        .assert_status(StatusCode::CREATED);
    let submitted = s
        .by(&other)
        .submit_assignment(&essays, &essay, &[("text", None, b"My essay")])
        .await;
    submitted.assert_status(StatusCode::CREATED);
    let submission = submitted.json()["id"].as_str().expect("id").to_owned();
    teacher
        .grade(&submission, json!({ "points": 7, "release": false }))
        .await
        .assert_status(StatusCode::OK);
    jobs_settled(app).await;
    assert_eq!(inbox(app, "acme", &other, "").await, Vec::<Value>::new());
    teacher
        .grade(&submission, json!({ "points": 8, "release": true }))
        .await
        .assert_status(StatusCode::OK);
    // The passing grade also completed the course (its one item).
    let items = await_inbox(app, "acme", &other, 2).await;
    let graded = items
        .iter()
        .find(|n| n["type"] == "assignment.graded")
        .expect("graded");
    assert_eq!(graded["title"], "Essay was graded");
    assert_eq!(graded["subject_id"], submission.as_str());
    assert_eq!(graded["body"], "Score 8: passed.");
    let completed = items
        .iter()
        .find(|n| n["type"] == "course.completed")
        .expect("completed");
    assert_eq!(completed["title"], "You completed Essays");

    // The other learner's notification is not the learner's to read, list or count.
    let theirs = graded["id"].as_str().expect("id").to_owned();
    app.post(&format!("{NOTIFICATIONS}/{theirs}/read"))
        .tenant("acme")
        .bearer(&learner.access_token)
        .send()
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    let mine = inbox(app, "acme", learner, "?limit=200").await;
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(unread(app, "acme", &other).await, 2);

    // Reading: one, then all; read ones leave the unread filter.
    let second = course(&s, "statistics", "Statistics").await;
    enroll(&s, &second, learner).await;
    let items = await_inbox(app, "acme", learner, 2).await;
    assert_eq!(
        items[0]["title"], "You were enrolled in Statistics",
        "newest first"
    );
    let newest = items[0]["id"].as_str().expect("id");
    let read = app
        .post(&format!("{NOTIFICATIONS}/{newest}/read"))
        .tenant("acme")
        .bearer(&learner.access_token)
        .send()
        .await;
    read.assert_status(StatusCode::OK);
    let read_at = read.json()["read_at"].clone();
    assert!(read_at.is_string(), "{}", read.text);
    // Again: the first reading time stays.
    let again = app
        .post(&format!("{NOTIFICATIONS}/{newest}/read"))
        .tenant("acme")
        .bearer(&learner.access_token)
        .send()
        .await;
    assert_eq!(again.json()["read_at"], read_at);
    assert_eq!(unread(app, "acme", learner).await, 1);
    let unread_items = inbox(app, "acme", learner, "?unread=true").await;
    assert_eq!(unread_items.len(), 1);
    assert_eq!(unread_items[0]["title"], "You were enrolled in Algebra");
    let all = app
        .post(&format!("{NOTIFICATIONS}/read-all"))
        .tenant("acme")
        .bearer(&learner.access_token)
        .send()
        .await;
    all.assert_status(StatusCode::OK);
    assert_eq!(all.json()["marked"], 1);
    assert_eq!(unread(app, "acme", learner).await, 0);
    // The other learner's stayed unread.
    assert_eq!(unread(app, "acme", &other).await, 2);

    // Pages: one at a time, newest first, then the end.
    let page = app
        .get(&format!("{NOTIFICATIONS}?limit=1"))
        .tenant("acme")
        .bearer(&learner.access_token)
        .send()
        .await
        .json();
    assert_eq!(page["items"][0]["title"], "You were enrolled in Statistics");
    let cursor = page["next_cursor"].as_str().expect("cursor");
    let page = app
        .get(&format!("{NOTIFICATIONS}?limit=1&cursor={cursor}"))
        .tenant("acme")
        .bearer(&learner.access_token)
        .send()
        .await
        .json();
    assert_eq!(page["items"][0]["title"], "You were enrolled in Algebra");
    assert_eq!(page["next_cursor"], Value::Null);

    // Bad input is a client error.
    for query in [
        "?limit=0",
        "?limit=201",
        "?unread=maybe",
        "?cursor=nope",
        "?colour=red",
    ] {
        let reply = app
            .get(&format!("{NOTIFICATIONS}{query}"))
            .tenant("acme")
            .bearer(&learner.access_token)
            .send()
            .await;
        assert!(reply.status.is_client_error(), "{query}: {}", reply.text);
    }
    app.post(&format!("{NOTIFICATIONS}/not-an-id/read"))
        .tenant("acme")
        .bearer(&learner.access_token)
        .send()
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_path_parameter");
    app.post(&format!("{NOTIFICATIONS}/{}/read", uuid::Uuid::now_v7()))
        .tenant("acme")
        .bearer(&learner.access_token)
        .send()
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    app.get(NOTIFICATIONS)
        .tenant("acme")
        .send()
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn preferences_choose_the_app_the_email_or_neither_for_each_type() {
    let s = School::new().await;
    let app = &s.app;
    let learner = &s.t.learner;
    let prefs_path = format!("{NOTIFICATIONS}/preferences");
    let defaults = app
        .get(&prefs_path)
        .tenant("acme")
        .bearer(&learner.access_token)
        .send()
        .await;
    defaults.assert_status(StatusCode::OK);
    let types = defaults.json()["types"].as_array().cloned().expect("types");
    assert_eq!(types.len(), 7, "{}", defaults.text);
    assert!(
        types
            .iter()
            .all(|t| t["in_app"] == true && t["email"] == false),
        "{}",
        defaults.text
    );

    let put = |body: Value| {
        app.call(Method::PUT, &prefs_path)
            .tenant("acme")
            .bearer(&learner.access_token)
            .json(body)
            .send()
    };
    // The tenant's brand, for its emails.
    s.by(&s.t.admin)
        .send(
            Method::PATCH,
            "/api/v1/tenant",
            Some(json!({ "branding": {
                "primary_color": "#0a7d4f",
                "logo_url": "https://cdn.acme.example/logo.png",
            } })),
        )
        .await
        .assert_status(StatusCode::OK);
    // Enrollments by email only.
    let chosen = put(json!({ "types": [
        { "type": "enrollment.created", "in_app": false, "email": true },
    ] }))
    .await;
    chosen.assert_status(StatusCode::OK);
    let enrolled = chosen.json()["types"]
        .as_array()
        .and_then(|t| {
            t.iter()
                .find(|p| p["type"] == "enrollment.created")
                .cloned()
        })
        .expect("enrollment preference");
    assert_eq!(
        enrolled,
        json!({ "type": "enrollment.created", "in_app": false, "email": true })
    );
    let algebra = course(&s, "algebra", "Algebra").await;
    enroll(&s, &algebra, learner).await;
    let mail = app
        .last_email_containing(&learner.email, "You were enrolled in Algebra")
        .await;
    assert!(mail.contains("Tenant acme"), "signed by the tenant: {mail}");
    assert!(
        mail.contains(&format!("https://acme.lms.test/courses/{algebra}")),
        "links to the tenant's host: {mail}"
    );
    let html: String = sqlx::query_scalar(
        "select payload->>'html' from jobs where kind = 'email.send' and payload->>'to' = $1
         and payload->>'body' like '%Algebra%'",
    )
    .bind(&learner.email)
    .fetch_one(&mut app.db.superuser().await)
    .await
    .expect("the email has an HTML part");
    assert!(html.contains("background:#0a7d4f"), "tenant colour: {html}");
    assert!(
        html.contains(r#"src="https://cdn.acme.example/logo.png""#),
        "tenant logo: {html}"
    );
    assert!(html.contains(&format!("https://acme.lms.test/courses/{algebra}")));
    jobs_settled(app).await;
    assert_eq!(inbox(app, "acme", learner, "").await, Vec::<Value>::new());

    // A type left out gets its defaults back: in the app, not by email.
    put(json!({ "types": [] }))
        .await
        .assert_status(StatusCode::OK);
    let stats = course(&s, "statistics", "Statistics").await;
    enroll(&s, &stats, learner).await;
    let items = await_inbox(app, "acme", learner, 1).await;
    assert_eq!(items[0]["title"], "You were enrolled in Statistics");
    let mut su = app.db.superuser().await;
    let mails: i64 = sqlx::query_scalar(
        "select count(*) from jobs where kind = 'email.send' and payload->>'to' = $1
         and payload->>'body' like '%Statistics%'",
    )
    .bind(&learner.email)
    .fetch_one(&mut su)
    .await
    .expect("mails");
    assert_eq!(mails, 0, "emailed without asking");

    // Bad bodies are refused field by field.
    put(json!({ "types": [
        { "type": "course.completed", "in_app": true, "email": true },
        { "type": "course.completed", "in_app": false, "email": true },
    ] }))
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    put(json!({ "types": [{ "type": "weather.changed", "in_app": true, "email": true }] }))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    put(json!({ "types": [{ "type": "course.completed", "in_app": true }] }))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    put(json!({ "types": [], "digest": "weekly" }))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
}

/// A Server-Sent Events stream being read.
struct Sse {
    response: reqwest::Response,
    buffer: String,
}

/// One event of a stream.
#[derive(Debug)]
struct SseEvent {
    id: String,
    event: String,
    data: Value,
}

impl Sse {
    async fn open(app: &TestApp, slug: &str, who: &TestUser, last_event_id: Option<&str>) -> Self {
        let mut request = app
            .client
            .get(format!("{}{STREAM}", app.address))
            .header("x-tenant", slug)
            .header("authorization", format!("Bearer {}", who.access_token));
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.expect("stream opens");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("text/event-stream")
        );
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next event within `wait`, skipping keep-alive comments; `None` if none came.
    async fn next(&mut self, wait: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (String::new(), String::new(), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if !data.is_empty() {
                    let data = serde_json::from_str(&data).expect("event data is JSON");
                    return Some(SseEvent { id, event, data });
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk()).await;
            match chunk {
                Ok(Ok(Some(bytes))) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                Ok(Ok(None)) => return None,
                Ok(Err(err)) => panic!("stream broke: {err}"),
                Err(_) => return None,
            }
        }
    }
}

#[tokio::test]
async fn the_stream_delivers_a_new_notification_within_a_second_and_resumes_without_gaps() {
    let s = School::new().await;
    let app = &s.app;
    let learner = &s.t.learner;
    let courses = [
        course(&s, "one", "One").await,
        course(&s, "two", "Two").await,
        course(&s, "three", "Three").await,
        course(&s, "four", "Four").await,
    ];
    let mut stream = Sse::open(app, "acme", learner, None).await;
    let sent = Instant::now();
    enroll(&s, &courses[0], learner).await;
    let first = stream
        .next(Duration::from_secs(1).saturating_sub(sent.elapsed()))
        .await
        .expect("the notification arrives within a second of the request that caused it");
    assert_eq!(first.event, "notification");
    assert_eq!(first.data["title"], "You were enrolled in One");
    assert_eq!(first.data["id"], first.id.as_str());
    drop(stream);

    // Disconnected: two more arrive meanwhile.
    enroll(&s, &courses[1], learner).await;
    enroll(&s, &courses[2], learner).await;
    await_inbox(app, "acme", learner, 3).await;
    let mut resumed = Sse::open(app, "acme", learner, Some(&first.id)).await;
    let second = resumed.next(Duration::from_secs(2)).await.expect("second");
    let third = resumed.next(Duration::from_secs(2)).await.expect("third");
    assert_eq!(second.data["title"], "You were enrolled in Two");
    assert_eq!(third.data["title"], "You were enrolled in Three");
    // Then live ones, and nothing twice.
    enroll(&s, &courses[3], learner).await;
    let fourth = resumed.next(Duration::from_secs(2)).await.expect("fourth");
    assert_eq!(fourth.data["title"], "You were enrolled in Four");
    assert!(
        resumed.next(Duration::from_millis(300)).await.is_none(),
        "nothing more, nothing repeated"
    );
    // A fresh stream starts with what comes next, not with the past.
    let mut fresh = Sse::open(app, "acme", learner, None).await;
    assert!(fresh.next(Duration::from_millis(300)).await.is_none());
    // An id from before the first notification resumes from the start.
    let before = uuid::Uuid::nil().to_string();
    let mut replay = Sse::open(app, "acme", learner, Some(&before)).await;
    let mut titles = Vec::new();
    while let Some(event) = replay.next(Duration::from_millis(500)).await {
        titles.push(event.data["title"].as_str().unwrap_or_default().to_owned());
    }
    assert_eq!(
        titles,
        ["One", "Two", "Three", "Four"].map(|c| format!("You were enrolled in {c}"))
    );
}

#[tokio::test]
async fn a_stream_carries_only_its_own_users_notifications() {
    let s = School::new().await;
    let app = &s.app;
    let learner = &s.t.learner;
    let neighbour = s.learner("neighbour").await;
    let other = app.seed_tenant("other").await;
    let algebra = course(&s, "algebra", "Algebra").await;
    let geometry = course(&s, "geometry", "Geometry").await;

    let mut mine = Sse::open(app, "acme", learner, None).await;
    let mut neighbours = Sse::open(app, "acme", &neighbour, None).await;
    let mut other_tenants = Sse::open(app, "other", &other.learner, None).await;
    // The other tenant's learner has the same user id nowhere, but a notification of theirs
    // exists too: the streams must not mix them up.
    let other_admin = app.actor("other", &other.admin);
    let theirs = other_admin
        .create_course("algebra", json!({ "title": "Their algebra" }))
        .await;
    let module = other_admin.add_module(&theirs, "Module").await;
    other_admin
        .add_item(&theirs, &module, item::text("Chapter"))
        .await;
    other_admin.publish(&theirs).await;
    other_admin
        .enroll_users(&theirs, json!([other.learner.id]))
        .await
        .assert_status(StatusCode::OK);

    enroll(&s, &algebra, learner).await;
    let got = mine.next(Duration::from_secs(2)).await.expect("mine");
    assert_eq!(got.data["title"], "You were enrolled in Algebra");
    let got = other_tenants
        .next(Duration::from_secs(2))
        .await
        .expect("the other tenant's learner's own");
    assert_eq!(got.data["title"], "You were enrolled in Their algebra");
    enroll(&s, &geometry, &neighbour).await;
    let got = neighbours
        .next(Duration::from_secs(2))
        .await
        .expect("theirs");
    assert_eq!(got.data["title"], "You were enrolled in Geometry");
    // Nobody received anyone else's.
    assert!(mine.next(Duration::from_millis(500)).await.is_none());
    assert!(neighbours.next(Duration::from_millis(100)).await.is_none());
    assert!(
        other_tenants
            .next(Duration::from_millis(100))
            .await
            .is_none()
    );
    // Resuming from someone else's notification id reveals nothing of theirs either.
    let neighbours_id = inbox(app, "acme", &neighbour, "").await[0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let mut resumed = Sse::open(app, "acme", learner, Some(&neighbours_id)).await;
    assert!(resumed.next(Duration::from_millis(300)).await.is_none());
}

#[tokio::test]
async fn streams_are_bounded_per_user_and_refuse_bad_resume_ids() {
    let s = School::new().await;
    let app = &s.app;
    let learner = &s.t.learner;
    let mut open = Vec::new();
    for _ in 0..lms_platform::notifications::stream::MAX_STREAMS_PER_USER {
        open.push(Sse::open(app, "acme", learner, None).await);
    }
    let refused = app
        .get(STREAM)
        .tenant("acme")
        .bearer(&learner.access_token)
        .send()
        .await;
    refused.assert_problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    // Another user is not affected; a closed stream frees its place.
    drop(Sse::open(app, "acme", &s.t.admin, None).await);
    drop(open.pop());
    let started = Instant::now();
    loop {
        let reply = app
            .client
            .get(format!("{}{STREAM}", app.address))
            .header("x-tenant", "acme")
            .header("authorization", format!("Bearer {}", learner.access_token))
            .send()
            .await
            .expect("sent");
        if reply.status() == StatusCode::OK {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the place was not freed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for bad in ["nope", "1", &"a".repeat(500)] {
        app.get(STREAM)
            .tenant("acme")
            .bearer(&s.t.admin.access_token)
            .header("last-event-id", bad)
            .send()
            .await
            .assert_problem(StatusCode::BAD_REQUEST, "invalid_last_event_id");
    }
    app.get(STREAM)
        .tenant("acme")
        .send()
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_daily_digest_lists_what_the_user_has_not_read_once_a_day() {
    let s = School::new().await;
    let app = &s.app;
    let learner = &s.t.learner;
    let neighbour = s.learner("neighbour").await;
    let prefs_path = format!("{NOTIFICATIONS}/preferences");
    let chosen = app
        .call(Method::PUT, &prefs_path)
        .tenant("acme")
        .bearer(&learner.access_token)
        .json(json!({ "types": [], "digest": "daily" }))
        .send()
        .await;
    chosen.assert_status(StatusCode::OK);
    assert_eq!(chosen.json()["digest"], "daily");
    let read_back = app
        .get(&prefs_path)
        .tenant("acme")
        .bearer(&learner.access_token)
        .send()
        .await;
    assert_eq!(read_back.json()["digest"], "daily", "{}", read_back.text);
    let neighbours = app
        .get(&prefs_path)
        .tenant("acme")
        .bearer(&neighbour.access_token)
        .send()
        .await;
    assert_eq!(neighbours.json()["digest"], "off");

    for (slug, title) in [
        ("algebra", "Algebra"),
        ("geometry", "Geometry"),
        ("statistics", "Statistics"),
    ] {
        let c = course(&s, slug, title).await;
        enroll(&s, &c, learner).await;
        if slug == "algebra" {
            enroll(&s, &c, &neighbour).await;
        }
    }
    let items = await_inbox(app, "acme", learner, 3).await;
    await_inbox(app, "acme", &neighbour, 1).await;
    // Read already: not in the digest.
    let algebra = items
        .iter()
        .find(|n| n["title"] == "You were enrolled in Algebra")
        .and_then(|n| n["id"].as_str())
        .expect("algebra");
    app.post(&format!("{NOTIFICATIONS}/{algebra}/read"))
        .tenant("acme")
        .bearer(&learner.access_token)
        .send()
        .await
        .assert_status(StatusCode::OK);

    let fire = || async {
        let mut tx = app.state.operator_db.begin().await.expect("operator");
        lms_platform::notifications::digest::enqueue_due(&app.state, &mut tx)
            .await
            .expect("digests queued");
        tx.commit().await.expect("commit");
    };
    fire().await;
    let body = app
        .last_email_containing(&learner.email, "You were enrolled in Geometry")
        .await;
    assert!(body.contains("You were enrolled in Statistics"), "{body}");
    assert!(!body.contains("Algebra"), "a read notification: {body}");
    assert!(body.contains("Tenant acme"), "{body}");
    let digests = |to: String| async move {
        sqlx::query_scalar::<_, String>(
            "select payload->>'subject' from jobs where kind = 'email.send' and payload->>'to' = $1",
        )
        .bind(to)
        .fetch_all(&mut app.db.superuser().await)
        .await
        .expect("emails")
    };
    assert_eq!(
        digests(learner.email.clone()).await,
        ["Tenant acme: 2 unread notifications"]
    );
    // Once a day, and only for those who asked.
    fire().await;
    let mut su = app.db.superuser().await;
    for _ in 0..20 {
        let busy: i64 = sqlx::query_scalar(
            "select count(*) from jobs where kind like 'notifications.%' and state <> 'succeeded'",
        )
        .fetch_one(&mut su)
        .await
        .expect("jobs");
        if busy == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(digests(learner.email.clone()).await.len(), 1);
    assert_eq!(digests(neighbour.email.clone()).await.len(), 0);
}

#[tokio::test]
async fn an_opened_module_and_an_accepted_invitation_notify_whom_they_concern() {
    let s = School::new().await;
    let app = &s.app;
    let learner = &s.t.learner;
    let c = s
        .published_outline(
            "steps",
            json!({ "sequential": true }),
            vec![
                vec![item::text("Step 1")],
                vec![item::text("Step 2")],
                vec![item::text("Step 3")],
            ],
        )
        .await;
    s.enroll(&c.course, learner)
        .await
        .assert_status(StatusCode::CREATED);
    s.report(
        &c.course,
        c.item(0, 0),
        learner,
        json!({ "complete": true }),
    )
    .await
    .assert_status(StatusCode::OK);
    let items = await_inbox(app, "acme", learner, 1).await;
    assert_eq!(items[0]["type"], "module.unlocked");
    assert_eq!(items[0]["title"], "Module 1 is open"); // modules are numbered from 0
    assert_eq!(
        items[0]["link"],
        format!("/courses/{}/items/{}", c.course, c.item(1, 0))
    );
    // Completing it again opens nothing new; module 3 waits for step 2.
    s.report(
        &c.course,
        c.item(0, 0),
        learner,
        json!({ "complete": true }),
    )
    .await
    .assert_status(StatusCode::OK);
    jobs_settled(app).await;
    assert_eq!(inbox(app, "acme", learner, "").await.len(), 1);

    // The admin who invites hears when the invitation is accepted; the invitee's email wears
    // the tenant's brand and carries the link.
    let admin = &s.t.admin;
    app.post("/api/v1/users/invitations")
        .tenant("acme")
        .bearer(&admin.access_token)
        .json(json!({ "email": "zoe@acme.example", "display_name": "Zoë", "roles": ["learner"] }))
        .send()
        .await
        .assert_status(StatusCode::CREATED);
    let mut su = app.db.superuser().await;
    let html: String = sqlx::query_scalar(
        "select payload->>'html' from jobs where kind = 'email.send' and payload->>'to' = $1",
    )
    .bind("zoe@acme.example")
    .fetch_one(&mut su)
    .await
    .expect("the invitation email");
    assert!(html.contains("Choose your password"), "{html}");
    assert!(html.contains("/accept-invitation?token="), "{html}");
    assert!(!html.contains("Choose which notifications"), "{html}");
    let token = app.token_from_last_email("zoe@acme.example").await;
    app.post("/api/v1/auth/invitations/accept")
        .tenant("acme")
        .json(json!({ "token": token, "password": "correct horse battery staple" }))
        .send()
        .await
        .assert_status(StatusCode::OK);
    let told = inbox(app, "acme", admin, "").await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["type"], "invitation.accepted");
    assert_eq!(told[0]["title"], "Zoë accepted your invitation");
    // The learner hears nothing of it.
    assert_eq!(inbox(app, "acme", learner, "").await.len(), 1);
}

#[tokio::test]
async fn an_assignment_due_soon_reminds_only_learners_who_have_not_submitted() {
    let s = School::new().await;
    let app = &s.app;
    let c = s
        .published_items("essays", &[("assignment", "Essay")])
        .await;
    let due_at = chrono::Utc::now() + chrono::Duration::hours(5);
    s.assignment(
        &c.course,
        &c.items[0],
        json!({ "points": 10, "due_at": due_at }),
    )
    .await
    .assert_status(StatusCode::OK);
    let waiting = s.enrolled("waiting", &c.course).await;
    let done = s.enrolled("done", &c.course).await;
    s.submit_assignment(
        &c.course,
        &c.items[0],
        &done,
        &[("text", None, b"My essay")],
    )
    .await
    .assert_status(StatusCode::CREATED);
    // The schedule fires twice; its jobs are unique per assignment and due date. An
    // assignment due in two days is not reminded of yet.
    let later = s
        .published_items("later", &[("assignment", "Thesis")])
        .await;
    s.assignment(
        &later.course,
        &later.items[0],
        json!({ "points": 10, "due_at": chrono::Utc::now() + chrono::Duration::days(2) }),
    )
    .await
    .assert_status(StatusCode::OK);
    s.enroll(&later.course, &waiting)
        .await
        .assert_status(StatusCode::CREATED);
    for _ in 0..2 {
        let mut tx = app.state.operator_db.begin().await.expect("operator");
        lms_platform::notifications::due_soon::enqueue_due(&app.state, &mut tx)
            .await
            .expect("reminders queued");
        tx.commit().await.expect("commit");
    }
    let items = await_inbox(app, "acme", &waiting, 1).await;
    assert_eq!(items[0]["type"], "assignment.due_soon");
    assert_eq!(items[0]["title"], "Essay is due in 5 hours");
    let queued: i64 =
        sqlx::query_scalar("select count(*) from jobs where kind = 'notifications.due_soon'")
            .fetch_one(&mut app.db.superuser().await)
            .await
            .expect("jobs");
    assert_eq!(queued, 1, "one job for the essay, none for the thesis");
    assert!(inbox(app, "acme", &done, "").await.is_empty());
}
