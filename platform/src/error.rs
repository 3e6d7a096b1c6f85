//! The API's one error type and its RFC 9457 problem+json rendering.
//!
//! Every variant has a stable machine `code`. Internal failures render as a bare 500 whose body
//! carries nothing but the request id; the cause travels in a response extension to the
//! error-logging middleware, which logs it once.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use lms_plugin_host::{GraderError, PluginError, RejectReason};
use serde::Serialize;
use utoipa::ToSchema;

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// Short human-readable summary.
    pub title: String,
    /// HTTP status code.
    pub status: u16,
    /// Explanation specific to this occurrence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Stable machine-readable code, e.g. `validation_failed`.
    pub code: String,
    /// Field-level problems, for validation errors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// One field's problem in a validation error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct FieldError {
    /// JSON path of the field, e.g. `branding.primary_color`.
    pub field: String,
    /// Stable machine-readable code, e.g. `invalid_email`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

impl FieldError {
    pub fn new(
        field: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        }
    }
}

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the request body or parameters are invalid")]
    Validation(Vec<FieldError>),
    #[error("{detail}")]
    BadRequest { code: &'static str, detail: String },
    #[error("authentication is required")]
    Unauthenticated {
        code: &'static str,
        detail: &'static str,
    },
    #[error("{detail}")]
    Forbidden {
        code: &'static str,
        detail: &'static str,
    },
    #[error("not found")]
    NotFound,
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    /// Well-formed, but refused by a rule that is not about one field (e.g. a bad signature).
    #[error("{detail}")]
    Unprocessable { code: &'static str, detail: String },
    /// A plugin upload was refused or a plugin call failed; the code is [`PluginError::code`].
    #[error("{0}")]
    Plugin(PluginError),
    #[error("too many requests")]
    TooManyRequests { retry_after: Duration },
    #[error("the request body is too large")]
    PayloadTooLarge,
    #[error("the request body must be application/json")]
    UnsupportedMediaType,
    /// A body of another media type than the endpoint takes (which is not JSON).
    #[error("the request body must be {expected}")]
    WrongMediaType { expected: &'static str },
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("the tenant is suspended")]
    TenantSuspended,
    #[error("the request took too long")]
    Timeout,
    #[error("the service is busy")]
    Unavailable { retry_after: Duration },
    /// An upstream service the request depends on (an identity provider) failed.
    #[error("{detail}")]
    BadGateway { code: &'static str, detail: String },
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// Problem codes that more than one place answers with, so that they are spelled once.
pub mod codes {
    /// The caller may not do this (the generic 403).
    pub const FORBIDDEN: &str = "forbidden";
    /// A request refused for a NUL character in a string (path, query, JSON or form).
    pub const NUL_CHARACTER: &str = "nul_character";
    /// The learner is not (or no longer) enrolled in the course of the item they entered.
    pub const NOT_ENROLLED: &str = "not_enrolled";
    /// Required items of earlier modules of a sequential course are incomplete.
    pub const MODULE_LOCKED: &str = "module_locked";
    /// The course is a draft (or archived) where a published one is needed.
    pub const COURSE_NOT_PUBLISHED: &str = "course_not_published";
    /// The assignment has no settings yet.
    pub const ASSIGNMENT_NOT_READY: &str = "assignment_not_ready";
    /// A unique course slug is taken.
    pub const SLUG_TAKEN: &str = "slug_taken";
    /// A unique name is taken.
    pub const NAME_TAKEN: &str = "name_taken";
    /// Another user of the tenant has this email address.
    pub const EMAIL_TAKEN: &str = "email_taken";
    /// The plugin is not installed in the tenant.
    pub const NOT_INSTALLED: &str = "not_installed";
    /// A pagination cursor that this endpoint did not issue.
    pub const INVALID_CURSOR: &str = "invalid_cursor";
    /// No access token in the request.
    pub const MISSING_TOKEN: &str = "missing_token";
    /// A cookie session's unsafe request without the matching CSRF header.
    pub const CSRF_FAILED: &str = "csrf_failed";
    /// A body that is not JSON.
    pub const MALFORMED_JSON: &str = "malformed_json";
    /// A refresh token that is unknown, expired or revoked.
    pub const INVALID_REFRESH_TOKEN: &str = "invalid_refresh_token";
    /// An invitation token that is unknown, used or expired.
    pub const INVALID_INVITATION: &str = "invalid_invitation";
    /// A session restricted to MFA enrollment called anything else.
    pub const MFA_ENROLLMENT_REQUIRED: &str = "mfa_enrollment_required";
    /// An MFA challenge that is unknown, used, expired, out of attempts or of another tenant.
    pub const INVALID_MFA_CHALLENGE: &str = "invalid_mfa_challenge";
    /// A TOTP or recovery code that is wrong, malformed or already used.
    pub const INVALID_MFA_CODE: &str = "invalid_mfa_code";
    /// The user's MFA is already active.
    pub const MFA_ALREADY_ENABLED: &str = "mfa_already_enabled";
    /// The user has no active MFA.
    pub const MFA_NOT_ENABLED: &str = "mfa_not_enabled";
    /// A confirmation without an enrollment started.
    pub const MFA_ENROLLMENT_NOT_STARTED: &str = "mfa_enrollment_not_started";
    /// The tenant's policy requires MFA for one of the user's roles.
    pub const MFA_REQUIRED_BY_POLICY: &str = "mfa_required_by_policy";
}

/// Carries an internal error's cause from `into_response` to the logging middleware.
#[derive(Clone)]
pub struct InternalCause(pub Arc<anyhow::Error>);

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn validation(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, code, message)])
    }

    /// A string in the request carries a NUL character, which PostgreSQL cannot store in text.
    pub fn nul_character(location: &str) -> Self {
        Self::BadRequest {
            code: codes::NUL_CHARACTER,
            detail: format!("{location} contains a NUL character (U+0000), which is not accepted"),
        }
    }

    pub fn forbidden() -> Self {
        Self::Forbidden {
            code: codes::FORBIDDEN,
            detail: "your role does not allow this action",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } | Self::TenantSuspended => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Plugin(err) => plugin_status(err),
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType | Self::WrongMediaType { .. } => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Timeout => StatusCode::REQUEST_TIMEOUT,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::BadGateway { .. } => StatusCode::BAD_GATEWAY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Validation(_) => "validation_failed",
            Self::BadRequest { code, .. }
            | Self::Unauthenticated { code, .. }
            | Self::Forbidden { code, .. }
            | Self::Conflict { code, .. }
            | Self::Unprocessable { code, .. }
            | Self::BadGateway { code, .. } => code,
            Self::Plugin(err) => err.code(),
            Self::NotFound => "not_found",
            Self::TooManyRequests { .. } => "rate_limited",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType | Self::WrongMediaType { .. } => "unsupported_media_type",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::TenantSuspended => "tenant_suspended",
            Self::Timeout => "timeout",
            Self::Unavailable { .. } => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    fn detail(&self) -> Option<String> {
        match self {
            Self::Internal(_) | Self::Plugin(PluginError::Internal(_)) => None,
            Self::Unauthenticated { detail, .. } | Self::Forbidden { detail, .. } => {
                Some((*detail).to_owned())
            }
            Self::TooManyRequests { retry_after } => Some(format!(
                "try again in {} seconds",
                retry_after.as_secs().max(1)
            )),
            other => Some(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let problem = Problem {
            type_uri: format!("urn:lms:problem:{}", self.code()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: self.detail(),
            code: self.code().to_owned(),
            errors: match &self {
                Self::Validation(errors) => errors.clone(),
                Self::Plugin(err) => plugin_field_errors(err),
                _ => Vec::new(),
            },
        };
        let mut response = problem_response(status, &problem);
        match self {
            Self::TooManyRequests { retry_after } | Self::Unavailable { retry_after } => {
                response.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(retry_after.as_secs().max(1)),
                );
            }
            Self::Unauthenticated { .. } => {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::Plugin(
                PluginError::Overloaded
                | PluginError::NotInstalled { .. }
                | PluginError::CompileBusy { .. },
            ) => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(1));
            }
            Self::Plugin(PluginError::Internal(cause)) => {
                response
                    .extensions_mut()
                    .insert(InternalCause(Arc::new(anyhow::anyhow!(
                        "plugin host: {cause}"
                    ))));
            }
            Self::Internal(cause) => {
                response
                    .extensions_mut()
                    .insert(InternalCause(Arc::new(cause)));
            }
            _ => {}
        }
        response
    }
}

/// Refused uploads are client errors (413 when too large, 409 for a changed version, 422 for
/// anything else, a compile over its budget included); a plugin failing on a request is 422 (the
/// request cannot be graded as it is), an overloaded sandbox 503 with Retry-After, and so are
/// compilations when the server has no free place (429 when the tenant's own place is taken).
/// Only the host's own failures are 500.
fn plugin_status(err: &PluginError) -> StatusCode {
    match err {
        PluginError::Rejected {
            reason: RejectReason::TooLarge { .. },
        } => StatusCode::PAYLOAD_TOO_LARGE,
        PluginError::Rejected {
            reason: RejectReason::VersionConflict(_),
        } => StatusCode::CONFLICT,
        PluginError::Overloaded | PluginError::NotInstalled { .. } => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        // The tenant's own share of compilations is in use: it is the one to slow down.
        PluginError::CompileBusy { tenant: true } => StatusCode::TOO_MANY_REQUESTS,
        PluginError::CompileBusy { tenant: false } => StatusCode::SERVICE_UNAVAILABLE,
        PluginError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        PluginError::Rejected { .. }
        | PluginError::Trap { .. }
        | PluginError::DeadlineExceeded { .. }
        | PluginError::OutOfFuel { .. }
        | PluginError::MemoryLimit { .. }
        | PluginError::OutputTooLarge { .. }
        | PluginError::TransferTooLarge { .. }
        | PluginError::InvalidOutput { .. }
        | PluginError::InvalidInput { .. }
        | PluginError::CompileBudgetExceeded { .. }
        | PluginError::Grader(_)
        | PluginError::Integration(_)
        | PluginError::CapabilityDenied { .. } => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

/// The finer reason of a refused upload or a grader's refusal, as a field error.
fn plugin_field_errors(err: &PluginError) -> Vec<FieldError> {
    match err {
        PluginError::Rejected { reason } => {
            vec![FieldError::new(
                "component",
                reason.code(),
                reason.to_string(),
            )]
        }
        PluginError::Grader(GraderError::InvalidConfig(message)) => {
            vec![FieldError::new("config", "invalid_config", message.clone())]
        }
        PluginError::Grader(GraderError::InvalidResponse(message)) => {
            vec![FieldError::new(
                "response",
                "invalid_response",
                message.clone(),
            )]
        }
        _ => Vec::new(),
    }
}

pub fn problem_response(status: StatusCode, problem: &Problem) -> Response {
    let body = serde_json::to_vec(problem).unwrap_or_default();
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        )],
        body,
    )
        .into_response()
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::PoolTimedOut = err {
            return Self::Unavailable {
                retry_after: Duration::from_secs(1),
            };
        }
        Self::Internal(anyhow::Error::new(err).context("database"))
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> Self {
        Self::Internal(err)
    }
}

