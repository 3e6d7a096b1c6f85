//! Endpoints, deliveries and attempts as tenant admins see them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::events::EventId;

entity_id!(
    /// A webhook endpoint's identifier.
    EndpointId
);

entity_id!(
    /// One event's delivery to one endpoint.
    DeliveryId
);

/// Where a delivery is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Not yet received: waiting for its first attempt or its next scheduled one.
    Pending,
    /// A receiver answered 2xx.
    Succeeded,
    /// Every scheduled attempt failed, or the endpoint was disabled or deleted meanwhile.
    Failed,
}

text_enum!(DeliveryState {
    Pending => "pending",
    Succeeded => "succeeded",
    Failed => "failed",
});

/// Why the platform disabled an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DisabledReason {
    /// Every attempt failed for days.
    Failing,
    /// The receiver answered 410 Gone.
    Gone,
}

text_enum!(DisabledReason {
    Failing => "failing",
    Gone => "gone",
});

/// A registered receiver of the tenant's events. Its secret is shown only when created or
/// rotated.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Endpoint {
    pub id: EndpointId,
    pub url: String,
    pub description: String,
    /// The event types delivered; empty: every type.
    pub event_types: Vec<String>,
    pub enabled: bool,
    /// Set when the platform disabled the endpoint; cleared when an admin enables it again.
    pub disabled_reason: Option<DisabledReason>,
    /// Since when every attempt has failed (cleared by a success).
    pub failing_since: Option<DateTime<Utc>>,
    /// Until when deliveries are signed with the secret before the last rotation too.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The columns of [`Endpoint`], for `select`.
pub const ENDPOINT_COLUMNS: &str = "id, url, description, event_types, enabled, disabled_reason, \
     failing_since, previous_secret_expires_at, created_at, updated_at";

/// An endpoint with its signing secret: the answer to creating it or rotating its secret, the
/// only times the secret is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: Endpoint,
    /// `whsec_` followed by the base64 key: verify each delivery's `webhook-signature` with it
    /// (Standard Webhooks). Store it now; it is not shown again.
    pub secret: String,
}

/// One event's delivery to one endpoint.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Delivery {
    pub id: DeliveryId,
    pub endpoint_id: EndpointId,
    /// The event delivered; also the `webhook-id` header, the same on every attempt.
    pub event_id: EventId,
    pub event_type: String,
    pub state: DeliveryState,
    /// Attempts made so far.
    pub attempts: i32,
    /// When the next scheduled attempt is due.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// The columns of [`Delivery`], for `select`.
pub const DELIVERY_COLUMNS: &str = "id, endpoint_id, event_id, event_type, state, attempts, \
     next_attempt_at, created_at, finished_at";

/// One attempt to deliver: what the receiver answered, how fast, or why nothing came back.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct DeliveryAttempt {
    pub attempt: i32,
    pub attempted_at: DateTime<Utc>,
    /// The receiver's HTTP status; absent when no answer came.
    pub status: Option<i32>,
    pub latency_ms: i32,
    /// The first kibibyte of the answer's body (as text).
    pub response_excerpt: String,
    /// Why the attempt failed without an answer, or what the answer meant.
    pub error: Option<String>,
}

/// A delivery with its attempts, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryDetail {
    #[serde(flatten)]
    pub delivery: Delivery,
    /// The latest attempts (at most 50), newest first.
    pub attempt_log: Vec<DeliveryAttempt>,
}
