//! Secrets the platform must read back (TOTP seeds and SSO client secrets; next, webhook signing
//! secrets), sealed with XChaCha20-Poly1305 under a key that lives outside the database.
//!
//! A sealed value is `[format 1][key id, 8 bytes][nonce, 24 bytes][ciphertext and tag]`. The key
//! id is a fingerprint of the key (the first 8 bytes of a domain-separated SHA-256), so keys need
//! no names: values are sealed with the current key (`LMS_SECRETS_KEY`) and opened with whichever
//! configured key the prefix names, the current one or a retired one still listed in
//! `LMS_SECRETS_RETIRED_KEYS`. Every value is also bound to a context (the associated data), e.g.
//! the tenant and user it belongs to, so a sealed value copied onto another row does not open.
//!
//! Without `LMS_SECRETS_KEY` (the "no configuration" run) a development key is generated once and
//! kept in `<LMS_DATA_DIR>/secrets-key` (mode 0600), as the demo password is.

use std::fmt;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

const FORMAT: u8 = 1;
const KEY_ID_LEN: usize = 8;
const NONCE_LEN: usize = 24;
const HEADER_LEN: usize = 1 + KEY_ID_LEN + NONCE_LEN;
/// Where the development key is kept under the data folder.
pub const DEVELOPMENT_KEY_FILE: &str = "secrets-key";

/// Where the keys come from (`LMS_SECRETS_KEY`, `LMS_SECRETS_RETIRED_KEYS`).
#[derive(Debug, Clone, Default)]
pub struct SecretsConfig {
    /// Base64 of 32 random bytes; seals new values. `None`: the development key in the data folder.
    pub key: Option<SecretString>,
    /// Comma-separated base64 keys that still open values sealed before a rotation.
    pub retired_keys: Option<SecretString>,
}

/// Why a sealed value did not open.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OpenError {
    #[error("the sealed value is truncated or of an unknown format")]
    Malformed,
    #[error("no configured key has id {0}")]
    UnknownKey(String),
    #[error("the sealed value does not authenticate (wrong key, context or tampered)")]
    Forged,
}

struct SealingKey {
    id: [u8; KEY_ID_LEN],
    cipher: XChaCha20Poly1305,
}

impl SealingKey {
    fn new(bytes: &[u8; 32]) -> Self {
        let digest = Sha256::new()
            .chain_update(b"lms secrets-at-rest key id\0")
            .chain_update(bytes)
            .finalize();
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        Self {
            id,
            cipher: XChaCha20Poly1305::new(Key::from_slice(bytes)),
        }
    }
}

/// The current sealing key and the retired keys that still open older values.
#[derive(Clone)]
pub struct SealingKeys {
    current: Arc<SealingKey>,
    retired: Arc<[SealingKey]>,
}

impl fmt::Debug for SealingKeys {
    // Key ids only: the keys themselves never reach a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealingKeys")
            .field("current", &hex::encode(self.current.id))
            .field(
                "retired",
                &self
                    .retired
                    .iter()
                    .map(|k| hex::encode(k.id))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl SealingKeys {
    /// Keys from raw bytes: `current` seals, all of them open.
    pub fn new(current: &[u8; 32], retired: &[[u8; 32]]) -> Self {
        Self {
            current: Arc::new(SealingKey::new(current)),
            retired: retired.iter().map(SealingKey::new).collect(),
        }
    }

    /// The configured keys, or the development key kept under `data_dir` when none is set.
    pub fn from_config(config: &SecretsConfig, data_dir: &Path) -> anyhow::Result<Self> {
        let current = match &config.key {
            Some(key) => parse_key(key.expose_secret()).context("LMS_SECRETS_KEY")?,
            None => development_key(data_dir)?,
        };
        let retired = match &config.retired_keys {
            Some(list) => list
                .expose_secret()
                .split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(parse_key)
                .collect::<anyhow::Result<Vec<_>>>()
                .context("LMS_SECRETS_RETIRED_KEYS")?,
            None => Vec::new(),
        };
        Ok(Self::new(&current, &retired))
    }

    /// The id of the key that seals new values (hex), for logs.
    pub fn current_key_id(&self) -> String {
        hex::encode(self.current.id)
    }

    /// Seals `plaintext`, bound to `context` (which must be given again to open it).
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ciphertext = self
            .current
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &associated_data(&self.current.id, context),
                },
            )
            // Encryption fails only for messages beyond the cipher's length limit (~256 GiB).
            .unwrap_or_default();
        let mut sealed = Vec::with_capacity(HEADER_LEN + ciphertext.len());
        sealed.push(FORMAT);
        sealed.extend_from_slice(&self.current.id);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        sealed
    }

    /// Opens a value sealed by [`SealingKeys::seal`] under any configured key, for `context`.
    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, OpenError> {
        if sealed.len() < HEADER_LEN + 16 || sealed[0] != FORMAT {
            return Err(OpenError::Malformed);
        }
        let id = &sealed[1..1 + KEY_ID_LEN];
        let nonce = &sealed[1 + KEY_ID_LEN..HEADER_LEN];
        let key = std::iter::once(&*self.current)
            .chain(self.retired.iter())
            .find(|k| k.id == id)
            .ok_or_else(|| OpenError::UnknownKey(hex::encode(id)))?;
        key.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: &sealed[HEADER_LEN..],
                    aad: &associated_data(&key.id, context),
                },
            )
            .map_err(|_| OpenError::Forged)
    }

    /// Whether a sealed value is under a key other than the current one (worth sealing again).
    pub fn is_stale(&self, sealed: &[u8]) -> bool {
        sealed.get(1..1 + KEY_ID_LEN) != Some(&self.current.id[..])
    }
}

