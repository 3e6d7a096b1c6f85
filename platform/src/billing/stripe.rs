//! The Stripe gateway. Requests are built with async-stripe's typed request builders (the
//! parameter names and encodings come from Stripe's OpenAPI description) and sent through the
//! platform's guarded outbound client, never a client of their own: https only (except to
//! `LMS_OUTBOUND_ALLOW` hosts such as a local test peer), no redirects, timeouts, capped bodies.
//! Answers are read into the few fields billing uses, so a field Stripe adds or moves in a later
//! API version breaks nothing here.

use chrono::{DateTime, Utc};
use futures::FutureExt;
use futures::future::BoxFuture;
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use stripe_client_core::{RequestBuilder, StripeMethod, StripeRequest};

use super::gateway::{
    BillingGateway, GatewayError, NewCustomer, Redirect, StripeSubscription, SubscriptionCheckout,
};
use super::model::SubscriptionStatus;
use crate::outbound::{AllowList, Limits, Outbound, OutboundError};

/// Stripe's API.
pub const DEFAULT_API_BASE: &str = "https://api.stripe.com";
/// Attempts of a call that may be repeated (reads, and creates with their idempotency key).
const ATTEMPTS: u32 = 2;

pub struct StripeGateway {
    outbound: Outbound,
    base: String,
    secret: SecretString,
}

impl StripeGateway {
    pub fn new(
        secret: SecretString,
        api_base: Option<&str>,
        allow: AllowList,
    ) -> anyhow::Result<Self> {
        let outbound = Outbound::new(
            allow,
            Limits {
                // A subscription or a list of 100 entitlements is far below this.
                body_bytes: 1024 * 1024,
                ..Limits::default()
            },
        )?;
        let base = api_base
            .unwrap_or(DEFAULT_API_BASE)
            .trim_end_matches('/')
            .to_owned();
        outbound
            .check_url(&base)
            .map_err(|err| anyhow::anyhow!("LMS_STRIPE_API_BASE {base:?}: {err}"))?;
        Ok(Self {
            outbound,
            base,
            secret,
        })
    }

    /// Sends a request and reads its JSON answer into `T`.
    async fn call<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
        idempotency_key: Option<&str>,
    ) -> Result<T, GatewayError> {
        let mut url = format!("{}/v1{}", self.base, request.path);
        if let Some(query) = request.query.as_deref().filter(|q| !q.is_empty()) {
            url.push('?');
            url.push_str(query);
        }
        let method = match request.method {
            StripeMethod::Get => Method::GET,
            StripeMethod::Post => Method::POST,
            StripeMethod::Delete => Method::DELETE,
        };
        let mut headers = HeaderMap::new();
        let bearer = format!("Bearer {}", self.secret.expose_secret());
        let mut auth = HeaderValue::from_str(&bearer)
            .map_err(|_| GatewayError::Malformed("the secret key is not a header value".into()))?;
        auth.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, auth);
        if let Ok(version) = HeaderValue::from_str(stripe_client_core::VERSION.as_str()) {
            headers.insert(HeaderName::from_static("stripe-version"), version);
        }
        if let Some(key) = idempotency_key {
            let value = HeaderValue::from_str(key)
                .map_err(|_| GatewayError::Malformed("idempotency key".into()))?;
            headers.insert(HeaderName::from_static("idempotency-key"), value);
        }
        let body = request.body.unwrap_or_default().into_bytes();
        if !body.is_empty() {
            headers.insert(
                reqwest::header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            );
        }
        let repeatable = method == Method::GET || idempotency_key.is_some();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = !repeatable || attempt >= ATTEMPTS;
            let answer = self
                .outbound
                .send(method.clone(), &url, headers.clone(), body.clone())
                .await;
            let answer = match answer {
                Ok(answer) => answer,
                Err(err @ (OutboundError::Timeout(_) | OutboundError::Transport(_))) if !last => {
                    tracing::info!(error = %err, "retrying a Stripe call");
                    continue;
                }
                Err(err) => return Err(GatewayError::Unavailable(err.to_string())),
            };
            let status = answer.status.as_u16();
            if (status == 429 || status >= 500) && !last {
                continue;
            }
            if status >= 500 || status == 429 {
                return Err(GatewayError::Unavailable(format!("status {status}")));
            }
            if answer.truncated {
                return Err(GatewayError::Malformed("the answer is too large".into()));
            }
            if status == 404 {
                return Err(GatewayError::NotFound);
            }
            if status >= 400 {
                let message = serde_json::from_slice::<ErrorBody>(&answer.body)
                    .ok()
                    .and_then(|e| e.error.message)
                    .unwrap_or_else(|| format!("status {status}"));
                return Err(GatewayError::Rejected { status, message });
            }
            return serde_json::from_slice(&answer.body)
                .map_err(|err| GatewayError::Malformed(err.to_string()));
        }
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    message: Option<String>,
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

