//! Building and running the application: database (private cluster or configured), migrations,
//! pools, keys, background work and the HTTP listener. Tests build it on port 0.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use lms_tenants::TenantResolver;
use secrecy::{ExposeSecret, SecretString};
use tokio::net::TcpListener;

use crate::auth::{KeyRing, LoginBackoff, PasswordHasher};
use crate::config::{Config, JobsConfig};
use crate::db::{self, ResolvedUrls};
use crate::email::Mailer;
use crate::jobs::{Worker, WorkerConfig};
use crate::pg_cluster::PrivateCluster;
use crate::state::{AppState, Settings};

pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    state: AppState,
    jobs: JobsConfig,
    cluster: Option<PrivateCluster>,
    /// Set when the operator credential was generated rather than configured.
    pub generated_operator_token: Option<SecretString>,
}

/// Starts the private cluster when no database is configured; returns the owner URL.
pub async fn database_urls(
    config: &Config,
) -> anyhow::Result<(ResolvedUrls, Option<PrivateCluster>)> {
    match &config.database.owner_url {
        Some(url) => Ok((ResolvedUrls::new(&config.database, url.clone())?, None)),
        None => {
            let cluster = PrivateCluster::start(&config.data_dir).await?;
            let mut database = config.database.clone();
            database.app_password = Some(SecretString::from(cluster.app_password().to_owned()));
            database.operator_password =
                Some(SecretString::from(cluster.operator_password().to_owned()));
            let urls = ResolvedUrls::new(&database, SecretString::from(cluster.owner_url()))?;
            Ok((urls, Some(cluster)))
        }
    }
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let (urls, cluster) = database_urls(&config).await?;
        match Self::build_with(config, &urls).await {
            Ok(mut app) => {
                app.cluster = cluster;
                Ok(app)
            }
            Err(err) => {
                if let Some(cluster) = cluster {
                    cluster.stop().await.ok();
                }
                Err(err)
            }
        }
    }

    async fn build_with(config: Config, urls: &ResolvedUrls) -> anyhow::Result<Self> {
        db::migrate(urls).await?;
        let listener = TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("binding {}", config.bind))?;
        let local = listener.local_addr()?;
        let (state, generated_operator_token) =
            build_state(&config, urls, format!("http://{local}")).await?;
        let router = crate::app::build(
            state.clone(),
            config.rate_limits,
            config.trust_proxy_headers,
        );
        Ok(Self {
            listener,
            router,
            state,
            jobs: config.jobs,
            cluster: None,
            generated_operator_token,
        })
    }

    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map_or(0, |a| a.port())
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then drains in-flight requests and stops the private
    /// cluster if this process started one.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let key_reloader = tokio::spawn(self.state.keys.clone().reload_periodically());
        // One LISTEN connection wakes this process's notification streams (on the operator
        // pool's settings, as the job worker's; LISTEN reads no table).
        let notifications = self.state.notifications.clone();
        let notification_listener = tokio::spawn(
            notifications
                .clone()
                .listen(self.state.operator_db.pool().clone()),
        );
        // Streams never end by themselves: end them when shutdown starts, so that the
        // graceful shutdown is not kept waiting.
        let shutdown = async move {
            shutdown.await;
            notifications.close();
        };
        let (stop_worker, worker_stopped) = tokio::sync::oneshot::channel::<()>();
        let worker = self.jobs.in_process.then(|| {
            tokio::spawn(
                platform_worker(self.state.clone(), self.jobs.worker.clone()).run(async {
                    worker_stopped.await.ok();
                }),
            )
        });
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(self.listener, service)
            .with_graceful_shutdown(shutdown)
            .await;
        key_reloader.abort();
        notification_listener.abort();
        stop_worker.send(()).ok();
        if let Some(worker) = worker {
            worker.await.ok();
        }
        if let Some(cluster) = self.cluster {
            tracing::info!("stopping the private PostgreSQL cluster");
            cluster.stop().await?;
        }
        served.context("serving HTTP")
    }
}

/// A worker for every kind of job and schedule the platform has.
pub fn platform_worker(state: AppState, config: WorkerConfig) -> Worker {
    Worker::new(state, crate::jobs::registry(), config).with_schedules(crate::jobs::schedules())
}

