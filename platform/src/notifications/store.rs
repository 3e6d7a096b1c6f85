//! All SQL on notifications, their sequences and preferences.

use chrono::{DateTime, Utc};
use lms_tenants::{TenantId, TenantTx};
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;

use super::compose::{Draft, Titles};
use super::preferences::Digest;
use super::{NotificationId, NotificationKind};
use crate::courses::ItemId;
use crate::db::Cursor;
use crate::events::EventId;
use crate::users::{UserId, UserStatus};

/// The channel a commit that wrote a notification notifies, with `<tenant id>:<user id>`.
pub const CHANNEL: &str = "lms_notifications";

/// A notification as its recipient sees it.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Notification {
    pub id: NotificationId,
    /// The type of the event that caused it.
    #[serde(rename = "type")]
    #[sqlx(rename = "kind")]
    pub kind: NotificationKind,
    pub title: String,
    pub body: String,
    /// Where the app opens it: a path of the tenant's app, e.g. `/courses/{id}`.
    pub link: Option<String>,
    /// What it is about (the enrollment, quiz attempt or submission).
    #[schema(value_type = Option<String>, format = Uuid)]
    pub subject_id: Option<uuid::Uuid>,
    pub read_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// Position in the recipient's stream (commit order); not part of the API.
    #[serde(skip)]
    pub seq: i64,
}

const COLUMNS: &str = "id, kind, title, body, link, subject_id, read_at, created_at, seq";

/// An event as the notification job reads it.
#[derive(Debug, sqlx::FromRow)]
pub struct EventRow {
    pub kind: String,
    pub payload: serde_json::Value,
}

pub async fn event(tx: &mut TenantTx, id: EventId) -> Result<Option<EventRow>, sqlx::Error> {
    sqlx::query_as("select kind, payload from domain_events where tenant_id = $1 and id = $2")
        .bind(tx.tenant_id())
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
}

/// Whom a notification goes to.
#[derive(Debug, sqlx::FromRow)]
pub struct Recipient {
    pub email: String,
    pub display_name: String,
    pub status: UserStatus,
}

pub async fn recipient(tx: &mut TenantTx, user: UserId) -> Result<Option<Recipient>, sqlx::Error> {
    sqlx::query_as("select email, display_name, status from users where tenant_id = $1 and id = $2")
        .bind(tx.tenant_id())
        .bind(user)
        .fetch_optional(&mut **tx)
        .await
}

/// A course's title, and an item's and a module's when they are named.
pub async fn titles(
    tx: &mut TenantTx,
    course: uuid::Uuid,
    item: Option<uuid::Uuid>,
    module: Option<uuid::Uuid>,
) -> Result<Option<Titles>, sqlx::Error> {
    sqlx::query_as(
        "select c.title as course, i.title as item, m.title as module from courses c
         left join course_items i on i.tenant_id = c.tenant_id and i.course_id = c.id and i.id = $3
         left join course_modules m on m.tenant_id = c.tenant_id and m.course_id = c.id
             and m.id = $4
         where c.tenant_id = $1 and c.id = $2",
    )
    .bind(tx.tenant_id())
    .bind(course)
    .bind(item)
    .bind(module)
    .fetch_optional(&mut **tx)
    .await
}

/// Writes a notification as the user's next in commit order and notifies the streams (on
/// commit). `None` when the event already notified the user.
pub async fn insert(
    tx: &mut TenantTx,
    event: Option<EventId>,
    draft: &Draft,
) -> Result<Option<NotificationId>, sqlx::Error> {
    // The sequence row's lock is held to commit: a user's notifications commit in number order.
    let id: Option<NotificationId> = sqlx::query_scalar(
        "with next as (
             insert into notification_sequences as s (tenant_id, user_id, last_seq)
             values ($1, $2, 1)
             on conflict (tenant_id, user_id) do update set last_seq = s.last_seq + 1
             returning last_seq)
         insert into notifications
             (tenant_id, id, user_id, kind, title, body, link, subject_id, event_id, seq)
         select $1, $3, $2, $4, $5, $6, $7, $8, $9, next.last_seq from next
         on conflict (tenant_id, user_id, event_id) do nothing
         returning id",
    )
    .bind(tx.tenant_id())
    .bind(draft.user)
    .bind(NotificationId::default())
    .bind(draft.kind)
    .bind(&draft.title)
    .bind(&draft.body)
    .bind(&draft.link)
    .bind(draft.subject)
    .bind(event)
    .fetch_optional(&mut **tx)
    .await?;
    if id.is_some() {
        sqlx::query("select pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(format!("{}:{}", tx.tenant_id(), draft.user))
            .execute(&mut **tx)
            .await?;
    }
    Ok(id)
}

