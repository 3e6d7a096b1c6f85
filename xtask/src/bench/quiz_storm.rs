//! `cargo xtask bench quiz-storm`: learners starting the same quiz at once, answering and
//! submitting it.
//!
//! Builds the release server and the load generator (`xtask/quiz-storm`, a workspace of its own
//! so that neither `cargo xtask test` nor CI compiles its HTTP client), starts the server with a
//! fresh private cluster under `target/bench/quiz-storm/`, seeds tenant `quiz` in SQL (one
//! published course, `--learners` learners enrolled in it, see `seed.sql`; unless
//! `--no-history`, last week's graded attempt of every learner at the course's other quiz, see
//! `quiz_history.sql`) and hands over to the generator: the course's owner writes the quiz through the API, every learner signs in, then
//! learner `i` arrives at `i × window / N`, starts an attempt, saves an answer to each of its 20
//! questions (pausing about `--think-ms` before each) and submits. Afterwards the database is checked as the cluster superuser: one
//! graded attempt per learner with 20 distinct questions, each answered and graded, and
//! everything the server acknowledged stored.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use super::cluster::Cluster;
use super::seed::{self, Shape, Tenant};
use super::server::{self, Launch, Server};
use crate::{cargo, command, root};

const PASSWORD: &str = "bench-password-0123";
const HISTORY_SQL: &str = include_str!("quiz_history.sql");
const SLUG: &str = "quiz";
/// Questions per attempt, as the generator writes the quiz.
const QUESTIONS: u32 = 20;
/// The targets.
const TARGET_START_P99_MS: f64 = 100.0;
const TARGET_SUBMIT_P99_MS: f64 = 200.0;

/// A learner's mean pause before each answer: 20 questions in about a minute, far quicker
/// than people answer, so the storm stays a storm. `--think-ms 0` sends every request as soon
/// as the previous one is answered, which measures the server's ceiling rather than learners.
const DEFAULT_THINK_MS: u32 = 3000;

pub struct Options {
    pub learners: u32,
    pub window_seconds: f64,
    pub think_ms: u32,
    pub connections: u32,
    /// `LMS_DB_POOL_SIZE`; `None` keeps the server's default.
    pub pool_size: Option<u32>,
    /// Seed last week's attempts at the course's other quiz first (so the attempt tables, and
    /// PostgreSQL's statistics of them, are not empty when the storm begins).
    pub history: bool,
}

impl Options {
    pub fn parse(args: &[&str]) -> Result<Self> {
        let mut options = Self {
            learners: 2000,
            window_seconds: 10.0,
            think_ms: DEFAULT_THINK_MS,
            connections: 256,
            pool_size: None,
            history: true,
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            if *arg == "--no-history" {
                options.history = false;
                continue;
            }
            let value = it.next().with_context(|| format!("{arg} needs a value"))?;
            match *arg {
                "--learners" => options.learners = value.parse().context("--learners")?,
                "--window-seconds" => {
                    options.window_seconds = value.parse().context("--window-seconds")?;
                }
                "--think-ms" => options.think_ms = value.parse().context("--think-ms")?,
                "--connections" => options.connections = value.parse().context("--connections")?,
                "--pool-size" => options.pool_size = Some(value.parse().context("--pool-size")?),
                other => bail!("unknown option {other}"),
            }
        }
        if !(1..=100_000).contains(&options.learners) {
            bail!("--learners must be between 1 and 100000");
        }
        if !(options.window_seconds.is_finite() && options.window_seconds >= 0.0) {
            bail!("--window-seconds must be a number of seconds");
        }
        if options.connections == 0 || options.pool_size == Some(0) {
            bail!("--connections and --pool-size must be positive");
        }
        Ok(options)
    }
}

