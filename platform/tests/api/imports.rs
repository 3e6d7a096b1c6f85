//! Bulk CSV imports: dry runs, real runs, re-runs, per-row errors, header and size limits, who
//! may import, and progress polling.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Reply, SCHOOL, School, TestApp, TestUser};

/// Uploads `csv` as a `kind` import (`users` or `enrollments`) by `who`.
async fn upload(app: &TestApp, who: &TestUser, kind: &str, dry_run: bool, csv: &str) -> Reply {
    app.actor(SCHOOL, who)
        .call(
            Method::POST,
            &format!("/api/v1/imports/{kind}?dry_run={dry_run}"),
        )
        .raw(Some("text/csv"), csv.as_bytes().to_vec())
        .send()
        .await
}

/// Uploads `csv`, which must be accepted, and polls the import until it ends; returns it.
async fn import(app: &TestApp, admin: &TestUser, kind: &str, dry_run: bool, csv: &str) -> Value {
    let reply = upload(app, admin, kind, dry_run, csv).await;
    reply.assert_status(StatusCode::ACCEPTED);
    let id = reply.json()["id"].as_str().expect("id").to_owned();
    assert_eq!(
        reply.headers.get("location").and_then(|v| v.to_str().ok()),
        Some(format!("/api/v1/imports/{id}").as_str())
    );
    finished(app, admin, &id).await
}

