//! Plans, entitlements, seats and the read-only state of unpaid subscriptions.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, TestTenant, TestUser, paths};

/// Creates a plan through the operator API; returns it.
pub async fn create_plan(app: &TestApp, body: Value) -> Value {
    let reply = app
        .post("/api/v1/operator/plans")
        .operator()
        .json(body)
        .send()
        .await;
    reply.assert_status(StatusCode::CREATED);
    reply.json()
}

/// Makes a plan with at most `seats` accounts the default (every tenant's while billing is off).
pub async fn default_plan_with_seats(app: &TestApp, seats: i64) -> Value {
    let plan = create_plan(
        app,
        json!({ "name": format!("{seats} seats"), "max_active_learners": seats }),
    )
    .await;
    let id = plan["id"].as_str().expect("plan id");
    app.post(&format!("/api/v1/operator/plans/{id}/default"))
        .operator()
        .send()
        .await
        .assert_status(StatusCode::OK);
    plan
}

pub async fn billing_of(app: &TestApp, t: &TestTenant) -> Value {
    let reply = app
        .get("/api/v1/billing")
        .tenant(&t.slug)
        .bearer(&t.admin.access_token)
        .send()
        .await;
    reply.assert_status(StatusCode::OK);
    reply.json()
}

async fn invite(app: &TestApp, t: &TestTenant, email: &str) -> crate::helpers::Reply {
    app.post("/api/v1/users/invitations")
        .tenant(&t.slug)
        .bearer(&t.admin.access_token)
        .json(json!({ "email": email, "display_name": "Invitee", "roles": ["learner"] }))
        .send()
        .await
}

async fn user_count(app: &TestApp, tenant: &str) -> i64 {
    let mut su = app.db.superuser().await;
    sqlx::query_scalar("select count(*) from users where tenant_id = $1::uuid")
        .bind(tenant)
        .fetch_one(&mut su)
        .await
        .expect("count")
}

#[tokio::test]
async fn without_stripe_every_tenant_has_the_default_plan() {
    let app = TestApp::spawn().await;
    let t = app.seed_tenant("acme").await;
    let billing = billing_of(&app, &t).await;
    assert_eq!(billing["billing_enabled"], false);
    assert_eq!(billing["plan"]["name"], "Default");
    assert_eq!(billing["plan"]["is_default"], true);
    assert_eq!(billing["status"], "none");
    assert_eq!(billing["read_only"], false);
    assert_eq!(billing["seats"]["used"], 2);
    assert_eq!(billing["seats"]["included"], Value::Null);
    assert_eq!(billing["entitlements"]["sso_allowed"], true);
    // Only tenant admins read it.
    app.get("/api/v1/billing")
        .tenant("acme")
        .bearer(&t.learner.access_token)
        .send()
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    // A new default plan applies to every tenant at once.
    default_plan_with_seats(&app, 10).await;
    let billing = billing_of(&app, &t).await;
    assert_eq!(billing["plan"]["name"], "10 seats");
    assert_eq!(billing["seats"]["included"], 10);
    let operator_view = app
        .get(&format!("/api/v1/operator/tenants/{}/billing", t.id))
        .operator()
        .send()
        .await;
    operator_view.assert_status(StatusCode::OK);
    assert_eq!(operator_view.json()["seats"], billing["seats"]);
}

#[tokio::test]
async fn the_operator_manages_plans() {
    let app = TestApp::spawn().await;
    let plans = app.get("/api/v1/operator/plans").operator().send().await;
    plans.assert_status(StatusCode::OK);
    assert_eq!(plans.json().as_array().map(Vec::len), Some(1));
    let pro = create_plan(
        &app,
        json!({
            "name": "Pro", "stripe_price_id": "price_Pro123", "trial_days": 14,
            "max_active_learners": 100, "sso_allowed": true, "custom_domains_allowed": false,
            "plugins_allowed": false, "storage_quota_bytes": 1_000_000_000,
        }),
    )
    .await;
    assert_eq!(pro["seat_model"], "per_active_learner");
    assert_eq!(pro["is_default"], false);
    let reply = app
        .post("/api/v1/operator/plans")
        .operator()
        .json(json!({ "name": " ", "stripe_price_id": "prod_x", "trial_days": -1, "max_active_learners": -5 }))
        .send()
        .await;
    reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let fields: Vec<&str> = reply.json()["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(
        fields,
        [
            "name",
            "stripe_price_id",
            "trial_days",
            "max_active_learners"
        ]
    );
    app.post("/api/v1/operator/plans")
        .operator()
        .json(json!({ "name": "Pro" }))
        .send()
        .await
        .assert_problem(StatusCode::CONFLICT, "name_taken");
    app.post("/api/v1/operator/plans")
        .operator()
        .json(json!({ "name": "Other", "stripe_price_id": "price_Pro123" }))
        .send()
        .await
        .assert_problem(StatusCode::CONFLICT, "price_taken");
    let id = pro["id"].as_str().expect("id");
    let updated = app
        .call(Method::PUT, &format!("/api/v1/operator/plans/{id}"))
        .operator()
        .json(json!({ "name": "Pro 2", "max_active_learners": 5 }))
        .send()
        .await;
    updated.assert_status(StatusCode::OK);
    assert_eq!(updated.json()["name"], "Pro 2");
    assert_eq!(updated.json()["stripe_price_id"], Value::Null);
    let unknown = uuid::Uuid::now_v7();
    app.post(&format!("/api/v1/operator/plans/{unknown}/default"))
        .operator()
        .send()
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    let made = app
        .post(&format!("/api/v1/operator/plans/{id}/default"))
        .operator()
        .send()
        .await;
    made.assert_status(StatusCode::OK);
    let plans = app.get("/api/v1/operator/plans").operator().send().await;
    let defaults: Vec<String> = plans
        .json()
        .as_array()
        .expect("plans")
        .iter()
        .filter(|p| p["is_default"] == true)
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(defaults, ["Pro 2"]);
    // Tenant credentials are not the operator's.
    let t = app.seed_tenant("acme").await;
    app.get("/api/v1/operator/plans")
        .bearer(&t.admin.access_token)
        .send()
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_operator_token");
}

