//! Compiling an upload is bounded: pathological shapes are refused before compiling, the
//! compile itself runs under a CPU, memory and wall-clock budget in a child process, and few
//! compilations run at once.

use std::time::{Duration, Instant};

use lms_plugin_host::{Capability, HostConfig, PluginError, PluginHost, RejectReason, TenantId};

use crate::helpers::{host, host_with, tenant, wasm};

#[path = "../../../../plugins/testing/compile-bomb/generate.rs"]
#[allow(dead_code)]
mod generate;

fn bomb(shape: generate::Shape) -> Vec<u8> {
    wat::parse_str(generate::wat(shape)).expect("the compile bomb assembles")
}

async fn validate(host: &PluginHost, bytes: &[u8]) -> Result<(), PluginError> {
    host.validate_grader(&tenant(), bytes, &[Capability::Log])
        .await
        .map(|_| ())
}

#[track_caller]
fn exceeds_limit(result: Result<(), PluginError>) -> (String, u64, u64) {
    match result {
        Err(PluginError::Rejected {
            reason:
                RejectReason::ExceedsLimit {
                    what,
                    declared,
                    limit,
                },
        }) => (what, declared, limit),
        other => panic!("expected a limit refusal, got {other:?}"),
    }
}

/// A host whose compile child cannot start: whatever it refuses was refused before compiling.
fn host_without_compiler() -> PluginHost {
    let mut config = HostConfig::default();
    config.compile.program = Some("/nonexistent/compile-child".into());
    host_with(config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worst_component_under_the_upload_limit_is_refused_within_its_budget() {
    let host = host();
    let bytes = bomb(generate::Shape::WORST);
    assert!(
        bytes.len() <= host.config().max_upload_bytes,
        "{}",
        bytes.len()
    );
    let started = Instant::now();
    let result = validate(&host, &bytes).await;
    let elapsed = started.elapsed();
    assert!(
        matches!(result, Err(PluginError::CompileBudgetExceeded { .. })),
        "{result:?}"
    );
    let budget = &host.config().compile;
    // The CPU limit, or the memory limit before it; never the compile's own minutes.
    assert!(
        elapsed < budget.wall_time + Duration::from_secs(1),
        "refused after {elapsed:?}"
    );
    // The budget's refusal gives the place back: the next upload compiles.
    validate(&host, &wasm("numeric_grader"))
        .await
        .expect("an ordinary grader compiles after a refused one");
}

#[tokio::test]
async fn each_budget_stops_the_compile() {
    let one_function = generate::Shape {
        functions: 1,
        ..generate::Shape::WORST
    };
    let bytes = bomb(one_function);
    for (limit, expected) in [
        ("cpu", "CPU time"),
        ("memory", "MiB of memory"),
        ("wall", "wall-clock time"),
    ] {
        let mut config = HostConfig::default();
        match limit {
            "cpu" => config.compile.cpu_time = Duration::from_secs(1),
            "memory" => config.compile.address_space_bytes = 256 << 20,
            _ => config.compile.wall_time = Duration::from_millis(500),
        }
        let host = host_with(config);
        let started = Instant::now();
        let result = validate(&host, &bytes).await;
        match result {
            Err(PluginError::CompileBudgetExceeded { budget }) => {
                assert!(budget.contains(expected), "{limit}: {budget}")
            }
            other => panic!("{limit}: expected the budget refusal, got {other:?}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{limit}: refused after {:?}",
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn pathological_shapes_are_refused_before_compiling() {
    let host = host_without_compiler();
    let too_many_locals = bomb(generate::Shape {
        functions: 1,
        locals: 6_000,
        branches: 10,
    });
    let (what, declared, limit) = exceeds_limit(validate(&host, &too_many_locals).await);
    assert!(what.contains("number of locals"), "{what}");
    assert_eq!((declared, limit), (6_000, 5_000));

    let huge_body = bomb(generate::Shape {
        functions: 1,
        locals: 100,
        branches: 40_000,
    });
    let (what, _, limit) = exceeds_limit(validate(&host, &huge_body).await);
    assert!(what.contains("body size"), "{what}");
    assert_eq!(limit, 512 << 10);

    let many_functions = bomb(generate::Shape {
        functions: 20_001,
        locals: 3,
        branches: 0,
    });
    let (what, declared, _) = exceeds_limit(validate(&host, &many_functions).await);
    assert!(what.contains("number of functions"), "{what}");
    assert_eq!(declared, 20_001);
}

#[tokio::test]
async fn memories_and_tables_over_the_instance_limits_are_reported_as_such() {
    let host = host_without_compiler();
    // 2 000 pages of 64 KiB: 125 MiB, over the 64 MiB an instance may have.
    let memory = wat::parse_str("(component (core module (memory 2000)))").expect("assembles");
    let (what, declared, limit) = exceeds_limit(validate(&host, &memory).await);
    assert!(what.contains("memory 0"), "{what}");
    assert_eq!((declared, limit), (2_000 << 16, 64 << 20));

    let table =
        wat::parse_str("(component (core module (table 30000 funcref)))").expect("assembles");
    let (what, declared, limit) = exceeds_limit(validate(&host, &table).await);
    assert!(what.contains("table 0"), "{what}");
    assert_eq!((declared, limit), (30_000, 20_000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_compiles_one_upload_at_a_time_and_the_host_a_few() {
    let mut config = HostConfig::default();
    config.compile.max_concurrent = 1;
    config.compile.queue_wait = Duration::from_millis(200);
    config.compile.cpu_time = Duration::from_secs(2);
    let host = host_with(config);
    let slow = bomb(generate::Shape {
        functions: 1,
        ..generate::Shape::WORST
    });
    let numeric = wasm("numeric_grader");
    let other = TenantId("tenant-b".into());

    let busy = async {
        // Start while the slow compile holds the tenant's and the host's only place.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let same_tenant = validate(&host, &numeric).await;
        let started = Instant::now();
        let other_tenant = host
            .validate_grader(&other, &numeric, &[Capability::Log])
            .await
            .map(|_| ());
        (same_tenant, other_tenant, started.elapsed())
    };
    let (slow, (same_tenant, other_tenant, waited)) = tokio::join!(validate(&host, &slow), busy);
    assert!(
        matches!(slow, Err(PluginError::CompileBudgetExceeded { .. })),
        "{slow:?}"
    );
    assert_eq!(same_tenant, Err(PluginError::CompileBusy { tenant: true }));
    assert_eq!(
        other_tenant,
        Err(PluginError::CompileBusy { tenant: false })
    );
    assert!(waited < Duration::from_secs(1), "waited {waited:?}");
    // Both places are free again.
    validate(&host, &numeric).await.expect("compiles once free");
}
