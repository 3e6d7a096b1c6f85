//! Durable jobs: enqueued with the change that causes them, run once in their tenant's context,
//! retried then dead, re-run by an admin, fair between tenants, and safe when a worker dies: a
//! killed worker's job runs again exactly once and its late completion is refused.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lms_platform::audit::{Audit, AuditActor};
use lms_platform::jobs::queue::{self, Failure, Lease};
use lms_platform::jobs::{
    self, Finished, JobContext, JobError, JobId, JobKind, Options, Registry, Retry, Schedule,
    Worker, WorkerConfig,
};
use lms_platform::startup::Application;
use lms_tenants::TenantId;
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::oneshot;

use crate::helpers::{Call, TestApp, TestUser, config_for};

/// Retries quick enough for a test.
const QUICK: Retry = Retry {
    max_attempts: 3,
    base: Duration::from_millis(10),
    cap: Duration::from_millis(50),
};

/// Records its effect (an audit event) in the transaction that completes it.
#[derive(Debug, Serialize, Deserialize)]
struct Effect {
    label: String,
}

impl JobKind for Effect {
    const KIND: &'static str = "test.effect";
    const RETRY: Retry = QUICK;
}

async fn record_effect(ctx: JobContext, job: Effect) -> Result<Finished, JobError> {
    let mut tx = ctx.begin().await?;
    let (role, tenant): (String, String) =
        sqlx::query_as("select current_user::text, current_setting('app.tenant_id', true)")
            .fetch_one(&mut *tx)
            .await?;
    Audit::new(AuditActor::Anonymous, "test.effect", "job", ctx.id)
        .details(
            json!({ "label": job.label, "role": role, "tenant": tenant, "attempt": ctx.attempt }),
        )
        .record(&mut tx)
        .await?;
    ctx.finish(tx).await
}

/// A worker in the background; stopped (gracefully) by [`Running::stop`] or dropped with the test.
struct Running {
    stop: Option<oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            stop.send(()).ok();
        }
        (&mut self.handle).await.expect("worker task");
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.stop.is_some() {
            self.handle.abort();
        }
    }
}

fn config(concurrency: usize) -> WorkerConfig {
    WorkerConfig {
        concurrency,
        lease: Duration::from_secs(30),
        poll: Duration::from_millis(100),
        grace: Duration::from_secs(5),
    }
}

fn start(worker: Worker) -> Running {
    let (stop, stopped) = oneshot::channel::<()>();
    let handle = tokio::spawn(worker.run(async {
        stopped.await.ok();
    }));
    Running {
        stop: Some(stop),
        handle,
    }
}

/// A server whose own worker is off, so each test runs the worker it needs.
async fn app_without_worker() -> TestApp {
    TestApp::spawn_with(|c| c.jobs.in_process = false).await
}

fn tenant_id(id: &str) -> TenantId {
    TenantId::from_uuid(id.parse().expect("tenant id"))
}

async fn enqueue<J: JobKind>(
    app: &TestApp,
    tenant: &str,
    job: &J,
    options: Options,
) -> Option<JobId> {
    let mut tx = app.state.db.begin(tenant_id(tenant)).await.expect("begin");
    let id = jobs::enqueue(&mut tx, job, options).await.expect("enqueue");
    tx.commit().await.expect("commit");
    id
}

#[derive(Debug, sqlx::FromRow)]
struct Row {
    state: String,
    attempts: i32,
    fence: i64,
    last_error: Option<String>,
    lease_owner: Option<String>,
}

async fn row(app: &TestApp, id: JobId) -> Row {
    sqlx::query_as("select state, attempts, fence, last_error, lease_owner from jobs where id = $1")
        .bind(id.0)
        .fetch_one(&mut app.db.superuser().await)
        .await
        .expect("job row")
}

