//! The black-box test harness: a fresh database per test (migrations applied by the app itself,
//! which then serves as the RLS-bound `lms_app` role), the real server on port 0, and a typed
//! client with one method per endpoint family.

#![allow(dead_code)] // each test binary uses part of the harness

mod db;
mod fixture;
mod ids;
mod mfa;
pub mod paths;
mod stripe;

use std::time::Duration;

use lms_platform::config::{Config, DatabaseConfig, EmailConfig, RateLimits};
use lms_platform::startup::Application;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};

pub use db::TestDb;
pub use fixture::*;
pub use ids::*;
pub use mfa::*;
pub use stripe::*;

pub const OPERATOR_TOKEN: &str = "test-operator-credential-0123456789";
pub const PASSWORD: &str = "correct horse battery staple";

pub fn test_config(db: &TestDb) -> Config {
    config_for(&db.owner_url, std::env::temp_dir().join(&db.name))
}

/// The test configuration for a database given by its owner URL, with `data_dir` for files.
pub fn config_for(owner_url: &str, data_dir: std::path::PathBuf) -> Config {
    Config {
        bind: "127.0.0.1:0".parse().expect("addr"),
        database: DatabaseConfig {
            owner_url: Some(SecretString::from(owner_url.to_owned())),
            app_url: None,
            operator_url: None,
            app_password: None,
            operator_password: None,
            pool_size: 8,
        },
        data_dir,
        operator_token: Some(SecretString::from(OPERATOR_TOKEN.to_owned())),
        base_domain: Some("lms.test".to_owned()),
        public_url: None,
        email: EmailConfig {
            smtp_url: None,
            from: "LMS Test <no-reply@lms.test>".to_owned(),
        },
        // Generous by default; the rate-limit tests set their own.
        rate_limits: RateLimits {
            global_per_second: 10_000,
            global_burst: 10_000,
            auth_per_second: 10_000,
            auth_burst: 10_000,
        },
        trust_proxy_headers: false,
        tenant_cache_ttl: Duration::from_secs(5),
        log_json: false,
        plugins: lms_platform::config::PluginConfig {
            artifacts_dir: std::env::var_os("LMS_PLUGIN_ARTIFACTS")
                .filter(|dir| !dir.is_empty())
                .map(std::path::PathBuf::from),
            invocations_kept: lms_platform::plugins::DEFAULT_INVOCATIONS_KEPT,
            // The test binary cannot be the compile child; the server binary is.
            compile_program: Some(env!("CARGO_BIN_EXE_lms").into()),
        },
        storage: lms_platform::config::StorageConfig::default(),
        jobs: lms_platform::config::JobsConfig::default(),
        outbound_allow: lms_platform::outbound::AllowList::default(),
        dns_resolver: None,
        // The development key, generated in the test's data folder.
        secrets: lms_platform::secrets_at_rest::SecretsConfig::default(),
        billing: lms_platform::billing::BillingConfig::default(),
    }
}

pub struct TestApp {
    pub address: String,
    pub db: TestDb,
    pub client: reqwest::Client,
    /// The running application's state (pools, mailer, plugins), for tests that drive services
    /// or workers directly.
    pub state: lms_platform::state::AppState,
}

/// One tenant with an active admin and an active learner, both signed in.
pub struct TestTenant {
    pub id: String,
    pub slug: String,
    pub admin: TestUser,
    pub learner: TestUser,
}

#[derive(Clone)]
pub struct TestUser {
    pub id: String,
    pub email: String,
    pub access_token: String,
    pub refresh_token: String,
}

/// An HTTP response, read fully.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    #[track_caller]
    pub fn assert_status(&self, expected: StatusCode) -> &Self {
        assert_eq!(
            self.status, expected,
            "unexpected status; body: {}",
            self.text
        );
        self
    }

    /// Asserts a problem+json error with this status and code.
    #[track_caller]
    pub fn assert_problem(&self, status: StatusCode, code: &str) -> &Self {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        assert_eq!(
            self.headers
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/problem+json"),
            "not problem+json: {}",
            self.text
        );
        assert_eq!(
            self.json()["code"],
            code,
            "unexpected problem code; body: {}",
            self.text
        );
        self
    }
}

/// A request under construction.
pub struct Call<'a> {
    app: &'a TestApp,
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Option<Vec<u8>>,
}

