//! All SQL on `domain_events`.

use chrono::{DateTime, Utc};
use lms_tenants::{TenantId, TenantTx};
use serde::Serialize;
use utoipa::ToSchema;

use super::EventId;
use crate::db::Cursor;

/// An event as consumers receive it.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct EventEnvelope {
    pub id: EventId,
    /// The event type, e.g. `enrollment.created`.
    #[serde(rename = "type")]
    #[sqlx(rename = "kind")]
    pub event_type: String,
    /// The version of the type's data schema.
    pub version: i32,
    pub tenant_id: TenantId,
    pub occurred_at: DateTime<Utc>,
    /// The type's data (see the `webhooks` section of this document).
    #[sqlx(rename = "payload")]
    pub data: serde_json::Value,
}

const COLUMNS: &str = "id, kind, version, tenant_id, occurred_at, payload";

pub async fn insert(
    tx: &mut TenantTx,
    event_type: &str,
    version: i32,
    subject: uuid::Uuid,
    data: &serde_json::Value,
) -> Result<EventId, sqlx::Error> {
    let id = EventId::default();
    sqlx::query(
        "insert into domain_events (tenant_id, id, kind, version, subject_id, payload)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tx.tenant_id())
    .bind(id)
    .bind(event_type)
    .bind(version)
    .bind(subject)
    .bind(data)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

/// Newest first, one more than `limit`.
pub async fn list(
    tx: &mut TenantTx,
    event_type: Option<&str>,
    cursor: Option<Cursor>,
    limit: i64,
) -> Result<Vec<EventEnvelope>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from domain_events
         where tenant_id = $1 and ($2::text is null or kind = $2) and ($3::uuid is null or id < $3)
         order by id desc limit $4"
    ))
    .bind(tx.tenant_id())
    .bind(event_type)
    .bind(cursor.map(|c| c.0))
    .bind(limit + 1)
    .fetch_all(&mut **tx)
    .await
}

pub async fn get(tx: &mut TenantTx, id: EventId) -> Result<Option<EventEnvelope>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from domain_events where tenant_id = $1 and id = $2"
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}