/// Builds what handlers and jobs reach: pools, keys, plugins, mail and files. `public_url` is the
/// base of links when none is configured.
async fn build_state(
    config: &Config,
    urls: &ResolvedUrls,
    public_url: String,
) -> anyhow::Result<(AppState, Option<SecretString>)> {
    let databases = db::connect(urls, config.database.pool_size).await?;
    crate::health::install_metrics_recorder();
    let keys = KeyRing::load(databases.operator.clone())
        .await
        .context("loading signing keys")?;
    let (operator_token, generated_operator_token) = match &config.operator_token {
        Some(token) => (token.clone(), None),
        None => {
            let token = SecretString::from(
                crate::auth::tokens::OpaqueToken::generate()
                    .as_str()
                    .to_owned(),
            );
            (token.clone(), Some(token))
        }
    };
    let plugins = crate::plugins::Plugins::new(&config.plugins)?;
    crate::plugins::register_catalog(&databases.operator, config.plugins.artifacts_dir.as_deref())
        .await
        .context("registering the first-party plugin catalog")?;
    let mailer = Mailer::from_config(config.email.smtp_url.as_ref(), &config.email.from)?;
    let storage =
        crate::storage::Storage::from_config(&config.storage, config.data_dir.join("files"))
            .await
            .context("opening file storage")?;
    tracing::info!(
        backend = storage.backend_name(),
        location = %storage.location(),
        "file storage"
    );
    let sealing =
        crate::secrets_at_rest::SealingKeys::from_config(&config.secrets, &config.data_dir)
            .context("loading the keys for secrets at rest")?;
    let state = AppState {
        db: databases.app.clone(),
        operator_db: databases.operator,
        resolver: TenantResolver::new(
            databases.app,
            config.base_domain.clone(),
            config.tenant_cache_ttl,
        ),
        keys,
        // Each hash holds 19 MiB and a core; more in flight only queues inside argon2.
        passwords: PasswordHasher::new(
            std::thread::available_parallelism().map_or(2, |n| n.get()) * 2,
        )?,
        backoff: LoginBackoff::default(),
        mailer,
        settings: Arc::new(Settings {
            operator_token_hash: Settings::hash_operator_token(operator_token.expose_secret()),
            public_url: config.public_url.clone().unwrap_or(public_url),
            base_domain: config.base_domain.clone(),
            trust_proxy_headers: config.trust_proxy_headers,
        }),
        plugins,
        storage,
        outbound: crate::outbound::Outbound::new(
            config.outbound_allow.clone(),
            crate::outbound::Limits::default(),
        )?,
        sealing,
        sso: crate::sso::Sso {
            providers: crate::sso::oidc::Providers::new(config.outbound_allow.clone())?,
            dns: crate::sso::dns::TxtResolver::new(config.dns_resolver)?,
        },
        notifications: crate::notifications::Notifier::default(),
        billing: crate::billing::Billing::new(&config.billing, config.outbound_allow.clone())
            .context("configuring Stripe billing")?,
    };
    Ok((state, generated_operator_token))
}

/// `lms worker`: runs jobs and schedules, without the HTTP API, until `shutdown` completes.
/// Needs a configured database: the private cluster belongs to the `lms serve` that started it.
pub async fn run_worker(
    config: Config,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let Some(owner) = config.database.owner_url.clone() else {
        anyhow::bail!(
            "lms worker needs DATABASE_URL: workers of the embedded database run inside lms serve"
        );
    };
    let urls = ResolvedUrls::new(&config.database, owner)?;
    db::migrate(&urls).await?;
    let public_url = format!("http://{}", config.bind);
    let (state, _) = build_state(&config, &urls, public_url).await?;
    platform_worker(state, config.jobs.worker.clone())
        .run(shutdown)
        .await;
    Ok(())
}

/// `lms billing reconcile`: every tenant's billing state read again from Stripe, drift
/// repaired. Needs a configured database, like `lms worker`.
pub async fn reconcile_billing(config: Config) -> anyhow::Result<crate::billing::Report> {
    let Some(owner) = config.database.owner_url.clone() else {
        anyhow::bail!("lms billing reconcile needs DATABASE_URL");
    };
    let urls = ResolvedUrls::new(&config.database, owner)?;
    db::migrate(&urls).await?;
    let public_url = format!("http://{}", config.bind);
    let (state, _) = build_state(&config, &urls, public_url).await?;
    crate::billing::reconcile_all(&state).await
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "listening for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}
