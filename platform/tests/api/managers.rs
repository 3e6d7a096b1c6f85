//! Corporate managers: tenant admins assign them to cohorts (their teams); a manager sees and
//! changes only those cohorts, reads the team report of their members (JSON pages and CSV) and
//! enrolls them into published courses. Nothing outside their teams is visible to them.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    AttemptId, CourseId, ItemId, PASSWORD, Reply, SCHOOL, School, SubmissionId, TestUser, item,
    paths, user_from_session,
};

const REPORT: &str = "/api/v1/reports/team";
const REPORT_CSV: &str = "/api/v1/reports/team.csv";

/// The school with a corporate manager of cohort A (members Ann and Amy); cohort B (member Bob)
/// has no manager.
struct Teams {
    s: School,
    manager: TestUser,
    cohort_a: String,
    cohort_b: String,
    ann: TestUser,
    amy: TestUser,
    bob: TestUser,
}

impl Teams {
    async fn new() -> Self {
        let s = School::new().await;
        let manager = s
            .app
            .with_roles(
                SCHOOL,
                "manager@acme.example",
                &["corporate_manager"],
                &s.t.admin,
            )
            .await;
        let ann = named_learner(&s, "ann@acme.example", "Ann").await;
        let amy = named_learner(&s, "amy@acme.example", "Amy").await;
        let bob = named_learner(&s, "bob@acme.example", "Bob").await;
        let admin = s.by(&s.t.admin);
        let cohort_a = admin.create_cohort(json!({ "name": "Team A" })).await;
        let cohort_b = admin.create_cohort(json!({ "name": "Team B" })).await;
        admin
            .add_cohort_members(&cohort_a, json!([ann.id, amy.id]))
            .await;
        admin.add_cohort_members(&cohort_b, json!([bob.id])).await;
        admin
            .send(
                Method::POST,
                &paths::cohort_managers(&cohort_a),
                Some(json!({ "user_id": manager.id })),
            )
            .await
            .assert_status(StatusCode::CREATED);
        Self {
            s,
            manager,
            cohort_a: cohort_a.to_string(),
            cohort_b: cohort_b.to_string(),
            ann,
            amy,
            bob,
        }
    }

    async fn as_manager(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.s.send(method, path, &self.manager, body).await
    }

    async fn report(&self, who: &TestUser, query: &str) -> Reply {
        self.s
            .send(Method::GET, &format!("{REPORT}{query}"), who, None)
            .await
    }
}

/// A self-registered learner with this display name.
async fn named_learner(s: &School, email: &str, name: &str) -> TestUser {
    let reply = s
        .app
        .post("/api/v1/auth/register")
        .tenant(SCHOOL)
        .json(json!({ "email": email, "password": PASSWORD, "display_name": name }))
        .send()
        .await;
    reply.assert_status(StatusCode::CREATED);
    user_from_session(&reply.json(), email)
}

/// The user ids of a report page, in order.
fn user_ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| r["user_id"].as_str().expect("user_id").to_owned())
        .collect()
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

fn ids_of(users: &[&TestUser]) -> Vec<String> {
    sorted(users.iter().map(|u| u.id.clone()).collect())
}

/// A published course of the teacher with a text item, a quiz asking one true/false question
/// (true is right, 50% to pass) and an assignment of 10 points taking text.
struct Assessed {
    course: CourseId,
    text: ItemId,
    quiz: ItemId,
    assignment: ItemId,
}

async fn assessed_course(s: &School, slug: &str, title: &str) -> Assessed {
    let ids = s
        .teaching()
        .create_outline(
            slug,
            json!({ "title": title }),
            vec![vec![
                item::text("Read"),
                item::quiz("Check"),
                item::assignment("Essay"),
            ]],
            |_| "Module".to_owned(),
        )
        .await;
    let (text, quiz, assignment) = (
        ids.item(0, 0).clone(),
        ids.item(0, 1).clone(),
        ids.item(0, 2).clone(),
    );
    let bank = s.bank(&ids.course).await;
    let truth = s
        .question(&bank, 1.0, json!({ "type": "true_false", "correct": true }))
        .await;
    s.quiz(
        &ids.course,
        &quiz,
        json!({ "passing_percent": 50, "questions": [{ "question_id": truth }] }),
    )
    .await;
    s.assignment(
        &ids.course,
        &assignment,
        json!({ "points": 10, "accepts_text": true, "passing_percent": 50 }),
    )
    .await
    .assert_status(StatusCode::OK);
    s.publish(&ids.course).await;
    Assessed {
        course: ids.course,
        text,
        quiz,
        assignment,
    }
}