/// Waits up to `secs` seconds for the job to reach `state`.
async fn wait_for(app: &TestApp, id: JobId, state: &str, secs: u64) -> Row {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let row = row(app, id).await;
        if row.state == state {
            return row;
        }
        assert!(
            Instant::now() < deadline,
            "job never became {state}: {row:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn effects(app: &TestApp, action: &str, label: &str) -> Vec<serde_json::Value> {
    sqlx::query_scalar(
        "select details from audit_events where action = $1 and details->>'label' = $2 order by id",
    )
    .bind(action)
    .bind(label)
    .fetch_all(&mut app.db.superuser().await)
    .await
    .expect("effects")
}

#[tokio::test]
async fn a_job_runs_once_as_the_app_role_in_its_tenant_and_only_if_its_transaction_committed() {
    let app = app_without_worker().await;
    let acme = app.seed_tenant("acme").await;
    let worker = start(Worker::new(
        app.state.clone(),
        Registry::new().handle(record_effect),
        config(4),
    ));

    let id = enqueue(
        &app,
        &acme.id,
        &Effect {
            label: "once".into(),
        },
        Options::default(),
    )
    .await
    .expect("queued");
    let done = wait_for(&app, id, "succeeded", 10).await;
    assert_eq!((done.attempts, done.lease_owner), (1, None));
    let runs = effects(&app, "test.effect", "once").await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["role"], "lms_app");
    assert_eq!(runs[0]["tenant"], acme.id.as_str());

    // A job queued in a transaction that rolls back never exists.
    let mut tx = app
        .state
        .db
        .begin(tenant_id(&acme.id))
        .await
        .expect("begin");
    jobs::enqueue(
        &mut tx,
        &Effect {
            label: "rolled back".into(),
        },
        Options::default(),
    )
    .await
    .expect("enqueue");
    drop(tx);
    // A unique key makes the second enqueue a no-op, while the first is kept.
    let unique = Effect {
        label: "unique".into(),
    };
    let first = enqueue(&app, &acme.id, &unique, Options::unique("k1")).await;
    let second = enqueue(&app, &acme.id, &unique, Options::unique("k1")).await;
    assert!(first.is_some());
    assert_eq!(second, None);
    wait_for(&app, first.expect("first"), "succeeded", 10).await;
    worker.stop().await;
    assert_eq!(effects(&app, "test.effect", "unique").await.len(), 1);
    let rolled_back: i64 =
        sqlx::query_scalar("select count(*) from jobs where payload->>'label' = 'rolled back'")
            .fetch_one(&mut app.db.superuser().await)
            .await
            .expect("count");
    assert_eq!(rolled_back, 0);
    assert!(effects(&app, "test.effect", "rolled back").await.is_empty());
}

/// `call` on tenant `acme` with `user`'s access token.
fn as_user<'a>(call: Call<'a>, user: &TestUser) -> Call<'a> {
    call.tenant("acme").bearer(&user.access_token)
}

/// Fails while the shared switch is off.
#[derive(Debug, Serialize, Deserialize)]
struct Flaky {
    label: String,
}

impl JobKind for Flaky {
    const KIND: &'static str = "test.flaky";
    const RETRY: Retry = QUICK;
}

fn flaky_registry(healthy: &Arc<AtomicBool>) -> Registry {
    let healthy = Arc::clone(healthy);
    Registry::new().handle(move |ctx: JobContext, job: Flaky| {
        let healthy = healthy.load(Ordering::SeqCst);
        async move {
            if !healthy {
                return Err(JobError::Retry(anyhow::anyhow!("the receiver is down")));
            }
            record_effect(ctx, Effect { label: job.label }).await
        }
    })
}

