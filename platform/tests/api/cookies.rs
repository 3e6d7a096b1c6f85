//! Web sessions: tokens in `__Host-` cookies plus a CSRF token echoed in `X-CSRF-Token`.
//!
//! Cookies are sent by hand in a `Cookie` header: reqwest's cookie store would not send `Secure`
//! cookies over plain http.

use cookie::{Cookie, SameSite};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{PASSWORD, Reply, TestApp};

const ACCESS: &str = "__Host-lms_access";
const REFRESH: &str = "__Host-lms_refresh";
const CSRF: &str = "__Host-lms_csrf";

/// The cookies a response sets.
fn set_cookies(reply: &Reply) -> Vec<Cookie<'static>> {
    reply
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|value| {
            let text = value.to_str().expect("ascii Set-Cookie").to_owned();
            Cookie::parse(text).expect("well-formed Set-Cookie")
        })
        .collect()
}

#[track_caller]
fn cookie_named<'a>(cookies: &'a [Cookie<'static>], name: &str) -> &'a Cookie<'static> {
    cookies
        .iter()
        .find(|c| c.name() == name)
        .unwrap_or_else(|| panic!("no {name} cookie set; got {cookies:?}"))
}

/// A signed-in browser session: the values of its three cookies.
struct WebSession {
    access: String,
    refresh: String,
    csrf: String,
}

async fn cookie_login(app: &TestApp, slug: &str, email: &str) -> (Reply, WebSession) {
    let reply = app
        .post("/api/v1/auth/login")
        .tenant(slug)
        .json(json!({ "email": email, "password": PASSWORD, "session": "cookie" }))
        .send()
        .await;
    reply.assert_status(StatusCode::OK);
    let cookies = set_cookies(&reply);
    let session = WebSession {
        access: cookie_named(&cookies, ACCESS).value().to_owned(),
        refresh: cookie_named(&cookies, REFRESH).value().to_owned(),
        csrf: cookie_named(&cookies, CSRF).value().to_owned(),
    };
    (reply, session)
}

/// `POST /api/v1/auth/password` with a wrong current password: 422 once past authentication and
/// CSRF, so the status tells which gate stopped the request, and nothing changes.
async fn change_password(app: &TestApp, access: &str, csrf: Option<&str>) -> Reply {
    let mut call = app
        .post("/api/v1/auth/password")
        .tenant("acme")
        .header("cookie", &format!("{ACCESS}={access}"))
        .json(json!({ "current_password": "not the password at all", "new_password": "whatever it may be" }));
    if let Some(csrf) = csrf {
        call = call.header("x-csrf-token", csrf);
    }
    call.send().await
}

async fn cookie_refresh(app: &TestApp, refresh: &str, csrf: Option<&str>) -> Reply {
    let mut call = app
        .post("/api/v1/auth/refresh")
        .tenant("acme")
        .header("cookie", &format!("{REFRESH}={refresh}"));
    if let Some(csrf) = csrf {
        call = call.header("x-csrf-token", csrf);
    }
    call.send().await
}

