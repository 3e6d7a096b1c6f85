//! Cancellation safety of pooled connections: requests dropped at random points (a client that
//! disconnects, a timeout) must never hand the next request a connection inside a transaction.
//!
//! Many tasks share small pools and wrap every call in a timeout of a random tiny duration, so
//! futures are dropped while `BEGIN`, a statement or `COMMIT` is in flight. The invariants, checked
//! afterwards and along the way: every write is whole or absent and present when its commit
//! succeeded; no transaction starts inside another one; no pooled connection is left idle in a
//! transaction or answers with an aborted-transaction error; PostgreSQL never warned of a
//! transaction already (or not) in progress.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lms_platform::db::{Databases, OperatorDb, ResolvedUrls};
use lms_tenants::{TenantDb, TenantId};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use secrecy::SecretString;
use sqlx::{Row, postgres::PgDatabaseError};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use uuid::Uuid;

use crate::helpers::{TestDb, test_config};

/// Concurrent clients and the calls each makes: bounded, so the run takes a few seconds.
const CLIENTS: usize = 24;
const CALLS_PER_CLIENT: usize = 80;
/// The app pool's size: far fewer connections than clients, so every connection is reused often.
const POOL_SIZE: u32 = 2;
/// Half the calls get a timeout of up to a few milliseconds (a call takes about one to several), cut
/// at some point of their flight; the others get up to a long one, so many also complete.
const SHORT_TIMEOUT_MICROS: u64 = 4_000;
const LONG_TIMEOUT_MICROS: u64 = 60_000;
/// Parts of one multi-statement write; all or none of them must exist.
const PARTS: i32 = 3;

#[derive(Default)]
struct Ledger {
    committed: HashSet<Uuid>,
    failed: HashSet<Uuid>,
    violations: Vec<String>,
    cancelled: usize,
    completed: usize,
}

type Shared = Arc<Mutex<Ledger>>;

fn violation(ledger: &Shared, what: String) {
    ledger.lock().expect("ledger").violations.push(what);
}

/// Counts PostgreSQL's warnings that a session was already (or no longer) in a transaction.
#[derive(Clone, Default)]
struct TransactionWarnings(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for TransactionWarnings {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        struct Message(Option<String>);
        impl Visit for Message {
            fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = Some(format!("{value:?}"));
                }
            }
            fn record_str(&mut self, field: &Field, value: &str) {
                if field.name() == "message" {
                    self.0 = Some(value.to_owned());
                }
            }
        }
        let mut message = Message(None);
        event.record(&mut message);
        if let Some(text) = message.0
            && text.contains("transaction in progress")
        {
            self.0.lock().expect("warnings").push(text);
        }
    }
}

fn db_code(error: &sqlx::Error) -> Option<String> {
    error
        .as_database_error()
        .and_then(|e| e.try_downcast_ref::<PgDatabaseError>())
        .map(|e| e.code().to_owned())
}

