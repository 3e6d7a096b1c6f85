//! Verifying a credential the way any verifier would, from the credential and the issuer's
//! published material alone: the issuer is one of our tenants (its `did:web` DID), the proof
//! holds under one of the tenant's published keys, the dates hold now, and the tenant's status
//! list does not have the credential's bit set.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::credential::Summary;
use super::keys::PublicKey;
use super::{did, proof, status_list};

/// The verdict, worst first: a credential that does not verify is `invalid` whatever else holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Valid,
    Revoked,
    Expired,
    /// Not valid before its `validFrom`.
    NotYetValid,
    Invalid,
}

/// One check and its outcome.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Check {
    /// `issuer`, `proof`, `dates` or `status`.
    pub check: &'static str,
    pub passed: bool,
    pub detail: String,
}

/// What a verification found.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Verification {
    pub verdict: Verdict,
    pub checks: Vec<Check>,
    /// What the credential states (read from the credential only).
    pub credential: Summary,
}

/// The issuer's published material.
pub struct Published<'a> {
    pub did: &'a str,
    pub link_base: &'a str,
    pub keys: &'a [PublicKey],
    /// The indexes of revoked certificates, from which its status list is built.
    pub revoked: &'a [i32],
}

fn check(name: &'static str, passed: bool, detail: impl Into<String>) -> Check {
    Check {
        check: name,
        passed,
        detail: detail.into(),
    }
}

/// The credential's issuer id (`issuer.id`, or `issuer` as a string).
pub fn issuer_of(credential: &Value) -> Option<&str> {
    credential["issuer"]["id"]
        .as_str()
        .or_else(|| credential["issuer"].as_str())
}

fn parse_time(value: &Value) -> Option<Option<DateTime<Utc>>> {
    match value {
        Value::Null => Some(None),
        Value::String(text) => DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| Some(t.with_timezone(&Utc))),
        _ => None,
    }
}

fn proof_check(credential: &Value, issuer: &Published<'_>) -> Check {
    let method = match proof::verification_method(credential) {
        Ok(method) => method,
        Err(err) => return check("proof", false, err.to_string()),
    };
    let Some(key) =
        did::key_of(issuer.did, method).and_then(|id| issuer.keys.iter().find(|k| k.id == id))
    else {
        return check(
            "proof",
            false,
            "the verification method is not one of the issuer's published keys",
        );
    };
    let verifying = match key.verifying_key() {
        Ok(key) => key,
        Err(err) => return check("proof", false, err.to_string()),
    };
    match proof::verify(credential, &verifying) {
        Ok(()) => check("proof", true, format!("signed by {method}")),
        Err(err) => check("proof", false, err.to_string()),
    }
}

fn status_check(credential: &Value, issuer: &Published<'_>) -> Option<Check> {
    let status = &credential["credentialStatus"];
    if status.is_null() {
        return None;
    }
    let list = status_list::url(issuer.link_base);
    if status["type"] != "BitstringStatusListEntry"
        || status["statusPurpose"] != "revocation"
        || status["statusListCredential"].as_str() != Some(list.as_str())
    {
        return Some(check(
            "status",
            false,
            "the status entry does not name the issuer's revocation list",
        ));
    }
    let Some(index) = status["statusListIndex"]
        .as_str()
        .and_then(|i| i.parse::<usize>().ok())
    else {
        return Some(check(
            "status",
            false,
            "the status list index is not a number",
        ));
    };
    match status_list::is_set(&status_list::encode(issuer.revoked), index) {
        Some(false) => Some(check("status", true, "not revoked")),
        Some(true) => Some(check("status", false, "revoked by its issuer")),
        None => Some(check(
            "status",
            false,
            "the index is outside the status list",
        )),
    }
}

