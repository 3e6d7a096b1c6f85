//! SSO administration (tenant admins): connections with their sealed client secret, and email
//! domains proven by DNS.

use std::net::IpAddr;

use lms_tenants::TenantTx;
use serde_json::json;

use super::model::{ClaimedDomain, ConnectionId, DomainId, GroupRole};
use super::store::{self, ConnectionFields, ConnectionRow, DomainRow};
use crate::audit::{Audit, AuditActor};
use crate::auth::Caller;
use crate::auth::tokens::OpaqueToken;
use crate::error::{ApiError, ApiResult, OnConstraint};
use crate::state::AppState;
use crate::users::store as users;
use crate::users::{Role, UserId, UserStatus};

/// Connections a tenant may have.
pub const MAX_CONNECTIONS: i64 = 20;
const MAX_GROUP_ROLES: usize = 100;
const MAX_SCOPES: usize = 20;

/// A connection's settings as an admin gives them (already parsed).
pub struct ConnectionInput {
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    /// Required on create; `None` on update keeps the stored secret.
    pub client_secret: Option<secrecy::SecretString>,
    pub scopes: Vec<String>,
    pub email_claim: String,
    pub name_claim: String,
    pub groups_claim: String,
    pub group_roles: Vec<GroupRole>,
    pub default_role: Role,
    pub jit_provisioning: bool,
    pub sso_required: bool,
    pub break_glass_user_id: Option<UserId>,
}

fn seal_context(tenant: lms_tenants::TenantId, connection: ConnectionId) -> Vec<u8> {
    format!("sso.client_secret/{tenant}/{connection}").into_bytes()
}

/// Opens a connection's client secret.
pub fn open_client_secret(
    state: &AppState,
    tenant: lms_tenants::TenantId,
    row: &ConnectionRow,
) -> ApiResult<String> {
    let bytes = state
        .sealing
        .open(&row.sealed_client_secret, &seal_context(tenant, row.id))
        .map_err(|err| {
            anyhow::anyhow!("opening the client secret of connection {}: {err}", row.id)
        })?;
    String::from_utf8(bytes)
        .map_err(|_| anyhow::anyhow!("the client secret of {} is not UTF-8", row.id).into())
}

fn claim_name(field: &str, value: &str) -> ApiResult<()> {
    if value.is_empty()
        || value.len() > 100
        || !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.:/".contains(c))
    {
        return Err(ApiError::validation(
            field,
            "invalid_claim_name",
            "a claim name of 1 to 100 letters, digits and _-.:/",
        ));
    }
    Ok(())
}

/// Checks what a single field cannot say about itself.
async fn validate(state: &AppState, tx: &mut TenantTx, input: &ConnectionInput) -> ApiResult<()> {
    if input.name.trim().is_empty() || input.name.len() > 200 {
        return Err(ApiError::validation(
            "name",
            "invalid_name",
            "1 to 200 characters",
        ));
    }
    if input.issuer.len() > 500 {
        return Err(ApiError::validation(
            "issuer",
            "invalid_issuer",
            "at most 500 characters",
        ));
    }
    state.outbound.check_url(&input.issuer).map_err(|err| {
        ApiError::validation(
            "issuer",
            "invalid_issuer",
            format!("the issuer must be an https URL the platform may call: {err}"),
        )
    })?;
    if input.client_id.is_empty() || input.client_id.len() > 500 {
        return Err(ApiError::validation(
            "client_id",
            "invalid_client_id",
            "1 to 500 characters",
        ));
    }
    if let Some(secret) = &input.client_secret {
        use secrecy::ExposeSecret;
        let len = secret.expose_secret().len();
        if len == 0 || len > 1000 {
            return Err(ApiError::validation(
                "client_secret",
                "invalid_client_secret",
                "1 to 1000 characters",
            ));
        }
    }
    if !input.scopes.iter().any(|s| s == "openid")
        || input.scopes.len() > MAX_SCOPES
        || input.scopes.iter().any(|s| {
            s.is_empty()
                || s.len() > 100
                || !s
                    .chars()
                    .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\')
        })
    {
        return Err(ApiError::validation(
            "scopes",
            "invalid_scopes",
            "up to 20 scopes, `openid` among them, each 1 to 100 printable characters",
        ));
    }
    claim_name("email_claim", &input.email_claim)?;
    claim_name("name_claim", &input.name_claim)?;
    claim_name("groups_claim", &input.groups_claim)?;
    if input.group_roles.len() > MAX_GROUP_ROLES
        || input
            .group_roles
            .iter()
            .any(|m| m.group.is_empty() || m.group.len() > 200)
    {
        return Err(ApiError::validation(
            "group_roles",
            "invalid_group_roles",
            "up to 100 mappings, each group 1 to 200 characters",
        ));
    }
    match input.break_glass_user_id {
        Some(id) => {
            let admin = users::by_id(tx, id).await?.filter(|u| {
                u.status == UserStatus::Active && u.roles().contains(Role::TenantAdmin)
            });
            if admin.is_none() {
                return Err(ApiError::validation(
                    "break_glass_user_id",
                    "not_an_active_admin",
                    "the break-glass user must be an active tenant admin of this tenant",
                ));
            }
        }
        None if input.sso_required => {
            return Err(ApiError::validation(
                "break_glass_user_id",
                "break_glass_required",
                "requiring SSO needs a break-glass tenant admin who keeps a password",
            ));
        }
        None => {}
    }
    Ok(())
}

