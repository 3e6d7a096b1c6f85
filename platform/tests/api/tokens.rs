//! Attacks on access and refresh tokens, session invalidation, enumeration and key rotation.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{PASSWORD, Reply, TestApp, TestTenant, TestUser, paths, user_from_session};

#[track_caller]
fn assert_invalid_token(reply: &Reply) {
    reply.assert_problem(StatusCode::UNAUTHORIZED, "invalid_token");
}

/// The three dot-separated segments of a compact JWT.
fn segments(token: &str) -> [String; 3] {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "not a compact JWT: {token}");
    [
        parts[0].to_owned(),
        parts[1].to_owned(),
        parts[2].to_owned(),
    ]
}

fn decode_segment(segment: &str) -> Value {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .expect("JWT segment is base64url");
    serde_json::from_slice(&bytes).expect("JWT segment is JSON")
}

fn encode_json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("json"))
}

fn header_of(token: &str) -> Value {
    decode_segment(&segments(token)[0])
}

fn claims_of(token: &str) -> Value {
    decode_segment(&segments(token)[1])
}

/// The active signing key as stored: (kid, PKCS#8 DER).
async fn active_signing_key(app: &TestApp) -> (String, Vec<u8>) {
    let mut db = app.db.superuser().await;
    sqlx::query_as(
        "select kid, private_key_pkcs8 from signing_keys where retired_at is null
         order by created_at desc limit 1",
    )
    .fetch_one(&mut db)
    .await
    .expect("an active signing key")
}

/// Claims like the server's own for `user` of `tenant`, with the session and epoch of `real`
/// (one of the user's genuine tokens), valid for the next ten minutes unless adjusted.
fn claims_like(tenant: &TestTenant, user: &TestUser, real: &str) -> Value {
    let genuine = claims_of(real);
    let now = chrono::Utc::now().timestamp();
    json!({
        "iss": "lms",
        "sub": user.id,
        "aud": format!("tenant:{}", tenant.id),
        "tid": tenant.id,
        "iat": now,
        "exp": now + 600,
        "jti": Uuid::now_v7(),
        "sid": genuine["sid"],
        "ep": genuine["ep"],
    })
}

fn mint(alg: Algorithm, kid: &str, key: &EncodingKey, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, key).expect("sign a token")
}

#[tokio::test]
async fn a_tampered_payload_or_signature_is_rejected() {
    let (app, tenant) = TestApp::with_tenant("acme").await;
    let token = &tenant.learner.access_token;
    app.me("acme", token).await.assert_status(StatusCode::OK);

    // Claim to be the admin (their id and epoch) under the learner's signature: were the
    // signature not checked, this would be the admin's valid session.
    let [header, payload, signature] = segments(token);
    let admin_claims = claims_of(&tenant.admin.access_token);
    let mut claims = decode_segment(&payload);
    claims["sub"] = admin_claims["sub"].clone();
    claims["ep"] = admin_claims["ep"].clone();
    let forged = format!("{header}.{}.{signature}", encode_json(&claims));
    assert_invalid_token(&app.me("acme", &forged).await);

    // The admin's own payload with the learner's signature.
    let [_, admin_payload, _] = segments(&tenant.admin.access_token);
    assert_invalid_token(
        &app.me("acme", &format!("{header}.{admin_payload}.{signature}"))
            .await,
    );

    // One bit of the signature flipped.
    let mut sig = URL_SAFE_NO_PAD.decode(&signature).expect("signature");
    sig[10] ^= 0x01;
    let flipped = format!("{header}.{payload}.{}", URL_SAFE_NO_PAD.encode(&sig));
    assert_invalid_token(&app.me("acme", &flipped).await);

    // No signature at all; garbage.
    assert_invalid_token(&app.me("acme", &format!("{header}.{payload}.")).await);
    assert_invalid_token(&app.me("acme", "not.a.jwt").await);

    // The genuine token still works.
    app.me("acme", token).await.assert_status(StatusCode::OK);
}

