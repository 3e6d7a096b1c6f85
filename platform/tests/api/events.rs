//! Domain events: each change of consequence writes its event with the change, and every event
//! the API returns matches the schema the API document publishes for its type.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, item, paths, seed_assignment, seed_quiz};

/// The document's schema for one event type's envelope, with the document's components beside
/// it so that its `$ref`s resolve.
fn envelope_validator(document: &Value, event_type: &str) -> jsonschema::Validator {
    let envelope = &document["webhooks"][event_type]["post"]["requestBody"]["content"]["application/json"]
        ["schema"];
    assert!(
        envelope.is_object(),
        "no webhook documented for {event_type}"
    );
    let schema = json!({ "components": document["components"], "allOf": [envelope] });
    jsonschema::validator_for(&schema).expect("envelope schema compiles")
}

/// The property names the document declares for an event type's data.
fn declared_fields(document: &Value, event_type: &str) -> BTreeSet<String> {
    let reference = document["webhooks"][event_type]["post"]["requestBody"]["content"]
        ["application/json"]["schema"]["properties"]["data"]["$ref"]
        .as_str()
        .expect("data is a reference");
    let name = reference.rsplit('/').next().expect("schema name");
    document["components"]["schemas"][name]["properties"]
        .as_object()
        .expect("data properties")
        .keys()
        .cloned()
        .collect()
}

#[tokio::test]
async fn changes_of_consequence_emit_events_that_match_their_published_schemas() {
    let (app, acme) = TestApp::with_tenant("acme").await;
    let quiz = seed_quiz(&app, &acme).await;
    let learner = app.actor("acme", &acme.learner);
    learner
        .submit_attempt(&quiz.attempt)
        .await
        .assert_status(StatusCode::OK);
    let assignment = seed_assignment(&app, &acme).await;
    app.actor("acme", &acme.admin)
        .grade(
            &assignment.submission,
            json!({ "points": 8, "release": true }),
        )
        .await
        .assert_status(StatusCode::OK);
    // A third course, to enrol in and be removed from.
    let admin = app.actor("acme", &acme.admin);
    let course = admin
        .create_course("reading", json!({ "title": "Reading" }))
        .await;
    let module = admin.add_module(&course, "Module").await;
    admin
        .add_item(&course, &module, item::text("Chapter"))
        .await;
    admin.publish(&course).await;
    learner
        .enroll(&course)
        .await
        .assert_status(StatusCode::CREATED);
    admin
        .send(
            reqwest::Method::DELETE,
            &paths::enrollments_of(&course, &acme.learner.id),
            None,
        )
        .await
        .assert_status(StatusCode::NO_CONTENT);
    admin
        .send(
            reqwest::Method::POST,
            &paths::user_deactivate(&acme.learner.id),
            None,
        )
        .await
        .assert_status(StatusCode::OK);

    let document = app.get("/api/v1/openapi.json").send().await.json();
    let listed = app
        .get("/api/v1/events?limit=200")
        .tenant("acme")
        .bearer(&acme.admin.access_token)
        .send()
        .await;
    listed.assert_status(StatusCode::OK);
    let events = listed.json()["items"].as_array().cloned().expect("items");
    let mut by_type: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for event in events {
        let event_type = event["type"].as_str().expect("type").to_owned();
        by_type.entry(event_type).or_default().push(event);
    }
    let expected = [
        "user.created",
        "user.deactivated",
        "enrollment.created",
        "enrollment.removed",
        "item.completed",
        "course.completed",
        "quiz.attempt.submitted",
        "quiz.attempt.graded",
        "assignment.submitted",
        "assignment.graded",
    ];
    let seen: BTreeSet<&str> = by_type.keys().map(String::as_str).collect();
    assert_eq!(seen, expected.into_iter().collect(), "event types emitted");
    for (event_type, events) in &by_type {
        let validator = envelope_validator(&document, event_type);
        let fields = declared_fields(&document, event_type);
        for event in events {
            let errors: Vec<String> = validator
                .iter_errors(event)
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{event_type}: {errors:?} in {event}");
            let keys: BTreeSet<String> = event["data"]
                .as_object()
                .expect("data")
                .keys()
                .cloned()
                .collect();
            assert_eq!(
                keys, fields,
                "{event_type}: data fields differ from the schema: {event}"
            );
            assert_eq!(event["tenant_id"], acme.id.as_str());
        }
    }
    // The learner's own events name the learner.
    assert_eq!(
        by_type["user.deactivated"][0]["data"]["user_id"],
        acme.learner.id.as_str()
    );
    assert_eq!(
        by_type["quiz.attempt.graded"][0]["data"]["attempt_id"],
        quiz.attempt.to_string()
    );
    assert_eq!(by_type["quiz.attempt.graded"][0]["data"]["passed"], true);
    assert_eq!(by_type["assignment.graded"][0]["data"]["released"], true);
    // A repeated completion is not a second event.
    assert_eq!(
        by_type["item.completed"].len(),
        2,
        "the quiz item and the assignment item"
    );

    // One event, by id; the type filter; only tenant admins read them.
    let id = by_type["enrollment.removed"][0]["id"].as_str().expect("id");
    let one = app
        .get(&format!("/api/v1/events/{id}"))
        .tenant("acme")
        .bearer(&acme.admin.access_token)
        .send()
        .await;
    one.assert_status(StatusCode::OK);
    assert_eq!(one.json()["type"], "enrollment.removed");
    let filtered = app
        .get("/api/v1/events?type=course.completed")
        .tenant("acme")
        .bearer(&acme.admin.access_token)
        .send()
        .await;
    let items = filtered.json()["items"].as_array().cloned().expect("items");
    assert!(!items.is_empty() && items.iter().all(|e| e["type"] == "course.completed"));
    let (_, other) = (0, app.seed_tenant("other").await);
    app.get("/api/v1/events")
        .tenant("other")
        .bearer(&other.learner.access_token)
        .send()
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
}
