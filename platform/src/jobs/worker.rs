//! The worker: claims due jobs, runs each in its tenant's context with the kind's timeout, keeps
//! their leases renewed, records outcomes, and on shutdown finishes or gives back what it holds.
//!
//! Runs inside `lms serve` by default and alone as `lms worker`; any number may run against one
//! database. Idle workers wake on the `NOTIFY` a commit that queued jobs sends, and poll as a
//! fallback (and for jobs whose run time comes).

use std::collections::{HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::FutureExt;
use lms_tenants::TenantId;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::AbortHandle;

use super::backoff::Retry;
use super::enqueue::CHANNEL;
use super::model::{JobId, JobState};
use super::queue::{self, Claimed, Failure, Lease};
use super::registry::{Finished, JobContext, JobError, Registry};
use super::schedule::{self, Schedule};
use crate::state::AppState;

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Jobs run at once.
    pub concurrency: usize,
    /// How long a claim holds without renewal; renewed every third of it. A crashed worker's
    /// jobs run again this long after its last renewal.
    pub lease: Duration,
    /// How often an idle worker looks without being woken.
    pub poll: Duration,
    /// On shutdown, how long running jobs may take to finish before they are given back.
    pub grace: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            concurrency: 16,
            lease: Duration::from_secs(30),
            poll: Duration::from_secs(1),
            grace: Duration::from_secs(10),
        }
    }
}

pub struct Worker {
    state: AppState,
    registry: Arc<Registry>,
    schedules: Arc<[Schedule]>,
    config: WorkerConfig,
    owner: String,
}

/// A job this worker runs now.
struct Running {
    fence: i64,
    claimed_at: Instant,
    abort: AbortHandle,
}

type InFlight = Arc<Mutex<HashMap<(TenantId, JobId), Running>>>;

