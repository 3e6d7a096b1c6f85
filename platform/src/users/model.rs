//! Users and their validated value types.

use std::fmt;

use chrono::{DateTime, Utc};
use lms_tenants::TenantId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::ApiError;

/// A user's identifier (UUIDv7), unique within its tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, ToSchema)]
#[sqlx(transparent)]
#[serde(transparent)]
#[schema(value_type = String, format = Uuid)]
pub struct UserId(pub Uuid);

impl Default for UserId {
    /// A fresh, time-ordered id.
    fn default() -> Self {
        Self(Uuid::now_v7())
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An email address, trimmed and lowercased; the account's login name within its tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, format = "email")]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let email = raw.trim().to_lowercase();
        let valid = email.len() <= 254
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && local.len() <= 64
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains("..")
            })
            && !email
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>' || c == ',')
            && email.matches('@').count() == 1;
        if valid {
            Ok(Self(email))
        } else {
            Err(ApiError::validation(
                "email",
                "invalid_email",
                "must be an email address",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn from_db(raw: String) -> Self {
        Self(raw)
    }
}

impl TryFrom<String> for Email {
    type Error = ApiError;
    fn try_from(value: String) -> Result<Self, ApiError> {
        Self::parse(&value)
    }
}

impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A user's name as shown to others: 1 to 200 characters, trimmed, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let name = raw.trim();
        if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
            return Err(ApiError::validation(
                "display_name",
                "invalid_display_name",
                "1 to 200 characters, no control characters",
            ));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for DisplayName {
    type Error = ApiError;
    fn try_from(value: String) -> Result<Self, ApiError> {
        Self::parse(&value)
    }
}

impl From<DisplayName> for String {
    fn from(value: DisplayName) -> Self {
        value.0
    }
}

/// What a user may do within a tenant.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Learner,
    Instructor,
    Mentor,
    TenantAdmin,
    CorporateManager,
}

text_enum!(Role {
    Learner => "learner",
    Instructor => "instructor",
    Mentor => "mentor",
    TenantAdmin => "tenant_admin",
    CorporateManager => "corporate_manager",
});

/// A non-empty set of roles, sorted and without repeats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "Vec<Role>", into = "Vec<Role>")]
#[schema(value_type = Vec<Role>)]
pub struct Roles(Vec<Role>);

impl Roles {
    pub fn one(role: Role) -> Self {
        Self(vec![role])
    }

    pub fn contains(&self, role: Role) -> bool {
        self.0.contains(&role)
    }

    pub fn as_db(&self) -> Vec<String> {
        self.0.iter().map(|r| r.as_str().to_owned()).collect()
    }

    /// The roles as stored (a checked `text[]`), in order and without repeats.
    pub(crate) fn from_stored(raw: &[Role]) -> Self {
        let mut roles = raw.to_vec();
        roles.sort();
        roles.dedup();
        Self(roles)
    }
}

impl TryFrom<Vec<Role>> for Roles {
    type Error = ApiError;
    fn try_from(mut roles: Vec<Role>) -> Result<Self, ApiError> {
        roles.sort();
        roles.dedup();
        if roles.is_empty() {
            return Err(ApiError::validation(
                "roles",
                "empty",
                "at least one role is required",
            ));
        }
        Ok(Self(roles))
    }
}

impl From<Roles> for Vec<Role> {
    fn from(value: Roles) -> Self {
        value.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    /// Invited; becomes active when the invitation is accepted.
    Invited,
    Active,
    /// Cannot sign in; existing sessions stop working.
    Deactivated,
}

text_enum!(UserStatus {
    Invited => "invited",
    Active => "active",
    Deactivated => "deactivated",
});

/// A user as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct User {
    pub id: UserId,
    #[schema(value_type = String)]
    pub tenant_id: TenantId,
    pub email: Email,
    pub display_name: String,
    pub roles: Roles,
    pub status: UserStatus,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_junk_refused() {
        assert_eq!(
            Email::parse("  Ada@Example.ORG ").map(|e| e.0).ok(),
            Some("ada@example.org".into())
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.org",
            "ada@example",
            "a b@example.org",
            "a@b@example.org",
            "a@example..org",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn roles_are_a_non_empty_set() {
        assert!(Roles::try_from(vec![]).is_err());
        let roles = Roles::try_from(vec![Role::Mentor, Role::Learner, Role::Mentor]).ok();
        assert_eq!(roles.map(|r| r.0), Some(vec![Role::Learner, Role::Mentor]));
    }
}
