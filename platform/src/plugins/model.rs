//! The registry's values (names, versions, capabilities, manifests) and what the API shows.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, FieldError};
use crate::users::UserId;

/// A plugin's identifier (UUIDv7), unique within its tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, ToSchema)]
#[sqlx(transparent)]
#[serde(transparent)]
#[schema(value_type = String, format = Uuid)]
pub struct PluginId(pub Uuid);

/// A plugin version's identifier (UUIDv7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, ToSchema)]
#[sqlx(transparent)]
#[serde(transparent)]
#[schema(value_type = String, format = Uuid)]
pub struct VersionId(pub Uuid);

/// A trusted publisher key's identifier (UUIDv7); uploads name it in their signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, ToSchema)]
#[sqlx(transparent)]
#[serde(transparent)]
#[schema(value_type = String, format = Uuid)]
pub struct PublisherKeyId(pub Uuid);

macro_rules! fresh_id {
    ($($t:ident),*) => {$(
        impl $t {
            /// A fresh, time-ordered id.
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}
fresh_id!(PluginId, VersionId, PublisherKeyId);

/// A plugin's name: 3 to 64 lowercase letters, digits and inner hyphens, starting with a letter.
/// Unique in the tenant's registry; it is how courses and the grading endpoint name a plugin.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PluginName(String);

impl PluginName {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let bytes = raw.as_bytes();
        let ok = (3..=64).contains(&bytes.len())
            && bytes[0].is_ascii_lowercase()
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
            && bytes.last() != Some(&b'-');
        if !ok {
            return Err(FieldError::new(
                "name",
                "invalid_name",
                "3 to 64 lowercase letters, digits and hyphens, starting with a letter",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for PluginName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PluginName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(|e| serde::de::Error::custom(e.message))
    }
}

/// A semantic version (`1.2.3`, `1.0.0-rc.1`); versions of a plugin are ordered by it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SemVer(semver::Version);

impl SemVer {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        semver::Version::parse(raw)
            .ok()
            .filter(|_| raw.len() <= 100)
            .map(Self)
            .ok_or_else(|| {
                FieldError::new(
                    "version",
                    "invalid_version",
                    "a semantic version such as 1.2.3",
                )
            })
    }
}

impl std::fmt::Display for SemVer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<'de> Deserialize<'de> for SemVer {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(|e| serde::de::Error::custom(e.message))
    }
}

/// The plugin world a component implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum World {
    /// `lms:plugin/grader`: grades one response.
    Grader,
    /// `lms:plugin/integration` (WIT 0.2.0): reacts to the tenant's domain events.
    Integration,
}

text_enum!(World {
    Grader => "grader",
    Integration => "integration",
});

impl World {
    /// The capabilities a plugin of this world may be granted at all.
    pub fn allows(self, capability: Capability) -> bool {
        match self {
            Self::Grader => capability == Capability::Log,
            Self::Integration => true,
        }
    }
}

/// What a plugin may ask the host for. Deny-by-default: a plugin gets exactly the capabilities
/// a tenant admin granted at install.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Write lines to the host's log.
    Log,
    /// Outgoing HTTP to the hosts an admin allows (integration plugins).
    Http,
    /// A per-tenant key-value store.
    KeyValue,
    /// Read the install's configuration and secrets.
    Secrets,
    /// See the display name and email address of the learner an event concerns (integrations).
    LearnerProfile,
}

text_enum!(Capability {
    Log => "log",
    Http => "http",
    KeyValue => "key_value",
    Secrets => "secrets",
    LearnerProfile => "learner_profile",
});

/// What a plugin says about itself at upload.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// 3 to 64 lowercase letters, digits and hyphens, starting with a letter and not ending
    /// with a hyphen.
    #[schema(value_type = String, example = "numeric-grader", min_length = 3, max_length = 64, pattern = "^[a-z][a-z0-9-]*[a-z0-9]$")]
    pub name: PluginName,
    /// A semantic version (at most 100 characters); a published version never changes.
    #[schema(value_type = String, example = "1.0.0", max_length = 100, pattern = r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$")]
    pub version: SemVer,
    pub world: World,
    /// What the plugin asks to be granted (graders: at most `log`).
    #[serde(default)]
    pub capabilities: BTreeSet<Capability>,
    /// A JSON Schema (draft 2020-12 unless `$schema` says otherwise) that a question's plugin
    /// configuration must satisfy; `{}` accepts anything.
    #[schema(value_type = Object)]
    pub config_schema: Value,
    /// Up to 2,000 characters for admins deciding whether to install it.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub description: String,
    /// Integrations: the event types an install receives unless an admin changes them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
    /// Integrations: the hosts (`name` or `name:port`) an install may call unless an admin
    /// changes them (requires the `http` capability).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http_hosts: Vec<String>,
}

