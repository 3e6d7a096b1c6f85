//! Account and session rules: registration, login, refresh rotation with reuse detection, logout,
//! password change and reset, invitation acceptance.

use std::net::IpAddr;

use lms_tenants::{Tenant, TenantTx};
use uuid::Uuid;

use super::Caller;
use super::passwords::Password;
use super::store::{self, Purpose};
use super::tokens::{OpaqueToken, REFRESH_TOKEN_TTL, hash_hex, hash_secret, issue_access_token};
use crate::audit::{Audit, AuditActor};
use crate::email::{OutgoingEmail, enqueue};
use crate::error::{ApiError, ApiResult, OnConstraint, codes};
use crate::mfa;
use crate::sso::login as sso;
use crate::state::AppState;
use crate::users::store::{self as users, NewUser, UserRow};
use crate::users::{DisplayName, Email, Role, Roles, User, UserStatus};

pub const RESET_TOKEN_TTL_SECONDS: i64 = 3600;
pub const INVITATION_TTL_SECONDS: i64 = 7 * 24 * 3600;

const INVALID_CREDENTIALS: ApiError = ApiError::Unauthenticated {
    code: "invalid_credentials",
    detail: "the email or password is incorrect",
};
const INVALID_REFRESH: ApiError = ApiError::Unauthenticated {
    code: codes::INVALID_REFRESH_TOKEN,
    detail: "the refresh token is invalid, expired or revoked",
};

/// How the client keeps its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionMode {
    /// Tokens in the response body (API and mobile clients).
    Bearer,
    /// Tokens in HttpOnly cookies, with a CSRF token (web apps).
    Cookie,
}

/// A freshly started or rotated session.
pub struct Session {
    pub access_token: String,
    pub expires_in: u64,
    pub refresh_token: String,
    pub csrf_token: Option<String>,
    pub user: User,
    /// The session may only enroll in MFA.
    pub mfa_enrollment_only: bool,
}

pub struct Registration {
    pub email: Email,
    pub password: Password,
    pub display_name: DisplayName,
}

pub async fn register(
    state: &AppState,
    tenant: &Tenant,
    ip: IpAddr,
    input: Registration,
    mode: SessionMode,
) -> ApiResult<Session> {
    if !tenant.settings.self_registration {
        return Err(ApiError::Forbidden {
            code: "registration_disabled",
            detail: "this organisation creates accounts by invitation only",
        });
    }
    let mut tx = state.db.begin(tenant.id).await?;
    sso::refuse_password_if_sso_required(&mut tx, input.email.as_str(), None).await?;
    crate::billing::seats::take(&mut tx, &state.billing).await?;
    let hash = state.passwords.hash(&input.password).await?;
    let roles = Roles::one(Role::Learner);
    let row = users::insert(
        &mut tx,
        &NewUser {
            email: &input.email,
            display_name: &input.display_name,
            password_hash: Some(&hash),
            roles: &roles,
            status: UserStatus::Active,
        },
    )
    .await
    .on_constraint(users::EMAIL_TAKEN, || ApiError::Conflict {
        code: codes::EMAIL_TAKEN,
        detail: "an account with this email already exists; sign in or reset the password".into(),
    })?;
    Audit::new(AuditActor::User(row.id), "user.registered", "user", row.id)
        .from_ip(ip)
        .record(&mut tx)
        .await?;
    let enrollment_only = mfa::enrollment_required(&mut tx, &row).await?;
    let session = start_session(state, &mut tx, &row, mode, enrollment_only).await?;
    tx.commit().await?;
    Ok(session)
}

/// What a correct password leads to.
pub enum LoginOutcome {
    /// Signed in (with `Session::mfa_enrollment_only` when the session may only enroll in MFA).
    Session(Session),
    /// The user has MFA: answer this challenge with a code at `POST /api/v1/auth/mfa/verify`.
    MfaChallenge(mfa::Challenge),
}

