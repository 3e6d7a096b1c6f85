//! All SQL on `refresh_tokens` and `user_tokens`, on the caller's tenant-scoped transaction.

use chrono::{DateTime, Utc};
use lms_tenants::TenantTx;
use uuid::Uuid;

use super::tokens::REFRESH_TOKEN_TTL;
use crate::users::UserId;

#[derive(sqlx::FromRow)]
pub struct RefreshTokenRow {
    pub id: Uuid,
    pub family_id: Uuid,
    pub user_id: Uuid,
    pub csrf_hash: Option<Vec<u8>>,
    pub expires_at: DateTime<Utc>,
    pub rotated_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// The session may only enroll in MFA.
    pub mfa_enrollment_only: bool,
    /// The session was started by single sign-on.
    pub via_sso: bool,
}

pub async fn insert_refresh_token(
    tx: &mut TenantTx,
    family: Uuid,
    user: UserId,
    token_hash: &[u8],
    csrf_hash: Option<&[u8]>,
    mfa_enrollment_only: bool,
) -> Result<(), sqlx::Error> {
    let ttl = i64::try_from(REFRESH_TOKEN_TTL.as_secs()).unwrap_or(i64::MAX);
    sqlx::query(
        "insert into refresh_tokens (tenant_id, id, family_id, user_id, token_hash, csrf_hash, expires_at, mfa_enrollment_only)
         values ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7), $8)",
    )
    .bind(tx.tenant_id())
    .bind(Uuid::now_v7())
    .bind(family)
    .bind(user)
    .bind(token_hash)
    .bind(csrf_hash)
    .bind(ttl as f64)
    .bind(mfa_enrollment_only)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// The token with this hash, locked so that two concurrent uses cannot both rotate it.
pub async fn refresh_token_for_update(
    tx: &mut TenantTx,
    token_hash: &[u8],
) -> Result<Option<RefreshTokenRow>, sqlx::Error> {
    sqlx::query_as(
        "select id, family_id, user_id, csrf_hash, expires_at, rotated_at, revoked_at, mfa_enrollment_only, via_sso
         from refresh_tokens where tenant_id = $1 and token_hash = $2 for update",
    )
    .bind(tx.tenant_id())
    .bind(token_hash)
    .fetch_optional(&mut **tx)
    .await
}

/// Marks the session of this refresh token as started by single sign-on.
pub async fn mark_family_sso(tx: &mut TenantTx, token_hash: &[u8]) -> Result<(), sqlx::Error> {
    sqlx::query("update refresh_tokens set via_sso = true where tenant_id = $1 and token_hash = $2")
        .bind(tx.tenant_id())
        .bind(token_hash)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

pub async fn mark_rotated(tx: &mut TenantTx, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("update refresh_tokens set rotated_at = now() where tenant_id = $1 and id = $2")
        .bind(tx.tenant_id())
        .bind(id)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

pub async fn revoke_family(tx: &mut TenantTx, family: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("update refresh_tokens set revoked_at = now() where tenant_id = $1 and family_id = $2 and revoked_at is null")
        .bind(tx.tenant_id())
        .bind(family)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

pub async fn revoke_all_for_user(tx: &mut TenantTx, user: UserId) -> Result<(), sqlx::Error> {
    sqlx::query("update refresh_tokens set revoked_at = now() where tenant_id = $1 and user_id = $2 and revoked_at is null")
        .bind(tx.tenant_id())
        .bind(user)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    PasswordReset,
    Invitation,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::PasswordReset => "password_reset",
            Self::Invitation => "invitation",
        }
    }
}

/// Issues a single-use token, invalidating earlier unused ones for the same purpose.
pub async fn insert_user_token(
    tx: &mut TenantTx,
    user: UserId,
    purpose: Purpose,
    token_hash: &[u8],
    ttl_seconds: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update user_tokens set consumed_at = now()
         where tenant_id = $1 and user_id = $2 and purpose = $3 and consumed_at is null",
    )
    .bind(tx.tenant_id())
    .bind(user)
    .bind(purpose.as_str())
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "insert into user_tokens (tenant_id, id, user_id, purpose, token_hash, expires_at)
         values ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))",
    )
    .bind(tx.tenant_id())
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(purpose.as_str())
    .bind(token_hash)
    .bind(ttl_seconds as f64)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Consumes a live token of this purpose, returning its user; `None` if unknown, used or expired.
pub async fn consume_user_token(
    tx: &mut TenantTx,
    purpose: Purpose,
    token_hash: &[u8],
) -> Result<Option<UserId>, sqlx::Error> {
    sqlx::query_scalar(
        "update user_tokens set consumed_at = now()
         where tenant_id = $1 and purpose = $2 and token_hash = $3 and consumed_at is null and expires_at > now()
         returning user_id",
    )
    .bind(tx.tenant_id())
    .bind(purpose.as_str())
    .bind(token_hash)
    .fetch_optional(&mut **tx)
    .await
}