#[tokio::test]
async fn a_cookie_login_sets_host_only_cookies_and_no_body_tokens() {
    let (app, tenant) = TestApp::with_tenant("acme").await;
    let (reply, session) = cookie_login(&app, "acme", &tenant.learner.email).await;

    let body = reply.json();
    assert!(body.get("access_token").is_none(), "{body}");
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert_eq!(body["token_type"], "Cookie", "{body}");
    assert_eq!(body["user"]["id"], tenant.learner.id.as_str(), "{body}");
    let csrf = body["csrf_token"].as_str().expect("csrf_token in the body");
    assert_eq!(csrf, session.csrf, "the CSRF cookie holds the body's token");

    let cookies = set_cookies(&reply);
    for name in [ACCESS, REFRESH, CSRF] {
        let cookie = cookie_named(&cookies, name);
        assert_eq!(cookie.secure(), Some(true), "{cookie}");
        assert_eq!(cookie.path(), Some("/"), "{cookie}");
        assert_eq!(
            cookie.domain(),
            None,
            "__Host- cookies carry no Domain: {cookie}"
        );
        assert!(!cookie.value().is_empty(), "{cookie}");
        assert!(
            cookie.max_age().is_some_and(|age| age.whole_seconds() > 0),
            "{cookie}"
        );
    }
    let access = cookie_named(&cookies, ACCESS);
    let refresh = cookie_named(&cookies, REFRESH);
    let csrf_cookie = cookie_named(&cookies, CSRF);
    assert_eq!(access.http_only(), Some(true), "{access}");
    assert_eq!(refresh.http_only(), Some(true), "{refresh}");
    assert_ne!(
        csrf_cookie.http_only(),
        Some(true),
        "the web app must read the CSRF cookie: {csrf_cookie}"
    );
    // Documented in auth/cookies.rs: the access cookie is Lax (it is only ever honoured without
    // a CSRF header on safe methods), the refresh and CSRF cookies Strict.
    assert_eq!(access.same_site(), Some(SameSite::Lax), "{access}");
    assert_eq!(refresh.same_site(), Some(SameSite::Strict), "{refresh}");
    assert_eq!(
        csrf_cookie.same_site(),
        Some(SameSite::Strict),
        "{csrf_cookie}"
    );
    // The cookie carries the access token itself: no bearer header is needed.
    let who = app
        .get("/api/v1/auth/me")
        .tenant("acme")
        .header("cookie", &format!("{ACCESS}={}", session.access))
        .send()
        .await;
    who.assert_status(StatusCode::OK);
    assert_eq!(who.json()["id"], tenant.learner.id.as_str());
}

#[tokio::test]
async fn unsafe_requests_with_the_access_cookie_need_the_csrf_token() {
    let (app, tenant) = TestApp::with_tenant("acme").await;
    let (_, session) = cookie_login(&app, "acme", &tenant.learner.email).await;

    change_password(&app, &session.access, None)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "csrf_failed");
    change_password(&app, &session.access, Some("forged-csrf-token"))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "csrf_failed");
    change_password(&app, &session.access, Some(""))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "csrf_failed");
    // The right token gets the request past CSRF to the password check.
    change_password(&app, &session.access, Some(&session.csrf))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

    // ...and a correct request goes through.
    app.post("/api/v1/auth/password")
        .tenant("acme")
        .header("cookie", &format!("{ACCESS}={}", session.access))
        .header("x-csrf-token", &session.csrf)
        .json(json!({ "current_password": PASSWORD, "new_password": "a brand new passphrase" }))
        .send()
        .await
        .assert_status(StatusCode::NO_CONTENT);
    app.login("acme", &tenant.learner.email, "a brand new passphrase")
        .await
        .assert_status(StatusCode::OK);
}

#[tokio::test]
async fn a_csrf_token_only_works_for_its_own_session() {
    let (app, tenant) = TestApp::with_tenant("acme").await;
    let (_, mine) = cookie_login(&app, "acme", &tenant.learner.email).await;
    let (_, theirs) = cookie_login(&app, "acme", &tenant.admin.email).await;
    let (_, my_other) = cookie_login(&app, "acme", &tenant.learner.email).await;
    assert_ne!(mine.csrf, theirs.csrf);
    assert_ne!(mine.csrf, my_other.csrf);

    for foreign in [&theirs.csrf, &my_other.csrf] {
        change_password(&app, &mine.access, Some(foreign))
            .await
            .assert_problem(StatusCode::FORBIDDEN, "csrf_failed");
        cookie_refresh(&app, &mine.refresh, Some(foreign))
            .await
            .assert_problem(StatusCode::FORBIDDEN, "csrf_failed");
    }
    // Each session's own token works.
    change_password(&app, &mine.access, Some(&mine.csrf))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    cookie_refresh(&app, &mine.refresh, Some(&mine.csrf))
        .await
        .assert_status(StatusCode::OK);
}