impl Call<'_> {
    pub fn tenant(mut self, slug: &str) -> Self {
        self.headers.insert(
            "x-tenant",
            HeaderValue::from_str(slug).expect("slug header"),
        );
        self
    }

    pub fn host(mut self, host: &str) -> Self {
        self.headers
            .insert("host", HeaderValue::from_str(host).expect("host header"));
        self
    }

    pub fn bearer(mut self, token: &str) -> Self {
        self.headers.insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {token}")).expect("auth header"),
        );
        self
    }

    pub fn operator(self) -> Self {
        self.bearer(OPERATOR_TOKEN)
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers
            .insert(name, HeaderValue::from_str(value).expect("header value"));
        self
    }

    pub fn json(mut self, body: Value) -> Self {
        self.headers
            .insert("content-type", HeaderValue::from_static("application/json"));
        self.body = Some(serde_json::to_vec(&body).expect("json"));
        self
    }

    pub fn raw(mut self, content_type: Option<&str>, body: impl Into<Vec<u8>>) -> Self {
        if let Some(ct) = content_type {
            self.headers.insert(
                "content-type",
                HeaderValue::from_str(ct).expect("content type"),
            );
        }
        self.body = Some(body.into());
        self
    }

    pub async fn send(self) -> Reply {
        let mut request = self
            .app
            .client
            .request(self.method, format!("{}{}", self.app.address, self.path))
            .headers(self.headers);
        if let Some(body) = self.body {
            request = request.body(body);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body read");
        Reply {
            status,
            headers,
            text,
        }
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Starts the server with a configuration adjusted by `adjust`.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_seeded(adjust, |_| async {}).await
    }

    /// Starts the server after `seed` ran on the built application (as `serve --demo` seeds).
    pub async fn spawn_seeded<F: Future<Output = ()>>(
        adjust: impl FnOnce(&mut Config),
        seed: impl FnOnce(lms_platform::state::AppState) -> F,
    ) -> Self {
        lms_platform::telemetry::init(false);
        let db = TestDb::create().await;
        let mut config = test_config(&db);
        adjust(&mut config);
        let app = Application::build(config)
            .await
            .expect("application builds");
        let state = app.state().clone();
        seed(state.clone()).await;
        let address = format!("http://{}", app.local_addr().expect("address"));
        tokio::spawn(app.run_until_stopped(std::future::pending()));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Self {
            address,
            db,
            client,
            state,
        }
    }

    /// Keeps this test's database after the test, for inspection (see [`TestDb::keep`]).
    pub fn keep_db(&self) {
        self.db.keep();
    }

    pub fn call(&self, method: Method, path: &str) -> Call<'_> {
        Call {
            app: self,
            method,
            path: path.to_owned(),
            headers: HeaderMap::new(),
            body: None,
        }
    }

    pub fn get(&self, path: &str) -> Call<'_> {
        self.call(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> Call<'_> {
        self.call(Method::POST, path)
    }

    /// Creates a tenant through the operator API; returns its JSON.
    pub async fn create_tenant(&self, slug: &str) -> Value {
        let reply = self
            .post("/api/v1/operator/tenants")
            .operator()
            .json(json!({ "slug": slug, "display_name": format!("Tenant {slug}") }))
            .send()
            .await;
        reply.assert_status(StatusCode::CREATED);
        reply.json()
    }

    /// The body of the newest email queued for `to` in the outbox. Some emails are queued in
    /// the background after the response (password resets), so this waits up to 5 seconds.
    pub async fn last_email_to(&self, to: &str) -> String {
        self.last_email_containing(to, "").await
    }

    /// Waits up to 5 seconds for the newest email to `to` to contain `needle`; returns its body.
    pub async fn last_email_containing(&self, to: &str, needle: &str) -> String {
        let mut conn = self.db.superuser().await;
        for _ in 0..100 {
            let body: Option<String> = sqlx::query_scalar(
                "select payload->>'body' from jobs
                 where kind = 'email.send' and payload->>'to' = $1 order by id desc limit 1",
            )
            .bind(to)
            .fetch_optional(&mut conn)
            .await
            .expect("outbox query");
            if let Some(body) = body.filter(|b| b.contains(needle)) {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no email to {to} containing {needle:?}")
    }

    /// The `token=` value of the newest email to `to`.
    pub async fn token_from_last_email(&self, to: &str) -> String {
        token_in(&self.last_email_to(to).await)
    }

    /// A tenant with an admin (invited by the operator, invitation accepted) and a learner
    /// (self-registered), both signed in with bearer tokens.
    pub async fn seed_tenant(&self, slug: &str) -> TestTenant {
        let tenant = self.create_tenant(slug).await;
        let id = tenant["id"].as_str().expect("tenant id").to_owned();
        let admin_email = format!("admin@{slug}.example");
        self.post(&paths::operator_invitations(&id))
            .operator()
            .json(
                json!({ "email": admin_email, "display_name": "Admin", "roles": ["tenant_admin"] }),
            )
            .send()
            .await
            .assert_status(StatusCode::CREATED);
        let token = self.token_from_last_email(&admin_email).await;
        let accepted = self
            .post("/api/v1/auth/invitations/accept")
            .tenant(slug)
            .json(json!({ "token": token, "password": PASSWORD }))
            .send()
            .await;
        accepted.assert_status(StatusCode::OK);
        let admin = user_from_session(&accepted.json(), &admin_email);
        let learner = self
            .register(slug, &format!("learner@{slug}.example"))
            .await;
        TestTenant {
            id,
            slug: slug.to_owned(),
            admin,
            learner,
        }
    }

    /// Self-registers a learner and returns them signed in.
    pub async fn register(&self, slug: &str, email: &str) -> TestUser {
        let reply = self
            .post("/api/v1/auth/register")
            .tenant(slug)
            .json(json!({ "email": email, "password": PASSWORD, "display_name": "Learner" }))
            .send()
            .await;
        reply.assert_status(StatusCode::CREATED);
        user_from_session(&reply.json(), email)
    }

    /// `GET /api/v1/auth/me` with a bearer token.
    pub async fn me(&self, slug: &str, access_token: &str) -> Reply {
        self.get("/api/v1/auth/me")
            .tenant(slug)
            .bearer(access_token)
            .send()
            .await
    }

    /// `POST /api/v1/auth/refresh` with the refresh token in the body.
    pub async fn refresh(&self, slug: &str, refresh_token: &str) -> Reply {
        self.post("/api/v1/auth/refresh")
            .tenant(slug)
            .json(json!({ "refresh_token": refresh_token }))
            .send()
            .await
    }

    /// Registers a user, makes them an instructor (as `admin`) and signs them in again (the role
    /// change ends their first session).
    pub async fn instructor(&self, slug: &str, email: &str, admin: &TestUser) -> TestUser {
        self.with_roles(slug, email, &["instructor"], admin).await
    }

    /// Registers a user, gives them these roles (as `admin`) and signs them in again.
    pub async fn with_roles(
        &self,
        slug: &str,
        email: &str,
        roles: &[&str],
        admin: &TestUser,
    ) -> TestUser {
        let user = self.register(slug, email).await;
        self.call(Method::PUT, &paths::user_roles(&user.id))
            .tenant(slug)
            .bearer(&admin.access_token)
            .json(json!({ "roles": roles }))
            .send()
            .await
            .assert_status(StatusCode::OK);
        let session = self.login(slug, email, PASSWORD).await;
        session.assert_status(StatusCode::OK);
        user_from_session(&session.json(), email)
    }

    pub async fn login(&self, slug: &str, email: &str, password: &str) -> Reply {
        self.post("/api/v1/auth/login")
            .tenant(slug)
            .json(json!({ "email": email, "password": password }))
            .send()
            .await
    }
}

pub fn user_from_session(session: &Value, email: &str) -> TestUser {
    TestUser {
        id: session["user"]["id"].as_str().expect("user id").to_owned(),
        email: email.to_owned(),
        access_token: session["access_token"]
            .as_str()
            .expect("access token")
            .to_owned(),
        refresh_token: session["refresh_token"]
            .as_str()
            .expect("refresh token")
            .to_owned(),
    }
}

/// Extracts the `token=` query value from a link in an email body.
pub fn token_in(body: &str) -> String {
    body.split("token=")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| c.is_whitespace() || c == '&').next())
        .unwrap_or_else(|| panic!("no token in email: {body}"))
        .to_owned()
}

/// The bytes of a built plugin from `LMS_PLUGIN_ARTIFACTS`, e.g. `plugin_wasm("numeric_grader")`.
#[track_caller]
pub fn plugin_wasm(file: &str) -> Vec<u8> {
    let dir = std::env::var_os("LMS_PLUGIN_ARTIFACTS")
        .filter(|d| !d.is_empty())
        .expect(
            "LMS_PLUGIN_ARTIFACTS is unset: run `cargo xtask test`, or build the plugins \
             (plugins/README.md) and point it at target/plugins/wasm32-wasip2/release",
        );
    let path = std::path::PathBuf::from(dir).join(format!("{file}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// A plugin upload body: a grader manifest asking for `log`, with an open config schema.
pub fn plugin_upload(name: &str, version: &str, component: &[u8]) -> Value {
    use base64::Engine;
    json!({
        "manifest": {
            "name": name,
            "version": version,
            "world": "grader",
            "capabilities": ["log"],
            "config_schema": {},
            "description": format!("{name} for tests"),
        },
        "component": base64::engine::general_purpose::STANDARD.encode(component),
    })
}
