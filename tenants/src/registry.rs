//! Writes to the tenant registry. Only the platform operator changes it, on a connection of the
//! operator role (the application role has no privilege to insert tenants or domains).

use sqlx::PgConnection;
use uuid::Uuid;

use crate::model::TenantRow;
use crate::{Branding, DomainName, Slug, Tenant, TenantId, TenantSettings, TenantStatus};

/// Constraint names a caller may turn into client errors.
pub const SLUG_TAKEN: &str = "tenants_slug_key";
pub const DOMAIN_TAKEN: &str = "tenant_domains_pkey";

pub struct NewTenant<'a> {
    pub slug: &'a Slug,
    pub display_name: &'a str,
    pub branding: &'a Branding,
    pub settings: &'a TenantSettings,
}

pub async fn create(conn: &mut PgConnection, new: &NewTenant<'_>) -> Result<Tenant, sqlx::Error> {
    let id = TenantId::new();
    sqlx::query("insert into tenants (id, slug, display_name, branding, settings) values ($1, $2, $3, $4, $5)")
        .bind(id)
        .bind(new.slug.as_str())
        .bind(new.display_name)
        .bind(sqlx::types::Json(new.branding))
        .bind(sqlx::types::Json(new.settings))
        .execute(&mut *conn)
        .await?;
    by_id(conn, id).await?.ok_or(sqlx::Error::RowNotFound)
}

pub async fn by_id(conn: &mut PgConnection, id: TenantId) -> Result<Option<Tenant>, sqlx::Error> {
    let sql = format!(
        "select {} from tenants t where t.id = $1",
        TenantRow::COLUMNS
    );
    let row: Option<TenantRow> = sqlx::query_as(&sql).bind(id).fetch_optional(conn).await?;
    Ok(row.map(Tenant::from))
}

pub async fn by_slug(conn: &mut PgConnection, slug: &Slug) -> Result<Option<Tenant>, sqlx::Error> {
    let sql = format!(
        "select {} from tenants t where t.slug = $1",
        TenantRow::COLUMNS
    );
    let row: Option<TenantRow> = sqlx::query_as(&sql)
        .bind(slug.as_str())
        .fetch_optional(conn)
        .await?;
    Ok(row.map(Tenant::from))
}

/// Tenants newest first, strictly older than `before` when given.
pub async fn list(
    conn: &mut PgConnection,
    status: Option<TenantStatus>,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Tenant>, sqlx::Error> {
    let sql = format!(
        "select {} from tenants t where ($1::uuid is null or t.id < $1) and ($2::text is null or t.status = $2)
         order by t.id desc limit $3",
        TenantRow::COLUMNS
    );
    let rows: Vec<TenantRow> = sqlx::query_as(&sql)
        .bind(before)
        .bind(status.map(TenantStatus::as_str))
        .bind(limit)
        .fetch_all(conn)
        .await?;
    Ok(rows.into_iter().map(Tenant::from).collect())
}

/// Sets the status; `None` if the tenant does not exist.
pub async fn set_status(
    conn: &mut PgConnection,
    id: TenantId,
    status: TenantStatus,
) -> Result<Option<Tenant>, sqlx::Error> {
    let updated = sqlx::query("update tenants set status = $2 where id = $1")
        .bind(id)
        .bind(status.as_str())
        .execute(&mut *conn)
        .await?;
    if updated.rows_affected() == 0 {
        return Ok(None);
    }
    by_id(conn, id).await
}

pub async fn add_domain(
    conn: &mut PgConnection,
    id: TenantId,
    domain: &DomainName,
) -> Result<(), sqlx::Error> {
    sqlx::query("insert into tenant_domains (domain, tenant_id) values ($1, $2)")
        .bind(domain.as_str())
        .bind(id)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Removes a domain from a tenant; false if that tenant did not have it.
pub async fn remove_domain(
    conn: &mut PgConnection,
    id: TenantId,
    domain: &DomainName,
) -> Result<bool, sqlx::Error> {
    let deleted = sqlx::query("delete from tenant_domains where domain = $1 and tenant_id = $2")
        .bind(domain.as_str())
        .bind(id)
        .execute(conn)
        .await?;
    Ok(deleted.rows_affected() > 0)
}