/// The user's notifications newest first (only unread ones if asked), one more than `limit`.
pub async fn list(
    tx: &mut TenantTx,
    user: UserId,
    unread: bool,
    cursor: Option<Cursor>,
    limit: i64,
) -> Result<Vec<Notification>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from notifications
         where tenant_id = $1 and user_id = $2 and (not $3 or read_at is null)
           and ($4::uuid is null or id < $4)
         order by id desc limit $5"
    ))
    .bind(tx.tenant_id())
    .bind(user)
    .bind(unread)
    .bind(cursor.map(|c| c.0))
    .bind(limit + 1)
    .fetch_all(&mut **tx)
    .await
}

/// The user's unread notifications, counted up to `cap`.
pub async fn unread_count(tx: &mut TenantTx, user: UserId, cap: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "select count(*) from (select 1 from notifications
                               where tenant_id = $1 and user_id = $2 and read_at is null
                               limit $3) as unread",
    )
    .bind(tx.tenant_id())
    .bind(user)
    .bind(cap)
    .fetch_one(&mut **tx)
    .await
}

/// Marks one of the user's notifications read (keeping the first time); `None` if the user
/// has no such notification.
pub async fn mark_read(
    tx: &mut TenantTx,
    user: UserId,
    id: NotificationId,
) -> Result<Option<Notification>, sqlx::Error> {
    sqlx::query_as(&format!(
        "update notifications set read_at = coalesce(read_at, now())
         where tenant_id = $1 and user_id = $2 and id = $3
         returning {COLUMNS}"
    ))
    .bind(tx.tenant_id())
    .bind(user)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

/// Marks all the user's unread notifications read; returns how many.
pub async fn mark_all_read(tx: &mut TenantTx, user: UserId) -> Result<u64, sqlx::Error> {
    sqlx::query(
        "update notifications set read_at = now()
         where tenant_id = $1 and user_id = $2 and read_at is null",
    )
    .bind(tx.tenant_id())
    .bind(user)
    .execute(&mut **tx)
    .await
    .map(|done| done.rows_affected())
}

/// The number of the user's latest notification (0 for none): a new stream starts after it.
pub async fn last_seq(tx: &mut TenantTx, user: UserId) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "select coalesce((select last_seq from notification_sequences
                          where tenant_id = $1 and user_id = $2), 0)",
    )
    .bind(tx.tenant_id())
    .bind(user)
    .fetch_one(&mut **tx)
    .await
}

/// Where a stream resumes after the notification `id` a client last received: after that
/// notification's number; for an id the user has no notification of (pruned, or not theirs),
/// after the latest of theirs at or before it in time (ids are UUIDv7).
pub async fn resume_point(
    tx: &mut TenantTx,
    user: UserId,
    id: uuid::Uuid,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "select coalesce(
             (select seq from notifications where tenant_id = $1 and user_id = $2 and id = $3),
             (select max(seq) from notifications where tenant_id = $1 and user_id = $2 and id <= $3),
             0)",
    )
    .bind(tx.tenant_id())
    .bind(user)
    .bind(id)
    .fetch_one(&mut **tx)
    .await
}

