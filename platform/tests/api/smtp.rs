//! Email over real SMTP: the outbox dispatcher delivers to a local SMTP sink
//! (`platform/tests/peers/smtp_sink.py`), and the emailed reset link works.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{PASSWORD, TestApp, token_in};

/// The running SMTP sink; killed (and its directory removed) when dropped.
struct SmtpSink {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl SmtpSink {
    fn start() -> Self {
        let python = std::env::var("LMS_TEST_PYTHON").unwrap_or_else(|_| {
            panic!(
                "LMS_TEST_PYTHON is not set (the python of the test-peers venv): run `cargo xtask test`"
            )
        });
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/smtp_sink.py");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("pick a free port")
            .port();
        let dir = std::env::temp_dir().join(format!("lms-smtp-sink-{}", Uuid::now_v7().simple()));
        let mut child = Command::new(&python)
            .arg(script)
            .args(["--port", &port.to_string()])
            .arg("--dir")
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start the SMTP sink with {python}: {e}"));
        let stdout = child.stdout.take().expect("sink stdout");
        // The guard exists from here on, so a failure below still kills the child.
        let sink = Self { child, port, dir };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.trim() == "ready" {
                    tx.send(()).ok();
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(30))
            .expect("the SMTP sink did not print `ready` (see its stderr above)");
        sink
    }

    /// The messages received so far, in order of arrival.
    fn messages(&self) -> Vec<Value> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|ext| ext == "json"))
            .collect();
        files.sort();
        files.iter().map(|p| read_message(p)).collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

fn read_message(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("read a sink message");
    serde_json::from_str(&text).expect("sink message is JSON")
}

/// The value of the first header `name` of a raw message (unfolded), if present.
fn header_value(raw: &str, name: &str) -> Option<String> {
    let raw = raw.replace("\r\n", "\n");
    let headers = raw.split_once("\n\n").map_or(raw.as_str(), |(h, _)| h);
    let unfolded = headers.replace("\n ", " ").replace("\n\t", " ");
    unfolded.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().to_owned())
    })
}

