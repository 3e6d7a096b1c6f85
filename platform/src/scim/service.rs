//! Provisioning rules. Users and cohorts change through the services every other caller uses
//! (`users::service`, `cohorts::store`), so accounts get their `user.created` and
//! `user.deactivated` events, their audit records, and deactivation ends every session at once.
//!
//! The SCIM view is every user of the tenant: an identity provider links an account that exists
//! already by filtering on its `userName` (the email), as Okta and Entra ID do before creating.
//! DELETE deactivates the account and takes it out of the view; its learning records stay, and
//! a later POST for the same login brings it back.

use std::collections::{BTreeSet, HashSet};

use axum::http::StatusCode;
use lms_tenants::TenantTx;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::caller::{Provisioner, Token};
use super::error::{ScimError, ScimResult, ScimType};
use super::filter;
use super::patch;
use super::resource::{self, Account, GROUP_SHAPE, USER_SHAPE};
use super::store::{self, GroupView, MemberView, UserView};
use crate::audit::Audit;
use crate::cohorts::CohortId;
use crate::cohorts::store::{self as cohorts, Roster};
use crate::state::AppState;
use crate::users::service as users;
use crate::users::store as accounts;
use crate::users::{UserId, UserStatus};

/// A page request: 1-based `startIndex`, `count` capped at the largest page.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub start_index: i64,
    pub count: i64,
}

pub struct Listed<T> {
    pub total: i64,
    pub start_index: i64,
    pub items: Vec<T>,
}

fn user_name_taken() -> ScimError {
    ScimError::uniqueness("another user of this organisation has this userName")
}

async fn view(tx: &mut TenantTx, id: UserId) -> ScimResult<UserView> {
    store::user(tx, id).await?.ok_or_else(ScimError::not_found)
}

pub async fn get_user(state: &AppState, who: &Provisioner, id: UserId) -> ScimResult<UserView> {
    let (mut tx, _) = who.begin(state).await?;
    let user = view(&mut tx, id).await?;
    tx.commit().await?;
    Ok(user)
}

pub async fn list_users(
    state: &AppState,
    who: &Provisioner,
    filter: Option<&str>,
    window: Window,
) -> ScimResult<Listed<UserView>> {
    let conditions = match filter {
        Some(raw) => filter::parse(raw, filter::Resource::User)?,
        None => Vec::new(),
    };
    let (mut tx, _) = who.begin(state).await?;
    let (total, items) =
        store::users(&mut tx, &conditions, window.start_index - 1, window.count).await?;
    tx.commit().await?;
    Ok(Listed {
        total,
        start_index: window.start_index,
        items,
    })
}

pub async fn create_user(
    state: &AppState,
    who: &Provisioner,
    body: &Value,
) -> ScimResult<UserView> {
    let document = resource::read_user(body)?;
    let account = Account::of(&document)?;
    let (mut tx, token) = who.begin(state).await?;
    let (taken, _) = store::users(
        &mut tx,
        &[filter::Condition::UserName(account.user_name.clone())],
        0,
        0,
    )
    .await?;
    if taken > 0 {
        return Err(user_name_taken());
    }
    let email = account.email.clone().ok_or_else(|| {
        ScimError::invalid_value("userName or the primary email must be an email address")
    })?;
    let id = match accounts::by_email(&mut tx, &email).await? {
        // An account the provider deleted earlier comes back (the same login, the same records).
        Some(existing) if store::is_deleted(&mut tx, existing.id).await? => {
            let existing = accounts::by_id_for_update(&mut tx, existing.id)
                .await?
                .ok_or_else(ScimError::not_found)?;
            save(&mut tx, &state.billing, token, &existing, &account, true).await?;
            existing.id
        }
        Some(_) => {
            return Err(ScimError::uniqueness(
                "a user of this organisation already has this userName or email",
            ));
        }
        None => {
            let row = users::provision_in(
                &mut tx,
                &state.billing,
                token.actor(),
                &email,
                &account.display_name,
                account.active.unwrap_or(true),
            )
            .await?;
            save_scim_attributes(&mut tx, row.id, &account).await?;
            row.id
        }
    };
    let user = view(&mut tx, id).await?;
    tx.commit().await?;
    Ok(user)
}

