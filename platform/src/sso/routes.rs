//! `/api/v1/sso/*` (tenant admins: connections and email domains) and `/api/v1/auth/sso/*`
//! (the sign-in: start, the provider's callback, the one-time code exchange).

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::dns;
use super::login::{self, CallbackParams, Delivery, FLOW_COOKIE, Finished, Start};
use super::model::{ClaimedDomain, ConnectionId, DomainId, GroupRole, ReturnTo};
use super::service::{self, ConnectionInput};
use super::store::{ConnectionRow, DomainRow};
use crate::auth::Authenticated;
use crate::auth::cookies::{self, SessionCookies};
use crate::auth::routes::{SessionKind, SessionResponse, session_response};
use crate::auth::service::refresh_ttl_seconds;
use crate::auth::tokens::ACCESS_TOKEN_TTL;
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::{ApiJson, ApiPath, ApiQuery, ClientIp, CurrentTenant};
use crate::state::AppState;
use crate::users::{Role, UserId};

/// Admin routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_connections, create_connection))
        .routes(routes!(
            get_connection,
            update_connection,
            delete_connection
        ))
        .routes(routes!(list_domains, add_domain))
        .routes(routes!(route_domain, delete_domain))
        .routes(routes!(verify_domain))
}

/// Sign-in routes; the strict auth rate limit applies to them.
pub fn credential_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start))
        .routes(routes!(callback))
        .routes(routes!(exchange))
}

fn default_scopes() -> Vec<String> {
    ["openid", "email", "profile"].map(str::to_owned).to_vec()
}
fn default_email_claim() -> String {
    "email".into()
}
fn default_name_claim() -> String {
    "name".into()
}
fn default_groups_claim() -> String {
    "groups".into()
}
fn default_role() -> Role {
    Role::Learner
}

/// An SSO connection's settings.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SsoConnectionRequest {
    #[schema(min_length = 1, max_length = 200)]
    name: String,
    /// The provider's issuer, exactly as its discovery document
    /// (`<issuer>/.well-known/openid-configuration`) states it; https.
    #[schema(max_length = 500)]
    issuer: String,
    #[schema(min_length = 1, max_length = 500)]
    client_id: String,
    /// Required when creating; omit on update to keep the stored one. Stored encrypted and
    /// never returned.
    #[schema(value_type = Option<String>, min_length = 1, max_length = 1000, write_only)]
    client_secret: Option<secrecy::SecretString>,
    /// Default `openid email profile`; must contain `openid`.
    #[serde(default = "default_scopes")]
    scopes: Vec<String>,
    /// The ID token claim holding the email address (default `email`).
    #[serde(default = "default_email_claim")]
    email_claim: String,
    /// The claim holding the display name (default `name`).
    #[serde(default = "default_name_claim")]
    name_claim: String,
    /// The claim holding the user's groups (default `groups`).
    #[serde(default = "default_groups_claim")]
    groups_claim: String,
    /// A user gets the roles of every mapped group they are in, else `default_role`;
    /// recomputed at every sign-in.
    #[serde(default)]
    group_roles: Vec<GroupRole>,
    #[serde(default = "default_role")]
    default_role: Role,
    /// Create accounts at first sign-in (only for emails of verified domains). Default off.
    #[serde(default)]
    jit_provisioning: bool,
    /// Users of the domains routed here may not use passwords (sign-in, reset, registration,
    /// refresh of a password session); needs `break_glass_user_id`.
    #[serde(default)]
    sso_required: bool,
    /// A tenant admin who keeps a password while SSO is required.
    break_glass_user_id: Option<UserId>,
}

impl From<SsoConnectionRequest> for ConnectionInput {
    fn from(r: SsoConnectionRequest) -> Self {
        Self {
            name: r.name,
            issuer: r.issuer,
            client_id: r.client_id,
            client_secret: r.client_secret,
            scopes: r.scopes,
            email_claim: r.email_claim,
            name_claim: r.name_claim,
            groups_claim: r.groups_claim,
            group_roles: r.group_roles,
            default_role: r.default_role,
            jit_provisioning: r.jit_provisioning,
            sso_required: r.sso_required,
            break_glass_user_id: r.break_glass_user_id,
        }
    }
}

