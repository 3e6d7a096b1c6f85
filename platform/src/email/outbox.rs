//! Outgoing email as jobs: queued in the transaction that causes it, sent after commit by a
//! worker, retried with backoff when the SMTP server is away.

use std::time::Duration;

use lms_tenants::TenantTx;
use serde::{Deserialize, Serialize};

use crate::jobs::{self, Finished, JobContext, JobError, JobKind, Options, Retry};
use crate::users::Email;

/// One message to send (the job `email.send`).
#[derive(Debug, Serialize, Deserialize)]
pub struct SendEmail {
    pub to: String,
    pub subject: String,
    /// The plain-text body.
    pub body: String,
    /// An HTML alternative to `body` (branded notification emails).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

impl JobKind for SendEmail {
    const KIND: &'static str = "email.send";
    /// 12 attempts over about a day: 30 s, 1 min, 2 min … then every 6 hours at most.
    const RETRY: Retry = Retry {
        max_attempts: 12,
        base: Duration::from_secs(30),
        cap: Duration::from_secs(6 * 3600),
    };
    const TIMEOUT: Duration = Duration::from_secs(60);
}

pub struct OutgoingEmail<'a> {
    pub to: &'a Email,
    pub subject: String,
    pub body: String,
}

/// Queues an email; it is sent only if the surrounding transaction commits.
pub async fn enqueue(tx: &mut TenantTx, email: OutgoingEmail<'_>) -> Result<(), sqlx::Error> {
    let job = SendEmail {
        to: email.to.as_str().to_owned(),
        subject: email.subject,
        body: email.body,
        html: None,
    };
    jobs::enqueue(tx, &job, Options::default())
        .await
        .map(|_| ())
}

/// Runs `email.send`.
pub async fn deliver(ctx: JobContext, mail: SendEmail) -> Result<Finished, JobError> {
    match ctx.state().mailer.send(&mail).await {
        Ok(()) => Ok(ctx.done()),
        Err(super::SendError::Undeliverable(err)) => Err(JobError::Fatal(err)),
        Err(super::SendError::Transient(err)) => Err(JobError::Retry(err)),
    }
}
