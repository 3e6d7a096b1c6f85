//! The `--demo` seed: the demo tenant's users and courses, a learner half-way through the first
//! course, a quiz with every question kind and a graded attempt, the Web Security quiz that opens
//! the sequential course's lab, assignments with rubrics and a graded submission, and a second
//! run that changes nothing.

use lms_platform::demo;
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, form, paths};

async fn sign_in(app: &TestApp, email: &str) -> String {
    let login = app.login(demo::SLUG, email, PASSWORD).await;
    login.assert_status(StatusCode::OK);
    login.json()["access_token"]
        .as_str()
        .expect("access token")
        .to_owned()
}

async fn seeded_twice() -> TestApp {
    TestApp::spawn_seeded(
        |_| {},
        |state| async move {
            let password = SecretString::from(PASSWORD);
            demo::seed(&state, &password).await.expect("first seed");
            // Idempotent: the next start finds everything in place.
            demo::seed(&state, &password).await.expect("second seed");
        },
    )
    .await
}

/// The course's id and the id of its item of that kind and title, as the learner's outline
/// shows them.
async fn course_item(
    app: &TestApp,
    token: &str,
    course_slug: &str,
    kind: &str,
    title: &str,
) -> (String, String) {
    let mine = app
        .get("/api/v1/me/enrollments")
        .tenant(demo::SLUG)
        .bearer(token)
        .send()
        .await;
    mine.assert_status(StatusCode::OK);
    let course = mine.json()["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|e| e["course_slug"] == course_slug)
        .expect("the course")["course_id"]
        .as_str()
        .expect("course id")
        .to_owned();
    let outline = app
        .get(&paths::my_progress(&course))
        .tenant(demo::SLUG)
        .bearer(token)
        .send()
        .await;
    outline.assert_status(StatusCode::OK);
    let item = outline.json()["modules"]
        .as_array()
        .expect("modules")
        .iter()
        .flat_map(|m| m["items"].as_array().expect("items").clone())
        .find(|i| i["kind"] == kind && i["title"] == title)
        .expect("the item")["id"]
        .as_str()
        .expect("item id")
        .to_owned();
    (course, item)
}

/// The Python course's id and its quiz item's id.
async fn python_quiz(app: &TestApp, token: &str) -> (String, String) {
    course_item(
        app,
        token,
        "python-for-data-analysis",
        "quiz",
        "Cleaning quiz",
    )
    .await
}

const EVERY_KIND: [&str; 10] = [
    "essay",
    "fill_in_blanks",
    "matching",
    "multiple_response",
    "numeric",
    "ordering",
    "plugin",
    "short_answer",
    "single_choice",
    "true_false",
];

fn kinds(attempt: &Value) -> Vec<String> {
    let mut kinds: Vec<String> = attempt["questions"]
        .as_array()
        .expect("questions")
        .iter()
        .map(|q| q["presentation"]["type"].as_str().expect("kind").to_owned())
        .collect();
    kinds.sort();
    kinds.dedup();
    kinds
}

#[tokio::test]
async fn the_demo_seed_publishes_courses_and_leaves_a_learner_half_way() {
    let app = seeded_twice().await;
    let token = sign_in(&app, "learner1@demo.example").await;

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
    let percent = |slug: &str| {
        items
            .iter()
            .find(|e| e["course_slug"] == slug)
            .expect("enrolled")["progress"]["percent"]
            .clone()
    };
    // The released, passing grade of the team charter completed its item, and the learner
    // studied the rest: the course is complete, and its certificate theirs.
    assert_eq!(percent("leading-remote-teams"), 100);
    let certificates = app
        .get("/api/v1/me/certificates")
        .tenant(demo::SLUG)
        .bearer(&token)
        .send()
        .await;
    certificates.assert_status(StatusCode::OK);
    let held = certificates.json()["items"]
        .as_array()
        .expect("items")
        .clone();
    assert_eq!(held.len(), 1, "one certificate after two seeds: {held:?}");
    assert_eq!(held[0]["course_title"], "Leading Remote Teams");
    assert_eq!(held[0]["source"], "automatic");
    assert_eq!(held[0]["status"], "valid");
    // Passing the Cleaning quiz completed its item, and only that one.
    assert_eq!(percent("python-for-data-analysis"), 25);

    // Every item kind is there.
    let course = security["course_id"].as_str().expect("course id");
    let view = app
        .get(&paths::my_progress(course))
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

#[tokio::test]
async fn the_demo_quiz_asks_every_kind_and_the_first_learner_has_a_graded_attempt() {
    let app = seeded_twice().await;
    let lea = sign_in(&app, "learner1@demo.example").await;
    let (course, item) = python_quiz(&app, &lea).await;

    // The first learner's attempt: answered, submitted and graded, the essay by the instructor.
    let mine = app
        .get(&paths::quiz_attempts(&course, &item))
        .tenant(demo::SLUG)
        .bearer(&lea)
        .send()
        .await;
    mine.assert_status(StatusCode::OK);
    let mine = mine.json();
    let attempts = mine["attempts"].as_array().expect("attempts");
    assert_eq!(
        attempts.len(),
        1,
        "the second seed added no attempt: {mine}"
    );
    assert_eq!(attempts[0]["status"], "graded", "{mine}");
    assert_eq!(mine["passed"], true, "{mine}");
    let percent = mine["score_percent"].as_f64().expect("score");
    assert!((70.0..100.0).contains(&percent), "mostly right: {mine}");
    let id = attempts[0]["id"].as_str().expect("attempt id");
    let attempt = app
        .get(&paths::attempt(id))
        .tenant(demo::SLUG)
        .bearer(&lea)
        .send()
        .await;
    attempt.assert_status(StatusCode::OK);
    let attempt = attempt.json();
    assert_eq!(kinds(&attempt), EVERY_KIND, "{attempt}");
    let result = |kind: &str| {
        attempt["questions"]
            .as_array()
            .expect("questions")
            .iter()
            .find(|q| q["presentation"]["type"] == kind)
            .expect("asked")["result"]
            .clone()
    };
    let essay = result("essay");
    assert_eq!(essay["grading"], "manual", "{essay}");
    assert!(essay["feedback"]["comment"].is_string(), "{essay}");
    let lab = result("plugin");
    assert_eq!(lab["grading"], "auto", "graded by lab-flag-grader: {lab}");
    assert_eq!(lab["feedback"]["plugin"], "lab-flag-grader", "{lab}");
    assert_eq!(lab["awarded"], 1.33, "two of three flags: {lab}");
    let partial = result("multiple_response");
    assert_eq!(partial["awarded"], 1.33, "partial credit: {partial}");

    // The second learner can take the quiz: every kind, no answer key.
    let leo = sign_in(&app, "learner2@demo.example").await;
    let started = app
        .post(&paths::quiz_attempts(&course, &item))
        .tenant(demo::SLUG)
        .bearer(&leo)
        .send()
        .await;
    started.assert_status(StatusCode::CREATED);
    let started = started.json();
    assert_eq!(kinds(&started), EVERY_KIND, "{started}");
    assert_eq!(
        started["questions"].as_array().expect("questions").len(),
        11,
        "one of each kind after a warm-up drawn at random: {started}"
    );
    let shown = started.to_string();
    assert!(
        !shown.contains("totals-complete") && !shown.contains("sha256"),
        "the lab's flags stay hidden: {started}"
    );

    // Seeding twice made one bank, its categories and questions once.
    let ivan = sign_in(&app, "instructor@demo.example").await;
    let banks = app
        .get(&format!("/api/v1/question-banks?course_id={course}"))
        .tenant(demo::SLUG)
        .bearer(&ivan)
        .send()
        .await;
    banks.assert_status(StatusCode::OK);
    let banks = banks.json();
    let banks = banks["items"].as_array().expect("banks");
    assert_eq!(banks.len(), 1, "{banks:?}");
    assert_eq!(banks[0]["question_count"], 13, "{banks:?}");
    let mut categories: Vec<&str> = banks[0]["categories"]
        .as_array()
        .expect("categories")
        .iter()
        .map(|c| c["name"].as_str().expect("name"))
        .collect();
    categories.sort_unstable();
    assert_eq!(
        categories,
        [
            "Duplicates and outliers",
            "Missing values",
            "Types and parsing",
            "Warm-up"
        ]
    );
    let quiz = app
        .get(&paths::quiz(&course, &item))
        .tenant(demo::SLUG)
        .bearer(&ivan)
        .send()
        .await;
    quiz.assert_status(StatusCode::OK);
    assert_eq!(quiz.json()["questions"].as_array().map(Vec::len), Some(11));
}

#[tokio::test]
async fn without_the_grader_built_the_demo_quiz_leaves_out_only_its_lab_question() {
    let app = TestApp::spawn_seeded(
        |config| config.plugins.artifacts_dir = None,
        |state| async move {
            let password = SecretString::from(PASSWORD);
            demo::seed(&state, &password).await.expect("seed");
        },
    )
    .await;
    let leo = sign_in(&app, "learner2@demo.example").await;
    let (course, item) = python_quiz(&app, &leo).await;
    let started = app
        .post(&paths::quiz_attempts(&course, &item))
        .tenant(demo::SLUG)
        .bearer(&leo)
        .send()
        .await;
    started.assert_status(StatusCode::CREATED);
    let started = started.json();
    let expected: Vec<&str> = EVERY_KIND.into_iter().filter(|k| *k != "plugin").collect();
    assert_eq!(kinds(&started), expected, "{started}");
    let lea = sign_in(&app, "learner1@demo.example").await;
    let mine = app
        .get(&paths::quiz_attempts(&course, &item))
        .tenant(demo::SLUG)
        .bearer(&lea)
        .send()
        .await;
    mine.assert_status(StatusCode::OK);
    assert_eq!(mine.json()["attempts"][0]["status"], "graded");
}

#[tokio::test]
async fn once_the_grader_is_built_the_next_run_adds_the_lab_question_to_the_quiz() {
    let app = TestApp::spawn_seeded(
        |config| config.plugins.artifacts_dir = None,
        |state| async move {
            let password = SecretString::from(PASSWORD);
            demo::seed(&state, &password)
                .await
                .expect("seed without the grader");
            let artifacts = std::env::var_os("LMS_PLUGIN_ARTIFACTS").expect(
                "LMS_PLUGIN_ARTIFACTS is unset: run `cargo xtask test`, or build the plugins",
            );
            let registered = lms_platform::plugins::register_catalog(
                &state.operator_db,
                Some(std::path::Path::new(&artifacts)),
            )
            .await
            .expect("catalog");
            assert!(registered.iter().any(|p| p == "lab-flag-grader"));
            demo::seed(&state, &password)
                .await
                .expect("seed with the grader");
        },
    )
    .await;
    let leo = sign_in(&app, "learner2@demo.example").await;
    let (course, item) = python_quiz(&app, &leo).await;
    let started = app
        .post(&paths::quiz_attempts(&course, &item))
        .tenant(demo::SLUG)
        .bearer(&leo)
        .send()
        .await;
    started.assert_status(StatusCode::CREATED);
    let started = started.json();
    assert_eq!(kinds(&started), EVERY_KIND, "{started}");
    assert_eq!(started["questions"].as_array().map(Vec::len), Some(11));
    // The first learner keeps the one attempt they had.
    let lea = sign_in(&app, "learner1@demo.example").await;
    let mine = app
        .get(&paths::quiz_attempts(&course, &item))
        .tenant(demo::SLUG)
        .bearer(&lea)
        .send()
        .await;
    mine.assert_status(StatusCode::OK);
    assert_eq!(mine.json()["attempts"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn the_demo_assignments_have_rubrics_and_the_first_learner_a_graded_submission() {
    let app = seeded_twice().await;
    let lea = sign_in(&app, "learner1@demo.example").await;
    let (course, item) = course_item(
        &app,
        &lea,
        "leading-remote-teams",
        "assignment",
        "Draft your team charter",
    )
    .await;
    let submissions = paths::submissions(&course, &item);

    // The first learner's submission: text and a file, graded with the rubric and released.
    let mine = app
        .get(&submissions)
        .tenant(demo::SLUG)
        .bearer(&lea)
        .send()
        .await;
    mine.assert_status(StatusCode::OK);
    let mine = mine.json();
    let rubric = mine["assignment"]["rubric"]["criteria"]
        .as_array()
        .expect("a rubric");
    assert_eq!(rubric.len(), 3, "{mine}");
    assert!(
        rubric
            .iter()
            .all(|c| (3..=4).contains(&c["levels"].as_array().map_or(0, Vec::len))),
        "{mine}"
    );
    assert_eq!(mine["assignment"]["points"], 10.0, "{mine}");
    assert_eq!(mine["assignment"]["late_policy"], "penalty", "{mine}");
    assert!(mine["assignment"]["due_at"].is_string(), "{mine}");
    let list = mine["submissions"].as_array().expect("submissions");
    assert_eq!(list.len(), 1, "the second seed added no submission: {mine}");
    let submission = &list[0];
    assert_eq!(submission["status"], "graded", "{mine}");
    assert!(
        submission["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("# Team charter")),
        "{mine}"
    );
    assert_eq!(
        submission["files"][0]["file_name"], "time-zones.md",
        "{mine}"
    );
    let grade = &submission["grade"];
    assert!(grade["released_at"].is_string(), "released: {mine}");
    assert_eq!(grade["score"], 8.0, "{mine}");
    assert_eq!(grade["rubric"].as_array().map(Vec::len), Some(3), "{mine}");
    assert!(grade["feedback"].is_string(), "{mine}");
    let comments = grade["inline_comments"].as_array().expect("comments");
    assert!(!comments.is_empty(), "{mine}");
    assert_eq!(comments[0]["anchor"]["type"], "text", "{mine}");
    assert_eq!(mine["score_percent"], 80.0, "{mine}");
    assert_eq!(mine["passed"], true, "{mine}");

    // The gradebook shows it.
    let grades = app
        .get(&format!("/api/v1/courses/{course}/gradebook/me"))
        .tenant(demo::SLUG)
        .bearer(&lea)
        .send()
        .await;
    grades.assert_status(StatusCode::OK);
    let grades = grades.json();
    let score = grades["scores"]
        .as_array()
        .expect("scores")
        .iter()
        .find(|s| s["item_id"] == item.as_str())
        .expect("the charter's score");
    assert_eq!(score["percent"], 80.0, "{grades}");
    assert_eq!(score["released"], true, "{grades}");

    // The second learner can submit.
    let leo = sign_in(&app, "learner2@demo.example").await;
    let (content_type, body) = form(&[(
        "text",
        None,
        b"# Our charter\n\nCore hours 13:00-15:00 UTC.",
    )]);
    let submitted = app
        .post(&submissions)
        .tenant(demo::SLUG)
        .bearer(&leo)
        .raw(Some(&content_type), body)
        .send()
        .await;
    submitted.assert_status(StatusCode::CREATED);

    // The capture-the-flag lab is configured too, with its rubric for learners to see.
    let (course, item) = course_item(
        &app,
        &lea,
        "web-security-fundamentals",
        "assignment",
        "Capture the flag: find the injection",
    )
    .await;
    let lab = app
        .get(&paths::assignment(&course, &item))
        .tenant(demo::SLUG)
        .bearer(&lea)
        .send()
        .await;
    lab.assert_status(StatusCode::OK);
    let lab = lab.json();
    assert_eq!(
        lab["rubric"]["criteria"].as_array().map(Vec::len),
        Some(3),
        "{lab}"
    );
    assert_eq!(lab["accepts_files"], true, "{lab}");
    assert_eq!(lab["late_penalty_percent"], 10.0, "{lab}");
}

/// The right answer to each question of "Check your understanding", by kind (one of each).
fn web_security_answer(kind: &str) -> Value {
    match kind {
        "single_choice" => json!({ "option": "a" }),
        "multiple_response" => json!({ "options": ["a", "b"] }),
        "true_false" => json!({ "value": false }),
        "short_answer" => json!({ "text": "argon2id" }),
        "matching" => json!({ "pairs": {
            "hsts": "c2", "csp": "c4", "nosniff": "c1", "frames": "c5"
        } }),
        "fill_in_blanks" => json!({ "blanks": {
            "transport": "Secure", "script": "HttpOnly", "site": "Strict"
        } }),
        other => panic!("the Web Security quiz asks no {other} question"),
    }
}

#[tokio::test]
async fn passing_the_web_security_quiz_opens_the_capture_the_flag_lab() {
    let app = seeded_twice().await;
    let leo = sign_in(&app, "learner2@demo.example").await;
    let slug = "web-security-fundamentals";
    let (course, quiz) = course_item(&app, &leo, slug, "quiz", "Check your understanding").await;
    let (_, lab) = course_item(
        &app,
        &leo,
        slug,
        "assignment",
        "Capture the flag: find the injection",
    )
    .await;
    let submit_lab = || async {
        let (content_type, body) = form(&[(
            "text",
            None,
            b"The `q` parameter is injectable: `' OR 1=1 --` lists every product.",
        )]);
        app.post(&paths::submissions(&course, &lab))
            .tenant(demo::SLUG)
            .bearer(&leo)
            .raw(Some(&content_type), body)
            .send()
            .await
    };
    submit_lab()
        .await
        .assert_problem(StatusCode::CONFLICT, "module_locked");

    // The learner studies the required items before the quiz, module by module.
    let outline = app
        .get(&paths::my_progress(&course))
        .tenant(demo::SLUG)
        .bearer(&leo)
        .send()
        .await;
    outline.assert_status(StatusCode::OK);
    let outline = outline.json();
    let studied: Vec<String> = outline["modules"]
        .as_array()
        .expect("modules")
        .iter()
        .take_while(|m| {
            !m["items"]
                .as_array()
                .expect("items")
                .iter()
                .any(|i| i["id"] == lab.as_str())
        })
        .flat_map(|m| m["items"].as_array().expect("items").clone())
        .filter(|i| i["required"] == true && i["kind"] != "quiz" && i["kind"] != "assignment")
        .map(|i| i["id"].as_str().expect("item id").to_owned())
        .collect();
    assert_eq!(
        studied.len(),
        4,
        "three items of module 1, one of module 2: {outline}"
    );
    for item in &studied {
        app.call(Method::PUT, &paths::item_progress(&course, item))
            .tenant(demo::SLUG)
            .bearer(&leo)
            .json(json!({ "complete": true }))
            .send()
            .await
            .assert_status(StatusCode::OK);
    }
    // The quiz still stands in the way.
    submit_lab()
        .await
        .assert_problem(StatusCode::CONFLICT, "module_locked");

    // The quiz is configured: one objective question of each of six kinds.
    let started = app
        .post(&paths::quiz_attempts(&course, &quiz))
        .tenant(demo::SLUG)
        .bearer(&leo)
        .send()
        .await;
    started.assert_status(StatusCode::CREATED);
    let started = started.json();
    assert_eq!(
        kinds(&started),
        [
            "fill_in_blanks",
            "matching",
            "multiple_response",
            "short_answer",
            "single_choice",
            "true_false"
        ],
        "{started}"
    );
    let questions = started["questions"].as_array().expect("questions");
    assert_eq!(questions.len(), 6, "{started}");
    assert!(
        started["seconds_left"]
            .as_i64()
            .is_some_and(|s| s <= 15 * 60),
        "{started}"
    );
    let attempt = started["id"].as_str().expect("attempt id");
    for question in questions {
        let kind = question["presentation"]["type"].as_str().expect("kind");
        let position = &question["position"];
        app.call(Method::PUT, &paths::answer(attempt, position))
            .tenant(demo::SLUG)
            .bearer(&leo)
            .json(json!({ "answer": web_security_answer(kind) }))
            .send()
            .await
            .assert_status(StatusCode::OK);
    }
    let submitted = app
        .post(&paths::attempt_submit(attempt))
        .tenant(demo::SLUG)
        .bearer(&leo)
        .send()
        .await;
    submitted.assert_status(StatusCode::OK);
    let submitted = submitted.json();
    assert_eq!(submitted["status"], "graded", "{submitted}");
    assert_eq!(
        submitted["percent"], 100.0,
        "every answer right: {submitted}"
    );
    assert_eq!(submitted["passed"], true, "{submitted}");
    assert!(
        submitted["questions"][0]["result"]["correct_answer"].is_object(),
        "correct answers after submission: {submitted}"
    );
    let mine = app
        .get(&paths::quiz_attempts(&course, &quiz))
        .tenant(demo::SLUG)
        .bearer(&leo)
        .send()
        .await;
    mine.assert_status(StatusCode::OK);
    let mine = mine.json();
    assert_eq!(mine["passed"], true, "{mine}");
    assert_eq!(mine["quiz"]["passing_percent"], 60.0, "{mine}");
    assert_eq!(mine["quiz"]["time_limit_seconds"], 15 * 60, "{mine}");
    assert!(
        mine["attempts_left"].is_null(),
        "unlimited attempts: {mine}"
    );

    // Passing it opened the last module: the lab takes the learner's report.
    submit_lab().await.assert_status(StatusCode::CREATED);

    // Seeding twice made the course's bank and its questions once.
    let ivan = sign_in(&app, "instructor@demo.example").await;
    let banks = app
        .get(&format!("/api/v1/question-banks?course_id={course}"))
        .tenant(demo::SLUG)
        .bearer(&ivan)
        .send()
        .await;
    banks.assert_status(StatusCode::OK);
    let banks = banks.json();
    let banks = banks["items"].as_array().expect("banks");
    assert_eq!(banks.len(), 1, "{banks:?}");
    assert_eq!(banks[0]["title"], "Web security basics", "{banks:?}");
    assert_eq!(banks[0]["question_count"], 6, "{banks:?}");
    let configured = app
        .get(&paths::quiz(&course, &quiz))
        .tenant(demo::SLUG)
        .bearer(&ivan)
        .send()
        .await;
    configured.assert_status(StatusCode::OK);
    assert_eq!(
        configured.json()["questions"].as_array().map(Vec::len),
        Some(6)
    );
}
