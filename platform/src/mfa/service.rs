//! MFA rules: enrollment confirmed by a first code, recovery codes, the login challenge, the
//! tenant's policy and admin resets.

use std::net::IpAddr;

use lms_tenants::{Tenant, TenantTx};
use serde_json::json;

use super::recovery::{self, RecoveryCode};
use super::store::{self, CredentialRow};
use super::totp::{self, TotpRefusal, TotpSecret};
use crate::audit::{Audit, AuditActor};
use crate::auth::Caller;
use crate::auth::service::{Session, SessionMode, start_session};
use crate::auth::store as sessions;
use crate::auth::tokens::{OpaqueToken, hash_secret};
use crate::email::{OutgoingEmail, enqueue};
use crate::error::{ApiError, ApiResult, codes};
use crate::state::AppState;
use crate::users::store::{self as users, UserRow};
use crate::users::{Email, Role, UserId, UserStatus};

/// How long a login challenge can be answered.
pub const CHALLENGE_TTL_SECONDS: i64 = 5 * 60;
/// Wrong answers a challenge survives; the fifth ends it.
pub const CHALLENGE_ATTEMPTS: i32 = 5;

const INVALID_CHALLENGE: ApiError = ApiError::Unauthenticated {
    code: codes::INVALID_MFA_CHALLENGE,
    detail: "the MFA challenge is invalid, used, expired or out of attempts; sign in again",
};
const INVALID_CODE: ApiError = ApiError::Unauthenticated {
    code: codes::INVALID_MFA_CODE,
    detail: "the code is wrong or was already used",
};

/// The challenge a password sign-in answers with when the user has MFA.
pub struct Challenge {
    pub token: String,
    pub expires_in: i64,
}

/// What comes after a correct password.
pub enum SecondStep {
    /// No second factor is due: a full session.
    None,
    /// The user has MFA: a challenge to answer with a code.
    Challenge(Challenge),
    /// The tenant requires MFA for the user's role and they have none: a session that may only
    /// enroll.
    EnrollmentRequired,
}

/// Decides the second step of a sign-in, inside the login's transaction.
pub async fn second_step(tx: &mut TenantTx, user: &UserRow) -> ApiResult<SecondStep> {
    let active = store::credential(tx, user.id)
        .await?
        .is_some_and(|c| c.is_active());
    if active {
        store::delete_dead_challenges(tx, user.id).await?;
        let token = OpaqueToken::generate();
        store::insert_challenge(tx, user.id, &token.hash(), CHALLENGE_TTL_SECONDS).await?;
        return Ok(SecondStep::Challenge(Challenge {
            token: token.as_str().to_owned(),
            expires_in: CHALLENGE_TTL_SECONDS,
        }));
    }
    if required_for(tx, user).await? {
        Ok(SecondStep::EnrollmentRequired)
    } else {
        Ok(SecondStep::None)
    }
}

/// Whether a new session of this user may only enroll: the policy requires MFA for one of their
/// roles and they have no active MFA.
pub async fn enrollment_required(tx: &mut TenantTx, user: &UserRow) -> ApiResult<bool> {
    if !required_for(tx, user).await? {
        return Ok(false);
    }
    let active = store::credential(tx, user.id)
        .await?
        .is_some_and(|c| c.is_active());
    Ok(!active)
}

async fn required_for(tx: &mut TenantTx, user: &UserRow) -> ApiResult<bool> {
    let roles = user.roles();
    Ok(store::required_roles(tx)
        .await?
        .into_iter()
        .any(|r| roles.contains(r)))
}

/// A code that proves the second factor.
pub enum Answer {
    Totp(String),
    RecoveryCode(String),
}

/// What a correct answer was, to be recorded once the caller knows it is used.
enum Proof {
    Totp { step: u64 },
    RecoveryCode { id: uuid::Uuid },
}

/// Checks an answer against the user's credential; `None` when it is wrong, malformed or used.
async fn check(
    state: &AppState,
    tx: &mut TenantTx,
    user: UserId,
    credential: &CredentialRow,
    answer: &Answer,
) -> ApiResult<Option<Proof>> {
    match answer {
        Answer::Totp(code) => {
            let secret = open_secret(state, tx.tenant_id(), user, credential)?;
            match totp::verify(&secret, code, totp::unix_now(), credential.last_used_step()) {
                Ok(step) => Ok(Some(Proof::Totp { step })),
                Err(TotpRefusal::Malformed | TotpRefusal::Wrong | TotpRefusal::Replayed) => {
                    Ok(None)
                }
            }
        }
        Answer::RecoveryCode(code) => {
            if recovery::normalize(code).is_none() {
                return Ok(None);
            }
            let presented = recovery::hash(tx.tenant_id(), user, code);
            let unused = store::unused_recovery_codes(tx, user).await?;
            let found = recovery::find_match(
                &presented,
                unused.iter().map(|row| row.code_hash.as_slice()),
            );
            Ok(found.map(|index| Proof::RecoveryCode {
                id: unused[index].id,
            }))
        }
    }
}