/// A tenant write of several statements committed together.
async fn tenant_write(
    db: &TenantDb,
    tenant: TenantId,
    id: Uuid,
    ledger: &Shared,
) -> sqlx::Result<()> {
    let mut tx = db.begin(tenant).await?;
    // A fresh transaction has no transaction id yet; one means it began inside a stale one.
    let xid: Option<String> = sqlx::query_scalar("select txid_current_if_assigned()::text")
        .fetch_one(&mut *tx)
        .await?;
    if let Some(xid) = xid {
        violation(
            ledger,
            format!("tenant transaction began inside transaction {xid}"),
        );
    }
    for part in 0..PARTS {
        sqlx::query("insert into cancel_probe (tenant_id, id, part) values ($1, $2, $3)")
            .bind(tenant.as_uuid())
            .bind(id)
            .bind(part)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}

/// A tenant write that fails on its second statement and is dropped uncommitted (`?` in a service).
async fn tenant_write_that_fails(db: &TenantDb, tenant: TenantId, id: Uuid) -> sqlx::Result<()> {
    let mut tx = db.begin(tenant).await?;
    for _ in 0..2 {
        sqlx::query("insert into cancel_probe (tenant_id, id, part) values ($1, $2, 0)")
            .bind(tenant.as_uuid())
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}

/// A cross-tenant write of several statements on the operator pool.
async fn operator_write(db: &OperatorDb, tenant: TenantId, id: Uuid) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
    for part in 0..PARTS {
        sqlx::query("insert into cancel_probe (tenant_id, id, part) values ($1, $2, $3)")
            .bind(tenant.as_uuid())
            .bind(id)
            .bind(part)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}

/// A write straight on the operator pool (one statement, autocommit), then a check that the
/// connection it got was not inside a transaction block: outside one, a statement's transaction
/// starts with the statement.
async fn operator_direct(
    db: &OperatorDb,
    tenant: TenantId,
    id: Uuid,
    ledger: &Shared,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into cancel_probe (tenant_id, id, part) select $1, $2, g from generate_series(0, $3 - 1) g",
    )
    .bind(tenant.as_uuid())
    .bind(id)
    .bind(PARTS)
    .execute(db.pool())
    .await?;
    let row = sqlx::raw_sql("select now() = statement_timestamp()")
        .fetch_one(db.pool())
        .await?;
    if !row.get::<bool, _>(0) {
        violation(
            ledger,
            "an operator pool connection was inside a transaction block".to_owned(),
        );
    }
    Ok(())
}

async fn client(seed: u64, dbs: Arc<Databases>, tenant: TenantId, ledger: Shared) {
    let mut rng = StdRng::seed_from_u64(seed);
    for _ in 0..CALLS_PER_CLIENT {
        let max = if rng.gen_bool(0.5) {
            SHORT_TIMEOUT_MICROS
        } else {
            LONG_TIMEOUT_MICROS
        };
        let limit = Duration::from_micros(rng.gen_range(0..=max));
        let id = Uuid::now_v7();
        let kind = rng.gen_range(0..6);
        let outcome = match kind {
            0 | 1 => tokio::time::timeout(limit, tenant_write(&dbs.app, tenant, id, &ledger)).await,
            2 => tokio::time::timeout(limit, tenant_write_that_fails(&dbs.app, tenant, id)).await,
            3 => {
                tokio::time::timeout(limit, async {
                    dbs.app.ping().await?;
                    dbs.app.applied_migrations().await.map(|_| ())
                })
                .await
            }
            4 => tokio::time::timeout(limit, operator_write(&dbs.operator, tenant, id)).await,
            _ => {
                tokio::time::timeout(limit, operator_direct(&dbs.operator, tenant, id, &ledger))
                    .await
            }
        };
        let mut ledger = ledger.lock().expect("ledger");
        match outcome {
            Err(_elapsed) => ledger.cancelled += 1,
            Ok(Ok(())) => {
                ledger.completed += 1;
                if kind != 3 {
                    ledger.committed.insert(id);
                }
            }
            Ok(Err(error)) if kind == 2 && db_code(&error).as_deref() == Some("23505") => {
                ledger.completed += 1;
                ledger.failed.insert(id);
            }
            Ok(Err(error)) => ledger
                .violations
                .push(format!("unexpected error (call kind {kind}): {error}")),
        }
    }
}

#[tokio::test]
async fn requests_cancelled_at_random_points_leave_no_connection_in_a_transaction() {
    let warnings = TransactionWarnings::default();
    // The test runs on one thread, so the notices sqlx logs from its pool tasks reach this layer.
    let _capture =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(warnings.clone()));

    let db = TestDb::create().await;
    let config = test_config(&db);
    // Plain connections: sqlx 0.8's rustls stream can leave a connection's return to the pool
    // waiting for ever when a read is cancelled mid-record (the pool then loses that slot). The
    // server never cancels database work (each request runs to completion in a task of its own;
    // `clients_that_disconnect_mid_request_…` below drives it over the default connection), so
    // this test exercises the pool's own guarantees where a cancellation can reach them.
    let owner_url = format!(
        "{}{}sslmode=disable",
        db.owner_url,
        if db.owner_url.contains('?') { '&' } else { '?' }
    );
    let urls = ResolvedUrls::new(&config.database, SecretString::from(owner_url)).expect("urls");
    lms_platform::db::migrate(&urls).await.expect("migrate");
    let tenant = TenantId::new();
    let mut admin = db.superuser().await;
    sqlx::raw_sql(&format!(
        "insert into tenants (id, slug, display_name) values ('{tenant}', 'cancel', 'Cancel');
         create table cancel_probe (tenant_id uuid not null, id uuid not null, part int not null,
                                    primary key (tenant_id, id, part));
         alter table cancel_probe enable row level security, force row level security;
         create policy tenant on cancel_probe to lms_app
             using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
             with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
         grant select, insert on cancel_probe to lms_app, lms_operator;"
    ))
    .execute(&mut admin)
    .await
    .expect("probe table");

    let dbs = Arc::new(
        lms_platform::db::connect(&urls, POOL_SIZE)
            .await
            .expect("pools"),
    );
    let ledger = Shared::default();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| tokio::spawn(client(i as u64, dbs.clone(), tenant, ledger.clone())))
        .collect();
    for c in clients {
        c.await.expect("client");
    }

    // Let the pools finish returning (or closing) what the dropped calls left behind.
    let mut idle_in_transaction = Vec::new();
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let rows: Vec<(String, String, i32)> = sqlx::query_as(
            "select usename::text, state, pid from pg_stat_activity
             where datname = current_database() and usename in ('lms_app', 'lms_operator')
               and state <> 'idle'",
        )
        .fetch_all(&mut admin)
        .await
        .expect("pg_stat_activity");
        idle_in_transaction = rows;
        if idle_in_transaction.is_empty() {
            break;
        }
    }
    let mut ledger = std::mem::take(&mut *ledger.lock().expect("ledger"));
    for (role, state, pid) in &idle_in_transaction {
        ledger
            .violations
            .push(format!("{role} backend {pid} left {state}"));
    }

    // Every pooled connection at once: each answers and none is inside a transaction.
    let mut checked = 0;
    let mut held = Vec::new();
    for _ in 0..POOL_SIZE {
        // A connection closed on cancellation is replaced in the background: allow it a few tries.
        let mut begun = dbs.app.begin(tenant).await;
        for _ in 0..3 {
            if begun.is_ok() {
                break;
            }
            begun = dbs.app.begin(tenant).await;
        }
        match begun {
            Ok(mut tx) => {
                let xid: sqlx::Result<Option<String>> =
                    sqlx::query_scalar("select txid_current_if_assigned()::text")
                        .fetch_one(&mut *tx)
                        .await;
                match xid {
                    Ok(None) => checked += 1,
                    Ok(Some(xid)) => ledger
                        .violations
                        .push(format!("app connection inside transaction {xid}")),
                    Err(error) => ledger
                        .violations
                        .push(format!("app connection unusable: {error}")),
                }
                held.push(tx);
            }
            Err(error) => ledger
                .violations
                .push(format!("app connection cannot begin: {error}")),
        }
    }
    drop(held);
    let operator_size = dbs.operator.pool().options().get_max_connections();
    let mut held = Vec::new();
    for _ in 0..operator_size {
        let mut conn = dbs
            .operator
            .pool()
            .acquire()
            .await
            .expect("operator connection");
        match sqlx::raw_sql("select now() = statement_timestamp()")
            .fetch_one(&mut *conn)
            .await
        {
            Ok(row) if row.get::<bool, _>(0) => checked += 1,
            Ok(_) => ledger
                .violations
                .push("operator connection inside a transaction block".to_owned()),
            Err(error) => ledger
                .violations
                .push(format!("operator connection unusable: {error}")),
        }
        held.push(conn);
    }
    drop(held);

    // Every write whole or absent; every committed one present; every failed one absent.
    let rows: Vec<(Uuid, i64)> =
        sqlx::query_as("select id, count(*) from cancel_probe group by id")
            .fetch_all(&mut admin)
            .await
            .expect("probe rows");
    let present: HashMap<Uuid, i64> = rows.into_iter().collect();
    for (id, parts) in &present {
        if *parts != i64::from(PARTS) {
            ledger
                .violations
                .push(format!("write {id} has {parts} of {PARTS} parts"));
        }
        if ledger.failed.contains(id) {
            ledger
                .violations
                .push(format!("write {id} failed yet is present"));
        }
    }
    for id in &ledger.committed {
        if !present.contains_key(id) {
            ledger
                .violations
                .push(format!("write {id} was committed yet is absent"));
        }
    }
    for warning in warnings.0.lock().expect("warnings").iter() {
        ledger
            .violations
            .push(format!("PostgreSQL warned: {warning}"));
    }

    eprintln!(
        "calls: {} cancelled, {} completed ({} writes committed); connections checked: {checked}; violations: {}",
        ledger.cancelled,
        ledger.completed,
        ledger.committed.len(),
        ledger.violations.len()
    );
    assert!(
        ledger.cancelled > 0 && ledger.completed > 0,
        "the timeouts should both cancel calls and let calls complete"
    );
    assert!(
        ledger.violations.is_empty(),
        "{} violations:\n{}",
        ledger.violations.len(),
        ledger.violations.join("\n")
    );
}

