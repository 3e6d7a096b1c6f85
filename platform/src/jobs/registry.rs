//! The kinds of job a worker runs, and what a job's code is handed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use lms_tenants::{TenantId, TenantTx};

use super::backoff::Retry;
use super::enqueue::JobKind;
use super::model::JobId;
use super::queue::{self, Lease};
use crate::state::AppState;

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Worth another attempt after the kind's backoff.
    #[error("{0:#}")]
    Retry(anyhow::Error),
    /// Worth another attempt, not before `after` (the far side said when: `Retry-After`).
    #[error("{error:#} (retry after {after:?})")]
    RetryAfter {
        error: anyhow::Error,
        after: Duration,
    },
    /// Retrying cannot help (a malformed payload, a recipient that cannot exist): dead now.
    #[error("{0:#}")]
    Fatal(anyhow::Error),
    /// Another worker took the job over; this run's outcome does not count.
    #[error("the job's lease was lost to another worker")]
    LeaseLost,
}

impl From<sqlx::Error> for JobError {
    fn from(err: sqlx::Error) -> Self {
        Self::Retry(err.into())
    }
}

impl From<anyhow::Error> for JobError {
    fn from(err: anyhow::Error) -> Self {
        Self::Retry(err)
    }
}

/// Proof that a job's code reached its end: returned only by [`JobContext::finish`] (completion
/// recorded with the work) and [`JobContext::done`] (the worker records it).
#[must_use]
pub struct Finished {
    pub(super) recorded: bool,
}

/// What a job's code is handed: who it runs for, its attempt, and the platform.
pub struct JobContext {
    pub tenant: TenantId,
    pub id: JobId,
    /// 1 for the first run.
    pub attempt: i32,
    pub max_attempts: i32,
    pub(super) lease: Lease,
    state: AppState,
}

impl JobContext {
    pub(super) fn new(state: AppState, lease: Lease, attempt: i32, max_attempts: i32) -> Self {
        Self {
            tenant: lease.tenant,
            id: lease.job,
            attempt,
            max_attempts,
            lease,
            state,
        }
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Opens the job's tenant transaction, as the app role: row-level security confines the
    /// job's work to its tenant exactly as it does a request's.
    pub async fn begin(&self) -> Result<TenantTx, sqlx::Error> {
        self.state.db.begin(self.tenant).await
    }

    /// Records the job's completion in `tx` and commits: the work and its completion commit
    /// together, or neither does. If the lease was lost meanwhile (the job ran too long and
    /// another worker took it over), nothing commits and [`JobError::LeaseLost`] is returned.
    pub async fn finish(&self, mut tx: TenantTx) -> Result<Finished, JobError> {
        if !queue::complete_in(&mut tx, self.lease).await? {
            return Err(JobError::LeaseLost);
        }
        tx.commit().await?;
        Ok(Finished { recorded: true })
    }

    /// The job's work is done and left nothing in the database to commit with its completion
    /// (an email sent, a request made); the worker records the completion.
    pub fn done(&self) -> Finished {
        Finished { recorded: false }
    }
}

type Run = Arc<
    dyn Fn(JobContext, serde_json::Value) -> BoxFuture<'static, Result<Finished, JobError>>
        + Send
        + Sync,
>;

pub(super) struct Entry {
    pub retry: Retry,
    pub timeout: Duration,
    pub run: Run,
}

/// The kinds a worker runs, each with its code. A worker claims only kinds it knows, so a new
/// kind's jobs wait for a binary that has it.
#[derive(Default)]
pub struct Registry {
    kinds: HashMap<&'static str, Entry>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the code that runs jobs of kind `J`.
    ///
    /// # Panics
    /// If `J::KIND` was added already (a programming error found at start-up).
    pub fn handle<J, F, Fut>(mut self, handler: F) -> Self
    where
        J: JobKind,
        F: Fn(JobContext, J) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Finished, JobError>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let run: Run = Arc::new(move |ctx, payload| {
            let handler = Arc::clone(&handler);
            async move {
                let job: J = serde_json::from_value(payload).map_err(|err| {
                    JobError::Fatal(anyhow::anyhow!("the payload is not a {}: {err}", J::KIND))
                })?;
                handler(ctx, job).await
            }
            .boxed()
        });
        let previous = self.kinds.insert(
            J::KIND,
            Entry {
                retry: J::RETRY,
                timeout: J::TIMEOUT,
                run,
            },
        );
        assert!(previous.is_none(), "job kind {} added twice", J::KIND);
        self
    }

    pub(super) fn get(&self, kind: &str) -> Option<&Entry> {
        self.kinds.get(kind)
    }

    pub fn kinds(&self) -> Vec<&'static str> {
        let mut kinds: Vec<_> = self.kinds.keys().copied().collect();
        kinds.sort_unstable();
        kinds
    }
}
