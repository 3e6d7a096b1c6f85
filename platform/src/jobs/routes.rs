//! `/api/v1/jobs` (tenant admins: their tenant's jobs) and `/api/v1/operator/jobs` (the
//! operator: every tenant's): list, inspect and re-run dead jobs.

use axum::Json;
use axum::extract::State;
use lms_tenants::TenantId;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::{Job, JobId, JobState};
use super::store::{self, Filter};
use crate::audit::{Audit, AuditActor};
use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::{ApiPath, ApiQuery, Page, PageParams};
use crate::operator::Operator;
use crate::state::AppState;
use crate::users::Role;

/// Problem code: only a dead job can be re-run.
const JOB_NOT_DEAD: &str = "job_not_dead";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_jobs))
        .routes(routes!(get_job))
        .routes(routes!(rerun_job))
}

pub fn operator_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(operator_list_jobs))
        .routes(routes!(operator_get_job))
        .routes(routes!(operator_rerun_job))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct JobQuery {
    /// Only jobs in this state (`dead` for the ones that need a person).
    state: Option<JobState>,
    /// Only jobs of this kind, e.g. `email.send`.
    #[param(max_length = 100)]
    kind: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    #[param(pattern = "^[A-Za-z0-9_-]{21}[AQgw]$")]
    cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct OperatorJobQuery {
    /// Only this tenant's jobs.
    tenant_id: Option<TenantId>,
    state: Option<JobState>,
    #[param(max_length = 100)]
    kind: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    #[param(pattern = "^[A-Za-z0-9_-]{21}[AQgw]$")]
    cursor: Option<String>,
}

fn kind_filter(kind: Option<&str>) -> ApiResult<Option<&str>> {
    match kind {
        Some(kind) if kind.chars().count() > 100 => Err(ApiError::validation(
            "kind",
            "invalid_kind",
            "at most 100 characters",
        )),
        other => Ok(other),
    }
}

fn not_dead() -> ApiError {
    ApiError::Conflict {
        code: JOB_NOT_DEAD,
        detail: "only a dead job can be re-run".to_owned(),
    }
}

/// The tenant's jobs, newest first.
#[utoipa::path(
    get, path = "/api/v1/jobs", tag = "jobs",
    params(JobQuery),
    responses(
        (status = 200, body = Page<Job>),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn list_jobs(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(query): ApiQuery<JobQuery>,
) -> ApiResult<Json<Page<Job>>> {
    let (limit, cursor) = PageParams {
        limit: query.limit,
        cursor: query.cursor,
    }
    .parse()?;
    let kind = kind_filter(query.kind.as_deref())?;
    let (mut tx, _) = auth.begin_as(&state, Role::TenantAdmin).await?;
    let filter = Filter {
        tenant: Some(tx.tenant_id()),
        state: query.state,
        kind,
    };
    let rows = store::list(&mut tx, &filter, cursor, limit).await?;
    tx.commit().await?;
    Ok(Json(Page::from_rows(rows, limit, |job| job.id.0)))
}

/// One of the tenant's jobs.
#[utoipa::path(
    get, path = "/api/v1/jobs/{id}", tag = "jobs",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = Job),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn get_job(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(id): ApiPath<JobId>,
) -> ApiResult<Json<Job>> {
    let (mut tx, _) = auth.begin_as(&state, Role::TenantAdmin).await?;
    let tenant = tx.tenant_id();
    let job = store::get(&mut tx, tenant, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(Json(job))
}

/// Re-runs a dead job from its first attempt.
#[utoipa::path(
    post, path = "/api/v1/jobs/{id}/rerun", tag = "jobs",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = Job),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`job_not_dead`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn rerun_job(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(id): ApiPath<JobId>,
) -> ApiResult<Json<Job>> {
    let (mut tx, actor) = auth.begin_as(&state, Role::TenantAdmin).await?;
    let tenant = tx.tenant_id();
    let Some(job) = store::rerun(&mut tx, tenant, id).await? else {
        return Err(match store::get(&mut tx, tenant, id).await? {
            Some(_) => not_dead(),
            None => ApiError::NotFound,
        });
    };
    Audit::new(AuditActor::User(actor.user_id), "job.rerun", "job", id)
        .details(serde_json::json!({ "kind": job.kind }))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(Json(job))
}

/// Every tenant's jobs, newest first.
#[utoipa::path(
    get, path = "/api/v1/operator/jobs", tag = "operator",
    params(OperatorJobQuery),
    responses(
        (status = 200, body = Page<Job>),
    )
)]
async fn operator_list_jobs(
    State(state): State<AppState>,
    _: Operator,
    ApiQuery(query): ApiQuery<OperatorJobQuery>,
) -> ApiResult<Json<Page<Job>>> {
    let (limit, cursor) = PageParams {
        limit: query.limit,
        cursor: query.cursor,
    }
    .parse()?;
    let filter = Filter {
        tenant: query.tenant_id,
        state: query.state,
        kind: kind_filter(query.kind.as_deref())?,
    };
    let mut conn = state.operator_db.pool().acquire().await?;
    let rows = store::list(&mut conn, &filter, cursor, limit).await?;
    Ok(Json(Page::from_rows(rows, limit, |job| job.id.0)))
}

/// One job of any tenant.
#[utoipa::path(
    get, path = "/api/v1/operator/jobs/{tenant_id}/{id}", tag = "operator",
    params(("tenant_id" = String, Path, format = Uuid), ("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = Job),
    )
)]
async fn operator_get_job(
    State(state): State<AppState>,
    _: Operator,
    ApiPath((tenant, id)): ApiPath<(TenantId, JobId)>,
) -> ApiResult<Json<Job>> {
    let mut conn = state.operator_db.pool().acquire().await?;
    let job = store::get(&mut conn, tenant, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(job))
}

/// Re-runs any tenant's dead job from its first attempt.
#[utoipa::path(
    post, path = "/api/v1/operator/jobs/{tenant_id}/{id}/rerun", tag = "operator",
    params(("tenant_id" = String, Path, format = Uuid), ("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = Job),
        (status = 409, description = "`job_not_dead`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn operator_rerun_job(
    State(state): State<AppState>,
    operator: Operator,
    ApiPath((tenant, id)): ApiPath<(TenantId, JobId)>,
) -> ApiResult<Json<Job>> {
    let mut tx = state.operator_db.begin().await?;
    let Some(job) = store::rerun(&mut tx, tenant, id).await? else {
        return Err(match store::get(&mut tx, tenant, id).await? {
            Some(_) => not_dead(),
            None => ApiError::NotFound,
        });
    };
    crate::audit::insert_on(
        &mut tx,
        tenant,
        &Audit::new(AuditActor::Operator, "job.rerun", "job", id)
            .from_optional_ip(operator.ip)
            .details(serde_json::json!({ "kind": job.kind })),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(job))
}
