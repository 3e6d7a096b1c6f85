//! All SQL on `cohorts`, `cohort_members` and `cohort_managers`, on the caller's tenant-scoped
//! transaction. Functions taking `manager` see only the cohorts that user manages when it is
//! `Some` (a corporate manager's view), every cohort when it is `None`.

use chrono::{DateTime, Utc};
use lms_tenants::TenantTx;
use uuid::Uuid;

use super::model::{Cohort, CohortId, CohortManager, CohortMember, Team};
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

/// Cohort `c` is managed by `$manager` (a nullable uuid parameter), or `$manager` is null.
macro_rules! managed_by {
    ($manager:literal) => {
        concat!(
            "(",
            $manager,
            "::uuid is null or exists (select 1 from cohort_managers g
                where g.tenant_id = c.tenant_id and g.cohort_id = c.id and g.user_id = ",
            $manager,
            "))"
        )
    };
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

pub async fn by_id(
    tx: &mut TenantTx,
    id: CohortId,
    manager: Option<UserId>,
) -> Result<Option<CohortRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from cohorts c where c.tenant_id = $1 and c.id = $2 and {}",
        managed_by!("$3")
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .bind(manager)
    .fetch_optional(&mut **tx)
    .await
}

/// Locks the cohort for the rest of the transaction (membership changes and cohort enrollment).
pub async fn lock(tx: &mut TenantTx, id: CohortId) -> Result<bool, sqlx::Error> {
    lock_managed(tx, id, None).await
}

/// [`lock`] for a cohort `manager` manages (any cohort when `None`).
pub async fn lock_managed(
    tx: &mut TenantTx,
    id: CohortId,
    manager: Option<UserId>,
) -> Result<bool, sqlx::Error> {
    let found: Option<Uuid> = sqlx::query_scalar(concat!(
        "select c.id from cohorts c where c.tenant_id = $1 and c.id = $2 and ",
        managed_by!("$3"),
        " for update"
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .bind(manager)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(found.is_some())
}

pub async fn update(
    tx: &mut TenantTx,
    id: CohortId,
    manager: Option<UserId>,
    name: Option<&str>,
    description: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(concat!(
        "update cohorts c set name = coalesce($4, name), description = coalesce($5, description)
         where c.tenant_id = $1 and c.id = $2 and ",
        managed_by!("$3")
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .bind(manager)
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
    manager: Option<UserId>,
    cursor: Option<Cursor>,
    limit: i64,
) -> Result<Vec<CohortRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from cohorts c
         where c.tenant_id = $1 and ($2::uuid is null or c.id < $2) and {}
         order by c.id desc limit $4",
        managed_by!("$3")
    ))
    .bind(tx.tenant_id())
    .bind(cursor.map(|c| c.0))
    .bind(manager)
    .bind(limit + 1)
    .fetch_all(&mut **tx)
    .await
}

/// A cohort's list of people: its members, or its managers.
#[derive(Debug, Clone, Copy)]
pub enum Roster {
    Members,
    Managers,
}

impl Roster {
    /// The table, and the column naming who added the person.
    fn table(self) -> (&'static str, &'static str) {
        match self {
            Self::Members => ("cohort_members", "added_by"),
            Self::Managers => ("cohort_managers", "assigned_by"),
        }
    }
}

/// Puts the user on the cohort's roster; false when they already were on it.
pub async fn add_to(
    tx: &mut TenantTx,
    roster: Roster,
    cohort: CohortId,
    user: UserId,
    by: UserId,
) -> Result<bool, sqlx::Error> {
    let (table, by_column) = roster.table();
    let done = sqlx::query(&format!(
        "insert into {table} (tenant_id, cohort_id, user_id, {by_column})
         values ($1, $2, $3, $4) on conflict (tenant_id, cohort_id, user_id) do nothing"
    ))
    .bind(tx.tenant_id())
    .bind(cohort)
    .bind(user)
    .bind(by)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Takes the user off the cohort's roster; false when they were not on it.
pub async fn remove_from(
    tx: &mut TenantTx,
    roster: Roster,
    cohort: CohortId,
    user: UserId,
) -> Result<bool, sqlx::Error> {
    let (table, _) = roster.table();
    let done = sqlx::query(&format!(
        "delete from {table} where tenant_id = $1 and cohort_id = $2 and user_id = $3"
    ))
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

/// Those of `ids` that are active users and members of a cohort of `team`.
pub async fn team_members(
    tx: &mut TenantTx,
    team: Team,
    ids: &[UserId],
) -> Result<Vec<UserId>, sqlx::Error> {
    let ids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
    sqlx::query_scalar(concat!(
        "select u.id from users u
         where u.tenant_id = $1 and u.id = any($2) and u.status = 'active'
           and exists (
               select 1 from cohort_members m
               join cohorts c on c.tenant_id = m.tenant_id and c.id = m.cohort_id
               where m.tenant_id = u.tenant_id and m.user_id = u.id and ",
        managed_by!("$3"),
        ")"
    ))
    .bind(tx.tenant_id())
    .bind(ids)
    .bind(team.manager())
    .fetch_all(&mut **tx)
    .await
}

/// Whether the user is active and holds the `corporate_manager` role.
pub async fn is_corporate_manager(tx: &mut TenantTx, user: UserId) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "select exists (select 1 from users where tenant_id = $1 and id = $2
             and status = 'active' and 'corporate_manager' = any(roles))",
    )
    .bind(tx.tenant_id())
    .bind(user)
    .fetch_one(&mut **tx)
    .await
}

#[derive(sqlx::FromRow)]
struct ManagerRow {
    user_id: UserId,
    display_name: String,
    email: String,
    assigned_by: UserId,
    assigned_at: DateTime<Utc>,
}

impl ManagerRow {
    fn into_manager(self) -> CohortManager {
        CohortManager {
            user_id: self.user_id,
            display_name: self.display_name,
            email: self.email,
            assigned_by: self.assigned_by,
            assigned_at: self.assigned_at,
        }
    }
}

const MANAGER_COLUMNS: &str = "g.user_id, u.display_name, u.email, g.assigned_by, g.assigned_at";

/// One manager of the cohort.
pub async fn manager(
    tx: &mut TenantTx,
    cohort: CohortId,
    user: UserId,
) -> Result<Option<CohortManager>, sqlx::Error> {
    let row: Option<ManagerRow> = sqlx::query_as(&format!(
        "select {MANAGER_COLUMNS} from cohort_managers g
         join users u on u.tenant_id = g.tenant_id and u.id = g.user_id
         where g.tenant_id = $1 and g.cohort_id = $2 and g.user_id = $3"
    ))
    .bind(tx.tenant_id())
    .bind(cohort)
    .bind(user)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(ManagerRow::into_manager))
}