#[tokio::test]
async fn failures_retry_then_die_and_an_admin_of_the_tenant_reruns_them() {
    let app = app_without_worker().await;
    let acme = app.seed_tenant("acme").await;
    let healthy = Arc::new(AtomicBool::new(false));
    let _worker = start(Worker::new(
        app.state.clone(),
        flaky_registry(&healthy),
        config(2),
    ));

    let id = enqueue(
        &app,
        &acme.id,
        &Flaky {
            label: "flaky".into(),
        },
        Options::default(),
    )
    .await
    .expect("queued");
    let dead = wait_for(&app, id, "dead", 10).await;
    assert_eq!(dead.attempts, QUICK.max_attempts);
    assert_eq!(dead.last_error.as_deref(), Some("the receiver is down"));

    // The tenant's admin finds it among the dead jobs, without its payload.
    let listed = as_user(app.get("/api/v1/jobs?state=dead"), &acme.admin)
        .send()
        .await;
    listed.assert_status(StatusCode::OK);
    let items = listed.json()["items"].as_array().cloned().expect("items");
    assert_eq!(items.len(), 1, "{}", listed.text);
    assert_eq!(items[0]["id"], id.to_string());
    assert_eq!(items[0]["kind"], "test.flaky");
    assert_eq!(items[0]["attempts"], 3);
    assert!(items[0].get("payload").is_none(), "{}", listed.text);
    assert!(
        !listed.text.contains("\"flaky\""),
        "payload leaked: {}",
        listed.text
    );
    as_user(app.get(&format!("/api/v1/jobs/{id}")), &acme.admin)
        .send()
        .await
        .assert_status(StatusCode::OK);
    as_user(app.get("/api/v1/jobs?state=nonsense"), &acme.admin)
        .send()
        .await
        .assert_status(StatusCode::BAD_REQUEST);

    // A learner may not see or re-run jobs.
    as_user(app.get("/api/v1/jobs"), &acme.learner)
        .send()
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    as_user(app.post(&format!("/api/v1/jobs/{id}/rerun")), &acme.learner)
        .send()
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");

    // Re-run once the far side is back: it runs from its first attempt and succeeds.
    healthy.store(true, Ordering::SeqCst);
    let rerun = as_user(app.post(&format!("/api/v1/jobs/{id}/rerun")), &acme.admin)
        .send()
        .await;
    rerun.assert_status(StatusCode::OK);
    assert_eq!(rerun.json()["attempts"], 0, "{}", rerun.text);
    let done = wait_for(&app, id, "succeeded", 10).await;
    assert_eq!(done.attempts, 1);
    assert_eq!(effects(&app, "test.effect", "flaky").await.len(), 1);
    as_user(app.post(&format!("/api/v1/jobs/{id}/rerun")), &acme.admin)
        .send()
        .await
        .assert_problem(StatusCode::CONFLICT, "job_not_dead");
    as_user(
        app.post(&format!("/api/v1/jobs/{}/rerun", uuid::Uuid::now_v7())),
        &acme.admin,
    )
    .send()
    .await
    .assert_problem(StatusCode::NOT_FOUND, "not_found");
    let audit = as_user(
        app.get("/api/v1/audit-events?action=job.rerun"),
        &acme.admin,
    )
    .send()
    .await;
    assert_eq!(
        audit.json()["items"].as_array().map(Vec::len),
        Some(1),
        "{}",
        audit.text
    );

    // The operator sees every tenant's dead jobs and re-runs them too.
    healthy.store(false, Ordering::SeqCst);
    let other = enqueue(
        &app,
        &acme.id,
        &Flaky {
            label: "operator".into(),
        },
        Options::default(),
    )
    .await
    .expect("queued");
    wait_for(&app, other, "dead", 10).await;
    let all = app
        .get("/api/v1/operator/jobs?state=dead")
        .operator()
        .send()
        .await;
    all.assert_status(StatusCode::OK);
    assert!(all.text.contains(&other.to_string()), "{}", all.text);
    app.get(&format!("/api/v1/operator/jobs/{}/{other}", acme.id))
        .operator()
        .send()
        .await
        .assert_status(StatusCode::OK);
    healthy.store(true, Ordering::SeqCst);
    app.post(&format!("/api/v1/operator/jobs/{}/{other}/rerun", acme.id))
        .operator()
        .send()
        .await
        .assert_status(StatusCode::OK);
    wait_for(&app, other, "succeeded", 10).await;
    // A tenant admin's token is not the operator credential.
    app.get("/api/v1/operator/jobs")
        .bearer(&acme.admin.access_token)
        .send()
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
}

