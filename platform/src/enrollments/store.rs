//! All SQL on `enrollments`. Every function runs on the caller's tenant-scoped transaction;
//! capacity checks rely on the caller holding the course's row lock.

use chrono::{DateTime, Utc};
use lms_tenants::TenantTx;
use uuid::Uuid;

use super::model::{Enrollment, EnrollmentId, EnrollmentSource, EnrollmentStatus, MyEnrollment};
use crate::courses::CourseId;
use crate::courses::ItemId;
use crate::courses::ItemKind;
use crate::courses::ModuleId;
use crate::db::Cursor;
use crate::progress::{self, CONTINUE_ITEM, COUNTS, CourseProgress};
use crate::users::UserId;

#[derive(sqlx::FromRow)]
pub struct EnrollmentRow {
    pub id: EnrollmentId,
    pub course_id: CourseId,
    pub user_id: UserId,
    pub display_name: String,
    pub status: EnrollmentStatus,
    pub source: EnrollmentSource,
    pub enrolled_by: UserId,
    pub enrolled_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub dropped_at: Option<DateTime<Utc>>,
    pub last_activity_at: Option<DateTime<Utc>>,
}

impl EnrollmentRow {
    pub fn to_enrollment(&self) -> Enrollment {
        Enrollment {
            id: self.id,
            course_id: self.course_id,
            user_id: self.user_id,
            display_name: self.display_name.clone(),
            status: self.status,
            source: self.source,
            enrolled_by: self.enrolled_by,
            enrolled_at: self.enrolled_at,
            completed_at: self.completed_at,
            dropped_at: self.dropped_at,
            last_activity_at: self.last_activity_at,
        }
    }
}

const COLUMNS: &str = "e.id, e.course_id, e.user_id, u.display_name, e.status, e.source,
    e.enrolled_by, e.enrolled_at, e.completed_at, e.dropped_at, e.last_activity_at";

/// Learners currently taking the course (what its capacity limits).
pub async fn active_count(tx: &mut TenantTx, course: CourseId) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "select count(*) from enrollments
         where tenant_id = $1 and course_id = $2 and status = 'active'",
    )
    .bind(tx.tenant_id())
    .bind(course)
    .fetch_one(&mut **tx)
    .await
}

/// Enrolls the user, or enrolls them again after they dropped, with the `enrollment.created`
/// event. `None` when they already are active or completed in the course.
pub async fn enroll(
    tx: &mut TenantTx,
    course: CourseId,
    user: UserId,
    source: EnrollmentSource,
    by: UserId,
) -> Result<Option<EnrollmentId>, sqlx::Error> {
    let enrolled: Option<EnrollmentId> = sqlx::query_scalar(
        "insert into enrollments (tenant_id, id, course_id, user_id, source, enrolled_by)
         values ($1, $2, $3, $4, $5, $6)
         on conflict (tenant_id, user_id, course_id) do update
             set status = 'active', source = excluded.source, enrolled_by = excluded.enrolled_by,
                 enrolled_at = now(), dropped_at = null
             where enrollments.status = 'dropped'
         returning id",
    )
    .bind(tx.tenant_id())
    .bind(EnrollmentId::default())
    .bind(course)
    .bind(user)
    .bind(source.as_str())
    .bind(by)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(enrollment_id) = enrolled {
        let event = crate::events::EnrollmentCreated {
            enrollment_id,
            course_id: course,
            user_id: user,
            source,
        };
        crate::events::emit(tx, &event).await?;
    }
    Ok(enrolled)
}

pub async fn by_id(
    tx: &mut TenantTx,
    id: EnrollmentId,
) -> Result<Option<EnrollmentRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from enrollments e
         join users u on u.tenant_id = e.tenant_id and u.id = e.user_id
         where e.tenant_id = $1 and e.id = $2"
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

