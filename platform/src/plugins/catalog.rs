//! The platform's catalog of first-party plugins, which every tenant may install in one call.
//!
//! The manifests are compiled into the binary (`plugins/<name>/plugin.json`); the components are
//! the built artifacts (`LMS_PLUGIN_ARTIFACTS`, by default `target/plugins/wasm32-wasip2/release`
//! when it exists). At start-up each artifact found is registered in `plugin_catalog`, a platform
//! reference table that only the operator role writes and every request may read. A missing
//! artifact leaves its plugin out of the catalog (with a warning); nothing else depends on it.

use std::path::Path;

use anyhow::Context;
use lms_tenants::TenantTx;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::model::{CatalogEntry, Manifest, PluginName, World};
use crate::db::OperatorDb;

/// One first-party plugin: its manifest and the artifact's file name.
pub struct FirstParty {
    pub manifest: &'static str,
    pub file: &'static str,
}

pub const FIRST_PARTY: &[FirstParty] = &[
    FirstParty {
        manifest: include_str!("../../../plugins/discord/plugin.json"),
        file: "discord.wasm",
    },
    FirstParty {
        manifest: include_str!("../../../plugins/lab-flag-grader/plugin.json"),
        file: "lab_flag_grader.wasm",
    },
    FirstParty {
        manifest: include_str!("../../../plugins/numeric-grader/plugin.json"),
        file: "numeric_grader.wasm",
    },
];

/// Registers (or refreshes) every first-party plugin whose artifact is in `dir`; returns the
/// names registered. Components are validated when a tenant installs them.
pub async fn register(db: &OperatorDb, dir: Option<&Path>) -> anyhow::Result<Vec<String>> {
    let mut registered = Vec::new();
    let Some(dir) = dir else {
        tracing::info!("no plugin artifact folder; the first-party plugin catalog stays as it is");
        return Ok(registered);
    };
    for plugin in FIRST_PARTY {
        let manifest: Manifest =
            serde_json::from_str(plugin.manifest).context("a first-party manifest")?;
        manifest
            .check()
            .map_err(|e| anyhow::anyhow!("first-party manifest {}: {e:?}", manifest.name))?;
        let path = dir.join(plugin.file);
        let component = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(err) => {
                tracing::warn!(path = %path.display(), error = %err, "first-party plugin not built; not in the catalog");
                continue;
            }
        };
        let sha256: [u8; 32] = Sha256::digest(&component).into();
        let manifest_json = serde_json::to_value(&manifest)?;
        // A rebuilt artifact replaces the catalog's copy; tenants keep the copy they installed.
        sqlx::query(
            "insert into plugin_catalog (name, version, manifest, sha256, component)
             values ($1, $2, $3, $4, $5)
             on conflict (name) do update set version = excluded.version,
                 manifest = excluded.manifest, sha256 = excluded.sha256,
                 component = excluded.component, registered_at = now()
             where plugin_catalog.sha256 <> excluded.sha256
                or plugin_catalog.manifest <> excluded.manifest",
        )
        .bind(manifest.name.as_str())
        .bind(manifest.version.to_string())
        .bind(&manifest_json)
        .bind(&sha256[..])
        .bind(&component)
        .execute(db.pool())
        .await
        .with_context(|| format!("registering {} in the plugin catalog", manifest.name))?;
        registered.push(manifest.name.to_string());
    }
    tracing::info!(plugins = ?registered, "first-party plugin catalog registered");
    Ok(registered)
}

#[derive(sqlx::FromRow)]
pub struct CatalogRow {
    pub name: String,
    pub version: String,
    pub manifest: Value,
    pub sha256: Vec<u8>,
    pub component: Vec<u8>,
}

impl CatalogRow {
    pub fn to_entry(&self) -> CatalogEntry {
        let manifest: Option<Manifest> = serde_json::from_value(self.manifest.clone()).ok();
        CatalogEntry {
            name: self.name.clone(),
            version: self.version.clone(),
            world: manifest.as_ref().map_or(World::Grader, |m| m.world),
            description: manifest
                .as_ref()
                .map(|m| m.description.clone())
                .unwrap_or_default(),
            capabilities: manifest
                .as_ref()
                .map(|m| m.capabilities.iter().copied().collect())
                .unwrap_or_default(),
            sha256: hex::encode(&self.sha256),
            config_schema: manifest.map(|m| m.config_schema).unwrap_or(Value::Null),
        }
    }
}

/// The catalog, by name (readable in any tenant's transaction: it is reference data).
pub async fn entries(tx: &mut TenantTx) -> Result<Vec<CatalogRow>, sqlx::Error> {
    sqlx::query_as(
        "select name, version, manifest, sha256, ''::bytea as component
         from plugin_catalog order by name",
    )
    .fetch_all(&mut **tx)
    .await
}

pub async fn entry(
    tx: &mut TenantTx,
    name: &PluginName,
) -> Result<Option<CatalogRow>, sqlx::Error> {
    sqlx::query_as(
        "select name, version, manifest, sha256, component
         from plugin_catalog where name = $1",
    )
    .bind(name.as_str())
    .fetch_optional(&mut **tx)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_party_manifests_are_valid() {
        for plugin in FIRST_PARTY {
            let manifest: Manifest = serde_json::from_str(plugin.manifest).expect("manifest");
            assert!(manifest.check().is_ok(), "{}", manifest.name);
            assert_eq!(
                plugin.file,
                format!("{}.wasm", manifest.name.as_str().replace('-', "_"))
            );
        }
    }
}
