//! Grades do not depend on the CPU.

use crate::helpers::{host, install_bytes, request, tenant, wat_component};

#[tokio::test]
async fn relaxed_simd_gives_its_deterministic_results() {
    let host = host();
    let (id, v) = install_bytes(&host, "relaxed_simd", &wat_component("relaxed-simd")).await;
    let grade = host
        .grade(&id, &v, &tenant(), &request("{}", 2.0, Some("x"), None))
        .await
        .result
        .expect("grades");
    // One point per relaxed instruction that answered its deterministic result; the native
    // x86 answers (i32::MIN for a NaN truncation, a lane for an out-of-range swizzle) score 0.
    assert_eq!(grade.points, 2.0);
}
