//! Recovery codes: 10 per user, shown once, each usable once instead of a TOTP code. A code is
//! 16 characters of base32 (80 random bits) written `xxxx-xxxx-xxxx-xxxx`; so much entropy needs
//! no slow hash, so a code is stored as SHA-256 bound to its tenant and user, and a presented
//! code is compared with every unused one in constant time.

use lms_tenants::TenantId;
use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::users::UserId;

/// Codes issued at a time.
pub const CODES_PER_USER: usize = 10;
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
const CHARS: usize = 16;

/// A recovery code as shown to its user.
pub struct RecoveryCode(String);

impl RecoveryCode {
    pub fn generate() -> Self {
        let mut rng = rand::rngs::OsRng;
        let chars: Vec<char> = (0..CHARS)
            .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
            .collect();
        let groups: Vec<String> = chars.chunks(4).map(|c| c.iter().collect()).collect();
        Self(groups.join("-"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// A fresh set of codes.
pub fn generate_set() -> Vec<RecoveryCode> {
    (0..CODES_PER_USER)
        .map(|_| RecoveryCode::generate())
        .collect()
}

/// The code as typed, reduced to its 16 characters (case, dashes and spaces do not matter);
/// `None` when it cannot be a recovery code.
pub fn normalize(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (code.len() == CHARS && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

/// What is stored for a code of this user: SHA-256 over the tenant, the user and the code.
pub fn hash(tenant: TenantId, user: UserId, code: &str) -> Vec<u8> {
    let normalized = normalize(code).unwrap_or_default();
    Sha256::new()
        .chain_update(b"lms mfa recovery code\0")
        .chain_update(tenant.as_uuid().as_bytes())
        .chain_update(user.0.as_bytes())
        .chain_update(normalized.as_bytes())
        .finalize()
        .to_vec()
}

/// The index of the stored hash that `presented` matches; every candidate is compared.
pub fn find_match<'a>(
    presented: &[u8],
    stored: impl IntoIterator<Item = &'a [u8]>,
) -> Option<usize> {
    let mut found = None;
    for (index, candidate) in stored.into_iter().enumerate() {
        if bool::from(candidate.ct_eq(presented)) && found.is_none() {
            found = Some(index);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_grouped_base32_and_distinct() {
        let set = generate_set();
        assert_eq!(set.len(), CODES_PER_USER);
        for code in &set {
            assert_eq!(code.as_str().len(), 19, "{}", code.as_str());
            assert_eq!(code.as_str().matches('-').count(), 3);
            assert!(normalize(code.as_str()).is_some());
        }
        let mut distinct: Vec<&str> = set.iter().map(RecoveryCode::as_str).collect();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), CODES_PER_USER);
    }

    #[test]
    fn typing_variants_hash_alike_and_users_apart() {
        let tenant = TenantId::new();
        let user = UserId::default();
        let code = "abcd-efgh-ijkl-mn23";
        assert_eq!(
            hash(tenant, user, code),
            hash(tenant, user, " ABCD EFGH ijkl-MN23 ")
        );
        assert_ne!(
            hash(tenant, user, code),
            hash(tenant, UserId::default(), code)
        );
        assert_ne!(hash(tenant, user, code), hash(TenantId::new(), user, code));
        for junk in ["", "abcd-efgh-ijkl", "abcd-efgh-ijkl-mn21", "123456"] {
            assert_eq!(normalize(junk), None, "{junk}");
        }
    }

    #[test]
    fn matching_finds_the_one_code() {
        let stored = [vec![1u8; 32], vec![2u8; 32], vec![3u8; 32]];
        let refs = || stored.iter().map(Vec::as_slice);
        assert_eq!(find_match(&[2u8; 32], refs()), Some(1));
        assert_eq!(find_match(&[4u8; 32], refs()), None);
    }
}
