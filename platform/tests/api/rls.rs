//! Tenant isolation at the database tier: the catalog (every tenant-owned table is RLS-forced,
//! keyed and constrained by `tenant_id`, the app role owns nothing and cannot bypass RLS) and raw
//! SQL as `lms_app` (another tenant's rows are invisible and unwritable, no context means no rows,
//! and the transaction-local tenant setting does not outlive its transaction).

use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::{Connection, PgConnection, Postgres};
use uuid::Uuid;

use crate::helpers::{TestApp, TestTenant, paths};

/// Tables with a `tenant_id` column that are platform reference tables (routing data every node
/// and every request may read), not tenant-owned data.
const REFERENCE_TABLES: &[&str] = &[
    "tenant_domains",
    // One verified owner per SSO email domain across tenants: keyed by the domain alone.
    "sso_verified_domains",
    // Which tenant a Stripe Customer is: a webhook's routing data, keyed by the customer id.
    "stripe_customers",
];

/// Tables without a `tenant_id` column: platform-global, never tenant data. A new table must either
/// carry `tenant_id` (and then follows every tenant-owned rule) or be declared here.
const GLOBAL_TABLES: &[&str] = &[
    "_sqlx_migrations",
    "tenants",
    "signing_keys",
    // The first-party plugin catalog: reference data every tenant reads, only the operator writes.
    "plugin_catalog",
    // Recurring platform work: only the operator role's job workers read or write it.
    "job_schedules",
    // The operator's billing plans: every tenant reads them, only the operator writes.
    "billing_plans",
];

const APP_ROLE: &str = "lms_app";
const OPERATOR_ROLE: &str = "lms_operator";
const TENANT_SETTING: &str = "app.tenant_id";

/// Every way the schema breaks the tenant-isolation rules of ARCHITECTURE.md, one line each.
/// Empty on a correct schema. Generic over the catalog, so tables added later are checked too.
pub async fn isolation_violations(conn: &mut PgConnection) -> Vec<String> {
    let mut violations = Vec::new();

    let tables: Vec<(String, bool, bool, bool)> = sqlx::query_as(
        "select c.relname::text, c.relrowsecurity, c.relforcerowsecurity,
                exists (select 1 from pg_attribute a
                        where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped)
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = 'public' and c.relkind in ('r', 'p')
         order by 1",
    )
    .fetch_all(&mut *conn)
    .await
    .expect("list tables");

    for (table, rls, forced, has_tenant) in &tables {
        let reference = REFERENCE_TABLES.contains(&table.as_str()) || table == "tenants";
        if !has_tenant && !GLOBAL_TABLES.contains(&table.as_str()) {
            violations.push(format!(
                "{table}: has no tenant_id column and is not a declared platform-global table"
            ));
        }
        if (*has_tenant || reference) && !rls {
            violations.push(format!("{table}: row level security is not enabled"));
        }
        if (*has_tenant || reference) && !forced {
            violations.push(format!("{table}: row level security is not forced"));
        }
        if *has_tenant && !reference {
            tenant_owned_table_violations(conn, table, &mut violations).await;
        }
        table_privilege_violations(conn, table, *has_tenant || reference, &mut violations).await;
    }

    role_violations(conn, &mut violations).await;
    reference_table_privilege_violations(conn, &mut violations).await;
    violations
}

