//! All SQL on `users`. Every function runs on the caller's tenant-scoped transaction.

use chrono::{DateTime, Utc};
use lms_tenants::{TenantId, TenantTx};

use super::model::Role;
use super::model::{DisplayName, Email, Roles, User, UserId, UserStatus};
use crate::db::Cursor;

/// A `users` row including what only the service may see.
#[derive(Clone, sqlx::FromRow)]
pub struct UserRow {
    pub tenant_id: TenantId,
    pub id: UserId,
    pub email: String,
    pub display_name: String,
    pub password_hash: Option<String>,
    pub roles: Vec<Role>,
    pub status: UserStatus,
    pub session_epoch: i32,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "tenant_id, id, email, display_name, password_hash, roles, status, session_epoch, last_login_at, created_at";

impl UserRow {
    pub fn roles(&self) -> Roles {
        Roles::from_stored(&self.roles)
    }

    pub fn to_user(&self) -> User {
        User {
            id: self.id,
            tenant_id: self.tenant_id,
            email: Email::from_db(self.email.clone()),
            display_name: self.display_name.clone(),
            roles: self.roles(),
            status: self.status,
            last_login_at: self.last_login_at,
            created_at: self.created_at,
        }
    }
}

pub struct NewUser<'a> {
    pub email: &'a Email,
    pub display_name: &'a DisplayName,
    pub password_hash: Option<&'a str>,
    pub roles: &'a Roles,
    pub status: UserStatus,
}

pub const EMAIL_TAKEN: &str = "users_email_key";

/// Creates the account and its `user.created` event.
pub async fn insert(tx: &mut TenantTx, user: &NewUser<'_>) -> Result<UserRow, sqlx::Error> {
    let tenant = tx.tenant_id();
    let row: UserRow = sqlx::query_as(&format!(
        "insert into users (tenant_id, id, email, display_name, password_hash, roles, status)
         values ($1, $2, $3, $4, $5, $6, $7) returning {COLUMNS}"
    ))
    .bind(tenant)
    .bind(UserId::default())
    .bind(user.email.as_str())
    .bind(user.display_name.as_str())
    .bind(user.password_hash)
    .bind(user.roles.as_db())
    .bind(user.status.as_str())
    .fetch_one(&mut **tx)
    .await?;
    let created = crate::events::UserCreated {
        user_id: row.id,
        email: row.email.clone(),
        display_name: row.display_name.clone(),
        roles: row.roles.clone(),
        status: row.status,
    };
    crate::events::emit(tx, &created).await?;
    Ok(row)
}

pub async fn by_email(tx: &mut TenantTx, email: &Email) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from users where tenant_id = $1 and email = $2"
    ))
    .bind(tx.tenant_id())
    .bind(email.as_str())
    .fetch_optional(&mut **tx)
    .await
}

pub async fn by_id(tx: &mut TenantTx, id: UserId) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from users where tenant_id = $1 and id = $2"
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

/// Locks the row for the rest of the transaction (role changes, deactivation).
pub async fn by_id_for_update(
    tx: &mut TenantTx,
    id: UserId,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from users where tenant_id = $1 and id = $2 for update"
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

pub struct ListFilter<'a> {
    pub search: Option<&'a str>,
    pub role: Option<&'a str>,
    pub status: Option<&'a str>,
}

/// An ILIKE pattern matching any text that contains `text`; its own wildcards are escaped.
pub fn substring_pattern(text: &str) -> String {
    format!(
        "%{}%",
        text.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    )
}

pub async fn list(
    tx: &mut TenantTx,
    filter: &ListFilter<'_>,
    cursor: Option<Cursor>,
    limit: i64,
) -> Result<Vec<UserRow>, sqlx::Error> {
    let pattern = filter.search.map(substring_pattern);
    sqlx::query_as(&format!(
        "select {COLUMNS} from users
         where tenant_id = $1
           and ($2::uuid is null or id < $2)
           and ($3::text is null or email ilike $3 or display_name ilike $3)
           and ($4::text is null or $4 = any(roles))
           and ($5::text is null or status = $5)
         order by id desc
         limit $6"
    ))
    .bind(tx.tenant_id())
    .bind(cursor.map(|c| c.0))
    .bind(pattern)
    .bind(filter.role)
    .bind(filter.status)
    .bind(limit + 1)
    .fetch_all(&mut **tx)
    .await
}

pub async fn set_password(tx: &mut TenantTx, id: UserId, hash: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update users set password_hash = $3, session_epoch = session_epoch + 1 where tenant_id = $1 and id = $2",
    )
    .bind(tx.tenant_id())
    .bind(id)
    .bind(hash)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Activates an invited user with their chosen password and name.
