//! Cohort rules: tenant admins and corporate managers create, rename and delete cohorts and
//! change their members; instructors may read them too (to enroll a cohort into their course).
//! Learners may do neither (403).

use std::collections::HashSet;
use std::net::IpAddr;

use lms_tenants::TenantTx;
use serde_json::json;

use super::model::{
    Cohort, CohortDescription, CohortId, CohortMember, CohortName, MembershipChange,
    MembershipOutcome, MembershipResult,
};
use super::store;
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

fn may_manage(actor: &Actor) -> bool {
    actor.roles.contains(Role::TenantAdmin) || actor.roles.contains(Role::CorporateManager)
}

async fn begin(state: &AppState, caller: &Caller, manage: bool) -> ApiResult<(TenantTx, Actor)> {
    let (tx, actor) = caller.begin(state).await?;
    let allowed = may_manage(&actor) || (!manage && actor.roles.contains(Role::Instructor));
    if !allowed {
        return Err(ApiError::Forbidden {
            code: codes::FORBIDDEN,
            detail: "only tenant admins and corporate managers manage cohorts",
        });
    }
    Ok((tx, actor))
}

fn audit(actor: &Actor, ip: IpAddr, action: &'static str, id: CohortId) -> Audit {
    Audit::new(AuditActor::User(actor.user_id), action, "cohort", id).from_ip(ip)
}

async fn current(tx: &mut TenantTx, id: CohortId) -> ApiResult<Cohort> {
    Ok(store::by_id(tx, id)
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
    let (mut tx, actor) = begin(state, caller, true).await?;
    let id = CohortId::default();
    store::insert(&mut tx, id, name.as_str(), description.as_str())
        .await
        .on_constraint(store::NAME_TAKEN, name_taken)?;
    audit(&actor, ip, "cohort.created", id)
        .details(json!({ "name": name.as_str() }))
        .record(&mut tx)
        .await?;
    let cohort = current(&mut tx, id).await?;
    tx.commit().await?;
    Ok(cohort)
}

pub async fn list(
    state: &AppState,
    caller: &Caller,
    cursor: Option<Cursor>,
    limit: i64,
) -> ApiResult<Page<Cohort>> {
    let (mut tx, _) = begin(state, caller, false).await?;
    let rows = store::list(&mut tx, cursor, limit).await?;
    tx.commit().await?;
    let items = rows.iter().map(store::CohortRow::to_cohort).collect();
    Ok(Page::from_rows(items, limit, |c: &Cohort| c.id.0))
}

pub async fn get(state: &AppState, caller: &Caller, id: CohortId) -> ApiResult<Cohort> {
    let (mut tx, _) = begin(state, caller, false).await?;
    let cohort = current(&mut tx, id).await?;
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
    let (mut tx, actor) = begin(state, caller, true).await?;
    let found = store::update(
        &mut tx,
        id,
        name.as_ref().map(CohortName::as_str),
        description.as_ref().map(CohortDescription::as_str),
    )
    .await
    .on_constraint(store::NAME_TAKEN, name_taken)?;
    if !found {
        return Err(ApiError::NotFound);
    }
    audit(&actor, ip, "cohort.updated", id)
        .details(json!({ "name": name.as_ref().map(CohortName::as_str) }))
        .record(&mut tx)
        .await?;
    let cohort = current(&mut tx, id).await?;
    tx.commit().await?;
    Ok(cohort)
}

/// Deletes the cohort and its memberships; enrollments made through it stay.
pub async fn delete(state: &AppState, caller: &Caller, ip: IpAddr, id: CohortId) -> ApiResult<()> {
    let (mut tx, actor) = begin(state, caller, true).await?;
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
    let (mut tx, _) = begin(state, caller, false).await?;
    if store::by_id(&mut tx, id).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    let rows = store::members(&mut tx, id, cursor, limit).await?;
    tx.commit().await?;
    Ok(Page::from_rows(rows, limit, |m: &CohortMember| m.user_id.0))
}

/// Adds (`add`) or removes users, answering per user in the order given.
pub async fn change_members(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    id: CohortId,
    users: Vec<UserId>,
    add: bool,
) -> ApiResult<MembershipChange> {
    let (mut tx, actor) = begin(state, caller, true).await?;
    if !store::lock(&mut tx, id).await? {
        return Err(ApiError::NotFound);
    }
    let known: HashSet<UserId> = if add {
        active_users(&mut tx, &users).await?.into_iter().collect()
    } else {
        HashSet::new()
    };
    let mut results = Vec::with_capacity(users.len());
    let mut changed = Vec::new();
    for user in users {
        let result = if add {
            if !known.contains(&user) {
                MembershipOutcome::UnknownUser
            } else if store::add_member(&mut tx, id, user, actor.user_id).await? {
                changed.push(user);
                MembershipOutcome::Added
            } else {
                MembershipOutcome::AlreadyMember
            }
        } else if store::remove_member(&mut tx, id, user).await? {
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
