//! Quizzes: question banks and versions, quiz settings, attempts (frozen questions, autosave,
//! deadlines, racing starts and submissions), grading by rule, by plugin and by hand, the
//! correct-answer policy, and completion of the quiz item.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{CourseItem, School, paths};

/// Distinctive answer-key strings that must never reach a learner before the policy allows.
const SECRET_OPTION: &str = "Correct-Option-Text-7f3a";
const SECRET_ACCEPTED: &str = "quokka-secret-answer";

fn single_choice() -> Value {
    json!({
        "type": "single_choice",
        "options": [
            { "id": "a", "text": SECRET_OPTION },
            { "id": "b", "text": "A wrong option" },
            { "id": "c", "text": "Another wrong option" }
        ],
        "correct": "a"
    })
}

fn short_answer() -> Value {
    json!({ "type": "short_answer", "accepted": [SECRET_ACCEPTED], "case_sensitive": false })
}

/// The correct answer to a presented question, found by its kind and texts.
fn correct_answer(question: &Value) -> Value {
    let presentation = &question["presentation"];
    match presentation["type"].as_str() {
        Some("single_choice") => {
            let option = presentation["options"]
                .as_array()
                .expect("options")
                .iter()
                .find(|o| o["text"] == SECRET_OPTION)
                .expect("the correct option is shown");
            json!({ "option": option["id"] })
        }
        Some("true_false") => json!({ "value": true }),
        Some("short_answer") => {
            json!({ "text": format!("  {}  ", SECRET_ACCEPTED.to_uppercase()) })
        }
        Some("essay") => json!({ "text": "A thoughtful essay." }),
        other => panic!("unexpected kind {other:?}: {question}"),
    }
}

