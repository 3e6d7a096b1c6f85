//! An integration install's settings: what a tenant admin configured for it (its settings, which
//! satisfy the active version's config schema; its secrets, sealed at rest and never shown again;
//! the hosts its HTTP requests may reach; the event types it receives), and its key-value store.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use lms_tenants::{TenantId, TenantTx};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::model::{Manifest, PluginId, PluginName, World};
use super::{config_schema, service, store};
use crate::audit::{Audit, AuditActor};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::secrets_at_rest::SealingKeys;
use crate::state::AppState;
use crate::users::UserId;

/// Most secrets per install.
const MAX_SECRETS: usize = 20;
/// Longest secret value, in bytes.
const MAX_SECRET_BYTES: usize = 4096;
/// Most allowed hosts per install.
const MAX_HOSTS: usize = 20;

/// An install's settings as admins see them.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = plugins::InstallSettings)]
pub struct InstallSettings {
    /// The settings; they satisfy the active version's `config_schema`.
    #[schema(value_type = Object)]
    pub settings: Value,
    /// The names of the secrets saved; their values are never returned.
    pub secrets: Vec<String>,
    /// Hosts (`name` or `name:port`) the plugin's HTTP requests may reach.
    pub allowed_hosts: Vec<String>,
    /// The event types delivered to the plugin.
    pub event_types: Vec<String>,
    pub updated_by: Option<UserId>,
    pub updated_at: DateTime<Utc>,
}

/// A change of an install's settings; what is left out is kept.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = plugins::InstallSettingsUpdate)]
pub struct InstallSettingsUpdate {
    /// Replaces the settings; must satisfy the active version's `config_schema`.
    #[schema(value_type = Option<Object>)]
    pub settings: Option<Value>,
    /// Secrets to save (a string, at most 4096 bytes) or remove (`null`), by name
    /// (`[a-z][a-z0-9_]*`, at most 64 characters); at most 20 in all.
    #[serde(default)]
    pub secrets: BTreeMap<String, Option<String>>,
    /// Replaces the allowed hosts: at most 20 host names or addresses, each with an optional
    /// `:port`.
    pub allowed_hosts: Option<Vec<String>>,
    /// Replaces the event types delivered (names from the event catalog).
    pub event_types: Option<Vec<String>>,
}

/// The row as stored.
#[derive(sqlx::FromRow)]
pub(super) struct SettingsRow {
    pub settings: Value,
    pub secrets: Value,
    pub allowed_hosts: Vec<String>,
    pub event_types: Vec<String>,
    pub updated_by: Option<UserId>,
    pub updated_at: DateTime<Utc>,
}

impl SettingsRow {
    fn to_view(&self) -> InstallSettings {
        InstallSettings {
            settings: self.settings.clone(),
            secrets: self
                .secrets
                .as_object()
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default(),
            allowed_hosts: self.allowed_hosts.clone(),
            event_types: self.event_types.clone(),
            updated_by: self.updated_by,
            updated_at: self.updated_at,
        }
    }

    /// The secrets, opened. A secret that no longer opens (its key was retired and dropped) is
    /// left out, as if it had not been saved.
    pub fn open_secrets(
        &self,
        sealing: &SealingKeys,
        tenant: TenantId,
        plugin: PluginId,
    ) -> BTreeMap<String, String> {
        let Some(secrets) = self.secrets.as_object() else {
            return BTreeMap::new();
        };
        secrets
            .iter()
            .filter_map(|(name, sealed)| {
                let sealed = STANDARD.decode(sealed.as_str()?).ok()?;
                let plain = sealing
                    .open(&sealed, secret_context(tenant, plugin, name).as_bytes())
                    .ok()?;
                Some((name.clone(), String::from_utf8(plain).ok()?))
            })
            .collect()
    }
}

fn secret_context(tenant: TenantId, plugin: PluginId, name: &str) -> String {
    format!("plugin-secret:{tenant}:{plugin}:{name}")
}

/// Reads the install's settings row.
pub(super) async fn row(
    tx: &mut TenantTx,
    plugin: PluginId,
) -> Result<Option<SettingsRow>, sqlx::Error> {
    sqlx::query_as(
        "select settings, secrets, allowed_hosts, event_types, updated_by, updated_at
         from plugin_install_settings where tenant_id = $1 and plugin_id = $2",
    )
    .bind(tx.tenant_id())
    .bind(plugin)
    .fetch_optional(&mut **tx)
    .await
}

/// Creates an integration's settings row with its manifest's defaults, if it has none.
pub(super) async fn ensure_defaults(
    tx: &mut TenantTx,
    plugin: PluginId,
    manifest: &Manifest,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into plugin_install_settings (tenant_id, plugin_id, allowed_hosts, event_types)
         values ($1, $2, $3, $4) on conflict (tenant_id, plugin_id) do nothing",
    )
    .bind(tx.tenant_id())
    .bind(plugin)
    .bind(&manifest.http_hosts)
    .bind(&manifest.events)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