#[tokio::test]
async fn a_self_minted_token_works_only_while_unexpired() {
    let (app, tenant) = TestApp::with_tenant("acme").await;
    let (kid, pkcs8) = active_signing_key(&app).await;
    assert_eq!(
        header_of(&tenant.learner.access_token)["kid"],
        kid.as_str(),
        "the stored active key signs the tokens"
    );
    let key = EncodingKey::from_ed_der(&pkcs8);
    let claims = claims_like(&tenant, &tenant.learner, &tenant.learner.access_token);

    // Minting works: a valid token made this way is accepted.
    let valid = mint(Algorithm::EdDSA, &kid, &key, &claims);
    let who = app.me("acme", &valid).await;
    who.assert_status(StatusCode::OK);
    assert_eq!(who.json()["id"], tenant.learner.id.as_str());

    // The same token, expired an hour ago (far beyond any clock leeway).
    let now = chrono::Utc::now().timestamp();
    let mut expired = claims.clone();
    expired["iat"] = json!(now - 4600);
    expired["exp"] = json!(now - 3600);
    assert_invalid_token(
        &app.me("acme", &mint(Algorithm::EdDSA, &kid, &key, &expired))
            .await,
    );

    // Issued for the right tenant but claiming another tenant id.
    let mut other_tid = claims.clone();
    other_tid["tid"] = json!(Uuid::now_v7());
    assert_invalid_token(
        &app.me("acme", &mint(Algorithm::EdDSA, &kid, &key, &other_tid))
            .await,
    );

    // Another issuer.
    let mut other_iss = claims.clone();
    other_iss["iss"] = json!("someone-else");
    assert_invalid_token(
        &app.me("acme", &mint(Algorithm::EdDSA, &kid, &key, &other_iss))
            .await,
    );
}

#[tokio::test]
async fn tokens_from_foreign_or_unknown_keys_are_rejected() {
    let (app, tenant) = TestApp::with_tenant("acme").await;
    let (kid, pkcs8) = active_signing_key(&app).await;
    let claims = claims_like(&tenant, &tenant.learner, &tenant.learner.access_token);
    let real_key = EncodingKey::from_ed_der(&pkcs8);
    app.me("acme", &mint(Algorithm::EdDSA, &kid, &real_key, &claims))
        .await
        .assert_status(StatusCode::OK);

    // An attacker's own Ed25519 key, claiming the real kid.
    let attacker = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let attacker_der = attacker.to_pkcs8_der().expect("encode key");
    let attacker_key = EncodingKey::from_ed_der(attacker_der.as_bytes());
    assert_invalid_token(
        &app.me(
            "acme",
            &mint(Algorithm::EdDSA, &kid, &attacker_key, &claims),
        )
        .await,
    );

    // The real key under a kid the server does not know.
    assert_invalid_token(
        &app.me(
            "acme",
            &mint(Algorithm::EdDSA, "k-does-not-exist", &real_key, &claims),
        )
        .await,
    );
    // No kid at all.
    let no_kid = jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &real_key)
        .expect("sign a token");
    assert_invalid_token(&app.me("acme", &no_kid).await);
}

#[tokio::test]
async fn alg_none_and_hmac_with_the_public_key_are_rejected() {
    let (app, tenant) = TestApp::with_tenant("acme").await;
    let (kid, _) = active_signing_key(&app).await;
    let claims = claims_like(&tenant, &tenant.learner, &tenant.learner.access_token);

    for alg in ["none", "None", "NONE"] {
        let header = json!({ "alg": alg, "typ": "JWT", "kid": kid });
        let unsigned = format!("{}.{}.", encode_json(&header), encode_json(&claims));
        assert_invalid_token(&app.me("acme", &unsigned).await);
    }

    let jwks = app.get("/.well-known/jwks.json").send().await;
    jwks.assert_status(StatusCode::OK);
    let jwks = jwks.json();
    let x = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .and_then(|k| k["x"].as_str())
        .unwrap_or_else(|| panic!("kid {kid} not in the JWKS: {jwks}"))
        .to_owned();
    let public = URL_SAFE_NO_PAD.decode(&x).expect("x is base64url");
    assert_eq!(public.len(), 32, "an Ed25519 public key");
    for secret in [public.as_slice(), x.as_bytes()] {
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let forged = mint(alg, &kid, &EncodingKey::from_secret(secret), &claims);
            assert_invalid_token(&app.me("acme", &forged).await);
        }
    }
}

