//! The platform-operator API: create, list, suspend and resume tenants, manage their custom
//! domains, invite a tenant's first admin, rotate the token-signing key. Authenticated by the
//! operator credential given at start-up, never by a tenant user. Cross-tenant by nature, so it
//! works on the operator role's connection.

mod auth;
mod routes;
mod service;

pub use auth::Operator;
pub use routes::router;
pub use service::{CreateTenant, create_tenant};
