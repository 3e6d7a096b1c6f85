//! The Open Badges 3.0 `OpenBadgeCredential` of a certificate (a W3C Verifiable Credential 2.0):
//! the tenant as issuer `Profile` (its `did:web` DID), the learner as `AchievementSubject`
//! identified by name and by a salted hash of their email, the achievement with its criteria and
//! credits, the validity dates and the status-list entry that revocation sets.

use chrono::{DateTime, SecondsFormat, Utc};
use rand::RngCore;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::canon::{CREDENTIALS_V2, OPEN_BADGES_V3};
use super::model::CertificateId;
use super::status_list;
use crate::courses::CourseId;

/// The tenant as issuer.
#[derive(Debug, Clone)]
pub struct Issuer {
    pub did: String,
    pub name: String,
    /// Where its learners open links, e.g. `https://acme.example`.
    pub link_base: String,
}

impl Issuer {
    pub fn of(settings: &crate::state::Settings, tenant: &lms_tenants::Tenant) -> Self {
        let link_base = settings.link_base(tenant);
        Self {
            did: super::did::of_link_base(&link_base),
            name: tenant.display_name.clone(),
            link_base,
        }
    }

    /// The public page that verifies a certificate.
    pub fn verification_url(&self, id: CertificateId) -> String {
        format!("{}/verify/{id}", self.link_base)
    }
}

/// What the credential states.
#[derive(Debug, Clone)]
pub struct Claims<'a> {
    pub id: CertificateId,
    pub course: CourseId,
    pub title: &'a str,
    pub description: &'a str,
    pub criteria: &'a str,
    pub credit_hours: Option<f64>,
    pub recipient_name: &'a str,
    pub recipient_email: &'a str,
    pub issued_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub status_index: i32,
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `sha256$<hex>` of the email (lower-cased) followed by the salt, as Open Badges hashes
/// identities.
pub fn identity_hash(email: &str, salt: &str) -> String {
    let digest = Sha256::new()
        .chain_update(email.trim().to_lowercase().as_bytes())
        .chain_update(salt.as_bytes())
        .finalize();
    format!("sha256${}", hex::encode(digest))
}

/// The unsigned credential (a fresh salt for the email hash each time).
pub fn unsigned(issuer: &Issuer, claims: &Claims<'_>) -> Value {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let salt = hex::encode(salt);
    let mut achievement = Map::new();
    achievement.insert(
        "id".into(),
        json!(format!(
            "{}/achievements/{}",
            issuer.link_base, claims.course
        )),
    );
    achievement.insert("type".into(), json!(["Achievement"]));
    achievement.insert("achievementType".into(), json!("Certificate"));
    achievement.insert("name".into(), json!(claims.title));
    achievement.insert("description".into(), json!(claims.description));
    achievement.insert("criteria".into(), json!({ "narrative": claims.criteria }));
    let mut subject = Map::new();
    subject.insert("type".into(), json!(["AchievementSubject"]));
    subject.insert(
        "identifier".into(),
        json!([
            {
                "type": "IdentityObject",
                "identityType": "name",
                "hashed": false,
                "identityHash": claims.recipient_name,
            },
            {
                "type": "IdentityObject",
                "identityType": "emailAddress",
                "hashed": true,
                "identityHash": identity_hash(claims.recipient_email, &salt),
                "salt": salt,
            },
        ]),
    );
    if let Some(hours) = claims.credit_hours {
        achievement.insert("creditsAvailable".into(), json!(hours));
        subject.insert("creditsEarned".into(), json!(hours));
    }
    subject.insert("achievement".into(), Value::Object(achievement));
    let mut credential = json!({
        "@context": [CREDENTIALS_V2, OPEN_BADGES_V3],
        "id": format!("urn:uuid:{}", claims.id),
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": claims.title,
        "issuer": {
            "id": issuer.did,
            "type": ["Profile"],
            "name": issuer.name,
            "url": issuer.link_base,
        },
        "validFrom": timestamp(claims.issued_at),
        "credentialSubject": Value::Object(subject),
        "credentialStatus": status_list::entry(&issuer.link_base, claims.status_index),
    });
    if let Some(expires) = claims.expires_at {
        credential["validUntil"] = json!(timestamp(expires));
    }
    credential
}

