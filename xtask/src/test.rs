//! `cargo xtask test`: prepare everything, then format, lint, test, check
//! the generated artifacts and fuzz the API.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{
    OPENAPI_PATH, cargo, command, fuzz, generate_openapi, output_text, peers, root, run, services,
    succeeds,
};

const WASM_TARGET: &str = "wasm32-wasip2";

/// What the preparation steps hand to the test step.
#[derive(Default)]
struct Env {
    database_url: Option<String>,
    python: Option<PathBuf>,
    plugin_artifacts: Option<PathBuf>,
}

impl Env {
    /// The admin URL and the venv's python, which the PostgreSQL and peers steps found.
    fn database_and_python(&self) -> Result<(String, PathBuf)> {
        let database_url = self
            .database_url
            .clone()
            .context("the PostgreSQL step did not run")?;
        let python = self
            .python
            .clone()
            .context("the Python test peers step did not run")?;
        Ok((database_url, python))
    }
}

type StepFn = fn(&mut Env) -> Result<()>;

const STEPS: &[(&str, StepFn)] = &[
    ("PostgreSQL", |env| {
        env.database_url = Some(services::postgres()?);
        Ok(())
    }),
    ("Redis", |_| services::redis()),
    ("Python test peers", |env| {
        env.python = Some(peers::ensure()?);
        Ok(())
    }),
    ("Rust tools", |_| rust_tools()),
    ("Plugins", |env| {
        env.plugin_artifacts = Some(build_plugins()?);
        Ok(())
    }),
    ("Format", |_| {
        run(cargo().args(["fmt", "--all", "--", "--check"]))
    }),
    ("Lint", |_| {
        run(cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]))
    }),
    ("Tests", tests),
    ("Generated artifacts", |_| openapi_fresh()),
    ("Fuzz", fuzz),
];

enum Outcome {
    Ok(Duration),
    Failed(Duration),
    NotRun,
}

pub fn all() -> Result<()> {
    let started = Instant::now();
    let mut env = Env::default();
    let mut outcomes: Vec<Outcome> = Vec::new();
    let mut failure = None;

    for (i, (name, step)) in STEPS.iter().enumerate() {
        println!("\n==> [{}/{}] {name}", i + 1, STEPS.len());
        let t = Instant::now();
        match step(&mut env) {
            Ok(()) => outcomes.push(Outcome::Ok(t.elapsed())),
            Err(err) => {
                outcomes.push(Outcome::Failed(t.elapsed()));
                failure = Some(err.context(format!("step {name} failed")));
                break;
            }
        }
    }
    outcomes.resize_with(STEPS.len(), || Outcome::NotRun);

    println!("\n==> Summary");
    let width = STEPS.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    for ((name, _), outcome) in STEPS.iter().zip(&outcomes) {
        let (status, time) = match outcome {
            Outcome::Ok(d) => ("ok", secs(*d)),
            Outcome::Failed(d) => ("FAILED", secs(*d)),
            Outcome::NotRun => ("not run", String::new()),
        };
        println!("  {name:<width$}  {status:<7}  {time:>8}");
    }
    println!(
        "  {:<width$}  {:<7}  {:>8}",
        "total",
        "",
        secs(started.elapsed())
    );

    match failure {
        Some(err) => Err(err),
        None => {
            println!("\nall steps passed");
            Ok(())
        }
    }
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// Step 4: the wasm target for the plugin crates and cargo-nextest.
fn rust_tools() -> Result<()> {
    if !succeeds(command("rustup").arg("--version")) {
        bail!("`rustup` not found: install Rust with rustup (https://rustup.rs)");
    }
    let installed = output_text(command("rustup").args(["target", "list", "--installed"]))?;
    if installed.lines().any(|l| l.trim() == WASM_TARGET) {
        println!("rustup target {WASM_TARGET} is installed");
    } else {
        run(command("rustup").args(["target", "add", WASM_TARGET]))?;
    }

    if succeeds(cargo().args(["nextest", "--version"])) {
        let version = output_text(cargo().args(["nextest", "--version"]))?;
        println!(
            "{}",
            version.lines().next().unwrap_or("cargo-nextest").trim()
        );
    } else {
        run(cargo().args(["install", "cargo-nextest", "--locked"]))?;
    }
    Ok(())
}

/// Step 5: the wasm plugins (`plugins/` is a workspace of its own), in release: small and fast
/// to run; then the unit tests of the first-party graders' logic, on the host target. Returns the
/// folder of `.wasm` files the host tests load.
fn build_plugins() -> Result<PathBuf> {
    let target_dir = root().join("target").join("plugins");
    let manifest = root().join("plugins").join("Cargo.toml");
    run(cargo()
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            WASM_TARGET,
            "--manifest-path",
        ])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target_dir))?;
    run(cargo()
        .args([
            "test",
            "--locked",
            "-p",
            "lab-flag-grader",
            "-p",
            "numeric-grader",
            "-p",
            "discord",
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target_dir))?;
    let artifacts = target_dir.join(WASM_TARGET).join("release");
    if !artifacts.join("lab_flag_grader.wasm").is_file() {
        bail!("no lab_flag_grader.wasm in {}", artifacts.display());
    }
    Ok(artifacts)
}

