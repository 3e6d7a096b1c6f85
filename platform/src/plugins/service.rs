//! Registry rules. Tenant admins upload versions (validated, hashed, optionally signature-checked),
//! install them with an explicit capability grant, enable, disable and roll back; every change is
//! audited. Nobody else may touch the registry (403).

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;

use lms_plugin_host::{InstalledPlugin, PluginError, PluginHost};
use lms_tenants::TenantTx;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::model::{
    Capability, CapabilityGrant, Manifest, Plugin, PluginId, PluginName, PluginVersionDetail,
    PluginVersionSummary, PublisherKey, PublisherKeyId, RegistrySettings, SemVer, VersionId, World,
    capabilities_from_db, capabilities_to_db,
};
use super::signature::{self, SignatureError};
use super::{catalog, host_id, host_tenant, host_version, store};
use crate::audit::{Audit, AuditActor};
use crate::auth::{Actor, Caller};
use crate::db::Cursor;
use crate::error::{ApiError, ApiResult, OnConstraint, codes};
use crate::http::Page;
use crate::state::AppState;
use crate::users::Role;

/// A detached signature sent with an upload.
pub struct SignatureInput {
    pub key_id: PublisherKeyId,
    /// Base64 of the 64-byte Ed25519 signature over the component's SHA-256 digest.
    pub signature: String,
}

/// Where a version came from.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Upload,
    Catalog,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Self::Upload => "upload",
            Self::Catalog => "catalog",
        }
    }
}

pub(super) async fn begin_admin(state: &AppState, caller: &Caller) -> ApiResult<(TenantTx, Actor)> {
    let (tx, actor) = caller.begin(state).await?;
    if !actor.roles.contains(Role::TenantAdmin) {
        return Err(ApiError::Forbidden {
            code: codes::FORBIDDEN,
            detail: "only tenant admins manage plugins",
        });
    }
    Ok((tx, actor))
}

fn audit(actor: &Actor, ip: IpAddr, action: &'static str, target: &str) -> Audit {
    Audit::new(AuditActor::User(actor.user_id), action, "plugin", target).from_ip(ip)
}

fn version_conflict(name: &PluginName, version: &str) -> ApiError {
    ApiError::Plugin(PluginError::Rejected {
        reason: lms_plugin_host::RejectReason::VersionConflict(format!("{name}@{version}")),
    })
}

/// The host's capabilities among `capabilities` (those the host has interfaces for).
pub(super) fn host_capabilities<'a>(
    capabilities: impl IntoIterator<Item = &'a Capability>,
) -> Vec<lms_plugin_host::Capability> {
    capabilities
        .into_iter()
        .filter_map(|c| lms_plugin_host::Capability::from_name(c.as_str()))
        .collect()
}

/// Validates and compiles the component for `tenant`, its imports checked against the
/// capabilities its manifest declares. The host bounds the compile (a child process under a
/// CPU, memory and time budget, few at once and one per tenant) and compiles on the blocking
/// pool.
pub(super) async fn compile(
    host: &Arc<PluginHost>,
    tenant: lms_tenants::TenantId,
    bytes: &[u8],
    manifest: &Manifest,
) -> ApiResult<InstalledPlugin> {
    let declared = host_capabilities(&manifest.capabilities);
    let tenant = host_tenant(tenant);
    match manifest.world {
        World::Grader => host.validate_grader(&tenant, bytes, &declared).await,
        World::Integration => host.validate_integration(&tenant, bytes, &declared).await,
    }
    .map_err(ApiError::Plugin)
}

