//! The platform-operator API: its credential, tenant lifecycle, custom domains and how requests
//! find their tenant (custom domain, then subdomain, then `X-Tenant`).

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, paths};

async fn create(app: &TestApp, slug: &str) -> Value {
    app.create_tenant(slug).await
}

#[tokio::test]
async fn every_operator_endpoint_requires_the_operator_credential() {
    let (app, tenant) = TestApp::with_tenant("acme").await;
    let document: Value =
        serde_json::from_str(&lms_platform::openapi::document_json().expect("document"))
            .expect("json");
    let mut checked = 0;
    for (path, item) in document["paths"].as_object().expect("paths") {
        if !path.starts_with("/api/v1/operator/") {
            continue;
        }
        let concrete = path
            .replace("{id}", &tenant.id)
            .replace("{domain}", "learn.acme.test");
        for method in item.as_object().expect("path item").keys() {
            let method: Method = method.to_ascii_uppercase().parse().expect("method");
            let body = json!({ "slug": "sneaky", "display_name": "Sneaky", "domain": "evil.acme.test",
                               "email": "evil@acme.example", "roles": ["tenant_admin"] });
            let attempts = [
                ("no credential", None),
                ("a wrong credential", Some("not-the-operator-credential")),
                (
                    "a tenant admin's token",
                    Some(tenant.admin.access_token.as_str()),
                ),
                ("an empty bearer", Some("")),
            ];
            for (what, token) in attempts {
                let mut call = app
                    .call(method.clone(), &concrete)
                    .tenant("acme")
                    .json(body.clone());
                if let Some(token) = token {
                    call = call.header("authorization", &format!("Bearer {token}"));
                }
                let reply = call.send().await;
                assert_eq!(
                    reply.status,
                    StatusCode::UNAUTHORIZED,
                    "{method} {path} with {what}: {}",
                    reply.text
                );
                assert!(
                    reply.headers.contains_key("www-authenticate"),
                    "{method} {path}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 9, "only {checked} operator endpoints found");
    // None of those attempts changed anything.
    let list = app.get("/api/v1/operator/tenants").operator().send().await;
    list.assert_status(StatusCode::OK);
    assert_eq!(list.json()["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(list.json()["items"][0]["status"], "active");
    assert_eq!(list.json()["items"][0]["domains"], json!([]));
}

#[tokio::test]
async fn tenants_are_created_with_unique_valid_slugs() {
    let app = TestApp::spawn().await;
    let created = app
        .post("/api/v1/operator/tenants")
        .operator()
        .json(json!({ "slug": "acme", "display_name": "Acme Training",
                      "branding": { "primary_color": "#112233" },
                      "settings": { "self_registration": false } }))
        .send()
        .await;
    created.assert_status(StatusCode::CREATED);
    let tenant = created.json();
    assert_eq!(tenant["slug"], "acme");
    assert_eq!(tenant["display_name"], "Acme Training");
    assert_eq!(tenant["status"], "active");
    assert_eq!(tenant["branding"]["primary_color"], "#112233");
    assert_eq!(tenant["settings"]["self_registration"], false);
    let id: uuid::Uuid = tenant["id"].as_str().expect("id").parse().expect("uuid");
    assert_eq!(id.get_version_num(), 7, "ids are UUIDv7");

    app.post("/api/v1/operator/tenants")
        .operator()
        .json(json!({ "slug": "acme", "display_name": "Another Acme" }))
        .send()
        .await
        .assert_problem(StatusCode::CONFLICT, "slug_taken");
    for bad in ["Bad Slug", "ACME", "-acme", "acme-", "a_b", "", "a.b"] {
        let reply = app
            .post("/api/v1/operator/tenants")
            .operator()
            .json(json!({ "slug": bad, "display_name": "Bad" }))
            .send()
            .await;
        reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(
            reply.json()["errors"][0]["field"],
            "slug",
            "{bad}: {}",
            reply.text
        );
    }
    for bad_name in ["", "   ", &"x".repeat(201)] {
        app.post("/api/v1/operator/tenants")
            .operator()
            .json(json!({ "slug": "fine", "display_name": bad_name }))
            .send()
            .await
            .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    }
    app.post("/api/v1/operator/tenants")
        .operator()
        .json(json!({ "slug": "fine", "display_name": "Fine", "branding": { "logo_url": "javascript:alert(1)" } }))
        .send()
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    // Refused creations left nothing behind.
    app.get("/api/v1/tenant")
        .tenant("fine")
        .send()
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn the_tenant_list_pages_through_every_tenant_once() {
    let app = TestApp::spawn().await;
    let mut created = BTreeSet::new();
    for i in 0..5 {
        let tenant = create(&app, &format!("tenant-{i}")).await;
        created.insert(tenant["id"].as_str().expect("id").to_owned());
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let path = match &cursor {
            Some(c) => format!("/api/v1/operator/tenants?limit=1&cursor={c}"),
            None => "/api/v1/operator/tenants?limit=1".to_owned(),
        };
        let page = app.get(&path).operator().send().await;
        page.assert_status(StatusCode::OK);
        let body = page.json();
        let items = body["items"].as_array().expect("items");
        assert!(items.len() <= 1, "{}", page.text);
        seen.extend(
            items
                .iter()
                .map(|t| t["id"].as_str().expect("id").to_owned()),
        );
        cursor = body["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    assert!(cursor.is_none(), "paging did not end");
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "duplicates in {seen:?}");
    assert_eq!(unique, created);
    // Newest first.
    let mut sorted = seen.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(seen, sorted);

    // The status filter.
    let victim = seen[2].clone();
    app.post(&paths::operator_suspend(&victim))
        .operator()
        .send()
        .await
        .assert_status(StatusCode::OK);
    let suspended = app
        .get("/api/v1/operator/tenants?status=suspended")
        .operator()
        .send()
        .await;
    suspended.assert_status(StatusCode::OK);
    assert_eq!(
        suspended.json()["items"].as_array().map(Vec::len),
        Some(1),
        "{}",
        suspended.text
    );
    assert_eq!(suspended.json()["items"][0]["id"], victim.as_str());
    let active = app
        .get("/api/v1/operator/tenants?status=active&limit=200")
        .operator()
        .send()
        .await;
    assert_eq!(active.json()["items"].as_array().map(Vec::len), Some(4));
}

#[tokio::test]
async fn single_tenants_are_found_by_id() {
    let app = TestApp::spawn().await;
    let tenant = create(&app, "acme").await;
    let id = tenant["id"].as_str().expect("id");
    let got = app.get(&paths::operator_tenant(id)).operator().send().await;
    got.assert_status(StatusCode::OK);
    assert_eq!(got.json()["slug"], "acme");
    let unknown = uuid::Uuid::now_v7();
    for path in [
        paths::operator_tenant(unknown),
        paths::operator_suspend(unknown),
        paths::operator_resume(unknown),
    ] {
        let method = if path.ends_with(&unknown.to_string()) {
            Method::GET
        } else {
            Method::POST
        };
        app.call(method, &path)
            .operator()
            .send()
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
    }
    app.post(&paths::operator_domains(unknown))
        .operator()
        .json(json!({ "domain": "learn.nowhere.test" }))
        .send()
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    app.post(&paths::operator_invitations(unknown))
        .operator()
        .json(
            json!({ "email": "x@nowhere.example", "display_name": "X", "roles": ["tenant_admin"] }),
        )
        .send()
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    for malformed in ["not-a-uuid", "123", "acme"] {
        app.get(&paths::operator_tenant(malformed))
            .operator()
            .send()
            .await
            .assert_problem(StatusCode::BAD_REQUEST, "invalid_path_parameter");
    }
}

#[tokio::test]
async fn suspension_closes_the_tenant_and_resumption_reopens_it() {
    let (app, tenant) = TestApp::with_tenant("acme").await;
    let other = app.seed_tenant("other").await;
    // Warm the resolver cache so that suspension must invalidate it.
    app.get("/api/v1/tenant")
        .tenant("acme")
        .send()
        .await
        .assert_status(StatusCode::OK);

    let suspended = app
        .post(&paths::operator_suspend(&tenant.id))
        .operator()
        .send()
        .await;
    suspended.assert_status(StatusCode::OK);
    assert_eq!(suspended.json()["status"], "suspended");

    let admin_get = |path: &'static str| {
        app.get(path)
            .tenant("acme")
            .bearer(&tenant.admin.access_token)
    };
    admin_get("/api/v1/tenant")
        .send()
        .await
        .assert_problem(StatusCode::FORBIDDEN, "tenant_suspended");
    app.get("/api/v1/tenant")
        .host("acme.lms.test")
        .send()
        .await
        .assert_problem(StatusCode::FORBIDDEN, "tenant_suspended");
    admin_get("/api/v1/users")
        .send()
        .await
        .assert_problem(StatusCode::FORBIDDEN, "tenant_suspended");
    admin_get("/api/v1/auth/me")
        .send()
        .await
        .assert_problem(StatusCode::FORBIDDEN, "tenant_suspended");
    app.login("acme", &tenant.admin.email, crate::helpers::PASSWORD)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "tenant_suspended");
    app.post("/api/v1/auth/refresh")
        .tenant("acme")
        .json(json!({ "refresh_token": tenant.learner.refresh_token }))
        .send()
        .await
        .assert_problem(StatusCode::FORBIDDEN, "tenant_suspended");
    app.post("/api/v1/auth/register")
        .tenant("acme")
        .json(json!({ "email": "new@acme.example", "password": crate::helpers::PASSWORD, "display_name": "New" }))
        .send()
        .await
        .assert_problem(StatusCode::FORBIDDEN, "tenant_suspended");
    // Other tenants are unaffected.
    app.get("/api/v1/users")
        .tenant("other")
        .bearer(&other.admin.access_token)
        .send()
        .await
        .assert_status(StatusCode::OK);
    // Suspending twice is harmless.
    app.post(&paths::operator_suspend(&tenant.id))
        .operator()
        .send()
        .await
        .assert_status(StatusCode::OK);

    let resumed = app
        .post(&paths::operator_resume(&tenant.id))
        .operator()
        .send()
        .await;
    resumed.assert_status(StatusCode::OK);
    assert_eq!(resumed.json()["status"], "active");
    admin_get("/api/v1/tenant")
        .send()
        .await
        .assert_status(StatusCode::OK);
    admin_get("/api/v1/users")
        .send()
        .await
        .assert_status(StatusCode::OK);
    app.login("acme", &tenant.admin.email, crate::helpers::PASSWORD)
        .await
        .assert_status(StatusCode::OK);

    // The operator's actions are in the tenant's own audit trail, and only there.
    let trail = app
        .get("/api/v1/audit-events?limit=200")
        .tenant("acme")
        .bearer(&tenant.admin.access_token)
        .send()
        .await;
    trail.assert_status(StatusCode::OK);
    let events = trail.json()["items"].as_array().cloned().expect("items");
    for action in [
        "tenant.created",
        "tenant.suspended",
        "tenant.resumed",
        "user.invited",
    ] {
        let event = events
            .iter()
            .find(|e| e["action"] == action)
            .unwrap_or_else(|| panic!("{action} missing: {}", trail.text));
        assert_eq!(event["actor_kind"], "operator", "{event}");
        assert!(event["actor_id"].is_null(), "{event}");
        assert_eq!(
            event["ip"], "127.0.0.1",
            "the operator's address is recorded: {event}"
        );
    }
    let other_trail = app
        .get("/api/v1/audit-events?action=tenant.suspended")
        .tenant("other")
        .bearer(&other.admin.access_token)
        .send()
        .await;
    assert_eq!(
        other_trail.json()["items"],
        json!([]),
        "{}",
        other_trail.text
    );
}

#[tokio::test]
async fn requests_find_their_tenant_by_custom_domain_subdomain_or_header() {
    let (app, acme) = TestApp::with_tenant("acme").await;
    let globex = create(&app, "globex").await;
    let globex_id = globex["id"].as_str().expect("id");
    let slug_at = |reply: &crate::helpers::Reply| reply.json()["slug"].clone();

    // Subdomains of the base domain, with or without a port, in any case.
    for host in ["acme.lms.test", "acme.lms.test:8443", "ACME.lms.test"] {
        let reply = app.get("/api/v1/tenant").host(host).send().await;
        reply.assert_status(StatusCode::OK);
        assert_eq!(slug_at(&reply), "acme", "{host}");
    }
    for host in [
        "nope.lms.test",
        "lms.test",
        "a.b.lms.test",
        "learn.acme.test",
    ] {
        app.get("/api/v1/tenant")
            .host(host)
            .send()
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
    }

    // Adding a custom domain: normalised, then it names the tenant.
    let added = app
        .post(&paths::operator_domains(&acme.id))
        .operator()
        .json(json!({ "domain": "Learn.Acme.Test." }))
        .send()
        .await;
    added.assert_status(StatusCode::CREATED);
    assert_eq!(added.json()["domains"], json!(["learn.acme.test"]));
    for host in ["learn.acme.test", "LEARN.acme.test:443"] {
        let reply = app.get("/api/v1/tenant").host(host).send().await;
        reply.assert_status(StatusCode::OK);
        assert_eq!(slug_at(&reply), "acme", "{host}");
    }
    // The custom domain wins over a contradicting X-Tenant header, and over a subdomain's claim.
    let reply = app
        .get("/api/v1/tenant")
        .host("learn.acme.test")
        .tenant("globex")
        .send()
        .await;
    reply.assert_status(StatusCode::OK);
    assert_eq!(slug_at(&reply), "acme");
    // A subdomain host also wins over the header.
    let reply = app
        .get("/api/v1/tenant")
        .host("globex.lms.test")
        .tenant("acme")
        .send()
        .await;
    reply.assert_status(StatusCode::OK);
    assert_eq!(slug_at(&reply), "globex");
    // Authenticated calls on the custom domain work with the tenant's tokens.
    app.get("/api/v1/users")
        .host("learn.acme.test")
        .bearer(&acme.admin.access_token)
        .send()
        .await
        .assert_status(StatusCode::OK);
    // Emails now link to the custom domain.
    app.post("/api/v1/auth/password-reset")
        .host("learn.acme.test")
        .json(json!({ "email": acme.learner.email }))
        .send()
        .await
        .assert_status(StatusCode::ACCEPTED);
    let mail = app.last_email_to(&acme.learner.email).await;
    assert!(mail.contains("https://learn.acme.test/"), "{mail}");

    // A domain belongs to one tenant only.
    for domain in ["learn.acme.test", "LEARN.ACME.TEST"] {
        app.post(&paths::operator_domains(globex_id))
            .operator()
            .json(json!({ "domain": domain }))
            .send()
            .await
            .assert_problem(StatusCode::CONFLICT, "domain_taken");
    }
    app.post(&paths::operator_domains(&acme.id))
        .operator()
        .json(json!({ "domain": "learn.acme.test" }))
        .send()
        .await
        .assert_problem(StatusCode::CONFLICT, "domain_taken");
    for bad in ["localhost", "not a domain", "-x.test", "x..test", ""] {
        app.post(&paths::operator_domains(&acme.id))
            .operator()
            .json(json!({ "domain": bad }))
            .send()
            .await
            .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    }
    // Another tenant cannot remove it.
    app.call(
        Method::DELETE,
        &format!("/api/v1/operator/tenants/{globex_id}/domains/learn.acme.test"),
    )
    .operator()
    .send()
    .await
    .assert_problem(StatusCode::NOT_FOUND, "not_found");
    let still = app
        .get("/api/v1/tenant")
        .host("learn.acme.test")
        .send()
        .await;
    assert_eq!(slug_at(&still), "acme");

    // Removing it: the host no longer names any tenant, and the domain is free again.
    let removed = app
        .call(
            Method::DELETE,
            &format!(
                "/api/v1/operator/tenants/{}/domains/learn.acme.test",
                acme.id
            ),
        )
        .operator()
        .send()
        .await;
    removed.assert_status(StatusCode::NO_CONTENT);
    app.get("/api/v1/tenant")
        .host("learn.acme.test")
        .send()
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    app.get("/api/v1/users")
        .host("learn.acme.test")
        .bearer(&acme.admin.access_token)
        .send()
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    app.call(
        Method::DELETE,
        &format!(
            "/api/v1/operator/tenants/{}/domains/learn.acme.test",
            acme.id
        ),
    )
    .operator()
    .send()
    .await
    .assert_problem(StatusCode::NOT_FOUND, "not_found");
    app.post(&paths::operator_domains(globex_id))
        .operator()
        .json(json!({ "domain": "learn.acme.test" }))
        .send()
        .await
        .assert_status(StatusCode::CREATED);
    let moved = app
        .get("/api/v1/tenant")
        .host("learn.acme.test")
        .send()
        .await;
    assert_eq!(slug_at(&moved), "globex");
    // ... and acme's token does not work on the domain that now names globex.
    app.get("/api/v1/users")
        .host("learn.acme.test")
        .bearer(&acme.admin.access_token)
        .send()
        .await
        .assert_status(StatusCode::UNAUTHORIZED);

    // The domain changes are in each tenant's audit trail.
    let trail = app
        .get("/api/v1/audit-events?limit=200")
        .tenant("acme")
        .bearer(&acme.admin.access_token)
        .send()
        .await;
    trail.assert_status(StatusCode::OK);
    for action in ["tenant.domain_added", "tenant.domain_removed"] {
        let event = trail.json()["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|e| e["action"] == action)
            .cloned()
            .unwrap_or_else(|| panic!("{action} missing: {}", trail.text));
        assert_eq!(event["actor_kind"], "operator");
        assert_eq!(event["details"]["domain"], "learn.acme.test");
    }
    let mut su = app.db.superuser().await;
    let globex_actions: Vec<String> = sqlx::query_scalar(
        "select action from audit_events where tenant_id = $1::uuid and actor_kind = 'operator' order by id",
    )
    .bind(globex_id)
    .fetch_all(&mut su)
    .await
    .expect("globex trail");
    assert_eq!(globex_actions, ["tenant.created", "tenant.domain_added"]);
}

#[tokio::test]
async fn requests_without_a_known_tenant_are_not_found() {
    let app = TestApp::spawn().await;
    create(&app, "acme").await;
    let no_tenant = app.get("/api/v1/tenant").send().await;
    no_tenant.assert_problem(StatusCode::NOT_FOUND, "not_found");
    for header in ["nope", "ACME", "acme.lms.test", "a b", "../acme"] {
        app.get("/api/v1/tenant")
            .tenant(header)
            .send()
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
    }
    // A subdomain of something other than the base domain is not a tenant either.
    app.get("/api/v1/tenant")
        .host("acme.elsewhere.test")
        .send()
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn custom_domains_cannot_take_over_the_platforms_subdomains() {
    let app = TestApp::spawn().await;
    let acme = create(&app, "acme").await;
    create(&app, "globex").await;
    let acme_id = acme["id"].as_str().expect("id");
    // Custom domains resolve before subdomains: a custom domain under the base domain would let
    // one tenant answer for another tenant's subdomain (or for a slug not yet taken).
    for domain in [
        "globex.lms.test",
        "GLOBEX.lms.test.",
        "future.lms.test",
        "lms.test",
        "x.y.lms.test",
    ] {
        let reply = app
            .post(&paths::operator_domains(acme_id))
            .operator()
            .json(json!({ "domain": domain }))
            .send()
            .await;
        reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(
            reply.json()["errors"][0]["field"],
            "domain",
            "{}",
            reply.text
        );
    }
    let globex = app
        .get("/api/v1/tenant")
        .host("globex.lms.test")
        .send()
        .await;
    globex.assert_status(StatusCode::OK);
    assert_eq!(globex.json()["slug"], "globex");
    // Look-alikes outside the base domain are ordinary custom domains.
    app.post(&paths::operator_domains(acme_id))
        .operator()
        .json(json!({ "domain": "globex-lms.test" }))
        .send()
        .await
        .assert_status(StatusCode::CREATED);
}
