//! Where email goes: SMTP when configured, otherwise the log.

use std::time::Duration;

use anyhow::Context;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};

use super::outbox::SendEmail;

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

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The message itself cannot be sent (an address that does not parse): retrying cannot help.
    #[error("{0:#}")]
    Undeliverable(anyhow::Error),
    /// The server refused or could not be reached: worth another attempt.
    #[error("{0:#}")]
    Transient(anyhow::Error),
}

impl Mailer {
    /// Sends one message.
    pub async fn send(&self, mail: &SendEmail) -> Result<(), SendError> {
        match self {
            Self::Log => {
                tracing::info!(
                    to = %mail.to, subject = %mail.subject, body = %mail.body,
                    "email (no SMTP configured; the log is the delivery)"
                );
                Ok(())
            }
            Self::Smtp { transport, from } => {
                let to = mail
                    .to
                    .parse()
                    .context("the recipient is not an email address")
                    .map_err(SendError::Undeliverable)?;
                let builder = Message::builder()
                    .from(from.clone())
                    .to(to)
                    .subject(&mail.subject);
                // A single text/plain part, or text and HTML as alternatives: MIME-Version and
                // `charset=utf-8` declared, so non-ASCII names are not read as US-ASCII.
                let message = match &mail.html {
                    None => builder.singlepart(SinglePart::plain(mail.body.clone())),
                    Some(html) => builder.multipart(MultiPart::alternative_plain_html(
                        mail.body.clone(),
                        html.clone(),
                    )),
                }
                .map_err(|err| SendError::Undeliverable(err.into()))?;
                match transport.send(message).await {
                    Ok(_) => Ok(()),
                    // 5xx: the server will not take this message, now or later.
                    Err(err) if err.is_permanent() => Err(SendError::Undeliverable(err.into())),
                    Err(err) => Err(SendError::Transient(err.into())),
                }
            }
        }
    }
}
