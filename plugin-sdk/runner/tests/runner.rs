//! Runs the `lms-plugin-runner` binary on the built plugins (`LMS_PLUGIN_ARTIFACTS`, set by
//! `cargo xtask test`) and the example requests, as a plugin author would.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// The folder holding the plugins' `.wasm` files.
#[track_caller]
fn plugin(name: &str) -> PathBuf {
    let dir = match std::env::var_os("LMS_PLUGIN_ARTIFACTS") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => panic!(
            "LMS_PLUGIN_ARTIFACTS is unset: run `cargo xtask test`, or build the plugins with \
             `cargo build --release --target wasm32-wasip2 --manifest-path plugins/Cargo.toml \
             --target-dir target/plugins` and set \
             LMS_PLUGIN_ARTIFACTS=target/plugins/wasm32-wasip2/release (absolute path)"
        ),
    };
    let path = dir.join(format!("{name}.wasm"));
    assert!(path.is_file(), "{} is missing", path.display());
    path
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
}

fn runner(plugin: &Path, input: &Path, json: bool) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lms-plugin-runner"));
    cmd.arg(plugin).arg("--input").arg(input);
    if json {
        cmd.arg("--json");
    }
    cmd
}

/// Runs with `--json` and returns the exit code and the report.
#[track_caller]
fn run_json(plugin: &Path, input: &Path) -> (Option<i32>, Value) {
    let out = runner(plugin, input, true)
        .output()
        .expect("the runner starts");
    (out.status.code(), report(&out))
}

#[track_caller]
fn report(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON report ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn numeric_example_is_graded_with_its_figures() {
    let (code, report) = run_json(&plugin("numeric_grader"), &example("numeric-request.json"));
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(report["ok"], true);
    // 1962 cm is 19.62 m: full credit.
    assert_eq!(report["grade"]["points"], 2.0);
    assert_eq!(report["grade"]["passed"], true);
    assert_eq!(report["grade"]["feedback"][0]["message"], "correct");
    assert_eq!(report["error"], Value::Null);
    assert_eq!(report["plugin"]["wit_version"], "0.1.0");
    assert!(report["wall_time_us"].as_u64().is_some_and(|t| t > 0));
    assert!(report["fuel_used"].as_u64().is_some_and(|f| f > 0));
    assert!(report["peak_memory_bytes"].as_u64().is_some_and(|m| m > 0));
    // The request's text: kind, prompt, config as JSON text, response and learner.
    let input = std::fs::read_to_string(example("numeric-request.json")).expect("example");
    let file: Value = serde_json::from_str(&input).expect("example is JSON");
    let expected_input = ["question_kind", "prompt", "response_text", "learner"]
        .iter()
        .map(|k| file[k].as_str().expect("text field").len())
        .sum::<usize>()
        + file["config"].to_string().len();
    assert_eq!(report["input_bytes"], expected_input);
    assert_eq!(report["output_bytes"], "value".len() + "correct".len());
    assert_eq!(report["limits"]["deadline_ms"], 100);
}

#[test]
fn lab_flag_example_gives_partial_credit_in_text() {
    let out = runner(
        &plugin("lab_flag_grader"),
        &example("lab-flag-request.json"),
        false,
    )
    .output()
    .expect("the runner starts");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("grade        1 points, not passed"), "{text}");
    assert!(text.contains("user: 1 of 1  flag found"), "{text}");
    assert!(text.contains("root: 0 of 3  flag not found"), "{text}");
    for figure in ["wall time", "fuel", "peak memory", "input", "output"] {
        assert!(text.contains(figure), "no {figure} in {text}");
    }
    // The grader's own log line reaches standard error.
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("1 of 2 flags found"), "{log}");
}

#[test]
fn runaway_plugin_is_a_typed_deadline_error() {
    let (code, report) = run_json(&plugin("infinite_loop"), &example("numeric-request.json"));
    assert_eq!(code, Some(1), "{report}");
    assert_eq!(report["ok"], false);
    assert_eq!(report["grade"], Value::Null);
    assert_eq!(report["error"]["code"], "deadline_exceeded");
    let wall_ms = report["wall_time_us"].as_u64().expect("wall time") / 1000;
    assert!((100..200).contains(&wall_ms), "stopped after {wall_ms} ms");
}

#[test]
fn grader_refusal_is_reported_with_its_reason() {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lms-plugin-runner"));
    cmd.arg(plugin("numeric_grader"))
        .args(["--input", "-", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut child = cmd.spawn().expect("the runner starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(br#"{"config": {"answer": 1, "unit": "parsec"}, "max_points": 1, "response_text": "1"}"#)
        .expect("request written");
    let out = child.wait_with_output().expect("the runner ends");
    let report = report(&out);
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert_eq!(report["error"]["code"], "grader_declined");
    let message = report["error"]["message"].as_str().expect("message");
    assert!(message.contains("unknown unit \"parsec\""), "{message}");
}

#[test]
fn a_component_outside_our_worlds_is_rejected_at_install() {
    let (code, report) = run_json(&plugin("bad-import"), &example("numeric-request.json"));
    assert_eq!(code, Some(1), "{report}");
    assert_eq!(report["error"]["code"], "rejected");
    assert_eq!(report["plugin"], Value::Null);
}

#[test]
fn unreadable_input_exits_2_before_running() {
    let dir = std::env::temp_dir().join(format!("lms-plugin-runner-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let bad = dir.join("bad.json");
    std::fs::write(&bad, r#"{"config": {}, "max_points": "two"}"#).expect("written");
    let out = runner(&plugin("numeric_grader"), &bad, true)
        .output()
        .expect("the runner starts");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not valid"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}
