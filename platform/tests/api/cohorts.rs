//! Cohorts: who manages them, names, members, and enrolling a whole cohort into a course.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Reply, TestApp, TestTenant, TestUser};

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    who: &TestUser,
    body: Option<Value>,
) -> Reply {
    let mut call = app
        .call(method, path)
        .tenant("acme")
        .bearer(&who.access_token);
    if let Some(body) = body {
        call = call.json(body);
    }
    call.send().await
}

fn outcomes(reply: &Reply) -> Vec<String> {
    reply.assert_status(StatusCode::OK);
    reply.json()["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["result"].as_str().expect("result").to_owned())
        .collect()
}

async fn setup() -> (TestApp, TestTenant) {
    let app = TestApp::spawn().await;
    let t = app.seed_tenant("acme").await;
    (app, t)
}

#[tokio::test]
async fn admins_manage_cohorts_and_their_members() {
    let (app, t) = setup().await;
    let created = send(
        &app,
        Method::POST,
        "/api/v1/cohorts",
        &t.admin,
        Some(json!({ "name": " Spring 2027 ", "description": "New hires" })),
    )
    .await;
    created.assert_status(StatusCode::CREATED);
    let cohort = created.json();
    assert_eq!(cohort["name"], "Spring 2027");
    assert_eq!(cohort["member_count"], 0);
    let id = cohort["id"].as_str().expect("id").to_owned();
    send(
        &app,
        Method::POST,
        "/api/v1/cohorts",
        &t.admin,
        Some(json!({ "name": "spring 2027" })),
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "name_taken");
    send(
        &app,
        Method::POST,
        "/api/v1/cohorts",
        &t.admin,
        Some(json!({ "name": "   " })),
    )
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

    let second = app.register("acme", "second@acme.example").await;
    let unknown = uuid::Uuid::now_v7().to_string();
    let members = format!("/api/v1/cohorts/{id}/members");
    let added = send(
        &app,
        Method::POST,
        &members,
        &t.admin,
        Some(json!({ "user_ids": [t.learner.id, second.id, unknown, t.learner.id] })),
    )
    .await;
    assert_eq!(
        outcomes(&added),
        vec!["added", "added", "unknown_user", "already_member"]
    );
    let listed = send(&app, Method::GET, &members, &t.admin, None).await;
    listed.assert_status(StatusCode::OK);
    assert_eq!(listed.json()["items"].as_array().map(Vec::len), Some(2));
    let removed = send(
        &app,
        Method::DELETE,
        &members,
        &t.admin,
        Some(json!({ "user_ids": [second.id, second.id] })),
    )
    .await;
    assert_eq!(outcomes(&removed), vec!["removed", "not_member"]);

    let renamed = send(
        &app,
        Method::PATCH,
        &format!("/api/v1/cohorts/{id}"),
        &t.admin,
        Some(json!({ "name": "Autumn 2027" })),
    )
    .await;
    renamed.assert_status(StatusCode::OK);
    assert_eq!(renamed.json()["name"], "Autumn 2027");
    assert_eq!(renamed.json()["description"], "New hires");
    assert_eq!(renamed.json()["member_count"], 1);
    let list = send(&app, Method::GET, "/api/v1/cohorts", &t.admin, None).await;
    assert_eq!(list.json()["items"][0]["name"], "Autumn 2027");

    send(
        &app,
        Method::DELETE,
        &format!("/api/v1/cohorts/{id}"),
        &t.admin,
        None,
    )
    .await
    .assert_status(StatusCode::NO_CONTENT);
    send(
        &app,
        Method::GET,
        &format!("/api/v1/cohorts/{id}"),
        &t.admin,
        None,
    )
    .await
    .assert_problem(StatusCode::NOT_FOUND, "not_found");
    let audit = send(&app, Method::GET, "/api/v1/audit-events", &t.admin, None).await;
    for action in [
        "cohort.created",
        "cohort.members_added",
        "cohort.members_removed",
        "cohort.updated",
        "cohort.deleted",
    ] {
        assert!(audit.text.contains(action), "{action}");
    }
}

#[tokio::test]
async fn learners_and_instructors_cannot_manage_cohorts() {
    let (app, t) = setup().await;
    let teacher = app
        .instructor("acme", "teacher@acme.example", &t.admin)
        .await;
    let created = send(
        &app,
        Method::POST,
        "/api/v1/cohorts",
        &t.admin,
        Some(json!({ "name": "Team" })),
    )
    .await;
    let id = created.json()["id"].as_str().expect("id").to_owned();
    for who in [&t.learner, &teacher] {
        send(
            &app,
            Method::POST,
            "/api/v1/cohorts",
            who,
            Some(json!({ "name": "Mine" })),
        )
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
        send(
            &app,
            Method::POST,
            &format!("/api/v1/cohorts/{id}/members"),
            who,
            Some(json!({ "user_ids": [t.learner.id] })),
        )
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
        send(
            &app,
            Method::DELETE,
            &format!("/api/v1/cohorts/{id}"),
            who,
            None,
        )
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    }
    // Instructors read cohorts (to enroll them); learners do not.
    send(&app, Method::GET, "/api/v1/cohorts", &teacher, None)
        .await
        .assert_status(StatusCode::OK);
    send(&app, Method::GET, "/api/v1/cohorts", &t.learner, None)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn a_cohort_is_enrolled_in_one_call() {
    let (app, t) = setup().await;
    let teacher = app
        .instructor("acme", "teacher@acme.example", &t.admin)
        .await;
    let course = send(
        &app,
        Method::POST,
        "/api/v1/courses",
        &teacher,
        Some(json!({ "slug": "onboarding", "title": "Onboarding" })),
    )
    .await;
    let course = course.json()["id"].as_str().expect("id").to_owned();
    send(
        &app,
        Method::POST,
        &format!("/api/v1/courses/{course}/status"),
        &teacher,
        Some(json!({ "status": "published" })),
    )
    .await
    .assert_status(StatusCode::OK);
    let cohort = send(
        &app,
        Method::POST,
        "/api/v1/cohorts",
        &t.admin,
        Some(json!({ "name": "Q1 hires" })),
    )
    .await;
    let cohort = cohort.json()["id"].as_str().expect("id").to_owned();
    let second = app.register("acme", "second@acme.example").await;
    send(
        &app,
        Method::POST,
        &format!("/api/v1/cohorts/{cohort}/members"),
        &t.admin,
        Some(json!({ "user_ids": [t.learner.id, second.id] })),
    )
    .await
    .assert_status(StatusCode::OK);
    // One member is already in.
    send(
        &app,
        Method::POST,
        &format!("/api/v1/courses/{course}/enrollment"),
        &second,
        None,
    )
    .await
    .assert_status(StatusCode::CREATED);
    let path = format!("/api/v1/courses/{course}/cohort-enrollments");
    let reply = send(
        &app,
        Method::POST,
        &path,
        &teacher,
        Some(json!({ "cohort_id": cohort })),
    )
    .await;
    let mut got: Vec<(String, String)> = reply.json()["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            (
                r["user_id"].as_str().expect("u").to_owned(),
                r["result"].as_str().expect("r").to_owned(),
            )
        })
        .collect();
    got.sort();
    let mut expected = vec![
        (t.learner.id.clone(), "enrolled".to_owned()),
        (second.id.clone(), "already_enrolled".to_owned()),
    ];
    expected.sort();
    assert_eq!(got, expected);
    let mine = send(
        &app,
        Method::GET,
        "/api/v1/me/enrollments",
        &t.learner,
        None,
    )
    .await;
    assert_eq!(mine.json()["items"][0]["source"], "cohort");
    send(
        &app,
        Method::POST,
        &path,
        &teacher,
        Some(json!({ "cohort_id": uuid::Uuid::now_v7() })),
    )
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    send(
        &app,
        Method::POST,
        &path,
        &t.learner,
        Some(json!({ "cohort_id": cohort })),
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "forbidden");
}