#[tokio::test]
async fn a_quiz_is_taken_graded_by_rule_and_by_hand_and_completes_its_item() {
    let s = School::new().await;
    let CourseItem { course, item } = s.quiz_course("quiz-course").await;
    let bank = s.bank(&course).await;
    let choice = s.question(&bank, 2.0, single_choice()).await;
    let truth = s
        .question(&bank, 1.0, json!({ "type": "true_false", "correct": true }))
        .await;
    let short = s.question(&bank, 1.0, short_answer()).await;
    let essay = s
        .question(&bank, 4.0, json!({ "type": "essay", "max_words": 300 }))
        .await;
    let quiz = s
        .quiz(
            &course,
            &item,
            json!({
                "passing_percent": 60,
                "shuffle_options": true,
                "questions": [
                    { "question_id": choice },
                    { "question_id": truth },
                    { "question_id": short },
                    { "question_id": essay }
                ]
            }),
        )
        .await;
    assert_eq!(quiz["question_count"], 4, "{quiz}");
    s.publish(&course).await;
    let learner = s.enrolled("ada", &course).await;

    // A learner reads the quiz without its question list; a report cannot complete it.
    let seen = s
        .ok(Method::GET, &paths::quiz(&course, &item), &learner, None)
        .await;
    assert!(seen["questions"].is_null(), "{seen}");
    s.send(
        Method::PUT,
        &paths::item_progress(&course, &item),
        &learner,
        Some(json!({ "complete": true })),
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "completed_by_assessment");

    let started = s.start_attempt(&course, &item, &learner).await;
    started.assert_status(StatusCode::CREATED);
    for secret in [SECRET_ACCEPTED, "\"correct\"", "\"accepted\""] {
        assert!(
            !started.text.contains(secret),
            "{secret} leaked: {}",
            started.text
        );
    }
    let attempt = started.json();
    let id = attempt["id"].as_str().expect("attempt id").to_owned();
    assert_eq!(attempt["max_score"], 8.0);
    // Starting again answers the open attempt.
    let again = s.start_attempt(&course, &item, &learner).await;
    again.assert_status(StatusCode::OK);
    assert_eq!(again.json()["id"], id.as_str());

    // Answers of the wrong shape are refused; saving again replaces the answer.
    s.answer(&id, 0, &learner, json!({ "option": "zz" }))
        .await
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    s.answer(&id, 9, &learner, json!({ "value": true }))
        .await
        .assert_status(StatusCode::NOT_FOUND);
    let questions = attempt["questions"].as_array().expect("questions").clone();
    for q in &questions {
        let position = q["position"].as_i64().expect("position");
        if q["presentation"]["type"] == "true_false" {
            s.answer(&id, position, &learner, json!({ "value": false }))
                .await
                .assert_status(StatusCode::OK);
        }
        let saved = s.answer(&id, position, &learner, correct_answer(q)).await;
        saved.assert_status(StatusCode::OK);
        assert!(saved.json()["result"].is_null(), "{}", saved.text);
    }
    // A refused answer leaves the saved one as it was.
    let first = &questions[0];
    let first_position = first["position"].as_i64().expect("position");
    s.answer(&id, first_position, &learner, json!({ "bogus": 1 }))
        .await
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let reread = s
        .ok(Method::GET, &paths::attempt(&id), &learner, None)
        .await;
    let kept = reread["questions"]
        .as_array()
        .expect("questions")
        .iter()
        .find(|q| q["position"] == first_position)
        .expect("the first question");
    assert_eq!(kept["answer"], correct_answer(first), "{reread}");
    // Another learner cannot see or answer it.
    let other = s.enrolled("bob", &course).await;
    s.send(Method::GET, &paths::attempt(&id), &other, None)
        .await
        .assert_status(StatusCode::NOT_FOUND);
    s.answer(&id, 0, &other, json!({ "value": true }))
        .await
        .assert_status(StatusCode::NOT_FOUND);

    let submitted = s.submit_attempt(&id, &learner).await;
    submitted.assert_status(StatusCode::OK);
    let submitted = submitted.json();
    // The essay waits for a person; everything else is graded and correct.
    assert_eq!(submitted["status"], "submitted", "{submitted}");
    for q in submitted["questions"].as_array().expect("questions") {
        let result = &q["result"];
        if q["presentation"]["type"] == "essay" {
            assert_eq!(result["grading"], "review", "{q}");
            assert!(result["awarded"].is_null());
        } else {
            assert_eq!(result["grading"], "auto", "{q}");
            assert_eq!(result["awarded"], q["points"], "{q}");
        }
    }
    let essay_position = submitted["questions"]
        .as_array()
        .expect("questions")
        .iter()
        .find(|q| q["presentation"]["type"] == "essay")
        .and_then(|q| q["position"].as_i64())
        .expect("essay");
    // Answers after submission are refused.
    s.answer(&id, 0, &learner, json!({ "value": true }))
        .await
        .assert_problem(StatusCode::CONFLICT, "attempt_closed");

    // The essay is in the teacher's queue; a learner has no queue and cannot grade.
    let queue = s
        .ok(Method::GET, "/api/v1/grading-queue", &s.teacher, None)
        .await;
    assert_eq!(queue["items"][0]["attempt_id"], id.as_str(), "{queue}");
    assert_eq!(queue["items"][0]["answers"][0]["position"], essay_position);
    s.send(Method::GET, "/api/v1/grading-queue", &learner, None)
        .await
        .assert_status(StatusCode::FORBIDDEN);
    let grade_path = format!("/api/v1/quiz-attempts/{id}/answers/{essay_position}/grade");
    s.send(
        Method::POST,
        &grade_path,
        &learner,
        Some(json!({ "points": 4 })),
    )
    .await
    .assert_status(StatusCode::FORBIDDEN);
    s.send(
        Method::POST,
        &grade_path,
        &s.teacher,
        Some(json!({ "points": 4.5 })),
    )
    .await
    .assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let graded = s
        .ok(
            Method::POST,
            &grade_path,
            &s.teacher,
            Some(json!({ "points": 1, "comment": "Too short." })),
        )
        .await;
    assert_eq!(graded["status"], "graded", "{graded}");
    assert_eq!(graded["score"], 5.0);
    assert_eq!(graded["percent"], 62.5);
    assert_eq!(graded["passed"], true);
    let queue = s
        .ok(Method::GET, "/api/v1/grading-queue", &s.teacher, None)
        .await;
    assert_eq!(queue["items"], json!([]), "{queue}");

    // Passing completed the quiz item and so the course (its only required item).
    let progress = s
        .ok(Method::GET, &paths::my_progress(&course), &learner, None)
        .await;
    assert!(
        !progress["modules"][0]["items"][0]["progress"]["completed_at"].is_null(),
        "{progress}"
    );
    assert_eq!(progress["status"], "completed", "{progress}");
    let mine = s
        .ok(
            Method::GET,
            &paths::quiz_attempts(&course, &item),
            &learner,
            None,
        )
        .await;
    assert_eq!(mine["passed"], true, "{mine}");
    assert_eq!(mine["score_percent"], 62.5);
    assert!(mine["attempts_left"].is_null());
}

