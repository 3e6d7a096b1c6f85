//! All SQL the workers run on `jobs`. Claiming, renewing leases and recording outcomes cross
//! tenants, so they go through the operator role; the work itself runs in the tenant's own
//! transaction as the app role ([`super::JobContext::begin`]).

use std::time::Duration;

use lms_tenants::TenantId;
use sqlx::PgPool;
use uuid::Uuid;

use super::model::{JobId, JobState};

/// A claimed job: what the worker needs to run it and to prove its claim afterwards.
#[derive(Debug, sqlx::FromRow)]
pub struct Claimed {
    pub tenant_id: TenantId,
    pub id: JobId,
    pub kind: String,
    pub payload: serde_json::Value,
    pub attempts: i32,
    pub max_attempts: i32,
    /// Incremented by every claim; completing or failing the job must present it.
    pub fence: i64,
}

/// A claim's identity, as completions and heartbeats name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lease {
    pub tenant: TenantId,
    pub job: JobId,
    pub fence: i64,
}

impl Claimed {
    pub fn lease(&self) -> Lease {
        Lease {
            tenant: self.tenant_id,
            job: self.id,
            fence: self.fence,
        }
    }
}

/// Claims up to `batch` due jobs of the given kinds, taking tenants in turn: each tenant with due
/// jobs gets an equal share of the batch (at least one), tenants after `cursor` first, so that
/// one tenant's backlog never starves another's next job.
///
/// The tenants with queued jobs are found by a skip scan (one index probe per tenant), and those
/// with a job due now kept (one more probe of `jobs_next_run`): tenants whose jobs all wait for
/// a later time (retries backing off) never take the places of tenants with work. Each tenant's
/// share is locked with `SKIP LOCKED`, so concurrent workers take different jobs instead of
/// waiting for each other.
pub async fn claim(
    pool: &PgPool,
    owner: &str,
    kinds: &[&str],
    batch: i64,
    lease: Duration,
    cursor: Option<TenantId>,
) -> Result<Vec<Claimed>, sqlx::Error> {
    let query = format!(
        "with recursive queued(tenant_id) as (
             (select tenant_id from jobs where state = 'queued' order by tenant_id limit 1)
             union all
             select (select j.tenant_id from jobs j
                     where j.state = 'queued' and j.tenant_id > q.tenant_id
                     order by j.tenant_id limit 1)
             from queued q where q.tenant_id is not null
         ),
         chosen as (
             select q.tenant_id from queued q
             where q.tenant_id is not null
               and (select min(j.run_at) from jobs j
                    where j.tenant_id = q.tenant_id and j.state = 'queued') <= now()
             order by q.tenant_id <= $5, q.tenant_id
             limit $4
         ),
         {CLAIM_SHARES}"
    );
    claim_with(&query, pool, owner, kinds, batch, lease, cursor, None).await
}

/// Claims like [`claim`], from these tenants only: for a worker that found them with jobs due a
/// moment ago, while their backlog lasts. Saves the probes that find the tenants with due jobs
/// (whose index is mostly entries of jobs claimed a moment ago while a backlog drains).
pub async fn claim_from(
    pool: &PgPool,
    owner: &str,
    kinds: &[&str],
    batch: i64,
    lease: Duration,
    cursor: Option<TenantId>,
    tenants: &[TenantId],
) -> Result<Vec<Claimed>, sqlx::Error> {
    let query = format!(
        "with chosen as (
             select t as tenant_id from unnest($6::uuid[]) as t
             order by t <= $5, t
             limit $4
         ),
         {CLAIM_SHARES}"
    );
    claim_with(&query, pool, owner, kinds, batch, lease, cursor, Some(tenants)).await
}

/// The claim after `chosen` (the tenants to serve): each one's share of the batch, locked, in
/// turns across tenants, then leased to `$1` for `$2` seconds.
const CLAIM_SHARES: &str = "share as (
             select greatest(1, ceil($4::numeric / greatest(count(*), 1)))::int as n from chosen
         ),
         candidates as (
             select j.tenant_id, j.id,
                    row_number() over (partition by j.tenant_id
                                       order by j.priority desc, j.run_at, j.id) as turn
             from chosen c cross join lateral (
                 select tenant_id, id, priority, run_at from jobs
                 where tenant_id = c.tenant_id and state = 'queued' and run_at <= now()
                   and kind = any($3)
                 order by priority desc, run_at, id
                 limit (select n from share)
                 for update skip locked
             ) j
         ),
         picked as (
             select tenant_id, id from candidates
             order by turn, tenant_id <= $5, tenant_id
             limit $4
         )
         update jobs j
         set state = 'running', attempts = j.attempts + 1, fence = j.fence + 1,
             lease_owner = $1, lease_expires_at = now() + make_interval(secs => $2),
             started_at = now()
         from picked p
         where j.tenant_id = p.tenant_id and j.id = p.id
         returning j.tenant_id, j.id, j.kind, j.payload, j.attempts, j.max_attempts, j.fence";

