//! Progress: completion (sticky, once per course, with its event), idempotent session time and
//! video positions, sequential modules, concurrency without lost updates, my learning, and the
//! instructor's progress table and CSV export.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::item::{optional_link, text, video};
use crate::helpers::{CourseIds, Reply, School, paths};

async fn my_view(s: &School, course: &CourseIds) -> Value {
    let reply = s
        .send(
            Method::GET,
            &paths::my_progress(&course.course),
            &s.t.learner,
            None,
        )
        .await;
    reply.assert_status(StatusCode::OK);
    reply.json()
}

async fn progress_table(s: &School, course: &CourseIds, query: String) -> Reply {
    s.send(
        Method::GET,
        &format!("/api/v1/courses/{}/progress{query}", course.course),
        &s.teacher,
        None,
    )
    .await
}

async fn completion_events(s: &School, course: &CourseIds) -> i64 {
    let mut su = s.app.db.superuser().await;
    sqlx::query_scalar(
        "select count(*) from domain_events
         where kind = 'course.completed' and payload->>'course_id' = $1",
    )
    .bind(course.course.as_str())
    .fetch_one(&mut su)
    .await
    .expect("events")
}

#[tokio::test]
async fn completing_the_required_items_completes_the_course_once() {
    let s = School::new().await;
    let c = s
        .published_outline(
            "basics",
            json!({ "sequential": false }),
            vec![vec![
                text("Intro"),
                video("Talk", 100),
                optional_link("More"),
            ]],
        )
        .await;
    s.enroll(&c.course, &s.t.learner)
        .await
        .assert_status(StatusCode::CREATED);

    let first = s
        .report(
            &c.course,
            c.item(0, 0),
            &s.t.learner,
            json!({ "complete": true }),
        )
        .await;
    first.assert_status(StatusCode::OK);
    let body = first.json();
    assert!(body["item"]["completed_at"].is_string());
    assert_eq!(body["course"]["required_completed"], 1);
    assert_eq!(body["course"]["required_total"], 2);
    assert_eq!(body["course"]["percent"], 50);
    assert!(body["course"]["completed_at"].is_null());

    // The optional item counts for nothing; watching 90% of the video completes it.
    s.report(
        &c.course,
        c.item(0, 2),
        &s.t.learner,
        json!({ "complete": true }),
    )
    .await
    .assert_status(StatusCode::OK);
    let session = Uuid::new_v4();
    let short = s
        .report(
            &c.course,
            c.item(0, 1),
            &s.t.learner,
            json!({ "session": session, "position_seconds": 89, "time_spent_seconds": 89 }),
        )
        .await;
    assert!(short.json()["item"]["completed_at"].is_null());
    assert_eq!(short.json()["course"]["percent"], 50);
    let watched = s
        .report(
            &c.course,
            c.item(0, 1),
            &s.t.learner,
            json!({ "session": session, "position_seconds": 90, "time_spent_seconds": 90 }),
        )
        .await;
    watched.assert_status(StatusCode::OK);
    let body = watched.json();
    assert!(body["item"]["completed_at"].is_string());
    assert_eq!(body["course"]["percent"], 100);
    let completed_at = body["course"]["completed_at"].clone();
    assert!(completed_at.is_string());

    // Later reports never undo anything, and the course completes only once.
    let later = s
        .report(
            &c.course,
            c.item(0, 0),
            &s.t.learner,
            json!({ "complete": false, "session": Uuid::new_v4(), "time_spent_seconds": 5 }),
        )
        .await;
    later.assert_status(StatusCode::OK);
    assert!(later.json()["item"]["completed_at"].is_string());
    assert_eq!(later.json()["course"]["completed_at"], completed_at);
    assert_eq!(completion_events(&s, &c).await, 1);

    let mine = s
        .send(Method::GET, "/api/v1/me/enrollments", &s.t.learner, None)
        .await;
    mine.assert_status(StatusCode::OK);
    let mine = &mine.json()["items"][0];
    assert_eq!(mine["status"], "completed");
    assert_eq!(mine["progress"]["percent"], 100);
    // The optional link is complete too: nothing is left to continue with.
    assert!(mine["continue_item"].is_null());
}

