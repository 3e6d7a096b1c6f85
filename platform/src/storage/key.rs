//! Object keys: the only way a name reaches a storage backend, so neither a path on disk nor an
//! S3 key can escape its tenant's space.

use std::fmt;

use uuid::Uuid;

use super::StorageError;

/// Longest key accepted, tenant segment included (S3 allows 1024 with the prefix).
pub const MAX_KEY_BYTES: usize = 512;

/// A validated object key: relative, segments of `[A-Za-z0-9._-]+`, no `.` or `..` segments, no
/// empty segments, at most [`MAX_KEY_BYTES`] bytes. Always begins with the tenant id segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectKey(String);

impl ObjectKey {
    /// `<tenant>/<parts...>`; each part is one segment (a `/` inside a part is refused).
    pub fn for_tenant(tenant: Uuid, parts: &[&str]) -> Result<Self, StorageError> {
        if parts.is_empty() {
            return Err(invalid("a key needs at least one segment after the tenant"));
        }
        let mut key = tenant.hyphenated().to_string();
        for part in parts {
            check_segment(part)?;
            key.push('/');
            key.push_str(part);
        }
        check_length(&key)?;
        Ok(Self(key))
    }

    /// A key read back from where it was recorded (e.g. a database column).
    pub fn parse(raw: &str) -> Result<Self, StorageError> {
        let (tenant, rest) = raw
            .split_once('/')
            .ok_or_else(|| invalid("a key needs at least one segment after the tenant"))?;
        let tenant =
            Uuid::try_parse(tenant).map_err(|_| invalid("a key must begin with the tenant id"))?;
        let parts: Vec<&str> = rest.split('/').collect();
        let key = Self::for_tenant(tenant, &parts)?;
        // Only the canonical spelling of the tenant id, so one object has one key.
        if key.0 != raw {
            return Err(invalid("the tenant id must be a lowercase hyphenated UUID"));
        }
        Ok(key)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The tenant whose space the key is in.
    pub fn tenant(&self) -> Uuid {
        self.0
            .split('/')
            .next()
            .and_then(|s| Uuid::try_parse(s).ok())
            .unwrap_or_default()
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One path segment: `[A-Za-z0-9._-]+`, not `.` or `..`.
pub(super) fn check_segment(segment: &str) -> Result<(), StorageError> {
    if segment.is_empty() {
        return Err(invalid("empty segment"));
    }
    if segment == "." || segment == ".." {
        return Err(invalid(format!("segment {segment:?} is not allowed")));
    }
    if let Some(c) = segment
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(invalid(format!(
            "character {c:?} is not allowed (only A-Z, a-z, 0-9, '.', '_' and '-')"
        )));
    }
    Ok(())
}

fn check_length(key: &str) -> Result<(), StorageError> {
    if key.len() > MAX_KEY_BYTES {
        return Err(invalid(format!(
            "{} bytes is longer than the {MAX_KEY_BYTES} allowed",
            key.len()
        )));
    }
    Ok(())
}

fn invalid(reason: impl Into<String>) -> StorageError {
    StorageError::InvalidKey(reason.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant() -> Uuid {
        Uuid::parse_str("0190f5a4-7c3e-7b1a-9d2e-3f4a5b6c7d8e").expect("uuid")
    }

    fn refused(parts: &[&str]) -> String {
        match ObjectKey::for_tenant(tenant(), parts) {
            Err(StorageError::InvalidKey(reason)) => reason,
            other => panic!("{parts:?} should be refused, got {other:?}"),
        }
    }

    #[test]
    fn keys_begin_with_the_tenant() {
        let key = ObjectKey::for_tenant(tenant(), &["submissions", "v1.2_final-draft.pdf"])
            .expect("valid key");
        assert_eq!(
            key.as_str(),
            "0190f5a4-7c3e-7b1a-9d2e-3f4a5b6c7d8e/submissions/v1.2_final-draft.pdf"
        );
        assert_eq!(key.tenant(), tenant());
    }

    #[test]
    fn traversal_is_refused() {
        assert!(refused(&[".."]).contains("not allowed"));
        refused(&["a", "..", "b"]);
        refused(&["."]);
        refused(&["../other-tenant"]);
        refused(&["a/../../b"]);
    }

    #[test]
    fn absolute_paths_and_separators_are_refused() {
        refused(&["/etc/passwd"]);
        refused(&["a/b"]);
        refused(&["a\\b"]);
        refused(&["C:"]);
    }

    #[test]
    fn empty_segments_are_refused() {
        refused(&[]);
        refused(&[""]);
        refused(&["a", ""]);
    }

    #[test]
    fn odd_characters_are_refused() {
        for part in ["a b", "naïve", "a\0b", "a\nb", "x?y", "~", "%2e%2e", "a:b"] {
            refused(&[part]);
        }
        // Dots inside a segment are fine; only "." and ".." are special.
        ObjectKey::for_tenant(tenant(), &["...", ".hidden", "a..b"]).expect("valid key");
    }

    #[test]
    fn overlong_keys_are_refused() {
        // 36 (tenant) + 1 (slash) + 475 = 512 bytes: the longest allowed.
        let longest = "a".repeat(MAX_KEY_BYTES - 37);
        let key = ObjectKey::for_tenant(tenant(), &[&longest]).expect("512 bytes is allowed");
        assert_eq!(key.as_str().len(), MAX_KEY_BYTES);
        let over = "a".repeat(MAX_KEY_BYTES - 36);
        assert!(refused(&[&over]).contains("longer"));
    }

    #[test]
    fn parse_accepts_only_what_for_tenant_builds() {
        let key = ObjectKey::for_tenant(tenant(), &["a", "b.txt"]).expect("valid key");
        assert_eq!(ObjectKey::parse(key.as_str()).expect("round trip"), key);
        for raw in [
            "",
            "0190f5a4-7c3e-7b1a-9d2e-3f4a5b6c7d8e",
            "0190f5a4-7c3e-7b1a-9d2e-3f4a5b6c7d8e/",
            "0190f5a4-7c3e-7b1a-9d2e-3f4a5b6c7d8e//a",
            "0190f5a4-7c3e-7b1a-9d2e-3f4a5b6c7d8e/../x",
            "/0190f5a4-7c3e-7b1a-9d2e-3f4a5b6c7d8e/a",
            "0190F5A4-7C3E-7B1A-9D2E-3F4A5B6C7D8E/a",
            "0190f5a47c3e7b1a9d2e3f4a5b6c7d8e/a",
            "not-a-tenant/a",
        ] {
            assert!(ObjectKey::parse(raw).is_err(), "{raw:?} should be refused");
        }
    }
}
