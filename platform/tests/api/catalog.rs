//! The catalog: only published courses, filters, ranked full-text search, keyset pagination
//! that stays stable while courses are published, and the public outline.

use std::collections::HashSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::Connection;
use uuid::Uuid;

use crate::helpers::{School, TestApp, paths};

async fn shop() -> School {
    School::with_teacher(TestApp::spawn().await, "owner").await
}

/// The catalog as the learner sees it with this query string.
async fn catalog(s: &School, query: &str) -> Value {
    let reply = s
        .app
        .get(&format!("/api/v1/catalog{query}"))
        .tenant("acme")
        .bearer(&s.t.learner.access_token)
        .send()
        .await;
    reply.assert_status(StatusCode::OK);
    reply.json()
}

async fn slugs(s: &School, query: &str) -> Vec<String> {
    slugs_of(&catalog(s, query).await)
}

fn slugs_of(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| c["slug"].as_str().expect("slug").to_owned())
        .collect()
}

#[tokio::test]
async fn learners_see_only_published_courses_with_their_seats() {
    let s = shop().await;
    s.course("draft-one", json!({})).await;
    let archived = s.published("archived-one", json!({})).await;
    s.app
        .post(&paths::course_status(&archived))
        .tenant("acme")
        .bearer(&s.teacher.access_token)
        .json(json!({ "status": "archived" }))
        .send()
        .await
        .assert_status(StatusCode::OK);
    s.published(
        "live",
        json!({ "capacity": 3, "price_minor": 1900, "currency": "EUR", "summary": "Short" }),
    )
    .await;
    let page = catalog(&s, "").await;
    assert_eq!(slugs_of(&page), vec!["live"]);
    let item = &page["items"][0];
    assert_eq!(item["capacity"], 3);
    assert_eq!(item["seats_left"], 3);
    assert_eq!(item["price_minor"], 1900);
    assert_eq!(item["currency"], "EUR");
    assert_eq!(item["self_enrollment"], true);
    assert!(item.get("description").is_none(), "{item}");
    assert!(item.get("status").is_none(), "{item}");
    for bad in ["?limit=0", "?limit=101"] {
        s.app
            .get(&format!("/api/v1/catalog{bad}"))
            .tenant("acme")
            .bearer(&s.t.learner.access_token)
            .send()
            .await
            .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    }
    s.app
        .get("/api/v1/catalog")
        .tenant("acme")
        .send()
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn filters_narrow_the_catalog() {
    let s = shop().await;
    s.published(
        "rust-basics",
        json!({ "category": "Programming", "tags": ["Rust", "systems"], "difficulty": "beginner", "language": "en" }),
    )
    .await;
    s.published(
        "rust-advanced",
        json!({ "category": "Programming", "tags": ["rust"], "difficulty": "advanced", "language": "de" }),
    )
    .await;
    s.published(
        "watercolour",
        json!({ "category": "Art", "tags": ["painting"], "difficulty": "beginner", "language": "en" }),
    )
    .await;
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(
        sorted(slugs(&s, "?category=Programming").await),
        vec!["rust-advanced", "rust-basics"]
    );
    assert_eq!(
        sorted(slugs(&s, "?tag=RUST").await),
        vec!["rust-advanced", "rust-basics"]
    );
    assert_eq!(
        slugs(&s, "?difficulty=advanced").await,
        vec!["rust-advanced"]
    );
    assert_eq!(
        sorted(slugs(&s, "?language=en").await),
        vec!["rust-basics", "watercolour"]
    );
    assert_eq!(
        slugs(&s, "?category=Programming&language=en&difficulty=beginner").await,
        vec!["rust-basics"]
    );
    assert!(slugs(&s, "?category=Cooking").await.is_empty());
    s.app
        .get("/api/v1/catalog?difficulty=expert")
        .tenant("acme")
        .bearer(&s.t.learner.access_token)
        .send()
        .await
        .assert_status(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn search_ranks_title_matches_first() {
    let s = shop().await;
    let title = |slug: &str, title: &str, summary: &str| json!({ "slug": slug, "title": title, "summary": summary });
    for (slug, t, summary) in [
        (
            "kubernetes",
            "Kubernetes in Production",
            "Operating clusters",
        ),
        (
            "docker",
            "Containers with Docker",
            "Images, then kubernetes later",
        ),
        ("cooking", "Italian Cooking", "Pasta and sauces"),
    ] {
        let body = title(slug, t, summary);
        let reply = s
            .app
            .post("/api/v1/courses")
            .tenant("acme")
            .bearer(&s.teacher.access_token)
            .json(body)
            .send()
            .await;
        reply.assert_status(StatusCode::CREATED);
        s.publish(reply.json()["id"].as_str().expect("id")).await;
    }
    // Title (weight A) before summary (weight C).
    assert_eq!(
        slugs(&s, "?q=kubernetes").await,
        vec!["kubernetes", "docker"]
    );
    // Web-search syntax.
    assert_eq!(
        slugs(&s, "?q=kubernetes%20-docker").await,
        vec!["kubernetes"]
    );
    assert_eq!(
        slugs(&s, "?q=%22italian%20cooking%22").await,
        vec!["cooking"]
    );
    assert!(slugs(&s, "?q=zzzzqqq").await.is_empty());
    // Ranked pages chain with their own cursors; a newest-first cursor is not one of them.
    let first = catalog(&s, "?q=kubernetes&limit=1").await;
    assert_eq!(slugs_of(&first), vec!["kubernetes"]);
    let cursor = first["next_cursor"].as_str().expect("cursor");
    let second = catalog(&s, &format!("?q=kubernetes&limit=1&cursor={cursor}")).await;
    assert_eq!(slugs_of(&second), vec!["docker"]);
    assert!(second["next_cursor"].is_null());
    s.app
        .get(&format!("/api/v1/catalog?limit=1&cursor={cursor}"))
        .tenant("acme")
        .bearer(&s.t.learner.access_token)
        .send()
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_cursor");
}

/// Pages through the catalog with `query`, publishing a new course before every next page.
async fn page_while_publishing(s: &School, query: &str, new_slug: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for round in 0..20 {
        let q = match &cursor {
            Some(c) => format!("{query}&cursor={c}"),
            None => query.to_owned(),
        };
        let page = catalog(s, &q).await;
        seen.extend(slugs_of(&page));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        s.published(
            &format!("{new_slug}-{round}"),
            json!({ "title": format!("Pagination newcomer {round}") }),
        )
        .await;
    }
    seen
}

#[tokio::test]
async fn pages_neither_repeat_nor_skip_while_courses_are_published() {
    let s = shop().await;
    let mut older = Vec::new();
    for i in 0..7 {
        let slug = format!("old-{i}");
        s.published(&slug, json!({ "title": format!("Pagination veteran {i}") }))
            .await;
        older.push(slug);
    }
    // Newest first: every older course exactly once, the newcomers (newer) never.
    let seen = page_while_publishing(&s, "?limit=2", "new").await;
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "duplicates: {seen:?}");
    let mut expected = older.clone();
    expected.reverse();
    assert_eq!(seen, expected);
    // Ranked search: same guarantee (the newcomers match "pagination" too).
    let seen = page_while_publishing(&s, "?q=pagination%20veteran&limit=2", "newer").await;
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "duplicates: {seen:?}");
    for slug in &older {
        assert!(seen.contains(slug), "{slug} skipped: {seen:?}");
    }
}

#[tokio::test]
async fn the_public_outline_has_titles_but_no_content() {
    let s = shop().await;
    let id = s.course("outlined", json!({ "summary": "About" })).await;
    let prereq = s.published("basics", json!({})).await;
    let call = |method: Method, path: String, body: Value| {
        s.app
            .call(method, &path)
            .tenant("acme")
            .bearer(&s.teacher.access_token)
            .json(body)
    };
    let module = call(
        Method::POST,
        paths::modules(&id),
        json!({ "title": "Week 1" }),
    )
    .send()
    .await;
    module.assert_status(StatusCode::CREATED);
    let module = module.json()["id"].as_str().expect("id").to_owned();
    call(
        Method::POST,
        paths::items(&id, &module),
        json!({ "kind": "text", "title": "Welcome", "body": "SECRET BODY", "required": false }),
    )
    .send()
    .await
    .assert_status(StatusCode::CREATED);
    call(
        Method::PUT,
        paths::prerequisites(&id),
        json!({ "course_ids": [prereq] }),
    )
    .send()
    .await
    .assert_status(StatusCode::OK);
    let get = |key: String| {
        s.app
            .get(&format!("/api/v1/catalog/{key}"))
            .tenant("acme")
            .bearer(&s.t.learner.access_token)
            .send()
    };
    // A draft is not in the catalog, by id or slug.
    get(id.to_string())
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    get("outlined".into())
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    s.publish(&id).await;
    let by_id = get(id.to_string()).await;
    by_id.assert_status(StatusCode::OK);
    let by_slug = get("outlined".into()).await;
    by_slug.assert_status(StatusCode::OK);
    assert_eq!(by_id.json(), by_slug.json());
    let detail = by_id.json();
    assert!(!by_id.text.contains("SECRET BODY"), "{}", by_id.text);
    assert_eq!(detail["modules"][0]["title"], "Week 1");
    assert_eq!(detail["modules"][0]["items"][0]["title"], "Welcome");
    assert_eq!(detail["modules"][0]["items"][0]["kind"], "text");
    assert_eq!(detail["modules"][0]["items"][0]["required"], false);
    assert_eq!(detail["instructors"][0]["display_name"], "Learner");
    assert!(detail["instructors"][0].get("role").is_none());
    assert_eq!(detail["prerequisites"][0]["slug"], "basics");
    get(Uuid::now_v7().to_string())
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
}

/// The plan of `sql` as the app role inside a tenant transaction.
async fn plan_as_app(app: &TestApp, tenant: Uuid, sql: &str) -> String {
    let mut conn = app.db.connect_as("lms_app").await;
    let mut tx = conn.begin().await.expect("begin");
    sqlx::query("select set_config('app.tenant_id', $1, true)")
        .bind(tenant.to_string())
        .execute(&mut *tx)
        .await
        .expect("set tenant");
    let lines: Vec<String> = sqlx::query_scalar(&format!("explain {sql}"))
        .bind(tenant)
        .fetch_all(&mut *tx)
        .await
        .expect("explain");
    lines.join("\n")
}

/// Pins what the planner does as the app role: the default order walks `courses_catalog`, but
/// full text never uses the `courses_search` GIN index under RLS (`@@` is not LEAKPROOF, so it
/// may not run ahead of the policy) and is filtered within the tenant's rows instead. This is
/// why trigram search was left out; when the GIN index becomes usable, this test must change.
#[tokio::test]
async fn the_catalog_order_is_index_backed_under_rls_and_full_text_is_not() {
    let s = shop().await;
    let b = s.app.seed_tenant("other").await;
    let a_id: Uuid = s.t.id.parse().expect("uuid");
    let b_id: Uuid = b.id.parse().expect("uuid");
    let mut su = s.app.db.superuser().await;
    for tenant in [a_id, b_id] {
        sqlx::query(
            "insert into courses (tenant_id, id, slug, title, summary, status, published_at)
             select $1, gen_random_uuid(), 'bulk-' || n, 'Bulk course ' || md5(n::text),
                    'Summary ' || md5((n * 7)::text), 'published', now() - n * interval '1 minute'
             from generate_series(1, 3000) n",
        )
        .bind(tenant)
        .execute(&mut su)
        .await
        .expect("bulk courses");
    }
    sqlx::raw_sql("analyze courses")
        .execute(&mut su)
        .await
        .expect("analyze");
    let newest = plan_as_app(
        &s.app,
        a_id,
        "select id from courses c where c.tenant_id = $1 and c.status = 'published'
           and (c.published_at, c.id) < (now() - interval '10 minutes', gen_random_uuid())
         order by c.published_at desc, c.id desc limit 21",
    )
    .await;
    assert!(
        newest.contains(" using courses_catalog on courses"),
        "{newest}"
    );
    assert!(!newest.contains("Sort"), "{newest}");
    let fts = plan_as_app(
        &s.app,
        a_id,
        "select id from courses c where c.tenant_id = $1 and c.status = 'published'
           and c.search @@ websearch_to_tsquery('simple', 'a1b2c3')",
    )
    .await;
    assert!(!fts.contains("courses_search"), "{fts}");
    assert!(
        fts.contains("Filter: ") && fts.contains("(search @@ "),
        "{fts}"
    );
}
