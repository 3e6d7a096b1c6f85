//! `lms`: the platform's one binary.

use std::net::SocketAddr;

use anyhow::Context;
use clap::{Parser, Subcommand};
use lms_platform::config::Config;
use lms_platform::startup::{Application, database_urls, shutdown_signal};
use lms_platform::{db, demo, openapi, telemetry};
use secrecy::ExposeSecret;

#[derive(Parser)]
#[command(name = "lms", version, about = "Multi-tenant learning platform")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (migrations are applied first).
    Serve {
        /// Address to listen on.
        #[arg(long, env = "LMS_BIND", default_value = "127.0.0.1:8080")]
        bind: SocketAddr,
        /// Seed the demo tenant if absent and print its credentials.
        #[arg(long)]
        demo: bool,
    },
    /// Run background jobs and schedules without the HTTP API (needs DATABASE_URL); turn off
    /// the server's own worker with LMS_IN_PROCESS_WORKER=false where these run.
    Worker,
    /// Apply database migrations and exit.
    Migrate,
    /// Print the OpenAPI document.
    Openapi,
    /// Stripe billing.
    Billing {
        #[command(subcommand)]
        command: BillingCommand,
    },
}

#[derive(Subcommand)]
enum BillingCommand {
    /// Read every tenant's subscription and entitlements again from Stripe and repair drift
    /// (needs DATABASE_URL and LMS_STRIPE_SECRET_KEY).
    Reconcile,
}

fn main() -> std::process::ExitCode {
    // The plugin compile child (`lms __compile-plugin`, hidden) starts before any runtime or
    // thread, so that the limits it sets on itself cover the compile alone.
    if let Some(code) = lms_plugin_host::run_child_if_requested() {
        return code;
    }
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("Error: {err:?}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[tokio::main]
async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut config = Config::from_env()?;
    match cli.command {
        Command::Openapi => {
            let document = openapi::document_json()?;
            std::io::Write::write_all(&mut std::io::stdout(), document.as_bytes())?;
            Ok(())
        }
        Command::Migrate => {
            telemetry::init(config.log_json);
            let (urls, cluster) = database_urls(&config).await?;
            let migrated = db::migrate(&urls).await;
            if let Some(cluster) = cluster {
                cluster.stop().await?;
            }
            migrated?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Worker => {
            telemetry::init(config.log_json);
            lms_platform::startup::run_worker(config, shutdown_signal()).await
        }
        Command::Billing {
            command: BillingCommand::Reconcile,
        } => {
            telemetry::init(config.log_json);
            let report = lms_platform::startup::reconcile_billing(config).await?;
            let line = format!(
                "{} tenants reconciled with Stripe: {} repaired, {} failed\n",
                report.tenants, report.repaired, report.failed
            );
            std::io::Write::write_all(&mut std::io::stdout(), line.as_bytes())?;
            anyhow::ensure!(
                report.failed == 0,
                "{} tenants could not be reconciled",
                report.failed
            );
            Ok(())
        }
        Command::Serve { bind, demo } => {
            telemetry::init(config.log_json);
            config.bind = bind;
            serve(config, demo).await
        }
    }
}

async fn serve(config: Config, seed_demo: bool) -> anyhow::Result<()> {
    let demo_password = seed_demo
        .then(|| {
            demo::password(
                std::env::var("LMS_DEMO_PASSWORD")
                    .ok()
                    .map(Into::into)
                    .as_ref(),
                &config.data_dir,
            )
        })
        .transpose()?;
    let app = Application::build(config).await?;
    let address = app.local_addr()?;
    let mut banner = vec![format!(
        "LMS is running at http://{address}  (API docs: http://{address}/docs)"
    )];
    if let Some(token) = &app.generated_operator_token {
        banner.push(format!(
            "Operator credential (generated; set LMS_OPERATOR_TOKEN to fix it): {}",
            token.expose_secret()
        ));
    }
    if let Some(password) = &demo_password {
        let seeded = demo::seed(app.state(), password)
            .await
            .context("seeding the demo tenant");
        if let Err(err) = seeded {
            app.run_until_stopped(async {}).await.ok();
            return Err(err);
        }
        banner.push(format!(
            "Demo tenant `{}`: send `X-Tenant: {}` (or use a {0}.<LMS_BASE_DOMAIN> host).",
            demo::SLUG,
            demo::SLUG
        ));
        for (email, _, role) in demo::USERS {
            banner.push(format!(
                "  {email:<26} {:<14} password: {}",
                role.as_str(),
                password.expose_secret()
            ));
        }
        banner.push(format!(
            "  try: curl -s -H 'X-Tenant: demo' -H 'Content-Type: application/json' -d '{{\"email\":\"learner1@demo.example\",\"password\":\"{}\"}}' http://{address}/api/v1/auth/login",
            password.expose_secret()
        ));
    }
    banner.push("Press Ctrl-C to stop.".into());
    let text = banner.join("\n") + "\n";
    std::io::Write::write_all(&mut std::io::stderr(), text.as_bytes())?;
    app.run_until_stopped(shutdown_signal()).await
}
