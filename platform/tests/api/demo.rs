//! The `--demo` seed: the demo tenant's users and courses, a learner half-way through the first
//! course, and a second run that changes nothing.

use lms_platform::demo;
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp};

#[tokio::test]
async fn the_demo_seed_publishes_courses_and_leaves_a_learner_half_way() {
    let app = TestApp::spawn_seeded(
        |_| {},
        |state| async move {
            let password = SecretString::from(PASSWORD);
            demo::seed(&state, &password).await.expect("first seed");
            // Idempotent: the next start finds everything in place.
            demo::seed(&state, &password).await.expect("second seed");
        },
    )
    .await;
    let login = app
        .post("/api/v1/auth/login")
        .tenant(demo::SLUG)
        .json(json!({ "email": "learner1@demo.example", "password": PASSWORD }))
        .send()
        .await;
    login.assert_status(StatusCode::OK);
    let token = login.json()["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();

    let catalog = app
        .get("/api/v1/catalog")
        .tenant(demo::SLUG)
        .bearer(&token)
        .send()
        .await;
    catalog.assert_status(StatusCode::OK);
    assert_eq!(catalog.json()["items"].as_array().expect("items").len(), 3);

    let mine = app
        .get("/api/v1/me/enrollments")
        .tenant(demo::SLUG)
        .bearer(&token)
        .send()
        .await;
    mine.assert_status(StatusCode::OK);
    let items = mine.json()["items"].as_array().expect("items").clone();
    assert_eq!(items.len(), 3);
    let security = items
        .iter()
        .find(|e| e["course_slug"] == "web-security-fundamentals")
        .expect("the first course");
    assert_eq!(security["progress"]["percent"], 50);
    assert!(security["continue_item"]["item_id"].is_string());
    assert!(
        items
            .iter()
            .filter(|e| e["course_slug"] != "web-security-fundamentals")
            .all(|e| e["progress"]["percent"] == 0)
    );

    // Every item kind is there.
    let course = security["course_id"].as_str().expect("course id");
    let view = app
        .get(&format!("/api/v1/courses/{course}/progress/me"))
        .tenant(demo::SLUG)
        .bearer(&token)
        .send()
        .await;
    view.assert_status(StatusCode::OK);
    let mut kinds: Vec<String> = Vec::new();
    for module in view.json()["modules"].as_array().expect("modules") {
        for item in module["items"].as_array().expect("items") {
            kinds.push(item["kind"].as_str().expect("kind").to_owned());
        }
    }
    kinds.sort();
    kinds.dedup();
    assert_eq!(
        kinds,
        [
            "assignment",
            "document",
            "external_link",
            "quiz",
            "text",
            "video"
        ]
    );
}
