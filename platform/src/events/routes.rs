//! `GET /api/v1/events`: the tenant's domain events, for tenant admins (what webhooks deliver).

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::EventId;
use super::store::{self, EventEnvelope};
use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult};
use crate::http::{ApiPath, ApiQuery, Page, PageParams};
use crate::state::AppState;
use crate::users::Role;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_events))
        .routes(routes!(get_event))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct EventQuery {
    /// Only events of this type, e.g. `enrollment.created`.
    #[serde(rename = "type")]
    #[param(rename = "type", max_length = 100)]
    event_type: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    #[param(pattern = "^[A-Za-z0-9_-]{21}[AQgw]$")]
    cursor: Option<String>,
}

/// The tenant's events, newest first.
#[utoipa::path(
    get, path = "/api/v1/events", tag = "events",
    params(EventQuery),
    responses(
        (status = 200, body = Page<EventEnvelope>),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn list_events(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(query): ApiQuery<EventQuery>,
) -> ApiResult<Json<Page<EventEnvelope>>> {
    let (limit, cursor) = PageParams {
        limit: query.limit,
        cursor: query.cursor,
    }
    .parse()?;
    if query
        .event_type
        .as_ref()
        .is_some_and(|t| t.chars().count() > 100)
    {
        return Err(ApiError::validation(
            "type",
            "invalid_type",
            "at most 100 characters",
        ));
    }
    let (mut tx, _) = auth.begin_as(&state, Role::TenantAdmin).await?;
    let rows = store::list(&mut tx, query.event_type.as_deref(), cursor, limit).await?;
    tx.commit().await?;
    Ok(Json(Page::from_rows(rows, limit, |e| e.id.0)))
}

/// One of the tenant's events.
#[utoipa::path(
    get, path = "/api/v1/events/{id}", tag = "events",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = EventEnvelope),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn get_event(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(id): ApiPath<EventId>,
) -> ApiResult<Json<EventEnvelope>> {
    let (mut tx, _) = auth.begin_as(&state, Role::TenantAdmin).await?;
    let event = store::get(&mut tx, id).await?.ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(Json(event))
}
