//! The `webhook.deliver` job: one attempt to deliver one event to one endpoint, signed as the
//! Standard Webhooks specification says, through the guarded outbound client.
//!
//! - **At least once.** A 2xx answer ends the delivery; anything else (another status, a
//!   refusal, no answer) is a failed attempt, retried on [`SCHEDULE`]: at once, then after 5 s,
//!   5 min, 30 min, 2 h, 5 h, 10 h and 10 h (8 attempts over 27 h 35 min). A `Retry-After`
//!   longer than the scheduled wait is honoured, up to a day.
//! - Every attempt is signed afresh (`webhook-timestamp` is the attempt's time) and carries the
//!   same `webhook-id`, the event's id, so receivers can drop duplicates.
//! - **Failing endpoints.** An endpoint whose attempts have all failed for [`FAILING_FOR`] is
//!   disabled and its tenant's admins are emailed; 410 Gone disables it at once. Its pending
//!   deliveries then fail without being sent.
//! - The delivery's row is locked for the attempt's first transaction only: the HTTP call
//!   happens outside any transaction, so a slow receiver holds no database connection.

use std::time::Duration;

use chrono::Utc;
use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use serde::{Deserialize, Serialize};

use super::model::{DeliveryId, DeliveryState, DisabledReason, EndpointId};
use super::secret;
use super::store::{self, AttemptRecord};
use crate::email::SendEmail;
use crate::jobs::{self, Finished, JobContext, JobError, JobKind, Options, Retry};
use crate::outbound::{Answer, OutboundError};

/// The wait after each failed attempt; its length plus one is the number of attempts.
pub const SCHEDULE: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];

/// An endpoint failing every attempt this long is disabled.
pub const FAILING_FOR: chrono::TimeDelta = chrono::TimeDelta::days(5);

/// The longest `Retry-After` honoured.
const RETRY_AFTER_CAP: Duration = Duration::from_secs(24 * 3600);
/// Bytes of an answer's body kept in the delivery log.
const EXCERPT_BYTES: usize = 1024;

/// One delivery attempt (the job `webhook.deliver`). The database trigger that fans events out
/// queues these with 8 attempts; a manual redelivery queues one that tries once.
#[derive(Debug, Serialize, Deserialize)]
pub struct Deliver {
    pub delivery_id: DeliveryId,
    /// A redelivery an admin asked for: one attempt, no schedule.
    #[serde(default)]
    pub manual: bool,
}

impl JobKind for Deliver {
    const KIND: &'static str = "webhook.deliver";
    /// The schedule's waits come from [`SCHEDULE`] (`JobError::RetryAfter`); this only bounds
    /// the attempts, as the trigger does.
    const RETRY: Retry = Retry {
        max_attempts: SCHEDULE.len() as i32 + 1,
        base: Duration::from_secs(5),
        cap: Duration::from_secs(10 * 3600),
    };
    const TIMEOUT: Duration = Duration::from_secs(60);
}

/// Queues a manual redelivery in the caller's transaction.
pub async fn enqueue_redelivery(
    tx: &mut lms_tenants::TenantTx,
    delivery_id: DeliveryId,
) -> Result<(), sqlx::Error> {
    let job = Deliver {
        delivery_id,
        manual: true,
    };
    jobs::enqueue(tx, &job, Options::default())
        .await
        .map(|_| ())
}

/// What became of one attempt.
enum Outcome {
    Received,
    /// 410 Gone: the receiver says the endpoint is no more.
    Gone,
    Failed {
        retry_after: Option<Duration>,
    },
}