/// Keys, constraints, unique indexes and policies of one tenant-owned table.
async fn tenant_owned_table_violations(
    conn: &mut PgConnection,
    table: &str,
    violations: &mut Vec<String>,
) {
    // (kind, name, columns, referenced table, referenced columns)
    type ConstraintRow = (String, String, Vec<String>, String, Vec<String>);
    let constraints: Vec<ConstraintRow> = sqlx::query_as(
        "select con.contype::text, con.conname::text,
                array(select a.attname::text
                      from unnest(con.conkey) with ordinality k(attnum, ord)
                      join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.attnum
                      order by k.ord),
                coalesce(rc.relname::text, ''),
                array(select a.attname::text
                      from unnest(con.confkey) with ordinality k(attnum, ord)
                      join pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.attnum
                      order by k.ord)
         from pg_constraint con
         left join pg_class rc on rc.oid = con.confrelid
         where con.conrelid = format('public.%I', $1::text)::regclass",
    )
    .bind(table)
    .fetch_all(&mut *conn)
    .await
    .expect("list constraints");

    if !constraints.iter().any(|(kind, ..)| kind == "p") {
        violations.push(format!("{table}: has no primary key"));
    }
    for (kind, name, columns, referenced, referenced_columns) in &constraints {
        let has_tenant = columns.iter().any(|c| c == "tenant_id");
        match kind.as_str() {
            "p" if columns.first().map(String::as_str) != Some("tenant_id") => {
                violations.push(format!(
                    "{table}: primary key {name} ({}) does not lead with tenant_id",
                    columns.join(", ")
                ));
            }
            "u" | "x" if !has_tenant => violations.push(format!(
                "{table}: unique/exclusion constraint {name} ({}) does not include tenant_id",
                columns.join(", ")
            )),
            "f" => {
                let by_tenant_to_tenants = referenced == "tenants"
                    && columns == &["tenant_id"]
                    && referenced_columns == &["id"];
                let composite = columns
                    .iter()
                    .position(|c| c == "tenant_id")
                    .is_some_and(|i| {
                        referenced_columns.get(i).map(String::as_str) == Some("tenant_id")
                    });
                if !(by_tenant_to_tenants || composite) {
                    violations.push(format!(
                        "{table}: foreign key {name} ({}) -> {referenced} ({}) does not match tenant_id to tenant_id",
                        columns.join(", "),
                        referenced_columns.join(", ")
                    ));
                }
            }
            _ => {}
        }
    }

    // Unique indexes made with CREATE UNIQUE INDEX have no constraint row; check them all.
    let unique_indexes: Vec<(String, bool)> = sqlx::query_as(
        "select ic.relname::text,
                exists (select 1 from pg_attribute a
                        where a.attrelid = i.indrelid and a.attname = 'tenant_id'
                          and a.attnum = any(i.indkey::int2[]))
         from pg_index i join pg_class ic on ic.oid = i.indexrelid
         where i.indrelid = format('public.%I', $1::text)::regclass and i.indisunique",
    )
    .bind(table)
    .fetch_all(&mut *conn)
    .await
    .expect("list unique indexes");
    for (index, has_tenant) in unique_indexes {
        if !has_tenant {
            violations.push(format!(
                "{table}: unique index {index} does not include tenant_id"
            ));
        }
    }

    // (name, permissive, command, roles, USING, WITH CHECK)
    type PolicyRow = (
        String,
        bool,
        String,
        Vec<String>,
        Option<String>,
        Option<String>,
    );
    let policies: Vec<PolicyRow> = sqlx::query_as(
        "select p.polname::text, p.polpermissive, p.polcmd::text,
                array(select case when r = 0 then 'public' else (select rolname::text from pg_roles where oid = r) end
                      from unnest(p.polroles) r),
                pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid)
         from pg_policy p
         where p.polrelid = format('public.%I', $1::text)::regclass",
    )
    .bind(table)
    .fetch_all(&mut *conn)
    .await
    .expect("list policies");
    let scoped = |expr: &Option<String>| {
        expr.as_deref()
            .is_some_and(|e| e.contains(TENANT_SETTING) && e.contains("tenant_id"))
    };
    let applies_to_app = |roles: &[String]| roles.iter().any(|r| r == APP_ROLE || r == "public");
    let mut isolating = false;
    for (name, permissive, command, roles, using, check) in &policies {
        if !applies_to_app(roles) {
            continue;
        }
        if *permissive && command == "*" && scoped(using) && scoped(check) {
            isolating = true;
        }
        // Permissive policies are OR-ed: one that does not confine rows to the tenant opens the
        // table to every tenant, whatever the others say.
        let using_ok = using.is_none() || scoped(using);
        let check_ok = check.is_none() || scoped(check);
        let insert_ok = command != "a" || scoped(check);
        if *permissive && !(using_ok && check_ok && insert_ok) {
            violations.push(format!(
                "{table}: permissive policy {name} for {APP_ROLE} does not confine rows by {TENANT_SETTING} (using: {using:?}, with check: {check:?})"
            ));
        }
    }
    if !isolating {
        violations.push(format!(
            "{table}: no policy for {APP_ROLE} whose USING and WITH CHECK compare tenant_id with {TENANT_SETTING}"
        ));
    }
}

/// Privileges that would let the app role around row-level security or into platform tables.
async fn table_privilege_violations(
    conn: &mut PgConnection,
    table: &str,
    row_secured: bool,
    violations: &mut Vec<String>,
) {
    // TRUNCATE ignores row-level security; TRIGGER would let the role run code as the owner.
    let mut forbidden = vec!["TRUNCATE", "TRIGGER"];
    if !row_secured {
        forbidden.extend(["INSERT", "UPDATE", "DELETE"]);
    }
    for privilege in forbidden {
        let granted: bool =
            sqlx::query_scalar("select has_table_privilege($1, format('public.%I', $2::text), $3)")
                .bind(APP_ROLE)
                .bind(table)
                .bind(privilege)
                .fetch_one(&mut *conn)
                .await
                .expect("privilege check");
        if granted {
            violations.push(format!("{table}: {APP_ROLE} has {privilege} privilege"));
        }
    }
}