#[tokio::test]
async fn session_time_is_idempotent_and_the_newest_session_owns_the_position() {
    let s = School::new().await;
    let c = s
        .published_outline(
            "video",
            json!({ "sequential": false }),
            vec![vec![video("Talk", 3600)]],
        )
        .await;
    s.enroll(&c.course, &s.t.learner)
        .await
        .assert_status(StatusCode::CREATED);
    let item = c.item(0, 0);
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let report = |session: Uuid, time: u32, position: u32| {
        s.report(
            &c.course,
            item,
            &s.t.learner,
            json!({ "session": session, "time_spent_seconds": time, "position_seconds": position }),
        )
    };
    let state = |reply: Reply| {
        reply.assert_status(StatusCode::OK);
        let item = &reply.json()["item"];
        (
            item["time_spent_seconds"].as_i64().expect("time"),
            item["position_seconds"].as_i64().expect("position"),
            item["furthest_position_seconds"]
                .as_i64()
                .expect("furthest"),
        )
    };
    assert_eq!(state(report(a, 30, 60).await), (30, 60, 60));
    // The same report again counts nothing twice.
    assert_eq!(state(report(a, 30, 60).await), (30, 60, 60));
    // Within a session time and position only move forward.
    assert_eq!(state(report(a, 50, 40).await), (50, 60, 60));
    assert_eq!(state(report(a, 45, 70).await), (50, 70, 70));
    // A new session (rewatching from the start) adds its time and owns the resume point.
    assert_eq!(state(report(b, 20, 10).await), (70, 10, 70));
    // A late report from the older session adds its extra time but cannot move the resume
    // point; the furthest position still counts it.
    assert_eq!(state(report(a, 55, 80).await), (75, 10, 80));
    assert_eq!(state(report(b, 25, 15).await), (80, 15, 80));

    let view = s
        .send(
            Method::GET,
            &paths::my_progress(&c.course),
            &s.t.learner,
            None,
        )
        .await;
    view.assert_status(StatusCode::OK);
    let progress = &view.json()["modules"][0]["items"][0]["progress"];
    assert_eq!(progress["time_spent_seconds"], 80);
    assert_eq!(progress["position_seconds"], 15);
    assert_eq!(view.json()["continue_item"]["item_id"], item);
}

#[tokio::test]
async fn bad_reports_are_refused_with_clear_problems() {
    let s = School::new().await;
    let c = s
        .published_outline(
            "rules",
            json!({ "sequential": false }),
            vec![vec![text("Intro"), video("Talk", 60)]],
        )
        .await;
    let other = s
        .published_outline(
            "other",
            json!({ "sequential": false }),
            vec![vec![text("Elsewhere")]],
        )
        .await;

    // Not enrolled yet.
    s.report(
        &c.course,
        c.item(0, 0),
        &s.t.learner,
        json!({ "complete": true }),
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "not_enrolled");
    s.enroll(&c.course, &s.t.learner)
        .await
        .assert_status(StatusCode::CREATED);

    for (item, body, field) in [
        (
            c.item(0, 0),
            json!({ "session": Uuid::new_v4(), "position_seconds": 3 }),
            "position_seconds",
        ),
        (c.item(0, 1), json!({ "time_spent_seconds": 3 }), "session"),
        (
            c.item(0, 1),
            json!({ "session": Uuid::new_v4(), "time_spent_seconds": 86_401 }),
            "time_spent_seconds",
        ),
        (
            c.item(0, 1),
            json!({ "session": Uuid::new_v4(), "position_seconds": 100_000 }),
            "position_seconds",
        ),
    ] {
        let reply = s.report(&c.course, item, &s.t.learner, body).await;
        reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(reply.json()["errors"][0]["field"], field, "{}", reply.text);
    }
    for body in [
        json!({ "complete": "yes" }),
        json!({ "session": "not-a-uuid" }),
        json!({ "time_spent_seconds": -1, "session": Uuid::new_v4() }),
        json!({ "completed": true }),
    ] {
        let reply = s.report(&c.course, c.item(0, 0), &s.t.learner, body).await;
        assert!(reply.status.is_client_error(), "{}", reply.text);
        assert_eq!(
            reply.headers["content-type"], "application/problem+json",
            "{}",
            reply.text
        );
    }

    // An item of another course, an unknown item, an unknown course.
    s.report(&c.course, other.item(0, 0), &s.t.learner, json!({}))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    s.report(
        &c.course,
        &Uuid::now_v7().to_string(),
        &s.t.learner,
        json!({}),
    )
    .await
    .assert_problem(StatusCode::NOT_FOUND, "not_found");
    let unknown = Uuid::now_v7().to_string();
    s.report(&unknown, c.item(0, 0), &s.t.learner, json!({}))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");

    // Dropped learners record nothing.
    s.send(
        Method::DELETE,
        &paths::enrollments_of(&c.course, &s.t.learner.id),
        &s.teacher,
        None,
    )
    .await
    .assert_status(StatusCode::NO_CONTENT);
    s.report(
        &c.course,
        c.item(0, 0),
        &s.t.learner,
        json!({ "complete": true }),
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "not_enrolled");
}

