//! Seeding the benchmark tenants (SQL as the cluster superuser, see `seed.sql`) and signing in
//! their learners through the API.

use std::path::Path;

use anyhow::{Context, Result, bail};

use super::cluster::Cluster;
use super::server::http;
use crate::output_text;

const SEED_SQL: &str = include_str!("seed.sql");

/// How much one tenant holds.
#[derive(Clone, Copy)]
pub struct Shape {
    pub courses: u32,
    pub learners: u32,
    pub enrollments_per_learner: u32,
}

pub const FULL: Shape = Shape {
    courses: 1000,
    learners: 10_000,
    enrollments_per_learner: 10,
};

pub struct Tenant {
    pub id: String,
    pub slug: String,
}

/// The argon2id hash the server gave the demo learner, reused for every seeded learner so
/// that they all sign in with `password` without hashing 10,000 times.
pub fn demo_password_hash(cluster: &Cluster) -> Result<String> {
    let hash = cluster.query(
        "select u.password_hash from users u join tenants t on t.id = u.tenant_id \
         where t.slug = 'demo' and u.email = 'learner1@demo.example'",
    )?;
    let hash = hash.trim();
    if !hash.starts_with("$argon2") {
        bail!("the demo learner has no argon2 password hash");
    }
    Ok(hash.to_owned())
}

pub fn tenant(
    cluster: &Cluster,
    dir: &Path,
    slug: &str,
    password_hash: &str,
    shape: Shape,
) -> Result<Tenant> {
    if shape.enrollments_per_learner > 10 || shape.enrollments_per_learner > shape.courses {
        bail!("the seed enrols a learner in at most 10 distinct courses");
    }
    let script = dir.join("seed.sql");
    std::fs::write(&script, SEED_SQL)?;
    let out = output_text(
        cluster
            .psql()
            .arg("-v")
            .arg(format!("slug={slug}"))
            .arg("-v")
            .arg(format!("display_name=Benchmark Academy {slug}"))
            .arg("-v")
            .arg(format!("password_hash={password_hash}"))
            .arg("-v")
            .arg(format!("courses={}", shape.courses))
            .arg("-v")
            .arg(format!("learners={}", shape.learners))
            .arg("-v")
            .arg(format!("per_learner={}", shape.enrollments_per_learner))
            .arg("-f")
            .arg(&script),
    )
    .with_context(|| format!("seeding tenant {slug}"))?;
    let id = out
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .context("the seed printed no tenant id")?;
    Ok(Tenant {
        id: id.to_owned(),
        slug: slug.to_owned(),
    })
}

pub fn learner_email(tenant: &Tenant, n: u32) -> String {
    format!("learner{n}@{}.example", tenant.slug)
}

/// Signs learners 1..=count in through `POST /api/v1/auth/login` (a few at a time: argon2id
/// takes the server's cores) and returns their bearer access tokens in that order.
pub fn log_in(port: u16, tenant: &Tenant, password: &str, count: u32) -> Result<Vec<String>> {
    let parallel = 8;
    let numbers: Vec<u32> = (1..=count).collect();
    let chunks: Vec<&[u32]> = numbers
        .chunks(numbers.len().div_ceil(parallel).max(1))
        .collect();
    let results: Vec<Result<Vec<String>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|&n| log_in_one(port, tenant, password, n))
                        .collect::<Result<Vec<String>>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a login thread panicked")))
            })
            .collect()
    });
    let mut tokens = Vec::with_capacity(numbers.len());
    for chunk in results {
        tokens.extend(chunk?);
    }
    Ok(tokens)
}

fn log_in_one(port: u16, tenant: &Tenant, password: &str, n: u32) -> Result<String> {
    let email = learner_email(tenant, n);
    let body = format!("{{\"email\":\"{email}\",\"password\":\"{password}\"}}");
    let (status, answer) = http(
        port,
        "POST",
        "/api/v1/auth/login",
        &[
            ("Content-Type", "application/json"),
            ("X-Tenant", &tenant.slug),
        ],
        &body,
    )?;
    if status != 200 {
        bail!("login of {email} answered {status}: {answer}");
    }
    let after = answer
        .split("\"access_token\":\"")
        .nth(1)
        .with_context(|| format!("no access_token in the login answer: {answer}"))?;
    after
        .split('"')
        .next()
        .map(str::to_owned)
        .context("unterminated access_token")
}
