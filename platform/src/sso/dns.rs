//! The DNS TXT lookups that prove a tenant controls an email domain. The resolver is the
//! system's, or the one `LMS_DNS_RESOLVER` names (a private resolver, or a test's local server).

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::xfer::Protocol;

/// The record a tenant publishes: `TXT <RECORD_PREFIX>.<domain>` with `<VALUE_PREFIX><token>`.
pub const RECORD_PREFIX: &str = "_lms-verification";
pub const VALUE_PREFIX: &str = "lms-domain-verification=";
/// TXT strings read per lookup; a name with more is not ours to parse whole.
const MAX_RECORDS: usize = 50;

#[derive(Clone)]
pub struct TxtResolver {
    resolver: TokioResolver,
}

impl TxtResolver {
    /// `server`: one name server (UDP, then TCP) instead of the system's configuration.
    pub fn new(server: Option<SocketAddr>) -> anyhow::Result<Self> {
        let mut options = ResolverOpts::default();
        options.timeout = Duration::from_secs(3);
        options.attempts = 2;
        // A verification must see a record as soon as it is published.
        options.cache_size = 0;
        let resolver = match server {
            Some(addr) => {
                let mut config = ResolverConfig::new();
                config.add_name_server(NameServerConfig::new(addr, Protocol::Udp));
                config.add_name_server(NameServerConfig::new(addr, Protocol::Tcp));
                TokioResolver::builder_with_config(config, TokioConnectionProvider::default())
                    .with_options(options)
                    .build()
            }
            None => TokioResolver::builder_tokio()?
                .with_options(options)
                .build(),
        };
        Ok(Self { resolver })
    }

    /// Whether `<RECORD_PREFIX>.<domain>` carries `<VALUE_PREFIX><token>`. A missing name or
    /// record is `Ok(false)`; an unreachable resolver is an error.
    pub async fn has_token(&self, domain: &str, token: &str) -> anyhow::Result<bool> {
        let name = format!("{RECORD_PREFIX}.{domain}.");
        let found = match self.resolver.txt_lookup(name).await {
            Ok(found) => found,
            Err(err) if err.is_no_records_found() || err.is_nx_domain() => return Ok(false),
            Err(err) => return Err(anyhow::anyhow!("TXT lookup for {domain}: {err}")),
        };
        let expected = format!("{VALUE_PREFIX}{token}");
        Ok(found.iter().take(MAX_RECORDS).any(|txt| {
            // A long value may be split into several strings of one record.
            let joined: Vec<u8> = txt
                .txt_data()
                .iter()
                .flat_map(|s| s.iter().copied())
                .collect();
            joined == expected.as_bytes()
        }))
    }
}
