//! Multi-factor authentication: TOTP enrollment, the login challenge, recovery codes, the
//! tenant's policy and admin resets.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Reply, TestApp, TestUser, paths, user_from_session};

async fn mfa_status(app: &TestApp, slug: &str, access_token: &str) -> Value {
    let reply = app
        .get("/api/v1/auth/mfa")
        .tenant(slug)
        .bearer(access_token)
        .send()
        .await;
    reply.assert_status(StatusCode::OK);
    reply.json()
}

/// The actions of the tenant's audit trail, newest first, as its admin sees them.
async fn audit_actions(app: &TestApp, slug: &str, admin: &TestUser, action: &str) -> Vec<Value> {
    let reply = app
        .get(&format!("/api/v1/audit-events?action={action}"))
        .tenant(slug)
        .bearer(&admin.access_token)
        .send()
        .await;
    reply.assert_status(StatusCode::OK);
    reply.json()["items"].as_array().cloned().expect("items")
}

fn field_code(reply: &Reply) -> (String, String) {
    let error = &reply.json()["errors"][0];
    (
        error["field"].as_str().unwrap_or_default().to_owned(),
        error["code"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn mfa_enrollment_is_confirmed_by_a_first_code_and_shows_recovery_codes_once() {
    let (app, t) = TestApp::with_tenant("acme").await;
    let learner = &t.learner;
    let status = mfa_status(&app, "acme", &learner.access_token).await;
    assert_eq!(
        status,
        json!({ "enabled": false, "enrollment_pending": false, "required": false, "recovery_codes_left": 0 })
    );

    let begun = app
        .begin_mfa_enrollment("acme", &learner.access_token)
        .await;
    begun.assert_status(StatusCode::OK);
    let body = begun.json();
    let uri = body["otpauth_uri"].as_str().expect("uri");
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    assert!(uri.contains("issuer=Tenant%20acme"), "{uri}");
    assert!(uri.contains("learner%40acme.example"), "{uri}");
    assert!(
        uri.contains(&format!(
            "secret={}",
            body["secret"].as_str().expect("secret")
        )),
        "{body}"
    );
    assert!(
        body["qr_code_svg"]
            .as_str()
            .is_some_and(|svg| svg.contains("<svg")),
        "{body}"
    );
    assert!(
        body["qr_code_data_uri"]
            .as_str()
            .is_some_and(|d| d.starts_with("data:image/svg+xml;base64,"))
    );
    let authenticator = crate::helpers::Authenticator::from_uri(uri);
    let status = mfa_status(&app, "acme", &learner.access_token).await;
    assert_eq!(status["enabled"], false);
    assert_eq!(status["enrollment_pending"], true);

    // Until confirmed, MFA is not active: the password alone still signs in.
    let login = app.login("acme", &learner.email, PASSWORD).await;
    login.assert_status(StatusCode::OK);
    assert!(login.json()["access_token"].is_string(), "{}", login.text);

    let wrong = app
        .confirm_mfa_enrollment("acme", &learner.access_token, &authenticator.wrong_code())
        .await;
    wrong.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(field_code(&wrong), ("code".into(), "invalid_code".into()));

    let confirmed = app
        .confirm_mfa_enrollment("acme", &learner.access_token, &authenticator.code(0))
        .await;
    confirmed.assert_status(StatusCode::OK);
    let body = confirmed.json();
    assert_eq!(body["session_ended"], false, "{body}");
    let codes = body["recovery_codes"].as_array().expect("codes");
    assert_eq!(codes.len(), 10, "{body}");
    for code in codes {
        let code = code.as_str().expect("code");
        assert_eq!(code.len(), 19, "{code}");
        assert_eq!(code.matches('-').count(), 3, "{code}");
    }
    let status = mfa_status(&app, "acme", &learner.access_token).await;
    assert_eq!(
        status,
        json!({ "enabled": true, "enrollment_pending": false, "required": false, "recovery_codes_left": 10 })
    );
    // The codes are not shown again, and an active credential is not replaced or re-confirmed.
    assert!(
        !status
            .to_string()
            .contains(codes[0].as_str().expect("code"))
    );
    app.begin_mfa_enrollment("acme", &learner.access_token)
        .await
        .assert_problem(StatusCode::CONFLICT, "mfa_already_enabled");
    app.confirm_mfa_enrollment("acme", &learner.access_token, &authenticator.code(1))
        .await
        .assert_problem(StatusCode::CONFLICT, "mfa_already_enabled");
    // The seed is stored sealed, not as the base32 the app was given.
    let mut su = app.db.superuser().await;
    let sealed: Vec<u8> =
        sqlx::query_scalar("select sealed_secret from mfa_credentials where user_id = $1::uuid")
            .bind(&learner.id)
            .fetch_one(&mut su)
            .await
            .expect("credential");
    let secret = body_secret(&begun.json());
    assert!(
        !sealed.windows(secret.len()).any(|w| w == secret.as_slice()),
        "the raw seed is in the database"
    );
    let audited = audit_actions(&app, "acme", &t.admin, "user.mfa_enabled").await;
    assert_eq!(audited.len(), 1);
    assert_eq!(audited[0]["target_id"], learner.id.as_str());

    // A confirmation with nothing started is refused.
    app.confirm_mfa_enrollment("acme", &t.admin.access_token, "123456")
        .await
        .assert_problem(StatusCode::CONFLICT, "mfa_enrollment_not_started");
}

/// The raw seed bytes behind the base32 `secret` of an enrollment answer.
fn body_secret(body: &Value) -> Vec<u8> {
    totp_rs::Secret::Encoded(body["secret"].as_str().expect("secret").to_owned())
        .to_bytes()
        .expect("base32")
}

#[tokio::test]
async fn login_with_mfa_answers_a_challenge_that_a_code_turns_into_a_session() {
    let (app, t) = TestApp::with_tenant("acme").await;
    let learner = &t.learner;
    let enrolled = app.enroll_mfa("acme", learner).await;
    let code = |offset| enrolled.authenticator.code(offset);

    let challenge = app.mfa_challenge("acme", &learner.email).await;
    // A wrong code is refused and the challenge lives on.
    app.verify_mfa(
        "acme",
        &challenge,
        json!({ "code": enrolled.authenticator.wrong_code() }),
    )
    .await
    .assert_problem(StatusCode::UNAUTHORIZED, "invalid_mfa_code");
    let used_code = code(0);
    let signed_in = app
        .verify_mfa("acme", &challenge, json!({ "code": used_code }))
        .await;
    signed_in.assert_status(StatusCode::OK);
    let session = signed_in.json();
    assert_eq!(session["token_type"], "Bearer", "{session}");
    assert_eq!(session["user"]["id"], learner.id.as_str());
    assert!(
        session.get("mfa_enrollment_required").is_none(),
        "{session}"
    );
    let user = user_from_session(&session, &learner.email);
    app.me("acme", &user.access_token)
        .await
        .assert_status(StatusCode::OK);
    app.refresh("acme", &user.refresh_token)
        .await
        .assert_status(StatusCode::OK);

    // The challenge worked once.
    app.verify_mfa("acme", &challenge, json!({ "code": code(1) }))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_mfa_challenge");
    // The same code again, on a fresh challenge, is a replay.
    let challenge = app.mfa_challenge("acme", &learner.email).await;
    app.verify_mfa("acme", &challenge, json!({ "code": used_code }))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_mfa_code");
    // A later step's code works, here for a cookie session like a password login's.
    let cookie = app
        .verify_mfa(
            "acme",
            &challenge,
            json!({ "code": code(1), "session": "cookie" }),
        )
        .await;
    cookie.assert_status(StatusCode::OK);
    assert_eq!(cookie.json()["token_type"], "Cookie", "{}", cookie.text);
    assert!(cookie.json()["csrf_token"].is_string(), "{}", cookie.text);
    let set_cookies: Vec<&str> = cookie
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert!(
        set_cookies
            .iter()
            .any(|c| c.starts_with("__Host-lms_access=")),
        "{set_cookies:?}"
    );
    // An unknown challenge is refused like a used one.
    app.verify_mfa("acme", "not-a-challenge", json!({ "code": code(1) }))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_mfa_challenge");
}

#[tokio::test]
async fn a_challenge_dies_after_five_wrong_codes_or_when_it_expires() {
    let (app, t) = TestApp::with_tenant("acme").await;
    let learner = &t.learner;
    let enrolled = app.enroll_mfa("acme", learner).await;

    let challenge = app.mfa_challenge("acme", &learner.email).await;
    for _ in 0..5 {
        app.verify_mfa(
            "acme",
            &challenge,
            json!({ "code": enrolled.authenticator.wrong_code() }),
        )
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_mfa_code");
    }
    app.verify_mfa(
        "acme",
        &challenge,
        json!({ "code": enrolled.authenticator.code(0) }),
    )
    .await
    .assert_problem(StatusCode::UNAUTHORIZED, "invalid_mfa_challenge");
    // The account's backoff slows the next guesses down, even on a new challenge.
    let challenge = app.mfa_challenge("acme", &learner.email).await;
    let slowed = app
        .verify_mfa(
            "acme",
            &challenge,
            json!({ "code": enrolled.authenticator.code(0) }),
        )
        .await;
    slowed.assert_problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert!(slowed.headers.get("retry-after").is_some());
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    app.verify_mfa(
        "acme",
        &challenge,
        json!({ "code": enrolled.authenticator.code(0) }),
    )
    .await
    .assert_status(StatusCode::OK);

    // An expired challenge is refused, even with a right code.
    let challenge = app.mfa_challenge("acme", &learner.email).await;
    let mut su = app.db.superuser().await;
    sqlx::query(
        "update mfa_challenges set expires_at = now() - interval '1 second'
         where user_id = $1::uuid and consumed_at is null",
    )
    .bind(&learner.id)
    .execute(&mut su)
    .await
    .expect("expire");
    app.verify_mfa(
        "acme",
        &challenge,
        json!({ "code": enrolled.authenticator.code(1) }),
    )
    .await
    .assert_problem(StatusCode::UNAUTHORIZED, "invalid_mfa_challenge");
    // Challenges are stored hashed, never as the token handed out.
    let stored: i64 = sqlx::query_scalar(
        "select count(*) from mfa_challenges where encode(token_hash, 'escape') like '%' || $1 || '%'",
    )
    .bind(&challenge)
    .fetch_one(&mut su)
    .await
    .expect("count");
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn a_challenge_of_one_tenant_is_refused_on_another() {
    let app = TestApp::spawn().await;
    let a = app.seed_tenant("a").await;
    app.seed_tenant("b").await;
    let enrolled = app.enroll_mfa("a", &a.learner).await;
    let challenge = app.mfa_challenge("a", &a.learner.email).await;
    for to in ["b", "nope"] {
        let reply = app
            .verify_mfa(
                to,
                &challenge,
                json!({ "code": enrolled.authenticator.code(0) }),
            )
            .await;
        assert!(
            reply.status == StatusCode::UNAUTHORIZED || reply.status == StatusCode::NOT_FOUND,
            "{to}: {}",
            reply.text
        );
        assert!(!reply.text.contains(&a.learner.id), "{}", reply.text);
    }
    app.verify_mfa(
        "b",
        &challenge,
        json!({ "code": enrolled.authenticator.code(0) }),
    )
    .await
    .assert_problem(StatusCode::UNAUTHORIZED, "invalid_mfa_challenge");
    // Its own tenant still takes it (the code was not spent on B).
    app.verify_mfa(
        "a",
        &challenge,
        json!({ "code": enrolled.authenticator.code(0) }),
    )
    .await
    .assert_status(StatusCode::OK);
}

#[tokio::test]
async fn recovery_codes_work_once_and_can_be_regenerated() {
    let (app, t) = TestApp::with_tenant("acme").await;
    let learner = &t.learner;
    let enrolled = app.enroll_mfa("acme", learner).await;
    // Typed in capitals with spaces, the code still works, once.
    let first = enrolled.recovery_codes[0].to_uppercase().replace('-', " ");
    let challenge = app.mfa_challenge("acme", &learner.email).await;
    let signed_in = app
        .verify_mfa("acme", &challenge, json!({ "recovery_code": first }))
        .await;
    signed_in.assert_status(StatusCode::OK);
    let user = user_from_session(&signed_in.json(), &learner.email);
    assert_eq!(
        mfa_status(&app, "acme", &user.access_token).await["recovery_codes_left"],
        9
    );
    let used = audit_actions(&app, "acme", &t.admin, "user.mfa_recovery_code_used").await;
    assert_eq!(used.len(), 1);
    assert_eq!(used[0]["details"]["recovery_codes_left"], 9);
    let challenge = app.mfa_challenge("acme", &learner.email).await;
    app.verify_mfa(
        "acme",
        &challenge,
        json!({ "recovery_code": enrolled.recovery_codes[0] }),
    )
    .await
    .assert_problem(StatusCode::UNAUTHORIZED, "invalid_mfa_code");

    // New codes need a TOTP code; the old unused ones stop working.
    let regenerate = |code: String| {
        app.post("/api/v1/auth/mfa/recovery-codes")
            .tenant("acme")
            .bearer(&user.access_token)
            .json(json!({ "code": code }))
            .send()
    };
    let wrong = regenerate(enrolled.authenticator.wrong_code()).await;
    wrong.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(field_code(&wrong), ("code".into(), "invalid_code".into()));
    let fresh = regenerate(enrolled.authenticator.code(0)).await;
    fresh.assert_status(StatusCode::OK);
    let fresh: Vec<String> = fresh.json()["recovery_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("code").to_owned())
        .collect();
    assert_eq!(fresh.len(), 10);
    assert!(fresh.iter().all(|c| !enrolled.recovery_codes.contains(c)));
    app.verify_mfa(
        "acme",
        &challenge,
        json!({ "recovery_code": enrolled.recovery_codes[1] }),
    )
    .await
    .assert_problem(StatusCode::UNAUTHORIZED, "invalid_mfa_code");
    app.verify_mfa("acme", &challenge, json!({ "recovery_code": fresh[0] }))
        .await
        .assert_status(StatusCode::OK);
}

#[tokio::test]
async fn disabling_mfa_needs_a_code_and_then_the_password_is_enough() {
    let (app, t) = TestApp::with_tenant("acme").await;
    let learner = &t.learner;
    let enrolled = app.enroll_mfa("acme", learner).await;
    let disable = |body: Value| {
        app.post("/api/v1/auth/mfa/disable")
            .tenant("acme")
            .bearer(&learner.access_token)
            .json(body)
            .send()
    };
    disable(json!({}))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    disable(json!({ "code": "123456", "recovery_code": enrolled.recovery_codes[0] }))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let wrong = disable(json!({ "recovery_code": "aaaa-bbbb-cccc-dddd" })).await;
    wrong.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(
        field_code(&wrong),
        ("recovery_code".into(), "invalid_code".into())
    );
    disable(json!({ "code": enrolled.authenticator.code(0) }))
        .await
        .assert_status(StatusCode::NO_CONTENT);
    assert_eq!(
        mfa_status(&app, "acme", &learner.access_token).await["enabled"],
        false
    );
    disable(json!({ "code": enrolled.authenticator.code(1) }))
        .await
        .assert_problem(StatusCode::CONFLICT, "mfa_not_enabled");
    let login = app.login("acme", &learner.email, PASSWORD).await;
    login.assert_status(StatusCode::OK);
    assert!(login.json()["access_token"].is_string(), "{}", login.text);
    assert_eq!(
        audit_actions(&app, "acme", &t.admin, "user.mfa_disabled")
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn the_tenant_policy_restricts_sessions_without_mfa_to_enrollment() {
    let (app, t) = TestApp::with_tenant("acme").await;
    let instructor = app
        .instructor("acme", "teacher@acme.example", &t.admin)
        .await;
    let policy = |token: &str, body: Option<Value>| {
        let call = match &body {
            Some(_) => app.call(Method::PUT, "/api/v1/mfa/policy"),
            None => app.get("/api/v1/mfa/policy"),
        }
        .tenant("acme")
        .bearer(token);
        match body {
            Some(body) => call.json(body),
            None => call,
        }
        .send()
    };
    let current = policy(&t.admin.access_token, None).await;
    current.assert_status(StatusCode::OK);
    assert_eq!(current.json(), json!({ "required_roles": [] }));
    policy(&t.learner.access_token, None)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    policy(
        &t.learner.access_token,
        Some(json!({ "required_roles": ["learner"] })),
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    let set = policy(
        &t.admin.access_token,
        Some(json!({ "required_roles": ["instructor", "tenant_admin", "instructor"] })),
    )
    .await;
    set.assert_status(StatusCode::OK);
    assert_eq!(
        set.json(),
        json!({ "required_roles": ["instructor", "tenant_admin"] })
    );
    let audited = audit_actions(&app, "acme", &t.admin, "tenant.mfa_policy_changed").await;
    assert_eq!(audited.len(), 1);
    assert_eq!(
        audited[0]["details"]["to"],
        json!(["instructor", "tenant_admin"])
    );

    // A learner is not concerned.
    let learner = app.login("acme", &t.learner.email, PASSWORD).await;
    learner.assert_status(StatusCode::OK);
    assert!(learner.json().get("mfa_enrollment_required").is_none());

    // The instructor's password sign-in gives a session that may only enroll.
    let login = app.login("acme", &instructor.email, PASSWORD).await;
    login.assert_status(StatusCode::OK);
    let body = login.json();
    assert_eq!(body["mfa_enrollment_required"], true, "{body}");
    let restricted = user_from_session(&body, &instructor.email);
    app.get("/api/v1/courses")
        .tenant("acme")
        .bearer(&restricted.access_token)
        .send()
        .await
        .assert_problem(StatusCode::FORBIDDEN, "mfa_enrollment_required");
    app.me("acme", &restricted.access_token)
        .await
        .assert_status(StatusCode::OK);
    let status = mfa_status(&app, "acme", &restricted.access_token).await;
    assert_eq!(status["required"], true);
    assert_eq!(status["enabled"], false);
    // Refreshing keeps the restriction.
    let refreshed = app.refresh("acme", &restricted.refresh_token).await;
    refreshed.assert_status(StatusCode::OK);
    assert_eq!(refreshed.json()["mfa_enrollment_required"], true);
    let restricted = user_from_session(&refreshed.json(), &instructor.email);
    app.get("/api/v1/courses")
        .tenant("acme")
        .bearer(&restricted.access_token)
        .send()
        .await
        .assert_problem(StatusCode::FORBIDDEN, "mfa_enrollment_required");

    // Enrolling ends the restricted session; the next sign-in asks for a code and is whole.
    let begun = app
        .begin_mfa_enrollment("acme", &restricted.access_token)
        .await;
    begun.assert_status(StatusCode::OK);
    let authenticator =
        crate::helpers::Authenticator::from_uri(begun.json()["otpauth_uri"].as_str().expect("uri"));
    let confirmed = app
        .confirm_mfa_enrollment("acme", &restricted.access_token, &authenticator.code(-1))
        .await;
    confirmed.assert_status(StatusCode::OK);
    assert_eq!(confirmed.json()["session_ended"], true);
    app.refresh("acme", &restricted.refresh_token)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_refresh_token");
    let challenge = app.mfa_challenge("acme", &instructor.email).await;
    let signed_in = app
        .verify_mfa("acme", &challenge, json!({ "code": authenticator.code(0) }))
        .await;
    signed_in.assert_status(StatusCode::OK);
    assert!(signed_in.json().get("mfa_enrollment_required").is_none());
    let whole = user_from_session(&signed_in.json(), &instructor.email);
    app.get("/api/v1/courses")
        .tenant("acme")
        .bearer(&whole.access_token)
        .send()
        .await
        .assert_status(StatusCode::OK);
    // While the policy holds, MFA cannot be turned off.
    app.post("/api/v1/auth/mfa/disable")
        .tenant("acme")
        .bearer(&whole.access_token)
        .json(json!({ "code": authenticator.code(1) }))
        .send()
        .await
        .assert_problem(StatusCode::FORBIDDEN, "mfa_required_by_policy");

    // An invited admin's first session is restricted too.
    app.post("/api/v1/users/invitations")
        .tenant("acme")
        .bearer(&t.admin.access_token)
        .json(json!({ "email": "second@acme.example", "display_name": "Second", "roles": ["tenant_admin"] }))
        .send()
        .await
        .assert_status(StatusCode::CREATED);
    let token = app.token_from_last_email("second@acme.example").await;
    let accepted = app
        .post("/api/v1/auth/invitations/accept")
        .tenant("acme")
        .json(json!({ "token": token, "password": PASSWORD }))
        .send()
        .await;
    accepted.assert_status(StatusCode::OK);
    assert_eq!(accepted.json()["mfa_enrollment_required"], true);
}

#[tokio::test]
async fn an_admin_resets_a_users_mfa_audited_and_emailed() {
    let (app, t) = TestApp::with_tenant("acme").await;
    let learner = &t.learner;
    let other = app.register("acme", "other@acme.example").await;
    app.enroll_mfa("acme", learner).await;
    let reset = |token: &str, user: &str| {
        app.post(&paths::user_mfa_reset(user))
            .tenant("acme")
            .bearer(token)
            .send()
    };
    // Learners reset nobody's MFA, not even their own this way.
    reset(&other.access_token, &learner.id)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    reset(&learner.access_token, &learner.id)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    app.mfa_challenge("acme", &learner.email).await;

    reset(&t.admin.access_token, &learner.id)
        .await
        .assert_status(StatusCode::NO_CONTENT);
    let audited = audit_actions(&app, "acme", &t.admin, "user.mfa_reset").await;
    assert_eq!(audited.len(), 1);
    assert_eq!(audited[0]["actor_id"], t.admin.id.as_str());
    assert_eq!(audited[0]["target_id"], learner.id.as_str());
    let email = app
        .last_email_containing(&learner.email, "authenticator app")
        .await;
    assert!(email.contains("administrator"), "{email}");

    // The password alone signs in again, and open challenges died with the credential.
    let login = app.login("acme", &learner.email, PASSWORD).await;
    login.assert_status(StatusCode::OK);
    assert!(login.json()["access_token"].is_string(), "{}", login.text);
    assert_eq!(
        mfa_status(&app, "acme", &learner.access_token).await["enabled"],
        false
    );
    reset(&t.admin.access_token, &learner.id)
        .await
        .assert_problem(StatusCode::CONFLICT, "mfa_not_enabled");
    reset(&t.admin.access_token, &uuid::Uuid::now_v7().to_string())
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    reset(&t.admin.access_token, "not-a-uuid")
        .await
        .assert_status(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn bad_mfa_input_is_a_client_problem() {
    let (app, t) = TestApp::with_tenant("acme").await;
    let token = t.learner.access_token.clone();
    let post = |path: &str, body: Value| {
        app.post(path)
            .tenant("acme")
            .bearer(&token)
            .json(body)
            .send()
    };
    let cases = [
        ("/api/v1/auth/mfa/verify", json!({})),
        (
            "/api/v1/auth/mfa/verify",
            json!({ "challenge": 1, "code": "123456" }),
        ),
        (
            "/api/v1/auth/mfa/verify",
            json!({ "challenge": "x", "code": "12" }),
        ),
        (
            "/api/v1/auth/mfa/verify",
            json!({ "challenge": "x", "recovery_code": "🙂" }),
        ),
        (
            "/api/v1/auth/mfa/verify",
            json!({ "challenge": "x", "code": "1", "recovery_code": "2" }),
        ),
        (
            "/api/v1/auth/mfa/verify",
            json!({ "challenge": "x", "code": "123456", "extra": 1 }),
        ),
        (
            "/api/v1/auth/mfa/verify",
            json!({ "challenge": "x", "code": "123456", "session": "nope" }),
        ),
        (
            "/api/v1/auth/mfa/enrollment/confirm",
            json!({ "code": 123456 }),
        ),
        (
            "/api/v1/auth/mfa/enrollment/confirm",
            json!({ "code": "x".repeat(10_000) }),
        ),
        (
            "/api/v1/auth/mfa/recovery-codes",
            json!({ "code": "123456" }),
        ),
        ("/api/v1/auth/mfa/disable", json!({ "recovery_code": "x" })),
    ];
    for (path, body) in cases {
        let reply = post(path, body.clone()).await;
        assert!(
            reply.status.is_client_error(),
            "{path} {body}: {} {}",
            reply.status,
            reply.text
        );
        assert_eq!(
            reply
                .headers
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/problem+json"),
            "{path} {body}: {}",
            reply.text
        );
    }
    app.call(Method::PUT, "/api/v1/mfa/policy")
        .tenant("acme")
        .bearer(&t.admin.access_token)
        .json(json!({ "required_roles": ["overlord"] }))
        .send()
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    app.post("/api/v1/auth/mfa/verify")
        .tenant("acme")
        .raw(Some("application/json"), "{")
        .send()
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "malformed_json");
}
