//! The release server under test: built once, started on a free loopback port with its private
//! PostgreSQL cluster under a data folder, stopped with SIGINT (which stops the cluster too).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{cargo, command, root, run};

/// `cargo build --release -p lms-platform --bin lms`.
pub fn build_release() -> Result<()> {
    run(cargo().args([
        "build",
        "--release",
        "--locked",
        "-p",
        "lms-platform",
        "--bin",
        "lms",
    ]))
}

/// An empty data folder under `target/bench/`, so every run measures the same thing.
pub fn fresh_data_dir(name: &str) -> Result<PathBuf> {
    let data_dir = root().join("target/bench").join(name);
    if data_dir.exists() {
        std::fs::remove_dir_all(&data_dir)
            .with_context(|| format!("removing {}", data_dir.display()))?;
    }
    std::fs::create_dir_all(&data_dir)?;
    Ok(data_dir)
}

/// How to start the server: `lms serve --demo` with rate limits off and warnings-only logs.
pub struct Launch<'a> {
    pub data_dir: &'a Path,
    pub demo_password: &'a str,
    /// `LMS_DB_POOL_SIZE`; `None` keeps the server's default.
    pub pool_size: Option<u32>,
    /// The server's output goes here (appended).
    pub log: &'a Path,
}

/// A running release server; stopped with SIGINT (so it stops its private cluster) when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
}

impl Server {
    pub fn start(launch: &Launch<'_>) -> Result<Self> {
        Self::start_binary(launch, &root().join("target/release/lms"), |_| {})
    }

    /// [`Server::start`] with another `lms` binary and settings of the caller's (`configure`).
    pub fn start_binary(
        launch: &Launch<'_>,
        binary: &Path,
        configure: impl FnOnce(&mut Command),
    ) -> Result<Self> {
        let port = free_port()?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(launch.log)
            .with_context(|| format!("opening {}", launch.log.display()))?;
        let mut cmd = command(binary);
        cmd.args(["serve", "--demo", "--bind", &format!("127.0.0.1:{port}")])
            .env("LMS_DATA_DIR", launch.data_dir)
            .env("LMS_DEMO_PASSWORD", launch.demo_password)
            .env("LMS_RATE_LIMIT_PER_SECOND", "0")
            .env("LMS_AUTH_RATE_LIMIT_PER_SECOND", "0")
            .env("RUST_LOG", "warn")
            .stdout(log.try_clone()?)
            .stderr(log);
        if let Some(size) = launch.pool_size {
            cmd.env("LMS_DB_POOL_SIZE", size.to_string());
        }
        configure(&mut cmd);
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let server = Server { child, port };
        // A first start initialises a cluster and builds plugins' artifacts: a bound, not a target.
        wait_ready(port, Duration::from_secs(180), launch.log)?;
        Ok(server)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = command("kill")
            .args(["-INT", &self.child.id().to_string()])
            .stdout(Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

pub fn wait_ready(port: u16, timeout: Duration, log: &Path) -> Result<()> {
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
    bail!("the server did not become ready; see {}", log.display())
}

/// One HTTP/1.1 request on a fresh loopback connection; returns the status and the body.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).context("connecting to the server")?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes())?;
    let mut reply = String::new();
    stream
        .read_to_string(&mut reply)
        .context("reading the answer")?;
    let status = reply
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("no HTTP status in {reply:?}"))?;
    let body = reply
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}
