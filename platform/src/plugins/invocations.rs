//! Invocation records: every plugin call is measured into Prometheus metrics (on `/metrics`) and
//! kept in the tenant's `plugin_invocations`, pruned on insert to the newest
//! `LMS_PLUGIN_INVOCATIONS_KEPT` (1,000) rows per tenant, which tenant admins page through.

use chrono::{DateTime, Utc};
use lms_plugin_host::InvocationRecord as HostRecord;
use lms_tenants::{TenantId, TenantTx};
use uuid::Uuid;

use super::model::{InvocationRecord, PluginId, PluginName};
use super::service::begin_admin;
use crate::auth::Caller;
use crate::db::Cursor;
use crate::error::ApiResult;
use crate::http::Page;
use crate::state::AppState;
use crate::users::UserId;

/// The wall-time histogram's name; its buckets are set where the recorder is installed.
pub const DURATION_METRIC: &str = "lms_plugin_invocation_duration_seconds";
/// The peak-memory histogram's name.
pub const MEMORY_METRIC: &str = "lms_plugin_peak_memory_bytes";

/// Records the call in the process's metrics, labelled by plugin name and outcome.
pub fn observe(plugin: &str, outcome: &str, record: &HostRecord) {
    let labels = [
        ("plugin", plugin.to_owned()),
        ("outcome", outcome.to_owned()),
    ];
    metrics::counter!("lms_plugin_invocations_total", &labels).increment(1);
    metrics::histogram!(DURATION_METRIC, &labels).record(record.wall_time.as_secs_f64());
    metrics::histogram!(MEMORY_METRIC, "plugin" => plugin.to_owned())
        .record(record.peak_memory_bytes as f64);
    if let Some(fuel) = record.fuel_used {
        metrics::counter!("lms_plugin_fuel_consumed_total", "plugin" => plugin.to_owned())
            .increment(fuel);
    }
}

/// Appends the record to the tenant's log and prunes it to the newest `kept` rows.
pub async fn record(
    state: &AppState,
    tenant: TenantId,
    plugin: PluginId,
    name: &str,
    outcome: &str,
    by: Option<UserId>,
    record: &HostRecord,
) -> ApiResult<()> {
    let mut tx = state.db.begin(tenant).await?;
    insert(&mut tx, plugin, name, outcome, by, record).await?;
    prune(&mut tx, state.plugins.invocations_kept).await?;
    tx.commit().await?;
    Ok(())
}

async fn insert(
    tx: &mut TenantTx,
    plugin: PluginId,
    name: &str,
    outcome: &str,
    by: Option<UserId>,
    record: &HostRecord,
) -> Result<(), sqlx::Error> {
    let clamp = |v: u128| i64::try_from(v).unwrap_or(i64::MAX);
    sqlx::query(
        "insert into plugin_invocations (tenant_id, id, plugin_id, plugin_name, version,
             wit_version, wall_time_us, fuel_used, peak_memory_bytes, outcome, invoked_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(tx.tenant_id())
    .bind(Uuid::now_v7())
    .bind(plugin)
    .bind(name)
    .bind(&record.version.0)
    .bind(record.wit_version.map(|v| v.to_string()))
    .bind(clamp(record.wall_time.as_micros()))
    .bind(record.fuel_used.map(|f| clamp(u128::from(f))))
    .bind(clamp(record.peak_memory_bytes as u128))
    .bind(outcome)
    .bind(by)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Deletes everything older than the tenant's `kept` newest records (a backward scan of the
/// primary key, so the cost does not grow with the table).
async fn prune(tx: &mut TenantTx, kept: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "delete from plugin_invocations where tenant_id = $1 and id < (
             select id from plugin_invocations where tenant_id = $1
             order by id desc offset $2 limit 1)",
    )
    .bind(tx.tenant_id())
    .bind(kept.max(1) - 1)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    plugin_name: String,
    version: String,
    wit_version: Option<String>,
    wall_time_us: i64,
    fuel_used: Option<i64>,
    peak_memory_bytes: i64,
    outcome: String,
    invoked_by: Option<UserId>,
    invoked_at: DateTime<Utc>,
}

/// The tenant's records, newest first, optionally of one plugin (tenant admins).
pub async fn list(
    state: &AppState,
    caller: &Caller,
    plugin: Option<&PluginName>,
    cursor: Option<Cursor>,
    limit: i64,
) -> ApiResult<Page<InvocationRecord>> {
    let (mut tx, _) = begin_admin(state, caller).await?;
    let rows: Vec<Row> = sqlx::query_as(
        "select id, plugin_name, version, wit_version, wall_time_us, fuel_used,
                peak_memory_bytes, outcome, invoked_by, invoked_at
         from plugin_invocations
         where tenant_id = $1 and ($2::text is null or plugin_name = $2)
           and ($3::uuid is null or id < $3)
         order by id desc limit $4",
    )
    .bind(tx.tenant_id())
    .bind(plugin.map(PluginName::as_str))
    .bind(cursor.map(|c| c.0))
    .bind(limit + 1)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let items = rows
        .into_iter()
        .map(|r| InvocationRecord {
            id: r.id,
            plugin: r.plugin_name,
            version: r.version,
            wit_version: r.wit_version,
            wall_time_us: r.wall_time_us,
            fuel_used: r.fuel_used,
            peak_memory_bytes: r.peak_memory_bytes,
            outcome: r.outcome,
            invoked_by: r.invoked_by,
            invoked_at: r.invoked_at,
        })
        .collect();
    Ok(Page::from_rows(items, limit, |r: &InvocationRecord| r.id))
}