/// `who` passes the course's quiz with one graded attempt (100%).
async fn pass_quiz(s: &School, c: &Assessed, who: &TestUser) {
    let started = s.start_attempt(&c.course, &c.quiz, who).await;
    started.assert_status(StatusCode::CREATED);
    let attempt = AttemptId::of(&started.json());
    s.answer(&attempt, 0, who, json!({ "value": true }))
        .await
        .assert_status(StatusCode::OK);
    s.submit_attempt(&attempt, who)
        .await
        .assert_status(StatusCode::OK);
}

#[tokio::test]
async fn admins_assign_corporate_managers_who_then_see_and_change_only_their_cohorts() {
    let teams = Teams::new().await;
    let Teams { s, manager, .. } = &teams;
    let (a, b) = (&teams.cohort_a, &teams.cohort_b);
    let admin = s.by(&s.t.admin);

    // Only corporate managers can be assigned; only tenant admins assign.
    for not_a_manager in [
        s.t.learner.id.clone(),
        s.teacher.id.clone(),
        uuid::Uuid::now_v7().to_string(),
    ] {
        let refused = admin
            .send(
                Method::POST,
                &paths::cohort_managers(b),
                Some(json!({ "user_id": not_a_manager })),
            )
            .await;
        refused.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(refused.json()["errors"][0]["code"], "not_corporate_manager");
    }
    let again = admin
        .send(
            Method::POST,
            &paths::cohort_managers(a),
            Some(json!({ "user_id": manager.id })),
        )
        .await;
    again.assert_status(StatusCode::OK);
    assert_eq!(again.json()["user_id"], manager.id.as_str());
    let listed = admin
        .send(Method::GET, &paths::cohort_managers(a), None)
        .await;
    listed.assert_status(StatusCode::OK);
    assert_eq!(listed.json()["items"][0]["user_id"], manager.id.as_str());
    teams
        .as_manager(
            Method::POST,
            &paths::cohort_managers(b),
            Some(json!({ "user_id": manager.id })),
        )
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");

    // The manager lists and reads their cohort only.
    let list = teams.as_manager(Method::GET, "/api/v1/cohorts", None).await;
    list.assert_status(StatusCode::OK);
    let names: Vec<String> = list.json()["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| c["name"].as_str().expect("name").to_owned())
        .collect();
    assert_eq!(names, ["Team A"]);
    teams
        .as_manager(Method::GET, &paths::cohort(a), None)
        .await
        .assert_status(StatusCode::OK);
    teams
        .as_manager(Method::GET, &paths::cohort_members(a), None)
        .await
        .assert_status(StatusCode::OK);
    teams
        .as_manager(Method::GET, &paths::cohort_managers(a), None)
        .await
        .assert_status(StatusCode::OK);

    // Cohort B does not exist for them: every call on it is 404, nothing changes.
    let calls: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, paths::cohort(b), None),
        (
            Method::PATCH,
            paths::cohort(b),
            Some(json!({ "name": "Taken over" })),
        ),
        (Method::GET, paths::cohort_members(b), None),
        (
            Method::POST,
            paths::cohort_members(b),
            Some(json!({ "user_ids": [teams.ann.id] })),
        ),
        (
            Method::DELETE,
            paths::cohort_members(b),
            Some(json!({ "user_ids": [teams.bob.id] })),
        ),
        (Method::GET, paths::cohort_managers(b), None),
    ];
    for (method, path, body) in calls {
        teams
            .as_manager(method.clone(), &path, body)
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
    }
    let b_now = admin.send(Method::GET, &paths::cohort(b), None).await;
    assert_eq!(b_now.json()["name"], "Team B");
    assert_eq!(b_now.json()["member_count"], 1);

    // They rename their cohort and change its members, but add only their own team members:
    // Bob (cohort B) is as unknown to them as an id that names no one.
    let renamed = teams
        .as_manager(
            Method::PATCH,
            &paths::cohort(a),
            Some(json!({ "name": "Team Alpha" })),
        )
        .await;
    renamed.assert_status(StatusCode::OK);
    assert_eq!(renamed.json()["name"], "Team Alpha");
    let added = teams
        .as_manager(
            Method::POST,
            &paths::cohort_members(a),
            Some(json!({ "user_ids": [teams.bob.id, uuid::Uuid::now_v7(), teams.ann.id] })),
        )
        .await;
    added.assert_status(StatusCode::OK);
    let results: Vec<String> = added.json()["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["result"].as_str().expect("result").to_owned())
        .collect();
    assert_eq!(results, ["unknown_user", "unknown_user", "already_member"]);
    let removed = teams
        .as_manager(
            Method::DELETE,
            &paths::cohort_members(a),
            Some(json!({ "user_ids": [teams.amy.id] })),
        )
        .await;
    assert_eq!(removed.json()["results"][0]["result"], "removed");

    // Creating and deleting cohorts stays with tenant admins.
    teams
        .as_manager(
            Method::POST,
            "/api/v1/cohorts",
            Some(json!({ "name": "My own" })),
        )
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    teams
        .as_manager(Method::DELETE, &paths::cohort(a), None)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");

    // Unassigned, the cohort is gone for them too.
    admin
        .send(Method::DELETE, &paths::cohort_manager(a, &manager.id), None)
        .await
        .assert_status(StatusCode::NO_CONTENT);
    admin
        .send(Method::DELETE, &paths::cohort_manager(a, &manager.id), None)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    teams
        .as_manager(Method::GET, &paths::cohort(a), None)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    let none = teams.as_manager(Method::GET, "/api/v1/cohorts", None).await;
    assert_eq!(none.json()["items"], json!([]));
    let audit = admin.send(Method::GET, "/api/v1/audit-events", None).await;
    for action in ["cohort.manager_assigned", "cohort.manager_unassigned"] {
        assert!(audit.text.contains(action), "{action}");
    }
}

