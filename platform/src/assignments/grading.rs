//! Grading rules.
//!
//! The course's staff grade a learner's current submission (or regrade it) with the rubric's
//! levels, or with points when the assignment has no rubric, plus overall feedback and comments
//! anchored to the text or a file. A late submission under the `penalty` policy loses its
//! points per day late. A grade stays hidden from the learner until it is released (with the
//! grade, or for the whole assignment at once); a released passing grade completes the item.
//!
//! Locks follow the submissions' order: the learner's enrollment, then the assignment's settings
//! (shared, so the rubric cannot change meanwhile), then the submission.

use std::net::IpAddr;

use serde_json::json;

use super::late;
use super::model::{
    Anchor, GradeInput, InlineComment, Released, Submission, SubmissionFileId, SubmissionId,
    SubmissionStatus, WaitingSubmission,
};
use super::settings;
use super::store::{self, GradeRow, ListFilter};
use super::submissions::{open, views};
use crate::audit::{Audit, AuditActor};
use crate::auth::Caller;
use crate::courses::{CourseId, ItemId};
use crate::db::Cursor;
use crate::enrollments::{EnrollmentId, Staff};
use crate::error::{ApiError, ApiResult, FieldError, codes};
use crate::http::Page;
use crate::question_banks::in_hundredths;
use crate::state::AppState;
use crate::users::Role;
use crate::validation::prose;

const MAX_COMMENTS: usize = 200;
const MAX_COMMENT_CHARS: usize = 2_000;
const MAX_FEEDBACK_CHARS: usize = 20_000;

/// Checks inline comments against the submission they annotate.
fn check_comments(
    comments: &[InlineComment],
    text: Option<&str>,
    files: &[SubmissionFileId],
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if comments.len() > MAX_COMMENTS {
        errors.push(FieldError::new(
            "inline_comments",
            "too_many",
            format!("at most {MAX_COMMENTS}"),
        ));
    }
    let text_chars = text.map_or(0, |t| t.chars().count());
    for (at, c) in comments.iter().enumerate() {
        let field = format!("inline_comments[{at}]");
        if c.comment.trim().is_empty() || prose(&field, &c.comment, MAX_COMMENT_CHARS).is_err() {
            errors.push(FieldError::new(
                format!("{field}.comment"),
                "invalid_text",
                format!("1 to {MAX_COMMENT_CHARS} characters, no control characters"),
            ));
        }
        match &c.anchor {
            Anchor::Text { start, end } => {
                let in_text = text.is_some()
                    && start < end
                    && usize::try_from(*end).is_ok_and(|end| end <= text_chars);
                if !in_text {
                    errors.push(FieldError::new(
                        format!("{field}.anchor"),
                        "outside_text",
                        format!("a span start < end <= {text_chars} of the submitted text"),
                    ));
                }
            }
            Anchor::File { file_id, location } => {
                if !files.contains(file_id) {
                    errors.push(FieldError::new(
                        format!("{field}.anchor.file_id"),
                        "unknown_file",
                        "the submission has no file with this id",
                    ));
                }
                if location
                    .as_deref()
                    .is_some_and(|l| crate::validation::line(&field, l, 100).is_err())
                {
                    errors.push(FieldError::new(
                        format!("{field}.anchor.location"),
                        "invalid_text",
                        "1 to 100 characters on one line",
                    ));
                }
            }
        }
    }
    errors
}

/// Percent in hundredths.
fn percent(score: f64, points: f64) -> f64 {
    if points <= 0.0 {
        return 0.0;
    }
    ((score / points * 10_000.0).round() / 100.0).clamp(0.0, 100.0)
}

