//! All SQL on `scim_tokens`, `scim_users` and `scim_groups`, and the SCIM views of users and
//! cohorts, on the caller's tenant-scoped transaction.

use chrono::{DateTime, Utc};
use lms_tenants::TenantTx;
use serde_json::Value;
use uuid::Uuid;

use super::filter::Condition;
use crate::cohorts::CohortId;
use crate::users::{UserId, UserStatus};

// --- tokens ---

#[derive(Debug, sqlx::FromRow)]
pub struct TokenRow {
    pub id: Uuid,
    pub description: String,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

const TOKEN_COLUMNS: &str = "id, description, created_by, created_at, last_used_at, revoked_at";

pub async fn insert_token(
    tx: &mut TenantTx,
    id: Uuid,
    hash: &[u8],
    description: &str,
    by: UserId,
) -> Result<TokenRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "insert into scim_tokens (tenant_id, id, token_hash, description, created_by)
         values ($1, $2, $3, $4, $5) returning {TOKEN_COLUMNS}"
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .bind(hash)
    .bind(description)
    .bind(by)
    .fetch_one(&mut **tx)
    .await
}

/// The tenant's tokens, newest first (a tenant keeps a handful; revoked ones stay listed).
pub async fn tokens(tx: &mut TenantTx) -> Result<Vec<TokenRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {TOKEN_COLUMNS} from scim_tokens where tenant_id = $1 order by id desc limit 200"
    ))
    .bind(tx.tenant_id())
    .fetch_all(&mut **tx)
    .await
}

/// Revokes a live token; `None` when there is no live token with this id.
pub async fn revoke_token(tx: &mut TenantTx, id: Uuid) -> Result<Option<TokenRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "update scim_tokens set revoked_at = now()
         where tenant_id = $1 and id = $2 and revoked_at is null returning {TOKEN_COLUMNS}"
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

