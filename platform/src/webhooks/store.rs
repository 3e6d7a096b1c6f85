//! All SQL on `webhook_endpoints`, `webhook_deliveries` and `webhook_attempts`.

use chrono::{DateTime, Utc};
use lms_tenants::TenantTx;

use super::model::{
    DELIVERY_COLUMNS, Delivery, DeliveryAttempt, DeliveryId, DeliveryState, DisabledReason,
    ENDPOINT_COLUMNS, Endpoint, EndpointId,
};
use crate::db::Cursor;
use crate::events::{EventEnvelope, EventId};

/// What a new endpoint is, validated.
pub struct NewEndpoint {
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    pub enabled: bool,
}

/// The fields an update sets; `None` keeps the stored value.
#[derive(Default)]
pub struct EndpointChange {
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

pub async fn count_endpoints(tx: &mut TenantTx) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("select count(*) from webhook_endpoints where tenant_id = $1")
        .bind(tx.tenant_id())
        .fetch_one(&mut **tx)
        .await
}

pub async fn insert_endpoint(
    tx: &mut TenantTx,
    new: &NewEndpoint,
    secret: &str,
) -> Result<Endpoint, sqlx::Error> {
    sqlx::query_as(&format!(
        "insert into webhook_endpoints (tenant_id, id, url, description, event_types, enabled, secret)
         values ($1, $2, $3, $4, $5, $6, $7)
         returning {ENDPOINT_COLUMNS}"
    ))
    .bind(tx.tenant_id())
    .bind(EndpointId::default())
    .bind(&new.url)
    .bind(&new.description)
    .bind(&new.event_types)
    .bind(new.enabled)
    .bind(secret)
    .fetch_one(&mut **tx)
    .await
}

/// Every endpoint of the tenant (a tenant has few), oldest first.
pub async fn list_endpoints(tx: &mut TenantTx) -> Result<Vec<Endpoint>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {ENDPOINT_COLUMNS} from webhook_endpoints where tenant_id = $1 order by id"
    ))
    .bind(tx.tenant_id())
    .fetch_all(&mut **tx)
    .await
}

pub async fn get_endpoint(
    tx: &mut TenantTx,
    id: EndpointId,
) -> Result<Option<Endpoint>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {ENDPOINT_COLUMNS} from webhook_endpoints where tenant_id = $1 and id = $2"
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

