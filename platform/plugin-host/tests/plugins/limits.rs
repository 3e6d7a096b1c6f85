use std::time::Duration;

use lms_plugin_host::{HostConfig, PluginError};

use crate::helpers::{host, host_with, install, lab_config, request, tenant};

#[tokio::test]
async fn fuel_use_is_deterministic() {
    let host = host_with(HostConfig {
        fuel: Some(200_000_000),
        ..HostConfig::default()
    });
    let (id, v) = install(&host, "lab_flag_grader").await;
    let req = request(&lab_config(), 4.0, Some("FLAG{user}\nFLAG{root}"), None);
    let first = host.grade(&id, &v, &tenant(), &req).await;
    let second = host.grade(&id, &v, &tenant(), &req).await;
    assert_eq!(first.result.expect("graded").points, 4.0);
    assert!(second.result.is_ok());
    let used = first.record.fuel_used.expect("fuel is metered");
    assert!(used > 0);
    assert_eq!(Some(used), second.record.fuel_used);
}

#[tokio::test]
async fn running_out_of_fuel_is_typed() {
    let host = host_with(HostConfig {
        fuel: Some(1_000_000),
        ..HostConfig::default()
    });
    let (id, v) = install(&host, "infinite_loop").await;
    let invocation = host
        .grade(&id, &v, &tenant(), &request("{}", 1.0, None, None))
        .await;
    assert!(
        matches!(
            invocation.result,
            Err(PluginError::OutOfFuel { budget: 1_000_000 })
        ),
        "{:?}",
        invocation.result
    );
    assert_eq!(invocation.record.fuel_used, Some(1_000_000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saturation_gives_overloaded() {
    let host = host_with(HostConfig {
        max_concurrency: 1,
        queue_wait: Duration::from_millis(10),
        ..HostConfig::default()
    });
    let (slow_id, slow_v) = install(&host, "infinite_loop").await;
    let (id, v) = install(&host, "lab_flag_grader").await;
    let slow_req = request("{}", 1.0, None, None);
    let req = request(&lab_config(), 4.0, Some("FLAG{user}"), None);
    let tenant = tenant();
    let slow = host.grade(&slow_id, &slow_v, &tenant, &slow_req);
    let blocked = async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        host.grade(&id, &v, &tenant, &req).await
    };
    let (slow, blocked) = tokio::join!(slow, blocked);
    assert!(matches!(
        slow.result,
        Err(PluginError::DeadlineExceeded { .. })
    ));
    assert!(
        matches!(blocked.result, Err(PluginError::Overloaded)),
        "{:?}",
        blocked.result
    );
    // Once the slot is free again, calls go through.
    assert!(host.grade(&id, &v, &tenant, &req).await.result.is_ok());
}

#[tokio::test]
async fn oversized_and_malformed_requests_are_invalid_input() {
    let host = host();
    let (id, v) = install(&host, "lab_flag_grader").await;
    let big = "x".repeat(129 << 10);
    let cases = [
        request(&lab_config(), 1.0, Some(&big), None),
        request(&lab_config(), f64::NAN, Some("x"), None),
        request(&lab_config(), -1.0, Some("x"), None),
        request("not json", 1.0, Some("x"), None),
        request(&lab_config(), 1.0, None, Some("[unclosed")),
    ];
    for req in cases {
        let result = host.grade(&id, &v, &tenant(), &req).await.result;
        assert!(
            matches!(result, Err(PluginError::InvalidInput { .. })),
            "{result:?}"
        );
    }
}

#[tokio::test]
async fn unknown_plugins_are_not_installed() {
    let host = host();
    let result = host
        .grade(
            &lms_plugin_host::PluginId("nope".into()),
            &lms_plugin_host::PluginVersion("1".into()),
            &tenant(),
            &request("{}", 1.0, None, None),
        )
        .await
        .result;
    assert!(
        matches!(result, Err(PluginError::NotInstalled { .. })),
        "{result:?}"
    );
}
