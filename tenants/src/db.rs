//! The tenant-scoped database context.

use std::ops::{Deref, DerefMut};

use sqlx::{PgConnection, PgPool, Postgres, Transaction};

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
    #[allow(clippy::disallowed_methods)] // the one sanctioned place that opens a transaction
    pub async fn begin(&self, tenant: TenantId) -> Result<TenantTx, sqlx::Error> {
        let tx = self
            .pool
            .begin_with(format!(
                "begin; select set_config('app.tenant_id', '{}', true)",
                tenant.as_uuid().as_hyphenated()
            ))
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
/// the service that began it commits it. Dropping it without commit rolls back.
pub struct TenantTx {
    tx: Transaction<'static, Postgres>,
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
