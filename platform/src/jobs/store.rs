//! The SQL behind the jobs API: listing, reading and re-running jobs. A tenant admin's calls run
//! in the tenant's transaction (row-level security confines them); the operator's on the
//! operator role's connection, across tenants.

use lms_tenants::TenantId;
use sqlx::PgConnection;

use super::enqueue::CHANNEL;
use super::model::{JOB_COLUMNS, Job, JobId, JobState};
use crate::db::Cursor;

/// What a listing asks for.
pub struct Filter<'a> {
    pub tenant: Option<TenantId>,
    pub state: Option<JobState>,
    pub kind: Option<&'a str>,
}

/// Jobs newest first, one more than `limit` (the page's "more" marker).
pub async fn list(
    conn: &mut PgConnection,
    filter: &Filter<'_>,
    cursor: Option<Cursor>,
    limit: i64,
) -> Result<Vec<Job>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {JOB_COLUMNS} from jobs
         where ($1::uuid is null or tenant_id = $1) and ($2::text is null or state = $2)
           and ($3::text is null or kind = $3) and ($4::uuid is null or id < $4)
         order by id desc limit $5"
    ))
    .bind(filter.tenant)
    .bind(filter.state)
    .bind(filter.kind)
    .bind(cursor.map(|c| c.0))
    .bind(limit + 1)
    .fetch_all(conn)
    .await
}

pub async fn get(
    conn: &mut PgConnection,
    tenant: TenantId,
    id: JobId,
) -> Result<Option<Job>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {JOB_COLUMNS} from jobs where tenant_id = $1 and id = $2"
    ))
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Queues a dead job again with all its attempts: `None` if it is not dead (or not there).
pub async fn rerun(
    conn: &mut PgConnection,
    tenant: TenantId,
    id: JobId,
) -> Result<Option<Job>, sqlx::Error> {
    sqlx::query_as(&format!(
        "with rerun as (
             update jobs set state = 'queued', attempts = 0, run_at = now(), finished_at = null
             where tenant_id = $1 and id = $2 and state = 'dead'
             returning {JOB_COLUMNS})
         select rerun.* from rerun, pg_notify($3, '')"
    ))
    .bind(tenant)
    .bind(id)
    .bind(CHANNEL)
    .fetch_optional(conn)
    .await
}