/// Puts a stored version into the in-memory host (after upload, or on first use after a
/// restart) with the capabilities it may use. Compilation is shared by SHA-256, so this is
/// cheap when the bytes were seen before.
#[allow(clippy::too_many_arguments)]
pub(super) async fn load_into_host(
    host: &Arc<PluginHost>,
    tenant: lms_tenants::TenantId,
    world: World,
    name: &str,
    version: &str,
    bytes: Arc<Vec<u8>>,
    capabilities: &[lms_plugin_host::Capability],
) -> ApiResult<()> {
    let (id, version) = (host_id(tenant, name), host_version(version));
    let tenant = host_tenant(tenant);
    match world {
        World::Grader => {
            host.install_grader(&tenant, id, version, &bytes, capabilities)
                .await
        }
        World::Integration => {
            host.install_integration(&tenant, id, version, &bytes, capabilities)
                .await
        }
    }
    .map(|_| ())
    .map_err(ApiError::Plugin)
}

async fn check_signature(
    tx: &mut TenantTx,
    signature: Option<&SignatureInput>,
    digest: &[u8; 32],
) -> ApiResult<Option<PublisherKeyId>> {
    let Some(input) = signature else {
        if store::require_signatures(tx).await? {
            return Err(ApiError::Unprocessable {
                code: "signature_required",
                detail: "this registry accepts only components signed by a trusted publisher key"
                    .into(),
            });
        }
        return Ok(None);
    };
    let untrusted = || ApiError::Unprocessable {
        code: "untrusted_publisher_key",
        detail: "the signature names no trusted publisher key of this registry".into(),
    };
    let row = store::key(tx, input.key_id).await?.ok_or_else(untrusted)?;
    let bytes: [u8; 32] = row
        .public_key
        .as_slice()
        .try_into()
        .map_err(|_| untrusted())?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes).map_err(|_| untrusted())?;
    signature::verify(&key, digest, &input.signature).map_err(|e| ApiError::Unprocessable {
        code: match e {
            SignatureError::Malformed => "malformed_signature",
            SignatureError::Mismatch => "invalid_signature",
        },
        detail: e.to_string(),
    })?;
    Ok(Some(input.key_id))
}

pub(super) fn detail(row: &store::VersionRow) -> ApiResult<PluginVersionDetail> {
    let manifest: Manifest = serde_json::from_value(row.manifest.clone())
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("stored manifest unreadable: {e}")))?;
    Ok(PluginVersionDetail {
        summary: row.to_summary(),
        manifest,
        capabilities: CapabilityGrant {
            requested: capabilities_from_db(&row.capabilities)
                .into_iter()
                .collect(),
            granted: row
                .granted_capabilities
                .as_deref()
                .map(|g| capabilities_from_db(g).into_iter().collect()),
            granted_by: row.granted_by,
            granted_at: row.installed_at,
        },
    })
}

/// Adds a version to the registry (immutable: the same name and version with other bytes is 409,
/// with the same bytes it answers the stored version). Returns whether it was new.
pub async fn upload(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    manifest: Manifest,
    component: Vec<u8>,
    signature: Option<SignatureInput>,
) -> ApiResult<(bool, PluginVersionDetail)> {
    let (mut tx, _) = begin_admin(state, caller).await?;
    manifest.check()?;
    let digest: [u8; 32] = Sha256::digest(&component).into();
    let signed_by = check_signature(&mut tx, signature.as_ref(), &digest).await?;
    if let Some(existing) = existing_version(&mut tx, &manifest).await? {
        return same_or_conflict(&manifest, existing, &digest);
    }
    // Compile without holding a connection.
    tx.commit().await?;
    let component = Arc::new(component);
    let info = compile(&state.plugins.host, caller.tenant.id, &component, &manifest).await?;
    let (created, row) = store_version(
        state,
        caller,
        ip,
        &manifest,
        &component,
        &info,
        Source::Upload,
        signed_by,
    )
    .await?;
    load_into_host(
        &state.plugins.host,
        caller.tenant.id,
        manifest.world,
        manifest.name.as_str(),
        &row.version,
        component,
        &host_capabilities(&manifest.capabilities),
    )
    .await?;
    Ok((created, detail(&row)?))
}