#[tokio::test]
async fn every_way_of_taking_a_seat_stops_at_the_plan_limit_and_takes_nothing() {
    let app = TestApp::spawn().await;
    let t = app.seed_tenant("acme").await;
    // The admin and the learner hold 2 of 3 seats.
    default_plan_with_seats(&app, 3).await;
    invite(&app, &t, "third@acme.example")
        .await
        .assert_status(StatusCode::CREATED);
    let before = user_count(&app, &t.id).await;

    let refused = invite(&app, &t, "fourth@acme.example").await;
    refused.assert_problem(StatusCode::CONFLICT, "seat_limit_reached");
    assert!(
        refused.json()["detail"]
            .as_str()
            .is_some_and(|d| d.contains("all 3 seats"))
    );
    app.post("/api/v1/auth/register")
        .tenant("acme")
        .json(json!({ "email": "walkin@acme.example", "password": PASSWORD, "display_name": "Walk In" }))
        .send()
        .await
        .assert_problem(StatusCode::CONFLICT, "seat_limit_reached");
    app.post(&paths::operator_invitations(&t.id))
        .operator()
        .json(json!({ "email": "boss@acme.example", "display_name": "Boss", "roles": ["tenant_admin"] }))
        .send()
        .await
        .assert_problem(StatusCode::CONFLICT, "seat_limit_reached");

    // SCIM provisioning answers a SCIM error and creates nobody.
    let token = app
        .post("/api/v1/scim/tokens")
        .tenant("acme")
        .bearer(&t.admin.access_token)
        .json(json!({ "description": "IdP" }))
        .send()
        .await;
    token.assert_status(StatusCode::CREATED);
    let secret = token.json()["secret"].as_str().expect("secret").to_owned();
    let scim = app
        .post("/scim/v2/Users")
        .bearer(&secret)
        .raw(
            Some("application/scim+json"),
            serde_json::to_vec(&json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "scim.user@acme.example",
                "name": { "formatted": "Scim User" },
                "active": true,
            }))
            .expect("json"),
        )
        .send()
        .await;
    assert_eq!(scim.status, StatusCode::CONFLICT, "{}", scim.text);
    assert!(scim.text.contains("seats"), "{}", scim.text);

    // A CSV import fails the rows that would take a seat.
    let upload = app
        .post("/api/v1/imports/users?dry_run=false")
        .tenant("acme")
        .bearer(&t.admin.access_token)
        .raw(
            Some("text/csv"),
            b"email,name\ncsv.one@acme.example,One\n".to_vec(),
        )
        .send()
        .await;
    upload.assert_status(StatusCode::ACCEPTED);
    let import_id = upload.json()["id"].as_str().expect("id").to_owned();
    let rows = loop_until_import_ends(&app, &t.admin, &import_id).await;
    assert_eq!(
        rows,
        [(1, "failed".to_owned(), "seat_limit_reached".to_owned())]
    );
    assert_eq!(user_count(&app, &t.id).await, before);

    // Deactivating frees a seat; reactivating the same account then needs one again.
    let third = app
        .get("/api/v1/users?q=third")
        .tenant("acme")
        .bearer(&t.admin.access_token)
        .send()
        .await
        .json()["items"][0]["id"]
        .as_str()
        .expect("third")
        .to_owned();
    app.post(&format!("/api/v1/users/{third}/deactivate"))
        .tenant("acme")
        .bearer(&t.admin.access_token)
        .send()
        .await
        .assert_status(StatusCode::OK);
    invite(&app, &t, "fourth@acme.example")
        .await
        .assert_status(StatusCode::CREATED);
    app.post(&format!("/api/v1/users/{third}/reactivate"))
        .tenant("acme")
        .bearer(&t.admin.access_token)
        .send()
        .await
        .assert_problem(StatusCode::CONFLICT, "seat_limit_reached");
    assert_eq!(billing_of(&app, &t).await["seats"]["used"], 3);
}