/// Grades (or regrades) a learner's current submission (the course's staff).
pub async fn grade(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    id: SubmissionId,
    input: GradeInput,
) -> ApiResult<Submission> {
    let (mut tx, actor) = caller.begin(state).await?;
    let (peek, staff) = open(&mut tx, &actor, id, false).await?;
    if !staff {
        return Err(ApiError::Forbidden {
            code: codes::FORBIDDEN,
            detail: "only the course's instructors and tenant admins grade submissions",
        });
    }
    crate::enrollments::lock(&mut tx, peek.enrollment_id).await?;
    store::lock(&mut tx, peek.item_id, false).await?;
    let (row, _) = open(&mut tx, &actor, id, true).await?;
    if row.status == SubmissionStatus::Superseded {
        return Err(ApiError::Conflict {
            code: "submission_superseded",
            detail: "the learner submitted again; grade the latest submission".into(),
        });
    }
    let course = row.course_id;
    let item = row.item_id;
    let assignment = store::assignment(&mut tx, course, item)
        .await?
        .ok_or(ApiError::NotFound)
        .and_then(|a| settings::view(&a)?.ok_or_else(settings::not_ready))?;

    let mut errors = Vec::new();
    let raw = match (&assignment.rubric, &input.rubric, input.points) {
        (Some(rubric), Some(levels), None) => rubric.score(levels).unwrap_or_else(|e| {
            errors.extend(e);
            0.0
        }),
        (Some(_), _, _) => {
            errors.push(FieldError::new(
                "rubric",
                "required",
                "this assignment is graded with its rubric: choose a level per criterion (no `points`)",
            ));
            0.0
        }
        (None, None, Some(p)) if in_hundredths(p) && (0.0..=assignment.points).contains(&p) => p,
        (None, _, _) => {
            errors.push(FieldError::new(
                "points",
                "out_of_range",
                format!(
                    "0 to {}, in steps of 0.01 (this assignment has no rubric)",
                    assignment.points
                ),
            ));
            0.0
        }
    };
    if let Err(e) = prose("feedback", &input.feedback, MAX_FEEDBACK_CHARS) {
        errors.push(e);
    }
    let files: Vec<SubmissionFileId> = store::files_of(&mut tx, &[row.id])
        .await?
        .iter()
        .map(|f| f.id)
        .collect();
    errors.extend(check_comments(
        &input.inline_comments,
        row.body.as_deref(),
        &files,
    ));
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let penalty = match assignment.late_policy {
        late::LatePolicy::Penalty => late::penalty(
            assignment.late_penalty_percent,
            row.late_seconds,
            assignment.points,
        ),
        _ => 0.0,
    };
    let score = ((raw - penalty).max(0.0) * 100.0).round() / 100.0;
    let percent = percent(score, assignment.points);
    let passed = percent >= assignment.passing_percent;
    let release = input.release || row.released_at.is_some();
    store::set_grade(
        &mut tx,
        id,
        &GradeRow {
            raw_score: raw,
            penalty,
            score,
            percent,
            passed,
            rubric_grades: input.rubric.as_ref().map(to_json).transpose()?,
            feedback: (!input.feedback.trim().is_empty()).then(|| input.feedback.clone()),
            inline_comments: to_json(&input.inline_comments)?,
            graded_by: actor.user_id,
            release,
        },
    )
    .await?;
    if release && passed {
        crate::progress::complete_by_assessment(&mut tx, course, row.enrollment_id, item).await?;
    }
    Audit::new(
        AuditActor::User(actor.user_id),
        "assignment_submission.graded",
        "assignment_submission",
        id,
    )
    .from_ip(ip)
    .details(json!({ "score": score, "penalty": penalty, "released": release }))
    .record(&mut tx)
    .await?;
    let row = store::submission(&mut tx, id, false)
        .await?
        .ok_or(ApiError::NotFound)?;
    let mut views = views(&mut tx, vec![row], true).await?;
    tx.commit().await?;
    views
        .pop()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("submission vanished")))
}

fn to_json<T: serde::Serialize>(value: &T) -> ApiResult<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| ApiError::Internal(e.into()))
}

/// Releases every held-back grade of an assignment (its course's staff); the passing ones
/// complete their learners' items.
pub async fn release(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    course: CourseId,
    item: ItemId,
) -> ApiResult<Released> {
    let mut staff = Staff::begin(state, caller, course, false).await?;
    store::assignment(&mut staff.tx, course, item)
        .await?
        .ok_or(ApiError::NotFound)?;
    // Enrollments first, in a fixed order, as every other writer does.
    let waiting = store::held_back_enrollments(&mut staff.tx, item).await?;
    for enrollment in &waiting {
        crate::enrollments::lock(&mut staff.tx, EnrollmentId(*enrollment)).await?;
    }
    let released = store::release_all(&mut staff.tx, item, &waiting).await?;
    for row in released.iter().filter(|r| r.passed) {
        crate::progress::complete_by_assessment(&mut staff.tx, course, row.enrollment_id, item)
            .await?;
    }
    Audit::new(
        AuditActor::User(staff.actor.user_id),
        "assignment.grades_released",
        "course",
        course,
    )
    .from_ip(ip)
    .details(json!({ "item_id": item, "released": released.len() }))
    .record(&mut staff.tx)
    .await?;
    staff.tx.commit().await?;
    Ok(Released {
        released: released.len() as u64,
    })
}

