//! What billing needs from Stripe, behind one trait: the Stripe implementation is in
//! [`super::stripe`]. Every create carries an idempotency key, so a retried call never makes a
//! second object.

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use lms_tenants::TenantId;

use super::model::SubscriptionStatus;
use crate::error::ApiError;

/// Why a Stripe call gave no answer to use.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// Stripe could not be reached, timed out or failed on its side.
    #[error("Stripe could not be reached: {0}")]
    Unavailable(String),
    /// The object does not exist (404).
    #[error("not found in Stripe")]
    NotFound,
    /// Stripe refused the request (4xx); its message.
    #[error("Stripe refused the request ({status}): {message}")]
    Rejected { status: u16, message: String },
    /// An answer this server does not understand.
    #[error("unexpected answer from Stripe: {0}")]
    Malformed(String),
}

pub const BILLING_UNAVAILABLE: &str = "billing_unavailable";
pub const STRIPE_ERROR: &str = "stripe_error";

impl From<GatewayError> for ApiError {
    fn from(err: GatewayError) -> Self {
        match err {
            GatewayError::Unavailable(cause) => {
                tracing::warn!(%cause, "Stripe unavailable");
                ApiError::ServiceUnavailable {
                    code: BILLING_UNAVAILABLE,
                    detail: "the payment provider cannot be reached right now; nothing was \
                             changed, try again in a moment"
                        .into(),
                }
            }
            GatewayError::NotFound => ApiError::BadGateway {
                code: STRIPE_ERROR,
                detail: "the payment provider does not know an object this organisation's \
                         billing refers to"
                    .into(),
            },
            GatewayError::Rejected { message, .. } => ApiError::BadGateway {
                code: STRIPE_ERROR,
                detail: format!("the payment provider refused the request: {message}"),
            },
            GatewayError::Malformed(cause) => {
                ApiError::Internal(anyhow::anyhow!("Stripe answer: {cause}"))
            }
        }
    }
}

/// A customer to create for a tenant.
#[derive(Debug, Clone)]
pub struct NewCustomer {
    pub tenant: TenantId,
    pub name: String,
}

/// A Checkout Session in subscription mode for a tenant.
#[derive(Debug, Clone)]
pub struct SubscriptionCheckout {
    pub tenant: TenantId,
    pub customer: String,
    pub price: String,
    pub quantity: u64,
    pub trial_days: Option<u32>,
    pub success_url: String,
    pub cancel_url: String,
    pub idempotency_key: String,
}

/// A page of Stripe's to send the user to.
#[derive(Debug, Clone)]
pub struct Redirect {
    pub id: String,
    pub url: String,
}

/// A subscription as Stripe has it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeSubscription {
    pub id: String,
    pub customer: String,
    pub status: SubscriptionStatus,
    pub price: Option<String>,
    pub quantity: Option<i32>,
    pub trial_end: Option<DateTime<Utc>>,
    pub current_period_end: Option<DateTime<Utc>>,
    pub cancel_at_period_end: bool,
    pub created: DateTime<Utc>,
}

/// The Stripe calls billing makes.
pub trait BillingGateway: Send + Sync {
    /// Creates the tenant's Stripe Customer (the key makes a repeat return the first one).
    fn create_customer<'a>(
        &'a self,
        customer: &'a NewCustomer,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<String, GatewayError>>;

    fn create_subscription_checkout<'a>(
        &'a self,
        checkout: &'a SubscriptionCheckout,
    ) -> BoxFuture<'a, Result<Redirect, GatewayError>>;

    fn create_portal_session<'a>(
        &'a self,
        customer: &'a str,
        return_url: &'a str,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<Redirect, GatewayError>>;

    /// The subscription as it is now (`None`: Stripe does not know it).
    fn subscription<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<StripeSubscription>, GatewayError>>;

    /// The customer's newest subscription in any status, if any.
    fn latest_subscription<'a>(
        &'a self,
        customer: &'a str,
    ) -> BoxFuture<'a, Result<Option<StripeSubscription>, GatewayError>>;

    /// The lookup keys of the customer's active entitlements.
    fn active_entitlements<'a>(
        &'a self,
        customer: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, GatewayError>>;
}
