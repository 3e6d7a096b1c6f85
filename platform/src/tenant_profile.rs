//! `/api/v1/tenant`: the public branding a white-labelled app needs, and the tenant admin's
//! editing of name, branding and settings.

use axum::Json;
use axum::extract::State;
use lms_tenants::{Branding, Tenant, TenantSettings};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::{Audit, AuditActor};
use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::http::{ApiJson, ClientIp, CurrentTenant};
use crate::state::AppState;
use crate::users::Role;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_tenant, update_tenant))
}

/// What anyone may learn about a tenant from its host.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicTenant {
    #[schema(value_type = String)]
    pub slug: String,
    pub display_name: String,
    pub branding: Branding,
    /// Whether the sign-up screen should be offered.
    pub self_registration: bool,
}

impl From<&Tenant> for PublicTenant {
    fn from(t: &Tenant) -> Self {
        Self {
            slug: t.slug.to_string(),
            display_name: t.display_name.clone(),
            branding: t.branding.clone(),
            self_registration: t.settings.self_registration,
        }
    }
}

/// The tenant this host or `X-Tenant` header names, with its branding.
#[utoipa::path(
    get, path = "/api/v1/tenant", tag = "tenant",
    params(("X-Tenant" = Option<String>, Header, description = "Tenant slug, when the host does not name the tenant")),
    security(()),
    responses(
        (status = 200, body = PublicTenant),
        (status = 403, description = "`tenant_suspended`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn get_tenant(CurrentTenant(tenant): CurrentTenant) -> Json<PublicTenant> {
    Json(PublicTenant::from(&tenant))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateTenant {
    /// Trimmed; 1 to 200 characters, no control characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    display_name: Option<String>,
    /// Replaces the branding as a whole.
    branding: Option<Branding>,
    settings: Option<TenantSettings>,
}

/// Updates the tenant's name, branding or settings (tenant admins).
#[utoipa::path(
    patch, path = "/api/v1/tenant", tag = "tenant",
    request_body = UpdateTenant,
    responses(
        (status = 200, body = PublicTenant),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn update_tenant(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<UpdateTenant>,
) -> ApiResult<Json<PublicTenant>> {
    let display_name = body
        .display_name
        .as_deref()
        .map(parse_display_name)
        .transpose()?;
    if let Some(branding) = &body.branding {
        branding.validate().map_err(|(field, err)| {
            ApiError::Validation(vec![FieldError::new(
                format!("branding.{field}"),
                err.code,
                err.message,
            )])
        })?;
    }
    let (mut tx, actor) = auth.begin(&state).await?;
    actor.require(Role::TenantAdmin)?;
    let branding = body
        .branding
        .as_ref()
        .map(serde_json::to_value)
        .transpose()
        .map_err(anyhow::Error::from)?;
    let settings = body
        .settings
        .as_ref()
        .map(serde_json::to_value)
        .transpose()
        .map_err(anyhow::Error::from)?;
    lms_tenants::update_profile(
        &mut tx,
        display_name.as_deref(),
        branding.as_ref(),
        settings.as_ref(),
    )
    .await?;
    Audit::new(
        AuditActor::User(actor.user_id),
        "tenant.updated",
        "tenant",
        auth.tenant.id,
    )
    .from_ip(ip)
    .details(json!({
        "display_name": body.display_name.is_some(),
        "branding": body.branding.is_some(),
        "settings": body.settings,
    }))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    state.resolver.invalidate_all();
    let mut tenant = auth.tenant.clone();
    if let Some(name) = display_name {
        tenant.display_name = name;
    }
    if let Some(branding) = body.branding {
        tenant.branding = branding;
    }
    if let Some(settings) = body.settings {
        tenant.settings = settings;
    }
    Ok(Json(PublicTenant::from(&tenant)))
}

fn parse_display_name(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(ApiError::validation(
            "display_name",
            "invalid_display_name",
            "1 to 200 characters",
        ));
    }
    Ok(name.to_owned())
}
