//! What the users and enrollments files share: reading a row's cells by column, row errors, and
//! naming cohorts by id or name.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use lms_tenants::{Tenant, TenantTx};
use uuid::Uuid;

use super::model::RowAction;
use super::store::{Outcome, PendingRow};
use crate::cohorts::CohortId;
use crate::cohorts::store as cohorts;
use crate::courses::CourseId;
use crate::users::{Email, UserId};

/// Why one row was refused: a stable code and a sentence for the admin.
#[derive(Debug, Clone)]
pub struct RowError {
    pub code: &'static str,
    pub message: String,
}

impl RowError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl Outcome {
    pub fn done(row_number: i32, action: RowAction) -> Self {
        Self {
            row_number,
            action,
            error: None,
        }
    }

    pub fn failed(row_number: i32, error: RowError) -> Self {
        Self {
            row_number,
            action: RowAction::Failed,
            error: Some((error.code.to_owned(), error.message)),
        }
    }
}

/// What a batch runs with: who uploaded the file, from where, and whether it only reports.
pub struct Batch<'a> {
    pub tenant: &'a Tenant,
    pub by: UserId,
    pub ip: Option<IpAddr>,
    pub dry_run: bool,
    pub columns: &'a [String],
}

/// What earlier rows of a run changed that the database does not show yet: within a batch
/// (its rows are planned before any is applied) and, in a dry run, which writes nothing, from
/// every earlier batch.
#[derive(Debug, Default)]
pub struct Carry {
    /// Active tenant admins that rows deactivate or take the role from.
    pub admins_lost: i64,
    /// Cohort memberships rows add.
    pub members_added: HashSet<(CohortId, UserId)>,
    /// Seats rows take, per course.
    pub seats_taken: HashMap<CourseId, i64>,
}

/// A row's cells by column name.
pub struct Cells<'a> {
    columns: &'a [String],
    row: &'a PendingRow,
}

impl<'a> Cells<'a> {
    /// The row's cells, or `wrong_cell_count` when it has more or fewer than the header.
    pub fn of(columns: &'a [String], row: &'a PendingRow) -> Result<Self, RowError> {
        if row.cells.len() != columns.len() {
            return Err(RowError::new(
                "wrong_cell_count",
                format!(
                    "the row has {} cells; the header has {}",
                    row.cells.len(),
                    columns.len()
                ),
            ));
        }
        Ok(Self { columns, row })
    }

    /// The column's cell; `None` when the file has no such column or the cell is empty.
    pub fn get(&self, column: &str) -> Option<&'a str> {
        let at = self.columns.iter().position(|c| c == column)?;
        self.row
            .cells
            .get(at)
            .map(String::as_str)
            .filter(|c| !c.is_empty())
    }

    pub fn email(&self) -> Result<Email, RowError> {
        let raw = self
            .get("email")
            .ok_or_else(|| RowError::new("missing_email", "the row has no email"))?;
        Email::parse(raw).map_err(|_| {
            RowError::new(
                "invalid_email",
                format!("`{}` is not an email address", shorten(raw)),
            )
        })
    }

    /// The cohorts the row names (`;`-separated ids or names).
    pub fn cohorts(&self) -> Vec<CohortRef> {
        self.get("cohort")
            .map(|cell| {
                cell.split(';')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(CohortRef::parse)
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// At most 100 characters of a cell, to quote it in a message.
pub fn shorten(cell: &str) -> String {
    cell.chars().take(100).collect()
}

/// A cohort as a file names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CohortRef {
    Id(Uuid),
    /// Lower-cased: names are unique ignoring case.
    Name(String),
}

impl CohortRef {
    fn parse(cell: &str) -> Self {
        match Uuid::parse_str(cell) {
            Ok(id) => Self::Id(id),
            Err(_) => Self::Name(cell.to_lowercase()),
        }
    }

    fn shown(&self) -> String {
        match self {
            Self::Id(id) => id.to_string(),
            Self::Name(name) => shorten(name),
        }
    }
}

/// The cohorts of a batch's rows, looked up once.
pub struct CohortLookup {
    by_ref: HashMap<CohortRef, CohortId>,
}

impl CohortLookup {
    pub async fn load(tx: &mut TenantTx, refs: &[CohortRef]) -> Result<Self, sqlx::Error> {
        let ids: Vec<Uuid> = refs
            .iter()
            .filter_map(|r| match r {
                CohortRef::Id(id) => Some(*id),
                CohortRef::Name(_) => None,
            })
            .collect();
        let names: Vec<String> = refs
            .iter()
            .filter_map(|r| match r {
                CohortRef::Name(name) => Some(name.clone()),
                CohortRef::Id(_) => None,
            })
            .collect();
        let mut by_ref = HashMap::new();
        if !refs.is_empty() {
            for (id, name) in cohorts::by_ids_or_names(tx, &ids, &names).await? {
                by_ref.insert(CohortRef::Id(id.0), id);
                by_ref.insert(CohortRef::Name(name), id);
            }
        }
        Ok(Self { by_ref })
    }

    /// The row's cohorts, or `unknown_cohort` for the first that names none.
    pub fn resolve(&self, refs: &[CohortRef]) -> Result<Vec<CohortId>, RowError> {
        let mut ids = Vec::with_capacity(refs.len());
        for r in refs {
            let id = self.by_ref.get(r).ok_or_else(|| {
                RowError::new(
                    "unknown_cohort",
                    format!("no cohort of this organisation is named `{}`", r.shown()),
                )
            })?;
            if !ids.contains(id) {
                ids.push(*id);
            }
        }
        Ok(ids)
    }
}

/// Adds `user` to the cohorts they are not in yet (as the cohort API does, with its audit
/// event); returns whether any was added.
pub async fn add_to_cohorts(
    tx: &mut TenantTx,
    batch: &Batch<'_>,
    user: UserId,
    cohorts_to_join: &[CohortId],
) -> crate::error::ApiResult<bool> {
    let mut added = false;
    for &cohort in cohorts_to_join {
        if cohorts::add_to(tx, cohorts::Roster::Members, cohort, user, batch.by).await? {
            added = true;
            crate::audit::Audit::new(
                crate::audit::AuditActor::User(batch.by),
                "cohort.members_added",
                "cohort",
                cohort,
            )
            .from_optional_ip(batch.ip)
            .details(serde_json::json!({ "user_ids": [user], "source": "import" }))
            .record(tx)
            .await?;
        }
    }
    Ok(added)
}