#[tokio::test]
async fn tokens_only_work_for_the_tenant_that_issued_them() {
    let (app, a) = TestApp::with_tenant("a").await;
    let b = app.seed_tenant("b").await;

    app.me("a", &a.learner.access_token)
        .await
        .assert_status(StatusCode::OK);
    assert_invalid_token(&app.me("b", &a.learner.access_token).await);
    assert_invalid_token(&app.me("a", &b.admin.access_token).await);
    // Not even an admin's token crosses over to act on the other tenant.
    app.get("/api/v1/users")
        .tenant("b")
        .bearer(&a.admin.access_token)
        .send()
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_token");

    app.refresh("b", &a.learner.refresh_token)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_refresh_token");
    // The attempt neither used up nor revoked the token at home.
    app.refresh("a", &a.learner.refresh_token)
        .await
        .assert_status(StatusCode::OK);
}

#[tokio::test]
async fn a_reused_refresh_token_revokes_the_session() {
    let (app, tenant) = TestApp::with_tenant("acme").await;
    let learner = &tenant.learner;
    let r1 = learner.refresh_token.clone();

    let second = app.refresh("acme", &r1).await;
    second.assert_status(StatusCode::OK);
    let r2 = user_from_session(&second.json(), &learner.email).refresh_token;

    app.refresh("acme", &r1)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "refresh_token_reused");
    app.refresh("acme", &r2)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_refresh_token");

    let mut db = app.db.superuser().await;
    let events: i64 = sqlx::query_scalar(
        "select count(*) from audit_events
         where action = 'session.refresh_token_reused' and tenant_id = $1 and actor_id = $2",
    )
    .bind(Uuid::parse_str(&tenant.id).expect("tenant id"))
    .bind(Uuid::parse_str(&learner.id).expect("user id"))
    .fetch_one(&mut db)
    .await
    .expect("audit query");
    assert_eq!(events, 1);

    // Signing in again starts a fresh, working session.
    let again = app.login("acme", &learner.email, PASSWORD).await;
    again.assert_status(StatusCode::OK);
    let again = user_from_session(&again.json(), &learner.email);
    app.refresh("acme", &again.refresh_token)
        .await
        .assert_status(StatusCode::OK);
}

#[tokio::test]
async fn a_deactivated_user_is_locked_out_at_once() {
    let (app, tenant) = TestApp::with_tenant("acme").await;
    let learner = &tenant.learner;
    app.me("acme", &learner.access_token)
        .await
        .assert_status(StatusCode::OK);

    let deactivated = app
        .post(&paths::user_deactivate(&learner.id))
        .tenant("acme")
        .bearer(&tenant.admin.access_token)
        .send()
        .await;
    deactivated.assert_status(StatusCode::OK);
    assert_eq!(deactivated.json()["status"], "deactivated");

    assert_invalid_token(&app.me("acme", &learner.access_token).await);
    app.refresh("acme", &learner.refresh_token)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_refresh_token");
    let locked = app.login("acme", &learner.email, PASSWORD).await;
    locked.assert_problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
    let wrong_password = app
        .login("acme", &tenant.admin.email, "not the admin's password")
        .await;
    wrong_password.assert_problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
    assert_eq!(locked.json(), wrong_password.json());
}

#[tokio::test]
async fn a_role_change_invalidates_existing_access_tokens() {
    let (app, tenant) = TestApp::with_tenant("acme").await;
    let learner = &tenant.learner;
    app.me("acme", &learner.access_token)
        .await
        .assert_status(StatusCode::OK);

    let changed = app
        .call(Method::PUT, &paths::user_roles(&learner.id))
        .tenant("acme")
        .bearer(&tenant.admin.access_token)
        .json(json!({ "roles": ["instructor"] }))
        .send()
        .await;
    changed.assert_status(StatusCode::OK);
    assert_eq!(changed.json()["roles"], json!(["instructor"]));

    assert_invalid_token(&app.me("acme", &learner.access_token).await);
    // The admin who made the change is unaffected.
    app.me("acme", &tenant.admin.access_token)
        .await
        .assert_status(StatusCode::OK);

    // A new token carries the new role.
    let fresh = app.refresh("acme", &learner.refresh_token).await;
    fresh.assert_status(StatusCode::OK);
    let fresh = user_from_session(&fresh.json(), &learner.email);
    let who = app.me("acme", &fresh.access_token).await;
    who.assert_status(StatusCode::OK);
    assert_eq!(who.json()["roles"], json!(["instructor"]));
}

