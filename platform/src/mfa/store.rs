//! All SQL on `mfa_credentials`, `mfa_recovery_codes`, `mfa_challenges` and
//! `mfa_required_roles`, on the caller's tenant-scoped transaction.

use chrono::{DateTime, Utc};
use lms_tenants::TenantTx;
use uuid::Uuid;

use crate::users::{Role, UserId};

#[derive(sqlx::FromRow)]
pub struct CredentialRow {
    pub sealed_secret: Vec<u8>,
    pub last_used_step: Option<i64>,
    pub confirmed_at: Option<DateTime<Utc>>,
}

impl CredentialRow {
    pub fn is_active(&self) -> bool {
        self.confirmed_at.is_some()
    }

    pub fn last_used_step(&self) -> Option<u64> {
        self.last_used_step.and_then(|s| u64::try_from(s).ok())
    }
}

/// The user's credential, locked for the rest of the transaction: two codes checked at once
/// must not both pass the replay check.
pub async fn credential_for_update(
    tx: &mut TenantTx,
    user: UserId,
) -> Result<Option<CredentialRow>, sqlx::Error> {
    sqlx::query_as(
        "select sealed_secret, last_used_step, confirmed_at from mfa_credentials
         where tenant_id = $1 and user_id = $2 for update",
    )
    .bind(tx.tenant_id())
    .bind(user)
    .fetch_optional(&mut **tx)
    .await
}

pub async fn credential(
    tx: &mut TenantTx,
    user: UserId,
) -> Result<Option<CredentialRow>, sqlx::Error> {
    sqlx::query_as(
        "select sealed_secret, last_used_step, confirmed_at from mfa_credentials
         where tenant_id = $1 and user_id = $2",
    )
    .bind(tx.tenant_id())
    .bind(user)
    .fetch_optional(&mut **tx)
    .await
}

/// Starts (or restarts) a pending enrollment with a new sealed seed. An active credential is
/// left alone: the statement changes nothing and answers false.
pub async fn begin_enrollment(
    tx: &mut TenantTx,
    user: UserId,
    sealed_secret: &[u8],
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "insert into mfa_credentials (tenant_id, user_id, sealed_secret)
         values ($1, $2, $3)
         on conflict (tenant_id, user_id) do update
            set sealed_secret = excluded.sealed_secret, last_used_step = null, created_at = now()
            where mfa_credentials.confirmed_at is null",
    )
    .bind(tx.tenant_id())
    .bind(user)
    .bind(sealed_secret)
    .execute(&mut **tx)
    .await?;
    Ok(result.rows_affected() == 1)
}

pub async fn confirm(tx: &mut TenantTx, user: UserId, step: u64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update mfa_credentials set confirmed_at = now(), last_used_step = $3
         where tenant_id = $1 and user_id = $2",
    )
    .bind(tx.tenant_id())
    .bind(user)
    .bind(i64::try_from(step).unwrap_or(i64::MAX))
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn record_step(tx: &mut TenantTx, user: UserId, step: u64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update mfa_credentials set last_used_step = $3 where tenant_id = $1 and user_id = $2",
    )
    .bind(tx.tenant_id())
    .bind(user)
    .bind(i64::try_from(step).unwrap_or(i64::MAX))
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Removes the credential with its recovery codes and open challenges; false if there was none.
pub async fn delete_credential(tx: &mut TenantTx, user: UserId) -> Result<bool, sqlx::Error> {
    sqlx::query("delete from mfa_challenges where tenant_id = $1 and user_id = $2")
        .bind(tx.tenant_id())
        .bind(user)
        .execute(&mut **tx)
        .await?;
    let deleted = sqlx::query("delete from mfa_credentials where tenant_id = $1 and user_id = $2")
        .bind(tx.tenant_id())
        .bind(user)
        .execute(&mut **tx)
        .await?;
    Ok(deleted.rows_affected() > 0)
}

