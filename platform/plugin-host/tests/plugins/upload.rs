use lms_plugin_host::{Capability, PluginError, PluginId, PluginVersion, RejectReason};

use crate::helpers::{host, tenant, wasm};

#[track_caller]
fn rejection(result: Result<lms_plugin_host::InstalledPlugin, PluginError>) -> RejectReason {
    match result {
        Err(PluginError::Rejected { reason }) => reason,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn a_component_importing_the_filesystem_is_rejected() {
    let host = host();
    let reason = rejection(
        host.validate_grader(&tenant(), &wasm("bad-import"), &[Capability::Log])
            .await,
    );
    match reason {
        RejectReason::ForbiddenImport(name) => assert!(
            ["wasi:filesystem/", "wasi:clocks/", "wasi:random/"]
                .iter()
                .any(|p| name.starts_with(p)),
            "{name}"
        ),
        other => panic!("expected a forbidden import, got {other:?}"),
    }
}

#[tokio::test]
async fn malformed_binaries_are_rejected() {
    let host = host();
    let core_module = b"\0asm\x01\0\0\0".to_vec();
    for bytes in [
        b"not wasm at all".to_vec(),
        b"\0asm\x0d\0\x01\0garbage".to_vec(),
        core_module,
        Vec::new(),
    ] {
        let reason = rejection(
            host.validate_grader(&tenant(), &bytes, &[Capability::Log])
                .await,
        );
        assert!(matches!(reason, RejectReason::Malformed(_)), "{reason:?}");
    }
}

#[tokio::test]
async fn oversized_binaries_are_rejected_before_compiling() {
    let host = host();
    let mut bytes = wasm("numeric_grader");
    bytes.resize(10 * 1024 * 1024 + 1, 0);
    let reason = rejection(
        host.validate_grader(&tenant(), &bytes, &[Capability::Log])
            .await,
    );
    assert!(
        matches!(reason, RejectReason::TooLarge { limit, .. } if limit == 10 << 20),
        "{reason:?}"
    );
}

#[tokio::test]
async fn first_party_graders_validate_and_versions_are_immutable() {
    let host = host();
    let numeric = wasm("numeric_grader");
    let info = host
        .validate_grader(&tenant(), &numeric, &[Capability::Log])
        .await
        .expect("numeric grader is valid");
    assert_eq!(info.sha256.len(), 64);
    assert_eq!(info.wit_version.to_string(), "0.1.0");
    host.validate_grader(&tenant(), &wasm("lab_flag_grader"), &[Capability::Log])
        .await
        .expect("lab flag grader is valid");

    let id = PluginId("numeric".into());
    let v1 = PluginVersion("1.0.0".into());
    let first = host
        .install_grader(
            &tenant(),
            id.clone(),
            v1.clone(),
            &numeric,
            &[Capability::Log],
        )
        .await
        .expect("installs");
    // Same bytes again: idempotent. Other bytes under the same version: refused.
    assert_eq!(
        host.install_grader(
            &tenant(),
            id.clone(),
            v1.clone(),
            &numeric,
            &[Capability::Log]
        )
        .await
        .ok(),
        Some(first)
    );
    let other = host
        .install_grader(
            &tenant(),
            id,
            v1,
            &wasm("lab_flag_grader"),
            &[Capability::Log],
        )
        .await;
    assert!(
        matches!(other, Err(PluginError::Rejected { .. })),
        "{other:?}"
    );
}