/// Records a correct answer: the TOTP step becomes the last used one, a recovery code is spent.
async fn spend(tx: &mut TenantTx, user: UserId, proof: &Proof, ip: IpAddr) -> ApiResult<()> {
    match proof {
        Proof::Totp { step } => store::record_step(tx, user, *step).await?,
        Proof::RecoveryCode { id } => {
            store::spend_recovery_code(tx, *id).await?;
            let left = store::count_unused_recovery_codes(tx, user).await?;
            Audit::new(
                AuditActor::User(user),
                "user.mfa_recovery_code_used",
                "user",
                user,
            )
            .from_ip(ip)
            .details(json!({ "recovery_codes_left": left }))
            .record(tx)
            .await?;
        }
    }
    Ok(())
}

fn seal_context(tenant: lms_tenants::TenantId, user: UserId) -> Vec<u8> {
    format!("mfa.totp/{tenant}/{user}").into_bytes()
}

fn open_secret(
    state: &AppState,
    tenant: lms_tenants::TenantId,
    user: UserId,
    credential: &CredentialRow,
) -> ApiResult<TotpSecret> {
    let bytes = state
        .sealing
        .open(&credential.sealed_secret, &seal_context(tenant, user))
        .map_err(|err| anyhow::anyhow!("opening the TOTP seed of user {user}: {err}"))?;
    Ok(TotpSecret::from_bytes(bytes))
}

/// The per-account backoff key of second-factor checks (shared by the challenge and by the
/// signed-in endpoints that take a code, so a stolen access token cannot guess codes freely).
fn backoff_key(user: UserId) -> String {
    format!("mfa:{user}")
}

/// Answers a login challenge: a correct TOTP or recovery code starts the session a password
/// sign-in would have started. Each wrong answer counts; the fifth ends the challenge.
pub async fn verify_challenge(
    state: &AppState,
    tenant: &Tenant,
    ip: IpAddr,
    challenge: &str,
    answer: Answer,
    mode: SessionMode,
) -> ApiResult<Session> {
    let mut tx = state.db.begin(tenant.id).await?;
    let Some(row) = store::challenge_for_update(&mut tx, &hash_secret(challenge)).await? else {
        return Err(INVALID_CHALLENGE);
    };
    if !row.live || row.failed_attempts >= CHALLENGE_ATTEMPTS {
        return Err(INVALID_CHALLENGE);
    }
    let key = backoff_key(row.user_id);
    if let Some(wait) = state.backoff.wait(tenant.id, &key, ip) {
        return Err(ApiError::TooManyRequests { retry_after: wait });
    }
    let user = users::by_id(&mut tx, row.user_id)
        .await?
        .filter(|u| u.status == UserStatus::Active);
    let credential = store::credential_for_update(&mut tx, row.user_id)
        .await?
        .filter(CredentialRow::is_active);
    let (Some(user), Some(credential)) = (user, credential) else {
        // Deactivated, or MFA reset since the password step: the challenge is void.
        store::consume_challenge(&mut tx, row.id).await?;
        tx.commit().await?;
        return Err(INVALID_CHALLENGE);
    };
    let Some(proof) = check(state, &mut tx, user.id, &credential, &answer).await? else {
        store::record_failed_attempt(&mut tx, row.id, CHALLENGE_ATTEMPTS).await?;
        tx.commit().await?;
        state.backoff.record_failure(tenant.id, &key, ip);
        return Err(INVALID_CODE);
    };
    state.backoff.record_success(tenant.id, &key);
    spend(&mut tx, user.id, &proof, ip).await?;
    store::consume_challenge(&mut tx, row.id).await?;
    users::record_login(&mut tx, user.id).await?;
    let session = start_session(state, &mut tx, &user, mode, false).await?;
    tx.commit().await?;
    Ok(session)
}

/// The signed-in user's MFA.
pub struct Status {
    pub enabled: bool,
    pub enrollment_pending: bool,
    pub required: bool,
    pub recovery_codes_left: i64,
}