async fn existing_version(
    tx: &mut TenantTx,
    manifest: &Manifest,
) -> ApiResult<Option<store::VersionRow>> {
    let Some(plugin) = store::plugin_by_name(tx, &manifest.name, false).await? else {
        return Ok(None);
    };
    Ok(store::version(tx, plugin.id, &manifest.version.to_string()).await?)
}

fn same_or_conflict(
    manifest: &Manifest,
    existing: store::VersionRow,
    digest: &[u8; 32],
) -> ApiResult<(bool, PluginVersionDetail)> {
    if existing.sha256 == digest[..] {
        Ok((false, detail(&existing)?))
    } else {
        Err(version_conflict(&manifest.name, &existing.version))
    }
}

/// Inserts the plugin (first version), the component bytes and the version, audited.
#[allow(clippy::too_many_arguments)]
pub(super) async fn store_version(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    manifest: &Manifest,
    component: &[u8],
    info: &InstalledPlugin,
    source: Source,
    signed_by: Option<PublisherKeyId>,
) -> ApiResult<(bool, store::VersionRow)> {
    let (mut tx, actor) = begin_admin(state, caller).await?;
    let digest: [u8; 32] = Sha256::digest(component).into();
    let plugin = match store::plugin_by_name(&mut tx, &manifest.name, true).await? {
        Some(plugin) => {
            if plugin.world != manifest.world {
                return Err(ApiError::Conflict {
                    code: "world_mismatch",
                    detail: format!("{} is a {} plugin", manifest.name, plugin.world),
                });
            }
            plugin.id
        }
        None => {
            let id = PluginId::generate();
            store::insert_plugin(&mut tx, id, &manifest.name, manifest.world)
                .await
                .on_constraint(store::NAME_TAKEN, || ApiError::Conflict {
                    code: "concurrent_upload",
                    detail: "another upload created this plugin at the same time; retry".into(),
                })?;
            audit(&actor, ip, "plugin.created", manifest.name.as_str())
                .details(json!({ "world": manifest.world.as_str() }))
                .record(&mut tx)
                .await?;
            id
        }
    };
    let version = manifest.version.to_string();
    if let Some(existing) = store::version(&mut tx, plugin, &version).await? {
        let (created, _) = same_or_conflict(manifest, existing, &digest)?;
        let row = store::version(&mut tx, plugin, &version)
            .await?
            .ok_or(ApiError::NotFound)?;
        return Ok((created, row));
    }
    store::insert_component(&mut tx, &digest, component).await?;
    let manifest_json = serde_json::to_value(manifest)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("serialising a manifest: {e}")))?;
    let id = VersionId::generate();
    store::insert_version(
        &mut tx,
        &store::NewVersion {
            id,
            plugin,
            version: &version,
            manifest: &manifest_json,
            capabilities: capabilities_to_db(&manifest.capabilities),
            sha256: &digest,
            size_bytes: i32::try_from(component.len()).unwrap_or(i32::MAX),
            wit_version: &info.wit_version.to_string(),
            source: source.as_str(),
            signed_by,
            uploaded_by: actor.user_id,
        },
    )
    .await
    .on_constraint(store::VERSION_TAKEN, || {
        version_conflict(&manifest.name, &version)
    })?;
    audit(
        &actor,
        ip,
        "plugin.version_uploaded",
        manifest.name.as_str(),
    )
    .details(json!({
        "version": version,
        "sha256": info.sha256,
        "source": source.as_str(),
        "signed_by": signed_by,
    }))
    .record(&mut tx)
    .await?;
    let row = store::version_by_id(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok((true, row))
}

