//! Imports as the API shows them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::users::UserId;

entity_id!(
    /// An import's identifier (UUIDv7).
    ImportId
);

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportKind {
    /// `email,name,roles,cohort,status`: creates, updates and deactivates users.
    Users,
    /// `email,course,cohort`: enrolls users into courses.
    Enrollments,
}

text_enum!(ImportKind {
    Users => "users",
    Enrollments => "enrollments",
});

/// Where an import is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    /// Stored; waiting for a worker.
    Queued,
    Running,
    /// Every row has its outcome (some may have failed).
    Succeeded,
    /// Stopped before its last row (see `error`); rows processed so far keep their outcome.
    Failed,
}

text_enum!(ImportStatus {
    Queued => "queued",
    Running => "running",
    Succeeded => "succeeded",
    Failed => "failed",
});

/// What a row did (in a dry run: would do).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RowAction {
    /// A user invited, or an enrollment made.
    Created,
    /// A user's name, roles, status or cohorts changed; an enrolled user added to the cohort.
    Updated,
    Deactivated,
    /// Already as the row says.
    Unchanged,
    /// Refused; see the row's error.
    Failed,
}

text_enum!(RowAction {
    Created => "created",
    Updated => "updated",
    Deactivated => "deactivated",
    Unchanged => "unchanged",
    Failed => "failed",
});

/// How many rows the import has and what they did so far.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportCounts {
    pub total: i32,
    pub processed: i32,
    pub created: i32,
    pub updated: i32,
    pub unchanged: i32,
    pub deactivated: i32,
    pub failed: i32,
}

/// One uploaded file and its progress.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Import {
    pub id: ImportId,
    pub kind: ImportKind,
    /// A dry run validates and reports every row's outcome and changes nothing.
    pub dry_run: bool,
    pub status: ImportStatus,
    /// The uploaded file's name, when it was sent as a multipart form.
    pub file_name: Option<String>,
    /// The file's columns, as read from its header (trimmed, lower case).
    pub columns: Vec<String>,
    pub counts: ImportCounts,
    /// Rows processed out of the total, 0 to 100.
    pub progress_percent: i32,
    /// Why a failed import stopped.
    pub error: Option<String>,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// One row of an import with its outcome (none yet while it waits).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportRow {
    /// The row's number as a spreadsheet shows it: the header is row 1.
    pub row_number: i32,
    /// The row's cells as sent, in the order of the import's `columns`.
    pub cells: Vec<String>,
    /// `null` until the row is processed.
    pub action: Option<RowAction>,
    /// Why the row failed, e.g. `invalid_email`, `unknown_role`, `duplicate_email`.
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}
