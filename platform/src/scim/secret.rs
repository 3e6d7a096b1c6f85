//! The SCIM bearer secret: `scim_<tenant id, 32 hex digits>_<256 random bits, base64url>`. The
//! tenant part selects the tenant (an identity provider sends nothing else that could); the
//! whole secret is stored only as its SHA-256 ([`crate::auth::tokens::hash_secret`]) and looked
//! up inside that tenant's row-level-secured transaction, so a secret naming another tenant finds
//! nothing there.

use lms_tenants::TenantId;
use uuid::Uuid;

use crate::auth::tokens::{OpaqueToken, hash_secret};

const PREFIX: &str = "scim_";
/// Length of [`OpaqueToken`]'s text (32 bytes, base64url without padding).
const RANDOM_LEN: usize = 43;
/// The longest bearer value read at all.
pub const MAX_LEN: usize = PREFIX.len() + 32 + 1 + RANDOM_LEN;

/// A SCIM secret as presented or as issued; printable once, never logged.
pub struct ScimSecret {
    text: String,
    tenant: TenantId,
}

impl std::fmt::Debug for ScimSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScimSecret")
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

impl ScimSecret {
    pub fn generate(tenant: TenantId) -> Self {
        let random = OpaqueToken::generate();
        Self {
            text: format!(
                "{PREFIX}{}_{}",
                tenant.as_uuid().as_simple(),
                random.as_str()
            ),
            tenant,
        }
    }

    /// Reads a presented bearer value; `None` for anything not shaped like a SCIM secret.
    pub fn parse(raw: &str) -> Option<Self> {
        if raw.len() != MAX_LEN {
            return None;
        }
        let rest = raw.strip_prefix(PREFIX)?;
        let (tenant, random) = rest.split_at_checked(32)?;
        let random = random.strip_prefix('_')?;
        if random.len() != RANDOM_LEN
            || !random
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            || !tenant.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return None;
        }
        let tenant = Uuid::parse_str(tenant).ok()?;
        Some(Self {
            text: raw.to_owned(),
            tenant: TenantId::from_uuid(tenant),
        })
    }

    pub fn tenant(&self) -> TenantId {
        self.tenant
    }

    pub fn hash(&self) -> Vec<u8> {
        hash_secret(&self.text)
    }

    /// The secret itself, for the one answer that hands it out.
    pub fn expose(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_secret_parses_back_to_its_tenant() {
        let tenant = TenantId::new();
        let secret = ScimSecret::generate(tenant);
        let parsed = ScimSecret::parse(secret.expose()).expect("parses");
        assert_eq!(parsed.tenant(), tenant);
        assert_eq!(parsed.hash(), secret.hash());
        assert!(!format!("{secret:?}").contains(secret.expose()));
    }

    #[test]
    fn anything_else_is_refused() {
        let secret = ScimSecret::generate(TenantId::new());
        let text = secret.expose();
        for bad in [
            "",
            "scim_",
            &text[..text.len() - 1],
            &format!("{text}A"),
            &text.replacen("scim_", "scam_", 1),
            &text.replacen('_', "-", 2),
            &format!("scim_{}_{}", "z".repeat(32), "A".repeat(43)),
            &format!("scim_{}_{}", "0".repeat(32), "A".repeat(42) + "="),
        ] {
            assert!(ScimSecret::parse(bad).is_none(), "{bad}");
        }
    }
}
