//! Delivers the outbox. Runs in the server process; several processes may run it at once
//! (`FOR UPDATE SKIP LOCKED`). A failed delivery is retried with growing delays, so a message is
//! never lost to a restart. This is one of the few cross-tenant modules (operator role).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use lettre::message::{Mailbox, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::db::OperatorDb;

const BATCH: i64 = 50;
const POLL: Duration = Duration::from_secs(5);
const MAX_ATTEMPTS: i32 = 12;

/// Where email goes.
#[derive(Clone)]
pub enum Mailer {
    /// No SMTP configured: the log is the delivery.
    Log,
    Smtp {
        transport: Box<AsyncSmtpTransport<Tokio1Executor>>,
        from: Mailbox,
    },
}

impl Mailer {
    /// `smtp://[user:pass@]host:port[?tls=starttls]` or `smtps://...`.
    pub fn from_config(url: Option<&SecretString>, from: &str) -> anyhow::Result<Self> {
        let Some(url) = url else { return Ok(Self::Log) };
        let parsed = url::Url::parse(url.expose_secret()).context("LMS_SMTP_URL is not a URL")?;
        let host = parsed
            .host_str()
            .context("LMS_SMTP_URL has no host")?
            .to_owned();
        let starttls = parsed
            .query_pairs()
            .any(|(k, v)| k == "tls" && v == "starttls");
        let mut builder = match (parsed.scheme(), starttls) {
            ("smtps", _) => AsyncSmtpTransport::<Tokio1Executor>::relay(&host)?,
            ("smtp", true) => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&host)?,
            ("smtp", false) => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host),
            (other, _) => anyhow::bail!("LMS_SMTP_URL scheme {other} is not smtp or smtps"),
        };
        if let Some(port) = parsed.port() {
            builder = builder.port(port);
        }
        if !parsed.username().is_empty() {
            builder = builder.credentials(Credentials::new(
                parsed.username().to_owned(),
                parsed.password().unwrap_or_default().to_owned(),
            ));
        }
        let from = from.parse().context("LMS_EMAIL_FROM is not a mailbox")?;
        Ok(Self::Smtp {
            transport: Box::new(builder.timeout(Some(Duration::from_secs(10))).build()),
            from,
        })
    }
}

#[derive(sqlx::FromRow)]
struct Pending {
    tenant_id: Uuid,
    id: Uuid,
    recipient: String,
    subject: String,
    body_text: String,
    attempts: i32,
}

#[derive(Clone)]
pub struct Dispatcher {
    db: OperatorDb,
    mailer: Mailer,
    wakeup: Arc<Notify>,
}

impl Dispatcher {
    pub fn new(db: OperatorDb, mailer: Mailer) -> Self {
        Self {
            db,
            mailer,
            wakeup: Arc::new(Notify::new()),
        }
    }

    /// Asks the dispatcher to look at the outbox now (after a commit that queued mail).
    pub fn wake(&self) {
        self.wakeup.notify_one();
    }

    /// Delivers until the process stops.
    pub async fn run(self) {
        loop {
            match self.deliver_batch().await {
                Ok(n) if n as i64 == BATCH => continue,
                Ok(_) => {}
                Err(err) => tracing::warn!(error = ?err, "email dispatch"),
            }
            tokio::select! {
                () = self.wakeup.notified() => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// Sends what is due; returns how many messages it handled.
    pub async fn deliver_batch(&self) -> anyhow::Result<usize> {
        let mut tx = self.db.begin().await?;
        let due: Vec<Pending> = sqlx::query_as(
            "select tenant_id, id, recipient, subject, body_text, attempts from email_outbox
             where sent_at is null and next_attempt_at <= now() and attempts < $1
             order by next_attempt_at limit $2 for update skip locked",
        )
        .bind(MAX_ATTEMPTS)
        .bind(BATCH)
        .fetch_all(&mut *tx)
        .await?;
        for mail in &due {
            match self.send(mail).await {
                Ok(()) => {
                    sqlx::query("update email_outbox set sent_at = now(), attempts = attempts + 1 where tenant_id = $1 and id = $2")
                        .bind(mail.tenant_id)
                        .bind(mail.id)
                        .execute(&mut *tx)
                        .await?;
                }
                Err(err) => {
                    let delay = 30.0 * 2f64.powi(mail.attempts.min(10));
                    tracing::warn!(email = %mail.id, attempt = mail.attempts + 1, error = %err, "email delivery failed");
                    sqlx::query(
                        "update email_outbox set attempts = attempts + 1, last_error = $3,
                                next_attempt_at = now() + make_interval(secs => $4)
                         where tenant_id = $1 and id = $2",
                    )
                    .bind(mail.tenant_id)
                    .bind(mail.id)
                    .bind(err.to_string())
                    .bind(delay)
                    .execute(&mut *tx)
                    .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(due.len())
    }

    async fn send(&self, mail: &Pending) -> anyhow::Result<()> {
        match &self.mailer {
            Mailer::Log => {
                tracing::info!(
                    tenant = %mail.tenant_id, to = %mail.recipient, subject = %mail.subject, body = %mail.body_text,
                    "email (no SMTP configured; the log is the delivery)"
                );
                Ok(())
            }
            Mailer::Smtp { transport, from } => {
                let message = Message::builder()
                    .from(from.clone())
                    .to(mail.recipient.parse().context("recipient")?)
                    .subject(&mail.subject)
                    // A single text/plain part: MIME-Version and `charset=utf-8` declared, so
                    // non-ASCII names are not read as US-ASCII.
                    .singlepart(SinglePart::plain(mail.body_text.clone()))?;
                transport.send(message).await?;
                Ok(())
            }
        }
    }
}