/// The user's enrollment in the course, whatever its status.
pub async fn of_user_in(
    tx: &mut TenantTx,
    course: CourseId,
    user: UserId,
) -> Result<Option<Enrollment>, sqlx::Error> {
    let row: Option<EnrollmentRow> = sqlx::query_as(&format!(
        "select {COLUMNS} from enrollments e
         join users u on u.tenant_id = e.tenant_id and u.id = e.user_id
         where e.tenant_id = $1 and e.course_id = $2 and e.user_id = $3"
    ))
    .bind(tx.tenant_id())
    .bind(course)
    .bind(user)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.as_ref().map(EnrollmentRow::to_enrollment))
}

/// Marks the user's active enrollment dropped, with the `enrollment.removed` event; false when
/// they had none.
pub async fn drop_active(
    tx: &mut TenantTx,
    course: CourseId,
    user: UserId,
) -> Result<bool, sqlx::Error> {
    let dropped: Option<EnrollmentId> = sqlx::query_scalar(
        "update enrollments set status = 'dropped', dropped_at = now()
         where tenant_id = $1 and course_id = $2 and user_id = $3 and status = 'active'
         returning id",
    )
    .bind(tx.tenant_id())
    .bind(course)
    .bind(user)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(enrollment_id) = dropped else {
        return Ok(false);
    };
    let event = crate::events::EnrollmentRemoved {
        enrollment_id,
        course_id: course,
        user_id: user,
    };
    crate::events::emit(tx, &event).await?;
    Ok(true)
}

/// Courses among the course's prerequisites the user has not completed, as (id, title).
pub async fn unmet_prerequisites(
    tx: &mut TenantTx,
    course: CourseId,
    user: UserId,
) -> Result<Vec<(Uuid, String)>, sqlx::Error> {
    sqlx::query_as(
        "select c.id, c.title from course_prerequisites p
         join courses c on c.tenant_id = p.tenant_id and c.id = p.prerequisite_id
         where p.tenant_id = $1 and p.course_id = $2
           and not exists (
               select 1 from enrollments e
               where e.tenant_id = $1 and e.course_id = p.prerequisite_id and e.user_id = $3
                 and e.status = 'completed')
         order by c.title, c.id",
    )
    .bind(tx.tenant_id())
    .bind(course)
    .bind(user)
    .fetch_all(&mut **tx)
    .await
}

/// Those of `ids` that are active users of this tenant.
pub async fn active_users(tx: &mut TenantTx, ids: &[UserId]) -> Result<Vec<UserId>, sqlx::Error> {
    let ids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
    sqlx::query_scalar(
        "select id from users where tenant_id = $1 and id = any($2) and status = 'active'",
    )
    .bind(tx.tenant_id())
    .bind(ids)
    .fetch_all(&mut **tx)
    .await
}

/// The course's enrollments, newest first.
pub async fn list(
    tx: &mut TenantTx,
    course: CourseId,
    status: Option<EnrollmentStatus>,
    cursor: Option<Cursor>,
    limit: i64,
) -> Result<Vec<EnrollmentRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from enrollments e
         join users u on u.tenant_id = e.tenant_id and u.id = e.user_id
         where e.tenant_id = $1 and e.course_id = $2
           and ($3::text is null or e.status = $3)
           and ($4::uuid is null or e.id < $4)
         order by e.id desc
         limit $5"
    ))
    .bind(tx.tenant_id())
    .bind(course)
    .bind(status.map(EnrollmentStatus::as_str))
    .bind(cursor.map(|c| c.0))
    .bind(limit + 1)
    .fetch_all(&mut **tx)
    .await
}

#[derive(sqlx::FromRow)]
pub struct MyEnrollmentRow {
    pub id: EnrollmentId,
    pub course_id: CourseId,
    pub course_slug: String,
    pub course_title: String,
    pub status: EnrollmentStatus,
    pub source: EnrollmentSource,
    pub enrolled_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub dropped_at: Option<DateTime<Utc>>,
    pub last_activity_at: Option<DateTime<Utc>>,
    pub done: i64,
    pub total: i64,
    pub continue_id: Option<ItemId>,
    pub continue_module_id: Option<ModuleId>,
    pub continue_title: Option<String>,
    pub continue_kind: Option<ItemKind>,
}

