//! The tenant's issuer identifier, a `did:web` DID of its own host (its custom domain or its
//! subdomain), and the DID document published at `https://<host>/.well-known/did.json` listing
//! every issuer key as a `Multikey`, so that anyone can check a credential without us.

use serde_json::{Value, json};

use super::canon::{DID_V1, MULTIKEY_V1};
use super::keys::PublicKey;
use super::model::IssuerKeyId;

/// The multicodec prefix of an Ed25519 public key (`0xed`, varint-encoded).
const ED25519_PUB: [u8; 2] = [0xed, 0x01];

/// `did:web:<host>` for a link base such as `https://acme.example` (a port is percent-encoded,
/// as the method says).
pub fn of_link_base(link_base: &str) -> String {
    let host = link_base
        .split_once("://")
        .map_or(link_base, |(_, rest)| rest)
        .split('/')
        .next()
        .unwrap_or_default();
    format!("did:web:{}", host.replace(':', "%3A"))
}

/// The host a `did:web` DID names (its document lives there), if it names only a host.
pub fn host_of(did: &str) -> Option<String> {
    let host = did.strip_prefix("did:web:")?;
    if host.is_empty() || host.contains(':') || host.contains('/') || host.len() > 300 {
        return None;
    }
    Some(host.replace("%3A", ":").replace("%3a", ":"))
}

/// The verification method id of one of the tenant's keys.
pub fn verification_method(did: &str, key: IssuerKeyId) -> String {
    format!("{did}#key-{}", key.0.simple())
}

/// The key a verification method id names, if it is one of `did`'s.
pub fn key_of(did: &str, verification_method: &str) -> Option<IssuerKeyId> {
    let fragment = verification_method
        .strip_prefix(did)?
        .strip_prefix("#key-")?;
    uuid::Uuid::try_parse(fragment).ok().map(IssuerKeyId)
}

/// `z` + base58btc of the multicodec-prefixed Ed25519 public key.
pub fn multikey(public_key: &[u8]) -> String {
    let mut bytes = ED25519_PUB.to_vec();
    bytes.extend_from_slice(public_key);
    format!("z{}", bs58::encode(bytes).into_string())
}

/// The DID document: every key (retired ones too, so older credentials still verify), each
/// usable for assertions.
pub fn document(did: &str, keys: &[PublicKey]) -> Value {
    let methods: Vec<Value> = keys
        .iter()
        .map(|key| {
            json!({
                "id": verification_method(did, key.id),
                "type": "Multikey",
                "controller": did,
                "publicKeyMultibase": multikey(&key.public_key),
            })
        })
        .collect();
    let ids: Vec<Value> = keys
        .iter()
        .map(|key| Value::String(verification_method(did, key.id)))
        .collect();
    json!({
        "@context": [DID_V1, MULTIKEY_V1],
        "id": did,
        "verificationMethod": methods,
        "assertionMethod": ids,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dids_name_the_host_and_keys_round_trip() {
        assert_eq!(
            of_link_base("https://acme.lms.test"),
            "did:web:acme.lms.test"
        );
        assert_eq!(
            of_link_base("http://127.0.0.1:8080/base"),
            "did:web:127.0.0.1%3A8080"
        );
        assert_eq!(
            host_of("did:web:127.0.0.1%3A8080").as_deref(),
            Some("127.0.0.1:8080")
        );
        assert_eq!(host_of("did:web:a.example:path"), None);
        assert_eq!(host_of("did:key:z6Mk"), None);
        let key = IssuerKeyId::default();
        let vm = verification_method("did:web:acme.lms.test", key);
        assert_eq!(key_of("did:web:acme.lms.test", &vm), Some(key));
        assert_eq!(key_of("did:web:other.lms.test", &vm), None);
    }

    #[test]
    fn an_ed25519_multikey_starts_with_z6mk() {
        assert!(multikey(&[0u8; 32]).starts_with("z6Mk"));
    }
}
