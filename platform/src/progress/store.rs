//! All SQL on `item_progress`, `item_sessions` and the course completion event. Writers hold the
//! enrollment's row lock ([`report_context`]) until they commit, so one learner's reports on one
//! course apply one after another and no count is computed from a stale read.

use chrono::{DateTime, Utc};
use lms_tenants::TenantTx;
use uuid::Uuid;

use super::model::{ContinueItem, CourseProgress, ItemProgress};
use crate::auth::session_is_current;
use crate::courses::CourseStatus;
use crate::courses::{CourseId, ItemId, ItemKind, ModuleId};
use crate::enrollments::{EnrollmentId, EnrollmentStatus};
use crate::users::UserId;

/// The counted items of a course (`i`, course id `$course`): its required items, or all of them
/// when none is required.
macro_rules! counted_items {
    ($course:literal) => {
        concat!(
            "(i.required or not exists (select 1 from course_items r
                where r.tenant_id = i.tenant_id and r.course_id = ",
            $course,
            " and r.required))"
        )
    };
}

/// What a report needs to know, read under the enrollment's row lock.
#[derive(sqlx::FromRow)]
pub struct ReportContext {
    pub enrollment_id: EnrollmentId,
    pub status: EnrollmentStatus,
    pub course_status: CourseStatus,
    /// Null when the item is not in the course.
    pub item_kind: Option<ItemKind>,
    pub duration_seconds: Option<i32>,
    /// Required items of earlier modules not complete yet (sequential courses; 0 otherwise).
    pub blocking: i64,
    /// Whether the caller's session is current ([`session_is_current`]).
    pub session_current: bool,
}

impl ReportContext {}

/// Locks the caller's enrollment in the course and reads the item's place in it, with whether
/// the caller's session is current. `None` when the user was never enrolled.
pub async fn report_context(
    tx: &mut TenantTx,
    course: CourseId,
    item: ItemId,
    (user, epoch): (UserId, i32),
) -> Result<Option<ReportContext>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select e.id as enrollment_id, e.status, c.status as course_status,
                i.kind as item_kind, i.duration_seconds,
                case when c.sequential and i.id is not null then (
                    select count(*) from course_items ri
                    join course_modules rm on rm.tenant_id = ri.tenant_id and rm.id = ri.module_id
                    left join item_progress rp on rp.tenant_id = ri.tenant_id
                        and rp.enrollment_id = e.id and rp.item_id = ri.id
                    where ri.tenant_id = e.tenant_id and ri.course_id = e.course_id
                      and ri.required and rm.position < m.position and rp.completed_at is null)
                else 0 end as blocking,
                {session} as session_current
         from enrollments e
         join courses c on c.tenant_id = e.tenant_id and c.id = e.course_id
         left join course_items i on i.tenant_id = e.tenant_id and i.id = $3
             and i.course_id = e.course_id
         left join course_modules m on m.tenant_id = i.tenant_id and m.id = i.module_id
         where e.tenant_id = $1 and e.course_id = $2 and e.user_id = $4
         for update of e",
        session = session_is_current("$4", "$5"),
    ))
    .bind(tx.tenant_id())
    .bind(course)
    .bind(item)
    .bind(user)
    .bind(epoch)
    .fetch_optional(&mut **tx)
    .await
}

/// One validated report.
pub struct Report {
    pub course: CourseId,
    pub enrollment: EnrollmentId,
    pub item: ItemId,
    pub session: Option<Uuid>,
    pub time_seconds: Option<i32>,
    pub position_seconds: Option<i32>,
    pub complete: bool,
    /// The video's duration, for completion by watching.
    pub video_seconds: Option<i32>,
    /// Whether the enrollment was active before this report (a completion event is due when
    /// it completes now).
    pub was_active: bool,
}

#[derive(sqlx::FromRow)]
pub struct RecordedRow {
    pub item_id: ItemId,
    pub completed_at: Option<DateTime<Utc>>,
    pub position_seconds: i32,
    pub furthest_position_seconds: i32,
    pub time_spent_seconds: i64,
    pub first_accessed_at: DateTime<Utc>,
    pub last_accessed_at: DateTime<Utc>,
    pub done: i64,
    pub total: i64,
    pub course_completed_at: Option<DateTime<Utc>>,
}

impl RecordedRow {
    pub fn item(&self) -> ItemProgress {
        ItemProgress {
            item_id: self.item_id,
            completed_at: self.completed_at,
            position_seconds: self.position_seconds,
            furthest_position_seconds: self.furthest_position_seconds,
            time_spent_seconds: self.time_spent_seconds,
            first_accessed_at: Some(self.first_accessed_at),
            last_accessed_at: Some(self.last_accessed_at),
        }
    }

