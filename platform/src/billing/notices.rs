//! Emails to a tenant's admins about its subscription, queued in the transaction that records
//! the Stripe event (sent after commit by the job queue, once per event).

use lms_tenants::TenantTx;

use super::gateway::StripeSubscription;
use crate::email::{self, OutgoingEmail};
use crate::state::AppState;
use crate::users::Email;

/// Queues the notice an event calls for: a failed payment (with the grace period) or a trial
/// ending soon.
pub async fn queue_for(
    tx: &mut TenantTx,
    state: &AppState,
    kind: &str,
    subscription: Option<&StripeSubscription>,
) -> Result<(), sqlx::Error> {
    let (subject, body) = match kind {
        "invoice.payment_failed" | "invoice.payment_action_required" => {
            let days = state.billing.past_due_grace().num_days();
            (
                "Your subscription payment failed".to_owned(),
                format!(
                    "The latest payment for your organisation's subscription did not go \
                     through. Please update the payment method in the billing portal \
                     (Billing > Manage subscription).\n\nEverything keeps working for {days} \
                     days; after that, courses and enrolments become read-only until the \
                     payment succeeds. No data is deleted."
                ),
            )
        }
        "customer.subscription.trial_will_end" => {
            let end = subscription
                .and_then(|s| s.trial_end)
                .map_or_else(|| "soon".to_owned(), |t| format!("on {}", t.format("%Y-%m-%d")));
            (
                "Your trial ends soon".to_owned(),
                format!(
                    "Your organisation's trial ends {end}. Add a payment method in the billing \
                     portal (Billing > Manage subscription) to keep everything working."
                ),
            )
        }
        _ => return Ok(()),
    };
    for admin in crate::users::store::active_admin_emails(tx).await? {
        let Ok(to) = Email::parse(&admin) else {
            continue;
        };
        email::enqueue(
            tx,
            OutgoingEmail {
                to: &to,
                subject: subject.clone(),
                body: body.clone(),
            },
        )
        .await?;
    }
    Ok(())
}
