//! What anyone may read without signing in: the tenant's DID document and signed revocation
//! list on its own host, and the verification of a certificate, by id (`/verify/{id}`, a page
//! in the issuing tenant's branding or JSON) or by posting its credential (`POST /verify`).
//!
//! Verification is the one place that reads across tenants: a certificate id or an issuer DID
//! may name any tenant's. It does so as the operator role, reading only what the credential's
//! verifier may know (the credential, the issuer's public keys and its revoked indexes), and
//! shows only what the credential itself states.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::Utc;
use lms_tenants::{Resolution, Tenant, TenantId};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::credential::Issuer;
use super::keys::{self, PublicKey};
use super::model::CertificateId;
use super::verify::{self, Published, Verification};
use super::{did, proof, status_list, store};
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::{ApiJson, ApiPath, CurrentTenant};
use crate::state::AppState;

/// The largest credential `POST /verify` reads.
pub const MAX_CREDENTIAL_BYTES: usize = 64 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(did_document))
        .routes(routes!(revocation_list))
        .routes(routes!(verify_by_id))
        .routes(routes!(verify_posted))
}

/// The tenant's `did:web` DID document: its issuer keys as Multikeys for assertions.
#[utoipa::path(
    get, path = "/.well-known/did.json", tag = "certificates",
    security(()),
    responses(
        (status = 200, description = "A DID document (`application/did+json`)", body = Object, content_type = "application/did+json"),
        (status = 404, description = "No tenant answers to the host (`not_found`)", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn did_document(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
) -> ApiResult<Response> {
    let issuer = Issuer::of(&state.settings, &tenant);
    let mut tx = state.db.begin(tenant.id).await?;
    let published = keys::published(&mut tx).await?;
    tx.commit().await?;
    let body = did::document(&issuer.did, &published);
    Ok(with_type(
        Json(body).into_response(),
        "application/did+json",
    ))
}

/// The tenant's revocation list: a `BitstringStatusListCredential` signed now by its current key.
#[utoipa::path(
    get, path = "/credentials/status/revocation", tag = "certificates",
    security(()),
    responses(
        (status = 200, description = "A signed status list credential (`application/vc+ld+json`)", body = Object, content_type = "application/vc+ld+json"),
        (status = 404, description = "No tenant answers to the host (`not_found`)", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn revocation_list(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
) -> ApiResult<Response> {
    let issuer = Issuer::of(&state.settings, &tenant);
    let mut tx = state.db.begin(tenant.id).await?;
    let key = keys::current(&mut tx, &state.sealing).await?;
    let revoked = store::revoked_indexes(&mut tx).await?;
    tx.commit().await?;
    let now = chrono::DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap_or_else(Utc::now);
    let unsigned = status_list::credential(&issuer.did, &issuer.link_base, &revoked, now);
    let signed = proof::sign(
        &unsigned,
        &did::verification_method(&issuer.did, key.id),
        now,
        &key.signing,
    )
    .map_err(|err| ApiError::Internal(anyhow::anyhow!("signing the status list: {err}")))?;
    Ok(with_type(
        Json(signed).into_response(),
        "application/vc+ld+json",
    ))
}

fn with_type(mut response: Response, media_type: &'static str) -> Response {
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    response
}

/// The tenant that issues as `did`, and its published material.
struct IssuerMaterial {
    tenant: Tenant,
    link_base: String,
    keys: Vec<PublicKey>,
    revoked: Vec<i32>,
}

impl IssuerMaterial {
    fn published<'a>(&'a self, did: &'a str) -> Published<'a> {
        Published {
            did,
            link_base: &self.link_base,
            keys: &self.keys,
            revoked: &self.revoked,
        }
    }
}

/// Finds the tenant whose host the DID names and reads its keys and revocations.
async fn issuer_material(state: &AppState, did: &str) -> ApiResult<Option<IssuerMaterial>> {
    let Some(host) = did::host_of(did) else {
        return Ok(None);
    };
    let tenant = match state.resolver.resolve(Some(&host), None).await? {
        Resolution::Active(tenant) | Resolution::Suspended(tenant) => *tenant,
        Resolution::Unknown => return Ok(None),
    };
    let own = Issuer::of(&state.settings, &tenant);
    let link_base = if own.did == did {
        own.link_base
    } else {
        format!("https://{host}")
    };
    let mut conn = state.operator_db.pool().acquire().await?;
    let keys: Vec<PublicKey> = sqlx::query_as(
        "select id, public_key, created_at, retired_at from certificate_issuer_keys
         where tenant_id = $1 order by id",
    )
    .bind(tenant.id)
    .fetch_all(&mut *conn)
    .await?;
    let revoked: Vec<i32> = sqlx::query_scalar(
        "select status_index from certificates where tenant_id = $1 and revoked_at is not null",
    )
    .bind(tenant.id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Some(IssuerMaterial {
        tenant,
        link_base,
        keys,
        revoked,
    }))
}

/// A verification and the certificate it concerns.
#[derive(Debug, Serialize, ToSchema)]
pub struct CertificateVerification {
    pub certificate_id: CertificateId,
    #[serde(flatten)]
    pub verification: Verification,
    /// The signed credential, as its holder presents it.
    #[schema(value_type = Object)]
    pub credential_document: Value,
}

/// Verifies a certificate by its id and says valid, revoked or expired (or invalid): a page in
/// the issuing tenant's branding, or JSON when the request accepts `application/json` and not
/// `text/html`. It shows only what the credential states.
#[utoipa::path(
    get, path = "/verify/{id}", tag = "certificates",
    security(()),
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, description = "The verification", content(
            (CertificateVerification = "application/json"),
            (String = "text/html"),
        )),
        (status = 400, description = "The id is not a UUID (`invalid_path_parameter`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No certificate has this id (`not_found`)", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn verify_by_id(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<CertificateId>,
) -> ApiResult<Response> {
    let found: Option<(TenantId, Option<Value>)> = {
        let mut conn = state.operator_db.pool().acquire().await?;
        sqlx::query_as("select tenant_id, credential from certificates where id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
    };
    let Some((tenant_id, Some(credential))) = found else {
        return Err(ApiError::NotFound);
    };
    let did = verify::issuer_of(&credential)
        .unwrap_or_default()
        .to_owned();
    let material = issuer_material(&state, &did)
        .await?
        .filter(|m| m.tenant.id == tenant_id);
    let verification = verify::verify(
        &credential,
        material.as_ref().map(|m| m.published(&did)).as_ref(),
        Utc::now(),
    );
    let answer = CertificateVerification {
        certificate_id: id,
        verification,
        credential_document: credential,
    };
    if wants_json(&headers) {
        return Ok(Json(answer).into_response());
    }
    let branding = material.as_ref().map(|m| &m.tenant.branding);
    Ok(Html(super::page::render(&answer, branding)?).into_response())
}

/// JSON unless the client asks for HTML (browsers do) more than for JSON.
fn wants_json(headers: &HeaderMap) -> bool {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let json = accept.contains("application/json") || accept.contains("+json");
    json && !accept.contains("text/html")
}

/// Verifies a posted credential (JSON-LD with its proof, at most 64 KiB) issued by any tenant of
/// the platform. A credential of another issuer, or one that does not verify, is `invalid`.
#[utoipa::path(
    post, path = "/verify", tag = "certificates",
    security(()),
    request_body(content = Object, description = "An OpenBadgeCredential with its Data Integrity proof"),
    responses(
        (status = 200, body = Verification),
        (status = 400, description = "The body is not JSON (`malformed_json`)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is larger than the platform accepts", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not `application/json` (`unsupported_media_type`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`not_a_credential`: the body is not a JSON object of at most 64 KiB", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn verify_posted(
    State(state): State<AppState>,
    ApiJson(credential): ApiJson<Value>,
) -> ApiResult<Json<Verification>> {
    let size = serde_json::to_vec(&credential)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if !credential.is_object() || size > MAX_CREDENTIAL_BYTES {
        return Err(ApiError::Unprocessable {
            code: "not_a_credential",
            detail: format!(
                "a credential is a JSON object of at most {MAX_CREDENTIAL_BYTES} bytes"
            ),
        });
    }
    let did = verify::issuer_of(&credential)
        .unwrap_or_default()
        .to_owned();
    let material = issuer_material(&state, &did).await?;
    Ok(Json(verify::verify(
        &credential,
        material.as_ref().map(|m| m.published(&did)).as_ref(),
        Utc::now(),
    )))
}
