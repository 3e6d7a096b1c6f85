//! Tenant-admin user management: listing with search, filters and stable cursor pages; invitations;
//! roles; deactivation; and the rules that keep a tenant from locking itself out.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Reply, TestApp, TestTenant, paths};

async fn admin_get(app: &TestApp, tenant: &TestTenant, path: &str) -> Reply {
    app.get(path)
        .tenant(&tenant.slug)
        .bearer(&tenant.admin.access_token)
        .send()
        .await
}

fn emails(reply: &Reply) -> BTreeSet<String> {
    reply.json()["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|u| u["email"].as_str().expect("email").to_owned())
        .collect()
}

async fn outbox_count(app: &TestApp, recipient: &str) -> i64 {
    let mut su = app.db.superuser().await;
    sqlx::query_scalar(
        "select count(*) from jobs where kind = 'email.send' and payload->>'to' = $1",
    )
    .bind(recipient)
    .fetch_one(&mut su)
    .await
    .expect("outbox count")
}

async fn invite(
    app: &TestApp,
    tenant: &TestTenant,
    email: &str,
    name: &str,
    roles: Value,
) -> Reply {
    app.post("/api/v1/users/invitations")
        .tenant(&tenant.slug)
        .bearer(&tenant.admin.access_token)
        .json(json!({ "email": email, "display_name": name, "roles": roles }))
        .send()
        .await
}

#[tokio::test]
async fn admins_search_and_filter_users() {
    let (app, t) = TestApp::with_tenant("acme").await;
    invite(
        &app,
        &t,
        "ivy@acme.example",
        "Ivy Instructor",
        json!(["instructor"]),
    )
    .await
    .assert_status(StatusCode::CREATED);
    invite(
        &app,
        &t,
        "max@acme.example",
        "Max Mentor",
        json!(["mentor", "learner"]),
    )
    .await
    .assert_status(StatusCode::CREATED);
    app.register("acme", "sam_smith@acme.example").await;

    let all = admin_get(&app, &t, "/api/v1/users").await;
    all.assert_status(StatusCode::OK);
    assert_eq!(emails(&all).len(), 5, "{}", all.text);

    let cases: &[(&str, &[&str])] = &[
        // Substring of the email or the display name, case-insensitive.
        ("q=ivy", &["ivy@acme.example"]),
        ("q=MENTOR", &["max@acme.example"]),
        ("q=%20ivy%20", &["ivy@acme.example"]),
        (
            "q=acme.example",
            &[
                "admin@acme.example",
                "learner@acme.example",
                "ivy@acme.example",
                "max@acme.example",
                "sam_smith@acme.example",
            ],
        ),
        ("q=nobody", &[]),
        // LIKE wildcards are matched literally.
        ("q=%25", &[]),
        ("q=_", &["sam_smith@acme.example"]),
        ("role=instructor", &["ivy@acme.example"]),
        (
            "role=learner",
            &[
                "learner@acme.example",
                "max@acme.example",
                "sam_smith@acme.example",
            ],
        ),
        ("role=tenant_admin", &["admin@acme.example"]),
        ("role=corporate_manager", &[]),
        ("status=invited", &["ivy@acme.example", "max@acme.example"]),
        (
            "status=active",
            &[
                "admin@acme.example",
                "learner@acme.example",
                "sam_smith@acme.example",
            ],
        ),
        ("status=deactivated", &[]),
        ("role=learner&status=invited", &["max@acme.example"]),
        ("q=max&role=instructor", &[]),
    ];
    for (query, expected) in cases {
        let reply = admin_get(&app, &t, &format!("/api/v1/users?{query}")).await;
        reply.assert_status(StatusCode::OK);
        let expected: BTreeSet<String> = expected.iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(emails(&reply), expected, "{query}: {}", reply.text);
    }

    // Listed users carry what the admin needs and nothing secret.
    let ivy = admin_get(&app, &t, "/api/v1/users?q=ivy").await.json()["items"][0].clone();
    assert_eq!(ivy["display_name"], "Ivy Instructor");
    assert_eq!(ivy["roles"], json!(["instructor"]));
    assert_eq!(ivy["status"], "invited");
    assert_eq!(ivy["tenant_id"], t.id.as_str());
    let text = ivy.to_string();
    for secret in ["password", "hash", "session_epoch", "token"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    let one = admin_get(&app, &t, &paths::user(ivy["id"].as_str().expect("id"))).await;
    one.assert_status(StatusCode::OK);
    assert_eq!(one.json()["email"], "ivy@acme.example");
    admin_get(&app, &t, &paths::user(uuid::Uuid::now_v7()))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");

    // Unknown filter values and unknown parameters are client errors.
    for query in ["role=superuser", "status=gone", "sort=email"] {
        admin_get(&app, &t, &format!("/api/v1/users?{query}"))
            .await
            .assert_problem(StatusCode::BAD_REQUEST, "invalid_query");
    }
}

#[tokio::test]
async fn cursor_pages_visit_every_user_once_while_others_sign_up() {
    let (app, t) = TestApp::with_tenant("acme").await;
    for i in 0..5 {
        app.register("acme", &format!("user{i}@acme.example")).await;
    }
    let before = emails(&admin_get(&app, &t, "/api/v1/users?limit=200").await);
    assert_eq!(before.len(), 7);

    let mut seen: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/users?limit=2&cursor={c}"),
            None => "/api/v1/users?limit=2".to_owned(),
        };
        let page = admin_get(&app, &t, &path).await;
        page.assert_status(StatusCode::OK);
        let body = page.json();
        let items = body["items"].as_array().expect("items");
        assert!(items.len() <= 2, "{}", page.text);
        seen.extend(
            items
                .iter()
                .map(|u| u["email"].as_str().expect("email").to_owned()),
        );
        pages += 1;
        // Someone signs up between every two page fetches.
        app.register("acme", &format!("late{pages}@acme.example"))
            .await;
        cursor = body["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
        assert!(pages < 20, "paging does not end");
    }
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        seen.len(),
        "a user was listed twice: {seen:?}"
    );
    assert_eq!(
        unique, before,
        "pages did not visit exactly the users present at the start"
    );
    assert_eq!(pages, 4);

    // The late sign-ups are there for a fresh listing, newest first.
    let after = admin_get(&app, &t, "/api/v1/users?limit=3").await;
    let first: Vec<String> = after.json()["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|u| u["email"].as_str().expect("email").to_owned())
        .collect();
    assert_eq!(
        first,
        [
            "late4@acme.example",
            "late3@acme.example",
            "late2@acme.example"
        ]
    );
}

#[tokio::test]
async fn learners_cannot_use_admin_endpoints() {
    let (app, t) = TestApp::with_tenant("acme").await;
    let admin_id = t.admin.id.as_str();
    let calls: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/api/v1/users".into(), None),
        (Method::GET, paths::user(admin_id), None),
        (
            Method::POST,
            "/api/v1/users/invitations".into(),
            Some(
                json!({ "email": "friend@acme.example", "display_name": "Friend", "roles": ["tenant_admin"] }),
            ),
        ),
        (
            Method::PUT,
            paths::user_roles(&t.learner.id),
            Some(json!({ "roles": ["tenant_admin"] })),
        ),
        (Method::POST, paths::user_deactivate(admin_id), None),
        (Method::POST, paths::user_reactivate(admin_id), None),
        (Method::GET, "/api/v1/audit-events".into(), None),
        (
            Method::PATCH,
            "/api/v1/tenant".into(),
            Some(json!({ "display_name": "Mine now" })),
        ),
    ];
    for (method, path, body) in calls {
        let mut call = app
            .call(method.clone(), &path)
            .tenant("acme")
            .bearer(&t.learner.access_token);
        if let Some(body) = body {
            call = call.json(body);
        }
        call.send()
            .await
            .assert_problem(StatusCode::FORBIDDEN, "forbidden");
        // And without any token: 401.
        let reply = app.call(method.clone(), &path).tenant("acme").send().await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}: {}",
            reply.text
        );
    }
    // Nothing changed: the learner is still a learner, the admin still active.
    let me = app
        .get("/api/v1/auth/me")
        .tenant("acme")
        .bearer(&t.learner.access_token)
        .send()
        .await;
    me.assert_status(StatusCode::OK);
    assert_eq!(me.json()["roles"], json!(["learner"]));
    let admin = admin_get(&app, &t, &paths::user(admin_id)).await;
    assert_eq!(admin.json()["status"], "active");
    let friend = admin_get(&app, &t, "/api/v1/users?q=friend").await;
    assert_eq!(friend.json()["items"], json!([]));
}

