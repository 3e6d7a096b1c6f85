//! Cross-cutting middleware: error logging, request metrics and problem+json for the responses
//! the framework produces itself (unknown routes, wrong methods, panics).

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, InternalCause};

/// Logs every 5xx once, with its cause, and records request metrics by route template.
pub async fn observe(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(req).await;
    let status = response.status();
    if let Some(InternalCause(cause)) = response.extensions().get::<InternalCause>() {
        tracing::error!(%method, %route, status = status.as_u16(), error = ?cause, "request failed");
    } else if status.is_server_error() {
        tracing::error!(%method, %route, status = status.as_u16(), "request failed");
    }
    let labels = [
        ("method", method.to_string()),
        ("route", route),
        ("status", status.as_u16().to_string()),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Refuses a request whose percent-decoded path or query holds a NUL (400 `nul_character`, or
/// a SCIM `invalidValue` below `/scim/`): PostgreSQL cannot store one in text, and any path
/// segment or query value may reach a query.
pub async fn refuse_nul(req: Request, next: Next) -> Response {
    let uri = req.uri();
    if decodes_to_nul(uri.path()) || uri.query().is_some_and(decodes_to_nul) {
        let location = "the request's path or query";
        if uri.path().starts_with("/scim/") {
            return crate::scim::error::ScimError::invalid_value(format!(
                "{location} contains a NUL character (U+0000), which is not accepted"
            ))
            .into_response();
        }
        return ApiError::nul_character(location).into_response();
    }
    next.run(req).await
}

/// Whether percent-decoding `raw` yields a NUL byte. A URI cannot hold a raw NUL, and a `%`
/// is never one of an escape's two hex digits, so every `%00` decodes to NUL and nothing else does.
fn decodes_to_nul(raw: &str) -> bool {
    raw.as_bytes().windows(3).any(|w| w == b"%00")
}

/// Runs the rest of the request in a task of its own, so that neither a client that disconnects
/// (hyper then drops the request's future) nor the request timeout can cancel it half-way: its
/// transaction always ends with its commit or rollback, and its connection goes back to the pool
/// between statements, never inside one. A panic carries on to the panic layer outside.
pub async fn run_to_completion(req: Request, next: Next) -> Response {
    match tokio::spawn(next.run(req)).await {
        Ok(response) => response,
        Err(error) => match error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            // Tasks are aborted only when the runtime shuts down.
            Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        },
    }
}

/// Below `/scim/` the answer is a SCIM error, as SCIM clients expect.
pub async fn not_found(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/scim/") {
        return crate::scim::unknown(&method, uri.path()).into_response();
    }
    ApiError::NotFound.into_response()
}

pub async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/scim/") {
        let error = crate::scim::unknown(&method, uri.path());
        if error.status == StatusCode::NOT_IMPLEMENTED {
            return error.into_response();
        }
        return crate::scim::error::ScimError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            None,
            format!("{method} is not supported here"),
        )
        .into_response();
    }
    ApiError::MethodNotAllowed.into_response()
}

/// A panic in a handler is a bug; the client gets a plain 500 problem, the log gets the message.
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    ApiError::Internal(anyhow::anyhow!("handler panicked: {message}")).into_response()
}

/// Maps the framework's own error statuses (e.g. 413 from the body limit) to problem+json.
pub async fn problem_for_bare_errors(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let is_problem = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| {
            v.as_bytes().starts_with(b"application/problem+json")
                || v.as_bytes().starts_with(b"application/scim+json")
        });
    if is_problem || !(response.status().is_client_error() || response.status().is_server_error()) {
        return response;
    }
    match response.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge.into_response(),
        StatusCode::NOT_FOUND => ApiError::NotFound.into_response(),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed.into_response(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType.into_response(),
        StatusCode::REQUEST_TIMEOUT => ApiError::Timeout.into_response(),
        _ => response,
    }
}

#[cfg(test)]
mod tests {
    use super::decodes_to_nul;

    #[test]
    fn only_an_escaped_nul_decodes_to_nul() {
        assert!(decodes_to_nul("/api/v1/catalog/%00"));
        assert!(decodes_to_nul("q=a%00b&limit=5"));
        assert!(decodes_to_nul("q=%%00"));
        assert!(!decodes_to_nul("q=%2500"));
        assert!(!decodes_to_nul("q=100%25&x=%0A"));
        assert!(!decodes_to_nul("/api/v1/users"));
    }
}
