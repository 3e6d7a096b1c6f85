//! An assignment's settings: written by the course's staff, read by them and by its enrolled
//! learners (rubric included: learners see how they will be graded).

use std::net::IpAddr;

use serde_json::json;

use super::files::{self, DEFAULT_EXTENSIONS, MAX_EXTENSIONS};
use super::late::LatePolicy;
use super::model::{Assignment, AssignmentInput};
use super::rubric::Rubric;
use super::store::{self, AssignmentRow, Settings};
use crate::audit::{Audit, AuditActor};
use crate::auth::{Actor, Caller};
use crate::courses::{CourseId, ItemId};
use crate::enrollments::Staff;
use crate::error::{ApiError, ApiResult, FieldError, codes};
use crate::question_banks::in_hundredths;
use crate::state::AppState;
use crate::validation::prose;

/// The largest file an assignment may accept (the upload route's limit is set from it).
pub const MAX_FILE_BYTES: i32 = 50 * 1024 * 1024;
const DEFAULT_FILE_BYTES: i32 = 10 * 1024 * 1024;

/// Checks an author's settings.
pub fn parse(input: &AssignmentInput) -> ApiResult<(Settings, Option<Rubric>)> {
    let mut errors = Vec::new();
    let instructions = prose("instructions", &input.instructions, 50_000)
        .map_err(|e| errors.push(e))
        .unwrap_or_default();
    let penalty = match (input.late_policy, input.late_penalty_percent) {
        (LatePolicy::Penalty, Some(p)) if in_hundredths(p) && p > 0.0 && p <= 100.0 => Some(p),
        (LatePolicy::Penalty, _) => {
            errors.push(FieldError::new(
                "late_penalty_percent",
                "out_of_range",
                "with the `penalty` policy: more than 0 and at most 100, in steps of 0.01",
            ));
            None
        }
        (_, Some(_)) => {
            errors.push(FieldError::new(
                "late_penalty_percent",
                "not_applicable",
                "only the `penalty` policy takes a penalty",
            ));
            None
        }
        (_, None) => None,
    };
    if input.late_policy != LatePolicy::Accept && input.due_at.is_none() {
        errors.push(FieldError::new(
            "late_policy",
            "needs_due_date",
            "a late policy other than `accept` needs `due_at`",
        ));
    }
    if !input.accepts_text && !input.accepts_files {
        errors.push(FieldError::new(
            "accepts_files",
            "nothing_accepted",
            "accept text, files or both",
        ));
    }
    let max_files = input.max_files.unwrap_or(5);
    if !(1..=20).contains(&max_files) {
        errors.push(FieldError::new("max_files", "out_of_range", "1 to 20"));
    }
    let max_file_bytes = input.max_file_bytes.unwrap_or(DEFAULT_FILE_BYTES);
    if !(1..=MAX_FILE_BYTES).contains(&max_file_bytes) {
        errors.push(FieldError::new(
            "max_file_bytes",
            "out_of_range",
            format!("1 to {MAX_FILE_BYTES} bytes"),
        ));
    }
    if input.file_extensions.len() > MAX_EXTENSIONS {
        errors.push(FieldError::new(
            "file_extensions",
            "too_many",
            format!("at most {MAX_EXTENSIONS}"),
        ));
    }
    let mut extensions: Vec<String> = Vec::new();
    for (at, raw) in input.file_extensions.iter().enumerate() {
        match files::extension(&format!("file_extensions[{at}]"), raw) {
            Ok(ext) if !extensions.contains(&ext) => extensions.push(ext),
            Ok(_) => {}
            Err(e) => errors.push(e),
        }
    }
    if extensions.is_empty() {
        extensions = DEFAULT_EXTENSIONS.iter().map(|e| (*e).to_owned()).collect();
    }
    let passing = input.passing_percent.unwrap_or(50.0);
    if !(in_hundredths(passing) && (0.0..=100.0).contains(&passing)) {
        errors.push(FieldError::new(
            "passing_percent",
            "out_of_range",
            "0 to 100, in steps of 0.01",
        ));
    }
    let rubric = match input.rubric.as_ref().map(Rubric::parse) {
        Some(Ok(rubric)) => Some(rubric),
        Some(Err(e)) => {
            errors.extend(e);
            None
        }
        None => None,
    };
    let points = match (&input.rubric, input.points) {
        (Some(_), Some(_)) => {
            errors.push(FieldError::new(
                "points",
                "not_applicable",
                "with a rubric, the points are the sum of each criterion's best level",
            ));
            0.0
        }
        (Some(_), None) => rubric.as_ref().map_or(0.0, Rubric::points),
        (None, Some(p)) if in_hundredths(p) && p > 0.0 && p <= 1_000.0 => p,
        (None, _) => {
            errors.push(FieldError::new(
                "points",
                "out_of_range",
                "without a rubric: more than 0 and at most 1000, in steps of 0.01",
            ));
            0.0
        }
    };
    if rubric.as_ref().is_some_and(|r| r.points() > 1_000.0) {
        errors.push(FieldError::new(
            "rubric",
            "out_of_range",
            "the best levels add up to more than 1000 points",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let rubric_json = rubric
        .as_ref()
        .map(serde_json::to_value)
        .transpose()
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok((
        Settings {
            instructions,
            due_at: input.due_at,
            late_policy: input.late_policy.as_str(),
            late_penalty_percent: penalty,
            accepts_text: input.accepts_text,
            accepts_files: input.accepts_files,
            max_files,
            max_file_bytes,
            file_extensions: extensions,
            points,
            passing_percent: passing,
            rubric: rubric_json,
        },
        rubric,
    ))
}

/// The settings of a configured assignment; `None` until an author saved them.
pub fn view(row: &AssignmentRow) -> ApiResult<Option<Assignment>> {
    if !row.configured {
        return Ok(None);
    }
    let rubric = row
        .rubric
        .clone()
        .map(serde_json::from_value::<Rubric>)
        .transpose()
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(Some(Assignment {
        item_id: row.item_id,
        course_id: row.course_id,
        title: row.title.clone(),
        instructions: row.instructions.clone().unwrap_or_default(),
        due_at: row.due_at,
        late_policy: row.late_policy.unwrap_or_default(),
        late_penalty_percent: row.late_penalty_percent,
        accepts_text: row.accepts_text.unwrap_or(true),
        accepts_files: row.accepts_files.unwrap_or(false),
        max_files: row.max_files.unwrap_or(5),
        max_file_bytes: row.max_file_bytes.unwrap_or(DEFAULT_FILE_BYTES),
        file_extensions: row.file_extensions.clone().unwrap_or_default(),
        points: row.points.unwrap_or(0.0),
        passing_percent: row.passing_percent.unwrap_or(50.0),
        rubric,
        updated_at: row.updated_at.unwrap_or_else(chrono::Utc::now),
    }))
}

pub(super) fn not_ready() -> ApiError {
    ApiError::Conflict {
        code: codes::ASSIGNMENT_NOT_READY,
        detail: "the assignment has no settings yet".into(),
    }
}

/// Saves an assignment item's settings (its course's staff). A rubric cannot change once a
/// submission was graded with it.
pub async fn save(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    course: CourseId,
    item: ItemId,
    input: AssignmentInput,
) -> ApiResult<Assignment> {
    let (settings, rubric) = parse(&input)?;
    let mut staff = Staff::begin(state, caller, course, true).await?;
    let existing = store::assignment(&mut staff.tx, course, item)
        .await?
        .ok_or(ApiError::NotFound)?;
    store::lock(&mut staff.tx, item, true).await?;
    if let Some(current) = view(&existing)?
        && store::any_graded(&mut staff.tx, item).await?
    {
        let same_criteria = match (&current.rubric, &rubric) {
            (None, None) => current.points == settings.points,
            (Some(a), Some(b)) => same_shape(a, b),
            _ => false,
        };
        if !same_criteria {
            return Err(ApiError::Conflict {
                code: "rubric_in_use",
                detail: "submissions were graded with this rubric and points; they cannot change"
                    .into(),
            });
        }
    }
    // An unchanged rubric keeps its ids, so the grades given with it still name its levels.
    let settings = match (&existing.rubric, &rubric) {
        (Some(saved), Some(new))
            if serde_json::from_value::<Rubric>(saved.clone())
                .is_ok_and(|s| same_shape(&s, new)) =>
        {
            Settings {
                rubric: Some(saved.clone()),
                ..settings
            }
        }
        _ => settings,
    };
    store::save(&mut staff.tx, course, item, &settings).await?;
    Audit::new(
        AuditActor::User(staff.actor.user_id),
        "assignment.updated",
        "course",
        course,
    )
    .from_ip(ip)
    .details(json!({ "item_id": item, "points": settings.points }))
    .record(&mut staff.tx)
    .await?;
    let row = store::assignment(&mut staff.tx, course, item)
        .await?
        .ok_or(ApiError::NotFound)?;
    staff.tx.commit().await?;
    view(&row)?.ok_or_else(|| ApiError::Internal(anyhow::anyhow!("saved assignment vanished")))
}

/// Two rubrics with the same criteria and levels (ids aside).
fn same_shape(a: &Rubric, b: &Rubric) -> bool {
    a.criteria.len() == b.criteria.len()
        && a.criteria.iter().zip(&b.criteria).all(|(x, y)| {
            x.title == y.title
                && x.description == y.description
                && x.levels.len() == y.levels.len()
                && x.levels.iter().zip(&y.levels).all(|(l, m)| {
                    l.title == m.title && l.description == m.description && l.points == m.points
                })
        })
}

/// The assignment for its course's staff, or for a learner enrolled in the (published or
/// archived) course; anyone else: 404. Also says whether the caller is staff.
pub(super) async fn read(
    tx: &mut lms_tenants::TenantTx,
    actor: &Actor,
    course: CourseId,
    item: ItemId,
) -> ApiResult<(AssignmentRow, bool)> {
    let staff = crate::courses::course_reader(tx, actor, course).await?;
    let row = store::assignment(tx, course, item)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok((row, staff))
}

/// The assignment's settings (see [`read`] for who may see them).
pub async fn get(
    state: &AppState,
    caller: &Caller,
    course: CourseId,
    item: ItemId,
) -> ApiResult<Assignment> {
    let (mut tx, actor) = caller.begin(state).await?;
    let (row, _) = read(&mut tx, &actor, course, item).await?;
    tx.commit().await?;
    view(&row)?.ok_or_else(not_ready)
}