async fn save(
    tx: &mut TenantTx,
    plugin: PluginId,
    row: &SettingsRow,
    by: UserId,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into plugin_install_settings
             (tenant_id, plugin_id, settings, secrets, allowed_hosts, event_types, updated_by)
         values ($1, $2, $3, $4, $5, $6, $7)
         on conflict (tenant_id, plugin_id) do update set settings = excluded.settings,
             secrets = excluded.secrets, allowed_hosts = excluded.allowed_hosts,
             event_types = excluded.event_types, updated_by = excluded.updated_by",
    )
    .bind(tx.tenant_id())
    .bind(plugin)
    .bind(&row.settings)
    .bind(&row.secrets)
    .bind(&row.allowed_hosts)
    .bind(&row.event_types)
    .bind(by)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// The install's key-value entries.
pub(super) async fn key_values(
    tx: &mut TenantTx,
    plugin: PluginId,
) -> Result<BTreeMap<String, Vec<u8>>, sqlx::Error> {
    let rows: Vec<(String, Vec<u8>)> =
        sqlx::query_as("select key, value from plugin_kv where tenant_id = $1 and plugin_id = $2")
            .bind(tx.tenant_id())
            .bind(plugin)
            .fetch_all(&mut **tx)
            .await?;
    Ok(rows.into_iter().collect())
}

