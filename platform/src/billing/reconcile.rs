//! Repairs drift between each tenant's stored billing state and Stripe: `lms billing
//! reconcile` for every tenant at once, and a daily schedule that queues one job per tenant.
//! A missed or failed webhook is caught here; the newer-wins guard keeps a webhook processed
//! meanwhile from being overwritten by an older reading.

use std::time::Duration;

use chrono::Utc;
use futures::FutureExt;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

use super::store;
use crate::jobs::{self, Finished, JobContext, JobError, JobKind, Options, Retry};
use crate::state::AppState;

/// The job `billing.reconcile`: one tenant's state read again from Stripe.
#[derive(Debug, Serialize, Deserialize)]
pub struct ReconcileTenant {
    pub customer: String,
}

impl JobKind for ReconcileTenant {
    const KIND: &'static str = "billing.reconcile";
    const RETRY: Retry = Retry {
        max_attempts: 6,
        base: Duration::from_secs(60),
        cap: Duration::from_secs(3600),
    };
    const TIMEOUT: Duration = Duration::from_secs(60);
}

/// What a reconciliation found.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub tenants: u64,
    /// Tenants whose stored state differed from Stripe's and was repaired.
    pub repaired: u64,
    pub failed: u64,
}

/// The stored fields a reconciliation compares.
fn fingerprint(row: Option<&super::model::SubscriptionRow>) -> String {
    row.map_or_else(String::new, |s| {
        format!(
            "{:?}|{:?}|{}|{:?}|{:?}|{}|{:?}",
            s.plan_id.map(|p| p.0),
            s.stripe_subscription_id,
            s.status,
            s.quantity,
            s.current_period_end,
            s.cancel_at_period_end,
            s.features
        )
    })
}

/// Reads one tenant's state from Stripe and stores it; true when it had drifted.
async fn reconcile_one(
    state: &AppState,
    tenant: lms_tenants::TenantId,
    customer: &str,
) -> anyhow::Result<bool> {
    let Some(gateway) = state.billing.gateway() else {
        return Ok(false);
    };
    let mut conn = state.operator_db.pool().acquire().await?;
    let before = store::subscription(&mut conn, tenant).await?;
    drop(conn);
    super::webhook::sync(state, gateway, tenant, customer, None)
        .await
        .map_err(|err| anyhow::anyhow!("{err}"))?;
    let mut conn = state.operator_db.pool().acquire().await?;
    let after = store::subscription(&mut conn, tenant).await?;
    Ok(fingerprint(before.as_ref()) != fingerprint(after.as_ref()))
}

/// `lms billing reconcile`: every tenant with a Stripe Customer, one after another.
pub async fn reconcile_all(state: &AppState) -> anyhow::Result<Report> {
    anyhow::ensure!(
        state.billing.enabled(),
        "billing is off: set LMS_STRIPE_SECRET_KEY to reconcile with Stripe"
    );
    let mut conn = state.operator_db.pool().acquire().await?;
    let customers = store::customers(&mut conn).await?;
    drop(conn);
    let mut report = Report::default();
    for (tenant, customer) in customers {
        report.tenants += 1;
        match reconcile_one(state, tenant, &customer).await {
            Ok(true) => report.repaired += 1,
            Ok(false) => {}
            Err(err) => {
                report.failed += 1;
                tracing::warn!(%tenant, error = %err, "reconciling a tenant's billing");
            }
        }
    }
    Ok(report)
}

/// The daily schedule: one `billing.reconcile` job per tenant with a Stripe Customer.
pub fn schedule_reconcile<'a>(
    state: &'a AppState,
    conn: &'a mut PgConnection,
) -> BoxFuture<'a, anyhow::Result<()>> {
    async move {
        if !state.billing.enabled() {
            return Ok(());
        }
        let day = Utc::now().format("%Y-%m-%d");
        for (tenant, customer) in store::customers(conn).await? {
            jobs::enqueue_on(
                conn,
                tenant,
                &ReconcileTenant { customer },
                Options::unique(day.to_string()),
            )
            .await?;
        }
        Ok(())
    }
    .boxed()
}

/// Runs `billing.reconcile`.
pub async fn run(ctx: JobContext, job: ReconcileTenant) -> Result<Finished, JobError> {
    reconcile_one(ctx.state(), ctx.tenant, &job.customer).await?;
    Ok(ctx.done())
}
