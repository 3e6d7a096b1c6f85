//! The operator credential check.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use subtle::ConstantTimeEq;

use crate::error::{ApiError, codes};
use crate::http::ClientIp;
use crate::state::{AppState, Settings};

/// A request bearing the platform-operator credential, and where it came from (for the audit).
pub struct Operator {
    pub ip: Option<std::net::IpAddr>,
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or(ApiError::Unauthenticated {
                code: codes::MISSING_TOKEN,
                detail: "send the operator credential as a Bearer token",
            })?;
        // Comparing digests keeps the comparison constant-time whatever the presented length.
        let matches =
            Settings::hash_operator_token(presented).ct_eq(&state.settings.operator_token_hash);
        if bool::from(matches) {
            let peer = parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|info| info.0.ip());
            let ip = ClientIp::from_parts(&parts.headers, peer, state.settings.trust_proxy_headers);
            Ok(Operator {
                ip: ip.map(|ip| ip.0),
            })
        } else {
            Err(ApiError::Unauthenticated {
                code: "invalid_operator_token",
                detail: "the operator credential is wrong",
            })
        }
    }
}
