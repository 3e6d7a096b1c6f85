//! The signed credential of a certificate, checked by an independent verifier (Digital
//! Bazaar's `vc`, `data-integrity` and `eddsa-rdfc-2022-cryptosuite` from npm, offline, with
//! the issuer's DID document and status list as the server publishes them) and by the
//! platform's own verification: ours verifies; a tampered one, one signed by another key, a
//! revoked one and an expired one are each rejected by both.

use std::path::PathBuf;
use std::process::Command;

use ed25519_dalek::SigningKey;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{School, TestApp};

const HOST: &str = "acme.lms.test";
const DID: &str = "did:web:acme.lms.test";

/// The verifier's installed directory (`verify.mjs` is copied in from the source tree).
fn verifier() -> PathBuf {
    let dir = PathBuf::from(std::env::var("LMS_TEST_VERIFIER").unwrap_or_else(|_| {
        panic!(
            "LMS_TEST_VERIFIER is not set (the directory where `cargo xtask test` installs \
             platform/tests/peers/verifier): run `cargo xtask test`"
        )
    }));
    assert!(
        dir.join("node_modules").is_dir(),
        "{} has no node_modules: run `cargo xtask test`",
        dir.display()
    );
    let script = dir.join("verify.mjs");
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/peers/verifier/verify.mjs"
        ),
        &script,
    )
    .expect("copy verify.mjs");
    script
}

