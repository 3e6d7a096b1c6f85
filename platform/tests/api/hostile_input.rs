//! A fixed sweep of hostile strings into every string parameter of every documented operation:
//! path and query parameters and the top-level string fields of JSON bodies, read from the
//! OpenAPI document so that a new operation is swept without touching this file. Every answer
//! must be a status the operation documents, and never a 5xx.

use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

use crate::helpers::TestApp;

/// Inputs that have broken parsers, SQL and storage elsewhere; each is tried alone.
fn hostile_strings() -> Vec<String> {
    vec![
        "\u{0}".to_owned(),
        "a\u{0}b".to_owned(),
        // Under the 64 KiB a URI may have, so it reaches the server in a path or query too.
        "x".repeat(20_000),
        "../../../etc/passwd".to_owned(),
        "' OR '1'='1'; -- \" \\ %_".to_owned(),
        "\u{202e}\u{200b}\u{feff}abc\u{200d}".to_owned(),
        "99999999999999999999999999999999".to_owned(),
        "-1e309".to_owned(),
        "\u{1f4a9}\u{fffd}\u{10ffff}".to_owned(),
        " ".to_owned(),
        String::new(),
    ]
}

/// Raw query or path text that is not valid UTF-8 once percent-decoded.
const INVALID_UTF8: &str = "%FF%FE%C3%28";

fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.rsplit('/').next().unwrap_or_default();
            resolve(document, &document["components"]["schemas"][name])
        }
        None => schema,
    }
}