/// Keeps the account's SCIM userName, externalId and other attributes (409 `uniqueness` when
/// another account has the userName).
async fn save_scim_attributes(tx: &mut TenantTx, id: UserId, account: &Account) -> ScimResult<()> {
    store::save_user(
        tx,
        id,
        &account.user_name,
        account.external_id.as_deref(),
        &account.attributes,
    )
    .await
    .map_err(|err| {
        if crate::error::violated_constraint(&err) == Some(store::USER_NAME_TAKEN) {
            user_name_taken()
        } else {
            err.into()
        }
    })?;
    Ok(())
}

/// Makes the account what `account` says: email and name, SCIM attributes, and status (`active`
/// false deactivates, ending every session; true brings a deactivated account back). A
/// `revived` account (deleted by the provider earlier, created again) is active unless `active`
/// says otherwise.
async fn save(
    tx: &mut TenantTx,
    billing: &crate::billing::Billing,
    token: Token,
    current: &accounts::UserRow,
    account: &Account,
    revived: bool,
) -> ScimResult<()> {
    let email = account
        .email
        .clone()
        .unwrap_or_else(|| current.to_user().email);
    if email.as_str() != current.email || account.display_name.as_str() != current.display_name {
        users::update_profile_in(tx, token.actor(), current.id, &email, &account.display_name)
            .await?;
    }
    save_scim_attributes(tx, current.id, account).await?;
    let active = if revived {
        Some(account.active.unwrap_or(true))
    } else {
        account.active
    };
    match (active, current.status) {
        (Some(false), UserStatus::Active | UserStatus::Invited) => {
            users::deactivate_in(tx, token.actor(), None, current).await?;
        }
        (Some(true), UserStatus::Deactivated) => {
            users::reactivate_in(
                tx,
                billing,
                token.actor(),
                None,
                current,
                UserStatus::Active,
            )
            .await?;
        }
        _ => {}
    }
    Ok(())
}

/// The account of a user in the view, locked for the change.
async fn lock(tx: &mut TenantTx, id: UserId) -> ScimResult<accounts::UserRow> {
    view(tx, id).await?;
    accounts::by_id_for_update(tx, id)
        .await?
        .ok_or_else(ScimError::not_found)
}

/// PUT: the resource sent replaces the stored one (an absent `active` leaves the status alone,
/// as Okta's full-object updates expect).
pub async fn replace_user(
    state: &AppState,
    who: &Provisioner,
    id: UserId,
    body: &Value,
) -> ScimResult<UserView> {
    let document = resource::read_user(body)?;
    let account = Account::of(&document)?;
    let (mut tx, token) = who.begin(state).await?;
    let current = lock(&mut tx, id).await?;
    save(&mut tx, &state.billing, token, &current, &account, false).await?;
    let user = view(&mut tx, id).await?;
    tx.commit().await?;
    Ok(user)
}

pub async fn patch_user(
    state: &AppState,
    who: &Provisioner,
    id: UserId,
    body: &Value,
) -> ScimResult<UserView> {
    let operations = patch::read_request(body)?;
    let (mut tx, token) = who.begin(state).await?;
    let current = lock(&mut tx, id).await?;
    let mut document = resource::user_document(&view(&mut tx, id).await?);
    patch::apply(&USER_SHAPE, &mut document, &operations)?;
    if !document.contains_key("active") {
        return Err(ScimError::bad_request(
            ScimType::Mutability,
            "active cannot be removed: replace it with true or false",
        ));
    }
    let account = Account::of(&document)?;
    save(&mut tx, &state.billing, token, &current, &account, false).await?;
    let user = view(&mut tx, id).await?;
    tx.commit().await?;
    Ok(user)
}

