//! Browser sessions: the access and refresh tokens in HttpOnly cookies, plus a readable CSRF
//! cookie whose value the web app echoes in `X-CSRF-Token` on every unsafe request.
//!
//! The `__Host-` prefix pins cookies to the exact host (no `Domain`, `Path=/`, `Secure`), so a
//! sibling subdomain (another tenant) can neither read nor plant them. The access cookie is
//! `SameSite=Lax`; the refresh cookie is `SameSite=Strict`.

use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};

pub const ACCESS_COOKIE: &str = "__Host-lms_access";
pub const REFRESH_COOKIE: &str = "__Host-lms_refresh";
pub const CSRF_COOKIE: &str = "__Host-lms_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

pub struct SessionCookies<'a> {
    pub access_token: &'a str,
    pub access_ttl_seconds: u64,
    pub refresh_token: &'a str,
    pub refresh_ttl_seconds: u64,
    pub csrf_token: &'a str,
}

pub fn set_session(jar: CookieJar, session: &SessionCookies<'_>) -> CookieJar {
    jar.add(cookie(
        ACCESS_COOKIE,
        session.access_token,
        session.access_ttl_seconds,
        true,
        SameSite::Lax,
    ))
    .add(cookie(
        REFRESH_COOKIE,
        session.refresh_token,
        session.refresh_ttl_seconds,
        true,
        SameSite::Strict,
    ))
    .add(cookie(
        CSRF_COOKIE,
        session.csrf_token,
        session.refresh_ttl_seconds,
        false,
        SameSite::Strict,
    ))
}

pub fn clear_session(jar: CookieJar) -> CookieJar {
    [ACCESS_COOKIE, REFRESH_COOKIE, CSRF_COOKIE]
        .into_iter()
        .fold(jar, |jar, name| {
            let mut gone = cookie(name, "", 0, true, SameSite::Strict);
            gone.make_removal();
            jar.add(gone)
        })
}

/// One session cookie (HttpOnly), e.g. to replace the access and refresh cookies on rotation.
pub fn session_cookie(name: &'static str, value: &str, ttl: u64, strict: bool) -> Cookie<'static> {
    cookie(
        name,
        value,
        ttl,
        true,
        if strict {
            SameSite::Strict
        } else {
            SameSite::Lax
        },
    )
}

// Browsers treat http://localhost as a secure context, so Secure cookies work in development too.
fn cookie(
    name: &'static str,
    value: &str,
    ttl: u64,
    http_only: bool,
    same_site: SameSite,
) -> Cookie<'static> {
    Cookie::build((name, value.to_owned()))
        .path("/")
        .http_only(http_only)
        .same_site(same_site)
        .secure(true)
        .max_age(cookie::time::Duration::seconds(
            i64::try_from(ttl).unwrap_or(i64::MAX),
        ))
        .build()
}
