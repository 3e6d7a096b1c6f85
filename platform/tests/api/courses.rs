//! Course authoring: the status workflow, who may author what, validation, the outline's order
//! under concurrent edits, prerequisites and cloning.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{CourseId, ModuleId, School, TestApp, TestUser, paths};

/// The school, whose teacher (`owner`) authors the courses, and a second instructor, `other`.
async fn authors() -> (School, TestUser) {
    let a = School::with_teacher(TestApp::spawn().await, "owner").await;
    let other = a.instructor("other").await;
    (a, other)
}

async fn detail(a: &School, who: &TestUser, course: &str) -> Value {
    let reply = a.send(Method::GET, &paths::course(course), who, None).await;
    reply.assert_status(StatusCode::OK);
    reply.json()
}

async fn audit_actions(a: &School) -> Vec<String> {
    let reply = a
        .app
        .get("/api/v1/audit-events?limit=200")
        .tenant("acme")
        .bearer(&a.t.admin.access_token)
        .send()
        .await;
    reply.assert_status(StatusCode::OK);
    reply.json()["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["action"].as_str().map(str::to_owned))
        .collect()
}

/// A module's title and position with its items' kind, title, required flag and position.
type ModuleShape = (String, i64, Vec<(String, String, bool, i64)>);

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|v| v["id"].as_str().expect("id").to_owned())
        .collect()
}

fn positions(list: &Value) -> Vec<i64> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|v| v["position"].as_i64().expect("position"))
        .collect()
}

#[tokio::test]
async fn a_course_goes_from_draft_to_published_to_archived_and_back() {
    let (a, _other) = authors().await;
    let created = a
        .send(
            Method::POST,
            "/api/v1/courses",
            &a.teacher,
            Some(json!({
                "slug": "rust-101",
                "title": "  Rust 101 ",
                "summary": "Ownership without tears",
                "description": "# Welcome\n\nBring a laptop.",
                "category": "Programming",
                "tags": ["Rust", "systems", "rust"],
                "difficulty": "intermediate",
                "language": "en-GB",
                "estimated_minutes": 600,
                "thumbnail_url": "https://cdn.example.org/rust.png",
                "price_minor": 4900,
                "currency": "EUR",
                "self_enrollment": false,
                "capacity": 30,
                "sequential": true
            })),
        )
        .await;
    created.assert_status(StatusCode::CREATED);
    let course = created.json();
    let id = course["id"].as_str().expect("id").to_owned();
    assert_eq!(course["status"], "draft");
    assert_eq!(course["title"], "Rust 101");
    assert_eq!(course["tags"], json!(["rust", "systems"]));
    assert_eq!(course["difficulty"], "intermediate");
    assert_eq!(course["capacity"], 30);
    assert_eq!(course["sequential"], true);
    assert!(course["published_at"].is_null());
    assert_eq!(
        course["instructors"],
        json!([{ "user_id": a.teacher.id, "display_name": "Learner", "role": "owner" }])
    );
    assert_eq!(course["modules"], json!([]));

    // Learners do not see drafts; null clears a setting.
    a.send(Method::GET, &paths::course(&id), &a.t.learner, None)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    let patched = a
        .send(
            Method::PATCH,
            &paths::course(&id),
            &a.teacher,
            Some(json!({ "capacity": null, "title": "Rust, the basics" })),
        )
        .await;
    patched.assert_status(StatusCode::OK);
    assert!(patched.json()["capacity"].is_null());
    assert_eq!(patched.json()["title"], "Rust, the basics");
    assert_eq!(patched.json()["price_minor"], 4900);

    let published = a.teaching().set_status(&id, "published").await;
    published.assert_status(StatusCode::OK);
    assert_eq!(published.json()["status"], "published");
    assert!(published.json()["published_at"].is_string());
    let seen = detail(&a, &a.t.learner, &id).await;
    assert_eq!(seen["title"], "Rust, the basics");
    // Published courses are not deleted, and cannot go straight back to draft.
    a.send(Method::DELETE, &paths::course(&id), &a.teacher, None)
        .await
        .assert_problem(StatusCode::CONFLICT, "course_not_draft");
    a.teaching()
        .set_status(&id, "draft")
        .await
        .assert_problem(StatusCode::CONFLICT, "invalid_transition");
    a.teaching()
        .set_status(&id, "published")
        .await
        .assert_problem(StatusCode::CONFLICT, "invalid_transition");

    a.teaching()
        .set_status(&id, "archived")
        .await
        .assert_status(StatusCode::OK);
    a.send(Method::GET, &paths::course(&id), &a.t.learner, None)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    a.teaching()
        .set_status(&id, "published")
        .await
        .assert_problem(StatusCode::CONFLICT, "invalid_transition");
    let unarchived = a.teaching().set_status(&id, "draft").await;
    unarchived.assert_status(StatusCode::OK);
    assert_eq!(unarchived.json()["status"], "draft");
    a.teaching()
        .set_status(&id, "archived")
        .await
        .assert_problem(StatusCode::CONFLICT, "invalid_transition");
    a.teaching()
        .set_status(&id, "deleted")
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

    a.send(Method::DELETE, &paths::course(&id), &a.teacher, None)
        .await
        .assert_status(StatusCode::NO_CONTENT);
    a.send(Method::GET, &paths::course(&id), &a.teacher, None)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");

    let actions = audit_actions(&a).await;
    for action in [
        "course.created",
        "course.updated",
        "course.published",
        "course.archived",
        "course.unarchived",
        "course.deleted",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} not in {actions:?}"
        );
    }
}