pub async fn delete_user(state: &AppState, who: &Provisioner, id: UserId) -> ScimResult<()> {
    let (mut tx, token) = who.begin(state).await?;
    let current = lock(&mut tx, id).await?;
    if current.status != UserStatus::Deactivated {
        users::deactivate_in(&mut tx, token.actor(), None, &current).await?;
    }
    store::delete_user(&mut tx, id).await?;
    Audit::new(token.actor(), "user.deprovisioned", "user", id)
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

// --- groups ---

fn group_name_taken() -> ScimError {
    ScimError::uniqueness("another cohort of this organisation has this displayName")
}

async fn group_view(tx: &mut TenantTx, id: CohortId) -> ScimResult<GroupView> {
    store::group(tx, id).await?.ok_or_else(ScimError::not_found)
}

pub struct GroupWithMembers {
    pub group: GroupView,
    /// `None` when not asked for.
    pub members: Option<Vec<MemberView>>,
}

pub async fn get_group(
    state: &AppState,
    who: &Provisioner,
    id: CohortId,
    with_members: bool,
) -> ScimResult<GroupWithMembers> {
    let (mut tx, _) = who.begin(state).await?;
    let group = group_view(&mut tx, id).await?;
    let members = if with_members {
        Some(store::members(&mut tx, &[id.0]).await?)
    } else {
        None
    };
    tx.commit().await?;
    Ok(GroupWithMembers { group, members })
}

pub async fn list_groups(
    state: &AppState,
    who: &Provisioner,
    filter: Option<&str>,
    window: Window,
    with_members: bool,
) -> ScimResult<Listed<GroupWithMembers>> {
    let conditions = match filter {
        Some(raw) => filter::parse(raw, filter::Resource::Group)?,
        None => Vec::new(),
    };
    let (mut tx, _) = who.begin(state).await?;
    let (total, groups) =
        store::groups(&mut tx, &conditions, window.start_index - 1, window.count).await?;
    let mut members = if with_members && !groups.is_empty() {
        let ids: Vec<Uuid> = groups.iter().map(|g| g.id.0).collect();
        store::members(&mut tx, &ids).await?
    } else {
        Vec::new()
    };
    tx.commit().await?;
    let items = groups
        .into_iter()
        .map(|group| {
            let mine = with_members.then(|| {
                let (of_group, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut members)
                    .into_iter()
                    .partition(|m| m.cohort_id == group.id);
                members = rest;
                of_group
            });
            GroupWithMembers {
                group,
                members: mine,
            }
        })
        .collect();
    Ok(Listed {
        total,
        start_index: window.start_index,
        items,
    })
}

/// What a group document says.
struct GroupState {
    name: crate::cohorts::CohortName,
    external_id: Option<String>,
    members: BTreeSet<Uuid>,
}

fn group_state(document: &Map<String, Value>) -> ScimResult<GroupState> {
    let name = document
        .get("displayName")
        .and_then(Value::as_str)
        .ok_or_else(|| ScimError::invalid_value("displayName is required"))?;
    let name = crate::cohorts::CohortName::parse(name)
        .map_err(|e| ScimError::invalid_value(format!("displayName: {}", e.message)))?;
    let external_id = document
        .get("externalId")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut members = BTreeSet::new();
    for member in document
        .get("members")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let id = member
            .get("value")
            .and_then(Value::as_str)
            .and_then(|v| Uuid::parse_str(v).ok())
            .ok_or_else(|| ScimError::invalid_value("each member needs the value of a user id"))?;
        members.insert(id);
    }
    if members.len() > 10_000 {
        return Err(ScimError::bad_request(
            ScimType::TooMany,
            "at most 10000 members per request",
        ));
    }
    Ok(GroupState {
        name,
        external_id,
        members,
    })
}

/// Makes the cohort's name, external id and members what `state` says.
async fn save_group(
    tx: &mut TenantTx,
    token: Token,
    id: CohortId,
    current: Option<&GroupView>,
    current_members: &BTreeSet<Uuid>,
    state: &GroupState,
) -> ScimResult<()> {
    if current.is_some_and(|c| c.name != state.name.as_str()) {
        cohorts::update(tx, id, None, Some(state.name.as_str()), None)
            .await
            .map_err(|err| {
                if crate::error::violated_constraint(&err) == Some(cohorts::NAME_TAKEN) {
                    group_name_taken()
                } else {
                    err.into()
                }
            })?;
    }
    if current.is_none_or(|c| c.external_id != state.external_id) {
        store::set_group_external_id(tx, id, state.external_id.as_deref()).await?;
    }
    let added: Vec<Uuid> = state.members.difference(current_members).copied().collect();
    let removed: Vec<Uuid> = current_members
        .difference(&state.members)
        .copied()
        .collect();
    if !added.is_empty() {
        let known: HashSet<Uuid> = store::known_users(tx, &added).await?.into_iter().collect();
        if let Some(unknown) = added.iter().find(|id| !known.contains(id)) {
            return Err(ScimError::invalid_value(format!(
                "no user of this organisation has the id {unknown}"
            )));
        }
        for user in &added {
            cohorts::add_to(tx, Roster::Members, id, UserId(*user), token.owner).await?;
        }
    }
    for user in &removed {
        cohorts::remove_from(tx, Roster::Members, id, UserId(*user)).await?;
    }
    if !added.is_empty() {
        Audit::new(token.actor(), "cohort.members_added", "cohort", id)
            .details(json!({ "user_ids": added }))
            .record(tx)
            .await?;
    }
    if !removed.is_empty() {
        Audit::new(token.actor(), "cohort.members_removed", "cohort", id)
            .details(json!({ "user_ids": removed }))
            .record(tx)
            .await?;
    }
    Ok(())
}

