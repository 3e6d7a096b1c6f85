//! Revocation through a Bitstring Status List (W3C Bitstring Status List v1.0): each tenant
//! publishes one signed `BitstringStatusListCredential` whose bit `i` (counting from the most
//! significant bit of the first byte) is set when the certificate holding index `i` is revoked.
//! The list is GZIP-compressed and carried as a base64url multibase (`u…`) string.

use std::io::{Read, Write};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, Utc};
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde_json::{Value, json};

use super::canon::CREDENTIALS_V2;
use super::issue::STATUS_LIST_LENGTH;

/// Where the tenant's revocation list is published, under its link base.
pub const PATH: &str = "/credentials/status/revocation";

const BYTES: usize = STATUS_LIST_LENGTH as usize / 8;

/// The list's URL for a tenant whose links start with `link_base`.
pub fn url(link_base: &str) -> String {
    format!("{link_base}{PATH}")
}

/// The `credentialStatus` entry of the certificate at `index`.
pub fn entry(link_base: &str, index: i32) -> Value {
    let list = url(link_base);
    json!({
        "id": format!("{list}#{index}"),
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": index.to_string(),
        "statusListCredential": list,
    })
}

/// The encoded list with these indexes set.
pub fn encode(revoked: &[i32]) -> String {
    let mut bits = vec![0u8; BYTES];
    for &index in revoked {
        if let Ok(i) = usize::try_from(index)
            && i < STATUS_LIST_LENGTH as usize
        {
            bits[i / 8] |= 0x80 >> (i % 8);
        }
    }
    let mut gzip = GzEncoder::new(Vec::new(), Compression::default());
    // Writing to a Vec cannot fail.
    let compressed = gzip
        .write_all(&bits)
        .and_then(|()| gzip.finish())
        .unwrap_or_default();
    format!("u{}", URL_SAFE_NO_PAD.encode(compressed))
}

/// Whether bit `index` of an encoded list is set; `None` for a list that does not decode or
/// does not reach `index`. Reads at most the specification's list size (plus a little).
pub fn is_set(encoded: &str, index: usize) -> Option<bool> {
    let compressed = URL_SAFE_NO_PAD.decode(encoded.strip_prefix('u')?).ok()?;
    let mut bits = Vec::new();
    GzDecoder::new(compressed.as_slice())
        .take(4 * BYTES as u64)
        .read_to_end(&mut bits)
        .ok()?;
    bits.get(index / 8)
        .map(|byte| byte & (0x80 >> (index % 8)) != 0)
}

/// The unsigned status list credential.
pub fn credential(issuer: &str, link_base: &str, revoked: &[i32], now: DateTime<Utc>) -> Value {
    let list = url(link_base);
    json!({
        "@context": [CREDENTIALS_V2],
        "id": list,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer,
        "validFrom": now.to_rfc3339_opts(SecondsFormat::Secs, true),
        "credentialSubject": {
            "id": format!("{list}#list"),
            "type": "BitstringStatusList",
            "statusPurpose": "revocation",
            "encodedList": encode(revoked),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_bits_read_back_and_the_rest_are_clear() {
        let encoded = encode(&[0, 9, 131_071]);
        for (index, set) in [
            (0, true),
            (1, false),
            (9, true),
            (8, false),
            (131_071, true),
        ] {
            assert_eq!(is_set(&encoded, index), Some(set), "bit {index}");
        }
        assert_eq!(is_set(&encoded, 131_072), None);
        assert_eq!(is_set("not-multibase", 0), None);
        // An empty 16 KiB list compresses to a few dozen bytes.
        assert!(encode(&[]).len() < 200);
    }
}
