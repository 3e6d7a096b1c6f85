//! A test double of Stripe's API, on loopback, whose every request and answer is checked against
//! Stripe's published OpenAPI description (`tests/stripe/openapi-subset.json`, see
//! `tests/stripe/extract.py` for its source and reduction). A request that does not match the
//! operation's form schema, or an answer that does not match its 200 schema, is recorded as a
//! violation (and the request answered 400); tests assert there are none.
//!
//! Objects start from Stripe's own fixtures of the same API version (`fixtures.json`). The
//! Entitlements API is newer than the published description available here, so its list answer
//! is the one unchecked shape (documented where it is built).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

const SPEC: &str = include_str!("../../stripe/openapi-subset.json");
const FIXTURES: &str = include_str!("../../stripe/fixtures.json");

/// One operation's checks.
struct Operation {
    template: &'static str,
    method: Method,
    /// The form body's (or query's) schema, OpenAPI nullables made JSON Schema.
    request: Option<Value>,
    request_validator: Option<jsonschema::Validator>,
    response_validator: jsonschema::Validator,
}

/// Every call the double received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub idempotency_key: Option<String>,
    pub params: Value,
}

#[derive(Default)]
struct Store {
    next: u64,
    customers: HashMap<String, Value>,
    sessions: HashMap<String, Value>,
    subscriptions: HashMap<String, Value>,
    charges: HashMap<String, Value>,
    entitlements: HashMap<String, Vec<String>>,
    /// Idempotency key -> (parameters, answer).
    replays: HashMap<String, (Value, Value)>,
    received: Vec<Received>,
    violations: Vec<String>,
}

struct Inner {
    operations: Vec<Operation>,
    components: Value,
    fixtures: Value,
    store: Mutex<Store>,
}

#[derive(Clone)]
pub struct StripeDouble {
    inner: Arc<Inner>,
    pub base_url: String,
}

/// OpenAPI 3.0's `nullable: true` as JSON Schema: the schema or null.
fn json_schema(node: &Value) -> Value {
    match node {
        Value::Object(map) => {
            let mut out: Map<String, Value> = map
                .iter()
                .filter(|(k, _)| k.as_str() != "nullable")
                .map(|(k, v)| (k.clone(), json_schema(v)))
                .collect();
            if map.get("nullable") == Some(&Value::Bool(true)) {
                let inner = Value::Object(std::mem::take(&mut out));
                return json!({ "anyOf": [inner, { "type": "null" }] });
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(json_schema).collect()),
        other => other.clone(),
    }
}

impl Inner {
    fn validator(&self, schema: &Value) -> jsonschema::Validator {
        let root = json!({ "components": self.components, "allOf": [schema] });
        jsonschema::validator_for(&root).expect("a usable schema from Stripe's description")
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let name = r.rsplit('/').next().unwrap_or_default();
                self.resolve(&self.components["schemas"][name])
            }
            None => schema,
        }
    }

    /// Gives form values (all text) the types the schema asks for: numbers, booleans, and
    /// arrays from `a[0]`, `a[1]` keys.
    fn coerce(&self, value: Value, schema: &Value) -> Value {
        let schema = self.resolve(schema);
        if let Some(options) = schema.get("anyOf").and_then(Value::as_array) {
            for option in options {
                let coerced = self.coerce(value.clone(), option);
                if self.validator(option).is_valid(&coerced) {
                    return coerced;
                }
            }
            return value;
        }
        match (schema.get("type").and_then(Value::as_str), value) {
            (Some("integer"), Value::String(s)) => s
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or(Value::String(s)),
            (Some("number"), Value::String(s)) => s
                .parse::<f64>()
                .map(Value::from)
                .unwrap_or(Value::String(s)),
            (Some("boolean"), Value::String(s)) => match s.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => Value::String(s),
            },
            (Some("array"), Value::Object(map)) => {
                let mut items: Vec<(usize, Value)> = map
                    .into_iter()
                    .filter_map(|(k, v)| k.parse().ok().map(|i| (i, v)))
                    .collect();
                items.sort_by_key(|(i, _)| *i);
                let item_schema = schema.get("items").cloned().unwrap_or(json!({}));
                Value::Array(
                    items
                        .into_iter()
                        .map(|(_, v)| self.coerce(v, &item_schema))
                        .collect(),
                )
            }
            (_, Value::Object(map)) => {
                let properties = schema.get("properties").cloned().unwrap_or(json!({}));
                let extra = schema
                    .get("additionalProperties")
                    .cloned()
                    .unwrap_or(json!({}));
                Value::Object(
                    map.into_iter()
                        .map(|(k, v)| {
                            let s = properties.get(&k).unwrap_or(&extra).clone();
                            let coerced = self.coerce(v, &s);
                            (k, coerced)
                        })
                        .collect(),
                )
            }
            (_, other) => other,
        }
    }
}

