//! SCIM 2.0 provisioning: the tenant's SCIM token (lifecycle, tenant binding), Users (create,
//! uniqueness, filters, paging, PUT, PATCH with Entra's and Okta's forms, deactivation ending
//! sessions, delete), Groups as cohorts, the SCIM error format and bounds, the request sequences
//! Okta and Entra ID send, and the third-party validator `scim2-tester`.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Call, Reply, TestApp, TestTenant};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// A SCIM client with one tenant's token (the token selects the tenant: no `X-Tenant`).
struct Scim<'a> {
    app: &'a TestApp,
    token: String,
}

impl<'a> Scim<'a> {
    async fn of(app: &'a TestApp, tenant: &TestTenant) -> Self {
        let token = create_token(app, tenant).await["secret"]
            .as_str()
            .expect("secret")
            .to_owned();
        Self { app, token }
    }

    fn call(&self, method: Method, path: &str) -> Call<'a> {
        self.app
            .call(method, &format!("/scim/v2{path}"))
            .bearer(&self.token)
    }

    async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path).send().await
    }

    async fn send(&self, method: Method, path: &str, body: Value) -> Reply {
        self.call(method, path)
            .raw(
                Some("application/scim+json"),
                serde_json::to_vec(&body).expect("json"),
            )
            .send()
            .await
    }

    /// Creates a user and returns its resource.
    async fn create_user(&self, body: Value) -> Value {
        let reply = self.send(Method::POST, "/Users", body).await;
        reply.assert_status(StatusCode::CREATED);
        reply.json()
    }

    async fn patch(&self, path: &str, operations: Value) -> Reply {
        self.send(
            Method::PATCH,
            path,
            json!({ "schemas": [PATCH_OP], "Operations": operations }),
        )
        .await
    }

    /// The `Resources` of a filtered user list.
    async fn users_where(&self, filter: &str) -> Vec<Value> {
        let reply = self
            .get(&format!("/Users?filter={}", urlencode(filter)))
            .await;
        reply.assert_status(StatusCode::OK);
        reply.json()["Resources"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

async fn create_token(app: &TestApp, tenant: &TestTenant) -> Value {
    let reply = app
        .post("/api/v1/scim/tokens")
        .tenant(&tenant.slug)
        .bearer(&tenant.admin.access_token)
        .json(json!({ "description": "Entra ID" }))
        .send()
        .await;
    reply.assert_status(StatusCode::CREATED);
    reply.json()
}

/// Asserts a SCIM Error message: its schema, `status` as a string, the content type, and the
/// `scimType` when one is given.
#[track_caller]
fn assert_scim_error(reply: &Reply, status: StatusCode, scim_type: Option<&str>) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert_eq!(
        reply
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/scim+json"),
        "{}",
        reply.text
    );
    let body = reply.json();
    assert_eq!(body["schemas"], json!([ERROR]), "{}", reply.text);
    assert_eq!(
        body["status"],
        status.as_u16().to_string(),
        "{}",
        reply.text
    );
    if let Some(scim_type) = scim_type {
        assert_eq!(body["scimType"], scim_type, "{}", reply.text);
    }
}

fn user(user_name: &str) -> Value {
    json!({
        "schemas": [USER],
        "userName": user_name,
        "name": { "givenName": "Ann", "familyName": "Lee" },
        "emails": [{ "value": user_name, "type": "work", "primary": true }],
        "active": true,
    })
}

#[tokio::test]
async fn token_lifecycle_and_tenant_binding() {
    let app = TestApp::spawn().await;
    let a = app.seed_tenant("a").await;
    let b = app.seed_tenant("b").await;

    // Only tenant admins manage tokens.
    app.post("/api/v1/scim/tokens")
        .tenant("a")
        .bearer(&a.learner.access_token)
        .send()
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");

    let issued = create_token(&app, &a).await;
    let secret = issued["secret"].as_str().expect("secret").to_owned();
    let id = issued["id"].as_str().expect("id").to_owned();
    let a_scim = Scim {
        app: &app,
        token: secret.clone(),
    };
    a_scim
        .get("/ServiceProviderConfig")
        .await
        .assert_status(StatusCode::OK);

    // Listed without the secret or its hash.
    let listed = app
        .get("/api/v1/scim/tokens")
        .tenant("a")
        .bearer(&a.admin.access_token)
        .send()
        .await;
    listed.assert_status(StatusCode::OK);
    assert!(!listed.text.contains(&secret), "{}", listed.text);
    assert_eq!(listed.json()[0]["id"], id.as_str());
    assert_eq!(listed.json()[0]["description"], "Entra ID");
    assert!(listed.json()[0].get("secret").is_none());

    // Missing, malformed and unknown tokens: 401 in the SCIM error format.
    let anonymous = app.get("/scim/v2/Users").send().await;
    assert_scim_error(&anonymous, StatusCode::UNAUTHORIZED, None);
    assert_eq!(anonymous.headers["www-authenticate"], "Bearer");
    for wrong in [
        "nonsense".to_owned(),
        a.admin.access_token.clone(),
        format!("{}x", &secret[..secret.len() - 1]),
    ] {
        let reply = app.get("/scim/v2/Users").bearer(&wrong).send().await;
        assert_scim_error(&reply, StatusCode::UNAUTHORIZED, None);
    }

    // A's token never reaches B: not on B's host or header, not with B's id put in the secret,
    // and B's users are unknown to it.
    let b_scim = Scim::of(&app, &b).await;
    for reply in [
        a_scim.call(Method::GET, "/Users").tenant("b").send().await,
        a_scim
            .call(Method::GET, "/Users")
            .host("b.lms.test")
            .send()
            .await,
    ] {
        assert_scim_error(&reply, StatusCode::UNAUTHORIZED, None);
    }
    let a_hex = a.id.replace('-', "");
    let b_hex = b.id.replace('-', "");
    let forged = secret.replace(&a_hex, &b_hex);
    assert_ne!(forged, secret);
    let reply = app.get("/scim/v2/Users").bearer(&forged).send().await;
    assert_scim_error(&reply, StatusCode::UNAUTHORIZED, None);
    let reply = a_scim.get(&format!("/Users/{}", b.learner.id)).await;
    assert_scim_error(&reply, StatusCode::NOT_FOUND, None);
    let everyone = a_scim.get("/Users").await.json();
    assert!(!everyone.to_string().contains(&b.learner.email));
    assert_eq!(everyone["totalResults"], 2, "{everyone}");
    // A's own token on A's header is fine.
    a_scim
        .call(Method::GET, "/Users")
        .tenant("a")
        .send()
        .await
        .assert_status(StatusCode::OK);
    // B's token works for B only.
    assert!(
        b_scim
            .get("/Users")
            .await
            .json()
            .to_string()
            .contains(&b.learner.email)
    );

    // Rotation: the old secret is refused at once, the new one works.
    let rotated = app
        .post(&format!("/api/v1/scim/tokens/{id}/rotate"))
        .tenant("a")
        .bearer(&a.admin.access_token)
        .send()
        .await;
    rotated.assert_status(StatusCode::CREATED);
    let new_secret = rotated.json()["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    assert_eq!(rotated.json()["description"], "Entra ID");
    assert_scim_error(&a_scim.get("/Users").await, StatusCode::UNAUTHORIZED, None);
    let a_scim = Scim {
        app: &app,
        token: new_secret,
    };
    a_scim.get("/Users").await.assert_status(StatusCode::OK);
    // A revoked token cannot be rotated again, nor B's token by A.
    app.post(&format!("/api/v1/scim/tokens/{id}/rotate"))
        .tenant("a")
        .bearer(&a.admin.access_token)
        .send()
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");

    // Revocation.
    let new_id = rotated.json()["id"].as_str().expect("id").to_owned();
    app.call(Method::DELETE, &format!("/api/v1/scim/tokens/{new_id}"))
        .tenant("b")
        .bearer(&b.admin.access_token)
        .send()
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    app.call(Method::DELETE, &format!("/api/v1/scim/tokens/{new_id}"))
        .tenant("a")
        .bearer(&a.admin.access_token)
        .send()
        .await
        .assert_status(StatusCode::NO_CONTENT);
    assert_scim_error(&a_scim.get("/Users").await, StatusCode::UNAUTHORIZED, None);

    // Every step is in A's audit trail.
    let audit = app
        .get("/api/v1/audit-events")
        .tenant("a")
        .bearer(&a.admin.access_token)
        .send()
        .await
        .json();
    for action in [
        "scim_token.created",
        "scim_token.rotated",
        "scim_token.revoked",
    ] {
        assert!(audit.to_string().contains(action), "{action}: {audit}");
    }
}

#[tokio::test]
async fn users_are_created_unique_ignoring_case_and_found_by_each_filter() {
    let app = TestApp::spawn().await;
    let a = app.seed_tenant("a").await;
    let scim = Scim::of(&app, &a).await;

    let mut body = user("Ann.Lee@Example.com");
    body["externalId"] = json!("ext-ann");
    body[ENTERPRISE] = json!({ "department": "Sales" });
    body["password"] = json!("ignored, sign-in is through SSO");
    let reply = scim.send(Method::POST, "/Users", body).await;
    reply.assert_status(StatusCode::CREATED);
    assert_eq!(
        reply.headers["content-type"], "application/scim+json",
        "{}",
        reply.text
    );
    let ann = reply.json();
    let id = ann["id"].as_str().expect("id").to_owned();
    assert_eq!(
        reply.headers["location"].to_str().expect("location"),
        ann["meta"]["location"].as_str().expect("location")
    );
    assert!(
        ann["meta"]["location"]
            .as_str()
            .expect("location")
            .ends_with(&format!("/scim/v2/Users/{id}"))
    );
    // Values are kept as sent; the password is not kept.
    assert_eq!(ann["userName"], "Ann.Lee@Example.com");
    assert_eq!(ann["externalId"], "ext-ann");
    assert_eq!(ann[ENTERPRISE]["department"], "Sales");
    assert_eq!(ann["active"], true);
    assert!(ann.get("password").is_none());
    assert_eq!(ann["schemas"], json!([USER, ENTERPRISE]));

    // The account: an active learner with the userName as email, and a user.created event.
    let account = app
        .get(&format!("/api/v1/users/{id}"))
        .tenant("a")
        .bearer(&a.admin.access_token)
        .send()
        .await;
    account.assert_status(StatusCode::OK);
    assert_eq!(account.json()["email"], "ann.lee@example.com");
    assert_eq!(account.json()["display_name"], "Ann Lee");
    assert_eq!(account.json()["status"], "active");
    assert_eq!(account.json()["roles"], json!(["learner"]));
    let events = app
        .get("/api/v1/events?type=user.created")
        .tenant("a")
        .bearer(&a.admin.access_token)
        .send()
        .await
        .json();
    assert!(
        events["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|e| e["data"]["user_id"] == id.as_str()),
        "{events}"
    );
    // A password sign-in is not possible for it.
    app.login("a", "ann.lee@example.com", "")
        .await
        .assert_status(StatusCode::UNAUTHORIZED);

    // The same userName in another case is taken; so is an existing local account's email.
    for taken in ["ANN.LEE@example.COM", &a.learner.email.to_uppercase()] {
        let reply = scim.send(Method::POST, "/Users", user(taken)).await;
        assert_scim_error(&reply, StatusCode::CONFLICT, Some("uniqueness"));
    }
    // A userName that is no email: the primary email is the account's.
    let mut bob = user("bob");
    bob["emails"] = json!([{ "value": "bob.home@example.com", "type": "home" },
                           { "value": "Bob@Example.com", "type": "work", "primary": true }]);
    let bob = scim.create_user(bob).await;
    let bob_id = bob["id"].as_str().expect("id");
    let reply = scim.send(Method::POST, "/Users", user("BOB")).await;
    assert_scim_error(&reply, StatusCode::CONFLICT, Some("uniqueness"));
    // No email anywhere: refused.
    let reply = scim
        .send(
            Method::POST,
            "/Users",
            json!({ "schemas": [USER], "userName": "carol" }),
        )
        .await;
    assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidValue"));
    let reply = scim
        .send(
            Method::POST,
            "/Users",
            json!({ "schemas": [USER], "active": "yes", "userName": "x@y.z" }),
        )
        .await;
    assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidValue"));

    // Filters.
    let ids = |found: Vec<Value>| -> Vec<String> {
        found
            .iter()
            .map(|u| u["id"].as_str().expect("id").to_owned())
            .collect()
    };
    assert_eq!(
        ids(scim
            .users_where(r#"userName eq "ANN.lee@example.com""#)
            .await),
        vec![id.clone()]
    );
    assert_eq!(
        ids(scim.users_where(r#"userName eq "Bob""#).await),
        vec![bob_id.to_owned()]
    );
    assert_eq!(
        ids(scim.users_where(r#"externalId eq "ext-ann""#).await),
        vec![id.clone()]
    );
    assert!(
        scim.users_where(r#"externalId eq "EXT-ANN""#)
            .await
            .is_empty()
    );
    assert_eq!(
        ids(scim
            .users_where(r#"emails[type eq "work"].value eq "bob@example.com""#)
            .await),
        vec![bob_id.to_owned()]
    );
    assert!(
        scim.users_where(r#"emails[type eq "work"].value eq "bob.home@example.com""#)
            .await
            .is_empty()
    );
    assert_eq!(
        ids(scim
            .users_where(r#"userName eq "Ann.Lee@Example.com" and externalId eq "ext-ann""#)
            .await),
        vec![id.clone()]
    );
    assert!(
        scim.users_where(r#"userName eq "Ann.Lee@Example.com" and externalId eq "ext-bob""#)
            .await
            .is_empty()
    );
    // A local account is found by its email as userName and as work email (Okta and Entra link
    // existing accounts this way before creating).
    let learner = scim
        .users_where(&format!(r#"userName eq "{}""#, a.learner.email))
        .await;
    assert_eq!(ids(learner.clone()), vec![a.learner.id.clone()]);
    assert_eq!(learner[0]["emails"][0]["value"], a.learner.email.as_str());
    assert_eq!(
        ids(scim
            .users_where(&format!(
                r#"emails[type eq "work"].value eq "{}""#,
                a.learner.email
            ))
            .await),
        vec![a.learner.id.clone()]
    );
    // A provisioned user's userName is the provider's, not the email.
    assert!(
        scim.users_where(r#"userName eq "bob@example.com""#)
            .await
            .is_empty()
    );
    // Ids compare as uuids, whatever their case; text that is no uuid matches nobody.
    assert_eq!(
        ids(scim
            .users_where(&format!(r#"id eq "{}""#, id.to_uppercase()))
            .await),
        vec![id.clone()]
    );
    assert!(scim.users_where(r#"id eq "not-a-uuid""#).await.is_empty());
    // No match: 200 with none.
    let none = scim
        .get(&format!(
            "/Users?filter={}",
            urlencode(r#"userName eq "nobody""#)
        ))
        .await;
    none.assert_status(StatusCode::OK);
    assert_eq!(none.json()["totalResults"], 0);
    assert_eq!(none.json()["Resources"], json!([]));

    // Anything else is invalidFilter.
    for bad in [
        r#"userName co "ann""#,
        r#"userName eq "a" or userName eq "b""#,
        r#"title eq "x""#,
        r#"emails[type eq "home"].value eq "x""#,
        r#"userName eq"#,
        "((",
        r#"roles[primary eq "True"].value eq "x""#,
    ] {
        let reply = scim.get(&format!("/Users?filter={}", urlencode(bad))).await;
        assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidFilter"));
    }
    let long = format!(r#"userName eq "{}""#, "a".repeat(1_000));
    let reply = scim
        .get(&format!("/Users?filter={}", urlencode(&long)))
        .await;
    assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidFilter"));
}

#[tokio::test]
async fn users_are_listed_in_one_based_pages() {
    let app = TestApp::spawn().await;
    let a = app.seed_tenant("a").await;
    let scim = Scim::of(&app, &a).await;
    for n in 0..5 {
        scim.create_user(user(&format!("user{n}@a.example"))).await;
    }
    // 7 users: the admin, the learner and the 5 above.
    let mut seen = Vec::new();
    let mut start = 1;
    loop {
        let page = scim
            .get(&format!("/Users?startIndex={start}&count=3"))
            .await;
        page.assert_status(StatusCode::OK);
        let page = page.json();
        assert_eq!(
            page["schemas"],
            json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
        );
        assert_eq!(page["totalResults"], 7, "{page}");
        assert_eq!(page["startIndex"], start);
        let resources = page["Resources"].as_array().expect("resources").clone();
        assert_eq!(page["itemsPerPage"], resources.len());
        if resources.is_empty() {
            break;
        }
        assert!(resources.len() <= 3);
        seen.extend(resources.into_iter().map(|r| r["id"].clone()));
        start += 3;
    }
    assert_eq!(seen.len(), 7);
    let mut unique = seen.clone();
    unique.sort_by_key(Value::to_string);
    unique.dedup();
    assert_eq!(unique.len(), 7, "pages repeated users: {seen:?}");
    // Okta's test connection.
    let first = scim.get("/Users?startIndex=1&count=2").await.json();
    assert_eq!(first["Resources"].as_array().map(Vec::len), Some(2));
    assert_eq!(first["Resources"][0]["id"], seen[0]);
    // Out-of-range values are read as RFC 7644 says; a page is at most 200.
    let zero = scim.get("/Users?startIndex=0&count=-4").await.json();
    assert_eq!(zero["startIndex"], 1);
    assert_eq!(zero["totalResults"], 7);
    assert_eq!(zero["Resources"], json!([]));
    let big = scim.get("/Users?count=100000").await.json();
    assert_eq!(big["Resources"].as_array().map(Vec::len), Some(7));
    let past = scim.get("/Users?startIndex=50").await.json();
    assert_eq!(past["totalResults"], 7);
    assert_eq!(past["Resources"], json!([]));
    let reply = scim.get("/Users?count=many").await;
    assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidValue"));
    // attributes / excludedAttributes.
    let only = scim.get("/Users?count=1&attributes=userName").await.json();
    let resource = only["Resources"][0].as_object().expect("resource");
    let mut keys: Vec<&str> = resource.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["id", "schemas", "userName"]);
    let without = scim
        .get("/Users?count=1&excludedAttributes=emails,name")
        .await
        .json();
    assert!(without["Resources"][0].get("emails").is_none());
    assert!(without["Resources"][0].get("userName").is_some());
}

#[tokio::test]
async fn put_replaces_and_patch_takes_entra_and_okta_forms() {
    let app = TestApp::spawn().await;
    let a = app.seed_tenant("a").await;
    let scim = Scim::of(&app, &a).await;
    let mut body = user("dana@a.example");
    body["title"] = json!("Engineer");
    body["externalId"] = json!("ext-dana");
    let dana = scim.create_user(body).await;
    let path = format!("/Users/{}", dana["id"].as_str().expect("id"));

    // PUT: the full object replaces the stored one; an absent `active` changes nothing.
    let replaced = scim
        .send(
            Method::PUT,
            &path,
            json!({
                "schemas": [USER],
                "userName": "dana@a.example",
                "name": { "givenName": "Dana", "familyName": "Ross" },
                "displayName": "Dana Ross",
                "emails": [{ "value": "dana@a.example", "type": "work", "primary": true }],
            }),
        )
        .await;
    replaced.assert_status(StatusCode::OK);
    let replaced = replaced.json();
    assert!(replaced.get("title").is_none(), "{replaced}");
    assert!(replaced.get("externalId").is_none(), "{replaced}");
    assert_eq!(replaced["displayName"], "Dana Ross");
    assert_eq!(replaced["active"], true);
    assert_eq!(scim.get(&path).await.json(), replaced);

    // Entra: capitalised ops, "False"/"True", path-less objects keyed by paths and URNs.
    let reply = scim
        .patch(
            &path,
            json!([
                { "op": "Replace", "value": {
                    "name.givenName": "Dee",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Finance",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "42",
                    "displayName": "Dee Ross",
                }},
                { "op": "Add", "path": "emails[type eq \"home\"].value", "value": "dee@home.example" },
                { "op": "Replace", "path": "title", "value": "Lead" },
            ]),
        )
        .await;
    reply.assert_status(StatusCode::OK);
    let patched = reply.json();
    assert_eq!(
        patched["name"],
        json!({ "givenName": "Dee", "familyName": "Ross" })
    );
    assert_eq!(
        patched[ENTERPRISE],
        json!({ "department": "Finance", "employeeNumber": "42" })
    );
    assert_eq!(patched["title"], "Lead");
    assert_eq!(patched["emails"].as_array().map(Vec::len), Some(2));
    assert_eq!(patched["displayName"], "Dee Ross");
    let account = app
        .get(&format!(
            "/api/v1/users/{}",
            dana["id"].as_str().expect("id")
        ))
        .tenant("a")
        .bearer(&a.admin.access_token)
        .send()
        .await
        .json();
    assert_eq!(account["display_name"], "Dee Ross");

    let reply = scim
        .patch(
            &path,
            json!([{ "op": "Replace", "path": "active", "value": "False" }]),
        )
        .await;
    reply.assert_status(StatusCode::OK);
    assert_eq!(reply.json()["active"], false);
    let reply = scim
        .patch(
            &path,
            json!([{ "op": "replace", "value": { "active": true } }]),
        )
        .await;
    reply.assert_status(StatusCode::OK);
    assert_eq!(reply.json()["active"], true);
    // Remove by path, the userName renamed (the login follows it).
    let reply = scim
        .patch(
            &path,
            json!([
                { "op": "remove", "path": "emails[type eq \"home\"]" },
                { "op": "Remove", "path": "title" },
                { "op": "replace", "path": "userName", "value": "dee@a.example" },
            ]),
        )
        .await;
    reply.assert_status(StatusCode::OK);
    let patched = reply.json();
    assert!(patched.get("title").is_none());
    assert_eq!(patched["emails"].as_array().map(Vec::len), Some(1));
    assert_eq!(patched["userName"], "dee@a.example");

    // Malformed PATCHes: the SCIM types, and nothing changed.
    let cases = [
        (
            json!({ "Operations": [{ "op": "add", "path": "title", "value": "x" }] }),
            "invalidSyntax",
        ),
        (
            json!({ "schemas": [PATCH_OP], "Operations": [{ "op": "copy", "path": "title" }] }),
            "invalidSyntax",
        ),
        (
            json!({ "schemas": [PATCH_OP], "Operations": [{ "op": "remove" }] }),
            "noTarget",
        ),
        (
            json!({ "schemas": [PATCH_OP], "Operations": [{ "op": "add", "path": "name.nick", "value": "x" }] }),
            "invalidPath",
        ),
        (
            json!({ "schemas": [PATCH_OP], "Operations": [{ "op": "replace", "path": "active", "value": "perhaps" }] }),
            "invalidValue",
        ),
        (
            json!({ "schemas": [PATCH_OP], "Operations": [{ "op": "remove", "path": "active" }] }),
            "mutability",
        ),
        (
            json!({ "schemas": [PATCH_OP], "Operations": vec![json!({ "op": "replace", "path": "title", "value": "x" }); 101] }),
            "tooMany",
        ),
    ];
    for (body, scim_type) in cases {
        let reply = scim.send(Method::PATCH, &path, body).await;
        assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some(scim_type));
    }
    // A rename onto another user's userName is a uniqueness conflict.
    scim.create_user(user("erin@a.example")).await;
    let reply = scim
        .patch(
            &path,
            json!([{ "op": "replace", "path": "userName", "value": "ERIN@a.example" }]),
        )
        .await;
    assert_scim_error(&reply, StatusCode::CONFLICT, Some("uniqueness"));
    assert_eq!(scim.get(&path).await.json()["userName"], "dee@a.example");
    // Unknown ids.
    let reply = scim
        .patch(
            "/Users/not-an-id",
            json!([{ "op": "replace", "path": "title", "value": "x" }]),
        )
        .await;
    assert_scim_error(&reply, StatusCode::NOT_FOUND, None);
    let reply = scim
        .get("/Users/0190a3b4-0000-7000-8000-000000000000")
        .await;
    assert_scim_error(&reply, StatusCode::NOT_FOUND, None);
}

#[tokio::test]
async fn deactivation_ends_every_session_at_once_and_delete_keeps_the_account() {
    let app = TestApp::spawn().await;
    let a = app.seed_tenant("a").await;
    let scim = Scim::of(&app, &a).await;
    // The learner signed in with a password; the identity provider links the account.
    let found = scim
        .users_where(&format!(r#"userName eq "{}""#, a.learner.email))
        .await;
    let path = format!("/Users/{}", found[0]["id"].as_str().expect("id"));
    app.refresh("a", &a.learner.refresh_token)
        .await
        .assert_status(StatusCode::OK);
    let second = app
        .login("a", &a.learner.email, crate::helpers::PASSWORD)
        .await;
    second.assert_status(StatusCode::OK);
    let second = crate::helpers::user_from_session(&second.json(), &a.learner.email);

    let reply = scim
        .patch(
            &path,
            json!([{ "op": "Replace", "path": "active", "value": "False" }]),
        )
        .await;
    reply.assert_status(StatusCode::OK);
    assert_eq!(reply.json()["active"], false);
    // Every session ends at once: access tokens and refresh tokens of both sign-ins.
    app.me("a", &second.access_token)
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
    app.refresh("a", &second.refresh_token)
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
    app.login("a", &a.learner.email, crate::helpers::PASSWORD)
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
    // Still listable, inactive; the seat is free (the account is deactivated).
    let listed = scim
        .users_where(&format!(r#"userName eq "{}""#, a.learner.email))
        .await;
    assert_eq!(listed[0]["active"], false);
    let account = app
        .get(&format!("/api/v1/users/{}", a.learner.id))
        .tenant("a")
        .bearer(&a.admin.access_token)
        .send()
        .await
        .json();
    assert_eq!(account["status"], "deactivated");
    let events = app
        .get("/api/v1/events?type=user.deactivated")
        .tenant("a")
        .bearer(&a.admin.access_token)
        .send()
        .await
        .json();
    assert_eq!(events["items"][0]["data"]["user_id"], a.learner.id.as_str());

    // Reactivated: a password sign-in works again.
    scim.patch(
        &path,
        json!([{ "op": "Replace", "path": "active", "value": "True" }]),
    )
    .await
    .assert_status(StatusCode::OK);
    app.login("a", &a.learner.email, crate::helpers::PASSWORD)
        .await
        .assert_status(StatusCode::OK);

    // The organisation's last admin cannot be deactivated through SCIM either.
    let admin = scim
        .users_where(&format!(r#"userName eq "{}""#, a.admin.email))
        .await;
    let reply = scim
        .patch(
            &format!("/Users/{}", admin[0]["id"].as_str().expect("id")),
            json!([{ "op": "replace", "path": "active", "value": false }]),
        )
        .await;
    assert_scim_error(&reply, StatusCode::CONFLICT, None);

    // DELETE: 204, gone from SCIM, the account deactivated (its records stay).
    let created = scim.create_user(user("frank@a.example")).await;
    let frank = format!("/Users/{}", created["id"].as_str().expect("id"));
    scim.call(Method::DELETE, &frank)
        .send()
        .await
        .assert_status(StatusCode::NO_CONTENT);
    assert_scim_error(&scim.get(&frank).await, StatusCode::NOT_FOUND, None);
    assert_scim_error(
        &scim.call(Method::DELETE, &frank).send().await,
        StatusCode::NOT_FOUND,
        None,
    );
    assert!(
        scim.users_where(r#"userName eq "frank@a.example""#)
            .await
            .is_empty()
    );
    let account = app
        .get(&format!(
            "/api/v1/users/{}",
            created["id"].as_str().expect("id")
        ))
        .tenant("a")
        .bearer(&a.admin.access_token)
        .send()
        .await
        .json();
    assert_eq!(account["status"], "deactivated");
    // Provisioned again: the same account comes back, active.
    let again = scim.create_user(user("Frank@a.example")).await;
    assert_eq!(again["id"], created["id"]);
    assert_eq!(again["active"], true);
    assert_eq!(again["userName"], "Frank@a.example");
}

/// The cohort's member ids, sorted, through the cohorts API.
async fn cohort_members(app: &TestApp, t: &TestTenant, cohort: &str) -> Vec<String> {
    let reply = app
        .get(&format!("/api/v1/cohorts/{cohort}/members"))
        .tenant(&t.slug)
        .bearer(&t.admin.access_token)
        .send()
        .await;
    reply.assert_status(StatusCode::OK);
    let mut ids: Vec<String> = reply.json()["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|m| m["user_id"].as_str().expect("id").to_owned())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn groups_are_cohorts_with_members_changed_by_patch() {
    let app = TestApp::spawn().await;
    let a = app.seed_tenant("a").await;
    let b = app.seed_tenant("b").await;
    let scim = Scim::of(&app, &a).await;
    let u1 = scim.create_user(user("g1@a.example")).await["id"].clone();
    let u2 = scim.create_user(user("g2@a.example")).await["id"].clone();
    let u3 = scim.create_user(user("g3@a.example")).await["id"].clone();

    let reply = scim
        .send(
            Method::POST,
            "/Groups",
            json!({ "schemas": [GROUP], "displayName": "Sales Team", "externalId": "grp-1",
                    "members": [{ "value": u1 }, { "value": u2 }] }),
        )
        .await;
    reply.assert_status(StatusCode::CREATED);
    let group = reply.json();
    let id = group["id"].as_str().expect("id").to_owned();
    assert_eq!(group["externalId"], "grp-1");
    assert_eq!(group["members"].as_array().map(Vec::len), Some(2));
    assert_eq!(group["members"][0]["display"], "Ann Lee");
    // It is a cohort with these members.
    let sorted = |ids: &[&Value]| {
        let mut ids: Vec<String> = ids
            .iter()
            .map(|v| v.as_str().expect("id").to_owned())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(cohort_members(&app, &a, &id).await, sorted(&[&u1, &u2]));
    // Same name in another case: taken.
    let reply = scim
        .send(
            Method::POST,
            "/Groups",
            json!({ "schemas": [GROUP], "displayName": "SALES team" }),
        )
        .await;
    assert_scim_error(&reply, StatusCode::CONFLICT, Some("uniqueness"));
    // Members must be users of the organisation.
    let reply = scim
        .send(
            Method::POST,
            "/Groups",
            json!({ "schemas": [GROUP], "displayName": "Other", "members": [{ "value": b.learner.id }] }),
        )
        .await;
    assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidValue"));

    // Entra's member changes: add, remove by filter, remove by value list.
    let path = format!("/Groups/{id}");
    scim.patch(
        &path,
        json!([{ "op": "Add", "path": "members", "value": [{ "value": u3 }] }]),
    )
    .await
    .assert_status(StatusCode::OK);
    assert_eq!(
        cohort_members(&app, &a, &id).await,
        sorted(&[&u1, &u2, &u3])
    );
    scim.patch(
        &path,
        json!([{ "op": "Remove", "path": format!("members[value eq \"{}\"]", u1.as_str().expect("id")) }]),
    )
    .await
    .assert_status(StatusCode::OK);
    assert_eq!(cohort_members(&app, &a, &id).await, sorted(&[&u2, &u3]));
    scim.patch(
        &path,
        json!([{ "op": "Remove", "path": "members", "value": [{ "value": u2 }] }]),
    )
    .await
    .assert_status(StatusCode::OK);
    assert_eq!(cohort_members(&app, &a, &id).await, sorted(&[&u3]));
    // Renamed by a path-less replace.
    let renamed = scim
        .patch(
            &path,
            json!([{ "op": "Replace", "value": { "id": id, "displayName": "Sales EMEA" } }]),
        )
        .await;
    renamed.assert_status(StatusCode::OK);
    assert_eq!(renamed.json()["displayName"], "Sales EMEA");
    // A foreign user cannot be added by PATCH either.
    let reply = scim
        .patch(
            &path,
            json!([{ "op": "add", "path": "members", "value": [{ "value": b.learner.id }] }]),
        )
        .await;
    assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidValue"));

    // Filters and excludedAttributes=members.
    let listed = scim
        .get(&format!(
            "/Groups?excludedAttributes=members&filter={}",
            urlencode(r#"displayName eq "sales emea""#)
        ))
        .await
        .json();
    assert_eq!(listed["totalResults"], 1);
    assert_eq!(listed["Resources"][0]["id"], id.as_str());
    assert!(listed["Resources"][0].get("members").is_none());
    let member_of = scim
        .get(&format!(
            "/Groups?filter={}",
            urlencode(&format!(
                r#"id eq "{id}" and members[value eq "{}"]"#,
                u3.as_str().expect("id")
            ))
        ))
        .await
        .json();
    assert_eq!(member_of["totalResults"], 1);
    let not_member = scim
        .get(&format!(
            "/Groups?filter={}",
            urlencode(&format!(
                r#"members[value eq "{}"]"#,
                u1.as_str().expect("id")
            ))
        ))
        .await
        .json();
    assert_eq!(not_member["totalResults"], 0);
    let single = scim
        .get(&format!("{path}?excludedAttributes=members"))
        .await
        .json();
    assert!(single.get("members").is_none());
    assert_eq!(
        scim.get(&format!(
            "/Groups?filter={}",
            urlencode(r#"externalId eq "grp-1""#)
        ))
        .await
        .json()["totalResults"],
        1
    );
    let reply = scim
        .get(&format!(
            "/Groups?filter={}",
            urlencode(r#"displayName co "x""#)
        ))
        .await;
    assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidFilter"));

    // PUT sets the exact member list.
    let put = scim
        .send(
            Method::PUT,
            &path,
            json!({ "schemas": [GROUP], "displayName": "Sales EMEA", "members": [{ "value": u1 }] }),
        )
        .await;
    put.assert_status(StatusCode::OK);
    assert_eq!(cohort_members(&app, &a, &id).await, sorted(&[&u1]));
    assert!(put.json().get("externalId").is_none());

    // B's token does not see A's group.
    let b_scim = Scim::of(&app, &b).await;
    assert_scim_error(&b_scim.get(&path).await, StatusCode::NOT_FOUND, None);
    assert_scim_error(
        &b_scim.call(Method::DELETE, &path).send().await,
        StatusCode::NOT_FOUND,
        None,
    );
    // Deleting the group deletes the cohort, not its users.
    scim.call(Method::DELETE, &path)
        .send()
        .await
        .assert_status(StatusCode::NO_CONTENT);
    app.get(&format!("/api/v1/cohorts/{id}"))
        .tenant("a")
        .bearer(&a.admin.access_token)
        .send()
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    scim.get(&format!("/Users/{}", u1.as_str().expect("id")))
        .await
        .assert_status(StatusCode::OK);
}

#[tokio::test]
async fn discovery_errors_and_bounds() {
    let app = TestApp::spawn().await;
    let a = app.seed_tenant("a").await;
    let scim = Scim::of(&app, &a).await;
    let config = scim.get("/ServiceProviderConfig").await;
    config.assert_status(StatusCode::OK);
    assert_eq!(config.headers["content-type"], "application/scim+json");
    assert_eq!(config.json()["patch"]["supported"], true);
    assert_eq!(config.json()["filter"]["maxResults"], 200);
    let types = scim.get("/ResourceTypes").await.json();
    assert_eq!(types["totalResults"], 2);
    scim.get("/ResourceTypes/User")
        .await
        .assert_status(StatusCode::OK);
    let schemas = scim.get("/Schemas").await.json();
    let ids: Vec<&str> = schemas["Resources"]
        .as_array()
        .expect("resources")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(ids, [USER, ENTERPRISE, GROUP]);
    scim.get(&format!("/Schemas/{USER}"))
        .await
        .assert_status(StatusCode::OK);
    assert_scim_error(
        &scim.get("/Schemas/urn:nope").await,
        StatusCode::NOT_FOUND,
        None,
    );
    // Unknown paths and methods below /scim answer in the SCIM format too.
    assert_scim_error(&scim.get("/Nothing").await, StatusCode::NOT_FOUND, None);
    assert_scim_error(
        &scim.call(Method::DELETE, "/Users").send().await,
        StatusCode::METHOD_NOT_ALLOWED,
        None,
    );
    assert_scim_error(
        &scim.send(Method::POST, "/.search", json!({})).await,
        StatusCode::NOT_IMPLEMENTED,
        None,
    );

    // Bodies: bounded, JSON only.
    let huge =
        json!({ "schemas": [USER], "userName": "h@a.example", "title": "x".repeat(300 * 1024) });
    let reply = scim.send(Method::POST, "/Users", huge).await;
    assert_scim_error(&reply, StatusCode::PAYLOAD_TOO_LARGE, None);
    let reply = scim
        .call(Method::POST, "/Users")
        .raw(Some("application/scim+json"), "{not json")
        .send()
        .await;
    assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidSyntax"));
    let reply = scim
        .call(Method::POST, "/Users")
        .raw(Some("text/plain"), "{}")
        .send()
        .await;
    assert_scim_error(&reply, StatusCode::UNSUPPORTED_MEDIA_TYPE, None);
    let long_title =
        json!({ "schemas": [USER], "userName": "t@a.example", "title": "x".repeat(300) });
    let reply = scim.send(Method::POST, "/Users", long_title).await;
    assert_scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidValue"));
    let nul = json!({ "schemas": [USER], "userName": "n\u{0}@a.example" });
    let reply = scim.send(Method::POST, "/Users", nul).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
}

/// Okta's SCIM 2.0 spec test, step by step (developer.okta.com, Okta-SCIM-20-SPEC-Test).
#[tokio::test]
async fn okta_spec_test_sequence() {
    let app = TestApp::spawn().await;
    let a = app.seed_tenant("a").await;
    let scim = Scim::of(&app, &a).await;
    scim.create_user(user("seed@a.example")).await;
    // Test connection: a page of users with numeric paging fields.
    let page = scim.get("/Users?count=1&startIndex=1").await;
    page.assert_status(StatusCode::OK);
    let page = page.json();
    assert!(
        page["totalResults"].is_number()
            && page["itemsPerPage"].is_number()
            && page["startIndex"].is_number()
    );
    let first = &page["Resources"][0];
    assert!(first["id"].is_string() && first["userName"].is_string());
    assert_eq!(first["active"], true);
    assert!(first["emails"][0]["value"].is_string());
    // Look up before create: none.
    let name = "Okta.User@A.example";
    let none = scim.users_where(&format!(r#"userName eq "{name}""#)).await;
    assert!(none.is_empty());
    // Create (Okta sends a password even when sync is off).
    let created = scim
        .create_user(json!({
            "schemas": [USER],
            "userName": name,
            "name": { "givenName": "Okta", "familyName": "User" },
            "emails": [{ "primary": true, "value": name, "type": "work" }],
            "displayName": "Okta User",
            "locale": "en-US",
            "externalId": "00u1",
            "groups": [],
            "password": "1mz050nq",
            "active": true,
        }))
        .await;
    let path = format!("/Users/{}", created["id"].as_str().expect("id"));
    // Duplicate: 409; UPPERCASE lookup finds it.
    let reply = scim.send(Method::POST, "/Users", user(name)).await;
    assert_scim_error(&reply, StatusCode::CONFLICT, Some("uniqueness"));
    assert_eq!(
        scim.users_where(&format!(r#"userName eq "{}""#, name.to_uppercase()))
            .await
            .len(),
        1
    );
    // Get by id; unknown id is 404 with detail.
    assert_eq!(scim.get(&path).await.json()["userName"], name);
    let missing = scim.get("/Users/010101").await;
    assert_scim_error(&missing, StatusCode::NOT_FOUND, None);
    assert!(missing.json()["detail"].is_string());
    // App-wizard apps: read-modify-write PUT.
    let mut object = scim.get(&path).await.json();
    object["name"]["givenName"] = json!("Changed");
    let put = scim.send(Method::PUT, &path, object).await;
    put.assert_status(StatusCode::OK);
    assert_eq!(put.json()["name"]["givenName"], "Changed");
    assert_eq!(put.json()["active"], true);
    // Deactivate and reactivate with path-less PATCH.
    let off = scim
        .patch(
            &path,
            json!([{ "op": "replace", "value": { "active": false } }]),
        )
        .await;
    off.assert_status(StatusCode::OK);
    assert_eq!(off.json()["active"], false);
    let on = scim
        .patch(
            &path,
            json!([{ "op": "replace", "value": { "active": true } }]),
        )
        .await;
    assert_eq!(on.json()["active"], true);
    // Groups list, and a bad token.
    scim.get("/Groups").await.assert_status(StatusCode::OK);
    let bad = app.get("/scim/v2/Users").bearer("wrong-token").send().await;
    assert_scim_error(&bad, StatusCode::UNAUTHORIZED, None);
}

/// Entra ID's provisioning calls (learn.microsoft.com, "Tutorial: Develop a SCIM endpoint"),
/// in the default (non-compliant) PATCH mode and in the `aadOptscim062020` mode.
#[tokio::test]
async fn entra_provisioning_sequence() {
    let app = TestApp::spawn().await;
    let a = app.seed_tenant("a").await;
    let scim = Scim::of(&app, &a).await;
    // Test connection: a random filter that finds nothing.
    let probe = scim
        .users_where(r#"userName eq "non-existent user 1b7c5e4a""#)
        .await;
    assert!(probe.is_empty());
    scim.get(&format!(
        "/Groups?excludedAttributes=members&filter={}",
        urlencode(r#"displayName eq "non-existent group""#)
    ))
    .await
    .assert_status(StatusCode::OK);
    // Match by userName, then create.
    assert!(
        scim.users_where(r#"userName eq "Test_User_ab6490ee@contoso.example""#)
            .await
            .is_empty()
    );
    let created = scim
        .create_user(json!({
            "schemas": [USER, ENTERPRISE],
            "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "userName": "Test_User_ab6490ee@contoso.example",
            "active": true,
            "addresses": [{ "primary": true, "type": "work", "formatted": "Test_User_formatted" }],
            "displayName": "Test_User_4bbd7a17",
            "emails": [{ "primary": true, "type": "work", "value": "Test_User_11bb6cd6@contoso.example" }],
            "meta": { "resourceType": "User" },
            "name": { "familyName": "Test_User_familyName", "givenName": "Test_User_givenName" },
            "title": "Test_User_title",
            ENTERPRISE: { "department": "Test_User_department", "employeeNumber": "E1" },
        }))
        .await;
    let id = created["id"].as_str().expect("id").to_owned();
    let path = format!("/Users/{id}");
    assert_eq!(created[ENTERPRISE]["department"], "Test_User_department");
    // Lookups by externalId and by id.
    assert_eq!(
        scim.users_where(r#"externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef""#)
            .await
            .len(),
        1
    );
    assert_eq!(scim.users_where(&format!(r#"id eq "{id}""#)).await.len(), 1);
    // Default mode: multi-attribute update as one path-less op.
    let reply = scim
        .patch(
            &path,
            json!([{ "op": "Replace", "value": {
                "displayName": "Updated Name",
                "name.givenName": "Updated",
                "name.familyName": "Person",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "E2",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Sales",
            }}]),
        )
        .await;
    reply.assert_status(StatusCode::OK);
    let updated = reply.json();
    assert_eq!(
        updated["name"],
        json!({ "givenName": "Updated", "familyName": "Person" })
    );
    assert_eq!(
        updated[ENTERPRISE],
        json!({ "department": "Sales", "employeeNumber": "E2" })
    );
    // Attribute updates by path, as Entra sends them.
    scim.patch(
        &path,
        json!([
            { "op": "Add", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@contoso.example" },
            { "op": "Replace", "path": "externalId", "value": "updated-external" },
            { "op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "ignored" },
        ]),
    )
    .await
    .assert_status(StatusCode::OK);
    let now = scim.get(&path).await.json();
    assert_eq!(now["emails"][0]["value"], "updatedEmail@contoso.example");
    assert_eq!(now["externalId"], "updated-external");
    // Disable: default mode ("False" string) and compliant mode (boolean).
    let off = scim
        .patch(
            &path,
            json!([{ "op": "Replace", "path": "active", "value": "False" }]),
        )
        .await;
    assert_eq!(off.json()["active"], false);
    let on = scim
        .patch(
            &path,
            json!([{ "op": "replace", "path": "active", "value": true }]),
        )
        .await;
    assert_eq!(on.json()["active"], true);

    // Groups: create, add member, remove in both modes.
    let group = scim
        .send(
            Method::POST,
            "/Groups",
            json!({ "schemas": [GROUP], "externalId": "8aa1a0c0", "displayName": "Group1DisplayName", "meta": { "resourceType": "Group" } }),
        )
        .await;
    group.assert_status(StatusCode::CREATED);
    let group_path = format!("/Groups/{}", group.json()["id"].as_str().expect("id"));
    scim.patch(
        &group_path,
        json!([{ "op": "Add", "path": "members", "value": [{ "$ref": null, "value": id }] }]),
    )
    .await
    .assert_status(StatusCode::OK);
    let with = scim.get(&group_path).await.json();
    assert_eq!(with["members"][0]["value"], id.as_str());
    scim.patch(
        &group_path,
        json!([{ "op": "Remove", "path": "members", "value": [{ "$ref": null, "value": id }] }]),
    )
    .await
    .assert_status(StatusCode::OK);
    assert!(scim.get(&group_path).await.json().get("members").is_none());
    scim.patch(
        &group_path,
        json!([{ "op": "add", "path": "members", "value": [{ "value": id }] }]),
    )
    .await
    .assert_status(StatusCode::OK);
    scim.patch(
        &group_path,
        json!([{ "op": "remove", "path": format!("members[value eq \"{id}\"]") }]),
    )
    .await
    .assert_status(StatusCode::OK);
    assert!(scim.get(&group_path).await.json().get("members").is_none());
    // Rename.
    let renamed = scim
        .patch(&group_path, json!([{ "op": "Replace", "path": "displayName", "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName" }]))
        .await;
    renamed.assert_status(StatusCode::OK);
    // Soft delete then hard delete of the user.
    scim.call(Method::DELETE, &path)
        .send()
        .await
        .assert_status(StatusCode::NO_CONTENT);
    assert_scim_error(&scim.get(&path).await, StatusCode::NOT_FOUND, None);
    scim.call(Method::DELETE, &group_path)
        .send()
        .await
        .assert_status(StatusCode::NO_CONTENT);
}

/// The third-party validator `scim2-tester` (PyPI) against the running server, through
/// `platform/tests/peers/scim_check.py`.
#[tokio::test]
async fn scim2_tester_passes() {
    let app = TestApp::spawn().await;
    let a = app.seed_tenant("a").await;
    let scim = Scim::of(&app, &a).await;
    let python = std::env::var("LMS_TEST_PYTHON").unwrap_or_else(|_| {
        panic!(
            "LMS_TEST_PYTHON is not set (the python of the test-peers venv): run `cargo xtask test`"
        )
    });
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/scim_check.py");
    let base = format!("{}/scim/v2", app.address);
    let token = scim.token.clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&python)
            .args([script, &base, &token])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("run {script} with {python}: {e}"))
    })
    .await
    .expect("validator ran");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "scim2-tester found problems:\n{stdout}\n{stderr}"
    );
    // It really ran the CRUD and PATCH checks, not only discovery.
    for needle in [
        "crud:create",
        "crud:read",
        "crud:update",
        "crud:delete",
        "patch:replace",
    ] {
        assert!(stdout.contains(needle), "no {needle} check ran:\n{stdout}");
    }
}
