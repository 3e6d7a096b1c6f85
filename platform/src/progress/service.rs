//! Progress rules.
//!
//! Learners report progress on items of courses they are enrolled in (active or completed;
//! dropped learners are refused) while the course is published or archived. A report may mark the
//! item complete, carry the viewing session's running time and, for videos, the playback position
//! (the session rules are in the `progress` migration). A video also completes once watched to
//! 90% of its duration. In a sequential course an item is locked until every required item of
//! the modules before it is complete. When the last counted item is complete the enrollment
//! becomes `completed` and a `course.completed` event is recorded, once.
//!
//! A course's instructors and tenant admins read every learner's progress (a page at a time,
//! filtered, or all of it as CSV).

use chrono::{DateTime, Utc};

use super::gate::{self, Purpose};
use super::model::{
    CourseProgress, LearnerProgress, ModuleProgress, MyCourseProgress, OutlineItemProgress,
    ProgressReport, ProgressUpdate,
};
use super::store::{self, Report, RosterFilter, RosterRow};
use crate::auth::Caller;
use crate::courses::{CourseId, ItemId, ItemKind};
use crate::db::Cursor;
use crate::enrollments::{EnrollmentId, EnrollmentStatus, Staff};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::http::Page;
use crate::state::AppState;

/// Enrollments read per batch by the CSV export.
const EXPORT_BATCH: i64 = 1_000;