#[derive(Debug, Serialize, Deserialize)]
struct Doomed {
    how: String,
}

impl JobKind for Doomed {
    const KIND: &'static str = "test.doomed";
    const RETRY: Retry = Retry {
        max_attempts: 2,
        ..QUICK
    };
    const TIMEOUT: Duration = Duration::from_millis(300);
}

async fn doomed(_: JobContext, job: Doomed) -> Result<Finished, JobError> {
    match job.how.as_str() {
        "fatal" => Err(JobError::Fatal(anyhow::anyhow!("no such recipient"))),
        "panic" => panic!("the code is wrong"),
        _ => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Err(JobError::Fatal(anyhow::anyhow!("unreachable")))
        }
    }
}

#[tokio::test]
async fn fatal_errors_die_at_once_while_panics_timeouts_and_bad_payloads_are_failures() {
    let app = app_without_worker().await;
    let acme = app.seed_tenant("acme").await;
    let _worker = start(Worker::new(
        app.state.clone(),
        Registry::new().handle(doomed),
        config(4),
    ));
    let queue_one = |how: &'static str| {
        let app = &app;
        let tenant = acme.id.clone();
        async move {
            enqueue(
                app,
                &tenant,
                &Doomed { how: how.into() },
                Options::default(),
            )
            .await
            .expect("queued")
        }
    };
    let fatal = queue_one("fatal").await;
    let panics = queue_one("panic").await;
    let slow = queue_one("slow").await;

    let row = wait_for(&app, fatal, "dead", 10).await;
    assert_eq!(
        (row.attempts, row.last_error.as_deref()),
        (1, Some("no such recipient"))
    );
    let row = wait_for(&app, panics, "dead", 10).await;
    assert_eq!(row.attempts, 2);
    assert!(
        row.last_error
            .as_deref()
            .is_some_and(|e| e.contains("panicked: the code is wrong")),
        "{row:?}"
    );
    let row = wait_for(&app, slow, "dead", 10).await;
    assert_eq!(row.attempts, 2);
    assert!(
        row.last_error
            .as_deref()
            .is_some_and(|e| e.contains("took longer than")),
        "{row:?}"
    );

    // A payload the kind cannot read is dead at once, not retried.
    let id = uuid::Uuid::now_v7();
    sqlx::query(
        "insert into jobs (tenant_id, id, kind, payload, max_attempts) values ($1::uuid, $2, 'test.doomed', '{\"nope\": 1}', 5)",
    )
    .bind(&acme.id)
    .bind(id)
    .execute(&mut app.db.superuser().await)
    .await
    .expect("insert");
    let row = wait_for(&app, JobId(id), "dead", 10).await;
    assert_eq!(row.attempts, 1);
    assert!(
        row.last_error
            .as_deref()
            .is_some_and(|e| e.contains("payload is not a test.doomed")),
        "{row:?}"
    );
}

/// Notes which tenant's job started, in order.
#[derive(Debug, Serialize, Deserialize)]
struct Tick;

impl JobKind for Tick {
    const KIND: &'static str = "test.tick";
}

