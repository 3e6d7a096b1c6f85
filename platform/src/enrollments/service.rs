//! Enrollment rules. Every enrollment change takes the course's row lock first, so capacity is
//! checked and taken by one transaction at a time: concurrent enrollments cannot overfill it.
//!
//! Learners enroll themselves into published courses that allow it, once they completed every
//! prerequisite and while seats are left. A course's instructors and tenant admins enroll lists
//! of users (capacity applies, prerequisites do not: staff decide), unenroll them and read the
//! roster. Unenrolling keeps the row as `dropped`; a dropped learner can enroll again.

use std::collections::HashSet;
use std::net::IpAddr;

use lms_tenants::TenantTx;
use serde_json::json;

use super::model::{
    BulkEnrollment, EnrollOutcome, EnrollResult, Enrollment, EnrollmentSource, EnrollmentStatus,
    MyEnrollment,
};
use super::store::{self, EnrollmentRow, MyEnrollmentRow};
use crate::audit::{Audit, AuditActor};
use crate::auth::{Actor, Caller};
use crate::cohorts::store as cohorts;
use crate::cohorts::{CohortId, Team};
use crate::courses::store::{self as courses, CourseRow};
use crate::courses::{CourseId, CourseStatus};
use crate::db::Cursor;
use crate::error::{ApiError, ApiResult, codes};
use crate::http::Page;
use crate::state::AppState;
use crate::users::UserId;

/// Most users one bulk call may enroll.
pub const MAX_BULK: usize = 500;

fn not_published(course: &CourseRow) -> ApiError {
    ApiError::Conflict {
        code: codes::COURSE_NOT_PUBLISHED,
        detail: format!(
            "the course is {}; only published courses take enrollments",
            course.status.as_str()
        ),
    }
}

/// Seats left under the course's capacity (`None`: unlimited). Needs the course's row lock.
async fn seats_left(tx: &mut TenantTx, course: &CourseRow) -> ApiResult<Option<i64>> {
    Ok(match course.capacity {
        Some(capacity) => {
            Some((i64::from(capacity) - store::active_count(tx, course.id).await?).max(0))
        }
        None => None,
    })
}

