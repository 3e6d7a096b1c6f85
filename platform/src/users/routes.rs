//! `/api/v1/users`: tenant-admin user management.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::{DisplayName, Email, Role, Roles, User, UserId, UserStatus};
use super::service::{self, Invitation, UserQuery};
use crate::auth::Authenticated;
use crate::error::{ApiResult, Problem};
use crate::http::{ApiJson, ApiPath, ApiQuery, ClientIp, Page, PageParams};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users))
        .routes(routes!(get_user))
        .routes(routes!(invite_user))
        .routes(routes!(set_roles))
        .routes(routes!(deactivate_user))
        .routes(routes!(reactivate_user))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Substring of the email or display name.
    q: Option<String>,
    role: Option<Role>,
    status: Option<UserStatus>,
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    #[param(pattern = "^[A-Za-z0-9_-]{21}[AQgw]$")]
    cursor: Option<String>,
}

/// Users of the tenant, newest first.
#[utoipa::path(
    get, path = "/api/v1/users", tag = "users",
    params(ListQuery),
    responses(
        (status = 200, body = Page<User>),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn list_users(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Page<User>>> {
    let (limit, cursor) = PageParams {
        limit: q.limit,
        cursor: q.cursor,
    }
    .parse()?;
    let query = UserQuery {
        search: q.q,
        role: q.role,
        status: q.status,
    };
    Ok(Json(
        service::list(&state, &auth, &query, cursor, limit).await?,
    ))
}

/// One user.
#[utoipa::path(
    get, path = "/api/v1/users/{id}", tag = "users",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = User),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn get_user(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(id): ApiPath<UserId>,
) -> ApiResult<Json<User>> {
    Ok(Json(service::get(&state, &auth, id).await?))
}

/// Who to invite and with which roles (also used by the operator API).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct InviteRequest {
    /// Trimmed and lowercased; at most 254 characters, one `@`, a dotted domain, no white
    /// space, control characters, `<`, `>` or `,`.
    #[schema(value_type = String, format = "email", max_length = 254)]
    email: String,
    /// Trimmed; 1 to 200 characters, no control characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    display_name: String,
    roles: Roles,
}

impl InviteRequest {
    pub(crate) fn parse(self) -> ApiResult<Invitation> {
        Ok(Invitation {
            email: Email::parse(&self.email)?,
            display_name: DisplayName::parse(&self.display_name)?,
            roles: self.roles,
        })
    }
}

/// Invites a user by email with the given roles.
#[utoipa::path(
    post, path = "/api/v1/users/invitations", tag = "users",
    request_body = InviteRequest,
    responses(
        (status = 201, body = User),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`email_taken`, or `seat_limit_reached`: every seat of the plan is taken", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn invite_user(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<InviteRequest>,
) -> ApiResult<(StatusCode, Json<User>)> {
    let invitation = body.parse()?;
    Ok((
        StatusCode::CREATED,
        Json(service::invite(&state, &auth, ip, invitation).await?),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RolesRequest {
    roles: Roles,
}

/// Replaces a user's roles; their current tokens stop working.
#[utoipa::path(
    put, path = "/api/v1/users/{id}/roles", tag = "users",
    params(("id" = String, Path, format = Uuid)),
    request_body = RolesRequest,
    responses(
        (status = 200, body = User),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`last_admin`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn set_roles(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<UserId>,
    ApiJson(body): ApiJson<RolesRequest>,
) -> ApiResult<Json<User>> {
    Ok(Json(
        service::set_roles(&state, &auth, ip, id, body.roles).await?,
    ))
}

/// Deactivates a user: they cannot sign in and their tokens stop working.
#[utoipa::path(
    post, path = "/api/v1/users/{id}/deactivate", tag = "users",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = User),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`cannot_deactivate_self` or `last_admin`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn deactivate_user(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<UserId>,
) -> ApiResult<Json<User>> {
    Ok(Json(service::deactivate(&state, &auth, ip, id).await?))
}

/// Reactivates a deactivated user.
#[utoipa::path(
    post, path = "/api/v1/users/{id}/reactivate", tag = "users",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = User),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`seat_limit_reached`: every seat of the plan is taken", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn reactivate_user(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<UserId>,
) -> ApiResult<Json<User>> {
    Ok(Json(service::reactivate(&state, &auth, ip, id).await?))
}
