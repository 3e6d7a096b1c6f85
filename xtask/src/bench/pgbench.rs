//! The database ceiling for the catalog: pgbench runs, as the application role `lms_app` (so
//! row-level security is in force), the statements one `GET /api/v1/catalog?limit=20` runs.

use std::path::Path;

use anyhow::{Context, Result, bail};

use super::cluster::Cluster;
use crate::{command, output_text};

/// `Actor::load` (`users::by_id` in platform/src/users/store.rs): the token's user, as of this
/// transaction.
const ACTOR_QUERY: &str = "select tenant_id, id, email, display_name, password_hash, roles, \
     status, session_epoch, last_login_at, created_at from users where tenant_id = :tenant and id = :user";

/// `catalog::store::newest` (platform/src/catalog/store.rs) without filters or cursor, as the
/// server builds it.
const CATALOG_QUERY: &str = "select c.id, c.slug, c.title, c.summary, c.category, c.tags, \
     c.difficulty, c.language, c.estimated_minutes, c.thumbnail_url, c.price_minor, c.currency, \
     c.self_enrollment, c.capacity, c.sequential, c.published_at, \
     case when c.capacity is null then null else greatest(c.capacity - ( \
         select count(*) from enrollments e \
         where e.tenant_id = c.tenant_id and e.course_id = c.id and e.status = 'active'), 0) \
     end as seats_left, ''::text as description, 0::real as rank from courses c \
     where c.tenant_id = :tenant and c.status = 'published' \
     order by c.published_at desc, c.id desc \
     limit :limit";

/// What each pgbench transaction runs, for the report.
pub const DESCRIPTION: &str = "BEGIN; select set_config('app.tenant_id', <tenant>, true); \
     Actor::load's users-by-id select; the catalog's newest-first select (limit 21); COMMIT \
     (prepared, as lms_app, one of the logged-in learners per script)";

pub struct Outcome {
    pub tps: f64,
    pub latency_ms: f64,
}

pub fn run(
    cluster: &Cluster,
    dir: &Path,
    tenant: &str,
    users: &[String],
    connections: u32,
    seconds: u32,
) -> Result<Outcome> {
    if users.is_empty() {
        bail!("pgbench needs at least one user id");
    }
    let mut cmd = command("pgbench");
    cmd.env("PGPASSWORD", &cluster.app_password)
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &cluster.port.to_string(),
            "-U",
            "lms_app",
        ])
        .args(["-n", "-M", "prepared", "-j", "2"])
        .arg(format!("-c{connections}"))
        .arg(format!("-T{seconds}"))
        .arg(format!("--define=tenant={tenant}"))
        .arg("--define=limit=21");
    // One script per user, picked at random per transaction, so the user lookups vary like the
    // API's; each script binds its own user as a parameter.
    for (i, user) in users.iter().take(16).enumerate() {
        let script = dir.join(format!("catalog-{i}.sql"));
        std::fs::write(
            &script,
            format!(
                "BEGIN;\nselect set_config('app.tenant_id', :tenant, true);\n{};\n{};\nCOMMIT;\n",
                ACTOR_QUERY.replace(":user", &format!(":user{i}")),
                CATALOG_QUERY
            ),
        )
        .with_context(|| format!("writing {}", script.display()))?;
        cmd.arg(format!("--define=user{i}={user}"))
            .arg("-f")
            .arg(&script);
    }
    cmd.arg("lms");
    let text = output_text(&mut cmd)?;
    let tps = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("pgbench printed no tps:\n{text}"))?;
    let latency_ms = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("latency average = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("pgbench printed no latency average:\n{text}"))?;
    Ok(Outcome { tps, latency_ms })
}
