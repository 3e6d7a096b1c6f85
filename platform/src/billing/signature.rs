//! Stripe's webhook signatures: `Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of
//! "<t>.<body>">[,v1=…]`. Any `v1` made with any configured secret passes (Stripe signs with
//! every live secret while one is rolled), within 300 seconds of now.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// How far the signature's time may be from now.
pub const TOLERANCE_SECONDS: i64 = 300;
/// The longest `Stripe-Signature` header read.
pub const MAX_HEADER_BYTES: usize = 4096;
/// The most `v1` signatures looked at.
const MAX_SIGNATURES: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing")]
    Missing,
    #[error("the Stripe-Signature header is malformed")]
    Malformed,
    #[error("the signature's timestamp is more than 300 seconds from now")]
    Stale,
    #[error("no signature matches")]
    Mismatch,
}

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length.
    let mut mac =
        HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// Checks a webhook's signature against every secret.
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secrets: &[SecretString],
    now: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    if header.len() > MAX_HEADER_BYTES {
        return Err(SignatureError::Malformed);
    }
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let Some((key, value)) = part.trim().split_once('=') else {
            continue;
        };
        match key {
            "t" => timestamp = value.parse::<i64>().ok(),
            "v1" if signatures.len() < MAX_SIGNATURES => {
                if let Ok(bytes) = hex::decode(value) {
                    signatures.push(bytes);
                }
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if now.abs_diff(timestamp) > TOLERANCE_SECONDS.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    for secret in secrets {
        let expected = mac(secret.expose_secret(), timestamp, body)
            .finalize()
            .into_bytes();
        if signatures
            .iter()
            .any(|s| bool::from(s.as_slice().ct_eq(expected.as_slice())))
        {
            return Ok(());
        }
    }
    Err(SignatureError::Mismatch)
}

/// A `Stripe-Signature` header value for `body` (as Stripe makes it; for tests and the
/// benchmark).
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex::encode(tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(list: &[&str]) -> Vec<SecretString> {
        list.iter()
            .map(|s| SecretString::from((*s).to_owned()))
            .collect()
    }

    const BODY: &[u8] = br#"{"id":"evt_1","type":"invoice.paid"}"#;

    #[test]
    fn a_signature_by_any_configured_secret_passes() {
        let now = 1_800_000_000;
        let header = sign("whsec_new", now, BODY);
        assert_eq!(
            verify(
                Some(&header),
                BODY,
                &secrets(&["whsec_old", "whsec_new"]),
                now
            ),
            Ok(())
        );
        // Stripe sends one v1 per live secret during a roll; any may match.
        let both = format!(
            "{},v1={}",
            sign("whsec_other", now, BODY),
            &header[header.find("v1=").unwrap_or(0) + 3..]
        );
        assert_eq!(
            verify(Some(&both), BODY, &secrets(&["whsec_new"]), now),
            Ok(())
        );
    }

    #[test]
    fn forged_stale_and_malformed_signatures_fail() {
        let now = 1_800_000_000;
        let keys = secrets(&["whsec_right"]);
        let forged = sign("whsec_wrong", now, BODY);
        assert_eq!(
            verify(Some(&forged), BODY, &keys, now),
            Err(SignatureError::Mismatch)
        );
        let good = sign("whsec_right", now, BODY);
        assert_eq!(
            verify(Some(&good), br#"{"id":"evt_2"}"#, &keys, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(Some(&good), BODY, &keys, now + 301),
            Err(SignatureError::Stale)
        );
        assert_eq!(verify(Some(&good), BODY, &keys, now - 300), Ok(()));
        assert_eq!(verify(None, BODY, &keys, now), Err(SignatureError::Missing));
        assert_eq!(
            verify(Some("v1=abc"), BODY, &keys, now),
            Err(SignatureError::Malformed)
        );
        let v0_only = good.replace("v1=", "v0=");
        assert_eq!(
            verify(Some(&v0_only), BODY, &keys, now),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(Some(&good), BODY, &[], now),
            Err(SignatureError::Mismatch)
        );
        let huge = "t=1,".repeat(2000);
        assert_eq!(
            verify(Some(&huge), BODY, &keys, now),
            Err(SignatureError::Malformed)
        );
    }
}
