//! The tenant's SCIM tokens, kept by tenant admins through the normal API: created (the secret
//! is shown once), listed without secrets, rotated (a new secret, the old one refused at once)
//! and revoked. Every change is audited.

use std::net::IpAddr;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::secret::ScimSecret;
use super::store::{self, TokenRow};
use crate::audit::{Audit, AuditActor};
use crate::auth::{Authenticated, Caller};
use crate::error::{ApiError, ApiResult};
use crate::http::{ApiPath, ClientIp, MaybeJson};
use crate::state::AppState;
use crate::users::{Role, UserId};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(rotate_token))
        .routes(routes!(revoke_token))
}

/// A SCIM token without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScimToken {
    #[schema(format = Uuid)]
    pub id: Uuid,
    pub description: String,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<TokenRow> for ScimToken {
    fn from(row: TokenRow) -> Self {
        Self {
            id: row.id,
            description: row.description,
            created_by: row.created_by,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
            revoked_at: row.revoked_at,
        }
    }
}

/// A token just issued, with its secret: shown this once, stored only as a hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedScimToken {
    #[serde(flatten)]
    pub token: ScimToken,
    /// The bearer secret to give the identity provider, with the SCIM base URL `/scim/v2`.
    pub secret: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateToken {
    /// What the token is for, e.g. the identity provider's name (at most 200 characters).
    #[schema(max_length = 200)]
    description: Option<String>,
}

fn description(raw: Option<&str>) -> ApiResult<String> {
    let text = raw.unwrap_or_default().trim();
    if text.chars().count() > 200 || text.chars().any(char::is_control) {
        return Err(ApiError::validation(
            "description",
            "invalid_text",
            "at most 200 characters, no control characters",
        ));
    }
    Ok(text.to_owned())
}

async fn issue(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    description: String,
    replacing: Option<Uuid>,
) -> ApiResult<IssuedScimToken> {
    let (mut tx, actor) = caller.begin_as(state, Role::TenantAdmin).await?;
    // A rotated token keeps its description.
    let description = match replacing {
        Some(old) => {
            store::revoke_token(&mut tx, old)
                .await?
                .ok_or(ApiError::NotFound)?
                .description
        }
        None => description,
    };
    let secret = ScimSecret::generate(caller.tenant.id);
    let id = Uuid::now_v7();
    let row = store::insert_token(&mut tx, id, &secret.hash(), &description, actor.user_id).await?;
    let action = if replacing.is_some() {
        "scim_token.rotated"
    } else {
        "scim_token.created"
    };
    Audit::new(AuditActor::User(actor.user_id), action, "scim_token", id)
        .from_ip(ip)
        .details(json!({ "replaces": replacing }))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(IssuedScimToken {
        token: row.into(),
        secret: secret.expose().to_owned(),
    })
}

/// The organisation's SCIM tokens, newest first, revoked ones included, without secrets
/// (tenant admins).
#[utoipa::path(
    get, path = "/api/v1/scim/tokens", tag = "scim",
    responses(
        (status = 200, body = Vec<ScimToken>),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn list_tokens(
    State(state): State<AppState>,
    auth: Authenticated,
) -> ApiResult<Json<Vec<ScimToken>>> {
    let (mut tx, _) = auth.begin_as(&state, Role::TenantAdmin).await?;
    let rows = store::tokens(&mut tx).await?;
    tx.commit().await?;
    Ok(Json(rows.into_iter().map(ScimToken::from).collect()))
}

/// Creates a SCIM token for the organisation's identity provider (tenant admins). The secret is
/// in this answer only.
#[utoipa::path(
    post, path = "/api/v1/scim/tokens", tag = "scim",
    request_body(content = Option<CreateToken>),
    responses(
        (status = 201, body = IssuedScimToken),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn create_token(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    MaybeJson(body): MaybeJson<CreateToken>,
) -> ApiResult<(StatusCode, Json<IssuedScimToken>)> {
    let text = description(body.unwrap_or_default().description.as_deref())?;
    Ok((
        StatusCode::CREATED,
        Json(issue(&state, &auth, ip, text, None).await?),
    ))
}

/// Replaces a live token by a new one with the same description (tenant admins): the old
/// secret is refused from now on; the new one is in this answer only.
#[utoipa::path(
    post, path = "/api/v1/scim/tokens/{id}/rotate", tag = "scim",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 201, body = IssuedScimToken),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn rotate_token(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<(StatusCode, Json<IssuedScimToken>)> {
    Ok((
        StatusCode::CREATED,
        Json(issue(&state, &auth, ip, String::new(), Some(id)).await?),
    ))
}

/// Revokes a token (tenant admins): requests with it are refused from now on.
#[utoipa::path(
    delete, path = "/api/v1/scim/tokens/{id}", tag = "scim",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn revoke_token(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    let (mut tx, actor) = auth.begin_as(&state, Role::TenantAdmin).await?;
    store::revoke_token(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Audit::new(
        AuditActor::User(actor.user_id),
        "scim_token.revoked",
        "scim_token",
        id,
    )
    .from_ip(ip)
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