/// The live token with this hash: its id and the admin who created it. Its `last_used_at`
/// moves on at most once a minute, so that provisioning does not write a row per request.
pub async fn live_token(
    tx: &mut TenantTx,
    hash: &[u8],
) -> Result<Option<(Uuid, UserId)>, sqlx::Error> {
    let found: Option<(Uuid, UserId, bool)> = sqlx::query_as(
        "select id, created_by, coalesce(last_used_at < now() - interval '1 minute', true)
         from scim_tokens where tenant_id = $1 and token_hash = $2 and revoked_at is null",
    )
    .bind(tx.tenant_id())
    .bind(hash)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((id, owner, stale)) = found else {
        return Ok(None);
    };
    if stale {
        sqlx::query("update scim_tokens set last_used_at = now() where tenant_id = $1 and id = $2")
            .bind(tx.tenant_id())
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(Some((id, owner)))
}

// --- users ---

pub const USER_NAME_TAKEN: &str = "scim_users_user_name_key";

/// A user as SCIM shows it: the account, and what the identity provider said if it did.
#[derive(Debug, sqlx::FromRow)]
pub struct UserView {
    pub id: UserId,
    pub email: String,
    pub display_name: String,
    pub status: UserStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub user_name: Option<String>,
    pub external_id: Option<String>,
    pub attributes: Option<Value>,
}

const USER_VIEW: &str = "select u.id, u.email, u.display_name, u.status, u.created_at,
        greatest(u.updated_at, u.created_at) as updated_at,
        s.user_name, s.external_id, s.attributes
    from users u left join scim_users s on s.tenant_id = u.tenant_id and s.user_id = u.id
    where u.tenant_id = $1 and s.deleted_at is null";

pub async fn user(tx: &mut TenantTx, id: UserId) -> Result<Option<UserView>, sqlx::Error> {
    sqlx::query_as(&format!("{USER_VIEW} and u.id = $2"))
        .bind(tx.tenant_id())
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
}

/// An `id eq` filter's clause on `column` and the value to bind as `$n`: compared as a uuid so
/// that the primary key finds it; text that is no uuid matches nothing (and is never cast).
fn id_matches(column: &str, n: usize, value: &str) -> (String, String) {
    match Uuid::parse_str(value) {
        Ok(id) => (format!("{column} = ${n}::uuid"), id.to_string()),
        Err(_) => ("false".to_owned(), value.to_owned()),
    }
}

/// One page of the users matching every condition, in id order, and how many match in all.
pub async fn users(
    tx: &mut TenantTx,
    conditions: &[Condition],
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<UserView>), sqlx::Error> {
    let mut sql = String::new();
    let mut binds: Vec<String> = Vec::new();
    for condition in conditions {
        let n = binds.len() + 2;
        let (clause, value) = match condition {
            Condition::Id(v) => id_matches("u.id", n, v),
            // A user's userName is its SCIM userName, or its email when the provider never
            // named it; each side is found through its own index (`scim_users_user_name_key`,
            // `users_email_key`) rather than by reading every user.
            Condition::UserName(v) => (
                format!(
                    "u.id in (
                        select n.user_id from scim_users n
                        where n.tenant_id = $1 and lower(n.user_name) = lower(${n})
                        union all
                        select e.id from users e
                        where e.tenant_id = $1 and e.email = lower(${n})
                          and not exists (select 1 from scim_users o
                                          where o.tenant_id = $1 and o.user_id = e.id))"
                ),
                v.clone(),
            ),
            Condition::ExternalId(v) => (format!("s.external_id = ${n}"), v.clone()),
            Condition::WorkEmail(v) => (
                format!(
                    "(case when s.user_id is null then u.email = lower(${n}) else exists (
                        select 1 from jsonb_array_elements(case when jsonb_typeof(s.attributes->'emails') = 'array'
                            then s.attributes->'emails' else '[]'::jsonb end) e
                        where lower(e->>'type') = 'work' and lower(e->>'value') = lower(${n})) end)"
                ),
                v.clone(),
            ),
            Condition::DisplayName(v) | Condition::Member(v) => ("false".to_owned(), v.clone()),
        };
        sql.push_str(" and ");
        sql.push_str(&clause);
        binds.push(value);
    }
    let (offset_n, limit_n) = (binds.len() + 2, binds.len() + 3);
    let query = format!(
        "select count(*) over () as total, v.* from ({USER_VIEW}{sql}) v
         order by v.id offset ${offset_n} limit ${limit_n}"
    );
    let total_query = format!("select count(*) from ({USER_VIEW}{sql}) v");
    let mut rows = sqlx::query_as::<_, WithTotal<UserView>>(&query).bind(tx.tenant_id());
    for bind in &binds {
        rows = rows.bind(bind);
    }
    let rows = rows.bind(offset).bind(limit).fetch_all(&mut **tx).await?;
    let total = match rows.first() {
        Some(first) => first.total,
        // An empty first page: nothing matches.
        None if offset == 0 && limit > 0 => 0,
        None => {
            let mut count = sqlx::query_scalar::<_, i64>(&total_query).bind(tx.tenant_id());
            for bind in &binds {
                count = count.bind(bind);
            }
            count.fetch_one(&mut **tx).await?
        }
    };
    Ok((total, rows.into_iter().map(|r| r.row).collect()))
}

#[derive(sqlx::FromRow)]
struct WithTotal<T> {
    total: i64,
    #[sqlx(flatten)]
    row: T,
}

/// Records (or replaces) what the identity provider said about a user, and brings a user it
/// had deleted back into its view.
pub async fn save_user(
    tx: &mut TenantTx,
    user: UserId,
    user_name: &str,
    external_id: Option<&str>,
    attributes: &Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into scim_users (tenant_id, user_id, user_name, external_id, attributes)
         values ($1, $2, $3, $4, $5)
         on conflict (tenant_id, user_id) do update set user_name = excluded.user_name,
             external_id = excluded.external_id, attributes = excluded.attributes, deleted_at = null",
    )
    .bind(tx.tenant_id())
    .bind(user)
    .bind(user_name)
    .bind(external_id)
    .bind(attributes)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// The identity provider deleted the user: it leaves the SCIM view (the account stays,
/// deactivated, with its learning records).
pub async fn delete_user(tx: &mut TenantTx, user: UserId) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into scim_users (tenant_id, user_id, user_name, deleted_at)
         select u.tenant_id, u.id, u.id::text, now() from users u where u.tenant_id = $1 and u.id = $2
         on conflict (tenant_id, user_id) do update set deleted_at = now(), external_id = null,
             attributes = '{}', user_name = excluded.user_name",
    )
    .bind(tx.tenant_id())
    .bind(user)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Whether the identity provider deleted this user earlier (a new POST for the same login then
/// brings the account back).
pub async fn is_deleted(tx: &mut TenantTx, user: UserId) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "select exists (select 1 from scim_users where tenant_id = $1 and user_id = $2 and deleted_at is not null)",
    )
    .bind(tx.tenant_id())
    .bind(user)
    .fetch_one(&mut **tx)
    .await
}

