//! Detached Ed25519 signatures of plugin components by trusted publishers.
//!
//! A publisher signs the 32-byte SHA-256 digest of the component (not the bytes themselves, so a
//! signature is small to produce for large components and names exactly one content). Verification
//! is strict (`verify_strict`: no small-order keys, canonical `S`), so a signature cannot be bent to
//! match another key or another digest.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, VerifyingKey};

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature is not 64 bytes of base64")]
    Malformed,
    #[error("the signature does not verify for this component with this key")]
    Mismatch,
}

/// Parses a base64 public key of 32 bytes that is a valid curve point.
pub fn parse_public_key(raw: &str) -> Option<VerifyingKey> {
    let bytes: [u8; 32] = STANDARD.decode(raw.trim()).ok()?.try_into().ok()?;
    let key = VerifyingKey::from_bytes(&bytes).ok()?;
    (!key.is_weak()).then_some(key)
}

/// Verifies `signature` (base64) over `digest` with `key`.
pub fn verify(
    key: &VerifyingKey,
    digest: &[u8; 32],
    signature: &str,
) -> Result<(), SignatureError> {
    let bytes: [u8; 64] = STANDARD
        .decode(signature.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(SignatureError::Malformed)?;
    key.verify_strict(digest, &Signature::from_bytes(&bytes))
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signer, SigningKey};
    use sha2::{Digest, Sha256};

    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn sign(key: &SigningKey, bytes: &[u8]) -> String {
        let digest: [u8; 32] = Sha256::digest(bytes).into();
        STANDARD.encode(key.sign(&digest).to_bytes())
    }

    #[test]
    fn only_the_right_key_over_the_right_bytes_verifies() {
        let publisher = key(1);
        let component = b"\0asm component";
        let digest: [u8; 32] = Sha256::digest(component).into();
        let signature = sign(&publisher, component);
        assert_eq!(
            verify(&publisher.verifying_key(), &digest, &signature),
            Ok(())
        );
        // Another key's signature, a signature of other bytes, tampered bytes.
        assert_eq!(
            verify(
                &publisher.verifying_key(),
                &digest,
                &sign(&key(2), component)
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(
                &publisher.verifying_key(),
                &digest,
                &sign(&publisher, b"other")
            ),
            Err(SignatureError::Mismatch)
        );
        let tampered: [u8; 32] = Sha256::digest(b"\0asm componenT").into();
        assert_eq!(
            verify(&publisher.verifying_key(), &tampered, &signature),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&publisher.verifying_key(), &digest, "not base64!"),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn public_keys_must_be_32_byte_points() {
        let good = STANDARD.encode(key(3).verifying_key().to_bytes());
        assert!(parse_public_key(&good).is_some());
        assert!(parse_public_key(&STANDARD.encode([0u8; 31])).is_none());
        // The identity point is a weak (small-order) key.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(parse_public_key(&STANDARD.encode(identity)).is_none());
    }
}
