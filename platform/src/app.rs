//! The router: every feature's routes, the OpenAPI document and UI, and the middleware stack.

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request, StatusCode};
use tower::ServiceBuilder;
use tower_http::LatencyUnit;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::config::RateLimits;
use crate::http::middleware;
use crate::http::rate_limit::{self, ClientIpKey};
use crate::openapi::ApiDoc;
use crate::state::AppState;

/// Largest request body accepted anywhere (JSON APIs; uploads will have their own limits).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Every route with its OpenAPI description; `auth_limit` wraps the credential endpoints.
pub fn routes_with(auth_limit: Option<rate_limit::Layer>) -> OpenApiRouter<AppState> {
    let mut router = features(auth_limit).into_iter().fold(
        OpenApiRouter::with_openapi(ApiDoc::openapi()),
        OpenApiRouter::merge,
    );
    crate::openapi::add_shared_responses(router.get_openapi_mut());
    crate::events::describe_webhooks(router.get_openapi_mut());
    router
}

/// Each feature's router on its own, before they are merged: merging keeps only one schema per
/// component name, so the document's uniqueness check looks at them apart.
pub fn features(auth_limit: Option<rate_limit::Layer>) -> Vec<OpenApiRouter<AppState>> {
    let credentials = crate::auth::credential_router()
        .merge(crate::mfa::credential_router())
        .merge(crate::sso::credential_router());
    let credentials = match auth_limit {
        Some(limit) => credentials.layer(limit),
        None => credentials,
    };
    vec![
        credentials,
        crate::auth::session_router(),
        crate::users::router(),
        crate::imports::router(),
        crate::mfa::router(),
        crate::sso::router(),
        crate::courses::router(),
        crate::catalog::router(),
        crate::enrollments::router(),
        crate::cohorts::router(),
        crate::scim::router(),
        crate::progress::router(),
        crate::question_banks::router(),
        crate::quizzes::router(),
        crate::assignments::router(),
        crate::gradebook::router(),
        crate::certificates::router(),
        crate::certificates::public_router(),
        crate::reports::router(),
        crate::plugins::router(),
        crate::tenant_profile::router(),
        crate::audit::router(),
        crate::jobs::router(),
        crate::events::router(),
        crate::webhooks::router(),
        crate::notifications::router(),
        crate::operator::router(),
        crate::jobs::operator_router(),
        crate::health::router(),
        crate::tls_ask::router(),
    ]
}

pub fn routes() -> OpenApiRouter<AppState> {
    routes_with(None)
}

pub fn build(state: AppState, limits: RateLimits, trust_proxy_headers: bool) -> Router {
    let key = ClientIpKey {
        trust_proxy_headers,
    };
    let auth_limit = rate_limit::layer(limits.auth_per_second, limits.auth_burst, key);
    let (router, api) = routes_with(auth_limit).split_for_parts();
    let mut router = router
        .merge(SwaggerUi::new("/docs").url("/api/v1/openapi.json", api))
        .fallback(middleware::not_found)
        .method_not_allowed_fallback(middleware::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    if let Some(global) = rate_limit::layer(limits.global_per_second, limits.global_burst, key) {
        router = router.layer(global);
    }
    router
        .layer(
            ServiceBuilder::new()
                .layer(SetSensitiveRequestHeadersLayer::new([
                    axum::http::header::AUTHORIZATION,
                    axum::http::header::COOKIE,
                ]))
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(
                    // One access-log line per request; failures are logged once by `observe`.
                    TraceLayer::new_for_http()
                        .make_span_with(request_span)
                        .on_response(
                            DefaultOnResponse::new()
                                .level(Level::INFO)
                                .latency_unit(LatencyUnit::Micros),
                        )
                        .on_failure(()),
                )
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(CatchPanicLayer::custom(middleware::panic_response))
                .layer(axum::middleware::from_fn(middleware::observe))
                .layer(axum::middleware::from_fn(
                    middleware::problem_for_bare_errors,
                ))
                .layer(axum::middleware::from_fn(middleware::refuse_nul))
                .layer(tower_http::timeout::TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    Duration::from_secs(30),
                ))
                .layer(axum::middleware::from_fn(middleware::run_to_completion)),
        )
        .with_state(state)
}

fn request_span<B>(req: &Request<B>) -> tracing::Span {
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!("request", method = %req.method(), uri = %req.uri().path(), request_id = %id)
}