#[tokio::test]
async fn owners_co_instructors_other_instructors_learners_and_admins_get_what_they_may() {
    let (a, other) = authors().await;
    let co = a.instructor("co").await;
    let course = a.teaching().create_course("owned", json!({})).await;
    let others = a.by(&other).create_course("not-mine", json!({})).await;
    let edit = |title: &str| Some(json!({ "title": title }));

    // Learners cannot author or list.
    a.send(
        Method::POST,
        "/api/v1/courses",
        &a.t.learner,
        Some(json!({ "slug": "mine", "title": "Mine" })),
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    a.send(Method::GET, "/api/v1/courses", &a.t.learner, None)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    a.send(
        Method::PATCH,
        &paths::course(&course),
        &a.t.learner,
        edit("x"),
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "forbidden");

    // Another instructor does not see the draft; once published they see it but cannot edit.
    a.send(Method::PATCH, &paths::course(&course), &other, edit("x"))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    a.send(Method::GET, &paths::course(&course), &other, None)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");

    // Only an instructor can be a co-instructor; the owner adds one, who may then edit.
    a.send(
        Method::POST,
        &paths::instructors(&course),
        &a.teacher,
        Some(json!({ "user_id": a.t.learner.id })),
    )
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    a.send(Method::PATCH, &paths::course(&course), &co, edit("x"))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found");
    let added = a
        .send(
            Method::POST,
            &paths::instructors(&course),
            &a.teacher,
            Some(json!({ "user_id": co.id })),
        )
        .await;
    added.assert_status(StatusCode::OK);
    assert_eq!(added.json()["instructors"][1]["user_id"], co.id.as_str());
    assert_eq!(added.json()["instructors"][1]["role"], "co_instructor");
    a.send(
        Method::POST,
        &paths::instructors(&course),
        &a.teacher,
        Some(json!({ "user_id": co.id })),
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "already_instructor");
    a.send(Method::PATCH, &paths::course(&course), &co, edit("By co"))
        .await
        .assert_status(StatusCode::OK);
    a.by(&co).add_module(&course, "Co's module").await;
    // ... but does not manage instructors or delete the course.
    a.send(
        Method::POST,
        &paths::instructors(&course),
        &co,
        Some(json!({ "user_id": other.id })),
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    a.send(Method::DELETE, &paths::course(&course), &co, None)
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");

    // Lists: own and co-taught for instructors, everything for admins.
    let listed = |who: &TestUser| {
        let who = who.clone();
        let a = &a;
        async move {
            let reply = a.send(Method::GET, "/api/v1/courses", &who, None).await;
            reply.assert_status(StatusCode::OK);
            let mut ids = ids(&reply.json()["items"]);
            ids.sort();
            ids
        }
    };
    let mut both = vec![course.clone(), others.clone()];
    both.sort();
    assert_eq!(listed(&a.teacher).await, vec![course.clone()]);
    assert_eq!(listed(&co).await, vec![course.clone()]);
    assert_eq!(listed(&other).await, vec![others.clone()]);
    assert_eq!(listed(&a.t.admin).await, both);
    let drafts = a
        .send(
            Method::GET,
            "/api/v1/courses?status=published",
            &a.t.admin,
            None,
        )
        .await;
    drafts.assert_status(StatusCode::OK);
    assert_eq!(drafts.json()["items"], json!([]));

    // Tenant admins manage every course.
    a.send(
        Method::PATCH,
        &paths::course(&others),
        &a.t.admin,
        edit("By admin"),
    )
    .await
    .assert_status(StatusCode::OK);
    a.teaching()
        .set_status(&course, "published")
        .await
        .assert_status(StatusCode::OK);
    a.send(Method::PATCH, &paths::course(&course), &other, edit("x"))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(detail(&a, &other, &course).await["title"], "By co");

    // The owner stays; a removed co-instructor loses access.
    a.send(
        Method::DELETE,
        &paths::instructor(&course, &a.teacher.id),
        &a.t.admin,
        None,
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "cannot_remove_owner");
    let removed = a
        .send(
            Method::DELETE,
            &paths::instructor(&course, &co.id),
            &a.teacher,
            None,
        )
        .await;
    removed.assert_status(StatusCode::OK);
    assert_eq!(
        removed.json()["instructors"].as_array().map(Vec::len),
        Some(1)
    );
    a.send(Method::PATCH, &paths::course(&course), &co, edit("x"))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    a.send(
        Method::DELETE,
        &paths::instructor(&course, &co.id),
        &a.teacher,
        None,
    )
    .await
    .assert_problem(StatusCode::NOT_FOUND, "not_found");
    let actions = audit_actions(&a).await;
    assert!(actions.iter().any(|x| x == "course.instructor_added"));
    assert!(actions.iter().any(|x| x == "course.instructor_removed"));
}

#[tokio::test]
async fn invalid_settings_are_refused_with_every_field_named() {
    let (a, other) = authors().await;
    let reply = a
        .send(
            Method::POST,
            "/api/v1/courses",
            &a.teacher,
            Some(json!({
                "slug": "Not A Slug",
                "title": " ",
                "language": "english",
                "thumbnail_url": "http://cdn.example.org/a.png",
                "currency": "eur",
                "capacity": 0,
                "estimated_minutes": -5,
                "tags": ["ok", ""]
            })),
        )
        .await;
    reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let mut fields: Vec<String> = reply.json()["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].as_str().expect("field").to_owned())
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "capacity",
            "currency",
            "estimated_minutes",
            "language",
            "slug",
            "tags[1]",
            "thumbnail_url",
            "title"
        ]
    );
    // A price needs a currency; unknown fields and wrong types are refused.
    let priced = a
        .send(
            Method::POST,
            "/api/v1/courses",
            &a.teacher,
            Some(json!({ "slug": "priced", "title": "Priced", "price_minor": 100 })),
        )
        .await;
    priced.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(priced.json()["errors"][0]["field"], "currency");
    for body in [
        json!({ "slug": "x", "title": "X", "owner_id": a.teacher.id }),
        json!({ "slug": "x", "title": "X", "difficulty": "expert" }),
        json!({ "slug": "x", "title": "X", "price_minor": -1, "currency": "EUR" }),
    ] {
        a.send(Method::POST, "/api/v1/courses", &a.teacher, Some(body))
            .await
            .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    }

    // Slugs are unique per tenant, on create and on update.
    let first = a.teaching().create_course("taken", json!({})).await;
    let second = a.by(&other).create_course("free", json!({})).await;
    a.send(
        Method::POST,
        "/api/v1/courses",
        &other,
        Some(json!({ "slug": "taken", "title": "Again" })),
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "slug_taken");
    a.send(
        Method::PATCH,
        &paths::course(&second),
        &other,
        Some(json!({ "slug": "taken" })),
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "slug_taken");
    a.send(
        Method::PATCH,
        &paths::course(&first),
        &a.teacher,
        Some(json!({ "price_minor": 500 })),
    )
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    a.send(Method::GET, "/api/v1/courses/not-a-uuid", &a.teacher, None)
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_path_parameter");
    // Another tenant may use the same slug.
    let other_tenant = a.app.seed_tenant("globex").await;
    a.app
        .post("/api/v1/courses")
        .tenant("globex")
        .bearer(&other_tenant.admin.access_token)
        .json(json!({ "slug": "taken", "title": "Globex's" }))
        .send()
        .await
        .assert_status(StatusCode::CREATED);
}

#[tokio::test]
async fn modules_and_items_are_edited_and_kept_in_a_contiguous_order() {
    let (a, _other) = authors().await;
    let course = a.teaching().create_course("outline", json!({})).await;
    let m: Vec<ModuleId> = {
        let mut m = Vec::new();
        for title in ["One", "Two", "Three"] {
            m.push(a.teaching().add_module(&course, title).await);
        }
        m
    };
    let text = a
        .by(&a.teacher)
        .add_item(
            &course,
            &m[0],
            json!({ "kind": "text", "title": "Read me", "body": "# Hello" }),
        )
        .await;
    let video = a.teaching().add_item(&course, &m[0], json!({ "kind": "video", "title": "Watch", "url": "https://video.example/1", "duration_seconds": 90 }))
        .await;
    let quiz = a
        .by(&a.teacher)
        .add_item(
            &course,
            &m[0],
            json!({ "kind": "quiz", "title": "Check", "required": false }),
        )
        .await;
    a.teaching()
        .add_item(
            &course,
            &m[1],
            json!({ "kind": "document", "title": "Slides", "url": "https://files.example/s.pdf" }),
        )
        .await;
    a.teaching()
        .add_item(
            &course,
            &m[1],
            json!({ "kind": "external_link", "title": "Docs", "url": "http://docs.example" }),
        )
        .await;
    a.teaching()
        .add_item(
            &course,
            &m[1],
            json!({ "kind": "assignment", "title": "Homework" }),
        )
        .await;

    // Each kind takes exactly its own content.
    for (body, field) in [
        (json!({ "kind": "video", "title": "No url" }), "url"),
        (
            json!({ "kind": "text", "title": "T", "body": "b", "url": "https://x.example" }),
            "url",
        ),
        (
            json!({ "kind": "quiz", "title": "Q", "body": "no" }),
            "body",
        ),
        (
            json!({ "kind": "document", "title": "D", "url": "ftp://x.example/a" }),
            "url",
        ),
        (json!({ "kind": "text", "title": "", "body": "b" }), "title"),
    ] {
        let reply = a
            .send(
                Method::POST,
                &paths::items(&course, &m[2]),
                &a.teacher,
                Some(body.clone()),
            )
            .await;
        reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(reply.json()["errors"][0]["field"], field, "{body}");
    }

    let outline = detail(&a, &a.teacher, &course).await["modules"].clone();
    assert_eq!(ids(&outline), m);
    assert_eq!(positions(&outline), [0, 1, 2]);
    let first = &outline[0]["items"];
    assert_eq!(ids(first), [text.clone(), video.clone(), quiz.clone()]);
    assert_eq!(positions(first), [0, 1, 2]);
    assert_eq!(first[1]["duration_seconds"], 90);
    assert_eq!(first[2]["required"], false);
    assert_eq!(outline[1]["items"][1]["kind"], "external_link");

    // Item and module edits.
    let edited = a
        .send(
            Method::PATCH,
            &paths::item(&course, &m[0], &video),
            &a.teacher,
            Some(json!({ "duration_seconds": 120, "required": false })),
        )
        .await;
    edited.assert_status(StatusCode::OK);
    assert_eq!(edited.json()["duration_seconds"], 120);
    assert_eq!(edited.json()["url"], "https://video.example/1");
    a.send(
        Method::PATCH,
        &paths::item(&course, &m[0], &text),
        &a.teacher,
        Some(json!({ "url": "https://x.example" })),
    )
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    // An item is addressed through its own module.
    a.send(
        Method::PATCH,
        &paths::item(&course, &m[1], &text),
        &a.teacher,
        Some(json!({ "title": "Moved?" })),
    )
    .await
    .assert_problem(StatusCode::NOT_FOUND, "not_found");
    let renamed = a
        .send(
            Method::PATCH,
            &paths::module(&course, &m[1]),
            &a.teacher,
            Some(json!({ "title": "Two, renamed" })),
        )
        .await;
    renamed.assert_status(StatusCode::OK);
    assert_eq!(renamed.json()["title"], "Two, renamed");
    assert_eq!(renamed.json()["items"].as_array().map(Vec::len), Some(3));

    // Reorders must list exactly the current set.
    let order = |ids: &[&str]| Some(json!({ "module_ids": ids }));
    for stale in [
        order(&[&m[0], &m[1]]),
        order(&[&m[0], &m[1], &m[2], &m[2]]),
        order(&[&m[0], &m[1], &text]),
        order(&[&m[0], &m[1], &m[1]]),
    ] {
        a.send(
            Method::PUT,
            &paths::modules_order(&course),
            &a.teacher,
            stale,
        )
        .await
        .assert_problem(StatusCode::CONFLICT, "stale_order");
    }
    let reordered = a
        .send(
            Method::PUT,
            &paths::modules_order(&course),
            &a.teacher,
            order(&[&m[2], &m[0], &m[1]]),
        )
        .await;
    reordered.assert_status(StatusCode::OK);
    assert_eq!(
        ids(&reordered.json()),
        [m[2].clone(), m[0].clone(), m[1].clone()]
    );
    assert_eq!(positions(&reordered.json()), [0, 1, 2]);
    let items = a
        .send(
            Method::PUT,
            &paths::items_order(&course, &m[0]),
            &a.teacher,
            Some(json!({ "item_ids": [quiz, text, video] })),
        )
        .await;
    items.assert_status(StatusCode::OK);
    assert_eq!(
        ids(&items.json()["items"]),
        [quiz.clone(), text.clone(), video.clone()]
    );
    a.send(
        Method::PUT,
        &paths::items_order(&course, &m[0]),
        &a.teacher,
        Some(json!({ "item_ids": [quiz, text] })),
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "stale_order");

    // Deleting closes the gap.
    a.send(
        Method::DELETE,
        &paths::item(&course, &m[0], &text),
        &a.teacher,
        None,
    )
    .await
    .assert_status(StatusCode::NO_CONTENT);
    a.send(
        Method::DELETE,
        &paths::module(&course, &m[0]),
        &a.teacher,
        None,
    )
    .await
    .assert_status(StatusCode::NO_CONTENT);
    let outline = detail(&a, &a.teacher, &course).await["modules"].clone();
    assert_eq!(ids(&outline), [m[2].clone(), m[1].clone()]);
    assert_eq!(positions(&outline), [0, 1]);
    a.send(
        Method::DELETE,
        &paths::module(&course, &m[0]),
        &a.teacher,
        None,
    )
    .await
    .assert_problem(StatusCode::NOT_FOUND, "not_found");

    let actions = audit_actions(&a).await;
    for action in [
        "course.module_created",
        "course.module_updated",
        "course.module_deleted",
        "course.modules_reordered",
        "course.item_created",
        "course.item_updated",
        "course.item_deleted",
        "course.items_reordered",
    ] {
        assert!(actions.iter().any(|a| a == action), "{action} missing");
    }
}

#[tokio::test]
async fn concurrent_reorders_and_additions_leave_one_consistent_order() {
    let (a, _other) = authors().await;
    let course = a.teaching().create_course("busy", json!({})).await;
    let mut m = Vec::new();
    for i in 0..5 {
        m.push(a.teaching().add_module(&course, &format!("M{i}")).await);
    }
    // Ten reorders (each a rotation of the full set) race with eight additions.
    let reorders = (0..10).map(|k| {
        let mut order = m.clone();
        order.rotate_left(k % 5);
        let a = &a;
        let course = &course;
        async move {
            let reply = a
                .send(
                    Method::PUT,
                    &paths::modules_order(course),
                    &a.teacher,
                    Some(json!({ "module_ids": order })),
                )
                .await;
            (reply.status, reply.text)
        }
    });
    let additions = (0..8).map(|i| {
        let a = &a;
        let course = &course;
        async move {
            let reply = a
                .send(
                    Method::POST,
                    &paths::modules(course),
                    &a.teacher,
                    Some(json!({ "title": format!("Added {i}") })),
                )
                .await;
            (reply.status, reply.text)
        }
    });
    let (reordered, added) = futures::join!(
        futures::future::join_all(reorders),
        futures::future::join_all(additions)
    );
    for (status, text) in &added {
        assert_eq!(*status, StatusCode::CREATED, "{text}");
    }
    let mut succeeded = 0;
    for (status, text) in &reordered {
        match *status {
            StatusCode::OK => succeeded += 1,
            // A reorder that ran after an addition no longer lists every module.
            StatusCode::CONFLICT => assert!(text.contains("stale_order"), "{text}"),
            other => panic!("unexpected {other}: {text}"),
        }
    }
    assert!(succeeded >= 1, "{reordered:?}");

    let outline = detail(&a, &a.teacher, &course).await["modules"].clone();
    assert_eq!(positions(&outline), (0..13).collect::<Vec<i64>>());
    let mut stored = ids(&outline);
    stored.sort();
    stored.dedup();
    assert_eq!(stored.len(), 13);
    let mut su = a.app.db.superuser().await;
    let db_positions: Vec<i32> = sqlx::query_scalar(
        "select position from course_modules where course_id = $1::uuid order by position",
    )
    .bind(course.as_str())
    .fetch_all(&mut su)
    .await
    .expect("positions");
    assert_eq!(db_positions, (0..13).collect::<Vec<i32>>());
}

#[tokio::test]
async fn prerequisites_refuse_the_course_itself_unknown_courses_and_cycles() {
    let (a, _other) = authors().await;
    let [c1, c2, c3] = [
        a.teaching().create_course("one", json!({})).await,
        a.teaching().create_course("two", json!({})).await,
        a.teaching().create_course("three", json!({})).await,
    ];
    let done = a.teaching().set_prerequisites(&c1, vec![&c2]).await;
    done.assert_status(StatusCode::OK);
    assert_eq!(done.json()["prerequisite_ids"], json!([c2]));
    a.teaching()
        .set_prerequisites(&c2, vec![&c3])
        .await
        .assert_status(StatusCode::OK);
    // three -> one -> two -> three would be a cycle.
    a.teaching()
        .set_prerequisites(&c3, vec![&c1])
        .await
        .assert_problem(StatusCode::CONFLICT, "prerequisite_cycle");
    a.teaching()
        .set_prerequisites(&c2, vec![&c1])
        .await
        .assert_problem(StatusCode::CONFLICT, "prerequisite_cycle");
    let own = a.teaching().set_prerequisites(&c1, vec![&c2, &c1]).await;
    own.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(own.json()["errors"][0]["code"], "self_reference");
    assert_eq!(own.json()["errors"][0]["field"], "course_ids[1]");
    let unknown = CourseId("0190b5a0-0000-7000-8000-000000000000".to_owned());
    let missing = a.teaching().set_prerequisites(&c1, vec![&unknown]).await;
    missing.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(missing.json()["errors"][0]["code"], "unknown_course");
    // Unchanged by the refusals; an empty set clears them.
    assert_eq!(
        detail(&a, &a.teacher, &c1).await["prerequisite_ids"],
        json!([c2])
    );
    a.teaching()
        .set_prerequisites(&c2, vec![])
        .await
        .assert_status(StatusCode::OK);
    a.teaching()
        .set_prerequisites(&c3, vec![&c1])
        .await
        .assert_status(StatusCode::OK);
    assert!(
        audit_actions(&a)
            .await
            .iter()
            .any(|x| x == "course.prerequisites_changed")
    );
}

#[tokio::test]
async fn a_clone_copies_settings_and_outline_but_not_co_instructors() {
    let (a, other) = authors().await;
    let co = a.instructor("co").await;
    let source = a.teaching().create_course("source", json!({})).await;
    let required = a.teaching().create_course("required", json!({})).await;
    a.send(
        Method::PATCH,
        &paths::course(&source),
        &a.teacher,
        Some(json!({ "summary": "The original", "sequential": true, "tags": ["x"] })),
    )
    .await
    .assert_status(StatusCode::OK);
    a.send(
        Method::PUT,
        &paths::prerequisites(&source),
        &a.teacher,
        Some(json!({ "course_ids": [required] })),
    )
    .await
    .assert_status(StatusCode::OK);
    a.send(
        Method::POST,
        &paths::instructors(&source),
        &a.teacher,
        Some(json!({ "user_id": co.id })),
    )
    .await
    .assert_status(StatusCode::OK);
    let m1 = a.teaching().add_module(&source, "First").await;
    let m2 = a.teaching().add_module(&source, "Second").await;
    a.teaching()
        .add_item(
            &source,
            &m1,
            json!({ "kind": "text", "title": "Intro", "body": "Hi" }),
        )
        .await;
    a.teaching()
        .add_item(
            &source,
            &m2,
            json!({ "kind": "video", "title": "Clip", "url": "https://v.example/c" }),
        )
        .await;
    a.teaching()
        .add_item(
            &source,
            &m2,
            json!({ "kind": "quiz", "title": "Quiz", "required": false }),
        )
        .await;
    a.teaching()
        .set_status(&source, "published")
        .await
        .assert_status(StatusCode::OK);

    let reply = a
        .send(
            Method::POST,
            &paths::course_clone(&source),
            &a.teacher,
            Some(json!({ "slug": "source-copy", "title": "The copy" })),
        )
        .await;
    reply.assert_status(StatusCode::CREATED);
    let copy = reply.json();
    let original = detail(&a, &a.teacher, &source).await;
    assert_ne!(copy["id"], original["id"]);
    assert_eq!(copy["slug"], "source-copy");
    assert_eq!(copy["title"], "The copy");
    assert_eq!(copy["status"], "draft");
    assert!(copy["published_at"].is_null());
    assert_eq!(copy["summary"], "The original");
    assert_eq!(copy["sequential"], true);
    assert_eq!(copy["prerequisite_ids"], json!([required]));
    assert_eq!(
        copy["instructors"],
        json!([{ "user_id": a.teacher.id, "display_name": "Learner", "role": "owner" }])
    );
    let shape = |course: &Value| -> Vec<ModuleShape> {
        course["modules"]
            .as_array()
            .expect("modules")
            .iter()
            .map(|m| {
                (
                    m["title"].as_str().expect("t").to_owned(),
                    m["position"].as_i64().expect("p"),
                    m["items"]
                        .as_array()
                        .expect("items")
                        .iter()
                        .map(|i| {
                            (
                                i["kind"].as_str().expect("k").to_owned(),
                                i["title"].as_str().expect("t").to_owned(),
                                i["required"].as_bool().expect("r"),
                                i["position"].as_i64().expect("p"),
                            )
                        })
                        .collect(),
                )
            })
            .collect()
    };
    assert_eq!(shape(&copy), shape(&original));
    assert_eq!(shape(&copy).len(), 2);
    let copied_modules = ids(&copy["modules"]);
    assert!(!copied_modules.contains(&m1.0) && !copied_modules.contains(&m2.0));
    // The co-instructor of the source has no access to the copy.
    a.send(
        Method::GET,
        &paths::course(copy["id"].as_str().expect("id")),
        &co,
        None,
    )
    .await
    .assert_problem(StatusCode::NOT_FOUND, "not_found");

    // Slugs stay unique; other instructors clone templates only.
    a.send(
        Method::POST,
        &paths::course_clone(&source),
        &a.teacher,
        Some(json!({ "slug": "source-copy", "title": "Again" })),
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "slug_taken");
    a.send(
        Method::POST,
        &paths::course_clone(&source),
        &other,
        Some(json!({ "slug": "mine", "title": "Mine" })),
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    a.send(
        Method::PATCH,
        &paths::course(&source),
        &a.teacher,
        Some(json!({ "is_template": true })),
    )
    .await
    .assert_status(StatusCode::OK);
    let from_template = a
        .send(
            Method::POST,
            &paths::course_clone(&source),
            &other,
            Some(json!({ "slug": "mine", "title": "Mine" })),
        )
        .await;
    from_template.assert_status(StatusCode::CREATED);
    assert_eq!(from_template.json()["is_template"], false);
    assert_eq!(
        from_template.json()["instructors"][0]["user_id"],
        other.id.as_str()
    );
    assert!(audit_actions(&a).await.iter().any(|x| x == "course.cloned"));
}