fn lock(inflight: &InFlight) -> std::sync::MutexGuard<'_, HashMap<(TenantId, JobId), Running>> {
    inflight.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Worker {
    pub fn new(state: AppState, registry: Registry, config: WorkerConfig) -> Self {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "lms".to_owned());
        Self {
            state,
            registry: Arc::new(registry),
            schedules: Arc::from(Vec::new()),
            config,
            owner: format!(
                "{host}:{}:{}",
                std::process::id(),
                uuid::Uuid::now_v7().simple()
            ),
        }
    }

    /// Also fires these recurring schedules (every worker may; each firing runs once).
    pub fn with_schedules(mut self, schedules: Vec<Schedule>) -> Self {
        self.schedules = Arc::from(schedules);
        self
    }

    /// The name its leases carry.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Works until `shutdown` completes; then stops claiming, lets running jobs finish within
    /// the grace period, and gives back the rest.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        let pool = self.state.operator_db.pool().clone();
        let kinds = self.registry.kinds();
        let inflight: InFlight = Arc::default();
        let wake = Arc::new(Notify::new());
        let (completions, completed) = mpsc::unbounded_channel();
        let completer = tokio::spawn(record_completions(pool.clone(), completed));
        let listener = tokio::spawn(listen(pool.clone(), Arc::clone(&wake)));
        let heartbeat = tokio::spawn(renew_leases(
            pool.clone(),
            self.owner.clone(),
            self.config.lease,
            Arc::clone(&inflight),
        ));
        let scheduler = (!self.schedules.is_empty()).then(|| {
            tokio::spawn(schedule::run(
                self.state.clone(),
                Arc::clone(&self.schedules),
            ))
        });
        let slots = Arc::new(Semaphore::new(self.config.concurrency));
        let mut cursor = None;
        // The last claim took all it asked for: more jobs are probably waiting.
        let mut backlog = false;
        let mut serving = Serving::of(&[]);
        tracing::info!(owner = %self.owner, kinds = ?kinds, "job worker started");
        tokio::pin!(shutdown);
        loop {
            let first = tokio::select! {
                biased;
                () = &mut shutdown => break,
                slot = Arc::clone(&slots).acquire_owned() => match slot {
                    Ok(slot) => slot,
                    Err(_) => break,
                },
            };
            let mut free = vec![first];
            while let Ok(slot) = Arc::clone(&slots).try_acquire_owned() {
                free.push(slot);
            }
            if backlog {
                gather(&slots, &mut free, self.config.concurrency).await;
            }
            let wanted = free.len();
            let batch = i64::try_from(wanted).unwrap_or(i64::MAX);
            // While a backlog drains, the tenants the last full claim served are served again
            // without looking for tenants anew; a short claim or [`TENANTS_FRESH`] ends that, so
            // a tenant that queues a job meanwhile waits at most that long for its turn.
            let result = if backlog && serving.found.elapsed() < TENANTS_FRESH {
                let tenants = &serving.tenants;
                queue::claim_from(&pool, &self.owner, &kinds, batch, self.config.lease, cursor, tenants)
                    .await
            } else {
                let claimed =
                    queue::claim(&pool, &self.owner, &kinds, batch, self.config.lease, cursor).await;
                if let Ok(claimed) = &claimed {
                    serving = Serving::of(claimed);
                }
                claimed
            };
            let claimed = match result {
                Ok(claimed) => claimed,
                Err(err) => {
                    tracing::warn!(error = %err, "claiming jobs");
                    drop(free);
                    tokio::select! {
                        biased;
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(self.config.poll) => continue,
                    }
                }
            };
            cursor = next_cursor(cursor, &claimed);
            let got = claimed.len();
            backlog = got == wanted;
            for job in claimed {
                let Some(slot) = free.pop() else { break };
                self.start(job, slot, &inflight, &completions);
            }
            drop(free);
            if got < wanted {
                tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    () = wake.notified() => {}
                    () = tokio::time::sleep(self.config.poll) => {}
                }
            }
        }
        tracing::info!(owner = %self.owner, "job worker stopping");
        let all = u32::try_from(self.config.concurrency).unwrap_or(u32::MAX);
        let finished = tokio::time::timeout(self.config.grace, slots.acquire_many(all)).await;
        if finished.is_err() {
            let unfinished: Vec<Lease> = lock(&inflight)
                .drain()
                .map(|((tenant, job), running)| {
                    running.abort.abort();
                    Lease {
                        tenant,
                        job,
                        fence: running.fence,
                    }
                })
                .collect();
            match queue::release(&pool, &unfinished).await {
                Ok(n) => tracing::info!(released = n, "gave back unfinished jobs"),
                Err(err) => {
                    tracing::warn!(error = %err, "giving back unfinished jobs; their leases will expire")
                }
            }
        }
        drop(completions);
        completer.await.ok();
        heartbeat.abort();
        listener.abort();
        if let Some(scheduler) = scheduler {
            scheduler.abort();
        }
    }

    fn start(
        &self,
        job: Claimed,
        slot: OwnedSemaphorePermit,
        inflight: &InFlight,
        completions: &mpsc::UnboundedSender<Lease>,
    ) {
        let lease = job.lease();
        let pool = self.state.operator_db.pool().clone();
        let Some(entry) = self.registry.get(&job.kind) else {
            // Claims ask only for known kinds; this would be a registry changed under us.
            tokio::spawn(async move {
                let _slot = slot;
                settle(
                    &pool,
                    lease,
                    &job.kind,
                    Retry::DEFAULT,
                    1,
                    Err(JobError::Fatal(anyhow::anyhow!("unknown job kind"))),
                    None,
                )
                .await;
            });
            return;
        };
        let ctx = JobContext::new(self.state.clone(), lease, job.attempts, job.max_attempts);
        let work = (entry.run)(ctx, job.payload);
        let (timeout, retry, kind, attempt) = (entry.timeout, entry.retry, job.kind, job.attempts);
        let completions = completions.clone();
        let inflight_for_task = Arc::clone(inflight);
        let mut map = lock(inflight);
        let handle = tokio::spawn(async move {
            let _slot = slot;
            let outcome =
                match tokio::time::timeout(timeout, AssertUnwindSafe(work).catch_unwind()).await {
                    Ok(Ok(result)) => result,
                    Ok(Err(panic)) => Err(JobError::Retry(anyhow::anyhow!(
                        "the job's code panicked: {}",
                        panic_message(panic.as_ref())
                    ))),
                    Err(_) => Err(JobError::Retry(anyhow::anyhow!(
                        "the run took longer than {timeout:?}"
                    ))),
                };
            lock(&inflight_for_task).remove(&(lease.tenant, lease.job));
            settle(
                &pool,
                lease,
                &kind,
                retry,
                attempt,
                outcome,
                Some(&completions),
            )
            .await;
        });
        map.insert(
            (lease.tenant, lease.job),
            Running {
                fence: lease.fence,
                claimed_at: Instant::now(),
                abort: handle.abort_handle(),
            },
        );
    }
}

