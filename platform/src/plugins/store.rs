//! All SQL on the registry's tables, on the caller's tenant-scoped transaction.

use chrono::{DateTime, Utc};
use lms_tenants::TenantTx;
use serde_json::Value;
use uuid::Uuid;

use super::model::Capability;
use super::model::{
    Plugin, PluginId, PluginName, PluginVersionSummary, PublisherKey, PublisherKeyId, VersionId,
    World,
};
use crate::users::UserId;

pub const NAME_TAKEN: &str = "plugins_name_key";
pub const VERSION_TAKEN: &str = "plugin_versions_version_key";
pub const KEY_TAKEN: &str = "plugin_publisher_keys_key_key";

#[derive(sqlx::FromRow)]
pub struct PluginRow {
    pub id: PluginId,
    pub name: String,
    pub world: World,
    pub enabled: bool,
    pub active_version_id: Option<VersionId>,
    pub active_version: Option<String>,
    pub version_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl PluginRow {
    pub fn to_plugin(&self) -> Plugin {
        Plugin {
            id: self.id,
            name: self.name.clone(),
            world: self.world,
            enabled: self.enabled,
            active_version: self.active_version.clone(),
            version_count: self.version_count,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

const PLUGIN_COLUMNS: &str = "p.id, p.name, p.world, p.enabled, p.active_version_id,
    (select v.version from plugin_versions v
     where v.tenant_id = p.tenant_id and v.id = p.active_version_id) as active_version,
    (select count(*) from plugin_versions v
     where v.tenant_id = p.tenant_id and v.plugin_id = p.id) as version_count,
    p.created_at, p.updated_at";

pub async fn plugin_by_name(
    tx: &mut TenantTx,
    name: &PluginName,
    lock: bool,
) -> Result<Option<PluginRow>, sqlx::Error> {
    let lock = if lock { " for update of p" } else { "" };
    sqlx::query_as(&format!(
        "select {PLUGIN_COLUMNS} from plugins p where p.tenant_id = $1 and p.name = $2{lock}"
    ))
    .bind(tx.tenant_id())
    .bind(name.as_str())
    .fetch_optional(&mut **tx)
    .await
}

pub async fn plugin_by_id(
    tx: &mut TenantTx,
    id: PluginId,
) -> Result<Option<PluginRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {PLUGIN_COLUMNS} from plugins p where p.tenant_id = $1 and p.id = $2"
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

pub async fn plugins(
    tx: &mut TenantTx,
    cursor: Option<Uuid>,
    limit: i64,
) -> Result<Vec<PluginRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {PLUGIN_COLUMNS} from plugins p
         where p.tenant_id = $1 and ($2::uuid is null or p.id < $2)
         order by p.id desc limit $3"
    ))
    .bind(tx.tenant_id())
    .bind(cursor)
    .bind(limit + 1)
    .fetch_all(&mut **tx)
    .await
}

pub async fn insert_plugin(
    tx: &mut TenantTx,
    id: PluginId,
    name: &PluginName,
    world: World,
) -> Result<(), sqlx::Error> {
    sqlx::query("insert into plugins (tenant_id, id, name, world) values ($1, $2, $3, $4)")
        .bind(tx.tenant_id())
        .bind(id)
        .bind(name.as_str())
        .bind(world.as_str())
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

pub async fn set_enabled(
    tx: &mut TenantTx,
    id: PluginId,
    enabled: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query("update plugins set enabled = $3 where tenant_id = $1 and id = $2")
        .bind(tx.tenant_id())
        .bind(id)
        .bind(enabled)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

pub async fn set_active_version(
    tx: &mut TenantTx,
    id: PluginId,
    version: VersionId,
) -> Result<(), sqlx::Error> {
    sqlx::query("update plugins set active_version_id = $3 where tenant_id = $1 and id = $2")
        .bind(tx.tenant_id())
        .bind(id)
        .bind(version)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

/// Stores component bytes once per content; true when they were new.
pub async fn insert_component(
    tx: &mut TenantTx,
    sha256: &[u8; 32],
    bytes: &[u8],
) -> Result<bool, sqlx::Error> {
    let size = i32::try_from(bytes.len()).unwrap_or(i32::MAX);
    let done = sqlx::query(
        "insert into plugin_components (tenant_id, sha256, bytes, size_bytes)
         values ($1, $2, $3, $4) on conflict (tenant_id, sha256) do nothing",
    )
    .bind(tx.tenant_id())
    .bind(&sha256[..])
    .bind(bytes)
    .bind(size)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn component(tx: &mut TenantTx, sha256: &[u8]) -> Result<Option<Vec<u8>>, sqlx::Error> {
    sqlx::query_scalar("select bytes from plugin_components where tenant_id = $1 and sha256 = $2")
        .bind(tx.tenant_id())
        .bind(sha256)
        .fetch_optional(&mut **tx)
        .await
}

/// A version as stored.
#[derive(sqlx::FromRow)]
pub struct VersionRow {
    pub id: VersionId,
    pub version: String,
    pub manifest: Value,
    pub capabilities: Vec<Capability>,
    pub sha256: Vec<u8>,
    pub size_bytes: i32,
    pub wit_version: String,
    pub source: String,
    pub signed_by: Option<PublisherKeyId>,
    pub uploaded_by: UserId,
    pub uploaded_at: DateTime<Utc>,
    pub installed_at: Option<DateTime<Utc>>,
    pub granted_capabilities: Option<Vec<Capability>>,
    pub granted_by: Option<UserId>,
    pub active: bool,
}

impl VersionRow {
    pub fn to_summary(&self) -> PluginVersionSummary {
        PluginVersionSummary {
            id: self.id,
            version: self.version.clone(),
            sha256: hex::encode(&self.sha256),
            size_bytes: self.size_bytes,
            wit_version: self.wit_version.clone(),
            source: self.source.clone(),
            signed_by: self.signed_by,
            uploaded_by: self.uploaded_by,
            uploaded_at: self.uploaded_at,
            active: self.active,
            installed_at: self.installed_at,
        }
    }
}

const VERSION_COLUMNS: &str = "v.id, v.plugin_id, v.version, v.manifest, v.capabilities, v.sha256,
    v.size_bytes, v.wit_version, v.source, v.signed_by, v.uploaded_by, v.uploaded_at,
    v.installed_at, v.granted_capabilities, v.granted_by,
    coalesce(p.active_version_id = v.id, false) as active";

pub async fn version(
    tx: &mut TenantTx,
    plugin: PluginId,
    version: &str,
) -> Result<Option<VersionRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {VERSION_COLUMNS} from plugin_versions v
         join plugins p on p.tenant_id = v.tenant_id and p.id = v.plugin_id
         where v.tenant_id = $1 and v.plugin_id = $2 and v.version = $3"
    ))
    .bind(tx.tenant_id())
    .bind(plugin)
    .bind(version)
    .fetch_optional(&mut **tx)
    .await
}

pub async fn version_by_id(
    tx: &mut TenantTx,
    id: VersionId,
) -> Result<Option<VersionRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {VERSION_COLUMNS} from plugin_versions v
         join plugins p on p.tenant_id = v.tenant_id and p.id = v.plugin_id
         where v.tenant_id = $1 and v.id = $2"
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

/// Every version of a plugin, newest upload first.
pub async fn versions(tx: &mut TenantTx, plugin: PluginId) -> Result<Vec<VersionRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {VERSION_COLUMNS} from plugin_versions v
         join plugins p on p.tenant_id = v.tenant_id and p.id = v.plugin_id
         where v.tenant_id = $1 and v.plugin_id = $2 order by v.id desc"
    ))
    .bind(tx.tenant_id())
    .bind(plugin)
    .fetch_all(&mut **tx)
    .await
}

