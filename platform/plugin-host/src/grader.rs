//! The grader world's request and result, independent of the WIT version a plugin was built
//! against, and the checks the host applies to both.

use crate::error::PluginError;

/// One response to grade.
#[derive(Debug, Clone, PartialEq)]
pub struct GradeRequest {
    /// The question kind, e.g. `lab-flag` or `numeric`.
    pub question_kind: String,
    /// The question's prompt.
    pub prompt: String,
    /// The question's plugin configuration as JSON text.
    pub config: String,
    /// The most points the response can earn; finite and not negative.
    pub max_points: f64,
    /// A free-text response.
    pub response_text: Option<String>,
    /// A structured response as JSON text.
    pub response_json: Option<String>,
    /// An opaque learner id (never personal data).
    pub learner: String,
}

/// The score on one criterion.
#[derive(Debug, Clone, PartialEq)]
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

/// A grade, checked by the host: `0 <= points <= max_points`, no NaN.
#[derive(Debug, Clone, PartialEq)]
pub struct Grade {
    /// Points earned.
    pub points: f64,
    /// Whether the response passed.
    pub passed: bool,
    /// Per-criterion feedback.
    pub feedback: Vec<Criterion>,
}

/// A grader's own reason for not grading (WIT `grade-error`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraderError {
    /// The question's plugin configuration is unusable.
    #[error("invalid config: {0}")]
    InvalidConfig(String),
    /// The response cannot be read.
    #[error("invalid response: {0}")]
    InvalidResponse(String),
    /// The grader failed for another reason.
    #[error("grader error: {0}")]
    Internal(String),
}

impl GradeRequest {
    /// The bytes of text the request carries into the plugin.
    pub fn size(&self) -> usize {
        self.question_kind.len()
            + self.prompt.len()
            + self.config.len()
            + self.response_text.as_ref().map_or(0, String::len)
            + self.response_json.as_ref().map_or(0, String::len)
            + self.learner.len()
    }

    /// Refuses requests the plugin should never see.
    pub(crate) fn check(&self, max_bytes: usize) -> Result<(), PluginError> {
        let invalid = |reason: String| Err(PluginError::InvalidInput { reason });
        let size = self.size();
        if size > max_bytes {
            return invalid(format!(
                "the request is {size} bytes, over the limit of {max_bytes}"
            ));
        }
        if !self.max_points.is_finite() || self.max_points < 0.0 {
            return invalid(format!(
                "max points must be finite and >= 0, not {}",
                self.max_points
            ));
        }
        if serde_json::from_str::<serde::de::IgnoredAny>(&self.config).is_err() {
            return invalid("config is not JSON".into());
        }
        if let Some(json) = &self.response_json
            && serde_json::from_str::<serde::de::IgnoredAny>(json).is_err()
        {
            return invalid("response-json is not JSON".into());
        }
        Ok(())
    }
}

impl Grade {
    /// The bytes of feedback text.
    pub fn feedback_size(&self) -> usize {
        self.feedback
            .iter()
            .map(|c| c.name.len() + c.message.len())
            .sum()
    }

    /// The size the output limit is applied to: the feedback text plus the bytes each
    /// criterion takes in the plugin's memory, so that many empty criteria are not free.
    pub fn output_size(&self) -> usize {
        self.feedback
            .iter()
            .map(|c| c.name.len() + c.message.len() + crate::wit::CRITERION_ABI_BYTES)
            .sum()
    }

    /// Enforces the world's contract on a plugin's result. Text carries no NUL: results are
    /// stored in PostgreSQL, whose text and jsonb cannot hold it.
    pub(crate) fn check(
        &self,
        max_points: f64,
        max_criteria: usize,
        max_output_bytes: usize,
    ) -> Result<(), PluginError> {
        let invalid = |reason: String| Err(PluginError::InvalidOutput { reason });
        if self.feedback.len() > max_criteria {
            return invalid(format!(
                "{} criteria, over the limit of {max_criteria}",
                self.feedback.len()
            ));
        }
        let size = self.output_size();
        if size > max_output_bytes {
            return Err(PluginError::OutputTooLarge {
                size,
                limit: max_output_bytes,
            });
        }
        if !self.points.is_finite() || self.points < 0.0 || self.points > max_points {
            return invalid(format!("points {} outside 0..={max_points}", self.points));
        }
        for c in &self.feedback {
            if c.name.contains('\0') || c.message.contains('\0') {
                return invalid(format!("criterion {:?} contains a NUL character", c.name));
            }
            if !c.points.is_finite()
                || !c.max_points.is_finite()
                || c.points < 0.0
                || c.max_points < 0.0
                || c.points > c.max_points
            {
                return invalid(format!(
                    "criterion {:?}: points {} of {} are not a valid score",
                    c.name, c.points, c.max_points
                ));
            }
        }
        Ok(())
    }
}

impl GraderError {
    /// The grader's own message.
    pub fn message(&self) -> &str {
        match self {
            Self::InvalidConfig(m) | Self::InvalidResponse(m) | Self::Internal(m) => m,
        }
    }

    /// Enforces the output limit and the no-NUL rule on the grader's message, as on a grade's
    /// feedback.
    pub(crate) fn check(&self, max_output_bytes: usize) -> Result<(), PluginError> {
        let size = self.message().len();
        if size > max_output_bytes {
            return Err(PluginError::OutputTooLarge {
                size,
                limit: max_output_bytes,
            });
        }
        if self.message().contains('\0') {
            return Err(PluginError::InvalidOutput {
                reason: "the grader's error message contains a NUL character".into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{Criterion, Grade, GraderError};
    use crate::error::PluginError;

    fn grade(name: &str, message: &str) -> Grade {
        Grade {
            points: 1.0,
            passed: true,
            feedback: vec![Criterion {
                name: name.into(),
                points: 1.0,
                max_points: 1.0,
                message: message.into(),
            }],
        }
    }

    #[test]
    fn nul_characters_in_results_and_errors_are_invalid_output() {
        assert!(grade("flag", "found").check(1.0, 64, 20 << 10).is_ok());
        for bad in [grade("fl\0ag", "found"), grade("flag", "fou\0nd")] {
            assert!(matches!(
                bad.check(1.0, 64, 20 << 10),
                Err(PluginError::InvalidOutput { .. })
            ));
        }
        assert!(
            GraderError::Internal("no flag".into())
                .check(20 << 10)
                .is_ok()
        );
        assert!(matches!(
            GraderError::InvalidResponse("no\0flag".into()).check(20 << 10),
            Err(PluginError::InvalidOutput { .. })
        ));
    }
}
