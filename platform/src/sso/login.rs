//! The SSO sign-in: home-realm discovery by verified email domain, the redirect to the
//! provider with state, nonce and PKCE kept server-side, the callback that verifies the
//! provider's answer and signs the user in (identity keyed by connection, issuer and subject;
//! JIT provisioning only for verified domains; roles from groups at every sign-in), the one-time
//! code SPAs exchange for tokens, and the "SSO required" rule for password sign-ins.

use std::net::IpAddr;

use lms_tenants::{Tenant, TenantTx};
use serde_json::json;

use super::model::{ConnectionId, ReturnTo, email_domain, roles_for_groups};
use super::oidc::{IdTokenRefusal, OidcError, authorization_request};
use super::service::open_client_secret;
use super::store::{self, ConnectionRow, NewLoginState};
use crate::audit::{Audit, AuditActor};
use crate::auth::service::{Session, SessionMode, start_session};
use crate::auth::store as sessions;
use crate::auth::tokens::{OpaqueToken, hash_secret};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::users::store::{self as users, NewUser, UserRow};
use crate::users::{DisplayName, Email, UserStatus};

/// How long a started login can come back.
pub const LOGIN_TTL_SECONDS: i64 = 10 * 60;
/// How long an SPA has to exchange its one-time code.
pub const CODE_TTL_SECONDS: i64 = 60;
/// The cookie binding a login in flight to the browser that started it.
pub const FLOW_COOKIE: &str = "__Host-lms_sso";

/// Which connection a login starts with.
pub enum Start {
    /// Home-realm discovery: the email's verified domain names the connection.
    Email(String),
    Connection(ConnectionId),
}

/// What the callback hands the browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// A cookie session (web apps served by the platform).
    Cookie,
    /// A one-time code appended to the return path (SPAs and mobile apps).
    Code,
}

impl Delivery {
    fn as_str(self) -> &'static str {
        match self {
            Self::Cookie => "cookie",
            Self::Code => "code",
        }
    }
}

/// Where to send the browser, and the value of the flow cookie to set.
pub struct Started {
    pub location: String,
    pub state: String,
}

fn not_configured() -> ApiError {
    ApiError::NotFound
}

fn provider_failed(err: &OidcError) -> ApiError {
    tracing::warn!(error = %err, "identity provider call failed");
    ApiError::BadGateway {
        code: "sso_provider_unavailable",
        detail: "the identity provider could not be reached or answered badly; try again later"
            .into(),
    }
}

/// The redirect URI registered at the provider: the tenant's own callback.
pub fn redirect_uri(state: &AppState, tenant: &Tenant) -> String {
    format!(
        "{}/api/v1/auth/sso/callback",
        state.settings.link_base(tenant)
    )
}

