//! `cargo xtask bench courses`: what learners do most, against a seeded tenant, next to what
//! PostgreSQL alone does for the same catalog work.
//!
//! Starts the release server with a fresh private cluster under `target/bench/courses/` (rate
//! limits off, warnings-only logs), seeds one tenant (1,000 published courses of 2 modules x 5
//! items, 10,000 learners, 100,000 enrollments) plus `--other-tenants` more of the same shape,
//! raises the cluster's `max_connections` so pgbench fits beside the server's pool, restarts,
//! signs in as many learners as there are connections and drives four scenarios with wrk:
//! catalog list, course detail, my learning and progress updates. Progress updates are checked
//! for lost updates against the database afterwards. pgbench then runs the catalog's
//! statements directly as `lms_app` with the same number of connections.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::cluster::Cluster;
use super::pgbench;
use super::scenarios::{self, Data, LearnerItem, Scenario};
use super::seed::{self, Tenant};
use super::server::{self, Launch, Server, http};
use super::wrk::{self, Report};
use crate::{command, output_text, root, succeeds};

const PASSWORD: &str = "bench-password-0123";
/// The request pool that served the most requests per second on 2 cores with 256 connections
/// (4, 8, 16 and 32 tried: 8 led in catalog list, course detail and my learning).
const DEFAULT_POOL_SIZE: u32 = 8;
/// The access tokens live 15 minutes; the load must end well before.
const TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);

pub struct Options {
    pub connections: u32,
    pub seconds: u32,
    pub other_tenants: u32,
    pub pool_size: u32,
}

impl Options {
    pub fn parse(args: &[&str]) -> Result<Self> {
        let mut options = Self {
            connections: 256,
            seconds: 15,
            other_tenants: 0,
            pool_size: DEFAULT_POOL_SIZE,
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let value = it.next().with_context(|| format!("{arg} needs a value"))?;
            match *arg {
                "--connections" => options.connections = value.parse().context("--connections")?,
                "--seconds" => options.seconds = value.parse().context("--seconds")?,
                "--other-tenants" => {
                    options.other_tenants = value.parse().context("--other-tenants")?;
                }
                "--pool-size" => options.pool_size = value.parse().context("--pool-size")?,
                other => bail!("unknown option {other}"),
            }
        }
        if !(2..=1000).contains(&options.connections) {
            bail!("--connections must be between 2 and 1000");
        }
        if options.seconds == 0 || options.pool_size == 0 {
            bail!("--seconds and --pool-size must be positive");
        }
        Ok(options)
    }
}

/// One scenario's figures.
struct Measured {
    scenario: Scenario,
    report: Report,
}

