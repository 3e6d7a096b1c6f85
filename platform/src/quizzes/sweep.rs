//! The deadline sweep: closes attempts left open past their deadline (a learner who closed the
//! tab), and hands to a person the plugin questions whose grading was interrupted by a restart.
//!
//! A schedule (`quizzes.deadline_sweep`, every 5 seconds) finds them across tenants through the
//! operator role and queues one job per attempt (its unique key makes a second find a no-op);
//! each job closes its attempt in the tenant's own transaction as the app role, by the same code
//! as a submission, with the job system's retries.

use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use lms_tenants::TenantId;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

use super::grading;
use super::model::AttemptId;
use crate::jobs::{self, Finished, JobContext, JobError, JobKind, Options, Retry};
use crate::state::AppState;

/// Attempts queued per look.
const BATCH: i64 = 200;

/// The retries of both kinds: a dozen attempts within about an hour.
const RETRY: Retry = Retry {
    max_attempts: 12,
    base: Duration::from_secs(5),
    cap: Duration::from_secs(600),
};

/// Closes an attempt left open past its deadline (the job `quiz.close_expired_attempt`).
#[derive(Debug, Serialize, Deserialize)]
pub struct CloseExpiredAttempt {
    pub attempt: AttemptId,
}

impl JobKind for CloseExpiredAttempt {
    const KIND: &'static str = "quiz.close_expired_attempt";
    const RETRY: Retry = RETRY;
}

/// Hands an attempt's interrupted plugin grading to a person (the job
/// `quiz.release_stuck_attempt`).
#[derive(Debug, Serialize, Deserialize)]
pub struct ReleaseStuckAttempt {
    pub attempt: AttemptId,
}

impl JobKind for ReleaseStuckAttempt {
    const KIND: &'static str = "quiz.release_stuck_attempt";
    const RETRY: Retry = RETRY;
}

/// The schedule's task: queues a job for every attempt due.
pub fn enqueue_due<'a>(
    _: &'a AppState,
    conn: &'a mut PgConnection,
) -> BoxFuture<'a, anyhow::Result<()>> {
    async move {
        let expired: Vec<(TenantId, AttemptId)> = sqlx::query_as(
            "select tenant_id, id from quiz_attempts
             where status = 'in_progress' and deadline_at is not null and deadline_at <= now()
             order by deadline_at limit $1",
        )
        .bind(BATCH)
        .fetch_all(&mut *conn)
        .await?;
        let stuck: Vec<(TenantId, AttemptId)> = sqlx::query_as(
            "select a.tenant_id, a.id from quiz_attempts a
             where a.status = 'submitted' and a.submitted_at < now() - interval '2 minutes'
               and exists (select 1 from attempt_questions q where q.tenant_id = a.tenant_id
                           and q.attempt_id = a.id and q.grading = 'pending')
             limit $1",
        )
        .bind(BATCH)
        .fetch_all(&mut *conn)
        .await?;
        for (tenant, attempt) in expired {
            let job = CloseExpiredAttempt { attempt };
            jobs::enqueue_on(conn, tenant, &job, Options::unique(attempt.to_string())).await?;
        }
        for (tenant, attempt) in stuck {
            let job = ReleaseStuckAttempt { attempt };
            jobs::enqueue_on(conn, tenant, &job, Options::unique(attempt.to_string())).await?;
        }
        Ok(())
    }
    .boxed()
}

/// Runs `quiz.close_expired_attempt` (a no-op for an attempt closed meanwhile).
pub async fn close_expired(
    ctx: JobContext,
    job: CloseExpiredAttempt,
) -> Result<Finished, JobError> {
    grading::close_expired(ctx.state(), ctx.tenant, job.attempt)
        .await
        .map_err(|err| JobError::Retry(err.into()))?;
    Ok(ctx.done())
}

/// Runs `quiz.release_stuck_attempt`.
pub async fn release_stuck(
    ctx: JobContext,
    job: ReleaseStuckAttempt,
) -> Result<Finished, JobError> {
    grading::release_stuck(ctx.state(), ctx.tenant, job.attempt)
        .await
        .map_err(|err| JobError::Retry(err.into()))?;
    Ok(ctx.done())
}