#[tokio::test]
async fn the_team_report_shows_team_members_with_progress_results_and_released_grades_only() {
    let teams = Teams::new().await;
    let Teams {
        s, ann, amy, bob, ..
    } = &teams;
    let c = assessed_course(s, "safety", "Safety").await;
    for who in [ann, amy, bob] {
        s.enroll(&c.course, who)
            .await
            .assert_status(StatusCode::CREATED);
    }
    // Ann reads the text, passes the quiz and submits the essay, graded and held back.
    s.report(&c.course, &c.text, ann, json!({ "complete": true }))
        .await
        .assert_status(StatusCode::OK);
    pass_quiz(s, &c, ann).await;
    let submitted = s
        .submit_assignment(
            &c.course,
            &c.assignment,
            ann,
            &[("text", None, b"My essay")],
        )
        .await;
    submitted.assert_status(StatusCode::CREATED);
    let submission = SubmissionId::of(&submitted.json());
    s.grade(&submission, json!({ "points": 8 }))
        .await
        .assert_status(StatusCode::OK);
    // Bob, outside the manager's teams, passes the quiz too.
    pass_quiz(s, &c, bob).await;

    let page = teams.report(&teams.manager, "").await;
    page.assert_status(StatusCode::OK);
    let page = page.json();
    assert_eq!(sorted(user_ids(&page)), ids_of(&[ann, amy]), "{page}");
    assert!(!page.to_string().contains(&bob.id), "{page}");
    let ann_row = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|r| r["user_id"] == ann.id.as_str())
        .expect("ann")
        .clone();
    assert_eq!(ann_row["course_id"], c.course.as_str());
    assert_eq!(ann_row["course_title"], "Safety");
    assert_eq!(ann_row["display_name"], "Ann");
    assert_eq!(ann_row["status"], "in_progress");
    assert_eq!(ann_row["progress"]["percent"], 66);
    assert_eq!(ann_row["progress"]["required_completed"], 2);
    assert_eq!(ann_row["progress"]["required_total"], 3);
    let quiz = &ann_row["quizzes"][0];
    assert_eq!(quiz["item_id"], c.quiz.as_str());
    assert_eq!(quiz["attempts"], 1);
    assert_eq!(quiz["best_percent"], 100.0);
    assert_eq!(quiz["last_percent"], 100.0);
    assert_eq!(quiz["passed"], true);
    // The grade is held back: the manager sees none of it.
    let essay = &ann_row["assignments"][0];
    assert_eq!(essay["item_id"], c.assignment.as_str());
    assert_eq!(essay["percent"], Value::Null);
    assert_eq!(essay["passed"], Value::Null);
    assert_eq!(essay["released_at"], Value::Null);
    let amy_row = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|r| r["user_id"] == amy.id.as_str())
        .expect("amy")
        .clone();
    assert_eq!(amy_row["quizzes"][0]["attempts"], 0);
    assert_eq!(amy_row["quizzes"][0]["passed"], Value::Null);
    assert_eq!(amy_row["progress"]["percent"], 0);

    // Released, the grade shows and completes Ann's course.
    s.grade(&submission, json!({ "points": 8, "release": true }))
        .await
        .assert_status(StatusCode::OK);
    let completed = teams
        .report(&teams.manager, "?status=completed")
        .await
        .json();
    assert_eq!(user_ids(&completed), ids_of(&[ann]));
    let row = &completed["items"][0];
    assert_eq!(row["status"], "completed");
    assert_eq!(row["progress"]["percent"], 100);
    assert!(row["progress"]["completed_at"].is_string());
    assert_eq!(row["assignments"][0]["percent"], 80.0);
    assert_eq!(row["assignments"][0]["passed"], true);
    assert!(row["assignments"][0]["released_at"].is_string());

    // Filters.
    let in_progress = teams
        .report(&teams.manager, "?status=in_progress")
        .await
        .json();
    assert_eq!(user_ids(&in_progress), ids_of(&[amy]));
    let only_amy = teams
        .report(&teams.manager, &format!("?user_id={}", amy.id))
        .await
        .json();
    assert_eq!(user_ids(&only_amy), ids_of(&[amy]));
    let of_bob = teams
        .report(&teams.manager, &format!("?user_id={}", bob.id))
        .await
        .json();
    assert_eq!(of_bob["items"], json!([]));
    let other = s.published("other", json!({ "title": "Other" })).await;
    s.enroll(&other, amy)
        .await
        .assert_status(StatusCode::CREATED);
    let in_other = teams
        .report(&teams.manager, &format!("?course_id={other}"))
        .await
        .json();
    assert_eq!(user_ids(&in_other), ids_of(&[amy]));
    assert_eq!(in_other["items"][0]["quizzes"], json!([]));
    let in_safety = teams
        .report(&teams.manager, &format!("?course_id={}", c.course))
        .await
        .json();
    assert_eq!(sorted(user_ids(&in_safety)), ids_of(&[ann, amy]));
    let of_a = teams
        .report(&teams.manager, &format!("?cohort_id={}", teams.cohort_a))
        .await
        .json();
    assert_eq!(of_a["items"].as_array().map(Vec::len), Some(3));
    for cohort in [teams.cohort_b.clone(), uuid::Uuid::now_v7().to_string()] {
        for path in [REPORT, REPORT_CSV] {
            s.send(
                Method::GET,
                &format!("{path}?cohort_id={cohort}"),
                &teams.manager,
                None,
            )
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
        }
    }
    for bad in ["?status=active", "?user_id=me", "?limit=0", "?colour=red"] {
        let reply = teams.report(&teams.manager, bad).await;
        assert!(reply.status.is_client_error(), "{bad}: {}", reply.text);
    }

    // Cursor pages: newest enrollment first, every row once.
    let first = teams.report(&teams.manager, "?limit=2").await.json();
    assert_eq!(first["items"].as_array().map(Vec::len), Some(2));
    let cursor = first["next_cursor"].as_str().expect("cursor");
    let second = teams
        .report(&teams.manager, &format!("?limit=2&cursor={cursor}"))
        .await
        .json();
    assert_eq!(second["items"].as_array().map(Vec::len), Some(1));
    assert!(second["next_cursor"].is_null());
    assert_eq!(second["items"][0]["user_id"], ann.id.as_str());
    assert_eq!(first["items"][0]["course_id"], other.as_str());

    // A member who leaves the team leaves the report.
    s.by(&s.t.admin)
        .send(
            Method::DELETE,
            &paths::cohort_members(&teams.cohort_a),
            Some(json!({ "user_ids": [amy.id] })),
        )
        .await
        .assert_status(StatusCode::OK);
    let now = teams.report(&teams.manager, "").await.json();
    assert_eq!(user_ids(&now), ids_of(&[ann]));

    // Tenant admins read the report over every cohort, or one of them.
    let everyone = teams.report(&s.t.admin, "").await.json();
    assert_eq!(sorted(user_ids(&everyone)), ids_of(&[ann, bob]));
    let of_b = teams
        .report(&s.t.admin, &format!("?cohort_id={}", teams.cohort_b))
        .await
        .json();
    assert_eq!(user_ids(&of_b), ids_of(&[bob]));
    assert_eq!(of_b["items"][0]["quizzes"][0]["passed"], true);
}