#[tokio::test]
async fn a_tenants_backlog_does_not_starve_another_tenants_next_job() {
    let app = app_without_worker().await;
    let busy = app.seed_tenant("busy").await;
    let quiet = app.seed_tenant("quiet").await;
    let mut tx = app
        .state
        .db
        .begin(tenant_id(&busy.id))
        .await
        .expect("begin");
    let backlog: Vec<Tick> = (0..5000).map(|_| Tick).collect();
    jobs::enqueue_many(&mut tx, &backlog)
        .await
        .expect("backlog");
    tx.commit().await.expect("commit");
    let quiet_job = enqueue(&app, &quiet.id, &Tick, Options::default())
        .await
        .expect("queued");

    let order = Arc::new(Mutex::new(Vec::<TenantId>::new()));
    let seen = Arc::clone(&order);
    let registry = Registry::new().handle(move |ctx: JobContext, _: Tick| {
        seen.lock().expect("order").push(ctx.tenant);
        async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            Ok(ctx.done())
        }
    });
    let worker = start(Worker::new(app.state.clone(), registry, config(4)));
    wait_for(&app, quiet_job, "succeeded", 20).await;
    worker.stop().await;
    let order = order.lock().expect("order").clone();
    let position = order
        .iter()
        .position(|t| *t == tenant_id(&quiet.id))
        .expect("the quiet tenant's job ran");
    assert!(
        position < 4,
        "the quiet tenant's job started {position}th of {}",
        order.len()
    );
}

#[tokio::test]
async fn a_worker_that_lost_its_lease_cannot_overwrite_the_new_owners_outcome() {
    let app = app_without_worker().await;
    let acme = app.seed_tenant("acme").await;
    let id = enqueue(
        &app,
        &acme.id,
        &Effect {
            label: "fenced".into(),
        },
        Options::default(),
    )
    .await
    .expect("queued");
    let pool = app.state.operator_db.pool();
    let kinds = [Effect::KIND];

    let old = queue::claim(pool, "old", &kinds, 10, Duration::from_millis(500), None)
        .await
        .expect("claim");
    assert_eq!(old.len(), 1);
    let old: Lease = old[0].lease();
    // Nobody else may claim it while the lease holds.
    let none = queue::claim(pool, "new", &kinds, 10, Duration::from_secs(30), None)
        .await
        .expect("claim");
    assert!(none.is_empty());
    tokio::time::sleep(Duration::from_millis(700)).await;
    let mut conn = pool.acquire().await.expect("conn");
    assert_eq!(queue::rescue_expired(&mut conn).await.expect("rescue"), 1);
    let new = queue::claim(pool, "new", &kinds, 10, Duration::from_secs(30), None)
        .await
        .expect("claim");
    assert_eq!(new.len(), 1);
    let new = new[0].lease();
    assert_eq!((old.fence, new.fence), (1, 2));

    // The old owner's late completion or failure, however it comes, changes nothing.
    assert_eq!(queue::complete(pool, &[old]).await.expect("complete"), 0);
    assert!(
        queue::fail(pool, old, Failure::Fatal, "late")
            .await
            .expect("fail")
            .is_none()
    );
    let mut tx = app
        .state
        .db
        .begin(tenant_id(&acme.id))
        .await
        .expect("begin");
    assert!(!queue::complete_in(&mut tx, old).await.expect("complete_in"));
    drop(tx);
    let running = row(&app, id).await;
    assert_eq!(
        (running.state.as_str(), running.lease_owner.as_deref()),
        ("running", Some("new"))
    );

    assert_eq!(queue::complete(pool, &[new]).await.expect("complete"), 1);
    let done = row(&app, id).await;
    assert_eq!(
        (done.state.as_str(), done.attempts, done.fence),
        ("succeeded", 2, 2)
    );
}

/// Announces every run, holds its first run for ten minutes (long enough to be killed in), then
/// records its effect with its completion.
#[derive(Debug, Serialize, Deserialize)]
struct SlowEffect {
    label: String,
}

impl JobKind for SlowEffect {
    const KIND: &'static str = "test.slow_effect";
    const TIMEOUT: Duration = Duration::from_secs(900);
}

