//! What a tenant may do now: its plan, its subscription's status and the entitlements they
//! give. The one place that turns billing state into rights; seats, feature gates and the
//! read-only guard all ask it.

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use lms_tenants::{TenantId, TenantTx};
use sqlx::PgConnection;

use super::model::{Entitlements, Feature, Plan, SubscriptionRow, SubscriptionStatus};
use super::{Billing, store};
use crate::error::{ApiError, ApiResult};

/// A tenant's billing state with the rights it gives.
#[derive(Debug, Clone)]
pub struct Access {
    /// Whether the server bills through Stripe at all.
    pub billing_enabled: bool,
    pub plan: Plan,
    pub status: SubscriptionStatus,
    pub entitlements: Entitlements,
    /// Authoring and enrolment are refused (data is kept; a resumed subscription restores it).
    pub read_only: bool,
    /// While `past_due`: when the grace period ends (read-only from then on).
    pub grace_ends_at: Option<DateTime<Utc>>,
    pub subscription: Option<SubscriptionRow>,
}

pub const BILLING_READ_ONLY: &str = "billing_read_only";
pub const FEATURE_NOT_IN_PLAN: &str = "feature_not_in_plan";

/// Decides the rights of a tenant from its state. Without billing every tenant has the default
/// plan. With it: trialing, active and past-due subscriptions (the latter within the grace
/// period) give their plan (Stripe's active entitlements deciding the features when Stripe
/// reported any); a subscription waiting for its first payment gives the default plan; unpaid,
/// canceled, expired or paused ones leave the tenant read-only on the default plan.
pub fn resolve(
    billing: &Billing,
    now: DateTime<Utc>,
    default_plan: Plan,
    subscription: Option<SubscriptionRow>,
    subscribed_plan: Option<Plan>,
) -> Access {
    let base = |plan: Plan, status, read_only, subscription| Access {
        billing_enabled: billing.enabled(),
        entitlements: plan.entitlements(),
        plan,
        status,
        read_only,
        grace_ends_at: None,
        subscription,
    };
    if !billing.enabled() {
        return base(default_plan, SubscriptionStatus::None, false, None);
    }
    let Some(sub) = subscription else {
        return base(default_plan, SubscriptionStatus::None, false, None);
    };
    let status = sub.status;
    match status {
        SubscriptionStatus::None | SubscriptionStatus::Incomplete => {
            base(default_plan, status, false, Some(sub))
        }
        SubscriptionStatus::IncompleteExpired
        | SubscriptionStatus::Canceled
        | SubscriptionStatus::Unpaid
        | SubscriptionStatus::Paused => base(default_plan, status, true, Some(sub)),
        SubscriptionStatus::Trialing | SubscriptionStatus::Active | SubscriptionStatus::PastDue => {
            let plan = subscribed_plan.unwrap_or(default_plan);
            let mut entitlements = plan.entitlements();
            if let Some(features) = &sub.features {
                entitlements = entitlements.with_stripe_features(features);
            }
            let grace_ends_at = (status == SubscriptionStatus::PastDue)
                .then(|| sub.past_due_since.unwrap_or(now) + billing.past_due_grace());
            Access {
                billing_enabled: true,
                read_only: grace_ends_at.is_some_and(|end| now >= end),
                grace_ends_at,
                entitlements,
                plan,
                status,
                subscription: Some(sub),
            }
        }
    }
}

impl Access {
    /// Reads the tenant's state (on its own transaction, or on the operator's connection).
    pub async fn load(
        conn: &mut PgConnection,
        tenant: TenantId,
        billing: &Billing,
    ) -> ApiResult<Self> {
        let default_plan = store::default_plan(&mut *conn)
            .await?
            .context("no default billing plan")?;
        let subscription = if billing.enabled() {
            store::subscription(&mut *conn, tenant).await?
        } else {
            None
        };
        let subscribed_plan = match subscription.as_ref().and_then(|s| s.plan_id) {
            Some(id) => store::plan(&mut *conn, id).await?,
            None => None,
        };
        Ok(resolve(
            billing,
            Utc::now(),
            default_plan,
            subscription,
            subscribed_plan,
        ))
    }

    /// [`Access::load`] inside a tenant's transaction.
    pub async fn of(tx: &mut TenantTx, billing: &Billing) -> ApiResult<Self> {
        let tenant = tx.tenant_id();
        Self::load(tx, tenant, billing).await
    }

    /// 403 `billing_read_only` when authoring and enrolment are refused.
    pub fn refuse_if_read_only(&self) -> ApiResult<()> {
        if self.read_only {
            return Err(read_only());
        }
        Ok(())
    }

    /// 403 `feature_not_in_plan` unless the tenant's entitlements include `feature`.
    pub fn require(&self, feature: Feature) -> ApiResult<()> {
        if self.entitlements.allows(feature) {
            return Ok(());
        }
        Err(ApiError::Forbidden {
            code: FEATURE_NOT_IN_PLAN,
            detail: match feature {
                Feature::Sso => "the organisation's plan does not include single sign-on",
                Feature::CustomDomains => "the organisation's plan does not include custom domains",
                Feature::Plugins => "the organisation's plan does not include plugins",
            },
        })
    }
}

