use lms_plugin_host::{GraderError, PluginError};

use crate::helpers::{host, install, lab_config, request, tenant};

#[tokio::test]
async fn lab_flag_grader_gives_full_partial_and_zero_credit() {
    let host = host();
    let (id, v) = install(&host, "lab_flag_grader").await;
    let config = lab_config();
    let grade = |text: Option<&'static str>, json: Option<&'static str>| {
        let req = request(&config, 10.0, text, json);
        let host = &host;
        let (id, v) = (&id, &v);
        async move { host.grade(id, v, &tenant(), &req).await }
    };

    let full = grade(None, Some(r#"["FLAG{user}", "FLAG{root}"]"#)).await;
    let full = full.result.expect("full credit");
    assert_eq!(full.points, 10.0);
    assert!(full.passed);
    assert_eq!(full.feedback.len(), 2);

    let partial = grade(Some("FLAG{root}\nFLAG{nope}\n"), None).await;
    let partial = partial.result.expect("partial credit");
    assert_eq!(partial.points, 7.5);
    assert!(!partial.passed);

    let zero = grade(Some("flag{user}"), None)
        .await
        .result
        .expect("zero credit");
    assert_eq!(zero.points, 0.0);
}

#[tokio::test]
async fn lab_flag_grader_reports_bad_config() {
    let host = host();
    let (id, v) = install(&host, "lab_flag_grader").await;
    let req = request(r#"{"flags": []}"#, 1.0, Some("x"), None);
    let result = host.grade(&id, &v, &tenant(), &req).await.result;
    assert!(
        matches!(
            result,
            Err(PluginError::Grader(GraderError::InvalidConfig(_)))
        ),
        "{result:?}"
    );
}

#[tokio::test]
async fn numeric_grader_applies_tolerance_and_units() {
    let host = host();
    let (id, v) = install(&host, "numeric_grader").await;
    let cases = [
        (
            r#"{"answer": 9.81, "tolerance": {"absolute": 0.05}}"#,
            "9.79",
            2.0,
        ),
        (
            r#"{"answer": 9.81, "tolerance": {"absolute": 0.05}}"#,
            "9.9",
            0.0,
        ),
        (
            r#"{"answer": 200, "tolerance": {"relative": 0.01}}"#,
            "201.5",
            2.0,
        ),
        (
            r#"{"answer": 3.14159, "significant_figures": 3}"#,
            "3.14",
            2.0,
        ),
        (r#"{"answer": 1.5, "unit": "km"}"#, "1500 m", 2.0),
        (r#"{"answer": 2, "unit": "min"}"#, "120s", 2.0),
        (r#"{"answer": 2, "unit": "min"}"#, "120 g", 0.0),
        (
            r#"{"answer": 250, "unit": "g", "require_unit": true}"#,
            "0.25 kg",
            2.0,
        ),
        (
            r#"{"answer": 250, "unit": "g", "require_unit": true}"#,
            "250",
            0.0,
        ),
    ];
    for (config, answer, expected) in cases {
        let req = request(config, 2.0, Some(answer), None);
        let grade = host.grade(&id, &v, &tenant(), &req).await.result;
        let grade = grade.unwrap_or_else(|e| panic!("{config} / {answer}: {e}"));
        assert_eq!(grade.points, expected, "{config} / {answer}");
    }

    let req = request(r#"{"answer": 1}"#, 2.0, Some("one"), None);
    let result = host.grade(&id, &v, &tenant(), &req).await.result;
    assert!(
        matches!(
            result,
            Err(PluginError::Grader(GraderError::InvalidResponse(_)))
        ),
        "{result:?}"
    );
}

#[tokio::test]
async fn the_record_describes_the_call() {
    let host = host();
    let (id, v) = install(&host, "numeric_grader").await;
    let req = request(r#"{"answer": 1}"#, 1.0, Some("1"), None);
    let invocation = host.grade(&id, &v, &tenant(), &req).await;
    assert!(invocation.result.is_ok());
    let record = invocation.record;
    assert_eq!(record.plugin, id);
    assert_eq!(record.tenant, tenant());
    assert_eq!(record.outcome, lms_plugin_host::Outcome::Success);
    assert!(record.peak_memory_bytes > 0, "{record:?}");
    assert_eq!(record.fuel_used, None);
    assert_eq!(
        record.wit_version.map(|w| w.to_string()).as_deref(),
        Some("0.1.0")
    );
}