#[tokio::test]
async fn correct_answers_stay_hidden_until_the_quiz_allows_them() {
    let s = School::new().await;
    let CourseItem { course, item } = s.quiz_course("policy").await;
    let bank = s.bank(&course).await;
    let choice = s.question(&bank, 1.0, single_choice()).await;
    let short = s.question(&bank, 1.0, short_answer()).await;
    s.quiz(
        &course,
        &item,
        json!({
            "passing_percent": 100,
            "show_correct_answers": "after_passing",
            "questions": [{ "question_id": choice }, { "question_id": short }]
        }),
    )
    .await;
    s.publish(&course).await;
    let learner = s.enrolled("ada", &course).await;

    // A failed attempt shows results but not the correct answers.
    let first = s.start_attempt(&course, &item, &learner).await.json();
    let id = first["id"].as_str().expect("id").to_owned();
    s.answer(&id, 0, &learner, json!({ "text": "wrong" }))
        .await
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let failed = s.submit_attempt(&id, &learner).await;
    failed.assert_status(StatusCode::OK);
    assert_eq!(failed.json()["passed"], false, "{}", failed.text);
    assert!(!failed.text.contains(SECRET_ACCEPTED), "{}", failed.text);
    for q in failed.json()["questions"].as_array().expect("questions") {
        assert!(q["result"]["correct_answer"].is_null(), "{q}");
        assert_eq!(q["result"]["awarded"], 0.0, "{q}");
    }

    // Passing reveals them, in this attempt and the earlier one.
    let second = s.start_attempt(&course, &item, &learner).await;
    second.assert_status(StatusCode::CREATED);
    let second = second.json();
    let id2 = second["id"].as_str().expect("id").to_owned();
    assert_eq!(second["number"], 2);
    for q in second["questions"].as_array().expect("questions") {
        let position = q["position"].as_i64().expect("position");
        s.answer(&id2, position, &learner, correct_answer(q))
            .await
            .assert_status(StatusCode::OK);
    }
    let passed = s.submit_attempt(&id2, &learner).await;
    assert_eq!(passed.json()["passed"], true, "{}", passed.text);
    assert!(passed.text.contains(SECRET_ACCEPTED), "{}", passed.text);
    let earlier = s
        .ok(Method::GET, &paths::attempt(&id), &learner, None)
        .await;
    assert!(
        earlier["questions"]
            .as_array()
            .expect("questions")
            .iter()
            .all(|q| !q["result"]["correct_answer"].is_null()),
        "{earlier}"
    );
}