/// Replaces the user's recovery codes with these hashes.
pub async fn replace_recovery_codes(
    tx: &mut TenantTx,
    user: UserId,
    hashes: &[Vec<u8>],
) -> Result<(), sqlx::Error> {
    sqlx::query("delete from mfa_recovery_codes where tenant_id = $1 and user_id = $2")
        .bind(tx.tenant_id())
        .bind(user)
        .execute(&mut **tx)
        .await?;
    let ids: Vec<Uuid> = hashes.iter().map(|_| Uuid::now_v7()).collect();
    sqlx::query(
        "insert into mfa_recovery_codes (tenant_id, id, user_id, code_hash)
         select $1, id, $2, code_hash from unnest($3::uuid[], $4::bytea[]) as c (id, code_hash)",
    )
    .bind(tx.tenant_id())
    .bind(user)
    .bind(ids)
    .bind(hashes)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

#[derive(sqlx::FromRow)]
pub struct RecoveryCodeRow {
    pub id: Uuid,
    pub code_hash: Vec<u8>,
}

/// The user's unused recovery codes, locked (a code must not be spent twice at once).
pub async fn unused_recovery_codes(
    tx: &mut TenantTx,
    user: UserId,
) -> Result<Vec<RecoveryCodeRow>, sqlx::Error> {
    sqlx::query_as(
        "select id, code_hash from mfa_recovery_codes
         where tenant_id = $1 and user_id = $2 and used_at is null
         order by id for update",
    )
    .bind(tx.tenant_id())
    .bind(user)
    .fetch_all(&mut **tx)
    .await
}

pub async fn count_unused_recovery_codes(
    tx: &mut TenantTx,
    user: UserId,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "select count(*) from mfa_recovery_codes
         where tenant_id = $1 and user_id = $2 and used_at is null",
    )
    .bind(tx.tenant_id())
    .bind(user)
    .fetch_one(&mut **tx)
    .await
}

pub async fn spend_recovery_code(tx: &mut TenantTx, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("update mfa_recovery_codes set used_at = now() where tenant_id = $1 and id = $2")
        .bind(tx.tenant_id())
        .bind(id)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

pub async fn insert_challenge(
    tx: &mut TenantTx,
    user: UserId,
    token_hash: &[u8],
    ttl_seconds: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into mfa_challenges (tenant_id, id, user_id, token_hash, expires_at)
         values ($1, $2, $3, $4, now() + make_interval(secs => $5))",
    )
    .bind(tx.tenant_id())
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(token_hash)
    .bind(ttl_seconds as f64)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

#[derive(sqlx::FromRow)]
pub struct ChallengeRow {
    pub id: Uuid,
    pub user_id: UserId,
    pub failed_attempts: i32,
    /// Unconsumed and not yet expired.
    pub live: bool,
}

/// The challenge with this token hash, locked so that concurrent answers are taken in turn.
pub async fn challenge_for_update(
    tx: &mut TenantTx,
    token_hash: &[u8],
) -> Result<Option<ChallengeRow>, sqlx::Error> {
    sqlx::query_as(
        "select id, user_id, failed_attempts,
                (consumed_at is null and expires_at > now()) as live
         from mfa_challenges where tenant_id = $1 and token_hash = $2 for update",
    )
    .bind(tx.tenant_id())
    .bind(token_hash)
    .fetch_optional(&mut **tx)
    .await
}

/// Counts a wrong answer; the challenge is spent once `limit` answers were wrong.
pub async fn record_failed_attempt(
    tx: &mut TenantTx,
    id: Uuid,
    limit: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update mfa_challenges
         set failed_attempts = failed_attempts + 1,
             consumed_at = case when failed_attempts + 1 >= $3 then now() else consumed_at end
         where tenant_id = $1 and id = $2",
    )
    .bind(tx.tenant_id())
    .bind(id)
    .bind(limit)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn consume_challenge(tx: &mut TenantTx, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("update mfa_challenges set consumed_at = now() where tenant_id = $1 and id = $2")
        .bind(tx.tenant_id())
        .bind(id)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

/// Removes the user's challenges that can no longer be answered (kept no longer than needed).
pub async fn delete_dead_challenges(tx: &mut TenantTx, user: UserId) -> Result<(), sqlx::Error> {
    sqlx::query(
        "delete from mfa_challenges
         where tenant_id = $1 and user_id = $2 and (consumed_at is not null or expires_at <= now())",
    )
    .bind(tx.tenant_id())
    .bind(user)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// The roles the tenant requires a second factor for, in order.
pub async fn required_roles(tx: &mut TenantTx) -> Result<Vec<Role>, sqlx::Error> {
    let mut roles: Vec<Role> =
        sqlx::query_scalar("select role from mfa_required_roles where tenant_id = $1")
            .bind(tx.tenant_id())
            .fetch_all(&mut **tx)
            .await?;
    roles.sort();
    Ok(roles)
}

pub async fn set_required_roles(tx: &mut TenantTx, roles: &[Role]) -> Result<(), sqlx::Error> {
    sqlx::query("delete from mfa_required_roles where tenant_id = $1")
        .bind(tx.tenant_id())
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "insert into mfa_required_roles (tenant_id, role) select $1, unnest($2::text[])
         on conflict do nothing",
    )
    .bind(tx.tenant_id())
    .bind(roles.iter().map(|r| r.as_str()).collect::<Vec<_>>())
    .execute(&mut **tx)
    .await
    .map(|_| ())
}