async fn role_violations(conn: &mut PgConnection, violations: &mut Vec<String>) {
    let roles: Vec<(String, bool, bool)> = sqlx::query_as(
        "select rolname::text, rolsuper, rolbypassrls from pg_roles where rolname = any($1)",
    )
    .bind(vec![APP_ROLE, OPERATOR_ROLE])
    .fetch_all(&mut *conn)
    .await
    .expect("roles");
    for expected in [APP_ROLE, OPERATOR_ROLE] {
        if !roles.iter().any(|(name, ..)| name == expected) {
            violations.push(format!("role {expected} does not exist"));
        }
    }
    for (name, superuser, bypass) in &roles {
        if *superuser {
            violations.push(format!("role {name} is a superuser"));
        }
        if name == APP_ROLE && *bypass {
            violations.push(format!("role {name} bypasses row level security"));
        }
        if name == OPERATOR_ROLE && !*bypass {
            violations.push(format!("role {name} does not bypass row level security"));
        }
    }

    let owned: Vec<String> = sqlx::query_scalar(
        "with app as (select oid from pg_roles where rolname = $1)
         select 'relation ' || relname::text from pg_class where relowner = (select oid from app)
         union all select 'type ' || typname::text from pg_type where typowner = (select oid from app)
         union all select 'function ' || proname::text from pg_proc where proowner = (select oid from app)
         union all select 'schema ' || nspname::text from pg_namespace where nspowner = (select oid from app)
         union all select 'database ' || datname::text from pg_database
                   where datdba = (select oid from app) and datname = current_database()",
    )
    .bind(APP_ROLE)
    .fetch_all(&mut *conn)
    .await
    .expect("ownership");
    for object in owned {
        violations.push(format!("{APP_ROLE} owns {object}"));
    }

    // Able to create schemas or objects, it would come to own some.
    let (schema_create, database_create): (bool, bool) = sqlx::query_as(
        "select has_schema_privilege($1, 'public', 'CREATE'),
                has_database_privilege($1, current_database(), 'CREATE')",
    )
    .bind(APP_ROLE)
    .fetch_one(&mut *conn)
    .await
    .expect("create privileges");
    if schema_create {
        violations.push(format!("{APP_ROLE} may create objects in schema public"));
    }
    if database_create {
        violations.push(format!("{APP_ROLE} may create schemas in the database"));
    }

    let memberships: Vec<String> = sqlx::query_scalar(
        "select g.rolname::text from pg_auth_members m
         join pg_roles r on r.oid = m.member join pg_roles g on g.oid = m.roleid
         where r.rolname = $1",
    )
    .bind(APP_ROLE)
    .fetch_all(&mut *conn)
    .await
    .expect("memberships");
    for role in memberships {
        violations.push(format!("{APP_ROLE} is a member of role {role}"));
    }
}

/// The registry tables: the app role reads them and edits only its own tenant's profile columns.
async fn reference_table_privilege_violations(
    conn: &mut PgConnection,
    violations: &mut Vec<String>,
) {
    let table_checks = [
        ("tenant_domains", "INSERT"),
        ("tenant_domains", "UPDATE"),
        ("tenant_domains", "DELETE"),
        ("tenants", "INSERT"),
        ("tenants", "DELETE"),
        ("audit_events", "UPDATE"),
        ("audit_events", "DELETE"),
        // Plugin components and versions are immutable once uploaded.
        ("plugin_components", "UPDATE"),
        ("plugin_components", "DELETE"),
        ("plugin_versions", "DELETE"),
        ("plugin_catalog", "INSERT"),
        ("plugin_catalog", "UPDATE"),
        ("plugin_catalog", "DELETE"),
        ("billing_plans", "INSERT"),
        ("billing_plans", "UPDATE"),
        ("billing_plans", "DELETE"),
        ("stripe_customers", "SELECT"),
        ("stripe_customers", "INSERT"),
    ];
    for (table, privilege) in table_checks {
        let granted: bool = sqlx::query_scalar("select has_table_privilege($1, $2, $3)")
            .bind(APP_ROLE)
            .bind(table)
            .bind(privilege)
            .fetch_one(&mut *conn)
            .await
            .expect("privilege check");
        if granted {
            violations.push(format!("{table}: {APP_ROLE} has {privilege} privilege"));
        }
    }
    // A version's content is fixed at upload; install only records the grant.
    for column in ["manifest", "sha256", "capabilities", "version", "plugin_id"] {
        let granted: bool =
            sqlx::query_scalar("select has_column_privilege($1, 'plugin_versions', $2, 'UPDATE')")
                .bind(APP_ROLE)
                .bind(column)
                .fetch_one(&mut *conn)
                .await
                .expect("column privilege check");
        if granted {
            violations.push(format!(
                "plugin_versions.{column}: {APP_ROLE} may update it"
            ));
        }
    }
    // Status, slug and id are the operator's; the app role edits only the tenant's profile.
    for column in ["id", "slug", "status", "created_at"] {
        let granted: bool =
            sqlx::query_scalar("select has_column_privilege($1, 'tenants', $2, 'UPDATE')")
                .bind(APP_ROLE)
                .bind(column)
                .fetch_one(&mut *conn)
                .await
                .expect("column privilege check");
        if granted {
            violations.push(format!("tenants.{column}: {APP_ROLE} may update it"));
        }
    }
}

#[tokio::test]
async fn the_migrated_schema_follows_every_isolation_rule() {
    let app = TestApp::spawn().await;
    let mut conn = app.db.superuser().await;
    let violations = isolation_violations(&mut conn).await;
    assert!(
        violations.is_empty(),
        "tenant-isolation rules broken:\n{}",
        violations.join("\n")
    );
    // The check is not vacuous: the known tenant-owned tables are among those it inspected.
    let tenant_tables: Vec<String> = sqlx::query_scalar(
        "select c.relname::text from pg_class c join pg_attribute a on a.attrelid = c.oid
         where c.relnamespace = 'public'::regnamespace and c.relkind = 'r' and a.attname = 'tenant_id'",
    )
    .fetch_all(&mut conn)
    .await
    .expect("tenant tables");
    for table in [
        "users",
        "refresh_tokens",
        "user_tokens",
        "audit_events",
        "jobs",
        "tenant_domains",
        "courses",
        "course_instructors",
        "course_prerequisites",
        "course_modules",
        "course_items",
        "enrollments",
        "cohorts",
        "cohort_members",
        "plugins",
        "plugin_versions",
        "plugin_components",
        "plugin_publisher_keys",
        "plugin_registry_settings",
        "plugin_invocations",
    ] {
        assert!(
            tenant_tables.iter().any(|t| t == table),
            "{table} missing from {tenant_tables:?}"
        );
    }
}

