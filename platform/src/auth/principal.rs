//! Who is calling: the `Authenticated` extractor verifies the access token (Bearer header, or
//! session cookie plus CSRF header on unsafe methods); [`Actor::load`] then confirms, inside the
//! request's transaction, that the user is still active and the session epoch still current.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum_extra::extract::CookieJar;
use lms_tenants::{TenantResolver, TenantTx};
use subtle::ConstantTimeEq;

use super::Caller;
use super::cookies::{ACCESS_COOKIE, CSRF_HEADER};
use super::keys::KeyRing;
use super::tokens::{AccessClaims, hash_hex, verify_access_token};
use crate::error::{ApiError, codes};
use crate::http::CurrentTenant;
use crate::users::{Role, Roles, UserId, UserStatus, store as users};

const INVALID_TOKEN: ApiError = ApiError::Unauthenticated {
    code: "invalid_token",
    detail: "the access token is invalid or expired",
};

/// A request carrying a valid access token for the tenant it is addressed to.
#[derive(Debug, Clone)]
/// It dereferences to the [`Caller`] the token names, which is what services take.
pub struct Authenticated {
    pub caller: Caller,
    pub claims: AccessClaims,
}

impl std::ops::Deref for Authenticated {
    type Target = Caller;

    fn deref(&self) -> &Caller {
        &self.caller
    }
}

/// What [`Actor::load`] checks, as a condition for a statement to carry so that a hot path
/// spends no round trip of its own on it: the user (placeholder `user`) of the statement's
/// tenant (`$1`) is active and still at the token's session epoch (placeholder `epoch`). A
/// statement that finds nothing under it calls [`Actor::load`] to tell a stale token from its
/// own reasons.
pub fn session_is_current(user: &str, epoch: &str) -> String {
    format!(
        "exists (select from users s where s.tenant_id = $1 and s.id = {user}
                 and s.status = 'active' and s.session_epoch = {epoch})"
    )
}

impl<S> FromRequestParts<S> for Authenticated
where
    S: Send + Sync,
    TenantResolver: FromRef<S>,
    KeyRing: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let authenticated = authenticate(parts, state).await?;
        if authenticated.claims.mfa_enrollment_only {
            return Err(MFA_ENROLLMENT_REQUIRED);
        }
        Ok(authenticated)
    }
}

const MFA_ENROLLMENT_REQUIRED: ApiError = ApiError::Forbidden {
    code: codes::MFA_ENROLLMENT_REQUIRED,
    detail: "your organisation requires multi-factor authentication for your role: enroll at \
             /api/v1/auth/mfa/enrollment, then sign in again",
};

/// [`Authenticated`] that also admits a session restricted to enrolling in MFA
/// (`mfa_enrollment_only`): for the MFA status and enrollment endpoints and `me`, the only
/// ones such a session may call.
#[derive(Debug, Clone)]
pub struct MfaEnrollmentCaller(pub Authenticated);

impl std::ops::Deref for MfaEnrollmentCaller {
    type Target = Caller;

    fn deref(&self) -> &Caller {
        &self.0.caller
    }
}

impl<S> FromRequestParts<S> for MfaEnrollmentCaller
where
    S: Send + Sync,
    TenantResolver: FromRef<S>,
    KeyRing: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(authenticate(parts, state).await?))
    }
}

/// Verifies the access token of a request (either kind of session).
async fn authenticate<S>(parts: &mut Parts, state: &S) -> Result<Authenticated, ApiError>
where
    S: Send + Sync,
    TenantResolver: FromRef<S>,
    KeyRing: FromRef<S>,
{
    let CurrentTenant(tenant) = CurrentTenant::from_request_parts(parts, state).await?;
    let keys = KeyRing::from_ref(state);
    let bearer = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let (token, from_cookie) = match bearer {
        Some(token) => (token.to_owned(), false),
        None => {
            let jar = CookieJar::from_headers(&parts.headers);
            match jar.get(ACCESS_COOKIE) {
                Some(cookie) => (cookie.value().to_owned(), true),
                None => {
                    return Err(ApiError::Unauthenticated {
                        code: codes::MISSING_TOKEN,
                        detail: "send an access token as a Bearer header or session cookie",
                    });
                }
            }
        }
    };
    let claims = verify_access_token(&keys, &token, tenant.id)
        .await
        .map_err(|rejection| {
            tracing::debug!(%rejection, "access token refused");
            INVALID_TOKEN
        })?;
    if from_cookie && !is_safe(&parts.method) {
        check_csrf(parts, &claims)?;
    }
    let caller = Caller {
        tenant,
        user: UserId(claims.sub),
        epoch: claims.ep,
        session: claims.sid,
    };
    Ok(Authenticated { caller, claims })
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Double-submit CSRF bound to the session: the header must hash to the token's `cht` claim.
fn check_csrf(parts: &Parts, claims: &AccessClaims) -> Result<(), ApiError> {
    let header = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    let matches = match (header, claims.cht.as_deref()) {
        (Some(header), Some(expected)) => {
            bool::from(hash_hex(header).as_bytes().ct_eq(expected.as_bytes()))
        }
        _ => false,
    };
    if matches {
        Ok(())
    } else {
        Err(ApiError::Forbidden {
            code: codes::CSRF_FAILED,
            detail: "missing or wrong X-CSRF-Token header",
        })
    }
}

/// The authenticated user as of this transaction.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: UserId,
    pub roles: Roles,
    pub session: uuid::Uuid,
}

impl Actor {
    /// Confirms the caller's user is active and its session epoch current; 401 otherwise.
    pub async fn load(tx: &mut TenantTx, caller: &Caller) -> Result<Self, ApiError> {
        let row = users::by_id(tx, caller.user).await?.ok_or(INVALID_TOKEN)?;
        if row.status != UserStatus::Active || row.session_epoch != caller.epoch {
            return Err(INVALID_TOKEN);
        }
        Ok(Self {
            user_id: row.id,
            roles: row.roles(),
            session: caller.session,
        })
    }

    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.roles.contains(role) {
            Ok(())
        } else {
            Err(ApiError::forbidden())
        }
    }
}