#[tokio::test]
async fn invitations_create_invited_users_once() {
    let (app, t) = TestApp::with_tenant("acme").await;
    let created = invite(
        &app,
        &t,
        "  New.Person@Acme.Example ",
        "New Person",
        json!(["instructor", "learner"]),
    )
    .await;
    created.assert_status(StatusCode::CREATED);
    let user = created.json();
    assert_eq!(user["email"], "new.person@acme.example");
    assert_eq!(user["status"], "invited");
    assert_eq!(user["roles"], json!(["learner", "instructor"]));
    assert!(
        app.last_email_to("new.person@acme.example")
            .await
            .contains("token=")
    );

    for email in [
        "new.person@acme.example",
        "NEW.PERSON@acme.example",
        "learner@acme.example",
    ] {
        invite(&app, &t, email, "Again", json!(["learner"]))
            .await
            .assert_problem(StatusCode::CONFLICT, "email_taken");
    }
    // Registration with an invited email is refused too (the invitation owns it).
    app.post("/api/v1/auth/register")
        .tenant("acme")
        .json(json!({ "email": "new.person@acme.example", "password": PASSWORD, "display_name": "Squatter" }))
        .send()
        .await
        .assert_problem(StatusCode::CONFLICT, "email_taken");
    for (body, field) in [
        (
            json!({ "email": "not-an-email", "display_name": "X", "roles": ["learner"] }),
            "email",
        ),
        (
            json!({ "email": "x@acme.example", "display_name": "", "roles": ["learner"] }),
            "display_name",
        ),
        (
            json!({ "email": "x@acme.example", "display_name": "X", "roles": [] }),
            "roles",
        ),
        (
            json!({ "email": "x@acme.example", "display_name": "X", "roles": ["owner"] }),
            "roles[0]",
        ),
        (
            json!({ "email": "x@acme.example", "display_name": "X" }),
            "",
        ),
    ] {
        let reply = app
            .post("/api/v1/users/invitations")
            .tenant("acme")
            .bearer(&t.admin.access_token)
            .json(body.clone())
            .send()
            .await;
        reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        if !field.is_empty() {
            assert_eq!(
                reply.json()["errors"][0]["field"],
                field,
                "{body}: {}",
                reply.text
            );
        }
    }
    // The invitee accepts and signs in.
    let token = app.token_from_last_email("new.person@acme.example").await;
    app.post("/api/v1/auth/invitations/accept")
        .tenant("acme")
        .json(json!({ "token": token, "password": PASSWORD }))
        .send()
        .await
        .assert_status(StatusCode::OK);
    app.login("acme", "new.person@acme.example", PASSWORD)
        .await
        .assert_status(StatusCode::OK);
}