    pub fn course(&self) -> CourseProgress {
        CourseProgress::new(self.done, self.total, self.course_completed_at)
    }
}

/// Applies a report in one statement: the session's running totals, the item's progress (from
/// every session), the enrollment's counts, last activity and completion, and the completion
/// event when the course is completed now. Needs the enrollment's row lock.
pub async fn record(tx: &mut TenantTx, report: &Report) -> Result<RecordedRow, sqlx::Error> {
    sqlx::query_as(concat!(
        "with session as (
            insert into item_sessions as s
                (tenant_id, enrollment_id, item_id, session_id, time_seconds, position_seconds)
            select $1, $2, $3, $4, coalesce($5, 0), $6 where $4::uuid is not null
            on conflict (tenant_id, enrollment_id, item_id, session_id) do update
                set time_seconds = greatest(s.time_seconds, excluded.time_seconds),
                    position_seconds = greatest(s.position_seconds, excluded.position_seconds),
                    updated_at = now()
            returning s.time_seconds, s.position_seconds, (s.xmax = 0) as is_new
        ),
        other_sessions as (
            select coalesce(sum(time_seconds), 0)::bigint as time_seconds,
                   max(position_seconds) as furthest
            from item_sessions
            where tenant_id = $1 and enrollment_id = $2 and item_id = $3
              and session_id is distinct from $4
        ),
        totals as (
            select o.time_seconds + coalesce(s.time_seconds, 0) as time_seconds,
                   greatest(o.furthest, s.position_seconds, 0) as furthest,
                   s.position_seconds as session_position,
                   coalesce(s.is_new, false) as new_session
            from other_sessions o left join session s on true
        ),
        item as (
            insert into item_progress as p (tenant_id, enrollment_id, item_id, completed_at,
                position_seconds, furthest_position_seconds, time_spent_seconds, current_session)
            select $1, $2, $3,
                   -- A video is complete once watched to 90% of its duration.
                   case when $7 or (coalesce($8, 0) > 0 and t.furthest * 10 >= $8 * 9)
                       then now() end,
                   coalesce(t.session_position, 0), t.furthest, t.time_seconds, $4
            from totals t
            on conflict (tenant_id, enrollment_id, item_id) do update set
                completed_at = coalesce(p.completed_at, excluded.completed_at),
                position_seconds = case
                    when $4::uuid is not null and (p.current_session is null
                        or p.current_session = $4 or (select new_session from totals))
                    then coalesce((select session_position from totals), p.position_seconds)
                    else p.position_seconds end,
                current_session = case when (select new_session from totals) then $4
                    else coalesce(p.current_session, $4) end,
                furthest_position_seconds =
                    greatest(p.furthest_position_seconds, excluded.furthest_position_seconds),
                time_spent_seconds = excluded.time_spent_seconds,
                last_accessed_at = now()
            returning p.item_id, p.completed_at, p.position_seconds, p.furthest_position_seconds,
                p.time_spent_seconds, p.first_accessed_at, p.last_accessed_at
        ),
        counted as (
            select count(*) filter (where case when i.id = $3
                        then (select completed_at from item) is not null
                        else p.completed_at is not null end) as done,
                   count(*) as total
            from course_items i
            left join item_progress p on p.tenant_id = i.tenant_id and p.enrollment_id = $2
                and p.item_id = i.id
            where i.tenant_id = $1 and i.course_id = $9 and ",
        counted_items!("$9"),
        "
        ),
        enrollment as (
            update enrollments e set
                last_activity_at = now(),
                status = case when e.status = 'active' and c.total > 0 and c.done = c.total
                    then 'completed' else e.status end,
                completed_at = case when e.status = 'active' and c.total > 0 and c.done = c.total
                    then now() else e.completed_at end
            from counted c
            where e.tenant_id = $1 and e.id = $2
            returning e.status, e.completed_at, e.user_id, c.done, c.total
        ),
        -- The events (see crate::events::ItemCompleted and CourseCompleted for their data):
        -- the item's when it is completed by this statement (an earlier completion carries an
        -- earlier transaction's time), the course's when the enrollment completes now.
        item_event as (
            insert into domain_events (tenant_id, id, kind, subject_id, payload)
            select $1, $12, 'item.completed', $2, jsonb_build_object(
                'enrollment_id', $2, 'course_id', $9, 'item_id', $3, 'user_id', en.user_id,
                'completed_at', item.completed_at)
            from item, enrollment en where item.completed_at = now()
            returning id
        ),
        -- A required item completed now in a sequential course opens every later module that
        -- no other incomplete required item holds shut (see crate::events::ModuleUnlocked);
        -- modules without items open unannounced.
        unlock_events as (
            insert into domain_events (tenant_id, id, kind, subject_id, payload)
            select $1, lms_uuid_v7(), 'module.unlocked', $2, jsonb_build_object(
                'enrollment_id', $2, 'course_id', $9, 'module_id', m.id, 'user_id', en.user_id,
                'first_item_id', first_item.id, 'unlocked_at', item.completed_at)
            from item, enrollment en
            join courses c on c.tenant_id = $1 and c.id = $9 and c.sequential
            join course_items done on done.tenant_id = $1 and done.id = $3 and done.required
            join course_modules done_module on done_module.tenant_id = $1
                and done_module.id = done.module_id
            join course_modules m on m.tenant_id = $1 and m.course_id = $9
                and m.position > done_module.position
            cross join lateral (
                select fi.id from course_items fi
                where fi.tenant_id = $1 and fi.module_id = m.id
                order by fi.position limit 1
            ) first_item
            where item.completed_at = now()
              and not exists (
                  select 1 from course_items ri
                  join course_modules rm on rm.tenant_id = ri.tenant_id and rm.id = ri.module_id
                  left join item_progress rp on rp.tenant_id = ri.tenant_id
                      and rp.enrollment_id = $2 and rp.item_id = ri.id
                  where ri.tenant_id = $1 and ri.course_id = $9 and ri.required and ri.id <> $3
                    and rm.position < m.position and rp.completed_at is null)
            returning id
        ),
        event as (
            insert into domain_events (tenant_id, id, kind, subject_id, payload)
            select $1, $10, 'course.completed', $2, jsonb_build_object(
                'enrollment_id', $2, 'course_id', $9, 'user_id', en.user_id,
                'completed_at', en.completed_at)
            from enrollment en where $11 and en.status = 'completed'
            returning id
        )
        select item.*, en.done, en.total, en.completed_at as course_completed_at
        from item, enrollment en"
    ))
    .bind(tx.tenant_id())
    .bind(report.enrollment)
    .bind(report.item)
    .bind(report.session)
    .bind(report.time_seconds)
    .bind(report.position_seconds)
    .bind(report.complete)
    .bind(report.video_seconds)
    .bind(report.course)
    .bind(Uuid::now_v7())
    .bind(report.was_active)
    .bind(Uuid::now_v7())
    .fetch_one(&mut **tx)
    .await
}

