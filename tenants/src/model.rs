//! The tenant model and its validated value types.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A tenant's identifier (UUIDv7).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    sqlx::Type,
    ToSchema,
)]
#[sqlx(transparent)]
#[serde(transparent)]
#[schema(value_type = String, format = Uuid)]
pub struct TenantId(Uuid);

impl TenantId {
    /// A fresh, time-ordered identifier.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    /// Wraps an identifier read from a trusted source (the database, a verified token).
    pub fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }

    /// The underlying UUID.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl Default for TenantId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Why a value was refused; `field`-less so callers can attach the field they parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ValidationError {
    /// A stable machine-readable code, e.g. `invalid_slug`.
    pub code: &'static str,
    /// A human-readable explanation.
    pub message: String,
}

impl ValidationError {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// A tenant's slug: its subdomain under the base domain and its `X-Tenant` name.
/// Lowercase letters, digits and inner hyphens, 1 to 63 characters (a DNS label).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, pattern = "^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")]
pub struct Slug(String);

impl Slug {
    /// Parses a slug; input is not case-folded so that `Demo` is refused rather than aliased.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let ok = is_dns_label(raw);
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ValidationError::new(
                "invalid_slug",
                "a slug is 1 to 63 lowercase letters, digits or inner hyphens",
            ))
        }
    }

    /// The slug as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_dns_label(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.first() != Some(&b'-')
        && bytes.last() != Some(&b'-')
}

impl TryFrom<String> for Slug {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Slug> for String {
    fn from(value: Slug) -> Self {
        value.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A custom domain a tenant serves its white-labelled apps from, lowercased, without port.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, example = "learn.example.com")]
pub struct DomainName(String);

impl DomainName {
    /// Parses a fully qualified domain name of at least two labels.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let lowered = raw.trim().trim_end_matches('.').to_ascii_lowercase();
        let labels: Vec<&str> = lowered.split('.').collect();
        if lowered.len() > 253 || labels.len() < 2 || !labels.iter().all(|l| is_dns_label(l)) {
            return Err(ValidationError::new(
                "invalid_domain",
                "a domain is two or more DNS labels, e.g. learn.example.com",
            ));
        }
        Ok(Self(lowered))
    }

    /// The domain as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for DomainName {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<DomainName> for String {
    fn from(value: DomainName) -> Self {
        value.0
    }
}

/// Whether a tenant is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    /// Serving requests.
    Active,
    /// Every request answers 403 `tenant_suspended`; data is kept.
    Suspended,
}

impl TenantStatus {
    /// The value stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
        }
    }

    fn from_db(raw: &str) -> Self {
        match raw {
            "suspended" => Self::Suspended,
            _ => Self::Active,
        }
    }
}

/// What a white-labelled app needs to look like its tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Branding {
    /// Absolute https URL of the logo.
    pub logo_url: Option<String>,
    /// Primary colour as `#rrggbb`.
    pub primary_color: Option<String>,
    /// Accent colour as `#rrggbb`.
    pub accent_color: Option<String>,
    /// Where learners write for help.
    pub support_email: Option<String>,
    /// Free-form theme variables (CSS custom properties without the `--`), e.g. `radius: 8px`.
    #[serde(default)]
    pub theme: std::collections::BTreeMap<String, String>,
}

