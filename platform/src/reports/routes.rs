//! `/api/v1/reports/team` (a page of the caller's team report) and `/api/v1/reports/team.csv`
//! (all of it as CSV).

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::export;
use super::model::{ReportFilter, ReportStatus, TeamReportRow};
use super::service;
use crate::auth::Authenticated;
use crate::cohorts::CohortId;
use crate::courses::CourseId;
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::{ApiQuery, Page, PageParams};
use crate::state::AppState;
use crate::users::UserId;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(team_report))
        .routes(routes!(team_report_csv))
}

/// Which rows of the team report to show.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct FilterParams {
    /// Members of this cohort only: one the caller manages (tenant admins: any cohort); any
    /// other answers 404.
    #[param(value_type = Option<String>, format = Uuid)]
    cohort_id: Option<CohortId>,
    /// Enrollments in this course only.
    #[param(value_type = Option<String>, format = Uuid)]
    course_id: Option<CourseId>,
    /// This team member's enrollments only.
    #[param(value_type = Option<String>, format = Uuid)]
    user_id: Option<UserId>,
    status: Option<ReportStatus>,
}

impl FilterParams {
    fn filter(&self) -> ReportFilter {
        ReportFilter {
            cohort: self.cohort_id,
            course: self.course_id,
            user: self.user_id,
            status: self.status,
        }
    }
}

/// [`FilterParams`] and a page (serde's `flatten` cannot parse numbers from a query string).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ReportParams {
    /// Members of this cohort only: one the caller manages (tenant admins: any cohort); any
    /// other answers 404.
    #[param(value_type = Option<String>, format = Uuid)]
    cohort_id: Option<CohortId>,
    /// Enrollments in this course only.
    #[param(value_type = Option<String>, format = Uuid)]
    course_id: Option<CourseId>,
    /// This team member's enrollments only.
    #[param(value_type = Option<String>, format = Uuid)]
    user_id: Option<UserId>,
    status: Option<ReportStatus>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^[A-Za-z0-9_-]{21}[AQgw]$")]
    cursor: Option<String>,
}

/// The caller's team report, newest enrollment first: each enrollment of a team member (an
/// active member of a cohort the caller manages; tenant admins: of any cohort) with progress,
/// completion, quiz results and released assignment grades (held-back grades never show).
/// Corporate managers and tenant admins only.
#[utoipa::path(
    get, path = "/api/v1/reports/team", tag = "reports",
    params(ReportParams),
    responses(
        (status = 200, body = Page<TeamReportRow>),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, description = "`cohort_id` names no cohort the caller manages", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn team_report(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(q): ApiQuery<ReportParams>,
) -> ApiResult<Json<Page<TeamReportRow>>> {
    let (limit, cursor) = PageParams {
        limit: q.limit,
        cursor: q.cursor,
    }
    .parse()?;
    let filter = FilterParams {
        cohort_id: q.cohort_id,
        course_id: q.course_id,
        user_id: q.user_id,
        status: q.status,
    }
    .filter();
    Ok(Json(
        service::page(&state, &auth, &filter, cursor, limit).await?,
    ))
}

/// The whole team report matching the filters as CSV (one snapshot, at most 10,000
/// enrollments), one row per enrollment and quiz or assignment of its course. Cells a
/// spreadsheet would evaluate as formulas are prefixed with `'`.
#[utoipa::path(
    get, path = "/api/v1/reports/team.csv", tag = "reports",
    params(FilterParams),
    responses(
        (status = 200, description = "`text/csv` with a header row: enrollment_id, user_id, display_name, email, course_id, course_title, status, progress_percent, completed_items, counted_items, enrolled_at, last_activity_at, completed_at, assessment_kind (`quiz` or `assignment`, empty for a course without either), assessment_item_id, assessment_title, quiz_attempts, quiz_best_percent, quiz_last_percent, assignment_percent (released grades only), passed", content_type = "text/csv", body = String),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, description = "`cohort_id` names no cohort the caller manages", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`export_too_large`: more than 10,000 enrollments match; narrow the filters", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn team_report_csv(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(q): ApiQuery<FilterParams>,
) -> ApiResult<impl IntoResponse> {
    let rows = service::all(&state, &auth, &q.filter()).await?;
    let body = export::to_csv(&rows).map_err(|e| ApiError::Internal(e.into()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"team-report.csv\"",
            ),
        ],
        body,
    ))
}