#[tokio::test]
async fn learners_instructors_and_mentors_get_403_on_team_reports() {
    let teams = Teams::new().await;
    let s = &teams.s;
    let mentor = s
        .app
        .with_roles(SCHOOL, "mentor@acme.example", &["mentor"], &s.t.admin)
        .await;
    let course = s.published("open", json!({ "title": "Open" })).await;
    for who in [&s.t.learner, &teams.ann, &s.teacher, &mentor] {
        for path in [REPORT, REPORT_CSV] {
            s.send(Method::GET, path, who, None)
                .await
                .assert_problem(StatusCode::FORBIDDEN, "forbidden");
        }
        s.send(
            Method::POST,
            &paths::team_enrollments(&course),
            who,
            Some(json!({ "user_ids": [teams.ann.id] })),
        )
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    }
}

#[tokio::test]
async fn the_team_report_exports_as_csv_with_formulas_made_inert() {
    let teams = Teams::new().await;
    let s = &teams.s;
    let evil = named_learner(
        s,
        "evil@acme.example",
        "=HYPERLINK(\"https://evil.example\")",
    )
    .await;
    let quoted = named_learner(s, "quoted@acme.example", "Ann \"The Boss\", Jr").await;
    let plus = named_learner(s, "plus@acme.example", "+1 caller").await;
    s.by(&s.t.admin)
        .add_cohort_members(&teams.cohort_a, json!([evil.id, quoted.id, plus.id]))
        .await;
    let c = assessed_course(s, "formulas", "@SUM(A1:A9)").await;
    for who in [&evil, &quoted, &plus] {
        s.enroll(&c.course, who)
            .await
            .assert_status(StatusCode::CREATED);
    }
    pass_quiz(s, &c, &plus).await;

    let csv = s.send(Method::GET, REPORT_CSV, &teams.manager, None).await;
    csv.assert_status(StatusCode::OK);
    assert!(
        csv.headers["content-type"]
            .to_str()
            .expect("type")
            .starts_with("text/csv"),
        "{:?}",
        csv.headers
    );
    assert!(
        csv.headers["content-disposition"]
            .to_str()
            .expect("disposition")
            .starts_with("attachment")
    );
    // RFC 4180: quotes doubled inside a quoted cell, commas quoted.
    assert!(
        csv.text
            .contains("\"'=HYPERLINK(\"\"https://evil.example\"\")\""),
        "{}",
        csv.text
    );
    assert!(
        csv.text.contains("\"Ann \"\"The Boss\"\", Jr\""),
        "{}",
        csv.text
    );
    let mut reader = csv::Reader::from_reader(csv.text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        header[..4],
        ["enrollment_id", "user_id", "display_name", "email"]
    );
    let column = |name: &str| header.iter().position(|h| h == name).expect(name);
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("record")).collect();
    // Three team members, each with a row per assessment (the quiz and the assignment).
    assert_eq!(records.len(), 6, "{}", csv.text);
    for record in &records {
        assert_eq!(&record[column("course_title")], "'@SUM(A1:A9)");
        let name = &record[column("display_name")];
        assert!(
            !name.starts_with(['=', '+', '-', '@', '\t', '\r']),
            "{name}"
        );
    }
    let plus_quiz = records
        .iter()
        .find(|r| {
            &r[column("user_id")] == plus.id.as_str() && &r[column("assessment_kind")] == "quiz"
        })
        .expect("plus's quiz row");
    assert_eq!(&plus_quiz[column("display_name")], "'+1 caller");
    assert_eq!(&plus_quiz[column("assessment_title")], "Check");
    assert_eq!(&plus_quiz[column("quiz_best_percent")], "100");
    assert_eq!(&plus_quiz[column("passed")], "true");
    assert_eq!(&plus_quiz[column("status")], "in_progress");

    // The CSV takes the same filters.
    let one = s
        .send(
            Method::GET,
            &format!("{REPORT_CSV}?user_id={}&status=in_progress", evil.id),
            &teams.manager,
            None,
        )
        .await;
    one.assert_status(StatusCode::OK);
    assert_eq!(one.text.lines().count(), 3, "{}", one.text);
}

