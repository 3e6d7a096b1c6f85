//! A real S3 peer for tests: `moto_server` from the test-peers venv on a free loopback port.

#![allow(dead_code)] // a shared helper: each test uses part of it

use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lms_platform::config::S3Config;
use secrecy::SecretString;

/// moto does not check signatures; any credentials do.
pub const ACCESS_KEY_ID: &str = "testing";
pub const SECRET_ACCESS_KEY: &str = "testing";
pub const REGION: &str = "us-east-1";

/// moto refuses anonymous object reads but never checks a signature: any SigV4-shaped
/// `Authorization` makes a raw request (one that bypasses the storage code) an authorized one.
const RAW_AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, \
     SignedHeaders=host, Signature=0000000000000000000000000000000000000000000000000000000000000000";

/// A running moto server; killed when dropped.
pub struct MotoServer {
    /// `http://127.0.0.1:<port>`
    pub endpoint: String,
    child: Child,
}

impl MotoServer {
    /// Starts `$LMS_TEST_PYTHON -m moto.server` and waits (up to 30 s) until it answers.
    #[track_caller]
    pub fn start() -> Self {
        let python = std::env::var("LMS_TEST_PYTHON").unwrap_or_else(|_| {
            panic!(
                "LMS_TEST_PYTHON is not set (the python of the test-peers venv): run `cargo xtask test`"
            )
        });
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("pick a free port")
            .port();
        let child = Command::new(&python)
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            // Its request log shows beside a failed test's output.
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start moto_server with {python}: {e}"));
        // The guard exists from here on, so a failure below still kills the child.
        let mut server = Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            child,
        };
        server.wait_until_listening(SocketAddr::from(([127, 0, 0, 1], port)));
        server
    }

    #[track_caller]
    fn wait_until_listening(&mut self, addr: SocketAddr) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("moto_server exited ({status}) before listening on {addr} (see its stderr)");
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not listen on {addr} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Creates a bucket.
    pub async fn create_bucket(&self, name: &str) {
        let response = reqwest::Client::new()
            .put(format!("{}/{name}", self.endpoint))
            .header(reqwest::header::AUTHORIZATION, RAW_AUTHORIZATION)
            .send()
            .await
            .expect("CreateBucket request to moto");
        assert!(
            response.status().is_success(),
            "CreateBucket {name}: {}",
            response.status()
        );
    }

    /// The raw object as S3 serves it (to check what the storage wrote, bypassing it).
    pub async fn get_object(&self, bucket: &str, key: &str) -> reqwest::Response {
        reqwest::Client::new()
            .get(format!("{}/{bucket}/{key}", self.endpoint))
            .header(reqwest::header::AUTHORIZATION, RAW_AUTHORIZATION)
            .send()
            .await
            .expect("GetObject request to moto")
    }

    /// Settings for `bucket` on this server, path-style, with static credentials.
    pub fn s3_config(&self, bucket: &str) -> S3Config {
        S3Config {
            bucket: bucket.to_owned(),
            region: REGION.to_owned(),
            endpoint: Some(self.endpoint.clone()),
            access_key_id: Some(SecretString::from(ACCESS_KEY_ID)),
            secret_access_key: Some(SecretString::from(SECRET_ACCESS_KEY)),
            path_style: true,
            prefix: None,
        }
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}
