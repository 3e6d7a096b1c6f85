//! `/api/v1/auth/mfa/*` (the signed-in user's second factor and the login challenge),
//! `/api/v1/mfa/policy` and `/api/v1/users/{id}/mfa/reset` (tenant admins).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::CookieJar;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::service::{self, Answer};
use super::totp;
use crate::auth::routes::{SessionKind, SessionResponse, session_response};
use crate::auth::{Authenticated, MfaEnrollmentCaller};
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::{ApiJson, ApiPath, ClientIp, CurrentTenant};
use crate::state::AppState;
use crate::users::{Role, UserId};

/// Routes that take a second factor; the strict auth rate limit applies to them.
pub fn credential_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(verify))
        .routes(routes!(confirm_enrollment))
        .routes(routes!(regenerate_recovery_codes))
        .routes(routes!(disable))
}

/// The other MFA routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(status))
        .routes(routes!(begin_enrollment))
        .routes(routes!(get_policy, set_policy))
        .routes(routes!(reset))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct VerifyRequest {
    /// The `challenge` of the login answer.
    challenge: String,
    /// A current 6-digit code of the authenticator app; or give `recovery_code`.
    code: Option<String>,
    /// One of the recovery codes (`xxxx-xxxx-xxxx-xxxx`), used up by this sign-in.
    recovery_code: Option<String>,
    #[serde(default)]
    session: SessionKind,
}

/// Exactly one of a TOTP code and a recovery code.
fn answer(code: Option<String>, recovery_code: Option<String>) -> ApiResult<Answer> {
    match (code, recovery_code) {
        (Some(code), None) => Ok(Answer::Totp(code)),
        (None, Some(code)) => Ok(Answer::RecoveryCode(code)),
        _ => Err(ApiError::validation(
            "code",
            "one_required",
            "give either `code` or `recovery_code`",
        )),
    }
}

/// Answers the MFA challenge of a password sign-in with a TOTP or recovery code, and signs in
/// exactly as `POST /api/v1/auth/login` does for users without MFA. A challenge works once,
/// for 5 minutes, in its own tenant; 5 wrong codes end it. A TOTP code works once.
#[utoipa::path(
    post, path = "/api/v1/auth/mfa/verify", tag = "mfa",
    request_body = VerifyRequest,
    security(()),
    responses(
        (status = 200, body = SessionResponse),
        (status = 401, description = "`invalid_mfa_challenge` (unknown, used, expired, out of attempts or of another tenant: sign in again) or `invalid_mfa_code` (wrong, malformed or already used)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Tenant suspended", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Backoff after repeated wrong codes; see Retry-After", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn verify(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    ApiJson(body): ApiJson<VerifyRequest>,
) -> ApiResult<Response> {
    let answer = answer(body.code, body.recovery_code)?;
    let mode = body.session.into();
    let session =
        service::verify_challenge(&state, &tenant, ip, &body.challenge, answer, mode).await?;
    Ok(session_response(jar, session, mode, StatusCode::OK))
}

/// The signed-in user's multi-factor authentication.
#[derive(Debug, Serialize, ToSchema)]
struct MfaStatus {
    /// A confirmed TOTP credential is active: sign-ins ask for a code.
    enabled: bool,
    /// An enrollment was started and awaits its first code.
    enrollment_pending: bool,
    /// The tenant requires MFA for one of the user's roles.
    required: bool,
    /// Unused recovery codes.
    recovery_codes_left: i64,
}

/// The signed-in user's MFA state. A session restricted to enrollment may call it.
#[utoipa::path(
    get, path = "/api/v1/auth/mfa", tag = "mfa",
    responses((status = 200, body = MfaStatus))
)]
async fn status(
    State(state): State<AppState>,
    auth: MfaEnrollmentCaller,
) -> ApiResult<Json<MfaStatus>> {
    let status = service::status(&state, &auth).await?;
    Ok(Json(MfaStatus {
        enabled: status.enabled,
        enrollment_pending: status.enrollment_pending,
        required: status.required,
        recovery_codes_left: status.recovery_codes_left,
    }))
}

/// What an authenticator app needs to add the account.
#[derive(Debug, Serialize, ToSchema)]
struct EnrollmentResponse {
    /// The seed in base32, to type in where the QR code cannot be scanned.
    secret: String,
    /// `otpauth://totp/<tenant>:<email>?secret=…&issuer=<tenant>` (SHA-1, 6 digits, 30 s).
    otpauth_uri: String,
    /// The otpauth URI as a QR code, an SVG document.
    qr_code_svg: String,
    /// The same SVG as a `data:image/svg+xml;base64,…` URI for an `<img src>`.
    qr_code_data_uri: String,
}

