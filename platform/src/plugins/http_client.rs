//! The HTTP client an integration's `lms:plugin/http` requests go through: the platform's
//! guarded client (`crate::outbound`: https only, no redirects, private addresses refused after
//! resolution, timeouts, capped bodies, `LMS_OUTBOUND_ALLOW`), restricted to the install's
//! allowed hosts and held to a per-install rate limit shared by all of its calls.
//!
//! We host our own interface rather than `wasi:http/outgoing-handler`: wasi-http hands plugins
//! resources, streams and pollables from wasmtime-wasi (the whole WASI surface our validation
//! otherwise refuses), and its hook would have to re-implement what `outbound` already does at
//! the connection level. One `send` function with a whole request and a capped whole response is
//! all an integration needs, and every byte of it is bounded before the host copies it.

use std::sync::Arc;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use lms_plugin_host::{BoxFuture, HttpClient, HttpError, HttpMethod, HttpRequest, HttpResponse};
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::outbound::{Outbound, OutboundError};

/// Requests per second an install may send, and its burst.
const PER_SECOND: u32 = 10;
const BURST: u32 = 20;
/// Most headers on one request.
const MAX_HEADERS: usize = 32;

/// The rate limits of every install, keyed by `tenant/plugin`.
#[derive(Clone)]
pub struct InstallRateLimits(Arc<DefaultKeyedRateLimiter<String>>);

impl Default for InstallRateLimits {
    fn default() -> Self {
        let quota = Quota::per_second(std::num::NonZeroU32::MIN.saturating_add(PER_SECOND - 1))
            .allow_burst(std::num::NonZeroU32::MIN.saturating_add(BURST - 1));
        Self(Arc::new(RateLimiter::keyed(quota)))
    }
}

/// One install's client for one call.
pub struct InstallHttp {
    pub outbound: Outbound,
    pub limits: InstallRateLimits,
    /// `tenant/plugin`.
    pub install: String,
    /// Lowercase `host` or `host:port` entries.
    pub allowed_hosts: Vec<String>,
}

impl InstallHttp {
    fn allowed(&self, url: &url::Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        let host = host.to_ascii_lowercase();
        let with_port = url.port().map(|port| format!("{host}:{port}"));
        self.allowed_hosts.iter().any(|allowed| match &with_port {
            Some(with_port) => allowed == with_port,
            None => *allowed == host,
        })
    }

    async fn send_checked(
        &self,
        request: HttpRequest,
        max_body_bytes: usize,
    ) -> Result<HttpResponse, HttpError> {
        let url = self.outbound.check_url(&request.url).map_err(refusal)?;
        if !self.allowed(&url) {
            return Err(HttpError::HostNotAllowed(
                url.host_str().unwrap_or_default().to_owned(),
            ));
        }
        if let Err(not_until) = self.limits.0.check_key(&self.install) {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            return Err(HttpError::RateLimited {
                retry_after_ms: u32::try_from(wait.as_millis()).unwrap_or(u32::MAX).max(1),
            });
        }
        let headers = headers(&request.headers)?;
        let method = match request.method {
            HttpMethod::Get => Method::GET,
            HttpMethod::Post => Method::POST,
            HttpMethod::Put => Method::PUT,
            HttpMethod::Patch => Method::PATCH,
            HttpMethod::Delete => Method::DELETE,
        };
        let answer = self
            .outbound
            .send(method, url.as_str(), headers, request.body)
            .await
            .map_err(refusal)?;
        if answer.truncated || answer.body.len() > max_body_bytes {
            return Err(HttpError::ResponseTooLarge {
                limit: u32::try_from(answer.body.len().min(max_body_bytes)).unwrap_or(u32::MAX),
            });
        }
        Ok(HttpResponse {
            status: answer.status.as_u16(),
            headers: answer
                .headers
                .iter()
                .filter_map(|(name, value)| {
                    Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
                })
                .collect(),
            body: answer.body,
        })
    }
}

impl HttpClient for InstallHttp {
    fn send(
        &self,
        request: HttpRequest,
        max_body_bytes: usize,
    ) -> BoxFuture<'_, Result<HttpResponse, HttpError>> {
        Box::pin(self.send_checked(request, max_body_bytes))
    }
}

