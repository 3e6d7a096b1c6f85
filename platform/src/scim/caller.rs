//! Who is provisioning: the [`Provisioner`] extractor reads the SCIM bearer secret, whose tenant
//! part selects the tenant; [`Provisioner::begin`] then finds the live token by its hash inside
//! that tenant's transaction. A request addressed to another tenant (by host or `X-Tenant`), a
//! revoked, rotated or unknown secret, and a missing one are all 401 in the SCIM error format.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use lms_tenants::{Resolution, Tenant, TenantTx};
use uuid::Uuid;

use super::error::{ScimError, ScimResult};
use super::secret::{MAX_LEN, ScimSecret};
use crate::audit::AuditActor;
use crate::state::AppState;
use crate::users::UserId;

/// A request carrying a well-formed SCIM secret of an active tenant.
pub struct Provisioner {
    pub tenant: Tenant,
    secret: ScimSecret,
    /// The host the request was sent to, when it is a plain host name or address.
    host: Option<String>,
}

/// The token a request was confirmed with, inside its transaction.
#[derive(Debug, Clone, Copy)]
pub struct Token {
    pub id: Uuid,
    /// The tenant admin who created the token: cohort memberships it adds are recorded as theirs.
    pub owner: UserId,
}

impl Token {
    pub fn actor(&self) -> AuditActor {
        AuditActor::ScimToken(self.id)
    }
}

impl Provisioner {
    /// Opens the tenant's transaction and confirms the token there.
    pub async fn begin(&self, state: &AppState) -> ScimResult<(TenantTx, Token)> {
        let mut tx = state.db.begin(self.tenant.id).await?;
        let (id, owner) = super::store::live_token(&mut tx, &self.secret.hash())
            .await?
            .ok_or_else(ScimError::unauthorized)?;
        Ok((tx, Token { id, owner }))
    }

    /// Where this tenant's SCIM resources live, for `meta.location`: the host the identity
    /// provider called (with the public URL's scheme), else the tenant's own address.
    pub fn base_url(&self, state: &AppState) -> String {
        match &self.host {
            Some(host) => {
                let scheme = if state.settings.public_url.starts_with("http://") {
                    "http"
                } else {
                    "https"
                };
                format!("{scheme}://{host}/scim/v2")
            }
            None => format!("{}/scim/v2", state.settings.link_base(&self.tenant)),
        }
    }
}

impl FromRequestParts<AppState> for Provisioner {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ScimError> {
        let secret = parts
            .headers
            .get(header::AUTHORIZATION)
            .filter(|v| v.len() <= MAX_LEN + 16)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .and_then(|(_, secret)| ScimSecret::parse(secret.trim()))
            .ok_or_else(ScimError::unauthorized)?;
        let tenant = match state.resolver.by_id(secret.tenant()).await? {
            Resolution::Active(tenant) => *tenant,
            Resolution::Suspended(_) => {
                return Err(ScimError::new(
                    axum::http::StatusCode::FORBIDDEN,
                    None,
                    "the organisation is suspended",
                ));
            }
            Resolution::Unknown => return Err(ScimError::unauthorized()),
        };
        // A request addressed to a tenant by host or header must be addressed to this one.
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok());
        let slug = parts.headers.get("x-tenant").and_then(|v| v.to_str().ok());
        match state.resolver.resolve(host, slug).await? {
            Resolution::Active(addressed) | Resolution::Suspended(addressed)
                if addressed.id != tenant.id =>
            {
                return Err(ScimError::unauthorized());
            }
            _ => {}
        }
        let host = host
            .filter(|h| {
                !h.is_empty()
                    && h.len() <= 255
                    && h.bytes().all(|b| {
                        b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
                    })
            })
            .map(str::to_owned);
        Ok(Self {
            tenant,
            secret,
            host,
        })
    }
}