/// Runs `ddl` in a transaction that is rolled back, and asserts the checker reports a violation
/// containing every one of `expected`.
async fn assert_probe_reported(conn: &mut PgConnection, ddl: &str, expected: &[&str]) {
    let mut tx = conn.begin().await.expect("begin");
    sqlx::raw_sql(ddl)
        .execute(&mut *tx)
        .await
        .expect("probe ddl");
    let violations = isolation_violations(&mut tx).await;
    tx.rollback().await.expect("rollback");
    assert!(
        violations
            .iter()
            .any(|v| expected.iter().all(|needle| v.contains(needle))),
        "the checker missed a broken rule after `{ddl}`: expected a violation containing {expected:?}, got {violations:#?}"
    );
}

const PROBE_POLICY: &str = "to lms_app
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)";

#[tokio::test]
async fn the_isolation_check_catches_tables_and_grants_that_break_the_rules() {
    let app = TestApp::spawn().await;
    let mut conn = app.db.superuser().await;
    assert!(isolation_violations(&mut conn).await.is_empty());

    // A new tenant table without row-level security.
    assert_probe_reported(
        &mut conn,
        "create table rls_probe (tenant_id uuid primary key)",
        &["rls_probe", "not enabled"],
    )
    .await;
    assert_probe_reported(
        &mut conn,
        "create table rls_probe (tenant_id uuid primary key)",
        &["rls_probe", "no policy"],
    )
    .await;
    // Enabled but not forced: the owner (and anything running as it) would see every tenant.
    assert_probe_reported(
        &mut conn,
        "alter table users no force row level security",
        &["users", "not forced"],
    )
    .await;
    // A primary key, unique constraint, unique index or foreign key without tenant_id.
    let secured = |name: &str, body: &str| {
        format!(
            "create table {name} ({body});
             alter table {name} enable row level security;
             alter table {name} force row level security;
             create policy tenant_isolation on {name} {PROBE_POLICY};"
        )
    };
    assert_probe_reported(
        &mut conn,
        &secured(
            "rls_probe_pk",
            "id uuid not null, tenant_id uuid not null, primary key (id, tenant_id)",
        ),
        &["rls_probe_pk", "primary key"],
    )
    .await;
    assert_probe_reported(
        &mut conn,
        &secured(
            "rls_probe_unique",
            "tenant_id uuid not null, id uuid not null, code text not null unique, primary key (tenant_id, id)",
        ),
        &["rls_probe_unique", "unique"],
    )
    .await;
    assert_probe_reported(
        &mut conn,
        &(secured(
            "rls_probe_index",
            "tenant_id uuid not null, id uuid not null, code text not null, primary key (tenant_id, id)",
        ) + "create unique index rls_probe_index_code on rls_probe_index (code);"),
        &["rls_probe_index", "unique index"],
    )
    .await;
    assert_probe_reported(
        &mut conn,
        &secured(
            "rls_probe_fk",
            "tenant_id uuid not null, id uuid not null, kid text references signing_keys (kid), primary key (tenant_id, id)",
        ),
        &["rls_probe_fk", "foreign key"],
    )
    .await;
    // A foreign key that names tenant_id but pairs it with the wrong column.
    assert_probe_reported(
        &mut conn,
        &secured(
            "rls_probe_fk2",
            "tenant_id uuid not null, id uuid not null, user_id uuid not null, primary key (tenant_id, id),
             foreign key (user_id, tenant_id) references users (tenant_id, id)",
        ),
        &["rls_probe_fk2", "foreign key"],
    )
    .await;
    // A policy that does not look at app.tenant_id, or an extra permissive one that opens the table.
    assert_probe_reported(
        &mut conn,
        "create table rls_probe_open (tenant_id uuid not null, id uuid not null, primary key (tenant_id, id));
         alter table rls_probe_open enable row level security;
         alter table rls_probe_open force row level security;
         create policy everyone on rls_probe_open to lms_app using (true) with check (true);",
        &["rls_probe_open", "does not confine"],
    )
    .await;
    assert_probe_reported(
        &mut conn,
        "create policy peek on users for select to lms_app using (true)",
        &["users", "peek"],
    )
    .await;
    // A table that forgot tenant_id altogether.
    assert_probe_reported(
        &mut conn,
        "create table rls_probe_global (id uuid primary key)",
        &["rls_probe_global", "no tenant_id"],
    )
    .await;
    // Grants and ownership that would let the app role around RLS.
    assert_probe_reported(
        &mut conn,
        "grant truncate on users to lms_app",
        &["users", "TRUNCATE"],
    )
    .await;
    assert_probe_reported(
        &mut conn,
        "grant insert on tenant_domains to lms_app",
        &["tenant_domains", "INSERT"],
    )
    .await;
    assert_probe_reported(
        &mut conn,
        "grant update (status) on tenants to lms_app",
        &["tenants.status"],
    )
    .await;
    assert_probe_reported(
        &mut conn,
        "grant delete on audit_events to lms_app",
        &["audit_events", "DELETE"],
    )
    .await;
    assert_probe_reported(
        &mut conn,
        "alter table jobs owner to lms_app",
        &["lms_app owns relation jobs"],
    )
    .await;
    assert_probe_reported(
        &mut conn,
        "alter function set_updated_at() owner to lms_app",
        &["lms_app owns function set_updated_at"],
    )
    .await;
    assert_probe_reported(
        &mut conn,
        "grant create on schema public to lms_app",
        &["may create objects in schema public"],
    )
    .await;
    let database = app.db.name.clone();
    assert_probe_reported(
        &mut conn,
        &format!("grant create on database \"{database}\" to lms_app"),
        &["may create schemas"],
    )
    .await;
    // The probes left nothing behind.
    assert!(isolation_violations(&mut conn).await.is_empty());
}

