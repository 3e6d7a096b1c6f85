//! All SQL on `imports` and `import_rows`, on the caller's tenant-scoped transaction.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use lms_tenants::TenantTx;

use super::model::{
    Import, ImportCounts, ImportId, ImportKind, ImportRow, ImportStatus, RowAction,
};
use super::upload::ParsedFile;
use crate::users::UserId;

#[derive(sqlx::FromRow)]
pub struct ImportRecord {
    pub id: ImportId,
    pub kind: ImportKind,
    pub dry_run: bool,
    pub status: ImportStatus,
    pub file_name: Option<String>,
    pub columns: Vec<String>,
    pub total: i32,
    pub processed: i32,
    pub created: i32,
    pub updated: i32,
    pub unchanged: i32,
    pub deactivated: i32,
    pub failed: i32,
    pub error: Option<String>,
    pub created_by: UserId,
    pub created_from: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, kind, dry_run, status, file_name, columns, total, processed, created,
    updated, unchanged, deactivated, failed, error, created_by, host(created_from) as created_from,
    created_at, started_at, finished_at";

impl ImportRecord {
    pub fn to_import(&self) -> Import {
        let percent = if self.total == 0 {
            100
        } else {
            // At most 10,000 rows: no overflow.
            self.processed * 100 / self.total
        };
        Import {
            id: self.id,
            kind: self.kind,
            dry_run: self.dry_run,
            status: self.status,
            file_name: self.file_name.clone(),
            columns: self.columns.clone(),
            counts: ImportCounts {
                total: self.total,
                processed: self.processed,
                created: self.created,
                updated: self.updated,
                unchanged: self.unchanged,
                deactivated: self.deactivated,
                failed: self.failed,
            },
            progress_percent: percent,
            error: self.error.clone(),
            created_by: self.created_by,
            created_at: self.created_at,
            started_at: self.started_at,
            finished_at: self.finished_at,
        }
    }

    /// The address the file was uploaded from (recorded with each change's audit event).
    pub fn ip(&self) -> Option<IpAddr> {
        self.created_from.as_deref().and_then(|ip| ip.parse().ok())
    }
}

/// An import about to be stored.
pub struct NewImport<'a> {
    pub id: ImportId,
    pub kind: ImportKind,
    pub dry_run: bool,
    pub file_name: Option<&'a str>,
    pub by: UserId,
    pub ip: IpAddr,
}

/// Stores the import and its rows (one statement for all rows).
pub async fn insert(
    tx: &mut TenantTx,
    new: &NewImport<'_>,
    file: &ParsedFile,
) -> Result<(), sqlx::Error> {
    let id = new.id;
    sqlx::query(
        "insert into imports (tenant_id, id, kind, dry_run, file_name, columns, total, created_by,
                              created_from)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9::inet)",
    )
    .bind(tx.tenant_id())
    .bind(id)
    .bind(new.kind.as_str())
    .bind(new.dry_run)
    .bind(new.file_name.filter(|n| !n.is_empty()))
    .bind(&file.columns)
    .bind(i32::try_from(file.rows.len()).unwrap_or(i32::MAX))
    .bind(new.by)
    .bind(new.ip.to_string())
    .execute(&mut **tx)
    .await?;
    let numbers: Vec<i32> = file.rows.iter().map(|r| r.row_number).collect();
    // A text[][] must be rectangular: rows travel as JSON arrays and become text[] in SQL.
    let cells: Vec<serde_json::Value> = file
        .rows
        .iter()
        .map(|r| serde_json::Value::from(r.cells.clone()))
        .collect();
    let duplicates: Vec<Option<i32>> = file.rows.iter().map(|r| r.duplicate_of).collect();
    sqlx::query(
        "insert into import_rows (tenant_id, import_id, row_number, cells, duplicate_of)
         select $1, $2, n, array(select jsonb_array_elements_text(c)), d
         from unnest($3::int[], $4::jsonb[], $5::int[]) as r(n, c, d)",
    )
    .bind(tx.tenant_id())
    .bind(id)
    .bind(numbers)
    .bind(cells)
    .bind(duplicates)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn by_id(tx: &mut TenantTx, id: ImportId) -> Result<Option<ImportRecord>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from imports where tenant_id = $1 and id = $2"
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

/// Locks the import for the rest of the transaction: one batch of it runs at a time.
pub async fn lock(tx: &mut TenantTx, id: ImportId) -> Result<Option<ImportRecord>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from imports where tenant_id = $1 and id = $2 for update"
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

/// The tenant's imports, newest first, one more than `limit`.
pub async fn list(
    tx: &mut TenantTx,
    cursor: Option<crate::db::Cursor>,
    limit: i64,
) -> Result<Vec<ImportRecord>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from imports
         where tenant_id = $1 and ($2::uuid is null or id < $2)
         order by id desc limit $3"
    ))
    .bind(tx.tenant_id())
    .bind(cursor.map(|c| c.0))
    .bind(limit + 1)
    .fetch_all(&mut **tx)
    .await
}

