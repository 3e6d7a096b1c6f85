//! `/api/v1/operator/*`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use lms_tenants::{Branding, DomainName, Slug, Tenant, TenantId, TenantSettings, TenantStatus};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Operator;
use super::service::{self, CreateTenant};
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::{ApiJson, ApiPath, ApiQuery, Page, PageParams};
use crate::state::AppState;
use crate::users::InviteRequest;
use crate::users::User;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_tenant, list_tenants))
        .routes(routes!(get_tenant))
        .routes(routes!(suspend_tenant))
        .routes(routes!(resume_tenant))
        .routes(routes!(add_domain))
        .routes(routes!(remove_domain))
        .routes(routes!(invite_user))
        .routes(routes!(rotate_signing_key))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateTenantRequest {
    slug: Slug,
    display_name: String,
    #[serde(default)]
    branding: Branding,
    #[serde(default)]
    settings: TenantSettings,
}

/// Creates a tenant.
#[utoipa::path(
    post, path = "/api/v1/operator/tenants", tag = "operator",
    request_body = CreateTenantRequest,
    responses(
        (status = 201, body = Tenant),
        (status = 409, description = "`slug_taken`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn create_tenant(
    State(state): State<AppState>,
    operator: Operator,
    ApiJson(body): ApiJson<CreateTenantRequest>,
) -> ApiResult<(StatusCode, Json<Tenant>)> {
    let display_name = body.display_name.trim().to_owned();
    if display_name.is_empty() || display_name.chars().count() > 200 {
        return Err(ApiError::validation(
            "display_name",
            "invalid_display_name",
            "1 to 200 characters",
        ));
    }
    let input = CreateTenant {
        slug: body.slug,
        display_name,
        branding: body.branding,
        settings: body.settings,
    };
    Ok((
        StatusCode::CREATED,
        Json(service::create_tenant(&state, operator.ip, input).await?),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    status: Option<TenantStatus>,
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    cursor: Option<String>,
}

/// Tenants, newest first.
#[utoipa::path(
    get, path = "/api/v1/operator/tenants", tag = "operator",
    params(ListQuery),
    responses(
        (status = 200, body = Page<Tenant>),
    )
)]
async fn list_tenants(
    State(state): State<AppState>,
    _: Operator,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Page<Tenant>>> {
    let (limit, cursor) = PageParams {
        limit: q.limit,
        cursor: q.cursor,
    }
    .parse()?;
    Ok(Json(
        service::list_tenants(&state, q.status, cursor, limit).await?,
    ))
}

/// One tenant.
#[utoipa::path(
    get, path = "/api/v1/operator/tenants/{id}", tag = "operator",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = Tenant),
    )
)]
async fn get_tenant(
    State(state): State<AppState>,
    _: Operator,
    ApiPath(id): ApiPath<TenantId>,
) -> ApiResult<Json<Tenant>> {
    Ok(Json(service::get_tenant(&state, id).await?))
}

/// Suspends a tenant: every request to it answers 403 `tenant_suspended`; data is kept.
#[utoipa::path(
    post, path = "/api/v1/operator/tenants/{id}/suspend", tag = "operator",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = Tenant),
    )
)]
async fn suspend_tenant(
    State(state): State<AppState>,
    operator: Operator,
    ApiPath(id): ApiPath<TenantId>,
) -> ApiResult<Json<Tenant>> {
    Ok(Json(
        service::set_status(&state, operator.ip, id, TenantStatus::Suspended).await?,
    ))
}

/// Resumes a suspended tenant.
#[utoipa::path(
    post, path = "/api/v1/operator/tenants/{id}/resume", tag = "operator",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = Tenant),
    )
)]
async fn resume_tenant(
    State(state): State<AppState>,
    operator: Operator,
    ApiPath(id): ApiPath<TenantId>,
) -> ApiResult<Json<Tenant>> {
    Ok(Json(
        service::set_status(&state, operator.ip, id, TenantStatus::Active).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct DomainRequest {
    domain: DomainName,
}

/// Adds a custom domain to a tenant.
#[utoipa::path(
    post, path = "/api/v1/operator/tenants/{id}/domains", tag = "operator",
    params(("id" = String, Path, format = Uuid)),
    request_body = DomainRequest,
    responses(
        (status = 201, body = Tenant),
        (status = 403, description = "`feature_not_in_plan`: the tenant's plan does not include custom domains", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`domain_taken`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn add_domain(
    State(state): State<AppState>,
    operator: Operator,
    ApiPath(id): ApiPath<TenantId>,
    ApiJson(body): ApiJson<DomainRequest>,
) -> ApiResult<(StatusCode, Json<Tenant>)> {
    Ok((
        StatusCode::CREATED,
        Json(service::add_domain(&state, operator.ip, id, body.domain).await?),
    ))
}

/// Removes a custom domain from a tenant.
#[utoipa::path(
    delete, path = "/api/v1/operator/tenants/{id}/domains/{domain}", tag = "operator",
    params(("id" = String, Path, format = Uuid), ("domain" = String, Path)),
    responses(
        (status = 204, description = "Removed"),
    )
)]
async fn remove_domain(
    State(state): State<AppState>,
    operator: Operator,
    ApiPath((id, domain)): ApiPath<(TenantId, String)>,
) -> ApiResult<StatusCode> {
    let domain = DomainName::parse(&domain).map_err(|_| ApiError::NotFound)?;
    service::remove_domain(&state, operator.ip, id, domain).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Invites a user into a tenant, typically its first tenant admin.
#[utoipa::path(
    post, path = "/api/v1/operator/tenants/{id}/invitations", tag = "operator",
    params(("id" = String, Path, format = Uuid)),
    request_body = InviteRequest,
    responses(
        (status = 201, body = User),
        (status = 409, description = "`email_taken`, or `seat_limit_reached`: every seat of the tenant's plan is taken", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn invite_user(
    State(state): State<AppState>,
    operator: Operator,
    ApiPath(id): ApiPath<TenantId>,
    ApiJson(body): ApiJson<InviteRequest>,
) -> ApiResult<(StatusCode, Json<User>)> {
    let invitation = body.parse()?;
    Ok((
        StatusCode::CREATED,
        Json(service::invite(&state, operator.ip, id, invitation).await?),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
struct RotatedKey {
    /// The new signing key's id; the previous key keeps verifying until its tokens expire.
    kid: String,
}

/// Rotates the access-token signing key.
#[utoipa::path(
    post, path = "/api/v1/operator/signing-keys/rotate", tag = "operator",
    responses(
        (status = 200, body = RotatedKey),
    )
)]
async fn rotate_signing_key(
    State(state): State<AppState>,
    operator: Operator,
) -> ApiResult<Json<RotatedKey>> {
    let kid = state.keys.rotate().await?;
    tracing::info!(%kid, ip = ?operator.ip, "the operator rotated the signing key");
    Ok(Json(RotatedKey { kid }))
}