pub async fn status(state: &AppState, caller: &Caller) -> ApiResult<Status> {
    let (mut tx, actor) = caller.begin(state).await?;
    let user = users::by_id(&mut tx, actor.user_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let credential = store::credential(&mut tx, actor.user_id).await?;
    let required = required_for(&mut tx, &user).await?;
    let recovery_codes_left = match &credential {
        Some(c) if c.is_active() => store::count_unused_recovery_codes(&mut tx, user.id).await?,
        _ => 0,
    };
    tx.commit().await?;
    Ok(Status {
        enabled: credential.as_ref().is_some_and(CredentialRow::is_active),
        enrollment_pending: credential.as_ref().is_some_and(|c| !c.is_active()),
        required,
        recovery_codes_left,
    })
}

/// A started enrollment: what the authenticator app needs.
pub struct Enrollment {
    pub secret: String,
    pub otpauth_uri: String,
    pub qr_code_svg: String,
}

/// Starts (or restarts) enrollment with a new seed; MFA is active only once a code confirms it.
pub async fn begin_enrollment(state: &AppState, caller: &Caller) -> ApiResult<Enrollment> {
    let (mut tx, actor) = caller.begin(state).await?;
    let user = users::by_id(&mut tx, actor.user_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let secret = TotpSecret::generate();
    let sealed = state
        .sealing
        .seal(secret.as_bytes(), &seal_context(caller.tenant.id, user.id));
    if !store::begin_enrollment(&mut tx, user.id, &sealed).await? {
        return Err(already_enabled());
    }
    tx.commit().await?;
    let otpauth_uri = secret.otpauth_uri(&caller.tenant.display_name, &user.email);
    let qr_code_svg = totp::qr_svg(&otpauth_uri)?;
    Ok(Enrollment {
        secret: secret.base32(),
        otpauth_uri,
        qr_code_svg,
    })
}

fn already_enabled() -> ApiError {
    ApiError::Conflict {
        code: codes::MFA_ALREADY_ENABLED,
        detail: "multi-factor authentication is already active; disable it first".into(),
    }
}

fn wrong_code(field: &str) -> ApiError {
    ApiError::validation(
        field,
        "invalid_code",
        "the code is wrong, expired or already used",
    )
}

/// A confirmed enrollment: the recovery codes, shown this once.
pub struct Confirmed {
    pub recovery_codes: Vec<String>,
    /// The calling session was restricted to enrollment and has ended: sign in again.
    pub session_ended: bool,
}

/// Activates MFA with a first valid code and issues the recovery codes. A session that was
/// restricted to enrollment ends here: the next sign-in asks for a code.
pub async fn confirm_enrollment(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    code: &str,
    enrollment_only_session: bool,
) -> ApiResult<Confirmed> {
    let (mut tx, actor) = caller.begin(state).await?;
    let credential = store::credential_for_update(&mut tx, actor.user_id)
        .await?
        .ok_or(ApiError::Conflict {
            code: codes::MFA_ENROLLMENT_NOT_STARTED,
            detail: "start an enrollment first (POST /api/v1/auth/mfa/enrollment)".into(),
        })?;
    if credential.is_active() {
        return Err(already_enabled());
    }
    let secret = open_secret(state, caller.tenant.id, actor.user_id, &credential)?;
    let step =
        totp::verify(&secret, code, totp::unix_now(), None).map_err(|_| wrong_code("code"))?;
    store::confirm(&mut tx, actor.user_id, step).await?;
    let codes = issue_recovery_codes(&mut tx, actor.user_id).await?;
    Audit::new(
        AuditActor::User(actor.user_id),
        "user.mfa_enabled",
        "user",
        actor.user_id,
    )
    .from_ip(ip)
    .record(&mut tx)
    .await?;
    if enrollment_only_session {
        sessions::revoke_family(&mut tx, caller.session).await?;
    }
    tx.commit().await?;
    Ok(Confirmed {
        recovery_codes: codes,
        session_ended: enrollment_only_session,
    })
}

async fn issue_recovery_codes(tx: &mut TenantTx, user: UserId) -> ApiResult<Vec<String>> {
    let codes = recovery::generate_set();
    let hashes: Vec<Vec<u8>> = codes
        .iter()
        .map(|c| recovery::hash(tx.tenant_id(), user, c.as_str()))
        .collect();
    store::replace_recovery_codes(tx, user, &hashes).await?;
    Ok(codes.into_iter().map(RecoveryCode::into_string).collect())
}

/// Loads the caller's active credential and checks a code against it, under the per-account
/// backoff; 422 on a wrong code (field `field`).
async fn prove(
    state: &AppState,
    tx: &mut TenantTx,
    caller: &Caller,
    ip: IpAddr,
    answer: &Answer,
    field: &str,
) -> ApiResult<Proof> {
    let key = backoff_key(caller.user);
    if let Some(wait) = state.backoff.wait(caller.tenant.id, &key, ip) {
        return Err(ApiError::TooManyRequests { retry_after: wait });
    }
    let credential = store::credential_for_update(tx, caller.user)
        .await?
        .filter(CredentialRow::is_active)
        .ok_or(ApiError::Conflict {
            code: codes::MFA_NOT_ENABLED,
            detail: "multi-factor authentication is not active".into(),
        })?;
    match check(state, tx, caller.user, &credential, answer).await? {
        Some(proof) => {
            state.backoff.record_success(caller.tenant.id, &key);
            Ok(proof)
        }
        None => {
            state.backoff.record_failure(caller.tenant.id, &key, ip);
            Err(wrong_code(field))
        }
    }
}

/// Replaces the recovery codes (a current TOTP code is required).
pub async fn regenerate_recovery_codes(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    code: String,
) -> ApiResult<Vec<String>> {
    let (mut tx, actor) = caller.begin(state).await?;
    let proof = prove(state, &mut tx, caller, ip, &Answer::Totp(code), "code").await?;
    spend(&mut tx, actor.user_id, &proof, ip).await?;
    let codes = issue_recovery_codes(&mut tx, actor.user_id).await?;
    Audit::new(
        AuditActor::User(actor.user_id),
        "user.mfa_recovery_codes_regenerated",
        "user",
        actor.user_id,
    )
    .from_ip(ip)
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(codes)
}

/// Turns MFA off (a TOTP or recovery code is required); refused while the tenant's policy
/// requires it for one of the user's roles.
pub async fn disable(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    answer: Answer,
) -> ApiResult<()> {
    let (mut tx, actor) = caller.begin(state).await?;
    let user = users::by_id(&mut tx, actor.user_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if required_for(&mut tx, &user).await? {
        return Err(ApiError::Forbidden {
            code: codes::MFA_REQUIRED_BY_POLICY,
            detail: "your organisation requires multi-factor authentication for your role",
        });
    }
    let field = match answer {
        Answer::Totp(_) => "code",
        Answer::RecoveryCode(_) => "recovery_code",
    };
    prove(state, &mut tx, caller, ip, &answer, field).await?;
    store::delete_credential(&mut tx, actor.user_id).await?;
    Audit::new(
        AuditActor::User(actor.user_id),
        "user.mfa_disabled",
        "user",
        actor.user_id,
    )
    .from_ip(ip)
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A tenant admin removes a user's MFA (a lost device): audited, and the user is emailed. The
/// user enrolls again at their next sign-in if the policy requires it.
pub async fn reset(state: &AppState, caller: &Caller, ip: IpAddr, id: UserId) -> ApiResult<()> {
    let (mut tx, actor) = caller.begin_as(state, Role::TenantAdmin).await?;
    let user = users::by_id_for_update(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if !store::delete_credential(&mut tx, id).await? {
        return Err(ApiError::Conflict {
            code: codes::MFA_NOT_ENABLED,
            detail: "this user has no multi-factor authentication to reset".into(),
        });
    }
    Audit::new(
        AuditActor::User(actor.user_id),
        "user.mfa_reset",
        "user",
        id,
    )
    .from_ip(ip)
    .record(&mut tx)
    .await?;
    let tenant = &caller.tenant;
    enqueue(
        &mut tx,
        OutgoingEmail {
            to: &Email::from_db(user.email.clone()),
            subject: format!("Your {} sign-in verification was reset", tenant.display_name),
            body: format!(
                "Hello {},\n\nAn administrator of {} has removed the authenticator app and recovery codes from your account. \
                 You can sign in with your password alone until you set up multi-factor authentication again \
                 (if your organisation requires it, you will be asked to at your next sign-in).\n\n\
                 If you did not ask for this, contact your administrator at once.\n",
                user.display_name, tenant.display_name
            ),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The roles the tenant requires MFA for (tenant admins).
pub async fn policy(state: &AppState, caller: &Caller) -> ApiResult<Vec<Role>> {
    let (mut tx, _) = caller.begin_as(state, Role::TenantAdmin).await?;
    let roles = store::required_roles(&mut tx).await?;
    tx.commit().await?;
    Ok(roles)
}

/// Sets the roles the tenant requires MFA for; it applies from each user's next sign-in.
pub async fn set_policy(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    mut roles: Vec<Role>,
) -> ApiResult<Vec<Role>> {
    roles.sort();
    roles.dedup();
    let (mut tx, actor) = caller.begin_as(state, Role::TenantAdmin).await?;
    let before = store::required_roles(&mut tx).await?;
    if before == roles {
        tx.commit().await?;
        return Ok(roles);
    }
    store::set_required_roles(&mut tx, &roles).await?;
    Audit::new(
        AuditActor::User(actor.user_id),
        "tenant.mfa_policy_changed",
        "tenant",
        caller.tenant.id,
    )
    .from_ip(ip)
    .details(json!({ "from": before, "to": roles }))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(roles)
}
