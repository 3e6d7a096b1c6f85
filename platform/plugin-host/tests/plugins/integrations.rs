//! The `integration` world: a probe integration (`plugins/testing/probe-integration`) drives
//! every import; what it was not granted, and every way it misbehaves, ends as a typed error
//! while the host keeps serving other calls.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use lms_plugin_host::{
    BoxFuture, Capability, Event, EventTenant, Grants, HostConfig, HttpClient, HttpError,
    HttpRequest, HttpResponse, InstallConfig, IntegrationCall, IntegrationError, KeyValue,
    PluginError, PluginHost, PluginId, PluginVersion, RejectReason,
};

use crate::helpers::{host, host_with, tenant, wasm};

const ALL: &[Capability] = &[
    Capability::Log,
    Capability::Http,
    Capability::KeyValue,
    Capability::Secrets,
];

/// An HTTP client that answers every request itself, after an optional delay.
#[derive(Default)]
struct StubHttp {
    calls: AtomicU32,
    delay: Option<Duration>,
}

impl HttpClient for StubHttp {
    fn send(
        &self,
        request: HttpRequest,
        _max_body_bytes: usize,
    ) -> BoxFuture<'_, Result<HttpResponse, HttpError>> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if let Some(delay) = self.delay {
                tokio::time::sleep(delay).await;
            }
            assert!(request.url.starts_with("https://hooks.example/"));
            assert!(request.headers.iter().any(|(name, _)| name == "x-probe"));
            Ok(HttpResponse {
                status: 204,
                headers: vec![],
                body: vec![],
            })
        })
    }
}

fn event(kind: &str, data: serde_json::Value) -> IntegrationCall {
    IntegrationCall::HandleEvent(Event {
        id: "evt-1".into(),
        kind: kind.into(),
        version: 1,
        occurred_at: "2026-12-06T10:00:00Z".into(),
        tenant: EventTenant {
            id: "t".into(),
            slug: "acme".into(),
            display_name: "Acme".into(),
            primary_color: None,
        },
        learner: None,
        course: None,
        certificate: None,
        data: data.to_string(),
    })
}

fn grants(http: Arc<StubHttp>) -> Grants {
    Grants {
        log: true,
        config: Some(InstallConfig {
            settings: r#"{"expect": "s3cret"}"#.into(),
            secrets: BTreeMap::from([("token".to_owned(), "s3cret".to_owned())]),
        }),
        key_value: Some(KeyValue::new(BTreeMap::new(), 1024)),
        http: Some(http),
    }
}

async fn install_probe(host: &PluginHost) -> (PluginId, PluginVersion) {
    let (id, version) = (PluginId("probe".into()), PluginVersion("1.0.0".into()));
    let info = host
        .install_integration(
            &tenant(),
            id.clone(),
            version.clone(),
            &wasm("probe_integration"),
            ALL,
        )
        .await
        .expect("the probe installs");
    assert_eq!(info.wit_version.to_string(), "0.2.0");
    (id, version)
}

#[tokio::test]
async fn config_secrets_and_on_install_reach_the_plugin() {
    let host = host();
    let (id, v) = install_probe(&host).await;
    let http = Arc::new(StubHttp::default());
    let ok = host
        .call_integration(
            &id,
            &v,
            &tenant(),
            &event("probe.config", serde_json::json!({})),
            grants(http.clone()),
        )
        .await;
    assert!(ok.result.is_ok(), "{:?}", ok.result);

    let mut wrong = grants(http.clone());
    if let Some(config) = wrong.config.as_mut() {
        config.secrets.insert("token".into(), "other".into());
    }
    let refused = host
        .call_integration(
            &id,
            &v,
            &tenant(),
            &event("probe.config", serde_json::json!({})),
            wrong,
        )
        .await;
    assert_eq!(
        refused.result.expect_err("a mismatch"),
        PluginError::Integration(IntegrationError::InvalidConfig("token mismatch".into()))
    );

    let install = host
        .call_integration(
            &id,
            &v,
            &tenant(),
            &IntegrationCall::OnInstall("not json".into()),
            grants(http.clone()),
        )
        .await;
    assert!(matches!(
        install.result,
        Err(PluginError::Integration(IntegrationError::InvalidConfig(_)))
    ));
    let install = host
        .call_integration(
            &id,
            &v,
            &tenant(),
            &IntegrationCall::OnInstall("{}".into()),
            grants(http),
        )
        .await;
    assert!(install.result.is_ok());
}