/// What the independent verifier says of `credential`, given the issuer's documents.
fn independent(credential: &Value, documents: &Value, now: Option<&str>) -> Value {
    let script = verifier();
    let input =
        std::env::temp_dir().join(format!("lms-verify-{}.json", uuid::Uuid::now_v7().simple()));
    let mut body = json!({ "credential": credential, "documents": documents });
    if let Some(now) = now {
        body["now"] = json!(now);
    }
    std::fs::write(&input, serde_json::to_vec(&body).expect("json")).expect("write input");
    let output = Command::new("node")
        .arg(&script)
        .arg(&input)
        .output()
        .expect("run node");
    let _ = std::fs::remove_file(&input);
    assert!(
        output.status.success(),
        "verifier failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "verifier output ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// A public GET on the tenant's own host.
async fn public(app: &TestApp, path: &str) -> Value {
    let reply = app.get(path).host(HOST).send().await;
    reply.assert_status(StatusCode::OK);
    reply.json()
}

/// The issuer's published documents, as the verifier would fetch them now.
async fn published(app: &TestApp) -> Value {
    let did = public(app, "/.well-known/did.json").await;
    let list = public(app, "/credentials/status/revocation").await;
    let mut documents = serde_json::Map::new();
    documents.insert(DID.to_owned(), did);
    documents.insert(
        "https://acme.lms.test/credentials/status/revocation".to_owned(),
        list,
    );
    Value::Object(documents)
}

/// What the platform's `POST /verify` says (from any host, without credentials).
async fn ours(app: &TestApp, credential: &Value) -> Value {
    let reply = app.post("/verify").json(credential.clone()).send().await;
    reply.assert_status(StatusCode::OK);
    reply.json()
}

/// `credential` without its proof, re-signed with `key` as the tenant's method says.
fn resigned(credential: &Value, key: &SigningKey) -> Value {
    let mut unsigned = credential.clone();
    let method = credential["proof"]["verificationMethod"]
        .as_str()
        .expect("method")
        .to_owned();
    unsigned.as_object_mut().expect("object").remove("proof");
    lms_platform::certificates::proof::sign(&unsigned, &method, chrono::Utc::now(), key)
        .expect("signed")
}

/// The tenant's current issuer key, read as the platform does (for forging a genuinely signed
/// expired credential).
async fn tenant_key(app: &TestApp, tenant: &str) -> SigningKey {
    let tenant = lms_tenants::TenantId::from_uuid(tenant.parse().expect("tenant id"));
    let mut tx = app.state.db.begin(tenant).await.expect("tenant tx");
    let key = lms_platform::certificates::keys::current(&mut tx, &app.state.sealing)
        .await
        .expect("issuer key");
    tx.commit().await.expect("commit");
    key.signing
}

#[tokio::test]
async fn our_credentials_verify_independently_and_bad_ones_are_rejected_by_both() {
    let s = School::new().await;
    let app = &s.app;
    let admin = &s.t.admin;
    s.ok(
        Method::PUT,
        "/api/v1/certificate-templates/default",
        admin,
        Some(json!({
            "title": "Certified Data Steward",
            "description": "Stewards data with care.",
            "criteria": "Completed every lesson and passed the final quiz.",
            "credit_hours": 12.5,
        })),
    )
    .await;
    let course = s.course("stewardship", json!({})).await;
    let issued = s
        .by(admin)
        .created(
            "/api/v1/certificates",
            json!({ "course_id": course, "user_id": s.t.learner.id }),
        )
        .await;
    let id = issued["id"].as_str().expect("id").to_owned();
    assert_eq!(
        issued["verification_url"],
        format!("https://acme.lms.test/verify/{id}")
    );
    let linkedin = issued["linkedin_url"].as_str().expect("linkedin");
    let issued_at = chrono::DateTime::parse_from_rfc3339(issued["issued_at"].as_str().expect("at"))
        .expect("issued_at");
    use chrono::Datelike;
    assert!(
        linkedin.starts_with("https://www.linkedin.com/profile/add?startTask=CERTIFICATION_NAME&")
    );
    assert!(
        linkedin.contains(&format!("&issueMonth={}&", issued_at.month())),
        "1-based month: {linkedin}"
    );

    let reply = s
        .send(
            Method::GET,
            &format!("/api/v1/certificates/{id}/credential"),
            &s.t.learner,
            None,
        )
        .await;
    reply.assert_status(StatusCode::OK);
    assert_eq!(
        reply
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/vc+ld+json")
    );
    let credential = reply.json();
    assert_eq!(
        credential["@context"],
        json!([
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
        ])
    );
    assert_eq!(
        credential["type"],
        json!(["VerifiableCredential", "OpenBadgeCredential"])
    );
    assert_eq!(credential["issuer"]["id"], DID);
    assert_eq!(credential["issuer"]["type"], json!(["Profile"]));
    let subject = &credential["credentialSubject"];
    assert_eq!(subject["type"], json!(["AchievementSubject"]));
    assert_eq!(subject["achievement"]["name"], "Certified Data Steward");
    assert_eq!(
        subject["achievement"]["criteria"]["narrative"],
        "Completed every lesson and passed the final quiz."
    );
    assert_eq!(subject["achievement"]["creditsAvailable"], 12.5);
    assert_eq!(subject["creditsEarned"], 12.5);
    assert!(
        !credential.to_string().contains(&s.t.learner.email),
        "the email travels hashed"
    );
    assert_eq!(credential["proof"]["type"], "DataIntegrityProof");
    assert_eq!(credential["proof"]["cryptosuite"], "eddsa-rdfc-2022");
    assert_eq!(
        credential["credentialStatus"]["type"],
        "BitstringStatusListEntry"
    );

    let documents = published(app).await;
    assert_eq!(documents[DID]["id"], DID);
    let verdict = independent(&credential, &documents, None);
    assert_eq!(verdict["accepted"], true, "{verdict}");
    assert_eq!(ours(app, &credential).await["verdict"], "valid");

    // One changed field.
    let mut tampered = credential.clone();
    tampered["credentialSubject"]["achievement"]["name"] = json!("Chief Data Officer");
    let verdict = independent(&tampered, &documents, None);
    assert_eq!(verdict["accepted"], false, "{verdict}");
    assert_eq!(ours(app, &tampered).await["verdict"], "invalid");

    // Signed by a key that is not the issuer's.
    let forged = resigned(&credential, &SigningKey::generate(&mut rand::rngs::OsRng));
    let verdict = independent(&forged, &documents, None);
    assert_eq!(verdict["accepted"], false, "{verdict}");
    assert_eq!(ours(app, &forged).await["verdict"], "invalid");

    // Expired: genuinely signed by the issuer, valid for a day two years ago.
    let key = tenant_key(app, &s.t.id).await;
    let mut old = credential.clone();
    old["validFrom"] = json!("2024-01-01T00:00:00Z");
    old["validUntil"] = json!("2024-01-02T00:00:00Z");
    let expired = resigned(&old, &key);
    let verdict = independent(&expired, &documents, None);
    assert_eq!(verdict["accepted"], false, "{verdict}");
    assert_eq!(ours(app, &expired).await["verdict"], "expired");
    // The same credential was fine while it was valid: only its dates fail it.
    let verdict = independent(&expired, &documents, Some("2024-01-01T12:00:00Z"));
    assert_eq!(verdict["accepted"], true, "{verdict}");

    // Revoked: the status list the issuer publishes now has its bit set.
    s.ok(
        Method::POST,
        &format!("/api/v1/certificates/{id}/revoke"),
        admin,
        Some(json!({ "reason": "Issued in error" })),
    )
    .await;
    let documents = published(app).await;
    let verdict = independent(&credential, &documents, None);
    assert_eq!(verdict["verified"], true, "{verdict}");
    assert_eq!(verdict["revoked"], true, "{verdict}");
    assert_eq!(verdict["accepted"], false, "{verdict}");
    assert_eq!(ours(app, &credential).await["verdict"], "revoked");
    let by_id = app
        .get(&format!("/verify/{id}"))
        .header("accept", "application/json")
        .send()
        .await;
    by_id.assert_status(StatusCode::OK);
    assert_eq!(by_id.json()["verdict"], "revoked");
}

#[tokio::test]
async fn the_verification_page_shows_the_verdict_in_the_issuers_branding() {
    let s = School::new().await;
    let admin = &s.t.admin;
    s.ok(
        Method::PUT,
        "/api/v1/certificate-templates/default",
        admin,
        Some(json!({ "title": "<b>Bold</b> achiever", "criteria": "Finish." })),
    )
    .await;
    let course = s.course("page", json!({})).await;
    let issued = s
        .by(admin)
        .created(
            "/api/v1/certificates",
            json!({ "course_id": course, "user_id": s.t.learner.id }),
        )
        .await;
    let id = issued["id"].as_str().expect("id");
    let page = s
        .app
        .get(&format!("/verify/{id}"))
        .header("accept", "text/html,application/xhtml+xml")
        .send()
        .await;
    page.assert_status(StatusCode::OK);
    assert!(
        page.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("text/html")),
        "HTML for browsers"
    );
    assert!(page.text.contains("Valid certificate"), "{}", page.text);
    assert!(
        page.text.contains("&lt;b&gt;Bold&lt;/b&gt; achiever"),
        "escaped"
    );
    assert!(!page.text.contains("<b>Bold</b>"));
    assert!(!page.text.contains(&s.t.learner.email));
    let json_answer = s
        .app
        .get(&format!("/verify/{id}"))
        .header("accept", "application/json")
        .send()
        .await
        .json();
    assert_eq!(json_answer["verdict"], "valid");
    assert_eq!(json_answer["certificate_id"], id);
    s.app
        .get(&format!("/verify/{}", uuid::Uuid::now_v7()))
        .send()
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");

    // Posting something that is not a credential of ours.
    let reply = s.app.post("/verify").json(json!([1, 2])).send().await;
    reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "not_a_credential");
    let stranger = s
        .app
        .post("/verify")
        .json(json!({ "issuer": "did:web:evil.example", "type": ["VerifiableCredential"] }))
        .send()
        .await;
    stranger.assert_status(StatusCode::OK);
    assert_eq!(stranger.json()["verdict"], "invalid");
}

