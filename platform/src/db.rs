//! Connections and migrations.
//!
//! Three roles, three purposes: the owner applies migrations (and nothing else); the application
//! role (`lms_app`) serves every request through [`TenantDb`]; the operator role (`lms_operator`,
//! BYPASSRLS) is confined to [`OperatorDb`], which only the operator API, signing-key management,
//! the job workers (claiming, leases, outcomes and schedules; a job's own work runs as the app
//! role) and the demo seeding use.

mod cursor;

pub use cursor::Cursor;

use std::pin::Pin;
use std::time::Duration;

use anyhow::Context;
use lms_tenants::{PooledTx, TenantDb};
use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool, Row};

use crate::config::DatabaseConfig;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

pub const APP_ROLE: &str = "lms_app";
pub const OPERATOR_ROLE: &str = "lms_operator";

/// The cross-tenant pool (role `lms_operator`, BYPASSRLS). Keep its users few and named.
#[derive(Clone)]
pub struct OperatorDb {
    pool: PgPool,
}

impl OperatorDb {
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Begins a cross-tenant transaction; like a tenant one, it is safe to drop at any point.
    #[allow(clippy::disallowed_methods)] // operator work is cross-tenant by definition
    pub async fn begin(&self) -> Result<PooledTx, sqlx::Error> {
        PooledTx::begin(&self.pool, None).await
    }
}

pub struct Databases {
    pub app: TenantDb,
    pub operator: OperatorDb,
}

/// Connection URLs after defaults are applied.
pub struct ResolvedUrls {
    pub owner: SecretString,
    pub app: SecretString,
    pub operator: SecretString,
    pub app_password: Option<SecretString>,
    pub operator_password: Option<SecretString>,
}

impl ResolvedUrls {
    pub fn new(config: &DatabaseConfig, owner: SecretString) -> anyhow::Result<Self> {
        let app = match &config.app_url {
            Some(url) => url.clone(),
            None => with_role(&owner, APP_ROLE, config.app_password.as_ref())?,
        };
        let operator = match &config.operator_url {
            Some(url) => url.clone(),
            None => with_role(&owner, OPERATOR_ROLE, config.operator_password.as_ref())?,
        };
        Ok(Self {
            owner,
            app,
            operator,
            app_password: config.app_password.clone(),
            operator_password: config.operator_password.clone(),
        })
    }
}

/// The owner URL with another role's credentials.
fn with_role(
    owner: &SecretString,
    role: &str,
    password: Option<&SecretString>,
) -> anyhow::Result<SecretString> {
    let mut url = url::Url::parse(owner.expose_secret()).context("DATABASE_URL is not a URL")?;
    url.set_username(role)
        .map_err(|()| anyhow::anyhow!("DATABASE_URL cannot carry a user name"))?;
    url.set_password(password.map(|p| p.expose_secret()))
        .map_err(|()| anyhow::anyhow!("DATABASE_URL cannot carry a password"))?;
    Ok(SecretString::from(url.to_string()))
}

/// Applies pending migrations as the owner, then sets the login roles' passwords when given.
pub async fn migrate(urls: &ResolvedUrls) -> anyhow::Result<()> {
    let options: PgConnectOptions = urls
        .owner
        .expose_secret()
        .parse()
        .context("DATABASE_URL is invalid")?;
    let mut conn = options
        .log_statements(tracing::log::LevelFilter::Debug)
        .connect()
        .await
        .context("connecting as the database owner")?;
    MIGRATOR
        .run(&mut conn)
        .await
        .context("applying migrations")?;
    for (role, password) in [
        (APP_ROLE, &urls.app_password),
        (OPERATOR_ROLE, &urls.operator_password),
    ] {
        if let Some(password) = password {
            set_role_password(&mut conn, role, password).await?;
        }
    }
    conn.close().await.ok();
    Ok(())
}

async fn set_role_password(
    conn: &mut PgConnection,
    role: &str,
    password: &SecretString,
) -> anyhow::Result<()> {
    // ALTER ROLE takes no bind parameters; quote_literal does the escaping server-side.
    let sql: String =
        sqlx::query_scalar("select format('alter role %I password %L', $1::text, $2::text)")
            .bind(role)
            .bind(password.expose_secret())
            .fetch_one(&mut *conn)
            .await?;
    sqlx::raw_sql(&sql)
        .execute(&mut *conn)
        .await
        .with_context(|| format!("setting the password of {role}"))?;
    Ok(())
}

pub async fn connect(urls: &ResolvedUrls, pool_size: u32) -> anyhow::Result<Databases> {
    let app = pool(&urls.app, pool_size)
        .await
        .context("connecting as lms_app")?;
    // The in-process job worker keeps one connection listening and claims, renews and
    // completes on up to three more; the operator API and key reloads share the rest.
    let operator = pool(&urls.operator, 6.max(pool_size / 4))
        .await
        .context("connecting as lms_operator")?;
    Ok(Databases {
        app: TenantDb::new(app),
        operator: OperatorDb { pool: operator },
    })
}

/// A connection idle for longer than this is checked (one round trip) before it is handed out;
/// one in steady use is not, as the query it is taken for is check enough (a broken one fails
/// that query and is dropped from the pool). The check also closes a connection found inside a
/// transaction block, which no code path should leave (see `PooledTx`): outside one, a
/// statement's transaction starts with it, so `now()` equals `statement_timestamp()`.
const CHECK_IDLE_AFTER: Duration = Duration::from_secs(1);

/// A pool that keeps all its connections open: a burst of requests after a quiet spell (a
/// class starting a quiz) finds them connected, with their server processes' caches and
/// prepared statements warm, instead of queueing while new ones are opened.
async fn pool(url: &SecretString, size: u32) -> anyhow::Result<PgPool> {
    let options: PgConnectOptions = url.expose_secret().parse()?;
    let options =
        options.log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500));
    Ok(PgPoolOptions::new()
        .max_connections(size)
        .min_connections(size)
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for > CHECK_IDLE_AFTER {
                    let outside = outside_transaction(conn).await?;
                    if !outside {
                        tracing::warn!("closing a pooled connection left inside a transaction");
                    }
                    return Ok(outside);
                }
                Ok(true)
            })
        })
        .connect_with(options)
        .await?)
}

/// Whether the session is outside any transaction block (one simple-protocol round trip). Boxed:
/// the pool's hook needs a future that is `Send` for every borrow of the connection.
fn outside_transaction(
    conn: &mut PgConnection,
) -> Pin<Box<dyn Future<Output = Result<bool, sqlx::Error>> + Send + '_>> {
    Box::pin(async move {
        // A plain string without arguments goes by the simple protocol: nothing is prepared.
        sqlx::Executor::fetch_one(conn, "select now() = statement_timestamp()")
            .await?
            .try_get(0)
    })
}

/// Whether every migration this binary knows is applied (readiness).
pub async fn migrations_applied(db: &TenantDb) -> Result<bool, sqlx::Error> {
    let expected: Vec<i64> = MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .map(|m| m.version)
        .collect();
    db.applied_migrations()
        .await
        .map(|applied| expected.iter().all(|v| applied.contains(v)))
}
