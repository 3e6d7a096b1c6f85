//! Enrollment routes: `/api/v1/courses/{id}/enrollment` (the caller), `/api/v1/courses/{id}/
//! enrollments` (a course's learners, for its staff) and `/api/v1/me/enrollments`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::{BulkEnrollment, Enrollment, EnrollmentStatus, MyEnrollment};
use super::service::{self, MAX_BULK};
use crate::auth::Authenticated;
use crate::cohorts::CohortId;
use crate::courses::CourseId;
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::{ApiJson, ApiPath, ApiQuery, ClientIp, Page, PageParams};
use crate::state::AppState;
use crate::users::UserId;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(enroll_self))
        .routes(routes!(list_enrollments, enroll_users))
        .routes(routes!(unenroll))
        .routes(routes!(enroll_cohort))
        .routes(routes!(enroll_team))
        .routes(routes!(my_enrollments))
}

/// Enrolls the caller. Refused when the course is not published (409 `course_not_published`),
/// does not take self-enrollment (403), has prerequisites the caller has not completed (409
/// `prerequisites_unmet`, naming them), is full (409 `course_full`), or the caller already is
/// enrolled (409 `already_enrolled`). A learner who dropped the course may enroll again.
#[utoipa::path(
    post, path = "/api/v1/courses/{id}/enrollment", tag = "enrollments",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 201, body = Enrollment),
        (status = 403, description = "`self_enrollment_closed`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`course_not_published`, `prerequisites_unmet`, `course_full`, `already_enrolled`, or `seat_limit_reached` (the organisation holds more accounts than its plan includes)", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn enroll_self(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<CourseId>,
) -> ApiResult<(StatusCode, Json<Enrollment>)> {
    Ok((
        StatusCode::CREATED,
        Json(service::enroll_self(&state, &auth, ip, id).await?),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    status: Option<EnrollmentStatus>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^[A-Za-z0-9_-]{21}[AQgw]$")]
    cursor: Option<String>,
}

/// A course's enrollments, newest first (its instructors and tenant admins).
#[utoipa::path(
    get, path = "/api/v1/courses/{id}/enrollments", tag = "enrollments",
    params(("id" = String, Path, format = Uuid), ListQuery),
    responses(
        (status = 200, body = Page<Enrollment>),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn list_enrollments(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(id): ApiPath<CourseId>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Page<Enrollment>>> {
    let (limit, cursor) = PageParams {
        limit: q.limit,
        cursor: q.cursor,
    }
    .parse()?;
    Ok(Json(
        service::list(&state, &auth, id, q.status, cursor, limit).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct EnrollUsers {
    /// 1 to 500 user ids of this organisation.
    #[schema(min_items = 1, max_items = 500)]
    user_ids: Vec<UserId>,
}

/// The user ids of a bulk call: 1 to 500 of them.
pub fn bulk_ids(user_ids: Vec<UserId>) -> ApiResult<Vec<UserId>> {
    if user_ids.is_empty() || user_ids.len() > MAX_BULK {
        return Err(ApiError::validation(
            "user_ids",
            "out_of_range",
            format!("1 to {MAX_BULK} user ids"),
        ));
    }
    Ok(user_ids)
}

/// Enrolls users into a published course (its instructors and tenant admins). Each user gets a
/// result: `enrolled`, `already_enrolled`, `unknown_user` or `course_full` (capacity applies;
/// prerequisites are the staff's call).
#[utoipa::path(
    post, path = "/api/v1/courses/{id}/enrollments", tag = "enrollments",
    params(("id" = String, Path, format = Uuid)),
    request_body = EnrollUsers,
    responses(
        (status = 200, body = BulkEnrollment),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`course_not_published`, or `seat_limit_reached` (the organisation holds more accounts than its plan includes)", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn enroll_users(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<CourseId>,
    ApiJson(body): ApiJson<EnrollUsers>,
) -> ApiResult<Json<BulkEnrollment>> {
    let users = bulk_ids(body.user_ids)?;
    Ok(Json(
        service::enroll_many(&state, &auth, ip, id, users).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct EnrollCohort {
    cohort_id: CohortId,
}

/// Enrolls every member of a cohort into a published course (its instructors and tenant
/// admins), with the same per-user results as a bulk enrollment.
#[utoipa::path(
    post, path = "/api/v1/courses/{id}/cohort-enrollments", tag = "enrollments",
    params(("id" = String, Path, format = Uuid)),
    request_body = EnrollCohort,
    responses(
        (status = 200, body = BulkEnrollment),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`course_not_published`, or `seat_limit_reached` (the organisation holds more accounts than its plan includes)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`unknown_cohort`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn enroll_cohort(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<CourseId>,
    ApiJson(body): ApiJson<EnrollCohort>,
) -> ApiResult<Json<BulkEnrollment>> {
    Ok(Json(
        service::enroll_cohort(&state, &auth, ip, id, body.cohort_id).await?,
    ))
}

/// Enrolls members of the caller's team into a published course (corporate managers: active
/// members of the cohorts they manage; tenant admins: of any cohort), with the same per-user
/// results as a bulk enrollment (capacity applies, prerequisites do not). A draft or archived
/// course answers 404, and so does the whole call (nobody is enrolled) when any user id is not
/// a member of the caller's team, exactly as for an id that names no one.
#[utoipa::path(
    post, path = "/api/v1/courses/{id}/team-enrollments", tag = "enrollments",
    params(("id" = String, Path, format = Uuid)),
    request_body = EnrollUsers,
    responses(
        (status = 200, body = BulkEnrollment),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, description = "No such published course, or a user outside the caller's team", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn enroll_team(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<CourseId>,
    ApiJson(body): ApiJson<EnrollUsers>,
) -> ApiResult<Json<BulkEnrollment>> {
    let users = bulk_ids(body.user_ids)?;
    Ok(Json(
        service::enroll_team(&state, &auth, ip, id, users).await?,
    ))
}

/// Unenrolls a learner (its instructors and tenant admins): the enrollment becomes `dropped`.
#[utoipa::path(
    delete, path = "/api/v1/courses/{id}/enrollments/{user_id}", tag = "enrollments",
    params(("id" = String, Path, format = Uuid), ("user_id" = String, Path, format = Uuid)),
    responses(
        (status = 204, description = "Dropped"),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, description = "No such course, or the user has no active enrollment in it", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn unenroll(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath((id, user)): ApiPath<(CourseId, UserId)>,
) -> ApiResult<StatusCode> {
    service::unenroll(&state, &auth, ip, id, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's enrollments with their courses, newest first.
#[utoipa::path(
    get, path = "/api/v1/me/enrollments", tag = "enrollments",
    params(ListQuery),
    responses(
        (status = 200, body = Page<MyEnrollment>),
    )
)]
async fn my_enrollments(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Page<MyEnrollment>>> {
    let (limit, cursor) = PageParams {
        limit: q.limit,
        cursor: q.cursor,
    }
    .parse()?;
    Ok(Json(
        service::mine(&state, &auth, q.status, cursor, limit).await?,
    ))
}