/// The user's notifications numbered after `seq`, in order, at most `limit`.
pub async fn after(
    tx: &mut TenantTx,
    user: UserId,
    seq: i64,
    limit: i64,
) -> Result<Vec<Notification>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from notifications
         where tenant_id = $1 and user_id = $2 and seq > $3
         order by seq limit $4"
    ))
    .bind(tx.tenant_id())
    .bind(user)
    .bind(seq)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await
}

/// A user's stored choice for one kind.
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct PreferenceRow {
    pub kind: NotificationKind,
    pub in_app: bool,
    pub email: bool,
}

pub async fn preferences(
    tx: &mut TenantTx,
    user: UserId,
) -> Result<Vec<PreferenceRow>, sqlx::Error> {
    sqlx::query_as(
        "select kind, in_app, email from notification_preferences
         where tenant_id = $1 and user_id = $2 and kind = any($3)",
    )
    .bind(tx.tenant_id())
    .bind(user)
    .bind(NotificationKind::ALL)
    .fetch_all(&mut **tx)
    .await
}

/// Replaces the user's stored choices with `rows`.
pub async fn replace_preferences(
    tx: &mut TenantTx,
    user: UserId,
    rows: &[PreferenceRow],
) -> Result<(), sqlx::Error> {
    sqlx::query("delete from notification_preferences where tenant_id = $1 and user_id = $2")
        .bind(tx.tenant_id())
        .bind(user)
        .execute(&mut **tx)
        .await?;
    let kinds: Vec<NotificationKind> = rows.iter().map(|r| r.kind).collect();
    let in_app: Vec<bool> = rows.iter().map(|r| r.in_app).collect();
    let email: Vec<bool> = rows.iter().map(|r| r.email).collect();
    sqlx::query(
        "insert into notification_preferences (tenant_id, user_id, kind, in_app, email)
         select $1, $2, kind, in_app, email
         from unnest($3::text[], $4::bool[], $5::bool[]) as p(kind, in_app, email)",
    )
    .bind(tx.tenant_id())
    .bind(user)
    .bind(&kinds)
    .bind(&in_app)
    .bind(&email)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The user's digest choice and when the last digest went (`off`, never, without a row).
pub async fn digest_setting(
    tx: &mut TenantTx,
    user: UserId,
) -> Result<(Digest, Option<DateTime<Utc>>), sqlx::Error> {
    let row: Option<(Digest, Option<DateTime<Utc>>)> = sqlx::query_as(
        "select digest, digest_sent_at from notification_settings
         where tenant_id = $1 and user_id = $2",
    )
    .bind(tx.tenant_id())
    .bind(user)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.unwrap_or((Digest::Off, None)))
}

pub async fn set_digest(
    tx: &mut TenantTx,
    user: UserId,
    digest: Digest,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into notification_settings (tenant_id, user_id, digest) values ($1, $2, $3)
         on conflict (tenant_id, user_id) do update set digest = excluded.digest",
    )
    .bind(tx.tenant_id())
    .bind(user)
    .bind(digest)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The user's unread notifications written after `since`, newest first (at most `limit`),
/// and how many there are in all.
pub async fn unread_since(
    tx: &mut TenantTx,
    user: UserId,
    since: DateTime<Utc>,
    limit: i64,
) -> Result<(Vec<Notification>, i64), sqlx::Error> {
    let rows = sqlx::query_as(&format!(
        "select {COLUMNS} from notifications
         where tenant_id = $1 and user_id = $2 and read_at is null and created_at > $3
         order by id desc limit $4"
    ))
    .bind(tx.tenant_id())
    .bind(user)
    .bind(since)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await?;
    let total = sqlx::query_scalar(
        "select count(*) from notifications
         where tenant_id = $1 and user_id = $2 and read_at is null and created_at > $3",
    )
    .bind(tx.tenant_id())
    .bind(user)
    .bind(since)
    .fetch_one(&mut **tx)
    .await?;
    Ok((rows, total))
}