/// Waits (up to 15 s) for the sink to receive a message for `to` whose (raw) subject contains
/// `subject`, if given.
async fn wait_for_message(sink: &SmtpSink, to: &str, subject: Option<&str>) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let found = sink.messages().into_iter().find(|m| {
            m["rcpt_tos"]
                .as_array()
                .is_some_and(|rcpt| rcpt.iter().any(|r| r == to))
                && m["data"]
                    .as_str()
                    .and_then(|raw| header_value(raw, "subject"))
                    .is_some_and(|s| subject.is_none_or(|wanted| s.contains(wanted)))
        });
        if let Some(message) = found {
            return message;
        }
        assert!(
            Instant::now() < deadline,
            "no email to {to} about {subject:?} reached the SMTP sink within 15 s; got {:?}",
            sink.messages()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The text body of a single-part message, undoing the transfer encoding lettre chose.
/// The text/plain part of a message (the message itself when it is not multipart).
fn plain_part(raw: &str) -> String {
    let content_type = header_value(raw, "content-type").unwrap_or_default();
    let Some(boundary) = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))
        .map(|b| b.trim_matches('"').to_owned())
    else {
        return raw.to_owned();
    };
    let raw = raw.replace("\r\n", "\n");
    raw.split(&format!("--{boundary}"))
        .map(|part| part.trim_start_matches('\n'))
        .find(|part| {
            header_value(part, "content-type")
                .is_some_and(|c| c.to_ascii_lowercase().starts_with("text/plain"))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no text/plain part:\n{raw}"))
}

fn body_text(raw: &str) -> String {
    let encoding = header_value(raw, "content-transfer-encoding")
        .map_or_else(|| "7bit".to_owned(), |e| e.to_ascii_lowercase());
    let raw = raw.replace("\r\n", "\n");
    let (_, body) = raw.split_once("\n\n").expect("headers and body");
    match encoding.as_str() {
        "quoted-printable" => decode_quoted_printable(body),
        "base64" => {
            let joined: String = body.split_whitespace().collect();
            String::from_utf8(STANDARD.decode(joined).expect("base64 body")).expect("utf-8 body")
        }
        _ => body.to_owned(),
    }
}

fn decode_quoted_printable(body: &str) -> String {
    let joined = body.replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && let Some(hex) = joined.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("utf-8 body")
}

#[tokio::test]
async fn a_password_reset_email_arrives_over_smtp_and_its_link_works() {
    let sink = SmtpSink::start();
    let url = format!("smtp://127.0.0.1:{}", sink.port);
    let app = TestApp::spawn_with(|c| c.email.smtp_url = Some(SecretString::from(url))).await;
    let tenant = app.seed_tenant("acme").await;
    let email = tenant.learner.email.clone();

    app.post("/api/v1/auth/password-reset")
        .tenant("acme")
        .json(json!({ "email": email }))
        .send()
        .await
        .assert_status(StatusCode::ACCEPTED);

    let message = wait_for_message(&sink, &email, Some("Reset your")).await;
    assert_eq!(message["mail_from"], "no-reply@lms.test", "{message}");
    let raw = message["data"].as_str().expect("data");
    let body = body_text(raw);
    assert!(body.contains("/reset-password?token="), "{body}");
    let token = token_in(&body);

    app.post("/api/v1/auth/password-reset/confirm")
        .tenant("acme")
        .json(json!({ "token": token, "new_password": "reset over real smtp" }))
        .send()
        .await
        .assert_status(StatusCode::NO_CONTENT);
    app.login("acme", &email, "reset over real smtp")
        .await
        .assert_status(StatusCode::OK);
    app.login("acme", &email, PASSWORD)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_credentials");

    // The worker records the delivery (its completion commits just after the SMTP reply).
    let mut db = app.db.superuser().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (sent, attempts, error): (bool, i32, Option<String>) = sqlx::query_as(
            "select state = 'succeeded', attempts, last_error from jobs
             where kind = 'email.send' and payload->>'to' = $1
               and payload->>'subject' like 'Reset your%'
             order by id desc limit 1",
        )
        .bind(&email)
        .fetch_one(&mut db)
        .await
        .expect("outbox row");
        if sent {
            assert_eq!(attempts, 1);
            assert_eq!(error, None);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "email job never marked succeeded (attempts {attempts}, error {error:?})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn emails_declare_utf8_so_non_ascii_names_arrive_intact() {
    let sink = SmtpSink::start();
    let url = format!("smtp://127.0.0.1:{}", sink.port);
    let app = TestApp::spawn_with(|c| c.email.smtp_url = Some(SecretString::from(url))).await;
    let tenant = app.seed_tenant("acme").await;
    app.call(reqwest::Method::PATCH, "/api/v1/tenant")
        .tenant("acme")
        .bearer(&tenant.admin.access_token)
        .json(json!({ "display_name": "Académie Zoë" }))
        .send()
        .await
        .assert_status(StatusCode::OK);

    app.post("/api/v1/users/invitations")
        .tenant("acme")
        .bearer(&tenant.admin.access_token)
        .json(json!({ "email": "jose@acme.example", "display_name": "José Müller", "roles": ["learner"] }))
        .send()
        .await
        .assert_status(StatusCode::CREATED);

    // The only email to this address; its subject is RFC 2047-encoded.
    let message = wait_for_message(&sink, "jose@acme.example", None).await;
    let raw = message["data"].as_str().expect("data");
    // The invitation carries HTML too: the text part is the one checked.
    let text = plain_part(raw);
    // Without a declared charset a mail client must read the body as US-ASCII (RFC 2045) and
    // shows "JosÃ© MÃ¼ller".
    let content_type = header_value(&text, "content-type")
        .unwrap_or_else(|| panic!("no Content-Type header:\n{raw}"))
        .to_ascii_lowercase();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    assert!(
        content_type.replace('"', "").contains("charset=utf-8"),
        "{content_type}"
    );
    assert_eq!(
        header_value(raw, "mime-version").as_deref(),
        Some("1.0"),
        "{raw}"
    );
    let body = body_text(&text);
    assert!(body.contains("Hello José Müller"), "{body}");
    assert!(body.contains("invited to Académie Zoë"), "{body}");
    // The link still works.
    app.post("/api/v1/auth/invitations/accept")
        .tenant("acme")
        .json(json!({ "token": token_in(&body), "password": PASSWORD }))
        .send()
        .await
        .assert_status(StatusCode::OK);
}