#[derive(Deserialize)]
struct Session {
    id: String,
    url: Option<String>,
}

impl Session {
    fn redirect(self) -> Result<Redirect, GatewayError> {
        let url = self
            .url
            .ok_or_else(|| GatewayError::Malformed("a session without a url".into()))?;
        Ok(Redirect { id: self.id, url })
    }
}

/// A Stripe object field that is an id or the expanded object.
#[derive(Deserialize)]
#[serde(untagged)]
enum IdOrObject {
    Id(String),
    Object { id: String },
}

impl IdOrObject {
    fn id(self) -> String {
        match self {
            Self::Id(id) | Self::Object { id } => id,
        }
    }
}

#[derive(Deserialize)]
struct SubscriptionBody {
    id: String,
    customer: IdOrObject,
    status: String,
    created: i64,
    #[serde(default)]
    cancel_at_period_end: bool,
    trial_end: Option<i64>,
    /// Before API 2025-03-31 the period is the subscription's; since, each item's.
    current_period_end: Option<i64>,
    items: Items,
}

#[derive(Deserialize)]
struct Items {
    data: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    price: Option<IdOrObject>,
    quantity: Option<i64>,
    current_period_end: Option<i64>,
}

#[derive(Deserialize)]
struct List<T> {
    data: Vec<T>,
    #[serde(default)]
    has_more: bool,
}

#[derive(Deserialize)]
struct ActiveEntitlement {
    id: String,
    lookup_key: String,
}

fn timestamp(seconds: i64) -> Result<DateTime<Utc>, GatewayError> {
    DateTime::from_timestamp(seconds, 0)
        .ok_or_else(|| GatewayError::Malformed(format!("timestamp {seconds}")))
}

impl SubscriptionBody {
    fn into_state(self) -> Result<StripeSubscription, GatewayError> {
        let status: SubscriptionStatus = self
            .status
            .parse()
            .map_err(|_| GatewayError::Malformed(format!("subscription status {}", self.status)))?;
        let item = self.items.data.into_iter().next();
        let period_end = self
            .current_period_end
            .or_else(|| item.as_ref().and_then(|i| i.current_period_end));
        let (price, quantity) = match item {
            Some(item) => (
                item.price.map(IdOrObject::id),
                item.quantity.and_then(|q| i32::try_from(q).ok()),
            ),
            None => (None, None),
        };
        Ok(StripeSubscription {
            id: self.id,
            customer: self.customer.id(),
            status,
            price,
            quantity,
            trial_end: self.trial_end.map(timestamp).transpose()?,
            current_period_end: period_end.map(timestamp).transpose()?,
            cancel_at_period_end: self.cancel_at_period_end,
            created: timestamp(self.created)?,
        })
    }
}

fn metadata(tenant: lms_tenants::TenantId) -> std::collections::HashMap<String, String> {
    std::collections::HashMap::from([("tenant_id".to_owned(), tenant.to_string())])
}

