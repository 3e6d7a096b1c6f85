//! `/api/v1/plugins`, `/api/v1/plugin-registry`, `/api/v1/plugin-catalog` and
//! `/api/v1/plugin-invocations`.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::grading::{self, GradeInput, GradeView};
use super::install_settings::{self, InstallSettings, InstallSettingsUpdate};
use super::model::{
    Capability, CatalogEntry, InvocationRecord, Manifest, Plugin, PluginName, PluginVersionDetail,
    PluginVersionSummary, PublisherKey, PublisherKeyId, RegistrySettings, SemVer,
};
use super::service::{self, SignatureInput};
use super::{catalog, invocations};
use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::http::{ApiJson, ApiPath, ApiQuery, ClientIp, Page, PageParams};
use crate::state::AppState;

/// Largest component accepted (10 MiB), as the host enforces it.
pub const MAX_COMPONENT_BYTES: usize = 10 << 20;
/// The upload body: the component in base64 (4/3 of its size) plus the manifest and signature.
const MAX_UPLOAD_BODY_BYTES: usize = MAX_COMPONENT_BYTES / 3 * 4 + (1 << 20);

pub fn router() -> OpenApiRouter<AppState> {
    let uploads = OpenApiRouter::new()
        .routes(routes!(list_plugins, upload_version))
        .layer(DefaultBodyLimit::max(MAX_UPLOAD_BODY_BYTES));
    OpenApiRouter::new()
        .merge(uploads)
        .routes(routes!(get_plugin))
        .routes(routes!(list_versions))
        .routes(routes!(get_version))
        .routes(routes!(install_version))
        .routes(routes!(enable_plugin))
        .routes(routes!(disable_plugin))
        .routes(routes!(rollback_plugin))
        .routes(routes!(grade))
        .routes(routes!(get_install_settings, update_install_settings))
        .routes(routes!(get_settings, update_settings))
        .routes(routes!(list_keys, add_key))
        .routes(routes!(remove_key))
        .routes(routes!(list_catalog))
        .routes(routes!(install_from_catalog))
        .routes(routes!(list_invocations))
}

fn name(raw: &str) -> ApiResult<PluginName> {
    // A name that cannot exist names nothing.
    PluginName::parse(raw).map_err(|_| ApiError::NotFound)
}

fn version(raw: &str) -> ApiResult<SemVer> {
    SemVer::parse(raw).map_err(|_| ApiError::NotFound)
}

/// The tenant's plugins, newest first (tenant admins).
#[utoipa::path(
    get, path = "/api/v1/plugins", tag = "plugins",
    params(PageParams),
    responses(
        (status = 200, body = Page<Plugin>),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn list_plugins(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<Json<Page<Plugin>>> {
    let (limit, cursor) = page.parse()?;
    Ok(Json(service::list(&state, &auth, cursor, limit).await?))
}

/// A detached Ed25519 signature by a trusted publisher key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UploadSignature {
    /// A trusted publisher key of this registry.
    key_id: PublisherKeyId,
    /// Base64 of the 64-byte Ed25519 signature over the 32-byte SHA-256 digest of the component.
    signature: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Upload {
    manifest: Manifest,
    /// The WebAssembly component, base64 (standard alphabet); at most 10 MiB once decoded.
    component: String,
    /// Required when the registry requires signatures; verified whenever present.
    signature: Option<UploadSignature>,
}

/// Uploads a plugin version (tenant admins). The component is validated (size, well-formedness,
/// imports within the `lms:plugin` WIT, exported world), compiled and pinned by SHA-256. Versions
/// are immutable: the same name and version with other bytes is 409, with the same bytes 200.
#[utoipa::path(
    post, path = "/api/v1/plugins", tag = "plugins",
    request_body = Upload,
    responses(
        (status = 201, description = "A new version", body = PluginVersionDetail),
        (status = 200, description = "This version with these bytes was already uploaded", body = PluginVersionDetail),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`rejected` (`version_conflict`: same version, other bytes), `world_mismatch`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`rejected` (`too_large`) or `payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` (manifest), `rejected` (`malformed`, `forbidden_import`, `undeclared_capability`, `exceeds_limit`, `unsupported_world`), `compile_budget_exceeded`, `signature_required`, `untrusted_publisher_key`, `invalid_signature`, `malformed_signature`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`compile_busy`: a compilation for this tenant is already running (Retry-After)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`compile_busy`: no compilation place is free on the server (Retry-After)", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn upload_version(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<Upload>,
) -> ApiResult<(StatusCode, Json<PluginVersionDetail>)> {
    // Refuse an oversize component before decoding it.
    if body.component.len() > MAX_COMPONENT_BYTES.div_ceil(3) * 4 + 4 {
        return Err(ApiError::Plugin(lms_plugin_host::PluginError::Rejected {
            reason: lms_plugin_host::RejectReason::TooLarge {
                size: body.component.len() / 4 * 3,
                limit: MAX_COMPONENT_BYTES,
            },
        }));
    }
    let component = STANDARD
        .decode(body.component.trim())
        .map_err(|_| ApiError::validation("component", "invalid_base64", "not standard base64"))?;
    let signature = body.signature.map(|s| SignatureInput {
        key_id: s.key_id,
        signature: s.signature,
    });
    let (created, version) =
        service::upload(&state, &auth, ip, body.manifest, component, signature).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(version)))
}

