//! Bad input is always a 4xx problem+json with a stable `code`, never a 500.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Reply, TestApp, paths};

#[track_caller]
fn assert_problem_json(reply: &Reply, context: &str) {
    assert_eq!(
        reply
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json"),
        "{context}: not problem+json: {} {}",
        reply.status,
        reply.text
    );
    let problem = reply.json();
    assert!(
        problem["code"].as_str().is_some_and(|c| !c.is_empty()),
        "{context}: {}",
        reply.text
    );
    assert_eq!(problem["status"], reply.status.as_u16(), "{context}");
    assert!(
        problem["type"].is_string() && problem["title"].is_string(),
        "{context}"
    );
}

/// Below `/scim/` errors are SCIM Error messages (RFC 7644 §3.12), as SCIM clients expect.
fn assert_scim_error(reply: &Reply, context: &str) {
    assert_eq!(
        reply
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/scim+json"),
        "{context}: not a SCIM error: {} {}",
        reply.status,
        reply.text
    );
    let error = reply.json();
    assert_eq!(
        error["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"]),
        "{context}: {}",
        reply.text
    );
    assert_eq!(error["status"], reply.status.as_str(), "{context}");
}

#[tokio::test]
async fn malformed_and_mistyped_bodies_are_client_errors() {
    let (app, t) = TestApp::with_tenant("acme").await;
    let login = || app.post("/api/v1/auth/login").tenant("acme");

    for body in [
        &b"{\"email\":"[..],
        b"{",
        b"not json",
        br#"{"email":"a@acme.example",}"#,
        b"\xff\xfe",
        b"",
    ] {
        login()
            .raw(Some("application/json"), body.to_vec())
            .send()
            .await
            .assert_problem(StatusCode::BAD_REQUEST, "malformed_json");
    }
    // A wrong type names the field, nested fields by their path.
    let wrong = login()
        .json(json!({ "email": 5, "password": "x" }))
        .send()
        .await;
    wrong.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(
        wrong.json()["errors"][0]["field"],
        "email",
        "{}",
        wrong.text
    );
    let nested = app
        .call(Method::PATCH, "/api/v1/tenant")
        .tenant("acme")
        .bearer(&t.admin.access_token)
        .json(json!({ "branding": { "primary_color": 5 } }))
        .send()
        .await;
    nested.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(
        nested.json()["errors"][0]["field"],
        "branding.primary_color",
        "{}",
        nested.text
    );
    // Unknown fields are refused rather than silently dropped (no mass assignment).
    let unknown = login()
        .json(json!({ "email": "a@acme.example", "password": "x", "is_admin": true }))
        .send()
        .await;
    unknown.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let unknown_nested = app
        .call(Method::PATCH, "/api/v1/tenant")
        .tenant("acme")
        .bearer(&t.admin.access_token)
        .json(json!({ "settings": { "self_registration": true, "status": "active" } }))
        .send()
        .await;
    unknown_nested.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    // Other JSON shapes than an object.
    for body in [json!([]), json!(null), json!("text"), json!(42)] {
        login()
            .json(body)
            .send()
            .await
            .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    }
    // A missing required field.
    login()
        .json(json!({ "email": "a@acme.example" }))
        .send()
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
}

