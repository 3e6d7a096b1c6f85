//! Configuration from the environment (a `.env` file is read first if present). Every setting has
//! an embedded default so that `lms serve --demo` needs none.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use secrecy::SecretString;

#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
    pub database: DatabaseConfig,
    /// Holds the private cluster (when `DATABASE_URL` is absent) and generated state.
    pub data_dir: PathBuf,
    /// The platform operator's bearer credential. `None`: generated at start-up and printed.
    pub operator_token: Option<SecretString>,
    /// `acme.<base_domain>` resolves to tenant `acme`.
    pub base_domain: Option<String>,
    /// Where users reach the web app; links in emails point here.
    pub public_url: Option<String>,
    pub email: EmailConfig,
    pub rate_limits: RateLimits,
    /// Take the client address from `X-Forwarded-For` (only behind a trusted reverse proxy).
    pub trust_proxy_headers: bool,
    pub tenant_cache_ttl: Duration,
    pub log_json: bool,
    pub plugins: PluginConfig,
    pub storage: StorageConfig,
    pub jobs: JobsConfig,
    /// Internal hosts and networks outbound calls may reach (`LMS_OUTBOUND_ALLOW`).
    pub outbound_allow: crate::outbound::AllowList,
    /// The DNS server that domain verification asks (`LMS_DNS_RESOLVER`, `ip:port`); `None`: the
    /// system's resolvers.
    pub dns_resolver: Option<SocketAddr>,
    /// The keys that seal secrets at rest (`LMS_SECRETS_KEY`, `LMS_SECRETS_RETIRED_KEYS`).
    pub secrets: crate::secrets_at_rest::SecretsConfig,
    /// Stripe billing (`LMS_STRIPE_SECRET_KEY` etc.); off without a key.
    pub billing: crate::billing::BillingConfig,
}

/// Who runs background jobs.
#[derive(Debug, Clone)]
pub struct JobsConfig {
    /// `lms serve` runs a worker in its own process (`LMS_IN_PROCESS_WORKER`, default on); turn
    /// it off where `lms worker` processes run the jobs.
    pub in_process: bool,
    pub worker: crate::jobs::WorkerConfig,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            in_process: true,
            worker: crate::jobs::WorkerConfig::default(),
        }
    }
}

/// Where uploaded files live.
#[derive(Debug, Clone, Default)]
pub struct StorageConfig {
    /// `None` (no `LMS_S3_BUCKET`): files on local disk under `<data_dir>/files`.
    pub s3: Option<S3Config>,
}

/// An S3 bucket, on AWS or any S3-compatible store. Only these settings are used: never the
/// AWS environment variables, profile files or instance metadata.
#[derive(Debug, Clone)]
pub struct S3Config {
    pub bucket: String,
    pub region: String,
    /// E.g. `http://127.0.0.1:9000` for MinIO; `None`: AWS's endpoint for the region.
    pub endpoint: Option<String>,
    /// Both or neither; neither sends requests unsigned.
    pub access_key_id: Option<SecretString>,
    pub secret_access_key: Option<SecretString>,
    /// `endpoint/bucket/key` rather than `bucket.endpoint/key` (MinIO, moto).
    pub path_style: bool,
    /// Prepended to every key (`<prefix>/<tenant>/...`), to share a bucket.
    pub prefix: Option<String>,
}

#[derive(Debug, Clone)]
pub struct PluginConfig {
    /// Where the first-party plugins' built `.wasm` files are; `None`: no catalog registration.
    pub artifacts_dir: Option<PathBuf>,
    /// Invocation records kept per tenant.
    pub invocations_kept: i64,
    /// The program run to prove an upload compiles within its budget, with the hidden
    /// `__compile-plugin` argument; `None`: this executable (`lms`).
    pub compile_program: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// The owner's connection (runs migrations). `None`: the private cluster.
    pub owner_url: Option<SecretString>,
    /// The application role's connection; derived from the owner URL when absent.
    pub app_url: Option<SecretString>,
    /// The operator role's connection; derived from the owner URL when absent.
    pub operator_url: Option<SecretString>,
    /// Set as the roles' passwords by migration, and used in the derived URLs.
    pub app_password: Option<SecretString>,
    pub operator_password: Option<SecretString>,
    pub pool_size: u32,
}

#[derive(Debug, Clone)]
pub struct EmailConfig {
    /// `smtp://host:port` (plain), `smtp://host:port?tls=starttls` or `smtps://host:port`, with
    /// optional `user:password@`. `None`: the outbox and the log are the delivery.
    pub smtp_url: Option<SecretString>,
    pub from: String,
}