/// Polls an import until it ends; returns its rows as (row number, action, error code).
async fn loop_until_import_ends(
    app: &TestApp,
    admin: &TestUser,
    id: &str,
) -> Vec<(i64, String, String)> {
    for _ in 0..300 {
        let import = app
            .get(&format!("/api/v1/imports/{id}"))
            .tenant("acme")
            .bearer(&admin.access_token)
            .send()
            .await
            .json();
        if matches!(import["status"].as_str(), Some("succeeded" | "failed")) {
            let rows = app
                .get(&format!("/api/v1/imports/{id}/rows?limit=200"))
                .tenant("acme")
                .bearer(&admin.access_token)
                .send()
                .await
                .json();
            return rows["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|r| {
                    (
                        r["row_number"].as_i64().unwrap_or(0),
                        r["action"].as_str().unwrap_or("").to_owned(),
                        r["error_code"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("import {id} did not end")
}

#[tokio::test]
async fn twenty_concurrent_invitations_at_the_limit_take_exactly_the_seats_left() {
    let app = TestApp::spawn().await;
    let t = app.seed_tenant("acme").await;
    // 2 seats held, 5 left.
    default_plan_with_seats(&app, 7).await;
    let replies = futures::future::join_all(
        (0..20).map(|i| invite(&app, &t, &format!("rush{i}@acme.example"))),
    )
    .await;
    let created = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    let refused = replies
        .iter()
        .filter(|r| r.status == StatusCode::CONFLICT && r.json()["code"] == "seat_limit_reached")
        .count();
    assert_eq!((created, refused), (5, 15));
    assert_eq!(user_count(&app, &t.id).await, 7);
}

#[tokio::test]
async fn enrolment_stops_while_the_tenant_holds_more_seats_than_its_plan() {
    let app = TestApp::spawn().await;
    let t = app.seed_tenant("acme").await;
    let course = app
        .actor("acme", &t.admin)
        .create_course("intro", json!({ "self_enrollment": true }))
        .await;
    app.actor("acme", &t.admin).publish(&course).await;
    // A downgrade below the seats held: nothing is removed, enrolment waits.
    default_plan_with_seats(&app, 1).await;
    app.actor("acme", &t.learner)
        .enroll(&course)
        .await
        .assert_problem(StatusCode::CONFLICT, "seat_limit_reached");
    default_plan_with_seats(&app, 2).await;
    app.actor("acme", &t.learner)
        .enroll(&course)
        .await
        .assert_status(StatusCode::CREATED);
}

#[tokio::test]
async fn features_outside_the_plan_are_refused_on_their_endpoints() {
    let app = TestApp::spawn().await;
    let t = app.seed_tenant("acme").await;
    let plan = create_plan(
        &app,
        json!({ "name": "Basic", "sso_allowed": false, "custom_domains_allowed": false, "plugins_allowed": false }),
    )
    .await;
    let id = plan["id"].as_str().expect("id");
    app.post(&format!("/api/v1/operator/plans/{id}/default"))
        .operator()
        .send()
        .await
        .assert_status(StatusCode::OK);
    app.post("/api/v1/sso/domains")
        .tenant("acme")
        .bearer(&t.admin.access_token)
        .json(json!({ "domain": "acme.example" }))
        .send()
        .await
        .assert_problem(StatusCode::FORBIDDEN, "feature_not_in_plan");
    app.post(&format!("/api/v1/operator/tenants/{}/domains", t.id))
        .operator()
        .json(json!({ "domain": "learn.acme.example" }))
        .send()
        .await
        .assert_problem(StatusCode::FORBIDDEN, "feature_not_in_plan");
    app.post("/api/v1/plugins")
        .tenant("acme")
        .bearer(&t.admin.access_token)
        .json(crate::helpers::plugin_upload("grader", "1.0.0", b"\0asm"))
        .send()
        .await
        .assert_problem(StatusCode::FORBIDDEN, "feature_not_in_plan");
    app.post("/api/v1/plugin-catalog/numeric_grader/install")
        .tenant("acme")
        .bearer(&t.admin.access_token)
        .json(json!({ "granted_capabilities": [] }))
        .send()
        .await
        .assert_problem(StatusCode::FORBIDDEN, "feature_not_in_plan");
    let entitlements = &billing_of(&app, &t).await["entitlements"];
    assert_eq!(entitlements["sso_allowed"], false);
    assert_eq!(entitlements["plugins_allowed"], false);
    // The plan allowing them again opens the endpoints.
    app.call(Method::PUT, &format!("/api/v1/operator/plans/{id}"))
        .operator()
        .json(json!({ "name": "Basic" }))
        .send()
        .await
        .assert_status(StatusCode::OK);
    let domain = app
        .post(&format!("/api/v1/operator/tenants/{}/domains", t.id))
        .operator()
        .json(json!({ "domain": "learn.acme.example" }))
        .send()
        .await;
    assert_eq!(domain.status, StatusCode::CREATED, "{}", domain.text);
}

/// A server that bills through Stripe (no call reaches Stripe in these tests).
pub async fn billing_app() -> TestApp {
    TestApp::spawn_with(|config| {
        config.billing.stripe_secret_key =
            Some(secrecy::SecretString::from("sk_test_never_used".to_owned()));
    })
    .await
}

/// Sets the tenant's subscription state as a Stripe sync would.
async fn set_subscription(
    app: &TestApp,
    tenant: &str,
    plan: &str,
    status: &str,
    past_due_days: i32,
) {
    let mut su = app.db.superuser().await;
    sqlx::query(
        "insert into tenant_billing (tenant_id, id, plan_id, stripe_customer_id,
             stripe_subscription_id, status, quantity, past_due_since)
         values ($1::uuid, gen_random_uuid(), $2::uuid, 'cus_T1', 'sub_T1', $3, 2,
             case when $3 = 'past_due' then now() - make_interval(days => $4) end)
         on conflict (tenant_id) do update set plan_id = excluded.plan_id,
             status = excluded.status, past_due_since = excluded.past_due_since",
    )
    .bind(tenant)
    .bind(plan)
    .bind(status)
    .bind(past_due_days)
    .execute(&mut su)
    .await
    .expect("subscription state");
}

#[tokio::test]
async fn unpaid_subscriptions_make_authoring_and_enrolment_read_only_until_resumed() {
    let app = billing_app().await;
    let t = app.seed_tenant("acme").await;
    let pro = create_plan(
        &app,
        json!({ "name": "Pro", "stripe_price_id": "price_Pro", "max_active_learners": 50 }),
    )
    .await;
    let pro = pro["id"].as_str().expect("plan id").to_owned();
    let admin = app.actor("acme", &t.admin);
    let course = admin
        .create_course("intro", json!({ "self_enrollment": true }))
        .await;
    admin.publish(&course).await;

    set_subscription(&app, &t.id, &pro, "active", 0).await;
    let billing = billing_of(&app, &t).await;
    assert_eq!(billing["billing_enabled"], true);
    assert_eq!(billing["plan"]["name"], "Pro");
    assert_eq!(billing["seats"]["included"], 50);
    assert_eq!(billing["seats"]["billed"], 2);

    // Past due within the grace period: everything works, and the end of grace is shown.
    set_subscription(&app, &t.id, &pro, "past_due", 2).await;
    let billing = billing_of(&app, &t).await;
    assert_eq!(billing["read_only"], false);
    assert!(billing["grace_ends_at"].is_string());
    admin.create_course("during-grace", json!({})).await;

    for status in ["unpaid", "canceled", "incomplete_expired"] {
        set_subscription(&app, &t.id, &pro, status, 0).await;
        assert_eq!(billing_of(&app, &t).await["read_only"], true, "{status}");
        admin
            .send(
                Method::POST,
                "/api/v1/courses",
                Some(json!({ "slug": "new", "title": "New" })),
            )
            .await
            .assert_problem(StatusCode::FORBIDDEN, "billing_read_only");
        admin
            .send(
                Method::PATCH,
                &format!("/api/v1/courses/{}", &*course),
                Some(json!({ "title": "Renamed" })),
            )
            .await
            .assert_problem(StatusCode::FORBIDDEN, "billing_read_only");
        app.actor("acme", &t.learner)
            .enroll(&course)
            .await
            .assert_problem(StatusCode::FORBIDDEN, "billing_read_only");
        invite(&app, &t, "late@acme.example")
            .await
            .assert_problem(StatusCode::FORBIDDEN, "billing_read_only");
        // Reading goes on; nothing was removed.
        let courses = admin.ok(Method::GET, "/api/v1/courses", None).await;
        assert_eq!(courses["items"].as_array().map(Vec::len), Some(2));
    }
    // Past due beyond the grace period is read-only too.
    set_subscription(&app, &t.id, &pro, "past_due", 8).await;
    admin
        .send(
            Method::POST,
            "/api/v1/courses",
            Some(json!({ "slug": "new", "title": "New" })),
        )
        .await
        .assert_problem(StatusCode::FORBIDDEN, "billing_read_only");

    // Resumed: everything is back.
    set_subscription(&app, &t.id, &pro, "active", 0).await;
    admin.create_course("after", json!({})).await;
    app.actor("acme", &t.learner)
        .enroll(&course)
        .await
        .assert_status(StatusCode::CREATED);
    // An unauthenticated write is refused as such, telling nothing of the billing state.
    set_subscription(&app, &t.id, &pro, "unpaid", 0).await;
    app.post("/api/v1/courses")
        .tenant("acme")
        .json(json!({ "slug": "x", "title": "X" }))
        .send()
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
}

pub const WEBHOOK_SECRET: &str = "whsec_test_primary_0123456789";

/// A server billing through the Stripe double.
pub async fn stripe_app(double: &crate::helpers::StripeDouble) -> TestApp {
    let base = double.base_url.clone();
    TestApp::spawn_with(move |config| {
        config.billing.stripe_secret_key =
            Some(secrecy::SecretString::from("sk_test_double".to_owned()));
        config.billing.api_base = Some(base);
        config.billing.webhook_secrets =
            lms_platform::billing::BillingConfig::parse_webhook_secrets(&format!(
                "whsec_test_retired_9876543210, {WEBHOOK_SECRET}"
            ));
        config.outbound_allow =
            lms_platform::outbound::AllowList::parse("127.0.0.1").expect("allow list");
    })
    .await
}

async fn stripe_rows(app: &TestApp, tenant: &str) -> (i64, i64) {
    let mut su = app.db.superuser().await;
    let billing: i64 =
        sqlx::query_scalar("select count(*) from tenant_billing where tenant_id = $1::uuid")
            .bind(tenant)
            .fetch_one(&mut su)
            .await
            .expect("count");
    let customers: i64 =
        sqlx::query_scalar("select count(*) from stripe_customers where tenant_id = $1::uuid")
            .bind(tenant)
            .fetch_one(&mut su)
            .await
            .expect("count");
    (billing, customers)
}

async fn checkout(app: &TestApp, t: &TestTenant, plan: &str) -> crate::helpers::Reply {
    app.post("/api/v1/billing/checkout")
        .tenant(&t.slug)
        .bearer(&t.admin.access_token)
        .json(json!({ "plan_id": plan }))
        .send()
        .await
}

#[tokio::test]
async fn checkout_and_portal_reach_stripe_with_one_customer_per_tenant() {
    let double = crate::helpers::StripeDouble::start().await;
    let app = stripe_app(&double).await;
    let t = app.seed_tenant("acme").await;
    let pro = create_plan(
        &app,
        json!({ "name": "Pro", "stripe_price_id": "price_Pro", "trial_days": 14, "max_active_learners": 50 }),
    )
    .await;
    let pro = pro["id"].as_str().expect("id").to_owned();

    // No customer yet: the portal has nothing to open.
    app.post("/api/v1/billing/portal")
        .tenant("acme")
        .bearer(&t.admin.access_token)
        .send()
        .await
        .assert_problem(StatusCode::CONFLICT, "no_subscription");

    let first = checkout(&app, &t, &pro).await;
    first.assert_status(StatusCode::CREATED);
    assert!(
        first.json()["url"]
            .as_str()
            .is_some_and(|u| u.starts_with("https://checkout.stripe.test/"))
    );
    checkout(&app, &t, &pro)
        .await
        .assert_status(StatusCode::CREATED);
    let received = double.received();
    let customers: Vec<_> = received
        .iter()
        .filter(|r| r.path == "/v1/customers")
        .collect();
    assert_eq!(customers.len(), 1, "one Stripe Customer per tenant");
    assert_eq!(
        customers[0].idempotency_key.as_deref(),
        Some(format!("lms-customer-{}", t.id).as_str())
    );
    assert_eq!(customers[0].params["metadata"]["tenant_id"], t.id.as_str());
    let sessions: Vec<_> = received
        .iter()
        .filter(|r| r.path == "/v1/checkout/sessions")
        .collect();
    assert_eq!(sessions.len(), 2);
    let params = &sessions[0].params;
    assert_eq!(params["mode"], "subscription");
    assert_eq!(params["client_reference_id"], t.id.as_str());
    assert_eq!(params["line_items"][0]["price"], "price_Pro");
    assert_eq!(params["line_items"][0]["quantity"], 2);
    assert_eq!(params["subscription_data"]["trial_period_days"], 14);
    assert_ne!(sessions[0].idempotency_key, sessions[1].idempotency_key);
    assert!(sessions.iter().all(|s| s.idempotency_key.is_some()));
    // The redirect changes nothing: only Stripe's webhook records a subscription.
    let billing = billing_of(&app, &t).await;
    assert_eq!(billing["billing_enabled"], true);
    assert_eq!(billing["status"], "none");
    assert_eq!(stripe_rows(&app, &t.id).await, (1, 1));

    let portal = app
        .post("/api/v1/billing/portal")
        .tenant("acme")
        .bearer(&t.admin.access_token)
        .send()
        .await;
    portal.assert_status(StatusCode::CREATED);
    assert!(
        portal.json()["url"]
            .as_str()
            .is_some_and(|u| u.contains("billing.stripe.test"))
    );

    // A plan without a price is not for sale; an unknown plan is refused.
    let assigned = create_plan(&app, json!({ "name": "Custom" })).await;
    checkout(&app, &t, assigned["id"].as_str().expect("id"))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    checkout(&app, &t, &uuid::Uuid::now_v7().to_string())
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    // Learners cannot.
    app.post("/api/v1/billing/checkout")
        .tenant("acme")
        .bearer(&t.learner.access_token)
        .json(json!({ "plan_id": pro }))
        .send()
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    double.assert_no_violations();
}

#[tokio::test]
async fn without_stripe_the_billing_endpoints_say_billing_is_off() {
    let app = TestApp::spawn().await;
    let t = app.seed_tenant("acme").await;
    let plan = create_plan(
        &app,
        json!({ "name": "Pro", "stripe_price_id": "price_Pro" }),
    )
    .await;
    let reply = checkout(&app, &t, plan["id"].as_str().expect("id")).await;
    reply.assert_problem(StatusCode::CONFLICT, "billing_disabled");
    assert!(
        reply.json()["detail"]
            .as_str()
            .is_some_and(|d| d.contains("billing is off"))
    );
    app.post("/api/v1/billing/portal")
        .tenant("acme")
        .bearer(&t.admin.access_token)
        .send()
        .await
        .assert_problem(StatusCode::CONFLICT, "billing_disabled");
}

#[tokio::test]
async fn stripe_unreachable_during_checkout_is_a_clear_503_and_writes_nothing() {
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let app = TestApp::spawn_with(move |config| {
        config.billing.stripe_secret_key =
            Some(secrecy::SecretString::from("sk_test_down".to_owned()));
        config.billing.api_base = Some(format!("http://127.0.0.1:{port}"));
        config.outbound_allow =
            lms_platform::outbound::AllowList::parse("127.0.0.1").expect("allow list");
    })
    .await;
    let t = app.seed_tenant("acme").await;
    let plan = create_plan(
        &app,
        json!({ "name": "Pro", "stripe_price_id": "price_Pro" }),
    )
    .await;
    let reply = checkout(&app, &t, plan["id"].as_str().expect("id")).await;
    reply.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "billing_unavailable");
    assert!(reply.headers.get("retry-after").is_some());
    assert!(
        reply.json()["detail"]
            .as_str()
            .is_some_and(|d| d.contains("nothing was changed"))
    );
    assert_eq!(stripe_rows(&app, &t.id).await, (0, 0));
    assert_eq!(billing_of(&app, &t).await["status"], "none");
}

/// A Stripe event's body.
fn event(id: &str, kind: &str, object: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": id, "object": "event", "type": kind, "api_version": "2023-08-16",
        "created": chrono::Utc::now().timestamp(), "livemode": false, "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "data": { "object": object },
    }))
    .expect("json")
}