async fn slow_effect(ctx: JobContext, job: SlowEffect) -> Result<Finished, JobError> {
    let mut tx = ctx.begin().await?;
    Audit::new(AuditActor::Anonymous, "test.started", "job", ctx.id)
        .details(json!({ "label": job.label, "attempt": ctx.attempt }))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    if ctx.attempt == 1 {
        tokio::time::sleep(Duration::from_secs(600)).await;
    }
    record_effect(ctx, Effect { label: job.label }).await
}

/// Where the worker process to be killed finds its database.
const CHILD_DATABASE: &str = "LMS_TEST_JOBS_CHILD_DATABASE";
/// The child's lease: short, so the takeover comes soon after the kill.
const CHILD_LEASE: Duration = Duration::from_secs(2);

/// The worker process that the next test starts and kills; does nothing when run on its own.
#[tokio::test]
#[ignore = "the worker process a_killed_worker_s_job_runs_again_exactly_once starts and kills"]
async fn worker_process_to_be_killed() {
    let Ok(url) = std::env::var(CHILD_DATABASE) else {
        return;
    };
    lms_platform::telemetry::init(false);
    let dir = std::env::temp_dir().join(format!("lms-killed-worker-{}", std::process::id()));
    let mut settings = config_for(&url, dir);
    settings.jobs.in_process = false;
    let app = Application::build(settings)
        .await
        .expect("application builds");
    let worker = Worker::new(
        app.state().clone(),
        Registry::new().handle(slow_effect),
        WorkerConfig {
            lease: CHILD_LEASE,
            ..config(1)
        },
    );
    worker.run(std::future::pending()).await;
}

#[tokio::test]
async fn a_killed_workers_job_runs_again_exactly_once_and_its_late_completion_is_refused() {
    let app = app_without_worker().await;
    let acme = app.seed_tenant("acme").await;
    let id = enqueue(
        &app,
        &acme.id,
        &SlowEffect {
            label: "killed".into(),
        },
        Options::default(),
    )
    .await
    .expect("queued");

    let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "jobs::worker_process_to_be_killed",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_DATABASE, &app.db.owner_url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("worker process starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    while effects(&app, "test.started", "killed").await.is_empty() {
        assert!(
            Instant::now() < deadline,
            "the worker process never started the job"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().expect("kill -9");
    child.wait().expect("reaped");
    let held = row(&app, id).await;
    assert_eq!(
        (held.state.as_str(), held.attempts, held.fence),
        ("running", 1, 1)
    );
    let killed = Lease {
        tenant: tenant_id(&acme.id),
        job: id,
        fence: held.fence,
    };

    // Another worker takes it over once the lease expires (the rescue schedule every 5 s).
    let worker = start(
        Worker::new(
            app.state.clone(),
            Registry::new().handle(slow_effect),
            config(2),
        )
        .with_schedules(jobs::schedules()),
    );
    let done = wait_for(&app, id, "succeeded", 30).await;
    worker.stop().await;
    assert_eq!((done.attempts, done.fence), (2, 2));
    assert_eq!(effects(&app, "test.started", "killed").await.len(), 2);
    assert_eq!(
        effects(&app, "test.effect", "killed").await.len(),
        1,
        "the effect happened once"
    );

    // The killed worker's completion, arriving late, is refused by its fencing token.
    let pool = app.state.operator_db.pool();
    assert_eq!(queue::complete(pool, &[killed]).await.expect("complete"), 0);
    assert!(
        queue::fail(pool, killed, Failure::Retry(Duration::ZERO), "late")
            .await
            .expect("fail")
            .is_none()
    );
    let after = row(&app, id).await;
    assert_eq!(
        (after.state.as_str(), after.attempts, after.fence),
        ("succeeded", 2, 2)
    );
}

#[tokio::test]
async fn shutdown_lets_short_jobs_finish_and_gives_back_the_rest_uncounted() {
    let app = app_without_worker().await;
    let acme = app.seed_tenant("acme").await;
    let held = enqueue(
        &app,
        &acme.id,
        &SlowEffect {
            label: "held".into(),
        },
        Options::default(),
    )
    .await
    .expect("queued");
    let worker = start(Worker::new(
        app.state.clone(),
        Registry::new().handle(slow_effect),
        WorkerConfig {
            grace: Duration::from_millis(300),
            ..config(2)
        },
    ));
    wait_for(&app, held, "running", 10).await;
    worker.stop().await;
    let given_back = row(&app, held).await;
    assert_eq!(
        (
            given_back.state.as_str(),
            given_back.attempts,
            given_back.lease_owner
        ),
        ("queued", 0, None)
    );
}

static FIRINGS: AtomicUsize = AtomicUsize::new(0);

fn count_firing<'a>(
    _: &'a lms_platform::state::AppState,
    _: &'a mut sqlx::PgConnection,
) -> futures::future::BoxFuture<'a, anyhow::Result<()>> {
    FIRINGS.fetch_add(1, Ordering::SeqCst);
    Box::pin(async { Ok(()) })
}