/// Applies a change. Enabling an endpoint (again) forgets why and since when it failed.
pub async fn update_endpoint(
    tx: &mut TenantTx,
    id: EndpointId,
    change: &EndpointChange,
) -> Result<Option<Endpoint>, sqlx::Error> {
    sqlx::query_as(&format!(
        "update webhook_endpoints set
             url = coalesce($3, url),
             description = coalesce($4, description),
             event_types = coalesce($5, event_types),
             enabled = coalesce($6, enabled),
             disabled_reason = case when $6 then null else disabled_reason end,
             failing_since = case when $6 and not enabled then null else failing_since end
         where tenant_id = $1 and id = $2
         returning {ENDPOINT_COLUMNS}"
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .bind(&change.url)
    .bind(&change.description)
    .bind(&change.event_types)
    .bind(change.enabled)
    .fetch_optional(&mut **tx)
    .await
}

pub async fn delete_endpoint(tx: &mut TenantTx, id: EndpointId) -> Result<bool, sqlx::Error> {
    let deleted = sqlx::query("delete from webhook_endpoints where tenant_id = $1 and id = $2")
        .bind(tx.tenant_id())
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(deleted.rows_affected() == 1)
}

/// Makes `secret` the endpoint's secret; the one it replaces still signs until `overlap_ends`.
pub async fn rotate_secret(
    tx: &mut TenantTx,
    id: EndpointId,
    secret: &str,
    overlap_ends: DateTime<Utc>,
) -> Result<Option<Endpoint>, sqlx::Error> {
    sqlx::query_as(&format!(
        "update webhook_endpoints
         set previous_secret = secret, previous_secret_expires_at = $4, secret = $3
         where tenant_id = $1 and id = $2
         returning {ENDPOINT_COLUMNS}"
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .bind(secret)
    .bind(overlap_ends)
    .fetch_optional(&mut **tx)
    .await
}

/// An endpoint's deliveries, newest first, one more than `limit`.
pub async fn list_deliveries(
    tx: &mut TenantTx,
    endpoint: EndpointId,
    state: Option<DeliveryState>,
    cursor: Option<Cursor>,
    limit: i64,
) -> Result<Vec<Delivery>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {DELIVERY_COLUMNS} from webhook_deliveries
         where tenant_id = $1 and endpoint_id = $2 and ($3::text is null or state = $3)
           and ($4::uuid is null or id < $4)
         order by id desc limit $5"
    ))
    .bind(tx.tenant_id())
    .bind(endpoint)
    .bind(state)
    .bind(cursor.map(|c| c.0))
    .bind(limit + 1)
    .fetch_all(&mut **tx)
    .await
}

pub async fn get_delivery(
    tx: &mut TenantTx,
    id: DeliveryId,
) -> Result<Option<Delivery>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {DELIVERY_COLUMNS} from webhook_deliveries where tenant_id = $1 and id = $2"
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

/// The latest attempts of a delivery, newest first.
pub async fn attempts(
    tx: &mut TenantTx,
    delivery: DeliveryId,
    limit: i64,
) -> Result<Vec<DeliveryAttempt>, sqlx::Error> {
    sqlx::query_as(
        "select attempt, attempted_at, status, latency_ms, response_excerpt, error
         from webhook_attempts where tenant_id = $1 and delivery_id = $2
         order by attempt desc limit $3",
    )
    .bind(tx.tenant_id())
    .bind(delivery)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await
}

/// Puts a finished delivery back to pending for a manual redelivery; `None` when it is pending
/// already (or does not exist).
pub async fn reopen(tx: &mut TenantTx, id: DeliveryId) -> Result<Option<Delivery>, sqlx::Error> {
    sqlx::query_as(&format!(
        "update webhook_deliveries set state = 'pending', finished_at = null, next_attempt_at = null
         where tenant_id = $1 and id = $2 and state <> 'pending'
         returning {DELIVERY_COLUMNS}"
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

/// What a delivery attempt needs: the delivery, where it goes, the secrets that sign it, and the
/// event it carries.
pub struct Target {
    pub state: DeliveryState,
    pub endpoint: EndpointId,
    pub url: String,
    pub enabled: bool,
    pub secret: String,
    /// The secret before the last rotation, while its overlap lasts.
    pub previous_secret: Option<String>,
    pub event: EventEnvelope,
}

#[derive(sqlx::FromRow)]
struct TargetRow {
    state: DeliveryState,
    endpoint_id: EndpointId,
    url: String,
    enabled: bool,
    secret: String,
    previous_secret: Option<String>,
    event_id: EventId,
    kind: String,
    version: i32,
    occurred_at: DateTime<Utc>,
    payload: serde_json::Value,
}

/// Reads (and locks, until the caller's transaction ends) what an attempt needs. A redelivery
/// cannot start beside an attempt: it needs the delivery out of `pending`.
pub async fn target(tx: &mut TenantTx, id: DeliveryId) -> Result<Option<Target>, sqlx::Error> {
    let row: Option<TargetRow> = sqlx::query_as(
        "select d.state, d.endpoint_id, w.url, w.enabled, w.secret,
                case when w.previous_secret_expires_at > now() then w.previous_secret end
                    as previous_secret,
                e.id as event_id, e.kind, e.version, e.occurred_at, e.payload
         from webhook_deliveries d
         join webhook_endpoints w on w.tenant_id = d.tenant_id and w.id = d.endpoint_id
         join domain_events e on e.tenant_id = d.tenant_id and e.id = d.event_id
         where d.tenant_id = $1 and d.id = $2
         for update of d",
    )
    .bind(tx.tenant_id())
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    let tenant_id = tx.tenant_id();
    Ok(row.map(|r| Target {
        state: r.state,
        endpoint: r.endpoint_id,
        url: r.url,
        enabled: r.enabled,
        secret: r.secret,
        previous_secret: r.previous_secret,
        event: EventEnvelope {
            id: r.event_id,
            event_type: r.kind,
            version: r.version,
            tenant_id,
            occurred_at: r.occurred_at,
            data: r.payload,
        },
    }))
}

/// What one attempt found.
pub struct AttemptRecord<'a> {
    pub status: Option<u16>,
    pub latency_ms: i32,
    pub response_excerpt: &'a str,
    pub error: Option<&'a str>,
}

/// Logs an attempt and counts it on the delivery; returns the attempt's number.
pub async fn record_attempt(
    tx: &mut TenantTx,
    id: DeliveryId,
    record: &AttemptRecord<'_>,
) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar(
        "with counted as (
             update webhook_deliveries set attempts = attempts + 1
             where tenant_id = $1 and id = $2 returning attempts)
         insert into webhook_attempts
             (tenant_id, delivery_id, attempt, status, latency_ms, response_excerpt, error)
         select $1, $2, attempts, $3, $4, $5, $6 from counted
         returning attempt",
    )
    .bind(tx.tenant_id())
    .bind(id)
    .bind(record.status.map(i32::from))
    .bind(record.latency_ms)
    .bind(record.response_excerpt)
    .bind(record.error)
    .fetch_one(&mut **tx)
    .await
}

/// Ends a delivery: received, or given up.
pub async fn finish_delivery(
    tx: &mut TenantTx,
    id: DeliveryId,
    state: DeliveryState,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update webhook_deliveries set state = $3, finished_at = now(), next_attempt_at = null
         where tenant_id = $1 and id = $2",
    )
    .bind(tx.tenant_id())
    .bind(id)
    .bind(state)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn schedule_retry(
    tx: &mut TenantTx,
    id: DeliveryId,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update webhook_deliveries set next_attempt_at = $3 where tenant_id = $1 and id = $2",
    )
    .bind(tx.tenant_id())
    .bind(id)
    .bind(at)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// A receiver answered 2xx: the endpoint is no longer failing.
pub async fn endpoint_succeeded(tx: &mut TenantTx, id: EndpointId) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update webhook_endpoints set failing_since = null
         where tenant_id = $1 and id = $2 and failing_since is not null",
    )
    .bind(tx.tenant_id())
    .bind(id)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// An attempt failed: returns since when the endpoint has been failing.
