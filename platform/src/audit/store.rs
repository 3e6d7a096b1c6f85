//! All SQL on `audit_events`.

use chrono::{DateTime, Utc};
use lms_tenants::{TenantId, TenantTx};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Audit, AuditActor};
use crate::db::Cursor;

/// One recorded action.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct AuditEvent {
    pub id: Uuid,
    /// `user`, `operator`, `system` or `anonymous`.
    pub actor_kind: String,
    pub actor_id: Option<Uuid>,
    /// e.g. `user.deactivated`.
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    pub ip: Option<String>,
    pub details: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

pub async fn insert(tx: &mut TenantTx, event: &Audit) -> Result<(), sqlx::Error> {
    let tenant = tx.tenant_id();
    insert_on(tx, tenant, event).await
}

/// Also used by the operator module, whose transaction is not tenant-scoped.
pub async fn insert_on(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
    event: &Audit,
) -> Result<(), sqlx::Error> {
    let (kind, actor_id) = match event.actor {
        AuditActor::User(id) => ("user", Some(id.0)),
        AuditActor::Operator => ("operator", None),
        AuditActor::Anonymous => ("anonymous", None),
        AuditActor::ScimToken(id) => ("system", Some(id)),
    };
    sqlx::query(
        "insert into audit_events (tenant_id, id, actor_kind, actor_id, action, target_type, target_id, ip, details)
         values ($1, $2, $3, $4, $5, $6, $7, $8::inet, $9)",
    )
    .bind(tenant)
    .bind(Uuid::now_v7())
    .bind(kind)
    .bind(actor_id)
    .bind(event.action)
    .bind(event.target_type)
    .bind(event.target_id.as_deref())
    .bind(event.ip.map(|ip| ip.to_string()))
    .bind(&event.details)
    .execute(conn)
    .await
    .map(|_| ())
}

pub async fn list(
    tx: &mut TenantTx,
    action: Option<&str>,
    cursor: Option<Cursor>,
    limit: i64,
) -> Result<Vec<AuditEvent>, sqlx::Error> {
    sqlx::query_as(
        "select id, actor_kind, actor_id, action, target_type, target_id, host(ip) as ip, details, created_at
         from audit_events
         where tenant_id = $1 and ($2::uuid is null or id < $2) and ($3::text is null or action = $3)
         order by id desc limit $4",
    )
    .bind(tx.tenant_id())
    .bind(cursor.map(|c| c.0))
    .bind(action)
    .bind(limit + 1)
    .fetch_all(&mut **tx)
    .await
}
