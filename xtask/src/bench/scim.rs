//! `cargo xtask bench scim`: SCIM user creations per second on the release server.
//!
//! Builds the release binary, starts `lms serve --demo` on a free loopback port (its private
//! PostgreSQL cluster under `target/bench/`, rate limits off), signs in as the demo tenant's
//! admin, creates a SCIM token, then drives `POST /scim/v2/Users` with wrk, each request a new
//! userName, and prints creations per second and p50/p99 latency. Each creation is one
//! transaction: the token check, the userName lookup, the account with its `user.created`
//! event and audit record, and the SCIM attributes.

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
            connections: 16,
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

/// The value of `"name":"…"` in a compact JSON answer (tokens and secrets hold no quotes or
/// escapes).
fn json_string(body: &str, name: &str) -> Option<String> {
    let start = body.find(&format!("\"{name}\":\""))? + name.len() + 4;
    let end = body[start..].find('"')?;
    Some(body[start..start + end].to_owned())
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

    let (status, session) = server::http(
        server.port,
        "POST",
        "/api/v1/auth/login",
        &[("Content-Type", "application/json"), ("X-Tenant", "demo")],
        &format!(r#"{{"email":"admin@demo.example","password":"{PASSWORD}"}}"#),
    )?;
    if status != 200 {
        bail!("the demo admin could not sign in ({status}): {session}");
    }
    let access = json_string(&session, "access_token").context("no access token")?;
    let (status, issued) = server::http(
        server.port,
        "POST",
        "/api/v1/scim/tokens",
        &[
            ("Content-Type", "application/json"),
            ("X-Tenant", "demo"),
            ("Authorization", &format!("Bearer {access}")),
        ],
        r#"{"description":"bench"}"#,
    )?;
    if status != 201 {
        bail!("no SCIM token ({status}): {issued}");
    }
    let secret = json_string(&issued, "secret").context("no SCIM secret")?;

    let script = root().join("target/bench/scim.lua");
    std::fs::write(
        &script,
        format!(
            "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/scim+json\"\n\
             wrk.headers[\"Authorization\"] = \"Bearer {secret}\"\n\
             local counter = 0\nlocal thread_id = 0\nlocal threads = {{}}\n\
             function setup(thread)\n  thread:set(\"id\", thread_id)\n  thread_id = thread_id + 1\nend\n\
             function request()\n  counter = counter + 1\n\
               local name = string.format(\"bench-%d-%d@demo.example\", id, counter)\n\
               return wrk.format(nil, nil, nil, '{{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"userName\":\"' .. name .. '\",\"name\":{{\"givenName\":\"Bench\",\"familyName\":\"User\"}},\"emails\":[{{\"value\":\"' .. name .. '\",\"type\":\"work\",\"primary\":true}}],\"active\":true}}')\nend\n\
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
        &server.url("/scim/v2/Users"),
    ]))?;
    drop(server);
    println!("{text}");
    let report = Report::parse(text)?;
    let rps = report.requests_per_second;
    println!(
        "== SCIM provisioning benchmark ({cores} cores, {} connections, {:.0?})",
        options.connections,
        started.elapsed()
    );
    println!(
        "   throughput        {rps:.1} user creations/s ({:.1} per core)",
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