/// Clients that give up at random points of their requests (the server sees the connection close
/// and drops the request's future) over the default database connection: afterwards no app
/// connection is left in a transaction, every course is whole (its owner and its audit event) or
/// absent, every course the server confirmed exists, and the server still answers on every pooled
/// connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_disconnect_mid_request_leave_every_write_whole_or_absent() {
    const HTTP_CLIENTS: usize = 16;
    const REQUESTS_PER_CLIENT: usize = 25;
    let app = crate::helpers::TestApp::spawn_with(|c| c.database.pool_size = POOL_SIZE).await;
    let t = app.seed_tenant("acme").await;
    let url = format!("{}/api/v1/courses", app.address);

    let clients: Vec<_> = (0..HTTP_CLIENTS)
        .map(|i| {
            let (url, token) = (url.clone(), t.admin.access_token.clone());
            tokio::spawn(async move {
                let mut rng = StdRng::seed_from_u64(1_000 + i as u64);
                // A client of its own: a dropped request closes its connection.
                let client = reqwest::Client::new();
                let (mut confirmed, mut abandoned) = (Vec::new(), 0);
                for j in 0..REQUESTS_PER_CLIENT {
                    let slug = format!("c-{i}-{j}");
                    let request = client
                        .post(&url)
                        .header("X-Tenant", "acme")
                        .bearer_auth(&token)
                        .json(&serde_json::json!({ "slug": slug, "title": "Dropped" }))
                        .send();
                    // Every fourth request is waited for, so some always complete whatever the
                    // machine's load; the others are given up after 0.2 to 80 ms.
                    let patience = if j % 4 == 0 {
                        Duration::MAX
                    } else {
                        Duration::from_micros(rng.gen_range(200..80_000))
                    };
                    match tokio::time::timeout(patience, request).await {
                        Ok(Ok(reply)) if reply.status() == reqwest::StatusCode::CREATED => {
                            confirmed.push(slug);
                        }
                        Ok(Ok(reply)) => panic!("{slug}: unexpected {}", reply.status()),
                        Ok(Err(error)) => panic!("{slug}: {error}"),
                        Err(_) => abandoned += 1,
                    }
                }
                (confirmed, abandoned)
            })
        })
        .collect();
    let (mut confirmed, mut abandoned) = (Vec::new(), 0);
    for client in clients {
        let (c, a) = client.await.expect("client");
        confirmed.extend(c);
        abandoned += a;
    }
    assert!(
        abandoned > 0 && !confirmed.is_empty(),
        "the patience should both abandon requests ({abandoned}) and let some complete ({})",
        confirmed.len()
    );

    // Abandoned requests run to completion: wait until none is still running.
    let mut su = app.db.superuser().await;
    let mut busy: Vec<String> = Vec::new();
    for _ in 0..200 {
        busy = sqlx::query_scalar(
            "select state from pg_stat_activity
             where datname = current_database() and usename = 'lms_app' and state <> 'idle'",
        )
        .fetch_all(&mut su)
        .await
        .expect("pg_stat_activity");
        if busy.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(busy.is_empty(), "app connections still busy: {busy:?}");

    let courses: Vec<(String, bool, bool)> = sqlx::query_as(
        "select c.slug,
                exists (select 1 from course_instructors i
                        where i.tenant_id = c.tenant_id and i.course_id = c.id),
                exists (select 1 from audit_events a
                        where a.tenant_id = c.tenant_id and a.action = 'course.created'
                          and a.target_id = c.id::text)
         from courses c where c.slug like 'c-%'",
    )
    .fetch_all(&mut su)
    .await
    .expect("courses");
    for (slug, owned, audited) in &courses {
        assert!(
            *owned && *audited,
            "{slug}: owner {owned}, audit event {audited}"
        );
    }
    let stored: HashSet<&str> = courses.iter().map(|(slug, ..)| slug.as_str()).collect();
    for slug in &confirmed {
        assert!(
            stored.contains(slug.as_str()),
            "{slug} was confirmed yet is absent"
        );
    }

    // Every pooled connection still works: more requests at once than the pool has connections.
    let reads = (0..POOL_SIZE * 4).map(|_| {
        app.get("/api/v1/courses?limit=1")
            .tenant("acme")
            .bearer(&t.admin.access_token)
            .send()
    });
    for reply in futures::future::join_all(reads).await {
        reply.assert_status(reqwest::StatusCode::OK);
    }
    eprintln!(
        "requests: {abandoned} abandoned, {} confirmed; courses stored: {}",
        confirmed.len(),
        courses.len()
    );
}
