//! Access tokens (EdDSA-signed JWT, 15 minutes, bound to one tenant) and opaque secrets
//! (refresh, reset and invitation tokens, CSRF tokens) that are stored only as SHA-256 hashes.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Header, Validation};
use lms_tenants::TenantId;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::keys::KeyRing;
use crate::users::UserId;

pub const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(15 * 60);
pub const REFRESH_TOKEN_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
pub const ISSUER: &str = "lms";
const LEEWAY_SECONDS: u64 = 30;

/// What an access token asserts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    /// The user.
    pub sub: Uuid,
    /// `tenant:<id>`: a token is only ever accepted by the tenant it was issued for.
    pub aud: String,
    pub tid: Uuid,
    pub iat: i64,
    pub exp: i64,
    pub jti: Uuid,
    /// The refresh-token family (the login session) the token belongs to.
    pub sid: Uuid,
    /// The user's session epoch at issue; a password, role or status change moves it on.
    pub ep: i32,
    /// SHA-256 (hex) of the CSRF token when the session lives in cookies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cht: Option<String>,
    /// The session may only enroll in MFA: the user's role requires a second factor they do
    /// not have yet. Every other endpoint answers 403 `mfa_enrollment_required`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mfa_enrollment_only: bool,
}

pub fn audience(tenant: TenantId) -> String {
    format!("tenant:{tenant}")
}

pub struct IssuedAccessToken {
    pub token: String,
    pub expires_in: u64,
}

pub fn issue_access_token(
    keys: &KeyRing,
    tenant: TenantId,
    user: UserId,
    session: Uuid,
    epoch: i32,
    csrf_hash: Option<String>,
    mfa_enrollment_only: bool,
) -> anyhow::Result<IssuedAccessToken> {
    let (kid, key) = keys.signing_key()?;
    let now = chrono::Utc::now().timestamp();
    let ttl = i64::try_from(ACCESS_TOKEN_TTL.as_secs())?;
    let claims = AccessClaims {
        iss: ISSUER.to_owned(),
        sub: user.0,
        aud: audience(tenant),
        tid: tenant.as_uuid(),
        iat: now,
        exp: now + ttl,
        jti: Uuid::now_v7(),
        sid: session,
        ep: epoch,
        cht: csrf_hash,
        mfa_enrollment_only,
    };
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid);
    let token = jsonwebtoken::encode(&header, &claims, &key)?;
    Ok(IssuedAccessToken {
        token,
        expires_in: ACCESS_TOKEN_TTL.as_secs(),
    })
}

/// Why a token was refused (logged at debug; the client only learns "invalid token").
#[derive(Debug, thiserror::Error)]
pub enum TokenRejection {
    #[error("malformed token or header")]
    Malformed,
    #[error("token has no kid or an unknown kid")]
    UnknownKey,
    #[error("token failed validation: {0}")]
    Invalid(jsonwebtoken::errors::Error),
    #[error("token was issued for another tenant")]
    WrongTenant,
}

/// Verifies signature (EdDSA only: `none`, HS* and RS* are refused before any key is used),
/// issuer, audience (the tenant the request is for), expiry and not-before.
pub async fn verify_access_token(
    keys: &KeyRing,
    token: &str,
    tenant: TenantId,
) -> Result<AccessClaims, TokenRejection> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| TokenRejection::Malformed)?;
    if header.alg != Algorithm::EdDSA {
        return Err(TokenRejection::Malformed);
    }
    let kid = header.kid.ok_or(TokenRejection::UnknownKey)?;
    let key = keys
        .verifying_key(&kid)
        .await
        .ok_or(TokenRejection::UnknownKey)?;
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[audience(tenant)]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = LEEWAY_SECONDS;
    let data =
        jsonwebtoken::decode::<AccessClaims>(token, &key, &validation).map_err(|err| match err
            .kind()
        {
            jsonwebtoken::errors::ErrorKind::InvalidAudience => TokenRejection::WrongTenant,
            _ => TokenRejection::Invalid(err),
        })?;
    if data.claims.tid != tenant.as_uuid() {
        return Err(TokenRejection::WrongTenant);
    }
    Ok(data.claims)
}

/// A random secret handed to a client once; only its hash is stored.
pub struct OpaqueToken(String);

impl OpaqueToken {
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> Vec<u8> {
        hash_secret(&self.0)
    }
}

pub fn hash_secret(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

pub fn hash_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}
