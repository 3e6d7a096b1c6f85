//! Runs a grader component locally, in the server's sandbox with its production limits
//! ([`HostConfig::default`]), and reports what the call cost: wall time, fuel, peak memory,
//! input and output size. The `lms-plugin-runner` binary is a thin command line over [`run`].
//!
//! The request is read from JSON ([`RequestFile`]); see `examples/numeric-request.json`.

use std::fmt;
use std::time::Duration;

use lms_plugin_host::{
    Capability, Grade, GradeRequest, HostConfig, InstalledPlugin, PluginError, PluginHost,
    PluginId, PluginVersion, TenantId,
};
use serde::Deserialize;
use serde_json::{Value, json};

/// A grade request as JSON, the runner's input. `config` and `response_json` are JSON values;
/// the plugin receives them as JSON text, as it does on the server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestFile {
    /// The question kind, e.g. `numeric`.
    #[serde(default)]
    pub question_kind: String,
    /// The question's prompt as shown to the learner.
    #[serde(default)]
    pub prompt: String,
    /// The question's plugin configuration.
    pub config: Value,
    /// The most points the response can earn.
    pub max_points: f64,
    /// A free-text response.
    #[serde(default)]
    pub response_text: Option<String>,
    /// A structured response; absent or `null` when there is none.
    #[serde(default)]
    pub response_json: Option<Value>,
    /// An opaque learner id.
    #[serde(default = "default_learner")]
    pub learner: String,
}

fn default_learner() -> String {
    "local-learner".to_owned()
}

impl RequestFile {
    /// Parses the runner's JSON input.
    pub fn parse(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }

    /// The request as the host passes it to the plugin.
    pub fn into_request(self) -> GradeRequest {
        GradeRequest {
            question_kind: self.question_kind,
            prompt: self.prompt,
            config: self.config.to_string(),
            max_points: self.max_points,
            response_text: self.response_text,
            response_json: self
                .response_json
                .filter(|v| !v.is_null())
                .map(|v| v.to_string()),
            learner: self.learner,
        }
    }
}

/// What one local run produced: the plugin's result or typed failure, and the figures.
#[derive(Debug)]
pub struct Report {
    /// What the host recorded at install, when the component was accepted.
    pub installed: Option<InstalledPlugin>,
    /// The grade, or why there is none (install refusal included).
    pub result: Result<Grade, PluginError>,
    /// Time from the call to its result, instantiation included.
    pub wall_time: Duration,
    /// Fuel (roughly, wasm instructions) the call used, from a second, metered run.
    pub fuel_used: Option<u64>,
    /// The largest linear memory the instance had.
    pub peak_memory_bytes: usize,
    /// Bytes of text the request carried into the plugin.
    pub input_bytes: usize,
    /// Bytes of feedback text in the grade.
    pub output_bytes: Option<usize>,
    /// The limits the call ran under.
    pub limits: HostConfig,
}

/// Installs `component` in a host with the production limits and grades `request` once.
/// The install compiles the component first in a child process under the production compile
/// budget: this executable, whose `main` must call
/// [`lms_plugin_host::run_child_if_requested`] first.
///
/// The production setting runs without fuel metering; the fuel figure comes from a second call
/// in a host that meters fuel with an unlimited budget, so that the reported wall time is that of
/// the production configuration.
pub async fn run(component: &[u8], request: &GradeRequest) -> Report {
    let limits = HostConfig::default();
    let input_bytes = request.size();
    let production = call(limits.clone(), component, request).await;
    let fuel_used = match &production {
        Ok(_) => {
            let metered = HostConfig {
                fuel: Some(u64::MAX),
                ..limits.clone()
            };
            call(metered, component, request)
                .await
                .ok()
                .and_then(|(_, i)| i.fuel_used)
        }
        Err(_) => None,
    };
    match production {
        Ok((installed, call)) => Report {
            installed: Some(installed),
            output_bytes: call.result.as_ref().ok().map(Grade::feedback_size),
            result: call.result,
            wall_time: call.wall_time,
            fuel_used,
            peak_memory_bytes: call.peak_memory_bytes,
            input_bytes,
            limits,
        },
        Err(refused) => Report {
            installed: None,
            result: Err(refused),
            wall_time: Duration::ZERO,
            fuel_used: None,
            peak_memory_bytes: 0,
            input_bytes,
            output_bytes: None,
            limits,
        },
    }
}

struct Call {
    result: Result<Grade, PluginError>,
    wall_time: Duration,
    fuel_used: Option<u64>,
    peak_memory_bytes: usize,
}