#[tokio::test]
async fn racing_starts_and_submissions_make_one_attempt_and_one_submission() {
    let s = School::new().await;
    let CourseItem { course, item } = s
        .one_question_quiz("race", json!({ "max_attempts": 1 }))
        .await;
    let learner = s.enrolled("ada", &course).await;

    let starts =
        futures::future::join_all((0..12).map(|_| s.start_attempt(&course, &item, &learner))).await;
    let created = starts
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "exactly one start creates the attempt");
    let ids: std::collections::BTreeSet<String> = starts
        .iter()
        .map(|r| {
            assert!(r.status.is_success(), "{}", r.text);
            r.json()["id"].as_str().expect("id").to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let id = ids.into_iter().next().expect("id");
    s.answer(&id, 0, &learner, json!({ "value": true }))
        .await
        .assert_status(StatusCode::OK);

    let submits = futures::future::join_all((0..8).map(|_| s.submit_attempt(&id, &learner))).await;
    let mut submitted_at = std::collections::BTreeSet::new();
    for reply in &submits {
        reply.assert_status(StatusCode::OK);
        assert_eq!(reply.json()["status"], "graded", "{}", reply.text);
        assert_eq!(reply.json()["score"], 1.0);
        submitted_at.insert(reply.json()["submitted_at"].to_string());
    }
    assert_eq!(submitted_at.len(), 1, "one submission: {submitted_at:?}");
    s.start_attempt(&course, &item, &learner)
        .await
        .assert_problem(StatusCode::CONFLICT, "no_attempts_left");

    let mut su = s.app.db.superuser().await;
    let (attempts, events): (i64, i64) = sqlx::query_as(
        "select (select count(*) from quiz_attempts),
                (select count(*) from domain_events where kind = 'course.completed')",
    )
    .fetch_one(&mut su)
    .await
    .expect("counts");
    assert_eq!((attempts, events), (1, 1));
}

/// Saving, starting and reporting check the caller's session inside their own statements; a
/// token whose session moved on (password or role change) or whose user was deactivated is
/// refused with 401 before anything is written or said about the enrollment.
#[tokio::test]
async fn stale_sessions_cannot_save_start_or_report() {
    let s = School::new().await;
    let CourseItem { course, item } = s
        .one_question_quiz("stale", json!({ "max_attempts": 3 }))
        .await;
    let ada = s.enrolled("ada", &course).await;
    let bob = s.enrolled("bob", &course).await;
    let outsider = s.learner("outsider").await;
    let mut attempts = Vec::new();
    for who in [&ada, &bob] {
        let attempt = s.start_attempt(&course, &item, who).await.json();
        let id = attempt["id"].as_str().expect("id").to_owned();
        s.answer(&id, 0, who, json!({ "value": true }))
            .await
            .assert_status(StatusCode::OK);
        attempts.push(id);
    }

    let mut su = s.app.db.superuser().await;
    for (change, who) in [
        ("session_epoch = session_epoch + 1", &ada.id),
        ("status = 'deactivated'", &bob.id),
        ("session_epoch = session_epoch + 1", &outsider.id),
    ] {
        sqlx::query(&format!("update users set {change} where id = $1::uuid"))
            .bind(who)
            .execute(&mut su)
            .await
            .expect("session moved on");
    }
    for (who, attempt) in [&ada, &bob].into_iter().zip(&attempts) {
        s.answer(attempt, 0, who, json!({ "value": false }))
            .await
            .assert_problem(StatusCode::UNAUTHORIZED, "invalid_token");
        s.answer(attempt, 7, who, json!({ "value": false }))
            .await
            .assert_problem(StatusCode::UNAUTHORIZED, "invalid_token");
        s.start_attempt(&course, &item, who)
            .await
            .assert_problem(StatusCode::UNAUTHORIZED, "invalid_token");
        s.send(
            Method::PUT,
            &paths::item_progress(&course, &item),
            who,
            Some(json!({ "complete": false })),
        )
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_token");
    }
    // Not enrolled: still 401, not "enroll first".
    s.start_attempt(&course, &item, &outsider)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_token");

    // Nothing was written: each attempt still holds its first answer and is the only one.
    for attempt in &attempts {
        let (answer, count): (Value, i64) = sqlx::query_as(
            "select aq.answer, (select count(*) from quiz_attempts o where o.user_id = a.user_id)
             from attempt_questions aq join quiz_attempts a on a.id = aq.attempt_id
             where aq.attempt_id = $1::uuid and aq.position = 0",
        )
        .bind(attempt)
        .fetch_one(&mut su)
        .await
        .expect("answer");
        assert_eq!(answer, json!({ "value": true }));
        assert_eq!(count, 1);
    }
}

#[tokio::test]
async fn answers_after_the_deadline_are_refused_and_open_attempts_are_closed_by_the_sweep() {
    let s = School::new().await;
    let until = chrono::Utc::now() + chrono::Duration::seconds(3);
    let CourseItem { course, item } = s
        .one_question_quiz("deadline", json!({ "available_until": until }))
        .await;
    let ada = s.enrolled("ada", &course).await;
    let bob = s.enrolled("bob", &course).await;
    let ada_attempt = s.start_attempt(&course, &item, &ada).await.json();
    let bob_attempt = s.start_attempt(&course, &item, &bob).await.json();
    assert!(ada_attempt["seconds_left"].as_i64().is_some_and(|s| s <= 3));
    let ada_id = ada_attempt["id"].as_str().expect("id").to_owned();
    let bob_id = bob_attempt["id"].as_str().expect("id").to_owned();
    s.answer(&ada_id, 0, &ada, json!({ "value": true }))
        .await
        .assert_status(StatusCode::OK);

    tokio::time::sleep(std::time::Duration::from_millis(3_200)).await;
    // Ada's late answer is refused, and her attempt is closed with what she had saved.
    s.answer(&ada_id, 0, &ada, json!({ "value": false }))
        .await
        .assert_problem(StatusCode::CONFLICT, "attempt_closed");
    let closed = s
        .ok(Method::GET, &paths::attempt(&ada_id), &ada, None)
        .await;
    assert_eq!(closed["status"], "graded", "{closed}");
    assert_eq!(closed["auto_submitted"], true);
    assert_eq!(closed["score"], 1.0);
    // Nobody touches Bob's attempt: the sweep closes it on its own.
    let mut su = s.app.db.superuser().await;
    let mut status = String::new();
    for _ in 0..40 {
        status = sqlx::query_scalar("select status from quiz_attempts where id = $1::uuid")
            .bind(&bob_id)
            .fetch_one(&mut su)
            .await
            .expect("status");
        if status != "in_progress" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert_eq!(status, "graded");
    s.start_attempt(&course, &item, &bob)
        .await
        .assert_problem(StatusCode::CONFLICT, "quiz_closed");
}

#[tokio::test]
async fn edits_make_versions_and_attempts_keep_the_one_they_were_given() {
    let s = School::new().await;
    let CourseItem { course, item } = s.quiz_course("versions").await;
    let bank = s.bank(&course).await;
    let q = s
        .question(&bank, 1.0, json!({ "type": "true_false", "correct": true }))
        .await;
    s.quiz(
        &course,
        &item,
        json!({ "questions": [{ "question_id": q }] }),
    )
    .await;
    s.publish(&course).await;
    let ada = s.enrolled("ada", &course).await;
    let attempt = s.start_attempt(&course, &item, &ada).await.json();
    let id = attempt["id"].as_str().expect("id").to_owned();

    // The teacher flips the answer while Ada answers.
    let edited = s
        .ok(
            Method::PUT,
            &paths::question(&q),
            &s.teacher,
            Some(json!({
                "prompt": "Now false", "points": 3,
                "spec": { "type": "true_false", "correct": false }
            })),
        )
        .await;
    assert_eq!(edited["version"], 2);
    let versions = s
        .ok(
            Method::GET,
            &format!("/api/v1/questions/{q}/versions"),
            &s.teacher,
            None,
        )
        .await;
    assert_eq!(versions.as_array().map(Vec::len), Some(2));
    assert_eq!(versions[1]["spec"]["correct"], true);

    s.answer(&id, 0, &ada, json!({ "value": true }))
        .await
        .assert_status(StatusCode::OK);
    let graded = s.submit_attempt(&id, &ada).await.json();
    assert_eq!(graded["score"], 1.0, "graded against version 1: {graded}");
    assert_eq!(graded["max_score"], 1.0);
    // A new attempt gets version 2.
    let next = s.start_attempt(&course, &item, &ada).await.json();
    assert_eq!(next["max_score"], 3.0, "{next}");
    assert_eq!(next["questions"][0]["prompt"], "Now false");

    // A question in use cannot take its bank with it; archiving keeps it out of new attempts.
    s.send(Method::DELETE, &paths::bank(&bank), &s.teacher, None)
        .await
        .assert_problem(StatusCode::CONFLICT, "in_use");
    s.send(Method::DELETE, &paths::question(&q), &s.teacher, None)
        .await
        .assert_status(StatusCode::NO_CONTENT);
    let quiz = s
        .ok(Method::GET, &paths::quiz(&course, &item), &s.teacher, None)
        .await;
    assert_eq!(quiz["question_count"], 0, "{quiz}");
}

#[tokio::test]
async fn a_draft_course_is_deleted_with_the_banks_its_quizzes_ask_from() {
    let s = School::new().await;
    let CourseItem { course, item } = s.quiz_course("bank-owner").await;
    let bank = s.bank(&course).await;
    let hard = s.teaching().add_first_category(&bank, "Hard").await;
    let named = s
        .question(&bank, 1.0, json!({ "type": "true_false", "correct": true }))
        .await;
    s.ok(
        Method::POST,
        &paths::bank_questions(&bank),
        &s.teacher,
        Some(json!({ "category_id": hard, "prompt": "Hard", "points": 1,
                     "spec": { "type": "true_false", "correct": false } })),
    )
    .await;
    s.quiz(
        &course,
        &item,
        json!({ "questions": [
            { "question_id": named },
            { "bank_id": bank, "count": 1 },
            { "bank_id": bank, "category_id": hard, "count": 1 }
        ] }),
    )
    .await;
    s.send(Method::DELETE, &paths::course(&course), &s.teacher, None)
        .await
        .assert_status(StatusCode::NO_CONTENT);
    s.send(Method::GET, &paths::bank(&bank), &s.teacher, None)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");

    // A course taken once, archived and back in draft is not deleted: its learners' attempts
    // would go with it.
    let CourseItem { course, item } = s.one_question_quiz("taken", json!({})).await;
    let ada = s.enrolled("ada", &course).await;
    let started = s.start_attempt(&course, &item, &ada).await.json();
    let attempt = started["id"].as_str().expect("attempt").to_owned();
    let position = started["questions"][0]["position"]
        .as_i64()
        .expect("position");
    s.answer(&attempt, position, &ada, json!({ "value": true }))
        .await
        .assert_status(StatusCode::OK);
    s.submit_attempt(&attempt, &ada)
        .await
        .assert_status(StatusCode::OK);
    for status in ["archived", "draft"] {
        s.ok(
            Method::POST,
            &paths::course_status(&course),
            &s.teacher,
            Some(json!({ "status": status })),
        )
        .await;
    }
    s.send(Method::DELETE, &paths::course(&course), &s.teacher, None)
        .await
        .assert_problem(StatusCode::CONFLICT, "course_has_learners");
    s.send(Method::GET, &paths::attempt(&attempt), &s.teacher, None)
        .await
        .assert_status(StatusCode::OK);
}

#[tokio::test]
async fn a_shared_bank_a_quiz_asks_from_stays_when_its_course_is_deleted() {
    let s = School::new().await;
    let shared = s
        .ok(
            Method::POST,
            "/api/v1/question-banks",
            &s.teacher,
            Some(json!({ "title": "Shared" })),
        )
        .await["id"]
        .as_str()
        .expect("bank id")
        .to_owned();
    let kept = s
        .question(
            &shared,
            1.0,
            json!({ "type": "true_false", "correct": true }),
        )
        .await;
    let CourseItem { course, item } = s.quiz_course("asks-shared").await;
    s.quiz(
        &course,
        &item,
        json!({ "questions": [{ "question_id": kept }, { "bank_id": shared, "count": 1 }] }),
    )
    .await;
    // While the quiz asks from it, the shared bank is in use.
    s.send(Method::DELETE, &paths::bank(&shared), &s.teacher, None)
        .await
        .assert_problem(StatusCode::CONFLICT, "in_use");
    s.send(Method::DELETE, &paths::course(&course), &s.teacher, None)
        .await
        .assert_status(StatusCode::NO_CONTENT);
    let bank = s
        .ok(
            Method::GET,
            &paths::bank_questions(&shared),
            &s.teacher,
            None,
        )
        .await;
    assert!(bank.to_string().contains(kept.as_str()), "{bank}");
    s.send(Method::DELETE, &paths::bank(&shared), &s.teacher, None)
        .await
        .assert_status(StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn draws_give_distinct_questions_from_the_bank_or_category() {
    let s = School::new().await;
    let CourseItem { course, item } = s.quiz_course("draws").await;
    let bank = s.bank(&course).await;
    let hard = s.teaching().add_first_category(&bank, "Hard").await;
    let mut in_hard = Vec::new();
    for n in 0..3 {
        let id = s
            .ok(
                Method::POST,
                &paths::bank_questions(&bank),
                &s.teacher,
                Some(json!({
                    "category_id": hard, "prompt": format!("Hard {n}"), "points": 1,
                    "spec": { "type": "true_false", "correct": true }
                })),
            )
            .await["id"]
            .as_str()
            .expect("id")
            .to_owned();
        in_hard.push(id);
    }
    for _ in 0..4 {
        s.question(
            &bank,
            1.0,
            json!({ "type": "true_false", "correct": false }),
        )
        .await;
    }
    s.quiz(
        &course,
        &item,
        json!({ "questions": [
            { "question_id": in_hard[0] },
            { "bank_id": bank, "category_id": hard, "count": 5 },
            { "bank_id": bank, "count": 3 }
        ] }),
    )
    .await;
    s.publish(&course).await;
    let ada = s.enrolled("ada", &course).await;
    let attempt = s.start_attempt(&course, &item, &ada).await.json();
    let questions = attempt["questions"].as_array().expect("questions");
    // 1 named + the 2 other hard ones (the category has no more) + 3 from the rest.
    assert_eq!(questions.len(), 6, "{attempt}");
    let prompts: Vec<&str> = questions
        .iter()
        .filter_map(|q| q["prompt"].as_str())
        .collect();
    assert_eq!(prompts[0], "Hard 0");
    let mut hard_prompts: Vec<&str> = prompts[1..3].to_vec();
    hard_prompts.sort_unstable();
    assert_eq!(hard_prompts, ["Hard 1", "Hard 2"]);
    // The whole-bank draw skips the hard ones drawn before it and still finds its 3.
    assert!(
        prompts[3..].iter().all(|p| !p.starts_with("Hard")),
        "{prompts:?}"
    );

    // A bank of another course cannot be drawn from, nor a category of another bank.
    let CourseItem {
        course: other_course,
        ..
    } = s.quiz_course("other").await;
    let other_bank = s.bank(&other_course).await;
    let refused = s
        .send(
            Method::PUT,
            &paths::quiz(&course, &item),
            &s.teacher,
            Some(json!({ "questions": [
                { "bank_id": other_bank, "count": 1 },
                { "bank_id": bank, "category_id": other_bank, "count": 1 },
                { "question_id": other_bank }
            ] })),
        )
        .await;
    refused.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let codes: Vec<String> = refused.json()["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["code"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        codes,
        ["unknown_bank", "unknown_category", "unknown_question"]
    );
}

#[tokio::test]
async fn banks_are_their_courses_staffs_and_shared_banks_are_edited_by_their_makers() {
    let s = School::new().await;
    let CourseItem { course, .. } = s.quiz_course("private").await;
    let bank = s.bank(&course).await;
    let other_teacher = s.instructor("other").await;
    // Another instructor does not see the course's bank; a learner has no banks at all.
    s.send(Method::GET, &paths::bank(&bank), &other_teacher, None)
        .await
        .assert_status(StatusCode::NOT_FOUND);
    s.send(Method::GET, &paths::bank(&bank), &s.t.learner, None)
        .await
        .assert_status(StatusCode::FORBIDDEN);
    s.send(Method::GET, "/api/v1/question-banks", &s.t.learner, None)
        .await
        .assert_status(StatusCode::FORBIDDEN);
    // The tenant admin sees it.
    s.ok(Method::GET, &paths::bank(&bank), &s.t.admin, None)
        .await;

    // A shared bank is read by every instructor and edited by its maker and admins.
    let shared = s
        .ok(
            Method::POST,
            "/api/v1/question-banks",
            &other_teacher,
            Some(json!({ "title": "Shared" })),
        )
        .await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let listed = s
        .ok(Method::GET, "/api/v1/question-banks", &s.teacher, None)
        .await;
    assert_eq!(listed["items"][0]["id"], shared.as_str(), "{listed}");
    s.send(
        Method::PATCH,
        &paths::bank(&shared),
        &s.teacher,
        Some(json!({ "title": "Mine now" })),
    )
    .await
    .assert_status(StatusCode::FORBIDDEN);
    s.ok(
        Method::PATCH,
        &paths::bank(&shared),
        &s.t.admin,
        Some(json!({ "title": "Renamed" })),
    )
    .await;

    // Bad definitions are clear 422s naming the field.
    let bad = s
        .send(
            Method::POST,
            &paths::bank_questions(&bank),
            &s.teacher,
            Some(json!({ "prompt": "", "points": 0, "spec": {
                "type": "single_choice", "options": [{ "id": "a", "text": "x" }], "correct": "z"
            } })),
        )
        .await;
    bad.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let fields: Vec<String> = bad.json()["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str().map(str::to_owned))
        .collect();
    for expected in ["prompt", "points"] {
        assert!(fields.iter().any(|f| f == expected), "{fields:?}");
    }
    assert!(fields.iter().any(|f| f.starts_with("spec")), "{fields:?}");
    s.send(
        Method::POST,
        &paths::bank_questions(&bank),
        &s.teacher,
        Some(json!({ "prompt": "p", "points": 1, "spec": { "type": "no_such_kind" } })),
    )
    .await
    .assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    s.send(
        Method::POST,
        &paths::bank_questions(&bank),
        &s.teacher,
        Some(json!({ "prompt": "p", "points": 1, "spec": {
            "type": "plugin", "plugin": "not-installed", "config": {}
        } })),
    )
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
}

#[tokio::test]
async fn plugin_questions_are_graded_by_their_grader_and_failures_wait_for_a_person() {
    let s = School::new().await;
    for (name, file) in [
        ("numeric-grader", "numeric_grader"),
        ("trap-grader", "trap"),
    ] {
        s.ok(
            Method::POST,
            "/api/v1/plugins",
            &s.t.admin,
            Some(crate::helpers::plugin_upload(
                name,
                "1.0.0",
                &crate::helpers::plugin_wasm(file),
            )),
        )
        .await;
        s.ok(
            Method::POST,
            &format!("/api/v1/plugins/{name}/versions/1.0.0/install"),
            &s.t.admin,
            Some(json!({ "granted_capabilities": ["log"] })),
        )
        .await;
        s.ok(Method::POST, &paths::plugin_enable(name), &s.t.admin, None)
            .await;
    }
    let CourseItem { course, item } = s.quiz_course("plugins").await;
    let bank = s.bank(&course).await;
    let numeric = s
        .question(
            &bank,
            2.0,
            json!({ "type": "plugin", "plugin": "numeric-grader",
                    "config": { "answer": 9.81, "tolerance": { "absolute": 0.05 } } }),
        )
        .await;
    let trapping = s
        .question(
            &bank,
            1.0,
            json!({ "type": "plugin", "plugin": "trap-grader", "config": {} }),
        )
        .await;
    s.quiz(
        &course,
        &item,
        json!({ "questions": [{ "question_id": numeric }, { "question_id": trapping }] }),
    )
    .await;
    s.publish(&course).await;
    let ada = s.enrolled("ada", &course).await;
    let attempt = s.start_attempt(&course, &item, &ada).await.json();
    // The grader's configuration (its answer) never reaches the learner.
    let questions = attempt["questions"].to_string();
    assert!(
        !questions.contains("9.81") && !questions.contains("tolerance"),
        "{attempt}"
    );
    let id = attempt["id"].as_str().expect("id").to_owned();
    s.answer(&id, 0, &ada, json!({ "text": "9.8" }))
        .await
        .assert_status(StatusCode::OK);
    s.answer(&id, 1, &ada, json!({ "text": "anything" }))
        .await
        .assert_status(StatusCode::OK);
    let submitted = s.submit_attempt(&id, &ada).await;
    submitted.assert_status(StatusCode::OK);
    let submitted = submitted.json();
    assert_eq!(submitted["status"], "submitted", "{submitted}");
    let first = &submitted["questions"][0]["result"];
    assert_eq!(first["grading"], "auto", "{submitted}");
    assert_eq!(first["awarded"], 2.0, "{submitted}");
    let second = &submitted["questions"][1]["result"];
    assert_eq!(second["grading"], "review", "{submitted}");
    assert!(
        second["review_reason"]
            .as_str()
            .is_some_and(|r| r.contains("trap")),
        "{submitted}"
    );
}