/// What a verifier shows of a credential: read from the credential alone.
#[derive(Debug, Clone, Default, serde::Serialize, utoipa::ToSchema)]
pub struct Summary {
    /// The achievement's name.
    pub title: Option<String>,
    pub description: Option<String>,
    pub criteria: Option<String>,
    /// The recipient's name, as the credential states it.
    pub recipient_name: Option<String>,
    pub issuer_id: Option<String>,
    pub issuer_name: Option<String>,
    pub issuer_url: Option<String>,
    pub valid_from: Option<String>,
    pub valid_until: Option<String>,
    pub credit_hours: Option<f64>,
}

impl Summary {
    pub fn of(credential: &Value) -> Self {
        let text = |v: &Value| v.as_str().map(str::to_owned);
        let subject = &credential["credentialSubject"];
        let achievement = &subject["achievement"];
        let recipient_name = subject["identifier"].as_array().and_then(|ids| {
            ids.iter()
                .find(|id| id["identityType"] == "name" && id["hashed"] == false)
                .and_then(|id| text(&id["identityHash"]))
        });
        Self {
            title: text(&achievement["name"]).or_else(|| text(&credential["name"])),
            description: text(&achievement["description"]),
            criteria: text(&achievement["criteria"]["narrative"]),
            recipient_name,
            issuer_id: text(&credential["issuer"]["id"]).or_else(|| text(&credential["issuer"])),
            issuer_name: text(&credential["issuer"]["name"]),
            issuer_url: text(&credential["issuer"]["url"]),
            valid_from: text(&credential["validFrom"]),
            valid_until: text(&credential["validUntil"]),
            credit_hours: achievement["creditsAvailable"].as_f64(),
        }
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;

    use super::*;
    use crate::certificates::proof;

    fn claims() -> Claims<'static> {
        Claims {
            id: CertificateId(uuid::Uuid::nil()),
            course: CourseId(uuid::Uuid::nil()),
            title: "Certified Data Steward",
            description: "Stewards data with care.",
            criteria: "Completed every lesson.",
            credit_hours: Some(12.5),
            recipient_name: "Lea Learner",
            recipient_email: "Lea@Example.org",
            issued_at: DateTime::from_timestamp(1_800_000_000, 0).expect("time"),
            expires_at: Some(DateTime::from_timestamp(1_900_000_000, 0).expect("time")),
            status_index: 7,
        }
    }

    fn issuer() -> Issuer {
        Issuer {
            did: "did:web:acme.example".into(),
            name: "Acme Academy".into(),
            link_base: "https://acme.example".into(),
        }
    }

    #[test]
    fn an_open_badge_signs_and_verifies_and_states_what_it_should() {
        let credential = unsigned(&issuer(), &claims());
        assert_eq!(credential["validUntil"], "2030-03-17T17:46:40Z");
        assert_eq!(credential["credentialStatus"]["statusListIndex"], "7");
        let hashed = &credential["credentialSubject"]["identifier"][1];
        let salt = hashed["salt"].as_str().expect("salt");
        assert_eq!(
            hashed["identityHash"],
            identity_hash("lea@example.org", salt),
            "emails hash lower-cased"
        );
        let key = SigningKey::from_bytes(&[5; 32]);
        let signed = proof::sign(
            &credential,
            "did:web:acme.example#key-1",
            claims().issued_at,
            &key,
        )
        .expect("the OB 3.0 and VC 2.0 contexts expand");
        proof::verify(&signed, &key.verifying_key()).expect("verifies");
        let summary = Summary::of(&signed);
        assert_eq!(summary.recipient_name.as_deref(), Some("Lea Learner"));
        assert_eq!(summary.title.as_deref(), Some("Certified Data Steward"));
        assert_eq!(summary.credit_hours, Some(12.5));
        let mut tampered = signed;
        tampered["credentialSubject"]["creditsEarned"] = serde_json::json!(125);
        assert!(proof::verify(&tampered, &key.verifying_key()).is_err());
    }
}
