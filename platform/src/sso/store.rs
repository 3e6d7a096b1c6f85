//! All SQL on `sso_connections`, `sso_domains`, `sso_verified_domains`, `sso_login_states`,
//! `sso_identities` and `sso_login_codes`, on the caller's tenant-scoped transaction.

use chrono::{DateTime, Utc};
use lms_tenants::{TenantId, TenantTx};
use sqlx::Postgres;
use sqlx::postgres::PgArguments;
use sqlx::query::QueryAs;
use sqlx::types::Json;
use uuid::Uuid;

use super::model::{ConnectionId, DomainId, GroupRole};
use crate::users::{Role, UserId};

#[derive(sqlx::FromRow)]
pub struct ConnectionRow {
    pub id: ConnectionId,
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub sealed_client_secret: Vec<u8>,
    pub scopes: Vec<String>,
    pub email_claim: String,
    pub name_claim: String,
    pub groups_claim: String,
    pub group_roles: Json<Vec<GroupRole>>,
    pub default_role: Role,
    pub jit_provisioning: bool,
    pub sso_required: bool,
    pub break_glass_user_id: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const CONNECTION_COLUMNS: &str = "id, name, issuer, client_id, sealed_client_secret, scopes, \
    email_claim, name_claim, groups_claim, group_roles, default_role, jit_provisioning, \
    sso_required, break_glass_user_id, created_at, updated_at";

/// A connection's settings as written (the secret already sealed).
pub struct ConnectionFields<'a> {
    pub name: &'a str,
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub sealed_client_secret: &'a [u8],
    pub scopes: &'a [String],
    pub email_claim: &'a str,
    pub name_claim: &'a str,
    pub groups_claim: &'a str,
    pub group_roles: &'a [GroupRole],
    pub default_role: Role,
    pub jit_provisioning: bool,
    pub sso_required: bool,
    pub break_glass_user_id: Option<UserId>,
}

/// Binds a connection's tenant, id and fields as `$1` to `$15`, in the order of the insert's
/// column list and the update's assignments.
fn bind_connection<'q>(
    query: QueryAs<'q, Postgres, ConnectionRow, PgArguments>,
    tenant: TenantId,
    id: ConnectionId,
    c: &ConnectionFields<'q>,
) -> QueryAs<'q, Postgres, ConnectionRow, PgArguments> {
    query
        .bind(tenant)
        .bind(id)
        .bind(c.name)
        .bind(c.issuer)
        .bind(c.client_id)
        .bind(c.sealed_client_secret)
        .bind(c.scopes)
        .bind(c.email_claim)
        .bind(c.name_claim)
        .bind(c.groups_claim)
        .bind(Json(c.group_roles))
        .bind(c.default_role.as_str())
        .bind(c.jit_provisioning)
        .bind(c.sso_required)
        .bind(c.break_glass_user_id)
}

pub async fn insert_connection(
    tx: &mut TenantTx,
    id: ConnectionId,
    c: &ConnectionFields<'_>,
) -> Result<ConnectionRow, sqlx::Error> {
    let sql = format!(
        "insert into sso_connections (tenant_id, id, name, issuer, client_id, sealed_client_secret,
            scopes, email_claim, name_claim, groups_claim, group_roles, default_role,
            jit_provisioning, sso_required, break_glass_user_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
         returning {CONNECTION_COLUMNS}"
    );
    bind_connection(sqlx::query_as(&sql), tx.tenant_id(), id, c)
        .fetch_one(&mut **tx)
        .await
}

pub async fn update_connection(
    tx: &mut TenantTx,
    id: ConnectionId,
    c: &ConnectionFields<'_>,
) -> Result<Option<ConnectionRow>, sqlx::Error> {
    let sql = format!(
        "update sso_connections set name = $3, issuer = $4, client_id = $5,
            sealed_client_secret = $6, scopes = $7, email_claim = $8, name_claim = $9,
            groups_claim = $10, group_roles = $11, default_role = $12, jit_provisioning = $13,
            sso_required = $14, break_glass_user_id = $15, updated_at = now()
         where tenant_id = $1 and id = $2
         returning {CONNECTION_COLUMNS}"
    );
    bind_connection(sqlx::query_as(&sql), tx.tenant_id(), id, c)
        .fetch_optional(&mut **tx)
        .await
}

pub async fn connection(
    tx: &mut TenantTx,
    id: ConnectionId,
) -> Result<Option<ConnectionRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {CONNECTION_COLUMNS} from sso_connections where tenant_id = $1 and id = $2"
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

pub async fn connections(tx: &mut TenantTx) -> Result<Vec<ConnectionRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {CONNECTION_COLUMNS} from sso_connections where tenant_id = $1 order by id"
    ))
    .bind(tx.tenant_id())
    .fetch_all(&mut **tx)
    .await
}

