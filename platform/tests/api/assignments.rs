//! Assignments: settings and rubrics, text and file submissions with their limits, the late
//! policies and resubmission, rubric grading with penalties, inline comments and release,
//! completion of the item, and the graders' queue.

use chrono::{Duration, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{CourseItems, Parts, School, TestApp, form, paths, seed_assignment};

const PDF: &[u8] = b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n";

/// Files in the local file storage.
fn stored_files(c: &School) -> usize {
    fn count(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir).map_or(0, |entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| {
                    let path = e.path();
                    if path.is_dir() { count(&path) } else { 1 }
                })
                .sum()
        })
    }
    count(&std::env::temp_dir().join(&c.app.db.name).join("files"))
}

fn rubric() -> Value {
    json!({ "criteria": [
        { "title": "Argument", "levels": [
            { "title": "Convincing", "points": 6 },
            { "title": "Thin", "points": 3 },
            { "title": "Missing", "points": 0 } ] },
        { "title": "Sources", "levels": [
            { "title": "All cited", "points": 4 },
            { "title": "Some cited", "points": 2 } ] }
    ] })
}

#[tokio::test]
async fn submissions_follow_the_assignments_rules_and_files_round_trip() {
    let c = School::new().await;
    let CourseItems { course, items } = c
        .published_items("essays", &[("assignment", "Essay")])
        .await;
    let item = &items[0];
    let lea = c.enrolled("lea", &course).await;

    // No settings yet.
    c.submit_assignment(&course, item, &lea, &[("text", None, b"hello")])
        .await
        .assert_problem(StatusCode::CONFLICT, "assignment_not_ready");

    // Bad settings name their fields.
    let bad = c
        .assignment(
            &course,
            item,
            json!({ "accepts_text": false, "late_policy": "reject", "points": 0,
                    "file_extensions": ["tar.gz"], "max_files": 40 }),
        )
        .await;
    bad.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    for field in [
        "accepts_files",
        "late_policy",
        "points",
        "file_extensions[0]",
        "max_files",
    ] {
        assert!(
            bad.text.contains(&format!("\"{field}\"")),
            "{field}: {}",
            bad.text
        );
    }
    let saved = c
        .assignment(
            &course,
            item,
            json!({ "instructions": "Write about **tides**.", "accepts_files": true,
                    "file_extensions": [".PDF", "txt"], "max_files": 2, "max_file_bytes": 2000,
                    "points": 20, "due_at": Utc::now() + Duration::days(3) }),
        )
        .await;
    saved.assert_status(StatusCode::OK);
    assert_eq!(saved.json()["file_extensions"], json!(["pdf", "txt"]));

    // Refusals, none of which leaves a file behind.
    let json_body = c
        .send(
            Method::POST,
            &paths::submissions(&course, item),
            &lea,
            Some(json!({ "text": "as json" })),
        )
        .await;
    json_body.assert_problem(StatusCode::BAD_REQUEST, "multipart_required");
    c.submit_assignment(&course, item, &lea, &[])
        .await
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let refused: [(Parts<'_>, &str); 5] = [
        (
            &[("files", Some("tool.exe"), b"MZ...")],
            "file_type_not_accepted",
        ),
        (
            &[(
                "files",
                Some("essay.pdf"),
                b"<html><script>alert(1)</script>",
            )],
            "file_type_mismatch",
        ),
        (
            &[("files", Some("big.txt"), &[b'a'; 2001])],
            "file_too_large",
        ),
        (
            &[
                ("files", Some("a.txt"), b"a"),
                ("files", Some("b.txt"), b"b"),
                ("files", Some("c.txt"), b"c"),
            ],
            "too_many",
        ),
        (&[("notes", None, b"?")], "unknown_field"),
    ];
    for (parts, code) in refused {
        let reply = c.submit_assignment(&course, item, &lea, parts).await;
        reply.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
        assert!(reply.text.contains(code), "{code}: {}", reply.text);
    }
    // A valid file next to a refused one is not kept either.
    c.submit_assignment(
        &course,
        item,
        &lea,
        &[
            ("files", Some("ok.pdf"), PDF),
            ("files", Some("bad.pdf"), b"nope"),
        ],
    )
    .await
    .assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(stored_files(&c), 0);

    // Text and a file, with a path in its name as some browsers send.
    let first = c
        .submit_assignment(
            &course,
            item,
            &lea,
            &[
                ("text", None, "Tides follow the moon — mostly.".as_bytes()),
                ("files", Some("C:\\fakepath\\Essay.pdf"), PDF),
            ],
        )
        .await;
    first.assert_status(StatusCode::CREATED);
    let first = first.json();
    assert_eq!(first["number"], 1);
    assert_eq!(first["late_seconds"], 0);
    assert_eq!(first["files"][0]["file_name"], "Essay.pdf");
    assert_eq!(first["files"][0]["content_type"], "application/pdf");
    assert_eq!(first["files"][0]["size_bytes"], PDF.len());
    let id = first["id"].as_str().expect("id").to_owned();
    let file = first["files"][0]["id"].as_str().expect("file").to_owned();
    let download = c
        .send(Method::GET, &paths::submission_file(&id, &file), &lea, None)
        .await;
    download.assert_status(StatusCode::OK);
    assert_eq!(download.text.as_bytes(), PDF);
    let header = |name: &str| {
        download
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header("content-type"), "application/pdf");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert!(header("content-disposition").starts_with("attachment;"));

    // Another learner sees neither the submission nor its file; the teacher sees both.
    let leo = c.enrolled("leo", &course).await;
    for path in [paths::submission(&id), paths::submission_file(&id, &file)] {
        c.send(Method::GET, &path, &leo, None)
            .await
            .assert_status(StatusCode::NOT_FOUND);
        c.send(Method::GET, &path, &c.teacher, None)
            .await
            .assert_status(StatusCode::OK);
    }
    // A learner does not grade, not even their own work.
    c.send(
        Method::PUT,
        &paths::grade(&id),
        &lea,
        Some(json!({ "points": 20 })),
    )
    .await
    .assert_status(StatusCode::FORBIDDEN);

    // Resubmitting before the due date supersedes the waiting submission.
    let second = c
        .submit_assignment(
            &course,
            item,
            &lea,
            &[("files", Some("v2.txt"), b"second draft")],
        )
        .await;
    second.assert_status(StatusCode::CREATED);
    let second = second.json();
    assert_eq!(second["number"], 2);
    let mine = c
        .ok(Method::GET, &paths::submissions(&course, item), &lea, None)
        .await;
    let statuses: Vec<&str> = mine["submissions"]
        .as_array()
        .expect("submissions")
        .iter()
        .map(|s| s["status"].as_str().expect("status"))
        .collect();
    assert_eq!(statuses, ["submitted", "superseded"]);
    assert_eq!(mine["can_submit"], true);
    c.grade(&id, json!({ "points": 10 }))
        .await
        .assert_problem(StatusCode::CONFLICT, "submission_superseded");

    // The queue holds the current submission only.
    let queue = c
        .ok(
            Method::GET,
            "/api/v1/assignment-submissions",
            &c.teacher,
            None,
        )
        .await;
    let queued: Vec<&Value> = queue["items"].as_array().expect("items").iter().collect();
    assert_eq!(queued.len(), 1, "{queue}");
    assert_eq!(queued[0]["id"], second["id"]);
    assert_eq!(queued[0]["file_count"], 1);
    assert_eq!(stored_files(&c), 2);
    // Learners have no queue.
    c.send(Method::GET, "/api/v1/assignment-submissions", &lea, None)
        .await
        .assert_status(StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn rubric_grades_with_late_penalty_are_held_until_released_and_complete_the_item() {
    let c = School::new().await;
    let CourseItems { course, items } = c
        .published_items(
            "reports",
            &[
                ("assignment", "Late report"),
                ("assignment", "Strict report"),
            ],
        )
        .await;
    let (late_item, strict_item) = (&items[0], &items[1]);
    let due = Utc::now() - Duration::hours(25);
    let saved = c
        .assignment(
            &course,
            late_item,
            json!({ "rubric": rubric(), "late_policy": "penalty", "late_penalty_percent": 10,
                    "due_at": due, "passing_percent": 50 }),
        )
        .await;
    saved.assert_status(StatusCode::OK);
    let saved = saved.json();
    assert_eq!(saved["points"], 10.0);
    c.assignment(
        &course,
        strict_item,
        json!({ "points": 5, "late_policy": "reject", "due_at": due }),
    )
    .await
    .assert_status(StatusCode::OK);
    let lea = c.enrolled("lea", &course).await;

    c.submit_assignment(&course, strict_item, &lea, &[("text", None, b"too late")])
        .await
        .assert_problem(StatusCode::CONFLICT, "past_due");
    let text = "The tide report, two days late.";
    let submitted = c
        .submit_assignment(&course, late_item, &lea, &[("text", None, text.as_bytes())])
        .await;
    submitted.assert_status(StatusCode::CREATED);
    let submitted = submitted.json();
    assert!(submitted["late_seconds"].as_i64().expect("late") > 25 * 3600 - 60);
    let id = submitted["id"].as_str().expect("id").to_owned();
    // Past the due date, no second submission.
    c.submit_assignment(&course, late_item, &lea, &[("text", None, b"again")])
        .await
        .assert_problem(StatusCode::CONFLICT, "resubmission_closed");

    let criteria = &saved["rubric"]["criteria"];
    let level = |c: usize, l: usize| json!({ "criterion_id": criteria[c]["id"], "level_id": criteria[c]["levels"][l]["id"] });
    // Every criterion needs a level; levels belong to their criterion; points are not rubric.
    let incomplete = c.grade(&id, json!({ "rubric": [level(0, 0)] })).await;
    incomplete.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        incomplete.text.contains("criterion_not_graded"),
        "{}",
        incomplete.text
    );
    let crossed =
        json!({ "criterion_id": criteria[0]["id"], "level_id": criteria[1]["levels"][0]["id"] });
    let reply = c
        .grade(&id, json!({ "rubric": [crossed, level(1, 0)] }))
        .await;
    assert!(reply.text.contains("unknown_level"), "{}", reply.text);
    c.grade(&id, json!({ "points": 10 }))
        .await
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    // Comments must point inside the text.
    let outside = c
        .grade(
            &id,
            json!({ "rubric": [level(0, 0), level(1, 1)],
                    "inline_comments": [{ "anchor": { "type": "text", "start": 4, "end": 400 },
                                          "comment": "?" }] }),
        )
        .await;
    assert!(outside.text.contains("outside_text"), "{}", outside.text);

    // 6 + 2 = 8 of 10, two days late at 10% of the points per day: 6, 60%, passed, held back.
    let graded = c
        .grade(
            &id,
            json!({ "rubric": [level(0, 0), level(1, 1)], "feedback": "Solid; cite more.",
                    "inline_comments": [{ "anchor": { "type": "text", "start": 4, "end": 15 },
                                          "comment": "Which tide?" }] }),
        )
        .await;
    graded.assert_status(StatusCode::OK);
    let grade = &graded.json()["grade"];
    assert_eq!(
        (
            &grade["raw_score"],
            &grade["penalty"],
            &grade["score"],
            &grade["percent"]
        ),
        (&json!(8.0), &json!(2.0), &json!(6.0), &json!(60.0))
    );
    assert_eq!(grade["passed"], true);
    assert_eq!(grade["released_at"], Value::Null);

    let mine = paths::submissions(&course, late_item);
    let before = c.ok(Method::GET, &mine, &lea, None).await;
    assert_eq!(before["submissions"][0]["grade"], Value::Null, "{before}");
    assert_eq!(before["score_percent"], Value::Null);
    let learner_view = c.ok(Method::GET, &paths::submission(&id), &lea, None).await;
    assert_eq!(learner_view["grade"], Value::Null);
    assert!(!learner_view.to_string().contains("Solid; cite more."));
    let progress = paths::my_progress(&course);
    let completed = c.ok(Method::GET, &progress, &lea, None).await;
    assert_eq!(completed["course"]["required_completed"], 0);

    // Releasing shows the grade and completes the item.
    let released = c
        .ok(
            Method::POST,
            &paths::release(&course, late_item),
            &c.teacher,
            None,
        )
        .await;
    assert_eq!(released["released"], 1);
    let after = c.ok(Method::GET, &mine, &lea, None).await;
    assert_eq!(after["score_percent"], 60.0);
    assert_eq!(after["passed"], true);
    assert_eq!(
        after["submissions"][0]["grade"]["feedback"],
        "Solid; cite more."
    );
    assert_eq!(
        after["submissions"][0]["grade"]["inline_comments"][0]["comment"],
        "Which tide?"
    );
    let completed = c.ok(Method::GET, &progress, &lea, None).await;
    assert_eq!(completed["course"]["required_completed"], 1);

    // The rubric is now fixed; saving it unchanged keeps its ids.
    let changed = json!({ "rubric": { "criteria": [ { "title": "Only", "levels": [
        { "title": "Yes", "points": 1 } ] } ] } });
    c.assignment(&course, late_item, changed)
        .await
        .assert_problem(StatusCode::CONFLICT, "rubric_in_use");
    let same = c
        .assignment(
            &course,
            late_item,
            json!({ "rubric": rubric(), "late_policy": "penalty", "late_penalty_percent": 10,
                    "due_at": due, "instructions": "Now with instructions" }),
        )
        .await;
    same.assert_status(StatusCode::OK);
    assert_eq!(same.json()["rubric"], saved["rubric"]);
}

#[tokio::test]
async fn racing_submissions_get_distinct_numbers_and_one_stays_current() {
    let c = School::new().await;
    let CourseItems { course, items } = c.published_items("race", &[("assignment", "Race")]).await;
    let item = &items[0];
    c.assignment(
        &course,
        item,
        json!({ "points": 10, "accepts_files": true, "max_file_bytes": 5 * 1024 * 1024 }),
    )
    .await
    .assert_status(StatusCode::OK);
    let lea = c.enrolled("lea", &course).await;
    // Files larger than the JSON endpoints' 1 MiB body limit are taken.
    let big = vec![b'x'; 3 * 1024 * 1024];
    c.submit_assignment(&course, item, &lea, &[("files", Some("big.txt"), &big)])
        .await
        .assert_status(StatusCode::CREATED);
    let course = &course;
    let replies = futures::future::join_all((0..6).map(|n| {
        let text = format!("draft {n}");
        let c = &c;
        let lea = &lea;
        async move {
            c.submit_assignment(course, item, lea, &[("text", None, text.as_bytes())])
                .await
        }
    }))
    .await;
    let mut numbers: Vec<i64> = replies
        .iter()
        .map(|r| {
            r.assert_status(StatusCode::CREATED);
            r.json()["number"].as_i64().expect("number")
        })
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, [2, 3, 4, 5, 6, 7]);
    let mine = c
        .ok(Method::GET, &paths::submissions(course, item), &lea, None)
        .await;
    let waiting = mine["submissions"]
        .as_array()
        .expect("submissions")
        .iter()
        .filter(|s| s["status"] == "submitted")
        .count();
    assert_eq!(waiting, 1);
}

#[tokio::test]
async fn submitted_files_live_in_s3_when_it_is_configured() {
    let moto = crate::s3_peer::MotoServer::start();
    moto.create_bucket("lms-submissions").await;
    let config = moto.s3_config("lms-submissions");
    let c = School::on(TestApp::spawn_with(move |cfg| cfg.storage.s3 = Some(config)).await).await;
    let CourseItems { course, items } = c.published_items("s3", &[("assignment", "Upload")]).await;
    let item = &items[0];
    c.assignment(&course, item, json!({ "points": 5, "accepts_files": true }))
        .await
        .assert_status(StatusCode::OK);
    let lea = c.enrolled("lea", &course).await;
    let submitted = c
        .submit_assignment(&course, item, &lea, &[("files", Some("report.pdf"), PDF)])
        .await;
    submitted.assert_status(StatusCode::CREATED);
    let submitted = submitted.json();
    let (id, file) = (
        submitted["id"].as_str().expect("id"),
        submitted["files"][0]["id"].as_str().expect("file"),
    );
    // The object is in the bucket under the tenant's prefix, with the extension's type.
    let object = moto
        .get_object(
            "lms-submissions",
            &format!("{}/submissions/{id}/{file}", c.t.id),
        )
        .await;
    assert_eq!(object.status(), StatusCode::OK);
    assert_eq!(
        object
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/pdf")
    );
    assert_eq!(object.bytes().await.expect("object").as_ref(), PDF);
    let download = c
        .send(
            Method::GET,
            &paths::submission_file(id, file),
            &c.teacher,
            None,
        )
        .await;
    download.assert_status(StatusCode::OK);
    assert_eq!(download.text.as_bytes(), PDF);
    assert_eq!(stored_files(&c), 0, "nothing on local disk");
}

/// A NUL character in a form's text or in a file name is refused with 400 before anything is
/// stored (PostgreSQL cannot store it in text).
#[tokio::test]
async fn nul_characters_in_a_submission_form_are_refused() {
    let (app, t) = TestApp::with_tenant("acme").await;
    let ids = seed_assignment(&app, &t).await;
    let course: uuid::Uuid = {
        let mut su = app.db.superuser().await;
        sqlx::query_scalar("select course_id from course_items where id = $1::uuid")
            .bind(ids.item.as_str())
            .fetch_one(&mut su)
            .await
            .expect("course of the item")
    };
    let path = paths::submissions(course, &ids.item);
    // A raw NUL in a part's headers (the file name) is already refused by the form parser.
    let forms: [(Parts<'_>, &str); 2] = [
        (&[("text", None, b"my\0work")], "nul_character"),
        (
            &[("files", Some("wo\0rk.txt"), b"my work")],
            "invalid_multipart",
        ),
    ];
    for (parts, code) in forms {
        let (content_type, body) = form(parts);
        app.post(&path)
            .tenant("acme")
            .bearer(&t.learner.access_token)
            .raw(Some(&content_type), body)
            .send()
            .await
            .assert_problem(StatusCode::BAD_REQUEST, code);
    }
}
