//! `plugins.deliver_event`: one domain event to one integration install. The jobs are queued by
//! a trigger on `domain_events` (one per event and subscribed, enabled integration), so an
//! install that fails only ever delays its own deliveries.
//!
//! A run reads what the install was granted, builds the event record with no more personal data
//! than the grant allows, calls the plugin under the host's limits (no transaction open), records
//! the invocation, and saves the key-value store with the job's completion when the call
//! succeeded. A plugin asking to retry, a trap, a deadline or an overloaded host are retried with
//! backoff, then the job is dead (visible to admins, re-runnable); a refusal retrying cannot fix
//! (invalid config, a capability not granted, oversized output) is dead at once.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use chrono::{DateTime, Utc};
use lms_plugin_host::{
    Event, EventCourse, EventLearner, EventTenant, Grants, InstallConfig, IntegrationCall,
    Invocation, KeyValue, Outcome, PluginError,
};
use lms_tenants::TenantTx;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::http_client::InstallHttp;
use super::model::{Capability, PluginId, World, capabilities_from_db};
use super::{host_id, host_version, install_settings, invocations, service, store};
use crate::jobs::{Finished, JobContext, JobError, JobKind, Retry};

/// Bytes of keys and values an install's key-value store may hold.
pub const KEY_VALUE_QUOTA_BYTES: usize = 256 << 10;

/// Seconds from an event to the end of its delivery to a plugin.
pub const LATENCY_METRIC: &str = "lms_plugin_event_delivery_seconds";

/// The job's payload, written by the trigger.
#[derive(Debug, Serialize, Deserialize)]
pub struct DeliverEvent {
    pub event: Uuid,
    pub plugin: PluginId,
}

impl JobKind for DeliverEvent {
    const KIND: &'static str = "plugins.deliver_event";
    /// 10 attempts (as the trigger queues them): 5 s, 10 s, 20 s … at most an hour apart.
    const RETRY: Retry = Retry {
        max_attempts: 10,
        base: Duration::from_secs(5),
        cap: Duration::from_secs(3600),
    };
    /// Well over the host's integration deadline (15 s) plus the loading around it.
    const TIMEOUT: Duration = Duration::from_secs(120);
}

#[derive(sqlx::FromRow)]
struct EventRow {
    kind: String,
    version: i32,
    occurred_at: DateTime<Utc>,
    payload: serde_json::Value,
}

/// Runs `plugins.deliver_event`.
pub async fn deliver_event(ctx: JobContext, job: DeliverEvent) -> Result<Finished, JobError> {
    let state = ctx.state().clone();
    let tenant = ctx.tenant;
    let mut tx = ctx.begin().await?;
    let Some(plugin) = store::plugin_by_id(&mut tx, job.plugin).await? else {
        return ctx.finish(tx).await;
    };
    let (true, World::Integration, Some(active)) =
        (plugin.enabled, plugin.world, plugin.active_version_id)
    else {
        // Disabled or uninstalled since: nothing to deliver.
        return ctx.finish(tx).await;
    };
    let version = store::version_by_id(&mut tx, active)
        .await?
        .ok_or_else(|| JobError::Fatal(anyhow!("the active version is gone")))?;
    let granted: BTreeSet<Capability> =
        capabilities_from_db(version.granted_capabilities.as_deref().unwrap_or_default());
    let Some(settings) = install_settings::row(&mut tx, plugin.id).await? else {
        return ctx.finish(tx).await;
    };
    let Some(event) = event_row(&mut tx, job.event).await? else {
        return ctx.finish(tx).await;
    };
    let record = event_record(
        &mut tx,
        job.event,
        &event,
        granted.contains(&Capability::LearnerProfile),
    )
    .await?;
    let key_values = if granted.contains(&Capability::KeyValue) {
        Some(install_settings::key_values(&mut tx, plugin.id).await?)
    } else {
        None
    };
    let (id, host_ver) = (
        host_id(tenant, &plugin.name),
        host_version(&version.version),
    );
    let host = &state.plugins.host;
    let component = if host.installed_integration(&id, &host_ver).is_none() {
        store::component(&mut tx, &version.sha256).await?
    } else {
        None
    };
    tx.commit().await?;
    if let Some(bytes) = component {
        service::load_into_host(
            host,
            tenant,
            World::Integration,
            &plugin.name,
            &version.version,
            Arc::new(bytes),
            &service::host_capabilities(&granted),
        )
        .await
        .map_err(|e| JobError::Retry(anyhow!("loading the plugin: {e}")))?;
    }

    let grants = Grants {
        log: granted.contains(&Capability::Log),
        config: granted
            .contains(&Capability::Secrets)
            .then(|| InstallConfig {
                settings: settings.settings.to_string(),
                secrets: settings.open_secrets(&state.sealing, tenant, plugin.id),
            }),
        key_value: key_values.map(|entries| KeyValue::new(entries, KEY_VALUE_QUOTA_BYTES)),
        http: granted.contains(&Capability::Http).then(|| {
            Arc::new(InstallHttp {
                outbound: state.outbound.clone(),
                limits: state.plugins.http_limits.clone(),
                install: format!("{tenant}/{}", plugin.id),
                allowed_hosts: settings.allowed_hosts.clone(),
            }) as Arc<dyn lms_plugin_host::HttpClient>
        }),
    };
    let Invocation {
        result,
        record: run,
    } = host
        .call_integration(
            &id,
            &host_ver,
            &lms_plugin_host::TenantId(tenant.to_string()),
            &IntegrationCall::HandleEvent(record),
            grants,
        )
        .await;
    let outcome = match run.outcome {
        Outcome::Success => "success",
        Outcome::Failure(code) => code,
    };
    invocations::observe(&plugin.name, outcome, &run);
    invocations::record(&state, tenant, plugin.id, &plugin.name, outcome, None, &run)
        .await
        .map_err(|e| JobError::Retry(anyhow!("recording the invocation: {e}")))?;

    match result {
        Ok(done) => {
            let mut tx = ctx.begin().await?;
            if let Some(kv) = done.key_value.filter(KeyValue::changed) {
                install_settings::replace_key_values(&mut tx, plugin.id, kv.into_entries()).await?;
            }
            let finished = ctx.finish(tx).await?;
            let latency = (Utc::now() - event.occurred_at)
                .to_std()
                .unwrap_or_default();
            metrics::histogram!(LATENCY_METRIC, "plugin" => plugin.name.clone())
                .record(latency.as_secs_f64());
            Ok(finished)
        }
        Err(error) => Err(job_error(error)),
    }
}