pub fn run(options: &Options) -> Result<()> {
    wrk::ensure_installed()?;
    if !succeeds(command("pgbench").arg("--version")) {
        bail!("pgbench not found (Debian: apt-get install postgresql-contrib or postgresql-15)");
    }
    server::build_release()?;
    let started = Instant::now();
    let data_dir = server::fresh_data_dir("courses")?;
    let work = root().join("target/bench/courses-run");
    if work.exists() {
        std::fs::remove_dir_all(&work)?;
    }
    std::fs::create_dir_all(&work)?;
    let log = root().join("target/bench/courses-server.log");
    let _ = std::fs::remove_file(&log);
    let launch = Launch {
        data_dir: &data_dir,
        demo_password: PASSWORD,
        pool_size: Some(options.pool_size),
        log: &log,
    };

    // First start: creates the cluster, migrates, seeds the demo tenant (whose password hash
    // the seeded learners share).
    let server = Server::start(&launch)?;
    let cluster = Cluster::read(&data_dir)?;
    let hash = seed::demo_password_hash(&cluster)?;
    let seeding = Instant::now();
    let tenant = seed::tenant(&cluster, &work, "bench", &hash, seed::FULL)?;
    for i in 0..options.other_tenants {
        seed::tenant(
            &cluster,
            &work,
            &format!("bench-{}", i + 2),
            &hash,
            seed::FULL,
        )?;
    }
    cluster.query("analyze")?;
    println!(
        "seeded {} tenant(s) of 1,000 courses, 10,000 learners and 100,000 enrollments in {:.0?}",
        1 + options.other_tenants,
        seeding.elapsed()
    );

    // pgbench's connections come on top of the server's pools (request pool, operator pool).
    let needed = options.connections + options.pool_size + 4.max(options.pool_size / 8) + 20;
    let max_connections: u32 = cluster.query("show max_connections")?.trim().parse()?;
    if needed > max_connections {
        cluster.query(&format!("alter system set max_connections = {needed}"))?;
    }
    // Restart so the setting applies; a restarted server also starts from the seeded state.
    drop(server);
    let server = Server::start(&launch)?;
    let cluster = Cluster::read(&data_dir)?;
    println!(
        "cluster max_connections {}, server pool {} connections",
        cluster.query("show max_connections")?.trim(),
        options.pool_size
    );

    let login_started = Instant::now();
    let tokens = seed::log_in(server.port, &tenant, PASSWORD, options.connections)?;
    println!(
        "signed in {} learners in {:.1?}",
        tokens.len(),
        login_started.elapsed()
    );
    let course_keys = course_keys(&cluster, &tenant)?;
    let items = learner_items(&cluster, &tenant, options.connections)?;
    let scripts = scenarios::write(
        &work,
        &Data {
            tenant_slug: &tenant.slug,
            tokens: &tokens,
            course_keys: &course_keys,
            items: &items,
        },
    )?;

    let mut measured = Vec::new();
    let mut progress = None;
    for (scenario, script) in &scripts {
        if login_started.elapsed() + Duration::from_secs(u64::from(options.seconds) + 30)
            > TOKEN_LIFETIME
        {
            bail!("the access tokens would expire during {}", scenario.name());
        }
        if *scenario == Scenario::Progress {
            let Some(before) = progress_probe(&server, &tenant, &tokens, &items, &cluster)? else {
                continue;
            };
            let report = load(&server, *scenario, script, options)?;
            progress = Some(check_progress(&cluster, &tenant, before, &report)?);
            measured.push(Measured {
                scenario: *scenario,
                report,
            });
        } else {
            // A short warm-up so every scenario is measured with warm caches and prepared
            // statements.
            load(
                &server,
                *scenario,
                script,
                &Options {
                    seconds: 2,
                    ..*options
                },
            )?;
            let report = load(&server, *scenario, script, options)?;
            measured.push(Measured {
                scenario: *scenario,
                report,
            });
        }
    }

    let users = learner_ids(&cluster, &tenant, options.connections.min(16))?;
    let ceiling = pgbench::run(
        &cluster,
        &work,
        &tenant.id,
        &users,
        options.connections,
        options.seconds,
    )?;
    drop(server);

    print_summary(options, &measured, &ceiling, progress.as_ref(), started);
    Ok(())
}

fn load(server: &Server, scenario: Scenario, script: &Path, options: &Options) -> Result<Report> {
    println!(
        "{}: {} connections for {} s",
        scenario.name(),
        options.connections,
        options.seconds
    );
    let threads = 2.min(options.connections);
    let text = output_text(command("wrk").args([
        &format!("-t{threads}"),
        &format!("-c{}", options.connections),
        &format!("-d{}s", options.seconds),
        "--timeout",
        "10s",
        "--latency",
        "-s",
        &script.to_string_lossy(),
        &server.url(scenario.path()),
        "--",
        &threads.to_string(),
    ]))?;
    let report = Report::parse(text)?;
    println!(
        "   {:.1} req/s, p50 {}, p99 {}, non-2xx {}",
        report.requests_per_second,
        report.p50,
        report.p99,
        report.value("non2xx").unwrap_or("?")
    );
    Ok(report)
}

/// Every course of the tenant, alternately by id and by slug, in random order.
fn course_keys(cluster: &Cluster, tenant: &Tenant) -> Result<Vec<String>> {
    let out = cluster.query(&format!(
        "select case when row_number() over () % 2 = 0 then id::text else slug end \
         from (select id, slug from courses where tenant_id = '{}' order by random()) c",
        tenant.id
    ))?;
    Ok(out.lines().map(str::to_owned).collect())
}

