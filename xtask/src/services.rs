//! Local services the tests talk to: PostgreSQL and Redis.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{command, output_text, run, succeeds};

/// The admin URL used when `LMS_TEST_DATABASE_URL` is not set.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The test database admin URL: `LMS_TEST_DATABASE_URL` or the default.
pub fn database_url() -> String {
    std::env::var("LMS_TEST_DATABASE_URL")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string())
}

/// A `psql` invocation against `url`: no psqlrc, never prompts for a
/// password, unaligned tuples-only output, stops on the first error.
pub fn psql(url: &str, sql: &str) -> Command {
    let mut cmd = command("psql");
    cmd.env("PGCONNECT_TIMEOUT", "5")
        .args(["-X", "-w", "-q", "-At", "-v", "ON_ERROR_STOP=1"])
        .arg(format!("--dbname={url}"))
        .args(["-c", sql]);
    cmd
}

fn postgres_answers(url: &str) -> bool {
    output_text(&mut psql(url, "select 1")).is_ok_and(|out| out.trim() == "1")
}

/// Hides the password of a URL like `postgres://user:secret@host/db` (also
/// inside a longer argument such as `--dbname=postgres://...`).
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_string();
    };
    match rest[..at].find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &url[..scheme_end],
            &rest[..colon],
            &rest[at..]
        ),
        None => url.to_string(),
    }
}

/// Starts a stopped local PostgreSQL: every cluster named `main` under
/// /etc/postgresql, then `service postgresql start` as a fallback.
fn start_local_postgres(url: &str) {
    let mut versions: Vec<String> = std::fs::read_dir("/etc/postgresql")
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .filter(|e| e.path().join("main").is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    for version in &versions {
        let mut cmd = command("pg_ctlcluster");
        cmd.args(["--skip-systemctl-redirect", version, "main", "start"]);
        // Errors are expected here (e.g. already running, not installed).
        let _ = run(&mut cmd);
    }
    if versions.is_empty() || !wait_for(Duration::from_secs(5), || postgres_answers(url)) {
        let mut cmd = command("service");
        cmd.args(["postgresql", "start"]);
        let _ = run(&mut cmd);
    }
}

fn wait_for(timeout: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if ready() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

const ROLES_SQL: &str = "\
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'lms_app') THEN
    CREATE ROLE lms_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'lms_operator') THEN
    CREATE ROLE lms_operator LOGIN NOSUPERUSER BYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT;
  END IF;
END
$$;
ALTER ROLE lms_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT;
ALTER ROLE lms_operator LOGIN NOSUPERUSER BYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT;
";

/// Step 1: PostgreSQL answers, the roles exist, leftover test databases are
/// gone. Returns the admin URL.
pub fn postgres() -> Result<String> {
    let url = database_url();
    let shown = redact(&url);
    println!("admin URL: {shown}");

    if !succeeds(command("psql").arg("--version")) {
        bail!(
            "`psql` not found: install the PostgreSQL client (Debian: apt-get install postgresql-client)"
        );
    }

    if postgres_answers(&url) {
        println!("PostgreSQL answers");
    } else {
        println!("PostgreSQL does not answer; trying to start the local server");
        start_local_postgres(&url);
        if !wait_for(Duration::from_secs(30), || postgres_answers(&url)) {
            // Show psql's own complaint.
            let why = output_text(&mut psql(&url, "select 1"))
                .err()
                .map(|e| format!("{e:#}"))
                .unwrap_or_default();
            bail!(
                "PostgreSQL at {shown} does not answer after 30 s.\n\
                 Start it (e.g. `pg_ctlcluster <version> main start` or `service postgresql start`), \
                 or point LMS_TEST_DATABASE_URL at a server whose superuser can create roles and databases.\n\
                 {why}"
            );
        }
        println!("PostgreSQL answers");
    }

    output_text(&mut psql(&url, ROLES_SQL))
        .context("creating the roles lms_app and lms_operator")?;
    println!("roles lms_app and lms_operator are in place");

    let leftovers = output_text(&mut psql(
        &url,
        r"select datname from pg_database where datname like 'lms\_test\_%' order by 1",
    ))
    .context("listing leftover test databases")?;
    let leftovers: Vec<&str> = leftovers
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    for name in &leftovers {
        let sql = format!(
            "drop database if exists \"{}\" with (force)",
            name.replace('"', "\"\"")
        );
        output_text(&mut psql(&url, &sql)).with_context(|| format!("dropping database {name}"))?;
    }
    println!("dropped {} leftover test database(s)", leftovers.len());
    Ok(url)
}

const REDIS_ADDR: &str = "127.0.0.1:6379";

/// Sends `PING` over RESP and expects `+PONG`.
fn redis_answers() -> bool {
    let ping = || -> std::io::Result<bool> {
        let addr: SocketAddr = REDIS_ADDR.parse().map_err(std::io::Error::other)?;
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        stream.set_write_timeout(Some(Duration::from_secs(2)))?;
        stream.write_all(b"PING\r\n")?;
        let mut buf = [0_u8; 64];
        let n = stream.read(&mut buf)?;
        Ok(buf[..n].starts_with(b"+PONG"))
    };
    ping().unwrap_or(false)
}

/// Step 2: Redis answers on 127.0.0.1:6379, or a warning says why not.
/// Nothing requires Redis yet, so this never fails.
pub fn redis() -> Result<()> {
    if redis_answers() {
        println!("Redis answers on {REDIS_ADDR}");
        return Ok(());
    }
    println!("Redis does not answer on {REDIS_ADDR}; starting redis-server");
    let mut cmd = command("redis-server");
    // It keeps nothing on disk; `--dir` only keeps a stray SAVE out of the repo.
    cmd.arg("--dir").arg(std::env::temp_dir());
    cmd.args([
        "--daemonize",
        "yes",
        "--bind",
        "127.0.0.1",
        "--port",
        "6379",
        "--save",
        "",
        "--appendonly",
        "no",
    ]);
    match run(&mut cmd) {
        Ok(()) if wait_for(Duration::from_secs(10), redis_answers) => {
            println!("Redis answers on {REDIS_ADDR}");
        }
        Ok(()) => println!("warning: redis-server started but does not answer on {REDIS_ADDR}"),
        Err(err) => println!(
            "warning: could not start Redis ({err:#}); continuing, nothing needs it yet \
             (Debian: apt-get install redis-server)"
        ),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redacts_password() {
        assert_eq!(
            redact("postgres://postgres:s3cret@127.0.0.1:5432/postgres"),
            "postgres://postgres:***@127.0.0.1:5432/postgres"
        );
        assert_eq!(
            redact("postgres://postgres@127.0.0.1:5432/postgres"),
            "postgres://postgres@127.0.0.1:5432/postgres"
        );
        assert_eq!(
            redact("host=/var/run/postgresql"),
            "host=/var/run/postgresql"
        );
    }
}