/// The tenants a full claim served, and when.
struct Serving {
    tenants: Vec<TenantId>,
    found: Instant,
}

impl Serving {
    fn of(claimed: &[Claimed]) -> Self {
        let mut tenants: Vec<TenantId> = claimed.iter().map(|c| c.tenant_id).collect();
        tenants.sort_unstable();
        tenants.dedup();
        Self {
            tenants,
            found: Instant::now(),
        }
    }
}

/// How long the tenants a full claim found are served before tenants are looked for again.
const TENANTS_FRESH: Duration = Duration::from_millis(100);

/// With a backlog, waits briefly for more of the running jobs to finish before claiming again,
/// so that short jobs are claimed by the batch (one statement for many jobs) rather than one
/// claim per finished job. Waits for a quarter of the slots at most [`GATHER_WINDOW`]; without
/// a backlog nothing waits, so a lone job starts at once.
async fn gather(slots: &Arc<Semaphore>, free: &mut Vec<OwnedSemaphorePermit>, concurrency: usize) {
    let enough = concurrency.div_ceil(4);
    let deadline = tokio::time::Instant::now() + GATHER_WINDOW;
    while free.len() < enough {
        match tokio::time::timeout_at(deadline, Arc::clone(slots).acquire_owned()).await {
            Ok(Ok(slot)) => free.push(slot),
            Ok(Err(_)) | Err(_) => break,
        }
        while let Ok(slot) = Arc::clone(slots).try_acquire_owned() {
            free.push(slot);
        }
    }
}

/// The longest a claim waits for slots to gather while jobs are waiting.
const GATHER_WINDOW: Duration = Duration::from_millis(2);

/// Where the next claim starts: after the highest tenant this one reached, so that with more
/// tenants waiting than one claim serves, each claim serves the next ones.
fn next_cursor(cursor: Option<TenantId>, claimed: &[Claimed]) -> Option<TenantId> {
    let beyond = claimed
        .iter()
        .map(|c| c.tenant_id)
        .filter(|t| Some(*t) > cursor)
        .max();
    beyond
        .or_else(|| claimed.iter().map(|c| c.tenant_id).max())
        .or(cursor)
}

/// Records one run's outcome.
async fn settle(
    pool: &PgPool,
    lease: Lease,
    kind: &str,
    retry: Retry,
    attempt: i32,
    outcome: Result<Finished, JobError>,
    completions: Option<&mpsc::UnboundedSender<Lease>>,
) {
    let error = match outcome {
        Ok(Finished { recorded: true }) => {
            metrics::counter!("lms_jobs_succeeded_total", "kind" => kind.to_owned()).increment(1);
            return;
        }
        Ok(Finished { recorded: false }) => {
            metrics::counter!("lms_jobs_succeeded_total", "kind" => kind.to_owned()).increment(1);
            if let Some(completions) = completions {
                completions.send(lease).ok();
            }
            return;
        }
        Err(JobError::LeaseLost) => {
            tracing::warn!(job = %lease.job, kind, "the job's lease was lost; its outcome is dropped");
            return;
        }
        Err(error) => error,
    };
    let failure = match &error {
        JobError::Retry(_) => Failure::Retry(retry.delay(attempt)),
        JobError::RetryAfter { after, .. } => Failure::Retry((*after).max(Duration::from_secs(1))),
        JobError::Fatal(_) | JobError::LeaseLost => Failure::Fatal,
    };
    metrics::counter!("lms_jobs_failed_total", "kind" => kind.to_owned()).increment(1);
    match queue::fail(pool, lease, failure, &error.to_string()).await {
        Ok(Some(JobState::Dead)) => {
            tracing::error!(job = %lease.job, tenant = %lease.tenant, kind, attempt, error = %error, "job failed for good (dead)");
        }
        Ok(Some(_)) => {
            tracing::warn!(job = %lease.job, tenant = %lease.tenant, kind, attempt, error = %error, "job failed; it will be retried");
        }
        Ok(None) => {
            tracing::warn!(job = %lease.job, kind, "the job's lease was lost before its failure was recorded")
        }
        Err(err) => {
            tracing::warn!(job = %lease.job, kind, error = %err, "recording a job failure; its lease will expire")
        }
    }
}

