//! `/api/v1/webhooks`: tenant admins register endpoints, rotate their secrets, read each
//! endpoint's delivery log and redeliver.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::deliver;
use super::model::{
    Delivery, DeliveryDetail, DeliveryId, DeliveryState, Endpoint, EndpointId, EndpointWithSecret,
};
use super::secret;
use super::store::{self, EndpointChange, NewEndpoint};
use crate::audit::{Audit, AuditActor};
use crate::auth::{Actor, Authenticated};
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::http::{ApiJson, ApiPath, ApiQuery, ClientIp, Page, PageParams};
use crate::state::AppState;
use crate::users::Role;
use crate::validation::{self, Fields};

/// A tenant's endpoints at most.
pub const MAX_ENDPOINTS: i64 = 20;
/// How long the secret before a rotation keeps signing deliveries.
pub const ROTATION_OVERLAP: chrono::TimeDelta = chrono::TimeDelta::hours(24);
/// Attempts shown with a delivery.
const ATTEMPTS_SHOWN: i64 = 50;

/// Problem codes of this module.
const TOO_MANY_ENDPOINTS: &str = "too_many_endpoints";
const DELIVERY_PENDING: &str = "delivery_pending";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_endpoints, create_endpoint))
        .routes(routes!(get_endpoint, update_endpoint, delete_endpoint))
        .routes(routes!(rotate_secret))
        .routes(routes!(list_deliveries))
        .routes(routes!(get_delivery))
        .routes(routes!(redeliver))
}

fn audit(actor: &Actor, ip: std::net::IpAddr, action: &'static str, id: EndpointId) -> Audit {
    Audit::new(
        AuditActor::User(actor.user_id),
        action,
        "webhook_endpoint",
        id,
    )
    .from_ip(ip)
}

/// The URL's rules: at most 2,000 characters, and callable by the guarded client (https, or
/// http to a host the deployment allows; no credentials; no literal private address).
fn parse_url(state: &AppState, raw: &str) -> Result<String, FieldError> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > 2000 {
        return Err(FieldError::new(
            "url",
            "invalid_url",
            "1 to 2,000 characters",
        ));
    }
    let url = state
        .outbound
        .check_url(raw)
        .map_err(|err| FieldError::new("url", "invalid_url", err.to_string()))?;
    Ok(url.to_string())
}

/// Known event types, each once, sorted; empty means every type.
fn parse_event_types(raw: &[String]) -> Result<Vec<String>, FieldError> {
    if raw.len() > crate::events::TYPES.len() {
        return Err(FieldError::new(
            "event_types",
            "invalid_event_types",
            format!("at most {} types", crate::events::TYPES.len()),
        ));
    }
    let mut types = Vec::with_capacity(raw.len());
    for (i, name) in raw.iter().enumerate() {
        if !crate::events::TYPES.contains(&name.as_str()) {
            return Err(FieldError::new(
                format!("event_types[{i}]"),
                "unknown_event_type",
                "not an event type (see the webhooks section of the API document)",
            ));
        }
        types.push(name.clone());
    }
    types.sort_unstable();
    types.dedup();
    Ok(types)
}