/// SQLSTATE of a failed statement, or the rows it affected; run inside a savepoint so a failure
/// does not abort the surrounding transaction.
/// Two courses of the tenant's admin (one requiring the other), with a co-instructor and a
/// module holding an item; returns the first course's id.
async fn seed_courses(app: &TestApp, t: &TestTenant) -> Uuid {
    let instructor = app
        .instructor(&t.slug, &format!("instructor@{}.example", t.slug), &t.admin)
        .await;
    let admin = app.actor(&t.slug, &t.admin);
    let course = admin
        .create_course("first", json!({ "title": "first" }))
        .await;
    let second = admin
        .create_course("second", json!({ "title": "second" }))
        .await;
    admin
        .set_prerequisites(&course, vec![&second])
        .await
        .assert_status(StatusCode::OK);
    admin
        .send(
            Method::POST,
            &paths::instructors(&course),
            Some(json!({ "user_id": instructor.id })),
        )
        .await
        .assert_status(StatusCode::OK);
    let module = admin.add_module(&course, "Module").await;
    admin
        .add_item(
            &course,
            &module,
            json!({ "kind": "text", "title": "Item", "body": "Hello" }),
        )
        .await;
    // The prerequisite is published with the learner enrolled, and the learner is in a cohort.
    admin.publish(&second).await;
    admin
        .enroll_users(&second, json!([t.learner.id]))
        .await
        .assert_status(StatusCode::OK);
    let cohort = admin.create_cohort(json!({ "name": "Cohort" })).await;
    admin
        .add_cohort_members(&cohort, json!([t.learner.id]))
        .await;
    course.parse().expect("uuid")
}

async fn attempt(
    conn: &mut PgConnection,
    query: Query<'_, Postgres, PgArguments>,
) -> Result<u64, String> {
    sqlx::raw_sql("savepoint attempt")
        .execute(&mut *conn)
        .await
        .expect("savepoint");
    match query.execute(&mut *conn).await {
        Ok(done) => {
            sqlx::raw_sql("release savepoint attempt")
                .execute(&mut *conn)
                .await
                .expect("release");
            Ok(done.rows_affected())
        }
        Err(err) => {
            sqlx::raw_sql("rollback to savepoint attempt")
                .execute(&mut *conn)
                .await
                .expect("rollback to savepoint");
            Err(err
                .as_database_error()
                .and_then(|e| e.code())
                .map_or_else(|| err.to_string(), |c| c.into_owned()))
        }
    }
}

