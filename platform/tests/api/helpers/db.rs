//! One database per test: created empty (the app migrates it) and dropped when the test ends.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::{Connection, PgConnection};
use uuid::Uuid;

/// Set to keep every test's database (and its data directory) for inspection.
pub const KEEP_ENV: &str = "LMS_TEST_KEEP_DB";

/// How long dropping a database may take before the test gives up on it (and says so).
const DROP_TIMEOUT: Duration = Duration::from_secs(30);

/// The PostgreSQL superuser URL the test command provides.
pub fn admin_url() -> String {
    std::env::var("LMS_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database of its own for one test, created empty; the app migrates it. Dropping the value
/// drops the database (and the data directory named after it) unless [`TestDb::keep`] was called
/// or `LMS_TEST_KEEP_DB` is set.
pub struct TestDb {
    pub name: String,
    pub owner_url: String,
    keep: AtomicBool,
}

impl TestDb {
    pub async fn create() -> Self {
        let name = format!("lms_test_{}", Uuid::now_v7().simple());
        let mut admin = PgConnection::connect(&admin_url())
            .await
            .expect("connect to the test PostgreSQL (LMS_TEST_DATABASE_URL)");
        sqlx::raw_sql(&format!("create database \"{name}\""))
            .execute(&mut admin)
            .await
            .expect("create test database");
        admin.close().await.ok();
        let mut url = url::Url::parse(&admin_url()).expect("LMS_TEST_DATABASE_URL is a URL");
        url.set_path(&name);
        Self {
            name,
            owner_url: url.to_string(),
            keep: AtomicBool::new(false),
        }
    }

    /// Keeps this database (and its data directory) after the test, for inspection.
    pub fn keep(&self) {
        self.keep.store(true, Ordering::Relaxed);
    }

    /// A superuser connection to this test's database (to inspect what the API cannot show).
    pub async fn superuser(&self) -> PgConnection {
        PgConnection::connect(&self.owner_url)
            .await
            .expect("superuser connection")
    }

    /// A connection to this test's database as the given login role (no password: trust auth).
    pub async fn connect_as(&self, role: &str) -> PgConnection {
        let mut url = url::Url::parse(&self.owner_url).expect("url");
        url.set_username(role).expect("user");
        url.set_password(None).expect("password");
        PgConnection::connect(url.as_str())
            .await
            .expect("role connection")
    }
}

impl Drop for TestDb {
    /// Drops the database from a thread of its own with its own runtime: the test's runtime may
    /// be single-threaded, shutting down or unwinding a panic. Never panics; a failure is only
    /// reported.
    fn drop(&mut self) {
        if self.keep.load(Ordering::Relaxed) || std::env::var_os(KEEP_ENV).is_some() {
            eprintln!("keeping test database {}", self.name);
            return;
        }
        let name = self.name.clone();
        let dropper = std::thread::Builder::new()
            .name("drop-test-db".to_owned())
            .spawn(move || drop_database(&name));
        let outcome = match dropper {
            Ok(thread) => thread
                .join()
                .unwrap_or_else(|_| Err("the dropping thread panicked".to_owned())),
            Err(e) => Err(format!("no thread to drop it: {e}")),
        };
        if let Err(e) = outcome {
            eprintln!("test database {} was not dropped: {e}", self.name);
        }
        std::fs::remove_dir_all(std::env::temp_dir().join(&self.name)).ok();
    }
}

fn drop_database(name: &str) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    runtime.block_on(async {
        // A connection the server's pool opens while the database is dropped can make one try
        // fail; the next one terminates it too.
        let dropped = async {
            let mut last = None;
            for _ in 0..3 {
                match try_drop(name).await {
                    Ok(()) => return Ok(()),
                    Err(e) => last = Some(e),
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(last.map_or_else(String::new, |e| e.to_string()))
        };
        tokio::time::timeout(DROP_TIMEOUT, dropped)
            .await
            .unwrap_or_else(|_| Err(format!("timed out after {DROP_TIMEOUT:?}")))
    })
}

async fn try_drop(name: &str) -> Result<(), sqlx::Error> {
    let mut admin = PgConnection::connect(&admin_url()).await?;
    sqlx::raw_sql(&format!("drop database if exists \"{name}\" with (force)"))
        .execute(&mut admin)
        .await?;
    admin.close().await
}