/// Delivers a body signed with `secret` at `at` (unix seconds).
async fn deliver_signed(
    app: &TestApp,
    body: &[u8],
    secret: &str,
    at: i64,
) -> crate::helpers::Reply {
    app.post("/api/v1/webhooks/stripe")
        .header(
            "stripe-signature",
            &lms_platform::billing::signature::sign(secret, at, body),
        )
        .raw(Some("application/json"), body.to_vec())
        .send()
        .await
}

async fn deliver(app: &TestApp, body: &[u8]) -> crate::helpers::Reply {
    deliver_signed(app, body, WEBHOOK_SECRET, chrono::Utc::now().timestamp()).await
}

/// A tenant that went through checkout (so Stripe has its Customer); returns the customer id.
async fn subscribed_tenant(app: &TestApp, slug: &str, plan: &str) -> (TestTenant, String) {
    let t = app.seed_tenant(slug).await;
    checkout(app, &t, plan)
        .await
        .assert_status(StatusCode::CREATED);
    let mut su = app.db.superuser().await;
    let customer: String = sqlx::query_scalar(
        "select stripe_customer_id from tenant_billing where tenant_id = $1::uuid",
    )
    .bind(&t.id)
    .fetch_one(&mut su)
    .await
    .expect("customer");
    (t, customer)
}

