//! Certificates: templates, issuance on course completion exactly once per learner and course
//! (even when the completion is delivered twice), the minimum-grade rule, issuance and
//! revocation by hand, and who may read what.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{School, TestApp, TestUser, item};

const DEFAULT_TEMPLATE: &str = "/api/v1/certificate-templates/default";
const CERTIFICATES: &str = "/api/v1/certificates";
const MINE: &str = "/api/v1/me/certificates";

fn template(title: &str) -> Value {
    json!({
        "title": title,
        "description": "Shows the holder can steward data.",
        "criteria": "Completed every required lesson of the course.",
        "signatory_name": "Ada Lovelace",
        "signatory_title": "Head of Learning",
        "credit_hours": 12.5,
        "credits": [{ "body": "PMI", "credits": 12.5 }, { "body": "ISC2", "credits": 10 }],
    })
}

fn course_template(course: &str) -> String {
    format!("/api/v1/courses/{course}/certificate-template")
}

/// Waits until no `certificates.issue` job of the database is queued or running.
async fn issuance_settled(app: &TestApp) {
    let mut su = app.db.superuser().await;
    let started = Instant::now();
    loop {
        let busy: i64 = sqlx::query_scalar(
            "select count(*) from jobs
             where kind = 'certificates.issue' and state in ('queued', 'running')",
        )
        .fetch_one(&mut su)
        .await
        .expect("jobs");
        if busy == 0 {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "certificate jobs still busy"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `who`'s certificates (first page).
async fn mine(s: &School, who: &TestUser) -> Vec<Value> {
    s.ok(Method::GET, MINE, who, None).await["items"]
        .as_array()
        .cloned()
        .expect("items")
}

/// A published one-lesson course that `who` is enrolled in.
async fn lesson_course(s: &School, slug: &str, who: &TestUser) -> (String, String) {
    let c = s
        .published_outline(slug, json!({}), vec![vec![item::text("Lesson")]])
        .await;
    s.enroll(&c.course, who)
        .await
        .assert_status(StatusCode::CREATED);
    (c.course.to_string(), c.item(0, 0).to_string())
}

async fn complete(s: &School, course: &str, lesson: &str, who: &TestUser) {
    s.report(course, lesson, who, json!({ "complete": true }))
        .await
        .assert_status(StatusCode::OK);
}

async fn count_events(app: &TestApp, kind: &str) -> i64 {
    let mut su = app.db.superuser().await;
    sqlx::query_scalar("select count(*) from domain_events where kind = $1")
        .bind(kind)
        .fetch_one(&mut su)
        .await
        .expect("events")
}

#[tokio::test]
async fn completing_a_course_issues_one_certificate_even_when_the_completion_comes_twice() {
    let s = School::new().await;
    let admin = &s.t.admin;
    s.ok(
        Method::PUT,
        DEFAULT_TEMPLATE,
        admin,
        Some(template("Data Steward")),
    )
    .await;
    let (course, lesson) = lesson_course(&s, "stewardship", &s.t.learner).await;
    complete(&s, &course, &lesson, &s.t.learner).await;
    issuance_settled(&s.app).await;

    let held = mine(&s, &s.t.learner).await;
    assert_eq!(held.len(), 1, "{held:?}");
    let cert = &held[0];
    assert_eq!(cert["course_id"], course.as_str());
    assert_eq!(cert["user_id"], s.t.learner.id.as_str());
    assert_eq!(cert["source"], "automatic");
    assert_eq!(cert["status"], "valid");
    assert_eq!(cert["title"], "Data Steward");
    assert_eq!(cert["course_title"], "Course stewardship");
    assert_eq!(cert["credit_hours"], 12.5);
    assert_eq!(
        cert["credits"][1],
        json!({ "body": "ISC2", "credits": 10.0 })
    );
    assert_eq!(cert["signatory_name"], "Ada Lovelace");
    assert!(cert["expires_at"].is_null());
    assert_eq!(count_events(&s.app, "certificate.issued").await, 1);

    // The same completion delivered again (a second event with the same data), and the first
    // event's job queued once more: neither issues a second certificate.
    let mut su = s.app.db.superuser().await;
    sqlx::query(
        "insert into domain_events (tenant_id, id, kind, subject_id, payload)
         select tenant_id, gen_random_uuid(), kind, subject_id, payload from domain_events
         where kind = 'course.completed'",
    )
    .execute(&mut su)
    .await
    .expect("second delivery");
    sqlx::query(
        "insert into jobs (tenant_id, id, kind, payload, max_attempts, unique_key)
         select tenant_id, gen_random_uuid(), kind, payload, 20, 'again'
         from jobs where kind = 'certificates.issue' limit 1",
    )
    .execute(&mut su)
    .await
    .expect("job again");
    let jobs: i64 =
        sqlx::query_scalar("select count(*) from jobs where kind = 'certificates.issue'")
            .fetch_one(&mut su)
            .await
            .expect("jobs");
    assert_eq!(jobs, 3, "one job per event, and the one queued again");
    sqlx::query("select pg_notify('lms_jobs', '')")
        .execute(&mut su)
        .await
        .expect("notify");
    issuance_settled(&s.app).await;
    let failed: i64 = sqlx::query_scalar(
        "select count(*) from jobs where kind = 'certificates.issue' and state <> 'succeeded'",
    )
    .fetch_one(&mut su)
    .await
    .expect("jobs");
    assert_eq!(failed, 0);
    assert_eq!(mine(&s, &s.t.learner).await.len(), 1);
    assert_eq!(count_events(&s.app, "certificate.issued").await, 1);

    // The holder reads it; another learner does not see it exists.
    let id = cert["id"].as_str().expect("id");
    s.ok(
        Method::GET,
        &format!("{CERTIFICATES}/{id}"),
        &s.t.learner,
        None,
    )
    .await;
    let other = s.learner("other").await;
    s.send(Method::GET, &format!("{CERTIFICATES}/{id}"), &other, None)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    assert!(mine(&s, &other).await.is_empty());
    s.send(Method::GET, CERTIFICATES, &s.t.learner, None)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn without_a_template_a_completion_issues_nothing_and_a_course_template_wins() {
    let s = School::new().await;
    let admin = &s.t.admin;
    let (course, lesson) = lesson_course(&s, "plain", &s.t.learner).await;
    complete(&s, &course, &lesson, &s.t.learner).await;
    issuance_settled(&s.app).await;
    assert!(mine(&s, &s.t.learner).await.is_empty());

    s.ok(
        Method::PUT,
        DEFAULT_TEMPLATE,
        admin,
        Some(template("Default")),
    )
    .await;
    let (own, own_lesson) = lesson_course(&s, "own", &s.t.learner).await;
    let saved = s
        .ok(
            Method::PUT,
            &course_template(&own),
            admin,
            Some(json!({ "title": "Own", "criteria": "Finish.", "valid_days": 365, "design": "modern" })),
        )
        .await;
    assert_eq!(saved["course_id"], own.as_str());
    assert_eq!(saved["design"], "modern");
    let listed = s
        .ok(Method::GET, "/api/v1/certificate-templates", admin, None)
        .await;
    assert_eq!(listed.as_array().map(Vec::len), Some(2));
    assert!(listed[0]["course_id"].is_null(), "the default comes first");
    complete(&s, &own, &own_lesson, &s.t.learner).await;
    issuance_settled(&s.app).await;
    let held = mine(&s, &s.t.learner).await;
    assert_eq!(held.len(), 1);
    assert_eq!(held[0]["title"], "Own");
    assert_eq!(held[0]["design"], "modern");
    let issued = chrono::DateTime::parse_from_rfc3339(held[0]["issued_at"].as_str().expect("at"))
        .expect("issued_at");
    let expires =
        chrono::DateTime::parse_from_rfc3339(held[0]["expires_at"].as_str().expect("expires"))
            .expect("expires_at");
    assert_eq!(expires - issued, chrono::TimeDelta::days(365));

    // Deleting the course's template: the default applies again; deleting twice: 404.
    s.send(Method::DELETE, &course_template(&own), admin, None)
        .await
        .assert_status(StatusCode::NO_CONTENT);
    s.send(Method::DELETE, &course_template(&own), admin, None)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    s.send(Method::GET, &course_template(&own), admin, None)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    // Templates are the admins'.
    s.send(
        Method::PUT,
        DEFAULT_TEMPLATE,
        &s.teacher,
        Some(template("Mine")),
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn a_template_with_bad_fields_names_each_of_them() {
    let s = School::new().await;
    let reply = s
        .send(
            Method::PUT,
            DEFAULT_TEMPLATE,
            &s.t.admin,
            Some(json!({
                "title": " ",
                "criteria": "",
                "credit_hours": -1,
                "credits": [{ "body": "PMI", "credits": 1.001 }, { "body": "PMI", "credits": 1 }],
                "min_grade_percent": 101,
                "valid_days": 0,
            })),
        )
        .await;
    reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let fields: Vec<String> = reply.json()["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].as_str().expect("field").to_owned())
        .collect();
    for field in [
        "title",
        "criteria",
        "credit_hours",
        "credits[0].credits",
        "credits[1].body",
        "min_grade_percent",
        "valid_days",
    ] {
        assert!(fields.contains(&field.to_owned()), "{field} in {fields:?}");
    }
}

#[tokio::test]
async fn a_final_grade_below_the_minimum_earns_no_certificate() {
    let s = School::new().await;
    let teacher = s.teaching();
    let ids = s
        .one_module("essays", vec![item::assignment("Essay")])
        .await;
    let (course, essay) = (ids.course.to_string(), ids.item(0, 0).to_string());
    teacher
        .set_assignment(
            &course,
            &essay,
            json!({ "points": 10, "accepts_text": true, "passing_percent": 50 }),
        )
        .await
        .assert_status(StatusCode::OK);
    s.publish(&course).await;
    s.ok(
        Method::PUT,
        &course_template(&course),
        &s.t.admin,
        Some(json!({ "title": "Essayist", "criteria": "A graded essay of 90% or more.", "min_grade_percent": 90 })),
    )
    .await;

    let mut holders = Vec::new();
    for (name, points) in [("weak", 8.0), ("strong", 9.5)] {
        let learner = s.enrolled(name, &course).await;
        let submitted = s
            .by(&learner)
            .submit_assignment(&course, &essay, &[("text", None, b"My essay")])
            .await;
        submitted.assert_status(StatusCode::CREATED);
        let submission = submitted.json()["id"].as_str().expect("id").to_owned();
        s.grade(&submission, json!({ "points": points, "release": true }))
            .await
            .assert_status(StatusCode::OK);
        holders.push(learner);
    }
    issuance_settled(&s.app).await;
    assert_eq!(count_events(&s.app, "course.completed").await, 2);
    assert!(mine(&s, &holders[0]).await.is_empty(), "80% is below 90%");
    let strong = mine(&s, &holders[1]).await;
    assert_eq!(strong.len(), 1);
    assert_eq!(strong[0]["grade_percent"], 95.0);
}

#[tokio::test]
async fn admins_issue_and_revoke_by_hand() {
    let s = School::new().await;
    let admin = &s.t.admin;
    let learner = &s.t.learner;
    let course = s.course("manual", json!({})).await;
    let issue = json!({ "course_id": course, "user_id": learner.id });

    s.send(Method::POST, CERTIFICATES, admin, Some(issue.clone()))
        .await
        .assert_problem(StatusCode::CONFLICT, "no_certificate_template");
    s.ok(
        Method::PUT,
        DEFAULT_TEMPLATE,
        admin,
        Some(template("Manual")),
    )
    .await;
    s.send(Method::POST, CERTIFICATES, learner, Some(issue.clone()))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    s.send(
        Method::POST,
        CERTIFICATES,
        admin,
        Some(json!({ "course_id": course, "user_id": uuid::Uuid::now_v7() })),
    )
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let issued = s.by(admin).created(CERTIFICATES, issue.clone()).await;
    assert_eq!(issued["source"], "manual");
    assert_eq!(issued["status"], "valid");
    s.send(Method::POST, CERTIFICATES, admin, Some(issue.clone()))
        .await
        .assert_problem(StatusCode::CONFLICT, "certificate_exists");

    let id = issued["id"].as_str().expect("id");
    let revoke = format!("{CERTIFICATES}/{id}/revoke");
    s.send(Method::POST, &revoke, admin, Some(json!({ "reason": "" })))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    s.send(
        Method::POST,
        &revoke,
        learner,
        Some(json!({ "reason": "Mine to revoke?" })),
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    let revoked = s
        .ok(
            Method::POST,
            &revoke,
            admin,
            Some(json!({ "reason": "Issued to the wrong learner" })),
        )
        .await;
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(revoked["revocation_reason"], "Issued to the wrong learner");
    s.send(
        Method::POST,
        &revoke,
        admin,
        Some(json!({ "reason": "Again" })),
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "certificate_revoked");
    let unknown = format!("{CERTIFICATES}/{}/revoke", uuid::Uuid::now_v7());
    s.send(
        Method::POST,
        &unknown,
        admin,
        Some(json!({ "reason": "Who?" })),
    )
    .await
    .assert_problem(StatusCode::NOT_FOUND, "not_found");

    // Revoked, the learner may hold a new one; both are listed, newest first.
    let again = s.by(admin).created(CERTIFICATES, issue).await;
    let listed = s
        .ok(
            Method::GET,
            &format!("{CERTIFICATES}?course_id={course}"),
            admin,
            None,
        )
        .await;
    let items = listed["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["id"], again["id"]);
    assert_eq!(items[1]["status"], "revoked");
    assert_eq!(count_events(&s.app, "certificate.issued").await, 2);
    assert_eq!(count_events(&s.app, "certificate.revoked").await, 1);
    let mut su = s.app.db.superuser().await;
    let indexes: Vec<i32> =
        sqlx::query_scalar("select status_index from certificates order by status_index")
            .fetch_all(&mut su)
            .await
            .expect("indexes");
    assert_eq!(indexes, vec![0, 1], "each certificate its own status bit");
    let keys: i64 = sqlx::query_scalar("select count(*) from certificate_issuer_keys")
        .fetch_one(&mut su)
        .await
        .expect("keys");
    assert_eq!(keys, 1, "one issuer key per tenant");
}

#[tokio::test]
async fn an_admin_cannot_issue_with_another_tenants_course_or_learner() {
    let s = School::new().await;
    let other = s.app.seed_tenant("other").await;
    let theirs = s
        .app
        .actor("other", &other.admin)
        .create_course("theirs", json!({}))
        .await;
    s.ok(
        Method::PUT,
        DEFAULT_TEMPLATE,
        &s.t.admin,
        Some(template("Ours")),
    )
    .await;
    let ours = s.course("ours", json!({})).await;
    for body in [
        json!({ "course_id": theirs, "user_id": s.t.learner.id }),
        json!({ "course_id": ours, "user_id": other.learner.id }),
    ] {
        let reply = s
            .send(Method::POST, CERTIFICATES, &s.t.admin, Some(body))
            .await;
        reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert!(!reply.text.contains(&other.learner.email));
    }
    s.send(
        Method::PUT,
        &course_template(&theirs),
        &s.t.admin,
        Some(template("X")),
    )
    .await
    .assert_problem(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn the_pdf_is_small_and_embeds_its_fonts() {
    let s = School::new().await;
    let admin = &s.t.admin;
    s.ok(
        Method::PUT,
        DEFAULT_TEMPLATE,
        admin,
        Some(template("Data Steward")),
    )
    .await;
    let course = s.course("pdf", json!({})).await;
    let issued = s
        .by(admin)
        .created(
            CERTIFICATES,
            json!({ "course_id": course, "user_id": s.t.learner.id }),
        )
        .await;
    let id = issued["id"].as_str().expect("id");
    let response = s
        .app
        .client
        .get(format!("{}{CERTIFICATES}/{id}/pdf", s.app.address))
        .header("x-tenant", "acme")
        .bearer_auth(&s.t.learner.access_token)
        .send()
        .await
        .expect("pdf");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/pdf")
    );
    let pdf = response.bytes().await.expect("bytes");
    assert!(pdf.starts_with(b"%PDF-"), "a PDF");
    assert!(
        pdf.len() < 200_000,
        "{} bytes: far below the 1 MB upload limits",
        pdf.len()
    );
    let text = String::from_utf8_lossy(&pdf);
    assert!(text.contains("/FontFile"), "the fonts are embedded");
    // Another learner does not see that it exists.
    let other = s.learner("other").await;
    s.send(
        Method::GET,
        &format!("{CERTIFICATES}/{id}/pdf"),
        &other,
        None,
    )
    .await
    .assert_problem(StatusCode::NOT_FOUND, "not_found");
}
