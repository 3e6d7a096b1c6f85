//! Enrollments as the API shows them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::courses::CourseId;
use crate::progress::{ContinueItem, CourseProgress};
use crate::users::UserId;

/// An enrollment's identifier (UUIDv7), unique within its tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, ToSchema)]
#[sqlx(transparent)]
#[serde(transparent)]
#[schema(value_type = String, format = Uuid)]
pub struct EnrollmentId(pub Uuid);

impl Default for EnrollmentId {
    /// A fresh, time-ordered id.
    fn default() -> Self {
        Self(Uuid::now_v7())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EnrollmentStatus {
    /// Taking the course; counts against its capacity.
    Active,
    Completed,
    /// Unenrolled; may enroll again.
    Dropped,
}

text_enum!(EnrollmentStatus {
    Active => "active",
    Completed => "completed",
    Dropped => "dropped",
});

/// How the learner came to be enrolled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EnrollmentSource {
    #[serde(rename = "self")]
    SelfEnrolled,
    Staff,
    Cohort,
}

text_enum!(EnrollmentSource {
    SelfEnrolled => "self",
    Staff => "staff",
    Cohort => "cohort",
});

/// One learner's enrollment in one course.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Enrollment {
    pub id: EnrollmentId,
    pub course_id: CourseId,
    pub user_id: UserId,
    /// The learner's display name.
    pub display_name: String,
    pub status: EnrollmentStatus,
    pub source: EnrollmentSource,
    pub enrolled_by: UserId,
    pub enrolled_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub dropped_at: Option<DateTime<Utc>>,
    pub last_activity_at: Option<DateTime<Utc>>,
}

/// One of the caller's enrollments with the course it is in and their progress ("my learning").
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MyEnrollment {
    pub id: EnrollmentId,
    pub course_id: CourseId,
    pub course_slug: String,
    pub course_title: String,
    pub status: EnrollmentStatus,
    pub source: EnrollmentSource,
    pub enrolled_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub dropped_at: Option<DateTime<Utc>>,
    pub last_activity_at: Option<DateTime<Utc>>,
    pub progress: CourseProgress,
    /// The item last opened if it is not complete, else the first incomplete item; `null` when
    /// every item is complete.
    pub continue_item: Option<ContinueItem>,
}

/// What enrolling one of a bulk call's users did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EnrollOutcome {
    /// Enrolled now (or again, after having dropped).
    Enrolled,
    /// Already active or completed in the course; unchanged.
    AlreadyEnrolled,
    /// No active user of this organisation has this id.
    UnknownUser,
    /// The course had no seat left for this user.
    CourseFull,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EnrollResult {
    pub user_id: UserId,
    pub result: EnrollOutcome,
}

/// The per-user results of a bulk enrollment, in the order the ids were given.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BulkEnrollment {
    pub results: Vec<EnrollResult>,
}