pub fn read_only() -> ApiError {
    ApiError::Forbidden {
        code: BILLING_READ_ONLY,
        detail: "the organisation's subscription is unpaid, canceled or expired: authoring and \
                 enrolment are read-only until it is paid or resumed (nothing was deleted)",
    }
}

/// Checks `feature` inside the tenant's transaction (the gate of the feature's endpoints).
pub async fn require_feature(
    tx: &mut TenantTx,
    billing: &Billing,
    feature: Feature,
) -> ApiResult<()> {
    Access::of(tx, billing).await?.require(feature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::model::{PlanId, SeatModel};
    use crate::billing::{Billing, BillingConfig};

    fn plan(name: &str, max: Option<i32>, sso: bool) -> Plan {
        Plan {
            id: PlanId::default(),
            name: name.to_owned(),
            stripe_price_id: None,
            seat_model: SeatModel::PerActiveLearner,
            trial_days: 0,
            max_active_learners: max,
            sso_allowed: sso,
            custom_domains_allowed: sso,
            plugins_allowed: sso,
            storage_quota_bytes: None,
            is_default: false,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn sub(status: SubscriptionStatus, past_due_since: Option<DateTime<Utc>>) -> SubscriptionRow {
        SubscriptionRow {
            plan_id: None,
            stripe_customer_id: Some("cus_1".into()),
            stripe_subscription_id: Some("sub_1".into()),
            status,
            quantity: Some(3),
            trial_end: None,
            current_period_end: None,
            cancel_at_period_end: false,
            past_due_since,
            features: None,
        }
    }

    fn on() -> Billing {
        Billing::for_tests(true, 7)
    }

    #[test]
    fn without_billing_every_tenant_has_the_default_plan() {
        let off = Billing::new(&BillingConfig::default(), Default::default()).expect("billing");
        let access = resolve(
            &off,
            Utc::now(),
            plan("free", Some(5), false),
            Some(sub(SubscriptionStatus::Canceled, None)),
            Some(plan("pro", None, true)),
        );
        assert_eq!(access.plan.name, "free");
        assert!(!access.read_only);
        assert_eq!(access.status, SubscriptionStatus::None);
    }

    #[test]
    fn paying_states_give_the_plan_and_terminal_ones_are_read_only() {
        for status in [SubscriptionStatus::Trialing, SubscriptionStatus::Active] {
            let access = resolve(
                &on(),
                Utc::now(),
                plan("free", Some(5), false),
                Some(sub(status, None)),
                Some(plan("pro", Some(50), true)),
            );
            assert_eq!(access.plan.name, "pro");
            assert_eq!(access.entitlements.max_active_learners, Some(50));
            assert!(!access.read_only);
        }
        for status in [
            SubscriptionStatus::Unpaid,
            SubscriptionStatus::Canceled,
            SubscriptionStatus::IncompleteExpired,
            SubscriptionStatus::Paused,
        ] {
            let access = resolve(
                &on(),
                Utc::now(),
                plan("free", Some(5), false),
                Some(sub(status, None)),
                Some(plan("pro", Some(50), true)),
            );
            assert!(access.read_only, "{status}");
            assert_eq!(access.plan.name, "free");
        }
    }

    #[test]
    fn past_due_works_through_the_grace_period_only() {
        let now = Utc::now();
        let fresh = resolve(
            &on(),
            now,
            plan("free", Some(5), false),
            Some(sub(
                SubscriptionStatus::PastDue,
                Some(now - Duration::days(6)),
            )),
            Some(plan("pro", Some(50), true)),
        );
        assert!(!fresh.read_only);
        assert_eq!(fresh.plan.name, "pro");
        assert_eq!(fresh.grace_ends_at, Some(now + Duration::days(1)));
        let late = resolve(
            &on(),
            now,
            plan("free", Some(5), false),
            Some(sub(
                SubscriptionStatus::PastDue,
                Some(now - Duration::days(8)),
            )),
            Some(plan("pro", Some(50), true)),
        );
        assert!(late.read_only);
    }

    #[test]
    fn stripe_entitlements_decide_features_when_present() {
        let mut s = sub(SubscriptionStatus::Active, None);
        s.features = Some(vec!["sso".into()]);
        let access = resolve(
            &on(),
            Utc::now(),
            plan("free", Some(5), false),
            Some(s),
            Some(plan("pro", Some(50), false)),
        );
        assert!(access.entitlements.sso_allowed);
        assert!(!access.entitlements.plugins_allowed);
        assert!(access.require(Feature::Sso).is_ok());
        assert_eq!(
            access.require(Feature::Plugins).map_err(|e| e.code()).err(),
            Some(FEATURE_NOT_IN_PLAN)
        );
        assert_eq!(access.entitlements.max_active_learners, Some(50));
    }
}
