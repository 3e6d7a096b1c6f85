//! Gradebook routes: `/api/v1/courses/{id}/gradebook` (a page of learners), `….csv`,
//! `…/me` (the learner's own) and `…/settings` (weights and categories).

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::{Gradebook, GradebookSettings, GradebookSettingsInput, MyGrades};
use super::{export, service};
use crate::auth::Authenticated;
use crate::courses::CourseId;
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::{ApiJson, ApiPath, ApiQuery, ClientIp, PageParams};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(gradebook))
        .routes(routes!(gradebook_csv))
        .routes(routes!(my_grades))
        .routes(routes!(get_settings, save_settings))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct BookParams {
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    #[param(pattern = "^[A-Za-z0-9_-]{21}[AQgw]$")]
    cursor: Option<String>,
}

/// A page of the course's gradebook: every quiz and assignment as a column, a learner per row
/// with their scores and course grade (its instructors and tenant admins; grades not released
/// yet are included and marked).
#[utoipa::path(
    get, path = "/api/v1/courses/{id}/gradebook", tag = "gradebook",
    params(("id" = String, Path, format = Uuid), BookParams),
    responses(
        (status = 200, body = Gradebook),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn gradebook(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(course): ApiPath<CourseId>,
    ApiQuery(params): ApiQuery<BookParams>,
) -> ApiResult<Json<Gradebook>> {
    let (limit, cursor) = PageParams {
        limit: params.limit,
        cursor: params.cursor,
    }
    .parse()?;
    Ok(Json(
        service::gradebook(&state, &auth, course, cursor, limit).await?,
    ))
}

/// The whole gradebook as CSV (its instructors and tenant admins): user_id, display_name,
/// email, status, a percentage column per assessment, current_grade_percent,
/// final_grade_percent. Cells a spreadsheet would evaluate as formulas are prefixed with `'`.
#[utoipa::path(
    get, path = "/api/v1/courses/{id}/gradebook.csv", tag = "gradebook",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, description = "`text/csv` with a header row", content_type = "text/csv", body = String),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn gradebook_csv(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(course): ApiPath<CourseId>,
) -> ApiResult<impl IntoResponse> {
    let (columns, rows) = service::gradebook_all(&state, &auth, course).await?;
    let body = export::to_csv(&columns, &rows).map_err(|e| ApiError::Internal(e.into()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"course-{}-grades.csv\"", course.0),
            ),
        ],
        body,
    ))
}

/// The caller's own grades in a course they are enrolled in: released grades only, with the
/// course grade they make.
#[utoipa::path(
    get, path = "/api/v1/courses/{id}/gradebook/me", tag = "gradebook",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = MyGrades),
        (status = 404, description = "No such course, or the caller is not enrolled in it", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn my_grades(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(course): ApiPath<CourseId>,
) -> ApiResult<Json<MyGrades>> {
    Ok(Json(service::mine(&state, &auth, course).await?))
}

/// How the course grade is made: weighting, categories and each assessment's weight and
/// category (its instructors and tenant admins).
#[utoipa::path(
    get, path = "/api/v1/courses/{id}/gradebook/settings", tag = "gradebook",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = GradebookSettings),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn get_settings(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(course): ApiPath<CourseId>,
) -> ApiResult<Json<GradebookSettings>> {
    Ok(Json(service::get_settings(&state, &auth, course).await?))
}

/// Replaces the course's weighting, categories and assessment weights (its instructors and
/// tenant admins). Assessments not listed count with weight 1 and no category.
#[utoipa::path(
    put, path = "/api/v1/courses/{id}/gradebook/settings", tag = "gradebook",
    params(("id" = String, Path, format = Uuid)),
    request_body = GradebookSettingsInput,
    responses(
        (status = 200, body = GradebookSettings),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 422, description = "`unknown_item`, `unknown_category`, `duplicate`, weights out of range", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn save_settings(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(course): ApiPath<CourseId>,
    ApiJson(body): ApiJson<GradebookSettingsInput>,
) -> ApiResult<Json<GradebookSettings>> {
    Ok(Json(
        service::save_settings(&state, &auth, ip, course, body).await?,
    ))
}