pub fn run(options: &Options) -> Result<()> {
    server::build_release()?;
    let generator = build_generator()?;
    let started = Instant::now();
    let data_dir = server::fresh_data_dir("quiz-storm")?;
    let work = root().join("target/bench/quiz-storm-run");
    if work.exists() {
        std::fs::remove_dir_all(&work)?;
    }
    std::fs::create_dir_all(&work)?;
    let log = root().join("target/bench/quiz-storm-server.log");
    let _ = std::fs::remove_file(&log);
    let server = Server::start(&Launch {
        data_dir: &data_dir,
        demo_password: PASSWORD,
        pool_size: options.pool_size,
        log: &log,
    })?;
    let cluster = Cluster::read(&data_dir)?;

    // One published, non-sequential course of 2 modules x 5 items whose owner is instructor1;
    // every learner enrolled. The seeded learners share the demo password's hash.
    let seeding = Instant::now();
    let hash = seed::demo_password_hash(&cluster)?;
    let tenant = seed::tenant(
        &cluster,
        &work,
        SLUG,
        &hash,
        Shape {
            courses: 1,
            learners: options.learners,
            enrollments_per_learner: 1,
        },
    )?;
    let (course, item, other_item) = quiz_items(&cluster, &tenant)?;
    let history = if options.history {
        let attempts = seed_history(&cluster, &work, &tenant, &course, &other_item)?;
        format!(", {attempts} graded attempts at the other quiz last week")
    } else {
        ", no earlier attempts (--no-history)".to_owned()
    };
    if options.history {
        cluster.query("analyze")?;
    } else {
        // As on a new server: the quiz tables were never analyzed. (Analyzed while empty, they
        // would tell the planner they stay empty: a generic plan made then scans them
        // sequentially until autovacuum analyzes them again.)
        cluster.query(
            "analyze tenants, users, courses, course_modules, course_items, \
             course_instructors, enrollments",
        )?;
    }
    println!(
        "seeded tenant {SLUG}: 1 course, {} learners enrolled{history}, in {:.1?}",
        options.learners,
        seeding.elapsed()
    );
    print_settings(&cluster, options, &data_dir)?;

    let acks = work.join("acks.csv");
    let summary_path = work.join("summary.txt");
    let mut storm = command(&generator);
    storm
        .arg("--url")
        .arg(server.url(""))
        .args([
            "--tenant",
            &tenant.slug,
            "--course",
            &course,
            "--item",
            &item,
        ])
        .args(["--staff-email", &format!("instructor1@{SLUG}.example")])
        .args(["--password", PASSWORD])
        .args(["--learner-domain", &format!("{SLUG}.example")])
        .args(["--learners", &options.learners.to_string()])
        .args(["--window-seconds", &options.window_seconds.to_string()])
        .args(["--think-ms", &options.think_ms.to_string()])
        .args(["--connections", &options.connections.to_string()])
        .arg("--acks")
        .arg(&acks)
        .arg("--summary")
        .arg(&summary_path)
        .arg("--cluster-dir")
        .arg(&data_dir);
    if let Some(pid) = server_pid(server.port) {
        storm.args(["--server-pid", &pid.to_string()]);
    }
    crate::run(&mut storm)?;

    let check = verify(&cluster, &tenant, &item, &acks)?;
    drop(server);
    let summary = std::fs::read_to_string(&summary_path)
        .with_context(|| format!("reading {}", summary_path.display()))?;
    print_summary(options, &Figures(summary), &check, started);
    Ok(())
}

/// `cargo build --release` of `xtask/quiz-storm` into `target/quiz-storm`; the binary's path.
fn build_generator() -> Result<PathBuf> {
    let manifest = root().join("xtask").join("quiz-storm").join("Cargo.toml");
    let target = root().join("target").join("quiz-storm");
    crate::run(
        cargo()
            .args(["build", "--release", "--locked", "--manifest-path"])
            .arg(&manifest)
            .arg("--target-dir")
            .arg(&target),
    )?;
    Ok(target.join("release").join("quiz-storm"))
}

