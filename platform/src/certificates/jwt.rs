//! The credential as a VC-JWT (the Open Badges 3.0 JWT proof format): the payload is the
//! credential without its Data Integrity proof, with `iss`, `jti`, `nbf`, `exp` and `sub`
//! mirroring its issuer, id, dates and subject; the header names the signing key by its
//! verification method (`kid`), resolvable through the issuer's DID document. Signed with the
//! same Ed25519 issuer key (`EdDSA`).

use anyhow::Context;
use chrono::DateTime;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// The compact JWS of `credential` (its `proof`, if any, left out).
pub fn encode(
    credential: &Value,
    verification_method: &str,
    key: &SigningKey,
) -> anyhow::Result<String> {
    let mut payload = credential.clone();
    let fields = payload
        .as_object_mut()
        .context("a credential is a JSON object")?;
    fields.remove("proof");
    let timestamp = |name: &str| {
        credential[name]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp())
    };
    if let Some(issuer) = credential["issuer"]["id"].as_str() {
        fields.insert("iss".into(), json!(issuer));
    }
    if let Some(id) = credential["id"].as_str() {
        fields.insert("jti".into(), json!(id));
    }
    if let Some(subject) = credential["credentialSubject"]["id"].as_str() {
        fields.insert("sub".into(), json!(subject));
    }
    if let Some(nbf) = timestamp("validFrom") {
        fields.insert("nbf".into(), json!(nbf));
    }
    if let Some(exp) = timestamp("validUntil") {
        fields.insert("exp".into(), json!(exp));
    }
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(verification_method.to_owned());
    header.typ = Some("JWT".to_owned());
    let der = key
        .to_pkcs8_der()
        .map_err(|e| anyhow::anyhow!("encoding the issuer key: {e}"))?;
    let token = jsonwebtoken::encode(&header, &payload, &EncodingKey::from_ed_der(der.as_bytes()))
        .context("signing the VC-JWT")?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{DecodingKey, Validation};

    use super::*;

    #[test]
    fn the_token_verifies_with_the_issuer_key_and_mirrors_the_credential() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let credential = json!({
            "id": "urn:uuid:1",
            "issuer": { "id": "did:web:acme.example" },
            "validFrom": "2026-01-01T00:00:00Z",
            "validUntil": "2099-01-01T00:00:00Z",
            "proof": { "type": "DataIntegrityProof" },
        });
        let token = encode(&credential, "did:web:acme.example#key-1", &key).expect("token");
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.validate_aud = false;
        let decoded = jsonwebtoken::decode::<Value>(
            &token,
            &DecodingKey::from_ed_der(key.verifying_key().as_bytes()),
            &validation,
        )
        .expect("verifies");
        assert_eq!(
            decoded.header.kid.as_deref(),
            Some("did:web:acme.example#key-1")
        );
        assert_eq!(decoded.claims["iss"], "did:web:acme.example");
        assert_eq!(decoded.claims["jti"], "urn:uuid:1");
        assert_eq!(decoded.claims["nbf"], 1_767_225_600);
        assert!(decoded.claims.get("proof").is_none());
    }
}
