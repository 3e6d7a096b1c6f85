//! Submission rules.
//!
//! An enrolled learner submits text, files or both, as the assignment accepts, while the
//! course is published or archived (a sequential course's later modules stay locked). After the
//! due date the late policy decides: `accept` and `penalty` take the work and record how late it
//! is, `reject` refuses it. A learner may submit again until the due date (any time when there is
//! none); every submission is kept, and one still waiting for a grade is superseded by the next.
//!
//! Files go to the file storage before the submission's transaction and are removed again when
//! it fails, so a stored submission always has its files and a refused one leaves none behind.
//! Rows are written under the learner's enrollment lock, so racing submissions get distinct
//! numbers.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::files;
use super::late;
use super::model::{
    Assignment, Grade, MySubmissions, Submission, SubmissionFile, SubmissionFileId, SubmissionId,
    SubmissionStatus,
};
use super::settings::{self, not_ready};
use super::store::{self, FileRow, NewFile, NewSubmission, SubmissionRow};
pub use super::upload::Form;
use crate::auth::{Actor, Caller};
use crate::courses::is_course_staff;
use crate::courses::{CourseId, ItemId};
use crate::enrollments::{EnrollmentId, EnrollmentStatus};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::progress::gate::{self, Purpose};
use crate::state::AppState;
use crate::storage::ObjectKey;
use crate::validation::prose;

const MAX_TEXT_CHARS: usize = 100_000;

/// Why no submission is accepted now, if one is not.
fn closed_reason(
    assignment: &Assignment,
    earlier: &[SubmissionRow],
    now: DateTime<Utc>,
) -> Option<ApiError> {
    let past_due = assignment.due_at.is_some_and(|due| now > due);
    if past_due && !earlier.is_empty() {
        return Some(ApiError::Conflict {
            code: "resubmission_closed",
            detail: "submissions can be replaced only until the due date".into(),
        });
    }
    if past_due && assignment.late_policy == late::LatePolicy::Reject {
        return Some(ApiError::Conflict {
            code: "past_due",
            detail: "the due date has passed and this assignment takes no late work".into(),
        });
    }
    None
}

/// The learner's enrollment (locked when `lock`), the configured assignment and the learner's
/// submissions so far; every refusal a learner can meet on the way.
async fn enter(
    tx: &mut lms_tenants::TenantTx,
    caller: &Caller,
    course: CourseId,
    item: ItemId,
) -> ApiResult<(EnrollmentId, Assignment, Vec<SubmissionRow>)> {
    let entered = gate::enter(tx, caller, course, item, Purpose::Assignment).await?;
    entered.require_unlocked()?;
    let row = store::assignment(tx, course, item)
        .await?
        .ok_or(ApiError::NotFound)?;
    let assignment = settings::view(&row)?.ok_or_else(not_ready)?;
    let earlier = store::submissions_of(tx, item, caller.user).await?;
    Ok((entered.enrollment, assignment, earlier))
}

/// Where a submitted file's bytes are kept.
fn file_key(
    tenant: uuid::Uuid,
    submission: SubmissionId,
    file: SubmissionFileId,
) -> ApiResult<ObjectKey> {
    ObjectKey::for_tenant(
        tenant,
        &["submissions", &submission.to_string(), &file.to_string()],
    )
    .map_err(|e| ApiError::Internal(e.into()))
}

/// A file checked against the assignment, ready to store.
struct Checked {
    row: NewFile,
    key: ObjectKey,
    bytes: Vec<u8>,
}