impl MyEnrollmentRow {
    pub fn to_enrollment(&self) -> MyEnrollment {
        MyEnrollment {
            id: self.id,
            course_id: self.course_id,
            course_slug: self.course_slug.clone(),
            course_title: self.course_title.clone(),
            status: self.status,
            source: self.source,
            enrolled_at: self.enrolled_at,
            completed_at: self.completed_at,
            dropped_at: self.dropped_at,
            last_activity_at: self.last_activity_at,
            progress: CourseProgress::new(self.done, self.total, self.completed_at),
            continue_item: progress::continue_item(
                self.continue_id,
                self.continue_module_id,
                self.continue_title.clone(),
                self.continue_kind,
            ),
        }
    }
}

/// The user's enrollments with their progress and the item to continue with, newest first.
pub async fn of_user(
    tx: &mut TenantTx,
    user: UserId,
    status: Option<EnrollmentStatus>,
    cursor: Option<Cursor>,
    limit: i64,
) -> Result<Vec<MyEnrollmentRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select e.id, e.course_id, c.slug as course_slug, c.title as course_title, e.status,
                e.source, e.enrolled_at, e.completed_at, e.dropped_at, e.last_activity_at,
                n.done, n.total, k.id as continue_id, k.module_id as continue_module_id,
                k.title as continue_title, k.kind as continue_kind
         from enrollments e
         join courses c on c.tenant_id = e.tenant_id and c.id = e.course_id
         cross join lateral ({COUNTS}) n
         left join lateral ({CONTINUE_ITEM}) k on true
         where e.tenant_id = $1 and e.user_id = $2
           and ($3::text is null or e.status = $3)
           and ($4::uuid is null or e.id < $4)
         order by e.id desc
         limit $5"
    ))
    .bind(tx.tenant_id())
    .bind(user)
    .bind(status.map(EnrollmentStatus::as_str))
    .bind(cursor.map(|c| c.0))
    .bind(limit + 1)
    .fetch_all(&mut **tx)
    .await
}

/// Locks an enrollment's row: every write about one learner's standing in a course (progress,
/// attempts, submissions, grades) takes it first, so they serialise in one order. Returns its
/// status as locked; `None` when there is no such enrollment.
pub async fn lock(
    tx: &mut TenantTx,
    id: EnrollmentId,
) -> Result<Option<EnrollmentStatus>, sqlx::Error> {
    let status: Option<EnrollmentStatus> = sqlx::query_scalar(
        "select status from enrollments where tenant_id = $1 and id = $2 for update",
    )
    .bind(tx.tenant_id())
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(status)
}

/// The enrollment's status; `None` when there is no such enrollment.
pub async fn status_of(
    tx: &mut TenantTx,
    id: EnrollmentId,
) -> Result<Option<EnrollmentStatus>, sqlx::Error> {
    let status: Option<EnrollmentStatus> =
        sqlx::query_scalar("select status from enrollments where tenant_id = $1 and id = $2")
            .bind(tx.tenant_id())
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(status)
}

/// The enrollments of these users in these courses, as (user, course, status).
pub async fn statuses(
    tx: &mut TenantTx,
    users: &[UserId],
    courses: &[CourseId],
) -> Result<Vec<(UserId, CourseId, EnrollmentStatus)>, sqlx::Error> {
    let users: Vec<Uuid> = users.iter().map(|u| u.0).collect();
    let courses: Vec<Uuid> = courses.iter().map(|c| c.0).collect();
    sqlx::query_as(
        "select user_id, course_id, status from enrollments
         where tenant_id = $1 and user_id = any($2) and course_id = any($3)",
    )
    .bind(tx.tenant_id())
    .bind(users)
    .bind(courses)
    .fetch_all(&mut **tx)
    .await
}

/// Active enrollments per course, for these courses.
pub async fn active_counts(
    tx: &mut TenantTx,
    courses: &[CourseId],
) -> Result<Vec<(CourseId, i64)>, sqlx::Error> {
    let courses: Vec<Uuid> = courses.iter().map(|c| c.0).collect();
    sqlx::query_as(
        "select course_id, count(*) from enrollments
         where tenant_id = $1 and course_id = any($2) and status = 'active'
         group by course_id",
    )
    .bind(tx.tenant_id())
    .bind(courses)
    .fetch_all(&mut **tx)
    .await
}
