//! The audit trail: what tenant admins read, and that nobody rewrites it.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Reply, TestApp, TestTenant, paths};

async fn trail(app: &TestApp, t: &TestTenant, query: &str) -> Reply {
    let reply = app
        .get(&format!("/api/v1/audit-events{query}"))
        .tenant(&t.slug)
        .bearer(&t.admin.access_token)
        .send()
        .await;
    reply.assert_status(StatusCode::OK);
    reply
}

fn items(reply: &Reply) -> Vec<Value> {
    reply.json()["items"].as_array().cloned().expect("items")
}

#[tokio::test]
async fn admins_read_who_did_what_newest_first() {
    let (app, t) = TestApp::with_tenant("acme").await;
    let invited = app
        .post("/api/v1/users/invitations")
        .tenant("acme")
        .bearer(&t.admin.access_token)
        .json(
            json!({ "email": "ivy@acme.example", "display_name": "Ivy", "roles": ["instructor"] }),
        )
        .send()
        .await;
    invited.assert_status(StatusCode::CREATED);
    let ivy = invited.json()["id"].as_str().expect("id").to_owned();
    app.post(&paths::user_deactivate(&t.learner.id))
        .tenant("acme")
        .bearer(&t.admin.access_token)
        .send()
        .await
        .assert_status(StatusCode::OK);

    let all = items(&trail(&app, &t, "").await);
    let actions: Vec<&str> = all.iter().filter_map(|e| e["action"].as_str()).collect();
    // Newest first: the deactivation, then the invitation, then what seeding did.
    assert_eq!(
        &actions[..2],
        ["user.deactivated", "user.invited"],
        "{actions:?}"
    );
    for expected in [
        "tenant.created",
        "user.invitation_accepted",
        "user.registered",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} missing from {actions:?}"
        );
    }
    let ids: Vec<Uuid> = all
        .iter()
        .map(|e| e["id"].as_str().expect("id").parse().expect("uuid"))
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(ids, sorted, "not newest first");
    let times: Vec<&str> = all
        .iter()
        .filter_map(|e| e["created_at"].as_str())
        .collect();
    assert_eq!(times.len(), all.len());

    let deactivated = &all[0];
    assert_eq!(deactivated["actor_kind"], "user");
    assert_eq!(deactivated["actor_id"], t.admin.id.as_str());
    assert_eq!(deactivated["target_type"], "user");
    assert_eq!(deactivated["target_id"], t.learner.id.as_str());
    assert_eq!(deactivated["ip"], "127.0.0.1");
    let invitation = &all[1];
    assert_eq!(invitation["actor_kind"], "user");
    assert_eq!(invitation["actor_id"], t.admin.id.as_str());
    assert_eq!(invitation["target_id"], ivy.as_str());
    assert_eq!(invitation["ip"], "127.0.0.1");
    assert_eq!(invitation["details"]["roles"], json!(["instructor"]));
    // The operator's invitation of the first admin has no user actor and no address.
    let first = all
        .iter()
        .rev()
        .find(|e| e["action"] == "user.invited")
        .expect("operator invitation");
    assert_eq!(first["actor_kind"], "operator");
    assert!(first["actor_id"].is_null());
    // Nothing secret is in the trail.
    let text = trail(&app, &t, "?limit=200").await.text;
    for secret in [
        crate::helpers::PASSWORD,
        "token=",
        "password_hash",
        "$argon2",
    ] {
        assert!(!text.contains(secret), "{secret} in the audit trail");
    }

    // The action filter.
    let only = items(&trail(&app, &t, "?action=user.invited").await);
    assert_eq!(only.len(), 2, "{only:?}");
    assert!(only.iter().all(|e| e["action"] == "user.invited"));
    assert_eq!(only[0]["target_id"], ivy.as_str());
    let none = items(&trail(&app, &t, "?action=user.nothing").await);
    assert!(none.is_empty());
    let deactivations = items(&trail(&app, &t, "?action=user.deactivated").await);
    assert_eq!(deactivations.len(), 1);

    // Cursor pages through the whole trail once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("?limit=2&cursor={c}"),
            None => "?limit=2".to_owned(),
        };
        let page = trail(&app, &t, &query).await;
        seen.extend(items(&page).iter().map(|e| e["id"].clone()));
        cursor = page.json()["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
        assert!(seen.len() <= all.len(), "paging does not end");
    }
    let all_ids: Vec<Value> = all.iter().map(|e| e["id"].clone()).collect();
    assert_eq!(seen, all_ids);
}

