//! The deadline sweep: closes attempts left open past their deadline (a learner who closed the
//! tab), and hands to a person the plugin questions whose grading was interrupted by a restart.
//!
//! Finding them crosses tenants, so it reads through the operator role; each attempt is then
//! closed in its own tenant's transaction as the app role, by the same code as a submission.

use std::time::Duration;

use lms_tenants::TenantId;
use uuid::Uuid;

use super::grading;
use super::model::AttemptId;
use crate::state::AppState;

/// How often the sweep looks.
const EVERY: Duration = Duration::from_secs(5);
/// Attempts handled per look.
const BATCH: i64 = 200;

/// Runs until the task is aborted.
pub async fn run(state: AppState) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(err) = sweep_once(&state).await {
            tracing::warn!(error = %err, "quiz deadline sweep failed; retrying");
        }
    }
}

/// One pass; returns how many attempts it handled.
pub async fn sweep_once(state: &AppState) -> anyhow::Result<usize> {
    let expired: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "select tenant_id, id from quiz_attempts
         where status = 'in_progress' and deadline_at is not null and deadline_at <= now()
         order by deadline_at limit $1",
    )
    .bind(BATCH)
    .fetch_all(state.operator_db.pool())
    .await?;
    let stuck: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "select a.tenant_id, a.id from quiz_attempts a
         where a.status = 'submitted' and a.submitted_at < now() - interval '2 minutes'
           and exists (select 1 from attempt_questions q where q.tenant_id = a.tenant_id
                       and q.attempt_id = a.id and q.grading = 'pending')
         limit $1",
    )
    .bind(BATCH)
    .fetch_all(state.operator_db.pool())
    .await?;
    let handled = expired.len() + stuck.len();
    for (tenant, id) in expired {
        if let Err(err) =
            grading::close_expired(state, TenantId::from_uuid(tenant), AttemptId(id)).await
        {
            tracing::warn!(attempt = %id, error = %err, "closing an expired attempt failed");
        }
    }
    for (tenant, id) in stuck {
        if let Err(err) =
            grading::release_stuck(state, TenantId::from_uuid(tenant), AttemptId(id)).await
        {
            tracing::warn!(attempt = %id, error = %err, "releasing a stuck attempt failed");
        }
    }
    Ok(handled)
}