/// Records the tenant admin who invited `id`.
pub async fn set_inviter(tx: &mut TenantTx, id: UserId, by: UserId) -> Result<(), sqlx::Error> {
    sqlx::query("update users set invited_by = $3 where tenant_id = $1 and id = $2")
        .bind(tx.tenant_id())
        .bind(id)
        .bind(by)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

/// Who invited `id`, when a tenant admin did (and still has an account).
pub async fn inviter(tx: &mut TenantTx, id: UserId) -> Result<Option<UserId>, sqlx::Error> {
    sqlx::query_scalar("select invited_by from users where tenant_id = $1 and id = $2")
        .bind(tx.tenant_id())
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
        .map(Option::flatten)
}

pub async fn activate(
    tx: &mut TenantTx,
    id: UserId,
    hash: &str,
    name: Option<&DisplayName>,
) -> Result<UserRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "update users set password_hash = $3, status = 'active', display_name = coalesce($4, display_name),
                session_epoch = session_epoch + 1
         where tenant_id = $1 and id = $2 returning {COLUMNS}"
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .bind(hash)
    .bind(name.map(DisplayName::as_str))
    .fetch_one(&mut **tx)
    .await
}

pub async fn set_roles(
    tx: &mut TenantTx,
    id: UserId,
    roles: &Roles,
) -> Result<UserRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "update users set roles = $3, session_epoch = session_epoch + 1
         where tenant_id = $1 and id = $2 returning {COLUMNS}"
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .bind(roles.as_db())
    .fetch_one(&mut **tx)
    .await
}

pub async fn set_display_name(
    tx: &mut TenantTx,
    id: UserId,
    name: &DisplayName,
) -> Result<UserRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "update users set display_name = $3 where tenant_id = $1 and id = $2 returning {COLUMNS}"
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .bind(name.as_str())
    .fetch_one(&mut **tx)
    .await
}

/// The users with these (normalised) emails, locked for the rest of the transaction when
/// `lock` (a bulk import applying changes to them).
pub async fn by_emails(
    tx: &mut TenantTx,
    emails: &[&str],
    lock: bool,
) -> Result<Vec<UserRow>, sqlx::Error> {
    let lock = if lock { " order by id for update" } else { "" };
    sqlx::query_as(&format!(
        "select {COLUMNS} from users where tenant_id = $1 and email = any($2){lock}"
    ))
    .bind(tx.tenant_id())
    .bind(emails)
    .fetch_all(&mut **tx)
    .await
}

/// How many active tenant admins the tenant has.
pub async fn active_admins(tx: &mut TenantTx) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "select count(*) from users
         where tenant_id = $1 and status = 'active' and 'tenant_admin' = any(roles)",
    )
    .bind(tx.tenant_id())
    .fetch_one(&mut **tx)
    .await
}

pub async fn set_status(
    tx: &mut TenantTx,
    id: UserId,
    status: UserStatus,
) -> Result<UserRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "update users set status = $3, session_epoch = session_epoch + 1
         where tenant_id = $1 and id = $2 returning {COLUMNS}"
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .bind(status.as_str())
    .fetch_one(&mut **tx)
    .await
}

/// Sets the account's email and display name (an identity provider's update).
pub async fn set_profile(
    tx: &mut TenantTx,
    id: UserId,
    email: &Email,
    display_name: &DisplayName,
) -> Result<UserRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "update users set email = $3, display_name = $4
         where tenant_id = $1 and id = $2 returning {COLUMNS}"
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .bind(email.as_str())
    .bind(display_name.as_str())
    .fetch_one(&mut **tx)
    .await
}

pub async fn record_login(tx: &mut TenantTx, id: UserId) -> Result<(), sqlx::Error> {
    sqlx::query("update users set last_login_at = now() where tenant_id = $1 and id = $2")
        .bind(tx.tenant_id())
        .bind(id)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

/// How many active tenant admins remain besides `except` (an admin may not remove the last one).
pub async fn other_active_admins(tx: &mut TenantTx, except: UserId) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "select count(*) from users
         where tenant_id = $1 and id <> $2 and status = 'active' and 'tenant_admin' = any(roles)",
    )
    .bind(tx.tenant_id())
    .bind(except)
    .fetch_one(&mut **tx)
    .await
}

/// The addresses of the tenant's active admins (for notices about the tenant's configuration).
pub async fn active_admin_emails(tx: &mut TenantTx) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "select email from users
         where tenant_id = $1 and status = 'active' and 'tenant_admin' = any(roles)
         order by email limit 50",
    )
    .bind(tx.tenant_id())
    .fetch_all(&mut **tx)
    .await
}