/// Records successful runs in batches: under load many completions share one statement.
async fn record_completions(pool: PgPool, mut completed: mpsc::UnboundedReceiver<Lease>) {
    const MAX_BATCH: usize = 1000;
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = completed.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match completed.try_recv() {
                Ok(lease) => batch.push(lease),
                Err(_) => break,
            }
        }
        for retry in 0..5u32 {
            match queue::complete(&pool, &batch).await {
                Ok(recorded) => {
                    if recorded < batch.len() as u64 {
                        tracing::warn!(
                            lost = batch.len() as u64 - recorded,
                            "completions refused: leases lost to other workers"
                        );
                    }
                    break;
                }
                Err(err) => {
                    // If the database stays away, the leases expire and the jobs run again.
                    tracing::warn!(error = %err, jobs = batch.len(), "recording completions");
                    tokio::time::sleep(Duration::from_millis(100) * 2u32.pow(retry)).await;
                }
            }
        }
        batch.clear();
    }
}

/// Renews the leases of the running jobs every third of their length, and stops the jobs whose
/// leases were lost (taken over after an expiry) or could not be renewed for a whole lease.
async fn renew_leases(pool: PgPool, owner: String, lease: Duration, inflight: InFlight) {
    let mut tick = tokio::time::interval(lease / 3);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut renewed_at = Instant::now();
    loop {
        tick.tick().await;
        let asked_at = Instant::now();
        let running: Vec<Lease> = lock(&inflight)
            .iter()
            .map(|(&(tenant, job), running)| Lease {
                tenant,
                job,
                fence: running.fence,
            })
            .collect();
        if running.is_empty() {
            renewed_at = asked_at;
            continue;
        }
        match queue::renew(&pool, &owner, lease, &running).await {
            Ok(held) => {
                renewed_at = asked_at;
                let held: HashSet<Lease> = held.into_iter().collect();
                let lost: HashSet<Lease> =
                    running.into_iter().filter(|l| !held.contains(l)).collect();
                lock(&inflight).retain(|&(tenant, job), running| {
                    let kept = !lost.contains(&Lease {
                        tenant,
                        job,
                        fence: running.fence,
                    });
                    if !kept {
                        tracing::warn!(%job, "lease lost to another worker; stopping the job");
                        running.abort.abort();
                    }
                    kept
                });
            }
            Err(err) => {
                tracing::warn!(error = %err, "renewing job leases");
                // A lease neither claimed nor renewed within its length has expired: another
                // worker may run the job now, so this one stops it.
                lock(&inflight).retain(|(_, job), running| {
                    let expired = running.claimed_at.max(renewed_at).elapsed() >= lease;
                    if expired {
                        tracing::warn!(%job, "lease expired unrenewed; stopping the job");
                        running.abort.abort();
                    }
                    !expired
                });
            }
        }
    }
}

/// Wakes the claim loop on every `NOTIFY` of a commit that queued jobs. After a lost connection
/// it wakes once too: notifications sent meanwhile were lost.
async fn listen(pool: PgPool, wake: Arc<Notify>) {
    loop {
        match PgListener::connect_with(&pool).await {
            Ok(mut listener) => match listener.listen(CHANNEL).await {
                Ok(()) => loop {
                    match listener.recv().await {
                        Ok(_) => wake.notify_one(),
                        Err(err) => {
                            tracing::warn!(error = %err, "job notifications");
                            break;
                        }
                    }
                },
                Err(err) => tracing::warn!(error = %err, "listening for job notifications"),
            },
            Err(err) => tracing::warn!(error = %err, "connecting for job notifications"),
        }
        wake.notify_one();
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}
