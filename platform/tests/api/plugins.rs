//! The plugin registry: uploads and their validation, immutability, capability grants, enable,
//! disable and rollback, publisher signatures, the first-party catalog, grading and its typed
//! failures, and the bounded, tenant-isolated invocation records. Needs the built plugins
//! (`LMS_PLUGIN_ARTIFACTS`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signer, SigningKey};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{
    Reply, TestApp, TestTenant, TestUser, paths, plugin_upload, plugin_wasm, test_config,
};

fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

async fn as_admin(
    app: &TestApp,
    t: &TestTenant,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Reply {
    as_user(app, &t.slug, &t.admin, method, path, body).await
}

async fn as_user(
    app: &TestApp,
    slug: &str,
    user: &TestUser,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Reply {
    let call = app
        .call(method, path)
        .tenant(slug)
        .bearer(&user.access_token);
    match body {
        Some(body) => call.json(body).send().await,
        None => call.send().await,
    }
}

async fn upload(app: &TestApp, t: &TestTenant, body: Value) -> Reply {
    as_admin(app, t, Method::POST, "/api/v1/plugins", Some(body)).await
}

async fn install(app: &TestApp, t: &TestTenant, name: &str, version: &str, grant: Value) -> Reply {
    as_admin(
        app,
        t,
        Method::POST,
        &paths::plugin_install(name, version),
        Some(json!({ "granted_capabilities": grant })),
    )
    .await
}

/// Uploads `file` as `name@version`, installs it with `log` and enables it.
async fn ready(app: &TestApp, t: &TestTenant, name: &str, version: &str, file: &str) {
    upload(app, t, plugin_upload(name, version, &plugin_wasm(file)))
        .await
        .assert_status(StatusCode::CREATED);
    install(app, t, name, version, json!(["log"]))
        .await
        .assert_status(StatusCode::OK);
    as_admin(app, t, Method::POST, &paths::plugin_enable(name), None)
        .await
        .assert_status(StatusCode::OK);
}

fn numeric_request(response: &str) -> Value {
    json!({
        "question_kind": "numeric",
        "prompt": "How fast does a stone fall after one second?",
        "config": { "answer": 9.81, "unit": "m", "tolerance": { "absolute": 0.05 } },
        "max_points": 2.0,
        "response_text": response,
    })
}

async fn grade(app: &TestApp, slug: &str, user: &TestUser, name: &str, body: Value) -> Reply {
    as_user(
        app,
        slug,
        user,
        Method::POST,
        &format!("/api/v1/plugins/{name}/grade"),
        Some(body),
    )
    .await
}

fn field_codes(reply: &Reply) -> Vec<(String, String)> {
    reply.json()["errors"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap_or_default().to_owned(),
                e["code"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn uploads_are_validated_hashed_and_immutable() {
    let (app, t) = TestApp::with_tenant("acme").await;
    let numeric = plugin_wasm("numeric_grader");

    let created = upload(&app, &t, plugin_upload("my-numeric", "1.0.0", &numeric)).await;
    created.assert_status(StatusCode::CREATED);
    let body = created.json();
    assert_eq!(body["sha256"], hex_sha256(&numeric));
    assert_eq!(body["size_bytes"], numeric.len());
    assert_eq!(body["wit_version"], "0.1.0");
    assert_eq!(body["source"], "upload");
    assert_eq!(body["installed_at"], Value::Null);
    assert_eq!(body["manifest"]["name"], "my-numeric");
    assert_eq!(body["capabilities"]["requested"], json!(["log"]));
    assert_eq!(body["capabilities"]["granted"], Value::Null);

    // The same bytes again: the stored version. Other bytes under the same version: refused.
    let again = upload(&app, &t, plugin_upload("my-numeric", "1.0.0", &numeric)).await;
    again.assert_status(StatusCode::OK);
    assert_eq!(again.json()["id"], body["id"]);
    let changed = upload(
        &app,
        &t,
        plugin_upload("my-numeric", "1.0.0", &plugin_wasm("lab_flag_grader")),
    )
    .await;
    changed.assert_problem(StatusCode::CONFLICT, "rejected");
    assert_eq!(
        field_codes(&changed),
        [("component".to_owned(), "version_conflict".to_owned())]
    );

    // Hostile or broken components never enter the registry.
    let bad_import = upload(
        &app,
        &t,
        plugin_upload("sneaky", "1.0.0", &plugin_wasm("bad-import")),
    )
    .await;
    bad_import.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "rejected");
    assert_eq!(
        field_codes(&bad_import)[0].1,
        "forbidden_import",
        "{}",
        bad_import.text
    );
    let garbage = upload(
        &app,
        &t,
        plugin_upload("garbage", "1.0.0", b"\0asm not really"),
    )
    .await;
    garbage.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "rejected");
    assert_eq!(field_codes(&garbage)[0].1, "malformed");
    let mut huge = numeric.clone();
    huge.resize((10 << 20) + 1, 0);
    let too_large = upload(&app, &t, plugin_upload("huge", "1.0.0", &huge)).await;
    too_large.assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "rejected");
    assert_eq!(field_codes(&too_large)[0].1, "too_large");
    let mut not_base64 = plugin_upload("my-numeric", "2.0.0", &numeric);
    not_base64["component"] = json!("***");
    upload(&app, &t, not_base64)
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

    // Manifests: graders ask only for log, capabilities are a closed set, versions are semver,
    // and the config schema must be a JSON Schema.
    for (field, value, expected) in [
        (
            "capabilities",
            json!(["log", "http"]),
            "capability_not_allowed",
        ),
        ("capabilities", json!(["telepathy"]), "invalid_value"),
        ("version", json!("1.0"), "invalid_value"),
        ("name", json!("Not A Name"), "invalid_value"),
        ("world", json!("integration"), "invalid_value"),
        (
            "config_schema",
            json!({ "type": "no-such-type" }),
            "invalid_schema",
        ),
        (
            "config_schema",
            json!({ "$ref": "https://attacker.example/schema.json" }),
            "invalid_schema",
        ),
    ] {
        let mut body = plugin_upload("my-numeric", "3.0.0", &numeric);
        body["manifest"][field] = value.clone();
        let reply = upload(&app, &t, body).await;
        reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert!(
            field_codes(&reply).iter().any(|(_, code)| code == expected),
            "{field} = {value}: {}",
            reply.text
        );
    }

    // What the registry shows.
    let plugin = as_admin(&app, &t, Method::GET, "/api/v1/plugins/my-numeric", None).await;
    plugin.assert_status(StatusCode::OK);
    assert_eq!(plugin.json()["enabled"], false);
    assert_eq!(plugin.json()["active_version"], Value::Null);
    assert_eq!(plugin.json()["version_count"], 1);
    let versions = as_admin(
        &app,
        &t,
        Method::GET,
        "/api/v1/plugins/my-numeric/versions",
        None,
    )
    .await;
    versions.assert_status(StatusCode::OK);
    assert_eq!(versions.json().as_array().map(Vec::len), Some(1));
    let detail = as_admin(
        &app,
        &t,
        Method::GET,
        "/api/v1/plugins/my-numeric/versions/1.0.0",
        None,
    )
    .await;
    detail.assert_status(StatusCode::OK);
    assert_eq!(detail.json()["manifest"]["capabilities"], json!(["log"]));
    let listed = as_admin(&app, &t, Method::GET, "/api/v1/plugins", None).await;
    listed.assert_status(StatusCode::OK);
    let listed = listed.json();
    let names: Vec<&str> = listed["items"]
        .as_array()
        .map(|items| items.iter().filter_map(|p| p["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        names,
        ["my-numeric"],
        "rejected uploads left plugins behind"
    );
    for missing in [
        "/api/v1/plugins/nope",
        "/api/v1/plugins/my-numeric/versions/9.9.9",
        "/api/v1/plugins/NOT%20A%20NAME",
    ] {
        as_admin(&app, &t, Method::GET, missing, None)
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
    }
    let mut su = app.db.superuser().await;
    let stored: i64 = sqlx::query_scalar("select count(*) from plugin_components")
        .fetch_one(&mut su)
        .await
        .expect("count");
    assert_eq!(stored, 1, "only the accepted component is stored");
}

#[tokio::test]
async fn only_tenant_admins_manage_plugins_and_learners_cannot_grade() {
    let (app, t) = TestApp::with_tenant("acme").await;
    let instructor = app
        .instructor("acme", "teacher@acme.example", &t.admin)
        .await;
    ready(&app, &t, "my-numeric", "1.0.0", "numeric_grader").await;
    let numeric = plugin_wasm("numeric_grader");
    for user in [&t.learner, &instructor] {
        for (method, path, body) in [
            (
                Method::POST,
                "/api/v1/plugins",
                Some(plugin_upload("theirs", "1.0.0", &numeric)),
            ),
            (Method::GET, "/api/v1/plugins", None),
            (Method::GET, "/api/v1/plugins/my-numeric", None),
            (Method::POST, "/api/v1/plugins/my-numeric/disable", None),
            (Method::GET, "/api/v1/plugin-catalog", None),
            (Method::GET, "/api/v1/plugin-invocations", None),
            (
                Method::PUT,
                "/api/v1/plugin-registry",
                Some(json!({ "require_signatures": true })),
            ),
        ] {
            as_user(&app, "acme", user, method.clone(), path, body)
                .await
                .assert_problem(StatusCode::FORBIDDEN, "forbidden");
        }
    }
    // Instructors grade; learners do not.
    grade(
        &app,
        "acme",
        &instructor,
        "my-numeric",
        numeric_request("9.8 m"),
    )
    .await
    .assert_status(StatusCode::OK);
    grade(
        &app,
        "acme",
        &t.learner,
        "my-numeric",
        numeric_request("9.8 m"),
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    // Unauthenticated: 401.
    app.get("/api/v1/plugins")
        .tenant("acme")
        .send()
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "missing_token");
}

#[tokio::test]
async fn installs_grant_exactly_what_is_asked_and_the_active_version_moves() {
    let (app, t) = TestApp::with_tenant("acme").await;
    let numeric = plugin_wasm("numeric_grader");
    let over_max = plugin_wasm("over_max");
    upload(&app, &t, plugin_upload("scorer", "1.0.0", &numeric))
        .await
        .assert_status(StatusCode::CREATED);
    as_admin(
        &app,
        &t,
        Method::POST,
        "/api/v1/plugins/scorer/enable",
        None,
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "not_installed");

    // Less, more or unknown capabilities than requested are refused.
    install(&app, &t, "scorer", "1.0.0", json!([]))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "capabilities_not_granted");
    install(&app, &t, "scorer", "1.0.0", json!(["log", "http"]))
        .await
        .assert_problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "capabilities_not_requested",
        );
    install(&app, &t, "scorer", "1.0.0", json!(["telepathy"]))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    install(&app, &t, "scorer", "9.0.0", json!(["log"]))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    let installed = install(&app, &t, "scorer", "1.0.0", json!(["log"])).await;
    installed.assert_status(StatusCode::OK);
    assert_eq!(installed.json()["capabilities"]["granted"], json!(["log"]));
    assert_eq!(
        installed.json()["capabilities"]["granted_by"],
        t.admin.id.as_str()
    );
    assert_eq!(installed.json()["active"], true);
    install(&app, &t, "scorer", "1.0.0", json!(["log"]))
        .await
        .assert_problem(StatusCode::CONFLICT, "already_installed");

    // Installed but disabled: no grading.
    grade(&app, "acme", &t.admin, "scorer", numeric_request("9.81 m"))
        .await
        .assert_problem(StatusCode::CONFLICT, "plugin_disabled");
    let enabled = as_admin(
        &app,
        &t,
        Method::POST,
        "/api/v1/plugins/scorer/enable",
        None,
    )
    .await;
    enabled.assert_status(StatusCode::OK);
    assert_eq!(enabled.json()["enabled"], true);
    assert_eq!(enabled.json()["active_version"], "1.0.0");
    let graded = grade(&app, "acme", &t.admin, "scorer", numeric_request("9.81 m")).await;
    graded.assert_status(StatusCode::OK);
    assert_eq!(graded.json()["version"], "1.0.0");
    assert_eq!(graded.json()["points"], 2.0);

    // 1.1.0 (a faulty build) becomes active when installed ...
    upload(&app, &t, plugin_upload("scorer", "1.1.0", &over_max))
        .await
        .assert_status(StatusCode::CREATED);
    install(&app, &t, "scorer", "1.1.0", json!(["log"]))
        .await
        .assert_status(StatusCode::OK);
    grade(&app, "acme", &t.admin, "scorer", numeric_request("9.81 m"))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_output");
    // ... and the admin rolls back to 1.0.0, never forward, never to an uninstalled version.
    upload(&app, &t, plugin_upload("scorer", "0.9.0", &numeric))
        .await
        .assert_status(StatusCode::CREATED);
    let rollback = |version: &str| {
        as_admin(
            &app,
            &t,
            Method::POST,
            "/api/v1/plugins/scorer/rollback",
            Some(json!({ "version": version })),
        )
    };
    rollback("1.1.0")
        .await
        .assert_problem(StatusCode::CONFLICT, "not_an_earlier_version");
    rollback("0.9.0")
        .await
        .assert_problem(StatusCode::CONFLICT, "version_not_installed");
    rollback("0.1.0")
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    rollback("banana")
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let rolled = rollback("1.0.0").await;
    rolled.assert_status(StatusCode::OK);
    assert_eq!(rolled.json()["active_version"], "1.0.0");
    let graded = grade(&app, "acme", &t.admin, "scorer", numeric_request("9.81 m")).await;
    graded.assert_status(StatusCode::OK);
    assert_eq!(graded.json()["version"], "1.0.0");

    let disabled = as_admin(
        &app,
        &t,
        Method::POST,
        "/api/v1/plugins/scorer/disable",
        None,
    )
    .await;
    disabled.assert_status(StatusCode::OK);
    assert_eq!(disabled.json()["enabled"], false);
    grade(&app, "acme", &t.admin, "scorer", numeric_request("9.81 m"))
        .await
        .assert_problem(StatusCode::CONFLICT, "plugin_disabled");

    // Every change is in the audit trail, with who granted what.
    let audit = as_admin(
        &app,
        &t,
        Method::GET,
        "/api/v1/audit-events?limit=200",
        None,
    )
    .await;
    audit.assert_status(StatusCode::OK);
    let events = audit.json()["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let actions: Vec<&str> = events.iter().filter_map(|e| e["action"].as_str()).collect();
    for action in [
        "plugin.created",
        "plugin.version_uploaded",
        "plugin.installed",
        "plugin.enabled",
        "plugin.rolled_back",
        "plugin.disabled",
    ] {
        assert!(
            actions.contains(&action),
            "{action} missing from {actions:?}"
        );
    }
    let grant = events
        .iter()
        .find(|e| e["action"] == "plugin.installed" && e["details"]["version"] == "1.1.0")
        .expect("install event");
    assert_eq!(grant["details"]["granted_capabilities"], json!(["log"]));
    assert_eq!(grant["details"]["previous_version"], "1.0.0");
    assert_eq!(grant["actor_id"], t.admin.id.as_str());
}

async fn trust(app: &TestApp, t: &TestTenant, key: &SigningKey) -> Reply {
    let body = json!({
        "name": "Acme Plugins Inc.",
        "public_key": STANDARD.encode(key.verifying_key().to_bytes()),
    });
    as_admin(
        app,
        t,
        Method::POST,
        "/api/v1/plugin-registry/publisher-keys",
        Some(body),
    )
    .await
}

async fn from_catalog(app: &TestApp, t: &TestTenant, name: &str, grant: Value) -> Reply {
    as_admin(
        app,
        t,
        Method::POST,
        &format!("/api/v1/plugin-catalog/{name}/install"),
        Some(json!({ "granted_capabilities": grant })),
    )
    .await
}

fn sign(key: &SigningKey, bytes: &[u8]) -> String {
    let digest: [u8; 32] = Sha256::digest(bytes).into();
    STANDARD.encode(key.sign(&digest).to_bytes())
}

fn signed(mut body: Value, key_id: &Value, signature: String) -> Value {
    body["signature"] = json!({ "key_id": key_id, "signature": signature });
    body
}

#[tokio::test]
async fn signatures_are_checked_and_can_be_required() {
    let (app, t) = TestApp::with_tenant("acme").await;
    let other = app.seed_tenant("other").await;
    let publisher = SigningKey::from_bytes(&[7; 32]);
    let stranger = SigningKey::from_bytes(&[9; 32]);
    let numeric = plugin_wasm("numeric_grader");
    let lab = plugin_wasm("lab_flag_grader");
    let keys = "/api/v1/plugin-registry/publisher-keys";

    let added = trust(&app, &t, &publisher).await;
    added.assert_status(StatusCode::CREATED);
    let key_id = added.json()["id"].clone();
    trust(&app, &t, &publisher)
        .await
        .assert_problem(StatusCode::CONFLICT, "key_exists");
    as_admin(
        &app,
        &t,
        Method::POST,
        keys,
        Some(json!({ "name": "x", "public_key": "AAAA" })),
    )
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let listed = as_admin(&app, &t, Method::GET, keys, None).await;
    listed.assert_status(StatusCode::OK);
    assert_eq!(listed.json().as_array().map(Vec::len), Some(1));
    // The other tenant trusts the stranger's key; that means nothing to acme.
    let foreign_key_id = {
        let reply = trust(&app, &other, &stranger).await;
        reply.assert_status(StatusCode::CREATED);
        reply.json()["id"].clone()
    };

    let settings = as_admin(
        &app,
        &t,
        Method::PUT,
        "/api/v1/plugin-registry",
        Some(json!({ "require_signatures": true })),
    )
    .await;
    settings.assert_status(StatusCode::OK);
    let read = as_admin(&app, &t, Method::GET, "/api/v1/plugin-registry", None).await;
    assert_eq!(read.json()["require_signatures"], true);

    let body = || plugin_upload("signed-grader", "1.0.0", &numeric);
    upload(&app, &t, body())
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "signature_required");
    // Attacks: another key's signature under the publisher's id, a signature of other bytes
    // (what tampered bytes look like), an id the registry does not trust, garbage.
    upload(&app, &t, signed(body(), &key_id, sign(&stranger, &numeric)))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_signature");
    upload(&app, &t, signed(body(), &key_id, sign(&publisher, &lab)))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_signature");
    let mut tampered = numeric.clone();
    tampered.push(0);
    upload(
        &app,
        &t,
        signed(
            plugin_upload("signed-grader", "1.0.0", &tampered),
            &key_id,
            sign(&publisher, &numeric),
        ),
    )
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_signature");
    upload(
        &app,
        &t,
        signed(body(), &foreign_key_id, sign(&stranger, &numeric)),
    )
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "untrusted_publisher_key");
    upload(&app, &t, signed(body(), &key_id, "not a signature".into()))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "malformed_signature");

    let accepted = upload(
        &app,
        &t,
        signed(body(), &key_id, sign(&publisher, &numeric)),
    )
    .await;
    accepted.assert_status(StatusCode::CREATED);
    assert_eq!(accepted.json()["signed_by"], key_id);

    // Not required: unsigned uploads pass, but a bad signature is still refused.
    as_admin(
        &app,
        &t,
        Method::PUT,
        "/api/v1/plugin-registry",
        Some(json!({ "require_signatures": false })),
    )
    .await
    .assert_status(StatusCode::OK);
    upload(
        &app,
        &t,
        signed(
            plugin_upload("other-grader", "1.0.0", &lab),
            &key_id,
            sign(&stranger, &lab),
        ),
    )
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_signature");
    let unsigned = upload(&app, &t, plugin_upload("other-grader", "1.0.0", &lab)).await;
    unsigned.assert_status(StatusCode::CREATED);
    assert_eq!(unsigned.json()["signed_by"], Value::Null);

    // A removed key is trusted no more.
    let key_path = format!("{keys}/{}", key_id.as_str().unwrap_or_default());
    as_admin(&app, &t, Method::DELETE, &key_path, None)
        .await
        .assert_status(StatusCode::NO_CONTENT);
    as_admin(&app, &t, Method::DELETE, &key_path, None)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    upload(
        &app,
        &t,
        signed(
            plugin_upload("signed-grader", "1.0.1", &numeric),
            &key_id,
            sign(&publisher, &numeric),
        ),
    )
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "untrusted_publisher_key");
}

