//! Import rules: tenant admins only (403 otherwise). An upload is parsed and its header checked
//! in the request; the import, its rows and the job that runs it are stored in one transaction.

use std::net::IpAddr;

use serde_json::json;
use uuid::Uuid;

use super::job::RunImport;
use super::model::{Import, ImportId, ImportKind, ImportRow, RowAction};
use super::store;
use super::upload::{self, Upload};
use crate::audit::{Audit, AuditActor};
use crate::auth::Caller;
use crate::db::Cursor;
use crate::error::{ApiError, ApiResult, codes};
use crate::http::Page;
use crate::jobs::{self, Options};
use crate::progress::inert;
use crate::state::AppState;
use crate::users::Role;

/// Stores an uploaded file as an import and queues its job.
pub async fn upload(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    kind: ImportKind,
    dry_run: bool,
    file: Upload,
) -> ApiResult<Import> {
    let (mut tx, actor) = caller.begin_as(state, Role::TenantAdmin).await?;
    let parsed = upload::parse(kind, &file.bytes)?;
    let id = ImportId::default();
    let new = store::NewImport {
        id,
        kind,
        dry_run,
        file_name: file.file_name.as_deref(),
        by: actor.user_id,
        ip,
    };
    store::insert(&mut tx, &new, &parsed).await?;
    jobs::enqueue(&mut tx, &RunImport { import_id: id }, Options::default()).await?;
    Audit::new(
        AuditActor::User(actor.user_id),
        "import.created",
        "import",
        id,
    )
    .from_ip(ip)
    .details(json!({ "kind": kind, "dry_run": dry_run, "rows": parsed.rows.len() }))
    .record(&mut tx)
    .await?;
    let import = store::by_id(&mut tx, id).await?.ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(import.to_import())
}

pub async fn get(state: &AppState, caller: &Caller, id: ImportId) -> ApiResult<Import> {
    let (mut tx, _) = caller.begin_as(state, Role::TenantAdmin).await?;
    let import = store::by_id(&mut tx, id).await?.ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(import.to_import())
}

pub async fn list(
    state: &AppState,
    caller: &Caller,
    cursor: Option<Cursor>,
    limit: i64,
) -> ApiResult<Page<Import>> {
    let (mut tx, _) = caller.begin_as(state, Role::TenantAdmin).await?;
    let rows = store::list(&mut tx, cursor, limit).await?;
    tx.commit().await?;
    let items = rows.iter().map(store::ImportRecord::to_import).collect();
    Ok(Page::from_rows(items, limit, |i: &Import| i.id.0))
}

/// Row cursors carry the last row number of the previous page (in a UUID's 128 bits).
fn row_after(cursor: Option<Cursor>) -> ApiResult<i32> {
    match cursor {
        None => Ok(0),
        Some(cursor) => i32::try_from(cursor.0.as_u128()).map_err(|_| ApiError::BadRequest {
            code: codes::INVALID_CURSOR,
            detail: "the cursor is not one this API issued".into(),
        }),
    }
}

/// The import's rows in file order, only those with `action` when given.
pub async fn rows(
    state: &AppState,
    caller: &Caller,
    id: ImportId,
    action: Option<RowAction>,
    cursor: Option<Cursor>,
    limit: i64,
) -> ApiResult<Page<ImportRow>> {
    let after = row_after(cursor)?;
    let (mut tx, _) = caller.begin_as(state, Role::TenantAdmin).await?;
    if store::by_id(&mut tx, id).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    let rows = store::rows(&mut tx, id, action, after, limit).await?;
    tx.commit().await?;
    Ok(Page::from_rows(rows, limit, |r: &ImportRow| {
        Uuid::from_u128(u128::from(r.row_number.unsigned_abs()))
    }))
}

/// The failed rows as CSV: `row_number,error_code,error_message` and the row's own cells. Every
/// cell a spreadsheet would evaluate is prefixed with `'`.
pub async fn errors_csv(state: &AppState, caller: &Caller, id: ImportId) -> ApiResult<Vec<u8>> {
    let (mut tx, _) = caller.begin_as(state, Role::TenantAdmin).await?;
    let import = store::by_id(&mut tx, id).await?.ok_or(ApiError::NotFound)?;
    let limit = i64::try_from(upload::MAX_ROWS).unwrap_or(i64::MAX);
    let rows = store::rows(&mut tx, id, Some(RowAction::Failed), 0, limit).await?;
    tx.commit().await?;
    let write = || -> Result<Vec<u8>, csv::Error> {
        let mut out = csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(Vec::with_capacity(128 + rows.len() * 120));
        let mut header = vec![
            "row_number".to_owned(),
            "error_code".to_owned(),
            "error_message".to_owned(),
        ];
        header.extend(import.columns.iter().map(|c| inert(c)));
        out.write_record(&header)?;
        for row in &rows {
            let mut record = vec![
                row.row_number.to_string(),
                row.error_code.as_deref().map(inert).unwrap_or_default(),
                row.error_message.as_deref().map(inert).unwrap_or_default(),
            ];
            record.extend(row.cells.iter().map(|c| inert(c)));
            out.write_record(&record)?;
        }
        out.into_inner().map_err(|e| e.into_error().into())
    };
    write().map_err(|e| ApiError::Internal(e.into()))
}