/// An SSO connection (the client secret is never shown).
#[derive(Debug, Serialize, ToSchema)]
struct SsoConnection {
    id: ConnectionId,
    name: String,
    issuer: String,
    client_id: String,
    /// Always true: a secret is stored (encrypted); it is never returned.
    client_secret_set: bool,
    scopes: Vec<String>,
    email_claim: String,
    name_claim: String,
    groups_claim: String,
    group_roles: Vec<GroupRole>,
    default_role: Role,
    jit_provisioning: bool,
    sso_required: bool,
    break_glass_user_id: Option<UserId>,
    /// Register this redirect URI at the provider.
    redirect_uri: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn connection_dto(
    state: &AppState,
    tenant: &lms_tenants::Tenant,
    row: ConnectionRow,
) -> SsoConnection {
    SsoConnection {
        id: row.id,
        name: row.name,
        issuer: row.issuer,
        client_id: row.client_id,
        client_secret_set: true,
        scopes: row.scopes,
        email_claim: row.email_claim,
        name_claim: row.name_claim,
        groups_claim: row.groups_claim,
        group_roles: row.group_roles.0,
        default_role: row.default_role,
        jit_provisioning: row.jit_provisioning,
        sso_required: row.sso_required,
        break_glass_user_id: row.break_glass_user_id,
        redirect_uri: login::redirect_uri(state, tenant),
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

/// The tenant's SSO connections (tenant admins).
#[utoipa::path(
    get, path = "/api/v1/sso/connections", tag = "sso",
    responses(
        (status = 200, body = Vec<SsoConnection>),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn list_connections(
    State(state): State<AppState>,
    auth: Authenticated,
) -> ApiResult<Json<Vec<SsoConnection>>> {
    let rows = service::connections(&state, &auth).await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| connection_dto(&state, &auth.tenant, r))
            .collect(),
    ))
}

/// Adds an OpenID Connect provider (tenant admins). The client secret is sealed with a key
/// outside the database and never returned.
#[utoipa::path(
    post, path = "/api/v1/sso/connections", tag = "sso",
    request_body = SsoConnectionRequest,
    responses(
        (status = 201, body = SsoConnection),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`too_many_connections`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn create_connection(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<SsoConnectionRequest>,
) -> ApiResult<(StatusCode, Json<SsoConnection>)> {
    let row = service::create_connection(&state, &auth, ip, body.into()).await?;
    Ok((
        StatusCode::CREATED,
        Json(connection_dto(&state, &auth.tenant, row)),
    ))
}

/// One SSO connection (tenant admins).
#[utoipa::path(
    get, path = "/api/v1/sso/connections/{id}", tag = "sso",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = SsoConnection),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn get_connection(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(id): ApiPath<ConnectionId>,
) -> ApiResult<Json<SsoConnection>> {
    let row = service::connection(&state, &auth, id).await?;
    Ok(Json(connection_dto(&state, &auth.tenant, row)))
}

/// Replaces an SSO connection's settings (tenant admins); without `client_secret` the stored
/// secret is kept.
#[utoipa::path(
    put, path = "/api/v1/sso/connections/{id}", tag = "sso",
    params(("id" = String, Path, format = Uuid)),
    request_body = SsoConnectionRequest,
    responses(
        (status = 200, body = SsoConnection),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn update_connection(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<ConnectionId>,
    ApiJson(body): ApiJson<SsoConnectionRequest>,
) -> ApiResult<Json<SsoConnection>> {
    let row = service::update_connection(&state, &auth, ip, id, body.into()).await?;
    Ok(Json(connection_dto(&state, &auth.tenant, row)))
}

/// Removes an SSO connection with its linked identities (tenant admins); its domains stay,
/// routed nowhere.
#[utoipa::path(
    delete, path = "/api/v1/sso/connections/{id}", tag = "sso",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn delete_connection(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<ConnectionId>,
) -> ApiResult<StatusCode> {
    service::delete_connection(&state, &auth, ip, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The state of a domain's proof of ownership.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum SsoDomainStatus {
    /// Waiting for the TXT record to be checked.
    Pending,
    /// Proven: home-realm discovery and SSO sign-ins accept its addresses.
    Verified,
    /// The last check found no record; publish it and check again.
    Failed,
}

/// An email domain the tenant claims.
#[derive(Debug, Serialize, ToSchema)]
struct SsoDomain {
    id: DomainId,
    domain: String,
    status: SsoDomainStatus,
    /// Publish a TXT record with this name ...
    txt_record_name: String,
    /// ... and this value, then call `POST /api/v1/sso/domains/{id}/verify`.
    txt_record_value: String,
    /// The connection this domain's users sign in with.
    connection_id: Option<ConnectionId>,
    verified_at: Option<DateTime<Utc>>,
    last_checked_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

impl From<DomainRow> for SsoDomain {
    fn from(row: DomainRow) -> Self {
        Self {
            id: row.id,
            txt_record_name: format!("{}.{}", dns::RECORD_PREFIX, row.domain),
            txt_record_value: format!("{}{}", dns::VALUE_PREFIX, row.verification_token),
            status: match row.status.as_str() {
                "verified" => SsoDomainStatus::Verified,
                "failed" => SsoDomainStatus::Failed,
                _ => SsoDomainStatus::Pending,
            },
            domain: row.domain,
            connection_id: row.connection_id,
            verified_at: row.verified_at,
            last_checked_at: row.last_checked_at,
            created_at: row.created_at,
        }
    }
}

/// The tenant's email domains (tenant admins).
#[utoipa::path(
    get, path = "/api/v1/sso/domains", tag = "sso",
    responses(
        (status = 200, body = Vec<SsoDomain>),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn list_domains(
    State(state): State<AppState>,
    auth: Authenticated,
) -> ApiResult<Json<Vec<SsoDomain>>> {
    let rows = service::domains(&state, &auth).await?;
    Ok(Json(rows.into_iter().map(SsoDomain::from).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SsoDomainRequest {
    /// e.g. `example.com`; public mailbox providers (gmail.com, outlook.com …) are refused.
    #[schema(max_length = 253)]
    domain: String,
    /// The connection its users sign in with.
    connection_id: Option<ConnectionId>,
}

/// Claims an email domain (tenant admins): the answer names the TXT record that proves it.
#[utoipa::path(
    post, path = "/api/v1/sso/domains", tag = "sso",
    request_body = SsoDomainRequest,
    responses(
        (status = 201, body = SsoDomain),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`domain_already_added`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn add_domain(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<SsoDomainRequest>,
) -> ApiResult<(StatusCode, Json<SsoDomain>)> {
    let domain = ClaimedDomain::parse(&body.domain)?;
    let row = service::add_domain(&state, &auth, ip, domain, body.connection_id).await?;
    Ok((StatusCode::CREATED, Json(row.into())))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SsoDomainRouting {
    /// The connection this domain's users sign in with; null for none.
    connection_id: Option<ConnectionId>,
}

/// Routes a domain's users to a connection (tenant admins).
#[utoipa::path(
    put, path = "/api/v1/sso/domains/{id}", tag = "sso",
    params(("id" = String, Path, format = Uuid)),
    request_body = SsoDomainRouting,
    responses(
        (status = 200, body = SsoDomain),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn route_domain(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(id): ApiPath<DomainId>,
    ApiJson(body): ApiJson<SsoDomainRouting>,
) -> ApiResult<Json<SsoDomain>> {
    let row = service::set_domain_connection(&state, &auth, id, body.connection_id).await?;
    Ok(Json(row.into()))
}

/// Gives up a domain (tenant admins); a verified one becomes free for others to claim.
#[utoipa::path(
    delete, path = "/api/v1/sso/domains/{id}", tag = "sso",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn delete_domain(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<DomainId>,
) -> ApiResult<StatusCode> {
    service::delete_domain(&state, &auth, ip, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Checks the domain's TXT record now (tenant admins): found, the domain is verified; not
/// found, it is `failed` and can be checked again. A domain has one verified owner across all
/// organisations.
#[utoipa::path(
    post, path = "/api/v1/sso/domains/{id}/verify", tag = "sso",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = SsoDomain),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`domain_owned_elsewhere`: another organisation verified it first", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "`dns_lookup_failed`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn verify_domain(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<DomainId>,
) -> ApiResult<Json<SsoDomain>> {
    let row = service::verify_domain(&state, &auth, ip, id).await?;
    Ok(Json(row.into()))
}

/// How the callback hands over the session.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum SsoDelivery {
    /// A cookie session, then a redirect to `return_to` (web apps served here).
    #[default]
    Cookie,
    /// A redirect to `return_to` with `sso_code=<one-time code>` to exchange at
    /// `POST /api/v1/auth/sso/exchange` (SPAs and mobile apps; never tokens in a URL).
    Code,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct StartParams {
    /// Home-realm discovery: the connection of this address's verified domain.
    email: Option<String>,
    /// Or a connection by id.
    #[param(value_type = Option<String>, format = Uuid)]
    connection: Option<ConnectionId>,
    /// A path on this site to land on afterwards (default `/`); anything else is refused.
    return_to: Option<String>,
    #[serde(default)]
    #[param(inline)]
    delivery: SsoDelivery,
}

/// Starts an SSO sign-in: 302 to the organisation's identity provider, with state, nonce and
/// a PKCE (S256) challenge kept on the server (single use, 10 minutes, bound to tenant,
/// connection and this browser). Give `email` (home-realm discovery through verified domains
/// only) or `connection`.
#[utoipa::path(
    get, path = "/api/v1/auth/sso/start", tag = "sso",
    params(StartParams),
    security(()),
    responses(
        (status = 302, description = "To the identity provider's authorization endpoint"),
        (status = 404, description = "`not_found`: no SSO for this address or connection", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: a malformed `email` (field `email`) or a `return_to` that is not a path on this site (field `return_to`, `invalid_return_to`)", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "`sso_provider_unavailable`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn start(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    jar: CookieJar,
    ApiQuery(params): ApiQuery<StartParams>,
) -> ApiResult<Response> {
    let from = match (params.email, params.connection) {
        (Some(email), None) => Start::Email(email),
        (None, Some(id)) => Start::Connection(id),
        _ => {
            return Err(ApiError::BadRequest {
                code: "invalid_query",
                detail: "give either `email` or `connection`".into(),
            });
        }
    };
    let return_to = ReturnTo::parse(params.return_to.as_deref())?;
    let delivery = match params.delivery {
        SsoDelivery::Cookie => Delivery::Cookie,
        SsoDelivery::Code => Delivery::Code,
    };
    let started = login::start(&state, &tenant, from, return_to, delivery).await?;
    let ttl = u64::try_from(login::LOGIN_TTL_SECONDS).unwrap_or(600);
    // Lax: the provider brings the browser back with a cross-site top-level GET.
    let jar = jar.add(cookies::session_cookie(
        FLOW_COOKIE,
        &started.state,
        ttl,
        false,
    ));
    Ok(redirect(jar, &started.location))
}

fn redirect(jar: CookieJar, location: &str) -> Response {
    (
        StatusCode::FOUND,
        jar,
        [
            (header::LOCATION, location.to_owned()),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
    )
        .into_response()
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct CallbackQuery {
    state: Option<String>,
    code: Option<String>,
    /// The provider's error code, when it did not sign the user in.
    error: Option<String>,
    error_description: Option<String>,
    /// The provider's issuer (RFC 9207); must be the connection's when sent.
    iss: Option<String>,
    session_state: Option<String>,
}

/// The identity provider's redirect back: checks the state (single use, this browser's),
/// exchanges the code with the PKCE verifier, verifies the ID token (issuer, audience, expiry,
/// nonce, signature algorithm and key) and signs the user in: a cookie session and a 302 to
/// `return_to`, or a 302 to `return_to?sso_code=…`. IdP-initiated sign-ins are refused.
#[utoipa::path(
    get, path = "/api/v1/auth/sso/callback", tag = "sso",
    params(CallbackQuery),
    security(()),
    responses(
        (status = 302, description = "Signed in: to `return_to` (with session cookies, or with `sso_code`)"),
        (status = 400, description = "`sso_login_not_started` (no state: IdP-initiated or forged) or `sso_code_missing`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`sso_state_invalid` (unknown, used, expired or another browser's), `sso_provider_error`, `sso_issuer_mismatch`, `sso_code_refused` or `sso_id_token_invalid` (wrong issuer, audience, nonce, expired, disallowed algorithm, bad signature)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`sso_email_missing`, `sso_email_unverified`, `sso_email_domain_not_verified`, `sso_user_not_provisioned` or `account_inactive`", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "`sso_provider_unavailable`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn callback(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    ApiQuery(query): ApiQuery<CallbackQuery>,
) -> ApiResult<Response> {
    let _ = (query.error_description, query.session_state);
    let params = CallbackParams {
        state: query.state,
        code: query.code,
        error: query.error,
        iss: query.iss,
        flow_cookie: jar.get(FLOW_COOKIE).map(|c| c.value().to_owned()),
    };
    let mut gone = cookies::session_cookie(FLOW_COOKIE, "", 0, false);
    gone.make_removal();
    let jar = jar.add(gone);
    match login::callback(&state, &tenant, ip, params).await? {
        Finished::Session { session, return_to } => {
            let jar = match &session.csrf_token {
                Some(csrf) => cookies::set_session(
                    jar,
                    &SessionCookies {
                        access_token: &session.access_token,
                        access_ttl_seconds: ACCESS_TOKEN_TTL.as_secs(),
                        refresh_token: &session.refresh_token,
                        refresh_ttl_seconds: refresh_ttl_seconds(),
                        csrf_token: csrf,
                    },
                ),
                None => jar,
            };
            Ok(redirect(jar, &return_to))
        }
        Finished::Code { code, return_to } => {
            let separator = if return_to.contains('?') { '&' } else { '?' };
            Ok(redirect(
                jar,
                &format!("{return_to}{separator}sso_code={code}"),
            ))
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SsoExchangeRequest {
    /// The `sso_code` the callback appended to the return path.
    #[schema(max_length = 200)]
    code: String,
    #[serde(default)]
    session: SessionKind,
}

/// Exchanges the one-time code of an SSO sign-in for a session (once, within a minute).
#[utoipa::path(
    post, path = "/api/v1/auth/sso/exchange", tag = "sso",
    request_body = SsoExchangeRequest,
    security(()),
    responses(
        (status = 200, body = SessionResponse),
        (status = 401, description = "`sso_code_invalid`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn exchange(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    jar: CookieJar,
    ApiJson(body): ApiJson<SsoExchangeRequest>,
) -> ApiResult<Response> {
    let mode = body.session.into();
    let session = login::exchange_code(&state, &tenant, &body.code, mode).await?;
    Ok(session_response(jar, session, mode, StatusCode::OK))
}
