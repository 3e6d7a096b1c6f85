//! Cohorts: who manages them, names, members, and enrolling a whole cohort into a course.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Reply, School, TestApp, paths};

fn outcomes(reply: &Reply) -> Vec<String> {
    reply.assert_status(StatusCode::OK);
    reply.json()["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["result"].as_str().expect("result").to_owned())
        .collect()
}

#[tokio::test]
async fn admins_manage_cohorts_and_their_members() {
    let (app, t) = TestApp::with_tenant("acme").await;
    let created = app
        .actor("acme", &t.admin)
        .send(
            Method::POST,
            "/api/v1/cohorts",
            Some(json!({ "name": " Spring 2027 ", "description": "New hires" })),
        )
        .await;
    created.assert_status(StatusCode::CREATED);
    let cohort = created.json();
    assert_eq!(cohort["name"], "Spring 2027");
    assert_eq!(cohort["member_count"], 0);
    let id = cohort["id"].as_str().expect("id").to_owned();
    app.actor("acme", &t.admin)
        .send(
            Method::POST,
            "/api/v1/cohorts",
            Some(json!({ "name": "spring 2027" })),
        )
        .await
        .assert_problem(StatusCode::CONFLICT, "name_taken");
    app.actor("acme", &t.admin)
        .send(
            Method::POST,
            "/api/v1/cohorts",
            Some(json!({ "name": "   " })),
        )
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

    let second = app.register("acme", "second@acme.example").await;
    let unknown = uuid::Uuid::now_v7().to_string();
    let members = paths::cohort_members(&id);
    let added = app
        .actor("acme", &t.admin)
        .send(
            Method::POST,
            &members,
            Some(json!({ "user_ids": [t.learner.id, second.id, unknown, t.learner.id] })),
        )
        .await;
    assert_eq!(
        outcomes(&added),
        vec!["added", "added", "unknown_user", "already_member"]
    );
    let listed = app
        .actor("acme", &t.admin)
        .send(Method::GET, &members, None)
        .await;
    listed.assert_status(StatusCode::OK);
    assert_eq!(listed.json()["items"].as_array().map(Vec::len), Some(2));
    let removed = app
        .actor("acme", &t.admin)
        .send(
            Method::DELETE,
            &members,
            Some(json!({ "user_ids": [second.id, second.id] })),
        )
        .await;
    assert_eq!(outcomes(&removed), vec!["removed", "not_member"]);

    let renamed = app
        .actor("acme", &t.admin)
        .send(
            Method::PATCH,
            &paths::cohort(&id),
            Some(json!({ "name": "Autumn 2027" })),
        )
        .await;
    renamed.assert_status(StatusCode::OK);
    assert_eq!(renamed.json()["name"], "Autumn 2027");
    assert_eq!(renamed.json()["description"], "New hires");
    assert_eq!(renamed.json()["member_count"], 1);
    let list = app
        .actor("acme", &t.admin)
        .send(Method::GET, "/api/v1/cohorts", None)
        .await;
    assert_eq!(list.json()["items"][0]["name"], "Autumn 2027");

    app.actor("acme", &t.admin)
        .send(Method::DELETE, &paths::cohort(&id), None)
        .await
        .assert_status(StatusCode::NO_CONTENT);
    app.actor("acme", &t.admin)
        .send(Method::GET, &paths::cohort(&id), None)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    let audit = app
        .actor("acme", &t.admin)
        .send(Method::GET, "/api/v1/audit-events", None)
        .await;
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
    let School { app, t, teacher } = School::new().await;
    let created = app
        .actor("acme", &t.admin)
        .send(
            Method::POST,
            "/api/v1/cohorts",
            Some(json!({ "name": "Team" })),
        )
        .await;
    let id = created.json()["id"].as_str().expect("id").to_owned();
    for who in [&t.learner, &teacher] {
        app.actor("acme", who)
            .send(
                Method::POST,
                "/api/v1/cohorts",
                Some(json!({ "name": "Mine" })),
            )
            .await
            .assert_problem(StatusCode::FORBIDDEN, "forbidden");
        app.actor("acme", who)
            .send(
                Method::POST,
                &paths::cohort_members(&id),
                Some(json!({ "user_ids": [t.learner.id] })),
            )
            .await
            .assert_problem(StatusCode::FORBIDDEN, "forbidden");
        app.actor("acme", who)
            .send(Method::DELETE, &paths::cohort(&id), None)
            .await
            .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    }
    // Instructors read cohorts (to enroll them); learners do not.
    app.actor("acme", &teacher)
        .send(Method::GET, "/api/v1/cohorts", None)
        .await
        .assert_status(StatusCode::OK);
    app.actor("acme", &t.learner)
        .send(Method::GET, "/api/v1/cohorts", None)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn a_cohort_is_enrolled_in_one_call() {
    let School { app, t, teacher } = School::new().await;
    let teaching = app.actor("acme", &teacher);
    let course = teaching
        .create_course("onboarding", json!({ "title": "Onboarding" }))
        .await;
    teaching.publish(&course).await;
    let cohort = app
        .actor("acme", &t.admin)
        .create_cohort(json!({ "name": "Q1 hires" }))
        .await;
    let second = app.register("acme", "second@acme.example").await;
    app.actor("acme", &t.admin)
        .add_cohort_members(&cohort, json!([t.learner.id, second.id]))
        .await;
    // One member is already in.
    app.actor("acme", &second)
        .enroll(&course)
        .await
        .assert_status(StatusCode::CREATED);
    let path = paths::cohort_enrollments(&course);
    let reply = app
        .actor("acme", &teacher)
        .send(Method::POST, &path, Some(json!({ "cohort_id": cohort })))
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
    let mine = app
        .actor("acme", &t.learner)
        .send(Method::GET, "/api/v1/me/enrollments", None)
        .await;
    assert_eq!(mine.json()["items"][0]["source"], "cohort");
    app.actor("acme", &teacher)
        .send(
            Method::POST,
            &path,
            Some(json!({ "cohort_id": uuid::Uuid::now_v7() })),
        )
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    app.actor("acme", &t.learner)
        .send(Method::POST, &path, Some(json!({ "cohort_id": cohort })))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
}