/// A row waiting for its outcome.
#[derive(sqlx::FromRow)]
pub struct PendingRow {
    pub row_number: i32,
    pub cells: Vec<String>,
    pub duplicate_of: Option<i32>,
}

/// The next `limit` rows without an outcome, in file order (from `after` on).
pub async fn pending(
    tx: &mut TenantTx,
    id: ImportId,
    after: i32,
    limit: i64,
) -> Result<Vec<PendingRow>, sqlx::Error> {
    sqlx::query_as(
        "select row_number, cells, duplicate_of from import_rows
         where tenant_id = $1 and import_id = $2 and action is null and row_number > $3
         order by row_number limit $4",
    )
    .bind(tx.tenant_id())
    .bind(id)
    .bind(after)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await
}

/// What one row did, or why it failed.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub row_number: i32,
    pub action: RowAction,
    pub error: Option<(String, String)>,
}

/// Records the rows' outcomes and adds them to the import's counts (one statement each).
pub async fn record(
    tx: &mut TenantTx,
    id: ImportId,
    outcomes: &[Outcome],
) -> Result<(), sqlx::Error> {
    if outcomes.is_empty() {
        return Ok(());
    }
    let numbers: Vec<i32> = outcomes.iter().map(|o| o.row_number).collect();
    let actions: Vec<&str> = outcomes.iter().map(|o| o.action.as_str()).collect();
    let codes: Vec<Option<&str>> = outcomes
        .iter()
        .map(|o| o.error.as_ref().map(|e| e.0.as_str()))
        .collect();
    let messages: Vec<Option<String>> = outcomes
        .iter()
        .map(|o| {
            o.error
                .as_ref()
                .map(|e| e.1.chars().take(1000).collect::<String>())
        })
        .collect();
    sqlx::query(
        "update import_rows r set action = o.action, error_code = o.code,
                error_message = o.message, processed_at = now()
         from unnest($3::int[], $4::text[], $5::text[], $6::text[]) as o(n, action, code, message)
         where r.tenant_id = $1 and r.import_id = $2 and r.row_number = o.n",
    )
    .bind(tx.tenant_id())
    .bind(id)
    .bind(&numbers)
    .bind(&actions)
    .bind(&codes)
    .bind(&messages)
    .execute(&mut **tx)
    .await?;
    let count = |action: RowAction| {
        i32::try_from(outcomes.iter().filter(|o| o.action == action).count()).unwrap_or(0)
    };
    sqlx::query(
        "update imports set processed = processed + $3, created = created + $4,
                updated = updated + $5, unchanged = unchanged + $6,
                deactivated = deactivated + $7, failed = failed + $8
         where tenant_id = $1 and id = $2",
    )
    .bind(tx.tenant_id())
    .bind(id)
    .bind(i32::try_from(outcomes.len()).unwrap_or(0))
    .bind(count(RowAction::Created))
    .bind(count(RowAction::Updated))
    .bind(count(RowAction::Unchanged))
    .bind(count(RowAction::Deactivated))
    .bind(count(RowAction::Failed))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Marks the import running (its first batch is under way).
pub async fn start(tx: &mut TenantTx, id: ImportId) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update imports set status = 'running', started_at = coalesce(started_at, now()),
                error = null, finished_at = null
         where tenant_id = $1 and id = $2 and status <> 'running'",
    )
    .bind(tx.tenant_id())
    .bind(id)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Ends the import as `status`, with why it failed.
pub async fn finish(
    tx: &mut TenantTx,
    id: ImportId,
    status: ImportStatus,
    error: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update imports set status = $3, error = $4, finished_at = now()
         where tenant_id = $1 and id = $2",
    )
    .bind(tx.tenant_id())
    .bind(id)
    .bind(status.as_str())
    .bind(error.map(|e| e.chars().take(1000).collect::<String>()))
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

#[derive(sqlx::FromRow)]
struct RowRecord {
    row_number: i32,
    cells: Vec<String>,
    action: Option<RowAction>,
    error_code: Option<String>,
    error_message: Option<String>,
}

/// The import's rows in file order after row `after`, one more than `limit`; only those with
/// `action` when given.
pub async fn rows(
    tx: &mut TenantTx,
    id: ImportId,
    action: Option<RowAction>,
    after: i32,
    limit: i64,
) -> Result<Vec<ImportRow>, sqlx::Error> {
    let rows: Vec<RowRecord> = sqlx::query_as(
        "select row_number, cells, action, error_code, error_message from import_rows
         where tenant_id = $1 and import_id = $2 and row_number > $3
           and ($4::text is null or action = $4)
         order by row_number limit $5",
    )
    .bind(tx.tenant_id())
    .bind(id)
    .bind(after)
    .bind(action.map(RowAction::as_str))
    .bind(limit + 1)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| ImportRow {
            row_number: r.row_number,
            cells: r.cells,
            action: r.action,
            error_code: r.error_code,
            error_message: r.error_message,
        })
        .collect())
}
