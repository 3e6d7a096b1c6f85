//! The team report as the API shows it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::cohorts::CohortId;
use crate::courses::{CourseId, ItemId};
use crate::enrollments::{EnrollmentId, EnrollmentStatus};
use crate::progress::CourseProgress;
use crate::users::UserId;

/// Where a team member stands in a course.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportStatus {
    /// Enrolled and not finished yet.
    InProgress,
    Completed,
    /// Unenrolled.
    Dropped,
}

impl ReportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "in_progress",
            Self::Completed => "completed",
            Self::Dropped => "dropped",
        }
    }

    /// The enrollment status it stands for.
    pub fn enrollment_status(self) -> EnrollmentStatus {
        match self {
            Self::InProgress => EnrollmentStatus::Active,
            Self::Completed => EnrollmentStatus::Completed,
            Self::Dropped => EnrollmentStatus::Dropped,
        }
    }

    pub fn of(status: EnrollmentStatus) -> Self {
        match status {
            EnrollmentStatus::Active => Self::InProgress,
            EnrollmentStatus::Completed => Self::Completed,
            EnrollmentStatus::Dropped => Self::Dropped,
        }
    }
}

/// Which rows of the team report to show.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReportFilter {
    /// Members of this cohort only (one the caller manages; any cohort for tenant admins).
    pub cohort: Option<CohortId>,
    pub course: Option<CourseId>,
    pub user: Option<UserId>,
    pub status: Option<ReportStatus>,
}

/// A team member's results in one quiz of the course: graded attempts only.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QuizResult {
    pub item_id: ItemId,
    pub title: String,
    /// Graded attempts.
    pub attempts: i64,
    /// The best graded attempt's per cent; `null` before the first graded attempt.
    pub best_percent: Option<f64>,
    /// The latest graded attempt's per cent.
    pub last_percent: Option<f64>,
    /// Whether the quiz score (by the quiz's attempt grading, as in the gradebook) reaches its
    /// passing per cent; `null` before the first graded attempt.
    pub passed: Option<bool>,
}

/// A team member's released grade in one assignment of the course. Grades held back by the
/// graders are never shown: until one is released, every field but the item is `null`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AssignmentResult {
    pub item_id: ItemId,
    pub title: String,
    /// The latest released grade's per cent.
    pub percent: Option<f64>,
    pub passed: Option<bool>,
    pub released_at: Option<DateTime<Utc>>,
}

/// One team member's enrollment in one course, with their progress and results.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TeamReportRow {
    pub enrollment_id: EnrollmentId,
    pub user_id: UserId,
    pub display_name: String,
    pub email: String,
    pub course_id: CourseId,
    pub course_title: String,
    pub status: ReportStatus,
    pub enrolled_at: DateTime<Utc>,
    pub last_activity_at: Option<DateTime<Utc>>,
    /// Per cent complete, counted items complete and in total, and the completion time.
    pub progress: CourseProgress,
    /// Every quiz of the course in outline order.
    pub quizzes: Vec<QuizResult>,
    /// Every assignment of the course in outline order.
    pub assignments: Vec<AssignmentResult>,
}
