//! Question banks, categories and questions as the API shows them, and the values they are made
//! of.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::kinds::{QuestionKind, QuestionSpec};
use crate::courses::CourseId;
use crate::error::FieldError;
use crate::users::UserId;
use crate::validation::{line, prose};

entity_id!(
    /// A question bank's identifier (UUIDv7).
    BankId
);
entity_id!(
    /// A bank category's identifier (UUIDv7).
    CategoryId
);
entity_id!(
    /// A question's identifier (UUIDv7); its versions share it.
    QuestionId
);

/// A named group of questions in a bank, e.g. "Chapter 2" or "Hard".
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Category {
    pub id: CategoryId,
    pub name: String,
    /// Questions in the category that are not archived.
    pub question_count: i64,
}

/// A bank of questions: a course's own, or shared by every course of the organisation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Bank {
    pub id: BankId,
    /// The course whose staff own the bank; `null` for a shared bank (tenant admins and its
    /// creator edit it; every instructor may use its questions).
    pub course_id: Option<CourseId>,
    pub title: String,
    pub description: String,
    pub created_by: UserId,
    /// Questions that are not archived.
    pub question_count: i64,
    pub categories: Vec<Category>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A question at one version, with its answer key (course staff only; learners see questions
/// only through attempts, without keys).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Question {
    pub id: QuestionId,
    pub bank_id: BankId,
    pub category_id: Option<CategoryId>,
    /// The version shown; attempts keep the version they were given.
    pub version: i32,
    /// The newest version.
    pub current_version: i32,
    pub kind: QuestionKind,
    /// Markdown shown to the learner.
    pub prompt: String,
    pub points: f64,
    pub spec: QuestionSpec,
    pub archived_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// When this version was made.
    pub version_created_at: DateTime<Utc>,
}

/// A bank's title: 1 to 200 characters on one line.
pub fn bank_title(raw: &str) -> Result<String, FieldError> {
    line("title", raw, 200)
}

/// A category's name: 1 to 100 characters on one line, unique in its bank ignoring case.
pub fn category_name(raw: &str) -> Result<String, FieldError> {
    line("name", raw, 100)
}

/// A bank's description: up to 5,000 characters.
pub fn bank_description(raw: &str) -> Result<String, FieldError> {
    prose("description", raw, 5_000)
}

/// A question's prompt: 1 to 20,000 characters of Markdown.
pub fn prompt(raw: &str) -> Result<String, FieldError> {
    if raw.trim().is_empty() {
        return Err(FieldError::new(
            "prompt",
            "invalid_text",
            "1 to 20000 characters",
        ));
    }
    prose("prompt", raw, 20_000)
}

/// Whether a number of points is a whole number of hundredths (as the database keeps them).
pub fn in_hundredths(points: f64) -> bool {
    let cents = points * 100.0;
    // A value that rounds to zero hundredths must be zero: 5e-324 is "more than 0" yet would
    // be stored as 0.00, which the tables' checks refuse.
    points.is_finite()
        && (cents - cents.round()).abs() < 1e-6
        && (cents.round() != 0.0 || points == 0.0)
}

/// A question's points: more than 0, at most 1,000, in hundredths.
pub fn points(raw: f64) -> Result<f64, FieldError> {
    if !in_hundredths(raw) || raw <= 0.0 || raw > 1_000.0 {
        return Err(FieldError::new(
            "points",
            "out_of_range",
            "more than 0 and at most 1000, in steps of 0.01",
        ));
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_are_positive_hundredths_up_to_a_thousand() {
        assert!(points(0.5).is_ok());
        assert!(points(1000.0).is_ok());
        assert!(points(2.25).is_ok());
        assert!(
            points(0.29).is_ok(),
            "0.29 * 100 is 28.999999999999996 in binary"
        );
        for bad in [
            0.0,
            -1.0,
            1000.01,
            0.001,
            5e-324,
            1e-9,
            f64::NAN,
            f64::INFINITY,
        ] {
            assert!(points(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn titles_are_one_trimmed_line() {
        assert_eq!(
            bank_title("  Chapter 1 ").ok().as_deref(),
            Some("Chapter 1")
        );
        assert!(bank_title("").is_err());
        assert!(bank_title("a\nb").is_err());
        assert!(category_name(&"x".repeat(101)).is_err());
    }
}
