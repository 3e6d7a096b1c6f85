//! Uploads are bounded: a component that would take minutes and gigabytes to compile is
//! refused within its budget with a problem of its own, and imports need the capabilities the
//! manifest declares. The compile child is the real `lms` binary.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Reply, TestApp, TestTenant, plugin_upload, plugin_wasm};

#[path = "../../../plugins/testing/compile-bomb/generate.rs"]
#[allow(dead_code)]
mod generate;

async fn upload(app: &TestApp, t: &TestTenant, body: Value) -> Reply {
    app.call(Method::POST, "/api/v1/plugins")
        .tenant(&t.slug)
        .bearer(&t.admin.access_token)
        .json(body)
        .send()
        .await
}

fn field_codes(reply: &Reply) -> Vec<String> {
    reply.json()["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["code"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_compile_bomb_is_refused_within_its_budget_and_the_server_goes_on() {
    let (app, t) = TestApp::with_tenant("acme").await;
    // One function of 4 900 locals live across 14 600 branches: over half a minute and
    // gigabytes to compile without a budget.
    let bomb = wat::parse_str(generate::wat(generate::Shape {
        functions: 1,
        ..generate::Shape::WORST
    }))
    .expect("the bomb assembles");

    let started = Instant::now();
    let refused = upload(&app, &t, plugin_upload("bomb", "1.0.0", &bomb)).await;
    let elapsed = started.elapsed();
    refused.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "compile_budget_exceeded");
    assert!(
        elapsed < Duration::from_secs(8),
        "refused after {elapsed:?}"
    );

    // Nothing was stored, and ordinary uploads go on.
    let numeric = plugin_wasm("numeric_grader");
    upload(&app, &t, plugin_upload("numeric", "1.0.0", &numeric))
        .await
        .assert_status(StatusCode::CREATED);
}

#[tokio::test]
async fn an_import_needs_its_capability_in_the_manifest() {
    let (app, t) = TestApp::with_tenant("acme").await;
    let logging = wat::parse_str(r#"(component (import "lms:plugin/log@0.1.0" (instance)))"#)
        .expect("assembles");
    let mut body = plugin_upload("logging", "1.0.0", &logging);
    body["manifest"]["capabilities"] = json!([]);
    let refused = upload(&app, &t, body).await;
    refused.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "rejected");
    assert_eq!(field_codes(&refused), ["undeclared_capability"]);
}
