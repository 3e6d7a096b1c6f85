//! Subscribing (a Stripe Checkout Session) and managing the subscription (the Customer Portal).
//! Stripe is called after the tenant's transaction has ended, never inside one; the
//! subscription itself is recorded when Stripe's webhook says so, never on the redirect.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::access::Access;
use super::gateway::{BillingGateway, NewCustomer, SubscriptionCheckout};
use super::model::{PlanId, SubscriptionStatus};
use super::{seats, store};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::users::Role;

pub const BILLING_DISABLED: &str = "billing_disabled";
pub const ALREADY_SUBSCRIBED: &str = "already_subscribed";
pub const NO_SUBSCRIPTION: &str = "no_subscription";

/// Where to send the user: a Stripe-hosted page.
#[derive(Debug, Serialize, ToSchema)]
pub struct BillingRedirect {
    /// Stripe's id of the session.
    pub id: String,
    pub url: String,
}

/// The plan to subscribe to.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    pub plan_id: PlanId,
}

pub fn billing_disabled() -> ApiError {
    ApiError::Conflict {
        code: BILLING_DISABLED,
        detail: "billing is off on this server (no Stripe key is configured): every \
                 organisation has the operator's default plan and there is nothing to pay"
            .into(),
    }
}

fn gateway(state: &AppState) -> ApiResult<&dyn BillingGateway> {
    state.billing.gateway().ok_or_else(billing_disabled)
}

/// A Checkout Session in subscription mode for `plan`, with the tenant's accounts as the
/// quantity (per-learner plans) and the plan's trial for a first subscription.
pub async fn checkout(
    state: &AppState,
    caller: &Caller,
    input: CheckoutRequest,
) -> ApiResult<BillingRedirect> {
    let (mut tx, _) = caller.begin_as(state, Role::TenantAdmin).await?;
    let gateway = gateway(state)?;
    let plan = store::plan(&mut tx, input.plan_id)
        .await?
        .ok_or_else(|| ApiError::validation("plan_id", "unknown_plan", "no plan has this id"))?;
    let Some(price) = plan.stripe_price_id.clone() else {
        return Err(ApiError::validation(
            "plan_id",
            "plan_not_for_sale",
            "this plan has no Stripe price: the operator assigns it",
        ));
    };
    let access = Access::of(&mut tx, &state.billing).await?;
    if matches!(
        access.status,
        SubscriptionStatus::Trialing | SubscriptionStatus::Active | SubscriptionStatus::PastDue
    ) {
        return Err(ApiError::Conflict {
            code: ALREADY_SUBSCRIBED,
            detail: "the organisation already has a subscription: change it in the billing portal"
                .into(),
        });
    }
    let used = seats::used(&mut tx).await?;
    if let Some(max) = plan.max_active_learners
        && used > i64::from(max)
    {
        return Err(ApiError::Conflict {
            code: seats::SEAT_LIMIT_REACHED,
            detail: format!(
                "the organisation has {used} active accounts and this plan includes {max}"
            ),
        });
    }
    let subscribed_before = access
        .subscription
        .as_ref()
        .is_some_and(|s| s.stripe_subscription_id.is_some());
    let known_customer = access
        .subscription
        .as_ref()
        .and_then(|s| s.stripe_customer_id.clone());
    tx.commit().await?;

    let tenant = caller.tenant.id;
    let customer = match known_customer {
        Some(customer) => customer,
        None => {
            // The key makes every attempt for this tenant return the same Customer.
            let created = gateway
                .create_customer(
                    &NewCustomer {
                        tenant,
                        name: caller.tenant.display_name.clone(),
                    },
                    &format!("lms-customer-{tenant}"),
                )
                .await?;
            let mut tx = state.operator_db.begin().await?;
            let recorded = store::record_customer(&mut tx, tenant, &created).await?;
            tx.commit().await?;
            recorded
        }
    };
    let base = state.settings.link_base(&caller.tenant);
    let session = gateway
        .create_subscription_checkout(&SubscriptionCheckout {
            tenant,
            customer,
            price,
            quantity: u64::try_from(used.max(1)).unwrap_or(1),
            trial_days: (!subscribed_before && plan.trial_days > 0)
                .then(|| u32::try_from(plan.trial_days).unwrap_or(0)),
            success_url: format!(
                "{base}/billing?checkout=success&session_id={{CHECKOUT_SESSION_ID}}"
            ),
            cancel_url: format!("{base}/billing?checkout=canceled"),
            idempotency_key: format!("lms-checkout-{}", uuid::Uuid::now_v7()),
        })
        .await?;
    Ok(BillingRedirect {
        id: session.id,
        url: session.url,
    })
}

/// A Customer Portal session, where admins change seats, plan and payment method or cancel.
pub async fn portal(state: &AppState, caller: &Caller) -> ApiResult<BillingRedirect> {
    let (mut tx, _) = caller.begin_as(state, Role::TenantAdmin).await?;
    let gateway = gateway(state)?;
    let customer = store::subscription(&mut tx, caller.tenant.id)
        .await?
        .and_then(|s| s.stripe_customer_id)
        .ok_or_else(|| ApiError::Conflict {
            code: NO_SUBSCRIPTION,
            detail: "the organisation has never subscribed: start with a checkout".into(),
        })?;
    tx.commit().await?;
    let return_url = format!("{}/billing", state.settings.link_base(&caller.tenant));
    let session = gateway
        .create_portal_session(
            &customer,
            &return_url,
            &format!("lms-portal-{}", uuid::Uuid::now_v7()),
        )
        .await?;
    Ok(BillingRedirect {
        id: session.id,
        url: session.url,
    })
}
