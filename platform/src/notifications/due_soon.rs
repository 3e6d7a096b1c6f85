//! Reminders of assignments due soon. A schedule (`notifications.due_soon`) finds, across
//! tenants, the assignments due within a day and queues one `notifications.due_soon` job per
//! assignment and due date (unique: a moved due date reminds again, a repeated firing does not).
//! The job, in the assignment's tenant, notifies every learner of the course who is still
//! enrolled, active and has not submitted, and commits its completion with those notifications.

use chrono::{DateTime, Duration, Utc};
use futures::FutureExt;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

use super::{compose, deliver, store};
use crate::courses::ItemId;
use crate::jobs::{self, Finished, JobContext, JobError, JobKind, Options};
use crate::state::AppState;

/// How long before its due date an assignment is reminded of.
pub const AHEAD: Duration = Duration::hours(24);
/// Assignments looked up per query while queueing.
const BATCH: i64 = 500;

/// Reminds the learners of one assignment (the job `notifications.due_soon`).
#[derive(Debug, Serialize, Deserialize)]
pub struct DueSoon {
    pub item: ItemId,
    /// The due date the reminder is for; a job for a date since changed does nothing.
    pub due_at: DateTime<Utc>,
}

impl JobKind for DueSoon {
    const KIND: &'static str = "notifications.due_soon";
}

/// The schedule's task: queues a reminder job for every assignment due within [`AHEAD`].
pub fn enqueue_due<'a>(
    _: &'a AppState,
    conn: &'a mut PgConnection,
) -> BoxFuture<'a, anyhow::Result<()>> {
    async move {
        let mut after = None;
        loop {
            let due = store::assignments_due_within(conn, AHEAD, after, BATCH).await?;
            for row in &due {
                let job = DueSoon {
                    item: row.item_id,
                    due_at: row.due_at,
                };
                let key = format!("{}:{}", row.item_id, row.due_at.timestamp_micros());
                jobs::enqueue_on(conn, row.tenant_id, &job, Options::unique(key)).await?;
            }
            if due.len() < usize::try_from(BATCH).unwrap_or(usize::MAX) {
                return Ok(());
            }
            after = due
                .last()
                .map(|row| (row.due_at, row.tenant_id, row.item_id));
        }
    }
    .boxed()
}

/// Runs `notifications.due_soon`.
pub async fn remind(ctx: JobContext, job: DueSoon) -> Result<Finished, JobError> {
    let mut tx = ctx.begin().await?;
    let Some(assignment) = store::assignment_due(&mut tx, job.item).await? else {
        return ctx.finish(tx).await;
    };
    let now = Utc::now();
    if assignment.due_at != Some(job.due_at) || job.due_at <= now {
        return ctx.finish(tx).await;
    }
    for user in store::learners_yet_to_submit(&mut tx, job.item).await? {
        let draft = compose::due_soon(
            user,
            (assignment.course_id, &assignment.course_title),
            (job.item.0, &assignment.item_title),
            job.due_at,
            now,
        );
        deliver(ctx.state(), &mut tx, None, &draft).await?;
    }
    ctx.finish(tx).await
}