/// Runs `webhook.deliver`.
pub async fn deliver(ctx: JobContext, job: Deliver) -> Result<Finished, JobError> {
    let mut tx = ctx.begin().await?;
    let Some(target) = store::target(&mut tx, job.delivery_id).await? else {
        // The endpoint (and with it the delivery) was deleted.
        return ctx.finish(tx).await;
    };
    if target.state != DeliveryState::Pending {
        return ctx.finish(tx).await;
    }
    if !target.enabled {
        store::finish_delivery(&mut tx, job.delivery_id, DeliveryState::Failed).await?;
        return ctx.finish(tx).await;
    }
    tx.commit().await?;

    let body = serde_json::to_vec(&target.event)
        .map_err(|err| JobError::Fatal(anyhow::anyhow!("the event does not serialize: {err}")))?;
    let id = target.event.id.to_string();
    let timestamp = Utc::now().timestamp();
    let mut secrets = vec![target.secret.as_str()];
    secrets.extend(target.previous_secret.as_deref());
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert("webhook-id", header(&id)?);
    headers.insert("webhook-timestamp", header(&timestamp.to_string())?);
    headers.insert(
        "webhook-signature",
        header(&secret::signature_header(&secrets, &id, timestamp, &body))?,
    );

    let started = std::time::Instant::now();
    let sent = ctx
        .state()
        .outbound
        .send(Method::POST, &target.url, headers, body)
        .await;
    let latency_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
    let (outcome, record) = judge(&sent);
    let record = AttemptRecord {
        latency_ms,
        ..record
    };

    let mut tx = ctx.begin().await?;
    store::record_attempt(&mut tx, job.delivery_id, &record).await?;
    match outcome {
        Outcome::Received => {
            store::finish_delivery(&mut tx, job.delivery_id, DeliveryState::Succeeded).await?;
            store::endpoint_succeeded(&mut tx, target.endpoint).await?;
            ctx.finish(tx).await
        }
        Outcome::Gone => {
            store::finish_delivery(&mut tx, job.delivery_id, DeliveryState::Failed).await?;
            disable(&mut tx, target.endpoint, &target.url, DisabledReason::Gone).await?;
            ctx.finish(tx).await
        }
        Outcome::Failed { retry_after } => {
            let failing_since = store::endpoint_failed(&mut tx, target.endpoint).await?;
            let disabled = match failing_since {
                Some(since) if Utc::now() - since >= FAILING_FOR => {
                    disable(
                        &mut tx,
                        target.endpoint,
                        &target.url,
                        DisabledReason::Failing,
                    )
                    .await?;
                    true
                }
                _ => false,
            };
            let wait = next_wait(ctx.attempt, retry_after);
            match wait {
                Some(wait) if !disabled && !job.manual => {
                    let at = Utc::now()
                        + chrono::TimeDelta::from_std(wait).unwrap_or(chrono::TimeDelta::MAX);
                    store::schedule_retry(&mut tx, job.delivery_id, at).await?;
                    tx.commit().await?;
                    Err(JobError::RetryAfter {
                        error: anyhow::anyhow!(
                            "{}",
                            record.error.unwrap_or("the receiver did not answer 2xx")
                        ),
                        after: wait,
                    })
                }
                _ => {
                    store::finish_delivery(&mut tx, job.delivery_id, DeliveryState::Failed).await?;
                    ctx.finish(tx).await
                }
            }
        }
    }
}

/// The wait before the attempt after `attempt` (1-based), or `None` when it was the last.
pub fn next_wait(attempt: i32, retry_after: Option<Duration>) -> Option<Duration> {
    let scheduled = *SCHEDULE.get(usize::try_from(attempt).ok()?.checked_sub(1)?)?;
    Some(retry_after.map_or(scheduled, |asked| scheduled.max(asked.min(RETRY_AFTER_CAP))))
}

fn header(value: &str) -> Result<HeaderValue, JobError> {
    HeaderValue::from_str(value)
        .map_err(|err| JobError::Fatal(anyhow::anyhow!("not a header value: {err}")))
}

/// Classifies an attempt and says what the log keeps of it.
fn judge(sent: &Result<Answer, OutboundError>) -> (Outcome, AttemptRecord<'_>) {
    match sent {
        Ok(answer) => {
            let status = answer.status;
            let outcome = if status.is_success() {
                Outcome::Received
            } else if status == reqwest::StatusCode::GONE {
                Outcome::Gone
            } else {
                Outcome::Failed {
                    retry_after: retry_after(&answer.headers),
                }
            };
            let error = if status.is_success() {
                None
            } else if status.is_redirection() {
                Some("redirects are not followed")
            } else {
                Some("the receiver did not answer 2xx")
            };
            (
                outcome,
                AttemptRecord {
                    status: Some(status.as_u16()),
                    latency_ms: 0,
                    response_excerpt: excerpt(&answer.body),
                    error,
                },
            )
        }
        Err(err) => (
            Outcome::Failed { retry_after: None },
            AttemptRecord {
                status: None,
                latency_ms: 0,
                response_excerpt: "",
                error: Some(describe(err)),
            },
        ),
    }
}

