//! Billing SQL: plans (platform reference data) and tenants' subscription state.

use lms_tenants::{TenantId, TenantTx};
use sqlx::PgConnection;

use super::model::{Plan, PlanId, SeatModel, SubscriptionRow};

const PLAN_COLUMNS: &str = "id, name, stripe_price_id, seat_model, trial_days, \
    max_active_learners, sso_allowed, custom_domains_allowed, plugins_allowed, \
    storage_quota_bytes, is_default, created_at, updated_at";

pub const PLAN_NAME_TAKEN: &str = "billing_plans_name_key";
pub const PLAN_PRICE_TAKEN: &str = "billing_plans_price_key";

/// A plan's fields as the operator sets them.
pub struct PlanFields<'a> {
    pub name: &'a str,
    pub stripe_price_id: Option<&'a str>,
    pub seat_model: SeatModel,
    pub trial_days: i32,
    pub max_active_learners: Option<i32>,
    pub sso_allowed: bool,
    pub custom_domains_allowed: bool,
    pub plugins_allowed: bool,
    pub storage_quota_bytes: Option<i64>,
}

pub async fn default_plan(conn: &mut PgConnection) -> Result<Option<Plan>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {PLAN_COLUMNS} from billing_plans where is_default"
    ))
    .fetch_optional(conn)
    .await
}

pub async fn plan(conn: &mut PgConnection, id: PlanId) -> Result<Option<Plan>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {PLAN_COLUMNS} from billing_plans where id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub async fn plans(conn: &mut PgConnection) -> Result<Vec<Plan>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {PLAN_COLUMNS} from billing_plans order by created_at, id"
    ))
    .fetch_all(conn)
    .await
}

pub async fn insert_plan(
    conn: &mut PgConnection,
    id: PlanId,
    fields: &PlanFields<'_>,
) -> Result<Plan, sqlx::Error> {
    sqlx::query_as(&format!(
        "insert into billing_plans (id, name, stripe_price_id, seat_model, trial_days,
             max_active_learners, sso_allowed, custom_domains_allowed, plugins_allowed,
             storage_quota_bytes)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         returning {PLAN_COLUMNS}"
    ))
    .bind(id)
    .bind(fields.name)
    .bind(fields.stripe_price_id)
    .bind(fields.seat_model)
    .bind(fields.trial_days)
    .bind(fields.max_active_learners)
    .bind(fields.sso_allowed)
    .bind(fields.custom_domains_allowed)
    .bind(fields.plugins_allowed)
    .bind(fields.storage_quota_bytes)
    .fetch_one(conn)
    .await
}

pub async fn update_plan(
    conn: &mut PgConnection,
    id: PlanId,
    fields: &PlanFields<'_>,
) -> Result<Option<Plan>, sqlx::Error> {
    sqlx::query_as(&format!(
        "update billing_plans set name = $2, stripe_price_id = $3, seat_model = $4,
             trial_days = $5, max_active_learners = $6, sso_allowed = $7,
             custom_domains_allowed = $8, plugins_allowed = $9, storage_quota_bytes = $10
         where id = $1
         returning {PLAN_COLUMNS}"
    ))
    .bind(id)
    .bind(fields.name)
    .bind(fields.stripe_price_id)
    .bind(fields.seat_model)
    .bind(fields.trial_days)
    .bind(fields.max_active_learners)
    .bind(fields.sso_allowed)
    .bind(fields.custom_domains_allowed)
    .bind(fields.plugins_allowed)
    .bind(fields.storage_quota_bytes)
    .fetch_optional(conn)
    .await
}

