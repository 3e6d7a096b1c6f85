//! `/api/v1/auth/*` and `/.well-known/jwks.json`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::cookies::{self, CSRF_HEADER, REFRESH_COOKIE, SessionCookies};
use super::keys::Jwks;
use super::passwords::Password;
use super::service::{self, CsrfCheck, LoginOutcome, Registration, Session, SessionMode};
use super::tokens::ACCESS_TOKEN_TTL;
use super::{Authenticated, MfaEnrollmentCaller};
use crate::error::{ApiError, ApiResult, Problem, codes};
use crate::http::{ApiJson, ClientIp, CurrentTenant, MaybeJson};
use crate::state::AppState;
use crate::users::{DisplayName, Email, User};

/// Routes that take credentials; the strict auth rate limit applies to them.
pub fn credential_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(change_password))
        .routes(routes!(request_password_reset))
        .routes(routes!(confirm_password_reset))
        .routes(routes!(accept_invitation))
}

/// Session routes a web app calls on every page; only the global limit applies.
pub fn session_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me))
        .routes(routes!(logout))
        .routes(routes!(jwks))
}

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SessionKind {
    /// Tokens in the response body.
    #[default]
    Bearer,
    /// HttpOnly cookies plus a CSRF token to echo in `X-CSRF-Token`.
    Cookie,
}

impl From<SessionKind> for SessionMode {
    fn from(kind: SessionKind) -> Self {
        match kind {
            SessionKind::Bearer => SessionMode::Bearer,
            SessionKind::Cookie => SessionMode::Cookie,
        }
    }
}

/// A started session. With `session: cookie` the tokens are in cookies and omitted here.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SessionResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    access_token: Option<String>,
    token_type: &'static str,
    /// Seconds until the access token expires.
    expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    /// Echo in `X-CSRF-Token` on unsafe requests (cookie sessions only).
    #[serde(skip_serializing_if = "Option::is_none")]
    csrf_token: Option<String>,
    user: User,
    /// Present (true) when the session may only enroll in MFA: the tenant requires a second
    /// factor for the user's role. Every endpoint but `GET /api/v1/auth/me` and
    /// `/api/v1/auth/mfa/*` enrollment answers 403 `mfa_enrollment_required`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    mfa_enrollment_required: bool,
}

/// What a correct password answers when the user has MFA: no session yet, but a challenge to
/// answer with a code at `POST /api/v1/auth/mfa/verify`.
#[derive(Debug, Serialize, ToSchema)]
struct MfaChallengeResponse {
    /// Always true: tell the two answers of a login apart by this field.
    mfa_required: bool,
    /// Opaque; send it to `POST /api/v1/auth/mfa/verify` with a code. Works once.
    challenge: String,
    /// Seconds the challenge can be answered.
    expires_in: i64,
}

/// A login's answer: a session, or an MFA challenge (`mfa_required: true`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
enum LoginResponse {
    // Built by `session_response`, which also sets the cookies of a cookie session.
    #[allow(dead_code)]
    Session(SessionResponse),
    MfaChallenge(MfaChallengeResponse),
}

