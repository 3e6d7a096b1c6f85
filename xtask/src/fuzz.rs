//! `cargo xtask fuzz` (also a step of `cargo xtask test`): schemathesis generates requests for
//! every operation of the OpenAPI document and sends them to the debug server, seeded with the
//! demo tenant, on a fresh database. Every answer must be documented: no 5xx, a status the
//! operation declares, its declared media type and a body that matches its schema.
//!
//! The seed and the number of examples are fixed, so a failure reproduces with the same command.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::bench::server::{Launch, Server, http};
use crate::{cargo, command, output_text, root, run, services};

/// The database the fuzzed server runs on; its `lms_test_` prefix lets the PostgreSQL step
/// drop it if a run is interrupted.
const DATABASE: &str = "lms_test_fuzz";
const DEMO_PASSWORD: &str = "fuzz-demo-password";
const OPERATOR_TOKEN: &str = "fuzz-operator-token-0123456789abcdef";
/// Examples per operation and mode: enough to reach every documented status of most
/// operations, few enough that both passes take about a minute and a half on two cores.
const MAX_EXAMPLES: &str = "20";
const SEED: &str = "20261";
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_schema_conformance";

/// One schemathesis run: the operations it selects and the credential it sends.
struct Pass {
    name: &'static str,
    filter: [&'static str; 2],
    bearer: String,
}

/// Runs both passes (tenant API as the demo admin, operator API as the operator) and fails if
/// either finds a failure.
pub fn fuzz(database_url: &str, python: &Path, plugin_artifacts: Option<&Path>) -> Result<()> {
    let started = Instant::now();
    run(cargo().args(["build", "--locked", "-p", "lms-platform", "--bin", "lms"]))?;
    let url = fresh_database(database_url)?;
    let dir = root().join("target").join("fuzz");
    let data_dir = dir.join("data");
    if data_dir.exists() {
        std::fs::remove_dir_all(&data_dir)
            .with_context(|| format!("removing {}", data_dir.display()))?;
    }
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let log = dir.join("server.log");
    let _ = std::fs::remove_file(&log);
    let launch = Launch {
        data_dir: &data_dir,
        demo_password: DEMO_PASSWORD,
        pool_size: None,
        log: &log,
    };
    let server = Server::start_binary(&launch, &root().join("target/debug/lms"), |cmd| {
        cmd.env("DATABASE_URL", &url)
            .env("LMS_OPERATOR_TOKEN", OPERATOR_TOKEN)
            .env_remove("LMS_SMTP_URL")
            .env_remove("LMS_S3_BUCKET");
        if let Some(dir) = plugin_artifacts {
            cmd.env("LMS_PLUGIN_ARTIFACTS", dir);
        }
    })?;
    println!("server on port {} (log: {})", server.port, log.display());

    let admin = sign_in(server.port, "admin@demo.example")?;
    let passes = [
        Pass {
            name: "tenant API as the demo admin",
            // The notification stream answers a valid call with a stream that stays open by
            // design; its own tests (platform/tests/api/notifications.rs) cover it.
            filter: [
                "--exclude-path-regex",
                "^/api/v1/(operator/|notifications/stream$)",
            ],
            bearer: admin,
        },
        Pass {
            name: "operator API",
            filter: ["--include-path-regex", "^/api/v1/operator/"],
            bearer: OPERATOR_TOKEN.to_owned(),
        },
    ];
    let mut summaries = Vec::new();
    let mut failed = Vec::new();
    for pass in &passes {
        println!("\n--- fuzz: {}", pass.name);
        let outcome = schemathesis(python, server.port, pass, &dir)?;
        if !outcome.passed {
            failed.push(pass.name);
        }
        summaries.push((pass.name, outcome.summary));
    }
    drop(server);

    println!("\nfuzz summary ({:.0}s):", started.elapsed().as_secs_f64());
    for (name, summary) in &summaries {
        println!("  {name}:");
        for line in summary {
            println!("    {line}");
        }
    }
    if !failed.is_empty() {
        bail!(
            "schemathesis found failures in: {} (server log: {})",
            failed.join(", "),
            log.display()
        );
    }
    Ok(())
}

/// Drops and recreates the fuzz database; returns its owner URL.
fn fresh_database(admin_url: &str) -> Result<String> {
    output_text(&mut services::psql(
        admin_url,
        &format!("drop database if exists {DATABASE} with (force)"),
    ))
    .context("dropping the fuzz database")?;
    output_text(&mut services::psql(
        admin_url,
        &format!("create database {DATABASE}"),
    ))
    .context("creating the fuzz database")?;
    with_database(admin_url, DATABASE)
}

/// `admin_url` with its database path replaced by `name` (query parameters kept).
fn with_database(admin_url: &str, name: &str) -> Result<String> {
    let (scheme, rest) = admin_url
        .split_once("://")
        .with_context(|| format!("{} is not a URL", services::redact(admin_url)))?;
    let (authority, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let query = tail.find('?').map_or("", |i| &tail[i..]);
    Ok(format!("{scheme}://{authority}/{name}{query}"))
}

fn sign_in(port: u16, email: &str) -> Result<String> {
    let body = format!("{{\"email\":\"{email}\",\"password\":\"{DEMO_PASSWORD}\"}}");
    let (status, answer) = http(
        port,
        "POST",
        "/api/v1/auth/login",
        &[("Content-Type", "application/json"), ("X-Tenant", "demo")],
        &body,
    )?;
    if status != 200 {
        bail!("signing in as {email} answered {status}: {answer}");
    }
    answer
        .split("\"access_token\":\"")
        .nth(1)
        .and_then(|after| after.split('"').next())
        .map(str::to_owned)
        .with_context(|| format!("no access_token in the login answer: {answer}"))
}

struct Outcome {
    passed: bool,
    /// schemathesis's closing summary: operations, test cases, failures.
    summary: Vec<String>,
}

fn schemathesis(python: &Path, port: u16, pass: &Pass, dir: &Path) -> Result<Outcome> {
    let schemathesis = python.with_file_name("schemathesis");
    let mut cmd = command(&schemathesis);
    cmd.arg("run")
        .arg(format!("http://127.0.0.1:{port}/api/v1/openapi.json"))
        .args(["--url", &format!("http://127.0.0.1:{port}")])
        .args(pass.filter)
        .args(["--checks", CHECKS])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", MAX_EXAMPLES])
        .args(["--seed", SEED])
        .args(["--generation-database", "none"])
        // One worker: with several threads, Hypothesis's lambda descriptions hit CPython 3.11's
        // non-thread-safe AST constructor ("AST constructor recursion depth mismatch").
        .args(["--workers", "1"])
        .args(["--request-timeout", "30"])
        .args(["--suppress-health-check", "all"])
        .arg("--no-color")
        .args(["--header", "X-Tenant: demo"])
        .arg(format!("--header=Authorization: Bearer {}", pass.bearer))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    // Keeps the run the same from one machine to the next: no local config, no telemetry.
    cmd.env("SCHEMATHESIS_TELEMETRY", "false")
        .env("SCHEMATHESIS_CONFIG_FILE", "/dev/null")
        .current_dir(dir);
    println!(
        "$ {} run … (seed {SEED}, {MAX_EXAMPLES} examples)",
        schemathesis.display()
    );
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {}", schemathesis.display()))?;
    let stdout = child.stdout.take().context("schemathesis stdout")?;
    let mut summary = Vec::new();
    let mut in_summary = false;
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        println!("{line}");
        let trimmed = line.trim();
        if trimmed.starts_with("API Operations:") {
            in_summary = true;
        }
        let counts = trimmed.starts_with("Tested:")
            || trimmed.contains(" generated")
            || trimmed.contains("failed")
            || trimmed.starts_with('❌');
        if in_summary && counts {
            summary.push(trimmed.to_owned());
        }
    }
    let status = child.wait()?;
    Ok(Outcome {
        passed: status.success(),
        summary,
    })
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_fuzz_database_replaces_the_admin_database() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "x").ok(),
            Some("postgres://postgres@127.0.0.1:5432/x".to_owned())
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "x").ok(),
            Some("postgres://u:p@h/x?sslmode=disable".to_owned())
        );
    }
}
