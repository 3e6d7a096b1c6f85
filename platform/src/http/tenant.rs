//! The request's tenant: custom domain, then subdomain of the base domain, then `X-Tenant`.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use lms_tenants::{Resolution, Tenant, TenantResolver};

use crate::error::ApiError;

/// The active tenant a request is addressed to. Unknown: 404; suspended: 403 `tenant_suspended`.
#[derive(Debug, Clone)]
pub struct CurrentTenant(pub Tenant);

impl<S> FromRequestParts<S> for CurrentTenant
where
    S: Send + Sync,
    TenantResolver: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(tenant) = parts.extensions.get::<CurrentTenant>() {
            return Ok(tenant.clone());
        }
        let resolver = TenantResolver::from_ref(state);
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| parts.uri.authority().map(|a| a.as_str()));
        let slug = parts.headers.get("x-tenant").and_then(|v| v.to_str().ok());
        match resolver.resolve(host, slug).await? {
            Resolution::Active(tenant) => {
                let current = CurrentTenant(*tenant);
                parts.extensions.insert(current.clone());
                Ok(current)
            }
            Resolution::Suspended(_) => Err(ApiError::TenantSuspended),
            Resolution::Unknown => Err(ApiError::NotFound),
        }
    }
}
