//! The gradebook API's shapes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::courses::{CourseId, ItemId};
use crate::enrollments::{EnrollmentId, EnrollmentStatus};
use crate::users::UserId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Weighting {
    /// The course grade is the weighted mean of the assessments' percentages.
    #[default]
    Assessment,
    /// The course grade is the weighted mean of the categories' percentages, each the weighted
    /// mean of its assessments; assessments in no listed category do not count.
    Category,
}

text_enum!(Weighting {
    Assessment => "assessment",
    Category => "category",
});

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryWeight {
    pub name: String,
    pub weight: f64,
}

/// One assessment's place in the course grade.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemWeightInput {
    pub item_id: ItemId,
    /// Default 1; 0 leaves it out of the course grade.
    pub weight: Option<f64>,
    pub category: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GradebookSettingsInput {
    #[serde(default)]
    pub weighting: Weighting,
    #[serde(default)]
    pub categories: Vec<CategoryWeight>,
    /// Assessments not listed keep weight 1 and no category.
    #[serde(default)]
    pub items: Vec<ItemWeightInput>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GradebookSettings {
    pub course_id: CourseId,
    pub weighting: Weighting,
    pub categories: Vec<CategoryWeight>,
    /// Every quiz and assignment of the course, in outline order.
    pub columns: Vec<Column>,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AssessmentKind {
    Quiz,
    Assignment,
}

/// An assessment of the course: a column of the gradebook.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Column {
    pub item_id: ItemId,
    pub title: String,
    pub kind: AssessmentKind,
    pub weight: f64,
    pub category: Option<String>,
    /// The percentage that passes it (absent until the assessment has settings).
    pub passing_percent: Option<f64>,
}

/// A learner's result in one assessment.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Score {
    pub item_id: ItemId,
    /// Absent: nothing graded yet (for the learner: nothing released yet).
    pub percent: Option<f64>,
    pub passed: Option<bool>,
    /// Whether the learner sees this grade (assignment grades wait for their release).
    pub released: bool,
}

/// The course grade from the scores.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct CourseGrade {
    /// Over the graded assessments only; absent when none is graded.
    pub current_percent: Option<f64>,
    /// Counting every ungraded assessment as 0.
    pub final_percent: f64,
}

/// One learner's row of the gradebook.
#[derive(Debug, Serialize, ToSchema)]
pub struct LearnerGrades {
    pub enrollment_id: EnrollmentId,
    pub user_id: UserId,
    pub display_name: String,
    pub email: String,
    pub status: EnrollmentStatus,
    /// In the order of the columns.
    pub scores: Vec<Score>,
    pub grade: CourseGrade,
}

/// A page of the course's gradebook.
#[derive(Debug, Serialize, ToSchema)]
pub struct Gradebook {
    pub course_id: CourseId,
    pub weighting: Weighting,
    pub categories: Vec<CategoryWeight>,
    pub columns: Vec<Column>,
    pub items: Vec<LearnerGrades>,
    /// Pass as `cursor` for the next learners; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The caller's own grades in a course (released grades only).
#[derive(Debug, Serialize, ToSchema)]
pub struct MyGrades {
    pub course_id: CourseId,
    pub weighting: Weighting,
    pub categories: Vec<CategoryWeight>,
    pub columns: Vec<Column>,
    pub scores: Vec<Score>,
    pub grade: CourseGrade,
}
