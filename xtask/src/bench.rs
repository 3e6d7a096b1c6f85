//! `cargo xtask bench login`: login throughput and latency of the release server.
//!
//! Builds the release binary, starts `lms serve --demo` on a free loopback port (its private
//! PostgreSQL cluster under `target/bench/`, rate limits off), drives `POST /api/v1/auth/login`
//! with wrk (Debian package `wrk`, installed on demand when running as root) and prints requests
//! per second, p50/p99 latency and logins per second per core. argon2id (19 MiB, t=2) dominates
//! the cost of a login by design.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{cargo, command, output_text, root, run, succeeds};

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

pub fn login(options: &Options) -> Result<()> {
    ensure_wrk()?;
    run(cargo().args([
        "build",
        "--release",
        "--locked",
        "-p",
        "lms-platform",
        "--bin",
        "lms",
    ]))?;
    let port = free_port()?;
    // A fresh cluster each run, so every run measures the same thing.
    let data_dir = root().join("target/bench/lms");
    if data_dir.exists() {
        std::fs::remove_dir_all(&data_dir)
            .with_context(|| format!("removing {}", data_dir.display()))?;
    }
    std::fs::create_dir_all(&data_dir)?;
    let log = std::fs::File::create(root().join("target/bench/server.log"))?;
    let server = command(root().join("target/release/lms"))
        .args(["serve", "--demo", "--bind", &format!("127.0.0.1:{port}")])
        .env("LMS_DATA_DIR", &data_dir)
        .env("LMS_DEMO_PASSWORD", PASSWORD)
        .env("LMS_RATE_LIMIT_PER_SECOND", "0")
        .env("LMS_AUTH_RATE_LIMIT_PER_SECOND", "0")
        .env("RUST_LOG", "warn")
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("starting the release server")?;
    let server = Server(server);
    wait_ready(port, Duration::from_secs(120))?;

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
    let report = output_text(command("wrk").args([
        "-t2",
        &format!("-c{}", options.connections),
        &format!("-d{}s", options.seconds),
        "--latency",
        "-s",
        &script.to_string_lossy(),
        &format!("http://127.0.0.1:{port}/api/v1/auth/login"),
    ]))?;
    drop(server);
    println!("{report}");
    let rps = field(&report, "Requests/sec:").context("wrk printed no Requests/sec")?;
    let rps: f64 = rps.parse().context("Requests/sec")?;
    let p50 = percentile(&report, "50%").unwrap_or_default();
    let p99 = percentile(&report, "99%").unwrap_or_default();
    let non2xx = report
        .lines()
        .find_map(|l| l.strip_prefix("non2xx="))
        .unwrap_or("?");
    println!(
        "== login benchmark ({cores} cores, {} connections, {:.0?})",
        options.connections,
        started.elapsed()
    );
    println!(
        "   throughput        {rps:.1} logins/s ({:.1} per core)",
        rps / cores as f64
    );
    println!("   latency           p50 {p50}, p99 {p99}");
    println!("   failed responses  {non2xx}");
    Ok(())
}

fn field<'a>(report: &'a str, label: &str) -> Option<&'a str> {
    report
        .lines()
        .find_map(|l| l.trim().strip_prefix(label))
        .map(str::trim)
}

fn percentile(report: &str, label: &str) -> Option<String> {
    let after = report.split("Latency Distribution").nth(1)?;
    after.lines().find_map(|l| {
        let l = l.trim();
        l.strip_prefix(label).map(|v| v.trim().to_owned())
    })
}

fn ensure_wrk() -> Result<()> {
    if succeeds(command("wrk").arg("--version"))
        || command("which")
            .arg("wrk")
            .output()
            .is_ok_and(|o| o.status.success())
    {
        return Ok(());
    }
    println!("wrk is not installed; installing the Debian package");
    run(command("apt-get")
        .args(["install", "-y", "--no-install-recommends", "wrk"])
        .env("DEBIAN_FRONTEND", "noninteractive"))
    .context("installing wrk (apt-get install wrk)")
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn wait_ready(port: u16, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = stream
                .write_all(b"GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
            let mut reply = String::new();
            let _ = stream.read_to_string(&mut reply);
            if reply.starts_with("HTTP/1.1 200") {
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    bail!("the server did not become ready; see target/bench/server.log")
}

/// Stops the server with SIGINT (so it stops its private cluster) when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = command("kill")
            .args(["-INT", &self.0.id().to_string()])
            .stdout(Stdio::null())
            .status();
        let _ = self.0.wait();
    }
}