#[tokio::test]
async fn unknown_and_known_accounts_are_indistinguishable() {
    let (app, tenant) = TestApp::with_tenant("acme").await;

    let unknown = app
        .login("acme", "nobody@acme.example", "some password here")
        .await;
    let wrong = app
        .login("acme", &tenant.learner.email, "some password here")
        .await;
    unknown.assert_problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
    wrong.assert_problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
    assert_eq!(unknown.json()["code"], wrong.json()["code"]);
    assert_eq!(unknown.json()["detail"], wrong.json()["detail"]);
    assert_eq!(unknown.json(), wrong.json());

    let reset = |email: &str| {
        app.post("/api/v1/auth/password-reset")
            .tenant("acme")
            .json(json!({ "email": email }))
            .send()
    };
    let unknown = reset("nobody@acme.example").await;
    let known = reset(&tenant.learner.email).await;
    known.assert_status(StatusCode::ACCEPTED);
    assert_eq!(unknown.status, known.status);
    assert_eq!(unknown.text, known.text);
    // Only the real account got an email.
    assert!(
        app.last_email_to(&tenant.learner.email)
            .await
            .contains("reset-password?token=")
    );
    let mut db = app.db.superuser().await;
    let to_nobody: i64 = sqlx::query_scalar(
        "select count(*) from jobs where kind = 'email.send' and payload->>'to' = $1",
    )
    .bind("nobody@acme.example")
    .fetch_one(&mut db)
    .await
    .expect("outbox query");
    assert_eq!(to_nobody, 0);
}

fn jwks_kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|k| k["kid"].as_str().map(str::to_owned))
        .collect()
}

async fn rotate(app: &TestApp) -> String {
    let reply = app
        .post("/api/v1/operator/signing-keys/rotate")
        .operator()
        .send()
        .await;
    reply.assert_status(StatusCode::OK);
    reply.json()["kid"].as_str().expect("kid").to_owned()
}

async fn jwks(app: &TestApp) -> Value {
    let reply = app.get("/.well-known/jwks.json").send().await;
    reply.assert_status(StatusCode::OK);
    reply.json()
}

#[tokio::test]
async fn key_rotation_keeps_old_tokens_until_the_grace_period_ends() {
    let (app, tenant) = TestApp::with_tenant("acme").await;
    let old_token = tenant.learner.access_token.clone();
    let old_kid = header_of(&old_token)["kid"]
        .as_str()
        .expect("kid in header")
        .to_owned();
    assert_eq!(jwks_kids(&jwks(&app).await), std::slice::from_ref(&old_kid));

    // Only the operator rotates.
    app.post("/api/v1/operator/signing-keys/rotate")
        .bearer(&tenant.admin.access_token)
        .send()
        .await
        .assert_status(StatusCode::UNAUTHORIZED);

    let new_kid = rotate(&app).await;
    assert_ne!(new_kid, old_kid);
    app.me("acme", &old_token)
        .await
        .assert_status(StatusCode::OK);
    let kids = jwks_kids(&jwks(&app).await);
    assert!(
        kids.contains(&old_kid) && kids.contains(&new_kid),
        "{kids:?}"
    );

    let login = app.login("acme", &tenant.learner.email, PASSWORD).await;
    login.assert_status(StatusCode::OK);
    let new_token = user_from_session(&login.json(), &tenant.learner.email).access_token;
    assert_eq!(header_of(&new_token)["kid"], new_kid.as_str());
    app.me("acme", &new_token)
        .await
        .assert_status(StatusCode::OK);

    // The old key's grace period is over; the next rotation prunes it.
    let mut db = app.db.superuser().await;
    let backdated = sqlx::query(
        "update signing_keys set retired_at = now() - interval '1 hour' where kid = $1",
    )
    .bind(&old_kid)
    .execute(&mut db)
    .await
    .expect("backdate the old key");
    assert_eq!(backdated.rows_affected(), 1);
    let newest_kid = rotate(&app).await;

    assert_invalid_token(&app.me("acme", &old_token).await);
    let kids = jwks_kids(&jwks(&app).await);
    assert!(!kids.contains(&old_kid), "{kids:?}");
    assert!(
        kids.contains(&new_kid) && kids.contains(&newest_kid),
        "{kids:?}"
    );
    // The key retired just now is still in its grace period.
    app.me("acme", &new_token)
        .await
        .assert_status(StatusCode::OK);
}