/// Counted items complete and counted in total, for one enrollment.
pub async fn counts(
    tx: &mut TenantTx,
    course: CourseId,
    enrollment: EnrollmentId,
) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(concat!(
        "select count(p.completed_at), count(*)
         from course_items i
         left join item_progress p on p.tenant_id = i.tenant_id and p.enrollment_id = $3
             and p.item_id = i.id
         where i.tenant_id = $1 and i.course_id = $2 and ",
        counted_items!("$2")
    ))
    .bind(tx.tenant_id())
    .bind(course)
    .bind(enrollment)
    .fetch_one(&mut **tx)
    .await
}

#[derive(sqlx::FromRow)]
pub struct OutlineProgressRow {
    pub module_id: ModuleId,
    pub module_title: String,
    pub module_position: i32,
    pub item_id: Option<ItemId>,
    pub item_title: Option<String>,
    pub kind: Option<ItemKind>,
    pub required: Option<bool>,
    pub body: Option<String>,
    pub url: Option<String>,
    pub duration_seconds: Option<i32>,
    pub completed_at: Option<DateTime<Utc>>,
    pub position_seconds: Option<i32>,
    pub furthest_position_seconds: Option<i32>,
    pub time_spent_seconds: Option<i64>,
    pub first_accessed_at: Option<DateTime<Utc>>,
    pub last_accessed_at: Option<DateTime<Utc>>,
}

impl OutlineProgressRow {
    pub fn progress(&self, item: ItemId) -> ItemProgress {
        ItemProgress {
            item_id: item,
            completed_at: self.completed_at,
            position_seconds: self.position_seconds.unwrap_or(0),
            furthest_position_seconds: self.furthest_position_seconds.unwrap_or(0),
            time_spent_seconds: self.time_spent_seconds.unwrap_or(0),
            first_accessed_at: self.first_accessed_at,
            last_accessed_at: self.last_accessed_at,
        }
    }
}

