//! Plans, subscription states and the entitlements they give.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

entity_id!(
    /// A billing plan.
    PlanId
);

/// How a plan counts what the tenant pays for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SeatModel {
    /// The subscription's quantity follows the tenant's active learners.
    PerActiveLearner,
    /// One price whatever the number of learners (up to the plan's maximum).
    Flat,
}

text_enum!(SeatModel {
    PerActiveLearner => "per_active_learner",
    Flat => "flat",
});

/// A subscription's status as Stripe reports it; `none`: the tenant has no subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    None,
    /// The first payment has not succeeded yet.
    Incomplete,
    /// The first payment never succeeded; terminal.
    IncompleteExpired,
    Trialing,
    Active,
    /// A renewal payment failed; the plan keeps working through the grace period.
    PastDue,
    Canceled,
    /// Payment retries ran out.
    Unpaid,
    /// The trial ended without a payment method.
    Paused,
}

text_enum!(SubscriptionStatus {
    None => "none",
    Incomplete => "incomplete",
    IncompleteExpired => "incomplete_expired",
    Trialing => "trialing",
    Active => "active",
    PastDue => "past_due",
    Canceled => "canceled",
    Unpaid => "unpaid",
    Paused => "paused",
});

/// What a tenant may use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Entitlements {
    /// Accounts that are not deactivated (active or invited); null: unlimited.
    pub max_active_learners: Option<i32>,
    pub sso_allowed: bool,
    pub custom_domains_allowed: bool,
    pub plugins_allowed: bool,
    /// Null: unlimited.
    pub storage_quota_bytes: Option<i64>,
}

/// A feature a plan may leave out; its Stripe Entitlements lookup key is [`Feature::lookup_key`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    Sso,
    CustomDomains,
    Plugins,
}

impl Feature {
    /// The lookup key of the Stripe Entitlements feature that grants it.
    pub fn lookup_key(self) -> &'static str {
        match self {
            Self::Sso => "sso",
            Self::CustomDomains => "custom_domains",
            Self::Plugins => "plugins",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Self::Sso => "single sign-on",
            Self::CustomDomains => "custom domains",
            Self::Plugins => "plugins",
        }
    }
}

impl Entitlements {
    pub fn allows(&self, feature: Feature) -> bool {
        match feature {
            Feature::Sso => self.sso_allowed,
            Feature::CustomDomains => self.custom_domains_allowed,
            Feature::Plugins => self.plugins_allowed,
        }
    }

    /// Stripe's active entitlements decide the features when Stripe reports any; the plan's
    /// numbers stay.
    pub fn with_stripe_features(mut self, lookup_keys: &[String]) -> Self {
        let has = |f: Feature| lookup_keys.iter().any(|k| k == f.lookup_key());
        self.sso_allowed = has(Feature::Sso);
        self.custom_domains_allowed = has(Feature::CustomDomains);
        self.plugins_allowed = has(Feature::Plugins);
        self
    }
}

/// A plan the operator sells.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Plan {
    pub id: PlanId,
    pub name: String,
    /// The Stripe Price a subscription to this plan is for.
    pub stripe_price_id: Option<String>,
    pub seat_model: SeatModel,
    pub trial_days: i32,
    pub max_active_learners: Option<i32>,
    pub sso_allowed: bool,
    pub custom_domains_allowed: bool,
    pub plugins_allowed: bool,
    pub storage_quota_bytes: Option<i64>,
    /// The plan of every tenant while billing is off, and of tenants without a subscription.
    pub is_default: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Plan {
    pub fn entitlements(&self) -> Entitlements {
        Entitlements {
            max_active_learners: self.max_active_learners,
            sso_allowed: self.sso_allowed,
            custom_domains_allowed: self.custom_domains_allowed,
            plugins_allowed: self.plugins_allowed,
            storage_quota_bytes: self.storage_quota_bytes,
        }
    }
}

/// A tenant's subscription as last read from Stripe.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SubscriptionRow {
    pub plan_id: Option<PlanId>,
    pub stripe_customer_id: Option<String>,
    pub stripe_subscription_id: Option<String>,
    pub status: SubscriptionStatus,
    pub quantity: Option<i32>,
    pub trial_end: Option<DateTime<Utc>>,
    pub current_period_end: Option<DateTime<Utc>>,
    pub cancel_at_period_end: bool,
    pub past_due_since: Option<DateTime<Utc>>,
    pub features: Option<Vec<String>>,
}
