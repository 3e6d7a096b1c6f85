//! Billing rules: the tenant's billing overview and the operator's plans.

use chrono::{DateTime, Utc};
use lms_tenants::TenantId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::access::Access;
use super::model::{Entitlements, Plan, PlanId, SeatModel, SubscriptionStatus};
use super::store::{self, PlanFields};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, FieldError, codes};
use crate::state::AppState;
use crate::users::Role;

/// A tenant's plan, subscription and seats.
#[derive(Debug, Serialize, ToSchema)]
pub struct BillingOverview {
    /// False when the server does not bill through Stripe: every tenant has the default plan.
    pub billing_enabled: bool,
    pub plan: Plan,
    pub status: SubscriptionStatus,
    /// Authoring and enrolment are refused until the subscription is paid or resumed.
    pub read_only: bool,
    /// While `past_due`: when the plan stops working.
    pub grace_ends_at: Option<DateTime<Utc>>,
    pub seats: Seats,
    pub trial_end: Option<DateTime<Utc>>,
    pub current_period_end: Option<DateTime<Utc>>,
    pub cancel_at_period_end: bool,
    /// When the next invoice is due (the end of the current period, unless the subscription
    /// ends then).
    pub next_invoice_at: Option<DateTime<Utc>>,
    pub entitlements: Entitlements,
}

/// Seats in use and paid for.
#[derive(Debug, Serialize, ToSchema)]
pub struct Seats {
    /// Accounts that are not deactivated.
    pub used: i64,
    /// The plan's maximum; null: unlimited.
    pub included: Option<i32>,
    /// The subscription's quantity (per-learner plans), when subscribed.
    pub billed: Option<i32>,
}

fn overview(access: Access, used: i64) -> BillingOverview {
    let sub = access.subscription.as_ref();
    let cancel_at_period_end = sub.is_some_and(|s| s.cancel_at_period_end);
    let current_period_end = sub.and_then(|s| s.current_period_end);
    let billing = matches!(
        access.status,
        SubscriptionStatus::Trialing | SubscriptionStatus::Active | SubscriptionStatus::PastDue
    );
    BillingOverview {
        billing_enabled: access.billing_enabled,
        status: access.status,
        read_only: access.read_only,
        grace_ends_at: access.grace_ends_at,
        seats: Seats {
            used,
            included: access.entitlements.max_active_learners,
            billed: sub.and_then(|s| s.quantity),
        },
        trial_end: sub.and_then(|s| s.trial_end),
        current_period_end,
        cancel_at_period_end,
        next_invoice_at: current_period_end.filter(|_| billing && !cancel_at_period_end),
        entitlements: access.entitlements,
        plan: access.plan,
    }
}

/// The caller's tenant's billing (tenant admins).
pub async fn tenant_overview(state: &AppState, caller: &Caller) -> ApiResult<BillingOverview> {
    let (mut tx, _) = caller.begin_as(state, Role::TenantAdmin).await?;
    let access = Access::of(&mut tx, &state.billing).await?;
    let used = super::seats::used(&mut tx).await?;
    tx.commit().await?;
    Ok(overview(access, used))
}

/// A tenant's billing, for the operator.
pub async fn operator_overview(state: &AppState, tenant: TenantId) -> ApiResult<BillingOverview> {
    let mut conn = state.operator_db.pool().acquire().await?;
    lms_tenants::registry::by_id(&mut conn, tenant)
        .await?
        .ok_or(ApiError::NotFound)?;
    drop(conn);
    let mut tx = state.db.begin(tenant).await?;
    let access = Access::of(&mut tx, &state.billing).await?;
    let used = super::seats::used(&mut tx).await?;
    tx.commit().await?;
    Ok(overview(access, used))
}

