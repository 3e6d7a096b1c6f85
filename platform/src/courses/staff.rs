//! Who counts as a course's staff, and who may read its assessments. Authoring, enrollment
//! management, question banks, quizzes and assignments all ask here.

use lms_tenants::TenantTx;

use super::{CourseId, CourseStatus};
use crate::auth::Actor;
use crate::error::{ApiError, ApiResult};
use crate::users::Role;

/// Tenant admins, and instructors of the course.
pub async fn is_course_staff(
    tx: &mut TenantTx,
    actor: &Actor,
    course: CourseId,
) -> ApiResult<bool> {
    Ok(actor.roles.contains(Role::TenantAdmin)
        || (actor.roles.contains(Role::Instructor)
            && super::store::instructor_role(tx, course, actor.user_id)
                .await?
                .is_some()))
}

/// Who may read a course's assessments: its staff (`true`), or a learner enrolled in it while it
/// is published or archived (`false`). Anyone else: 404, as if the course did not exist.
pub async fn course_reader(tx: &mut TenantTx, actor: &Actor, course: CourseId) -> ApiResult<bool> {
    if is_course_staff(tx, actor, course).await? {
        return Ok(true);
    }
    let enrolled = crate::enrollments::of_user_in(tx, course, actor.user_id)
        .await?
        .is_some();
    let visible = super::store::by_id(tx, course)
        .await?
        .is_some_and(|c| c.status != CourseStatus::Draft);
    if enrolled && visible {
        Ok(false)
    } else {
        Err(ApiError::NotFound)
    }
}
