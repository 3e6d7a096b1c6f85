//! The job queue's figures (`cargo xtask bench jobs` builds and runs this in release mode):
//!
//! 1. enqueue rate, batched (1,000 jobs per transaction) and one job per transaction;
//! 2. throughput: a backlog of no-op jobs spread over tenants, completed by 2 workers;
//! 3. enqueue-to-start latency at light load (one job every few milliseconds, each in its own
//!    transaction), p50 and p99;
//! 4. webhook deliveries per second: events fanned out to one endpoint per tenant, signed and
//!    POSTed by 2 workers running the platform's own `webhook.deliver` to a receiver on loopback.
//!
//! Runs against a fresh private PostgreSQL cluster under `target/bench/jobs/`.

#![allow(clippy::print_stdout)] // a benchmark prints its figures

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use lms_platform::config::Config;
use lms_platform::jobs::{self, JobContext, JobKind, Options, Registry, Worker, WorkerConfig};
use lms_platform::operator::{CreateTenant, create_tenant};
use lms_platform::startup::Application;
use lms_tenants::{Slug, TenantId};
use serde::{Deserialize, Serialize};

const TARGET_PER_SECOND: f64 = 5_000.0;
const TARGET_P99_MS: f64 = 50.0;

#[derive(Serialize, Deserialize)]
struct Noop;

impl JobKind for Noop {
    const KIND: &'static str = "bench.noop";
}

/// Carries its enqueue time (microseconds since the epoch).
#[derive(Serialize, Deserialize)]
struct Timed {
    sent_us: u64,
}

impl JobKind for Timed {
    const KIND: &'static str = "bench.timed";
}

struct Args {
    jobs: usize,
    tenants: usize,
    concurrency: usize,
    samples: usize,
    deliveries: usize,
}

fn args() -> Result<Args> {
    let mut args = Args {
        jobs: 100_000,
        tenants: 10,
        concurrency: 64,
        samples: 1_000,
        deliveries: 10_000,
    };
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let mut it = raw.iter();
    while let Some(flag) = it.next() {
        let value: usize = it
            .next()
            .with_context(|| format!("{flag} needs a value"))?
            .parse()
            .with_context(|| format!("{flag} needs a number"))?;
        match flag.as_str() {
            "--jobs" => args.jobs = value,
            "--tenants" => args.tenants = value.max(1),
            "--concurrency" => args.concurrency = value.max(1),
            "--samples" => args.samples = value.max(1),
            "--deliveries" => args.deliveries = value.max(1),
            other => anyhow::bail!("unknown option {other}"),
        }
    }
    Ok(args)
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = args()?;
    let data_dir = std::path::PathBuf::from("target/bench/jobs");
    if data_dir.exists() {
        std::fs::remove_dir_all(&data_dir).context("clearing target/bench/jobs")?;
    }
    let mut config = Config::from_env()?;
    config.bind = "127.0.0.1:0".parse()?;
    config.database.owner_url = None;
    config.data_dir = data_dir;
    config.jobs.in_process = false;
    config.plugins.artifacts_dir = None;
    config.outbound_allow = lms_platform::outbound::AllowList::parse("127.0.0.1")?;
    let app = Application::build(config).await?;
    let state = app.state().clone();
    let outcome = run(&state, &args).await;
    app.run_until_stopped(async {}).await.ok();
    outcome
}