fn subscription_event(id: &str, kind: &str, subscription: &Value) -> Vec<u8> {
    event(id, kind, subscription.clone())
}

fn invoice_event(id: &str, kind: &str, customer: &str, subscription: &str) -> Vec<u8> {
    event(
        id,
        kind,
        json!({ "id": format!("in_{id}"), "object": "invoice", "customer": customer, "subscription": subscription }),
    )
}

#[tokio::test]
async fn forged_stale_and_unknown_webhooks_change_nothing() {
    let double = crate::helpers::StripeDouble::start().await;
    let app = stripe_app(&double).await;
    let pro = create_plan(
        &app,
        json!({ "name": "Pro", "stripe_price_id": "price_Pro" }),
    )
    .await;
    let (t, customer) = subscribed_tenant(&app, "acme", pro["id"].as_str().expect("id")).await;
    let sub = double.set_subscription(&crate::helpers::SubscriptionState {
        id: "sub_Forge1",
        customer: &customer,
        status: "active",
        price: "price_Pro",
        quantity: 2,
        created: chrono::Utc::now().timestamp(),
        trial_end: None,
        cancel_at_period_end: false,
    });
    let body = subscription_event("evt_forge1", "customer.subscription.created", &sub);
    let now = chrono::Utc::now().timestamp();
    deliver_signed(&app, &body, "whsec_attacker", now)
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_signature");
    deliver_signed(&app, &body, WEBHOOK_SECRET, now - 301)
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_signature");
    app.post("/api/v1/webhooks/stripe")
        .raw(Some("application/json"), body.clone())
        .send()
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_signature");
    // A body changed after signing.
    let signed = lms_platform::billing::signature::sign(WEBHOOK_SECRET, now, &body);
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    app.post("/api/v1/webhooks/stripe")
        .header("stripe-signature", &signed)
        .raw(Some("application/json"), tampered)
        .send()
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_signature");
    assert_eq!(billing_of(&app, &t).await["status"], "none");

    // Unknown types and customers are acknowledged and change nothing.
    let unknown_type = deliver(
        &app,
        &event("evt_other1", "payout.paid", json!({ "id": "po_1" })),
    )
    .await;
    unknown_type.assert_status(StatusCode::OK);
    assert_eq!(unknown_type.json()["outcome"], "ignored");
    let stranger = deliver(
        &app,
        &invoice_event("evt_stranger1", "invoice.paid", "cus_Nobody", "sub_Nobody"),
    )
    .await;
    stranger.assert_status(StatusCode::OK);
    assert_eq!(stranger.json()["outcome"], "unknown_customer");
    deliver(&app, b"not json at all")
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "malformed_event");

    // A secret being retired still verifies during the rotation.
    let rotated = deliver_signed(&app, &body, "whsec_test_retired_9876543210", now).await;
    rotated.assert_status(StatusCode::OK);
    assert_eq!(rotated.json()["outcome"], "applied");
    assert_eq!(billing_of(&app, &t).await["status"], "active");
    double.assert_no_violations();
}

