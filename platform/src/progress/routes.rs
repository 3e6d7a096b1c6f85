//! Progress routes: a learner's reports and view (`/api/v1/courses/{id}/items/{item_id}/progress`,
//! `/api/v1/courses/{id}/progress/me`) and the course's progress table for its staff
//! (`/api/v1/courses/{id}/progress`, `.csv`).

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::export;
use super::model::{LearnerProgress, MyCourseProgress, ProgressReport, ProgressUpdate};
use super::service;
use super::store::RosterFilter;
use crate::auth::Authenticated;
use crate::courses::{CourseId, ItemId};
use crate::enrollments::EnrollmentStatus;
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::http::{ApiJson, ApiPath, ApiQuery, Page, PageParams};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(report_progress))
        .routes(routes!(my_progress))
        .routes(routes!(course_progress))
        .routes(routes!(course_progress_csv))
}

/// Records the caller's progress on an item: an access, the viewing session's running time,
/// a video's position, or completion. Idempotent: sending the same report again changes
/// nothing but the last access time. Completing the last counted item completes the course.
#[utoipa::path(
    put, path = "/api/v1/courses/{id}/items/{item_id}/progress", tag = "progress",
    params(("id" = String, Path, format = Uuid), ("item_id" = String, Path, format = Uuid)),
    request_body = ProgressReport,
    responses(
        (status = 200, body = ProgressUpdate),
        (status = 403, description = "`not_enrolled` (never enrolled, or dropped)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such course, or the item is not in it", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`module_locked` (sequential course) or `course_not_published`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`session` missing, values out of range, or a position for an item that is not a video", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn report_progress(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath((course, item)): ApiPath<(CourseId, ItemId)>,
    ApiJson(report): ApiJson<ProgressReport>,
) -> ApiResult<Json<ProgressUpdate>> {
    Ok(Json(
        service::report(&state, &auth, course, item, report).await?,
    ))
}

/// The caller's progress through a course they are (or were) enrolled in: per-item progress,
/// locked modules of a sequential course, and the item to continue with.
#[utoipa::path(
    get, path = "/api/v1/courses/{id}/progress/me", tag = "progress",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = MyCourseProgress),
        (status = 404, description = "No such course, or the caller was never enrolled in it", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn my_progress(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(course): ApiPath<CourseId>,
) -> ApiResult<Json<MyCourseProgress>> {
    Ok(Json(service::mine(&state, &auth, course).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct FilterParams {
    status: Option<EnrollmentStatus>,
    /// Learners whose name or email contains this text.
    search: Option<String>,
    /// Learners who have not completed the course and are below this per cent (1 to 100).
    progress_below: Option<u8>,
    /// Learners with no activity since this instant (RFC 3339), including those never active.
    inactive_since: Option<DateTime<Utc>>,
}

impl FilterParams {
    fn parse(self) -> ApiResult<RosterFilter> {
        let mut errors = Vec::new();
        if self.progress_below.is_some_and(|p| !(1..=100).contains(&p)) {
            errors.push(FieldError::new(
                "progress_below",
                "out_of_range",
                "between 1 and 100",
            ));
        }
        let search = self
            .search
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
        if search.as_ref().is_some_and(|s| s.chars().count() > 200) {
            errors.push(FieldError::new(
                "search",
                "too_long",
                "at most 200 characters",
            ));
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        Ok(RosterFilter {
            status: self.status,
            search,
            progress_below: self.progress_below,
            inactive_since: self.inactive_since,
        })
    }
}

/// [`FilterParams`] and a page (serde's `flatten` cannot parse numbers from a query string).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct RosterParams {
    status: Option<EnrollmentStatus>,
    /// Learners whose name or email contains this text.
    search: Option<String>,
    /// Learners who have not completed the course and are below this per cent (1 to 100).
    progress_below: Option<u8>,
    /// Learners with no activity since this instant (RFC 3339), including those never active.
    inactive_since: Option<DateTime<Utc>>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^[A-Za-z0-9_-]{21}[AQgw]$")]
    cursor: Option<String>,
}

/// The course's learners with their progress, last activity and completion, newest enrollment
/// first (its instructors and tenant admins).
#[utoipa::path(
    get, path = "/api/v1/courses/{id}/progress", tag = "progress",
    params(("id" = String, Path, format = Uuid), RosterParams),
    responses(
        (status = 200, body = Page<LearnerProgress>),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn course_progress(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(course): ApiPath<CourseId>,
    ApiQuery(q): ApiQuery<RosterParams>,
) -> ApiResult<Json<Page<LearnerProgress>>> {
    let (limit, cursor) = PageParams {
        limit: q.limit,
        cursor: q.cursor,
    }
    .parse()?;
    let filter = FilterParams {
        status: q.status,
        search: q.search,
        progress_below: q.progress_below,
        inactive_since: q.inactive_since,
    }
    .parse()?;
    Ok(Json(
        service::roster(&state, &auth, course, &filter, cursor, limit).await?,
    ))
}

/// The course's progress table as CSV, every learner matching the filters (its instructors
/// and tenant admins). Cells a spreadsheet would evaluate as formulas are prefixed with `'`.
#[utoipa::path(
    get, path = "/api/v1/courses/{id}/progress.csv", tag = "progress",
    params(("id" = String, Path, format = Uuid), FilterParams),
    responses(
        (status = 200, description = "`text/csv` with a header row: enrollment_id, user_id, display_name, email, status, progress_percent, required_completed, required_total, time_spent_seconds, enrolled_at, last_activity_at, completed_at", content_type = "text/csv", body = String),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 422, response = crate::openapi::ValidationFailed),
    )
)]
async fn course_progress_csv(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(course): ApiPath<CourseId>,
    ApiQuery(q): ApiQuery<FilterParams>,
) -> ApiResult<impl IntoResponse> {
    let filter = q.parse()?;
    let rows = service::roster_all(&state, &auth, course, &filter).await?;
    let body = export::to_csv(&rows).map_err(|e| ApiError::Internal(e.into()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"course-{}-progress.csv\"", course.0),
            ),
        ],
        body,
    ))
}
