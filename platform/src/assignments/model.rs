//! The assignments API's shapes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::late::LatePolicy;
use super::rubric::{CriterionGrade, Rubric, RubricInput};
use crate::courses::{CourseId, ItemId};
use crate::users::UserId;

entity_id!(
    /// One submission of a learner to an assignment.
    SubmissionId
);
entity_id!(
    /// One file of a submission.
    SubmissionFileId
);

/// An assignment item's settings as its author writes them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentInput {
    /// Markdown.
    #[serde(default)]
    pub instructions: String,
    pub due_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub late_policy: LatePolicy,
    /// With `penalty`: the percentage of the points lost per day (or part of a day) late.
    pub late_penalty_percent: Option<f64>,
    #[serde(default = "yes")]
    pub accepts_text: bool,
    #[serde(default)]
    pub accepts_files: bool,
    /// 1 to 20; default 5.
    pub max_files: Option<i32>,
    /// Per file, at most 50 MiB; default 10 MiB.
    pub max_file_bytes: Option<i32>,
    /// Accepted file name extensions; empty: documents, spreadsheets, slides, archives and images.
    #[serde(default)]
    pub file_extensions: Vec<String>,
    /// The most a submission can score; required without a rubric, absent with one (the
    /// rubric's best levels make the points).
    pub points: Option<f64>,
    /// Default 50.
    pub passing_percent: Option<f64>,
    pub rubric: Option<RubricInput>,
}

fn yes() -> bool {
    true
}

/// An assignment item's settings.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Assignment {
    pub item_id: ItemId,
    pub course_id: CourseId,
    pub title: String,
    pub instructions: String,
    pub due_at: Option<DateTime<Utc>>,
    pub late_policy: LatePolicy,
    pub late_penalty_percent: Option<f64>,
    pub accepts_text: bool,
    pub accepts_files: bool,
    pub max_files: i32,
    pub max_file_bytes: i32,
    pub file_extensions: Vec<String>,
    pub points: f64,
    pub passing_percent: f64,
    pub rubric: Option<Rubric>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubmissionStatus {
    /// Waiting for a grade.
    Submitted,
    Graded,
    /// A later submission replaced it before it was graded.
    Superseded,
}

text_enum!(SubmissionStatus {
    Submitted => "submitted",
    Graded => "graded",
    Superseded => "superseded",
});

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SubmissionFile {
    pub id: SubmissionFileId,
    pub file_name: String,
    /// Derived from the extension.
    pub content_type: String,
    pub size_bytes: i32,
    /// Hex SHA-256 of the content.
    pub sha256: String,
}

/// A submission: the learner's own (with its grade once released), or any for the course's
/// staff (with its grade as soon as it is graded).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Submission {
    pub id: SubmissionId,
    pub course_id: CourseId,
    pub item_id: ItemId,
    pub user_id: UserId,
    pub learner_name: String,
    /// 1 for the first submission, then 2, …
    pub number: i32,
    pub text: Option<String>,
    pub files: Vec<SubmissionFile>,
    pub submitted_at: DateTime<Utc>,
    /// Seconds after the due date (0: on time).
    pub late_seconds: i32,
    pub status: SubmissionStatus,
    /// Present once graded (for the learner: once the grade is released).
    pub grade: Option<Grade>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Grade {
    /// The points the work earned, before any late penalty.
    pub raw_score: f64,
    pub penalty: f64,
    pub score: f64,
    /// The assignment's points.
    pub points: f64,
    pub percent: f64,
    pub passed: bool,
    pub rubric: Option<Vec<CriterionGrade>>,
    pub feedback: Option<String>,
    pub inline_comments: Vec<InlineComment>,
    pub graded_by: UserId,
    pub graded_at: DateTime<Utc>,
    /// When the learner could first see it; absent while held back.
    pub released_at: Option<DateTime<Utc>>,
}

/// A comment on one place of the submission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InlineComment {
    pub anchor: Anchor,
    pub comment: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Anchor {
    /// Characters `start` (inclusive) to `end` (exclusive) of the submitted text.
    Text { start: u32, end: u32 },
    /// A file, with a free-form place in it (`page 3`, `line 12`).
    File {
        file_id: SubmissionFileId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        location: Option<String>,
    },
}

/// A grade as a grader gives it: rubric levels (when the assignment has a rubric) or points.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GradeInput {
    pub rubric: Option<Vec<CriterionGrade>>,
    /// Without a rubric: 0 to the assignment's points.
    pub points: Option<f64>,
    #[serde(default)]
    pub feedback: String,
    #[serde(default)]
    pub inline_comments: Vec<InlineComment>,
    /// Show the grade to the learner now (default: hold it until released).
    #[serde(default)]
    pub release: bool,
}

/// The caller's submissions to an assignment, newest first, and where they stand.
#[derive(Debug, Serialize, ToSchema)]
pub struct MySubmissions {
    pub assignment: Assignment,
    pub submissions: Vec<Submission>,
    /// Whether a (new) submission is accepted now.
    pub can_submit: bool,
    /// The released grade of the latest graded submission, as a percentage.
    pub score_percent: Option<f64>,
    pub passed: bool,
}

/// A submission waiting for a grade, in a grader's queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct WaitingSubmission {
    pub id: SubmissionId,
    pub course_id: CourseId,
    pub course_title: String,
    pub item_id: ItemId,
    pub assignment_title: String,
    pub user_id: UserId,
    pub learner_name: String,
    pub number: i32,
    pub submitted_at: DateTime<Utc>,
    pub late_seconds: i32,
    pub has_text: bool,
    pub file_count: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Released {
    /// Grades made visible by this call.
    pub released: u64,
}

/// The form of a submission (`multipart/form-data`).
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // Describes the form for the OpenAPI document; parsed by `submissions`.
pub struct SubmissionForm {
    /// The text answer, when the assignment accepts text.
    text: Option<String>,
    /// Files, when the assignment accepts them; repeat the field for each.
    #[schema(value_type = Vec<String>, format = Binary)]
    files: Vec<Vec<u8>>,
}
