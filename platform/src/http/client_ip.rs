//! The client's address, for rate limits, login backoff and the audit trail.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Request};

use crate::error::ApiError;

/// Whether `X-Forwarded-For` is believed (only behind a trusted reverse proxy).
#[derive(Debug, Clone, Copy)]
pub struct TrustProxyHeaders(pub bool);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientIp(pub IpAddr);

impl ClientIp {
    pub fn from_parts(
        headers: &HeaderMap,
        peer: Option<IpAddr>,
        trust_proxy: bool,
    ) -> Option<Self> {
        if trust_proxy
            && let Some(forwarded) = headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .and_then(|v| v.trim().parse().ok())
        {
            return Some(Self(forwarded));
        }
        peer.map(Self)
    }

    pub fn of_request<B>(req: &Request<B>, trust_proxy: bool) -> Option<Self> {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        Self::from_parts(req.headers(), peer, trust_proxy)
    }
}

impl<S> FromRequestParts<S> for ClientIp
where
    S: Send + Sync,
    TrustProxyHeaders: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let TrustProxyHeaders(trust) = TrustProxyHeaders::from_ref(state);
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        Self::from_parts(&parts.headers, peer, trust).ok_or_else(|| {
            ApiError::Internal(anyhow::anyhow!("no peer address: serve with connect info"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_is_ignored_unless_trusted() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "203.0.113.9, 10.0.0.1".parse().expect("header"),
        );
        let peer = Some(IpAddr::from([127, 0, 0, 1]));
        assert_eq!(
            ClientIp::from_parts(&headers, peer, false),
            peer.map(ClientIp)
        );
        assert_eq!(
            ClientIp::from_parts(&headers, peer, true),
            Some(ClientIp(IpAddr::from([203, 0, 113, 9])))
        );
    }
}
