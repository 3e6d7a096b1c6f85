//! The daily digest: each morning, an email to every user who asked for one listing what they
//! have not read since the last. A schedule (`notifications.daily_digest`) finds them across
//! tenants and queues one `notifications.send_digest` job each (unique per user and day); the
//! job renders and queues the email in the user's tenant and records when it went.

use anyhow::{Context, anyhow};
use chrono::Utc;
use futures::FutureExt;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

use super::compose::Draft;
use super::preferences::Digest;
use super::store;
use crate::email::SendEmail;
use crate::jobs::{self, Finished, JobContext, JobError, JobKind, Options};
use crate::state::AppState;
use crate::users::{UserId, UserStatus};

/// Users looked up per query while queueing.
const BATCH: i64 = 500;
/// Notifications listed in one digest; the rest are counted.
const LISTED: i64 = 20;

/// Sends a user their digest (the job `notifications.send_digest`).
#[derive(Debug, Serialize, Deserialize)]
pub struct SendDigest {
    pub user: UserId,
}

impl JobKind for SendDigest {
    const KIND: &'static str = "notifications.send_digest";
}

/// The schedule's task: queues a digest job for every user due one.
pub fn enqueue_due<'a>(
    _: &'a AppState,
    conn: &'a mut PgConnection,
) -> BoxFuture<'a, anyhow::Result<()>> {
    async move {
        let day = Utc::now().format("%Y-%m-%d");
        let mut after = None;
        loop {
            let due = store::digests_due(conn, after, BATCH).await?;
            for &(tenant, user) in &due {
                let key = format!("{user}:{day}");
                jobs::enqueue_on(conn, tenant, &SendDigest { user }, Options::unique(key)).await?;
            }
            if due.len() < usize::try_from(BATCH).unwrap_or(usize::MAX) {
                return Ok(());
            }
            after = due.last().copied();
        }
    }
    .boxed()
}

/// Runs `notifications.send_digest`.
pub async fn send(ctx: JobContext, job: SendDigest) -> Result<Finished, JobError> {
    let mut tx = ctx.begin().await?;
    let (digest, sent_at) = store::digest_setting(&mut tx, job.user).await?;
    if digest != Digest::Daily {
        return ctx.finish(tx).await;
    }
    let recipient = store::recipient(&mut tx, job.user).await?;
    let Some(recipient) = recipient.filter(|r| r.status == UserStatus::Active) else {
        return ctx.finish(tx).await;
    };
    let since = sent_at.unwrap_or_else(|| Utc::now() - chrono::Duration::days(1));
    let (unread, total) = store::unread_since(&mut tx, job.user, since, LISTED).await?;
    if unread.is_empty() {
        return ctx.finish(tx).await;
    }
    let tenant = lms_tenants::registry::by_id(&mut tx, ctx.tenant)
        .await?
        .context("the job's tenant is gone")?;
    let link_base = ctx.state().settings.link_base(&tenant);
    let drafts: Vec<Draft> = unread
        .into_iter()
        .map(|n| Draft {
            user: job.user,
            kind: n.kind,
            title: n.title,
            body: n.body,
            link: n.link,
            subject: n.subject_id,
        })
        .collect();
    let listed = drafts.len();
    let mail = super::email::Message {
        tenant: &tenant,
        link_base: &link_base,
        recipient: &recipient.display_name,
        subject: format!(
            "{}: {total} unread notification{}",
            tenant.display_name,
            if total == 1 { "" } else { "s" }
        ),
        intro: Some("Here is what you have not read since your last digest.".to_owned()),
        notifications: &drafts,
        more: usize::try_from(total)
            .unwrap_or(listed)
            .saturating_sub(listed),
        action: "Open",
        by_preference: true,
    }
    .render()
    .map_err(|err| JobError::Fatal(anyhow!("rendering the digest: {err}")))?;
    let send = SendEmail {
        to: recipient.email,
        subject: mail.subject,
        body: mail.text,
        html: Some(mail.html),
    };
    jobs::enqueue(&mut tx, &send, Options::default()).await?;
    store::mark_digest_sent(&mut tx, job.user).await?;
    ctx.finish(tx).await
}