impl BillingGateway for StripeGateway {
    fn create_customer<'a>(
        &'a self,
        customer: &'a NewCustomer,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<String, GatewayError>> {
        async move {
            let request = stripe_core::customer::CreateCustomer::new()
                .name(customer.name.clone())
                .metadata(metadata(customer.tenant));
            let created: Created = self.call(request.build(), Some(idempotency_key)).await?;
            Ok(created.id)
        }
        .boxed()
    }

    fn create_subscription_checkout<'a>(
        &'a self,
        checkout: &'a SubscriptionCheckout,
    ) -> BoxFuture<'a, Result<Redirect, GatewayError>> {
        async move {
            use stripe_checkout::checkout_session::{
                CreateCheckoutSession, CreateCheckoutSessionLineItems,
                CreateCheckoutSessionSubscriptionData,
            };
            let mut item = CreateCheckoutSessionLineItems::new();
            item.price = Some(checkout.price.clone());
            item.quantity = Some(checkout.quantity);
            let mut subscription = CreateCheckoutSessionSubscriptionData::new();
            subscription.metadata = Some(metadata(checkout.tenant));
            subscription.trial_period_days = checkout.trial_days;
            let request = CreateCheckoutSession::new()
                .mode(stripe_shared::CheckoutSessionMode::Subscription)
                .customer(checkout.customer.clone())
                .client_reference_id(checkout.tenant.to_string())
                .line_items(vec![item])
                .subscription_data(subscription)
                .metadata(metadata(checkout.tenant))
                .success_url(checkout.success_url.clone())
                .cancel_url(checkout.cancel_url.clone());
            let session: Session = self
                .call(request.build(), Some(&checkout.idempotency_key))
                .await?;
            session.redirect()
        }
        .boxed()
    }

    fn create_portal_session<'a>(
        &'a self,
        customer: &'a str,
        return_url: &'a str,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<Redirect, GatewayError>> {
        async move {
            let request = stripe_billing::billing_portal_session::CreateBillingPortalSession::new()
                .customer(customer.to_owned())
                .return_url(return_url.to_owned());
            let session: Session = self.call(request.build(), Some(idempotency_key)).await?;
            session.redirect()
        }
        .boxed()
    }

    fn subscription<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<StripeSubscription>, GatewayError>> {
        async move {
            let request = stripe_billing::subscription::RetrieveSubscription::new(id);
            match self.call::<SubscriptionBody>(request.build(), None).await {
                Ok(body) => body.into_state().map(Some),
                Err(GatewayError::NotFound) => Ok(None),
                Err(err) => Err(err),
            }
        }
        .boxed()
    }

    fn latest_subscription<'a>(
        &'a self,
        customer: &'a str,
    ) -> BoxFuture<'a, Result<Option<StripeSubscription>, GatewayError>> {
        async move {
            let request = stripe_billing::subscription::ListSubscription::new()
                .customer(customer.to_owned())
                .status(stripe_billing::subscription::ListSubscriptionStatus::All)
                .limit(10);
            let list: List<SubscriptionBody> = self.call(request.build(), None).await?;
            let mut newest: Option<StripeSubscription> = None;
            for body in list.data {
                let state = body.into_state()?;
                if newest.as_ref().is_none_or(|n| state.created > n.created) {
                    newest = Some(state);
                }
            }
            Ok(newest)
        }
        .boxed()
    }

    fn active_entitlements<'a>(
        &'a self,
        customer: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, GatewayError>> {
        async move {
            use stripe_misc::entitlements_active_entitlement::ListEntitlementsActiveEntitlement;
            let mut keys = Vec::new();
            let mut after: Option<String> = None;
            // At most 10 pages of 100: far more features than a plan has.
            for _ in 0..10 {
                let mut request =
                    ListEntitlementsActiveEntitlement::new(customer.to_owned()).limit(100);
                if let Some(after) = &after {
                    request = request.starting_after(after.clone());
                }
                let page: List<ActiveEntitlement> = self.call(request.build(), None).await?;
                after = page.data.last().map(|e| e.id.clone());
                keys.extend(page.data.into_iter().map(|e| e.lookup_key));
                if !page.has_more || after.is_none() {
                    break;
                }
            }
            Ok(keys)
        }
        .boxed()
    }
}