pub async fn login(
    state: &AppState,
    tenant: &Tenant,
    ip: IpAddr,
    email: &str,
    password: Password,
    mode: SessionMode,
) -> ApiResult<LoginOutcome> {
    let typed = email.trim().to_lowercase();
    if let Some(wait) = state.backoff.wait(tenant.id, &typed, ip) {
        return Err(ApiError::TooManyRequests { retry_after: wait });
    }
    let mut tx = state.db.begin(tenant.id).await?;
    let row = match Email::parse(&typed) {
        Ok(email) => users::by_email(&mut tx, &email).await?,
        Err(_) => None,
    };
    // Unknown accounts are verified against a dummy hash: same answer, same time.
    let verified = state
        .passwords
        .verify(
            &password,
            row.as_ref().and_then(|r| r.password_hash.as_deref()),
        )
        .await?;
    let row = match row {
        Some(row) if verified && row.status == UserStatus::Active => row,
        _ => {
            state.backoff.record_failure(tenant.id, &typed, ip);
            return Err(INVALID_CREDENTIALS);
        }
    };
    state.backoff.record_success(tenant.id, &typed);
    // Told only once the password is proven, so it says nothing about who has an account.
    sso::refuse_password_if_sso_required(&mut tx, &row.email, Some(row.id)).await?;
    let enrollment_only = match mfa::second_step(&mut tx, &row).await? {
        mfa::SecondStep::Challenge(challenge) => {
            tx.commit().await?;
            return Ok(LoginOutcome::MfaChallenge(challenge));
        }
        mfa::SecondStep::EnrollmentRequired => true,
        mfa::SecondStep::None => false,
    };
    users::record_login(&mut tx, row.id).await?;
    let session = start_session(state, &mut tx, &row, mode, enrollment_only).await?;
    tx.commit().await?;
    Ok(LoginOutcome::Session(session))
}

/// Rotates a refresh token. Presenting one that was already rotated means it leaked (or a client
/// raced itself): the whole family is revoked and the user must sign in again.
pub async fn refresh(
    state: &AppState,
    tenant: &Tenant,
    ip: IpAddr,
    token: &str,
    csrf: CsrfCheck<'_>,
) -> ApiResult<Session> {
    let mut tx = state.db.begin(tenant.id).await?;
    let Some(stored) = store::refresh_token_for_update(&mut tx, &hash_secret(token)).await? else {
        return Err(INVALID_REFRESH);
    };
    csrf.check(stored.csrf_hash.as_deref())?;

    if stored.revoked_at.is_some() || stored.expires_at <= chrono::Utc::now() {
        return Err(INVALID_REFRESH);
    }
    if stored.rotated_at.is_some() {
        store::revoke_family(&mut tx, stored.family_id).await?;
        Audit::new(
            AuditActor::User(crate::users::UserId(stored.user_id)),
            "session.refresh_token_reused",
            "session",
            stored.family_id,
        )
        .from_ip(ip)
        .record(&mut tx)
        .await?;
        tx.commit().await?;
        tracing::warn!(tenant = %tenant.id, family = %stored.family_id, "refresh token reused; session family revoked");
        return Err(ApiError::Unauthenticated {
            code: "refresh_token_reused",
            detail: "this refresh token was already used; the session has been revoked, sign in again",
        });
    }
    let user = users::by_id(&mut tx, crate::users::UserId(stored.user_id)).await?;
    let Some(user) = user.filter(|u| u.status == UserStatus::Active) else {
        store::revoke_family(&mut tx, stored.family_id).await?;
        tx.commit().await?;
        return Err(INVALID_REFRESH);
    };
    if !stored.via_sso
        && let Err(refusal) =
            sso::refuse_password_if_sso_required(&mut tx, &user.email, Some(user.id)).await
    {
        // A password session of a user whose organisation now requires SSO ends here.
        store::revoke_family(&mut tx, stored.family_id).await?;
        tx.commit().await?;
        return Err(refusal);
    }
    store::mark_rotated(&mut tx, stored.id).await?;
    let next = OpaqueToken::generate();
    store::insert_refresh_token(
        &mut tx,
        stored.family_id,
        user.id,
        &next.hash(),
        stored.csrf_hash.as_deref(),
        stored.mfa_enrollment_only,
    )
    .await?;
    if stored.via_sso {
        store::mark_family_sso(&mut tx, &next.hash()).await?;
    }
    let access = issue_access_token(
        &state.keys,
        tenant.id,
        user.id,
        stored.family_id,
        user.session_epoch,
        stored.csrf_hash.as_deref().map(hex::encode),
        stored.mfa_enrollment_only,
    )?;
    tx.commit().await?;
    Ok(Session {
        access_token: access.token,
        expires_in: access.expires_in,
        refresh_token: next.as_str().to_owned(),
        csrf_token: None,
        user: user.to_user(),
        mfa_enrollment_only: stored.mfa_enrollment_only,
    })
}

/// Whether a refresh or logout must prove it is not a cross-site request (the refresh token came
/// from a cookie): then the `X-CSRF-Token` header must match the session's CSRF token.
#[derive(Clone, Copy)]
pub enum CsrfCheck<'a> {
    NotNeeded,
    Required(Option<&'a str>),
}

