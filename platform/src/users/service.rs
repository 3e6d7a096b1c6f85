//! User-management rules. Only tenant admins manage users; an admin cannot lock themselves out
//! or remove the tenant's last active admin.

use std::net::IpAddr;

use lms_tenants::{Tenant, TenantTx};
use serde_json::json;

use super::model::{DisplayName, Email, Role, Roles, User, UserId, UserStatus};
use super::store::{self, ListFilter, NewUser, UserRow};
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
    crate::billing::seats::take(tx, &state.billing).await?;
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
    let row = set_roles_in(&mut tx, actor.user_id, Some(ip), current, roles).await?;
    tx.commit().await?;
    Ok(row.to_user())
}

/// Replaces the roles of `current` (locked by the caller) on behalf of the admin `by`. The same
/// roles again change nothing: the user's sessions stay valid.
pub async fn set_roles_in(
    tx: &mut TenantTx,
    by: UserId,
    ip: Option<IpAddr>,
    current: UserRow,
    roles: Roles,
) -> ApiResult<UserRow> {
    if current.roles() == roles {
        return Ok(current);
    }
    let id = current.id;
    if current.roles().contains(Role::TenantAdmin) && !roles.contains(Role::TenantAdmin) {
        ensure_another_admin(tx, id).await?;
    }
    let row = store::set_roles(tx, id, &roles).await?;
    Audit::new(AuditActor::User(by), "user.roles_changed", "user", id)
        .from_optional_ip(ip)
        .details(json!({ "from": current.roles(), "to": roles }))
        .record(tx)
        .await?;
    Ok(row)
}

/// Renames `current` on behalf of the admin `by` (a bulk import); the same name changes nothing.
pub async fn rename_in(
    tx: &mut TenantTx,
    by: UserId,
    ip: Option<IpAddr>,
    current: UserRow,
    name: &DisplayName,
) -> ApiResult<UserRow> {
    if current.display_name == name.as_str() {
        return Ok(current);
    }
    let id = current.id;
    let row = store::set_display_name(tx, id, name).await?;
    Audit::new(AuditActor::User(by), "user.renamed", "user", id)
        .from_optional_ip(ip)
        .details(json!({ "from": current.display_name, "to": name.as_str() }))
        .record(tx)
        .await?;
    Ok(row)
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
    let current = store::by_id_for_update(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let row = deactivate_in(&mut tx, AuditActor::User(actor.user_id), Some(ip), &current).await?;
    tx.commit().await?;
    Ok(row.to_user())
}

/// Deactivates `current` (locked by the caller) in the caller's transaction, on behalf of `by`
/// (an admin, a bulk import, an identity provider): its refresh tokens are revoked and its
/// session epoch moves on, so every session ends at once; the `user.deactivated` event and the
/// audit record go with it. Nobody deactivates themselves, the last active tenant admin stays,
/// and an account already deactivated is returned as it is.
pub async fn deactivate_in(
    tx: &mut TenantTx,
    by: AuditActor,
    ip: Option<IpAddr>,
    current: &UserRow,
) -> ApiResult<UserRow> {
    let id = current.id;
    if matches!(by, AuditActor::User(actor) if actor == id) {
        return Err(ApiError::Conflict {
            code: "cannot_deactivate_self",
            detail: "you cannot deactivate your own account".into(),
        });
    }
    if current.status == UserStatus::Deactivated {
        return Ok(current.clone());
    }
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
    let status = reactivated_status(&current);
    let row = reactivate_in(
        &mut tx,
        &state.billing,
        AuditActor::User(actor.user_id),
        Some(ip),
        &current,
        status,
    )
    .await?;
    tx.commit().await?;
    Ok(row.to_user())
}

/// The status an account an admin reactivates goes back to: active, or waiting for its
/// invitation when it never chose a password.
pub fn reactivated_status(current: &UserRow) -> UserStatus {
    if current.password_hash.is_some() {
        UserStatus::Active
    } else {
        UserStatus::Invited
    }
}

/// Gives `current` (locked by the caller) `status` again, with its audit record, on behalf of
/// `by`. An account already in that status (e.g. an active user) is returned as it is, and its
/// sessions keep working. A deactivated account coming back takes a seat of the plan.
pub async fn reactivate_in(
    tx: &mut TenantTx,
    billing: &crate::billing::Billing,
    by: AuditActor,
    ip: Option<IpAddr>,
    current: &UserRow,
    status: UserStatus,
) -> ApiResult<UserRow> {
    if current.status == status {
        return Ok(current.clone());
    }
    if current.status == UserStatus::Deactivated {
        crate::billing::seats::take(tx, billing).await?;
    }
    let id = current.id;
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
/// says so. `user.created` is emitted as for every account. An active one takes a seat.
pub async fn provision_in(
    tx: &mut TenantTx,
    billing: &crate::billing::Billing,
    by: AuditActor,
    email: &Email,
    display_name: &DisplayName,
    active: bool,
) -> ApiResult<store::UserRow> {
    let status = if active {
        crate::billing::seats::take(tx, billing).await?;
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