/// A certificate of the tenant's learner in a fresh course, by its admin; returns its id.
async fn issue_in(app: &TestApp, t: &crate::helpers::TestTenant) -> String {
    let admin = app.actor(&t.slug, &t.admin);
    admin
        .ok(
            Method::PUT,
            "/api/v1/certificate-templates/default",
            Some(json!({ "title": format!("Certified by {}", t.slug), "criteria": "Finish." })),
        )
        .await;
    let course = app
        .actor(&t.slug, &t.admin)
        .create_course(&format!("{}-cert", t.slug), json!({}))
        .await;
    app.actor(&t.slug, &t.admin)
        .created(
            "/api/v1/certificates",
            json!({ "course_id": course, "user_id": t.learner.id }),
        )
        .await["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

#[tokio::test]
async fn a_host_publishes_only_its_own_issuer_keys() {
    let app = TestApp::spawn().await;
    let a = app.seed_tenant("a").await;
    let b = app.seed_tenant("b").await;
    issue_in(&app, &a).await;
    issue_in(&app, &b).await;
    let did_of = |host: &'static str| {
        let app = &app;
        async move {
            let reply = app.get("/.well-known/did.json").host(host).send().await;
            reply.assert_status(StatusCode::OK);
            reply.json()
        }
    };
    let a_doc = did_of("a.lms.test").await;
    let b_doc = did_of("b.lms.test").await;
    assert_eq!(a_doc["id"], "did:web:a.lms.test");
    assert_eq!(b_doc["id"], "did:web:b.lms.test");
    let keys = |doc: &Value| doc["verificationMethod"][0]["publicKeyMultibase"].clone();
    assert_ne!(keys(&a_doc), keys(&b_doc), "one issuer key per tenant");
    assert!(!a_doc.to_string().contains("b.lms.test"));
    // The X-Tenant header names the tenant as the host does; an unknown host is unknown.
    let by_header = app
        .get("/.well-known/did.json")
        .tenant("a")
        .send()
        .await
        .json();
    assert_eq!(by_header["id"], "did:web:a.lms.test");
    app.get("/.well-known/did.json")
        .host("nobody.lms.test")
        .send()
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    let list = app
        .get("/credentials/status/revocation")
        .host("a.lms.test")
        .send()
        .await
        .json();
    assert_eq!(list["issuer"], "did:web:a.lms.test");
    assert!(
        list["proof"]["verificationMethod"]
            .as_str()
            .is_some_and(|m| m.starts_with("did:web:a.lms.test#key-"))
    );
}

#[tokio::test]
async fn another_tenants_certificate_verifies_showing_only_its_credential() {
    let app = TestApp::spawn().await;
    let a = app.seed_tenant("a").await;
    let b = app.seed_tenant("b").await;
    let b_certificate = issue_in(&app, &b).await;
    // On A's host, B's certificate id: the public page verifies it from its credential alone.
    let reply = app
        .get(&format!("/verify/{b_certificate}"))
        .host("a.lms.test")
        .header("accept", "application/json")
        .send()
        .await;
    reply.assert_status(StatusCode::OK);
    let answer = reply.json();
    assert_eq!(answer["verdict"], "valid");
    assert_eq!(answer["credential"]["issuer_id"], "did:web:b.lms.test");
    for secret in [
        &b.learner.email,
        &b.learner.id,
        &b.admin.id,
        &b.admin.email,
        &b.id,
    ] {
        assert!(
            !reply.text.contains(secret.as_str()),
            "{secret} in {}",
            reply.text
        );
    }
    // B's certificate is B's everywhere else: A's admin cannot read, download or revoke it.
    for (method, path) in [
        (Method::GET, format!("/api/v1/certificates/{b_certificate}")),
        (
            Method::GET,
            format!("/api/v1/certificates/{b_certificate}/credential"),
        ),
        (
            Method::GET,
            format!("/api/v1/certificates/{b_certificate}/credential/jwt"),
        ),
    ] {
        app.actor("a", &a.admin)
            .send(method, &path, None)
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
    }
    // Posted to A's host, B's credential still verifies against B's published keys only.
    let credential = app
        .actor("b", &b.learner)
        .ok(
            Method::GET,
            &format!("/api/v1/certificates/{b_certificate}/credential"),
            None,
        )
        .await;
    let posted = app
        .post("/verify")
        .host("a.lms.test")
        .json(credential.clone())
        .send()
        .await
        .json();
    assert_eq!(posted["verdict"], "valid");
    // Claiming A as its issuer breaks it: A's keys did not sign it.
    let mut claimed = credential;
    claimed["issuer"]["id"] = json!("did:web:a.lms.test");
    let posted = app.post("/verify").json(claimed).send().await.json();
    assert_eq!(posted["verdict"], "invalid");
}

#[tokio::test]
async fn the_vc_jwt_names_the_issuers_key_and_mirrors_the_credential() {
    let s = School::new().await;
    let id = issue_in(&s.app, &s.t).await;
    let reply = s
        .send(
            Method::GET,
            &format!("/api/v1/certificates/{id}/credential/jwt"),
            &s.t.learner,
            None,
        )
        .await;
    reply.assert_status(StatusCode::OK);
    let token = reply.text.clone();
    let header = jsonwebtoken::decode_header(&token).expect("header");
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
    let kid = header.kid.expect("kid");
    let did = public(&s.app, "/.well-known/did.json").await;
    let method = did["verificationMethod"]
        .as_array()
        .expect("methods")
        .iter()
        .find(|m| m["id"] == kid.as_str())
        .expect("the kid is in the DID document")
        .clone();
    let multikey = method["publicKeyMultibase"].as_str().expect("multikey");
    let bytes = bs58::decode(&multikey[1..]).into_vec().expect("base58");
    assert_eq!(&bytes[..2], &[0xed, 0x01]);
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Value>(
        &token,
        &jsonwebtoken::DecodingKey::from_ed_der(&bytes[2..]),
        &validation,
    )
    .expect("the issuer's published key verifies it")
    .claims;
    assert_eq!(claims["iss"], DID);
    assert_eq!(claims["jti"], format!("urn:uuid:{id}"));
    assert!(claims["nbf"].is_i64());
    assert!(claims.get("proof").is_none());
    assert_eq!(
        claims["type"],
        json!(["VerifiableCredential", "OpenBadgeCredential"])
    );
}
