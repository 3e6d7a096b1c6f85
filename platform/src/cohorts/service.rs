//! Cohort rules. Tenant admins create, rename and delete cohorts, change their members and
//! assign their managers. A corporate manager sees only the cohorts they manage (any other
//! answers 404, as if absent): they rename them and change their members, but add only users
//! already in one of their teams (adding anyone else would hand them that user's team report),
//! and they neither create nor delete cohorts. Instructors read every cohort (to enroll one into
//! their course). Learners and mentors may do none of this (403).

use std::collections::HashSet;
use std::net::IpAddr;

use lms_tenants::TenantTx;
use serde_json::json;

use super::model::{
    Cohort, CohortDescription, CohortId, CohortManager, CohortMember, CohortName, MembershipChange,
    MembershipOutcome, MembershipResult, Team,
};
use super::store::{self, Roster};
use crate::audit::{Audit, AuditActor};
use crate::auth::{Actor, Caller};
use crate::db::Cursor;
use crate::enrollments::active_users;
use crate::error::{ApiError, ApiResult, OnConstraint, codes};
use crate::http::Page;
use crate::state::AppState;
use crate::users::{Role, UserId};

fn name_taken() -> ApiError {
    ApiError::Conflict {
        code: codes::NAME_TAKEN,
        detail: "another cohort of this organisation has this name".into(),
    }
}

/// The cohorts a caller works with, and how.
struct Access {
    actor: Actor,
    /// `Some(manager)`: only the cohorts this corporate manager manages; `None`: every cohort.
    manager: Option<UserId>,
}

/// Opens the transaction for a caller who reads cohorts (`manage` false: tenant admins,
/// instructors and corporate managers) or changes them (tenant admins and corporate managers).
async fn begin(state: &AppState, caller: &Caller, manage: bool) -> ApiResult<(TenantTx, Access)> {
    let (tx, actor) = caller.begin(state).await?;
    let roles = &actor.roles;
    let manager =
        if roles.contains(Role::TenantAdmin) || (!manage && roles.contains(Role::Instructor)) {
            None
        } else if roles.contains(Role::CorporateManager) {
            Some(actor.user_id)
        } else {
            return Err(ApiError::Forbidden {
                code: codes::FORBIDDEN,
                detail: "only tenant admins and corporate managers manage cohorts",
            });
        };
    Ok((tx, Access { actor, manager }))
}

/// Opens the transaction for a tenant admin (creating and deleting cohorts, assigning managers).
async fn begin_admin(state: &AppState, caller: &Caller) -> ApiResult<(TenantTx, Actor)> {
    let (tx, actor) = caller.begin(state).await?;
    if !actor.roles.contains(Role::TenantAdmin) {
        return Err(ApiError::Forbidden {
            code: codes::FORBIDDEN,
            detail: "only tenant admins create and delete cohorts and assign their managers",
        });
    }
    Ok((tx, actor))
}

fn audit(actor: &Actor, ip: IpAddr, action: &'static str, id: CohortId) -> Audit {
    Audit::new(AuditActor::User(actor.user_id), action, "cohort", id).from_ip(ip)
}

async fn current(tx: &mut TenantTx, id: CohortId, manager: Option<UserId>) -> ApiResult<Cohort> {
    Ok(store::by_id(tx, id, manager)
        .await?
        .ok_or(ApiError::NotFound)?
        .to_cohort())
}

pub async fn create(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    name: CohortName,
    description: CohortDescription,
) -> ApiResult<Cohort> {
    let (mut tx, actor) = begin_admin(state, caller).await?;
    let id = CohortId::default();
    store::insert(&mut tx, id, name.as_str(), description.as_str())
        .await
        .on_constraint(store::NAME_TAKEN, name_taken)?;
    audit(&actor, ip, "cohort.created", id)
        .details(json!({ "name": name.as_str() }))
        .record(&mut tx)
        .await?;
    let cohort = current(&mut tx, id, None).await?;
    tx.commit().await?;
    Ok(cohort)
}

pub async fn list(
    state: &AppState,
    caller: &Caller,
    cursor: Option<Cursor>,
    limit: i64,
) -> ApiResult<Page<Cohort>> {
    let (mut tx, access) = begin(state, caller, false).await?;
    let rows = store::list(&mut tx, access.manager, cursor, limit).await?;
    tx.commit().await?;
    let items = rows.iter().map(store::CohortRow::to_cohort).collect();
    Ok(Page::from_rows(items, limit, |c: &Cohort| c.id.0))
}

pub async fn get(state: &AppState, caller: &Caller, id: CohortId) -> ApiResult<Cohort> {
    let (mut tx, access) = begin(state, caller, false).await?;
    let cohort = current(&mut tx, id, access.manager).await?;
    tx.commit().await?;
    Ok(cohort)
}

pub async fn update(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    id: CohortId,
    name: Option<CohortName>,
    description: Option<CohortDescription>,
) -> ApiResult<Cohort> {
    let (mut tx, access) = begin(state, caller, true).await?;
    let found = store::update(
        &mut tx,
        id,
        access.manager,
        name.as_ref().map(CohortName::as_str),
        description.as_ref().map(CohortDescription::as_str),
    )
    .await
    .on_constraint(store::NAME_TAKEN, name_taken)?;
    if !found {
        return Err(ApiError::NotFound);
    }
    audit(&access.actor, ip, "cohort.updated", id)
        .details(json!({ "name": name.as_ref().map(CohortName::as_str) }))
        .record(&mut tx)
        .await?;
    let cohort = current(&mut tx, id, access.manager).await?;
    tx.commit().await?;
    Ok(cohort)
}