/// The name of the constraint a database error violated, to turn it into a client error.
pub fn violated_constraint(err: &sqlx::Error) -> Option<&str> {
    match err {
        sqlx::Error::Database(db) => db.constraint(),
        _ => None,
    }
}

/// Maps a constraint violation to a client error; anything else stays internal.
pub trait OnConstraint<T> {
    fn on_constraint(self, name: &str, to: impl FnOnce() -> ApiError) -> Result<T, ApiError>;
}

impl<T> OnConstraint<T> for Result<T, sqlx::Error> {
    fn on_constraint(self, name: &str, to: impl FnOnce() -> ApiError) -> Result<T, ApiError> {
        self.map_err(|err| {
            if violated_constraint(&err) == Some(name) {
                to()
            } else {
                ApiError::from(err)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_do_not_leak_their_cause() {
        let err = ApiError::Internal(anyhow::anyhow!("password=hunter2 at 10.0.0.5"));
        assert_eq!(err.detail(), None);
        let response = err.into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(response.extensions().get::<InternalCause>().is_some());
    }

    #[test]
    fn plugin_failures_are_typed_client_errors_and_overload_is_retryable() {
        let overloaded = ApiError::Plugin(PluginError::Overloaded).into_response();
        assert_eq!(overloaded.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(overloaded.headers()[header::RETRY_AFTER], "1");
        let deadline = ApiError::Plugin(PluginError::DeadlineExceeded { deadline_ms: 100 });
        assert_eq!(deadline.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(deadline.code(), "deadline_exceeded");
        let transfer = ApiError::Plugin(PluginError::TransferTooLarge { limit: 24_576 });
        assert_eq!(transfer.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(transfer.code(), "transfer_too_large");
        assert!(transfer.detail().is_some_and(|d| d.contains("24576 bytes")));
        let too_large = ApiError::Plugin(PluginError::Rejected {
            reason: RejectReason::TooLarge { size: 2, limit: 1 },
        });
        assert_eq!(too_large.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(too_large.code(), "rejected");
        let host = ApiError::Plugin(PluginError::Internal("engine exploded".into()));
        assert_eq!(host.detail(), None);
        assert_eq!(
            host.into_response().status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    #[test]
    fn rate_limits_carry_retry_after() {
        let response = ApiError::TooManyRequests {
            retry_after: Duration::from_secs(7),
        }
        .into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "7");
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
    }
}