pub(crate) fn session_response(
    jar: CookieJar,
    session: Session,
    mode: SessionMode,
    status: StatusCode,
) -> Response {
    match mode {
        SessionMode::Bearer => (
            status,
            Json(SessionResponse {
                access_token: Some(session.access_token),
                token_type: "Bearer",
                expires_in: session.expires_in,
                refresh_token: Some(session.refresh_token),
                csrf_token: None,
                user: session.user,
                mfa_enrollment_required: session.mfa_enrollment_only,
            }),
        )
            .into_response(),
        SessionMode::Cookie => {
            let csrf = session.csrf_token.clone();
            let jar = match &csrf {
                Some(csrf) => cookies::set_session(
                    jar,
                    &SessionCookies {
                        access_token: &session.access_token,
                        access_ttl_seconds: ACCESS_TOKEN_TTL.as_secs(),
                        refresh_token: &session.refresh_token,
                        refresh_ttl_seconds: service::refresh_ttl_seconds(),
                        csrf_token: csrf,
                    },
                ),
                // A rotation keeps the CSRF cookie it already has.
                None => jar
                    .add(cookies::session_cookie(
                        cookies::ACCESS_COOKIE,
                        &session.access_token,
                        ACCESS_TOKEN_TTL.as_secs(),
                        false,
                    ))
                    .add(cookies::session_cookie(
                        REFRESH_COOKIE,
                        &session.refresh_token,
                        service::refresh_ttl_seconds(),
                        true,
                    )),
            };
            let body = SessionResponse {
                access_token: None,
                token_type: "Cookie",
                expires_in: session.expires_in,
                refresh_token: None,
                csrf_token: csrf,
                user: session.user,
                mfa_enrollment_required: session.mfa_enrollment_only,
            };
            (status, jar, Json(body)).into_response()
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RegisterRequest {
    /// Trimmed and lowercased; at most 254 characters, one `@`, a dotted domain, no white
    /// space, control characters, `<`, `>` or `,`.
    #[schema(value_type = String, format = "email", max_length = 254)]
    email: String,
    /// 10 to 128 characters, not only white space.
    #[schema(min_length = 10, max_length = 128, pattern = r"\S")]
    password: String,
    /// Trimmed; 1 to 200 characters, no control characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    display_name: String,
    #[serde(default)]
    session: SessionKind,
}

/// Creates a learner account (when the tenant allows self-registration) and signs it in.
#[utoipa::path(
    post, path = "/api/v1/auth/register", tag = "auth",
    request_body = RegisterRequest,
    security(()),
    responses(
        (status = 201, body = SessionResponse),
        (status = 403, description = "Self-registration is off (`registration_disabled`), the email's domain signs in by SSO only (`sso_required`) or the tenant is suspended", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`email_taken`, or `seat_limit_reached`: every seat of the organisation's plan is taken", body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
    )
)]
async fn register(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> ApiResult<Response> {
    let input = Registration {
        email: Email::parse(&body.email)?,
        password: Password::parse(body.password, "password")?,
        display_name: DisplayName::parse(&body.display_name)?,
    };
    let mode = body.session.into();
    let session = service::register(&state, &tenant, ip, input, mode).await?;
    Ok(session_response(jar, session, mode, StatusCode::CREATED))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct LoginRequest {
    email: String,
    password: String,
    #[serde(default)]
    session: SessionKind,
}

/// Signs in with email and password. Unknown emails, wrong passwords and deactivated accounts all
/// answer the same 401 `invalid_credentials`; repeated failures are slowed down with 429. A user
/// with MFA gets no session yet but a challenge (`mfa_required: true`) to answer with a code at
/// `POST /api/v1/auth/mfa/verify`; a user whose role the tenant requires MFA for, and who has
/// none, gets a session that may only enroll (`mfa_enrollment_required: true`).
#[utoipa::path(
    post, path = "/api/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    security(()),
    responses(
        (status = 200, body = LoginResponse),
        (status = 401, description = "`invalid_credentials`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`sso_required` (the user's domain signs in by SSO only) or tenant suspended", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Backoff after repeated failures; see Retry-After", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn login(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    let mode = body.session.into();
    let outcome = service::login(
        &state,
        &tenant,
        ip,
        &body.email,
        Password::candidate(body.password),
        mode,
    )
    .await?;
    Ok(match outcome {
        LoginOutcome::Session(session) => session_response(jar, session, mode, StatusCode::OK),
        LoginOutcome::MfaChallenge(challenge) => {
            Json(LoginResponse::MfaChallenge(MfaChallengeResponse {
                mfa_required: true,
                challenge: challenge.token,
                expires_in: challenge.expires_in,
            }))
            .into_response()
        }
    })
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RefreshRequest {
    /// Omit to use the refresh cookie (then `X-CSRF-Token` is required).
    refresh_token: Option<String>,
}

/// Exchanges a refresh token for a new access token and a new refresh token. Each refresh token
/// works once; presenting a used one revokes the whole session (`refresh_token_reused`).
#[utoipa::path(
    post, path = "/api/v1/auth/refresh", tag = "auth",
    request_body(content = RefreshRequest, description = "Optional with a refresh cookie"),
    security(()),
    responses(
        (status = 200, body = SessionResponse),
        (status = 401, description = "`invalid_refresh_token` or `refresh_token_reused`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_failed`, `sso_required` (a password session of a user whose domain now signs in by SSO only; the session ends) or tenant suspended", body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
    )
)]
async fn refresh(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    jar: CookieJar,
    MaybeJson(body): MaybeJson<RefreshRequest>,
) -> ApiResult<Response> {
    let (token, mode, csrf) =
        presented_refresh_token(body, &jar, &headers).ok_or(ApiError::Unauthenticated {
            code: codes::INVALID_REFRESH_TOKEN,
            detail: "send refresh_token in the body or the refresh cookie",
        })?;
    let session = service::refresh(&state, &tenant, ip, &token, csrf).await?;
    Ok(session_response(jar, session, mode, StatusCode::OK))
}

/// The refresh token from the body (API clients) or the cookie (web apps, which must then also
/// send the CSRF header).
fn presented_refresh_token<'h>(
    body: Option<RefreshRequest>,
    jar: &CookieJar,
    headers: &'h HeaderMap,
) -> Option<(String, SessionMode, CsrfCheck<'h>)> {
    match body.and_then(|b| b.refresh_token) {
        Some(token) => Some((token, SessionMode::Bearer, CsrfCheck::NotNeeded)),
        None => {
            let token = jar.get(REFRESH_COOKIE)?.value().to_owned();
            let header = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            Some((token, SessionMode::Cookie, CsrfCheck::Required(header)))
        }
    }
}

/// Ends the session of the given (or cookie) refresh token and clears session cookies.
#[utoipa::path(
    post, path = "/api/v1/auth/logout", tag = "auth",
    request_body(content = RefreshRequest, description = "Optional with a refresh cookie"),
    security(()),
    responses(
        (status = 204, description = "Signed out"),
        (status = 403, description = "`csrf_failed` (cookie sessions) or tenant suspended", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn logout(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    headers: HeaderMap,
    jar: CookieJar,
    MaybeJson(body): MaybeJson<RefreshRequest>,
) -> ApiResult<Response> {
    if let Some((token, _, csrf)) = presented_refresh_token(body, &jar, &headers) {
        service::logout(&state, &tenant, &token, csrf).await?;
    }
    Ok((StatusCode::NO_CONTENT, cookies::clear_session(jar)).into_response())
}

/// The signed-in user (also for a session restricted to MFA enrollment).
#[utoipa::path(
    get, path = "/api/v1/auth/me", tag = "auth",
    responses(
        (status = 200, body = User),
    )
)]
async fn me(State(state): State<AppState>, auth: MfaEnrollmentCaller) -> ApiResult<Json<User>> {
    Ok(Json(service::me(&state, &auth).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ChangePasswordRequest {
    current_password: String,
    /// 10 to 128 characters, not only white space.
    #[schema(min_length = 10, max_length = 128, pattern = r"\S")]
    new_password: String,
}

/// Changes the signed-in user's password and ends all their sessions.
#[utoipa::path(
    post, path = "/api/v1/auth/password", tag = "auth",
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Changed; sign in again"),
        (status = 403, description = "`csrf_failed`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Weak new password or wrong current password", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn change_password(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<ChangePasswordRequest>,
) -> ApiResult<StatusCode> {
    let new = Password::parse(body.new_password, "new_password")?;
    service::change_password(
        &state,
        &auth,
        ip,
        Password::candidate(body.current_password),
        new,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ResetRequest {
    email: String,
}

#[derive(Debug, Serialize, ToSchema)]
struct Accepted {
    status: &'static str,
}

/// Emails a one-time reset link if an active account has this email. Always answers 202.
#[utoipa::path(
    post, path = "/api/v1/auth/password-reset", tag = "auth",
    request_body = ResetRequest,
    security(()),
    responses(
        (status = 202, body = Accepted),
        (status = 403, description = "`sso_required` (the email's domain signs in by SSO only) or tenant suspended", body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
    )
)]
async fn request_password_reset(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<ResetRequest>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    service::request_password_reset(&state, &tenant, ip, &body.email).await?;
    Ok((StatusCode::ACCEPTED, Json(Accepted { status: "accepted" })))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ConfirmResetRequest {
    token: String,
    /// 10 to 128 characters, not only white space.
    #[schema(min_length = 10, max_length = 128, pattern = r"\S")]
    new_password: String,
}

/// Sets a new password with the emailed token; ends all sessions of the account.
#[utoipa::path(
    post, path = "/api/v1/auth/password-reset/confirm", tag = "auth",
    request_body = ConfirmResetRequest,
    security(()),
    responses(
        (status = 204, description = "Password set"),
        (status = 400, description = "`invalid_reset_token`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`sso_required`: the user's domain signs in by SSO only", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn confirm_password_reset(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<ConfirmResetRequest>,
) -> ApiResult<StatusCode> {
    let new = Password::parse(body.new_password, "new_password")?;
    service::confirm_password_reset(&state, &tenant, ip, &body.token, new).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AcceptInvitationRequest {
    token: String,
    /// 10 to 128 characters, not only white space.
    #[schema(min_length = 10, max_length = 128, pattern = r"\S")]
    password: String,
    /// Trimmed; 1 to 200 characters, no control characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    display_name: Option<String>,
    #[serde(default)]
    session: SessionKind,
}

/// Accepts an emailed invitation: sets the password, activates the account and signs it in.
#[utoipa::path(
    post, path = "/api/v1/auth/invitations/accept", tag = "auth",
    request_body = AcceptInvitationRequest,
    security(()),
    responses(
        (status = 200, body = SessionResponse),
        (status = 400, description = "`invalid_invitation`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn accept_invitation(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    ApiJson(body): ApiJson<AcceptInvitationRequest>,
) -> ApiResult<Response> {
    let password = Password::parse(body.password, "password")?;
    let name = body
        .display_name
        .as_deref()
        .map(DisplayName::parse)
        .transpose()?;
    let mode = body.session.into();
    let session =
        service::accept_invitation(&state, &tenant, ip, &body.token, password, name, mode).await?;
    Ok(session_response(jar, session, mode, StatusCode::OK))
}

/// The public keys that verify access tokens (RFC 7517).
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "auth", responses((status = 200, body = Jwks)))]
async fn jwks(State(state): State<AppState>) -> Json<Jwks> {
    Json(state.keys.jwks())
}