/// Those of `ids` that are users in the SCIM view (possible group members).
pub async fn known_users(tx: &mut TenantTx, ids: &[Uuid]) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(&format!(
        "select v.id from ({USER_VIEW} and u.id = any($2)) v"
    ))
    .bind(tx.tenant_id())
    .bind(ids)
    .fetch_all(&mut **tx)
    .await
}

// --- groups ---

#[derive(Debug, sqlx::FromRow)]
pub struct GroupView {
    pub id: CohortId,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub external_id: Option<String>,
}

const GROUP_VIEW: &str = "select c.id, c.name, c.created_at, c.updated_at, g.external_id
    from cohorts c left join scim_groups g on g.tenant_id = c.tenant_id and g.cohort_id = c.id
    where c.tenant_id = $1";

pub async fn group(tx: &mut TenantTx, id: CohortId) -> Result<Option<GroupView>, sqlx::Error> {
    sqlx::query_as(&format!("{GROUP_VIEW} and c.id = $2"))
        .bind(tx.tenant_id())
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
}

/// One page of the cohorts matching every condition, in id order, and how many match in all.
pub async fn groups(
    tx: &mut TenantTx,
    conditions: &[Condition],
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<GroupView>), sqlx::Error> {
    let mut sql = String::new();
    let mut binds: Vec<String> = Vec::new();
    for condition in conditions {
        let n = binds.len() + 2;
        let (clause, value) = match condition {
            Condition::Id(v) => id_matches("c.id", n, v),
            Condition::DisplayName(v) => (format!("lower(c.name) = lower(${n})"), v.clone()),
            Condition::ExternalId(v) => (format!("g.external_id = ${n}"), v.clone()),
            Condition::Member(v) => (
                format!(
                    "exists (select 1 from cohort_members m where m.tenant_id = c.tenant_id
                        and m.cohort_id = c.id and m.user_id::text = lower(${n}))"
                ),
                v.clone(),
            ),
            Condition::UserName(v) | Condition::WorkEmail(v) => ("false".to_owned(), v.clone()),
        };
        sql.push_str(" and ");
        sql.push_str(&clause);
        binds.push(value);
    }
    let (offset_n, limit_n) = (binds.len() + 2, binds.len() + 3);
    let query = format!(
        "select count(*) over () as total, v.* from ({GROUP_VIEW}{sql}) v
         order by v.id offset ${offset_n} limit ${limit_n}"
    );
    let mut rows = sqlx::query_as::<_, WithTotal<GroupView>>(&query).bind(tx.tenant_id());
    for bind in &binds {
        rows = rows.bind(bind);
    }
    let rows = rows.bind(offset).bind(limit).fetch_all(&mut **tx).await?;
    let total = match rows.first() {
        Some(first) => first.total,
        None if offset == 0 && limit > 0 => 0,
        None => {
            let total_query = format!("select count(*) from ({GROUP_VIEW}{sql}) v");
            let mut count = sqlx::query_scalar::<_, i64>(&total_query).bind(tx.tenant_id());
            for bind in &binds {
                count = count.bind(bind);
            }
            count.fetch_one(&mut **tx).await?
        }
    };
    Ok((total, rows.into_iter().map(|r| r.row).collect()))
}

/// A member as a group shows it.
#[derive(Debug, sqlx::FromRow)]
pub struct MemberView {
    pub cohort_id: CohortId,
    pub user_id: UserId,
    pub display_name: String,
}

/// The members of these cohorts, by cohort and user id.
pub async fn members(tx: &mut TenantTx, cohorts: &[Uuid]) -> Result<Vec<MemberView>, sqlx::Error> {
    sqlx::query_as(
        "select m.cohort_id, m.user_id, u.display_name from cohort_members m
         join users u on u.tenant_id = m.tenant_id and u.id = m.user_id
         where m.tenant_id = $1 and m.cohort_id = any($2)
         order by m.cohort_id, m.user_id",
    )
    .bind(tx.tenant_id())
    .bind(cohorts)
    .fetch_all(&mut **tx)
    .await
}

pub async fn set_group_external_id(
    tx: &mut TenantTx,
    cohort: CohortId,
    external_id: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into scim_groups (tenant_id, cohort_id, external_id) values ($1, $2, $3)
         on conflict (tenant_id, cohort_id) do update set external_id = excluded.external_id",
    )
    .bind(tx.tenant_id())
    .bind(cohort)
    .bind(external_id)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}
