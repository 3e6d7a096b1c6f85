//! The numeric grader's logic (`plugins/numeric-grader`, the same code the component runs)
//! behind Extism's ABI: the request as JSON in, the grade or error as JSON out.
//!
//! Built for `wasm32-unknown-unknown` by `cargo xtask bench grader`, which compares the
//! latency of a grade call hosted in Extism with one in the platform's own host.

use extism_pdk::{plugin_fn, FnResult, Json};
use lms_plugin_sdk::{Grade, GradeError, GradeRequest, Grader};
use numeric_grader::NumericGrader;
use serde::{Deserialize, Serialize};

/// The WIT `grade-request`, as JSON.
#[derive(Deserialize)]
pub struct Request {
    /// The question kind.
    pub question_kind: String,
    /// The question's prompt.
    pub prompt: String,
    /// The question's configuration as JSON text.
    pub config: String,
    /// The most points the response can earn.
    pub max_points: f64,
    /// A free-text response.
    pub response_text: Option<String>,
    /// A structured response as JSON text.
    pub response_json: Option<String>,
    /// An opaque learner id.
    pub learner: String,
}

/// One criterion of a grade.
#[derive(Serialize)]
pub struct Criterion {
    /// The criterion's name.
    pub name: String,
    /// Points earned.
    pub points: f64,
    /// Points available.
    pub max_points: f64,
    /// Feedback for the learner.
    pub message: String,
}

/// The grade, or the grader's reason for not grading.
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The response was graded.
    Grade {
        /// Points earned.
        points: f64,
        /// Whether the response passed.
        passed: bool,
        /// Per-criterion feedback.
        feedback: Vec<Criterion>,
    },
    /// The grader declined, with the WIT `grade-error` case and its message.
    Error {
        /// `invalid_config`, `invalid_response` or `internal`.
        code: String,
        /// The grader's message.
        message: String,
    },
}

/// Grades one request with the numeric grader.
#[plugin_fn]
pub fn grade(Json(request): Json<Request>) -> FnResult<Json<Outcome>> {
    let request = GradeRequest {
        question_kind: request.question_kind,
        prompt: request.prompt,
        config: request.config,
        max_points: request.max_points,
        response_text: request.response_text,
        response_json: request.response_json,
        learner: request.learner,
    };
    Ok(Json(outcome(NumericGrader::grade(request))))
}

fn outcome(result: Result<Grade, GradeError>) -> Outcome {
    match result {
        Ok(grade) => Outcome::Grade {
            points: grade.points,
            passed: grade.passed,
            feedback: grade
                .feedback
                .into_iter()
                .map(|c| Criterion {
                    name: c.name,
                    points: c.points,
                    max_points: c.max_points,
                    message: c.message,
                })
                .collect(),
        },
        Err(error) => {
            let (code, message) = match error {
                GradeError::InvalidConfig(m) => ("invalid_config", m),
                GradeError::InvalidResponse(m) => ("invalid_response", m),
                GradeError::Internal(m) => ("internal", m),
            };
            Outcome::Error {
                code: code.to_owned(),
                message,
            }
        }
    }
}