pub async fn endpoint_failed(
    tx: &mut TenantTx,
    id: EndpointId,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar(
        "update webhook_endpoints set failing_since = coalesce(failing_since, now())
         where tenant_id = $1 and id = $2 returning failing_since",
    )
    .bind(tx.tenant_id())
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

/// Disables an enabled endpoint; `true` when this call disabled it.
pub async fn disable(
    tx: &mut TenantTx,
    id: EndpointId,
    reason: DisabledReason,
) -> Result<bool, sqlx::Error> {
    let disabled = sqlx::query(
        "update webhook_endpoints set enabled = false, disabled_reason = $3
         where tenant_id = $1 and id = $2 and enabled",
    )
    .bind(tx.tenant_id())
    .bind(id)
    .bind(reason)
    .execute(&mut **tx)
    .await?;
    Ok(disabled.rows_affected() == 1)
}

/// Deletes up to 10,000 deliveries finished more than 30 days ago, with their attempts, across
/// tenants (the operator's connection, from the `webhooks.prune_deliveries` schedule).
pub async fn prune(conn: &mut sqlx::PgConnection) -> Result<u64, sqlx::Error> {
    let pruned = sqlx::query(
        "delete from webhook_deliveries where ctid = any(array(
             select ctid from webhook_deliveries
             where finished_at < now() - interval '30 days'
             limit 10000))",
    )
    .execute(conn)
    .await?;
    Ok(pruned.rows_affected())
}
