//! Cohorts as the API shows them, and the validated values they are made of.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Actor;
use crate::error::{ApiError, ApiResult, FieldError, codes};
use crate::users::{Role, UserId};

/// A cohort's identifier (UUIDv7), unique within its tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, ToSchema)]
#[sqlx(transparent)]
#[serde(transparent)]
#[schema(value_type = String, format = Uuid)]
pub struct CohortId(pub Uuid);

impl Default for CohortId {
    /// A fresh, time-ordered id.
    fn default() -> Self {
        Self(Uuid::now_v7())
    }
}

impl std::fmt::Display for CohortId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A cohort's name: 1 to 200 characters on one line, unique in the organisation (ignoring case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CohortName(String);

impl CohortName {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let name = raw.trim();
        if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
            return Err(FieldError::new(
                "name",
                "invalid_text",
                "1 to 200 characters on one line",
            ));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A cohort's description: up to 1,000 characters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CohortDescription(String);

impl CohortDescription {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        if raw.chars().count() > 1_000
            || raw
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(FieldError::new(
                "description",
                "invalid_text",
                "at most 1000 characters, no control characters",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Cohort {
    pub id: CohortId,
    pub name: String,
    pub description: String,
    pub member_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A member of a cohort.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CohortMember {
    pub user_id: UserId,
    pub display_name: String,
    pub email: String,
    pub added_at: DateTime<Utc>,
}

/// A corporate manager of a cohort.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CohortManager {
    pub user_id: UserId,
    pub display_name: String,
    pub email: String,
    pub assigned_by: UserId,
    pub assigned_at: DateTime<Utc>,
}

/// The cohorts whose members are a caller's team: what the team report shows and whom the
/// caller may enroll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Team {
    /// A tenant admin's: every cohort.
    EveryCohort,
    /// A corporate manager's: the cohorts they manage.
    ManagedBy(UserId),
}

impl Team {
    /// Tenant admins and corporate managers have a team; anyone else gets 403.
    pub fn of(actor: &Actor) -> ApiResult<Self> {
        if actor.roles.contains(Role::TenantAdmin) {
            Ok(Self::EveryCohort)
        } else if actor.roles.contains(Role::CorporateManager) {
            Ok(Self::ManagedBy(actor.user_id))
        } else {
            Err(ApiError::Forbidden {
                code: codes::FORBIDDEN,
                detail: "only tenant admins and corporate managers have a team",
            })
        }
    }

    /// The manager whose cohorts these are; `None` for every cohort.
    pub fn manager(self) -> Option<UserId> {
        match self {
            Self::EveryCohort => None,
            Self::ManagedBy(user) => Some(user),
        }
    }
}

/// What adding or removing one user did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MembershipOutcome {
    Added,
    AlreadyMember,
    Removed,
    NotMember,
    /// No active user of this organisation has this id.
    UnknownUser,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MembershipResult {
    pub user_id: UserId,
    pub result: MembershipOutcome,
}

/// The per-user results of a membership change, in the order the ids were given.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MembershipChange {
    pub results: Vec<MembershipResult>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_single_lines() {
        assert_eq!(
            CohortName::parse("  Spring 2027 ").map(|n| n.0).ok(),
            Some("Spring 2027".into())
        );
        assert!(CohortName::parse("   ").is_err());
        assert!(CohortName::parse("a\nb").is_err());
        assert!(CohortDescription::parse("two\nlines").is_ok());
    }
}
