//! Per-tenant OpenID Connect single sign-on: connections to the tenant's identity providers
//! (client secrets sealed at rest), email domains proven by DNS TXT records (one verified
//! owner each), home-realm discovery, the sign-in flow with JIT provisioning and group-to-role
//! mapping, and the "SSO required" rule for password credentials.

pub mod dns;
pub mod login;
mod model;
pub mod oidc;
mod routes;
mod service;
mod store;

pub use model::{ConnectionId, DomainId};
pub use routes::{credential_router, router};

/// What the SSO feature keeps for the life of the process.
#[derive(Clone)]
pub struct Sso {
    /// Discovered providers and their keys.
    pub providers: oidc::Providers,
    /// TXT lookups for domain verification.
    pub dns: dns::TxtResolver,
}