/// Runs a claim with its binds: `$1` owner, `$2` lease seconds, `$3` kinds, `$4` batch, `$5`
/// cursor and, for [`claim_from`], `$6` the tenants.
#[allow(clippy::too_many_arguments)] // the claim's parameters, named as the SQL numbers them
async fn claim_with(
    query: &str,
    pool: &PgPool,
    owner: &str,
    kinds: &[&str],
    batch: i64,
    lease: Duration,
    cursor: Option<TenantId>,
    tenants: Option<&[TenantId]>,
) -> Result<Vec<Claimed>, sqlx::Error> {
    let query = sqlx::query_as(query)
        .bind(owner)
        .bind(lease.as_secs_f64())
        .bind(kinds)
        .bind(batch)
        .bind(cursor.map_or(Uuid::nil(), |t| t.as_uuid()));
    match tenants {
        Some(tenants) => query.bind(tenants),
        None => query,
    }
    .fetch_all(pool)
    .await
}

/// Renews the leases of the jobs `owner` is running; returns those it still holds. A lease
/// missing from the answer was lost (expired and taken over, or released), and its job must
/// stop. Only the leases named are renewed: a job whose outcome could not be recorded (the
/// database was away) is not kept alive, its lease runs out and the job runs again.
pub async fn renew(
    pool: &PgPool,
    owner: &str,
    lease: Duration,
    running: &[Lease],
) -> Result<Vec<Lease>, sqlx::Error> {
    let columns = LeaseColumns::of(running);
    let rows: Vec<(TenantId, JobId, i64)> = sqlx::query_as(
        "update jobs j set lease_expires_at = now() + make_interval(secs => $2)
         from unnest($3::uuid[], $4::uuid[], $5::bigint[]) as r(tenant_id, id, fence)
         where j.tenant_id = r.tenant_id and j.id = r.id and j.fence = r.fence
           and j.state = 'running' and j.lease_owner = $1
         returning j.tenant_id, j.id, j.fence",
    )
    .bind(owner)
    .bind(lease.as_secs_f64())
    .bind(&columns.tenants)
    .bind(&columns.jobs)
    .bind(&columns.fences)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(tenant, job, fence)| Lease { tenant, job, fence })
        .collect())
}

/// Marks jobs succeeded, each only if its lease is still the one presented. Returns how many
/// were recorded (the rest had lost their leases).
pub async fn complete(pool: &PgPool, leases: &[Lease]) -> Result<u64, sqlx::Error> {
    set_where_held(
        pool,
        "state = 'succeeded', finished_at = now(), lease_owner = null, lease_expires_at = null",
        leases,
    )
    .await
}

/// Marks one job succeeded in the transaction of its work (any role: the app role's tenant
/// transaction). `false` when the lease was lost: the caller must roll back.
pub async fn complete_in(conn: &mut sqlx::PgConnection, lease: Lease) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "update jobs
         set state = 'succeeded', finished_at = now(), lease_owner = null, lease_expires_at = null
         where tenant_id = $1 and id = $2 and fence = $3 and state = 'running'",
    )
    .bind(lease.tenant)
    .bind(lease.job)
    .bind(lease.fence)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// How a failed attempt ends.
pub enum Failure {
    /// Run again after this delay, unless the attempts are used up.
    Retry(Duration),
    /// Retrying cannot help: dead now.
    Fatal,
}