/// Makes `id` the default plan (and no other); `None` when there is no such plan.
pub async fn set_default_plan(
    conn: &mut PgConnection,
    id: PlanId,
) -> Result<Option<Plan>, sqlx::Error> {
    let exists: Option<PlanId> =
        sqlx::query_scalar("select id from billing_plans where id = $1 for update")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    if exists.is_none() {
        return Ok(None);
    }
    sqlx::query("update billing_plans set is_default = false where is_default and id <> $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    sqlx::query_as(&format!(
        "update billing_plans set is_default = true where id = $1 returning {PLAN_COLUMNS}"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// The tenant's subscription as last read from Stripe.
pub async fn subscription(
    conn: &mut PgConnection,
    tenant: TenantId,
) -> Result<Option<SubscriptionRow>, sqlx::Error> {
    sqlx::query_as(
        "select plan_id, stripe_customer_id, stripe_subscription_id, status, quantity,
                trial_end, current_period_end, cancel_at_period_end, past_due_since, features
         from tenant_billing where tenant_id = $1",
    )
    .bind(tenant)
    .fetch_optional(conn)
    .await
}

/// Serialises the transactions that take seats in one tenant until they end, so that the
/// count each one reads includes every seat taken before it (a row lock would need a row to
/// exist; this needs none).
pub async fn lock_seats(tx: &mut TenantTx) -> Result<(), sqlx::Error> {
    sqlx::query("select pg_advisory_xact_lock(hashtextextended('lms.seats:' || $1::text, 0))")
        .bind(tx.tenant_id())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Seats in use: the tenant's accounts that are not deactivated.
pub async fn seats_used(conn: &mut PgConnection, tenant: TenantId) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "select count(*) from users where tenant_id = $1 and status <> 'deactivated'",
    )
    .bind(tenant)
    .fetch_one(conn)
    .await
}

/// Records the tenant's Stripe Customer (the first one recorded stays).
pub async fn record_customer(
    conn: &mut PgConnection,
    tenant: TenantId,
    customer: &str,
) -> Result<String, sqlx::Error> {
    sqlx::query(
        "insert into stripe_customers (customer_id, tenant_id) values ($1, $2)
         on conflict do nothing",
    )
    .bind(customer)
    .bind(tenant)
    .execute(&mut *conn)
    .await?;
    sqlx::query_scalar(
        "insert into tenant_billing (tenant_id, id, stripe_customer_id) values ($1, $2, $3)
         on conflict (tenant_id) do update
             set stripe_customer_id = coalesce(tenant_billing.stripe_customer_id,
                                               excluded.stripe_customer_id)
         returning stripe_customer_id",
    )
    .bind(tenant)
    .bind(uuid::Uuid::now_v7())
    .bind(customer)
    .fetch_one(conn)
    .await
}

/// The tenant a Stripe Customer belongs to.
pub async fn tenant_of_customer(
    conn: &mut PgConnection,
    customer: &str,
) -> Result<Option<TenantId>, sqlx::Error> {
    sqlx::query_scalar("select tenant_id from stripe_customers where customer_id = $1")
        .bind(customer)
        .fetch_optional(conn)
        .await
}

/// Records a webhook event for the tenant in context; false when it was recorded before (a
/// redelivery).
pub async fn record_event(
    tx: &mut TenantTx,
    id: &str,
    kind: &str,
    created: chrono::DateTime<chrono::Utc>,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "insert into stripe_events (tenant_id, id, type, stripe_created_at)
         values ($1, $2, $3, $4) on conflict do nothing",
    )
    .bind(tx.tenant_id())
    .bind(id)
    .bind(kind)
    .bind(created)
    .execute(&mut **tx)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// The plan sold at a Stripe Price.
pub async fn plan_by_price(
    conn: &mut PgConnection,
    price: &str,
) -> Result<Option<PlanId>, sqlx::Error> {
    sqlx::query_scalar("select id from billing_plans where stripe_price_id = $1")
        .bind(price)
        .fetch_optional(conn)
        .await
}

/// A tenant's subscription as read from Stripe at `synced_at`.
pub struct SyncedSubscription<'a> {
    pub plan_id: Option<PlanId>,
    pub customer: &'a str,
    pub subscription: Option<&'a super::gateway::StripeSubscription>,
    pub features: Option<&'a [String]>,
    pub synced_at: chrono::DateTime<chrono::Utc>,
}

/// Writes what Stripe said unless a newer reading is already stored (newer wins); true when
/// written. `past_due_since` starts when the status turns `past_due` and ends with it.
pub async fn save_subscription(
    tx: &mut TenantTx,
    synced: &SyncedSubscription<'_>,
) -> Result<bool, sqlx::Error> {
    let sub = synced.subscription;
    let status = sub.map_or(super::model::SubscriptionStatus::None, |s| s.status);
    let written = sqlx::query(
        "insert into tenant_billing (tenant_id, id, plan_id, stripe_customer_id,
             stripe_subscription_id, status, quantity, trial_end, current_period_end,
             cancel_at_period_end, past_due_since, features, synced_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
             case when $6 = 'past_due' then now() end, $11, $12)
         on conflict (tenant_id) do update set
             plan_id = excluded.plan_id,
             stripe_customer_id = excluded.stripe_customer_id,
             stripe_subscription_id = excluded.stripe_subscription_id,
             status = excluded.status,
             quantity = excluded.quantity,
             trial_end = excluded.trial_end,
             current_period_end = excluded.current_period_end,
             cancel_at_period_end = excluded.cancel_at_period_end,
             past_due_since = case when excluded.status = 'past_due'
                                   then coalesce(tenant_billing.past_due_since, now()) end,
             features = excluded.features,
             synced_at = excluded.synced_at
         where tenant_billing.synced_at is null
            or tenant_billing.synced_at <= excluded.synced_at",
    )
    .bind(tx.tenant_id())
    .bind(uuid::Uuid::now_v7())
    .bind(synced.plan_id)
    .bind(synced.customer)
    .bind(sub.map(|s| s.id.as_str()))
    .bind(status)
    .bind(sub.and_then(|s| s.quantity))
    .bind(sub.and_then(|s| s.trial_end))
    .bind(sub.and_then(|s| s.current_period_end))
    .bind(sub.is_some_and(|s| s.cancel_at_period_end))
    .bind(synced.features)
    .bind(synced.synced_at)
    .execute(&mut **tx)
    .await?;
    Ok(written.rows_affected() == 1)
}

/// Every tenant with a Stripe Customer (for the reconciler).
pub async fn customers(conn: &mut PgConnection) -> Result<Vec<(TenantId, String)>, sqlx::Error> {
    sqlx::query_as("select tenant_id, customer_id from stripe_customers order by tenant_id")
        .fetch_all(conn)
        .await
}