/// The tenant's webhook endpoints (at most 20), oldest first.
#[utoipa::path(
    get, path = "/api/v1/webhooks/endpoints", tag = "webhooks",
    responses(
        (status = 200, body = Vec<Endpoint>),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn list_endpoints(
    State(state): State<AppState>,
    auth: Authenticated,
) -> ApiResult<Json<Vec<Endpoint>>> {
    let (mut tx, _) = auth.begin_as(&state, Role::TenantAdmin).await?;
    let endpoints = store::list_endpoints(&mut tx).await?;
    tx.commit().await?;
    Ok(Json(endpoints))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateEndpoint {
    /// Where events are POSTed: https (plain http only to hosts the deployment allows), at most
    /// 2,000 characters, no credentials, not a private, loopback or link-local address.
    #[schema(min_length = 1, max_length = 2000)]
    url: String,
    /// Up to 500 characters; no control characters other than tab and line breaks.
    #[schema(
        max_length = 500,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    description: Option<String>,
    /// Only these event types (see the `webhooks` section); absent or empty: every type.
    #[schema(max_items = 50)]
    event_types: Option<Vec<String>>,
    /// Default true.
    enabled: Option<bool>,
}

/// Registers an endpoint; the answer carries its signing secret, shown only this once.
#[utoipa::path(
    post, path = "/api/v1/webhooks/endpoints", tag = "webhooks",
    request_body = CreateEndpoint,
    responses(
        (status = 201, body = EndpointWithSecret),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`too_many_endpoints`: the tenant has 20 already", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn create_endpoint(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<CreateEndpoint>,
) -> ApiResult<(StatusCode, Json<EndpointWithSecret>)> {
    let mut fields = Fields::default();
    let url = fields.take(parse_url(&state, &body.url));
    let description = fields.take(validation::prose(
        "description",
        body.description.as_deref().unwrap_or_default(),
        500,
    ));
    let event_types = fields.take(parse_event_types(
        body.event_types.as_deref().unwrap_or_default(),
    ));
    let new = fields.finish(|| {
        Some(NewEndpoint {
            url: url?,
            description: description?,
            event_types: event_types?,
            enabled: body.enabled.unwrap_or(true),
        })
    })?;
    let (mut tx, actor) = auth.begin_as(&state, Role::TenantAdmin).await?;
    if store::count_endpoints(&mut tx).await? >= MAX_ENDPOINTS {
        return Err(ApiError::Conflict {
            code: TOO_MANY_ENDPOINTS,
            detail: format!("a tenant may have {MAX_ENDPOINTS} webhook endpoints"),
        });
    }
    let secret = secret::generate();
    let endpoint = store::insert_endpoint(&mut tx, &new, &secret).await?;
    audit(&actor, ip, "webhook_endpoint.created", endpoint.id)
        .details(json!({ "url": endpoint.url, "event_types": endpoint.event_types }))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(EndpointWithSecret { endpoint, secret }),
    ))
}