/// Records a failed attempt: queued again after the delay, or dead when its attempts are used
/// up. `None` when the lease was lost (the newer run's outcome stands).
pub async fn fail(
    pool: &PgPool,
    lease: Lease,
    failure: Failure,
    error: &str,
) -> Result<Option<JobState>, sqlx::Error> {
    let (fatal, delay) = match failure {
        Failure::Retry(delay) => (false, delay),
        Failure::Fatal => (true, Duration::ZERO),
    };
    sqlx::query_scalar(
        "update jobs
         set state = case when $4 or attempts >= max_attempts then 'dead' else 'queued' end,
             finished_at = case when $4 or attempts >= max_attempts then now() end,
             run_at = case when $4 or attempts >= max_attempts then run_at
                           else now() + make_interval(secs => $5) end,
             last_error = $6, lease_owner = null, lease_expires_at = null
         where tenant_id = $1 and id = $2 and fence = $3 and state = 'running'
         returning state",
    )
    .bind(lease.tenant)
    .bind(lease.job)
    .bind(lease.fence)
    .bind(fatal)
    .bind(delay.as_secs_f64())
    .bind(truncate(error))
    .fetch_optional(pool)
    .await
}

/// Gives back jobs this worker started but will not finish (shutdown): queued again at once,
/// the interrupted attempt not counted.
pub async fn release(pool: &PgPool, leases: &[Lease]) -> Result<u64, sqlx::Error> {
    set_where_held(
        pool,
        "state = 'queued', attempts = greatest(j.attempts - 1, 0), run_at = now(), \
         lease_owner = null, lease_expires_at = null",
        leases,
    )
    .await
}

/// The leases as the three arrays `unnest` pairs up: tenants, jobs and fences.
struct LeaseColumns {
    tenants: Vec<TenantId>,
    jobs: Vec<JobId>,
    fences: Vec<i64>,
}

impl LeaseColumns {
    fn of(leases: &[Lease]) -> Self {
        Self {
            tenants: leases.iter().map(|l| l.tenant).collect(),
            jobs: leases.iter().map(|l| l.job).collect(),
            fences: leases.iter().map(|l| l.fence).collect(),
        }
    }
}

/// Applies `set` (assignments to `jobs j`) to the running jobs whose leases are still the ones
/// presented; returns how many.
async fn set_where_held(pool: &PgPool, set: &str, leases: &[Lease]) -> Result<u64, sqlx::Error> {
    let columns = LeaseColumns::of(leases);
    let updated = sqlx::query(&format!(
        "update jobs j set {set}
         from unnest($1::uuid[], $2::uuid[], $3::bigint[]) as d(tenant_id, id, fence)
         where j.tenant_id = d.tenant_id and j.id = d.id and j.fence = d.fence
           and j.state = 'running'"
    ))
    .bind(&columns.tenants)
    .bind(&columns.jobs)
    .bind(&columns.fences)
    .execute(pool)
    .await?;
    Ok(updated.rows_affected())
}

/// Takes back the jobs of workers that stopped renewing their leases (a crash, a lost network):
/// queued again at once, or dead if that was their last attempt. Returns how many.
pub async fn rescue_expired(conn: &mut sqlx::PgConnection) -> Result<u64, sqlx::Error> {
    let rescued = sqlx::query(
        "update jobs
         set state = case when attempts >= max_attempts then 'dead' else 'queued' end,
             finished_at = case when attempts >= max_attempts then now() end,
             run_at = now(),
             last_error = 'the worker running it stopped renewing its lease',
             lease_owner = null, lease_expires_at = null
         where state = 'running' and lease_expires_at < now()",
    )
    .execute(conn)
    .await?;
    Ok(rescued.rows_affected())
}

/// Deletes finished jobs past their keeping: succeeded after 7 days, dead after 30. Their
/// unique keys are free again afterwards.
pub async fn prune(conn: &mut sqlx::PgConnection) -> Result<u64, sqlx::Error> {
    let pruned = sqlx::query(
        "delete from jobs where ctid = any(array(
             select ctid from jobs
             where (state = 'succeeded' and finished_at < now() - interval '7 days')
                or (state = 'dead' and finished_at < now() - interval '30 days')
             limit 10000))",
    )
    .execute(conn)
    .await?;
    Ok(pruned.rows_affected())
}

/// Stored errors are kept short: the start of the message says what went wrong.
fn truncate(error: &str) -> &str {
    match error.char_indices().nth(2000) {
        Some((at, _)) => &error[..at],
        None => error,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_errors_are_cut_on_a_character_boundary() {
        let long = "é".repeat(3000);
        assert_eq!(super::truncate(&long).chars().count(), 2000);
        assert_eq!(super::truncate("short"), "short");
    }
}
