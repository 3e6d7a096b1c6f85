//! What every handler can reach.

use std::sync::Arc;

use axum::extract::FromRef;
use lms_tenants::{TenantDb, TenantResolver};
use sha2::{Digest, Sha256};

use crate::auth::{KeyRing, LoginBackoff, PasswordHasher};
use crate::db::OperatorDb;
use crate::email::Mailer;
use crate::http::client_ip::TrustProxyHeaders;

#[derive(Clone)]
pub struct AppState {
    /// Tenant-scoped transactions (role `lms_app`).
    pub db: TenantDb,
    /// Cross-tenant work; see [`crate::db`] for who may use it.
    pub operator_db: OperatorDb,
    pub resolver: TenantResolver,
    pub keys: KeyRing,
    pub passwords: PasswordHasher,
    pub backoff: LoginBackoff,
    /// Where the `email.send` jobs deliver.
    pub mailer: Mailer,
    pub settings: Arc<Settings>,
    /// The plugin sandbox and registry settings.
    pub plugins: crate::plugins::Plugins,
    /// Uploaded files: local disk or S3.
    pub storage: crate::storage::Storage,
    /// The guarded client for calls to addresses users give (webhooks, integrations).
    pub outbound: crate::outbound::Outbound,
    /// Seals and opens secrets kept in the database (TOTP seeds, SSO client secrets).
    pub sealing: crate::secrets_at_rest::SealingKeys,
    /// SSO providers and the DNS resolver of domain verification.
    pub sso: crate::sso::Sso,
    /// Wakes this process's notification streams.
    pub notifications: crate::notifications::Notifier,
    /// Plans, subscriptions and entitlements; Stripe when configured.
    pub billing: crate::billing::Billing,
}

pub struct Settings {
    /// SHA-256 of the operator credential (compared in constant time).
    pub operator_token_hash: [u8; 32],
    /// Base of links in emails when the tenant has neither a custom domain nor a subdomain.
    pub public_url: String,
    pub base_domain: Option<String>,
    pub trust_proxy_headers: bool,
}

impl Settings {
    /// Where a tenant's users open links: its first custom domain, else its subdomain of the base
    /// domain, else the configured public URL.
    pub fn link_base(&self, tenant: &lms_tenants::Tenant) -> String {
        if let Some(domain) = tenant.domains.first() {
            format!("https://{domain}")
        } else if let Some(base) = &self.base_domain {
            format!("https://{}.{base}", tenant.slug)
        } else {
            self.public_url.trim_end_matches('/').to_owned()
        }
    }

    pub fn hash_operator_token(token: &str) -> [u8; 32] {
        Sha256::digest(token.as_bytes()).into()
    }
}

impl FromRef<AppState> for TenantResolver {
    fn from_ref(state: &AppState) -> Self {
        state.resolver.clone()
    }
}

impl FromRef<AppState> for KeyRing {
    fn from_ref(state: &AppState) -> Self {
        state.keys.clone()
    }
}

impl FromRef<AppState> for TrustProxyHeaders {
    fn from_ref(state: &AppState) -> Self {
        TrustProxyHeaders(state.settings.trust_proxy_headers)
    }
}