/// Refuses a grant that is not exactly what the version asks for.
fn check_grant(requested: &BTreeSet<Capability>, granted: &BTreeSet<Capability>) -> ApiResult<()> {
    let list = |set: Vec<&Capability>| {
        set.iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let missing: Vec<_> = requested.difference(granted).collect();
    if !missing.is_empty() {
        return Err(ApiError::Unprocessable {
            code: "capabilities_not_granted",
            detail: format!(
                "the version asks for {}; grant every requested capability to install it",
                list(missing)
            ),
        });
    }
    let extra: Vec<_> = granted.difference(requested).collect();
    if !extra.is_empty() {
        return Err(ApiError::Unprocessable {
            code: "capabilities_not_requested",
            detail: format!("the version does not ask for {}", list(extra)),
        });
    }
    Ok(())
}

/// Installs an uploaded version with the capabilities granted (exactly those it asks for) and
/// makes it the active version.
pub async fn install(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    name: &PluginName,
    version: &SemVer,
    granted: BTreeSet<Capability>,
) -> ApiResult<PluginVersionDetail> {
    let (mut tx, actor) = begin_admin(state, caller).await?;
    let plugin = store::plugin_by_name(&mut tx, name, true)
        .await?
        .ok_or(ApiError::NotFound)?;
    let row = store::version(&mut tx, plugin.id, &version.to_string())
        .await?
        .ok_or(ApiError::NotFound)?;
    if row.installed_at.is_some() {
        return Err(ApiError::Conflict {
            code: "already_installed",
            detail: format!("{name}@{version} is installed; roll back to it to make it active"),
        });
    }
    install_locked(&mut tx, &actor, ip, &plugin, &row, &granted).await?;
    let row = store::version_by_id(&mut tx, row.id)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    detail(&row)
}

async fn install_locked(
    tx: &mut TenantTx,
    actor: &Actor,
    ip: IpAddr,
    plugin: &store::PluginRow,
    row: &store::VersionRow,
    granted: &BTreeSet<Capability>,
) -> ApiResult<()> {
    check_grant(&capabilities_from_db(&row.capabilities), granted)?;
    let id = row.id;
    store::mark_installed(tx, id, capabilities_to_db(granted), actor.user_id).await?;
    store::set_active_version(tx, plugin.id, id).await?;
    if plugin.world == World::Integration {
        let manifest = detail(row)?.manifest;
        super::install_settings::ensure_defaults(tx, plugin.id, &manifest).await?;
    }
    audit(actor, ip, "plugin.installed", &plugin.name)
        .details(json!({
            "version": row.version,
            "granted_capabilities": capabilities_to_db(granted),
            "previous_version": plugin.active_version,
        }))
        .record(tx)
        .await?;
    Ok(())
}

/// Enables or disables calls to the plugin; enabling needs an installed version.
pub async fn set_enabled(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    name: &PluginName,
    enabled: bool,
) -> ApiResult<Plugin> {
    let (mut tx, actor) = begin_admin(state, caller).await?;
    let plugin = store::plugin_by_name(&mut tx, name, true)
        .await?
        .ok_or(ApiError::NotFound)?;
    if enabled && plugin.active_version_id.is_none() {
        return Err(ApiError::Conflict {
            code: codes::NOT_INSTALLED,
            detail: format!("{name} has no installed version to enable"),
        });
    }
    if plugin.enabled != enabled {
        store::set_enabled(&mut tx, plugin.id, enabled).await?;
        let action = if enabled {
            "plugin.enabled"
        } else {
            "plugin.disabled"
        };
        audit(&actor, ip, action, name.as_str())
            .details(json!({ "active_version": plugin.active_version }))
            .record(&mut tx)
            .await?;
    }
    let plugin = current(&mut tx, name).await?;
    tx.commit().await?;
    Ok(plugin)
}

/// Moves the active version back to an earlier installed version.
pub async fn rollback(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    name: &PluginName,
    to: &SemVer,
) -> ApiResult<Plugin> {
    let (mut tx, actor) = begin_admin(state, caller).await?;
    let plugin = store::plugin_by_name(&mut tx, name, true)
        .await?
        .ok_or(ApiError::NotFound)?;
    let target = store::version(&mut tx, plugin.id, &to.to_string())
        .await?
        .ok_or(ApiError::NotFound)?;
    if target.installed_at.is_none() {
        return Err(ApiError::Conflict {
            code: "version_not_installed",
            detail: format!("{name}@{to} was never installed; install it first"),
        });
    }
    let current_version = plugin
        .active_version
        .as_deref()
        .and_then(|v| SemVer::parse(v).ok());
    if current_version.as_ref().is_none_or(|current| to >= current) {
        return Err(ApiError::Conflict {
            code: "not_an_earlier_version",
            detail: format!(
                "{name}@{to} is not earlier than the active version {}",
                plugin.active_version.as_deref().unwrap_or("(none)")
            ),
        });
    }
    store::set_active_version(&mut tx, plugin.id, target.id).await?;
    audit(&actor, ip, "plugin.rolled_back", name.as_str())
        .details(json!({ "from": plugin.active_version, "to": target.version }))
        .record(&mut tx)
        .await?;
    let plugin = current(&mut tx, name).await?;
    tx.commit().await?;
    Ok(plugin)
}

async fn current(tx: &mut TenantTx, name: &PluginName) -> ApiResult<Plugin> {
    Ok(store::plugin_by_name(tx, name, false)
        .await?
        .ok_or(ApiError::NotFound)?
        .to_plugin())
}

pub async fn list(
    state: &AppState,
    caller: &Caller,
    cursor: Option<Cursor>,
    limit: i64,
) -> ApiResult<Page<Plugin>> {
    let (mut tx, _) = begin_admin(state, caller).await?;
    let rows = store::plugins(&mut tx, cursor.map(|c| c.0), limit).await?;
    tx.commit().await?;
    let items = rows.iter().map(store::PluginRow::to_plugin).collect();
    Ok(Page::from_rows(items, limit, |p: &Plugin| p.id.0))
}

pub async fn get(state: &AppState, caller: &Caller, name: &PluginName) -> ApiResult<Plugin> {
    let (mut tx, _) = begin_admin(state, caller).await?;
    let plugin = current(&mut tx, name).await?;
    tx.commit().await?;
    Ok(plugin)
}

pub async fn versions(
    state: &AppState,
    caller: &Caller,
    name: &PluginName,
) -> ApiResult<Vec<PluginVersionSummary>> {
    let (mut tx, _) = begin_admin(state, caller).await?;
    let plugin = store::plugin_by_name(&mut tx, name, false)
        .await?
        .ok_or(ApiError::NotFound)?;
    let rows = store::versions(&mut tx, plugin.id).await?;
    tx.commit().await?;
    Ok(rows.iter().map(store::VersionRow::to_summary).collect())
}

pub async fn version(
    state: &AppState,
    caller: &Caller,
    name: &PluginName,
    version: &SemVer,
) -> ApiResult<PluginVersionDetail> {
    let (mut tx, _) = begin_admin(state, caller).await?;
    let plugin = store::plugin_by_name(&mut tx, name, false)
        .await?
        .ok_or(ApiError::NotFound)?;
    let row = store::version(&mut tx, plugin.id, &version.to_string())
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    detail(&row)
}

/// Installs a first-party plugin from the platform catalog in one call: the version is copied
/// into the tenant's registry (as an upload would be), installed with the grant, made active and
/// enabled. Repeating it is harmless.
pub async fn install_from_catalog(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    name: &PluginName,
    granted: BTreeSet<Capability>,
) -> ApiResult<Plugin> {
    let (mut tx, _) = begin_admin(state, caller).await?;
    let entry = catalog::entry(&mut tx, name)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    let manifest: Manifest = serde_json::from_value(entry.manifest.clone())
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("catalog manifest unreadable: {e}")))?;
    check_grant(&manifest.capabilities, &granted)?;
    let component = Arc::new(entry.component);
    let info = compile(&state.plugins.host, caller.tenant.id, &component, &manifest).await?;
    let (_, row) = store_version(
        state,
        caller,
        ip,
        &manifest,
        &component,
        &info,
        Source::Catalog,
        None,
    )
    .await?;

    let (mut tx, actor) = begin_admin(state, caller).await?;
    let plugin = store::plugin_by_name(&mut tx, name, true)
        .await?
        .ok_or(ApiError::NotFound)?;
    if row.installed_at.is_none() {
        install_locked(&mut tx, &actor, ip, &plugin, &row, &granted).await?;
    } else if plugin.active_version_id != Some(row.id) {
        store::set_active_version(&mut tx, plugin.id, row.id).await?;
        audit(&actor, ip, "plugin.activated", name.as_str())
            .details(json!({ "from": plugin.active_version, "to": row.version }))
            .record(&mut tx)
            .await?;
    }
    if !plugin.enabled {
        store::set_enabled(&mut tx, plugin.id, true).await?;
        audit(&actor, ip, "plugin.enabled", name.as_str())
            .details(json!({ "active_version": row.version }))
            .record(&mut tx)
            .await?;
    }
    let plugin = current(&mut tx, name).await?;
    tx.commit().await?;
    load_into_host(
        &state.plugins.host,
        caller.tenant.id,
        manifest.world,
        name.as_str(),
        &row.version,
        component,
        &host_capabilities(&granted),
    )
    .await?;
    Ok(plugin)
}