#[tokio::test]
async fn sequential_courses_unlock_modules_in_order() {
    let s = School::new().await;
    let c = s
        .published_outline(
            "steps",
            json!({ "sequential": true }),
            vec![
                vec![text("Step 1"), optional_link("Extra")],
                vec![text("Step 2")],
                vec![text("Step 3")],
            ],
        )
        .await;
    s.enroll(&c.course, &s.t.learner)
        .await
        .assert_status(StatusCode::CREATED);
    let locked = s
        .report(
            &c.course,
            c.item(1, 0),
            &s.t.learner,
            json!({ "complete": true }),
        )
        .await;
    locked.assert_problem(StatusCode::CONFLICT, "module_locked");

    let before = my_view(&s, &c).await;
    let locks: Vec<bool> = before["modules"]
        .as_array()
        .expect("modules")
        .iter()
        .map(|m| m["locked"].as_bool().expect("locked"))
        .collect();
    assert_eq!(locks, [false, true, true]);
    assert_eq!(before["continue_item"]["item_id"], c.item(0, 0));

    // Optional items never block.
    s.report(
        &c.course,
        c.item(0, 0),
        &s.t.learner,
        json!({ "complete": true }),
    )
    .await
    .assert_status(StatusCode::OK);
    s.report(
        &c.course,
        c.item(1, 0),
        &s.t.learner,
        json!({ "complete": true }),
    )
    .await
    .assert_status(StatusCode::OK);
    let after = my_view(&s, &c).await;
    let locks: Vec<bool> = after["modules"]
        .as_array()
        .expect("modules")
        .iter()
        .map(|m| m["locked"].as_bool().expect("locked"))
        .collect();
    assert_eq!(locks, [false, false, false]);
    assert_eq!(after["course"]["percent"], 66);
    // Step 2 was opened last and is complete: continue with the first incomplete item.
    assert_eq!(after["continue_item"]["item_id"], c.item(0, 1));
}

#[tokio::test]
async fn concurrent_reports_lose_no_update() {
    let s = School::new().await;
    let items: Vec<Value> = (0..12).map(|n| text(&format!("Part {n}"))).collect();
    let c = s
        .published_outline("race", json!({ "sequential": false }), vec![items])
        .await;
    s.enroll(&c.course, &s.t.learner)
        .await
        .assert_status(StatusCode::CREATED);

    // Every item completed at once, and time from many sessions on one item at once.
    let completions = c.modules[0]
        .items
        .iter()
        .map(|item| s.report(&c.course, item, &s.t.learner, json!({ "complete": true })));
    let sessions = (1..=12u32).map(|n| {
        s.report(
            &c.course,
            c.item(0, 0),
            &s.t.learner,
            json!({ "session": Uuid::new_v4(), "time_spent_seconds": n }),
        )
    });
    let (completions, sessions) = tokio::join!(
        futures::future::join_all(completions),
        futures::future::join_all(sessions)
    );
    for reply in completions.iter().chain(&sessions) {
        reply.assert_status(StatusCode::OK);
    }
    let view = s
        .send(
            Method::GET,
            &paths::my_progress(&c.course),
            &s.t.learner,
            None,
        )
        .await
        .json();
    assert_eq!(view["status"], "completed");
    assert_eq!(view["course"]["required_completed"], 12);
    assert_eq!(
        view["modules"][0]["items"][0]["progress"]["time_spent_seconds"],
        (1..=12).sum::<i64>()
    );
    assert_eq!(completion_events(&s, &c).await, 1);
}