#[tokio::test]
async fn roles_are_replaced_and_validated() {
    let (app, t) = TestApp::with_tenant("acme").await;
    let path = paths::user_roles(&t.learner.id);
    let set = |roles: Value| {
        app.call(Method::PUT, &path)
            .tenant("acme")
            .bearer(&t.admin.access_token)
            .json(json!({ "roles": roles }))
    };
    let changed = set(json!(["instructor", "mentor", "instructor"]))
        .send()
        .await;
    changed.assert_status(StatusCode::OK);
    assert_eq!(changed.json()["roles"], json!(["instructor", "mentor"]));
    // The learner's old token no longer carries their old roles.
    app.get("/api/v1/auth/me")
        .tenant("acme")
        .bearer(&t.learner.access_token)
        .send()
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_token");
    let relogged = app.login("acme", &t.learner.email, PASSWORD).await;
    relogged.assert_status(StatusCode::OK);
    assert_eq!(
        relogged.json()["user"]["roles"],
        json!(["instructor", "mentor"])
    );

    let empty = set(json!([])).send().await;
    empty.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(empty.json()["errors"][0]["field"], "roles");
    let unknown = set(json!(["owner"])).send().await;
    unknown.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(
        unknown.json()["errors"][0]["field"]
            .as_str()
            .is_some_and(|f| f.starts_with("roles")),
        "{}",
        unknown.text
    );
    set(json!("tenant_admin"))
        .send()
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let after = admin_get(&app, &t, &paths::user(&t.learner.id)).await;
    assert_eq!(after.json()["roles"], json!(["instructor", "mentor"]));

    app.call(Method::PUT, &paths::user_roles(uuid::Uuid::now_v7()))
        .tenant("acme")
        .bearer(&t.admin.access_token)
        .json(json!({ "roles": ["learner"] }))
        .send()
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn a_tenant_always_keeps_an_active_admin() {
    let (app, t) = TestApp::with_tenant("acme").await;
    let admin_roles = paths::user_roles(&t.admin.id);

    app.post(&paths::user_deactivate(&t.admin.id))
        .tenant("acme")
        .bearer(&t.admin.access_token)
        .send()
        .await
        .assert_problem(StatusCode::CONFLICT, "cannot_deactivate_self");
    app.call(Method::PUT, &admin_roles)
        .tenant("acme")
        .bearer(&t.admin.access_token)
        .json(json!({ "roles": ["learner"] }))
        .send()
        .await
        .assert_problem(StatusCode::CONFLICT, "last_admin");
    // Keeping the admin role among others is fine.
    let kept = app
        .call(Method::PUT, &admin_roles)
        .tenant("acme")
        .bearer(&t.admin.access_token)
        .json(json!({ "roles": ["tenant_admin", "instructor"] }))
        .send()
        .await;
    kept.assert_status(StatusCode::OK);
    // That change ended the admin's own session; sign in again.
    let admin_token = app.login("acme", &t.admin.email, PASSWORD).await.json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();

    // With a second admin, the first may step down; the second then is the last one.
    app.call(Method::PUT, &paths::user_roles(&t.learner.id))
        .tenant("acme")
        .bearer(&admin_token)
        .json(json!({ "roles": ["tenant_admin"] }))
        .send()
        .await
        .assert_status(StatusCode::OK);
    let second_token = app.login("acme", &t.learner.email, PASSWORD).await.json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    app.call(Method::PUT, &admin_roles)
        .tenant("acme")
        .bearer(&admin_token)
        .json(json!({ "roles": ["learner"] }))
        .send()
        .await
        .assert_status(StatusCode::OK);
    app.call(Method::PUT, &paths::user_roles(&t.learner.id))
        .tenant("acme")
        .bearer(&second_token)
        .json(json!({ "roles": ["learner"] }))
        .send()
        .await
        .assert_problem(StatusCode::CONFLICT, "last_admin");
    // An inactive admin does not count: a deactivated second admin cannot be the "other" one.
    app.call(Method::PUT, &admin_roles)
        .tenant("acme")
        .bearer(&second_token)
        .json(json!({ "roles": ["tenant_admin"] }))
        .send()
        .await
        .assert_status(StatusCode::OK);
    app.post(&paths::user_deactivate(&t.admin.id))
        .tenant("acme")
        .bearer(&second_token)
        .send()
        .await
        .assert_status(StatusCode::OK);
    app.call(Method::PUT, &paths::user_roles(&t.learner.id))
        .tenant("acme")
        .bearer(&second_token)
        .json(json!({ "roles": ["learner"] }))
        .send()
        .await
        .assert_problem(StatusCode::CONFLICT, "last_admin");
}

#[tokio::test]
async fn deactivation_blocks_sign_in_until_reactivation() {
    let (app, t) = TestApp::with_tenant("acme").await;
    let user = |action: &str| {
        app.post(&format!("/api/v1/users/{}/{action}", t.learner.id))
            .tenant("acme")
            .bearer(&t.admin.access_token)
    };

    let deactivated = user("deactivate").send().await;
    deactivated.assert_status(StatusCode::OK);
    assert_eq!(deactivated.json()["status"], "deactivated");
    // Sign-in, the old access token and the old refresh token all stop working.
    app.login("acme", &t.learner.email, PASSWORD)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
    app.get("/api/v1/auth/me")
        .tenant("acme")
        .bearer(&t.learner.access_token)
        .send()
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_token");
    app.post("/api/v1/auth/refresh")
        .tenant("acme")
        .json(json!({ "refresh_token": t.learner.refresh_token }))
        .send()
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_refresh_token");
    // No password-reset email for a deactivated account.
    let before = outbox_count(&app, &t.learner.email).await;
    app.post("/api/v1/auth/password-reset")
        .tenant("acme")
        .json(json!({ "email": t.learner.email }))
        .send()
        .await
        .assert_status(StatusCode::ACCEPTED);
    // Resets are queued after the answer; once a later request's email has arrived, the
    // deactivated account's request has had its turn too.
    app.post("/api/v1/auth/password-reset")
        .tenant("acme")
        .json(json!({ "email": t.admin.email }))
        .send()
        .await
        .assert_status(StatusCode::ACCEPTED);
    app.last_email_containing(&t.admin.email, "reset-password")
        .await;
    assert_eq!(outbox_count(&app, &t.learner.email).await, before);

    let listed = admin_get(&app, &t, "/api/v1/users?status=deactivated").await;
    assert_eq!(emails(&listed), BTreeSet::from([t.learner.email.clone()]));

    let reactivated = user("reactivate").send().await;
    reactivated.assert_status(StatusCode::OK);
    assert_eq!(reactivated.json()["status"], "active");
    // Old tokens stay dead; a fresh sign-in works.
    app.get("/api/v1/auth/me")
        .tenant("acme")
        .bearer(&t.learner.access_token)
        .send()
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
    let session = app.login("acme", &t.learner.email, PASSWORD).await;
    session.assert_status(StatusCode::OK);
    let token = session.json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    app.get("/api/v1/auth/me")
        .tenant("acme")
        .bearer(&token)
        .send()
        .await
        .assert_status(StatusCode::OK);

    // An invited user who is deactivated and reactivated goes back to waiting for the invitation.
    let invited = invite(&app, &t, "later@acme.example", "Later", json!(["learner"])).await;
    let invited_id = invited.json()["id"].as_str().expect("id").to_owned();
    for action in ["deactivate", "reactivate"] {
        app.post(&format!("/api/v1/users/{invited_id}/{action}"))
            .tenant("acme")
            .bearer(&t.admin.access_token)
            .send()
            .await
            .assert_status(StatusCode::OK);
    }
    let back = admin_get(&app, &t, &paths::user(&invited_id)).await;
    assert_eq!(back.json()["status"], "invited");
    // Unknown ids.
    for action in ["deactivate", "reactivate"] {
        app.post(&format!("/api/v1/users/{}/{action}", uuid::Uuid::now_v7()))
            .tenant("acme")
            .bearer(&t.admin.access_token)
            .send()
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
    }
}

#[tokio::test]
async fn calls_that_change_nothing_keep_every_session() {
    let (app, t) = TestApp::with_tenant("acme").await;
    let admin_call = |path: String| app.post(&path).tenant("acme").bearer(&t.admin.access_token);
    let app_ref = &app;
    let still_signed_in = move |token: String| async move {
        app_ref
            .me("acme", &token)
            .await
            .assert_status(StatusCode::OK);
    };
    let audit_count = move || async move {
        let mut su = app_ref.db.superuser().await;
        sqlx::query_scalar::<_, i64>("select count(*) from audit_events")
            .fetch_one(&mut su)
            .await
            .expect("audit count")
    };
    let before = audit_count().await;

    // Reactivating an active user, or the admin themself, answers the unchanged user.
    for (id, token) in [
        (&t.learner.id, &t.learner.access_token),
        (&t.admin.id, &t.admin.access_token),
    ] {
        let reply = admin_call(paths::user_reactivate(id)).send().await;
        reply.assert_status(StatusCode::OK);
        assert_eq!(reply.json()["status"], "active");
        still_signed_in(token.clone()).await;
    }
    // Setting the roles a user already has (in any order) ends no session.
    let roles = app
        .call(Method::PUT, &paths::user_roles(&t.admin.id))
        .tenant("acme")
        .bearer(&t.admin.access_token)
        .json(json!({ "roles": ["tenant_admin"] }))
        .send()
        .await;
    roles.assert_status(StatusCode::OK);
    assert_eq!(roles.json()["roles"], json!(["tenant_admin"]));
    still_signed_in(t.admin.access_token.clone()).await;
    app.refresh("acme", &t.admin.refresh_token)
        .await
        .assert_status(StatusCode::OK);
    // A new password equal to the current one is refused and the session lives on.
    let same = app
        .post("/api/v1/auth/password")
        .tenant("acme")
        .bearer(&t.learner.access_token)
        .json(json!({ "current_password": PASSWORD, "new_password": PASSWORD }))
        .send()
        .await;
    same.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(
        same.json()["errors"][0]["code"],
        "same_password",
        "{}",
        same.text
    );
    still_signed_in(t.learner.access_token.clone()).await;
    // Nothing changed, so nothing was audited.
    assert_eq!(audit_count().await, before);

    // Deactivating twice: the second call answers the unchanged user and audits nothing.
    let other = app.register("acme", "other@acme.example").await;
    admin_call(paths::user_deactivate(&other.id))
        .send()
        .await
        .assert_status(StatusCode::OK);
    let after_first = audit_count().await;
    let again = admin_call(paths::user_deactivate(&other.id)).send().await;
    again.assert_status(StatusCode::OK);
    assert_eq!(again.json()["status"], "deactivated");
    assert_eq!(audit_count().await, after_first);
}