/// The header's format and key id are authenticated along with the caller's context.
fn associated_data(key_id: &[u8; KEY_ID_LEN], context: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(1 + KEY_ID_LEN + context.len());
    aad.push(FORMAT);
    aad.extend_from_slice(key_id);
    aad.extend_from_slice(context);
    aad
}

fn parse_key(text: &str) -> anyhow::Result<[u8; 32]> {
    let bytes = STANDARD
        .decode(text.trim())
        .context("not base64 (standard alphabet, padded)")?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| anyhow::anyhow!("{} bytes; a key is 32 random bytes", bytes.len()))
}

/// The development key: read from the data folder, else generated and kept there.
fn development_key(data_dir: &Path) -> anyhow::Result<[u8; 32]> {
    let file = data_dir.join(DEVELOPMENT_KEY_FILE);
    if let Ok(saved) = std::fs::read_to_string(&file) {
        return parse_key(&saved).with_context(|| format!("reading {}", file.display()));
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    let mut options = std::fs::OpenOptions::new();
    // create_new: two processes starting at once must not each keep a different key.
    options.write(true).create_new(true);
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(&file) {
        Ok(mut f) => {
            f.write_all(STANDARD.encode(key).as_bytes())
                .with_context(|| format!("writing {}", file.display()))?;
            tracing::info!(
                file = %file.display(),
                "generated a development key for secrets at rest; set LMS_SECRETS_KEY in production"
            );
            Ok(key)
        }
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            let saved = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            parse_key(&saved).with_context(|| format!("reading {}", file.display()))
        }
        Err(err) => Err(err).with_context(|| format!("creating {}", file.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: [u8; 32] = [7; 32];
    const B: [u8; 32] = [9; 32];

    #[test]
    fn sealed_values_open_with_their_key_and_context() {
        let keys = SealingKeys::new(&A, &[]);
        let sealed = keys.seal(b"seed bytes", b"tenant:1/user:2");
        assert_ne!(&sealed[HEADER_LEN..], b"seed bytes");
        assert_eq!(
            keys.open(&sealed, b"tenant:1/user:2").as_deref(),
            Ok(&b"seed bytes"[..])
        );
        // A fresh nonce each time: the same secret never seals to the same bytes.
        assert_ne!(sealed, keys.seal(b"seed bytes", b"tenant:1/user:2"));
    }

    #[test]
    fn a_wrong_key_or_context_does_not_open() {
        let sealed = SealingKeys::new(&A, &[]).seal(b"secret", b"ctx");
        // A different key has a different id: it does not even know the value's key.
        assert!(matches!(
            SealingKeys::new(&B, &[]).open(&sealed, b"ctx"),
            Err(OpenError::UnknownKey(_))
        ));
        assert_eq!(
            SealingKeys::new(&A, &[]).open(&sealed, b"other ctx"),
            Err(OpenError::Forged)
        );
        // A value whose key id was rewritten to another key's is refused by that key.
        let mut relabelled = sealed.clone();
        relabelled[1..1 + KEY_ID_LEN].copy_from_slice(&SealingKey::new(&B).id);
        assert_eq!(
            SealingKeys::new(&B, &[]).open(&relabelled, b"ctx"),
            Err(OpenError::Forged)
        );
    }

    #[test]
    fn tampered_or_truncated_values_are_refused() {
        let keys = SealingKeys::new(&A, &[]);
        let sealed = keys.seal(b"secret", b"ctx");
        for index in [HEADER_LEN - 1, HEADER_LEN, sealed.len() - 1] {
            let mut tampered = sealed.clone();
            tampered[index] ^= 1;
            assert_eq!(
                keys.open(&tampered, b"ctx"),
                Err(OpenError::Forged),
                "{index}"
            );
        }
        let mut other_format = sealed.clone();
        other_format[0] = 2;
        assert_eq!(keys.open(&other_format, b"ctx"), Err(OpenError::Malformed));
        assert_eq!(
            keys.open(&sealed[..HEADER_LEN + 10], b"ctx"),
            Err(OpenError::Malformed)
        );
        assert_eq!(keys.open(&[], b"ctx"), Err(OpenError::Malformed));
    }

    #[test]
    fn rotation_keeps_old_values_readable_through_retired_keys() {
        let before = SealingKeys::new(&A, &[]);
        let old = before.seal(b"secret", b"ctx");
        let after = SealingKeys::new(&B, &[A]);
        assert_eq!(after.open(&old, b"ctx").as_deref(), Ok(&b"secret"[..]));
        assert!(after.is_stale(&old));
        let new = after.seal(b"secret", b"ctx");
        assert!(!after.is_stale(&new));
        assert_eq!(new[1..1 + KEY_ID_LEN], SealingKey::new(&B).id);
        // Once the old key is dropped from the configuration, its values no longer open.
        assert!(matches!(
            SealingKeys::new(&B, &[]).open(&old, b"ctx"),
            Err(OpenError::UnknownKey(id)) if id == hex::encode(SealingKey::new(&A).id)
        ));
    }

    #[test]
    fn configured_keys_are_base64_of_32_bytes() {
        let dir = std::env::temp_dir().join(format!("lms-sealing-{}", uuid::Uuid::now_v7()));
        let config = |key: &str, retired: Option<&str>| SecretsConfig {
            key: Some(SecretString::from(key.to_owned())),
            retired_keys: retired.map(|r| SecretString::from(r.to_owned())),
        };
        let keys = SealingKeys::from_config(&config(&STANDARD.encode(B), None), &dir)
            .expect("a valid key");
        assert_eq!(keys.current_key_id(), hex::encode(SealingKey::new(&B).id));
        for bad in ["not base64!", &STANDARD.encode([1u8; 16])] {
            assert!(
                SealingKeys::from_config(&config(bad, None), &dir).is_err(),
                "{bad}"
            );
        }
        let rotated = SealingKeys::from_config(
            &config(
                &STANDARD.encode(B),
                Some(&format!(" {} ,", STANDARD.encode(A))),
            ),
            &dir,
        )
        .expect("retired keys");
        let old = SealingKeys::new(&A, &[]).seal(b"x", b"");
        assert_eq!(rotated.open(&old, b"").as_deref(), Ok(&b"x"[..]));
        assert!(!dir.exists(), "configured keys write nothing");
    }

    #[test]
    fn the_development_key_is_generated_once_and_kept() {
        let dir = std::env::temp_dir().join(format!("lms-sealing-{}", uuid::Uuid::now_v7()));
        let first = SealingKeys::from_config(&SecretsConfig::default(), &dir).expect("generated");
        let sealed = first.seal(b"kept", b"ctx");
        let second = SealingKeys::from_config(&SecretsConfig::default(), &dir).expect("read back");
        assert_eq!(second.open(&sealed, b"ctx").as_deref(), Ok(&b"kept"[..]));
        let mode = std::fs::metadata(dir.join(DEVELOPMENT_KEY_FILE))
            .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777)
            .expect("key file");
        assert_eq!(mode, 0o600);
        std::fs::remove_dir_all(&dir).ok();
    }
}
