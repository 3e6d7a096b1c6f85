//! Tenant webhooks: tenant admins register endpoints, and every domain event of a type an
//! endpoint takes is delivered to it, signed as the Standard Webhooks specification says.
//!
//! - **Fan-out.** A trigger on `domain_events` creates, in the transaction that wrote the event,
//!   one delivery and one `webhook.deliver` job per enabled endpoint whose filter takes the
//!   event's type (`migrations/20261205000003_webhooks.sql`). A tenant without endpoints pays one
//!   index probe per event statement.
//! - **Delivery** ([`deliver`]): at least once, on a fixed schedule over about a day, through the
//!   guarded outbound client ([`crate::outbound`]): https only, public addresses only (checked
//!   on the resolved address the connection uses), no redirects, timeouts, capped answers.
//! - **Secrets** ([`secret`]): `whsec_` secrets shown once; a rotation keeps signing with the old
//!   secret beside the new one for [`routes::ROTATION_OVERLAP`].
//! - **Log.** Every attempt is kept with its status, latency and the start of its answer;
//!   admins redeliver a finished delivery by hand. Finished deliveries are kept 30 days.

mod deliver;
mod model;
mod routes;
pub mod secret;
mod store;

pub use deliver::{Deliver, FAILING_FOR, SCHEDULE, deliver, next_wait};
pub use model::{
    Delivery, DeliveryAttempt, DeliveryDetail, DeliveryId, DeliveryState, DisabledReason, Endpoint,
    EndpointId, EndpointWithSecret,
};
pub use routes::{MAX_ENDPOINTS, ROTATION_OVERLAP, router};

use futures::FutureExt;
use futures::future::BoxFuture;

/// The `webhooks.prune_deliveries` schedule's task: the delivery log keeps 30 days.
pub fn prune_deliveries<'a>(
    _: &'a crate::state::AppState,
    conn: &'a mut sqlx::PgConnection,
) -> BoxFuture<'a, anyhow::Result<()>> {
    async move {
        let pruned = store::prune(conn).await?;
        tracing::info!(pruned, "pruned finished webhook deliveries");
        Ok(())
    }
    .boxed()
}
