//! `/api/v1/billing` (tenant admins) and `/api/v1/operator/plans` (the operator).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use lms_tenants::TenantId;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::checkout::{self, BillingRedirect, CheckoutRequest};
use super::model::{Plan, PlanId};
use super::service::{self, BillingOverview, PlanInput};
use super::webhook::{self, Receipt};
use crate::auth::Authenticated;
use crate::error::{ApiResult, Problem};
use crate::http::{ApiJson, ApiPath};
use crate::operator::Operator;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_billing))
        .routes(routes!(start_checkout))
        .routes(routes!(open_portal))
        .routes(routes!(stripe_webhook))
}

pub fn operator_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_plans, create_plan))
        .routes(routes!(update_plan))
        .routes(routes!(make_default_plan))
        .routes(routes!(tenant_billing))
}

/// The organisation's plan, subscription status, seats used and included, trial end, next
/// invoice and entitlements (tenant admins). Also answers while billing is off
/// (`billing_enabled` false: the default plan applies).
#[utoipa::path(
    get, path = "/api/v1/billing", tag = "billing",
    responses(
        (status = 200, body = BillingOverview),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn get_billing(
    State(state): State<AppState>,
    auth: Authenticated,
) -> ApiResult<Json<BillingOverview>> {
    Ok(Json(service::tenant_overview(&state, &auth).await?))
}

/// Starts a subscription: a Stripe Checkout Session in subscription mode for the plan, the
/// organisation's accounts as the quantity, its id as `client_reference_id` (tenant admins).
/// The subscription takes effect when Stripe's webhook confirms it, not on the redirect back.
#[utoipa::path(
    post, path = "/api/v1/billing/checkout", tag = "billing",
    request_body = CheckoutRequest,
    responses(
        (status = 201, body = BillingRedirect),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`billing_disabled` (no Stripe key is configured), `already_subscribed`, or `seat_limit_reached` (more accounts than the plan includes)", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "`stripe_error`: Stripe refused the request", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`billing_unavailable`: Stripe cannot be reached; nothing was changed", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn start_checkout(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<CheckoutRequest>,
) -> ApiResult<(StatusCode, Json<BillingRedirect>)> {
    Ok((
        StatusCode::CREATED,
        Json(checkout::checkout(&state, &auth, body).await?),
    ))
}

/// Opens the Stripe Customer Portal for the organisation (tenant admins): seats, plan, payment
/// method, invoices, cancellation.
#[utoipa::path(
    post, path = "/api/v1/billing/portal", tag = "billing",
    responses(
        (status = 201, body = BillingRedirect),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`billing_disabled` (no Stripe key is configured) or `no_subscription`", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "`stripe_error`: Stripe refused the request", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`billing_unavailable`: Stripe cannot be reached", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn open_portal(
    State(state): State<AppState>,
    auth: Authenticated,
) -> ApiResult<(StatusCode, Json<BillingRedirect>)> {
    Ok((
        StatusCode::CREATED,
        Json(checkout::portal(&state, &auth).await?),
    ))
}

/// Stripe's webhook. The `Stripe-Signature` must verify with one of the configured secrets
/// (`LMS_STRIPE_WEBHOOK_SECRET`, comma-separated during a rotation) within 300 seconds. The
/// tenant's state is then read from Stripe (the payload is not trusted) and stored with the
/// event id, once: a redelivery answers `duplicate`. Unknown types and customers answer 200.
#[utoipa::path(
    post, path = "/api/v1/webhooks/stripe", tag = "billing",
    security(()),
    params(("Stripe-Signature" = String, Header, description = "`t=<unix time>,v1=<hex HMAC-SHA256>`, as Stripe signs")),
    request_body(content = String, description = "A Stripe event, as Stripe sent it (at most 512 KiB)", content_type = "application/json"),
    responses(
        (status = 200, body = Receipt),
        (status = 400, description = "`invalid_signature` (missing, malformed, stale or forged) or `malformed_event`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`billing_disabled`: no Stripe key is configured", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`billing_unavailable`: Stripe cannot be read now; Stripe delivers the event again later", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn stripe_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Receipt>> {
    if body.len() > webhook::MAX_BODY_BYTES {
        return Err(crate::error::ApiError::PayloadTooLarge);
    }
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    Ok(Json(webhook::receive(&state, signature, &body).await?))
}

/// Every plan, oldest first.
#[utoipa::path(
    get, path = "/api/v1/operator/plans", tag = "operator",
    responses((status = 200, body = Vec<Plan>))
)]
async fn list_plans(State(state): State<AppState>, _: Operator) -> ApiResult<Json<Vec<Plan>>> {
    Ok(Json(service::plans(&state).await?))
}

/// Creates a plan (not the default: see `POST /api/v1/operator/plans/{id}/default`).
#[utoipa::path(
    post, path = "/api/v1/operator/plans", tag = "operator",
    request_body = PlanInput,
    responses(
        (status = 201, body = Plan),
        (status = 409, description = "`name_taken`, `price_taken`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn create_plan(
    State(state): State<AppState>,
    _: Operator,
    ApiJson(body): ApiJson<PlanInput>,
) -> ApiResult<(StatusCode, Json<Plan>)> {
    Ok((
        StatusCode::CREATED,
        Json(service::create_plan(&state, &body).await?),
    ))
}

/// Replaces a plan's fields; its tenants get the new entitlements at once.
#[utoipa::path(
    put, path = "/api/v1/operator/plans/{id}", tag = "operator",
    params(("id" = String, Path, format = Uuid)),
    request_body = PlanInput,
    responses(
        (status = 200, body = Plan),
        (status = 409, description = "`name_taken`, `price_taken`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn update_plan(
    State(state): State<AppState>,
    _: Operator,
    ApiPath(id): ApiPath<PlanId>,
    ApiJson(body): ApiJson<PlanInput>,
) -> ApiResult<Json<Plan>> {
    Ok(Json(service::update_plan(&state, id, &body).await?))
}

/// Makes a plan the default: every tenant's plan while billing is off, and the plan of tenants
/// without a paying subscription.
#[utoipa::path(
    post, path = "/api/v1/operator/plans/{id}/default", tag = "operator",
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = Plan))
)]
async fn make_default_plan(
    State(state): State<AppState>,
    _: Operator,
    ApiPath(id): ApiPath<PlanId>,
) -> ApiResult<Json<Plan>> {
    Ok(Json(service::make_default(&state, id).await?))
}

/// A tenant's billing, as its admins see it.
#[utoipa::path(
    get, path = "/api/v1/operator/tenants/{id}/billing", tag = "operator",
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = BillingOverview))
)]
async fn tenant_billing(
    State(state): State<AppState>,
    _: Operator,
    ApiPath(id): ApiPath<TenantId>,
) -> ApiResult<Json<BillingOverview>> {
    Ok(Json(service::operator_overview(&state, id).await?))
}