/// The content items of every enrolled course of learners 1..=count (learner n at index n - 1).
/// Quizzes and assignments are left out: they complete by being passed, never by a report.
fn learner_items(cluster: &Cluster, tenant: &Tenant, count: u32) -> Result<Vec<LearnerItem>> {
    let out = cluster.query(&format!(
        "select substring(u.email from '^learner([0-9]+)@')::int, e.course_id, i.id, \
                i.kind = 'video' \
         from users u \
         join enrollments e on e.tenant_id = u.tenant_id and e.user_id = u.id \
         join course_items i on i.tenant_id = e.tenant_id and i.course_id = e.course_id \
         where u.tenant_id = '{0}' and i.kind not in ('quiz', 'assignment') \
           and u.email in (select 'learner' || n || '@{1}.example' from generate_series(1, {count}) n)",
        tenant.id, tenant.slug
    ))?;
    out.lines()
        .map(|line| {
            let fields: Vec<&str> = line.split('|').collect();
            let [n, course, item, video] = fields.as_slice() else {
                bail!("unexpected row {line:?}");
            };
            let n: usize = n.parse()?;
            Ok(LearnerItem {
                learner: n - 1,
                course: (*course).to_owned(),
                item: (*item).to_owned(),
                video: *video == "t",
            })
        })
        .collect()
}

fn learner_ids(cluster: &Cluster, tenant: &Tenant, count: u32) -> Result<Vec<String>> {
    let out = cluster.query(&format!(
        "select id from users where tenant_id = '{0}' \
         and email in (select 'learner' || n || '@{1}.example' from generate_series(1, {count}) n)",
        tenant.id, tenant.slug
    ))?;
    Ok(out.lines().map(str::to_owned).collect())
}

/// The total time stored for the tenant's items, or `None` while the server has no progress.
fn stored_seconds(cluster: &Cluster, tenant: &Tenant) -> Result<Option<i64>> {
    let exists = cluster.query("select to_regclass('item_progress') is not null")?;
    if exists.trim() != "t" {
        return Ok(None);
    }
    let sum = cluster.query(&format!(
        "select coalesce(sum(time_spent_seconds), 0) from item_progress where tenant_id = '{}'",
        tenant.id
    ))?;
    Ok(Some(
        sum.trim().parse().context("sum of time_spent_seconds")?,
    ))
}

/// Sends one progress report; when the endpoint exists, returns the stored total afterwards
/// (the baseline of the lost-update check). `None`: the server has no progress endpoint yet.
fn progress_probe(
    server: &Server,
    tenant: &Tenant,
    tokens: &[String],
    items: &[LearnerItem],
    cluster: &Cluster,
) -> Result<Option<i64>> {
    let item = items
        .iter()
        .find(|i| i.learner == 0)
        .context("learner 1 has no items")?;
    let body = format!(
        "{{\"session\":\"00000000-0000-4000-8000-000000000001\",\"time_spent_seconds\":1,{}\"complete\":false}}",
        if item.video {
            "\"position_seconds\":1,"
        } else {
            ""
        }
    );
    let token = format!("Bearer {}", tokens.first().context("no tokens")?);
    let (status, answer) = http(
        server.port,
        "PUT",
        &format!(
            "/api/v1/courses/{}/items/{}/progress",
            item.course, item.item
        ),
        &[
            ("Authorization", &token),
            ("X-Tenant", &tenant.slug),
            ("Content-Type", "application/json"),
        ],
        &body,
    )?;
    match status {
        200 => stored_seconds(cluster, tenant)?.map_or_else(
            || bail!("progress answered 200 but no item_progress table exists"),
            |s| Ok(Some(s)),
        ),
        404 | 405 => {
            println!(
                "progress update: the server has no progress endpoint yet ({status}); not run"
            );
            Ok(None)
        }
        _ => bail!("progress probe answered {status}: {answer}"),
    }
}

/// The outcome of the lost-update check.
struct ProgressCheck {
    acknowledged: i64,
    stored: i64,
    /// Enrollments whose status disagrees with a recount of their items, plus the difference
    /// between completed enrollments and `course.completed` events.
    inconsistent: i64,
}

impl ProgressCheck {
    /// Acknowledged seconds the database does not have.
    fn lost(&self) -> i64 {
        (self.acknowledged - self.stored).max(0)
    }

    /// Stored seconds no answer acknowledged: requests still in flight when wrk stopped
    /// (at most one per connection), which the server applied after wrk stopped counting.
    fn unacknowledged(&self) -> i64 {
        (self.stored - self.acknowledged).max(0)
    }
}