#[tokio::test]
async fn key_value_writes_come_back_and_the_quota_is_enforced() {
    let host = host();
    let (id, v) = install_probe(&host).await;
    let http = Arc::new(StubHttp::default());
    let call = event("probe.kv", serde_json::json!({"key": "a", "bytes": 10}));
    let done = host
        .call_integration(&id, &v, &tenant(), &call, grants(http.clone()))
        .await
        .result
        .expect("the writes fit");
    let kv = done.key_value.expect("the store comes back");
    assert!(kv.changed());
    assert_eq!(kv.get("a"), Some(&[7u8; 10][..]));
    assert_eq!(kv.get("count"), Some(&[1u8][..]));

    // The next call starts from what the last one saved.
    let mut next = grants(http.clone());
    next.key_value = Some(KeyValue::new(kv.into_entries(), 1024));
    let done = host
        .call_integration(&id, &v, &tenant(), &call, next)
        .await
        .result
        .expect("the writes fit");
    assert_eq!(done.key_value.expect("kv").get("count"), Some(&[2u8][..]));

    let over = event("probe.kv", serde_json::json!({"key": "big", "bytes": 2000}));
    let failed = host
        .call_integration(&id, &v, &tenant(), &over, grants(http))
        .await;
    match failed.result {
        Err(PluginError::Integration(IntegrationError::Failed(message))) => {
            assert!(message.contains("QuotaExceeded(1024)"), "{message}");
        }
        other => panic!("expected the quota refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn http_goes_through_the_install_client_within_the_call_budget() {
    let host = host();
    let (id, v) = install_probe(&host).await;
    let http = Arc::new(StubHttp::default());
    let three = event(
        "probe.http",
        serde_json::json!({"url": "https://hooks.example/a", "count": 3}),
    );
    let done = host
        .call_integration(&id, &v, &tenant(), &three, grants(http.clone()))
        .await
        .result
        .expect("three requests");
    assert_eq!(done.http_requests, 3);
    assert_eq!(done.key_value.expect("kv").get("status"), Some(&b"204"[..]));
    assert_eq!(http.calls.load(Ordering::SeqCst), 3);

    let budget = host.config().max_http_requests_per_call;
    let flood = event(
        "probe.http",
        serde_json::json!({"url": "https://hooks.example/a", "count": budget + 5}),
    );
    let flooded = host
        .call_integration(&id, &v, &tenant(), &flood, grants(http.clone()))
        .await;
    match flooded.result {
        Err(PluginError::Integration(IntegrationError::Retry(message))) => {
            assert!(message.contains("TooManyRequests"), "{message}");
        }
        other => panic!("expected the budget refusal, got {other:?}"),
    }
    assert_eq!(http.calls.load(Ordering::SeqCst), 3 + budget);
}

#[tokio::test]
async fn a_capability_the_call_was_not_granted_is_a_typed_failure() {
    let host = host();
    let (id, v) = install_probe(&host).await;
    let http = Arc::new(StubHttp::default());
    let mut no_http = grants(http.clone());
    no_http.http = None;
    let call = event(
        "probe.http",
        serde_json::json!({"url": "https://hooks.example/a", "count": 1}),
    );
    let denied = host
        .call_integration(&id, &v, &tenant(), &call, no_http)
        .await;
    assert_eq!(
        denied.result.expect_err("denied"),
        PluginError::CapabilityDenied {
            capability: "http".into()
        }
    );
    assert_eq!(http.calls.load(Ordering::SeqCst), 0);

    let mut no_config = grants(http.clone());
    no_config.config = None;
    let denied = host
        .call_integration(
            &id,
            &v,
            &tenant(),
            &event("probe.config", serde_json::json!({})),
            no_config,
        )
        .await;
    assert_eq!(
        denied.record.outcome,
        lms_plugin_host::Outcome::Failure("capability_denied")
    );

    // Declaring fewer capabilities than the component imports is refused at upload.
    let refused = host
        .validate_integration(&tenant(), &wasm("probe_integration"), &[Capability::Log])
        .await;
    assert!(matches!(
        refused,
        Err(PluginError::Rejected {
            reason: RejectReason::UndeclaredCapability { .. }
        })
    ));
}

#[tokio::test]
async fn graders_and_integrations_are_not_interchangeable() {
    let host = host();
    let as_grader = host
        .validate_grader(&tenant(), &wasm("probe_integration"), ALL)
        .await;
    assert!(matches!(
        as_grader,
        Err(PluginError::Rejected {
            reason: RejectReason::UnsupportedWorld(_)
        })
    ));
    let as_integration = host
        .validate_integration(&tenant(), &wasm("lab_flag_grader"), ALL)
        .await;
    assert!(matches!(
        as_integration,
        Err(PluginError::Rejected {
            reason: RejectReason::UnsupportedWorld(_)
        })
    ));
}

/// Runs a misbehaving call beside a good one; the good one succeeds, the bad one ends within
/// twice the deadline with a typed error.
async fn contained(host: &PluginHost, call: IntegrationCall, http: Arc<StubHttp>) -> PluginError {
    let (id, v) = install_probe(host).await;
    let deadline = host.config().integration_deadline;
    let bad = async {
        let started = Instant::now();
        let invocation = host
            .call_integration(&id, &v, &tenant(), &call, grants(http.clone()))
            .await;
        (started.elapsed(), invocation)
    };
    let good = async {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let log = event("probe.log", serde_json::json!({"message": "still here"}));
        host.call_integration(&id, &v, &tenant(), &log, grants(http.clone()))
            .await
    };
    let ((elapsed, bad), good) = tokio::join!(bad, good);
    assert!(good.result.is_ok(), "{:?}", good.result);
    assert!(elapsed < deadline * 2, "took {elapsed:?}");
    bad.result.expect_err("the call must fail")
}

fn short_deadline() -> PluginHost {
    host_with(HostConfig {
        integration_deadline: Duration::from_millis(300),
        ..HostConfig::default()
    })
}

#[tokio::test]
async fn hostile_integrations_end_as_typed_errors() {
    let host = short_deadline();
    let http = Arc::new(StubHttp::default());
    let looping = contained(
        &host,
        event("probe.loop", serde_json::json!({})),
        http.clone(),
    )
    .await;
    assert!(
        matches!(looping, PluginError::DeadlineExceeded { deadline_ms: 300 }),
        "{looping:?}"
    );
    let alloc = contained(
        &host,
        event("probe.alloc", serde_json::json!({})),
        http.clone(),
    )
    .await;
    assert!(
        matches!(
            alloc,
            PluginError::MemoryLimit { .. } | PluginError::Trap { .. }
        ),
        "{alloc:?}"
    );
    let trap = contained(&host, event("probe.trap", serde_json::json!({})), http).await;
    assert!(matches!(trap, PluginError::Trap { .. }), "{trap:?}");
}

#[tokio::test]
async fn a_slow_response_ends_with_the_call_deadline() {
    let host = short_deadline();
    let http = Arc::new(StubHttp {
        calls: AtomicU32::new(0),
        delay: Some(Duration::from_secs(30)),
    });
    let call = event(
        "probe.http",
        serde_json::json!({"url": "https://hooks.example/slow", "count": 1}),
    );
    let error = contained(&host, call, http).await;
    // The request times out at the deadline; the plugin then fails or runs into the deadline.
    assert!(
        matches!(
            &error,
            PluginError::Integration(IntegrationError::Retry(m)) if m.contains("Timeout")
        ) || matches!(error, PluginError::DeadlineExceeded { .. }),
        "{error:?}"
    );
}
