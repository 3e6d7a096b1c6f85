//! `GET /api/v1/audit-events`: the tenant's audit trail, for tenant admins.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::store::{self, AuditEvent};
use crate::auth::Authenticated;
use crate::error::ApiResult;
use crate::http::{ApiQuery, Page, PageParams};
use crate::state::AppState;
use crate::users::Role;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit_events))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AuditQuery {
    /// Only events with this action, e.g. `user.deactivated`.
    action: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    #[param(pattern = "^[A-Za-z0-9_-]{21}[AQgw]$")]
    cursor: Option<String>,
}

/// The tenant's audit trail, newest first.
#[utoipa::path(
    get, path = "/api/v1/audit-events", tag = "audit",
    params(AuditQuery),
    responses(
        (status = 200, body = Page<AuditEvent>),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn list_audit_events(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> ApiResult<Json<Page<AuditEvent>>> {
    let (limit, cursor) = PageParams {
        limit: query.limit,
        cursor: query.cursor,
    }
    .parse()?;
    let (mut tx, _) = auth.begin_as(&state, Role::TenantAdmin).await?;
    let rows = store::list(&mut tx, query.action.as_deref(), cursor, limit).await?;
    tx.commit().await?;
    Ok(Json(Page::from_rows(rows, limit, |e| e.id)))
}
