//! A users file, `email,name,roles,cohort,status`: each row creates (invites), updates or
//! deactivates the user with its email, through the users service, so events, invitations and
//! audit are those of the API.
//!
//! - `name`: required to create; for an existing user, a different name renames them.
//! - `roles`: `;`-separated; `learner` when a new user's cell is empty; for an existing user,
//!   different roles replace theirs (and end their sessions, as the API does).
//! - `cohort`: `;`-separated cohort names or ids the user joins (never leaves).
//! - `status`: `active` (reactivates a deactivated user) or `deactivated` (ends their sessions);
//!   empty leaves the status as it is.

use std::collections::HashMap;
use std::str::FromStr;

use lms_tenants::TenantTx;

use super::model::RowAction;
use super::rows::{
    Batch, Carry, Cells, CohortLookup, CohortRef, RowError, add_to_cohorts, shorten,
};
use super::store::{Outcome, PendingRow};
use crate::audit::AuditActor;
use crate::cohorts::CohortId;
use crate::cohorts::store as cohorts;
use crate::error::ApiResult;
use crate::state::AppState;
use crate::users::service::{self as users, Invitation};
use crate::users::store::{self as user_store, UserRow};
use crate::users::{DisplayName, Email, Role, Roles, UserId, UserStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wanted {
    Active,
    Deactivated,
}

struct Line {
    email: Email,
    name: Option<DisplayName>,
    roles: Option<Roles>,
    cohorts: Vec<CohortRef>,
    status: Option<Wanted>,
}

fn parse(batch: &Batch<'_>, row: &PendingRow) -> Result<Line, RowError> {
    if let Some(first) = row.duplicate_of {
        return Err(RowError::new(
            "duplicate_email",
            format!("row {first} has the same email; only the first row applies"),
        ));
    }
    let cells = Cells::of(batch.columns, row)?;
    let email = cells.email()?;
    let name = cells
        .get("name")
        .map(|raw| {
            DisplayName::parse(raw).map_err(|_| {
                RowError::new(
                    "invalid_name",
                    "a name has 1 to 200 characters and no control characters",
                )
            })
        })
        .transpose()?;
    let roles = cells.get("roles").map(parse_roles).transpose()?;
    let status = match cells.get("status").map(str::to_lowercase).as_deref() {
        None => None,
        Some("active") => Some(Wanted::Active),
        Some("deactivated" | "inactive") => Some(Wanted::Deactivated),
        Some(other) => {
            return Err(RowError::new(
                "invalid_status",
                format!(
                    "unknown status `{}`; use active or deactivated",
                    shorten(other)
                ),
            ));
        }
    };
    Ok(Line {
        email,
        name,
        roles,
        cohorts: cells.cohorts(),
        status,
    })
}

fn parse_roles(cell: &str) -> Result<Roles, RowError> {
    let mut roles = Vec::new();
    for raw in cell.split(';').map(str::trim).filter(|r| !r.is_empty()) {
        let role = Role::from_str(&raw.to_lowercase()).map_err(|_| {
            RowError::new(
                "unknown_role",
                format!(
                    "unknown role `{}`; roles are learner, instructor, mentor, tenant_admin and \
                     corporate_manager, separated by `;`",
                    shorten(raw)
                ),
            )
        })?;
        roles.push(role);
    }
    Roles::try_from(roles).map_err(|_| RowError::new("unknown_role", "no role given"))
}

/// What a row will do to an existing user.
struct Change {
    rename: Option<DisplayName>,
    roles: Option<Roles>,
    reactivate: bool,
    deactivate: bool,
    join: Vec<CohortId>,
}

enum Plan {
    Create {
        invitation: Invitation,
        join: Vec<CohortId>,
    },
    Change {
        current: Box<UserRow>,
        change: Change,
    },
    Unchanged,
}

impl Plan {
    fn action(&self) -> RowAction {
        match self {
            Self::Create { .. } => RowAction::Created,
            Self::Change { change, .. } if change.deactivate => RowAction::Deactivated,
            Self::Change { .. } => RowAction::Updated,
            Self::Unchanged => RowAction::Unchanged,
        }
    }
}

/// What the batch's rows need from the database, read in a few statements.
struct World {
    users: HashMap<String, UserRow>,
    cohorts: CohortLookup,
    memberships: std::collections::HashSet<(CohortId, UserId)>,
    active_admins: i64,
}

/// Processes one batch of a users file: validates and plans every row, then (unless a dry run)
/// applies the plans. A row's refusal is its outcome; an error returned is a write that failed
/// (the caller rolls the batch back and retries its rows one at a time).
pub async fn process(
    state: &AppState,
    tx: &mut TenantTx,
    batch: &Batch<'_>,
    rows: &[PendingRow],
    carry: &mut Carry,
) -> ApiResult<Vec<Outcome>> {
    let lines: Vec<Result<Line, RowError>> = rows.iter().map(|r| parse(batch, r)).collect();
    let world = load(tx, batch, &lines).await?;
    let mut outcomes = Vec::with_capacity(rows.len());
    let mut plans = Vec::new();
    for (row, line) in rows.iter().zip(lines) {
        match line.and_then(|line| plan(batch, &world, carry, line)) {
            Ok(plan) => {
                outcomes.push(Outcome::done(row.row_number, plan.action()));
                plans.push(plan);
            }
            Err(err) => outcomes.push(Outcome::failed(row.row_number, err)),
        }
    }
    if !batch.dry_run {
        for plan in plans {
            apply(state, tx, batch, plan).await?;
        }
    }
    Ok(outcomes)
}

async fn load(
    tx: &mut TenantTx,
    batch: &Batch<'_>,
    lines: &[Result<Line, RowError>],
) -> ApiResult<World> {
    let emails: Vec<&str> = lines.iter().flatten().map(|l| l.email.as_str()).collect();
    let rows = user_store::by_emails(tx, &emails, !batch.dry_run).await?;
    let ids: Vec<UserId> = rows.iter().map(|u| u.id).collect();
    let refs: Vec<CohortRef> = lines
        .iter()
        .flatten()
        .flat_map(|l| l.cohorts.iter().cloned())
        .collect();
    let cohorts = CohortLookup::load(tx, &refs).await?;
    let memberships = if refs.is_empty() {
        Default::default()
    } else {
        cohorts::memberships_of(tx, &ids)
            .await?
            .into_iter()
            .collect()
    };
    Ok(World {
        users: rows.into_iter().map(|u| (u.email.clone(), u)).collect(),
        cohorts,
        memberships,
        active_admins: user_store::active_admins(tx).await?,
    })
}

fn plan(batch: &Batch<'_>, world: &World, carry: &mut Carry, line: Line) -> Result<Plan, RowError> {
    let cohorts = world.cohorts.resolve(&line.cohorts)?;
    let Some(current) = world.users.get(line.email.as_str()) else {
        if line.status == Some(Wanted::Deactivated) {
            return Err(RowError::new(
                "unknown_user",
                "no user has this email: there is nobody to deactivate",
            ));
        }
        let display_name = line
            .name
            .ok_or_else(|| RowError::new("name_required", "a new user needs a name"))?;
        return Ok(Plan::Create {
            invitation: Invitation {
                email: line.email,
                display_name,
                roles: line.roles.unwrap_or_else(|| Roles::one(Role::Learner)),
            },
            join: cohorts,
        });
    };
    let deactivate =
        line.status == Some(Wanted::Deactivated) && current.status != UserStatus::Deactivated;
    if deactivate && current.id == batch.by {
        return Err(RowError::new(
            "cannot_deactivate_self",
            "you cannot deactivate your own account",
        ));
    }
    let roles = line.roles.filter(|roles| *roles != current.roles());
    let is_active_admin =
        current.status == UserStatus::Active && current.roles().contains(Role::TenantAdmin);
    let loses_admin = is_active_admin
        && (deactivate
            || roles
                .as_ref()
                .is_some_and(|r| !r.contains(Role::TenantAdmin)));
    if loses_admin {
        if world.active_admins - carry.admins_lost <= 1 {
            return Err(RowError::new(
                "last_admin",
                "the organisation must keep at least one active tenant admin",
            ));
        }
        carry.admins_lost += 1;
    }
    let join: Vec<CohortId> = cohorts
        .into_iter()
        .filter(|c| {
            !world.memberships.contains(&(*c, current.id))
                && carry.members_added.insert((*c, current.id))
        })
        .collect();
    let change = Change {
        rename: line.name.filter(|n| n.as_str() != current.display_name),
        roles,
        reactivate: line.status == Some(Wanted::Active)
            && current.status == UserStatus::Deactivated,
        deactivate,
        join,
    };
    let changes = change.rename.is_some()
        || change.roles.is_some()
        || change.reactivate
        || change.deactivate
        || !change.join.is_empty();
    Ok(if changes {
        Plan::Change {
            current: Box::new(current.clone()),
            change,
        }
    } else {
        Plan::Unchanged
    })
}

async fn apply(
    state: &AppState,
    tx: &mut TenantTx,
    batch: &Batch<'_>,
    plan: Plan,
) -> ApiResult<()> {
    match plan {
        Plan::Unchanged => {}
        Plan::Create { invitation, join } => {
            let user = users::invite_in(
                state,
                tx,
                batch.tenant,
                AuditActor::User(batch.by),
                batch.ip,
                invitation,
            )
            .await?;
            add_to_cohorts(tx, batch, user.id, &join).await?;
        }
        Plan::Change { current, change } => {
            let id = current.id;
            let by = AuditActor::User(batch.by);
            let mut row = *current;
            if let Some(name) = &change.rename {
                row = users::rename_in(tx, batch.by, batch.ip, row, name).await?;
            }
            if let Some(roles) = change.roles {
                row = users::set_roles_in(tx, batch.by, batch.ip, row, roles).await?;
            }
            if change.reactivate {
                let status = users::reactivated_status(&row);
                row = users::reactivate_in(tx, &state.billing, by, batch.ip, &row, status).await?;
            }
            if change.deactivate {
                users::deactivate_in(tx, by, batch.ip, &row).await?;
            }
            add_to_cohorts(tx, batch, id, &change.join).await?;
        }
    }
    Ok(())
}
