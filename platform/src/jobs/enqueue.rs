//! Putting jobs on the queue: inside the caller's transaction, so a job exists exactly when the
//! change that caused it committed.

use std::time::Duration;

use chrono::{DateTime, Utc};
use lms_tenants::{TenantId, TenantTx};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::PgConnection;

use super::backoff::Retry;
use super::model::JobId;

/// The channel a commit that queued jobs notifies, so idle workers start at once.
pub(super) const CHANNEL: &str = "lms_jobs";

/// A kind of job: its payload type names it and says how it retries.
pub trait JobKind: Serialize + DeserializeOwned + Send + 'static {
    /// Dotted lower-case name, e.g. `email.send`; stored with every job.
    const KIND: &'static str;
    /// How failures are retried.
    const RETRY: Retry = Retry::DEFAULT;
    /// A run longer than this is abandoned and counts as a failed attempt.
    const TIMEOUT: Duration = Duration::from_secs(300);
}

/// When and how a job runs, beyond its payload.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// A job of the same kind with this key already kept (queued, running, or finished and not
    /// yet pruned) makes this enqueue a no-op.
    pub unique_key: Option<String>,
    /// Not before this time (now when `None`).
    pub run_at: Option<DateTime<Utc>>,
    /// Higher runs first among the tenant's due jobs.
    pub priority: i16,
}

impl Options {
    pub fn unique(key: impl Into<String>) -> Self {
        Self {
            unique_key: Some(key.into()),
            ..Self::default()
        }
    }
}

/// Queues a job in the tenant's transaction; it runs only if the transaction commits. Returns
/// the job's id, or `None` when its unique key was taken.
pub async fn enqueue<J: JobKind>(
    tx: &mut TenantTx,
    job: &J,
    options: Options,
) -> Result<Option<JobId>, sqlx::Error> {
    let tenant = tx.tenant_id();
    enqueue_on(tx, tenant, job, options).await
}

/// Queues many jobs of one kind in one statement (a bulk enrolment's emails).
pub async fn enqueue_many<J: JobKind>(tx: &mut TenantTx, jobs: &[J]) -> Result<u64, sqlx::Error> {
    if jobs.is_empty() {
        return Ok(0);
    }
    let payloads = jobs
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| sqlx::Error::Encode(Box::new(err)))?;
    let ids: Vec<JobId> = jobs.iter().map(|_| JobId::default()).collect();
    sqlx::query(
        "with inserted as (
             insert into jobs (tenant_id, id, kind, payload, max_attempts)
             select $1, id, $2, payload, $3 from unnest($4::uuid[], $5::jsonb[]) as j(id, payload)
             returning 1)
         select pg_notify($6, '') from (select 1 from inserted limit 1) as any_inserted",
    )
    .bind(tx.tenant_id())
    .bind(J::KIND)
    .bind(J::RETRY.max_attempts)
    .bind(&ids)
    .bind(&payloads)
    .bind(CHANNEL)
    .execute(&mut **tx)
    .await?;
    Ok(jobs.len() as u64)
}

/// Queues a job for `tenant` on any connection: the tenant's own transaction (as
/// [`enqueue`] does) or, for scheduled platform work, the operator's.
pub(crate) async fn enqueue_on<J: JobKind>(
    conn: &mut PgConnection,
    tenant: TenantId,
    job: &J,
    options: Options,
) -> Result<Option<JobId>, sqlx::Error> {
    let payload = serde_json::to_value(job).map_err(|err| sqlx::Error::Encode(Box::new(err)))?;
    sqlx::query_scalar(
        "with inserted as (
             insert into jobs (tenant_id, id, kind, payload, priority, run_at, max_attempts, unique_key)
             values ($1, $2, $3, $4, $5, coalesce($6, now()), $7, $8)
             on conflict (tenant_id, kind, unique_key) where unique_key is not null do nothing
             returning id)
         select id from inserted, pg_notify($9, '')",
    )
    .bind(tenant)
    .bind(JobId::default())
    .bind(J::KIND)
    .bind(payload)
    .bind(options.priority)
    .bind(options.run_at)
    .bind(J::RETRY.max_attempts)
    .bind(options.unique_key)
    .bind(CHANNEL)
    .fetch_optional(conn)
    .await
}
