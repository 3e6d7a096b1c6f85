//! SCIM errors (RFC 7644 §3.12): the `urn:ietf:params:scim:api:messages:2.0:Error` message with
//! `status` as a string and a `scimType` where the RFC names one, as `application/scim+json`.
//! The platform's own [`ApiError`]s (from the shared services) map onto it.

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, InternalCause};

pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const SCIM_JSON: &str = "application/scim+json";

/// RFC 7644 §3.12 `scimType` values the server answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimType {
    InvalidFilter,
    TooMany,
    Uniqueness,
    Mutability,
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
}

impl ScimType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidFilter => "invalidFilter",
            Self::TooMany => "tooMany",
            Self::Uniqueness => "uniqueness",
            Self::Mutability => "mutability",
            Self::InvalidSyntax => "invalidSyntax",
            Self::InvalidPath => "invalidPath",
            Self::NoTarget => "noTarget",
            Self::InvalidValue => "invalidValue",
        }
    }
}

/// A failed SCIM request.
#[derive(Debug)]
pub struct ScimError {
    pub status: StatusCode,
    pub scim_type: Option<ScimType>,
    pub detail: String,
    /// An internal failure's cause, for the log only.
    cause: Option<anyhow::Error>,
    retry_after: Option<u64>,
}

pub type ScimResult<T> = Result<T, ScimError>;

impl ScimError {
    pub fn bad_request(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some(scim_type), detail)
    }

    pub fn new(status: StatusCode, scim_type: Option<ScimType>, detail: impl Into<String>) -> Self {
        Self {
            status,
            scim_type,
            detail: detail.into(),
            cause: None,
            retry_after: None,
        }
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, None, "no such resource")
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            None,
            "a valid SCIM bearer token of this organisation is required",
        )
    }

    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, Some(ScimType::Uniqueness), detail)
    }

    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidValue, detail)
    }
}

/// The SCIM Error message.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScimErrorBody {
    /// `["urn:ietf:params:scim:api:messages:2.0:Error"]`.
    pub schemas: Vec<&'static str>,
    /// The HTTP status code, as a string.
    pub status: String,
    /// RFC 7644 §3.12 error type, e.g. `uniqueness` or `invalidFilter`.
    #[serde(rename = "scimType", skip_serializing_if = "Option::is_none")]
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let detail = if self.status.is_server_error() && self.cause.is_some() {
            "internal error".to_owned()
        } else {
            self.detail
        };
        let body = ScimErrorBody {
            schemas: vec![ERROR_SCHEMA],
            status: self.status.as_u16().to_string(),
            scim_type: self.scim_type.map(ScimType::as_str),
            detail,
        };
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON))],
            serde_json::to_vec(&body).unwrap_or_default(),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(cause) = self.cause {
            response
                .extensions_mut()
                .insert(InternalCause(Arc::new(cause)));
        }
        response
    }
}

impl From<ApiError> for ScimError {
    fn from(err: ApiError) -> Self {
        let status = err.status();
        let scim_type = match &err {
            ApiError::Conflict { .. } => Some(ScimType::Uniqueness),
            ApiError::Validation(_) | ApiError::Unprocessable { .. } => {
                Some(ScimType::InvalidValue)
            }
            ApiError::BadRequest { .. } => Some(ScimType::InvalidSyntax),
            _ => None,
        };
        let detail = match &err {
            ApiError::Validation(errors) => errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; "),
            other => other.to_string(),
        };
        // SCIM answers 400 where the platform's validation says 422 (RFC 7644 §3.12).
        let status = if matches!(
            err,
            ApiError::Validation(_) | ApiError::Unprocessable { .. }
        ) {
            StatusCode::BAD_REQUEST
        } else {
            status
        };
        let retry_after = match &err {
            ApiError::TooManyRequests { retry_after } | ApiError::Unavailable { retry_after } => {
                Some(retry_after.as_secs().max(1))
            }
            _ => None,
        };
        let cause = match err {
            ApiError::Internal(cause) => Some(cause),
            _ => None,
        };
        Self {
            status,
            scim_type,
            detail,
            cause,
            retry_after,
        }
    }
}

impl From<sqlx::Error> for ScimError {
    fn from(err: sqlx::Error) -> Self {
        ApiError::from(err).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_carry_the_scim_schema_and_a_string_status() {
        let response = ScimError::uniqueness("taken").into_response();
        assert_eq!(response.status(), StatusCode::CONFLICT);
        assert_eq!(response.headers()[header::CONTENT_TYPE], SCIM_JSON);
    }

    #[test]
    fn internal_causes_stay_out_of_the_body() {
        let err: ScimError = ApiError::Internal(anyhow::anyhow!("secret=1")).into();
        assert_eq!(err.status, StatusCode::INTERNAL_SERVER_ERROR);
        let response = err.into_response();
        assert!(response.extensions().get::<InternalCause>().is_some());
    }
}
