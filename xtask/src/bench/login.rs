//! `cargo xtask bench login`: login throughput and latency of the release server.
//!
//! Builds the release binary, starts `lms serve --demo` on a free loopback port (its private
//! PostgreSQL cluster under `target/bench/`, rate limits off), drives `POST /api/v1/auth/login`
//! with wrk and prints requests per second, p50/p99 latency and logins per second per core.
//! argon2id (19 MiB, t=2) dominates the cost of a login by design.

use std::time::Instant;

use anyhow::{Context, Result, bail};

use super::server::{self, Launch, Server};
use super::wrk::{self, Report};
use crate::{command, output_text, root};

const PASSWORD: &str = "bench-password-0123";

pub struct Options {
    pub connections: u32,
    pub seconds: u32,
}

impl Options {
    pub fn parse(args: &[&str]) -> Result<Self> {
        let mut options = Self {
            connections: 32,
            seconds: 20,
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let value = it.next().with_context(|| format!("{arg} needs a value"))?;
            match *arg {
                "--connections" => options.connections = value.parse().context("--connections")?,
                "--seconds" => options.seconds = value.parse().context("--seconds")?,
                other => bail!("unknown option {other}"),
            }
        }
        Ok(options)
    }
}

pub fn run(options: &Options) -> Result<()> {
    wrk::ensure_installed()?;
    server::build_release()?;
    let data_dir = server::fresh_data_dir("lms")?;
    let log = root().join("target/bench/server.log");
    let _ = std::fs::remove_file(&log);
    let server = Server::start(&Launch {
        data_dir: &data_dir,
        demo_password: PASSWORD,
        pool_size: None,
        log: &log,
    })?;

    let script = root().join("target/bench/login.lua");
    std::fs::write(
        &script,
        format!(
            "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.headers[\"X-Tenant\"] = \"demo\"\n\
             wrk.body = '{{\"email\":\"learner1@demo.example\",\"password\":\"{PASSWORD}\"}}'\n\
             done = function(summary, latency, requests)\n  io.write(string.format(\"non2xx=%d\\n\", summary.errors.status))\nend\n"
        ),
    )?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let started = Instant::now();
    let text = output_text(command("wrk").args([
        "-t2",
        &format!("-c{}", options.connections),
        &format!("-d{}s", options.seconds),
        "--latency",
        "-s",
        &script.to_string_lossy(),
        &server.url("/api/v1/auth/login"),
    ]))?;
    drop(server);
    println!("{text}");
    let report = Report::parse(text)?;
    let rps = report.requests_per_second;
    println!(
        "== login benchmark ({cores} cores, {} connections, {:.0?})",
        options.connections,
        started.elapsed()
    );
    println!(
        "   throughput        {rps:.1} logins/s ({:.1} per core)",
        rps / cores as f64
    );
    println!(
        "   latency           p50 {}, p99 {}",
        report.p50, report.p99
    );
    println!(
        "   failed responses  {}",
        report.value("non2xx").unwrap_or("?")
    );
    Ok(())
}