/// `a[b][0]=x&c=y` as nested JSON objects of text.
fn decode_form(text: &str) -> Value {
    let mut root = Map::new();
    for (key, value) in url::form_urlencoded::parse(text.as_bytes()) {
        let mut parts: Vec<String> = Vec::new();
        let key: &str = &key;
        let (head, rest) = key.split_once('[').unwrap_or((key, ""));
        parts.push(head.to_owned());
        for piece in rest.split('[') {
            let piece = piece.trim_end_matches(']');
            if !piece.is_empty() || !rest.is_empty() {
                parts.push(piece.to_owned());
            }
        }
        let parts: Vec<String> = parts.into_iter().filter(|p| !p.is_empty()).collect();
        let mut node = &mut root;
        for (i, part) in parts.iter().enumerate() {
            if i + 1 == parts.len() {
                node.insert(part.clone(), Value::String(value.to_string()));
            } else {
                let next = node
                    .entry(part.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if !next.is_object() {
                    *next = Value::Object(Map::new());
                }
                node = next.as_object_mut().expect("object");
            }
        }
    }
    Value::Object(root)
}

fn matches(template: &str, path: &str) -> bool {
    let t: Vec<&str> = template.split('/').collect();
    let p: Vec<&str> = path.split('/').collect();
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(a, b)| a == b || (a.starts_with('{') && !b.is_empty()))
}

fn stripe_error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({ "error": { "type": kind, "message": message } })),
    )
        .into_response()
}

impl StripeDouble {
    pub async fn start() -> Self {
        let spec: Value = serde_json::from_str(SPEC).expect("spec");
        let components = json_schema(&spec["components"]);
        let fixtures: Value = serde_json::from_str(FIXTURES).expect("fixtures");
        let mut inner = Inner {
            operations: Vec::new(),
            components,
            fixtures,
            store: Mutex::new(Store::default()),
        };
        let mut operations = Vec::new();
        for (template, method) in [
            ("/v1/customers", Method::POST),
            ("/v1/checkout/sessions", Method::POST),
            ("/v1/checkout/sessions/{session}", Method::GET),
            ("/v1/billing_portal/sessions", Method::POST),
            ("/v1/subscriptions", Method::GET),
            ("/v1/subscriptions/{subscription_exposed_id}", Method::GET),
            ("/v1/charges/{charge}", Method::GET),
        ] {
            let operation = &spec["paths"][template][method.as_str().to_lowercase()];
            let request = if method == Method::GET {
                // Query parameters as one object schema.
                let mut properties = Map::new();
                for p in operation["parameters"].as_array().into_iter().flatten() {
                    if p["in"] == "query" {
                        properties.insert(
                            p["name"].as_str().unwrap_or_default().to_owned(),
                            json_schema(&p["schema"]),
                        );
                    }
                }
                Some(
                    json!({ "type": "object", "properties": properties, "additionalProperties": false }),
                )
            } else {
                operation["requestBody"]["content"]["application/x-www-form-urlencoded"]
                    .get("schema")
                    .map(json_schema)
            };
            let response = json_schema(
                &operation["responses"]["200"]["content"]["application/json"]["schema"],
            );
            operations.push(Operation {
                template,
                method,
                request_validator: request.as_ref().map(|r| inner.validator(r)),
                request,
                response_validator: inner.validator(&response),
            });
        }
        inner.operations = operations;
        let inner = Arc::new(inner);
        let app = Router::new()
            .route("/v1/customers", post(create_customer))
            .route("/v1/checkout/sessions", post(create_session))
            .route("/v1/checkout/sessions/{id}", get(get_session))
            .route("/v1/billing_portal/sessions", post(create_portal))
            .route("/v1/subscriptions", get(list_subscriptions))
            .route("/v1/subscriptions/{id}", get(get_subscription))
            .route("/v1/charges/{id}", get(get_charge))
            .route(
                "/v1/entitlements/active_entitlements",
                get(list_entitlements),
            )
            .with_state(Arc::clone(&inner));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base_url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { inner, base_url }
    }