/// A plan as the operator defines it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanInput {
    /// Trimmed; 1 to 100 characters, unique.
    #[schema(min_length = 1, max_length = 100)]
    name: String,
    /// The Stripe Price subscriptions to this plan use (`price_...`), unique.
    #[serde(default)]
    #[schema(pattern = "^price_[A-Za-z0-9_]{1,200}$")]
    stripe_price_id: Option<String>,
    #[serde(default = "per_active_learner")]
    seat_model: SeatModel,
    /// 0 to 730.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 730)]
    trial_days: i32,
    /// Null or absent: unlimited.
    #[serde(default)]
    #[schema(minimum = 0)]
    max_active_learners: Option<i32>,
    #[serde(default = "yes")]
    sso_allowed: bool,
    #[serde(default = "yes")]
    custom_domains_allowed: bool,
    #[serde(default = "yes")]
    plugins_allowed: bool,
    /// Null or absent: unlimited.
    #[serde(default)]
    #[schema(minimum = 0)]
    storage_quota_bytes: Option<i64>,
}

fn per_active_learner() -> SeatModel {
    SeatModel::PerActiveLearner
}

fn yes() -> bool {
    true
}

impl PlanInput {
    fn validate(&self) -> ApiResult<PlanFields<'_>> {
        let mut errors = Vec::new();
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            errors.push(FieldError::new(
                "name",
                "invalid_name",
                "1 to 100 characters, no control characters",
            ));
        }
        let price = self.stripe_price_id.as_deref();
        if let Some(price) = price {
            let rest = price.strip_prefix("price_").unwrap_or("");
            if rest.is_empty()
                || rest.len() > 200
                || !rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                errors.push(FieldError::new(
                    "stripe_price_id",
                    "invalid_price",
                    "a Stripe Price id: price_ followed by letters, digits or _",
                ));
            }
        }
        if !(0..=730).contains(&self.trial_days) {
            errors.push(FieldError::new(
                "trial_days",
                "out_of_range",
                "0 to 730 days",
            ));
        }
        if self.max_active_learners.is_some_and(|m| m < 0) {
            errors.push(FieldError::new(
                "max_active_learners",
                "out_of_range",
                "0 or more",
            ));
        }
        if self.storage_quota_bytes.is_some_and(|q| q < 0) {
            errors.push(FieldError::new(
                "storage_quota_bytes",
                "out_of_range",
                "0 or more",
            ));
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        Ok(PlanFields {
            name,
            stripe_price_id: price,
            seat_model: self.seat_model,
            trial_days: self.trial_days,
            max_active_learners: self.max_active_learners,
            sso_allowed: self.sso_allowed,
            custom_domains_allowed: self.custom_domains_allowed,
            plugins_allowed: self.plugins_allowed,
            storage_quota_bytes: self.storage_quota_bytes,
        })
    }
}

fn name_taken() -> ApiError {
    ApiError::Conflict {
        code: codes::NAME_TAKEN,
        detail: "another plan has this name".into(),
    }
}

fn price_taken() -> ApiError {
    ApiError::Conflict {
        code: "price_taken",
        detail: "another plan uses this Stripe Price".into(),
    }
}

pub async fn plans(state: &AppState) -> ApiResult<Vec<Plan>> {
    let mut conn = state.operator_db.pool().acquire().await?;
    Ok(store::plans(&mut conn).await?)
}

pub async fn create_plan(state: &AppState, input: &PlanInput) -> ApiResult<Plan> {
    let fields = input.validate()?;
    let mut tx = state.operator_db.begin().await?;
    let plan = store::insert_plan(&mut tx, PlanId::default(), &fields)
        .await
        .map_err(|err| match crate::error::violated_constraint(&err) {
            Some(store::PLAN_NAME_TAKEN) => name_taken(),
            Some(store::PLAN_PRICE_TAKEN) => price_taken(),
            _ => err.into(),
        })?;
    tx.commit().await?;
    Ok(plan)
}

pub async fn update_plan(state: &AppState, id: PlanId, input: &PlanInput) -> ApiResult<Plan> {
    let fields = input.validate()?;
    let mut tx = state.operator_db.begin().await?;
    let plan = store::update_plan(&mut tx, id, &fields)
        .await
        .map_err(|err| match crate::error::violated_constraint(&err) {
            Some(store::PLAN_NAME_TAKEN) => name_taken(),
            Some(store::PLAN_PRICE_TAKEN) => price_taken(),
            _ => err.into(),
        })?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(plan)
}

pub async fn make_default(state: &AppState, id: PlanId) -> ApiResult<Plan> {
    let mut tx = state.operator_db.begin().await?;
    let plan = store::set_default_plan(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(plan)
}