/// Deletes the cohort and its memberships; enrollments made through it stay.
pub async fn delete(state: &AppState, caller: &Caller, ip: IpAddr, id: CohortId) -> ApiResult<()> {
    let (mut tx, actor) = begin_admin(state, caller).await?;
    let name = store::delete(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    audit(&actor, ip, "cohort.deleted", id)
        .details(json!({ "name": name }))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn members(
    state: &AppState,
    caller: &Caller,
    id: CohortId,
    cursor: Option<Cursor>,
    limit: i64,
) -> ApiResult<Page<CohortMember>> {
    let (mut tx, access) = begin(state, caller, false).await?;
    if store::by_id(&mut tx, id, access.manager).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    let rows = store::members(&mut tx, id, cursor, limit).await?;
    tx.commit().await?;
    Ok(Page::from_rows(rows, limit, |m: &CohortMember| m.user_id.0))
}

/// Adds (`add`) or removes users, answering per user in the order given. A corporate manager
/// adds only members of their other teams; anyone else is an `unknown_user` to them.
pub async fn change_members(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    id: CohortId,
    users: Vec<UserId>,
    add: bool,
) -> ApiResult<MembershipChange> {
    let (mut tx, access) = begin(state, caller, true).await?;
    if !store::lock_managed(&mut tx, id, access.manager).await? {
        return Err(ApiError::NotFound);
    }
    let known: HashSet<UserId> = match (add, access.manager) {
        (false, _) => HashSet::new(),
        (true, None) => active_users(&mut tx, &users).await?.into_iter().collect(),
        (true, Some(manager)) => store::team_members(&mut tx, Team::ManagedBy(manager), &users)
            .await?
            .into_iter()
            .collect(),
    };
    let actor = access.actor;
    let mut results = Vec::with_capacity(users.len());
    let mut changed = Vec::new();
    for user in users {
        let result = if add {
            if !known.contains(&user) {
                MembershipOutcome::UnknownUser
            } else if store::add_to(&mut tx, Roster::Members, id, user, actor.user_id).await? {
                changed.push(user);
                MembershipOutcome::Added
            } else {
                MembershipOutcome::AlreadyMember
            }
        } else if store::remove_from(&mut tx, Roster::Members, id, user).await? {
            changed.push(user);
            MembershipOutcome::Removed
        } else {
            MembershipOutcome::NotMember
        };
        results.push(MembershipResult {
            user_id: user,
            result,
        });
    }
    let action = if add {
        "cohort.members_added"
    } else {
        "cohort.members_removed"
    };
    audit(&actor, ip, action, id)
        .details(json!({ "user_ids": changed }))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(MembershipChange { results })
}

fn not_corporate_manager() -> ApiError {
    ApiError::validation(
        "user_id",
        "not_corporate_manager",
        "no active user of this organisation with the corporate_manager role has this id",
    )
}

/// The cohort's managers (whoever may read the cohort).
pub async fn managers(
    state: &AppState,
    caller: &Caller,
    id: CohortId,
    cursor: Option<Cursor>,
    limit: i64,
) -> ApiResult<Page<CohortManager>> {
    let (mut tx, access) = begin(state, caller, false).await?;
    if store::by_id(&mut tx, id, access.manager).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    let rows = store::managers(&mut tx, id, cursor, limit).await?;
    tx.commit().await?;
    Ok(Page::from_rows(rows, limit, |m: &CohortManager| {
        m.user_id.0
    }))
}

/// Makes a corporate manager a manager of the cohort (tenant admins). The boolean tells whether
/// they became one now (false: they already were).
pub async fn assign_manager(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    id: CohortId,
    user: UserId,
) -> ApiResult<(CohortManager, bool)> {
    let (mut tx, actor) = begin_admin(state, caller).await?;
    if !store::lock(&mut tx, id).await? {
        return Err(ApiError::NotFound);
    }
    if !store::is_corporate_manager(&mut tx, user).await? {
        return Err(not_corporate_manager());
    }
    let added = store::add_to(&mut tx, Roster::Managers, id, user, actor.user_id).await?;
    if added {
        audit(&actor, ip, "cohort.manager_assigned", id)
            .details(json!({ "user_id": user }))
            .record(&mut tx)
            .await?;
    }
    let manager = store::manager(&mut tx, id, user)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok((manager, added))
}

/// Ends a user's management of the cohort (tenant admins); 404 when they are not its manager.
pub async fn unassign_manager(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    id: CohortId,
    user: UserId,
) -> ApiResult<()> {
    let (mut tx, actor) = begin_admin(state, caller).await?;
    if !store::lock(&mut tx, id).await?
        || !store::remove_from(&mut tx, Roster::Managers, id, user).await?
    {
        return Err(ApiError::NotFound);
    }
    audit(&actor, ip, "cohort.manager_unassigned", id)
        .details(json!({ "user_id": user }))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(())
}