#[tokio::test]
async fn only_admins_read_the_trail() {
    let (app, t) = TestApp::with_tenant("acme").await;
    app.get("/api/v1/audit-events")
        .tenant("acme")
        .bearer(&t.learner.access_token)
        .send()
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    app.get("/api/v1/audit-events")
        .tenant("acme")
        .send()
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "missing_token");
    // A deactivated admin's token no longer reads it.
    let second = app.register("acme", "second@acme.example").await;
    app.call(reqwest::Method::PUT, &paths::user_roles(&second.id))
        .tenant("acme")
        .bearer(&t.admin.access_token)
        .json(json!({ "roles": ["tenant_admin"] }))
        .send()
        .await
        .assert_status(StatusCode::OK);
    let second = crate::helpers::user_from_session(
        &app.login("acme", &second.email, crate::helpers::PASSWORD)
            .await
            .json(),
        &second.email,
    );
    app.post(&paths::user_deactivate(&second.id))
        .tenant("acme")
        .bearer(&t.admin.access_token)
        .send()
        .await
        .assert_status(StatusCode::OK);
    app.get("/api/v1/audit-events")
        .tenant("acme")
        .bearer(&second.access_token)
        .send()
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_token");
}

async fn refused(conn: &mut sqlx::PgConnection, sql: &str) -> String {
    match sqlx::raw_sql(sql).execute(&mut *conn).await {
        Ok(done) => panic!("`{sql}` was allowed ({} rows)", done.rows_affected()),
        Err(err) => err.to_string(),
    }
}

#[tokio::test]
async fn nobody_rewrites_history() {
    let (app, t) = TestApp::with_tenant("acme").await;
    let mut su = app.db.superuser().await;
    let before: i64 = sqlx::query_scalar("select count(*) from audit_events")
        .fetch_one(&mut su)
        .await
        .expect("count");
    assert!(before > 0);

    // Not even the superuser, who bypasses every grant and policy.
    for sql in [
        "update audit_events set action = 'nothing.happened'",
        "update audit_events set details = '{}' where action = 'user.registered'",
        "delete from audit_events",
        "delete from audit_events where action = 'tenant.created'",
        "truncate audit_events",
    ] {
        let error = refused(&mut su, sql).await;
        assert!(error.contains("append-only"), "`{sql}`: {error}");
    }

    // The app role has neither the grant nor a way around it, whatever its tenant context.
    let mut conn = app.db.connect_as("lms_app").await;
    for sql in [
        format!(
            "begin; select set_config('app.tenant_id', '{}', true); update audit_events set action = 'x'",
            t.id
        ),
        format!(
            "begin; select set_config('app.tenant_id', '{}', true); delete from audit_events",
            t.id
        ),
        format!(
            "begin; select set_config('app.tenant_id', '{}', true); truncate audit_events",
            t.id
        ),
    ] {
        let error = refused(&mut conn, &sql).await;
        assert!(error.contains("permission denied"), "`{sql}`: {error}");
        sqlx::raw_sql("rollback")
            .execute(&mut conn)
            .await
            .expect("rollback");
    }
    // The operator role may append (operator actions) but not rewrite either.
    let mut operator = app.db.connect_as("lms_operator").await;
    for sql in [
        "update audit_events set action = 'x'",
        "delete from audit_events",
        "truncate audit_events",
    ] {
        let error = refused(&mut operator, sql).await;
        assert!(error.contains("permission denied"), "`{sql}`: {error}");
    }

    let after: i64 = sqlx::query_scalar("select count(*) from audit_events")
        .fetch_one(&mut su)
        .await
        .expect("count");
    assert_eq!(after, before);
    let untouched: i64 = sqlx::query_scalar(
        "select count(*) from audit_events where action = 'nothing.happened' or action = 'x'",
    )
    .fetch_one(&mut su)
    .await
    .expect("count");
    assert_eq!(untouched, 0);
    // Appending still works.
    app.post(&paths::user_deactivate(&t.learner.id))
        .tenant("acme")
        .bearer(&t.admin.access_token)
        .send()
        .await
        .assert_status(StatusCode::OK);
    let appended: i64 = sqlx::query_scalar("select count(*) from audit_events")
        .fetch_one(&mut su)
        .await
        .expect("count");
    assert_eq!(appended, before + 1);
}
