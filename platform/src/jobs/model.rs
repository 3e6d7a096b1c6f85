//! What a job is, as stored and as tenant admins and the operator see it.

use chrono::{DateTime, Utc};
use lms_tenants::TenantId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

entity_id!(
    /// A job's identifier (UUIDv7).
    JobId
);

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for its run time and a free worker (also between retries).
    Queued,
    /// Claimed by a worker that holds its lease.
    Running,
    Succeeded,
    /// Failed on every attempt it was allowed (or with an error retrying cannot help): kept
    /// until an admin re-runs it.
    Dead,
}

text_enum!(JobState {
    Queued => "queued",
    Running => "running",
    Succeeded => "succeeded",
    Dead => "dead",
});

/// A job as admins see it. The payload is not shown: it may carry what only the job's own
/// recipient should read (a password-reset link, a webhook body).
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Job {
    pub id: JobId,
    pub tenant_id: TenantId,
    /// What the job does, e.g. `email.send`.
    pub kind: String,
    pub state: JobState,
    /// When it runs next (queued), or ran last.
    pub run_at: DateTime<Utc>,
    /// Attempts started so far.
    pub attempts: i32,
    pub max_attempts: i32,
    /// Why the latest attempt failed.
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// The columns of [`Job`], for `select`.
pub const JOB_COLUMNS: &str = "id, tenant_id, kind, state, run_at, attempts, max_attempts, \
     last_error, created_at, started_at, finished_at";