fn lab_config() -> Value {
    let digest = |salt: &str, flag: &str| hex_sha256(format!("{salt}{flag}").as_bytes());
    json!({
        "flags": [
            { "name": "user", "salt": "s1", "sha256": digest("s1", "FLAG{user}"), "points": 1.0 },
            { "name": "root", "salt": "s2", "sha256": digest("s2", "FLAG{root}"), "points": 3.0 },
        ],
    })
}

#[tokio::test]
async fn first_party_graders_install_from_the_catalog_and_grade() {
    let (app, t) = TestApp::with_tenant("acme").await;
    let catalog = as_admin(&app, &t, Method::GET, "/api/v1/plugin-catalog", None).await;
    catalog.assert_status(StatusCode::OK);
    let entries = catalog.json();
    let names: Vec<&str> = entries
        .as_array()
        .map(|e| e.iter().filter_map(|p| p["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["discord", "lab-flag-grader", "numeric-grader"]);
    assert_eq!(entries[0]["world"], "integration");
    assert_eq!(
        entries[2]["sha256"],
        hex_sha256(&plugin_wasm("numeric_grader"))
    );
    assert_eq!(entries[1]["capabilities"], json!(["log"]));

    from_catalog(&app, &t, "lab-flag-grader", json!([]))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "capabilities_not_granted");
    from_catalog(&app, &t, "not-in-catalog", json!(["log"]))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    for name in ["lab-flag-grader", "numeric-grader"] {
        let installed = from_catalog(&app, &t, name, json!(["log"])).await;
        installed.assert_status(StatusCode::OK);
        assert_eq!(installed.json()["enabled"], true, "{}", installed.text);
        assert_eq!(installed.json()["active_version"], "0.1.0");
    }
    // Repeating the one call changes nothing.
    let again = from_catalog(&app, &t, "numeric-grader", json!(["log"])).await;
    again.assert_status(StatusCode::OK);
    assert_eq!(again.json()["version_count"], 1);
    let version = as_admin(
        &app,
        &t,
        Method::GET,
        "/api/v1/plugins/numeric-grader/versions/0.1.0",
        None,
    )
    .await;
    assert_eq!(version.json()["source"], "catalog");

    // Lab flags: two found of two, by JSON array; one by text lines.
    let lab = |response: Value| {
        let mut body = json!({
            "question_kind": "lab-flag",
            "prompt": "Find the flags.",
            "config": lab_config(),
            "max_points": 4.0,
        });
        for (k, v) in response.as_object().cloned().unwrap_or_default() {
            body[k] = v;
        }
        grade(&app, "acme", &t.admin, "lab-flag-grader", body)
    };
    let both = lab(json!({ "response_json": ["FLAG{root}", "FLAG{user}"] })).await;
    both.assert_status(StatusCode::OK);
    assert_eq!(both.json()["points"], 4.0);
    assert_eq!(both.json()["passed"], true);
    assert_eq!(both.json()["feedback"].as_array().map(Vec::len), Some(2));
    let one = lab(json!({ "response_text": "FLAG{user}\nFLAG{wrong}" })).await;
    one.assert_status(StatusCode::OK);
    assert_eq!(one.json()["points"], 1.0);

    // Numeric: within tolerance, converted units, and wrong.
    for (response, points) in [("9.8 m", 2.0), ("981 cm", 2.0), ("12 m", 0.0)] {
        let reply = grade(
            &app,
            "acme",
            &t.admin,
            "numeric-grader",
            numeric_request(response),
        )
        .await;
        reply.assert_status(StatusCode::OK);
        assert_eq!(reply.json()["points"], points, "{response}: {}", reply.text);
    }

    // The config is checked against the plugin's schema before the plugin runs.
    let mut bad = numeric_request("9.8 m");
    bad["config"] = json!({ "answer": "nine", "tolerance": { "absolute": -1 } });
    let refused = grade(&app, "acme", &t.admin, "numeric-grader", bad).await;
    refused.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let fields: Vec<String> = field_codes(&refused).into_iter().map(|(f, _)| f).collect();
    assert!(fields.contains(&"config.answer".to_owned()), "{fields:?}");
    let mut no_flags = json!({
        "question_kind": "lab-flag", "prompt": "", "config": { "flags": [] }, "max_points": 1.0,
        "response_text": "x",
    });
    let refused = grade(&app, "acme", &t.admin, "lab-flag-grader", no_flags.take()).await;
    refused.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(field_codes(&refused)[0].0, "config.flags");
}

#[tokio::test]
async fn grading_failures_are_typed_problems() {
    let (app, t) = TestApp::with_tenant("acme").await;
    for (name, file) in [
        ("spinner", "infinite_loop"),
        ("panicker", "trap"),
        ("greedy", "memory_bomb"),
        ("generous", "over_max"),
        ("chatty", "huge_output"),
        ("scorer", "numeric_grader"),
    ] {
        ready(&app, &t, name, "1.0.0", file).await;
    }
    for (name, status, code) in [
        (
            "spinner",
            StatusCode::UNPROCESSABLE_ENTITY,
            "deadline_exceeded",
        ),
        ("panicker", StatusCode::UNPROCESSABLE_ENTITY, "trap"),
        ("greedy", StatusCode::UNPROCESSABLE_ENTITY, "memory_limit"),
        (
            "generous",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_output",
        ),
        (
            "chatty",
            StatusCode::UNPROCESSABLE_ENTITY,
            "output_too_large",
        ),
    ] {
        grade(&app, "acme", &t.admin, name, numeric_request("1"))
            .await
            .assert_problem(status, code);
    }
    let declined = grade(
        &app,
        "acme",
        &t.admin,
        "scorer",
        numeric_request("not a number"),
    )
    .await;
    declined.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "grader_declined");
    assert_eq!(
        field_codes(&declined),
        [("response".to_owned(), "invalid_response".to_owned())]
    );
    let mut negative = numeric_request("9.8");
    negative["max_points"] = json!(-1.0);
    grade(&app, "acme", &t.admin, "scorer", negative)
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    let mut unknown_field = numeric_request("9.8");
    unknown_field["points"] = json!(100);
    grade(&app, "acme", &t.admin, "scorer", unknown_field)
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    grade(
        &app,
        "acme",
        &t.admin,
        "no-such-plugin",
        numeric_request("9.8"),
    )
    .await
    .assert_problem(StatusCode::NOT_FOUND, "not_found");
    // The sandbox survived all of it.
    grade(&app, "acme", &t.admin, "scorer", numeric_request("9.8 m"))
        .await
        .assert_status(StatusCode::OK);

    // Every call, failed or not, is on record with its outcome.
    let records = as_admin(
        &app,
        &t,
        Method::GET,
        "/api/v1/plugin-invocations?limit=200",
        None,
    )
    .await;
    records.assert_status(StatusCode::OK);
    let items = records.json()["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let outcome_of = |plugin: &str| {
        items
            .iter()
            .find(|r| r["plugin"] == plugin)
            .map(|r| r["outcome"].clone())
    };
    assert_eq!(outcome_of("spinner"), Some(json!("deadline_exceeded")));
    assert_eq!(outcome_of("greedy"), Some(json!("memory_limit")));
    assert_eq!(items[0]["outcome"], "success");
    let spinner = items
        .iter()
        .find(|r| r["plugin"] == "spinner")
        .expect("spinner");
    assert!(
        spinner["wall_time_us"].as_i64().unwrap_or_default() >= 100_000,
        "{spinner}"
    );
    assert!(
        spinner["fuel_used"].as_i64().unwrap_or_default() > 0,
        "{spinner}"
    );
    let greedy = items
        .iter()
        .find(|r| r["plugin"] == "greedy")
        .expect("greedy");
    assert!(
        greedy["peak_memory_bytes"].as_i64().unwrap_or_default() > 1 << 20,
        "{greedy}"
    );
}

#[tokio::test]
async fn invocation_records_are_bounded_per_tenant_and_isolated() {
    let app = TestApp::spawn_with(|config| config.plugins.invocations_kept = 5).await;
    let a = app.seed_tenant("a").await;
    let b = app.seed_tenant("b").await;
    for t in [&a, &b] {
        as_admin(
            &app,
            t,
            Method::POST,
            "/api/v1/plugin-catalog/numeric-grader/install",
            Some(json!({ "granted_capabilities": ["log"] })),
        )
        .await
        .assert_status(StatusCode::OK);
    }
    for _ in 0..7 {
        grade(
            &app,
            "a",
            &a.admin,
            "numeric-grader",
            numeric_request("9.8 m"),
        )
        .await
        .assert_status(StatusCode::OK);
    }
    for _ in 0..2 {
        grade(
            &app,
            "b",
            &b.admin,
            "numeric-grader",
            numeric_request("1 m"),
        )
        .await
        .assert_status(StatusCode::OK);
    }

    // A keeps its newest five, paged by cursor without repeats; B sees only its own two.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/plugin-invocations?limit=2&cursor={c}"),
            None => "/api/v1/plugin-invocations?limit=2".to_owned(),
        };
        let page = as_admin(&app, &a, Method::GET, &path, None).await;
        page.assert_status(StatusCode::OK);
        let body = page.json();
        for item in body["items"].as_array().cloned().unwrap_or_default() {
            assert_eq!(item["plugin"], "numeric-grader");
            assert_eq!(item["outcome"], "success");
            assert_eq!(item["invoked_by"], a.admin.id.as_str());
            seen.push(item["id"].as_str().unwrap_or_default().to_owned());
        }
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5, "{seen:?}");
    let mut sorted = seen.clone();
    sorted.sort_unstable_by(|x, y| y.cmp(x));
    sorted.dedup();
    assert_eq!(sorted, seen, "newest first, no repeats");
    let of_b = as_admin(&app, &b, Method::GET, "/api/v1/plugin-invocations", None).await;
    of_b.assert_status(StatusCode::OK);
    let b_items = of_b.json()["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(b_items.len(), 2);
    assert!(
        b_items
            .iter()
            .all(|r| !seen.contains(&r["id"].as_str().unwrap_or_default().to_owned()))
    );
    let filtered = as_admin(
        &app,
        &a,
        Method::GET,
        "/api/v1/plugin-invocations?plugin=other-plugin",
        None,
    )
    .await;
    filtered.assert_status(StatusCode::OK);
    assert_eq!(filtered.json()["items"], json!([]));
    as_admin(
        &app,
        &a,
        Method::GET,
        "/api/v1/plugin-invocations?plugin=NOPE",
        None,
    )
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

    let mut su = app.db.superuser().await;
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "select t.slug, count(*) from plugin_invocations i join tenants t on t.id = i.tenant_id
         group by t.slug order by t.slug",
    )
    .fetch_all(&mut su)
    .await
    .expect("counts");
    assert_eq!(rows, [("a".to_owned(), 5), ("b".to_owned(), 2)]);

    // Prometheus: wall-time histogram and counters by plugin and outcome.
    let metrics = app.get("/metrics").send().await;
    metrics.assert_status(StatusCode::OK);
    assert!(
        metrics.text.contains(
            "lms_plugin_invocation_duration_seconds_bucket{plugin=\"numeric-grader\",outcome=\"success\""
        ),
        "{}",
        metrics.text
    );
    assert!(
        metrics.text.contains(
            "lms_plugin_invocations_total{plugin=\"numeric-grader\",outcome=\"success\"}"
        )
    );
    assert!(
        metrics
            .text
            .contains("lms_plugin_fuel_consumed_total{plugin=\"numeric-grader\"}")
    );
}

#[tokio::test]
async fn a_restarted_server_compiles_stored_components_on_first_use() {
    let (app, t) = TestApp::with_tenant("acme").await;
    ready(&app, &t, "scorer", "1.0.0", "numeric_grader").await;
    grade(&app, "acme", &t.admin, "scorer", numeric_request("9.8 m"))
        .await
        .assert_status(StatusCode::OK);

    // A second server on the same database starts with an empty sandbox.
    let mut config = test_config(&app.db);
    config.plugins.artifacts_dir = None;
    let second = lms_platform::startup::Application::build(config)
        .await
        .expect("second server");
    let address = format!("http://{}", second.local_addr().expect("address"));
    tokio::spawn(second.run_until_stopped(std::future::pending()));
    let reply = app
        .client
        .post(format!("{address}/api/v1/plugins/scorer/grade"))
        .header("x-tenant", "acme")
        .bearer_auth(&t.admin.access_token)
        .json(&numeric_request("9.8 m"))
        .send()
        .await
        .expect("request");
    let status = reply.status();
    let body: Value = reply.json().await.expect("json");
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["points"], 2.0);
}
