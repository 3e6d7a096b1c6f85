//! `quiz-storm`: learners starting the same quiz at once, answering every question and
//! submitting, against a running server whose tenant `cargo xtask bench quiz-storm` has seeded.
//!
//! Phases: the course's staff member writes the quiz through the API (a bank of 32 objective
//! questions in two categories, 8 named and 12 drawn per attempt); every learner signs in
//! (argon2id, before anything is measured); then the storm: learner `i` arrives at
//! `i × window / N`, starts an attempt, saves an answer to each of its questions (the right one
//! about two times in three, else a valid guess from what the attempt shows), and submits. Latencies (from the moment a learner sends, so waiting for a
//! connection counts), failures by kind with a sample body, and what the machine's cores did
//! are printed; every acknowledged attempt is written to `--acks` for the database check that
//! follows.
#![allow(clippy::print_stdout)]

mod answers;
mod authoring;
mod client;
mod machine;
mod report;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::client::{Api, Call};
use crate::report::Acked;

const USAGE: &str =
    "usage: quiz-storm --url URL --tenant SLUG --course ID --item ID --staff-email EMAIL
                  --password P --learner-domain DOMAIN --acks FILE --summary FILE
                  [--learners N] [--window-seconds S] [--think-ms T] [--connections C]
                  [--server-pid PID] [--cluster-dir DIR]

  learners are learner1@DOMAIN .. learnerN@DOMAIN, all with password P; EMAIL is staff of the
  course and writes the quiz on item ID";

/// Access tokens live 15 minutes; the storm must be over well before the first expires.
const TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// How often a learner knows the right answer: most pass the quiz (60 %), not all.
const KNOWS: f64 = 0.65;
/// Logins in flight: the server hashes at most two per core at a time.
const LOGINS_IN_FLIGHT: usize = 4;

pub struct Options {
    url: String,
    tenant: String,
    course: String,
    item: String,
    staff_email: String,
    password: String,
    learner_domain: String,
    learners: u32,
    window: Duration,
    think: Duration,
    connections: usize,
    acks: PathBuf,
    summary: PathBuf,
    server_pid: Option<u32>,
    cluster_dir: Option<PathBuf>,
}

impl Options {
    fn parse() -> Result<Self> {
        let mut values = std::collections::HashMap::new();
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            if arg == "--help" || arg == "-h" {
                println!("{USAGE}");
                std::process::exit(0);
            }
            let Some(name) = arg.strip_prefix("--") else {
                bail!("unexpected argument {arg}\n{USAGE}");
            };
            let value = args
                .next()
                .with_context(|| format!("{arg} needs a value\n{USAGE}"))?;
            values.insert(name.to_owned(), value);
        }
        let mut take = |name: &str| values.remove(name);
        let required = |value: Option<String>, name: &str| {
            value.with_context(|| format!("--{name} is required\n{USAGE}"))
        };
        let number = |value: Option<String>, name: &str, default: f64| -> Result<f64> {
            value.map_or(Ok(default), |v| {
                v.parse::<f64>()
                    .ok()
                    .filter(|n| n.is_finite() && *n >= 0.0)
                    .with_context(|| format!("--{name} takes a number, not {v:?}"))
            })
        };
        let options = Self {
            url: required(take("url"), "url")?,
            tenant: required(take("tenant"), "tenant")?,
            course: required(take("course"), "course")?,
            item: required(take("item"), "item")?,
            staff_email: required(take("staff-email"), "staff-email")?,
            password: required(take("password"), "password")?,
            learner_domain: required(take("learner-domain"), "learner-domain")?,
            acks: required(take("acks"), "acks")?.into(),
            summary: required(take("summary"), "summary")?.into(),
            learners: number(take("learners"), "learners", 2000.0)? as u32,
            window: Duration::from_secs_f64(number(
                take("window-seconds"),
                "window-seconds",
                10.0,
            )?),
            think: Duration::from_millis(number(take("think-ms"), "think-ms", 0.0)? as u64),
            connections: number(take("connections"), "connections", 256.0)? as usize,
            server_pid: take("server-pid").map(|p| p.parse()).transpose()?,
            cluster_dir: take("cluster-dir").map(PathBuf::from),
        };
        if let Some(unknown) = values.keys().next() {
            bail!("unknown option --{unknown}\n{USAGE}");
        }
        if options.learners == 0 || options.connections == 0 {
            bail!("--learners and --connections must be positive");
        }
        Ok(options)
    }
}