fn types(schema: &Value) -> Vec<&str> {
    match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn is_string(document: &Value, schema: &Value) -> bool {
    let schema = resolve(document, schema);
    types(schema).contains(&"string")
        || schema["oneOf"]
            .as_array()
            .is_some_and(|v| v.iter().any(|s| is_string(document, s)))
}

/// A plausible value for a schema, so that the field under attack is the only odd one.
fn sample(document: &Value, schema: &Value, depth: u8) -> Value {
    let schema = resolve(document, schema);
    if let Some(first) = schema["enum"].as_array().and_then(|v| v.first()) {
        return first.clone();
    }
    if let Some(first) = schema["oneOf"].as_array().and_then(|v| v.first()) {
        return sample(document, first, depth);
    }
    if let Some(all) = schema["allOf"].as_array() {
        let mut merged = Map::new();
        for part in all {
            if let Value::Object(fields) = sample(document, part, depth) {
                merged.extend(fields);
            }
        }
        return Value::Object(merged);
    }
    let kinds = types(schema);
    let kind = kinds
        .iter()
        .find(|k| **k != "null")
        .copied()
        .unwrap_or("null");
    match kind {
        "string" => match schema["format"].as_str() {
            Some("uuid") => json!(uuid::Uuid::now_v7().to_string()),
            Some("email") => json!("someone@example.com"),
            Some("date-time") => json!("2030-01-01T00:00:00Z"),
            Some("date") => json!("2030-01-01"),
            _ => json!("sample"),
        },
        "integer" | "number" => json!(schema["minimum"].as_f64().map_or(1, |m| m.max(1.0) as i64)),
        "boolean" => json!(false),
        "array" => json!([]),
        "object" if depth < 4 => {
            let mut body = Map::new();
            for name in schema["required"].as_array().into_iter().flatten() {
                let name = name.as_str().unwrap_or_default();
                body.insert(
                    name.to_owned(),
                    sample(document, &schema["properties"][name], depth + 1),
                );
            }
            Value::Object(body)
        }
        _ => Value::Null,
    }
}

/// One request of the sweep.
struct Probe {
    method: Method,
    path: String,
    body: Option<Value>,
    what: String,
}

fn probes(document: &Value, path: &str, method: &str, operation: &Value) -> Vec<Probe> {
    let method: Method = method.to_ascii_uppercase().parse().expect("method");
    let parameters: Vec<&Value> = operation["parameters"]
        .as_array()
        .map(|v| v.iter().collect())
        .unwrap_or_default();
    let plain_path = |target: Option<(&str, &str)>| {
        let mut filled = path.to_owned();
        for parameter in parameters.iter().filter(|p| p["in"] == "path") {
            let name = parameter["name"].as_str().unwrap_or_default();
            let value = match target {
                Some((n, v)) if n == name => v.to_owned(),
                _ => match sample(document, &parameter["schema"], 0) {
                    Value::String(s) => percent_encode(&s),
                    other => other.to_string(),
                },
            };
            filled = filled.replace(&format!("{{{name}}}"), &value);
        }
        filled
    };
    let body_schema = &operation["requestBody"]["content"]["application/json"]["schema"];
    let base_body = (!body_schema.is_null()).then(|| sample(document, body_schema, 0));

    let mut probes = Vec::new();
    let mut raw_values: Vec<(String, String)> = hostile_strings()
        .iter()
        .map(|h| (percent_encode(h), format!("{:.40?}", h)))
        .collect();
    raw_values.push((INVALID_UTF8.to_owned(), "invalid UTF-8".to_owned()));
    for parameter in &parameters {
        let name = parameter["name"].as_str().unwrap_or_default();
        if !is_string(document, &parameter["schema"]) {
            continue;
        }
        for (raw, shown) in &raw_values {
            let (target_path, query) = match parameter["in"].as_str() {
                Some("path") => (plain_path(Some((name, raw))), String::new()),
                Some("query") => (plain_path(None), format!("?{name}={raw}")),
                _ => continue,
            };
            probes.push(Probe {
                method: method.clone(),
                path: format!("{target_path}{query}"),
                body: base_body.clone(),
                what: format!("{} parameter {name} = {shown}", parameter["in"]),
            });
        }
    }
    let body_schema = resolve(document, body_schema);
    if let (Some(base), Some(properties)) = (&base_body, body_schema["properties"].as_object()) {
        for (field, schema) in properties {
            if !is_string(document, schema) {
                continue;
            }
            for hostile in hostile_strings() {
                let mut body = base.clone();
                body[field] = json!(hostile);
                probes.push(Probe {
                    method: method.clone(),
                    path: plain_path(None),
                    body: Some(body),
                    what: format!("body field {field} = {:.40?}", hostile),
                });
            }
        }
    }
    probes
}

#[tokio::test]
async fn hostile_strings_in_any_parameter_get_a_documented_answer() {
    let (app, t) = TestApp::with_tenant("acme").await;
    let document: Value =
        serde_json::from_str(&lms_platform::openapi::document_json().expect("document"))
            .expect("json");
    let mut failures = Vec::new();
    let mut calls = 0;
    for (path, item) in document["paths"].as_object().expect("paths") {
        // Rotating keys takes no input worth sweeping and would sign the admin out.
        if path.ends_with("/signing-keys/rotate") {
            continue;
        }
        for (method, operation) in item.as_object().expect("path item") {
            let documented: Vec<&String> = operation["responses"]
                .as_object()
                .expect("responses")
                .keys()
                .collect();
            for probe in probes(&document, path, method, operation) {
                let mut call = app.call(probe.method.clone(), &probe.path).tenant("acme");
                call = if path.starts_with("/api/v1/operator/") {
                    call.operator()
                } else {
                    call.bearer(&t.admin.access_token)
                };
                if let Some(body) = probe.body {
                    call = call.json(body);
                }
                let reply = call.send().await;
                calls += 1;
                let status = reply.status.as_str().to_owned();
                let listed = documented.iter().any(|d| {
                    **d == status || *d == "default" || d.as_str() == format!("{}XX", &status[..1])
                });
                if reply.status.is_server_error() || !listed {
                    failures.push(format!(
                        "{} {path} with {}: {} {:.200}",
                        probe.method, probe.what, reply.status, reply.text
                    ));
                }
            }
        }
    }
    assert!(calls > 1000, "only {calls} probes: is the document read?");
    app.get("/healthz")
        .send()
        .await
        .assert_status(StatusCode::OK);
    assert!(
        failures.is_empty(),
        "{} of {calls} probes got an undocumented or 5xx answer:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