/// The course, its first quiz item (the storm's, in the first module) and its other one.
fn quiz_items(cluster: &Cluster, tenant: &Tenant) -> Result<(String, String, String)> {
    let rows = cluster.query(&format!(
        "select i.course_id, i.id from course_items i \
         join course_modules m on m.tenant_id = i.tenant_id and m.id = i.module_id \
         where i.tenant_id = '{}' and i.kind = 'quiz' order by m.position, i.position limit 2",
        tenant.id
    ))?;
    let rows: Vec<(&str, &str)> = rows.lines().filter_map(|l| l.split_once('|')).collect();
    let [(course, item), (_, other)] = rows[..] else {
        bail!("the seeded course has not two quiz items: {rows:?}");
    };
    Ok((course.to_owned(), item.to_owned(), other.to_owned()))
}

/// Runs `quiz_history.sql` for the course's other quiz item; the attempts it seeded.
fn seed_history(
    cluster: &Cluster,
    work: &Path,
    tenant: &Tenant,
    course: &str,
    item: &str,
) -> Result<String> {
    let script = work.join("quiz_history.sql");
    std::fs::write(&script, HISTORY_SQL)?;
    let out = crate::output_text(
        cluster
            .psql()
            .arg("-v")
            .arg(format!("tenant_id={}", tenant.id))
            .arg("-v")
            .arg(format!("course_id={course}"))
            .arg("-v")
            .arg(format!("item_id={item}"))
            .arg("-f")
            .arg(&script),
    )
    .context("seeding last week's quiz attempts")?;
    Ok(out
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("?")
        .to_owned())
}

/// The server's process: the one serving on `port`.
fn server_pid(port: u16) -> Option<u32> {
    let bind = format!("127.0.0.1:{port}");
    std::fs::read_dir("/proc").ok()?.find_map(|entry| {
        let entry = entry.ok()?;
        let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
        let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
        let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
        (args.contains(&b"serve".as_slice()) && args.contains(&bind.as_bytes())).then_some(pid)
    })
}

/// The settings that shape the figures.
fn print_settings(cluster: &Cluster, options: &Options, data_dir: &Path) -> Result<()> {
    let pg = cluster.query(
        "select current_setting('max_connections') || ', shared_buffers ' \
         || current_setting('shared_buffers') || ', synchronous_commit ' \
         || current_setting('synchronous_commit') || ', fsync ' || current_setting('fsync') \
         || ', PostgreSQL ' || current_setting('server_version')",
    )?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // The server's default (`lms_platform::config::default_pool_size`): 4 per core, 8 to 32.
    let default_pool = u32::try_from(cores * 4).unwrap_or(32).clamp(8, 32);
    let pool = options.pool_size.map_or_else(
        || format!("{default_pool} (the server's default: 4 per core, 8 to 32)"),
        |p| format!("{p} (--pool-size)"),
    );
    let operator_pool = 4.max(options.pool_size.unwrap_or(default_pool) / 8);
    println!("server settings:");
    println!("   request pool (LMS_DB_POOL_SIZE)  {pool}, acquire timeout 5 s");
    println!("   operator pool                    {operator_pool}");
    println!("   request timeout                  30 s; rate limits off; RUST_LOG=warn");
    println!(
        "   password hashing                 {} in flight ({cores} cores x 2)",
        cores * 2
    );
    println!(
        "   PostgreSQL                       max_connections {}",
        pg.trim()
    );
    println!("   data folder                      {}", data_dir.display());
    Ok(())
}

/// What the database holds after the storm.
struct Check {
    learners: i64,
    attempts: i64,
    without_attempt: i64,
    several_attempts: i64,
    graded: i64,
    not_graded: i64,
    auto_submitted: i64,
    wrong_questions: i64,
    unanswered: i64,
    ungraded_answers: i64,
    acknowledged: i64,
    acknowledged_missing: i64,
    passed: i64,
    completed_items: i64,
    /// Learners without exactly one graded attempt of 20 answered, graded questions.
    lost: i64,
}

impl Check {
    fn consistent(&self) -> bool {
        self.lost == 0
            && self.acknowledged_missing == 0
            && self.passed == self.completed_items
            && self.several_attempts == 0
    }
}

