//! Per-client-address request rate limits (tower-governor): a global one on every route and a
//! stricter one on the credential endpoints. Over the limit: 429 problem+json with Retry-After.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, Response};
use axum::response::IntoResponse;
use governor::middleware::NoOpMiddleware;
use tower_governor::GovernorError;
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::key_extractor::KeyExtractor;

use super::ClientIp;
use crate::error::ApiError;

/// Keys requests by client address, honouring `X-Forwarded-For` only when configured to.
#[derive(Debug, Clone, Copy)]
pub struct ClientIpKey {
    pub trust_proxy_headers: bool,
}

impl KeyExtractor for ClientIpKey {
    type Key = std::net::IpAddr;

    fn extract<T>(&self, req: &Request<T>) -> Result<Self::Key, GovernorError> {
        ClientIp::of_request(req, self.trust_proxy_headers)
            .map(|ip| ip.0)
            .ok_or(GovernorError::UnableToExtractKey)
    }
}

pub type Layer = tower_governor::GovernorLayer<ClientIpKey, NoOpMiddleware>;

/// A limit of `per_second` requests per second with bursts of `burst`; `None` when disabled (0).
pub fn layer(per_second: u64, burst: u32, key: ClientIpKey) -> Option<Layer> {
    if per_second == 0 {
        return None;
    }
    // governor replenishes one cell every `period`; derive it from the rate.
    let period = Duration::from_nanos(1_000_000_000 / per_second.max(1));
    let config = GovernorConfigBuilder::default()
        .period(period)
        .burst_size(burst.max(1))
        .key_extractor(key)
        .error_handler(problem)
        .finish()?;
    let config = Arc::new(config);
    let limiter = config.limiter().clone();
    // Forget idle clients so the table does not grow without bound.
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            limiter.retain_recent();
        }
    });
    Some(tower_governor::GovernorLayer { config })
}

fn problem(error: GovernorError) -> Response<Body> {
    match error {
        GovernorError::TooManyRequests { wait_time, .. } => ApiError::TooManyRequests {
            retry_after: Duration::from_secs(wait_time.max(1)),
        }
        .into_response(),
        GovernorError::UnableToExtractKey | GovernorError::Other { .. } => {
            ApiError::Internal(anyhow::anyhow!("rate limiter: {error}")).into_response()
        }
    }
}
