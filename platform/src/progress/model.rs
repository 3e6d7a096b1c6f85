//! Progress as the API shows it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::courses::{ItemId, ItemKind, ModuleId};
use crate::enrollments::{EnrollmentId, EnrollmentStatus};
use crate::users::UserId;

/// Longest time one session may report for one item: a day.
pub const MAX_SESSION_SECONDS: u32 = 86_400;
/// Largest position a report may carry: a day into a video.
pub const MAX_POSITION_SECONDS: u32 = 86_400;

/// A learner's report on one item. Every field is optional; an empty report records an access.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgressReport {
    /// The viewing session the report belongs to: a UUID the client picks when the learner
    /// opens the item and keeps until they leave it. Required with `time_spent_seconds` or
    /// `position_seconds`.
    pub session: Option<Uuid>,
    /// Seconds spent on the item in this session so far (a running total, not a delta), so
    /// that sending a report again never counts twice. 0 to 86,400.
    pub time_spent_seconds: Option<u32>,
    /// Video items only: the playback position, in seconds. Within a session the position only
    /// moves forward; a new session may start anywhere. 0 to 86,400.
    pub position_seconds: Option<u32>,
    /// `true` marks the item complete. Completion is never undone: `false` changes nothing.
    #[serde(default)]
    pub complete: bool,
}

/// One learner's progress on one item.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ItemProgress {
    pub item_id: ItemId,
    pub completed_at: Option<DateTime<Utc>>,
    /// Where to resume: the newest session's furthest position, in seconds.
    pub position_seconds: i32,
    /// The furthest position any session reached.
    pub furthest_position_seconds: i32,
    /// Total seconds over every session.
    pub time_spent_seconds: i64,
    pub first_accessed_at: Option<DateTime<Utc>>,
    pub last_accessed_at: Option<DateTime<Utc>>,
}

/// How far a learner is through a course. The items that count are the required ones (all
/// items when the course marks none required).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct CourseProgress {
    /// Whole per cent of the counted items complete, 0 to 100.
    pub percent: u8,
    pub required_completed: i64,
    pub required_total: i64,
    /// When the learner completed the course.
    pub completed_at: Option<DateTime<Utc>>,
}

impl CourseProgress {
    pub fn new(done: i64, total: i64, completed_at: Option<DateTime<Utc>>) -> Self {
        let percent = if total <= 0 {
            if completed_at.is_some() { 100 } else { 0 }
        } else {
            (done.clamp(0, total) * 100 / total) as u8
        };
        Self {
            percent,
            required_completed: done,
            required_total: total,
            completed_at,
        }
    }
}

/// The answer to a progress report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProgressUpdate {
    pub item: ItemProgress,
    pub course: CourseProgress,
}

/// The item a learner continues with.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContinueItem {
    pub item_id: ItemId,
    pub module_id: ModuleId,
    pub title: String,
    pub kind: ItemKind,
}

/// One item of the learner's outline with their progress.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OutlineItemProgress {
    pub id: ItemId,
    pub title: String,
    pub kind: ItemKind,
    pub required: bool,
    /// A text item's Markdown; `null` for other kinds and in locked modules.
    pub body: Option<String>,
    /// A video's, document's or link's URL; `null` for other kinds and in locked modules.
    pub url: Option<String>,
    pub duration_seconds: Option<i32>,
    pub progress: ItemProgress,
}

/// One module of the learner's outline.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ModuleProgress {
    pub id: ModuleId,
    pub title: String,
    pub position: i32,
    /// In a sequential course, a module stays locked until every required item of the modules
    /// before it is complete.
    pub locked: bool,
    pub items: Vec<OutlineItemProgress>,
}

/// The caller's progress through one course, item by item.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MyCourseProgress {
    pub enrollment_id: EnrollmentId,
    pub status: EnrollmentStatus,
    pub course: CourseProgress,
    pub last_activity_at: Option<DateTime<Utc>>,
    /// The item last opened if it is not complete, else the first incomplete item; `null` when
    /// every item is complete.
    pub continue_item: Option<ContinueItem>,
    pub sequential: bool,
    pub modules: Vec<ModuleProgress>,
}

/// One learner's row in a course's progress table.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LearnerProgress {
    pub enrollment_id: EnrollmentId,
    pub user_id: UserId,
    pub display_name: String,
    pub email: String,
    pub status: EnrollmentStatus,
    pub enrolled_at: DateTime<Utc>,
    pub last_activity_at: Option<DateTime<Utc>>,
    pub progress: CourseProgress,
    /// Seconds spent over every item.
    pub time_spent_seconds: i64,
}