/// Checks a report's fields against the item's kind.
fn validate(report: &ProgressReport, kind: ItemKind) -> ApiResult<()> {
    let mut errors = Vec::new();
    if report.session.is_none()
        && (report.time_spent_seconds.is_some() || report.position_seconds.is_some())
    {
        errors.push(FieldError::new(
            "session",
            "required",
            "time and position are reported per viewing session",
        ));
    }
    if report
        .time_spent_seconds
        .is_some_and(|t| t > super::model::MAX_SESSION_SECONDS)
    {
        errors.push(FieldError::new(
            "time_spent_seconds",
            "out_of_range",
            "at most 86400 seconds per session",
        ));
    }
    if let Some(position) = report.position_seconds {
        if kind != ItemKind::Video {
            errors.push(FieldError::new(
                "position_seconds",
                "not_applicable",
                "only video items have a playback position",
            ));
        } else if position > super::model::MAX_POSITION_SECONDS {
            errors.push(FieldError::new(
                "position_seconds",
                "out_of_range",
                "at most 86400 seconds",
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// Records the caller's report on one item of a course.
pub async fn report(
    state: &AppState,
    caller: &Caller,
    course: CourseId,
    item: ItemId,
    report: ProgressReport,
) -> ApiResult<ProgressUpdate> {
    let mut tx = caller.begin_unconfirmed(state).await?;
    let entered = gate::enter(&mut tx, caller, course, item, Purpose::Progress).await?;
    let kind = entered.kind;
    validate(&report, kind)?;
    if report.complete && matches!(kind, ItemKind::Quiz | ItemKind::Assignment) {
        return Err(ApiError::Conflict {
            code: "completed_by_assessment",
            detail: "a quiz or assignment is completed by passing it, not by a report".into(),
        });
    }
    entered.require_unlocked()?;
    let row = store::record(
        &mut tx,
        &Report {
            course,
            enrollment: entered.enrollment,
            item,
            session: report.session,
            time_seconds: report.time_spent_seconds.map(seconds),
            position_seconds: report.position_seconds.map(seconds),
            complete: report.complete,
            video_seconds: if kind == ItemKind::Video {
                entered.duration_seconds
            } else {
                None
            },
            was_active: entered.enrollment_status == EnrollmentStatus::Active,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(ProgressUpdate {
        item: row.item(),
        course: row.course(),
    })
}

/// Completes an assessment item (a quiz passed, an assignment passed) for the enrollment, with
/// the course's completion when it was the last counted item. Sticky like every completion. The
/// caller holds the enrollment's row lock.
pub async fn complete_by_assessment(
    tx: &mut lms_tenants::TenantTx,
    course: CourseId,
    enrollment: EnrollmentId,
    item: ItemId,
) -> Result<(), sqlx::Error> {
    let status = crate::enrollments::status_of(tx, enrollment).await?;
    complete_locked(tx, course, enrollment, item, status).await
}

/// [`complete_by_assessment`] for a caller that read the enrollment's `status` as it locked the
/// row ([`crate::enrollments::lock`]).
pub async fn complete_locked(
    tx: &mut lms_tenants::TenantTx,
    course: CourseId,
    enrollment: EnrollmentId,
    item: ItemId,
    status: Option<EnrollmentStatus>,
) -> Result<(), sqlx::Error> {
    store::record(
        tx,
        &Report {
            course,
            enrollment,
            item,
            session: None,
            time_seconds: None,
            position_seconds: None,
            complete: true,
            video_seconds: None,
            was_active: status == Some(EnrollmentStatus::Active),
        },
    )
    .await
    .map(|_| ())
}

/// Seconds already checked against the limits (at most a day) as the database's integer.
fn seconds(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// The caller's progress through a course they are enrolled in, item by item, with the items'
/// content (except in locked modules).
pub async fn mine(
    state: &AppState,
    caller: &Caller,
    course: CourseId,
) -> ApiResult<MyCourseProgress> {
    let (mut tx, actor) = caller.begin(state).await?;
    let enrollment = crate::enrollments::of_user_in(&mut tx, course, actor.user_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let course_row = crate::courses::store::by_id(&mut tx, course)
        .await?
        .ok_or(ApiError::NotFound)?;
    let rows = store::outline(&mut tx, course, enrollment.id).await?;
    let (done, total) = store::counts(&mut tx, course, enrollment.id).await?;
    tx.commit().await?;

    let mut modules: Vec<ModuleProgress> = Vec::new();
    // Required items not complete in the modules before the current one.
    let mut blocking = 0usize;
    for row in &rows {
        if modules.last().is_none_or(|m| m.id != row.module_id) {
            if let Some(previous) = modules.last() {
                blocking += incomplete_required(previous);
            }
            modules.push(ModuleProgress {
                id: row.module_id,
                title: row.module_title.clone(),
                position: row.module_position,
                locked: course_row.sequential && blocking > 0,
                items: Vec::new(),
            });
        }
        if let (Some(id), Some(kind), Some(module)) = (row.item_id, row.kind, modules.last_mut()) {
            // A locked module shows what is ahead, not its content.
            let open = !module.locked;
            module.items.push(OutlineItemProgress {
                id,
                title: row.item_title.clone().unwrap_or_default(),
                kind,
                required: row.required.unwrap_or(true),
                body: row.body.clone().filter(|_| open),
                url: row.url.clone().filter(|_| open),
                duration_seconds: row.duration_seconds,
                progress: row.progress(id),
            });
        }
    }
    let continue_item = continue_with(&modules);
    Ok(MyCourseProgress {
        enrollment_id: enrollment.id,
        status: enrollment.status,
        course: CourseProgress::new(done, total, enrollment.completed_at),
        last_activity_at: enrollment.last_activity_at,
        continue_item,
        sequential: course_row.sequential,
        modules,
    })
}

fn incomplete_required(module: &ModuleProgress) -> usize {
    module
        .items
        .iter()
        .filter(|i| i.required && i.progress.completed_at.is_none())
        .count()
}

/// The item last opened if it is not complete, else the first incomplete one.
fn continue_with(modules: &[ModuleProgress]) -> Option<super::model::ContinueItem> {
    let items = || {
        modules
            .iter()
            .flat_map(|m| m.items.iter().map(move |i| (m, i)))
    };
    let last_opened = items()
        .filter(|(_, i)| i.progress.last_accessed_at.is_some())
        .max_by_key(|(_, i)| i.progress.last_accessed_at);
    let (module, item) = match last_opened {
        Some((m, i)) if i.progress.completed_at.is_none() => Some((m, i)),
        _ => items().find(|(_, i)| i.progress.completed_at.is_none()),
    }?;
    Some(super::model::ContinueItem {
        item_id: item.id,
        module_id: module.id,
        title: item.title.clone(),
        kind: item.kind,
    })
}

/// A page of the course's progress table (its instructors and tenant admins).
pub async fn roster(
    state: &AppState,
    caller: &Caller,
    course: CourseId,
    filter: &RosterFilter,
    cursor: Option<Cursor>,
    limit: i64,
) -> ApiResult<Page<LearnerProgress>> {
    let mut staff = Staff::begin(state, caller, course, false).await?;
    let rows = store::roster(
        &mut staff.tx,
        course,
        filter,
        cursor.map(|c| EnrollmentId(c.0)),
        limit + 1,
    )
    .await?;
    staff.tx.commit().await?;
    let items = rows.iter().map(learner_progress).collect();
    Ok(Page::from_rows(items, limit, |l: &LearnerProgress| {
        l.enrollment_id.0
    }))
}

/// Every row of the course's progress table that matches `filter`, read in batches in one
/// transaction (one consistent snapshot).
pub async fn roster_all(
    state: &AppState,
    caller: &Caller,
    course: CourseId,
    filter: &RosterFilter,
) -> ApiResult<Vec<LearnerProgress>> {
    let mut staff = Staff::begin(state, caller, course, false).await?;
    let mut all = Vec::new();
    let mut after: Option<EnrollmentId> = None;
    loop {
        let rows = store::roster(&mut staff.tx, course, filter, after, EXPORT_BATCH).await?;
        let full = rows.len() as i64 == EXPORT_BATCH;
        after = rows.last().map(|r| r.enrollment_id);
        all.extend(rows.iter().map(learner_progress));
        if !full {
            break;
        }
    }
    staff.tx.commit().await?;
    Ok(all)
}

fn learner_progress(row: &RosterRow) -> LearnerProgress {
    LearnerProgress {
        enrollment_id: row.enrollment_id,
        user_id: row.user_id,
        display_name: row.display_name.clone(),
        email: row.email.clone(),
        status: row.status,
        enrolled_at: row.enrolled_at,
        last_activity_at: row.last_activity_at,
        progress: CourseProgress::new(row.done, row.total, row.completed_at),
        time_spent_seconds: row.time_spent_seconds,
    }
}

/// An instant as RFC 3339 (CSV cells).
pub fn rfc3339(at: Option<DateTime<Utc>>) -> String {
    at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}
