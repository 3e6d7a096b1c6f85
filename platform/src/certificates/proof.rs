//! Data Integrity proofs with the `eddsa-rdfc-2022` cryptosuite (W3C VC Data Integrity EdDSA
//! Cryptosuites v1.0): the proof configuration and the document without its proof are each
//! canonicalized (RDFC-1.0) and hashed with SHA-256; the Ed25519 signature covers the two
//! hashes, configuration first, and travels as a base58btc multibase `proofValue`.

use chrono::{DateTime, SecondsFormat, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::canon::{self, CanonError};

pub const PROOF_TYPE: &str = "DataIntegrityProof";
pub const CRYPTOSUITE: &str = "eddsa-rdfc-2022";
pub const ASSERTION_METHOD: &str = "assertionMethod";

/// Why a proof does not hold.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    #[error("the document has no proof")]
    Missing,
    #[error(
        "the proof is not a DataIntegrityProof with the eddsa-rdfc-2022 cryptosuite for assertions"
    )]
    Unsupported,
    #[error("the proof value is not a base58btc multibase Ed25519 signature")]
    MalformedValue,
    #[error("the signature does not match the document")]
    BadSignature,
    #[error(transparent)]
    Canon(#[from] CanonError),
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// SHA-256 of the canonical proof configuration, then of the canonical document.
fn hash_data(unsecured: &Value, config: &Value) -> Result<Vec<u8>, CanonError> {
    let mut data = Sha256::digest(canon::nquads(config)?.as_bytes()).to_vec();
    data.extend_from_slice(&Sha256::digest(canon::nquads(unsecured)?.as_bytes()));
    Ok(data)
}

/// The proof configuration: the proof's options under the document's `@context`.
fn configuration(unsecured: &Value, options: &Map<String, Value>) -> Value {
    let mut config = options.clone();
    config.remove("proofValue");
    config.insert(
        "@context".to_owned(),
        unsecured.get("@context").cloned().unwrap_or(Value::Null),
    );
    Value::Object(config)
}

/// Signs `unsecured` (a JSON-LD object without `proof`) for assertions by `verification_method`;
/// returns the document with its proof.
pub fn sign(
    unsecured: &Value,
    verification_method: &str,
    created: DateTime<Utc>,
    key: &SigningKey,
) -> Result<Value, CanonError> {
    let options = json!({
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": timestamp(created),
        "verificationMethod": verification_method,
        "proofPurpose": ASSERTION_METHOD,
    });
    let Value::Object(mut options) = options else {
        unreachable!("a JSON object literal")
    };
    let data = hash_data(unsecured, &configuration(unsecured, &options))?;
    let signature = key.sign(&data);
    options.insert(
        "proofValue".to_owned(),
        Value::String(format!(
            "z{}",
            bs58::encode(signature.to_bytes()).into_string()
        )),
    );
    let mut secured = unsecured.clone();
    if let Value::Object(fields) = &mut secured {
        fields.insert("proof".to_owned(), Value::Object(options));
    }
    Ok(secured)
}

/// The proof's verification method, for finding the key that must have made it.
pub fn verification_method(secured: &Value) -> Result<&str, ProofError> {
    secured
        .get("proof")
        .ok_or(ProofError::Missing)?
        .get("verificationMethod")
        .and_then(Value::as_str)
        .ok_or(ProofError::Unsupported)
}

/// Checks the document's single proof against `key`.
pub fn verify(secured: &Value, key: &VerifyingKey) -> Result<(), ProofError> {
    let Some(Value::Object(proof)) = secured.get("proof") else {
        return Err(ProofError::Missing);
    };
    let field = |name: &str| proof.get(name).and_then(Value::as_str);
    if field("type") != Some(PROOF_TYPE)
        || field("cryptosuite") != Some(CRYPTOSUITE)
        || field("proofPurpose") != Some(ASSERTION_METHOD)
    {
        return Err(ProofError::Unsupported);
    }
    let signature = field("proofValue")
        .and_then(|v| v.strip_prefix('z'))
        .and_then(|v| bs58::decode(v).into_vec().ok())
        .and_then(|bytes| Signature::from_slice(&bytes).ok())
        .ok_or(ProofError::MalformedValue)?;
    let mut unsecured = secured.clone();
    if let Value::Object(fields) = &mut unsecured {
        fields.remove("proof");
    }
    let data = hash_data(&unsecured, &configuration(&unsecured, proof))?;
    key.verify(&data, &signature)
        .map_err(|_| ProofError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document() -> Value {
        json!({
            "@context": [canon::CREDENTIALS_V2],
            "id": "urn:uuid:0192f5b4-0000-7000-8000-000000000001",
            "type": ["VerifiableCredential"],
            "issuer": "did:web:issuer.example",
            "validFrom": "2026-12-01T00:00:00Z",
            "credentialSubject": { "id": "did:example:holder", "name": "Holder" },
        })
    }

    #[test]
    fn a_signed_document_verifies_and_a_changed_one_does_not() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let signed = sign(
            &document(),
            "did:web:issuer.example#key-1",
            DateTime::from_timestamp(1_800_000_000, 0).expect("time"),
            &key,
        )
        .expect("signed");
        assert_eq!(
            verification_method(&signed).expect("method"),
            "did:web:issuer.example#key-1"
        );
        verify(&signed, &key.verifying_key()).expect("verifies");

        let mut tampered = signed.clone();
        tampered["credentialSubject"]["name"] = json!("Someone else");
        assert!(matches!(
            verify(&tampered, &key.verifying_key()),
            Err(ProofError::BadSignature)
        ));
        let other = SigningKey::from_bytes(&[8; 32]);
        assert!(matches!(
            verify(&signed, &other.verifying_key()),
            Err(ProofError::BadSignature)
        ));
        let mut unsupported = signed;
        unsupported["proof"]["cryptosuite"] = json!("ecdsa-rdfc-2019");
        assert!(matches!(
            verify(&unsupported, &key.verifying_key()),
            Err(ProofError::Unsupported)
        ));
    }

    #[test]
    fn reordering_json_keys_changes_nothing() {
        let key = SigningKey::from_bytes(&[9; 32]);
        let signed = sign(
            &document(),
            "did:web:issuer.example#key-1",
            DateTime::from_timestamp(1_800_000_000, 0).expect("time"),
            &key,
        )
        .expect("signed");
        let text = serde_json::to_string(&signed).expect("json");
        let reparsed: Value = serde_json::from_str(&text).expect("json");
        verify(&reparsed, &key.verifying_key()).expect("verifies");
    }
}
