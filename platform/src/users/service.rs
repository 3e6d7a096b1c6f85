//! User-management rules. Only tenant admins manage users; an admin cannot lock themselves out
//! or remove the tenant's last active admin.

use std::net::IpAddr;

use lms_tenants::{Tenant, TenantTx};
use serde_json::json;

use super::model::{DisplayName, Email, Role, Roles, User, UserId, UserStatus};
use super::store::{self, ListFilter, NewUser};
use crate::audit::{Audit, AuditActor};
use crate::auth::Caller;
use crate::auth::service::INVITATION_TTL_SECONDS;
use crate::auth::store::{self as sessions, Purpose};
use crate::auth::tokens::OpaqueToken;
use crate::db::Cursor;
use crate::error::{ApiError, ApiResult, OnConstraint, codes};
use crate::http::Page;
use crate::state::AppState;

pub struct UserQuery {
    pub search: Option<String>,
    pub role: Option<Role>,
    pub status: Option<UserStatus>,
}

pub async fn list(
    state: &AppState,
    caller: &Caller,
    query: &UserQuery,
    cursor: Option<Cursor>,
    limit: i64,
) -> ApiResult<Page<User>> {
    let (mut tx, actor) = caller.begin(state).await?;
    actor.require(Role::TenantAdmin)?;
    let filter = ListFilter {
        search: query
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty()),
        role: query.role.map(Role::as_str),
        status: query.status.map(UserStatus::as_str),
    };
    let rows = store::list(&mut tx, &filter, cursor, limit).await?;
    tx.commit().await?;
    let users = rows.iter().map(store::UserRow::to_user).collect();
    Ok(Page::from_rows(users, limit, |u: &User| u.id.0))
}

pub async fn get(state: &AppState, caller: &Caller, id: UserId) -> ApiResult<User> {
    let (mut tx, actor) = caller.begin(state).await?;
    actor.require(Role::TenantAdmin)?;
    let row = store::by_id(&mut tx, id).await?.ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(row.to_user())
}

pub struct Invitation {
    pub email: Email,
    pub display_name: DisplayName,
    pub roles: Roles,
}

pub async fn invite(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    invitation: Invitation,
) -> ApiResult<User> {
    let (mut tx, actor) = caller.begin(state).await?;
    actor.require(Role::TenantAdmin)?;
    let user = invite_in(
        state,
        &mut tx,
        &caller.tenant,
        AuditActor::User(actor.user_id),
        Some(ip),
        invitation,
    )
    .await?;
    tx.commit().await?;
    Ok(user)
}

/// Creates an invited account and queues the invitation email, inside the caller's transaction
/// (also used by the operator to invite a new tenant's first admin).
pub async fn invite_in(
    state: &AppState,
    tx: &mut TenantTx,
    tenant: &Tenant,
    by: AuditActor,
    ip: Option<IpAddr>,
    invitation: Invitation,
) -> ApiResult<User> {
    let row = store::insert(
        tx,
        &NewUser {
            email: &invitation.email,
            display_name: &invitation.display_name,
            password_hash: None,
            roles: &invitation.roles,
            status: UserStatus::Invited,
        },
    )
    .await
    .on_constraint(store::EMAIL_TAKEN, email_taken)?;
    let token = OpaqueToken::generate();
    sessions::insert_user_token(
        tx,
        row.id,
        Purpose::Invitation,
        &token.hash(),
        INVITATION_TTL_SECONDS,
    )
    .await?;
    crate::notifications::invitation_email(
        state,
        tx,
        tenant,
        (&invitation.email, invitation.display_name.as_str()),
        token.as_str(),
    )
    .await?;
    if let AuditActor::User(admin) = &by {
        store::set_inviter(tx, row.id, *admin).await?;
    }
    let mut audit = Audit::new(by, "user.invited", "user", row.id)
        .details(json!({ "roles": invitation.roles }));
    if let Some(ip) = ip {
        audit = audit.from_ip(ip);
    }
    audit.record(tx).await?;
    Ok(row.to_user())
}

