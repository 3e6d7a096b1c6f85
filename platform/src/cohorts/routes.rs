//! `/api/v1/cohorts`: cohorts, their members and their managers.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::{
    Cohort, CohortDescription, CohortId, CohortManager, CohortMember, CohortName, MembershipChange,
};
use super::service;
use crate::auth::Authenticated;
use crate::enrollments::bulk_ids;
use crate::error::{ApiResult, Problem};
use crate::http::{ApiJson, ApiPath, ApiQuery, ClientIp, Page, PageParams};
use crate::state::AppState;
use crate::users::UserId;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_cohorts, create_cohort))
        .routes(routes!(get_cohort, update_cohort, delete_cohort))
        .routes(routes!(list_members, add_members, remove_members))
        .routes(routes!(list_managers, assign_manager))
        .routes(routes!(unassign_manager))
}

/// Cohorts, newest first (tenant admins and instructors: every cohort; corporate managers: the
/// cohorts they manage).
#[utoipa::path(
    get, path = "/api/v1/cohorts", tag = "cohorts",
    params(PageParams),
    responses(
        (status = 200, body = Page<Cohort>),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn list_cohorts(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<Json<Page<Cohort>>> {
    let (limit, cursor) = page.parse()?;
    Ok(Json(service::list(&state, &auth, cursor, limit).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateCohort {
    /// Trimmed; 1 to 200 characters on one line, no control characters; unique within the
    /// organisation, ignoring case.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    name: String,
    /// Up to 1,000 characters; no control characters other than tab and line breaks.
    #[schema(
        max_length = 1000,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    description: Option<String>,
}

/// Creates a cohort (tenant admins).
#[utoipa::path(
    post, path = "/api/v1/cohorts", tag = "cohorts",
    request_body = CreateCohort,
    responses(
        (status = 201, body = Cohort),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`name_taken`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn create_cohort(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<CreateCohort>,
) -> ApiResult<(StatusCode, Json<Cohort>)> {
    let name = CohortName::parse(&body.name);
    let description = CohortDescription::parse(body.description.as_deref().unwrap_or_default());
    let (name, description) = match (name, description) {
        (Ok(n), Ok(d)) => (n, d),
        (n, d) => {
            return Err(crate::error::ApiError::Validation(
                [n.err(), d.err()].into_iter().flatten().collect(),
            ));
        }
    };
    Ok((
        StatusCode::CREATED,
        Json(service::create(&state, &auth, ip, name, description).await?),
    ))
}

/// A cohort with its member count. A cohort a corporate manager does not manage is 404 to them.
#[utoipa::path(
    get, path = "/api/v1/cohorts/{id}", tag = "cohorts",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = Cohort),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn get_cohort(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(id): ApiPath<CohortId>,
) -> ApiResult<Json<Cohort>> {
    Ok(Json(service::get(&state, &auth, id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateCohort {
    /// Trimmed; 1 to 200 characters on one line, no control characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    name: Option<String>,
    /// Up to 1,000 characters; no control characters other than tab and line breaks.
    #[schema(
        max_length = 1000,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    description: Option<String>,
}

/// Renames a cohort or changes its description (tenant admins, and corporate managers for the
/// cohorts they manage).
#[utoipa::path(
    patch, path = "/api/v1/cohorts/{id}", tag = "cohorts",
    params(("id" = String, Path, format = Uuid)),
    request_body = UpdateCohort,
    responses(
        (status = 200, body = Cohort),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`name_taken`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn update_cohort(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<CohortId>,
    ApiJson(body): ApiJson<UpdateCohort>,
) -> ApiResult<Json<Cohort>> {
    let name = body.name.as_deref().map(CohortName::parse).transpose();
    let description = body
        .description
        .as_deref()
        .map(CohortDescription::parse)
        .transpose();
    let (name, description) = match (name, description) {
        (Ok(n), Ok(d)) => (n, d),
        (n, d) => {
            return Err(crate::error::ApiError::Validation(
                [n.err(), d.err()].into_iter().flatten().collect(),
            ));
        }
    };
    Ok(Json(
        service::update(&state, &auth, ip, id, name, description).await?,
    ))
}

/// Deletes a cohort with its memberships and managers (tenant admins); enrollments made
/// through it stay.
#[utoipa::path(
    delete, path = "/api/v1/cohorts/{id}", tag = "cohorts",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn delete_cohort(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<CohortId>,
) -> ApiResult<StatusCode> {
    service::delete(&state, &auth, ip, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A cohort's members.
#[utoipa::path(
    get, path = "/api/v1/cohorts/{id}/members", tag = "cohorts",
    params(("id" = String, Path, format = Uuid), PageParams),
    responses(
        (status = 200, body = Page<CohortMember>),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn list_members(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(id): ApiPath<CohortId>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<Json<Page<CohortMember>>> {
    let (limit, cursor) = page.parse()?;
    Ok(Json(
        service::members(&state, &auth, id, cursor, limit).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Members {
    /// 1 to 500 user ids.
    #[schema(min_items = 1, max_items = 500)]
    user_ids: Vec<UserId>,
}

/// Adds users to a cohort; each gets `added`, `already_member` or `unknown_user`. A corporate
/// manager adds only members of the other cohorts they manage: anyone else is `unknown_user`.
#[utoipa::path(
    post, path = "/api/v1/cohorts/{id}/members", tag = "cohorts",
    params(("id" = String, Path, format = Uuid)),
    request_body = Members,
    responses(
        (status = 200, body = MembershipChange),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn add_members(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<CohortId>,
    ApiJson(body): ApiJson<Members>,
) -> ApiResult<Json<MembershipChange>> {
    let users = bulk_ids(body.user_ids)?;
    Ok(Json(
        service::change_members(&state, &auth, ip, id, users, true).await?,
    ))
}

/// Removes users from a cohort; each gets `removed` or `not_member`. Their enrollments stay.
#[utoipa::path(
    delete, path = "/api/v1/cohorts/{id}/members", tag = "cohorts",
    params(("id" = String, Path, format = Uuid)),
    request_body = Members,
    responses(
        (status = 200, body = MembershipChange),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn remove_members(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<CohortId>,
    ApiJson(body): ApiJson<Members>,
) -> ApiResult<Json<MembershipChange>> {
    let users = bulk_ids(body.user_ids)?;
    Ok(Json(
        service::change_members(&state, &auth, ip, id, users, false).await?,
    ))
}

/// A cohort's managers (whoever may read the cohort).
#[utoipa::path(
    get, path = "/api/v1/cohorts/{id}/managers", tag = "cohorts",
    params(("id" = String, Path, format = Uuid), PageParams),
    responses(
        (status = 200, body = Page<CohortManager>),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn list_managers(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(id): ApiPath<CohortId>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<Json<Page<CohortManager>>> {
    let (limit, cursor) = page.parse()?;
    Ok(Json(
        service::managers(&state, &auth, id, cursor, limit).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AssignManager {
    /// An active user of this organisation with the `corporate_manager` role.
    user_id: UserId,
}

/// Makes a corporate manager a manager of the cohort (tenant admins): 201 when assigned now,
/// 200 when they already were one. They then see and change this cohort, read its members'
/// team report and enroll them into courses.
#[utoipa::path(
    post, path = "/api/v1/cohorts/{id}/managers", tag = "cohorts",
    params(("id" = String, Path, format = Uuid)),
    request_body = AssignManager,
    responses(
        (status = 201, body = CohortManager),
        (status = 200, body = CohortManager, description = "Already a manager of the cohort"),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 422, description = "`validation_failed` with `not_corporate_manager` for `user_id`: no active user with the `corporate_manager` role has this id", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn assign_manager(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<CohortId>,
    ApiJson(body): ApiJson<AssignManager>,
) -> ApiResult<(StatusCode, Json<CohortManager>)> {
    let (manager, added) = service::assign_manager(&state, &auth, ip, id, body.user_id).await?;
    let status = if added {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(manager)))
}

/// Ends a user's management of the cohort (tenant admins).
#[utoipa::path(
    delete, path = "/api/v1/cohorts/{id}/managers/{user_id}", tag = "cohorts",
    params(("id" = String, Path, format = Uuid), ("user_id" = String, Path, format = Uuid)),
    responses(
        (status = 204, description = "No longer a manager of the cohort"),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, description = "No such cohort, or the user is not its manager", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn unassign_manager(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath((id, user)): ApiPath<(CohortId, UserId)>,
) -> ApiResult<StatusCode> {
    service::unassign_manager(&state, &auth, ip, id, user).await?;
    Ok(StatusCode::NO_CONTENT)
}