/// One endpoint (without its secret).
#[utoipa::path(
    get, path = "/api/v1/webhooks/endpoints/{id}", tag = "webhooks",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = Endpoint),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn get_endpoint(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(id): ApiPath<EndpointId>,
) -> ApiResult<Json<Endpoint>> {
    let (mut tx, _) = auth.begin_as(&state, Role::TenantAdmin).await?;
    let endpoint = store::get_endpoint(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(Json(endpoint))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateEndpoint {
    /// As when created.
    #[schema(min_length = 1, max_length = 2000)]
    url: Option<String>,
    #[schema(
        max_length = 500,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    description: Option<String>,
    /// Replaces the filter; empty: every type.
    #[schema(max_items = 50)]
    event_types: Option<Vec<String>>,
    /// Enabling an endpoint the platform disabled clears why and since when it failed.
    enabled: Option<bool>,
}

/// Changes an endpoint's URL, description, filter, or whether it is enabled.
#[utoipa::path(
    patch, path = "/api/v1/webhooks/endpoints/{id}", tag = "webhooks",
    params(("id" = String, Path, format = Uuid)),
    request_body = UpdateEndpoint,
    responses(
        (status = 200, body = Endpoint),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn update_endpoint(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<EndpointId>,
    ApiJson(body): ApiJson<UpdateEndpoint>,
) -> ApiResult<Json<Endpoint>> {
    let mut fields = Fields::default();
    let change = EndpointChange {
        url: body
            .url
            .as_deref()
            .and_then(|raw| fields.take(parse_url(&state, raw))),
        description: body
            .description
            .as_deref()
            .and_then(|raw| fields.take(validation::prose("description", raw, 500))),
        event_types: body
            .event_types
            .as_deref()
            .and_then(|raw| fields.take(parse_event_types(raw))),
        enabled: body.enabled,
    };
    let change = fields.finish(|| Some(change))?;
    let (mut tx, actor) = auth.begin_as(&state, Role::TenantAdmin).await?;
    let endpoint = store::update_endpoint(&mut tx, id, &change)
        .await?
        .ok_or(ApiError::NotFound)?;
    audit(&actor, ip, "webhook_endpoint.updated", id)
        .details(json!({
            "url": endpoint.url,
            "event_types": endpoint.event_types,
            "enabled": endpoint.enabled,
        }))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(Json(endpoint))
}

/// Deletes an endpoint with its delivery log; its pending deliveries are not sent.
#[utoipa::path(
    delete, path = "/api/v1/webhooks/endpoints/{id}", tag = "webhooks",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn delete_endpoint(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<EndpointId>,
) -> ApiResult<StatusCode> {
    let (mut tx, actor) = auth.begin_as(&state, Role::TenantAdmin).await?;
    if !store::delete_endpoint(&mut tx, id).await? {
        return Err(ApiError::NotFound);
    }
    audit(&actor, ip, "webhook_endpoint.deleted", id)
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Gives the endpoint a new secret, shown only in this answer. For 24 hours deliveries carry a
/// signature with the old secret too, so the receiver can switch without losing any.
#[utoipa::path(
    post, path = "/api/v1/webhooks/endpoints/{id}/rotate-secret", tag = "webhooks",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = EndpointWithSecret),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn rotate_secret(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<EndpointId>,
) -> ApiResult<Json<EndpointWithSecret>> {
    let (mut tx, actor) = auth.begin_as(&state, Role::TenantAdmin).await?;
    let secret = secret::generate();
    let endpoint = store::rotate_secret(&mut tx, id, &secret, Utc::now() + ROTATION_OVERLAP)
        .await?
        .ok_or(ApiError::NotFound)?;
    audit(&actor, ip, "webhook_endpoint.secret_rotated", id)
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(Json(EndpointWithSecret { endpoint, secret }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct DeliveryQuery {
    /// Only deliveries in this state.
    state: Option<DeliveryState>,
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    #[param(pattern = "^[A-Za-z0-9_-]{21}[AQgw]$")]
    cursor: Option<String>,
}

/// An endpoint's deliveries, newest first.
#[utoipa::path(
    get, path = "/api/v1/webhooks/endpoints/{id}/deliveries", tag = "webhooks",
    params(("id" = String, Path, format = Uuid), DeliveryQuery),
    responses(
        (status = 200, body = Page<Delivery>),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn list_deliveries(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(id): ApiPath<EndpointId>,
    ApiQuery(query): ApiQuery<DeliveryQuery>,
) -> ApiResult<Json<Page<Delivery>>> {
    let (limit, cursor) = PageParams {
        limit: query.limit,
        cursor: query.cursor,
    }
    .parse()?;
    let (mut tx, _) = auth.begin_as(&state, Role::TenantAdmin).await?;
    store::get_endpoint(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let rows = store::list_deliveries(&mut tx, id, query.state, cursor, limit).await?;
    tx.commit().await?;
    Ok(Json(Page::from_rows(rows, limit, |d| d.id.0)))
}

/// One delivery with its latest attempts: status, latency and the start of each answer.
#[utoipa::path(
    get, path = "/api/v1/webhooks/deliveries/{id}", tag = "webhooks",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = DeliveryDetail),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn get_delivery(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(id): ApiPath<DeliveryId>,
) -> ApiResult<Json<DeliveryDetail>> {
    let (mut tx, _) = auth.begin_as(&state, Role::TenantAdmin).await?;
    let delivery = store::get_delivery(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let attempt_log = store::attempts(&mut tx, id, ATTEMPTS_SHOWN).await?;
    tx.commit().await?;
    Ok(Json(DeliveryDetail {
        delivery,
        attempt_log,
    }))
}

/// Sends a finished delivery again, once (to an enabled endpoint).
#[utoipa::path(
    post, path = "/api/v1/webhooks/deliveries/{id}/redeliver", tag = "webhooks",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 202, body = Delivery, description = "Queued"),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`delivery_pending`: the delivery is still being attempted; \
            `endpoint_disabled`: enable the endpoint first", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn redeliver(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<DeliveryId>,
) -> ApiResult<(StatusCode, Json<Delivery>)> {
    let (mut tx, actor) = auth.begin_as(&state, Role::TenantAdmin).await?;
    let current = store::get_delivery(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let endpoint = store::get_endpoint(&mut tx, current.endpoint_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if !endpoint.enabled {
        return Err(ApiError::Conflict {
            code: "endpoint_disabled",
            detail: "the endpoint is disabled; enable it first".to_owned(),
        });
    }
    let delivery = store::reopen(&mut tx, id)
        .await?
        .ok_or(ApiError::Conflict {
            code: DELIVERY_PENDING,
            detail: "the delivery is still being attempted".to_owned(),
        })?;
    deliver::enqueue_redelivery(&mut tx, id).await?;
    audit(&actor, ip, "webhook_delivery.redelivered", endpoint.id)
        .details(json!({ "delivery_id": id, "event_id": delivery.event_id }))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    Ok((StatusCode::ACCEPTED, Json(delivery)))
}
