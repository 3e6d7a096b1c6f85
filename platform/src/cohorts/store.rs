//! All SQL on `cohorts` and `cohort_members`, on the caller's tenant-scoped transaction.

use chrono::{DateTime, Utc};
use lms_tenants::TenantTx;
use uuid::Uuid;

use super::model::{Cohort, CohortId, CohortMember};
use crate::db::Cursor;
use crate::users::UserId;

pub const NAME_TAKEN: &str = "cohorts_name_key";

#[derive(sqlx::FromRow)]
pub struct CohortRow {
    pub id: CohortId,
    pub name: String,
    pub description: String,
    pub member_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl CohortRow {
    pub fn to_cohort(&self) -> Cohort {
        Cohort {
            id: self.id,
            name: self.name.clone(),
            description: self.description.clone(),
            member_count: self.member_count,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

const COLUMNS: &str = "c.id, c.name, c.description, (select count(*) from cohort_members m
    where m.tenant_id = c.tenant_id and m.cohort_id = c.id) as member_count,
    c.created_at, c.updated_at";

pub async fn insert(
    tx: &mut TenantTx,
    id: CohortId,
    name: &str,
    description: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("insert into cohorts (tenant_id, id, name, description) values ($1, $2, $3, $4)")
        .bind(tx.tenant_id())
        .bind(id)
        .bind(name)
        .bind(description)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

pub async fn by_id(tx: &mut TenantTx, id: CohortId) -> Result<Option<CohortRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from cohorts c where c.tenant_id = $1 and c.id = $2"
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

/// Locks the cohort for the rest of the transaction (membership changes and cohort enrollment).
pub async fn lock(tx: &mut TenantTx, id: CohortId) -> Result<bool, sqlx::Error> {
    let found: Option<Uuid> =
        sqlx::query_scalar("select id from cohorts where tenant_id = $1 and id = $2 for update")
            .bind(tx.tenant_id())
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(found.is_some())
}

pub async fn update(
    tx: &mut TenantTx,
    id: CohortId,
    name: Option<&str>,
    description: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "update cohorts set name = coalesce($3, name), description = coalesce($4, description)
         where tenant_id = $1 and id = $2",
    )
    .bind(tx.tenant_id())
    .bind(id)
    .bind(name)
    .bind(description)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn delete(tx: &mut TenantTx, id: CohortId) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("delete from cohorts where tenant_id = $1 and id = $2 returning name")
        .bind(tx.tenant_id())
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
}

/// Cohorts, newest first.
pub async fn list(
    tx: &mut TenantTx,
    cursor: Option<Cursor>,
    limit: i64,
) -> Result<Vec<CohortRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from cohorts c
         where c.tenant_id = $1 and ($2::uuid is null or c.id < $2)
         order by c.id desc limit $3"
    ))
    .bind(tx.tenant_id())
    .bind(cursor.map(|c| c.0))
    .bind(limit + 1)
    .fetch_all(&mut **tx)
    .await
}

/// Adds the member; false when they already were one.
pub async fn add_member(
    tx: &mut TenantTx,
    cohort: CohortId,
    user: UserId,
    by: UserId,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "insert into cohort_members (tenant_id, cohort_id, user_id, added_by)
         values ($1, $2, $3, $4) on conflict (tenant_id, cohort_id, user_id) do nothing",
    )
    .bind(tx.tenant_id())
    .bind(cohort)
    .bind(user)
    .bind(by)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn remove_member(
    tx: &mut TenantTx,
    cohort: CohortId,
    user: UserId,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "delete from cohort_members where tenant_id = $1 and cohort_id = $2 and user_id = $3",
    )
    .bind(tx.tenant_id())
    .bind(cohort)
    .bind(user)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The cohort's members by user id, from after `cursor`.
pub async fn members(
    tx: &mut TenantTx,
    cohort: CohortId,
    cursor: Option<Cursor>,
    limit: i64,
) -> Result<Vec<CohortMember>, sqlx::Error> {
    let rows: Vec<(Uuid, String, String, DateTime<Utc>)> = sqlx::query_as(
        "select u.id, u.display_name, u.email, m.added_at from cohort_members m
         join users u on u.tenant_id = m.tenant_id and u.id = m.user_id
         where m.tenant_id = $1 and m.cohort_id = $2 and ($3::uuid is null or m.user_id < $3)
         order by m.user_id desc limit $4",
    )
    .bind(tx.tenant_id())
    .bind(cohort)
    .bind(cursor.map(|c| c.0))
    .bind(limit + 1)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, display_name, email, added_at)| CohortMember {
            user_id: UserId(id),
            display_name,
            email,
            added_at,
        })
        .collect())
}

/// Every member's user id (the cohort enrolled into a course).
pub async fn member_ids(tx: &mut TenantTx, cohort: CohortId) -> Result<Vec<UserId>, sqlx::Error> {
    sqlx::query_scalar(
        "select user_id from cohort_members where tenant_id = $1 and cohort_id = $2
         order by added_at, user_id",
    )
    .bind(tx.tenant_id())
    .bind(cohort)
    .fetch_all(&mut **tx)
    .await
}