#[tokio::test]
async fn bodies_need_json_content_and_a_sane_size() {
    let app = TestApp::spawn().await;
    app.create_tenant("acme").await;
    let body = br#"{"email":"a@acme.example","password":"xxxxxxxxxxxx"}"#.to_vec();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
    ] {
        app.post("/api/v1/auth/login")
            .tenant("acme")
            .raw(content_type, body.clone())
            .send()
            .await
            .assert_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    }
    // JSON with parameters and +json types are fine (the body is then checked as usual).
    for content_type in [
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/merge-patch+json",
    ] {
        app.post("/api/v1/auth/login")
            .tenant("acme")
            .raw(Some(content_type), body.clone())
            .send()
            .await
            .assert_problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
    }

    // Just over 1 MiB, as valid JSON, with a length header and without one (chunked).
    let padding = "x".repeat(1024 * 1024);
    let big = serde_json::to_vec(&json!({ "email": padding, "password": "x" })).expect("json");
    app.post("/api/v1/auth/login")
        .tenant("acme")
        .raw(Some("application/json"), big.clone())
        .send()
        .await
        .assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    assert_eq!(
        chunked_post(&app, "/api/v1/auth/login", "acme", &big).await,
        "413",
        "a chunked body over the limit"
    );
    // Also where the body is optional.
    app.post("/api/v1/auth/refresh")
        .tenant("acme")
        .raw(Some("application/json"), big)
        .send()
        .await
        .assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    // Deeply nested JSON is refused without exhausting the stack.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let reply = app
        .post("/api/v1/auth/login")
        .tenant("acme")
        .raw(Some("application/json"), deep)
        .send()
        .await;
    assert!(reply.status.is_client_error(), "{}", reply.status);
    assert_problem_json(&reply, "deep JSON");
}

/// Posts `body` with `Transfer-Encoding: chunked` (no length up front) and returns the status code.
async fn chunked_post(app: &TestApp, path: &str, tenant: &str, body: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nX-Tenant: {tenant}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    for chunk in body.chunks(64 * 1024) {
        let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
        // The server may answer and close before the whole body is sent.
        if stream.write_all(&framed).await.is_err() {
            break;
        }
    }
    stream.write_all(b"0\r\n\r\n").await.ok();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.ok();
    let text = String::from_utf8_lossy(&response);
    text.split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn bad_paths_and_queries_are_client_errors() {
    let (app, t) = TestApp::with_tenant("acme").await;
    let admin = |path: &str| app.get(path).tenant("acme").bearer(&t.admin.access_token);
    for id in ["not-a-uuid", "1", "00000000-0000-0000-0000-00000000000g"] {
        admin(&paths::user(id))
            .send()
            .await
            .assert_problem(StatusCode::BAD_REQUEST, "invalid_path_parameter");
    }
    admin("/api/v1/users/%00")
        .send()
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "nul_character");
    app.post("/api/v1/users/nope/deactivate")
        .tenant("acme")
        .bearer(&t.admin.access_token)
        .send()
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_path_parameter");
    app.get("/api/v1/operator/tenants/nope")
        .operator()
        .send()
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_path_parameter");

    for path in ["/api/v1/users", "/api/v1/audit-events"] {
        for query in ["limit=abc", "limit=-1", "limit=1.5", "bogus=1"] {
            admin(&format!("{path}?{query}"))
                .send()
                .await
                .assert_problem(StatusCode::BAD_REQUEST, "invalid_query");
        }
        for query in ["limit=0", "limit=201", "limit=1000"] {
            let reply = admin(&format!("{path}?{query}")).send().await;
            reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
            assert_eq!(reply.json()["errors"][0]["field"], "limit");
        }
        for cursor in ["garbage", "!!!", "AAAA", "%FF"] {
            admin(&format!("{path}?cursor={cursor}"))
                .send()
                .await
                .assert_problem(StatusCode::BAD_REQUEST, "invalid_cursor");
        }
        admin(&format!("{path}?limit=200"))
            .send()
            .await
            .assert_status(StatusCode::OK);
    }
    app.get("/api/v1/operator/tenants?limit=0")
        .operator()
        .send()
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    app.get("/api/v1/operator/tenants?cursor=garbage")
        .operator()
        .send()
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_cursor");
}

