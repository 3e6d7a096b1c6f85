//! The job `notifications.from_event`: one domain event becomes its user's notification (and
//! email), as their preferences say. The trigger `domain_events_notify` queues it.

use anyhow::{Context, anyhow};
use serde::{Deserialize, Serialize};

use lms_tenants::TenantTx;

use super::compose::{self, Draft, EventData};
use super::preferences::{Digest, Preferences};
use super::{NotificationKind, store};
use crate::email::SendEmail;
use crate::events::EventId;
use crate::jobs::{self, Finished, JobContext, JobError, JobKind, Options};
use crate::state::AppState;
use crate::users::UserStatus;

/// Notifies the user an event is about (the job `notifications.from_event`).
#[derive(Debug, Serialize, Deserialize)]
pub struct FromEvent {
    pub event: EventId,
}

impl JobKind for FromEvent {
    /// Queued by SQL (the trigger) with `Retry::DEFAULT`'s 20 attempts.
    const KIND: &'static str = "notifications.from_event";
}

/// Runs `notifications.from_event`. The notification, the email job and the job's completion
/// commit together, so a second run finds the job done and a repeated event nothing to add.
pub async fn from_event(ctx: JobContext, job: FromEvent) -> Result<Finished, JobError> {
    let mut tx = ctx.begin().await?;
    let Some(event) = store::event(&mut tx, job.event).await? else {
        return ctx.finish(tx).await;
    };
    let kind = NotificationKind::of_event(&event.kind).ok_or_else(|| {
        JobError::Fatal(anyhow!(
            "event {}: {} notifies nobody",
            job.event,
            event.kind
        ))
    })?;
    let data: EventData = serde_json::from_value(event.payload)
        .map_err(|err| JobError::Fatal(anyhow!("event {} data: {err}", job.event)))?;
    if !data.notifies(kind) {
        return ctx.finish(tx).await;
    }
    let Some(titles) = store::titles(&mut tx, data.course_id, data.item_id, data.module_id).await?
    else {
        return ctx.finish(tx).await;
    };
    if let Some(draft) = compose::draft(kind, &data, &titles) {
        deliver(ctx.state(), &mut tx, Some(job.event), &draft).await?;
    }
    ctx.finish(tx).await
}

/// Gives `draft` to its user, in the caller's transaction, as their preferences say: into
/// their inbox and streams, and as an email in their tenant's brand. Nothing reaches a user who
/// is not active. `cause` is the event behind it: one notification per event and user.
pub async fn deliver(
    state: &AppState,
    tx: &mut TenantTx,
    cause: Option<EventId>,
    draft: &Draft,
) -> anyhow::Result<()> {
    let recipient = store::recipient(tx, draft.user).await?;
    let Some(recipient) = recipient.filter(|r| r.status == UserStatus::Active) else {
        return Ok(());
    };
    let rows = store::preferences(tx, draft.user).await?;
    let wants = Preferences::from_rows(&rows, Digest::Off).get(draft.kind);
    if wants.in_app {
        store::insert(tx, cause, draft).await?;
    }
    if wants.email {
        let tenant_id = tx.tenant_id();
        let tenant = lms_tenants::registry::by_id(tx, tenant_id)
            .await?
            .context("the tenant is gone")?;
        let link_base = state.settings.link_base(&tenant);
        let mail = super::email::single(&tenant, &link_base, &recipient.display_name, draft)
            .context("rendering the notification email")?;
        let send = SendEmail {
            to: recipient.email,
            subject: mail.subject,
            body: mail.text,
            html: Some(mail.html),
        };
        jobs::enqueue(tx, &send, Options::default()).await?;
    }
    Ok(())
}