impl Branding {
    /// Checks every field's shape; returns the first problem with the field it concerns.
    pub fn validate(&self) -> Result<(), (&'static str, ValidationError)> {
        if let Some(url) = &self.logo_url
            && !(url.starts_with("https://")
                && url.len() <= 2048
                && !url.contains(char::is_whitespace))
        {
            return Err((
                "logo_url",
                ValidationError::new("invalid_url", "must be an https URL"),
            ));
        }
        for (field, colour) in [
            ("primary_color", &self.primary_color),
            ("accent_color", &self.accent_color),
        ] {
            if let Some(c) = colour
                && !(c.len() == 7
                    && c.starts_with('#')
                    && c[1..].bytes().all(|b| b.is_ascii_hexdigit()))
            {
                return Err((
                    field,
                    ValidationError::new("invalid_color", "must be a #rrggbb colour"),
                ));
            }
        }
        if let Some(email) = &self.support_email
            && !(email.len() <= 254
                && email
                    .split_once('@')
                    .is_some_and(|(l, d)| !l.is_empty() && d.contains('.')))
        {
            return Err((
                "support_email",
                ValidationError::new("invalid_email", "must be an email address"),
            ));
        }
        if self.theme.len() > 32 {
            return Err((
                "theme",
                ValidationError::new("too_many", "at most 32 theme variables"),
            ));
        }
        for (key, value) in &self.theme {
            let key_ok = !key.is_empty()
                && key.len() <= 64
                && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
            let value_ok = value.len() <= 256 && !value.contains([';', '{', '}', '<', '>']);
            if !key_ok || !value_ok {
                return Err((
                    "theme",
                    ValidationError::new(
                        "invalid_theme_variable",
                        "theme keys are letters, digits and hyphens; values are short and contain no ; { } < >",
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Tenant-wide switches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantSettings {
    /// When false, accounts are created by invitation only.
    #[serde(default = "default_true")]
    pub self_registration: bool,
}

fn default_true() -> bool {
    true
}

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            self_registration: true,
        }
    }
}

/// A tenant as the rest of the platform sees it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Tenant {
    /// Identifier.
    pub id: TenantId,
    /// Subdomain and `X-Tenant` name.
    #[schema(value_type = String)]
    pub slug: Slug,
    /// Name shown to users.
    pub display_name: String,
    /// Whether it is served.
    pub status: TenantStatus,
    /// Look and feel of its apps.
    pub branding: Branding,
    /// Tenant-wide switches.
    pub settings: TenantSettings,
    /// Custom domains, sorted.
    pub domains: Vec<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A `tenants` row joined with its domains, as read from the registry.
#[derive(sqlx::FromRow)]
pub(crate) struct TenantRow {
    pub id: Uuid,
    pub slug: String,
    pub display_name: String,
    pub status: String,
    pub branding: serde_json::Value,
    pub settings: serde_json::Value,
    pub domains: Vec<String>,
    pub created_at: DateTime<Utc>,
}

impl TenantRow {
    /// Columns to select for a [`TenantRow`] from `tenants t`.
    pub const COLUMNS: &'static str = "t.id, t.slug, t.display_name, t.status, t.branding, t.settings, \
         coalesce((select array_agg(d.domain order by d.domain) from tenant_domains d where d.tenant_id = t.id), '{}') as domains, \
         t.created_at";
}

impl From<TenantRow> for Tenant {
    fn from(row: TenantRow) -> Self {
        Self {
            id: TenantId(row.id),
            // The database check constraint guarantees the shape; fall back rather than panic.
            slug: Slug(row.slug),
            display_name: row.display_name,
            status: TenantStatus::from_db(&row.status),
            branding: serde_json::from_value(row.branding).unwrap_or_default(),
            settings: serde_json::from_value(row.settings).unwrap_or_default(),
            domains: row.domains,
            created_at: row.created_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_dns_labels() {
        for good in ["demo", "a", "acme-corp", "x1"] {
            assert!(Slug::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "-a", "a-", "Demo", "a_b", "a.b", &"a".repeat(64)] {
            assert!(Slug::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn domains_are_normalised_and_checked() {
        assert_eq!(
            DomainName::parse("Learn.Example.COM.").map(|d| d.0),
            Ok("learn.example.com".into())
        );
        for bad in [
            "localhost",
            "a..b",
            "-a.com",
            "a.com:443",
            "exa mple.com",
            "",
        ] {
            assert!(DomainName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn branding_rejects_script_injection_and_bad_colours() {
        let mut b = Branding {
            primary_color: Some("#12ab3F".into()),
            ..Branding::default()
        };
        assert!(b.validate().is_ok());
        b.primary_color = Some("red".into());
        assert_eq!(b.validate().map_err(|e| e.0), Err("primary_color"));
        b.primary_color = None;
        b.logo_url = Some("javascript:alert(1)".into());
        assert_eq!(b.validate().map_err(|e| e.0), Err("logo_url"));
        b.logo_url = None;
        b.theme
            .insert("radius".into(), "4px}body{display:none".into());
        assert_eq!(b.validate().map_err(|e| e.0), Err("theme"));
    }
}