/// Verifies `credential` against its issuer's published material at `now`.
pub fn verify(
    credential: &Value,
    issuer: Option<&Published<'_>>,
    now: DateTime<Utc>,
) -> Verification {
    let summary = Summary::of(credential);
    let mut checks = Vec::new();
    let types = credential["type"].as_array().cloned().unwrap_or_default();
    let is_badge = types.iter().any(|t| t == "VerifiableCredential")
        && types
            .iter()
            .any(|t| t == "OpenBadgeCredential" || t == "AchievementCredential");
    let Some(issuer) = issuer.filter(|i| issuer_of(credential) == Some(i.did)) else {
        checks.push(check(
            "issuer",
            false,
            "the issuer is not an issuer of this platform",
        ));
        return Verification {
            verdict: Verdict::Invalid,
            checks,
            credential: summary,
        };
    };
    checks.push(check(
        "issuer",
        is_badge,
        if is_badge {
            format!("an Open Badge issued by {}", issuer.did)
        } else {
            "not an OpenBadgeCredential".to_owned()
        },
    ));
    checks.push(proof_check(credential, issuer));
    let dates = match (
        parse_time(&credential["validFrom"]),
        parse_time(&credential["validUntil"]),
    ) {
        (Some(Some(from)), Some(until)) => {
            if now < from {
                Some(Verdict::NotYetValid)
            } else if until.is_some_and(|until| until <= now) {
                Some(Verdict::Expired)
            } else {
                None
            }
        }
        _ => Some(Verdict::Invalid),
    };
    checks.push(match dates {
        None => check("dates", true, "within its validity period"),
        Some(Verdict::Expired) => check("dates", false, "expired"),
        Some(Verdict::NotYetValid) => check("dates", false, "not yet valid"),
        Some(_) => check("dates", false, "validFrom or validUntil is not a date-time"),
    });
    let status = status_check(credential, issuer);
    let revoked = status
        .as_ref()
        .is_some_and(|c| c.detail == "revoked by its issuer");
    if let Some(status) = status {
        checks.push(status);
    }
    let broken = checks
        .iter()
        .any(|c| !c.passed && matches!(c.check, "issuer" | "proof"));
    let unreadable_status = checks.iter().any(|c| c.check == "status" && !c.passed) && !revoked;
    let verdict = if broken || dates == Some(Verdict::Invalid) || unreadable_status {
        Verdict::Invalid
    } else if revoked {
        Verdict::Revoked
    } else if let Some(verdict) = dates {
        verdict
    } else {
        Verdict::Valid
    };
    Verification {
        verdict,
        checks,
        credential: summary,
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use ed25519_dalek::SigningKey;
    use serde_json::json;

    use super::*;
    use crate::certificates::model::IssuerKeyId;

    const DID: &str = "did:web:acme.example";
    const BASE: &str = "https://acme.example";

    fn signed(key: &SigningKey, id: IssuerKeyId, until: &str) -> Value {
        let credential = json!({
            "@context": [crate::certificates::canon::CREDENTIALS_V2],
            "id": "urn:uuid:0192f5b4-0000-7000-8000-000000000002",
            "type": ["VerifiableCredential", "OpenBadgeCredential"],
            "issuer": { "id": DID, "name": "Acme" },
            "validFrom": "2026-01-01T00:00:00Z",
            "validUntil": until,
            "credentialSubject": { "name": "Holder" },
            "credentialStatus": status_list::entry(BASE, 3),
        });
        let now = DateTime::from_timestamp(1_767_225_600, 0).expect("time");
        proof::sign(&credential, &did::verification_method(DID, id), now, key).expect("signed")
    }

    #[test]
    fn the_verdict_says_valid_revoked_expired_or_invalid() {
        let key = SigningKey::from_bytes(&[11; 32]);
        let id = IssuerKeyId::default();
        let published = PublicKey {
            id,
            public_key: key.verifying_key().as_bytes().to_vec(),
            created_at: Utc::now(),
            retired_at: None,
        };
        let keys = [published];
        let issuer = |revoked: &'static [i32]| Published {
            did: DID,
            link_base: BASE,
            keys: &keys,
            revoked,
        };
        let now = DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z")
            .expect("now")
            .with_timezone(&Utc);
        let credential = signed(&key, id, "2027-01-01T00:00:00Z");
        let verdict =
            |c: &Value, revoked: &'static [i32], at| verify(c, Some(&issuer(revoked)), at).verdict;
        assert_eq!(verdict(&credential, &[], now), Verdict::Valid);
        assert_eq!(verdict(&credential, &[3], now), Verdict::Revoked);
        assert_eq!(verdict(&credential, &[2, 4], now), Verdict::Valid);
        assert_eq!(
            verdict(&credential, &[], now + TimeDelta::days(400)),
            Verdict::Expired
        );
        assert_eq!(
            verdict(&credential, &[], now - TimeDelta::days(400)),
            Verdict::NotYetValid
        );
        let mut tampered = credential.clone();
        tampered["credentialSubject"]["name"] = json!("Someone else");
        assert_eq!(verdict(&tampered, &[3], now), Verdict::Invalid);
        assert_eq!(verify(&credential, None, now).verdict, Verdict::Invalid);
    }
}