impl CsrfCheck<'_> {
    fn check(self, session_csrf_hash: Option<&[u8]>) -> ApiResult<()> {
        match self {
            Self::NotNeeded => Ok(()),
            Self::Required(header)
                if header.is_some_and(|h| Some(hash_secret(h).as_slice()) == session_csrf_hash) =>
            {
                Ok(())
            }
            Self::Required(_) => Err(ApiError::Forbidden {
                code: codes::CSRF_FAILED,
                detail: "missing or wrong X-CSRF-Token header",
            }),
        }
    }
}

/// Ends the session the refresh token belongs to. Unknown tokens are ignored (idempotent).
pub async fn logout(
    state: &AppState,
    tenant: &Tenant,
    token: &str,
    csrf: CsrfCheck<'_>,
) -> ApiResult<()> {
    let mut tx = state.db.begin(tenant.id).await?;
    if let Some(stored) = store::refresh_token_for_update(&mut tx, &hash_secret(token)).await? {
        csrf.check(stored.csrf_hash.as_deref())?;
        store::revoke_family(&mut tx, stored.family_id).await?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn me(state: &AppState, caller: &Caller) -> ApiResult<User> {
    let (mut tx, actor) = caller.begin(state).await?;
    let row = users::by_id(&mut tx, actor.user_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(row.to_user())
}

/// Changes the password; every session, this one included, must sign in again.
pub async fn change_password(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    current: Password,
    new: Password,
) -> ApiResult<()> {
    let (mut tx, actor) = caller.begin(state).await?;
    let row = users::by_id_for_update(&mut tx, actor.user_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    // A stolen access token must not become an unthrottled password oracle.
    let backoff_key = format!("user:{}", row.id);
    if let Some(wait) = state.backoff.wait(caller.tenant.id, &backoff_key, ip) {
        return Err(ApiError::TooManyRequests { retry_after: wait });
    }
    if !state
        .passwords
        .verify(&current, row.password_hash.as_deref())
        .await?
    {
        state
            .backoff
            .record_failure(caller.tenant.id, &backoff_key, ip);
        return Err(ApiError::validation(
            "current_password",
            "incorrect_password",
            "the current password is incorrect",
        ));
    }
    state.backoff.record_success(caller.tenant.id, &backoff_key);
    // Checked only once the current password is proven, so it reveals nothing; it would end
    // every session for no change.
    if current.same_as(&new) {
        return Err(ApiError::validation(
            "new_password",
            "same_password",
            "the new password must differ from the current one",
        ));
    }
    let hash = state.passwords.hash(&new).await?;
    users::set_password(&mut tx, row.id, &hash).await?;
    store::revoke_all_for_user(&mut tx, row.id).await?;
    Audit::new(
        AuditActor::User(row.id),
        "user.password_changed",
        "user",
        row.id,
    )
    .from_ip(ip)
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Emails a reset link if the account exists and is active. The caller answers before the
/// lookup happens (it runs in the background), so neither the answer nor its timing says whether
/// the account exists.
pub async fn request_password_reset(
    state: &AppState,
    tenant: &Tenant,
    ip: IpAddr,
    email: &str,
) -> ApiResult<()> {
    let Ok(email) = Email::parse(email) else {
        return Ok(());
    };
    // Decided by the domain (and the break-glass admin's address) alone, never by whether the
    // account exists.
    let mut tx = state.db.begin(tenant.id).await?;
    let break_glass = sso::break_glass_for(&mut tx, email.as_str()).await?;
    sso::refuse_password_if_sso_required(&mut tx, email.as_str(), break_glass).await?;
    tx.commit().await?;
    let (state, tenant) = (state.clone(), tenant.clone());
    tokio::spawn(async move {
        if let Err(err) = queue_password_reset(&state, &tenant, ip, email).await {
            tracing::error!(tenant = %tenant.id, error = ?err, "queueing a password reset");
        }
    });
    Ok(())
}

async fn queue_password_reset(
    state: &AppState,
    tenant: &Tenant,
    ip: IpAddr,
    email: Email,
) -> ApiResult<()> {
    let mut tx = state.db.begin(tenant.id).await?;
    let Some(row) = users::by_email(&mut tx, &email)
        .await?
        .filter(|u| u.status == UserStatus::Active)
    else {
        return Ok(());
    };
    let token = OpaqueToken::generate();
    store::insert_user_token(
        &mut tx,
        row.id,
        Purpose::PasswordReset,
        &token.hash(),
        RESET_TOKEN_TTL_SECONDS,
    )
    .await?;
    let link = format!(
        "{}/reset-password?token={}",
        state.settings.link_base(tenant),
        token.as_str()
    );
    enqueue(
        &mut tx,
        OutgoingEmail {
            to: &email,
            subject: format!("Reset your {} password", tenant.display_name),
            body: format!(
                "Someone asked to reset the password of your {} account.\n\nChoose a new password here (the link works once, for one hour):\n{link}\n\nIf it was not you, ignore this email.\n",
                tenant.display_name
            ),
        },
    )
    .await?;
    Audit::new(
        AuditActor::Anonymous,
        "user.password_reset_requested",
        "user",
        row.id,
    )
    .from_ip(ip)
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn confirm_password_reset(
    state: &AppState,
    tenant: &Tenant,
    ip: IpAddr,
    token: &str,
    new: Password,
) -> ApiResult<()> {
    let hash = state.passwords.hash(&new).await?;
    let mut tx = state.db.begin(tenant.id).await?;
    let user = store::consume_user_token(&mut tx, Purpose::PasswordReset, &hash_secret(token))
        .await?
        .ok_or(ApiError::BadRequest {
            code: "invalid_reset_token",
            detail: "the reset link is invalid, used or expired".into(),
        })?;
    let row = users::by_id(&mut tx, user)
        .await?
        .ok_or(ApiError::NotFound)?;
    sso::refuse_password_if_sso_required(&mut tx, &row.email, Some(user)).await?;
    users::set_password(&mut tx, user, &hash).await?;
    store::revoke_all_for_user(&mut tx, user).await?;
    Audit::new(AuditActor::Anonymous, "user.password_reset", "user", user)
        .from_ip(ip)
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn accept_invitation(
    state: &AppState,
    tenant: &Tenant,
    ip: IpAddr,
    token: &str,
    password: Password,
    display_name: Option<DisplayName>,
    mode: SessionMode,
) -> ApiResult<Session> {
    let hash = state.passwords.hash(&password).await?;
    let mut tx = state.db.begin(tenant.id).await?;
    let user = store::consume_user_token(&mut tx, Purpose::Invitation, &hash_secret(token))
        .await?
        .ok_or(ApiError::BadRequest {
            code: codes::INVALID_INVITATION,
            detail: "the invitation is invalid, used or expired".into(),
        })?;
    let current = users::by_id_for_update(&mut tx, user)
        .await?
        .ok_or(ApiError::NotFound)?;
    if current.status != UserStatus::Invited {
        return Err(ApiError::BadRequest {
            code: codes::INVALID_INVITATION,
            detail: "the invitation is invalid, used or expired".into(),
        });
    }
    let row = users::activate(&mut tx, user, &hash, display_name.as_ref()).await?;
    Audit::new(
        AuditActor::User(row.id),
        "user.invitation_accepted",
        "user",
        row.id,
    )
    .from_ip(ip)
    .record(&mut tx)
    .await?;
    crate::notifications::invitation_accepted(
        state,
        &mut tx,
        row.id,
        (&row.display_name, &row.email),
    )
    .await?;
    let enrollment_only = mfa::enrollment_required(&mut tx, &row).await?;
    let session = start_session(state, &mut tx, &row, mode, enrollment_only).await?;
    tx.commit().await?;
    Ok(session)
}

/// Starts a session family for a user who just proved who they are; `mfa_enrollment_only`
/// restricts it to enrolling in MFA (the tenant requires a second factor the user lacks).
pub(crate) async fn start_session(
    state: &AppState,
    tx: &mut TenantTx,
    row: &UserRow,
    mode: SessionMode,
    mfa_enrollment_only: bool,
) -> ApiResult<Session> {
    let family = Uuid::now_v7();
    let refresh = OpaqueToken::generate();
    let csrf = (mode == SessionMode::Cookie).then(OpaqueToken::generate);
    store::insert_refresh_token(
        tx,
        family,
        row.id,
        &refresh.hash(),
        csrf.as_ref().map(OpaqueToken::hash).as_deref(),
        mfa_enrollment_only,
    )
    .await?;
    let access = issue_access_token(
        &state.keys,
        tx.tenant_id(),
        row.id,
        family,
        row.session_epoch,
        csrf.as_ref().map(|c| hash_hex(c.as_str())),
        mfa_enrollment_only,
    )?;
    Ok(Session {
        access_token: access.token,
        expires_in: access.expires_in,
        refresh_token: refresh.as_str().to_owned(),
        csrf_token: csrf.map(|c| c.as_str().to_owned()),
        user: row.to_user(),
        mfa_enrollment_only,
    })
}

pub fn refresh_ttl_seconds() -> u64 {
    REFRESH_TOKEN_TTL.as_secs()
}