/// Checks the form against what the assignment accepts.
fn check_form(
    assignment: &Assignment,
    tenant: uuid::Uuid,
    submission: SubmissionId,
    form: Form,
) -> ApiResult<(Option<String>, Vec<Checked>)> {
    let mut errors = Vec::new();
    let text = form.text.filter(|t| !t.trim().is_empty());
    if let Some(text) = &text {
        if !assignment.accepts_text {
            errors.push(FieldError::new(
                "text",
                "not_accepted",
                "this assignment takes files only",
            ));
        } else if let Err(e) = prose("text", text, MAX_TEXT_CHARS) {
            errors.push(e);
        }
    }
    if !form.files.is_empty() && !assignment.accepts_files {
        errors.push(FieldError::new(
            "files",
            "not_accepted",
            "this assignment takes text only",
        ));
    }
    if form.files.len() > usize::try_from(assignment.max_files).unwrap_or(0) {
        errors.push(FieldError::new(
            "files",
            "too_many",
            format!("at most {} files", assignment.max_files),
        ));
    }
    if text.is_none() && form.files.is_empty() {
        errors.push(FieldError::new(
            "form",
            "empty_submission",
            "submit text or at least one file",
        ));
    }
    let max_bytes = usize::try_from(assignment.max_file_bytes).unwrap_or(0);
    let mut checked = Vec::new();
    for (at, (raw_name, bytes)) in form.files.into_iter().enumerate() {
        let field = format!("files[{at}]");
        let (file_name, extension) = match files::file_name(&field, &raw_name) {
            Ok(parsed) => parsed,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        if bytes.len() > max_bytes {
            errors.push(FieldError::new(
                &field,
                "file_too_large",
                format!("at most {max_bytes} bytes per file"),
            ));
            continue;
        }
        if let Err(e) = files::check(&field, &extension, &bytes, &assignment.file_extensions) {
            errors.push(e);
            continue;
        }
        let id = SubmissionFileId::default();
        let key = file_key(tenant, submission, id)?;
        checked.push(Checked {
            row: NewFile {
                id,
                file_name,
                content_type: files::content_type(&extension),
                size_bytes: i32::try_from(bytes.len()).unwrap_or(i32::MAX),
                sha256: hex::encode(Sha256::digest(&bytes)),
                storage_key: key.as_str().to_owned(),
            },
            key,
            bytes,
        });
    }
    if errors.is_empty() {
        Ok((text, checked))
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// Records a submission with its files. `form` (for the API, [`super::upload::read`]) is awaited
/// only once the caller may submit.
pub async fn submit(
    state: &AppState,
    caller: &Caller,
    course: CourseId,
    item: ItemId,
    form: impl Future<Output = ApiResult<Form>>,
) -> ApiResult<Submission> {
    let tenant = caller.tenant.id;
    let id = SubmissionId::default();
    // Refusals first, before the form is read or any file stored.
    let (text, checked) = {
        let mut tx = state.db.begin(tenant).await?;
        let (_, assignment, earlier) = enter(&mut tx, caller, course, item).await?;
        tx.commit().await?;
        if let Some(refusal) = closed_reason(&assignment, &earlier, Utc::now()) {
            return Err(refusal);
        }
        let form = form.await?;
        check_form(&assignment, tenant.as_uuid(), id, form)?
    };
    let mut stored = Vec::with_capacity(checked.len());
    let mut rows = Vec::with_capacity(checked.len());
    let mut outcome = Ok(());
    for file in checked {
        let content_type = file.row.content_type;
        match state.storage.put(&file.key, file.bytes, content_type).await {
            Ok(()) => {
                stored.push(file.key);
                rows.push(file.row);
            }
            Err(e) => {
                outcome = Err(ApiError::Internal(
                    anyhow::Error::new(e).context("storing a file"),
                ));
                break;
            }
        }
    }
    let result = match outcome {
        Ok(()) => record(state, caller, course, item, id, text.as_deref(), &rows).await,
        Err(e) => Err(e),
    };
    if result.is_err() {
        for key in &stored {
            if let Err(e) = state.storage.delete(key).await {
                tracing::warn!(key = key.as_str(), error = %e, "removing a refused submission's file");
            }
        }
    }
    result
}

/// The submission's transaction: the rules again under the enrollment lock, then the rows.
async fn record(
    state: &AppState,
    caller: &Caller,
    course: CourseId,
    item: ItemId,
    id: SubmissionId,
    text: Option<&str>,
    files: &[NewFile],
) -> ApiResult<Submission> {
    let mut tx = caller.begin_unconfirmed(state).await?;
    let (enrollment, assignment, earlier) = enter(&mut tx, caller, course, item).await?;
    let now = Utc::now();
    if let Some(refusal) = closed_reason(&assignment, &earlier, now) {
        return Err(refusal);
    }
    store::insert_submission(
        &mut tx,
        &NewSubmission {
            id,
            item,
            course,
            enrollment,
            user: caller.user,
            body: text,
            late_seconds: late::late_seconds(assignment.due_at, now),
        },
    )
    .await?;
    store::insert_files(&mut tx, id, files).await?;
    let row = store::submission(&mut tx, id, false)
        .await?
        .ok_or(ApiError::NotFound)?;
    let views = views(&mut tx, vec![row], true).await?;
    tx.commit().await?;
    views
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("submission vanished")))
}

fn file_view(row: &FileRow) -> SubmissionFile {
    SubmissionFile {
        id: row.id,
        file_name: row.file_name.clone(),
        content_type: row.content_type.clone(),
        size_bytes: row.size_bytes,
        sha256: row.sha256.clone(),
    }
}

/// A grade as stored, when there is one (and, unless `staff`, once released).
fn grade(row: &SubmissionRow, staff: bool) -> ApiResult<Option<Grade>> {
    let (Some(score), Some(percent), Some(passed), Some(graded_by), Some(graded_at)) = (
        row.score,
        row.percent,
        row.passed,
        row.graded_by,
        row.graded_at,
    ) else {
        return Ok(None);
    };
    if !staff && row.released_at.is_none() {
        return Ok(None);
    }
    let rubric = row
        .rubric_grades
        .clone()
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| ApiError::Internal(e.into()))?;
    let inline_comments = row
        .inline_comments
        .clone()
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| ApiError::Internal(e.into()))?
        .unwrap_or_default();
    Ok(Some(Grade {
        raw_score: row.raw_score.unwrap_or(score),
        penalty: row.penalty.unwrap_or(0.0),
        score,
        points: row.points,
        percent,
        passed,
        rubric,
        feedback: row.feedback.clone(),
        inline_comments,
        graded_by,
        graded_at,
        released_at: row.released_at,
    }))
}