    /// Calls received so far.
    pub fn received(&self) -> Vec<Received> {
        self.inner.store.lock().expect("store").received.clone()
    }

    /// Requests or answers that broke Stripe's description.
    #[track_caller]
    pub fn assert_no_violations(&self) {
        let violations = self.inner.store.lock().expect("store").violations.clone();
        assert!(
            violations.is_empty(),
            "Stripe API violations: {violations:#?}"
        );
    }

    /// Makes (or changes) a subscription as Stripe would have it.
    pub fn set_subscription(&self, state: &SubscriptionState<'_>) -> Value {
        let mut subscription = self.inner.fixtures["subscription"].clone();
        let item_id = format!("si_{}", state.id.trim_start_matches("sub_"));
        let mut item = subscription["items"]["data"][0].clone();
        item["id"] = json!(item_id);
        item["subscription"] = json!(state.id);
        item["quantity"] = json!(state.quantity);
        item["price"]["id"] = json!(state.price);
        subscription["id"] = json!(state.id);
        subscription["customer"] = json!(state.customer);
        subscription["status"] = json!(state.status);
        subscription["created"] = json!(state.created);
        subscription["quantity"] = json!(state.quantity);
        subscription["cancel_at_period_end"] = json!(state.cancel_at_period_end);
        subscription["trial_end"] = json!(state.trial_end);
        subscription["current_period_end"] = json!(state.created + 30 * 86_400);
        subscription["items"]["data"] = json!([item]);
        subscription["items"]["url"] =
            json!(format!("/v1/subscription_items?subscription={}", state.id));
        let mut store = self.inner.store.lock().expect("store");
        store
            .subscriptions
            .insert(state.id.to_owned(), subscription.clone());
        subscription
    }

    /// Sets the customer's active entitlements (feature lookup keys).
    pub fn set_entitlements(&self, customer: &str, keys: &[&str]) {
        self.inner.store.lock().expect("store").entitlements.insert(
            customer.to_owned(),
            keys.iter().map(|k| (*k).to_owned()).collect(),
        );
    }

    /// A stored Checkout Session, changed by `change` (e.g. to complete it).
    pub fn update_session(&self, id: &str, change: impl FnOnce(&mut Value)) -> Value {
        let mut store = self.inner.store.lock().expect("store");
        let session = store.sessions.get_mut(id).expect("a session of the double");
        change(session);
        session.clone()
    }

    /// Makes a charge (of a course purchase), refunded or not.
    pub fn set_charge(&self, id: &str, payment_intent: &str, amount: i64, refunded: bool) -> Value {
        let mut charge = self.inner.fixtures["charge"].clone();
        charge["id"] = json!(id);
        charge["payment_intent"] = json!(payment_intent);
        charge["amount"] = json!(amount);
        charge["amount_refunded"] = json!(if refunded { amount } else { 0 });
        charge["refunded"] = json!(refunded);
        self.inner
            .store
            .lock()
            .expect("store")
            .charges
            .insert(id.to_owned(), charge.clone());
        charge
    }
}

/// A subscription's state for [`StripeDouble::set_subscription`].
pub struct SubscriptionState<'a> {
    pub id: &'a str,
    pub customer: &'a str,
    pub status: &'a str,
    pub price: &'a str,
    pub quantity: i64,
    pub created: i64,
    pub trial_end: Option<i64>,
    pub cancel_at_period_end: bool,
}

impl Inner {
    fn operation(&self, method: &Method, path: &str) -> &Operation {
        self.operations
            .iter()
            .find(|o| o.method == *method && matches(o.template, path))
            .expect("an operation the double knows")
    }