#[tokio::test]
async fn unknown_routes_methods_and_tenants_are_problems() {
    let app = TestApp::spawn().await;
    app.create_tenant("acme").await;
    for path in [
        "/nope",
        "/api/v1/nope",
        "/api/v2/tenant",
        "/api/v1/users/",
        "/api/v1/tenant/extra",
    ] {
        app.get(path)
            .tenant("acme")
            .send()
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
    }
    for (method, path) in [
        (Method::DELETE, "/api/v1/users"),
        (Method::PUT, "/api/v1/tenant"),
        (Method::GET, "/api/v1/auth/login"),
        (Method::POST, "/api/v1/audit-events"),
        (Method::DELETE, "/api/v1/operator/tenants"),
    ] {
        app.call(method, path)
            .tenant("acme")
            .send()
            .await
            .assert_problem(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    }
    // Unknown tenant, or none at all.
    for call in [
        app.get("/api/v1/tenant").tenant("nope"),
        app.get("/api/v1/tenant").host("nope.lms.test"),
        app.get("/api/v1/tenant"),
        app.post("/api/v1/auth/login")
            .tenant("nope")
            .json(json!({ "email": "a@b.example", "password": "x" })),
        app.post("/api/v1/auth/login")
            .json(json!({ "email": "a@b.example", "password": "x" })),
        app.get("/api/v1/users").tenant("nope").bearer("garbage"),
        app.get("/api/v1/users"),
    ] {
        call.send()
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
    }
    // Garbage credentials are 401, not 500.
    for token in ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", ""] {
        let reply = app
            .get("/api/v1/auth/me")
            .tenant("acme")
            .header("authorization", &format!("Bearer {token}"))
            .send()
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{token:?}: {}",
            reply.text
        );
        assert_problem_json(&reply, token);
    }
}