/// Replaces the install's key-value entries with `entries`.
pub(super) async fn replace_key_values(
    tx: &mut TenantTx,
    plugin: PluginId,
    entries: BTreeMap<String, Vec<u8>>,
) -> Result<(), sqlx::Error> {
    sqlx::query("delete from plugin_kv where tenant_id = $1 and plugin_id = $2")
        .bind(tx.tenant_id())
        .bind(plugin)
        .execute(&mut **tx)
        .await?;
    let (keys, values): (Vec<String>, Vec<Vec<u8>>) = entries.into_iter().unzip();
    sqlx::query(
        "insert into plugin_kv (tenant_id, plugin_id, key, value)
         select $1, $2, k, v from unnest($3::text[], $4::bytea[]) as t(k, v)",
    )
    .bind(tx.tenant_id())
    .bind(plugin)
    .bind(keys)
    .bind(values)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// The integration `name` with its active version's manifest; graders have no settings.
async fn integration(
    tx: &mut TenantTx,
    name: &PluginName,
) -> ApiResult<(store::PluginRow, Manifest)> {
    let plugin = store::plugin_by_name(tx, name, true)
        .await?
        .ok_or(ApiError::NotFound)?;
    if plugin.world != World::Integration {
        return Err(ApiError::Conflict {
            code: "not_an_integration",
            detail: format!(
                "{name} is a {} plugin; only integrations have settings",
                plugin.world
            ),
        });
    }
    let Some(active) = plugin.active_version_id else {
        return Err(ApiError::Conflict {
            code: crate::error::codes::NOT_INSTALLED,
            detail: format!("{name} has no installed version"),
        });
    };
    let version = store::version_by_id(tx, active)
        .await?
        .ok_or(ApiError::NotFound)?;
    let manifest = service::detail(&version)?.manifest;
    Ok((plugin, manifest))
}

/// The install's settings (tenant admins).
pub async fn get(
    state: &AppState,
    caller: &Caller,
    name: &PluginName,
) -> ApiResult<InstallSettings> {
    let (mut tx, _) = service::begin_admin(state, caller).await?;
    let (plugin, manifest) = integration(&mut tx, name).await?;
    ensure_defaults(&mut tx, plugin.id, &manifest).await?;
    let row = row(&mut tx, plugin.id).await?.ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(row.to_view())
}

/// Changes the install's settings (tenant admins), audited without secret values.
pub async fn update(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    name: &PluginName,
    update: InstallSettingsUpdate,
) -> ApiResult<InstallSettings> {
    let (mut tx, actor) = service::begin_admin(state, caller).await?;
    let (plugin, manifest) = integration(&mut tx, name).await?;
    ensure_defaults(&mut tx, plugin.id, &manifest).await?;
    let mut row = row(&mut tx, plugin.id).await?.ok_or(ApiError::NotFound)?;
    let mut errors = Vec::new();

    if let Some(settings) = update.settings {
        let validator = config_schema::compile(&manifest.config_schema)
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("stored config schema: {e}")))?;
        if !settings.is_object() {
            errors.push(FieldError::new("settings", "invalid_settings", "an object"));
        }
        errors.extend(
            config_schema::violations(&validator, &settings)
                .into_iter()
                .map(|mut e| {
                    e.field = format!("settings.{}", e.field);
                    e
                }),
        );
        row.settings = settings;
    }
    if let Some(hosts) = update.allowed_hosts {
        match parse_hosts(&hosts) {
            Ok(hosts) => row.allowed_hosts = hosts,
            Err(e) => errors.push(e),
        }
    }
    if let Some(types) = update.event_types {
        match parse_event_types(&types) {
            Ok(types) => row.event_types = types,
            Err(e) => errors.push(e),
        }
    }
    let mut secrets = row.secrets.as_object().cloned().unwrap_or_default();
    let mut changed_secrets = Vec::new();
    for (secret, value) in update.secrets {
        if !secret_name_ok(&secret) {
            errors.push(FieldError::new(
                format!("secrets.{secret}"),
                "invalid_name",
                "[a-z][a-z0-9_]*, at most 64 characters",
            ));
            continue;
        }
        match value {
            None => {
                secrets.remove(&secret);
            }
            Some(value) if value.len() > MAX_SECRET_BYTES || value.contains('\0') => {
                errors.push(FieldError::new(
                    format!("secrets.{secret}"),
                    "invalid_secret",
                    format!("at most {MAX_SECRET_BYTES} bytes of text without NUL"),
                ));
            }
            Some(value) => {
                let sealed = state.sealing.seal(
                    value.as_bytes(),
                    secret_context(caller.tenant.id, plugin.id, &secret).as_bytes(),
                );
                secrets.insert(secret.clone(), Value::String(STANDARD.encode(sealed)));
            }
        }
        changed_secrets.push(secret);
    }
    if secrets.len() > MAX_SECRETS {
        errors.push(FieldError::new(
            "secrets",
            "too_many_secrets",
            format!("at most {MAX_SECRETS} secrets"),
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    row.secrets = Value::Object(secrets);
    save(&mut tx, plugin.id, &row, actor.user_id).await?;
    Audit::new(
        AuditActor::User(actor.user_id),
        "plugin.settings_updated",
        "plugin",
        name.as_str(),
    )
    .from_ip(ip)
    .details(json!({
        "allowed_hosts": row.allowed_hosts,
        "event_types": row.event_types,
        "secrets_changed": changed_secrets,
    }))
    .record(&mut tx)
    .await?;
    let row = self::row(&mut tx, plugin.id)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(row.to_view())
}

fn secret_name_ok(name: &str) -> bool {
    let bytes = name.as_bytes();
    (1..=64).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
}

/// Host names or addresses, each with an optional port, lowercased and deduplicated.
pub(super) fn parse_hosts(raw: &[String]) -> Result<Vec<String>, FieldError> {
    let invalid = |host: &str| {
        FieldError::new(
            "allowed_hosts",
            "invalid_host",
            format!("{host:?} is not a host name or address with an optional :port"),
        )
    };
    let mut hosts = BTreeSet::new();
    for host in raw {
        let host = host.trim().to_ascii_lowercase();
        // A URL of the host alone parses exactly the authorities a request may use.
        let parsed = url::Url::parse(&format!("https://{host}/")).map_err(|_| invalid(&host))?;
        let authority = match (parsed.host_str(), parsed.port()) {
            (Some(h), Some(port)) => format!("{h}:{port}"),
            (Some(h), None) => h.to_owned(),
            _ => return Err(invalid(&host)),
        };
        if authority != host || host.len() > 260 || !parsed.username().is_empty() {
            return Err(invalid(&host));
        }
        hosts.insert(host);
    }
    if hosts.len() > MAX_HOSTS {
        return Err(FieldError::new(
            "allowed_hosts",
            "too_many_hosts",
            format!("at most {MAX_HOSTS} hosts"),
        ));
    }
    Ok(hosts.into_iter().collect())
}

/// Event types of the catalog, deduplicated.
pub(super) fn parse_event_types(raw: &[String]) -> Result<Vec<String>, FieldError> {
    let mut types = BTreeSet::new();
    for kind in raw {
        if !crate::events::TYPES.contains(&kind.as_str()) {
            return Err(FieldError::new(
                "event_types",
                "unknown_event_type",
                format!("{kind:?} is not an event type of the catalog"),
            ));
        }
        types.insert(kind.clone());
    }
    Ok(types.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_authorities_without_paths_or_credentials() {
        let ok = parse_hosts(&[
            "Discord.com".into(),
            "127.0.0.1:8443".into(),
            "discord.com".into(),
        ]);
        assert_eq!(
            ok.map_err(|e| e.message),
            Ok(vec!["127.0.0.1:8443".to_owned(), "discord.com".to_owned()])
        );
        for bad in [
            "discord.com/api",
            "user@discord.com",
            "",
            "a b",
            "discord.com:99999",
        ] {
            assert!(parse_hosts(&[bad.into()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn event_types_come_from_the_catalog() {
        assert!(parse_event_types(&["course.completed".into()]).is_ok());
        assert!(parse_event_types(&["course.exploded".into()]).is_err());
    }

    #[test]
    fn secret_names_are_snake_case() {
        assert!(secret_name_ok("bot_token"));
        assert!(!secret_name_ok("Bot-Token"));
        assert!(!secret_name_ok(""));
    }
}
