//! Probes, metrics and the OpenAPI document.

use reqwest::StatusCode;

use crate::helpers::TestApp;

#[tokio::test]
async fn probes_answer_and_metrics_count_requests() {
    let app = TestApp::spawn().await;
    app.get("/healthz")
        .send()
        .await
        .assert_status(StatusCode::OK);
    let ready = app.get("/readyz").send().await;
    ready.assert_status(StatusCode::OK);
    assert_eq!(ready.json()["migrations"], true);
    let metrics = app.get("/metrics").send().await;
    metrics.assert_status(StatusCode::OK);
    assert!(
        metrics.text.contains("http_requests_total"),
        "{}",
        metrics.text
    );
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = TestApp::spawn().await;
    let reply = app.get("/healthz").send().await;
    let id = reply
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert_eq!(id.len(), 36, "request id missing or not a UUID: {id:?}");
}

#[tokio::test]
async fn the_committed_openapi_document_is_fresh() {
    let generated = lms_platform::openapi::document_json().expect("document");
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json"))
        .unwrap_or_default();
    assert!(
        generated == committed,
        "platform/openapi.json is stale: run `cargo xtask openapi`"
    );
    let served = TestApp::spawn()
        .await
        .get("/api/v1/openapi.json")
        .send()
        .await;
    served.assert_status(StatusCode::OK);
    assert_eq!(served.json()["openapi"], "3.1.0");
}

#[test]
fn every_operation_documents_its_errors() {
    let document: serde_json::Value =
        serde_json::from_str(&lms_platform::openapi::document_json().expect("document"))
            .expect("json");
    let paths = document["paths"].as_object().expect("paths");
    for (path, item) in paths {
        if ["/healthz", "/readyz", "/metrics", "/.well-known/jwks.json"].contains(&path.as_str()) {
            continue;
        }
        for (method, operation) in item.as_object().expect("path item") {
            let responses = operation["responses"].as_object().expect("responses");
            assert!(
                responses.keys().any(|status| status.starts_with('4')),
                "{method} {path} documents no 4xx response"
            );
        }
    }
}