pub async fn keys(state: &AppState, caller: &Caller) -> ApiResult<Vec<PublisherKey>> {
    let (mut tx, _) = begin_admin(state, caller).await?;
    let rows = store::keys(&mut tx).await?;
    tx.commit().await?;
    Ok(rows.iter().map(store::KeyRow::to_key).collect())
}

pub async fn add_key(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    name: &str,
    public_key: &ed25519_dalek::VerifyingKey,
) -> ApiResult<PublisherKey> {
    let (mut tx, actor) = begin_admin(state, caller).await?;
    let id = PublisherKeyId::generate();
    store::insert_key(&mut tx, id, name, public_key.as_bytes(), actor.user_id)
        .await
        .on_constraint(store::KEY_TAKEN, || ApiError::Conflict {
            code: "key_exists",
            detail: "this public key is already trusted".into(),
        })?;
    Audit::new(
        AuditActor::User(actor.user_id),
        "plugin_key.added",
        "plugin_publisher_key",
        id,
    )
    .from_ip(ip)
    .details(json!({ "name": name }))
    .record(&mut tx)
    .await?;
    let key = store::key(&mut tx, id).await?.ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(key.to_key())
}

pub async fn remove_key(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    id: PublisherKeyId,
) -> ApiResult<()> {
    let (mut tx, actor) = begin_admin(state, caller).await?;
    if !store::delete_key(&mut tx, id).await? {
        return Err(ApiError::NotFound);
    }
    Audit::new(
        AuditActor::User(actor.user_id),
        "plugin_key.removed",
        "plugin_publisher_key",
        id,
    )
    .from_ip(ip)
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn settings(state: &AppState, caller: &Caller) -> ApiResult<RegistrySettings> {
    let (mut tx, _) = begin_admin(state, caller).await?;
    let require_signatures = store::require_signatures(&mut tx).await?;
    tx.commit().await?;
    Ok(RegistrySettings { require_signatures })
}

pub async fn update_settings(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    settings: RegistrySettings,
) -> ApiResult<RegistrySettings> {
    let (mut tx, actor) = begin_admin(state, caller).await?;
    store::set_require_signatures(&mut tx, settings.require_signatures).await?;
    Audit::new(
        AuditActor::User(actor.user_id),
        "plugin_registry.updated",
        "plugin_registry",
        caller.tenant.id,
    )
    .from_ip(ip)
    .details(json!({ "require_signatures": settings.require_signatures }))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(settings)
}