#[tokio::test]
async fn staff_read_the_progress_table_and_its_csv() {
    let s = School::new().await;
    let c = s
        .published_outline(
            "table",
            json!({ "sequential": false }),
            vec![vec![text("One"), text("Two"), text("Three"), text("Four")]],
        )
        .await;
    let ahead = s.learner("ahead").await;
    let behind = s.learner("behind").await;
    // A learner-controlled name that a spreadsheet would run as a formula.
    let sneaky = s.learner("sneaky").await;
    let mut su = s.app.db.superuser().await;
    sqlx::query("update users set display_name = $2 where id = $1::uuid")
        .bind(&sneaky.id)
        .bind("=HYPERLINK(\"https://evil.example\")")
        .execute(&mut su)
        .await
        .expect("rename");
    for learner in [&ahead, &behind, &sneaky] {
        s.enroll(&c.course, learner)
            .await
            .assert_status(StatusCode::CREATED);
    }
    for n in 0..3 {
        s.report(&c.course, c.item(0, n), &ahead, json!({ "complete": true }))
            .await
            .assert_status(StatusCode::OK);
    }
    s.report(
        &c.course,
        c.item(0, 0),
        &behind,
        json!({ "session": Uuid::new_v4(), "time_spent_seconds": 42 }),
    )
    .await
    .assert_status(StatusCode::OK);

    let table = |query: &'static str| progress_table(&s, &c, query.to_owned());
    let all = table("").await;
    all.assert_status(StatusCode::OK);
    let rows = all.json()["items"].as_array().expect("items").clone();
    assert_eq!(rows.len(), 3);
    let ahead_row = rows
        .iter()
        .find(|r| r["user_id"] == ahead.id.as_str())
        .expect("ahead");
    assert_eq!(ahead_row["progress"]["percent"], 75);
    assert!(ahead_row["last_activity_at"].is_string());
    let behind_row = rows
        .iter()
        .find(|r| r["user_id"] == behind.id.as_str())
        .expect("behind");
    assert_eq!(behind_row["time_spent_seconds"], 42);
    assert_eq!(behind_row["progress"]["percent"], 0);

    // Filters and pages.
    let below = table("?progress_below=50").await.json();
    assert_eq!(below["items"].as_array().expect("items").len(), 2);
    let found = table("?search=ahead%40").await.json();
    assert_eq!(found["items"][0]["user_id"], ahead.id.as_str());
    assert_eq!(found["items"].as_array().expect("items").len(), 1);
    let idle = table("?inactive_since=2000-01-01T00:00:00Z").await.json();
    assert_eq!(idle["items"][0]["user_id"], sneaky.id.as_str());
    assert_eq!(idle["items"].as_array().expect("items").len(), 1);
    let first = table("?limit=2").await.json();
    assert_eq!(first["items"].as_array().expect("items").len(), 2);
    let cursor = first["next_cursor"].as_str().expect("cursor");
    let second = progress_table(&s, &c, format!("?limit=2&cursor={cursor}"))
        .await
        .json();
    assert_eq!(second["items"].as_array().expect("items").len(), 1);
    assert!(second["next_cursor"].is_null());
    for bad in [
        "?progress_below=0",
        "?progress_below=101",
        "?inactive_since=yesterday",
    ] {
        let reply = table(bad).await;
        assert!(reply.status.is_client_error(), "{bad}: {}", reply.text);
    }

    let csv = s
        .send(
            Method::GET,
            &paths::progress_csv(&c.course),
            &s.teacher,
            None,
        )
        .await;
    csv.assert_status(StatusCode::OK);
    assert!(
        csv.headers["content-type"]
            .to_str()
            .expect("type")
            .starts_with("text/csv")
    );
    let lines: Vec<&str> = csv.text.lines().collect();
    assert_eq!(lines.len(), 4, "{}", csv.text);
    assert!(
        lines[0].starts_with("enrollment_id,user_id,display_name,email,status,progress_percent")
    );
    assert!(
        csv.text
            .contains("\"'=HYPERLINK(\"\"https://evil.example\"\")\""),
        "{}",
        csv.text
    );
    let ahead_line = lines
        .iter()
        .find(|l| l.contains(&ahead.id))
        .expect("ahead line");
    assert!(ahead_line.contains(",active,75,3,4,"), "{ahead_line}");

    // Learners read only their own progress.
    s.send(Method::GET, &paths::progress(&c.course), &ahead, None)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    s.send(Method::GET, &paths::progress_csv(&c.course), &ahead, None)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
}
