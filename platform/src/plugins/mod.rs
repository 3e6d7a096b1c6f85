//! The plugin registry and what hangs off it: per-tenant plugin versions (uploaded or installed
//! from the platform's first-party catalog), capability grants, enable/disable/rollback, trusted
//! publisher keys, the grading endpoint and the invocation records.
//!
//! Component bytes are kept in PostgreSQL (`plugin_components`, per tenant and SHA-256). They are
//! compiled into the in-memory [`PluginHost`] at upload, and lazily on first use after a restart;
//! the host shares compiled code between versions and tenants with the same bytes and keeps one
//! `InstancePre` per version. Native compiled artifacts are never persisted: loading them back
//! would need `unsafe Component::deserialize` (the workspace forbids unsafe code), and a database
//! the app role can write must never be a path to native code. wasmtime's own on-disk cache
//! (`Config::cache`) is not enabled either: it writes native code to a directory the server
//! process can write, the same trust problem, while the graders compile in milliseconds.

mod catalog;
mod config_schema;
mod delivery;
mod grading;
mod http_client;
mod install_settings;
mod invocations;
mod model;
mod routes;
pub(crate) mod service;
mod signature;
mod store;

use std::sync::Arc;

use lms_plugin_host::{HostConfig, PluginHost};

pub use catalog::register as register_catalog;
pub use delivery::{DeliverEvent, LATENCY_METRIC as DELIVERY_LATENCY_METRIC, deliver_event};
pub use grading::{GradeInput, GradeView, check_grader_config, run as run_grader};
pub use invocations::{DURATION_METRIC, MEMORY_METRIC};
pub use model::{Capability, PluginName};
pub use routes::router;

/// Records kept per tenant by default.
pub const DEFAULT_INVOCATIONS_KEPT: i64 = 1_000;

/// The sandbox and the registry's runtime settings, shared by every request.
#[derive(Clone)]
pub struct Plugins {
    pub host: Arc<PluginHost>,
    /// Invocation records kept per tenant.
    pub invocations_kept: i64,
    /// The HTTP rate limit of each integration install.
    pub http_limits: http_client::InstallRateLimits,
}

impl Plugins {
    /// The production sandbox limits, with fuel metering on so records carry fuel used.
    /// Uploads are compiled first in a child process, by default this executable (whose `main`
    /// hands the hidden `__compile-plugin` argument to the plugin host).
    pub fn new(config: &crate::config::PluginConfig) -> anyhow::Result<Self> {
        let mut host_config = HostConfig {
            fuel: Some(2_000_000_000),
            ..HostConfig::default()
        };
        host_config.compile.program = config.compile_program.clone();
        let host = PluginHost::new(host_config)
            .map_err(|e| anyhow::anyhow!("starting the plugin host: {e}"))?;
        Ok(Self {
            host: Arc::new(host),
            invocations_kept: config.invocations_kept.max(1),
            http_limits: http_client::InstallRateLimits::default(),
        })
    }
}

/// The host's id for a tenant's plugin: names are unique per tenant, not across tenants.
fn host_id(tenant: lms_tenants::TenantId, name: &str) -> lms_plugin_host::PluginId {
    lms_plugin_host::PluginId(format!("{tenant}/{name}"))
}

/// The host's id for a tenant, for its share of compilations.
fn host_tenant(tenant: lms_tenants::TenantId) -> lms_plugin_host::TenantId {
    lms_plugin_host::TenantId(tenant.to_string())
}

fn host_version(version: &str) -> lms_plugin_host::PluginVersion {
    lms_plugin_host::PluginVersion(version.to_owned())
}
