//! An integration that does what each event's `kind` asks, so that the host's tests can drive
//! every import and every way an integration can misbehave:
//!
//! - `probe.log`: logs the data's `message`;
//! - `probe.config`: fails unless the settings' `expect` equals the secret `token`;
//! - `probe.kv`: sets `key` to `bytes` bytes and counts the calls under `count`;
//! - `probe.http`: sends `count` GETs to `url`, fails with the first error, and keeps the
//!   last status under `status`;
//! - `probe.loop`: never returns; `probe.alloc`: allocates until it cannot; `probe.trap`: panics.
//!
//! Any other event (a real domain event) does what the settings' `mode` names (`log`, `kv`,
//! `http`, `loop`, `alloc`, `trap`), with the settings as its data, and records the event's
//! kind and learner under the key `last-event`.
use lms_plugin_sdk::integration::prelude::*;
use serde::Deserialize;

#[derive(Deserialize, Default)]
#[serde(default)]
struct Data {
    mode: String,
    message: String,
    key: String,
    bytes: usize,
    url: String,
    count: u32,
}

struct Probe;

impl Integration for Probe {
    fn handle_event(event: Event) -> Result<(), IntegrationError> {
        let (kind, data): (String, Data) = match event.kind.strip_prefix("probe.") {
            Some(kind) => (kind.to_owned(), event.parse_data()?),
            None => {
                let data: Data = config::settings()?;
                let learner = event.learner.as_ref().map(|l| {
                    format!(
                        "{}|{}|{}",
                        l.id,
                        l.email.as_deref().unwrap_or("-"),
                        l.discord_user_id.as_deref().unwrap_or("-")
                    )
                });
                let course = event.course.as_ref().map_or("-", |c| c.title.as_str());
                let seen = format!(
                    "{}|{}|{course}|{}",
                    event.kind,
                    learner.as_deref().unwrap_or("-"),
                    event.tenant.slug
                );
                kv::set("last-event", seen.as_bytes())
                    .map_err(|e| IntegrationError::Failed(format!("{e:?}")))?;
                (data.mode.clone(), data)
            }
        };
        match kind.as_str() {
            "log" => log::info(&data.message),
            "config" => {
                #[derive(Deserialize)]
                struct Settings {
                    expect: String,
                }
                let settings: Settings = config::settings()?;
                let token = config::required_secret("token")?;
                if token != settings.expect {
                    return Err(IntegrationError::InvalidConfig("token mismatch".into()));
                }
            }
            "kv" => {
                let count = kv::get("count").map_or(0, |v| v.first().copied().unwrap_or(0));
                kv::set("count", &[count.wrapping_add(1)])
                    .map_err(|e| IntegrationError::Failed(format!("{e:?}")))?;
                kv::set(&data.key, &vec![7; data.bytes])
                    .map_err(|e| IntegrationError::Failed(format!("{e:?}")))?;
            }
            "http" => {
                for _ in 0..data.count {
                    let response = http::Request::get(&data.url)
                        .header("x-probe", &event.id)
                        .send()
                        .map_err(|e| IntegrationError::Retry(format!("{e:?}")))?;
                    kv::set("status", response.status.to_string().as_bytes())
                        .map_err(|e| IntegrationError::Failed(format!("{e:?}")))?;
                }
            }
            "loop" => {
                let mut n: u64 = 0;
                while std::hint::black_box(n) != u64::MAX {
                    n = n.wrapping_add(1) % 1_000;
                }
            }
            "alloc" => {
                let mut held: Vec<Vec<u8>> = Vec::new();
                loop {
                    held.push(vec![1; 1 << 20]);
                    std::hint::black_box(&held);
                }
            }
            "trap" => panic!("integration bug"),
            other => return Err(IntegrationError::Failed(format!("unknown kind {other}"))),
        }
        Ok(())
    }

    fn on_install(config: String) -> Result<(), IntegrationError> {
        let _: lms_plugin_sdk::serde_json::Value = config::parse(&config)?;
        Ok(())
    }
}

export_integration!(Probe);
