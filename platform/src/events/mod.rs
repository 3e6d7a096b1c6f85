//! Domain events: every change of consequence writes a versioned event in its own transaction,
//! so an event exists exactly when its change committed. One envelope (id, type, version,
//! tenant, time, data) with a JSON schema per type, published in the OpenAPI document's
//! `webhooks` section. Tenant admins read them at `/api/v1/events`; webhooks, notifications and
//! integration plugins consume them through jobs.

mod catalog;
mod routes;
mod store;

use lms_tenants::TenantTx;
use serde::Serialize;
use utoipa::ToSchema;

pub use catalog::{
    AssignmentGraded, AssignmentSubmitted, CertificateIssued, CertificateRevoked, CourseCompleted,
    EnrollmentCreated, EnrollmentRemoved, ItemCompleted, ModuleUnlocked, QuizAttemptGraded,
    QuizAttemptSubmitted, TYPES, UserCreated, UserDeactivated, describe_webhooks,
};
pub use routes::router;
pub use store::EventEnvelope;

entity_id!(
    /// A domain event's identifier (UUIDv7: events sort by it in the order they happened).
    EventId
);

/// What an event's data is: its type name, schema version and subject.
pub trait Event: Serialize + ToSchema {
    /// Dotted lower-case name, e.g. `enrollment.created`.
    const TYPE: &'static str;
    /// Bumped when the data changes incompatibly; consumers read the version they know.
    const VERSION: i32 = 1;
    /// One sentence for the webhooks section of the API document.
    const SUMMARY: &'static str;
    /// The id of what the event is about (the enrollment, the user, the attempt …).
    fn subject(&self) -> uuid::Uuid;
}

/// Records an event in the transaction of the change it describes.
pub async fn emit<E: Event>(tx: &mut TenantTx, event: &E) -> Result<EventId, sqlx::Error> {
    let data = serde_json::to_value(event).map_err(|err| sqlx::Error::Encode(Box::new(err)))?;
    store::insert(tx, E::TYPE, E::VERSION, event.subject(), &data).await
}
