//! Graders built against `lms:plugin@0.1.0`, their components committed as they were built
//! (`tests/fixtures/wit-0.1.0/`), run through today's host unchanged.

use lms_plugin_host::{WitVersion, wit};

use crate::helpers::{host, install_bytes, lab_config, request, tenant};

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/wit-0.1.0")
        .join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[tokio::test]
async fn graders_built_against_0_1_0_grade_through_the_current_host() {
    assert!(wit::LATEST_VERSION > wit::MIN_VERSION);
    let host = host();
    let v0_1_0 = WitVersion {
        major: 0,
        minor: 1,
        patch: 0,
    };

    let (id, v) = install_bytes(&host, "numeric", &fixture("numeric_grader")).await;
    let installed = host.installed_grader(&id, &v).expect("installed");
    assert_eq!(installed.wit_version, v0_1_0);
    let config = r#"{"answer": 9.81, "unit": "m", "tolerance": {"absolute": 0.01}}"#;
    let right = host
        .grade(
            &id,
            &v,
            &tenant(),
            &request(config, 2.0, Some("981 cm"), None),
        )
        .await;
    assert_eq!(right.record.wit_version, Some(v0_1_0));
    let right = right.result.expect("a grade");
    assert_eq!(right.points, 2.0);
    assert!(right.passed);
    let wrong = host
        .grade(
            &id,
            &v,
            &tenant(),
            &request(config, 2.0, Some("9.5 m"), None),
        )
        .await
        .result
        .expect("a grade");
    assert_eq!(wrong.points, 0.0);

    let (id, v) = install_bytes(&host, "lab-flag", &fixture("lab_flag_grader")).await;
    let lab = host
        .grade(
            &id,
            &v,
            &tenant(),
            &request(&lab_config(), 4.0, Some("FLAG{root}"), None),
        )
        .await
        .result
        .expect("a grade");
    assert_eq!(lab.points, 3.0);
    assert!(!lab.passed);
}
