//! All SQL the request path runs on `email_outbox`.

use lms_tenants::TenantTx;
use uuid::Uuid;

use crate::users::Email;

pub struct OutgoingEmail<'a> {
    pub to: &'a Email,
    pub subject: String,
    pub body: String,
}

/// Queues an email; it is sent only if the surrounding transaction commits.
pub async fn enqueue(tx: &mut TenantTx, email: OutgoingEmail<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into email_outbox (tenant_id, id, recipient, subject, body_text) values ($1, $2, $3, $4, $5)",
    )
    .bind(tx.tenant_id())
    .bind(Uuid::now_v7())
    .bind(email.to.as_str())
    .bind(&email.subject)
    .bind(&email.body)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}
