//! Limits that hold for a call as a whole: the total of its memories, the structure and every
//! string of what it hands back, and each tenant's share of the concurrency slots.

use std::time::{Duration, Instant};

use lms_plugin_host::{HostConfig, Outcome, PluginError, TenantId};

use crate::helpers::{
    host, host_with, install_bytes, lab_config, request, tenant, wasm, wat_component,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memories_of_one_call_share_the_memory_limit() {
    let host = host();
    let (id, v) = install_bytes(&host, "multi_memory", &wat_component("multi-memory")).await;
    let limit = host.config().max_memory_bytes;
    let invocation = host
        .grade(&id, &v, &tenant(), &request("{}", 1.0, None, None))
        .await;
    // Three memories of 63 MiB each would fit a limit applied per memory.
    assert!(
        matches!(invocation.result, Err(PluginError::MemoryLimit { limit_bytes }) if limit_bytes == limit),
        "{:?}",
        invocation.result
    );
    let peak = invocation.record.peak_memory_bytes;
    assert!(peak <= limit, "peak {peak} over the {limit} limit");
    // The first bomb got its 63 MiB: the record counts every memory, not the largest one.
    assert!(peak > 63 << 20, "peak {peak}");
}

#[tokio::test]
async fn many_empty_criteria_are_refused_before_they_are_copied() {
    // Time for the plugin to build its criteria on a busy machine; the refusal is the point.
    let host = host_with(HostConfig {
        grader_deadline: Duration::from_secs(2),
        ..HostConfig::default()
    });
    let (id, v) = install_bytes(&host, "many_criteria", &wasm("many_criteria")).await;
    let started = Instant::now();
    let invocation = host
        .grade(&id, &v, &tenant(), &request("{}", 1.0, None, None))
        .await;
    let error = invocation.result.expect_err("500 000 criteria are refused");
    assert!(
        matches!(error, PluginError::TransferTooLarge { .. }),
        "{error:?}"
    );
    assert_eq!(
        invocation.record.outcome,
        Outcome::Failure("transfer_too_large")
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn criteria_over_the_count_limit_are_invalid_output() {
    // With room to copy them out, the count limit still applies.
    let host = host_with(HostConfig {
        max_transfer_bytes: 64 << 20,
        // Copying half a million criteria out of the plugin takes a while in a debug build.
        grader_deadline: Duration::from_secs(10),
        ..HostConfig::default()
    });
    let (id, v) = install_bytes(&host, "many_criteria", &wasm("many_criteria")).await;
    let result = host
        .grade(&id, &v, &tenant(), &request("{}", 1.0, None, None))
        .await
        .result;
    assert!(
        matches!(&result, Err(PluginError::InvalidOutput { reason }) if reason.contains("500000 criteria")),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_huge_error_message_is_refused_unread() {
    let host = host();
    let (id, v) = install_bytes(&host, "huge_error", &wasm("huge_error")).await;
    let invocation = host
        .grade(&id, &v, &tenant(), &request("{}", 1.0, None, None))
        .await;
    assert!(
        matches!(invocation.result, Err(PluginError::TransferTooLarge { .. })),
        "{:?}",
        invocation.result
    );
}

#[tokio::test]
async fn a_huge_log_line_is_refused_unread() {
    let host = host();
    let (id, v) = install_bytes(&host, "huge_log", &wasm("huge_log")).await;
    let invocation = host
        .grade(&id, &v, &tenant(), &request("{}", 1.0, None, None))
        .await;
    assert!(
        matches!(invocation.result, Err(PluginError::TransferTooLarge { .. })),
        "{:?}",
        invocation.result
    );
}

#[tokio::test]
async fn a_log_line_over_its_cap_is_dropped_and_the_call_goes_on() {
    let host = host();
    let (id, v) = install_bytes(&host, "huge_log", &wasm("huge_log")).await;
    let over_cap = host.config().max_log_line_bytes * 2;
    let config = format!(r#"{{"bytes": {over_cap}}}"#);
    let grade = host
        .grade(&id, &v, &tenant(), &request(&config, 1.0, None, None))
        .await
        .result
        .expect("a long log line does not fail the call");
    assert_eq!(grade.feedback.len(), 1);
}

#[tokio::test]
async fn error_text_counts_against_the_output_limit() {
    // Room to copy the message out, but not to return it.
    let host = host_with(HostConfig {
        max_transfer_bytes: 64 << 20,
        grader_deadline: Duration::from_secs(10),
        ..HostConfig::default()
    });
    let (id, v) = install_bytes(&host, "huge_error", &wasm("huge_error")).await;
    let result = host
        .grade(&id, &v, &tenant(), &request("{}", 1.0, None, None))
        .await
        .result;
    assert!(
        matches!(result, Err(PluginError::OutputTooLarge { size, limit }) if size == 40 << 20 && limit == 20 << 10),
        "{result:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tenant_cannot_take_every_slot() {
    let host = host_with(HostConfig {
        max_concurrency: 4,
        max_concurrency_per_tenant: 2,
        queue_wait: Duration::from_millis(20),
        ..HostConfig::default()
    });
    let (slow_id, slow_v) = install_bytes(&host, "infinite_loop", &wasm("infinite_loop")).await;
    let (id, v) = install_bytes(&host, "lab_flag_grader", &wasm("lab_flag_grader")).await;
    let slow_req = request("{}", 1.0, None, None);
    let req = request(&lab_config(), 4.0, Some("FLAG{user}"), None);
    let tenant_a = tenant();
    let tenant_b = TenantId("tenant-b".to_owned());

    // Tenant A asks for every slot of the host; it gets its share and no more.
    let a_calls = async {
        tokio::join!(
            host.grade(&slow_id, &slow_v, &tenant_a, &slow_req),
            host.grade(&slow_id, &slow_v, &tenant_a, &slow_req),
            host.grade(&slow_id, &slow_v, &tenant_a, &slow_req),
            host.grade(&slow_id, &slow_v, &tenant_a, &slow_req),
        )
    };
    let b_call = async {
        tokio::time::sleep(Duration::from_millis(10)).await;
        host.grade(&id, &v, &tenant_b, &req).await
    };
    let ((a1, a2, a3, a4), b) = tokio::join!(a_calls, b_call);
    let a_codes: Vec<_> = [a1, a2, a3, a4]
        .iter()
        .map(|call| call.result.as_ref().map_err(PluginError::code).err())
        .collect();
    let overloaded = a_codes.iter().filter(|c| **c == Some("overloaded")).count();
    assert_eq!(overloaded, 2, "{a_codes:?}");
    assert_eq!(b.result.expect("tenant B gets a slot").points, 1.0);
}
