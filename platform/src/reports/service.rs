//! Team report rules: tenant admins and corporate managers only (403 otherwise); a manager's
//! rows are their team's, and a cohort filter naming a cohort they do not manage is 404, as if
//! it did not exist. Assignment grades appear once released, never before.

use std::collections::HashMap;

use lms_tenants::TenantTx;

use super::model::{AssignmentResult, QuizResult, ReportFilter, ReportStatus, TeamReportRow};
use super::store::{self, EnrollmentRow, ResultRow};
use crate::auth::Caller;
use crate::cohorts::Team;
use crate::cohorts::store as cohorts;
use crate::courses::ItemKind;
use crate::db::Cursor;
use crate::enrollments::EnrollmentId;
use crate::error::{ApiError, ApiResult};
use crate::http::Page;
use crate::progress::CourseProgress;
use crate::state::AppState;

/// Most enrollments one CSV export holds; a larger report must be narrowed by its filters.
pub const MAX_EXPORT_ROWS: usize = 10_000;
/// Enrollments read per statement by the CSV export.
const EXPORT_BATCH: i64 = 500;

/// Opens the transaction for a caller with a team and checks the cohort filter against it.
async fn begin(
    state: &AppState,
    caller: &Caller,
    filter: &ReportFilter,
) -> ApiResult<(TenantTx, Team)> {
    let (mut tx, actor) = caller.begin(state).await?;
    let team = Team::of(&actor)?;
    if let Some(cohort) = filter.cohort
        && cohorts::by_id(&mut tx, cohort, team.manager())
            .await?
            .is_none()
    {
        return Err(ApiError::NotFound);
    }
    Ok((tx, team))
}

/// One page of the caller's team report, newest enrollment first.
pub async fn page(
    state: &AppState,
    caller: &Caller,
    filter: &ReportFilter,
    cursor: Option<Cursor>,
    limit: i64,
) -> ApiResult<Page<TeamReportRow>> {
    let (mut tx, team) = begin(state, caller, filter).await?;
    let rows = read(
        &mut tx,
        team,
        filter,
        cursor.map(|c| EnrollmentId(c.0)),
        limit + 1,
    )
    .await?;
    tx.commit().await?;
    Ok(Page::from_rows(rows, limit, |r: &TeamReportRow| {
        r.enrollment_id.0
    }))
}

/// The whole team report matching `filter` (one snapshot), for the CSV export: at most
/// [`MAX_EXPORT_ROWS`] enrollments, 422 `export_too_large` beyond.
pub async fn all(
    state: &AppState,
    caller: &Caller,
    filter: &ReportFilter,
) -> ApiResult<Vec<TeamReportRow>> {
    let (mut tx, team) = begin(state, caller, filter).await?;
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let rows = read(&mut tx, team, filter, after, EXPORT_BATCH).await?;
        let full = rows.len() as i64 == EXPORT_BATCH;
        after = rows.last().map(|r| r.enrollment_id);
        all.extend(rows);
        if all.len() > MAX_EXPORT_ROWS {
            return Err(ApiError::Unprocessable {
                code: "export_too_large",
                detail: format!(
                    "the report has more than {MAX_EXPORT_ROWS} enrollments; narrow it by cohort, \
                     course, status or user"
                ),
            });
        }
        if !full {
            break;
        }
    }
    tx.commit().await?;
    Ok(all)
}

/// Up to `limit` rows with their results.
async fn read(
    tx: &mut TenantTx,
    team: Team,
    filter: &ReportFilter,
    after: Option<EnrollmentId>,
    limit: i64,
) -> ApiResult<Vec<TeamReportRow>> {
    let rows = store::enrollments(tx, team, filter, after, limit).await?;
    let ids: Vec<EnrollmentId> = rows.iter().map(|r| r.enrollment_id).collect();
    let mut results: HashMap<EnrollmentId, Vec<ResultRow>> = HashMap::new();
    if !ids.is_empty() {
        for result in store::results(tx, &ids).await? {
            results
                .entry(result.enrollment_id)
                .or_default()
                .push(result);
        }
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let found = results.remove(&row.enrollment_id).unwrap_or_default();
            report_row(row, found)
        })
        .collect())
}

fn report_row(row: EnrollmentRow, results: Vec<ResultRow>) -> TeamReportRow {
    let mut quizzes = Vec::new();
    let mut assignments = Vec::new();
    for r in results {
        match r.kind {
            ItemKind::Quiz => quizzes.push(QuizResult {
                item_id: r.item_id,
                title: r.title,
                attempts: r.attempts,
                best_percent: r.best_percent,
                last_percent: r.last_percent,
                passed: r.quiz_passed,
            }),
            ItemKind::Assignment => assignments.push(AssignmentResult {
                item_id: r.item_id,
                title: r.title,
                percent: r.grade_percent,
                passed: r.grade_passed,
                released_at: r.released_at,
            }),
            _ => {}
        }
    }
    TeamReportRow {
        enrollment_id: row.enrollment_id,
        user_id: row.user_id,
        display_name: row.display_name,
        email: row.email,
        course_id: row.course_id,
        course_title: row.course_title,
        status: ReportStatus::of(row.status),
        enrolled_at: row.enrolled_at,
        last_activity_at: row.last_activity_at,
        progress: CourseProgress::new(row.done, row.total, row.completed_at),
        quizzes,
        assignments,
    }
}