async fn run(state: &lms_platform::state::AppState, args: &Args) -> Result<()> {
    let mut tenants = Vec::new();
    for i in 0..args.tenants {
        let tenant = create_tenant(
            state,
            None,
            CreateTenant {
                slug: Slug::parse(&format!("bench-{i}")).map_err(|e| anyhow::anyhow!("{e:?}"))?,
                display_name: format!("Bench {i}"),
                branding: Default::default(),
                settings: Default::default(),
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        tenants.push(tenant.id);
    }
    println!(
        "job queue: {} no-op jobs over {} tenants, 2 workers of {} concurrent jobs",
        args.jobs, args.tenants, args.concurrency
    );

    // 1. Enqueue rates.
    let started = Instant::now();
    let batch = 1_000;
    let mut queued = 0;
    while queued < args.jobs {
        let n = batch.min(args.jobs - queued);
        let tenant = tenants[(queued / batch) % tenants.len()];
        let mut tx = state.db.begin(tenant).await?;
        let noops: Vec<Noop> = (0..n).map(|_| Noop).collect();
        jobs::enqueue_many(&mut tx, &noops).await?;
        tx.commit().await?;
        queued += n;
    }
    let batched = args.jobs as f64 / started.elapsed().as_secs_f64();
    println!("  enqueue, 1,000 per transaction:   {batched:>9.0} jobs/s");
    let single = single_enqueue_rate(state, &tenants, 5_000).await?;
    println!("  enqueue, 1 per transaction (8 tasks): {single:>5.0} jobs/s");
    let backlog = args.jobs + 5_000;

    // 2. Throughput.
    let done = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&done);
    let registry = move || {
        let counted = Arc::clone(&counted);
        Registry::new().handle(move |ctx: JobContext, _: Noop| {
            counted.fetch_add(1, Ordering::Relaxed);
            std::future::ready(Ok(ctx.done()))
        })
    };
    let worker_config = WorkerConfig {
        concurrency: args.concurrency,
        ..WorkerConfig::default()
    };
    let started = Instant::now();
    let (stop, workers) = spawn_workers(state, [registry(), registry()], &worker_config);
    let pool = state.operator_db.pool();
    // Whether any job is left, through the partial indexes of queued and running jobs: counting
    // the whole table every few milliseconds would take the CPU the workers are measured on.
    loop {
        let left: bool = sqlx::query_scalar(
            "select exists (select 1 from jobs where state = 'queued')
                 or exists (select 1 from jobs where state = 'running')",
        )
        .fetch_one(pool)
        .await?;
        if !left {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    stop_workers(stop, workers).await;
    let rate = backlog as f64 / elapsed;
    println!(
        "  completed {backlog} in {elapsed:.2} s:       {rate:>9.0} jobs/s (target >= {TARGET_PER_SECOND:.0}) {}",
        verdict(rate >= TARGET_PER_SECOND)
    );

    // 3. Latency at light load.
    let samples = Arc::new(Mutex::new(Vec::<f64>::with_capacity(args.samples)));
    let recorded = Arc::clone(&samples);
    let timed = move || {
        let recorded = Arc::clone(&recorded);
        Registry::new().handle(move |ctx: JobContext, job: Timed| {
            let waited = now_us().saturating_sub(job.sent_us) as f64 / 1000.0;
            recorded.lock().map(|mut s| s.push(waited)).ok();
            std::future::ready(Ok(ctx.done()))
        })
    };
    let (stop, workers) = spawn_workers(state, [timed(), timed()], &worker_config);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut tick = tokio::time::interval(Duration::from_millis(5));
    for i in 0..args.samples {
        tick.tick().await;
        let mut tx = state.db.begin(tenants[i % tenants.len()]).await?;
        jobs::enqueue(&mut tx, &Timed { sent_us: now_us() }, Options::default()).await?;
        tx.commit().await?;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while samples.lock().map(|s| s.len()).unwrap_or(0) < args.samples && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop_workers(stop, workers).await;
    let mut sorted = samples.lock().map(|s| s.clone()).unwrap_or_default();
    sorted.sort_by(f64::total_cmp);
    let (p50, p99) = (percentile(&sorted, 50.0), percentile(&sorted, 99.0));
    println!(
        "  enqueue-to-start at 200 jobs/s ({} samples): p50 {p50:.1} ms, p99 {p99:.1} ms (target p99 <= {TARGET_P99_MS:.0} ms) {}",
        sorted.len(),
        verdict(p99 <= TARGET_P99_MS)
    );

    // 4. Webhook deliveries.
    webhook_deliveries(state, &tenants, args.deliveries, &worker_config).await
}

/// Events fanned out by the trigger to one endpoint per tenant, delivered by the platform's own
/// job code to an in-process receiver on loopback.
async fn webhook_deliveries(
    state: &lms_platform::state::AppState,
    tenants: &[TenantId],
    events: usize,
    worker_config: &WorkerConfig,
) -> Result<()> {
    let received = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&received);
    let receiver = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            counter.fetch_add(1, Ordering::Relaxed);
            std::future::ready("ok")
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, receiver).await.ok() });
    let pool = state.operator_db.pool();
    for tenant in tenants {
        sqlx::query(
            "insert into webhook_endpoints (tenant_id, id, url, secret) values ($1, $2, $3, $4)",
        )
        .bind(tenant)
        .bind(uuid::Uuid::now_v7())
        .bind(&url)
        .bind(lms_platform::webhooks::secret::generate())
        .execute(pool)
        .await?;
    }
    let per_tenant = events.div_ceil(tenants.len());
    // The events are written as requests write them: in each tenant's transaction, where the
    // trigger fans them out.
    for tenant in tenants {
        let mut tx = state.db.begin(*tenant).await?;
        sqlx::query(
            "insert into domain_events (tenant_id, id, kind, subject_id, payload)
             select $1, lms_uuid_v7(), 'user.created', gen_random_uuid(),
                    jsonb_build_object('n', n) from generate_series(1, $2) as n",
        )
        .bind(tenant)
        .bind(i32::try_from(per_tenant)?)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    }
    let total = per_tenant * tenants.len();
    let started = Instant::now();
    let (stop, workers) = spawn_workers(state, [jobs::registry(), jobs::registry()], worker_config);
    loop {
        let left: i64 =
            sqlx::query_scalar("select count(*) from webhook_deliveries where state = 'pending'")
                .fetch_one(pool)
                .await?;
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    stop_workers(stop, workers).await;
    let succeeded: i64 =
        sqlx::query_scalar("select count(*) from webhook_deliveries where state = 'succeeded'")
            .fetch_one(pool)
            .await?;
    println!(
        "  webhook deliveries, {total} signed POSTs to loopback: {:.0} deliveries/s ({succeeded} succeeded, {} received, in {elapsed:.2} s)",
        total as f64 / elapsed,
        received.load(Ordering::Relaxed)
    );
    Ok(())
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

async fn single_enqueue_rate(
    state: &lms_platform::state::AppState,
    tenants: &[TenantId],
    total: usize,
) -> Result<f64> {
    let started = Instant::now();
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let state = state.clone();
            let tenant = tenants[t % tenants.len()];
            tokio::spawn(async move {
                for _ in 0..total / 8 {
                    let mut tx = state.db.begin(tenant).await?;
                    jobs::enqueue(&mut tx, &Noop, Options::default()).await?;
                    tx.commit().await?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    Ok((total / 8 * 8) as f64 / started.elapsed().as_secs_f64())
}

type Stops = Vec<tokio::sync::oneshot::Sender<()>>;

fn spawn_workers(
    state: &lms_platform::state::AppState,
    registries: [Registry; 2],
    config: &WorkerConfig,
) -> (Stops, Vec<tokio::task::JoinHandle<()>>) {
    let mut stops = Vec::new();
    let mut handles = Vec::new();
    for registry in registries {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let worker = Worker::new(state.clone(), registry, config.clone());
        handles.push(tokio::spawn(worker.run(async {
            stopped.await.ok();
        })));
        stops.push(stop);
    }
    (stops, handles)
}

async fn stop_workers(stops: Stops, handles: Vec<tokio::task::JoinHandle<()>>) {
    for stop in stops {
        stop.send(()).ok();
    }
    for handle in handles {
        handle.await.ok();
    }
}
