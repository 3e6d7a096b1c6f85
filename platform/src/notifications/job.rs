//! The job `notifications.from_event`: one domain event becomes its user's notification (and
//! email), as their preferences say. The trigger `domain_events_notify` queues it.

use anyhow::{Context, anyhow};
use serde::{Deserialize, Serialize};

use super::compose::{self, EventData};
use super::preferences::{Digest, Preferences};
use super::{NotificationKind, store};
use crate::email::SendEmail;
use crate::events::EventId;
use crate::jobs::{self, Finished, JobContext, JobError, JobKind, Options};
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
    let kind: NotificationKind = event
        .kind
        .parse()
        .map_err(|err| JobError::Fatal(anyhow!("event {}: {err}", job.event)))?;
    let data: EventData = serde_json::from_value(event.payload)
        .map_err(|err| JobError::Fatal(anyhow!("event {} data: {err}", job.event)))?;
    if !data.notifies(kind) {
        return ctx.finish(tx).await;
    }
    let recipient = store::recipient(&mut tx, data.user_id).await?;
    let Some(recipient) = recipient.filter(|r| r.status == UserStatus::Active) else {
        return ctx.finish(tx).await;
    };
    let Some((course, item)) = store::titles(&mut tx, data.course_id, data.item_id).await? else {
        return ctx.finish(tx).await;
    };
    let draft = compose::draft(kind, &data, &course, item.as_deref());
    let rows = store::preferences(&mut tx, data.user_id).await?;
    let wants = Preferences::from_rows(&rows, Digest::Off).get(kind);
    if wants.in_app {
        store::insert(&mut tx, job.event, &draft).await?;
    }
    if wants.email {
        let tenant = lms_tenants::registry::by_id(&mut tx, ctx.tenant)
            .await?
            .context("the job's tenant is gone")?;
        let link_base = ctx.state().settings.link_base(&tenant);
        let mail = super::email::single(&tenant, &link_base, &recipient.display_name, &draft)
            .map_err(|err| JobError::Fatal(anyhow!("rendering the email: {err}")))?;
        let send = SendEmail {
            to: recipient.email,
            subject: mail.subject,
            body: mail.text,
            html: Some(mail.html),
        };
        jobs::enqueue(&mut tx, &send, Options::default()).await?;
    }
    ctx.finish(tx).await
}