#[tokio::test]
async fn a_subscription_goes_trial_paid_past_due_canceled_and_resumed_with_its_entitlements() {
    let double = crate::helpers::StripeDouble::start().await;
    let app = stripe_app(&double).await;
    let pro = create_plan(
        &app,
        json!({ "name": "Pro", "stripe_price_id": "price_Pro", "trial_days": 14, "max_active_learners": 40, "plugins_allowed": false }),
    )
    .await;
    let (t, customer) = subscribed_tenant(&app, "acme", pro["id"].as_str().expect("id")).await;
    let started = chrono::Utc::now().timestamp() - 86_400;
    let state =
        |status: &'static str, id: &'static str, created: i64| crate::helpers::SubscriptionState {
            id,
            customer: &customer,
            status,
            price: "price_Pro",
            quantity: 2,
            created,
            trial_end: Some(started + 14 * 86_400),
            cancel_at_period_end: false,
        };

    let sub = double.set_subscription(&state("trialing", "sub_Life1", started));
    let applied = deliver(
        &app,
        &subscription_event("evt_l1", "customer.subscription.created", &sub),
    )
    .await;
    assert_eq!(applied.json()["outcome"], "applied", "{}", applied.text);
    let billing = billing_of(&app, &t).await;
    assert_eq!(billing["status"], "trialing");
    assert_eq!(billing["plan"]["name"], "Pro");
    assert_eq!(billing["seats"]["included"], 40);
    assert!(billing["trial_end"].is_string());
    // Trial ending: the admins are told, once however often Stripe delivers it.
    let trial = subscription_event("evt_l2", "customer.subscription.trial_will_end", &sub);
    deliver(&app, &trial).await.assert_status(StatusCode::OK);
    let again = deliver(&app, &trial).await;
    assert_eq!(again.json()["outcome"], "duplicate");
    assert!(
        app.last_email_to(&t.admin.email)
            .await
            .contains("trial ends")
    );

    double.set_subscription(&state("active", "sub_Life1", started));
    deliver(
        &app,
        &invoice_event("evt_l3", "invoice.paid", &customer, "sub_Life1"),
    )
    .await;
    assert_eq!(billing_of(&app, &t).await["status"], "active");

    double.set_subscription(&state("past_due", "sub_Life1", started));
    deliver(
        &app,
        &invoice_event("evt_l4", "invoice.payment_failed", &customer, "sub_Life1"),
    )
    .await;
    let billing = billing_of(&app, &t).await;
    assert_eq!(billing["status"], "past_due");
    assert_eq!(billing["read_only"], false);
    assert!(billing["grace_ends_at"].is_string());
    assert!(
        app.last_email_to(&t.admin.email)
            .await
            .contains("did not go")
    );
    app.actor("acme", &t.admin)
        .create_course("still-works", json!({}))
        .await;

    let canceled = double.set_subscription(&state("canceled", "sub_Life1", started));
    deliver(
        &app,
        &subscription_event("evt_l5", "customer.subscription.deleted", &canceled),
    )
    .await;
    let billing = billing_of(&app, &t).await;
    assert_eq!(billing["status"], "canceled");
    assert_eq!(billing["read_only"], true);
    app.actor("acme", &t.admin)
        .send(
            Method::POST,
            "/api/v1/courses",
            Some(json!({ "slug": "blocked", "title": "Blocked" })),
        )
        .await
        .assert_problem(StatusCode::FORBIDDEN, "billing_read_only");

    // Resumed with a new subscription: everything is back, nothing was lost.
    let resumed = double.set_subscription(&state("active", "sub_Life2", started + 3600));
    deliver(
        &app,
        &subscription_event("evt_l6", "customer.subscription.created", &resumed),
    )
    .await;
    let billing = billing_of(&app, &t).await;
    assert_eq!(billing["status"], "active");
    assert_eq!(billing["read_only"], false);
    app.actor("acme", &t.admin)
        .create_course("after", json!({}))
        .await;
    assert_eq!(
        app.actor("acme", &t.admin)
            .ok(Method::GET, "/api/v1/courses", None)
            .await["items"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    // Stripe Entitlements decide the features once Stripe reports any.
    double.set_entitlements(&customer, &["sso", "plugins"]);
    deliver(
        &app,
        &event(
            "evt_l7",
            "entitlements.active_entitlement_summary.updated",
            json!({ "object": "entitlements.active_entitlement_summary", "customer": customer, "livemode": false,
                    "entitlements": { "object": "list", "data": [], "has_more": false, "url": "/v1/x" } }),
        ),
    )
    .await
    .assert_status(StatusCode::OK);
    let entitlements = &billing_of(&app, &t).await["entitlements"];
    assert_eq!(entitlements["plugins_allowed"], true);
    assert_eq!(entitlements["custom_domains_allowed"], false);
    double.assert_no_violations();
}

#[tokio::test]
async fn any_order_of_a_subscriptions_events_converges_to_stripes_state() {
    let double = crate::helpers::StripeDouble::start().await;
    let app = stripe_app(&double).await;
    let pro = create_plan(
        &app,
        json!({ "name": "Pro", "stripe_price_id": "price_Pro" }),
    )
    .await;
    let pro = pro["id"].as_str().expect("id").to_owned();
    // Six orders of created, updated, invoice paid, payment failed, deleted: in order, reversed
    // and four shuffles.
    let orders: [[usize; 5]; 6] = [
        [0, 1, 2, 3, 4],
        [4, 3, 2, 1, 0],
        [1, 0, 3, 4, 2],
        [2, 4, 0, 3, 1],
        [3, 1, 4, 2, 0],
        [4, 0, 1, 2, 3],
    ];
    for (n, order) in orders.iter().enumerate() {
        let slug = format!("org{n}");
        let (t, customer) = subscribed_tenant(&app, &slug, &pro).await;
        let sub_id = format!("sub_Order{n}");
        let created = chrono::Utc::now().timestamp() - 3600;
        let at = |status: &'static str| crate::helpers::SubscriptionState {
            id: &sub_id,
            customer: &customer,
            status,
            price: "price_Pro",
            quantity: 2,
            created,
            trial_end: None,
            cancel_at_period_end: false,
        };
        let created_body = double.set_subscription(&at("incomplete"));
        let updated_body = double.set_subscription(&at("active"));
        let deleted_body = double.set_subscription(&at("canceled"));
        let events = [
            subscription_event(
                &format!("evt_o{n}a"),
                "customer.subscription.created",
                &created_body,
            ),
            subscription_event(
                &format!("evt_o{n}b"),
                "customer.subscription.updated",
                &updated_body,
            ),
            invoice_event(&format!("evt_o{n}c"), "invoice.paid", &customer, &sub_id),
            invoice_event(
                &format!("evt_o{n}d"),
                "invoice.payment_failed",
                &customer,
                &sub_id,
            ),
            subscription_event(
                &format!("evt_o{n}e"),
                "customer.subscription.deleted",
                &deleted_body,
            ),
        ];
        // Stripe's state is the end of the life; the events arrive in this order, one twice.
        for &i in order {
            deliver(&app, &events[i])
                .await
                .assert_status(StatusCode::OK);
        }
        let replay = deliver(&app, &events[order[0]]).await;
        assert_eq!(replay.json()["outcome"], "duplicate");
        let billing = billing_of(&app, &t).await;
        assert_eq!(billing["status"], "canceled", "order {order:?}");
        assert_eq!(billing["read_only"], true, "order {order:?}");
    }
    double.assert_no_violations();
}

#[tokio::test]
async fn a_reading_older_than_the_stored_one_is_dropped_and_reconcile_repairs_drift() {
    let double = crate::helpers::StripeDouble::start().await;
    let app = stripe_app(&double).await;
    let pro = create_plan(
        &app,
        json!({ "name": "Pro", "stripe_price_id": "price_Pro" }),
    )
    .await;
    let (t, customer) = subscribed_tenant(&app, "acme", pro["id"].as_str().expect("id")).await;
    let at = |status: &'static str| crate::helpers::SubscriptionState {
        id: "sub_Guard1",
        customer: &customer,
        status,
        price: "price_Pro",
        quantity: 2,
        created: chrono::Utc::now().timestamp() - 60,
        trial_end: None,
        cancel_at_period_end: false,
    };
    let sub = double.set_subscription(&at("active"));
    deliver(
        &app,
        &subscription_event("evt_g1", "customer.subscription.created", &sub),
    )
    .await;
    assert_eq!(billing_of(&app, &t).await["status"], "active");
    // A newer reading is stored (as by a concurrent delivery); an older one cannot replace it.
    let mut su = app.db.superuser().await;
    sqlx::query("update tenant_billing set synced_at = now() + interval '1 hour' where tenant_id = $1::uuid")
        .bind(&t.id)
        .execute(&mut su)
        .await
        .expect("update");
    let sub = double.set_subscription(&at("unpaid"));
    deliver(
        &app,
        &subscription_event("evt_g2", "customer.subscription.updated", &sub),
    )
    .await;
    assert_eq!(billing_of(&app, &t).await["status"], "active");

    // The reconciler reads Stripe again (once that reading is older than now).
    sqlx::query("update tenant_billing set synced_at = now() - interval '1 hour' where tenant_id = $1::uuid")
        .bind(&t.id)
        .execute(&mut su)
        .await
        .expect("update");
    let report = lms_platform::billing::reconcile_all(&app.state)
        .await
        .expect("reconcile");
    assert_eq!((report.tenants, report.repaired, report.failed), (1, 1, 0));
    assert_eq!(billing_of(&app, &t).await["status"], "unpaid");
    let report = lms_platform::billing::reconcile_all(&app.state)
        .await
        .expect("reconcile");
    assert_eq!((report.tenants, report.repaired), (1, 0));
    double.assert_no_violations();
}

