//! The one guarded HTTP client for every call the platform makes to addresses its users give it
//! (tenant webhooks, and next integration plugins, identity providers and Discord):
//!
//! - https only, except to hosts and networks named in `LMS_OUTBOUND_ALLOW`;
//! - the host name is resolved once, by the client's own resolver, and only public addresses
//!   (or allowed ones) are kept; the connection goes to exactly those addresses, so a DNS answer
//!   that changes between a check and the connection (rebinding) cannot reach inside;
//! - addresses written into the URL are checked the same way, in every spelling the URL parser
//!   accepts (decimal, IPv4-mapped IPv6 …);
//! - no redirects, no proxies from the environment, no credentials in URLs;
//! - connect and total timeouts, and response bodies read only up to a cap.

mod address;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};

pub use address::{AllowList, is_public};

/// Time limits of one call.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub connect: Duration,
    /// The whole call: connecting, sending, and reading the capped response.
    pub total: Duration,
    /// Response body bytes kept; the rest is not read.
    pub body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            total: Duration::from_secs(15),
            body_bytes: 64 * 1024,
        }
    }
}

/// Why a call was not made or did not complete.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("not a usable URL: {0}")]
    BadUrl(String),
    #[error("only https URLs may be called")]
    NotHttps,
    #[error("{0} is not a public address")]
    Refused(String),
    #[error("{0} could not be resolved")]
    Unresolved(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("the call failed: {0}")]
    Transport(String),
}

/// An answer, with its body read up to the cap.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// The body was longer than the cap and was cut there.
    pub truncated: bool,
    pub elapsed: Duration,
}

#[derive(Clone)]
pub struct Outbound {
    client: reqwest::Client,
    allow: Arc<AllowList>,
    limits: Limits,
}

impl Outbound {
    pub fn new(allow: AllowList, limits: Limits) -> anyhow::Result<Self> {
        let allow = Arc::new(allow);
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver {
                allow: Arc::clone(&allow),
            }))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(limits.connect)
            .timeout(limits.total)
            .user_agent(concat!("lms-platform/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            client,
            allow,
            limits,
        })
    }

    /// Checks a URL as a call would, without calling: for refusing a webhook endpoint when it is
    /// saved rather than at its first delivery. Host names are not resolved here.
    pub fn check_url(&self, url: &str) -> Result<url::Url, OutboundError> {
        let parsed = url::Url::parse(url).map_err(|err| OutboundError::BadUrl(err.to_string()))?;
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(OutboundError::BadUrl("credentials in the URL".into()));
        }
        let host = parsed
            .host()
            .ok_or_else(|| OutboundError::BadUrl("no host".into()))?;
        let allowed = match &host {
            url::Host::Domain(name) => self.allow.names_host(name),
            url::Host::Ipv4(v4) => self.allow.names_ip(IpAddr::V4(*v4)),
            url::Host::Ipv6(v6) => self.allow.names_ip(IpAddr::V6(*v6)),
        };
        match parsed.scheme() {
            "https" => {}
            "http" if allowed => {}
            "http" => return Err(OutboundError::NotHttps),
            _ => return Err(OutboundError::BadUrl("not an http(s) URL".into())),
        }
        let literal = match host {
            url::Host::Domain(_) => None,
            url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
            url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        };
        if let Some(ip) = literal
            && !allowed
            && !is_public(ip)
        {
            return Err(OutboundError::Refused(ip.to_string()));
        }
        Ok(parsed)
    }

    /// Sends one request and reads the answer up to the body cap.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        headers: HeaderMap,
        body: Vec<u8>,
    ) -> Result<Answer, OutboundError> {
        let url = self.check_url(url)?;
        let started = Instant::now();
        let total = self.limits.total;
        let call = async {
            let mut response = self
                .client
                .request(method, url)
                .headers(headers)
                .body(body)
                .send()
                .await
                .map_err(|err| transport(&err, total))?;
            let status = response.status();
            let headers = response.headers().clone();
            let mut body = Vec::new();
            let mut truncated = false;
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|err| transport(&err, total))?
            {
                let room = self.limits.body_bytes - body.len();
                if chunk.len() > room {
                    body.extend_from_slice(&chunk[..room]);
                    truncated = true;
                    break;
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Answer {
                status,
                headers,
                body,
                truncated,
                elapsed: started.elapsed(),
            })
        };
        tokio::time::timeout(total, call)
            .await
            .unwrap_or(Err(OutboundError::Timeout(total)))
    }
}

fn transport(err: &reqwest::Error, total: Duration) -> OutboundError {
    if err.is_timeout() {
        return OutboundError::Timeout(total);
    }
    // The resolver's refusal travels inside the connect error; say it plainly.
    let mut source: Option<&dyn std::error::Error> = Some(err);
    while let Some(current) = source {
        if let Some(refused) = current.downcast_ref::<ResolveRefused>() {
            return match refused {
                ResolveRefused::NotPublic(name) => OutboundError::Refused(name.clone()),
                ResolveRefused::Unresolved(name) => OutboundError::Unresolved(name.clone()),
            };
        }
        source = current.source();
    }
    OutboundError::Transport(format!("{err:#}"))
}

/// Resolves host names for the client, keeping only the addresses it may connect to.
struct GuardedResolver {
    allow: Arc<AllowList>,
}

#[derive(Debug, thiserror::Error)]
enum ResolveRefused {
    #[error("{0} resolves to no public address")]
    NotPublic(String),
    #[error("{0} could not be resolved")]
    Unresolved(String),
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow = Arc::clone(&self.allow);
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|_| ResolveRefused::Unresolved(host.clone()))?
                .collect();
            if found.is_empty() {
                return Err(ResolveRefused::Unresolved(host).into());
            }
            let named = allow.names_host(&host);
            let usable: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| named || allow.names_ip(a.ip()) || is_public(a.ip()))
                .collect();
            if usable.is_empty() {
                return Err(ResolveRefused::NotPublic(host).into());
            }
            let addrs: Addrs = Box::new(usable.into_iter());
            Ok(addrs)
        })
    }
}
