//! Ed25519 keys that sign access tokens, and the JWKS that publishes them.
//!
//! Keys live in `signing_keys`, readable only by the operator role, so every replica signs and
//! verifies with the same set. Rotation adds a key and retires the previous one; a retired key
//! stays in the JWKS and keeps verifying until every token it signed has expired
//! ([`RETIRED_KEY_GRACE`]), then it is deleted. Every replica reloads the set each minute, and
//! at once (at most every few seconds) when it meets an unknown `kid`, so a rotation on one
//! replica is picked up by the others for verifying at once and for signing within a minute.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde::Serialize;
use utoipa::ToSchema;

use super::tokens::ACCESS_TOKEN_TTL;
use crate::db::OperatorDb;

/// How long a retired key keeps verifying: the longest-lived access token plus clock leeway.
pub const RETIRED_KEY_GRACE: Duration = Duration::from_secs(ACCESS_TOKEN_TTL.as_secs() + 120);
const RELOAD_INTERVAL: Duration = Duration::from_secs(5);
const PERIODIC_RELOAD: Duration = Duration::from_secs(60);

/// A JSON Web Key Set (RFC 7517) of Ed25519 public keys.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Jwk {
    pub kty: &'static str,
    pub crv: &'static str,
    pub alg: &'static str,
    #[serde(rename = "use")]
    pub use_: &'static str,
    pub kid: String,
    /// The public key, base64url.
    pub x: String,
}

struct KeySet {
    signing: Option<(String, EncodingKey)>,
    verifying: HashMap<String, DecodingKey>,
    jwks: Jwks,
    loaded_at: Instant,
}

#[derive(Clone)]
pub struct KeyRing {
    db: OperatorDb,
    set: Arc<RwLock<KeySet>>,
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    kid: String,
    private_key_pkcs8: Vec<u8>,
    retired_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl KeyRing {
    /// Loads the keys, creating the first one if there is none.
    pub async fn load(db: OperatorDb) -> anyhow::Result<Self> {
        let ring = Self {
            db,
            set: Arc::new(RwLock::new(KeySet {
                signing: None,
                verifying: HashMap::new(),
                jwks: Jwks { keys: Vec::new() },
                loaded_at: Instant::now(),
            })),
        };
        ring.ensure_active_key().await?;
        ring.reload().await?;
        Ok(ring)
    }

    /// The current signing key's id and key.
    pub fn signing_key(&self) -> anyhow::Result<(String, EncodingKey)> {
        let set = self
            .set
            .read()
            .map_err(|_| anyhow::anyhow!("key set lock poisoned"))?;
        set.signing.clone().context("no active signing key")
    }

    /// The verification key for `kid`, reloading once if it is unknown and a reload is due.
    pub async fn verifying_key(&self, kid: &str) -> Option<DecodingKey> {
        let (found, reload_due) = {
            let set = self.set.read().ok()?;
            (
                set.verifying.get(kid).cloned(),
                set.loaded_at.elapsed() >= RELOAD_INTERVAL,
            )
        };
        if found.is_some() || !reload_due {
            return found;
        }
        if let Err(err) = self.reload().await {
            tracing::warn!(error = ?err, "reloading signing keys");
        }
        self.set.read().ok()?.verifying.get(kid).cloned()
    }

    pub fn jwks(&self) -> Jwks {
        self.set
            .read()
            .map(|s| s.jwks.clone())
            .unwrap_or(Jwks { keys: Vec::new() })
    }

    /// Adds a new signing key and retires the current one. Returns the new key id.
    pub async fn rotate(&self) -> anyhow::Result<String> {
        let mut tx = self.db.begin().await?;
        sqlx::query("select pg_advisory_xact_lock(hashtext('signing_keys'))")
            .execute(&mut *tx)
            .await?;
        sqlx::query("update signing_keys set retired_at = now() where retired_at is null")
            .execute(&mut *tx)
            .await?;
        let kid = insert_new_key(&mut tx).await?;
        tx.commit().await?;
        self.reload().await?;
        tracing::info!(%kid, "rotated the access-token signing key");
        Ok(kid)
    }

    async fn ensure_active_key(&self) -> anyhow::Result<()> {
        let mut tx = self.db.begin().await?;
        sqlx::query("select pg_advisory_xact_lock(hashtext('signing_keys'))")
            .execute(&mut *tx)
            .await?;
        let active: i64 =
            sqlx::query_scalar("select count(*) from signing_keys where retired_at is null")
                .fetch_one(&mut *tx)
                .await?;
        if active == 0 {
            let kid = insert_new_key(&mut tx).await?;
            tracing::info!(%kid, "created the first access-token signing key");
        }
        tx.commit().await?;
        Ok(())
    }

    /// Re-reads the key set every minute, so a rotation done on another replica is adopted for
    /// signing within a minute (well inside the retired key's grace period).
    pub async fn reload_periodically(self) {
        let mut tick = tokio::time::interval(PERIODIC_RELOAD);
        tick.tick().await;
        loop {
            tick.tick().await;
            if let Err(err) = self.reload().await {
                tracing::warn!(error = ?err, "reloading signing keys");
            }
        }
    }

    /// Re-reads the key set; deletes keys whose grace period is over.
    pub async fn reload(&self) -> anyhow::Result<()> {
        let grace = i64::try_from(RETIRED_KEY_GRACE.as_secs()).unwrap_or(i64::MAX);
        sqlx::query(
            "delete from signing_keys where retired_at < now() - make_interval(secs => $1)",
        )
        .bind(grace as f64)
        .execute(self.db.pool())
        .await?;
        let rows: Vec<KeyRow> = sqlx::query_as(
            "select kid, private_key_pkcs8, retired_at from signing_keys order by created_at desc, kid desc",
        )
        .fetch_all(self.db.pool())
        .await
        .context("loading signing keys")?;
        let mut signing = None;
        let mut verifying = HashMap::new();
        let mut jwks = Vec::new();
        for row in rows {
            let key = SigningKey::from_pkcs8_der(&row.private_key_pkcs8)
                .map_err(|e| anyhow::anyhow!("signing key {} is malformed: {e}", row.kid))?;
            let x = URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes());
            verifying.insert(
                row.kid.clone(),
                DecodingKey::from_ed_components(&x).context("public key")?,
            );
            if row.retired_at.is_none() && signing.is_none() {
                signing = Some((
                    row.kid.clone(),
                    EncodingKey::from_ed_der(&row.private_key_pkcs8),
                ));
            }
            jwks.push(Jwk {
                kty: "OKP",
                crv: "Ed25519",
                alg: "EdDSA",
                use_: "sig",
                kid: row.kid,
                x,
            });
        }
        let mut set = self
            .set
            .write()
            .map_err(|_| anyhow::anyhow!("key set lock poisoned"))?;
        *set = KeySet {
            signing,
            verifying,
            jwks: Jwks { keys: jwks },
            loaded_at: Instant::now(),
        };
        Ok(())
    }
}

async fn insert_new_key(tx: &mut sqlx::PgConnection) -> anyhow::Result<String> {
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let der = key
        .to_pkcs8_der()
        .map_err(|e| anyhow::anyhow!("encoding a signing key: {e}"))?;
    let kid = format!("k{}", uuid::Uuid::now_v7().simple());
    sqlx::query("insert into signing_keys (kid, private_key_pkcs8) values ($1, $2)")
        .bind(&kid)
        .bind(der.as_bytes())
        .execute(tx)
        .await?;
    Ok(kid)
}
