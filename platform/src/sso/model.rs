//! SSO domain types: ids, email domains a tenant may claim, the group-to-role map and the
//! return address of a login.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::users::{Role, Roles};

entity_id!(
    /// An SSO connection (one identity provider of a tenant).
    ConnectionId
);
entity_id!(
    /// An email domain a tenant claims.
    DomainId
);

/// Mailbox providers whose domains no organisation owns: they can never be claimed.
const CONSUMER_DOMAINS: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "hotmail.co.uk",
    "live.com",
    "msn.com",
    "yahoo.com",
    "yahoo.co.uk",
    "ymail.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "aol.com",
    "proton.me",
    "protonmail.com",
    "gmx.com",
    "gmx.de",
    "gmx.net",
    "web.de",
    "mail.com",
    "mail.ru",
    "yandex.ru",
    "yandex.com",
    "zoho.com",
    "qq.com",
    "163.com",
    "126.com",
    "fastmail.com",
    "tutanota.com",
    "hey.com",
];

/// A registrable-looking DNS name, lowercased, that is not a consumer mailbox provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedDomain(String);

impl ClaimedDomain {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let domain = raw.trim().trim_end_matches('.').to_ascii_lowercase();
        let invalid = || {
            ApiError::validation(
                "domain",
                "invalid_domain",
                "give a DNS name such as example.com (letters, digits, hyphens and dots)",
            )
        };
        if domain.len() < 3 || domain.len() > 253 || !domain.contains('.') {
            return Err(invalid());
        }
        let labels_ok = domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
        let tld_alpha = domain
            .rsplit('.')
            .next()
            .is_some_and(|tld| tld.chars().any(|c| c.is_ascii_alphabetic()));
        if !labels_ok || !tld_alpha {
            return Err(invalid());
        }
        if CONSUMER_DOMAINS.contains(&domain.as_str()) {
            return Err(ApiError::validation(
                "domain",
                "consumer_domain",
                "a public mailbox provider's domain cannot be claimed by an organisation",
            ));
        }
        Ok(Self(domain))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The domain of an email address (its part after the last `@`), lowercased.
pub fn email_domain(email: &str) -> Option<String> {
    email
        .rsplit_once('@')
        .map(|(_, domain)| domain.trim_end_matches('.').to_ascii_lowercase())
        .filter(|d| !d.is_empty())
}

/// Users in this IdP group get this role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupRole {
    /// The group name exactly as the provider sends it in the groups claim.
    #[schema(min_length = 1, max_length = 200)]
    pub group: String,
    pub role: Role,
}

/// The roles a sign-in grants: every mapped group's role, or the default when none matches.
pub fn roles_for_groups(map: &[GroupRole], groups: &[String], default: Role) -> Roles {
    let mapped: Vec<Role> = map
        .iter()
        .filter(|m| groups.contains(&m.group))
        .map(|m| m.role)
        .collect();
    Roles::try_from(mapped).unwrap_or_else(|_| Roles::one(default))
}

/// Where the browser goes after the login: a path on the same site, never another origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnTo(String);

impl ReturnTo {
    pub const DEFAULT: &str = "/";

    /// A relative path that starts with one `/` (not `//` or `/\`, which browsers read as
    /// another host), without a scheme, control characters or backslashes; at most 1000 bytes.
    pub fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let Some(raw) = raw else {
            return Ok(Self(Self::DEFAULT.to_owned()));
        };
        let refuse = || {
            ApiError::validation(
                "return_to",
                "invalid_return_to",
                "return_to must be a path on this site, such as /courses",
            )
        };
        if raw.len() > 1000
            || !raw.starts_with('/')
            || raw.starts_with("//")
            || raw.contains('\\')
            || raw.chars().any(char::is_control)
        {
            return Err(refuse());
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn from_db(value: String) -> Self {
        Self(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumer_and_malformed_domains_are_refused() {
        assert_eq!(
            ClaimedDomain::parse(" Example.COM. ").map(|d| d.0).ok(),
            Some("example.com".into())
        );
        for bad in [
            "gmail.com",
            "Outlook.com",
            "yahoo.com",
            "hotmail.com",
            "icloud.com",
            "localhost",
            "-a.com",
            "a..com",
            "a b.com",
            "1.2.3.4",
            "exa_mple.com",
        ] {
            assert!(ClaimedDomain::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn return_to_accepts_only_same_site_paths() {
        assert_eq!(ReturnTo::parse(None).ok().map(|r| r.0), Some("/".into()));
        assert!(ReturnTo::parse(Some("/courses?tab=1")).is_ok());
        for bad in [
            "https://evil.example/",
            "//evil.example",
            "/\\evil.example",
            "evil.example",
            "javascript:alert(1)",
            "/a\nb",
        ] {
            assert!(ReturnTo::parse(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn mapped_groups_decide_roles_and_the_default_fills_in() {
        let map = vec![
            GroupRole {
                group: "lms-admins".into(),
                role: Role::TenantAdmin,
            },
            GroupRole {
                group: "teachers".into(),
                role: Role::Instructor,
            },
        ];
        let roles = roles_for_groups(&map, &["teachers".into(), "x".into()], Role::Learner);
        assert!(roles.contains(Role::Instructor) && !roles.contains(Role::Learner));
        let roles = roles_for_groups(&map, &[], Role::Learner);
        assert_eq!(roles, Roles::one(Role::Learner));
    }
}