/// Polls the import until it ends (within 30 seconds); returns it.
async fn ended(app: &TestApp, admin: &TestUser, id: &str) -> Value {
    for _ in 0..300 {
        let import = app
            .actor(SCHOOL, admin)
            .ok(Method::GET, &format!("/api/v1/imports/{id}"), None)
            .await;
        if matches!(import["status"].as_str(), Some("succeeded" | "failed")) {
            return import;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the import {id} did not end")
}

/// Polls the import until it ends, which must be a success; returns it.
async fn finished(app: &TestApp, admin: &TestUser, id: &str) -> Value {
    let import = ended(app, admin, id).await;
    assert_eq!(import["status"], "succeeded", "{import}");
    assert_eq!(import["progress_percent"], 100);
    assert_eq!(import["counts"]["processed"], import["counts"]["total"]);
    import
}

/// Every row of the import as (row number, action, error code).
async fn outcomes(app: &TestApp, admin: &TestUser, id: &str) -> Vec<(i64, String, String)> {
    let page = app
        .actor(SCHOOL, admin)
        .ok(
            Method::GET,
            &format!("/api/v1/imports/{id}/rows?limit=200"),
            None,
        )
        .await;
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| {
            (
                r["row_number"].as_i64().expect("row number"),
                r["action"].as_str().unwrap_or("-").to_owned(),
                r["error_code"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn rows(expected: &[(i64, &str, &str)]) -> Vec<(i64, String, String)> {
    expected
        .iter()
        .map(|(n, a, c)| (*n, (*a).to_owned(), (*c).to_owned()))
        .collect()
}

async fn user_by_email(app: &TestApp, admin: &TestUser, email: &str) -> Option<Value> {
    let page = app
        .actor(SCHOOL, admin)
        .ok(Method::GET, &format!("/api/v1/users?q={email}"), None)
        .await;
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|u| u["email"] == email)
        .cloned()
}

const USERS: &str = "\
email,name,roles,cohort,status
new.one@acme.example,New One,learner;mentor,Spring,
learner@acme.example,Lea Renamed,learner,,
teacher@acme.example,,,,deactivated
not-an-email,Bad Email,,,
new.two@acme.example,New Two,wizard,,
new.three@acme.example,New Three,,Autumn,
NEW.ONE@acme.example,Again,,,
new.four@acme.example,,,,
ghost@acme.example,,,,deactivated
admin@acme.example,,,,deactivated
new.five@acme.example,New Five,,,active,extra
";

fn expected_users(again: bool) -> Vec<(i64, String, String)> {
    let changed = |action| if again { "unchanged" } else { action };
    rows(&[
        (2, changed("created"), ""),
        (3, changed("updated"), ""),
        (4, changed("deactivated"), ""),
        (5, "failed", "invalid_email"),
        (6, "failed", "unknown_role"),
        (7, "failed", "unknown_cohort"),
        (8, "failed", "duplicate_email"),
        (9, "failed", "name_required"),
        (10, "failed", "unknown_user"),
        (11, "failed", "cannot_deactivate_self"),
        (12, "failed", "wrong_cell_count"),
    ])
}

#[tokio::test]
async fn a_users_file_is_dry_run_then_applied_then_unchanged_when_run_again() {
    let s = School::new().await;
    let (app, admin) = (&s.app, &s.t.admin);
    let cohort = s.by(admin).create_cohort(json!({ "name": "Spring" })).await;
    let users_before = app
        .actor(SCHOOL, admin)
        .ok(Method::GET, "/api/v1/users?limit=200", None)
        .await;

    // A dry run reports what every row would do and changes nothing.
    let dry = import(app, admin, "users", true, USERS).await;
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["kind"], "users");
    assert_eq!(
        dry["counts"],
        json!({ "total": 11, "processed": 11, "created": 1, "updated": 1, "unchanged": 0,
                "deactivated": 1, "failed": 8 })
    );
    let id = dry["id"].as_str().expect("id");
    assert_eq!(outcomes(app, admin, id).await, expected_users(false));
    let users_after = app
        .actor(SCHOOL, admin)
        .ok(Method::GET, "/api/v1/users?limit=200", None)
        .await;
    assert_eq!(users_before["items"], users_after["items"]);
    app.me(SCHOOL, &s.teacher.access_token)
        .await
        .assert_status(StatusCode::OK);

    // The real run: created (invited, emailed, in the cohort), renamed, deactivated.
    let real = import(app, admin, "users", false, USERS).await;
    assert_eq!(real["counts"], dry["counts"]);
    let real_id = real["id"].as_str().expect("id");
    assert_eq!(outcomes(app, admin, real_id).await, expected_users(false));
    let created = user_by_email(app, admin, "new.one@acme.example")
        .await
        .expect("created");
    assert_eq!(created["status"], "invited");
    assert_eq!(created["display_name"], "New One");
    assert_eq!(created["roles"], json!(["learner", "mentor"]));
    assert!(
        app.last_email_to("new.one@acme.example")
            .await
            .contains("accept-invitation")
    );
    let members = app
        .actor(SCHOOL, admin)
        .ok(
            Method::GET,
            &format!("/api/v1/cohorts/{}/members", cohort.as_str()),
            None,
        )
        .await;
    assert_eq!(members["items"][0]["email"], "new.one@acme.example");
    let learner = user_by_email(app, admin, "learner@acme.example")
        .await
        .expect("learner");
    assert_eq!(learner["display_name"], "Lea Renamed");
    let teacher = user_by_email(app, admin, "teacher@acme.example")
        .await
        .expect("teacher");
    assert_eq!(teacher["status"], "deactivated");
    // Deactivation ends the user's sessions, as the API's does.
    app.me(SCHOOL, &s.teacher.access_token)
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
    let events = app
        .actor(SCHOOL, admin)
        .ok(Method::GET, "/api/v1/events?type=user.created", None)
        .await;
    assert!(events.to_string().contains("new.one@acme.example"));
    let audit = app
        .actor(SCHOOL, admin)
        .send(Method::GET, "/api/v1/audit-events?limit=200", None)
        .await;
    for action in [
        "import.created",
        "user.invited",
        "user.renamed",
        "user.deactivated",
        "cohort.members_added",
    ] {
        assert!(audit.text.contains(action), "{action}");
    }

    // The same file again: nothing to do, and the invited user is not invited twice.
    let again = import(app, admin, "users", false, USERS).await;
    assert_eq!(
        again["counts"],
        json!({ "total": 11, "processed": 11, "created": 0, "updated": 0, "unchanged": 3,
                "deactivated": 0, "failed": 8 })
    );
    let again_id = again["id"].as_str().expect("id");
    assert_eq!(outcomes(app, admin, again_id).await, expected_users(true));
    let invitations: i64 = sqlx::query_scalar(
        "select count(*) from jobs where kind = 'email.send' and payload->>'to' = 'new.one@acme.example'",
    )
    .fetch_one(&mut app.db.superuser().await)
    .await
    .expect("count");
    assert_eq!(invitations, 1);

    // Every import of the tenant, newest first.
    let list = app
        .actor(SCHOOL, admin)
        .ok(Method::GET, "/api/v1/imports", None)
        .await;
    let ids: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, vec![again_id, real_id, id]);
}

#[tokio::test]
async fn roles_change_and_the_last_admin_stays() {
    let s = School::new().await;
    let (app, admin) = (&s.app, &s.t.admin);
    let csv = "email,roles\nteacher@acme.example,instructor;corporate_manager\n";
    let done = import(app, admin, "users", false, csv).await;
    assert_eq!(done["counts"]["updated"], 1);
    let teacher = user_by_email(app, admin, "teacher@acme.example")
        .await
        .expect("teacher");
    assert_eq!(teacher["roles"], json!(["instructor", "corporate_manager"]));
    // A role change ends the user's sessions, as the API's does.
    app.me(SCHOOL, &s.teacher.access_token)
        .await
        .assert_status(StatusCode::UNAUTHORIZED);

    // Taking the role from the only active admin would leave the organisation without one.
    let csv = "email,roles\nadmin@acme.example,learner\n";
    let done = import(app, admin, "users", false, csv).await;
    let id = done["id"].as_str().expect("id");
    assert_eq!(
        outcomes(app, admin, id).await,
        rows(&[(2, "failed", "last_admin")])
    );
}

#[tokio::test]
async fn rows_page_in_file_order_and_failed_rows_download_as_inert_csv() {
    let s = School::new().await;
    let (app, admin) = (&s.app, &s.t.admin);
    let csv = "email,name\n=cmd|' /C calc'!A0,@SUM(1+1)\nok@acme.example,-2+3\n\
               +bad,Plain\nok2@acme.example,Ok\n";
    let done = import(app, admin, "users", false, csv).await;
    let id = done["id"].as_str().expect("id");
    let first = app
        .actor(SCHOOL, admin)
        .ok(
            Method::GET,
            &format!("/api/v1/imports/{id}/rows?limit=2"),
            None,
        )
        .await;
    assert_eq!(first["items"][0]["row_number"], 2);
    assert_eq!(first["items"][1]["row_number"], 3);
    assert_eq!(first["items"][0]["cells"][1], "@SUM(1+1)");
    let cursor = first["next_cursor"].as_str().expect("cursor");
    let second = app
        .actor(SCHOOL, admin)
        .ok(
            Method::GET,
            &format!("/api/v1/imports/{id}/rows?limit=2&cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(second["items"][0]["row_number"], 4);
    assert_eq!(second["items"][1]["row_number"], 5);
    assert!(second["next_cursor"].is_null());
    let failed = app
        .actor(SCHOOL, admin)
        .ok(
            Method::GET,
            &format!("/api/v1/imports/{id}/rows?action=failed"),
            None,
        )
        .await;
    assert_eq!(failed["items"].as_array().map(Vec::len), Some(2));

    let reply = app
        .actor(SCHOOL, admin)
        .send(
            Method::GET,
            &format!("/api/v1/imports/{id}/errors.csv"),
            None,
        )
        .await;
    reply.assert_status(StatusCode::OK);
    assert!(
        reply
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/csv"))
    );
    let mut reader = csv::Reader::from_reader(reply.text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        header,
        vec!["row_number", "error_code", "error_message", "email", "name"]
    );
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("record")).collect();
    assert_eq!(records.len(), 2);
    assert_eq!(&records[0][0], "2");
    assert_eq!(&records[0][1], "invalid_email");
    assert_eq!(&records[0][3], "'=cmd|' /C calc'!A0");
    assert_eq!(&records[0][4], "'@SUM(1+1)");
    assert_eq!(&records[1][3], "'+bad");
}

#[tokio::test]
async fn wrong_files_are_refused_at_once_naming_the_problem() {
    let s = School::new().await;
    let (app, admin) = (&s.app, &s.t.admin);
    let reply = upload(
        app,
        admin,
        "users",
        false,
        "Email,nickname,email\na@b.co,x,y\n",
    )
    .await;
    reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let errors = reply.json()["errors"].clone();
    assert_eq!(errors[0]["field"], "nickname");
    assert_eq!(errors[0]["code"], "unknown_column");
    assert_eq!(errors[1]["field"], "email");
    assert_eq!(errors[1]["code"], "duplicate_column");
    let reply = upload(app, admin, "enrollments", false, "email,cohort\na@b.co,x\n").await;
    reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(reply.json()["errors"][0]["field"], "course");
    assert_eq!(reply.json()["errors"][0]["code"], "missing_column");
    upload(app, admin, "users", false, "")
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    upload(app, admin, "users", false, "email\n")
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

    // 10,000 rows are taken; one more is refused before anything is stored.
    let mut big = String::from("email\n");
    for i in 0..10_001 {
        big.push_str(&format!("u{i}@acme.example\n"));
    }
    upload(app, admin, "users", true, &big)
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "too_many_rows");
    // More than 5 MiB is refused whole.
    let mut huge = String::from("email,name\n");
    while huge.len() <= 5 << 20 {
        huge.push_str(&format!("someone@acme.example,{}\n", "x".repeat(180)));
    }
    upload(app, admin, "users", true, &huge)
        .await
        .assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    app.actor(SCHOOL, admin)
        .call(Method::POST, "/api/v1/imports/users")
        .json(json!({ "email": "a@b.co" }))
        .send()
        .await
        .assert_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    upload(app, admin, "users", false, "email\n\0@acme.example\n")
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "nul_character");
    let imports = app
        .actor(SCHOOL, admin)
        .ok(Method::GET, "/api/v1/imports", None)
        .await;
    assert_eq!(imports["items"], json!([]));

    // A multipart form's `file` is taken too, with its name.
    let boundary = "XyZimportBoundary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"people.csv\"\r\n\
         Content-Type: text/csv\r\n\r\nemail,name\nform.user@acme.example,Form User\r\n--{boundary}--\r\n"
    );
    let reply = app
        .actor(SCHOOL, admin)
        .call(Method::POST, "/api/v1/imports/users?dry_run=true")
        .raw(
            Some(&format!("multipart/form-data; boundary={boundary}")),
            body.into_bytes(),
        )
        .send()
        .await;
    reply.assert_status(StatusCode::ACCEPTED);
    assert_eq!(reply.json()["file_name"], "people.csv");
    let id = reply.json()["id"].as_str().expect("id").to_owned();
    let done = finished(app, admin, &id).await;
    assert_eq!(done["counts"]["created"], 1);
}

#[tokio::test]
async fn only_tenant_admins_import() {
    let s = School::new().await;
    let (app, admin) = (&s.app, &s.t.admin);
    let done = import(app, admin, "users", true, "email,name\nx@acme.example,X\n").await;
    let id = done["id"].as_str().expect("id");
    for who in [&s.teacher, &s.t.learner] {
        for kind in ["users", "enrollments"] {
            upload(app, who, kind, false, "email,course\nx@acme.example,c\n")
                .await
                .assert_problem(StatusCode::FORBIDDEN, "forbidden");
        }
        for path in [
            "/api/v1/imports".to_owned(),
            format!("/api/v1/imports/{id}"),
            format!("/api/v1/imports/{id}/rows"),
            format!("/api/v1/imports/{id}/errors.csv"),
        ] {
            app.actor(SCHOOL, who)
                .send(Method::GET, &path, None)
                .await
                .assert_problem(StatusCode::FORBIDDEN, "forbidden");
        }
    }
}

#[tokio::test]
async fn an_import_whose_uploader_is_no_longer_an_admin_fails_and_changes_nothing() {
    let s = School::new().await;
    let (app, admin) = (&s.app, &s.t.admin);
    // An import queued by the teacher, as if they had lost the admin role since uploading.
    let id = uuid::Uuid::now_v7();
    let mut db = app.db.superuser().await;
    sqlx::query(
        "insert into imports (tenant_id, id, kind, dry_run, columns, total, created_by)
         values ($1::uuid, $2, 'users', false, '{email,name}', 1, $3::uuid)",
    )
    .bind(&s.t.id)
    .bind(id)
    .bind(&s.teacher.id)
    .execute(&mut db)
    .await
    .expect("import");
    sqlx::query(
        "insert into import_rows (tenant_id, import_id, row_number, cells)
         values ($1::uuid, $2, 2, '{x@acme.example,X}')",
    )
    .bind(&s.t.id)
    .bind(id)
    .execute(&mut db)
    .await
    .expect("row");
    sqlx::query(
        "insert into jobs (tenant_id, id, kind, payload, max_attempts)
         values ($1::uuid, $2, 'imports.run', jsonb_build_object('import_id', $3::text), 3)",
    )
    .bind(&s.t.id)
    .bind(uuid::Uuid::now_v7())
    .bind(id.to_string())
    .execute(&mut db)
    .await
    .expect("job");
    let done = ended(app, admin, &id.to_string()).await;
    assert_eq!(done["status"], "failed");
    assert!(
        done["error"]
            .as_str()
            .is_some_and(|e| e.contains("no longer an active tenant admin"))
    );
    assert_eq!(done["counts"]["processed"], 0);
    assert!(user_by_email(app, admin, "x@acme.example").await.is_none());
}

#[tokio::test]
async fn an_enrollments_file_enrolls_and_reports_every_row() {
    let s = School::new().await;
    let (app, admin) = (&s.app, &s.t.admin);
    let open = s.published("open-course", json!({})).await;
    let small = s.published("small-course", json!({ "capacity": 1 })).await;
    s.course("draft-course", json!({})).await;
    let cohort = s.by(admin).create_cohort(json!({ "name": "Team A" })).await;
    s.enrolled("taken", &small).await;
    let second = s.learner("second").await;
    let gone = s.learner("gone").await;
    app.actor(SCHOOL, admin)
        .ok(
            Method::POST,
            &format!("/api/v1/users/{}/deactivate", gone.id),
            None,
        )
        .await;
    // Another tenant's published course, named by its id.
    let other = app.seed_tenant("globex").await;
    let foreign = app
        .actor("globex", &other.admin)
        .create_course("foreign-course", json!({}))
        .await;
    app.actor("globex", &other.admin).publish(&foreign).await;
    // A user invited by a users file can be enrolled before accepting.
    import(
        app,
        admin,
        "users",
        false,
        "email,name\ninvited@acme.example,Invited\n",
    )
    .await;

    let csv = format!(
        "email,course,cohort\n\
         learner@acme.example,open-course,Team A\n\
         second@acme.example,{open},\n\
         invited@acme.example,OPEN-COURSE,\n\
         learner@acme.example,open-course,\n\
         second@acme.example,small-course,\n\
         nobody@acme.example,open-course,\n\
         gone@acme.example,open-course,\n\
         second@acme.example,no-such-course,\n\
         second@acme.example,{foreign},\n\
         second@acme.example,draft-course,\n\
         second@acme.example,open-course,No Such Team\n",
        open = open.as_str(),
        foreign = foreign.as_str(),
    );
    let expected = |again: bool| {
        let created = if again { "unchanged" } else { "created" };
        rows(&[
            (2, created, ""),
            (3, created, ""),
            (4, created, ""),
            (5, "failed", "duplicate_row"),
            (6, "failed", "course_full"),
            (7, "failed", "unknown_user"),
            (8, "failed", "user_deactivated"),
            (9, "failed", "unknown_course"),
            (10, "failed", "unknown_course"),
            (11, "failed", "course_not_published"),
            (12, "failed", "unknown_cohort"),
        ])
    };
    let dry = import(app, admin, "enrollments", true, &csv).await;
    assert_eq!(
        outcomes(app, admin, dry["id"].as_str().expect("id")).await,
        expected(false)
    );
    let roster = format!("/api/v1/courses/{}/enrollments", open.as_str());
    let before = app
        .actor(SCHOOL, admin)
        .ok(Method::GET, &roster, None)
        .await;
    assert_eq!(before["items"], json!([]));

    let real = import(app, admin, "enrollments", false, &csv).await;
    assert_eq!(
        outcomes(app, admin, real["id"].as_str().expect("id")).await,
        expected(false)
    );
    assert_eq!(real["counts"]["created"], 3);
    let after = app
        .actor(SCHOOL, admin)
        .ok(Method::GET, &roster, None)
        .await;
    assert_eq!(after["items"].as_array().map(Vec::len), Some(3));
    assert_eq!(after["items"][0]["source"], "staff");
    let members = app
        .actor(SCHOOL, admin)
        .ok(
            Method::GET,
            &format!("/api/v1/cohorts/{}/members", cohort.as_str()),
            None,
        )
        .await;
    assert_eq!(members["items"][0]["email"], "learner@acme.example");
    let events = app
        .actor(SCHOOL, admin)
        .ok(Method::GET, "/api/v1/events?type=enrollment.created", None)
        .await;
    assert!(events["items"].as_array().is_some_and(|e| e.len() >= 3));
    // The learner sees the course in their learning.
    let mine = app
        .actor(SCHOOL, &second)
        .ok(Method::GET, "/api/v1/me/enrollments", None)
        .await;
    assert_eq!(mine["items"][0]["course_slug"], "open-course");

    let again = import(app, admin, "enrollments", false, &csv).await;
    assert_eq!(
        outcomes(app, admin, again["id"].as_str().expect("id")).await,
        expected(true)
    );
    // Nothing reached the other tenant.
    let foreign_roster = app
        .actor("globex", &other.admin)
        .ok(
            Method::GET,
            &format!("/api/v1/courses/{}/enrollments", foreign.as_str()),
            None,
        )
        .await;
    assert_eq!(foreign_roster["items"], json!([]));
}
