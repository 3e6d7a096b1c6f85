//! The job `imports.run`: applies an import's rows in batches of [`BATCH`], each batch in its own
//! transaction with the outcomes of its rows and the import's counts, so progress is visible as
//! it goes and a run that stops (a crash, a lost lease) resumes at the first row without an
//! outcome. Rows apply individually: a refused row is that row's outcome and never blocks the
//! others, and when a write of a batch fails, the batch is rolled back and its rows applied one
//! at a time, each in its own transaction, so only the row at fault fails.

use std::time::Duration;

use anyhow::anyhow;
use serde::{Deserialize, Serialize};

use super::model::{ImportId, ImportKind, ImportStatus};
use super::rows::{Batch, Carry, RowError};
use super::store::{self, Outcome, PendingRow};
use super::{enrollments_file, users_file};
use crate::error::ApiError;
use crate::jobs::{Finished, JobContext, JobError, JobKind};
use crate::users::UserId;

/// Rows per transaction.
pub const BATCH: i64 = 500;

/// Runs an import (queued by the upload, in its transaction).
#[derive(Debug, Serialize, Deserialize)]
pub struct RunImport {
    pub import_id: ImportId,
}

impl JobKind for RunImport {
    const KIND: &'static str = "imports.run";
    const TIMEOUT: Duration = Duration::from_secs(900);
}

/// Why a run ended without an error.
enum Stop {
    /// Every row has its outcome.
    Done,
    /// The import cannot go on: it ends as failed with this reason.
    Refused(&'static str),
    /// Nothing to do (already finished, or gone).
    Nothing,
}

/// Runs `imports.run`.
pub async fn run(ctx: JobContext, job: RunImport) -> Result<Finished, JobError> {
    let id = job.import_id;
    match run_batches(&ctx, id).await {
        Ok(Stop::Done) => {
            let mut tx = ctx.begin().await?;
            store::finish(&mut tx, id, ImportStatus::Succeeded, None).await?;
            ctx.finish(tx).await
        }
        Ok(Stop::Refused(reason)) => {
            let mut tx = ctx.begin().await?;
            store::finish(&mut tx, id, ImportStatus::Failed, Some(reason)).await?;
            ctx.finish(tx).await
        }
        Ok(Stop::Nothing) => Ok(ctx.done()),
        Err(err) => {
            if ctx.attempt >= ctx.max_attempts {
                let mut tx = ctx.begin().await?;
                store::finish(
                    &mut tx,
                    id,
                    ImportStatus::Failed,
                    Some(
                        "the import stopped on an internal error; the rows processed keep their \
                         outcome, and re-running its job resumes it",
                    ),
                )
                .await?;
                tx.commit().await?;
            }
            Err(err)
        }
    }
}

async fn run_batches(ctx: &JobContext, id: ImportId) -> Result<Stop, JobError> {
    let mut tx = ctx.begin().await?;
    let tenant = lms_tenants::registry::by_id(&mut tx, ctx.tenant)
        .await?
        .ok_or_else(|| JobError::Fatal(anyhow!("the import's tenant is gone")))?;
    drop(tx);
    // A dry run writes nothing, so what earlier batches would have changed is carried here.
    let mut carry = Carry::default();
    loop {
        let mut tx = ctx.begin().await?;
        let Some(import) = store::lock(&mut tx, id).await? else {
            return Ok(Stop::Nothing);
        };
        if import.status == ImportStatus::Succeeded {
            return Ok(Stop::Nothing);
        }
        if !importer_is_admin(&mut tx, import.created_by).await? {
            return Ok(Stop::Refused(
                "the user who uploaded the file is no longer an active tenant admin",
            ));
        }
        let rows = store::pending(&mut tx, id, 0, BATCH).await?;
        if rows.is_empty() {
            return Ok(Stop::Done);
        }
        store::start(&mut tx, id).await?;
        let batch = Batch {
            tenant: &tenant,
            by: import.created_by,
            ip: import.ip(),
            dry_run: import.dry_run,
            columns: &import.columns,
        };
        if !import.dry_run {
            carry = Carry::default();
        }
        match process(ctx, &mut tx, import.kind, &batch, &rows, &mut carry).await {
            Ok(outcomes) => {
                store::record(&mut tx, id, &outcomes).await?;
                tx.commit().await?;
            }
            Err(err) if !import.dry_run && row_fault(&err).is_some() => {
                drop(tx);
                tracing::info!(import = %id.0, error = %err, "a batch failed; applying its rows one by one");
                for row in &rows {
                    one_row(ctx, id, import.kind, &batch, row).await?;
                }
            }
            Err(err) => return Err(JobError::Retry(err.into())),
        }
    }
}

/// Applies one row in a transaction of its own; a write refused for the row is its outcome.
async fn one_row(
    ctx: &JobContext,
    id: ImportId,
    kind: ImportKind,
    batch: &Batch<'_>,
    row: &PendingRow,
) -> Result<(), JobError> {
    let mut tx = ctx.begin().await?;
    if store::lock(&mut tx, id).await?.is_none() {
        return Ok(());
    }
    let rows = std::slice::from_ref(row);
    let outcomes = match process(ctx, &mut tx, kind, batch, rows, &mut Carry::default()).await {
        Ok(outcomes) => outcomes,
        Err(err) => {
            let fault = row_fault(&err).ok_or_else(|| JobError::Retry(err.into()))?;
            tx = ctx.begin().await?;
            store::lock(&mut tx, id).await?;
            vec![Outcome::failed(row.row_number, fault)]
        }
    };
    store::record(&mut tx, id, &outcomes).await?;
    tx.commit().await?;
    Ok(())
}

async fn process(
    ctx: &JobContext,
    tx: &mut lms_tenants::TenantTx,
    kind: ImportKind,
    batch: &Batch<'_>,
    rows: &[PendingRow],
    carry: &mut Carry,
) -> Result<Vec<Outcome>, ApiError> {
    match kind {
        ImportKind::Users => users_file::process(ctx.state(), tx, batch, rows, carry).await,
        ImportKind::Enrollments => {
            enrollments_file::process(tx, &ctx.state().billing, batch, rows, carry).await
        }
    }
}

/// The row's own fault in a failed write: a rule the service refused it by (a conflict such as
/// an email taken meanwhile, the last admin), or a constraint the database refused it by.
/// `None` for anything else (the database unreachable): the job retries.
fn row_fault(err: &ApiError) -> Option<RowError> {
    match err {
        ApiError::Internal(cause) => {
            let db = cause.downcast_ref::<sqlx::Error>()?.as_database_error()?;
            db.code()
                .filter(|code| code.starts_with("23"))
                .map(|_| RowError::new("conflict", "the row conflicts with the data as it is now"))
        }
        ApiError::TooManyRequests { .. } | ApiError::Unavailable { .. } | ApiError::Timeout => None,
        other => Some(RowError::new(other.code(), other.to_string())),
    }
}

async fn importer_is_admin(
    tx: &mut lms_tenants::TenantTx,
    user: UserId,
) -> Result<bool, sqlx::Error> {
    Ok(crate::users::store::by_id(tx, user)
        .await?
        .is_some_and(|u| {
            u.status == crate::users::UserStatus::Active
                && u.roles().contains(crate::users::Role::TenantAdmin)
        }))
}