fn fields<'a>(input: &'a ConnectionInput, sealed: &'a [u8]) -> ConnectionFields<'a> {
    ConnectionFields {
        name: input.name.trim(),
        issuer: &input.issuer,
        client_id: &input.client_id,
        sealed_client_secret: sealed,
        scopes: &input.scopes,
        email_claim: &input.email_claim,
        name_claim: &input.name_claim,
        groups_claim: &input.groups_claim,
        group_roles: &input.group_roles,
        default_role: input.default_role,
        jit_provisioning: input.jit_provisioning,
        sso_required: input.sso_required,
        break_glass_user_id: input.break_glass_user_id,
    }
}

pub async fn create_connection(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    input: ConnectionInput,
) -> ApiResult<ConnectionRow> {
    use secrecy::ExposeSecret;
    let (mut tx, actor) = caller.begin_as(state, Role::TenantAdmin).await?;
    crate::billing::require_feature(&mut tx, &state.billing, crate::billing::Feature::Sso).await?;
    validate(state, &mut tx, &input).await?;
    let Some(secret) = &input.client_secret else {
        return Err(ApiError::validation(
            "client_secret",
            "required",
            "the client secret is required",
        ));
    };
    if store::count_connections(&mut tx).await? >= MAX_CONNECTIONS {
        return Err(ApiError::Conflict {
            code: "too_many_connections",
            detail: format!("a tenant has at most {MAX_CONNECTIONS} SSO connections"),
        });
    }
    let id = ConnectionId::default();
    let sealed = state.sealing.seal(
        secret.expose_secret().as_bytes(),
        &seal_context(caller.tenant.id, id),
    );
    let row = store::insert_connection(&mut tx, id, &fields(&input, &sealed))
        .await
        .on_constraint(store::BREAK_GLASS_MISSING, ApiError::forbidden)?;
    Audit::new(
        AuditActor::User(actor.user_id),
        "sso.connection_created",
        "sso_connection",
        row.id,
    )
    .from_ip(ip)
    .details(json!({ "issuer": row.issuer, "client_id": row.client_id }))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn update_connection(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    id: ConnectionId,
    input: ConnectionInput,
) -> ApiResult<ConnectionRow> {
    use secrecy::ExposeSecret;
    let (mut tx, actor) = caller.begin_as(state, Role::TenantAdmin).await?;
    crate::billing::require_feature(&mut tx, &state.billing, crate::billing::Feature::Sso).await?;
    let current = store::connection(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    validate(state, &mut tx, &input).await?;
    let sealed = match &input.client_secret {
        Some(secret) => state.sealing.seal(
            secret.expose_secret().as_bytes(),
            &seal_context(caller.tenant.id, id),
        ),
        None => current.sealed_client_secret.clone(),
    };
    let row = store::update_connection(&mut tx, id, &fields(&input, &sealed))
        .await?
        .ok_or(ApiError::NotFound)?;
    Audit::new(
        AuditActor::User(actor.user_id),
        "sso.connection_updated",
        "sso_connection",
        id,
    )
    .from_ip(ip)
    .details(json!({
        "issuer": row.issuer,
        "client_secret_replaced": input.client_secret.is_some(),
        "sso_required": row.sso_required,
        "jit_provisioning": row.jit_provisioning,
    }))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    state.sso.providers.forget((caller.tenant.id, id)).await;
    Ok(row)
}

pub async fn connection(
    state: &AppState,
    caller: &Caller,
    id: ConnectionId,
) -> ApiResult<ConnectionRow> {
    let (mut tx, _) = caller.begin_as(state, Role::TenantAdmin).await?;
    let row = store::connection(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(row)
}

pub async fn connections(state: &AppState, caller: &Caller) -> ApiResult<Vec<ConnectionRow>> {
    let (mut tx, _) = caller.begin_as(state, Role::TenantAdmin).await?;
    let rows = store::connections(&mut tx).await?;
    tx.commit().await?;
    Ok(rows)
}

pub async fn delete_connection(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    id: ConnectionId,
) -> ApiResult<()> {
    let (mut tx, actor) = caller.begin_as(state, Role::TenantAdmin).await?;
    if !store::delete_connection(&mut tx, id).await? {
        return Err(ApiError::NotFound);
    }
    Audit::new(
        AuditActor::User(actor.user_id),
        "sso.connection_deleted",
        "sso_connection",
        id,
    )
    .from_ip(ip)
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    state.sso.providers.forget((caller.tenant.id, id)).await;
    Ok(())
}

fn connection_missing() -> ApiError {
    ApiError::validation(
        "connection_id",
        "unknown_connection",
        "no SSO connection of this tenant has this id",
    )
}

pub async fn add_domain(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    domain: ClaimedDomain,
    connection: Option<ConnectionId>,
) -> ApiResult<DomainRow> {
    let (mut tx, actor) = caller.begin_as(state, Role::TenantAdmin).await?;
    crate::billing::require_feature(&mut tx, &state.billing, crate::billing::Feature::Sso).await?;
    if let Some(connection) = connection
        && store::connection(&mut tx, connection).await?.is_none()
    {
        return Err(connection_missing());
    }
    let token = OpaqueToken::generate();
    let row = store::insert_domain(&mut tx, domain.as_str(), token.as_str(), connection)
        .await
        .on_constraint(store::DOMAIN_TAKEN, || ApiError::Conflict {
            code: "domain_already_added",
            detail: "this tenant already claims this domain".into(),
        })?;
    Audit::new(
        AuditActor::User(actor.user_id),
        "sso.domain_added",
        "sso_domain",
        row.id,
    )
    .from_ip(ip)
    .details(json!({ "domain": row.domain }))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn domains(state: &AppState, caller: &Caller) -> ApiResult<Vec<DomainRow>> {
    let (mut tx, _) = caller.begin_as(state, Role::TenantAdmin).await?;
    let rows = store::domains(&mut tx).await?;
    tx.commit().await?;
    Ok(rows)
}

/// Routes a domain's users to a connection (or to none).
pub async fn set_domain_connection(
    state: &AppState,
    caller: &Caller,
    id: DomainId,
    connection: Option<ConnectionId>,
) -> ApiResult<DomainRow> {
    let (mut tx, _) = caller.begin_as(state, Role::TenantAdmin).await?;
    store::domain_for_update(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if let Some(connection) = connection
        && store::connection(&mut tx, connection).await?.is_none()
    {
        return Err(connection_missing());
    }
    store::set_domain_connection(&mut tx, id, connection).await?;
    let row = store::domain_for_update(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(row)
}

/// Looks the TXT record up now: found, the domain is verified (unless another tenant already
/// owns it: 409); not found, it is marked failed and can be checked again.
pub async fn verify_domain(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    id: DomainId,
) -> ApiResult<DomainRow> {
    let (mut tx, actor) = caller.begin_as(state, Role::TenantAdmin).await?;
    crate::billing::require_feature(&mut tx, &state.billing, crate::billing::Feature::Sso).await?;
    let row = store::domain_for_update(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if row.status == "verified" {
        tx.commit().await?;
        return Ok(row);
    }
    let found = state
        .sso
        .dns
        .has_token(&row.domain, &row.verification_token)
        .await
        .map_err(|err| {
            tracing::warn!(domain = %row.domain, error = %err, "domain verification lookup failed");
            ApiError::BadGateway {
                code: "dns_lookup_failed",
                detail: "the DNS lookup of the verification record failed; try again later".into(),
            }
        })?;
    store::record_check(&mut tx, &row, found)
        .await
        .on_constraint(store::DOMAIN_OWNED_ELSEWHERE, || ApiError::Conflict {
            code: "domain_owned_elsewhere",
            detail: "another organisation has already verified this domain".into(),
        })?;
    Audit::new(
        AuditActor::User(actor.user_id),
        if found {
            "sso.domain_verified"
        } else {
            "sso.domain_verification_failed"
        },
        "sso_domain",
        id,
    )
    .from_ip(ip)
    .details(json!({ "domain": row.domain }))
    .record(&mut tx)
    .await?;
    let row = store::domain_for_update(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(row)
}

pub async fn delete_domain(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    id: DomainId,
) -> ApiResult<()> {
    let (mut tx, actor) = caller.begin_as(state, Role::TenantAdmin).await?;
    if !store::delete_domain(&mut tx, id).await? {
        return Err(ApiError::NotFound);
    }
    Audit::new(
        AuditActor::User(actor.user_id),
        "sso.domain_removed",
        "sso_domain",
        id,
    )
    .from_ip(ip)
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