/// One host, one install, one call. `Err` when the host or the install refused the component.
async fn call(
    config: HostConfig,
    component: &[u8],
    request: &GradeRequest,
) -> Result<(InstalledPlugin, Call), PluginError> {
    let host = PluginHost::new(config)?;
    let id = PluginId("local".to_owned());
    let version = PluginVersion("0.0.0-local".to_owned());
    let tenant = TenantId("local".to_owned());
    // A local run has no manifest: every capability the host has interfaces for is granted.
    let granted = [Capability::Log];
    let installed = host
        .install_grader(&tenant, id.clone(), version.clone(), component, &granted)
        .await?;
    let invocation = host.grade(&id, &version, &tenant, request).await;
    Ok((
        installed,
        Call {
            result: invocation.result,
            wall_time: invocation.record.wall_time,
            fuel_used: invocation.record.fuel_used,
            peak_memory_bytes: invocation.record.peak_memory_bytes,
        },
    ))
}

impl Report {
    /// Whether the plugin produced a grade.
    pub fn succeeded(&self) -> bool {
        self.result.is_ok()
    }

    /// The report as one JSON object, for scripts and CI.
    pub fn to_json(&self) -> Value {
        let (grade, error) = match &self.result {
            Ok(grade) => (grade_json(grade), Value::Null),
            Err(e) => (
                Value::Null,
                json!({ "code": e.code(), "message": e.to_string() }),
            ),
        };
        json!({
            "ok": self.succeeded(),
            "grade": grade,
            "error": error,
            "plugin": self.installed.as_ref().map(|i| json!({
                "sha256": i.sha256,
                "wit_version": i.wit_version.to_string(),
            })),
            "wall_time_us": u64::try_from(self.wall_time.as_micros()).unwrap_or(u64::MAX),
            "fuel_used": self.fuel_used,
            "peak_memory_bytes": self.peak_memory_bytes,
            "input_bytes": self.input_bytes,
            "output_bytes": self.output_bytes,
            "limits": {
                "deadline_ms": u64::try_from(self.limits.grader_deadline.as_millis()).unwrap_or(u64::MAX),
                "max_memory_bytes": self.limits.max_memory_bytes,
                "max_request_bytes": self.limits.max_request_bytes,
                "max_output_bytes": self.limits.max_output_bytes,
            },
        })
    }
}

fn grade_json(grade: &Grade) -> Value {
    json!({
        "points": grade.points,
        "passed": grade.passed,
        "feedback": grade.feedback.iter().map(|c| json!({
            "name": c.name,
            "points": c.points,
            "max_points": c.max_points,
            "message": c.message,
        })).collect::<Vec<_>>(),
    })
}

/// The human-readable report.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.result {
            Ok(grade) => {
                let verdict = if grade.passed { "passed" } else { "not passed" };
                writeln!(f, "grade        {} points, {verdict}", grade.points)?;
                for c in &grade.feedback {
                    writeln!(
                        f,
                        "  {}: {} of {}  {}",
                        c.name, c.points, c.max_points, c.message
                    )?;
                }
            }
            Err(e) => writeln!(f, "error        {}: {e}", e.code())?,
        }
        if let Some(installed) = &self.installed {
            writeln!(
                f,
                "plugin       sha256 {}, WIT {}",
                installed.sha256, installed.wit_version
            )?;
        }
        let limits = &self.limits;
        writeln!(
            f,
            "wall time    {} µs (deadline {} ms)",
            self.wall_time.as_micros(),
            limits.grader_deadline.as_millis()
        )?;
        match self.fuel_used {
            Some(fuel) => writeln!(f, "fuel         {fuel}")?,
            None => writeln!(f, "fuel         not measured")?,
        }
        writeln!(
            f,
            "peak memory  {} bytes ({:.2} MiB, limit {} MiB)",
            self.peak_memory_bytes,
            self.peak_memory_bytes as f64 / f64::from(1 << 20),
            limits.max_memory_bytes >> 20
        )?;
        writeln!(
            f,
            "input        {} bytes (limit {})",
            self.input_bytes, limits.max_request_bytes
        )?;
        match self.output_bytes {
            Some(bytes) => writeln!(
                f,
                "output       {bytes} bytes of feedback (limit {})",
                limits.max_output_bytes
            ),
            None => writeln!(f, "output       none"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_values_become_json_text() {
        let file = RequestFile::parse(
            r#"{"config": {"answer": 42}, "max_points": 2, "response_json": [1, "a"]}"#,
        )
        .expect("valid input");
        let request = file.into_request();
        assert_eq!(request.config, r#"{"answer":42}"#);
        assert_eq!(request.response_json.as_deref(), Some(r#"[1,"a"]"#));
        assert_eq!(request.response_text, None);
        assert_eq!(request.learner, "local-learner");
    }

    #[test]
    fn null_response_json_is_no_response() {
        let file = RequestFile::parse(r#"{"config": {}, "max_points": 1, "response_json": null}"#)
            .expect("valid input");
        assert_eq!(file.into_request().response_json, None);
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err = RequestFile::parse(r#"{"config": {}, "max_points": 1, "maxpoints": 2}"#)
            .expect_err("typo refused");
        assert!(err.to_string().contains("maxpoints"), "{err}");
    }
}