fn check_progress(
    cluster: &Cluster,
    tenant: &Tenant,
    before: i64,
    report: &Report,
) -> Result<ProgressCheck> {
    let acknowledged = report
        .number("acknowledged_seconds")
        .context("the progress script reported no acknowledged_seconds")?;
    let after = stored_seconds(cluster, tenant)?.context("item_progress disappeared")?;
    // Recount every enrollment from its item rows: completion must match exactly, and every
    // completion must have produced exactly one event (the seed completes nothing).
    let inconsistent = cluster.query(&format!(
        "with counted as (
             select e.id, e.status, count(p.completed_at) as done, count(*) as total
             from enrollments e
             join course_items i on i.tenant_id = e.tenant_id and i.course_id = e.course_id
                 and i.required
             left join item_progress p on p.tenant_id = e.tenant_id and p.enrollment_id = e.id
                 and p.item_id = i.id
             where e.tenant_id = '{id}'
             group by e.id, e.status
         )
         select (select count(*) from counted
                 where (status = 'completed') <> (done = total))
              + abs((select count(*) from enrollments
                     where tenant_id = '{id}' and status = 'completed')
                  - (select count(*) from domain_events
                     where tenant_id = '{id}' and kind = 'course.completed'))",
        id = tenant.id
    ))?;
    Ok(ProgressCheck {
        acknowledged,
        stored: after - before,
        inconsistent: inconsistent
            .trim()
            .parse()
            .context("the consistency recount")?,
    })
}

fn print_summary(
    options: &Options,
    measured: &[Measured],
    ceiling: &pgbench::Outcome,
    progress: Option<&ProgressCheck>,
    started: Instant,
) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!();
    println!(
        "== courses benchmark ({cores} cores, {} connections, {} s per scenario, pool {}, {} other tenant(s), {:.0?} in all)",
        options.connections,
        options.seconds,
        options.pool_size,
        options.other_tenants,
        started.elapsed()
    );
    println!(
        "   {:<16} {:>10} {:>10} {:>10} {:>8} {:>8}",
        "scenario", "req/s", "p50", "p99", "non-2xx", "timeouts"
    );
    for m in measured {
        println!(
            "   {:<16} {:>10.1} {:>10} {:>10} {:>8} {:>8}",
            m.scenario.name(),
            m.report.requests_per_second,
            m.report.p50,
            m.report.p99,
            m.report.value("non2xx").unwrap_or("?"),
            m.report.value("timeouts").unwrap_or("?"),
        );
        if let Some(sample) = m.report.value("sample") {
            println!("     first non-200: {sample}");
        }
    }
    println!(
        "   pgbench catalog  {:>10.1} tps, latency average {:.2} ms",
        ceiling.tps, ceiling.latency_ms
    );
    println!("     each transaction: {}", pgbench::DESCRIPTION);
    if let Some(p) = progress {
        println!(
            "   progress         acknowledged {} s, stored {} s",
            p.acknowledged, p.stored
        );
        println!(
            "   completion       {} enrollment(s) or event(s) disagree with a recount",
            p.inconsistent
        );
        println!(
            "   lost updates: {} s of acknowledged time missing; {} s stored from requests in \
             flight when wrk stopped",
            p.lost(),
            p.unacknowledged()
        );
    }

    let catalog = measured
        .iter()
        .find(|m| m.scenario == Scenario::CatalogList);
    let ratio = catalog.map(|c| c.report.requests_per_second / ceiling.tps);
    println!();
    println!("   {:<58} {:<28} verdict", "target", "measured");
    if let Some((c, ratio)) = catalog.zip(ratio) {
        let p99 = c.report.p99_ms();
        let met = ratio >= 0.6 && p99.is_some_and(|p| p <= 25.0) && options.connections >= 256;
        println!(
            "   {:<58} {:<28} {}",
            "catalog list >= 60% of pgbench, p99 <= 25 ms at 256 conns",
            format!("{:.0}% of pgbench, p99 {}", ratio * 100.0, c.report.p99),
            verdict(met)
        );
    }
    let prog = measured.iter().find(|m| m.scenario == Scenario::Progress);
    match (prog, progress) {
        (Some(m), Some(p)) => {
            let met = m.report.requests_per_second >= 3000.0
                && p.lost() == 0
                && p.inconsistent == 0
                && m.report.number("failed") == Some(0);
            println!(
                "   {:<58} {:<28} {}",
                "progress >= 3,000/s, zero lost updates",
                format!(
                    "{:.0}/s, lost {}, failed {}",
                    m.report.requests_per_second,
                    p.lost(),
                    m.report.value("failed").unwrap_or("?")
                ),
                verdict(met)
            );
        }
        _ => println!(
            "   {:<58} {:<28} NOT RUN",
            "progress >= 3,000/s, zero lost updates", "no progress endpoint"
        ),
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "MET" } else { "MISSED" }
}
