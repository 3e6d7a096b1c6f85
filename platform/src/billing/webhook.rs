//! `POST /api/v1/webhooks/stripe`: Stripe's events, done so that any order of arrival converges.
//!
//! The signature is checked on the raw body; the payload is then used only to know which
//! customer changed: the state is read from Stripe itself (the customer's newest subscription
//! and its active entitlements), and written with the event id in the tenant's transaction, so
//! a redelivered event changes nothing and a reading older than the stored one is dropped
//! (newer wins). Unknown event types and customers are answered 2xx and logged.

use chrono::{DateTime, Utc};
use lms_tenants::TenantId;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::gateway::{BillingGateway, GatewayError};
use super::signature::{self, SignatureError};
use super::store::{self, SyncedSubscription};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The largest event body read.
pub const MAX_BODY_BYTES: usize = 512 * 1024;

/// What became of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The tenant's state was read from Stripe and stored.
    Applied,
    /// The event was processed before.
    Duplicate,
    /// A type this server does not act on.
    Ignored,
    /// No tenant has the event's customer.
    UnknownCustomer,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Receipt {
    pub received: bool,
    pub outcome: Outcome,
}

#[derive(Debug, Deserialize)]
pub(super) struct Event {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    created: i64,
    data: EventData,
}

#[derive(Debug, Deserialize)]
struct EventData {
    object: Value,
}

/// The types that change a tenant's subscription or entitlements.
const SUBSCRIPTION_EVENTS: &[&str] = &[
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.trial_will_end",
    "customer.subscription.paused",
    "customer.subscription.resumed",
    "invoice.paid",
    "invoice.payment_succeeded",
    "invoice.payment_failed",
    "invoice.payment_action_required",
    "entitlements.active_entitlement_summary.updated",
];

impl Event {
    fn object_str(&self, field: &str) -> Option<&str> {
        match &self.data.object[field] {
            Value::String(s) => Some(s),
            // An expanded object.
            Value::Object(o) => o.get("id").and_then(Value::as_str),
            _ => None,
        }
    }

    fn customer(&self) -> Option<&str> {
        self.object_str("customer")
            .filter(|c| c.starts_with("cus_") && c.len() <= 204)
    }

    fn is_subscription_checkout(&self) -> bool {
        self.kind == "checkout.session.completed" && self.data.object["mode"] == "subscription"
    }

    fn created_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.created, 0).unwrap_or_else(Utc::now)
    }
}

pub const INVALID_SIGNATURE: &str = "invalid_signature";

fn refused(err: SignatureError) -> ApiError {
    ApiError::BadRequest {
        code: INVALID_SIGNATURE,
        detail: format!("the Stripe-Signature does not verify: {err}"),
    }
}

/// Verifies and processes one delivery.
pub async fn receive(state: &AppState, signature: Option<&str>, body: &[u8]) -> ApiResult<Receipt> {
    let Some(gateway) = state.billing.gateway() else {
        return Err(super::checkout::billing_disabled());
    };
    signature::verify(
        signature,
        body,
        state.billing.webhook_secrets(),
        Utc::now().timestamp(),
    )
    .map_err(refused)?;
    let event: Event = serde_json::from_slice(body).map_err(|err| ApiError::BadRequest {
        code: "malformed_event",
        detail: format!("the event is not a Stripe event: {err}"),
    })?;
    if !event.id.starts_with("evt_") || event.id.len() > 204 || event.kind.len() > 100 {
        return Err(ApiError::BadRequest {
            code: "malformed_event",
            detail: "the event id or type is not Stripe's".into(),
        });
    }
    let outcome =
        if SUBSCRIPTION_EVENTS.contains(&event.kind.as_str()) || event.is_subscription_checkout() {
            subscription_event(state, gateway, &event).await?
        } else {
            tracing::info!(event = %event.id, kind = %event.kind, "Stripe event type not handled");
            Outcome::Ignored
        };
    metrics::counter!("stripe_webhook_events_total", "outcome" => format!("{outcome:?}"))
        .increment(1);
    Ok(Receipt {
        received: true,
        outcome,
    })
}

/// The tenant of a customer; a completed subscription checkout also names it in
/// `client_reference_id` (set by this server), which records a customer not seen before.
async fn tenant_of(state: &AppState, event: &Event, customer: &str) -> ApiResult<Option<TenantId>> {
    let mut conn = state.operator_db.pool().acquire().await?;
    if let Some(tenant) = store::tenant_of_customer(&mut conn, customer).await? {
        return Ok(Some(tenant));
    }
    drop(conn);
    if !event.is_subscription_checkout() {
        return Ok(None);
    }
    let Some(tenant) = event
        .object_str("client_reference_id")
        .and_then(|r| uuid::Uuid::parse_str(r).ok())
        .map(TenantId::from_uuid)
    else {
        return Ok(None);
    };
    let mut tx = state.operator_db.begin().await?;
    if lms_tenants::registry::by_id(&mut tx, tenant)
        .await?
        .is_none()
    {
        return Ok(None);
    }
    let recorded = store::record_customer(&mut tx, tenant, customer).await?;
    tx.commit().await?;
    Ok((recorded == customer).then_some(tenant))
}

async fn subscription_event(
    state: &AppState,
    gateway: &dyn BillingGateway,
    event: &Event,
) -> ApiResult<Outcome> {
    let Some(customer) = event.customer() else {
        tracing::warn!(event = %event.id, kind = %event.kind, "Stripe event without a customer");
        return Ok(Outcome::Ignored);
    };
    let Some(tenant) = tenant_of(state, event, customer).await? else {
        tracing::warn!(event = %event.id, %customer, "Stripe event for an unknown customer");
        return Ok(Outcome::UnknownCustomer);
    };
    let applied = sync(state, gateway, tenant, customer, Some(event)).await?;
    Ok(if applied {
        Outcome::Applied
    } else {
        Outcome::Duplicate
    })
}

/// Reads the customer's state from Stripe and stores it for the tenant (with the event, when
/// one caused it; false when that event was processed before).
pub(super) async fn sync(
    state: &AppState,
    gateway: &dyn BillingGateway,
    tenant: TenantId,
    customer: &str,
    event: Option<&Event>,
) -> ApiResult<bool> {
    let synced_at = Utc::now();
    let subscription = gateway.latest_subscription(customer).await?;
    let features = match gateway.active_entitlements(customer).await {
        Ok(keys) if keys.is_empty() => None,
        Ok(keys) => Some(keys),
        Err(GatewayError::NotFound) => None,
        Err(err) => return Err(err.into()),
    };
    let mut tx = state.db.begin(tenant).await?;
    if let Some(event) = event
        && !store::record_event(&mut tx, &event.id, &event.kind, event.created_at()).await?
    {
        return Ok(false);
    }
    let plan_id = match subscription.as_ref().and_then(|s| s.price.as_deref()) {
        Some(price) => {
            let plan = store::plan_by_price(&mut tx, price).await?;
            if plan.is_none() {
                tracing::warn!(%tenant, %price, "a subscription to a price no plan has");
            }
            plan
        }
        None => None,
    };
    store::save_subscription(
        &mut tx,
        &SyncedSubscription {
            plan_id,
            customer,
            subscription: subscription.as_ref(),
            features: features.as_deref(),
            synced_at,
        },
    )
    .await?;
    if let Some(event) = event {
        super::notices::queue_for(&mut tx, state, event.kind.as_str(), subscription.as_ref())
            .await?;
    }
    tx.commit().await?;
    Ok(true)
}
