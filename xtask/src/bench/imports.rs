//! `cargo xtask bench imports`: how long bulk CSV imports take on the release server.
//!
//! Builds the release binary (`--debug`: the debug one), starts `lms serve --demo` on a free loopback port (a fresh
//! private PostgreSQL cluster under `target/bench/`, so the demo tenant is created anew), signs
//! in its tenant admin and uploads a users CSV of N (10,000) new users with a cohort, as a dry
//! run, for real, and again (every row unchanged); then an enrollments CSV of N rows enrolling
//! them into the demo's published courses. Each import is polled until it ends; the time from
//! upload to its end is printed with its counts.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::server::{self, Launch, Server, http};
use crate::{cargo, root, run as run_cargo};

const PASSWORD: &str = "bench-password-0123";
const COURSES: [&str; 3] = [
    "web-security-fundamentals",
    "python-for-data-analysis",
    "leading-remote-teams",
];

pub struct Options {
    pub rows: u32,
    /// Run the debug build instead of the release one (quicker to build, slower to run).
    pub debug: bool,
}

impl Options {
    pub fn parse(args: &[&str]) -> Result<Self> {
        let mut options = Self {
            rows: 10_000,
            debug: false,
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            if *arg == "--debug" {
                options.debug = true;
                continue;
            }
            let value = it.next().with_context(|| format!("{arg} needs a value"))?;
            match *arg {
                "--rows" => options.rows = value.parse().context("--rows")?,
                other => bail!("unknown option {other}"),
            }
        }
        if options.rows == 0 || options.rows > 10_000 {
            bail!("--rows is 1 to 10000 (an import's limit)");
        }
        Ok(options)
    }
}

/// The string value of `"key":"…"` in a JSON text (ours: no escapes in the values read here).
fn json_string(text: &str, key: &str) -> Option<String> {
    let start = text.find(&format!("\"{key}\":\""))? + key.len() + 4;
    let end = text[start..].find('"')?;
    Some(text[start..start + end].to_owned())
}

/// The number value of `"key":…` in a JSON text.
fn json_number(text: &str, key: &str) -> Option<i64> {
    let start = text.find(&format!("\"{key}\":"))? + key.len() + 3;
    let digits: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

struct Client {
    port: u16,
    token: String,
}

impl Client {
    fn headers(&self) -> [(&str, String); 2] {
        [
            ("X-Tenant", "demo".to_owned()),
            ("Authorization", format!("Bearer {}", self.token)),
        ]
    }

    fn send(
        &self,
        method: &str,
        path: &str,
        extra: &[(&str, &str)],
        body: &str,
    ) -> Result<(u16, String)> {
        let owned = self.headers();
        let mut headers: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
        headers.extend_from_slice(extra);
        http(self.port, method, path, &headers, body)
    }

    /// Uploads `csv` and polls the import until it ends; returns the time taken and its JSON.
    fn import(&self, kind: &str, dry_run: bool, csv: &str) -> Result<(Duration, String)> {
        let started = Instant::now();
        let path = format!("/api/v1/imports/{kind}?dry_run={dry_run}");
        let (status, body) = self.send("POST", &path, &[("Content-Type", "text/csv")], csv)?;
        if status != 202 {
            bail!("uploading the {kind} file answered {status}: {body}");
        }
        let id = json_string(&body, "id").context("the import has no id")?;
        loop {
            std::thread::sleep(Duration::from_millis(100));
            let (status, body) = self.send("GET", &format!("/api/v1/imports/{id}"), &[], "")?;
            if status != 200 {
                bail!("reading the import answered {status}: {body}");
            }
            match json_string(&body, "status").as_deref() {
                Some("succeeded") => return Ok((started.elapsed(), body)),
                Some("failed") => bail!("the import failed: {body}"),
                _ if started.elapsed() > Duration::from_secs(600) => {
                    bail!("the import did not end within 10 minutes: {body}")
                }
                _ => {}
            }
        }
    }
}

fn report(label: &str, rows: u32, took: Duration, body: &str) {
    let count = |key| json_number(body, key).unwrap_or(-1);
    println!(
        "   {label:<24} {:>7.2} s  {:>7.0} rows/s   created {} updated {} unchanged {} \
         deactivated {} failed {}",
        took.as_secs_f64(),
        f64::from(rows) / took.as_secs_f64(),
        count("created"),
        count("updated"),
        count("unchanged"),
        count("deactivated"),
        count("failed"),
    );
}

/// Where cargo puts what it builds (`CARGO_TARGET_DIR`, else `target/`).
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}

pub fn run(options: &Options) -> Result<()> {
    let binary = if options.debug {
        run_cargo(cargo().args(["build", "--locked", "-p", "lms-platform", "--bin", "lms"]))?;
        target_dir().join("debug/lms")
    } else {
        server::build_release()?;
        target_dir().join("release/lms")
    };
    let data_dir = server::fresh_data_dir("imports")?;
    let log = root().join("target/bench/imports-server.log");
    let _ = std::fs::remove_file(&log);
    let server = Server::start_binary(
        &Launch {
            data_dir: &data_dir,
            demo_password: PASSWORD,
            pool_size: None,
            log: &log,
        },
        &binary,
        |_| {},
    )?;
    let (status, body) = http(
        server.port,
        "POST",
        "/api/v1/auth/login",
        &[("X-Tenant", "demo"), ("Content-Type", "application/json")],
        &format!("{{\"email\":\"admin@demo.example\",\"password\":\"{PASSWORD}\"}}"),
    )?;
    if status != 200 {
        bail!("signing in the demo admin answered {status}: {body}");
    }
    let client = Client {
        port: server.port,
        token: json_string(&body, "access_token").context("no access token")?,
    };
    let (status, body) = client.send(
        "POST",
        "/api/v1/cohorts",
        &[("Content-Type", "application/json")],
        "{\"name\":\"Imported\"}",
    )?;
    if status != 201 {
        bail!("creating the cohort answered {status}: {body}");
    }

    let mut users = String::from("email,name,roles,cohort,status\n");
    let mut enrollments = String::from("email,course\n");
    for i in 0..options.rows {
        let _ = writeln!(
            users,
            "bench.user{i}@imports.example,Bench User {i},learner,Imported,active"
        );
        let course = COURSES[i as usize % COURSES.len()];
        let _ = writeln!(enrollments, "bench.user{i}@imports.example,{course}");
    }

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "== bulk import benchmark ({cores} cores, {} build, {} rows per file, {} KiB users file)",
        if options.debug { "debug" } else { "release" },
        options.rows,
        users.len() / 1024
    );
    let (took, body) = client.import("users", true, &users)?;
    report("users, dry run", options.rows, took, &body);
    let (took, body) = client.import("users", false, &users)?;
    report("users", options.rows, took, &body);
    let (took, body) = client.import("users", false, &users)?;
    report("users, again", options.rows, took, &body);
    let (took, body) = client.import("enrollments", true, &enrollments)?;
    report("enrollments, dry run", options.rows, took, &body);
    let (took, body) = client.import("enrollments", false, &enrollments)?;
    report("enrollments", options.rows, took, &body);
    let (took, body) = client.import("enrollments", false, &enrollments)?;
    report("enrollments, again", options.rows, took, &body);
    drop(server);
    Ok(())
}