#[tokio::test]
async fn a_due_schedule_fires_once_however_many_workers_look() {
    let app = app_without_worker().await;
    let schedules = || {
        vec![Schedule {
            name: "test.hourly",
            cron: "0 * * * *",
            task: count_firing,
        }]
    };
    jobs::register_schedules(&app.state, &schedules())
        .await
        .expect("register");
    sqlx::query("update job_schedules set next_run_at = now() - interval '1 minute' where name = 'test.hourly'")
        .execute(&mut app.db.superuser().await)
        .await
        .expect("due");
    let list = schedules();
    let (a, b, c) = tokio::join!(
        jobs::fire_due(&app.state, &list),
        jobs::fire_due(&app.state, &list),
        jobs::fire_due(&app.state, &list),
    );
    let fired = a.expect("a") + b.expect("b") + c.expect("c");
    assert_eq!((fired, FIRINGS.load(Ordering::SeqCst)), (1, 1));
    let next: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("select next_run_at from job_schedules where name = 'test.hourly'")
            .fetch_one(&mut app.db.superuser().await)
            .await
            .expect("next");
    assert!(next > chrono::Utc::now(), "{next}");
    assert_eq!(
        jobs::fire_due(&app.state, &schedules())
            .await
            .expect("again"),
        0
    );
}

/// Takes a little while, so that a restart finds jobs in flight.
#[derive(Debug, Serialize, Deserialize)]
struct Paced {
    label: String,
}

impl JobKind for Paced {
    const KIND: &'static str = "test.paced";
    const RETRY: Retry = Retry {
        max_attempts: 20,
        base: Duration::from_millis(100),
        cap: Duration::from_secs(1),
    };
}

async fn paced(ctx: JobContext, job: Paced) -> Result<Finished, JobError> {
    tokio::time::sleep(Duration::from_millis(20)).await;
    record_effect(ctx, Effect { label: job.label }).await
}