/// Whether a failed call is worth another attempt.
fn job_error(error: PluginError) -> JobError {
    let retryable = match &error {
        PluginError::Integration(e) => e.is_retryable(),
        PluginError::CapabilityDenied { .. }
        | PluginError::InvalidInput { .. }
        | PluginError::InvalidOutput { .. }
        | PluginError::OutputTooLarge { .. }
        | PluginError::TransferTooLarge { .. }
        | PluginError::Rejected { .. } => false,
        _ => true,
    };
    if retryable {
        JobError::Retry(anyhow!(error))
    } else {
        JobError::Fatal(anyhow!(error))
    }
}

async fn event_row(tx: &mut TenantTx, id: Uuid) -> Result<Option<EventRow>, sqlx::Error> {
    sqlx::query_as(
        "select kind, version, occurred_at, payload from domain_events
         where tenant_id = $1 and id = $2",
    )
    .bind(tx.tenant_id())
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

/// The event as the plugin receives it: the tenant, and the learner and course its data names.
/// The learner's name and email only with the `learner_profile` grant.
async fn event_record(
    tx: &mut TenantTx,
    id: Uuid,
    event: &EventRow,
    learner_profile: bool,
) -> Result<Event, sqlx::Error> {
    let (slug, display_name, primary_color): (String, String, Option<String>) = sqlx::query_as(
        "select slug, display_name, branding->>'primary_color' from tenants where id = $1",
    )
    .bind(tx.tenant_id())
    .fetch_one(&mut **tx)
    .await?;
    let uuid_field = |name: &str| {
        event
            .payload
            .get(name)
            .and_then(|v| v.as_str())
            .and_then(|s| Uuid::parse_str(s).ok())
    };
    let learner = match uuid_field("user_id") {
        Some(user) => {
            let row: Option<(String, String)> = sqlx::query_as(
                "select display_name, email from users where tenant_id = $1 and id = $2",
            )
            .bind(tx.tenant_id())
            .bind(user)
            .fetch_optional(&mut **tx)
            .await?;
            let (name, email) = row.filter(|_| learner_profile).unzip();
            Some(EventLearner {
                id: user.to_string(),
                display_name: name,
                email,
                discord_user_id: None,
            })
        }
        None => None,
    };
    let course = match uuid_field("course_id") {
        Some(course) => sqlx::query_as::<_, (String, String)>(
            "select title, slug from courses where tenant_id = $1 and id = $2",
        )
        .bind(tx.tenant_id())
        .bind(course)
        .fetch_optional(&mut **tx)
        .await?
        .map(|(title, slug)| EventCourse {
            id: course.to_string(),
            title,
            slug,
        }),
        None => None,
    };
    Ok(Event {
        id: id.to_string(),
        kind: event.kind.clone(),
        version: u32::try_from(event.version).unwrap_or_default(),
        occurred_at: event
            .occurred_at
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        tenant: EventTenant {
            id: tx.tenant_id().to_string(),
            slug,
            display_name,
            primary_color,
        },
        learner,
        course,
        certificate: None,
        data: event.payload.to_string(),
    })
}