pub async fn set_roles(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    id: UserId,
    roles: Roles,
) -> ApiResult<User> {
    let (mut tx, actor) = caller.begin(state).await?;
    actor.require(Role::TenantAdmin)?;
    let current = store::by_id_for_update(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    // The same roles again change nothing: the user's sessions stay valid.
    if current.roles() == roles {
        tx.commit().await?;
        return Ok(current.to_user());
    }
    if current.roles().contains(Role::TenantAdmin) && !roles.contains(Role::TenantAdmin) {
        ensure_another_admin(&mut tx, id).await?;
    }
    let row = store::set_roles(&mut tx, id, &roles).await?;
    Audit::new(
        AuditActor::User(actor.user_id),
        "user.roles_changed",
        "user",
        id,
    )
    .from_ip(ip)
    .details(json!({ "from": current.roles(), "to": roles }))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(row.to_user())
}

/// Deactivates an account: it cannot sign in, and its tokens stop working at once. An account
/// already deactivated is answered as it is.
pub async fn deactivate(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    id: UserId,
) -> ApiResult<User> {
    let (mut tx, actor) = caller.begin(state).await?;
    actor.require(Role::TenantAdmin)?;
    if actor.user_id == id {
        return Err(ApiError::Conflict {
            code: "cannot_deactivate_self",
            detail: "you cannot deactivate your own account".into(),
        });
    }
    let current = store::by_id_for_update(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if current.status == UserStatus::Deactivated {
        tx.commit().await?;
        return Ok(current.to_user());
    }
    let row = deactivate_in(&mut tx, AuditActor::User(actor.user_id), Some(ip), &current).await?;
    tx.commit().await?;
    Ok(row.to_user())
}

/// Deactivates `current` (locked, not yet deactivated) in the caller's transaction: its refresh
/// tokens are revoked and its session epoch moves on, so every session ends at once; the
/// `user.deactivated` event and the audit record go with it. The last active tenant admin stays.
pub async fn deactivate_in(
    tx: &mut TenantTx,
    by: AuditActor,
    ip: Option<IpAddr>,
    current: &store::UserRow,
) -> ApiResult<store::UserRow> {
    let id = current.id;
    if current.roles().contains(Role::TenantAdmin) {
        ensure_another_admin(tx, id).await?;
    }
    let row = store::set_status(tx, id, UserStatus::Deactivated).await?;
    sessions::revoke_all_for_user(tx, id).await?;
    crate::events::emit(tx, &crate::events::UserDeactivated { user_id: id }).await?;
    Audit::new(by, "user.deactivated", "user", id)
        .from_optional_ip(ip)
        .record(tx)
        .await?;
    Ok(row)
}

/// Reactivates a deactivated account; one that is not deactivated is answered as it is, and
/// keeps its sessions.
pub async fn reactivate(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    id: UserId,
) -> ApiResult<User> {
    let (mut tx, actor) = caller.begin(state).await?;
    actor.require(Role::TenantAdmin)?;
    let current = store::by_id_for_update(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    // An account that never chose a password goes back to waiting for its invitation.
    let status = if current.password_hash.is_some() {
        UserStatus::Active
    } else {
        UserStatus::Invited
    };
    // Already there (e.g. an active user): nothing to do, and their sessions must keep working.
    if current.status == status {
        tx.commit().await?;
        return Ok(current.to_user());
    }
    let row = reactivate_in(
        &mut tx,
        AuditActor::User(actor.user_id),
        Some(ip),
        id,
        status,
    )
    .await?;
    tx.commit().await?;
    Ok(row.to_user())
}

/// Gives a deactivated account `status` again (`active`, or `invited` for one without a
/// password whose user signs in with one), with its audit record.
pub async fn reactivate_in(
    tx: &mut TenantTx,
    by: AuditActor,
    ip: Option<IpAddr>,
    id: UserId,
    status: UserStatus,
) -> ApiResult<store::UserRow> {
    let row = store::set_status(tx, id, status).await?;
    Audit::new(by, "user.reactivated", "user", id)
        .from_optional_ip(ip)
        .record(tx)
        .await?;
    Ok(row)
}

fn email_taken() -> ApiError {
    ApiError::Conflict {
        code: codes::EMAIL_TAKEN,
        detail: "a user with this email already exists in this organisation".into(),
    }
}

/// Creates an account an identity provider provisions (SCIM): a learner without a password,
/// who signs in through the organisation's SSO; deactivated from the start when the provider
/// says so. `user.created` is emitted as for every account.
pub async fn provision_in(
    tx: &mut TenantTx,
    by: AuditActor,
    email: &Email,
    display_name: &DisplayName,
    active: bool,
) -> ApiResult<store::UserRow> {
    let status = if active {
        UserStatus::Active
    } else {
        UserStatus::Deactivated
    };
    let row = store::insert(
        tx,
        &NewUser {
            email,
            display_name,
            password_hash: None,
            roles: &Roles::from_stored(&[Role::Learner]),
            status,
        },
    )
    .await
    .on_constraint(store::EMAIL_TAKEN, email_taken)?;
    Audit::new(by, "user.provisioned", "user", row.id)
        .details(json!({ "status": status.as_str() }))
        .record(tx)
        .await?;
    Ok(row)
}

/// Changes an account's email (its login identity) and name, as its identity provider says.
pub async fn update_profile_in(
    tx: &mut TenantTx,
    by: AuditActor,
    id: UserId,
    email: &Email,
    display_name: &DisplayName,
) -> ApiResult<store::UserRow> {
    let row = store::set_profile(tx, id, email, display_name)
        .await
        .on_constraint(store::EMAIL_TAKEN, email_taken)?;
    Audit::new(by, "user.profile_changed", "user", id)
        .record(tx)
        .await?;
    Ok(row)
}

async fn ensure_another_admin(tx: &mut TenantTx, except: UserId) -> ApiResult<()> {
    if store::other_active_admins(tx, except).await? == 0 {
        return Err(ApiError::Conflict {
            code: "last_admin",
            detail: "the organisation must keep at least one active tenant admin".into(),
        });
    }
    Ok(())
}