fn main() -> Result<()> {
    let options = Options::parse()?;
    // As many workers as cores: the server and its database share them with this client.
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()?
        .block_on(run(options))
}

async fn run(options: Options) -> Result<()> {
    let api = Arc::new(Api::new(
        &options.url,
        &options.tenant,
        options.connections,
    )?);

    let staff = log_in(&api, &options.staff_email, &options.password).await?;
    let quiz = authoring::write_quiz(&api, &staff, &options.course, &options.item).await?;
    println!("{quiz}");
    let key = Arc::new(quiz.key);

    let signing_in = Instant::now();
    let tokens = log_in_learners(&api, &options).await?;
    let login_time = signing_in.elapsed();
    println!(
        "signed in {} learners in {login_time:.1?} ({:.0} logins/s; argon2id, before the storm)",
        tokens.len(),
        tokens.len() as f64 / login_time.as_secs_f64()
    );
    if login_time + options.window + Duration::from_secs(120) > TOKEN_LIFETIME {
        bail!("signing in took so long that the access tokens could expire during the storm");
    }
    api.reset();

    println!(
        "storm: {} learners arriving over {:.1?}, {} request(s) in flight at most, think time {:?}",
        options.learners, options.window, options.connections, options.think
    );
    let cpu = machine::Sampler::start(options.server_pid, options.cluster_dir.as_deref());
    let began = Instant::now() + Duration::from_millis(200);
    let mut tasks = Vec::with_capacity(tokens.len());
    for (i, token) in tokens.into_iter().enumerate() {
        let api = Arc::clone(&api);
        let course = options.course.clone();
        let item = options.item.clone();
        let arrival = began
            + options
                .window
                .mul_f64(i as f64 / f64::from(options.learners));
        let think = options.think;
        let key = Arc::clone(&key);
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(arrival.into()).await;
            let mut rng = StdRng::seed_from_u64(i as u64);
            learner(&api, &token, &key, &course, &item, think, &mut rng).await
        }));
    }
    let mut acked = Vec::with_capacity(tasks.len());
    for task in tasks {
        acked.push(task.await.context("a learner task panicked")?);
    }
    let wall = began.elapsed();
    let load = cpu.finish();

    let summary = report::Summary::new(&api, &acked, wall, &options, load);
    summary.print();
    std::fs::write(&options.summary, summary.key_values())
        .with_context(|| format!("writing {}", options.summary.display()))?;
    write_acks(&options, &acked)?;
    Ok(())
}

/// `POST /api/v1/auth/login`: the access token.
async fn log_in(api: &Api, email: &str, password: &str) -> Result<String> {
    let body = json!({ "email": email, "password": password });
    let answer = api
        .call(
            Call::Login,
            reqwest::Method::POST,
            "/api/v1/auth/login",
            None,
            Some(&body),
        )
        .await
        .with_context(|| format!("signing in {email}"))?;
    answer["access_token"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no access_token in the login answer for {email}: {answer}"))
}

async fn log_in_learners(api: &Arc<Api>, options: &Options) -> Result<Vec<String>> {
    let permits = Arc::new(Semaphore::new(LOGINS_IN_FLIGHT));
    let mut tasks = Vec::new();
    for n in 1..=options.learners {
        let api = Arc::clone(api);
        let permits = Arc::clone(&permits);
        let email = format!("learner{n}@{}", options.learner_domain);
        let password = options.password.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = permits.acquire_owned().await?;
            log_in(&api, &email, &password).await
        }));
    }
    let mut tokens = Vec::with_capacity(tasks.len());
    for task in tasks {
        tokens.push(task.await.context("a login task panicked")??);
    }
    Ok(tokens)
}