#[derive(Debug, Clone, Copy)]
pub struct RateLimits {
    /// Requests per second per client address for every endpoint; 0 disables.
    pub global_per_second: u64,
    pub global_burst: u32,
    /// Requests per second per client address for the authentication endpoints; 0 disables.
    pub auth_per_second: u64,
    pub auth_burst: u32,
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        // A missing .env is normal; a malformed one is an error worth stopping for.
        match dotenvy::dotenv() {
            Ok(_) => {}
            Err(err) if err.not_found() => {}
            Err(err) => return Err(err).context("reading .env"),
        }
        Ok(Self {
            bind: var("LMS_BIND")?.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            database: DatabaseConfig {
                owner_url: secret("DATABASE_URL"),
                app_url: secret("LMS_APP_DATABASE_URL"),
                operator_url: secret("LMS_OPERATOR_DATABASE_URL"),
                app_password: secret("LMS_APP_DB_PASSWORD"),
                operator_password: secret("LMS_OPERATOR_DB_PASSWORD"),
                pool_size: var("LMS_DB_POOL_SIZE")?.unwrap_or_else(default_pool_size),
            },
            data_dir: var("LMS_DATA_DIR")?.unwrap_or_else(|| PathBuf::from(".lms")),
            operator_token: secret("LMS_OPERATOR_TOKEN"),
            base_domain: var("LMS_BASE_DOMAIN")?,
            public_url: var("LMS_PUBLIC_URL")?,
            email: EmailConfig {
                smtp_url: secret("LMS_SMTP_URL"),
                from: var("LMS_EMAIL_FROM")?
                    .unwrap_or_else(|| "LMS <no-reply@lms.localhost>".to_owned()),
            },
            rate_limits: RateLimits {
                global_per_second: var("LMS_RATE_LIMIT_PER_SECOND")?.unwrap_or(200),
                global_burst: var("LMS_RATE_LIMIT_BURST")?.unwrap_or(400),
                auth_per_second: var("LMS_AUTH_RATE_LIMIT_PER_SECOND")?.unwrap_or(2),
                auth_burst: var("LMS_AUTH_RATE_LIMIT_BURST")?.unwrap_or(20),
            },
            trust_proxy_headers: var("LMS_TRUST_PROXY_HEADERS")?.unwrap_or(false),
            tenant_cache_ttl: Duration::from_secs(var("LMS_TENANT_CACHE_SECONDS")?.unwrap_or(5)),
            log_json: var::<String>("LMS_LOG_FORMAT")?.is_none_or(|f| f != "pretty"),
            plugins: PluginConfig {
                artifacts_dir: var::<PathBuf>("LMS_PLUGIN_ARTIFACTS")?.or_else(|| {
                    // Where `cargo xtask test` and the plugins' README build them.
                    let built = PathBuf::from("target/plugins/wasm32-wasip2/release");
                    built.is_dir().then_some(built)
                }),
                invocations_kept: var("LMS_PLUGIN_INVOCATIONS_KEPT")?
                    .unwrap_or(crate::plugins::DEFAULT_INVOCATIONS_KEPT),
                compile_program: None,
            },
            storage: StorageConfig::from_env()?,
            outbound_allow: crate::outbound::AllowList::parse(
                &var::<String>("LMS_OUTBOUND_ALLOW")?.unwrap_or_default(),
            )?,
            dns_resolver: var("LMS_DNS_RESOLVER")?,
            secrets: crate::secrets_at_rest::SecretsConfig {
                key: secret("LMS_SECRETS_KEY"),
                retired_keys: secret("LMS_SECRETS_RETIRED_KEYS"),
            },
            billing: crate::billing::BillingConfig {
                stripe_secret_key: secret("LMS_STRIPE_SECRET_KEY"),
                webhook_secrets: crate::billing::BillingConfig::parse_webhook_secrets(
                    &var::<String>("LMS_STRIPE_WEBHOOK_SECRET")?.unwrap_or_default(),
                ),
                api_base: var("LMS_STRIPE_API_BASE")?,
                past_due_grace_days: var("LMS_BILLING_GRACE_DAYS")?
                    .unwrap_or(crate::billing::DEFAULT_GRACE_DAYS),
            },
            jobs: JobsConfig {
                in_process: var("LMS_IN_PROCESS_WORKER")?.unwrap_or(true),
                worker: crate::jobs::WorkerConfig {
                    concurrency: var("LMS_JOB_CONCURRENCY")?
                        .unwrap_or(crate::jobs::WorkerConfig::default().concurrency)
                        .max(1),
                    ..crate::jobs::WorkerConfig::default()
                },
            },
        })
    }
}

impl StorageConfig {
    fn from_env() -> anyhow::Result<Self> {
        let Some(bucket) = var::<String>("LMS_S3_BUCKET")? else {
            return Ok(Self { s3: None });
        };
        let endpoint = var::<String>("LMS_S3_ENDPOINT")?;
        Ok(Self {
            s3: Some(S3Config {
                bucket,
                region: var("LMS_S3_REGION")?.unwrap_or_else(|| "us-east-1".to_owned()),
                path_style: var("LMS_S3_PATH_STYLE")?.unwrap_or(endpoint.is_some()),
                endpoint,
                access_key_id: secret("LMS_S3_ACCESS_KEY_ID"),
                secret_access_key: secret("LMS_S3_SECRET_ACCESS_KEY"),
                prefix: var("LMS_S3_PREFIX")?,
            }),
        })
    }
}

/// Connections of the request pool unless `LMS_DB_POOL_SIZE` says: 4 per core, from 8 to 32.
/// More connections than the database's cores can serve only queue inside PostgreSQL, where
/// every waiting backend costs context switches and its own cold caches after a start; waiting
/// for a pooled connection costs nothing. (On 2 cores, 8 served the course reads and the quiz
/// storm faster than 32; see the README's benchmarks.)
pub fn default_pool_size() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    u32::try_from(cores.saturating_mul(4))
        .unwrap_or(u32::MAX)
        .clamp(8, 32)
}

fn var<T: FromStr>(name: &str) -> anyhow::Result<Option<T>>
where
    T::Err: std::fmt::Display,
{
    match std::env::var(name) {
        Ok(raw) if raw.trim().is_empty() => Ok(None),
        Ok(raw) => raw
            .trim()
            .parse()
            .map(Some)
            .map_err(|e| anyhow::anyhow!("{name}={raw:?} is invalid: {e}")),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => anyhow::bail!("{name} is not valid UTF-8"),
    }
}

fn secret(name: &str) -> Option<SecretString> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map(SecretString::from)
}
