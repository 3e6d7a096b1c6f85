//! SCIM 2.0 provisioning (RFC 7643/7644): an identity provider creates, updates and deactivates
//! the organisation's users and keeps its cohorts as groups, under `/scim/v2` with the
//! organisation's SCIM token (`/api/v1/scim/tokens`), which also selects the organisation.

mod caller;
mod discovery;
pub mod error;
mod filter;
mod patch;
mod resource;
mod routes;
mod schema;
mod secret;
mod service;
mod store;
mod tokens;

use utoipa_axum::router::OpenApiRouter;

pub use routes::unknown;

use crate::state::AppState;

/// The SCIM endpoints and the token management endpoints.
pub fn router() -> OpenApiRouter<AppState> {
    routes::router().merge(tokens::router())
}