pub async fn count_connections(tx: &mut TenantTx) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("select count(*) from sso_connections where tenant_id = $1")
        .bind(tx.tenant_id())
        .fetch_one(&mut **tx)
        .await
}

pub async fn delete_connection(tx: &mut TenantTx, id: ConnectionId) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("delete from sso_connections where tenant_id = $1 and id = $2")
        .bind(tx.tenant_id())
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() > 0)
}

#[derive(sqlx::FromRow)]
pub struct DomainRow {
    pub id: DomainId,
    pub domain: String,
    pub verification_token: String,
    pub status: String,
    pub connection_id: Option<ConnectionId>,
    pub verified_at: Option<DateTime<Utc>>,
    pub last_checked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

const DOMAIN_COLUMNS: &str = "id, domain, verification_token, status, connection_id, \
    verified_at, last_checked_at, created_at";

pub const DOMAIN_TAKEN: &str = "sso_domains_tenant_id_domain_key";
pub const DOMAIN_OWNED_ELSEWHERE: &str = "sso_verified_domains_pkey";
pub const BREAK_GLASS_MISSING: &str = "sso_connections_tenant_id_break_glass_user_id_fkey";

pub async fn insert_domain(
    tx: &mut TenantTx,
    domain: &str,
    token: &str,
    connection: Option<ConnectionId>,
) -> Result<DomainRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "insert into sso_domains (tenant_id, id, domain, verification_token, connection_id)
         values ($1, $2, $3, $4, $5) returning {DOMAIN_COLUMNS}"
    ))
    .bind(tx.tenant_id())
    .bind(DomainId::default())
    .bind(domain)
    .bind(token)
    .bind(connection)
    .fetch_one(&mut **tx)
    .await
}

pub async fn domains(tx: &mut TenantTx) -> Result<Vec<DomainRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {DOMAIN_COLUMNS} from sso_domains where tenant_id = $1 order by domain"
    ))
    .bind(tx.tenant_id())
    .fetch_all(&mut **tx)
    .await
}

pub async fn domain_for_update(
    tx: &mut TenantTx,
    id: DomainId,
) -> Result<Option<DomainRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {DOMAIN_COLUMNS} from sso_domains where tenant_id = $1 and id = $2 for update"
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

/// The tenant's verified domain of this name.
pub async fn verified_domain(
    tx: &mut TenantTx,
    domain: &str,
) -> Result<Option<DomainRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {DOMAIN_COLUMNS} from sso_domains
         where tenant_id = $1 and domain = $2 and status = 'verified'"
    ))
    .bind(tx.tenant_id())
    .bind(domain)
    .fetch_optional(&mut **tx)
    .await
}

