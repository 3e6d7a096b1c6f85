//! Each tenant's Ed25519 issuer keys. The current key is created at the tenant's first issuance;
//! its private half is sealed at rest (`secrets_at_rest`) and bound to the tenant and key id, so
//! a sealed key copied onto another tenant's row does not open.

use anyhow::Context;
use chrono::{DateTime, Utc};
use ed25519_dalek::{SigningKey, VerifyingKey};
use lms_tenants::{TenantId, TenantTx};

use super::model::IssuerKeyId;
use crate::secrets_at_rest::SealingKeys;

/// A tenant's signing key, opened for one issuance.
pub struct IssuerKey {
    pub id: IssuerKeyId,
    pub signing: SigningKey,
}

/// A published public key.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PublicKey {
    pub id: IssuerKeyId,
    pub public_key: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub retired_at: Option<DateTime<Utc>>,
}

impl PublicKey {
    pub fn verifying_key(&self) -> anyhow::Result<VerifyingKey> {
        let bytes: [u8; 32] = self
            .public_key
            .as_slice()
            .try_into()
            .context("an issuer public key is not 32 bytes")?;
        VerifyingKey::from_bytes(&bytes).context("an issuer public key is not a curve point")
    }
}

fn seal_context(tenant: TenantId, key: IssuerKeyId) -> Vec<u8> {
    format!("certificate issuer key\0{tenant}\0{key}").into_bytes()
}

/// The tenant's current key, created now if it has none (concurrent first issuances agree on
/// one: the second insert yields to the first).
pub async fn current(tx: &mut TenantTx, sealing: &SealingKeys) -> anyhow::Result<IssuerKey> {
    let tenant = tx.tenant_id();
    let found: Option<(IssuerKeyId, Vec<u8>)> = select_current(tx).await?;
    let (id, sealed) = match found {
        Some(row) => row,
        None => {
            let id = IssuerKeyId::default();
            let signing = SigningKey::generate(&mut rand::rngs::OsRng);
            let sealed = sealing.seal(signing.as_bytes(), &seal_context(tenant, id));
            sqlx::query(
                "insert into certificate_issuer_keys (tenant_id, id, public_key, sealed_private_key)
                 values ($1, $2, $3, $4)
                 on conflict (tenant_id) where retired_at is null do nothing",
            )
            .bind(tenant)
            .bind(id)
            .bind(signing.verifying_key().as_bytes().as_slice())
            .bind(&sealed)
            .execute(&mut **tx)
            .await?;
            select_current(tx)
                .await?
                .context("the tenant's issuer key vanished")?
        }
    };
    let secret = sealing
        .open(&sealed, &seal_context(tenant, id))
        .context("opening the tenant's issuer key")?;
    let bytes: [u8; 32] = secret
        .as_slice()
        .try_into()
        .context("a sealed issuer key is not 32 bytes")?;
    Ok(IssuerKey {
        id,
        signing: SigningKey::from_bytes(&bytes),
    })
}

async fn select_current(tx: &mut TenantTx) -> Result<Option<(IssuerKeyId, Vec<u8>)>, sqlx::Error> {
    sqlx::query_as(
        "select id, sealed_private_key from certificate_issuer_keys
         where tenant_id = $1 and retired_at is null",
    )
    .bind(tx.tenant_id())
    .fetch_optional(&mut **tx)
    .await
}

/// Every key the tenant has signed with, oldest first: retired keys stay published so that the
/// credentials they signed still verify.
pub async fn published(tx: &mut TenantTx) -> Result<Vec<PublicKey>, sqlx::Error> {
    sqlx::query_as(
        "select id, public_key, created_at, retired_at from certificate_issuer_keys
         where tenant_id = $1 order by id",
    )
    .bind(tx.tenant_id())
    .fetch_all(&mut **tx)
    .await
}
