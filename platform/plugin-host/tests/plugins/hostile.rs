use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use lms_plugin_host::{PluginError, PluginHost};

use crate::helpers::{host, install, lab_config, request, tenant};

/// Runs the hostile plugin and a good grader side by side; the good call succeeds, the hostile
/// one fails within twice the deadline. Returns the hostile call's error.
async fn contained(name: &str) -> PluginError {
    let host = host();
    let (bad_id, bad_v) = install(&host, name).await;
    let (good_id, good_v) = install(&host, "lab_flag_grader").await;
    let deadline = host.config().grader_deadline;
    let bad_req = request("{}", 5.0, Some("x"), None);
    let good_req = request(&lab_config(), 4.0, Some("FLAG{user}"), None);

    let hostile = async {
        let started = Instant::now();
        let invocation = host.grade(&bad_id, &bad_v, &tenant(), &bad_req).await;
        (started.elapsed(), invocation)
    };
    let good = async {
        // Start while the hostile call is running.
        tokio::time::sleep(Duration::from_millis(10)).await;
        host.grade(&good_id, &good_v, &tenant(), &good_req).await
    };
    let ((elapsed, bad), good) = tokio::join!(hostile, good);

    let good = good.result.expect("the good grader is unaffected");
    assert_eq!(good.points, 1.0);
    assert!(
        elapsed < deadline * 2,
        "{name} took {elapsed:?}, over twice the {deadline:?} deadline"
    );
    let error = bad.result.expect_err("the hostile plugin must fail");
    assert_eq!(
        bad.record.outcome,
        lms_plugin_host::Outcome::Failure(error.code())
    );
    error
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infinite_loop_hits_the_deadline() {
    let error = contained("infinite_loop").await;
    assert!(
        matches!(error, PluginError::DeadlineExceeded { deadline_ms: 100 }),
        "{error:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_bomb_hits_the_memory_limit() {
    let error = contained("memory_bomb").await;
    assert!(
        matches!(error, PluginError::MemoryLimit { limit_bytes } if limit_bytes == 64 << 20),
        "{error:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_recursion_traps() {
    let error = contained("deep_recursion").await;
    assert!(matches!(error, PluginError::Trap { .. }), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_output_is_refused() {
    let error = contained("huge_output").await;
    assert!(
        matches!(error, PluginError::OutputTooLarge { limit, .. } if limit == 20 << 10),
        "{error:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_is_a_trap() {
    let error = contained("trap").await;
    assert!(matches!(error, PluginError::Trap { .. }), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn points_above_maximum_are_invalid_output() {
    let error = contained("over_max").await;
    assert!(
        matches!(error, PluginError::InvalidOutput { .. }),
        "{error:?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_single_threaded_runtime_is_not_starved() {
    let host: PluginHost = host();
    let (id, v) = install(&host, "infinite_loop").await;
    let req = request("{}", 1.0, None, None);
    let tenant = tenant();
    // The other task ticks for as long as the plugin runs (its 100 ms deadline). A plugin that
    // held the thread would let it tick once, after the call ended, however loaded the machine.
    let done = AtomicBool::new(false);
    let grade = async {
        let invocation = host.grade(&id, &v, &tenant, &req).await;
        done.store(true, Ordering::Relaxed);
        invocation
    };
    let ticks = async {
        let mut n = 0u32;
        while !done.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(2)).await;
            n += 1;
        }
        n
    };
    let (invocation, ticks) = tokio::join!(grade, ticks);
    assert!(matches!(
        invocation.result,
        Err(PluginError::DeadlineExceeded { .. })
    ));
    assert!(ticks >= 5, "the other task ran only {ticks} times");
}