pub async fn create_group(
    state: &AppState,
    who: &Provisioner,
    body: &Value,
) -> ScimResult<GroupWithMembers> {
    let wanted = group_state(&resource::read_group(body)?)?;
    let (mut tx, token) = who.begin(state).await?;
    let id = CohortId::default();
    cohorts::insert(&mut tx, id, wanted.name.as_str(), "")
        .await
        .map_err(|err| {
            if crate::error::violated_constraint(&err) == Some(cohorts::NAME_TAKEN) {
                group_name_taken()
            } else {
                err.into()
            }
        })?;
    Audit::new(token.actor(), "cohort.created", "cohort", id)
        .details(json!({ "name": wanted.name.as_str() }))
        .record(&mut tx)
        .await?;
    save_group(&mut tx, token, id, None, &BTreeSet::new(), &wanted).await?;
    answer_group(tx, id).await
}

/// Commits a group's change and answers the group as it now is, with its members.
async fn answer_group(mut tx: TenantTx, id: CohortId) -> ScimResult<GroupWithMembers> {
    let group = group_view(&mut tx, id).await?;
    let members = store::members(&mut tx, &[id.0]).await?;
    tx.commit().await?;
    Ok(GroupWithMembers {
        group,
        members: Some(members),
    })
}

async fn lock_group(tx: &mut TenantTx, id: CohortId) -> ScimResult<(GroupView, Vec<MemberView>)> {
    if !cohorts::lock(tx, id).await? {
        return Err(ScimError::not_found());
    }
    let group = group_view(tx, id).await?;
    let members = store::members(tx, &[id.0]).await?;
    Ok((group, members))
}

pub async fn replace_group(
    state: &AppState,
    who: &Provisioner,
    id: CohortId,
    body: &Value,
) -> ScimResult<GroupWithMembers> {
    let wanted = group_state(&resource::read_group(body)?)?;
    let (mut tx, token) = who.begin(state).await?;
    let (current, members) = lock_group(&mut tx, id).await?;
    let current_members = members.iter().map(|m| m.user_id.0).collect();
    save_group(
        &mut tx,
        token,
        id,
        Some(&current),
        &current_members,
        &wanted,
    )
    .await?;
    answer_group(tx, id).await
}

pub async fn patch_group(
    state: &AppState,
    who: &Provisioner,
    id: CohortId,
    body: &Value,
) -> ScimResult<GroupWithMembers> {
    let operations = patch::read_request(body)?;
    let (mut tx, token) = who.begin(state).await?;
    let (current, members) = lock_group(&mut tx, id).await?;
    let mut document = resource::group_document(&current, &members);
    patch::apply(&GROUP_SHAPE, &mut document, &operations)?;
    let wanted = group_state(&document)?;
    let current_members = members.iter().map(|m| m.user_id.0).collect();
    save_group(
        &mut tx,
        token,
        id,
        Some(&current),
        &current_members,
        &wanted,
    )
    .await?;
    answer_group(tx, id).await
}

pub async fn delete_group(state: &AppState, who: &Provisioner, id: CohortId) -> ScimResult<()> {
    let (mut tx, token) = who.begin(state).await?;
    let name = cohorts::delete(&mut tx, id)
        .await?
        .ok_or_else(ScimError::not_found)?;
    Audit::new(token.actor(), "cohort.deleted", "cohort", id)
        .details(json!({ "name": name }))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Reads `startIndex` and `count` (RFC 7644 §3.4.2.4: below 1 means 1, a negative count 0);
/// a count above the largest page gets the largest page.
pub fn window(start_index: Option<&str>, count: Option<&str>) -> ScimResult<Window> {
    let number = |name: &str, raw: Option<&str>, default: i64| -> ScimResult<i64> {
        match raw {
            None => Ok(default),
            Some(raw) => raw.trim().parse::<i64>().map_err(|_| {
                ScimError::new(
                    StatusCode::BAD_REQUEST,
                    Some(ScimType::InvalidValue),
                    format!("{name} must be an integer"),
                )
            }),
        }
    };
    let start_index = number("startIndex", start_index, 1)?.max(1);
    let count = number("count", count, super::discovery::MAX_PAGE_SIZE)?
        .clamp(0, super::discovery::MAX_PAGE_SIZE);
    Ok(Window { start_index, count })
}