/// The plugin's headers, less those the client sets itself.
fn headers(raw: &[(String, String)]) -> Result<HeaderMap, HttpError> {
    if raw.len() > MAX_HEADERS {
        return Err(HttpError::Refused(format!(
            "more than {MAX_HEADERS} headers"
        )));
    }
    let mut headers = HeaderMap::new();
    for (name, value) in raw {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| HttpError::Refused(format!("{name:?} is not a header name")))?;
        if matches!(
            name.as_str(),
            "host" | "content-length" | "connection" | "transfer-encoding" | "upgrade" | "te"
        ) {
            continue;
        }
        let value = HeaderValue::from_str(value).map_err(|_| {
            HttpError::Refused(format!("the value of {name} is not a header value"))
        })?;
        headers.append(name, value);
    }
    Ok(headers)
}

fn refusal(error: OutboundError) -> HttpError {
    match error {
        OutboundError::BadUrl(m) => HttpError::Refused(m),
        OutboundError::NotHttps => HttpError::Refused("only https URLs may be called".into()),
        OutboundError::Refused(address) => {
            HttpError::Refused(format!("{address} is not a public address"))
        }
        OutboundError::Unresolved(host) => HttpError::Transport(format!("{host} does not resolve")),
        OutboundError::Timeout(_) => HttpError::Timeout,
        OutboundError::Transport(m) => HttpError::Transport(m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::{AllowList, Limits};

    fn client(allowed_hosts: &[&str]) -> InstallHttp {
        InstallHttp {
            outbound: Outbound::new(
                AllowList::parse("127.0.0.1").expect("allow list"),
                Limits::default(),
            )
            .expect("client"),
            limits: InstallRateLimits::default(),
            install: "tenant/plugin".into(),
            allowed_hosts: allowed_hosts.iter().map(|h| (*h).to_owned()).collect(),
        }
    }

    fn get(url: &str) -> HttpRequest {
        HttpRequest {
            method: HttpMethod::Get,
            url: url.into(),
            headers: vec![("x-test".into(), "1".into())],
            body: vec![],
        }
    }

    #[tokio::test]
    async fn only_allowed_hosts_and_public_https_addresses_are_reached() {
        let http = client(&["127.0.0.1:1", "10.0.0.1", "hooks.example"]);
        assert_eq!(
            http.send(get("http://127.0.0.1:2/x"), 1024).await,
            Err(HttpError::HostNotAllowed("127.0.0.1".into()))
        );
        assert_eq!(
            http.send(get("https://evil.example/x"), 1024).await,
            Err(HttpError::HostNotAllowed("evil.example".into()))
        );
        // Allowed by the install, refused by the guard: a private address, plain http.
        assert!(matches!(
            http.send(get("https://10.0.0.1/x"), 1024).await,
            Err(HttpError::Refused(_))
        ));
        assert!(matches!(
            http.send(get("http://hooks.example/x"), 1024).await,
            Err(HttpError::Refused(_))
        ));
        assert!(matches!(
            http.send(get("https://user:pw@hooks.example/x"), 1024)
                .await,
            Err(HttpError::Refused(_))
        ));
    }

    #[tokio::test]
    async fn a_flood_is_rate_limited_per_install() {
        let http = client(&["127.0.0.1:1"]);
        let mut limited = None;
        for n in 0..BURST + 5 {
            // Nothing listens on port 1: each allowed request fails fast in transport.
            match http.send(get("http://127.0.0.1:1/"), 1024).await {
                Err(HttpError::RateLimited { retry_after_ms }) => {
                    limited = Some((n, retry_after_ms));
                    break;
                }
                Err(HttpError::Transport(_)) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        let (n, wait) = limited.expect("the flood is limited");
        assert!(n >= BURST - 1, "limited after {n} requests");
        assert!((1..=1000).contains(&wait), "{wait}");
        // Another install has its own budget.
        let other = InstallHttp {
            install: "tenant/other".into(),
            limits: http.limits.clone(),
            ..client(&["127.0.0.1:1"])
        };
        assert!(matches!(
            other.send(get("http://127.0.0.1:1/"), 1024).await,
            Err(HttpError::Transport(_))
        ));
    }

    #[test]
    fn hop_by_hop_and_bad_headers_are_handled() {
        let headers = headers(&[
            ("Host".into(), "evil".into()),
            ("content-length".into(), "5".into()),
            ("x-audit-log-reason".into(), "ok".into()),
        ])
        .expect("headers");
        assert_eq!(headers.len(), 1);
        assert!(headers(&[("bad name".into(), "x".into())]).is_err());
        assert!(headers(&[("x".into(), "line\nbreak".into())]).is_err());
    }
}