    /// Checks and records a request; `Err` is the 400 to answer.
    fn receive(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        form: &str,
    ) -> Result<Value, Response> {
        let operation = self.operation(method, path);
        let raw = decode_form(form);
        let params = match &operation.request {
            Some(schema) => self.coerce(raw, schema),
            None => raw,
        };
        let mut store = self.store.lock().expect("store");
        let authorized = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("Bearer sk_"));
        store.received.push(Received {
            method: method.to_string(),
            path: path.to_owned(),
            idempotency_key: headers
                .get("idempotency-key")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            params: params.clone(),
        });
        if !authorized {
            store
                .violations
                .push(format!("{method} {path}: no secret key"));
            return Err(stripe_error(
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                "no key",
            ));
        }
        if *method == Method::POST && headers.get("idempotency-key").is_none() {
            store.violations.push(format!(
                "{method} {path}: a create without an idempotency key"
            ));
        }
        if let Some(validator) = &operation.request_validator {
            let errors: Vec<String> = validator
                .iter_errors(&params)
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect();
            if !errors.is_empty() {
                store
                    .violations
                    .push(format!("{method} {path} request {params}: {errors:?}"));
                return Err(stripe_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    &errors.join("; "),
                ));
            }
        }
        Ok(params)
    }

    /// Checks an answer against the operation's 200 schema.
    fn answer(&self, method: &Method, path: &str, body: Value) -> Response {
        let operation = self.operation(method, path);
        let errors: Vec<String> = operation
            .response_validator
            .iter_errors(&body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .take(5)
            .collect();
        if !errors.is_empty() {
            self.store
                .lock()
                .expect("store")
                .violations
                .push(format!("{method} {path} answer: {errors:?}"));
        }
        axum::Json(body).into_response()
    }

    /// The stored answer of an earlier call with the same idempotency key (Stripe's replay), or
    /// a 400 when the key was used with other parameters.
    fn replay(&self, headers: &HeaderMap, params: &Value) -> Option<Response> {
        let key = headers.get("idempotency-key")?.to_str().ok()?;
        let store = self.store.lock().expect("store");
        let (sent, answer) = store.replays.get(key)?;
        if sent != params {
            return Some(stripe_error(
                StatusCode::BAD_REQUEST,
                "idempotency_error",
                "Keys for idempotent requests can only be used with the same parameters they were first used with.",
            ));
        }
        Some(axum::Json(answer.clone()).into_response())
    }

    fn remember(&self, headers: &HeaderMap, params: Value, answer: &Value) {
        if let Some(key) = headers.get("idempotency-key").and_then(|v| v.to_str().ok()) {
            self.store
                .lock()
                .expect("store")
                .replays
                .insert(key.to_owned(), (params, answer.clone()));
        }
    }

    fn next_id(&self, prefix: &str) -> String {
        let mut store = self.store.lock().expect("store");
        store.next += 1;
        format!("{prefix}_Dbl{:08}", store.next)
    }
}