#[tokio::test]
async fn managers_enroll_their_team_members_and_no_one_else() {
    let teams = Teams::new().await;
    let Teams {
        s, ann, amy, bob, ..
    } = &teams;
    let course = s
        .published("onboarding", json!({ "title": "Onboarding" }))
        .await;
    let path = paths::team_enrollments(&course);

    let enrolled = teams
        .as_manager(
            Method::POST,
            &path,
            Some(json!({ "user_ids": [ann.id, amy.id, ann.id] })),
        )
        .await;
    enrolled.assert_status(StatusCode::OK);
    let results: Vec<String> = enrolled.json()["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["result"].as_str().expect("result").to_owned())
        .collect();
    assert_eq!(results, ["enrolled", "enrolled", "already_enrolled"]);
    let mine = s
        .send(Method::GET, "/api/v1/me/enrollments", ann, None)
        .await
        .json();
    assert_eq!(mine["items"][0]["course_id"], course.as_str());
    assert_eq!(mine["items"][0]["source"], "staff");

    // Bob (cohort B), a stranger's id, or any mix with them: 404, and nobody is enrolled.
    let second = s
        .published("advanced", json!({ "title": "Advanced" }))
        .await;
    for user_ids in [
        json!([bob.id]),
        json!([uuid::Uuid::now_v7()]),
        json!([amy.id, bob.id]),
        json!([s.t.learner.id]),
    ] {
        teams
            .as_manager(
                Method::POST,
                &paths::team_enrollments(&second),
                Some(json!({ "user_ids": user_ids })),
            )
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
    }
    let roster = s
        .by(&s.t.admin)
        .send(Method::GET, &paths::enrollments(&second), None)
        .await
        .json();
    assert_eq!(roster["items"], json!([]));

    // Only published courses: a draft is 404 to them, as in the catalog.
    let draft = s.course("draft", json!({ "title": "Draft" })).await;
    teams
        .as_manager(
            Method::POST,
            &paths::team_enrollments(&draft),
            Some(json!({ "user_ids": [ann.id] })),
        )
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    // Capacity applies as in every staff enrollment.
    let small = s
        .published("small", json!({ "title": "Small", "capacity": 1 }))
        .await;
    let filled = teams
        .as_manager(
            Method::POST,
            &paths::team_enrollments(&small),
            Some(json!({ "user_ids": [ann.id, amy.id] })),
        )
        .await;
    assert_eq!(filled.json()["results"][1]["result"], "course_full");

    // Tenant admins enroll members of any cohort, but not users in none.
    let admin = s.by(&s.t.admin);
    let by_admin = admin
        .send(Method::POST, &path, Some(json!({ "user_ids": [bob.id] })))
        .await;
    by_admin.assert_status(StatusCode::OK);
    assert_eq!(by_admin.json()["results"][0]["result"], "enrolled");
    admin
        .send(
            Method::POST,
            &path,
            Some(json!({ "user_ids": [s.t.learner.id] })),
        )
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    let audit = admin.send(Method::GET, "/api/v1/audit-events", None).await;
    assert!(audit.text.contains("enrollment.team_enrolled"));
}

#[tokio::test]
async fn another_tenants_cohorts_courses_and_users_are_404_to_a_manager() {
    let teams = Teams::new().await;
    let s = &teams.s;
    let other = s.app.seed_tenant("globex").await;
    let other_admin = s.app.actor("globex", &other.admin);
    let other_cohort = other_admin
        .create_cohort(json!({ "name": "Globex team" }))
        .await;
    other_admin
        .add_cohort_members(&other_cohort, json!([other.learner.id]))
        .await;
    let other_course = other_admin
        .create_course("globex-course", json!({ "title": "Globex course" }))
        .await;
    other_admin.publish(&other_course).await;

    for path in [
        paths::cohort(&other_cohort),
        paths::cohort_members(&other_cohort),
        paths::cohort_managers(&other_cohort),
        format!("{REPORT}?cohort_id={other_cohort}"),
        format!("{REPORT_CSV}?cohort_id={other_cohort}"),
    ] {
        teams
            .as_manager(Method::GET, &path, None)
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
    }
    teams
        .as_manager(
            Method::POST,
            &paths::team_enrollments(&other_course),
            Some(json!({ "user_ids": [teams.ann.id] })),
        )
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    let course = s.published("ours", json!({ "title": "Ours" })).await;
    teams
        .as_manager(
            Method::POST,
            &paths::team_enrollments(&course),
            Some(json!({ "user_ids": [other.learner.id] })),
        )
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    let of_other = teams
        .report(&teams.manager, &format!("?user_id={}", other.learner.id))
        .await
        .json();
    assert_eq!(of_other["items"], json!([]));
    // Their credentials do not work on the other tenant at all.
    s.app
        .actor("globex", &teams.manager)
        .send(Method::GET, REPORT, None)
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
}