fn verify(cluster: &Cluster, tenant: &Tenant, item: &str, acks: &Path) -> Result<Check> {
    let acks = acks.to_string_lossy();
    if acks.contains('\'') {
        bail!("the acknowledgements' path holds a quote: {acks}");
    }
    let query = format!(
        "with learners as (
             select id from users where tenant_id = '{tenant}' and 'learner' = any(roles)
         ), attempts as (
             select a.id, a.user_id, a.status, a.score, a.passed, a.auto_submitted,
                    count(q.position) as questions,
                    count(distinct q.question_id) as distinct_questions,
                    count(q.answer) as answered,
                    count(*) filter (where q.grading = 'auto') as auto_graded
             from quiz_attempts a
             left join attempt_questions q on q.tenant_id = a.tenant_id and q.attempt_id = a.id
             where a.tenant_id = '{tenant}' and a.item_id = '{item}'
             group by a.tenant_id, a.id
         ), per_learner as (
             select l.id, count(a.id) as attempts,
                    bool_and(a.status = 'graded' and a.questions = {QUESTIONS}
                             and a.distinct_questions = {QUESTIONS}
                             and a.answered = {QUESTIONS} and a.auto_graded = {QUESTIONS}) as whole
             from learners l left join attempts a on a.user_id = l.id
             group by l.id
         )
         select (select count(*) from learners),
                (select count(*) from attempts),
                (select count(*) from per_learner where attempts = 0),
                (select count(*) from per_learner where attempts > 1),
                (select count(*) from attempts where status = 'graded'),
                (select count(*) from attempts where status <> 'graded'),
                (select count(*) from attempts where auto_submitted),
                (select count(*) from attempts
                 where questions <> {QUESTIONS} or distinct_questions <> {QUESTIONS}),
                (select count(*) from attempts where answered <> {QUESTIONS}),
                (select count(*) from attempts where auto_graded <> questions),
                (select count(*) from acks),
                (select count(*) from acks k left join attempts a on a.id = k.attempt_id
                 where a.id is null or a.answered < k.saved
                    or (k.graded and (a.status <> 'graded' or abs(a.score - k.score) > 0.005))),
                (select count(distinct user_id) from attempts where passed),
                (select count(*) from item_progress
                 where tenant_id = '{tenant}' and item_id = '{item}' and completed_at is not null),
                (select count(*) from per_learner where attempts <> 1 or not coalesce(whole, false))",
        tenant = tenant.id,
    );
    let out = crate::output_text(
        cluster
            .psql()
            .args([
                "-c",
                "create temp table acks (attempt_id uuid, saved int, graded boolean, score numeric)",
            ])
            .args(["-c", &format!("\\copy acks from '{acks}' with (format csv)")])
            .args(["-c", &query]),
    )
    .context("checking the attempts in the database")?;
    let values: Vec<i64> = out
        .trim()
        .split('|')
        .map(|v| {
            v.parse()
                .with_context(|| format!("unexpected check row {out:?}"))
        })
        .collect::<Result<_>>()?;
    let [
        learners,
        attempts,
        without_attempt,
        several_attempts,
        graded,
        not_graded,
        auto_submitted,
        wrong_questions,
        unanswered,
        ungraded_answers,
        acknowledged,
        acknowledged_missing,
        passed,
        completed_items,
        lost,
    ] = values[..]
    else {
        bail!("unexpected check row {out:?}");
    };
    Ok(Check {
        learners,
        attempts,
        without_attempt,
        several_attempts,
        graded,
        not_graded,
        auto_submitted,
        wrong_questions,
        unanswered,
        ungraded_answers,
        acknowledged,
        acknowledged_missing,
        passed,
        completed_items,
        lost,
    })
}

/// The generator's `name=value` lines.
struct Figures(String);

impl Figures {
    fn get(&self, name: &str) -> &str {
        self.0
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
            .map_or("?", str::trim)
    }

    fn number(&self, name: &str) -> Option<f64> {
        self.get(name).parse().ok()
    }
}

