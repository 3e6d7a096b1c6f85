//! Project automation.
//!
//! `cargo xtask test` prepares everything the test suite needs (PostgreSQL,
//! Redis, the Python test peers, the Rust tools) and then runs format, lint,
//! tests, the generated-artifact freshness check and the OpenAPI-driven fuzz.
//! `cargo xtask openapi`
//! regenerates `platform/openapi.json`. `cargo xtask bench …` prints figures of
//! the release server under load.
#![allow(clippy::print_stdout)]

mod bench;
mod fuzz;
mod grader_bench;
mod peers;
mod services;
mod test;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context, Result, bail};

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  test      prepare PostgreSQL, Redis, the Python and Node test peers and the Rust tools,
            then run format check, clippy, the test suite and the
            generated-artifact freshness check
  openapi   regenerate platform/openapi.json from `lms openapi`
  fuzz      the test command's fuzz step alone: schemathesis against the debug
            server with the demo tenant (prepares PostgreSQL and the test peers)
  bench login [--connections N] [--seconds S]
            login throughput and p50/p99 latency of the release server (wrk)
  bench courses [--connections N] [--seconds S] [--other-tenants T] [--pool-size P]
            catalog, course detail, my learning and progress updates against a
            seeded tenant (wrk), lost-update check, and pgbench's ceiling for the
            catalog's statements
  bench quiz-storm [--learners N] [--window-seconds S] [--think-ms T] [--connections C]
                   [--pool-size P] [--no-history]
            N learners (2000) start the same 20-question quiz within S seconds
            (10), answer (pausing about T ms, 3000, before each) and submit it;
            start, answer and submit p50/p99, errors, throughput and a check of
            every attempt in the database
  bench scim [--connections N] [--seconds S]
            SCIM user creations per second (POST /scim/v2/Users with a new
            userName each request) and p50/p99 latency of the release server (wrk)
  bench grader [--iterations N]
            hosted grader call latency (instantiation included) against native
            code and Extism, and how fast a runaway plugin is stopped
  bench imports [--rows N] [--debug]
            bulk CSV imports on the release server: a users file of N (10000)
            new users (dry run, real, again) and an enrollments file of N rows
            (dry run, real, again), each timed from upload to its last row
  bench certificates [--certificates N] [--concurrency C]
            certificates issued per second on a private cluster (N, 2000, by C
            tasks at a time; credential signed with eddsa-rdfc-2022, row and
            event committed, PDF rendered) and the PDF's size
  bench jobs [--jobs N] [--tenants T] [--concurrency C] [--samples S]
            the job queue: enqueue rates, N (100000) no-op jobs over T (10)
            tenants completed by 2 workers of C (64) jobs, and enqueue-to-start
            p50/p99 of S (1000) jobs at light load
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["test"] => test::all(),
        ["openapi"] => openapi(),
        ["fuzz"] => test::fuzz_alone(),
        ["bench", "login", rest @ ..] => {
            bench::login::Options::parse(rest).and_then(|o| bench::login::run(&o))
        }
        ["bench", "courses", rest @ ..] => {
            bench::courses::Options::parse(rest).and_then(|o| bench::courses::run(&o))
        }
        ["bench", "quiz-storm", rest @ ..] => {
            bench::quiz_storm::Options::parse(rest).and_then(|o| bench::quiz_storm::run(&o))
        }
        ["bench", "scim", rest @ ..] => {
            bench::scim::Options::parse(rest).and_then(|o| bench::scim::run(&o))
        }
        ["bench", "grader", rest @ ..] => grader_bench::grader(rest),
        ["bench", "jobs", rest @ ..] => bench::jobs(rest),
        ["bench", "certificates", rest @ ..] => bench::certificates(rest),
        ["bench", "imports", rest @ ..] => {
            bench::imports::Options::parse(rest).and_then(|o| bench::imports::run(&o))
        }
        ["help" | "--help" | "-h"] => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        other => {
            if let Some(first) = other.first() {
                eprintln!("xtask: unknown command or arguments: {}", other.join(" "));
                if ["test", "openapi", "fuzz"].contains(first) {
                    eprintln!("xtask: `{first}` takes no arguments");
                }
            }
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("\nxtask: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// `cargo xtask openapi`: rewrite `platform/openapi.json`.
fn openapi() -> Result<()> {
    let generated = generate_openapi()?;
    let path = root().join(OPENAPI_PATH);
    let current = std::fs::read(&path).ok();
    if current.as_deref() == Some(generated.as_slice()) {
        println!("{OPENAPI_PATH} is up to date");
    } else {
        std::fs::write(&path, &generated).with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {OPENAPI_PATH} ({} bytes)", generated.len());
    }
    Ok(())
}

/// The committed OpenAPI document, relative to the workspace root.
pub const OPENAPI_PATH: &str = "platform/openapi.json";

/// Runs `lms openapi` and returns what it printed on stdout.
pub fn generate_openapi() -> Result<Vec<u8>> {
    let mut cmd = cargo();
    cmd.args([
        "run",
        "--quiet",
        "--locked",
        "-p",
        "lms-platform",
        "--bin",
        "lms",
        "--",
        "openapi",
    ]);
    output_bytes(&mut cmd)
}

/// The workspace root: the parent of this crate's directory.
pub fn root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// A command that runs in the workspace root with no standard input.
pub fn command(program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(root()).stdin(Stdio::null());
    cmd
}

/// `cargo`, preferring the one that runs this xtask.
pub fn cargo() -> Command {
    command(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Renders a command for display, like a shell would show it.
pub fn display(cmd: &Command) -> String {
    let program = cmd.get_program();
    let program = if std::env::var_os("CARGO").is_some_and(|c| c == program) {
        "cargo".into()
    } else {
        program.to_string_lossy()
    };
    let mut parts = vec![shell_quote(&program)];
    // Passwords in connection URLs never reach the terminal or CI logs.
    parts.extend(
        cmd.get_args()
            .map(|a| shell_quote(&services::redact(&a.to_string_lossy()))),
    );
    parts.join(" ")
}

fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@,+%".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Runs a command with inherited stdout/stderr, echoing it first; fails on a
/// non-zero exit.
pub fn run(cmd: &mut Command) -> Result<()> {
    println!("$ {}", display(cmd));
    let status = cmd
        .status()
        .with_context(|| format!("could not start `{}`", display(cmd)))?;
    if !status.success() {
        bail!("`{}` failed ({status})", display(cmd));
    }
    Ok(())
}

/// Runs a command quietly and tells whether it exited successfully (false
/// when it could not be started at all).
pub fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs a command and returns its stdout; stderr is inherited.
pub fn output_bytes(cmd: &mut Command) -> Result<Vec<u8>> {
    let out = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("could not start `{}`", display(cmd)))?;
    if !out.status.success() {
        bail!("`{}` failed ({})", display(cmd), out.status);
    }
    Ok(out.stdout)
}

/// Runs a command and returns its stdout as text; stderr is captured and
/// included in the error on failure.
pub fn output_text(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("could not start `{}`", display(cmd)))?;
    if !out.status.success() {
        bail!(
            "`{}` failed ({}): {}",
            display(cmd),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    String::from_utf8(out.stdout).with_context(|| format!("`{}` printed non-UTF-8", display(cmd)))
}