/// The start of a body as text: up to [`EXCERPT_BYTES`], cut at a character boundary, and only
/// if it is UTF-8 without NUL (PostgreSQL text cannot hold NUL); otherwise nothing.
fn excerpt(body: &[u8]) -> &str {
    let mut end = body.len().min(EXCERPT_BYTES);
    loop {
        match std::str::from_utf8(&body[..end]) {
            Ok(text) if !text.contains('\0') => return text,
            Ok(_) => return "",
            // A character cut by the limit: drop its first bytes.
            Err(err) if err.error_len().is_none() => end = err.valid_up_to(),
            Err(_) => return "",
        }
    }
}

/// A `Retry-After` of delta-seconds (the HTTP-date form is not honoured).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds))
}

fn describe(err: &OutboundError) -> &'static str {
    match err {
        OutboundError::BadUrl(_) => "the endpoint's URL is not usable",
        OutboundError::NotHttps => "only https URLs are called",
        OutboundError::Refused(_) => "the address is not public",
        OutboundError::Unresolved(_) => "the host name could not be resolved",
        OutboundError::Timeout(_) => "no answer in time",
        OutboundError::Transport(_) => "the connection failed",
    }
}

/// Disables the endpoint and, if this call disabled it, emails the tenant's admins.
async fn disable(
    tx: &mut lms_tenants::TenantTx,
    endpoint: EndpointId,
    url: &str,
    reason: DisabledReason,
) -> Result<(), JobError> {
    if !store::disable(tx, endpoint, reason).await? {
        return Ok(());
    }
    tracing::warn!(%endpoint, reason = %reason, "disabled a webhook endpoint");
    let why = match reason {
        DisabledReason::Failing => format!(
            "every delivery to it has failed for {} days",
            FAILING_FOR.num_days()
        ),
        DisabledReason::Gone => "it answered 410 Gone".to_owned(),
    };
    let admins = crate::users::store::active_admin_emails(tx).await?;
    let mails: Vec<SendEmail> = admins
        .into_iter()
        .map(|to| SendEmail {
            to,
            subject: "A webhook endpoint was disabled".to_owned(),
            body: format!(
                "The webhook endpoint {url} (id {endpoint}) was disabled because {why}.\n\n\
                 Events are no longer sent to it. When the receiver works again, enable the \
                 endpoint (PATCH /api/v1/webhooks/endpoints/{endpoint} with \"enabled\": true) \
                 and redeliver what it missed from its delivery log.\n"
            ),
            html: None,
        })
        .collect();
    jobs::enqueue_many(tx, &mails).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_spans_about_a_day_in_eight_attempts() {
        let total: Duration = SCHEDULE.iter().sum();
        assert_eq!(total, Duration::from_secs(27 * 3600 + 35 * 60 + 5));
        assert_eq!(Deliver::RETRY.max_attempts, 8);
        assert_eq!(next_wait(1, None), Some(Duration::from_secs(5)));
        assert_eq!(next_wait(7, None), Some(Duration::from_secs(10 * 3600)));
        assert_eq!(next_wait(8, None), None);
        assert_eq!(next_wait(0, None), None);
    }

    #[test]
    fn retry_after_lengthens_the_wait_but_never_beyond_a_day() {
        assert_eq!(
            next_wait(1, Some(Duration::from_secs(60))),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            next_wait(2, Some(Duration::from_secs(1))),
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            next_wait(1, Some(Duration::from_secs(10 * 86_400))),
            Some(RETRY_AFTER_CAP)
        );
    }

    #[test]
    fn excerpts_are_bounded_text() {
        assert_eq!(excerpt(b"ok"), "ok");
        assert_eq!(excerpt(&[b'x'; 5000]).len(), EXCERPT_BYTES);
        let mut cut = vec![b'x'; EXCERPT_BYTES - 1];
        cut.extend("é".as_bytes());
        assert_eq!(excerpt(&cut).len(), EXCERPT_BYTES - 1);
        assert_eq!(excerpt(b"a\0b"), "");
        assert_eq!(excerpt(&[0xff, 0xfe]), "");
    }
}