pub struct NewVersion<'a> {
    pub id: VersionId,
    pub plugin: PluginId,
    pub version: &'a str,
    pub manifest: &'a Value,
    pub capabilities: Vec<String>,
    pub sha256: &'a [u8; 32],
    pub size_bytes: i32,
    pub wit_version: &'a str,
    pub source: &'static str,
    pub signed_by: Option<PublisherKeyId>,
    pub uploaded_by: UserId,
}

pub async fn insert_version(tx: &mut TenantTx, new: &NewVersion<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into plugin_versions (tenant_id, id, plugin_id, version, manifest, capabilities,
             sha256, size_bytes, wit_version, source, signed_by, uploaded_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(tx.tenant_id())
    .bind(new.id)
    .bind(new.plugin)
    .bind(new.version)
    .bind(new.manifest)
    .bind(&new.capabilities)
    .bind(&new.sha256[..])
    .bind(new.size_bytes)
    .bind(new.wit_version)
    .bind(new.source)
    .bind(new.signed_by)
    .bind(new.uploaded_by)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn mark_installed(
    tx: &mut TenantTx,
    version: VersionId,
    granted: Vec<String>,
    by: UserId,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update plugin_versions set installed_at = now(), granted_capabilities = $3, granted_by = $4
         where tenant_id = $1 and id = $2",
    )
    .bind(tx.tenant_id())
    .bind(version)
    .bind(granted)
    .bind(by)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

#[derive(sqlx::FromRow)]
pub struct KeyRow {
    pub id: PublisherKeyId,
    pub name: String,
    pub public_key: Vec<u8>,
    pub added_by: UserId,
    pub created_at: DateTime<Utc>,
}

impl KeyRow {
    pub fn to_key(&self) -> PublisherKey {
        use base64::Engine;
        PublisherKey {
            id: self.id,
            name: self.name.clone(),
            public_key: base64::engine::general_purpose::STANDARD.encode(&self.public_key),
            added_by: self.added_by,
            created_at: self.created_at,
        }
    }
}

pub async fn insert_key(
    tx: &mut TenantTx,
    id: PublisherKeyId,
    name: &str,
    public_key: &[u8; 32],
    by: UserId,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into plugin_publisher_keys (tenant_id, id, name, public_key, added_by)
         values ($1, $2, $3, $4, $5)",
    )
    .bind(tx.tenant_id())
    .bind(id)
    .bind(name)
    .bind(&public_key[..])
    .bind(by)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn key(tx: &mut TenantTx, id: PublisherKeyId) -> Result<Option<KeyRow>, sqlx::Error> {
    sqlx::query_as(
        "select id, name, public_key, added_by, created_at from plugin_publisher_keys
         where tenant_id = $1 and id = $2",
    )
    .bind(tx.tenant_id())
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

pub async fn keys(tx: &mut TenantTx) -> Result<Vec<KeyRow>, sqlx::Error> {
    sqlx::query_as(
        "select id, name, public_key, added_by, created_at from plugin_publisher_keys
         where tenant_id = $1 order by id desc",
    )
    .bind(tx.tenant_id())
    .fetch_all(&mut **tx)
    .await
}

pub async fn delete_key(tx: &mut TenantTx, id: PublisherKeyId) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("delete from plugin_publisher_keys where tenant_id = $1 and id = $2")
        .bind(tx.tenant_id())
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn require_signatures(tx: &mut TenantTx) -> Result<bool, sqlx::Error> {
    let value: Option<bool> = sqlx::query_scalar(
        "select require_signatures from plugin_registry_settings where tenant_id = $1",
    )
    .bind(tx.tenant_id())
    .fetch_optional(&mut **tx)
    .await?;
    Ok(value.unwrap_or(false))
}

pub async fn set_require_signatures(tx: &mut TenantTx, value: bool) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into plugin_registry_settings (tenant_id, require_signatures) values ($1, $2)
         on conflict (tenant_id) do update set require_signatures = excluded.require_signatures",
    )
    .bind(tx.tenant_id())
    .bind(value)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}
