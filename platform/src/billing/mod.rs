//! Billing: the operator's plans, each tenant's subscription and the entitlements they give
//! (seats, SSO, custom domains, plugins, storage), enforced on the server where they apply.
//!
//! Without `LMS_STRIPE_SECRET_KEY` billing is off: every tenant has the operator's default plan
//! and the endpoints that would reach Stripe say so.

pub mod access;
mod checkout;
pub mod gateway;
pub mod model;
pub mod read_only;
mod routes;
pub mod seats;
mod service;
pub mod signature;
mod store;
pub mod stripe;
pub mod webhook;

use std::sync::Arc;

use secrecy::SecretString;

use gateway::BillingGateway;

pub use access::{Access, require_feature};
pub use model::{Entitlements, Feature, Plan, PlanId, SeatModel, SubscriptionStatus};
pub use reconcile::{Report, reconcile_all, run as reconcile_tenant, schedule_reconcile};
pub use routes::{operator_router, router};

/// Billing settings (`LMS_STRIPE_*`, `LMS_BILLING_GRACE_DAYS`).
#[derive(Debug, Clone)]
pub struct BillingConfig {
    /// Stripe's secret API key; `None`: billing is off.
    pub stripe_secret_key: Option<SecretString>,
    /// The `whsec_` secrets webhook signatures may use (several during a rotation).
    pub webhook_secrets: Vec<SecretString>,
    /// Where Stripe's API is (a test peer); `None`: Stripe's own.
    pub api_base: Option<String>,
    /// Days a `past_due` subscription keeps its plan before the tenant turns read-only.
    pub past_due_grace_days: u32,
}

impl Default for BillingConfig {
    fn default() -> Self {
        Self {
            stripe_secret_key: None,
            webhook_secrets: Vec::new(),
            api_base: None,
            past_due_grace_days: DEFAULT_GRACE_DAYS,
        }
    }
}

pub const DEFAULT_GRACE_DAYS: u32 = 7;

impl BillingConfig {
    /// Splits a comma-separated list of webhook secrets.
    pub fn parse_webhook_secrets(raw: &str) -> Vec<SecretString> {
        raw.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| SecretString::from(s.to_owned()))
            .collect()
    }
}

/// The billing settings and the Stripe gateway every handler can reach.
#[derive(Clone)]
pub struct Billing {
    inner: Arc<Inner>,
}

struct Inner {
    /// `None`: billing is off.
    gateway: Option<Arc<dyn BillingGateway>>,
    webhook_secrets: Vec<SecretString>,
    past_due_grace: chrono::Duration,
}

impl Billing {
    /// Billing through Stripe when a secret key is configured, through the guarded outbound
    /// client (which `allow` opens to internal hosts such as a test peer).
    pub fn new(config: &BillingConfig, allow: crate::outbound::AllowList) -> anyhow::Result<Self> {
        let gateway = match &config.stripe_secret_key {
            Some(secret) => Some(Arc::new(stripe::StripeGateway::new(
                secret.clone(),
                config.api_base.as_deref(),
                allow,
            )?) as Arc<dyn BillingGateway>),
            None => None,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                gateway,
                webhook_secrets: config.webhook_secrets.clone(),
                past_due_grace: chrono::Duration::days(i64::from(config.past_due_grace_days)),
            }),
        })
    }

    #[cfg(test)]
    pub(crate) fn for_tests(enabled: bool, grace_days: i64) -> Self {
        let gateway = enabled.then(|| {
            Arc::new(
                stripe::StripeGateway::new(
                    SecretString::from("sk_test_unit".to_owned()),
                    None,
                    crate::outbound::AllowList::default(),
                )
                .expect("gateway"),
            ) as Arc<dyn BillingGateway>
        });
        Self {
            inner: Arc::new(Inner {
                gateway,
                webhook_secrets: Vec::new(),
                past_due_grace: chrono::Duration::days(grace_days),
            }),
        }
    }

    /// Whether the server bills through Stripe.
    pub fn enabled(&self) -> bool {
        self.inner.gateway.is_some()
    }

    /// The Stripe gateway; `None` when billing is off.
    pub fn gateway(&self) -> Option<&dyn BillingGateway> {
        self.inner.gateway.as_deref()
    }

    /// The secrets a Stripe webhook may be signed with.
    pub fn webhook_secrets(&self) -> &[SecretString] {
        &self.inner.webhook_secrets
    }

    pub fn past_due_grace(&self) -> chrono::Duration {
        self.inner.past_due_grace
    }
}