#[tokio::test]
async fn a_cookie_refresh_needs_the_csrf_token_and_rotates_the_cookies() {
    let (app, tenant) = TestApp::with_tenant("acme").await;
    let (_, session) = cookie_login(&app, "acme", &tenant.learner.email).await;

    cookie_refresh(&app, &session.refresh, None)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "csrf_failed");
    cookie_refresh(&app, &session.refresh, Some("wrong"))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "csrf_failed");

    // The refused attempts did not use the token up.
    let rotated = cookie_refresh(&app, &session.refresh, Some(&session.csrf)).await;
    rotated.assert_status(StatusCode::OK);
    let body = rotated.json();
    assert!(body.get("access_token").is_none(), "{body}");
    assert!(body.get("refresh_token").is_none(), "{body}");
    let cookies = set_cookies(&rotated);
    let access = cookie_named(&cookies, ACCESS);
    let refresh = cookie_named(&cookies, REFRESH);
    for cookie in [access, refresh] {
        assert_eq!(cookie.http_only(), Some(true), "{cookie}");
        assert_eq!(cookie.secure(), Some(true), "{cookie}");
        assert_eq!(cookie.path(), Some("/"), "{cookie}");
    }
    assert_ne!(access.value(), session.access);
    assert_ne!(refresh.value(), session.refresh);

    // The new access cookie works, and with the session's unchanged CSRF token.
    let who = app
        .get("/api/v1/auth/me")
        .tenant("acme")
        .header("cookie", &format!("{ACCESS}={}", access.value()))
        .send()
        .await;
    who.assert_status(StatusCode::OK);
    change_password(&app, access.value(), Some(&session.csrf))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    // The new refresh cookie works too; the old one has been used.
    cookie_refresh(&app, refresh.value(), Some(&session.csrf))
        .await
        .assert_status(StatusCode::OK);

    // Without any refresh token at all.
    app.post("/api/v1/auth/refresh")
        .tenant("acme")
        .header("x-csrf-token", &session.csrf)
        .send()
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_refresh_token");
}

#[tokio::test]
async fn logout_clears_the_cookies_and_ends_the_session() {
    let (app, tenant) = TestApp::with_tenant("acme").await;
    let (_, session) = cookie_login(&app, "acme", &tenant.learner.email).await;

    let out = app
        .post("/api/v1/auth/logout")
        .tenant("acme")
        .header(
            "cookie",
            &format!(
                "{ACCESS}={}; {REFRESH}={}; {CSRF}={}",
                session.access, session.refresh, session.csrf
            ),
        )
        .header("x-csrf-token", &session.csrf)
        .send()
        .await;
    out.assert_status(StatusCode::NO_CONTENT);
    let cookies = set_cookies(&out);
    for name in [ACCESS, REFRESH, CSRF] {
        let cookie = cookie_named(&cookies, name);
        assert_eq!(
            cookie.max_age().map(|age| age.whole_seconds()),
            Some(0),
            "{cookie}"
        );
        assert_eq!(cookie.value(), "", "{cookie}");
        assert_eq!(cookie.path(), Some("/"), "{cookie}");
        assert_eq!(cookie.secure(), Some(true), "{cookie}");
    }

    cookie_refresh(&app, &session.refresh, Some(&session.csrf))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_refresh_token");
}

#[tokio::test]
async fn a_cross_site_logout_without_the_csrf_token_is_refused() {
    let (app, tenant) = TestApp::with_tenant("acme").await;
    let (_, session) = cookie_login(&app, "acme", &tenant.learner.email).await;

    app.post("/api/v1/auth/logout")
        .tenant("acme")
        .header("cookie", &format!("{REFRESH}={}", session.refresh))
        .send()
        .await
        .assert_problem(StatusCode::FORBIDDEN, "csrf_failed");

    // The session survived the forged request.
    cookie_refresh(&app, &session.refresh, Some(&session.csrf))
        .await
        .assert_status(StatusCode::OK);
}
