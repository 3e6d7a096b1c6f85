//! Durable background jobs: everything the platform does after a request commits (emails,
//! closing quiz attempts past their deadline, and next webhooks, plugin calls and certificates).
//!
//! - A job is a row written in the transaction of the change that causes it ([`enqueue`]), so it
//!   exists exactly when that change committed; a unique key makes enqueueing idempotent.
//! - Workers ([`Worker`]) claim due jobs with `FOR UPDATE SKIP LOCKED`, tenants taking turns, and
//!   hold a lease they renew while the job runs. Every claim carries a fencing token that
//!   completing or failing the job must present, so a worker that lost its lease cannot
//!   overwrite the result of the worker that took the job over.
//! - A job's code runs in its tenant's transaction as the app role ([`JobContext::begin`]); it
//!   may commit its completion with its work ([`JobContext::finish`]).
//! - Failures retry with exponential backoff and jitter up to the kind's attempts, then the job
//!   is dead: tenant admins (their tenant's) and the operator (all) list and re-run dead jobs.
//! - Recurring platform work runs on cron [`Schedule`]s instead of sweep loops.
//!
//! None of the Rust PostgreSQL queues (apalis, underway, sqlxmq, graphile_worker's port) fits:
//! each keeps its jobs in its own schema without `tenant_id` keys or row-level security, none
//! fences completions against a lost lease, and none shares claims fairly between tenants.

mod backoff;
mod enqueue;
mod model;
mod platform;
pub mod queue;
mod registry;
mod routes;
mod schedule;
mod store;
mod worker;

pub use backoff::Retry;
pub(crate) use enqueue::enqueue_on;
pub use enqueue::{JobKind, Options, enqueue, enqueue_many};
pub use model::{Job, JobId, JobState};
pub use platform::{registry, schedules};
pub use registry::{Finished, JobContext, JobError, Registry};
pub use routes::{operator_router, router};
pub use schedule::{Schedule, Task, fire_due, register as register_schedules};
pub use worker::{Worker, WorkerConfig};