async fn count(conn: &mut PgConnection, sql: &str, tenant: Uuid) -> i64 {
    sqlx::query_scalar(sql)
        .bind(tenant)
        .fetch_one(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Every table with a tenant_id column except the reference tables.
async fn tenant_owned_tables(conn: &mut PgConnection) -> Vec<String> {
    let tables: Vec<String> = sqlx::query_scalar(
        "select c.relname::text from pg_class c join pg_attribute a on a.attrelid = c.oid
         where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p')
           and a.attname = 'tenant_id' and not a.attisdropped order by 1",
    )
    .fetch_all(&mut *conn)
    .await
    .expect("tenant tables");
    tables
        .into_iter()
        .filter(|t| !REFERENCE_TABLES.contains(&t.as_str()))
        .collect()
}

async fn app_may_select(conn: &mut PgConnection, table: &str) -> bool {
    sqlx::query_scalar(
        "select has_table_privilege('lms_app', format('public.%I', $1::text), 'SELECT')",
    )
    .bind(table)
    .fetch_one(&mut *conn)
    .await
    .expect("privilege")
}

#[tokio::test]
async fn the_app_role_sees_and_touches_only_the_tenant_of_its_transaction() {
    let (app, a) = TestApp::with_tenant("a").await;
    let b = app.seed_tenant("b").await;
    // B also gets a live password-reset token and another outbox row (queued in the
    // background after the answer, so wait for the email).
    app.post("/api/v1/auth/password-reset")
        .tenant("b")
        .json(json!({ "email": b.learner.email }))
        .send()
        .await;
    app.last_email_to(&b.learner.email).await;
    // And both tenants author a course with an outline, a co-instructor and a prerequisite.
    let a_course = seed_courses(&app, &a).await;
    seed_courses(&app, &b).await;
    // And a quiz with a bank, a question and an open attempt.
    crate::helpers::seed_quiz(&app, &a).await;
    crate::helpers::seed_quiz(&app, &b).await;
    // And an assignment with a submission and its file, and gradebook weights.
    crate::helpers::seed_assignment(&app, &a).await;
    crate::helpers::seed_assignment(&app, &b).await;
    let a_id: Uuid = a.id.parse().expect("uuid");
    let b_id: Uuid = b.id.parse().expect("uuid");
    let a_user: Uuid = a.learner.id.parse().expect("uuid");

    // Each tenant really has rows in every table the test looks at (or it would prove nothing).
    let mut su = app.db.superuser().await;
    let tables = tenant_owned_tables(&mut su).await;
    for table in [
        "users",
        "refresh_tokens",
        "user_tokens",
        "audit_events",
        "jobs",
        "courses",
        "course_instructors",
        "course_prerequisites",
        "course_modules",
        "course_items",
        "enrollments",
        "cohorts",
        "cohort_members",
        "question_banks",
        "question_categories",
        "questions",
        "question_versions",
        "quizzes",
        "quiz_slots",
        "quiz_attempts",
        "attempt_questions",
        "assignments",
        "assignment_submissions",
        "submission_files",
        "gradebook_settings",
        "gradebook_items",
    ] {
        assert!(tables.iter().any(|t| t == table), "{table} not found");
        let sql = format!("select count(*) from {table} where tenant_id = $1");
        assert!(
            count(&mut su, &sql, b_id).await > 0,
            "B has no {table} rows"
        );
        assert!(
            count(&mut su, &sql, a_id).await > 0,
            "A has no {table} rows"
        );
    }
    let b_users_before = count(
        &mut su,
        "select count(*) from users where tenant_id = $1",
        b_id,
    )
    .await;
    let b_tokens_before = count(
        &mut su,
        "select count(*) from refresh_tokens where tenant_id = $1 and revoked_at is null",
        b_id,
    )
    .await;

    let mut conn = app.db.connect_as("lms_app").await;
    let mut tx = conn.begin().await.expect("begin");
    sqlx::query("select set_config('app.tenant_id', $1, true)")
        .bind(a_id.to_string())
        .execute(&mut *tx)
        .await
        .expect("set tenant");

    // A's own rows are visible (the setting works at all) ...
    assert!(
        count(
            &mut tx,
            "select count(*) from users where tenant_id = $1",
            a_id
        )
        .await
            >= 2
    );
    // ... and nothing of B's, in any tenant-owned table, filtered or not.
    for table in &tables {
        if !app_may_select(&mut su, table).await {
            continue;
        }
        let foreign = format!("select count(*) from {table} where tenant_id <> $1");
        assert_eq!(
            count(&mut tx, &foreign, a_id).await,
            0,
            "{table} leaks other tenants' rows"
        );
        let of_b = format!("select count(*) from {table} where tenant_id = $1");
        assert_eq!(
            count(&mut tx, &of_b, b_id).await,
            0,
            "{table} shows B's rows"
        );
    }

    // Writes to B's rows find nothing.
    let updated = attempt(
        &mut tx,
        sqlx::query("update users set display_name = 'x' where tenant_id = $1").bind(b_id),
    )
    .await;
    assert_eq!(updated, Ok(0), "update of B's users");
    for table in ["refresh_tokens", "user_tokens"] {
        let sql = format!("delete from {table} where tenant_id = $1");
        assert_eq!(
            attempt(&mut tx, sqlx::query(&sql).bind(b_id)).await,
            Ok(0),
            "delete of B's {table}"
        );
    }
    let revoked = attempt(
        &mut tx,
        sqlx::query("update refresh_tokens set revoked_at = now() where tenant_id = $1").bind(b_id),
    )
    .await;
    assert_eq!(revoked, Ok(0), "revoking B's sessions");
    // The app role has no DELETE on users at all; either way B keeps its users.
    let deleted = attempt(
        &mut tx,
        sqlx::query("delete from users where tenant_id = $1").bind(b_id),
    )
    .await;
    assert!(
        matches!(
            deleted.as_ref().map_err(String::as_str),
            Ok(0) | Err("42501")
        ),
        "delete of B's users: {deleted:?}"
    );

    // Rows for B cannot be created, nor A's rows moved to B.
    let insert_user = attempt(
        &mut tx,
        sqlx::query(
            "insert into users (tenant_id, id, email, display_name, roles, status)
             values ($1, $2, 'intruder@b.example', 'Intruder', array['tenant_admin'], 'active')",
        )
        .bind(b_id)
        .bind(Uuid::now_v7()),
    )
    .await;
    assert_eq!(
        insert_user,
        Err("42501".to_owned()),
        "insert of a user into B"
    );
    let moved = attempt(
        &mut tx,
        sqlx::query("update users set tenant_id = $1 where tenant_id = $2 and id = $3")
            .bind(b_id)
            .bind(a_id)
            .bind(a_user),
    )
    .await;
    assert_eq!(moved, Err("42501".to_owned()), "moving A's user into B");
    let audit = attempt(
        &mut tx,
        sqlx::query(
            "insert into audit_events (tenant_id, id, actor_kind, action, target_type)
             values ($1, $2, 'system', 'forged', 'tenant')",
        )
        .bind(b_id)
        .bind(Uuid::now_v7()),
    )
    .await;
    assert_eq!(audit, Err("42501".to_owned()), "forging B's audit trail");
    let mail = attempt(
        &mut tx,
        sqlx::query(
            "insert into jobs (tenant_id, id, kind, payload, max_attempts)
             values ($1, $2, 'email.send', '{\"to\": \"victim@b.example\"}', 1)",
        )
        .bind(b_id)
        .bind(Uuid::now_v7()),
    )
    .await;
    assert_eq!(mail, Err("42501".to_owned()), "queueing email as B");

    // Courses: B's rows cannot be changed or deleted, created for B, or A's moved to B.
    for sql in [
        "update courses set title = 'x', status = 'published' where tenant_id = $1",
        "update course_items set body = 'x' where tenant_id = $1",
        "delete from course_modules where tenant_id = $1",
        "delete from course_instructors where tenant_id = $1",
        "delete from course_prerequisites where tenant_id = $1",
        "delete from courses where tenant_id = $1",
        "update enrollments set status = 'dropped', dropped_at = now() where tenant_id = $1",
        "delete from enrollments where tenant_id = $1",
        "update cohorts set name = 'x' where tenant_id = $1",
        "delete from cohort_members where tenant_id = $1",
        "delete from cohorts where tenant_id = $1",
        "update jobs set state = 'queued', attempts = 0 where tenant_id = $1",
    ] {
        assert_eq!(
            attempt(&mut tx, sqlx::query(sql).bind(b_id)).await,
            Ok(0),
            "{sql}"
        );
    }
    let forged_course = attempt(
        &mut tx,
        sqlx::query(
            "insert into courses (tenant_id, id, slug, title) values ($1, $2, 'forged', 'Forged')",
        )
        .bind(b_id)
        .bind(Uuid::now_v7()),
    )
    .await;
    assert_eq!(
        forged_course,
        Err("42501".to_owned()),
        "creating a course in B"
    );
    let moved_course = attempt(
        &mut tx,
        sqlx::query("update courses set tenant_id = $1 where tenant_id = $2 and id = $3")
            .bind(b_id)
            .bind(a_id)
            .bind(a_course),
    )
    .await;
    assert_eq!(
        moved_course,
        Err("42501".to_owned()),
        "moving A's course into B"
    );

    // Enrollments and cohorts: none can be created in B, nor A's moved there.
    let a_learner: Uuid = a.learner.id.parse().expect("uuid");
    for (sql, what) in [
        (
            "insert into enrollments (tenant_id, id, course_id, user_id, source, enrolled_by)
             select $1, gen_random_uuid(), course_id, user_id, source, enrolled_by
             from enrollments where user_id = $2",
            "enrolling into B",
        ),
        (
            "insert into cohorts (tenant_id, id, name)
             select $1, gen_random_uuid(), 'forged' where $2::uuid is not null",
            "creating a cohort in B",
        ),
        (
            "update enrollments set tenant_id = $1 where user_id = $2",
            "moving A's enrollment into B",
        ),
        (
            "update cohort_members set tenant_id = $1 where user_id = $2",
            "moving A's cohort membership into B",
        ),
    ] {
        assert_eq!(
            attempt(&mut tx, sqlx::query(sql).bind(b_id).bind(a_learner)).await,
            Err("42501".to_owned()),
            "{what}"
        );
    }

    // The registry: B's row is read-only to A; nobody on this role creates tenants or domains.
    assert_eq!(
        attempt(
            &mut tx,
            sqlx::query("update tenants set display_name = 'x' where id = $1").bind(b_id)
        )
        .await,
        Ok(0),
        "update of B's tenant row"
    );
    assert_eq!(
        attempt(
            &mut tx,
            sqlx::query("update tenants set branding = '{}' where id = $1").bind(a_id)
        )
        .await,
        Ok(1),
        "A may update its own profile"
    );
    assert_eq!(
        attempt(
            &mut tx,
            sqlx::query("update tenants set status = 'active' where id = $1").bind(a_id)
        )
        .await,
        Err("42501".to_owned()),
        "A may not change its own status"
    );
    assert_eq!(
        attempt(
            &mut tx,
            sqlx::query("insert into tenants (id, slug, display_name) values ($1, 'evil', 'Evil')")
                .bind(Uuid::now_v7())
        )
        .await,
        Err("42501".to_owned()),
        "insert into tenants"
    );
    assert_eq!(
        attempt(
            &mut tx,
            sqlx::query(
                "insert into tenant_domains (domain, tenant_id) values ('evil.example', $1)"
            )
            .bind(a_id)
        )
        .await,
        Err("42501".to_owned()),
        "insert into tenant_domains"
    );
    assert_eq!(
        attempt(
            &mut tx,
            sqlx::query("delete from tenants where id = $1").bind(b_id)
        )
        .await,
        Err("42501".to_owned()),
        "delete from tenants"
    );
    tx.commit().await.expect("commit");

    // The setting was transaction-local: the next statement and transaction run without it.
    let leaked: Option<String> =
        sqlx::query_scalar("select current_setting('app.tenant_id', true)")
            .fetch_one(&mut conn)
            .await
            .expect("setting");
    assert!(
        leaked.as_deref().is_none_or(str::is_empty),
        "app.tenant_id leaked past commit: {leaked:?}"
    );

    // Without tenant context every tenant-owned table is empty, and nothing can be written.
    let mut tx = conn.begin().await.expect("begin");
    let setting: Option<String> =
        sqlx::query_scalar("select current_setting('app.tenant_id', true)")
            .fetch_one(&mut *tx)
            .await
            .expect("setting");
    assert!(setting.as_deref().is_none_or(str::is_empty), "{setting:?}");
    for table in &tables {
        if !app_may_select(&mut su, table).await {
            continue;
        }
        let all: i64 = sqlx::query_scalar(&format!("select count(*) from {table}"))
            .fetch_one(&mut *tx)
            .await
            .expect("count");
        assert_eq!(all, 0, "{table} shows rows without tenant context");
    }
    let insert_user = attempt(
        &mut tx,
        sqlx::query(
            "insert into users (tenant_id, id, email, display_name, roles, status)
             values ($1, $2, 'nobody@a.example', 'Nobody', array['learner'], 'active')",
        )
        .bind(a_id)
        .bind(Uuid::now_v7()),
    )
    .await;
    assert_eq!(
        insert_user,
        Err("42501".to_owned()),
        "insert without tenant context"
    );
    assert_eq!(
        attempt(
            &mut tx,
            sqlx::query("update tenants set display_name = 'x' where id = $1").bind(a_id)
        )
        .await,
        Ok(0),
        "tenant profile update without tenant context"
    );
    // An empty setting is no tenant either.
    sqlx::query("select set_config('app.tenant_id', '', true)")
        .execute(&mut *tx)
        .await
        .expect("set empty");
    assert_eq!(
        count(
            &mut tx,
            "select count(*) from users where tenant_id = $1 or true",
            a_id
        )
        .await,
        0
    );
    tx.rollback().await.expect("rollback");

    // Nothing of B's changed.
    assert_eq!(
        count(
            &mut su,
            "select count(*) from users where tenant_id = $1",
            b_id
        )
        .await,
        b_users_before
    );
    assert_eq!(
        count(
            &mut su,
            "select count(*) from refresh_tokens where tenant_id = $1 and revoked_at is null",
            b_id
        )
        .await,
        b_tokens_before
    );
    let b_names: Vec<String> =
        sqlx::query_scalar("select display_name from users where tenant_id = $1")
            .bind(b_id)
            .fetch_all(&mut su)
            .await
            .expect("names");
    assert!(b_names.iter().all(|n| n != "x"), "{b_names:?}");
    let b_tenant_name: String =
        sqlx::query_scalar("select display_name from tenants where id = $1")
            .bind(b_id)
            .fetch_one(&mut su)
            .await
            .expect("tenant name");
    assert_eq!(b_tenant_name, "Tenant b");
}

#[tokio::test]
async fn tenant_transactions_leave_no_tenant_on_pooled_connections() {
    let (app, a) = TestApp::with_tenant("a").await;
    let tenant = lms_tenants::TenantId::from_uuid(a.id.parse().expect("uuid"));
    let mut url = url::Url::parse(&app.db.owner_url).expect("url");
    url.set_username("lms_app").expect("user");
    url.set_password(None).expect("password");
    // One connection, so every use below is on the very connection the transaction used.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(url.as_str())
        .await
        .expect("app pool");
    let db = lms_tenants::TenantDb::new(pool.clone());

    let setting_and_users = |pool: sqlx::PgPool| async move {
        let mut conn = pool.acquire().await.expect("acquire");
        let setting: Option<String> =
            sqlx::query_scalar("select current_setting('app.tenant_id', true)")
                .fetch_one(&mut *conn)
                .await
                .expect("setting");
        let users: i64 = sqlx::query_scalar("select count(*) from users")
            .fetch_one(&mut *conn)
            .await
            .expect("count");
        (setting.filter(|s| !s.is_empty()), users)
    };

    // Committed.
    let mut tx = db.begin(tenant).await.expect("begin");
    let inside: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(&mut *tx)
        .await
        .expect("count");
    assert!(
        inside >= 2,
        "the tenant's own users are visible inside its transaction"
    );
    tx.commit().await.expect("commit");
    assert_eq!(setting_and_users(pool.clone()).await, (None, 0));

    // Dropped without commit (an error path).
    let mut tx = db.begin(tenant).await.expect("begin");
    sqlx::query("select count(*) from users")
        .execute(&mut *tx)
        .await
        .expect("query");
    drop(tx);
    assert_eq!(setting_and_users(pool.clone()).await, (None, 0));

    // Failed inside (the transaction is aborted, then rolled back on drop).
    let mut tx = db.begin(tenant).await.expect("begin");
    sqlx::query("select 1 / 0")
        .execute(&mut *tx)
        .await
        .expect_err("division by zero");
    drop(tx);
    assert_eq!(setting_and_users(pool).await, (None, 0));
}