/// Enrolls the caller into a published course that allows self-enrollment.
pub async fn enroll_self(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    id: CourseId,
) -> ApiResult<Enrollment> {
    let (mut tx, actor) = caller.begin(state).await?;
    let course = courses::by_id_for_update(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if course.status != CourseStatus::Published {
        return Err(not_published(&course));
    }
    crate::billing::seats::ensure_within_limit(&mut tx, &state.billing).await?;
    if !course.self_enrollment {
        return Err(ApiError::Forbidden {
            code: "self_enrollment_closed",
            detail: "learners are enrolled into this course by its instructors",
        });
    }
    let unmet = store::unmet_prerequisites(&mut tx, id, actor.user_id).await?;
    if !unmet.is_empty() {
        let list: Vec<String> = unmet
            .iter()
            .map(|(id, title)| format!("{title} ({id})"))
            .collect();
        return Err(ApiError::Conflict {
            code: "prerequisites_unmet",
            detail: format!("complete these courses first: {}", list.join(", ")),
        });
    }
    if seats_left(&mut tx, &course).await? == Some(0) {
        return Err(ApiError::Conflict {
            code: "course_full",
            detail: "the course has no seats left".into(),
        });
    }
    let enrollment = store::enroll(
        &mut tx,
        id,
        actor.user_id,
        EnrollmentSource::SelfEnrolled,
        actor.user_id,
    )
    .await?
    .ok_or_else(|| ApiError::Conflict {
        code: "already_enrolled",
        detail: "you are already enrolled in this course".into(),
    })?;
    Audit::new(
        AuditActor::User(actor.user_id),
        "enrollment.created",
        "course",
        id,
    )
    .from_ip(ip)
    .details(json!({ "user_id": actor.user_id, "source": "self", "enrollment_id": enrollment }))
    .record(&mut tx)
    .await?;
    let row = store::by_id(&mut tx, enrollment)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(row.to_enrollment())
}

/// A transaction in which the actor manages the course's learners (the course locked).
pub(crate) struct Staff {
    pub tx: TenantTx,
    pub actor: Actor,
    pub course: CourseRow,
}

impl Staff {
    /// Tenant admins and the course's (co-)instructors. Others get 403 for a published course
    /// and 404 for one they cannot see. Writers (`lock`) take the course's row lock.
    pub async fn begin(
        state: &AppState,
        caller: &Caller,
        id: CourseId,
        lock: bool,
    ) -> ApiResult<Self> {
        let (mut tx, actor) = caller.begin(state).await?;
        let course = if lock {
            courses::by_id_for_update(&mut tx, id).await?
        } else {
            courses::by_id(&mut tx, id).await?
        }
        .ok_or(ApiError::NotFound)?;
        if !crate::courses::is_course_staff(&mut tx, &actor, id).await? {
            return Err(if course.status == CourseStatus::Published {
                ApiError::Forbidden {
                    code: codes::FORBIDDEN,
                    detail: "only the course's instructors and tenant admins manage its learners",
                }
            } else {
                ApiError::NotFound
            });
        }
        Ok(Self { tx, actor, course })
    }

    fn audit(&self, ip: IpAddr, action: &'static str) -> Audit {
        Audit::new(
            AuditActor::User(self.actor.user_id),
            action,
            "course",
            self.course.id,
        )
        .from_ip(ip)
    }
}

/// Enrolls each of `users` (in order, repeats answered once each) as `source`; the course must
/// be published. Capacity is taken in the order given; users past it get `course_full`.
pub async fn enroll_many(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    id: CourseId,
    users: Vec<UserId>,
) -> ApiResult<BulkEnrollment> {
    let mut staff = Staff::begin(state, caller, id, true).await?;
    let results = enroll_users(
        &mut staff.tx,
        &state.billing,
        &staff.course,
        staff.actor.user_id,
        &users,
        EnrollmentSource::Staff,
    )
    .await?;
    let enrolled: Vec<UserId> = results
        .iter()
        .filter(|r| r.result == EnrollOutcome::Enrolled)
        .map(|r| r.user_id)
        .collect();
    staff
        .audit(ip, "enrollment.bulk_created")
        .details(json!({ "source": "staff", "user_ids": enrolled }))
        .record(&mut staff.tx)
        .await?;
    staff.tx.commit().await?;
    Ok(BulkEnrollment { results })
}

/// Enrolls every member of the cohort (source `cohort`); an unknown cohort is 422.
pub async fn enroll_cohort(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    id: CourseId,
    cohort: CohortId,
) -> ApiResult<BulkEnrollment> {
    let mut staff = Staff::begin(state, caller, id, true).await?;
    if !cohorts::lock(&mut staff.tx, cohort).await? {
        return Err(ApiError::validation(
            "cohort_id",
            "unknown_cohort",
            "no cohort of this organisation has this id",
        ));
    }
    let members = cohorts::member_ids(&mut staff.tx, cohort).await?;
    let results = enroll_users(
        &mut staff.tx,
        &state.billing,
        &staff.course,
        staff.actor.user_id,
        &members,
        EnrollmentSource::Cohort,
    )
    .await?;
    let enrolled: Vec<UserId> = results
        .iter()
        .filter(|r| r.result == EnrollOutcome::Enrolled)
        .map(|r| r.user_id)
        .collect();
    staff
        .audit(ip, "enrollment.cohort_enrolled")
        .details(json!({ "source": "cohort", "cohort_id": cohort, "user_ids": enrolled }))
        .record(&mut staff.tx)
        .await?;
    staff.tx.commit().await?;
    Ok(BulkEnrollment { results })
}

/// Enrolls members of the caller's team (corporate managers: active members of the cohorts they
/// manage; tenant admins: of any cohort) into a published course, with the per-user results of
/// a bulk enrollment. A course the caller cannot see in the catalog (a draft or archived one)
/// is 404, and so is the whole call when any user is outside the team (or names no one), so
/// nothing tells a manager whether someone outside their teams exists; nobody is enrolled then.
pub async fn enroll_team(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    id: CourseId,
    users: Vec<UserId>,
) -> ApiResult<BulkEnrollment> {
    let (mut tx, actor) = caller.begin(state).await?;
    let team = Team::of(&actor)?;
    let course = courses::by_id_for_update(&mut tx, id)
        .await?
        .filter(|c| c.status == CourseStatus::Published)
        .ok_or(ApiError::NotFound)?;
    let members: HashSet<UserId> = cohorts::team_members(&mut tx, team, &users)
        .await?
        .into_iter()
        .collect();
    if users.iter().any(|user| !members.contains(user)) {
        return Err(ApiError::NotFound);
    }
    let results = enroll_users(
        &mut tx,
        &state.billing,
        &course,
        actor.user_id,
        &users,
        EnrollmentSource::Staff,
    )
    .await?;
    let enrolled: Vec<UserId> = results
        .iter()
        .filter(|r| r.result == EnrollOutcome::Enrolled)
        .map(|r| r.user_id)
        .collect();
    Audit::new(
        AuditActor::User(actor.user_id),
        "enrollment.team_enrolled",
        "course",
        id,
    )
    .from_ip(ip)
    .details(json!({ "source": "staff", "user_ids": enrolled }))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(BulkEnrollment { results })
}

/// The shared core of staff, cohort and team enrollment; the caller holds the course's row
/// lock.
async fn enroll_users(
    tx: &mut TenantTx,
    billing: &crate::billing::Billing,
    course: &CourseRow,
    by: UserId,
    users: &[UserId],
    source: EnrollmentSource,
) -> ApiResult<Vec<EnrollResult>> {
    if course.status != CourseStatus::Published {
        return Err(not_published(course));
    }
    crate::billing::seats::ensure_within_limit(tx, billing).await?;
    let known: HashSet<UserId> = store::active_users(tx, users).await?.into_iter().collect();
    let mut seats = seats_left(tx, course).await?;
    let mut seen = HashSet::new();
    let mut results = Vec::with_capacity(users.len());
    for &user in users {
        let result = if !known.contains(&user) {
            EnrollOutcome::UnknownUser
        } else if !seen.insert(user) {
            EnrollOutcome::AlreadyEnrolled
        } else if seats == Some(0) {
            EnrollOutcome::CourseFull
        } else if store::enroll(tx, course.id, user, source, by)
            .await?
            .is_some()
        {
            seats = seats.map(|s| s - 1);
            EnrollOutcome::Enrolled
        } else {
            EnrollOutcome::AlreadyEnrolled
        };
        results.push(EnrollResult {
            user_id: user,
            result,
        });
    }
    Ok(results)
}

/// Enrolls `user` for a bulk import of the tenant admin `by` (source `staff`, with the
/// `enrollment.created` event); the caller holds the course's row lock and has checked that it is
/// published and has a seat. `None` when the user already is active or completed in it.
pub(crate) async fn enroll_imported(
    tx: &mut TenantTx,
    course: CourseId,
    user: UserId,
    by: UserId,
) -> ApiResult<Option<crate::enrollments::EnrollmentId>> {
    Ok(store::enroll(tx, course, user, EnrollmentSource::Staff, by).await?)
}

/// Records a bulk import's enrollments into one course (`enrollment.bulk_created`, as a bulk
/// call does).
pub(crate) async fn audit_imported(
    tx: &mut TenantTx,
    by: UserId,
    ip: Option<IpAddr>,
    course: CourseId,
    users: &[UserId],
) -> ApiResult<()> {
    Audit::new(
        AuditActor::User(by),
        "enrollment.bulk_created",
        "course",
        course,
    )
    .from_optional_ip(ip)
    .details(json!({ "source": "import", "user_ids": users }))
    .record(tx)
    .await?;
    Ok(())
}

/// Unenrolls a learner: the enrollment stays, as `dropped`.
pub async fn unenroll(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    id: CourseId,
    user: UserId,
) -> ApiResult<()> {
    let mut staff = Staff::begin(state, caller, id, true).await?;
    if !store::drop_active(&mut staff.tx, id, user).await? {
        return Err(ApiError::NotFound);
    }
    staff
        .audit(ip, "enrollment.dropped")
        .details(json!({ "user_id": user }))
        .record(&mut staff.tx)
        .await?;
    staff.tx.commit().await?;
    Ok(())
}

/// The course's roster, newest enrollment first.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    id: CourseId,
    status: Option<EnrollmentStatus>,
    cursor: Option<Cursor>,
    limit: i64,
) -> ApiResult<Page<Enrollment>> {
    let mut staff = Staff::begin(state, caller, id, false).await?;
    let rows = store::list(&mut staff.tx, id, status, cursor, limit).await?;
    staff.tx.commit().await?;
    let items = rows.iter().map(EnrollmentRow::to_enrollment).collect();
    Ok(Page::from_rows(items, limit, |e: &Enrollment| e.id.0))
}

/// The caller's own enrollments, newest first.
pub async fn mine(
    state: &AppState,
    caller: &Caller,
    status: Option<EnrollmentStatus>,
    cursor: Option<Cursor>,
    limit: i64,
) -> ApiResult<Page<MyEnrollment>> {
    let (mut tx, actor) = caller.begin(state).await?;
    let rows = store::of_user(&mut tx, actor.user_id, status, cursor, limit).await?;
    tx.commit().await?;
    let items = rows.iter().map(MyEnrollmentRow::to_enrollment).collect();
    Ok(Page::from_rows(items, limit, |e: &MyEnrollment| e.id.0))
}
