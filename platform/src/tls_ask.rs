//! `GET /tls/ask?domain=…`: the reverse proxy asks before obtaining an on-demand certificate.
//! Only names that resolve to a tenant (custom domain or subdomain of the base domain) get one,
//! so nobody can make the proxy request certificates for arbitrary names.

use axum::extract::State;
use axum::http::StatusCode;
use lms_tenants::Resolution;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, Problem};
use crate::http::ApiQuery;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(tls_ask))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AskQuery {
    /// The server name a TLS client asked for.
    domain: String,
}

/// Whether the proxy may obtain a certificate for `domain` (200) or not (404).
#[utoipa::path(
    get, path = "/tls/ask", tag = "operations",
    params(AskQuery),
    responses(
        (status = 200, description = "The domain belongs to a tenant"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
async fn tls_ask(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<AskQuery>,
) -> ApiResult<StatusCode> {
    match state.resolver.resolve(Some(&query.domain), None).await? {
        // A suspended tenant still gets TLS, so its users see the suspension notice, not a
        // certificate error.
        Resolution::Active(_) | Resolution::Suspended(_) => Ok(StatusCode::OK),
        Resolution::Unknown => Err(ApiError::NotFound),
    }
}