/// The webhook benchmark (not a timed test: it asserts nothing about speed). Run with
/// `cargo nextest run -p lms-platform --test api --run-ignored only -E 'test(stripe_webhook_benchmark)' --no-capture`;
/// prints events processed per second and the endpoint's p50/p99 latency, for
/// `LMS_BENCH_EVENTS` distinct events (default 2000) from `LMS_BENCH_CONCURRENCY` senders
/// (default 16) over 20 tenants, each event read back from the Stripe double as in production.
#[tokio::test]
#[ignore = "a benchmark: prints figures"]
async fn stripe_webhook_benchmark() {
    let events: usize = std::env::var("LMS_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let concurrency: usize = std::env::var("LMS_BENCH_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16);
    let double = crate::helpers::StripeDouble::start().await;
    let app = stripe_app(&double).await;
    let pro = create_plan(
        &app,
        json!({ "name": "Pro", "stripe_price_id": "price_Pro" }),
    )
    .await;
    let pro = pro["id"].as_str().expect("id").to_owned();
    let mut customers = Vec::new();
    for n in 0..20 {
        let (_, customer) = subscribed_tenant(&app, &format!("bench{n}"), &pro).await;
        let sub = format!("sub_Bench{n}");
        double.set_subscription(&crate::helpers::SubscriptionState {
            id: &sub,
            customer: &customer,
            status: "active",
            price: "price_Pro",
            quantity: 2,
            created: chrono::Utc::now().timestamp(),
            trial_end: None,
            cancel_at_period_end: false,
        });
        customers.push((customer, sub));
    }
    let bodies: Vec<Vec<u8>> = (0..events)
        .map(|i| {
            let (customer, sub) = &customers[i % customers.len()];
            invoice_event(&format!("evt_bench{i}"), "invoice.paid", customer, sub)
        })
        .collect();
    let queue = std::sync::Arc::new(std::sync::Mutex::new(bodies));
    let started = std::time::Instant::now();
    let latencies = futures::future::join_all((0..concurrency).map(|_| {
        let queue = std::sync::Arc::clone(&queue);
        let app = &app;
        async move {
            let mut mine = Vec::new();
            loop {
                let Some(body) = queue.lock().expect("queue").pop() else {
                    return mine;
                };
                let sent = std::time::Instant::now();
                let reply = deliver(app, &body).await;
                assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
                mine.push(sent.elapsed());
            }
        }
    }))
    .await;
    let elapsed = started.elapsed();
    let mut all: Vec<Duration> = latencies.into_iter().flatten().collect();
    all.sort();
    let at = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)];
    let line = format!(
        "stripe webhook: {events} events, {concurrency} senders: {:.0} events/s, p50 {:.1} ms, p99 {:.1} ms\n",
        events as f64 / elapsed.as_secs_f64(),
        at(0.50).as_secs_f64() * 1000.0,
        at(0.99).as_secs_f64() * 1000.0,
    );
    std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes()).expect("print");
    double.assert_no_violations();
}