pub async fn mark_digest_sent(tx: &mut TenantTx, user: UserId) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update notification_settings set digest_sent_at = now()
         where tenant_id = $1 and user_id = $2",
    )
    .bind(tx.tenant_id())
    .bind(user)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Across tenants (the operator's connection): users with a daily digest and unread
/// notifications written since their last one, after `after` in (tenant, user) order.
pub async fn digests_due(
    conn: &mut sqlx::PgConnection,
    after: Option<(lms_tenants::TenantId, UserId)>,
    limit: i64,
) -> Result<Vec<(lms_tenants::TenantId, UserId)>, sqlx::Error> {
    let (tenant, user) = after.unzip();
    sqlx::query_as(
        "select s.tenant_id, s.user_id from notification_settings s
         where s.digest = 'daily'
           and ($1::uuid is null or (s.tenant_id, s.user_id) > ($1, $2))
           and exists (select 1 from notifications n
                       where n.tenant_id = s.tenant_id and n.user_id = s.user_id
                         and n.read_at is null
                         and n.created_at > coalesce(s.digest_sent_at, now() - interval '1 day'))
         order by s.tenant_id, s.user_id limit $3",
    )
    .bind(tenant)
    .bind(user)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// An assignment due within the reminder window, as the schedule finds it across tenants.
#[derive(Debug, sqlx::FromRow)]
pub struct DueRow {
    pub tenant_id: TenantId,
    pub item_id: ItemId,
    pub due_at: DateTime<Utc>,
}

/// Assignments (of every tenant) due after now and within `ahead`, in due order after `after`
/// (operator role).
pub async fn assignments_due_within(
    conn: &mut PgConnection,
    ahead: chrono::Duration,
    after: Option<(DateTime<Utc>, TenantId, ItemId)>,
    limit: i64,
) -> Result<Vec<DueRow>, sqlx::Error> {
    let (at, tenant, item) = match after {
        Some((at, tenant, item)) => (Some(at), Some(tenant), Some(item)),
        None => (None, None, None),
    };
    sqlx::query_as(
        "select tenant_id, item_id, due_at from assignments
         where due_at > now() and due_at <= now() + make_interval(secs => $1)
           and ($2::timestamptz is null or (due_at, tenant_id, item_id) > ($2, $3, $4))
         order by due_at, tenant_id, item_id
         limit $5",
    )
    .bind(ahead.as_seconds_f64())
    .bind(at)
    .bind(tenant)
    .bind(item)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// An assignment of a published course with its due date, and the titles a reminder names.
#[derive(Debug, sqlx::FromRow)]
pub struct AssignmentDue {
    pub course_id: uuid::Uuid,
    pub course_title: String,
    pub item_title: String,
    pub due_at: Option<DateTime<Utc>>,
}

pub async fn assignment_due(
    tx: &mut TenantTx,
    item: ItemId,
) -> Result<Option<AssignmentDue>, sqlx::Error> {
    sqlx::query_as(
        "select a.course_id, c.title as course_title, i.title as item_title, a.due_at
         from assignments a
         join courses c on c.tenant_id = a.tenant_id and c.id = a.course_id
             and c.status = 'published'
         join course_items i on i.tenant_id = a.tenant_id and i.id = a.item_id
         where a.tenant_id = $1 and a.item_id = $2",
    )
    .bind(tx.tenant_id())
    .bind(item)
    .fetch_optional(&mut **tx)
    .await
}

/// The learners actively enrolled in the assignment's course who have not submitted to it.
pub async fn learners_yet_to_submit(
    tx: &mut TenantTx,
    item: ItemId,
) -> Result<Vec<UserId>, sqlx::Error> {
    sqlx::query_scalar(
        "select e.user_id from assignments a
         join enrollments e on e.tenant_id = a.tenant_id and e.course_id = a.course_id
             and e.status = 'active'
         where a.tenant_id = $1 and a.item_id = $2
           and not exists (
               select 1 from assignment_submissions s
               where s.tenant_id = e.tenant_id and s.item_id = a.item_id
                 and s.user_id = e.user_id)
         order by e.user_id",
    )
    .bind(tx.tenant_id())
    .bind(item)
    .fetch_all(&mut **tx)
    .await
}
