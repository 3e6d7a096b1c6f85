//! Certificate issuance figures (`cargo xtask bench certificates` builds and runs this in release
//! mode): certificates issued per second, each one the whole issuance the job runs (template and
//! learner read, status index taken, the Open Badges credential built and signed with its
//! `eddsa-rdfc-2022` Data Integrity proof, the row and its event written and committed) plus its
//! PDF rendered; and the PDF's size.
//!
//! Runs against a fresh private PostgreSQL cluster under `target/bench/certificates/`.
//! Options: `--certificates N` (default 2,000), `--concurrency C` (default: the machine's cores).

#![allow(clippy::print_stdout)] // a benchmark prints its figures

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context, Result};
use lms_platform::certificates::{self, Cause};
use lms_platform::config::Config;
use lms_platform::courses::store::{self as courses, CourseFields};
use lms_platform::courses::{CourseId, Difficulty};
use lms_platform::operator::{CreateTenant, create_tenant};
use lms_platform::startup::Application;
use lms_platform::state::AppState;
use lms_platform::users::store::{self as users, NewUser};
use lms_platform::users::{DisplayName, Email, Role, Roles, UserId, UserStatus};
use lms_tenants::{Slug, Tenant};

struct Args {
    certificates: usize,
    concurrency: usize,
}

fn args() -> Result<Args> {
    let mut args = Args {
        certificates: 2_000,
        concurrency: std::thread::available_parallelism().map_or(2, usize::from),
    };
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let mut it = raw.iter();
    while let Some(flag) = it.next() {
        let value: usize = it
            .next()
            .with_context(|| format!("{flag} needs a value"))?
            .parse()
            .with_context(|| format!("{flag} needs a number"))?;
        match flag.as_str() {
            "--certificates" => args.certificates = value.max(1),
            "--concurrency" => args.concurrency = value.max(1),
            other => anyhow::bail!("unknown option {other}"),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = args()?;
    let data_dir = std::path::PathBuf::from("target/bench/certificates");
    if data_dir.exists() {
        std::fs::remove_dir_all(&data_dir).context("clearing target/bench/certificates")?;
    }
    let mut config = Config::from_env()?;
    config.bind = "127.0.0.1:0".parse()?;
    config.database.owner_url = None;
    config.data_dir = data_dir;
    config.jobs.in_process = false;
    config.plugins.artifacts_dir = None;
    let app = Application::build(config).await?;
    let state = app.state().clone();
    let outcome = run(&state, &args).await;
    app.run_until_stopped(async {}).await.ok();
    outcome
}

/// A tenant with an admin, a course with a certificate template, and the learners.
async fn seed(
    state: &AppState,
    learners: usize,
) -> Result<(Tenant, CourseId, UserId, Vec<UserId>)> {
    let tenant = create_tenant(
        state,
        None,
        CreateTenant {
            slug: Slug::parse("bench-certificates").map_err(|e| anyhow::anyhow!("{e:?}"))?,
            display_name: "Bench Certification Institute".into(),
            branding: Default::default(),
            settings: Default::default(),
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut tx = state.db.begin(tenant.id).await?;
    let mut add = async |email: String, name: &str, role: Role| -> Result<UserId> {
        let email = Email::parse(&email).map_err(|e| anyhow::anyhow!("{e}"))?;
        let name = DisplayName::parse(name).map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(users::insert(
            &mut tx,
            &NewUser {
                email: &email,
                display_name: &name,
                password_hash: None,
                roles: &Roles::one(role),
                status: UserStatus::Active,
            },
        )
        .await?
        .id)
    };
    let admin = add(
        "admin@bench.example".into(),
        "Bench Admin",
        Role::TenantAdmin,
    )
    .await?;
    let mut ids = Vec::with_capacity(learners);
    for i in 0..learners {
        ids.push(
            add(
                format!("learner{i}@bench.example"),
                &format!("Learner Number {i}"),
                Role::Learner,
            )
            .await?,
        );
    }
    let course = CourseId::default();
    courses::insert(
        &mut tx,
        course,
        &CourseFields {
            slug: "data-stewardship",
            title: "Data Stewardship in Practice",
            summary: "",
            description: "",
            category: None,
            tags: &[],
            difficulty: Difficulty::Intermediate,
            language: "en",
            estimated_minutes: Some(750),
            thumbnail_url: None,
            price_minor: 0,
            currency: None,
            self_enrollment: true,
            capacity: None,
            sequential: false,
            is_template: false,
        },
    )
    .await?;
    sqlx::query(
        "insert into certificate_templates (tenant_id, id, course_id, title, description, criteria,
             signatory_name, signatory_title, credit_hours, credits)
         values ($1, $2, $3, 'Certified Data Steward', 'Stewards data with care.',
                 'Completed every lesson and passed the final assessment.', 'Ada Lovelace',
                 'Head of Learning', 12.5, '[{\"body\": \"PMI\", \"credits\": 12.5}]')",
    )
    .bind(tenant.id)
    .bind(uuid::Uuid::now_v7())
    .bind(course)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((tenant, course, admin, ids))
}

async fn run(state: &AppState, args: &Args) -> Result<()> {
    let (tenant, course, admin, learners) = seed(state, args.certificates).await?;
    println!(
        "certificates: {} issued by hand, {} at a time (credential signed with eddsa-rdfc-2022, \
         row and event committed, PDF rendered)",
        args.certificates, args.concurrency
    );
    let learners = Arc::new(learners);
    let next = Arc::new(AtomicUsize::new(0));
    let pdf_bytes = Arc::new(AtomicUsize::new(0));
    let credential_bytes = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.concurrency {
        let (state, tenant) = (state.clone(), tenant.clone());
        let (learners, next) = (Arc::clone(&learners), Arc::clone(&next));
        let (pdf_bytes, credential_bytes) = (Arc::clone(&pdf_bytes), Arc::clone(&credential_bytes));
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&learner) = learners.get(i) else {
                    return Ok::<_, anyhow::Error>(());
                };
                let mut tx = state.db.begin(tenant.id).await?;
                let certificate =
                    certificates::issue(&state, &mut tx, course, learner, Cause::Admin(admin))
                        .await
                        .map_err(|e| anyhow::anyhow!("issuing: {e}"))?;
                let credential: Option<serde_json::Value> = sqlx::query_scalar(
                    "select credential from certificates where tenant_id = $1 and id = $2",
                )
                .bind(tenant.id)
                .bind(certificate.id)
                .fetch_one(&mut *tx)
                .await?;
                tx.commit().await?;
                let link_base = state.settings.link_base(&tenant);
                let name = tenant.display_name.clone();
                let pdf = tokio::task::spawn_blocking(move || {
                    let url = format!("{link_base}/verify/{}", certificate.id);
                    certificates::pdf::render(
                        &certificate,
                        &certificates::pdf::Provider {
                            name: &name,
                            primary_color: None,
                            verification_url: &url,
                        },
                    )
                })
                .await??;
                pdf_bytes.fetch_max(pdf.len(), Ordering::Relaxed);
                let size = credential.map_or(0, |c| c.to_string().len());
                credential_bytes.fetch_max(size, Ordering::Relaxed);
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "  issued:      {:>9.1} certificates/s ({} in {elapsed:.1} s)",
        args.certificates as f64 / elapsed,
        args.certificates
    );
    println!(
        "  PDF size:    {:>9} bytes (largest; fonts subset and embedded, QR code)",
        pdf_bytes.load(Ordering::Relaxed)
    );
    println!(
        "  credential:  {:>9} bytes (largest, JSON-LD with its proof)",
        credential_bytes.load(Ordering::Relaxed)
    );
    Ok(())
}