/// Starts enrollment with a new TOTP seed (a pending one is replaced). MFA is not active until
/// `POST /api/v1/auth/mfa/enrollment/confirm` receives a first valid code. A session restricted
/// to enrollment may call it.
#[utoipa::path(
    post, path = "/api/v1/auth/mfa/enrollment", tag = "mfa",
    responses(
        (status = 200, body = EnrollmentResponse),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`mfa_already_enabled`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn begin_enrollment(
    State(state): State<AppState>,
    auth: MfaEnrollmentCaller,
) -> ApiResult<Json<EnrollmentResponse>> {
    let enrollment = service::begin_enrollment(&state, &auth).await?;
    Ok(Json(EnrollmentResponse {
        qr_code_data_uri: totp::qr_svg_data_uri(&enrollment.qr_code_svg),
        secret: enrollment.secret,
        otpauth_uri: enrollment.otpauth_uri,
        qr_code_svg: enrollment.qr_code_svg,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CodeRequest {
    /// A current 6-digit code of the authenticator app.
    #[schema(pattern = r"^\s*[0-9]{6}\s*$")]
    code: String,
}

/// Recovery codes, shown this once: each works once instead of a TOTP code.
#[derive(Debug, Serialize, ToSchema)]
struct RecoveryCodes {
    recovery_codes: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
struct ConfirmedEnrollment {
    /// 10 single-use codes, shown this once; keep them somewhere safe.
    recovery_codes: Vec<String>,
    /// The calling session was restricted to enrollment and has ended: sign in again (with a
    /// code from now on).
    session_ended: bool,
}

/// Confirms enrollment with a first valid code: MFA becomes active and the recovery codes are
/// issued. A session restricted to enrollment ends here; the next sign-in asks for a code.
#[utoipa::path(
    post, path = "/api/v1/auth/mfa/enrollment/confirm", tag = "mfa",
    request_body = CodeRequest,
    responses(
        (status = 200, body = ConfirmedEnrollment),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`mfa_enrollment_not_started` or `mfa_already_enabled`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A wrong code (field `code`, `invalid_code`)", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn confirm_enrollment(
    State(state): State<AppState>,
    auth: MfaEnrollmentCaller,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<CodeRequest>,
) -> ApiResult<Json<ConfirmedEnrollment>> {
    let restricted = auth.0.claims.mfa_enrollment_only;
    let confirmed = service::confirm_enrollment(&state, &auth, ip, &body.code, restricted).await?;
    Ok(Json(ConfirmedEnrollment {
        recovery_codes: confirmed.recovery_codes,
        session_ended: confirmed.session_ended,
    }))
}

/// Replaces the recovery codes with 10 new ones (the old ones stop working); needs a current
/// TOTP code.
#[utoipa::path(
    post, path = "/api/v1/auth/mfa/recovery-codes", tag = "mfa",
    request_body = CodeRequest,
    responses(
        (status = 200, body = RecoveryCodes),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`mfa_not_enabled`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A wrong or used code (field `code`, `invalid_code`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Backoff after repeated wrong codes; see Retry-After", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn regenerate_recovery_codes(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<CodeRequest>,
) -> ApiResult<Json<RecoveryCodes>> {
    let recovery_codes = service::regenerate_recovery_codes(&state, &auth, ip, body.code).await?;
    Ok(Json(RecoveryCodes { recovery_codes }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct DisableRequest {
    /// A current 6-digit code of the authenticator app; or give `recovery_code`.
    code: Option<String>,
    /// One of the unused recovery codes.
    recovery_code: Option<String>,
}

/// Turns MFA off (needs a TOTP or recovery code). Refused with 403 `mfa_required_by_policy`
/// while the tenant requires MFA for one of the user's roles.
#[utoipa::path(
    post, path = "/api/v1/auth/mfa/disable", tag = "mfa",
    request_body = DisableRequest,
    responses(
        (status = 204, description = "MFA is off; the recovery codes are void"),
        (status = 403, description = "`mfa_required_by_policy`, `mfa_enrollment_required` or `csrf_failed`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`mfa_not_enabled`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A wrong or used code (field `code` or `recovery_code`, `invalid_code`), or neither or both given", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Backoff after repeated wrong codes; see Retry-After", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn disable(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<DisableRequest>,
) -> ApiResult<StatusCode> {
    let answer = answer(body.code, body.recovery_code)?;
    service::disable(&state, &auth, ip, answer).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The roles for which the tenant requires MFA.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct MfaPolicy {
    /// Users holding any of these roles must use a second factor; empty: nobody must.
    required_roles: Vec<Role>,
}

/// The tenant's MFA policy (tenant admins).
#[utoipa::path(
    get, path = "/api/v1/mfa/policy", tag = "mfa",
    responses(
        (status = 200, body = MfaPolicy),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn get_policy(
    State(state): State<AppState>,
    auth: Authenticated,
) -> ApiResult<Json<MfaPolicy>> {
    let required_roles = service::policy(&state, &auth).await?;
    Ok(Json(MfaPolicy { required_roles }))
}

/// Sets the roles for which the tenant requires MFA (tenant admins). It applies from each
/// user's next sign-in: a user of such a role without MFA then gets a session that may only
/// enroll.
#[utoipa::path(
    put, path = "/api/v1/mfa/policy", tag = "mfa",
    request_body = MfaPolicy,
    responses(
        (status = 200, body = MfaPolicy),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn set_policy(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<MfaPolicy>,
) -> ApiResult<Json<MfaPolicy>> {
    let required_roles = service::set_policy(&state, &auth, ip, body.required_roles).await?;
    Ok(Json(MfaPolicy { required_roles }))
}

/// Removes a user's MFA (e.g. a lost phone; tenant admins). Audited, and the user is emailed.
#[utoipa::path(
    post, path = "/api/v1/users/{id}/mfa/reset", tag = "mfa",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 204, description = "The user's TOTP credential and recovery codes are removed"),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`mfa_not_enabled`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn reset(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<UserId>,
) -> ApiResult<StatusCode> {
    service::reset(&state, &auth, ip, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
