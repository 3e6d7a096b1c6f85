//! Signing secrets and signatures as the Standard Webhooks specification defines them: a secret
//! is `whsec_` + base64 of random bytes, and a signature is `v1,` + base64 of the HMAC-SHA256 of
//! `{webhook-id}.{webhook-timestamp}.{body}` keyed with the secret's bytes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

const PREFIX: &str = "whsec_";
/// 32 bytes: the specification asks for at least 24.
const KEY_BYTES: usize = 32;

/// A fresh secret, in its `whsec_` form.
pub fn generate() -> String {
    let mut key = [0u8; KEY_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut key);
    format!("{PREFIX}{}", STANDARD.encode(key))
}

/// The `webhook-signature` header value: one `v1,` signature per secret, space-separated, so a
/// receiver holding either the new or (during a rotation's overlap) the old secret verifies it.
///
/// # Panics
/// If a secret is not in the `whsec_` form this module generates (stored secrets always are:
/// the table checks the prefix and only [`generate`] writes them).
pub fn signature_header(secrets: &[&str], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|secret| sign(secret, id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = secret
        .strip_prefix(PREFIX)
        .and_then(|encoded| STANDARD.decode(encoded).ok())
        .expect("a stored webhook secret is whsec_ and base64");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes a key of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks reference libraries.
    #[test]
    fn signs_like_the_reference_libraries() {
        let header = signature_header(
            &["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(header, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn every_secret_signs_and_fresh_secrets_differ() {
        let (a, b) = (generate(), generate());
        assert_ne!(a, b);
        assert!(a.starts_with("whsec_"));
        assert_eq!(STANDARD.decode(&a[6..]).expect("base64").len(), 32);
        let header = signature_header(&[&a, &b], "evt", 1, b"{}");
        let parts: Vec<_> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], signature_header(&[&a], "evt", 1, b"{}"));
        assert_ne!(parts[0], parts[1]);
    }
}
