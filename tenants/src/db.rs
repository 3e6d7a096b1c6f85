//! The tenant-scoped database context.

use std::borrow::Cow;
use std::ops::{Deref, DerefMut};

use sqlx::pool::PoolConnection;
use sqlx::postgres::PgTransactionManager;
use sqlx::{PgConnection, PgPool, Postgres, TransactionManager};

use crate::TenantId;

/// The application's connection pool (role `lms_app`: no superuser, no BYPASSRLS, owns nothing).
///
/// The pool is private: the only ways to use it are [`TenantDb::begin`], which scopes a
/// transaction to one tenant, and the registry reads of [`crate::TenantResolver`].
#[derive(Clone)]
pub struct TenantDb {
    pool: PgPool,
}

impl TenantDb {
    /// Wraps the application role's pool.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Begins a transaction in which row-level security confines every statement to `tenant`.
    ///
    /// `app.tenant_id` is set with `is_local = true`, so it ends with the transaction and a pooled
    /// connection (or PgBouncer in transaction mode) never carries it into another request.
    ///
    /// `BEGIN` and the setting travel in one simple-protocol round trip. The tenant id is a UUID
    /// formatted by us (hex digits and dashes), so inlining it cannot inject SQL.
    #[allow(clippy::disallowed_methods)] // the one sanctioned place that opens a tenant transaction
    pub async fn begin(&self, tenant: TenantId) -> Result<TenantTx, sqlx::Error> {
        let tx = PooledTx::begin(
            &self.pool,
            Some(format!(
                "begin; select set_config('app.tenant_id', '{}', true)",
                tenant.as_uuid().as_hyphenated()
            )),
        )
        .await?;
        Ok(TenantTx { tx, tenant })
    }

    /// Whether the database answers (for readiness probes); touches no tenant table.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("select 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    /// Versions of the applied migrations (readiness probes); touches no tenant table.
    pub async fn applied_migrations(&self) -> Result<Vec<i64>, sqlx::Error> {
        sqlx::query_scalar("select version from _sqlx_migrations where success")
            .fetch_all(&self.pool)
            .await
    }

    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// A transaction bound to one tenant. Stores take `&mut TenantTx` and run their statements on it;
/// the service that began it commits it. Dropping it without commit rolls back, and dropping it
/// at any point of a cancelled request never returns its connection to the pool in a transaction.
pub struct TenantTx {
    tx: PooledTx,
    tenant: TenantId,
}

impl TenantTx {
    /// The tenant every statement in this transaction is confined to.
    pub fn tenant_id(&self) -> TenantId {
        self.tenant
    }

    /// Commits the transaction.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

impl Deref for TenantTx {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        &self.tx
    }
}

impl DerefMut for TenantTx {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.tx
    }
}

/// A transaction on its own pooled connection that is safe to drop at any await point.
///
/// A future dropped while `BEGIN` or `COMMIT` is in flight leaves the session in a state the
/// client cannot know (sqlx counts a transaction as begun only once `BEGIN` has answered, so
/// its own drop-rollback does nothing then): such a connection is closed, and the server rolls
/// back, instead of being reused. Once `BEGIN` has answered, a drop (an error returned with `?`,
/// or a statement cancelled in flight) queues `ROLLBACK`, which the pool sends, after draining
/// any reply still due, before it hands the connection out again: no reconnect on error paths.
///
/// Open transactions through [`TenantDb::begin`] or the operator pool's `begin`, not this.
pub struct PooledTx {
    conn: PoolConnection<Postgres>,
    state: TxState,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum TxState {
    /// `BEGIN` or `COMMIT` was sent and has not answered (or failed): close, never reuse.
    Unsettled,
    /// Begun and counted by sqlx: a `ROLLBACK` queued on drop ends it.
    Open,
    /// Committed: the connection is idle, outside any transaction.
    Finished,
}

impl PooledTx {
    /// Takes a connection from `pool` and begins a transaction with `statement` (`BEGIN` when
    /// `None`), which may carry further statements in the same simple-protocol round trip.
    pub async fn begin(pool: &PgPool, statement: Option<String>) -> Result<Self, sqlx::Error> {
        let conn = pool.acquire().await?;
        let mut tx = Self {
            conn,
            state: TxState::Unsettled,
        };
        PgTransactionManager::begin(&mut tx.conn, statement.map(Cow::Owned)).await?;
        tx.state = TxState::Open;
        Ok(tx)
    }

    /// Commits the transaction. If this fails or is cancelled, the connection is closed.
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        self.state = TxState::Unsettled;
        PgTransactionManager::commit(&mut self.conn).await?;
        self.state = TxState::Finished;
        Ok(())
    }
}

impl Drop for PooledTx {
    fn drop(&mut self) {
        match self.state {
            TxState::Finished => {}
            // Depth 0 here would mean a statement ended the transaction behind sqlx's back.
            TxState::Open if PgTransactionManager::get_transaction_depth(&self.conn) == 1 => {
                PgTransactionManager::start_rollback(&mut self.conn);
            }
            TxState::Open | TxState::Unsettled => self.conn.close_on_drop(),
        }
    }
}

impl Deref for PooledTx {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        &self.conn
    }
}

impl DerefMut for PooledTx {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.conn
    }
}

/// Updates the current tenant's own name, branding and settings. Row-level security permits the
/// application role to update only the tenant of the transaction, and only these columns.
pub async fn update_profile(
    tx: &mut TenantTx,
    display_name: Option<&str>,
    branding: Option<&serde_json::Value>,
    settings: Option<&serde_json::Value>,
) -> Result<(), sqlx::Error> {
    let tenant = tx.tenant_id();
    sqlx::query(
        "update tenants set display_name = coalesce($2, display_name), branding = coalesce($3, branding),
                settings = coalesce($4, settings)
         where id = $1",
    )
    .bind(tenant)
    .bind(display_name)
    .bind(branding)
    .bind(settings)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}
