//! The job `certificates.issue`: a `course.completed` event becomes the learner's certificate
//! when the course (or the tenant) has a template and the grade rule holds. The trigger
//! `domain_events_certificates` queues it, once per event.

use anyhow::anyhow;
use serde::{Deserialize, Serialize};

use super::issue::{self, Cause, NotIssued};
use super::store;
use crate::courses::CourseId;
use crate::events::EventId;
use crate::jobs::{Finished, JobContext, JobError, JobKind};
use crate::users::UserId;

/// Issues the certificate a course completion earns (the job `certificates.issue`).
#[derive(Debug, Serialize, Deserialize)]
pub struct IssueOnCompletion {
    pub event: EventId,
}

impl JobKind for IssueOnCompletion {
    /// Queued by SQL (the trigger) with `Retry::DEFAULT`'s 20 attempts.
    const KIND: &'static str = "certificates.issue";
}

/// The part of a `course.completed` event's data the job reads.
#[derive(Debug, Deserialize)]
struct Completion {
    course_id: CourseId,
    user_id: UserId,
}

/// Runs `certificates.issue`. The certificate, its event and the job's completion commit
/// together; a completion that earns nothing (no template, a grade below the minimum, a
/// certificate already held) completes the job with nothing written.
pub async fn issue_on_completion(
    ctx: JobContext,
    job: IssueOnCompletion,
) -> Result<Finished, JobError> {
    let mut tx = ctx.begin().await?;
    let Some((kind, payload)) = store::event_payload(&mut tx, job.event).await? else {
        return ctx.finish(tx).await;
    };
    if kind != "course.completed" {
        return Err(JobError::Fatal(anyhow!(
            "event {} is a {kind}, not a course completion",
            job.event
        )));
    }
    let completion: Completion = serde_json::from_value(payload)
        .map_err(|err| JobError::Fatal(anyhow!("event {} data: {err}", job.event)))?;
    match issue::issue(
        ctx.state(),
        &mut tx,
        completion.course_id,
        completion.user_id,
        Cause::Completion(job.event),
    )
    .await
    {
        Ok(certificate) => {
            tracing::info!(certificate = %certificate.id, event = %job.event, "certificate issued");
            ctx.finish(tx).await
        }
        Err(NotIssued::Failed(err)) => Err(JobError::Retry(err)),
        Err(NotIssued::StatusListFull) => {
            Err(JobError::Fatal(anyhow!("the tenant's status list is full")))
        }
        Err(skipped) => {
            // Nothing earned: the statement that failed (if any) did not abort the transaction,
            // every refusal is decided by reads.
            tracing::debug!(event = %job.event, reason = %skipped, "no certificate issued");
            ctx.finish(tx).await
        }
    }
}