pub async fn start(
    state: &AppState,
    tenant: &Tenant,
    from: Start,
    return_to: ReturnTo,
    delivery: Delivery,
) -> ApiResult<Started> {
    let mut tx = state.db.begin(tenant.id).await?;
    crate::billing::require_feature(&mut tx, &state.billing, crate::billing::Feature::Sso).await?;
    let connection = match from {
        Start::Connection(id) => store::connection(&mut tx, id).await?,
        Start::Email(email) => {
            let email = Email::parse(&email)?;
            let domain = email_domain(email.as_str()).ok_or_else(not_configured)?;
            match store::verified_domain(&mut tx, &domain)
                .await?
                .and_then(|d| d.connection_id)
            {
                Some(id) => store::connection(&mut tx, id).await?,
                None => None,
            }
        }
    }
    .ok_or_else(not_configured)?;
    let provider = state
        .sso
        .providers
        .get((tenant.id, connection.id), &connection.issuer)
        .await
        .map_err(|err| provider_failed(&err))?;
    let request = authorization_request(
        &provider.metadata,
        &connection.client_id,
        &redirect_uri(state, tenant),
        &connection.scopes,
    )?;
    store::delete_dead_login_states(&mut tx).await?;
    store::insert_login_state(
        &mut tx,
        &NewLoginState {
            connection: connection.id,
            state_hash: &hash_secret(&request.state),
            nonce: &request.nonce,
            pkce_verifier: &request.pkce_verifier,
            return_to: return_to.as_str(),
            session_mode: delivery.as_str(),
            ttl_seconds: LOGIN_TTL_SECONDS,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Started {
        location: request.url.to_string(),
        state: request.state,
    })
}

/// The provider's answer at the callback.
pub struct CallbackParams {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
    pub iss: Option<String>,
    /// The flow cookie the browser sent back.
    pub flow_cookie: Option<String>,
}

/// How the callback ends.
pub enum Finished {
    Session { session: Session, return_to: String },
    Code { code: String, return_to: String },
}

const INVALID_STATE: ApiError = ApiError::Unauthenticated {
    code: "sso_state_invalid",
    detail: "this sign-in is unknown, was already used or has expired; start the sign-in again",
};

fn refused(code: &'static str, detail: &'static str) -> ApiError {
    ApiError::Forbidden { code, detail }
}

pub async fn callback(
    state: &AppState,
    tenant: &Tenant,
    ip: IpAddr,
    params: CallbackParams,
) -> ApiResult<Finished> {
    // OIDC has no unsolicited responses: an answer without a login this server started is an
    // IdP-initiated login (or a forged one) and is refused.
    let Some(state_param) = params.state.filter(|s| !s.is_empty() && s.len() <= 200) else {
        return Err(ApiError::BadRequest {
            code: "sso_login_not_started",
            detail: "no sign-in was started here (IdP-initiated sign-ins are refused); start at /api/v1/auth/sso/start".into(),
        });
    };
    // The login must come back to the browser that started it (no login CSRF).
    let bound = params.flow_cookie.as_deref().is_some_and(|cookie| {
        use subtle::ConstantTimeEq;
        bool::from(cookie.as_bytes().ct_eq(state_param.as_bytes()))
    });
    let mut tx = state.db.begin(tenant.id).await?;
    let Some(login) = store::consume_login_state(&mut tx, &hash_secret(&state_param)).await? else {
        return Err(INVALID_STATE);
    };
    // The state is spent whatever happens next.
    tx.commit().await?;
    if !bound {
        return Err(ApiError::Unauthenticated {
            code: "sso_state_invalid",
            detail: "this sign-in was started in another browser; start the sign-in again",
        });
    }
    let mut tx = state.db.begin(tenant.id).await?;
    let connection = store::connection(&mut tx, login.connection_id)
        .await?
        .ok_or(INVALID_STATE)?;
    if let Some(error) = params.error {
        let error: String = error.chars().take(100).collect();
        tracing::info!(tenant = %tenant.id, connection = %connection.id, error, "identity provider refused the sign-in");
        return Err(ApiError::Unauthenticated {
            code: "sso_provider_error",
            detail: "the identity provider did not sign you in",
        });
    }
    // RFC 9207: when the provider names itself, it must be this connection's provider.
    if params
        .iss
        .as_deref()
        .is_some_and(|iss| iss != connection.issuer)
    {
        return Err(ApiError::Unauthenticated {
            code: "sso_issuer_mismatch",
            detail: "the answer comes from another identity provider than the one this sign-in started with",
        });
    }
    let Some(code) = params.code.filter(|c| !c.is_empty() && c.len() <= 2000) else {
        return Err(ApiError::BadRequest {
            code: "sso_code_missing",
            detail: "the identity provider's answer has no authorization code".into(),
        });
    };
    let provider = state
        .sso
        .providers
        .get((tenant.id, connection.id), &connection.issuer)
        .await
        .map_err(|err| provider_failed(&err))?;
    let secret = open_client_secret(state, tenant.id, &connection)?;
    let claims = state
        .sso
        .providers
        .exchange(
            &provider,
            &connection.client_id,
            &secret,
            &redirect_uri(state, tenant),
            &code,
            &login.pkce_verifier,
            &login.nonce,
        )
        .await
        .map_err(|err| match err {
            OidcError::IdToken(refusal) => id_token_refused(&refusal),
            OidcError::CodeRefused(_) => {
                tracing::info!(error = %err, "authorization code refused");
                ApiError::Unauthenticated {
                    code: "sso_code_refused",
                    detail: "the identity provider refused the authorization code (used, expired or not ours)",
                }
            }
            OidcError::Provider(_) => provider_failed(&err),
        })?;
    let user = sign_in(&mut tx, &state.billing, &connection, &claims, ip).await?;
    let return_to = ReturnTo::from_db(login.return_to);
    let finished = if login.session_mode == "code" {
        let code = OpaqueToken::generate();
        store::insert_login_code(&mut tx, user.id, &code.hash(), CODE_TTL_SECONDS).await?;
        Finished::Code {
            code: code.as_str().to_owned(),
            return_to: return_to.as_str().to_owned(),
        }
    } else {
        let session = sso_session(state, &mut tx, &user, SessionMode::Cookie).await?;
        Finished::Session {
            session,
            return_to: return_to.as_str().to_owned(),
        }
    };
    tx.commit().await?;
    Ok(finished)
}

fn id_token_refused(refusal: &IdTokenRefusal) -> ApiError {
    tracing::info!(reason = %refusal, "ID token refused");
    ApiError::Unauthenticated {
        code: "sso_id_token_invalid",
        detail: match refusal {
            IdTokenRefusal::WrongIssuer => "the ID token was issued by another identity provider",
            IdTokenRefusal::WrongAudience => "the ID token was issued to another application",
            IdTokenRefusal::Expired => "the ID token has expired",
            IdTokenRefusal::WrongNonce => "the ID token does not belong to this sign-in (nonce)",
            IdTokenRefusal::DisallowedAlgorithm => {
                "the ID token's signature algorithm is not accepted"
            }
            IdTokenRefusal::UnknownKey | IdTokenRefusal::BadSignature => {
                "the ID token's signature does not verify"
            }
            IdTokenRefusal::Malformed | IdTokenRefusal::Other(_) => "the ID token is invalid",
        },
    }
}

/// Finds (or links, or provisions) the user of a verified identity and brings their roles in
/// line with their groups.
async fn sign_in(
    tx: &mut TenantTx,
    billing: &crate::billing::Billing,
    connection: &ConnectionRow,
    claims: &super::oidc::VerifiedClaims,
    ip: IpAddr,
) -> ApiResult<UserRow> {
    let Some(email) = claims
        .string(&connection.email_claim)
        .and_then(|e| Email::parse(e).ok())
    else {
        return Err(refused(
            "sso_email_missing",
            "the identity provider sent no usable email address",
        ));
    };
    if claims.claims.get("email_verified") == Some(&serde_json::Value::Bool(false)) {
        return Err(refused(
            "sso_email_unverified",
            "the identity provider has not verified this email address",
        ));
    }
    // An IdP may assert any address: only those of domains this tenant proved it owns, and
    // routed to this connection, are accepted.
    let domain = email_domain(email.as_str()).unwrap_or_default();
    let routed = store::verified_domain(tx, &domain)
        .await?
        .is_some_and(|d| d.connection_id == Some(connection.id));
    if !routed {
        return Err(refused(
            "sso_email_domain_not_verified",
            "the email address is not in a verified domain of this organisation's connection",
        ));
    }
    let roles = roles_for_groups(
        &connection.group_roles.0,
        &claims.strings(&connection.groups_claim),
        connection.default_role,
    );
    let linked = store::identity_user(tx, connection.id, &claims.issuer, &claims.subject).await?;
    let (user, action) = match linked {
        Some(id) => (users::by_id_for_update(tx, id).await?, "user.sso_login"),
        None => match users::by_email(tx, &email).await? {
            Some(existing) => (Some(existing), "user.sso_linked"),
            None if connection.jit_provisioning => {
                let name = claims
                    .string(&connection.name_claim)
                    .and_then(|n| DisplayName::parse(n).ok())
                    .or_else(|| DisplayName::parse(email.as_str()).ok())
                    .ok_or_else(|| anyhow::anyhow!("no display name for {}", email.as_str()))?;
                crate::billing::seats::take(tx, billing).await?;
                let row = users::insert(
                    tx,
                    &NewUser {
                        email: &email,
                        display_name: &name,
                        password_hash: None,
                        roles: &roles,
                        status: UserStatus::Active,
                    },
                )
                .await?;
                (Some(row), "user.sso_provisioned")
            }
            None => {
                return Err(refused(
                    "sso_user_not_provisioned",
                    "there is no account for this email address and this organisation does not create accounts at sign-in",
                ));
            }
        },
    };
    let Some(mut user) = user.filter(|u| u.status == UserStatus::Active) else {
        return Err(refused(
            "account_inactive",
            "this account is not active; ask your administrator",
        ));
    };
    if user.roles() != roles {
        users::set_roles(tx, user.id, &roles).await?;
        user = users::by_id(tx, user.id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("user {} vanished", user.id))?;
    }
    let amr = claims.strings("amr");
    store::upsert_identity(
        tx,
        connection.id,
        &claims.issuer,
        &claims.subject,
        user.id,
        &amr,
    )
    .await?;
    users::record_login(tx, user.id).await?;
    Audit::new(AuditActor::User(user.id), action, "user", user.id)
        .from_ip(ip)
        .details(json!({ "connection_id": connection.id, "amr": amr }))
        .record(tx)
        .await?;
    Ok(user)
}

/// A session started by SSO: the provider did the authentication, its MFA included, so the
/// tenant's TOTP policy asks for no second code; the session is marked as SSO's, which keeps it
/// alive where SSO is required.
async fn sso_session(
    state: &AppState,
    tx: &mut TenantTx,
    user: &UserRow,
    mode: SessionMode,
) -> ApiResult<Session> {
    let session = start_session(state, tx, user, mode, false).await?;
    sessions::mark_family_sso(tx, &hash_secret(&session.refresh_token)).await?;
    Ok(session)
}

/// Exchanges a one-time code from the callback for a session (once, within a minute).
pub async fn exchange_code(
    state: &AppState,
    tenant: &Tenant,
    code: &str,
    mode: SessionMode,
) -> ApiResult<Session> {
    let mut tx = state.db.begin(tenant.id).await?;
    let user = match store::consume_login_code(&mut tx, &hash_secret(code)).await? {
        Some(id) => users::by_id(&mut tx, id)
            .await?
            .filter(|u| u.status == UserStatus::Active),
        None => None,
    };
    let Some(user) = user else {
        return Err(ApiError::Unauthenticated {
            code: "sso_code_invalid",
            detail: "the sign-in code is unknown, used or expired; sign in again",
        });
    };
    let session = sso_session(state, &mut tx, &user, mode).await?;
    tx.commit().await?;
    Ok(session)
}

/// Refuses a password credential (sign-in, reset, registration, refresh of a password session)
/// for an email of a verified domain whose connection requires SSO; the connection's
/// break-glass admin keeps their password.
pub async fn refuse_password_if_sso_required(
    tx: &mut TenantTx,
    email: &str,
    user: Option<crate::users::UserId>,
) -> ApiResult<()> {
    let Some(domain) = email_domain(email) else {
        return Ok(());
    };
    match store::enforcing_connection(tx, &domain).await? {
        Some((_, break_glass)) if break_glass.is_some() && break_glass == user => Ok(()),
        Some(_) => Err(ApiError::Forbidden {
            code: "sso_required",
            detail: "your organisation requires single sign-on: sign in with SSO (GET /api/v1/auth/sso/start?email=…)",
        }),
        None => Ok(()),
    }
}

/// The break-glass admin with this email, if there is one.
pub async fn break_glass_for(
    tx: &mut TenantTx,
    email: &str,
) -> ApiResult<Option<crate::users::UserId>> {
    Ok(store::break_glass_user(tx, email).await?)
}
