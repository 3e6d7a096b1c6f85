//! The request and response types of the `grader` world, with helpers.

use serde::de::DeserializeOwned;

/// One response to grade (WIT `grade-request`).
pub use crate::bindings::GradeRequest;

/// The result of grading (WIT `grade`).
pub use crate::bindings::Grade;

/// The score on one criterion (WIT `criterion`).
pub use crate::bindings::Criterion;

/// Why a response could not be graded (WIT `grade-error`).
pub use crate::bindings::GradeError;

impl GradeRequest {
    /// Parses the question's plugin configuration, mapping failures to
    /// [`GradeError::InvalidConfig`].
    pub fn parse_config<T: DeserializeOwned>(&self) -> Result<T, GradeError> {
        serde_json::from_str(&self.config)
            .map_err(|e| GradeError::InvalidConfig(format!("config: {e}")))
    }

    /// Parses the structured response, mapping failures to [`GradeError::InvalidResponse`].
    /// `Ok(None)` when the request carries no structured response.
    pub fn parse_response_json<T: DeserializeOwned>(&self) -> Result<Option<T>, GradeError> {
        self.response_json
            .as_deref()
            .map(|json| {
                serde_json::from_str(json)
                    .map_err(|e| GradeError::InvalidResponse(format!("response: {e}")))
            })
            .transpose()
    }
}

impl Criterion {
    /// A criterion with its earned and available points and a message for the learner.
    pub fn new(
        name: impl Into<String>,
        points: f64,
        max_points: f64,
        message: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            points,
            max_points,
            message: message.into(),
        }
    }
}

impl Grade {
    /// Sums the criteria, scaled to `max_points` when the criteria's maxima add up to something
    /// else; the grade passes when every available point is earned.
    pub fn from_criteria(feedback: Vec<Criterion>, max_points: f64) -> Self {
        let earned: f64 = feedback.iter().map(|c| c.points).sum();
        let available: f64 = feedback.iter().map(|c| c.max_points).sum();
        let points = if available > 0.0 {
            (earned / available * max_points).clamp(0.0, max_points)
        } else {
            0.0
        };
        Self {
            points,
            passed: available > 0.0 && earned >= available,
            feedback,
        }
    }
}
