//! The one way a learner enters a course item: to report progress on it, take its quiz or submit
//! to its assignment. Every refusal a learner can meet on the way is decided here, in one order:
//! a stale session (401), no enrollment (403 `not_enrolled` where the course is visible, 404
//! where it is a draft), a dropped enrollment (403), a draft course, an item that is not in the
//! course or not of the kind entered (404), and a locked module (409 `module_locked`, checked
//! when the caller asks: progress validates its report first).

use lms_tenants::TenantTx;

use super::store::{self, ReportContext};
use crate::auth::{Actor, Caller};
use crate::courses::{CourseId, CourseStatus, ItemId, ItemKind};
use crate::enrollments::{EnrollmentId, EnrollmentStatus};
use crate::error::{ApiError, ApiResult, codes};

/// What the learner enters the item for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Reporting progress: any kind of item; a draft course answers 409 `course_not_published`.
    Progress,
    /// Taking the item's quiz.
    Quiz,
    /// Submitting to the item's assignment.
    Assignment,
}

impl Purpose {
    fn not_enrolled(self) -> ApiError {
        ApiError::Forbidden {
            code: codes::NOT_ENROLLED,
            detail: match self {
                Self::Progress => "enroll in the course to record progress in it",
                Self::Quiz => "enroll in the course to take its quizzes",
                Self::Assignment => "enroll in the course to submit its assignments",
            },
        }
    }

    fn admits(self, kind: ItemKind) -> bool {
        match self {
            Self::Progress => true,
            Self::Quiz => kind == ItemKind::Quiz,
            Self::Assignment => kind == ItemKind::Assignment,
        }
    }
}

/// A learner inside a course item: their enrollment (row-locked) and the item's place.
pub struct Entered {
    pub enrollment: EnrollmentId,
    pub enrollment_status: EnrollmentStatus,
    pub kind: ItemKind,
    /// The item's duration (videos).
    pub duration_seconds: Option<i32>,
    blocking: i64,
}

impl Entered {
    /// 409 `module_locked` while required items of earlier modules are incomplete (sequential
    /// courses).
    pub fn require_unlocked(&self) -> ApiResult<()> {
        if self.blocking > 0 {
            return Err(ApiError::Conflict {
                code: codes::MODULE_LOCKED,
                detail: format!(
                    "complete the {} required item(s) of the earlier modules first",
                    self.blocking
                ),
            });
        }
        Ok(())
    }
}

/// The caller's enrollment in the course, locked, and the item's place in it
/// ([`store::report_context`]), once the caller's session is confirmed as [`Actor::load`]
/// confirms it: a stale session is refused before anything is said about the enrollment.
pub async fn enrollment_context(
    tx: &mut TenantTx,
    caller: &Caller,
    course: CourseId,
    item: ItemId,
) -> ApiResult<Option<ReportContext>> {
    let context = store::report_context(tx, course, item, (caller.user, caller.epoch)).await?;
    if !context.as_ref().is_some_and(|c| c.session_current) {
        Actor::load(tx, caller).await?;
    }
    Ok(context)
}

/// Enters `item` of `course` for `purpose`; every refusal but the locked module.
pub async fn enter(
    tx: &mut TenantTx,
    caller: &Caller,
    course: CourseId,
    item: ItemId,
    purpose: Purpose,
) -> ApiResult<Entered> {
    let Some(context) = enrollment_context(tx, caller, course, item).await? else {
        return Err(match crate::courses::store::by_id(tx, course).await? {
            Some(row) if row.status != CourseStatus::Draft => purpose.not_enrolled(),
            _ => ApiError::NotFound,
        });
    };
    if context.status == EnrollmentStatus::Dropped {
        return Err(purpose.not_enrolled());
    }
    if context.course_status == CourseStatus::Draft {
        return Err(match purpose {
            Purpose::Progress => ApiError::Conflict {
                code: codes::COURSE_NOT_PUBLISHED,
                detail: "the course is a draft again; progress resumes when it is published".into(),
            },
            Purpose::Quiz | Purpose::Assignment => ApiError::NotFound,
        });
    }
    let kind = context
        .item_kind
        .filter(|kind| purpose.admits(*kind))
        .ok_or(ApiError::NotFound)?;
    Ok(Entered {
        enrollment: context.enrollment_id,
        enrollment_status: context.status,
        kind,
        duration_seconds: context.duration_seconds,
        blocking: context.blocking,
    })
}
