//! Operator rules, on the operator role's connection (BYPASSRLS): registry writes and the audit
//! events they leave in each tenant's trail.

use std::net::IpAddr;

use lms_tenants::registry::{self, NewTenant};
use lms_tenants::{Branding, DomainName, Slug, Tenant, TenantId, TenantSettings, TenantStatus};
use serde_json::json;

use crate::audit::{Audit, AuditActor, insert_on};
use crate::db::Cursor;
use crate::error::{ApiError, ApiResult, FieldError, OnConstraint, codes};
use crate::http::Page;
use crate::state::AppState;
use crate::users::User;
use crate::users::service::{Invitation, invite_in};

pub struct CreateTenant {
    pub slug: Slug,
    pub display_name: String,
    pub branding: Branding,
    pub settings: TenantSettings,
}

pub async fn create_tenant(
    state: &AppState,
    ip: Option<IpAddr>,
    input: CreateTenant,
) -> ApiResult<Tenant> {
    input.branding.validate().map_err(|(field, err)| {
        ApiError::Validation(vec![FieldError::new(
            format!("branding.{field}"),
            err.code,
            err.message,
        )])
    })?;
    let mut tx = state.operator_db.begin().await?;
    let tenant = registry::create(
        &mut tx,
        &NewTenant {
            slug: &input.slug,
            display_name: &input.display_name,
            branding: &input.branding,
            settings: &input.settings,
        },
    )
    .await
    .on_constraint(registry::SLUG_TAKEN, || ApiError::Conflict {
        code: codes::SLUG_TAKEN,
        detail: "a tenant with this slug exists".into(),
    })?;
    insert_on(
        &mut tx,
        tenant.id,
        &Audit::new(AuditActor::Operator, "tenant.created", "tenant", tenant.id)
            .from_optional_ip(ip),
    )
    .await?;
    tx.commit().await?;
    Ok(tenant)
}

pub async fn list_tenants(
    state: &AppState,
    status: Option<TenantStatus>,
    cursor: Option<Cursor>,
    limit: i64,
) -> ApiResult<Page<Tenant>> {
    let mut conn = state.operator_db.pool().acquire().await?;
    let rows = registry::list(&mut conn, status, cursor.map(|c| c.0), limit + 1).await?;
    Ok(Page::from_rows(rows, limit, |t| t.id.as_uuid()))
}

pub async fn get_tenant(state: &AppState, id: TenantId) -> ApiResult<Tenant> {
    let mut conn = state.operator_db.pool().acquire().await?;
    registry::by_id(&mut conn, id)
        .await?
        .ok_or(ApiError::NotFound)
}

pub async fn set_status(
    state: &AppState,
    ip: Option<IpAddr>,
    id: TenantId,
    status: TenantStatus,
) -> ApiResult<Tenant> {
    let mut tx = state.operator_db.begin().await?;
    let tenant = registry::set_status(&mut tx, id, status)
        .await?
        .ok_or(ApiError::NotFound)?;
    let action = match status {
        TenantStatus::Active => "tenant.resumed",
        TenantStatus::Suspended => "tenant.suspended",
    };
    insert_on(
        &mut tx,
        id,
        &Audit::new(AuditActor::Operator, action, "tenant", id).from_optional_ip(ip),
    )
    .await?;
    tx.commit().await?;
    state.resolver.invalidate_all();
    Ok(tenant)
}

pub async fn add_domain(
    state: &AppState,
    ip: Option<IpAddr>,
    id: TenantId,
    domain: DomainName,
) -> ApiResult<Tenant> {
    // Custom domains resolve before subdomains, so one under the base domain would let this
    // tenant answer for another tenant's subdomain (or for a slug not yet taken).
    if let Some(base) = state.settings.base_domain.as_deref() {
        let base = base.trim().trim_end_matches('.').to_ascii_lowercase();
        let name = domain.as_str();
        if !base.is_empty() && (name == base || name.ends_with(&format!(".{base}"))) {
            return Err(ApiError::validation(
                "domain",
                "reserved_domain",
                "domains under the platform's base domain are reserved for tenant subdomains",
            ));
        }
    }
    let mut tx = state.operator_db.begin().await?;
    registry::by_id(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    crate::billing::Access::load(&mut tx, id, &state.billing)
        .await?
        .require(crate::billing::Feature::CustomDomains)?;
    registry::add_domain(&mut tx, id, &domain)
        .await
        .on_constraint(registry::DOMAIN_TAKEN, || ApiError::Conflict {
            code: "domain_taken",
            detail: "this domain already belongs to a tenant".into(),
        })?;
    insert_on(
        &mut tx,
        id,
        &Audit::new(AuditActor::Operator, "tenant.domain_added", "tenant", id)
            .from_optional_ip(ip)
            .details(json!({ "domain": domain })),
    )
    .await?;
    let tenant = registry::by_id(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    state.resolver.invalidate_all();
    Ok(tenant)
}

pub async fn remove_domain(
    state: &AppState,
    ip: Option<IpAddr>,
    id: TenantId,
    domain: DomainName,
) -> ApiResult<()> {
    let mut tx = state.operator_db.begin().await?;
    if !registry::remove_domain(&mut tx, id, &domain).await? {
        return Err(ApiError::NotFound);
    }
    insert_on(
        &mut tx,
        id,
        &Audit::new(AuditActor::Operator, "tenant.domain_removed", "tenant", id)
            .from_optional_ip(ip)
            .details(json!({ "domain": domain })),
    )
    .await?;
    tx.commit().await?;
    state.resolver.invalidate_all();
    Ok(())
}

/// Invites a user into a tenant (typically its first admin), inside that tenant's own scope.
pub async fn invite(
    state: &AppState,
    ip: Option<IpAddr>,
    id: TenantId,
    invitation: Invitation,
) -> ApiResult<User> {
    let tenant = get_tenant(state, id).await?;
    let mut tx = state.db.begin(id).await?;
    let user = invite_in(
        state,
        &mut tx,
        &tenant,
        AuditActor::Operator,
        ip,
        invitation,
    )
    .await?;
    tx.commit().await?;
    Ok(user)
}