/// Every documented endpoint, fed junk: the answer is never a 5xx, and every 4xx is problem+json.
#[tokio::test]
async fn no_junk_input_makes_any_endpoint_fail() {
    let (app, t) = TestApp::with_tenant("acme").await;
    let document: Value =
        serde_json::from_str(&lms_platform::openapi::document_json().expect("document"))
            .expect("json");
    let junk_bodies: Vec<(Option<&str>, Vec<u8>)> = vec![
        (Some("application/json"), b"{".to_vec()),
        (Some("application/json"), b"[]".to_vec()),
        (Some("application/json"), b"null".to_vec()),
        (Some("application/json"), b"{}".to_vec()),
        (
            Some("application/json"),
            br#"{"email":{"$ne":null},"token":[1],"roles":"x"}"#.to_vec(),
        ),
        (Some("application/json"), b"1e999999".to_vec()),
        (
            Some("application/json"),
            "\"\u{0000}\u{202e}\"".as_bytes().to_vec(),
        ),
        (Some("text/plain"), b"hello".to_vec()),
        (None, Vec::new()),
    ];
    let mut calls = 0;
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            let method: Method = method.to_ascii_uppercase().parse().expect("method");
            if path.ends_with("/signing-keys/rotate") {
                continue; // valid with any body; rotating keys here would only slow the test
            }
            if path.ends_with("/notifications/stream") {
                // A valid call opens a stream that stays open; `notifications` tests its refusals.
                continue;
            }
            let path = path
                .replace("{id}", &uuid::Uuid::now_v7().to_string())
                .replace("{domain}", "junk.example");
            for query in ["", "?limit=abc&cursor=%FF&q=%00&role=x&status=y&action=%27"] {
                for (content_type, body) in &junk_bodies {
                    for credential in ["admin", "operator", "garbage"] {
                        let mut call = app
                            .call(method.clone(), &format!("{path}{query}"))
                            .tenant("acme")
                            .raw(*content_type, body.clone());
                        call = match credential {
                            "admin" => call.bearer(&t.admin.access_token),
                            "operator" => call.operator(),
                            _ => call.bearer("garbage"),
                        };
                        let reply = call.send().await;
                        calls += 1;
                        let context = format!(
                            "{method} {path}{query} ({credential}, {content_type:?}, {:?})",
                            String::from_utf8_lossy(body)
                        );
                        assert!(
                            !reply.status.is_server_error(),
                            "{context}: {} {}",
                            reply.status,
                            reply.text
                        );
                        if reply.status.is_client_error() {
                            if path.starts_with("/scim/") {
                                assert_scim_error(&reply, &context);
                            } else {
                                assert_problem_json(&reply, &context);
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(calls > 500, "{calls}");
    // The server is still healthy afterwards.
    app.get("/healthz")
        .send()
        .await
        .assert_status(StatusCode::OK);
}

/// A NUL character is refused at the boundary with 400 `nul_character` wherever a string could
/// reach the database: PostgreSQL cannot store it in text and answered 500.
#[tokio::test]
async fn nul_characters_are_refused_before_they_reach_the_database() {
    let (app, t) = TestApp::with_tenant("acme").await;
    let missing = uuid::Uuid::now_v7();
    let queries: [(&str, &str); 12] = [
        ("/api/v1/users?q=a%00b", &t.admin.access_token),
        ("/api/v1/catalog?q=rust%00", &t.learner.access_token),
        ("/api/v1/catalog?tag=%00", &t.learner.access_token),
        ("/api/v1/catalog?category=a%00", &t.learner.access_token),
        ("/api/v1/catalog?language=e%00n", &t.learner.access_token),
        ("/api/v1/catalog/intro%00", &t.learner.access_token),
        ("/api/v1/catalog/%00", &t.learner.access_token),
        ("/api/v1/audit-events?action=user%00", &t.admin.access_token),
        ("/tls/ask?domain=acme%00.example", ""),
        ("/tls/ask?domain=%00", ""),
        // A lower-case escape, and a NUL in an unknown route's path.
        ("/api/v1/users?q=%00&limit=5", &t.admin.access_token),
        ("/api/v1/nowhere%00", &t.admin.access_token),
    ];
    for (path, token) in queries {
        let mut call = app.get(path).tenant("acme");
        if !token.is_empty() {
            call = call.bearer(token);
        }
        call.send()
            .await
            .assert_problem(StatusCode::BAD_REQUEST, "nul_character");
    }
    // An escaped percent sign is not a NUL: `%2500` is the text `%00`.
    app.get("/api/v1/catalog?q=%2500")
        .tenant("acme")
        .bearer(&t.learner.access_token)
        .send()
        .await
        .assert_status(StatusCode::OK);

    // JSON: a `\u0000` escape anywhere in a string or a key, however deep, even for a missing
    // attempt; an escaped backslash before `u0000` is no NUL.
    let answer = |raw: &str| {
        app.call(
            Method::PUT,
            &format!("/api/v1/quiz-attempts/{missing}/answers/0"),
        )
        .tenant("acme")
        .bearer(&t.learner.access_token)
        .raw(Some("application/json"), raw.as_bytes().to_vec())
    };
    for raw in [
        r#"{"answer": {"text": "a\u0000b"}}"#,
        r#"{"answer": {"items": [{"x": ["ok", "\u0000"]}]}}"#,
        r#"{"answer": {"te\u0000xt": "key"}}"#,
        r#"{"answer": {"text": "\\\u0000"}}"#,
    ] {
        answer(raw)
            .send()
            .await
            .assert_problem(StatusCode::BAD_REQUEST, "nul_character");
    }
    for raw in [
        r#"{"answer": {"text": "\\u0000"}}"#,
        r#"{"answer": {"text": "\\\\u0000", "u0000": "\"\\"}}"#,
    ] {
        answer(raw)
            .send()
            .await
            .assert_problem(StatusCode::NOT_FOUND, "not_found");
    }
    // The literal text `\u0000` is an ordinary string and is stored as it was sent.
    let named = app
        .post("/api/v1/auth/register")
        .tenant("acme")
        .raw(
            Some("application/json"),
            br#"{"email": "slash@acme.example", "password": "correct horse battery", "display_name": "Back\\u0000slash"}"#.to_vec(),
        )
        .send()
        .await;
    named.assert_status(StatusCode::CREATED);
    assert_eq!(
        named.json()["user"]["display_name"],
        "Back\\u0000slash",
        "{}",
        named.text
    );
}