/// The submissions as their learner (or, with `staff`, the course's staff) sees them.
pub(super) async fn views(
    tx: &mut lms_tenants::TenantTx,
    rows: Vec<SubmissionRow>,
    staff: bool,
) -> ApiResult<Vec<Submission>> {
    let ids: Vec<SubmissionId> = rows.iter().map(|r| r.id).collect();
    let files = store::files_of(tx, &ids).await?;
    rows.into_iter()
        .map(|row| {
            Ok(Submission {
                id: row.id,
                course_id: row.course_id,
                item_id: row.item_id,
                user_id: row.user_id,
                learner_name: row.learner_name.clone(),
                number: row.number,
                text: row.body.clone(),
                files: files
                    .iter()
                    .filter(|f| f.submission_id == row.id)
                    .map(file_view)
                    .collect(),
                submitted_at: row.submitted_at,
                late_seconds: row.late_seconds,
                status: row.status,
                grade: grade(&row, staff)?,
            })
        })
        .collect()
}

/// The released grade that counts: the latest graded submission's, once released.
pub(super) fn standing(rows: &[SubmissionRow]) -> Option<(f64, bool)> {
    rows.iter()
        .filter(|r| r.status == SubmissionStatus::Graded && r.released_at.is_some())
        .max_by_key(|r| r.number)
        .and_then(|r| Some((r.percent?, r.passed?)))
}

/// The caller's submissions to an assignment and where they stand.
pub async fn mine(
    state: &AppState,
    caller: &Caller,
    course: CourseId,
    item: ItemId,
) -> ApiResult<MySubmissions> {
    let (mut tx, actor) = caller.begin(state).await?;
    let (row, _) = settings::read(&mut tx, &actor, course, item).await?;
    let assignment = settings::view(&row)?.ok_or_else(not_ready)?;
    let rows = store::submissions_of(&mut tx, item, actor.user_id).await?;
    let enrolled = crate::enrollments::of_user_in(&mut tx, course, actor.user_id)
        .await?
        .is_some_and(|e| e.status != EnrollmentStatus::Dropped);
    let standing = standing(&rows);
    let can_submit = enrolled && closed_reason(&assignment, &rows, Utc::now()).is_none();
    let submissions = views(&mut tx, rows, false).await?;
    tx.commit().await?;
    Ok(MySubmissions {
        assignment,
        submissions,
        can_submit,
        score_percent: standing.map(|(p, _)| p),
        passed: standing.is_some_and(|(_, passed)| passed),
    })
}

/// A submission for its learner or the course's staff (`true`); anyone else: 404.
pub(super) async fn open(
    tx: &mut lms_tenants::TenantTx,
    actor: &Actor,
    id: SubmissionId,
    for_update: bool,
) -> ApiResult<(SubmissionRow, bool)> {
    let row = store::submission(tx, id, for_update)
        .await?
        .ok_or(ApiError::NotFound)?;
    if row.user_id == actor.user_id {
        return Ok((row, false));
    }
    if is_course_staff(tx, actor, row.course_id).await? {
        return Ok((row, true));
    }
    Err(ApiError::NotFound)
}

pub async fn get(state: &AppState, caller: &Caller, id: SubmissionId) -> ApiResult<Submission> {
    let (mut tx, actor) = caller.begin(state).await?;
    let (row, staff) = open(&mut tx, &actor, id, false).await?;
    let mut views = views(&mut tx, vec![row], staff).await?;
    tx.commit().await?;
    views
        .pop()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("submission vanished")))
}

/// A submitted file's name, content type and bytes, for its learner or the course's staff.
pub async fn download(
    state: &AppState,
    caller: &Caller,
    id: SubmissionId,
    file: SubmissionFileId,
) -> ApiResult<(String, String, Vec<u8>)> {
    let (mut tx, actor) = caller.begin(state).await?;
    let (row, _) = open(&mut tx, &actor, id, false).await?;
    let found = store::files_of(&mut tx, &[row.id])
        .await?
        .into_iter()
        .find(|f| f.id == file)
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    let key = file_key(caller.tenant.id.as_uuid(), row.id, file)?;
    if key.as_str() != found.storage_key {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "file {} of submission {} is stored under an unexpected key",
            found.id,
            row.id
        )));
    }
    let bytes = state
        .storage
        .get(&key)
        .await
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("reading a file")))?
        .ok_or_else(|| {
            ApiError::Internal(anyhow::anyhow!(
                "file {} of submission {} is missing from the file storage",
                found.id,
                row.id
            ))
        })?;
    Ok((found.file_name, found.content_type, bytes))
}