#[tokio::test]
async fn a_postgres_restart_while_jobs_run_loses_none_and_repeats_no_effect() {
    use futures::FutureExt;
    use lms_platform::pg_cluster::PrivateCluster;

    lms_platform::telemetry::init(false);
    let dir = std::env::temp_dir().join(format!("lms-restart-{}", uuid::Uuid::now_v7().simple()));
    let outcome = std::panic::AssertUnwindSafe(restart_while_jobs_run(&dir))
        .catch_unwind()
        .await;
    // Whatever happened, the cluster stops (`start` finds it running) and its folder goes.
    if let Ok(cluster) = PrivateCluster::start(&dir).await {
        cluster.stop().await.ok();
    }
    std::fs::remove_dir_all(&dir).ok();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

async fn restart_while_jobs_run(dir: &std::path::Path) {
    use lms_platform::pg_cluster::PrivateCluster;
    use secrecy::SecretString;

    let cluster = PrivateCluster::start(dir).await.expect("private cluster");
    let mut settings = config_for(&cluster.owner_url(), dir.join("app"));
    settings.database.app_password = Some(SecretString::from(cluster.app_password().to_owned()));
    settings.database.operator_password =
        Some(SecretString::from(cluster.operator_password().to_owned()));
    settings.jobs.in_process = false;
    let app = Application::build(settings)
        .await
        .expect("application builds");
    let state = app.state().clone();
    let tenant = lms_platform::operator::create_tenant(
        &state,
        None,
        lms_platform::operator::CreateTenant {
            slug: lms_tenants::Slug::parse("restart").expect("slug"),
            display_name: "Restart".into(),
            branding: Default::default(),
            settings: Default::default(),
        },
    )
    .await
    .expect("tenant")
    .id;
    const JOBS: i64 = 300;
    let mut tx = state.db.begin(tenant).await.expect("begin");
    let batch: Vec<Paced> = (0..JOBS)
        .map(|i| Paced {
            label: format!("p{i}"),
        })
        .collect();
    jobs::enqueue_many(&mut tx, &batch).await.expect("enqueue");
    tx.commit().await.expect("commit");

    let worker = start(
        Worker::new(
            state.clone(),
            Registry::new().handle(paced),
            WorkerConfig {
                lease: Duration::from_secs(3),
                ..config(8)
            },
        )
        .with_schedules(jobs::schedules()),
    );
    let count = |sql: &'static str| {
        let pool = state.operator_db.pool().clone();
        async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(&pool).await }
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while count("select count(*) from jobs where state = 'succeeded'")
        .await
        .unwrap_or(0)
        < 40
    {
        assert!(Instant::now() < deadline, "jobs never got going");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cluster.stop().await.expect("stop PostgreSQL");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let cluster = PrivateCluster::start(dir)
        .await
        .expect("restart PostgreSQL");

    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let done = count("select count(*) from jobs where state = 'succeeded'")
            .await
            .unwrap_or(0);
        if done == JOBS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {done} of {JOBS} jobs succeeded after the restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    worker.stop().await;
    let effects = count("select count(*) from audit_events where action = 'test.effect'")
        .await
        .expect("effects");
    let labels = count(
        "select count(distinct details->>'label') from audit_events where action = 'test.effect'",
    )
    .await
    .expect("labels");
    assert_eq!(
        (effects, labels),
        (JOBS, JOBS),
        "every job's effect exactly once"
    );
    drop(state);
    app.run_until_stopped(async {}).await.ok();
    cluster.stop().await.ok();
}

#[tokio::test]
async fn tenants_whose_jobs_all_wait_for_later_do_not_hold_up_a_due_job() {
    let app = app_without_worker().await;
    // More tenants with only future jobs than a claim has places, all before the one with work.
    let mut waiting = Vec::new();
    for i in 0..6 {
        waiting.push(
            app.create_tenant(&format!("later-{i}")).await["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    let busy = app.create_tenant("due-now").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let later = Options {
        run_at: Some(chrono::Utc::now() + chrono::Duration::hours(1)),
        ..Options::default()
    };
    for tenant in &waiting {
        enqueue(
            &app,
            tenant,
            &Effect {
                label: format!("later {tenant}"),
            },
            later.clone(),
        )
        .await
        .expect("queued");
    }
    let due = enqueue(
        &app,
        &busy,
        &Effect {
            label: "due".into(),
        },
        Options::default(),
    )
    .await
    .expect("queued");
    let _worker = start(Worker::new(
        app.state.clone(),
        Registry::new().handle(record_effect),
        config(2),
    ));
    wait_for(&app, due, "succeeded", 10).await;
    let still_waiting: i64 = sqlx::query_scalar("select count(*) from jobs where state = 'queued'")
        .fetch_one(&mut app.db.superuser().await)
        .await
        .expect("count");
    assert_eq!(still_waiting, 6, "jobs for later ran early");
}