impl Serialize for PluginName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl Serialize for SemVer {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl Manifest {
    /// Checks the rules serde cannot: capabilities allowed for the world, the description's
    /// length, and that `config_schema` is a valid JSON Schema that needs nothing remote.
    pub fn check(&self) -> Result<(), ApiError> {
        let mut errors = Vec::new();
        for capability in &self.capabilities {
            if !self.world.allows(*capability) {
                errors.push(FieldError::new(
                    "manifest.capabilities",
                    "capability_not_allowed",
                    format!(
                        "a {} plugin may not ask for {}",
                        self.world.as_str(),
                        capability.as_str()
                    ),
                ));
            }
        }
        if self.description.chars().count() > 2_000 {
            errors.push(FieldError::new(
                "manifest.description",
                "invalid_text",
                "at most 2000 characters",
            ));
        }
        if self.world != World::Integration
            && (!self.events.is_empty() || !self.http_hosts.is_empty())
        {
            errors.push(FieldError::new(
                "manifest.events",
                "not_an_integration",
                "only integrations receive events or call hosts",
            ));
        }
        if let Err(mut e) = super::install_settings::parse_event_types(&self.events) {
            e.field = "manifest.events".into();
            errors.push(e);
        }
        match super::install_settings::parse_hosts(&self.http_hosts) {
            Err(mut e) => {
                e.field = "manifest.http_hosts".into();
                errors.push(e);
            }
            Ok(_)
                if !self.http_hosts.is_empty()
                    && !self.capabilities.contains(&Capability::Http) =>
            {
                errors.push(FieldError::new(
                    "manifest.http_hosts",
                    "capability_not_requested",
                    "hosts to call need the http capability",
                ));
            }
            Ok(_) => {}
        }
        if let Err(message) = super::config_schema::compile(&self.config_schema) {
            errors.push(FieldError::new(
                "manifest.config_schema",
                "invalid_schema",
                message,
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(errors))
        }
    }
}

/// Capabilities as stored.
pub fn capabilities_to_db(set: &BTreeSet<Capability>) -> Vec<String> {
    set.iter().map(|c| c.as_str().to_owned()).collect()
}

pub fn capabilities_from_db(raw: &[Capability]) -> BTreeSet<Capability> {
    raw.iter().copied().collect()
}

/// A plugin in the tenant's registry.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Plugin {
    pub id: PluginId,
    pub name: String,
    pub world: World,
    /// Calls are refused while disabled.
    pub enabled: bool,
    /// The version calls run (the newest install, or what a rollback chose).
    pub active_version: Option<String>,
    pub version_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One uploaded version.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PluginVersionSummary {
    pub id: VersionId,
    pub version: String,
    /// Lowercase hex SHA-256 of the component bytes.
    pub sha256: String,
    pub size_bytes: i32,
    /// The `lms:plugin` WIT version the component was built against.
    pub wit_version: String,
    /// `upload` (by a tenant admin) or `catalog` (a first-party plugin).
    pub source: String,
    /// The trusted publisher key whose signature was verified at upload.
    pub signed_by: Option<PublisherKeyId>,
    pub uploaded_by: UserId,
    pub uploaded_at: DateTime<Utc>,
    /// Whether this is the version calls run.
    pub active: bool,
    pub installed_at: Option<DateTime<Utc>>,
}

/// What a version asks for and what it was granted.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CapabilityGrant {
    pub requested: Vec<Capability>,
    /// Absent until the version is installed.
    pub granted: Option<Vec<Capability>>,
    pub granted_by: Option<UserId>,
    pub granted_at: Option<DateTime<Utc>>,
}

/// A version with its manifest and capabilities.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PluginVersionDetail {
    #[serde(flatten)]
    pub summary: PluginVersionSummary,
    pub manifest: Manifest,
    pub capabilities: CapabilityGrant,
}

/// A trusted publisher's Ed25519 public key.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublisherKey {
    pub id: PublisherKeyId,
    pub name: String,
    /// The 32-byte public key, base64.
    pub public_key: String,
    pub added_by: UserId,
    pub created_at: DateTime<Utc>,
}

/// The registry's settings.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrySettings {
    /// Refuse uploads without a valid signature by a trusted publisher key.
    pub require_signatures: bool,
}

/// A first-party plugin every tenant may install.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CatalogEntry {
    pub name: String,
    pub version: String,
    pub world: World,
    pub description: String,
    pub capabilities: Vec<Capability>,
    /// Lowercase hex SHA-256 of the component bytes.
    pub sha256: String,
    #[schema(value_type = Object)]
    pub config_schema: Value,
}

/// One invocation's record.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvocationRecord {
    pub id: Uuid,
    pub plugin: String,
    pub version: String,
    pub wit_version: Option<String>,
    /// Wall time from call to result, waiting included, in microseconds.
    pub wall_time_us: i64,
    /// Fuel consumed (wasm instructions, roughly).
    pub fuel_used: Option<i64>,
    /// The largest linear memory the instance had.
    pub peak_memory_bytes: i64,
    /// `success` or the failure's code (`deadline_exceeded`, `trap`, `grader_declined`, ...).
    pub outcome: String,
    /// The user who made the call; none for calls made by jobs (event deliveries).
    pub invoked_by: Option<UserId>,
    pub invoked_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lowercase_slugs() {
        assert!(PluginName::parse("numeric-grader").is_ok());
        for bad in ["ab", "Numeric", "1grader", "grader-", "grä-der", "a b c"] {
            assert!(PluginName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn versions_are_semver_and_ordered() {
        let v = |s| SemVer::parse(s).map_err(|e| e.message);
        assert!(v("1.0.0") < v("1.0.1"));
        assert!(v("1.0.0-rc.1") < v("1.0.0"));
        assert!(v("1.0").is_err());
        assert!(v("latest").is_err());
    }

    #[test]
    fn graders_may_only_ask_for_log() {
        assert!(World::Grader.allows(Capability::Log));
        assert!(!World::Grader.allows(Capability::Http));
        assert!(World::Integration.allows(Capability::Http));
        assert_eq!(
            "integration".parse::<World>().ok(),
            Some(World::Integration)
        );
    }
}