/// Step 8: the doctests, then nextest for everything else.
fn tests(env: &mut Env) -> Result<()> {
    let (database_url, python) = env.database_and_python()?;
    let plugin_artifacts = env
        .plugin_artifacts
        .clone()
        .context("the Plugins step did not run")?;
    println!(
        "LMS_TEST_DATABASE_URL, LMS_TEST_PYTHON={} and LMS_PLUGIN_ARTIFACTS={} are set",
        python.display(),
        plugin_artifacts.display()
    );

    // Doctests first (nextest does not run them), so that nextest's summary
    // is the last test-runner summary in the log; CI reads the closing lines.
    // Both always run, so one run reports every failure.
    let doctests = run(cargo()
        .args(["test", "--workspace", "--doc", "--locked"])
        .env("LMS_TEST_DATABASE_URL", &database_url)
        .env("LMS_TEST_PYTHON", &python)
        .env("LMS_PLUGIN_ARTIFACTS", &plugin_artifacts));
    let nextest = run(cargo()
        .args([
            "nextest",
            "run",
            "--workspace",
            "--locked",
            "--no-fail-fast",
        ])
        .env("LMS_TEST_DATABASE_URL", &database_url)
        .env("LMS_TEST_PYTHON", &python)
        .env("LMS_PLUGIN_ARTIFACTS", &plugin_artifacts));
    doctests.and(nextest)
}

/// Step 9: the committed OpenAPI document matches the code.
fn openapi_fresh() -> Result<()> {
    let generated = generate_openapi()?;
    let path = root().join(OPENAPI_PATH);
    let committed = std::fs::read(&path).ok();
    if committed.as_deref() == Some(generated.as_slice()) {
        println!("{OPENAPI_PATH} is up to date");
        return Ok(());
    }
    let fresh = root().join("target").join("xtask").join("openapi.json");
    if let Some(parent) = fresh.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(&fresh, &generated).with_context(|| format!("writing {}", fresh.display()))?;
    println!(
        "the generated document is in {}; compare: diff -u {OPENAPI_PATH} target/xtask/openapi.json",
        fresh.display()
    );
    if committed.is_none() {
        bail!("{OPENAPI_PATH} is missing: run `cargo xtask openapi`");
    }
    bail!("{OPENAPI_PATH} is stale: run `cargo xtask openapi`")
}

/// Step 10: schemathesis against the running server (after the freshness check, whose
/// `lms openapi` run builds the same debug binary).
fn fuzz(env: &mut Env) -> Result<()> {
    let (database_url, python) = env.database_and_python()?;
    fuzz::fuzz(&database_url, &python, env.plugin_artifacts.as_deref())
}

/// `cargo xtask fuzz`: the fuzz step alone, against the PostgreSQL the test command prepared
/// (its PostgreSQL step is not rerun: it drops the databases of tests that may be running); the
/// first-party plugins are used when they are already built.
pub fn fuzz_alone() -> Result<()> {
    let mut env = Env {
        database_url: Some(services::database_url()),
        python: Some(peers::ensure()?),
        plugin_artifacts: None,
    };
    let built = root()
        .join("target")
        .join("plugins")
        .join(WASM_TARGET)
        .join("release");
    if built.join("lab_flag_grader.wasm").is_file() {
        env.plugin_artifacts = Some(built);
    }
    fuzz(&mut env)
}