async fn create_customer(State(d): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let path = "/v1/customers";
    let params = match d.receive(
        &Method::POST,
        path,
        &headers,
        &String::from_utf8_lossy(&body),
    ) {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Some(replayed) = d.replay(&headers, &params) {
        return replayed;
    }
    let mut customer = d.fixtures["customer"].clone();
    customer["id"] = json!(d.next_id("cus"));
    customer["name"] = params.get("name").cloned().unwrap_or(Value::Null);
    customer["metadata"] = params.get("metadata").cloned().unwrap_or(json!({}));
    d.store.lock().expect("store").customers.insert(
        customer["id"].as_str().unwrap_or_default().to_owned(),
        customer.clone(),
    );
    d.remember(&headers, params, &customer);
    d.answer(&Method::POST, path, customer)
}

async fn create_session(State(d): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let path = "/v1/checkout/sessions";
    let params = match d.receive(
        &Method::POST,
        path,
        &headers,
        &String::from_utf8_lossy(&body),
    ) {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Some(replayed) = d.replay(&headers, &params) {
        return replayed;
    }
    let mut session = d.fixtures["checkout.session"].clone();
    let id = d.next_id("cs_test");
    session["id"] = json!(id);
    session["url"] = json!(format!("https://checkout.stripe.test/c/pay/{id}"));
    session["status"] = json!("open");
    session["payment_status"] = json!("unpaid");
    for field in [
        "mode",
        "customer",
        "client_reference_id",
        "success_url",
        "cancel_url",
        "metadata",
    ] {
        if let Some(value) = params.get(field) {
            session[field] = value.clone();
        }
    }
    d.store
        .lock()
        .expect("store")
        .sessions
        .insert(id.clone(), session.clone());
    d.remember(&headers, params, &session);
    d.answer(&Method::POST, path, session)
}

async fn get_session(
    State(d): State<Arc<Inner>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let path = format!("/v1/checkout/sessions/{id}");
    if let Err(r) = d.receive(
        &Method::GET,
        &path,
        &headers,
        query.as_deref().unwrap_or(""),
    ) {
        return r;
    }
    let found = d.store.lock().expect("store").sessions.get(&id).cloned();
    match found {
        Some(session) => d.answer(&Method::GET, &path, session),
        None => stripe_error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "No such checkout.session",
        ),
    }
}

async fn create_portal(State(d): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let path = "/v1/billing_portal/sessions";
    let params = match d.receive(
        &Method::POST,
        path,
        &headers,
        &String::from_utf8_lossy(&body),
    ) {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Some(replayed) = d.replay(&headers, &params) {
        return replayed;
    }
    let mut session = d.fixtures["billing_portal.session"].clone();
    let id = d.next_id("bps");
    session["id"] = json!(id);
    session["url"] = json!(format!("https://billing.stripe.test/p/session/{id}"));
    session["customer"] = params.get("customer").cloned().unwrap_or(Value::Null);
    session["return_url"] = params.get("return_url").cloned().unwrap_or(Value::Null);
    d.remember(&headers, params, &session);
    d.answer(&Method::POST, path, session)
}

async fn list_subscriptions(
    State(d): State<Arc<Inner>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let path = "/v1/subscriptions";
    let params = match d.receive(&Method::GET, path, &headers, query.as_deref().unwrap_or("")) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let customer = params
        .get("customer")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut data: Vec<Value> = d
        .store
        .lock()
        .expect("store")
        .subscriptions
        .values()
        .filter(|s| s["customer"] == customer)
        .cloned()
        .collect();
    data.sort_by_key(|s| std::cmp::Reverse(s["created"].as_i64()));
    let body =
        json!({ "object": "list", "data": data, "has_more": false, "url": "/v1/subscriptions" });
    d.answer(&Method::GET, path, body)
}

async fn get_subscription(
    State(d): State<Arc<Inner>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let path = format!("/v1/subscriptions/{id}");
    if let Err(r) = d.receive(
        &Method::GET,
        &path,
        &headers,
        query.as_deref().unwrap_or(""),
    ) {
        return r;
    }
    let found = d
        .store
        .lock()
        .expect("store")
        .subscriptions
        .get(&id)
        .cloned();
    match found {
        Some(subscription) => d.answer(&Method::GET, &path, subscription),
        None => stripe_error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "No such subscription",
        ),
    }
}

async fn get_charge(
    State(d): State<Arc<Inner>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let path = format!("/v1/charges/{id}");
    if let Err(r) = d.receive(
        &Method::GET,
        &path,
        &headers,
        query.as_deref().unwrap_or(""),
    ) {
        return r;
    }
    let found = d.store.lock().expect("store").charges.get(&id).cloned();
    match found {
        Some(charge) => d.answer(&Method::GET, &path, charge),
        None => stripe_error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "No such charge",
        ),
    }
}

/// The Entitlements API postdates the published description this double holds: the answer has
/// the shape Stripe documents (`object`, `data` of `entitlements.active_entitlement` with `id`,
/// `feature`, `livemode`, `lookup_key`), unchecked.
async fn list_entitlements(
    State(d): State<Arc<Inner>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = decode_form(query.as_deref().unwrap_or(""));
    if headers.get("authorization").is_none() {
        return stripe_error(StatusCode::UNAUTHORIZED, "invalid_request_error", "no key");
    }
    let customer = params
        .get("customer")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let keys = d
        .store
        .lock()
        .expect("store")
        .entitlements
        .get(customer)
        .cloned()
        .unwrap_or_default();
    let data: Vec<Value> = keys
        .iter()
        .enumerate()
        .map(|(i, key)| {
            json!({
                "id": format!("ent_{i}"), "object": "entitlements.active_entitlement",
                "feature": format!("feat_{i}"), "livemode": false, "lookup_key": key,
            })
        })
        .collect();
    axum::Json(json!({ "object": "list", "data": data, "has_more": false, "url": "/v1/entitlements/active_entitlements" }))
        .into_response()
}