/// The course's modules and items in order with the enrollment's progress on each (a module
/// without items yields one row with null item columns).
pub async fn outline(
    tx: &mut TenantTx,
    course: CourseId,
    enrollment: EnrollmentId,
) -> Result<Vec<OutlineProgressRow>, sqlx::Error> {
    sqlx::query_as(
        "select m.id as module_id, m.title as module_title, m.position as module_position,
                i.id as item_id, i.title as item_title, i.kind, i.required, i.body, i.url,
                i.duration_seconds, p.completed_at, p.position_seconds, p.furthest_position_seconds,
                p.time_spent_seconds, p.first_accessed_at, p.last_accessed_at
         from course_modules m
         left join course_items i on i.tenant_id = m.tenant_id and i.module_id = m.id
         left join item_progress p on p.tenant_id = m.tenant_id and p.enrollment_id = $3
             and p.item_id = i.id
         where m.tenant_id = $1 and m.course_id = $2
         order by m.position, i.position",
    )
    .bind(tx.tenant_id())
    .bind(course)
    .bind(enrollment)
    .fetch_all(&mut **tx)
    .await
}

/// The item to continue with in enrollment `e`: the one last opened if it is not complete,
/// else the first incomplete one in course order; for embedding as a lateral join.
pub const CONTINUE_ITEM: &str = "
    select i.id, i.module_id, i.title, i.kind
    from course_items i
    join course_modules m on m.tenant_id = i.tenant_id and m.id = i.module_id
    left join item_progress p on p.tenant_id = i.tenant_id and p.enrollment_id = e.id
        and p.item_id = i.id
    where i.tenant_id = e.tenant_id and i.course_id = e.course_id and p.completed_at is null
    order by p.last_accessed_at is not null and p.last_accessed_at = (
            select max(l.last_accessed_at) from item_progress l
            where l.tenant_id = e.tenant_id and l.enrollment_id = e.id) desc,
        m.position, i.position
    limit 1";

/// A continue-item's columns as selected by queries embedding [`CONTINUE_ITEM`].
pub fn continue_item(
    id: Option<ItemId>,
    module: Option<ModuleId>,
    title: Option<String>,
    kind: Option<ItemKind>,
) -> Option<ContinueItem> {
    Some(ContinueItem {
        item_id: id?,
        module_id: module?,
        title: title?,
        kind: kind?,
    })
}

/// Counted items (complete, total) per course for the enrollment `e`, for embedding as a
/// lateral join.
pub const COUNTS: &str = concat!(
    "select count(p.completed_at) as done, count(*) as total
     from course_items i
     left join item_progress p on p.tenant_id = i.tenant_id and p.enrollment_id = e.id
         and p.item_id = i.id
     where i.tenant_id = e.tenant_id and i.course_id = e.course_id and ",
    counted_items!("e.course_id")
);

/// Which of a course's learners the progress table shows.
#[derive(Debug, Clone, Default)]
pub struct RosterFilter {
    pub status: Option<EnrollmentStatus>,
    /// Name or email containing this text.
    pub search: Option<String>,
    /// Only learners below this per cent.
    pub progress_below: Option<u8>,
    /// Only learners with no activity since this instant.
    pub inactive_since: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
pub struct RosterRow {
    pub enrollment_id: EnrollmentId,
    pub user_id: UserId,
    pub display_name: String,
    pub email: String,
    pub status: EnrollmentStatus,
    pub enrolled_at: DateTime<Utc>,
    pub last_activity_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub done: i64,
    pub total: i64,
    pub time_spent_seconds: i64,
}

/// A page of the course's learners with their progress, newest enrollment first.
pub async fn roster(
    tx: &mut TenantTx,
    course: CourseId,
    filter: &RosterFilter,
    after: Option<EnrollmentId>,
    limit: i64,
) -> Result<Vec<RosterRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select e.id as enrollment_id, e.user_id, u.display_name, u.email, e.status,
                e.enrolled_at, e.last_activity_at, e.completed_at, c.done, c.total,
                coalesce(t.seconds, 0)::bigint as time_spent_seconds
         from enrollments e
         join users u on u.tenant_id = e.tenant_id and u.id = e.user_id
         cross join lateral ({COUNTS}) c
         left join lateral (
             select sum(tp.time_spent_seconds) as seconds from item_progress tp
             where tp.tenant_id = e.tenant_id and tp.enrollment_id = e.id) t on true
         where e.tenant_id = $1 and e.course_id = $2
           and ($3::text is null or e.status = $3)
           and ($4::text is null or u.email ilike $4 or u.display_name ilike $4)
           and ($5::int is null or (e.completed_at is null and c.done * 100 < $5 * c.total))
           and ($6::timestamptz is null or e.last_activity_at is null or e.last_activity_at < $6)
           and ($7::uuid is null or e.id < $7)
         order by e.id desc
         limit $8"
    ))
    .bind(tx.tenant_id())
    .bind(course)
    .bind(filter.status.map(EnrollmentStatus::as_str))
    .bind(
        filter
            .search
            .as_deref()
            .map(crate::users::store::substring_pattern),
    )
    .bind(filter.progress_below.map(i32::from))
    .bind(filter.inactive_since)
    .bind(after)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await
}
