//! Imports are allowed by exact interface name and version, and each of ours needs the
//! capability it is tied to, declared by the plugin.

use lms_plugin_host::{Capability, PluginError, RejectReason};

use crate::helpers::{host, tenant};

fn importing(name: &str) -> Vec<u8> {
    wat::parse_str(format!("(component (import \"{name}\" (instance)))")).expect("assembles")
}

#[track_caller]
fn rejection(result: Result<lms_plugin_host::InstalledPlugin, PluginError>) -> RejectReason {
    match result {
        Err(PluginError::Rejected { reason }) => reason,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn unknown_interfaces_and_versions_of_ours_are_refused_at_upload() {
    let host = host();
    for name in [
        "lms:plugin/key-value@0.1.0",
        "lms:plugin/http@0.1.0",
        "lms:plugin/log@0.3.0",
        "lms:plugin/http@0.3.0",
        "lms:plugin/log@0.1.1",
        "wasi:cli/stderr@0.3.0",
        "wasi:clocks/wall-clock@0.2.6",
    ] {
        let reason = rejection(
            host.validate_grader(&tenant(), &importing(name), &[Capability::Log])
                .await,
        );
        assert_eq!(reason, RejectReason::ForbiddenImport(name.into()));
        assert!(reason.to_string().contains(name), "{reason}");
    }
}

#[tokio::test]
async fn an_import_needs_its_capability_declared() {
    let host = host();
    let log = importing("lms:plugin/log@0.1.0");
    let reason = rejection(host.validate_grader(&tenant(), &log, &[]).await);
    assert_eq!(
        reason,
        RejectReason::UndeclaredCapability {
            import: "lms:plugin/log@0.1.0".into(),
            capability: "log".into(),
        }
    );
    assert_eq!(reason.code(), "undeclared_capability");
    // Declared, the import passes; this component then fails only for exporting no world.
    let reason = rejection(
        host.validate_grader(&tenant(), &log, &[Capability::Log])
            .await,
    );
    assert!(
        matches!(reason, RejectReason::UnsupportedWorld(_)),
        "{reason:?}"
    );
}