/// One learner: start, answer every question in the attempt's order (right with probability
/// [`KNOWS`], else a valid guess), submit. Stops at the first refused start or submission; an
/// answer that fails is counted and the rest go on.
async fn learner(
    api: &Api,
    token: &str,
    key: &HashMap<String, Value>,
    course: &str,
    item: &str,
    think: Duration,
    rng: &mut StdRng,
) -> Acked {
    let mut acked = Acked::default();
    let path = format!("/api/v1/courses/{course}/items/{item}/quiz/attempts");
    let Ok(attempt) = api
        .call(Call::Start, reqwest::Method::POST, &path, Some(token), None)
        .await
    else {
        return acked;
    };
    let Some(id) = attempt["id"].as_str().map(str::to_owned) else {
        api.anomaly(Call::Start, "answer without an id", &attempt.to_string());
        return acked;
    };
    acked.attempt = Some(id.clone());
    let questions = attempt["questions"].as_array().cloned().unwrap_or_default();
    acked.questions = questions.len();
    for question in &questions {
        if !think.is_zero() {
            // People do not answer in step: each pause is between half and one and a half times
            // the think time.
            tokio::time::sleep(think.mul_f64(rng.gen_range(0.5..1.5))).await;
        }
        let position = question["position"].as_i64().unwrap_or(-1);
        let known = question["prompt"]
            .as_str()
            .and_then(|prompt| key.get(prompt))
            .filter(|_| rng.gen_bool(KNOWS));
        let answer = match known {
            Some(right) => right.clone(),
            None => match answers::choose(&question["presentation"], rng) {
                Ok(answer) => answer,
                Err(why) => {
                    api.anomaly(Call::Save, &why, &question.to_string());
                    continue;
                }
            },
        };
        let path = format!("/api/v1/quiz-attempts/{id}/answers/{position}");
        let body = json!({ "answer": answer });
        if api
            .call(
                Call::Save,
                reqwest::Method::PUT,
                &path,
                Some(token),
                Some(&body),
            )
            .await
            .is_ok()
        {
            acked.saved += 1;
        }
    }
    let path = format!("/api/v1/quiz-attempts/{id}/submit");
    let Ok(result) = api
        .call(
            Call::Submit,
            reqwest::Method::POST,
            &path,
            Some(token),
            None,
        )
        .await
    else {
        return acked;
    };
    check_graded(api, &result, &mut acked);
    acked
}

/// A submission's answer must show the attempt graded, every question graded by rule.
fn check_graded(api: &Api, result: &Value, acked: &mut Acked) {
    let status = result["status"].as_str().unwrap_or("?");
    let auto = result["questions"].as_array().map_or(0, |qs| {
        qs.iter()
            .filter(|q| q["result"]["grading"].as_str() == Some("auto"))
            .count()
    });
    if status != "graded" || auto != acked.questions {
        api.anomaly(
            Call::Submit,
            &format!(
                "attempt {status} with {auto} of {} answers graded",
                acked.questions
            ),
            &result.to_string(),
        );
        return;
    }
    acked.score = result["score"].as_f64();
    acked.percent = result["percent"].as_f64();
    acked.passed = result["passed"].as_bool();
}

/// One CSV line per attempt the server answered for: id, answers acknowledged, submission
/// acknowledged as graded, score.
fn write_acks(options: &Options, acked: &[Acked]) -> Result<()> {
    let mut text = String::new();
    for a in acked {
        if let Some(id) = &a.attempt {
            let score = a.score.map(|s| s.to_string()).unwrap_or_default();
            writeln!(text, "{id},{},{},{score}", a.saved, a.score.is_some())?;
        }
    }
    std::fs::write(&options.acks, text)
        .with_context(|| format!("writing {}", options.acks.display()))
}