fn print_summary(options: &Options, f: &Figures, c: &Check, started: Instant) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!();
    println!(
        "== quiz storm ({cores} cores, {} learners over {} s, {QUESTIONS} questions each, think {} ms, {}, {:.0?} in all)",
        options.learners,
        options.window_seconds,
        options.think_ms,
        if options.history {
            "with last week's attempts"
        } else {
            "no earlier attempts"
        },
        started.elapsed()
    );
    println!(
        "   start attempt    p50 {:>7} ms   p99 {:>7} ms   ({} ok)",
        f.get("start_p50_ms"),
        f.get("start_p99_ms"),
        f.get("start_ok")
    );
    println!(
        "   save answer      p50 {:>7} ms   p99 {:>7} ms   ({} ok)",
        f.get("save_p50_ms"),
        f.get("save_p99_ms"),
        f.get("save_ok")
    );
    println!(
        "   submit           p50 {:>7} ms   p99 {:>7} ms   ({} ok)",
        f.get("submit_p50_ms"),
        f.get("submit_p99_ms"),
        f.get("submit_ok")
    );
    println!(
        "   errors           {} of {} requests",
        f.get("failed"),
        f.get("requests")
    );
    println!(
        "   throughput       {} requests/s; {} attempts started/s, {} submitted/s; wall time {} s",
        f.get("requests_per_second"),
        f.get("started_per_second"),
        f.get("submitted_per_second"),
        f.get("wall_seconds")
    );
    println!(
        "   machine          {} % busy (client {} %, server {} %, PostgreSQL {} %, others {} %, stolen by the host {} %); disk wait {} %; load {} -> {}",
        f.get("machine_busy_percent"),
        f.get("client_percent"),
        f.get("server_percent"),
        f.get("cluster_percent"),
        f.get("others_percent"),
        f.get("steal_percent"),
        f.get("iowait_percent"),
        f.get("load_before"),
        f.get("load_after")
    );
    println!(
        "   database         {} learners, {} attempts: {} graded, {} not graded, {} closed by the deadline",
        c.learners, c.attempts, c.graded, c.not_graded, c.auto_submitted
    );
    println!(
        "                    {} learners without an attempt, {} with more than one; {} attempts without {QUESTIONS} distinct questions, {} without {QUESTIONS} answers, {} with answers not graded by rule",
        c.without_attempt, c.several_attempts, c.wrong_questions, c.unanswered, c.ungraded_answers
    );
    println!(
        "                    {} attempts acknowledged, {} of them missing or differing (answers, grade, score); {} learners passed, {} quiz items completed",
        c.acknowledged, c.acknowledged_missing, c.passed, c.completed_items
    );
    println!("   lost attempts: {}", c.lost);

    let start_p99 = f.number("start_p99_ms");
    let submit_p99 = f.number("submit_p99_ms");
    let errors = f.number("failed");
    println!();
    println!("   {:<36} {:<24} verdict", "target", "measured");
    let row = |target: &str, measured: String, met: bool| {
        println!(
            "   {target:<36} {measured:<24} {}",
            if met { "MET" } else { "MISSED" }
        );
    };
    row(
        "p99 start <= 100 ms",
        format!("{} ms", f.get("start_p99_ms")),
        start_p99.is_some_and(|p| p <= TARGET_START_P99_MS),
    );
    row(
        "p99 submit <= 200 ms",
        format!("{} ms", f.get("submit_p99_ms")),
        submit_p99.is_some_and(|p| p <= TARGET_SUBMIT_P99_MS),
    );
    row(
        "zero errors",
        f.get("failed").to_owned(),
        errors == Some(0.0),
    );
    row(
        "zero lost attempts",
        format!("{} lost", c.lost),
        c.consistent() && c.learners == i64::from(options.learners),
    );
    println!(
        "   The server's log is target/bench/quiz-storm-server.log; the acknowledged attempts are in target/bench/quiz-storm-run/acks.csv."
    );
}
