//! Enrollment: self-enrollment rules (published only, prerequisites, capacity under concurrency,
//! re-enrolling after a drop), staff bulk enrollment and unenrollment, rosters and my learning.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Reply, School, TestUser, paths};

/// Marks the user's enrollment completed (progress tracking comes with the next part).
async fn complete(s: &School, course: &str, user: &TestUser) {
    let mut su = s.app.db.superuser().await;
    let done = sqlx::query(
        "update enrollments set status = 'completed', completed_at = now()
         where course_id = $1::uuid and user_id = $2::uuid",
    )
    .bind(course)
    .bind(&user.id)
    .execute(&mut su)
    .await
    .expect("complete");
    assert_eq!(done.rows_affected(), 1);
}

fn results(reply: &Reply) -> Vec<(String, String)> {
    reply.assert_status(StatusCode::OK);
    reply.json()["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            (
                r["user_id"].as_str().expect("user").to_owned(),
                r["result"].as_str().expect("result").to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn learners_enroll_into_published_courses_only_once() {
    let s = School::new().await;
    let draft = s.course("draft", json!({})).await;
    s.enroll(&draft, &s.t.learner)
        .await
        .assert_problem(StatusCode::CONFLICT, "course_not_published");
    let archived = s.published("archived", json!({})).await;
    s.status(&archived, "archived").await;
    s.enroll(&archived, &s.t.learner)
        .await
        .assert_problem(StatusCode::CONFLICT, "course_not_published");
    let closed = s
        .published("closed", json!({ "self_enrollment": false }))
        .await;
    s.enroll(&closed, &s.t.learner)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "self_enrollment_closed");

    let open = s.published("open", json!({})).await;
    let enrolled = s.enroll(&open, &s.t.learner).await;
    enrolled.assert_status(StatusCode::CREATED);
    assert_eq!(enrolled.json()["status"], "active");
    assert_eq!(enrolled.json()["source"], "self");
    assert_eq!(enrolled.json()["user_id"], s.t.learner.id.as_str());
    s.enroll(&open, &s.t.learner)
        .await
        .assert_problem(StatusCode::CONFLICT, "already_enrolled");

    // My learning lists it with the course's title; no invented progress.
    let mine = s
        .send(Method::GET, "/api/v1/me/enrollments", &s.t.learner, None)
        .await;
    mine.assert_status(StatusCode::OK);
    let items = mine.json()["items"].as_array().expect("items").clone();
    assert_eq!(items.len(), 1, "{}", mine.text);
    assert_eq!(items[0]["course_slug"], "open");
    assert_eq!(items[0]["course_title"], "Course open");
    assert_eq!(items[0]["status"], "active");
    assert!(items[0].get("progress_percent").is_none());
    let other = s.learner("other").await;
    let theirs = s
        .send(Method::GET, "/api/v1/me/enrollments", &other, None)
        .await;
    assert_eq!(theirs.json()["items"], json!([]));
    s.enroll(&uuid::Uuid::now_v7().to_string(), &s.t.learner)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn prerequisites_must_be_completed_first() {
    let s = School::new().await;
    let basics = s.published("basics", json!({ "title": "Basics" })).await;
    let intro = s.published("intro", json!({ "title": "Intro" })).await;
    let advanced = s.course("advanced", json!({})).await;
    s.send(
        Method::PUT,
        &paths::prerequisites(&advanced),
        &s.teacher,
        Some(json!({ "course_ids": [basics, intro] })),
    )
    .await
    .assert_status(StatusCode::OK);
    s.status(&advanced, "published").await;

    let refused = s.enroll(&advanced, &s.t.learner).await;
    refused.assert_problem(StatusCode::CONFLICT, "prerequisites_unmet");
    assert!(
        refused.text.contains(basics.as_str()) && refused.text.contains(intro.as_str()),
        "{}",
        refused.text
    );

    s.enroll(&basics, &s.t.learner)
        .await
        .assert_status(StatusCode::CREATED);
    complete(&s, &basics, &s.t.learner).await;
    let refused = s.enroll(&advanced, &s.t.learner).await;
    refused.assert_problem(StatusCode::CONFLICT, "prerequisites_unmet");
    assert!(!refused.text.contains(basics.as_str()), "{}", refused.text);
    assert!(refused.text.contains(intro.as_str()), "{}", refused.text);

    s.enroll(&intro, &s.t.learner)
        .await
        .assert_status(StatusCode::CREATED);
    complete(&s, &intro, &s.t.learner).await;
    s.enroll(&advanced, &s.t.learner)
        .await
        .assert_status(StatusCode::CREATED);
    // Completed is not enrollable again.
    s.enroll(&basics, &s.t.learner)
        .await
        .assert_problem(StatusCode::CONFLICT, "already_enrolled");
}

#[tokio::test]
async fn concurrent_self_enrollments_never_overfill_a_course() {
    let s = School::new().await;
    let course = s.published("small", json!({ "capacity": 5 })).await;
    let mut learners = Vec::new();
    for i in 0..20 {
        learners.push(s.learner(&format!("rush{i}")).await);
    }
    let replies = futures::future::join_all(learners.iter().map(|l| s.enroll(&course, l))).await;
    let created = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    assert_eq!(created, 5);
    for reply in replies.iter().filter(|r| r.status != StatusCode::CREATED) {
        reply.assert_problem(StatusCode::CONFLICT, "course_full");
    }
    let catalog = s
        .send(Method::GET, "/api/v1/catalog", &s.t.learner, None)
        .await;
    assert_eq!(catalog.json()["items"][0]["seats_left"], 0);
    let roster = s
        .send(
            Method::GET,
            &format!("/api/v1/courses/{course}/enrollments?status=active"),
            &s.teacher,
            None,
        )
        .await;
    roster.assert_status(StatusCode::OK);
    assert_eq!(roster.json()["items"].as_array().map(Vec::len), Some(5));

    // A drop frees a seat; the dropped learner may come back.
    let enrolled = replies
        .iter()
        .position(|r| r.status == StatusCode::CREATED)
        .expect("one enrolled");
    let leaver = &learners[enrolled];
    s.send(
        Method::DELETE,
        &paths::enrollments_of(&course, &leaver.id),
        &s.teacher,
        None,
    )
    .await
    .assert_status(StatusCode::NO_CONTENT);
    let back = s.enroll(&course, leaver).await;
    back.assert_status(StatusCode::CREATED);
    assert_eq!(back.json()["status"], "active");
    assert!(back.json()["dropped_at"].is_null());
    s.enroll(&course, &s.t.learner)
        .await
        .assert_problem(StatusCode::CONFLICT, "course_full");
}

#[tokio::test]
async fn staff_enroll_lists_of_users_and_unenroll_them() {
    let s = School::new().await;
    let course = s.published("team", json!({ "capacity": 3 })).await;
    let a = s.learner("a").await;
    let b = s.learner("b").await;
    let c = s.learner("c").await;
    s.enroll(&course, &a)
        .await
        .assert_status(StatusCode::CREATED);
    let unknown = uuid::Uuid::now_v7().to_string();
    let path = paths::enrollments(&course);
    let reply = s
        .send(
            Method::POST,
            &path,
            &s.teacher,
            Some(json!({ "user_ids": [a.id, b.id, unknown, b.id, c.id, s.t.learner.id] })),
        )
        .await;
    assert_eq!(
        results(&reply),
        vec![
            (a.id.clone(), "already_enrolled".into()),
            (b.id.clone(), "enrolled".into()),
            (unknown.clone(), "unknown_user".into()),
            (b.id.clone(), "already_enrolled".into()),
            (c.id.clone(), "enrolled".into()),
            (s.t.learner.id.clone(), "course_full".into()),
        ]
    );
    let roster = s.send(Method::GET, &path, &s.teacher, None).await;
    roster.assert_status(StatusCode::OK);
    let items = roster.json()["items"].as_array().expect("items").clone();
    let staff_enrolled: Vec<&Value> = items.iter().filter(|e| e["source"] == "staff").collect();
    assert_eq!(staff_enrolled.len(), 2);
    assert_eq!(staff_enrolled[0]["enrolled_by"], s.teacher.id.as_str());

    // Unenrolling keeps the row as dropped; the roster filters by status.
    s.send(
        Method::DELETE,
        &format!("{path}/{}", b.id),
        &s.t.admin,
        None,
    )
    .await
    .assert_status(StatusCode::NO_CONTENT);
    s.send(
        Method::DELETE,
        &format!("{path}/{}", b.id),
        &s.t.admin,
        None,
    )
    .await
    .assert_problem(StatusCode::NOT_FOUND, "not_found");
    let dropped = s
        .send(
            Method::GET,
            &format!("{path}?status=dropped"),
            &s.teacher,
            None,
        )
        .await;
    assert_eq!(dropped.json()["items"][0]["user_id"], b.id.as_str());
    assert!(!dropped.json()["items"][0]["dropped_at"].is_null());
    // Paging the roster.
    let first = s
        .send(Method::GET, &format!("{path}?limit=2"), &s.teacher, None)
        .await;
    let cursor = first.json()["next_cursor"]
        .as_str()
        .expect("cursor")
        .to_owned();
    let second = s
        .send(
            Method::GET,
            &format!("{path}?limit=2&cursor={cursor}"),
            &s.teacher,
            None,
        )
        .await;
    assert_eq!(second.json()["items"].as_array().map(Vec::len), Some(1));

    // Every change is audited.
    let audit = s
        .send(Method::GET, "/api/v1/audit-events", &s.t.admin, None)
        .await;
    for action in [
        "enrollment.created",
        "enrollment.bulk_created",
        "enrollment.dropped",
    ] {
        assert!(audit.text.contains(action), "{action}: {}", audit.text);
    }

    // Bounds and drafts.
    s.send(
        Method::POST,
        &path,
        &s.teacher,
        Some(json!({ "user_ids": [] })),
    )
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let too_many: Vec<String> = (0..501).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    s.send(
        Method::POST,
        &path,
        &s.teacher,
        Some(json!({ "user_ids": too_many })),
    )
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let draft = s.course("later", json!({})).await;
    s.send(
        Method::POST,
        &paths::enrollments(&draft),
        &s.teacher,
        Some(json!({ "user_ids": [a.id] })),
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "course_not_published");
}

#[tokio::test]
async fn only_the_courses_staff_manage_its_learners() {
    let s = School::new().await;
    let course = s.published("guarded", json!({})).await;
    let outsider = s.instructor("outsider").await;
    let path = paths::enrollments(&course);
    let body = json!({ "user_ids": [s.t.learner.id] });
    for who in [&s.t.learner, &outsider] {
        s.send(Method::POST, &path, who, Some(body.clone()))
            .await
            .assert_problem(StatusCode::FORBIDDEN, "forbidden");
        s.send(Method::GET, &path, who, None)
            .await
            .assert_problem(StatusCode::FORBIDDEN, "forbidden");
        s.send(
            Method::DELETE,
            &format!("{path}/{}", s.t.learner.id),
            who,
            None,
        )
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    }
    // A draft is invisible to those who cannot author it.
    let draft = s.course("hidden", json!({})).await;
    s.send(Method::GET, &paths::enrollments(&draft), &s.t.learner, None)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    let results = results(&s.send(Method::POST, &path, &s.t.admin, Some(body)).await);
    assert_eq!(results[0].1, "enrolled");
}