/// A plugin: whether it is enabled and its active version (tenant admins).
#[utoipa::path(
    get, path = "/api/v1/plugins/{name}", tag = "plugins",
    params(("name" = String, Path, min_length = 3, max_length = 64, pattern = "^[a-z][a-z0-9-]*[a-z0-9]$")),
    responses(
        (status = 200, body = Plugin),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn get_plugin(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(raw): ApiPath<String>,
) -> ApiResult<Json<Plugin>> {
    Ok(Json(service::get(&state, &auth, &name(&raw)?).await?))
}

/// A plugin's versions, newest upload first (tenant admins).
#[utoipa::path(
    get, path = "/api/v1/plugins/{name}/versions", tag = "plugins",
    params(("name" = String, Path, min_length = 3, max_length = 64, pattern = "^[a-z][a-z0-9-]*[a-z0-9]$")),
    responses(
        (status = 200, body = Vec<PluginVersionSummary>),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn list_versions(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(raw): ApiPath<String>,
) -> ApiResult<Json<Vec<PluginVersionSummary>>> {
    Ok(Json(service::versions(&state, &auth, &name(&raw)?).await?))
}

/// A version with its manifest, the capabilities it asks for and those it was granted (tenant
/// admins).
#[utoipa::path(
    get, path = "/api/v1/plugins/{name}/versions/{version}", tag = "plugins",
    params(("name" = String, Path, min_length = 3, max_length = 64, pattern = "^[a-z][a-z0-9-]*[a-z0-9]$"), ("version" = String, Path)),
    responses(
        (status = 200, body = PluginVersionDetail),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn get_version(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath((raw_name, raw_version)): ApiPath<(String, String)>,
) -> ApiResult<Json<PluginVersionDetail>> {
    Ok(Json(
        service::version(&state, &auth, &name(&raw_name)?, &version(&raw_version)?).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Grant {
    /// Exactly the capabilities the version asks for; less or more is refused.
    granted_capabilities: BTreeSet<Capability>,
}

/// Installs a version with an explicit capability grant and makes it the active version (tenant
/// admins). The grant and who made it are recorded.
#[utoipa::path(
    post, path = "/api/v1/plugins/{name}/versions/{version}/install", tag = "plugins",
    params(("name" = String, Path, min_length = 3, max_length = 64, pattern = "^[a-z][a-z0-9-]*[a-z0-9]$"), ("version" = String, Path)),
    request_body = Grant,
    responses(
        (status = 200, body = PluginVersionDetail),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`already_installed`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`capabilities_not_granted`, `capabilities_not_requested`, `validation_failed` (unknown capability)", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn install_version(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath((raw_name, raw_version)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<Grant>,
) -> ApiResult<Json<PluginVersionDetail>> {
    let (name, version) = (name(&raw_name)?, version(&raw_version)?);
    Ok(Json(
        service::install(
            &state,
            &auth,
            ip,
            &name,
            &version,
            body.granted_capabilities,
        )
        .await?,
    ))
}

/// Enables calls to the plugin's active version (tenant admins).
#[utoipa::path(
    post, path = "/api/v1/plugins/{name}/enable", tag = "plugins",
    params(("name" = String, Path, min_length = 3, max_length = 64, pattern = "^[a-z][a-z0-9-]*[a-z0-9]$")),
    responses(
        (status = 200, body = Plugin),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`not_installed`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn enable_plugin(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(raw): ApiPath<String>,
) -> ApiResult<Json<Plugin>> {
    Ok(Json(
        service::set_enabled(&state, &auth, ip, &name(&raw)?, true).await?,
    ))
}

/// Disables calls to the plugin (tenant admins); its versions stay.
#[utoipa::path(
    post, path = "/api/v1/plugins/{name}/disable", tag = "plugins",
    params(("name" = String, Path, min_length = 3, max_length = 64, pattern = "^[a-z][a-z0-9-]*[a-z0-9]$")),
    responses(
        (status = 200, body = Plugin),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn disable_plugin(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(raw): ApiPath<String>,
) -> ApiResult<Json<Plugin>> {
    Ok(Json(
        service::set_enabled(&state, &auth, ip, &name(&raw)?, false).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Rollback {
    /// An installed version earlier than the active one.
    version: String,
}

/// Moves the active version back to an earlier installed version (tenant admins).
#[utoipa::path(
    post, path = "/api/v1/plugins/{name}/rollback", tag = "plugins",
    params(("name" = String, Path, min_length = 3, max_length = 64, pattern = "^[a-z][a-z0-9-]*[a-z0-9]$")),
    request_body = Rollback,
    responses(
        (status = 200, body = Plugin),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`version_not_installed`, `not_an_earlier_version`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn rollback_plugin(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(raw): ApiPath<String>,
    ApiJson(body): ApiJson<Rollback>,
) -> ApiResult<Json<Plugin>> {
    let name = name(&raw)?;
    let to = SemVer::parse(&body.version).map_err(|e| ApiError::Validation(vec![e]))?;
    Ok(Json(
        service::rollback(&state, &auth, ip, &name, &to).await?,
    ))
}

/// An integration's install settings: its settings, the names of its secrets, the hosts it may
/// call and the event types it receives (tenant admins).
#[utoipa::path(
    get, path = "/api/v1/plugins/{name}/settings", tag = "plugins",
    params(("name" = String, Path, min_length = 3, max_length = 64, pattern = "^[a-z][a-z0-9-]*[a-z0-9]$")),
    responses(
        (status = 200, body = InstallSettings),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`not_an_integration` (a grader), `not_installed`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn get_install_settings(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(raw): ApiPath<String>,
) -> ApiResult<Json<InstallSettings>> {
    Ok(Json(
        install_settings::get(&state, &auth, &name(&raw)?).await?,
    ))
}

/// Changes an integration's install settings (tenant admins). Secrets are sealed at rest and
/// never returned; a `null` secret removes it. What the body leaves out is kept.
#[utoipa::path(
    put, path = "/api/v1/plugins/{name}/settings", tag = "plugins",
    params(("name" = String, Path, min_length = 3, max_length = 64, pattern = "^[a-z][a-z0-9-]*[a-z0-9]$")),
    request_body = InstallSettingsUpdate,
    responses(
        (status = 200, body = InstallSettings),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`not_an_integration` (a grader), `not_installed`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn update_install_settings(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(raw): ApiPath<String>,
    ApiJson(body): ApiJson<InstallSettingsUpdate>,
) -> ApiResult<Json<InstallSettings>> {
    let name = name(&raw)?;
    Ok(Json(
        install_settings::update(&state, &auth, ip, &name, body).await?,
    ))
}

/// Grades one response with the plugin's active version (instructors and tenant admins). The
/// config is checked against the plugin's config schema first. Plugin failures are typed: the
/// problem's `code` is the sandbox's (`trap`, `deadline_exceeded`, `out_of_fuel`, `memory_limit`,
/// `output_too_large`, `invalid_output`, `invalid_input`, `grader_declined`).
#[utoipa::path(
    post, path = "/api/v1/plugins/{name}/grade", tag = "plugins",
    params(("name" = String, Path, min_length = 3, max_length = 64, pattern = "^[a-z][a-z0-9-]*[a-z0-9]$")),
    request_body = GradeInput,
    responses(
        (status = 200, body = GradeView),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`plugin_disabled`, `not_installed`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` (config against the schema) or the plugin's failure code", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`overloaded`: too many calls in flight; see Retry-After", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn grade(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(raw): ApiPath<String>,
    ApiJson(body): ApiJson<GradeInput>,
) -> ApiResult<Json<GradeView>> {
    Ok(Json(
        grading::grade(&state, &auth, &name(&raw)?, body).await?,
    ))
}

/// The registry's settings (tenant admins).
#[utoipa::path(
    get, path = "/api/v1/plugin-registry", tag = "plugins",
    responses(
        (status = 200, body = RegistrySettings),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn get_settings(
    State(state): State<AppState>,
    auth: Authenticated,
) -> ApiResult<Json<RegistrySettings>> {
    Ok(Json(service::settings(&state, &auth).await?))
}

/// Changes the registry's settings (tenant admins), e.g. to require signed uploads.
#[utoipa::path(
    put, path = "/api/v1/plugin-registry", tag = "plugins",
    request_body = RegistrySettings,
    responses(
        (status = 200, body = RegistrySettings),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn update_settings(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<RegistrySettings>,
) -> ApiResult<Json<RegistrySettings>> {
    Ok(Json(
        service::update_settings(&state, &auth, ip, body).await?,
    ))
}

/// Trusted publisher keys (tenant admins).
#[utoipa::path(
    get, path = "/api/v1/plugin-registry/publisher-keys", tag = "plugins",
    responses(
        (status = 200, body = Vec<PublisherKey>),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn list_keys(
    State(state): State<AppState>,
    auth: Authenticated,
) -> ApiResult<Json<Vec<PublisherKey>>> {
    Ok(Json(service::keys(&state, &auth).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewKey {
    /// Trimmed; 1 to 200 characters on one line naming the publisher, no control characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    name: String,
    /// The 32-byte Ed25519 public key, base64.
    public_key: String,
}

/// Trusts a publisher's Ed25519 key for signed uploads (tenant admins).
#[utoipa::path(
    post, path = "/api/v1/plugin-registry/publisher-keys", tag = "plugins",
    request_body = NewKey,
    responses(
        (status = 201, body = PublisherKey),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`key_exists`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn add_key(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<NewKey>,
) -> ApiResult<(StatusCode, Json<PublisherKey>)> {
    let mut errors = Vec::new();
    let key_name = body.name.trim();
    if key_name.is_empty()
        || key_name.chars().count() > 200
        || key_name.chars().any(char::is_control)
    {
        errors.push(FieldError::new(
            "name",
            "invalid_text",
            "1 to 200 characters on one line",
        ));
    }
    let key = super::signature::parse_public_key(&body.public_key);
    if key.is_none() {
        errors.push(FieldError::new(
            "public_key",
            "invalid_public_key",
            "a 32-byte Ed25519 public key in base64",
        ));
    }
    let Some(key) = key.filter(|_| errors.is_empty()) else {
        return Err(ApiError::Validation(errors));
    };
    Ok((
        StatusCode::CREATED,
        Json(service::add_key(&state, &auth, ip, key_name, &key).await?),
    ))
}

/// Stops trusting a publisher key (tenant admins); versions it signed stay.
#[utoipa::path(
    delete, path = "/api/v1/plugin-registry/publisher-keys/{id}", tag = "plugins",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn remove_key(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<PublisherKeyId>,
) -> ApiResult<StatusCode> {
    service::remove_key(&state, &auth, ip, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The platform's first-party plugins, installable by any tenant (tenant admins).
#[utoipa::path(
    get, path = "/api/v1/plugin-catalog", tag = "plugins",
    responses(
        (status = 200, body = Vec<CatalogEntry>),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn list_catalog(
    State(state): State<AppState>,
    auth: Authenticated,
) -> ApiResult<Json<Vec<CatalogEntry>>> {
    let (mut tx, _) = service::begin_admin(&state, &auth).await?;
    let rows = catalog::entries(&mut tx).await?;
    tx.commit().await?;
    Ok(Json(
        rows.iter().map(catalog::CatalogRow::to_entry).collect(),
    ))
}

/// Installs a first-party plugin into the tenant's registry in one call (tenant admins): the
/// version is added, installed with the grant, made active and enabled.
#[utoipa::path(
    post, path = "/api/v1/plugin-catalog/{name}/install", tag = "plugins",
    params(("name" = String, Path, min_length = 3, max_length = 64, pattern = "^[a-z][a-z0-9-]*[a-z0-9]$")),
    request_body = Grant,
    responses(
        (status = 200, body = Plugin),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`rejected` (`version_conflict`: the tenant has this version with other bytes), `world_mismatch`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`capabilities_not_granted`, `capabilities_not_requested`, `rejected`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn install_from_catalog(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(raw): ApiPath<String>,
    ApiJson(body): ApiJson<Grant>,
) -> ApiResult<Json<Plugin>> {
    let name = name(&raw)?;
    Ok(Json(
        service::install_from_catalog(&state, &auth, ip, &name, body.granted_capabilities).await?,
    ))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct InvocationParams {
    /// Only this plugin's invocations.
    plugin: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^[A-Za-z0-9_-]{21}[AQgw]$")]
    cursor: Option<String>,
}

/// The tenant's most recent plugin invocations, newest first (tenant admins). Only the newest
/// 1,000 per tenant are kept.
#[utoipa::path(
    get, path = "/api/v1/plugin-invocations", tag = "plugins",
    params(InvocationParams),
    responses(
        (status = 200, body = Page<InvocationRecord>),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn list_invocations(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(params): ApiQuery<InvocationParams>,
) -> ApiResult<Json<Page<InvocationRecord>>> {
    let (limit, cursor) = PageParams {
        limit: params.limit,
        cursor: params.cursor,
    }
    .parse()?;
    let plugin = params
        .plugin
        .as_deref()
        .map(PluginName::parse)
        .transpose()
        .map_err(|e| {
            ApiError::Validation(vec![FieldError {
                field: "plugin".into(),
                ..e
            }])
        })?;
    Ok(Json(
        invocations::list(&state, &auth, plugin.as_ref(), cursor, limit).await?,
    ))
}