pub async fn set_domain_connection(
    tx: &mut TenantTx,
    id: DomainId,
    connection: Option<ConnectionId>,
) -> Result<(), sqlx::Error> {
    sqlx::query("update sso_domains set connection_id = $3 where tenant_id = $1 and id = $2")
        .bind(tx.tenant_id())
        .bind(id)
        .bind(connection)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

/// Records a check's result; a verified domain also becomes this tenant's across the platform
/// (the primary key of `sso_verified_domains` refuses a second owner).
pub async fn record_check(
    tx: &mut TenantTx,
    row: &DomainRow,
    verified: bool,
) -> Result<(), sqlx::Error> {
    if verified {
        sqlx::query(
            "insert into sso_verified_domains (domain, tenant_id, domain_id) values ($1, $2, $3)",
        )
        .bind(&row.domain)
        .bind(tx.tenant_id())
        .bind(row.id)
        .execute(&mut **tx)
        .await?;
    }
    sqlx::query(
        "update sso_domains set last_checked_at = now(),
            status = case when $3 then 'verified' else 'failed' end,
            verified_at = case when $3 then now() else null end
         where tenant_id = $1 and id = $2",
    )
    .bind(tx.tenant_id())
    .bind(row.id)
    .bind(verified)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn delete_domain(tx: &mut TenantTx, id: DomainId) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("delete from sso_domains where tenant_id = $1 and id = $2")
        .bind(tx.tenant_id())
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Whether the domain is verified and routed to a connection that requires SSO; the
/// connection's break-glass user is returned with it.
pub async fn enforcing_connection(
    tx: &mut TenantTx,
    domain: &str,
) -> Result<Option<(ConnectionId, Option<UserId>)>, sqlx::Error> {
    sqlx::query_as(
        "select c.id, c.break_glass_user_id from sso_domains d
         join sso_connections c on c.tenant_id = d.tenant_id and c.id = d.connection_id
         where d.tenant_id = $1 and d.domain = $2 and d.status = 'verified' and c.sso_required",
    )
    .bind(tx.tenant_id())
    .bind(domain)
    .fetch_optional(&mut **tx)
    .await
}

pub struct NewLoginState<'a> {
    pub connection: ConnectionId,
    pub state_hash: &'a [u8],
    pub nonce: &'a str,
    pub pkce_verifier: &'a str,
    pub return_to: &'a str,
    pub session_mode: &'a str,
    pub ttl_seconds: i64,
}

pub async fn insert_login_state(
    tx: &mut TenantTx,
    s: &NewLoginState<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into sso_login_states (tenant_id, id, connection_id, state_hash, nonce,
            pkce_verifier, return_to, session_mode, expires_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, now() + make_interval(secs => $9))",
    )
    .bind(tx.tenant_id())
    .bind(Uuid::now_v7())
    .bind(s.connection)
    .bind(s.state_hash)
    .bind(s.nonce)
    .bind(s.pkce_verifier)
    .bind(s.return_to)
    .bind(s.session_mode)
    .bind(s.ttl_seconds as f64)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

#[derive(sqlx::FromRow)]
pub struct LoginStateRow {
    pub connection_id: ConnectionId,
    pub nonce: String,
    pub pkce_verifier: String,
    pub return_to: String,
    pub session_mode: String,
}

/// Takes the live login state of this hash: it is marked used in the same statement, so a
/// state works once even when two callbacks race.
pub async fn consume_login_state(
    tx: &mut TenantTx,
    state_hash: &[u8],
) -> Result<Option<LoginStateRow>, sqlx::Error> {
    sqlx::query_as(
        "update sso_login_states set consumed_at = now()
         where tenant_id = $1 and state_hash = $2 and consumed_at is null and expires_at > now()
         returning connection_id, nonce, pkce_verifier, return_to, session_mode",
    )
    .bind(tx.tenant_id())
    .bind(state_hash)
    .fetch_optional(&mut **tx)
    .await
}

/// Removes login states that can no longer be used (kept no longer than needed).
pub async fn delete_dead_login_states(tx: &mut TenantTx) -> Result<(), sqlx::Error> {
    sqlx::query(
        "delete from sso_login_states
         where tenant_id = $1 and (consumed_at is not null or expires_at <= now() - interval '1 hour')",
    )
    .bind(tx.tenant_id())
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// The user of an identity of this connection.
pub async fn identity_user(
    tx: &mut TenantTx,
    connection: ConnectionId,
    issuer: &str,
    subject: &str,
) -> Result<Option<UserId>, sqlx::Error> {
    sqlx::query_scalar(
        "select user_id from sso_identities
         where tenant_id = $1 and connection_id = $2 and issuer = $3 and subject = $4",
    )
    .bind(tx.tenant_id())
    .bind(connection)
    .bind(issuer)
    .bind(subject)
    .fetch_optional(&mut **tx)
    .await
}

/// Links (or refreshes) the identity, recording the sign-in's `amr`.
pub async fn upsert_identity(
    tx: &mut TenantTx,
    connection: ConnectionId,
    issuer: &str,
    subject: &str,
    user: UserId,
    amr: &[String],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into sso_identities (tenant_id, id, connection_id, issuer, subject, user_id, last_amr)
         values ($1, $2, $3, $4, $5, $6, $7)
         on conflict (tenant_id, connection_id, issuer, subject)
         do update set last_amr = excluded.last_amr, last_login_at = now()",
    )
    .bind(tx.tenant_id())
    .bind(Uuid::now_v7())
    .bind(connection)
    .bind(issuer)
    .bind(subject)
    .bind(user)
    .bind(amr)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn insert_login_code(
    tx: &mut TenantTx,
    user: UserId,
    code_hash: &[u8],
    ttl_seconds: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into sso_login_codes (tenant_id, id, user_id, code_hash, expires_at)
         values ($1, $2, $3, $4, now() + make_interval(secs => $5))",
    )
    .bind(tx.tenant_id())
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(code_hash)
    .bind(ttl_seconds as f64)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Takes a live one-time code: it works once.
pub async fn consume_login_code(
    tx: &mut TenantTx,
    code_hash: &[u8],
) -> Result<Option<UserId>, sqlx::Error> {
    sqlx::query_scalar(
        "update sso_login_codes set consumed_at = now()
         where tenant_id = $1 and code_hash = $2 and consumed_at is null and expires_at > now()
         returning user_id",
    )
    .bind(tx.tenant_id())
    .bind(code_hash)
    .fetch_optional(&mut **tx)
    .await
}

/// The user with this email if they are a connection's break-glass admin.
pub async fn break_glass_user(
    tx: &mut TenantTx,
    email: &str,
) -> Result<Option<UserId>, sqlx::Error> {
    sqlx::query_scalar(
        "select u.id from sso_connections c
         join users u on u.tenant_id = c.tenant_id and u.id = c.break_glass_user_id
         where c.tenant_id = $1 and u.email = $2 limit 1",
    )
    .bind(tx.tenant_id())
    .bind(email)
    .fetch_optional(&mut **tx)
    .await
}