/// What a grader's list shows.
pub struct ListQuery {
    pub course: Option<CourseId>,
    pub item: Option<ItemId>,
    /// `None`: waiting and graded alike.
    pub status: Option<&'static str>,
    pub cursor: Option<Cursor>,
    pub limit: i64,
}

/// The learners' current submissions in the courses the caller teaches (every course for
/// tenant admins), oldest first: by default the ones waiting for a grade, the grading queue.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    query: ListQuery,
) -> ApiResult<Page<WaitingSubmission>> {
    let (mut tx, actor) = caller.begin(state).await?;
    let admin = actor.roles.contains(Role::TenantAdmin);
    if !admin && !actor.roles.contains(Role::Instructor) {
        return Err(ApiError::Forbidden {
            code: codes::FORBIDDEN,
            detail: "only instructors and tenant admins grade submissions",
        });
    }
    let rows = store::list(
        &mut tx,
        &ListFilter {
            grader: actor.user_id,
            admin,
            course: query.course,
            item: query.item,
            status: query.status,
            after: query.cursor.map(|c| c.0),
            limit: query.limit + 1,
        },
    )
    .await?;
    tx.commit().await?;
    let items = rows
        .into_iter()
        .map(|r| WaitingSubmission {
            id: r.id,
            course_id: r.course_id,
            course_title: r.course_title,
            item_id: r.item_id,
            assignment_title: r.assignment_title,
            user_id: r.user_id,
            learner_name: r.learner_name,
            number: r.number,
            submitted_at: r.submitted_at,
            late_seconds: r.late_seconds,
            has_text: r.has_text,
            file_count: r.file_count,
        })
        .collect();
    Ok(Page::from_rows(
        items,
        query.limit,
        |s: &WaitingSubmission| s.id.0,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assignments::model::SubmissionFileId;

    #[test]
    fn percentages_are_in_hundredths_and_bounded() {
        assert_eq!(percent(7.0, 9.0), 77.78);
        assert_eq!(percent(0.0, 10.0), 0.0);
        assert_eq!(percent(10.0, 10.0), 100.0);
        assert_eq!(percent(1.0, 0.0), 0.0);
    }

    #[test]
    fn comments_must_point_inside_the_submission() {
        let file = uuid::Uuid::now_v7();
        let text = Some("héllo world");
        let at = |anchor: Anchor| InlineComment {
            anchor,
            comment: "good".into(),
        };
        let ok = [
            at(Anchor::Text { start: 0, end: 5 }),
            at(Anchor::Text { start: 6, end: 11 }),
            at(Anchor::File {
                file_id: SubmissionFileId(file),
                location: Some("page 2".into()),
            }),
        ];
        assert!(check_comments(&ok, text, &[SubmissionFileId(file)]).is_empty());

        let bad = [
            at(Anchor::Text { start: 5, end: 5 }),
            at(Anchor::Text { start: 0, end: 12 }),
            at(Anchor::File {
                file_id: SubmissionFileId(uuid::Uuid::now_v7()),
                location: None,
            }),
            InlineComment {
                anchor: Anchor::Text { start: 0, end: 1 },
                comment: "  ".into(),
            },
        ];
        let codes: Vec<String> = check_comments(&bad, text, &[SubmissionFileId(file)])
            .into_iter()
            .map(|e| e.code)
            .collect();
        assert_eq!(
            codes,
            [
                "outside_text",
                "outside_text",
                "unknown_file",
                "invalid_text"
            ]
        );
        // No text at all: no text anchors.
        assert_eq!(
            check_comments(&ok[..1], None, &[SubmissionFileId(file)]).len(),
            1,
            "a text anchor on a files-only submission"
        );
    }
}