/// The cohort's managers by user id, from after `cursor`.
pub async fn managers(
    tx: &mut TenantTx,
    cohort: CohortId,
    cursor: Option<Cursor>,
    limit: i64,
) -> Result<Vec<CohortManager>, sqlx::Error> {
    let rows: Vec<ManagerRow> = sqlx::query_as(&format!(
        "select {MANAGER_COLUMNS} from cohort_managers g
         join users u on u.tenant_id = g.tenant_id and u.id = g.user_id
         where g.tenant_id = $1 and g.cohort_id = $2 and ($3::uuid is null or g.user_id < $3)
         order by g.user_id desc limit $4"
    ))
    .bind(tx.tenant_id())
    .bind(cohort)
    .bind(cursor.map(|c| c.0))
    .bind(limit + 1)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().map(ManagerRow::into_manager).collect())
}

/// The cohorts with these ids or (lower-cased) names, as (id, lower-cased name).
pub async fn by_ids_or_names(
    tx: &mut TenantTx,
    ids: &[Uuid],
    lower_names: &[String],
) -> Result<Vec<(CohortId, String)>, sqlx::Error> {
    sqlx::query_as(
        "select id, lower(name) from cohorts
         where tenant_id = $1 and (id = any($2) or lower(name) = any($3))",
    )
    .bind(tx.tenant_id())
    .bind(ids)
    .bind(lower_names)
    .fetch_all(&mut **tx)
    .await
}

/// The cohort memberships of these users, as (cohort, user).
pub async fn memberships_of(
    tx: &mut TenantTx,
    users: &[UserId],
) -> Result<Vec<(CohortId, UserId)>, sqlx::Error> {
    let users: Vec<Uuid> = users.iter().map(|u| u.0).collect();
    sqlx::query_as(
        "select cohort_id, user_id from cohort_members where tenant_id = $1 and user_id = any($2)",
    )
    .bind(tx.tenant_id())
    .bind(users)
    .fetch_all(&mut **tx)
    .await
}
