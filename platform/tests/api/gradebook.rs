//! The gradebook: quiz and assignment scores per learner, weighting by assessment and by
//! category, held-back grades, the learner's own view and the CSV export.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{CourseItems, School, paths};

#[tokio::test]
async fn the_gradebook_weights_scores_hides_held_back_grades_and_exports_csv() {
    let c = School::new().await;
    let CourseItems { course, items } = c
        .published_items(
            "graded",
            &[("quiz", "Checkpoint"), ("assignment", "Project")],
        )
        .await;
    let (quiz, project) = (&items[0], &items[1]);
    let bank = c
        .teaching()
        .create_bank(json!({ "course_id": course, "title": "Bank" }))
        .await;
    let question = c
        .teaching()
        .add_question(
            &bank,
            json!({ "prompt": "Water is wet", "points": 1,
                    "spec": { "type": "true_false", "correct": true } }),
        )
        .await;
    c.quiz(
        &course,
        quiz,
        json!({ "questions": [{ "question_id": question }] }),
    )
    .await;
    c.assignment(&course, project, json!({ "points": 40 }))
        .await
        .assert_status(StatusCode::OK);
    let lea = c.enrolled("lea", &course).await;
    let leo = c.enrolled("leo", &course).await;

    // Lea: the quiz right (100%), the project 24 of 40 (60%), not released yet.
    let attempt = c
        .ok(
            Method::POST,
            &paths::quiz_attempts(&course, quiz),
            &lea,
            None,
        )
        .await["id"]
        .as_str()
        .expect("attempt")
        .to_owned();
    c.ok(
        Method::PUT,
        &format!("/api/v1/quiz-attempts/{attempt}/answers/0"),
        &lea,
        Some(json!({ "answer": { "value": true } })),
    )
    .await;
    c.ok(Method::POST, &paths::attempt_submit(&attempt), &lea, None)
        .await;
    let submitted = c
        .submit_assignment(&course, project, &lea, &[("text", None, b"my project")])
        .await;
    submitted.assert_status(StatusCode::CREATED);
    let submission = submitted.json()["id"].as_str().expect("id").to_owned();
    c.grade(&submission, json!({ "points": 24 }))
        .await
        .assert_status(StatusCode::OK);

    // Staff see the held-back grade; by default every assessment weighs 1.
    let book = c
        .ok(Method::GET, &paths::gradebook(&course), &c.teacher, None)
        .await;
    let columns: Vec<&str> = book["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c["title"].as_str().expect("title"))
        .collect();
    assert_eq!(columns, ["Checkpoint", "Project"]);
    let row = book["items"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["user_id"] == lea.id)
        .expect("lea's row")
        .clone();
    assert_eq!(row["scores"][0]["percent"], 100.0);
    assert_eq!(row["scores"][1]["percent"], 60.0);
    assert_eq!(row["scores"][1]["released"], false);
    assert_eq!(row["grade"]["current_percent"], 80.0);
    let leo_row = book["items"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["user_id"] == leo.id)
        .expect("leo's row")
        .clone();
    assert_eq!(leo_row["grade"]["current_percent"], serde_json::Value::Null);
    assert_eq!(leo_row["grade"]["final_percent"], 0.0);

    // Lea sees only the quiz until the project's grades are released.
    let me = format!("/api/v1/courses/{course}/gradebook/me");
    let mine = c.ok(Method::GET, &me, &lea, None).await;
    assert_eq!(mine["scores"][1]["percent"], serde_json::Value::Null);
    assert_eq!(mine["grade"]["current_percent"], 100.0);
    assert_eq!(mine["grade"]["final_percent"], 50.0);
    c.ok(
        Method::POST,
        &paths::release(&course, project),
        &c.teacher,
        None,
    )
    .await;

    // Weighted by assessment: (100*1 + 60*3) / 4 = 70.
    let settings = paths::gradebook_settings(&course);
    c.ok(
        Method::PUT,
        &settings,
        &c.teacher,
        Some(json!({ "items": [{ "item_id": project, "weight": 3 }] })),
    )
    .await;
    let mine = c.ok(Method::GET, &me, &lea, None).await;
    assert_eq!(mine["grade"]["current_percent"], 70.0);

    // By category: Quizzes 25, Projects 75: (100*25 + 60*75) / 100 = 70; then 50/50: 80.
    let by_category = |quizzes: f64, projects: f64| {
        json!({ "weighting": "category",
                "categories": [{ "name": "Quizzes", "weight": quizzes },
                               { "name": "Projects", "weight": projects }],
                "items": [{ "item_id": quiz, "category": "quizzes" },
                          { "item_id": project, "category": "Projects", "weight": 3 }] })
    };
    let saved = c
        .ok(
            Method::PUT,
            &settings,
            &c.teacher,
            Some(by_category(25.0, 75.0)),
        )
        .await;
    assert_eq!(saved["columns"][0]["category"], "Quizzes");
    assert_eq!(
        c.ok(Method::GET, &me, &lea, None).await["grade"]["current_percent"],
        70.0
    );
    c.ok(
        Method::PUT,
        &settings,
        &c.teacher,
        Some(by_category(50.0, 50.0)),
    )
    .await;
    assert_eq!(
        c.ok(Method::GET, &me, &lea, None).await["grade"]["current_percent"],
        80.0
    );

    // Bad settings: unknown item, unknown category, category weighting without categories.
    let bad = c
        .send(
            Method::PUT,
            &settings,
            &c.teacher,
            Some(json!({ "items": [{ "item_id": course }, { "item_id": quiz, "category": "Nope" }] })),
        )
        .await;
    bad.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.text.contains("unknown_item") && bad.text.contains("unknown_category"),
        "{}",
        bad.text
    );
    c.send(
        Method::PUT,
        &settings,
        &c.teacher,
        Some(json!({ "weighting": "category" })),
    )
    .await
    .assert_status(StatusCode::UNPROCESSABLE_ENTITY);

    // The CSV has every learner, with the scores and the course grade.
    let csv = c
        .send(
            Method::GET,
            &format!("/api/v1/courses/{course}/gradebook.csv"),
            &c.teacher,
            None,
        )
        .await;
    csv.assert_status(StatusCode::OK);
    let mut lines = csv.text.lines();
    assert_eq!(
        lines.next(),
        Some(
            "user_id,display_name,email,status,Checkpoint (%),Project (%),current_grade_percent,final_grade_percent"
        )
    );
    let lea_line = csv
        .text
        .lines()
        .find(|l| l.starts_with(&lea.id))
        .expect("lea's line");
    // Both items passed: the course is complete.
    assert!(lea_line.ends_with(",completed,100,60,80,80"), "{lea_line}");
    assert_eq!(csv.text.lines().count(), 3);

    // Learners read neither the gradebook nor its settings; strangers not even their own.
    for path in [paths::gradebook(&course), settings.clone()] {
        c.send(Method::GET, &path, &lea, None)
            .await
            .assert_status(StatusCode::FORBIDDEN);
    }
    let stranger = c.learner("stranger").await;
    c.send(Method::GET, &me, &stranger, None)
        .await
        .assert_status(StatusCode::NOT_FOUND);
}
