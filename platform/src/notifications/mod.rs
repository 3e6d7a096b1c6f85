//! In-app notifications: what happened to a user (enrolled, a module opened, graded, course
//! completed, an assignment due soon, an invitation accepted), in their inbox, live on a Server-Sent Events stream, and by email when they ask for it.
//!
//! - **From events.** A trigger on `domain_events` (migration `…_notifications.sql`) queues one
//!   `notifications.from_event` job per event of a [`NotificationKind`], in the transaction of
//!   the change, so every code path that records an event (in Rust or in SQL) notifies. The
//!   job ([`job`]) writes the recipient's notification and queues their email in its tenant's
//!   transaction, honouring their [`preferences`], and commits its completion with that work:
//!   one notification and one email per event even if the job runs twice.
//! - **Inbox.** `/api/v1/notifications`: the signed-in user's own notifications only (another
//!   user's or tenant's id answers 404), cursor pages newest first, unread count, mark read.
//! - **Real time.** `/api/v1/notifications/stream` ([`stream`]) over PostgreSQL `LISTEN/NOTIFY`.
//! - **Email** in the tenant's brand (minijinja templates in `templates/`), per notification
//!   for the types the user chose, and as a daily [`digest`] of what they have not read.
//!
//! - **Reminders** ([`due_soon`]): a schedule finds assignments due within a day and notifies
//!   each enrolled learner who has not submitted, once per due date.
//! - **Invitations**: the inviter hears when an invitation is accepted ([`invitation_accepted`]),
//!   and the invitation itself goes out in the tenant's brand ([`invitation_email`]).
//!
//! A new notifying event type (e.g. `certificate.issued`) is an arm of [`NotificationKind`],
//! its wording in [`compose`], and a migration that adds it to the trigger's list.

mod compose;
pub mod digest;
pub mod due_soon;
mod email;
mod invitation;
mod job;
pub mod preferences;
mod routes;
mod store;
pub mod stream;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use invitation::{invitation_accepted, invitation_email};
pub use job::{FromEvent, deliver, from_event};
pub use routes::router;
pub use stream::Notifier;

entity_id!(
    /// A notification's identifier (UUIDv7).
    NotificationId
);

/// What a notification is about: the type of the domain event that caused it, or, for a
/// reminder or an accepted invitation, a type of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum NotificationKind {
    /// The user was enrolled in a course (by staff or a cohort; not when they enrolled
    /// themselves).
    #[serde(rename = "enrollment.created")]
    Enrolled,
    /// A module of a sequential course opened to the user.
    #[serde(rename = "module.unlocked")]
    ModuleUnlocked,
    /// An assignment the user has not submitted is due within a day.
    #[serde(rename = "assignment.due_soon")]
    AssignmentDueSoon,
    /// A quiz attempt of the user's was graded.
    #[serde(rename = "quiz.attempt.graded")]
    QuizGraded,
    /// An assignment submission of the user's was graded and the grade released.
    #[serde(rename = "assignment.graded")]
    AssignmentGraded,
    /// The user completed a course.
    #[serde(rename = "course.completed")]
    CourseCompleted,
    /// Someone the user invited accepted the invitation.
    #[serde(rename = "invitation.accepted")]
    InvitationAccepted,
}

text_enum!(NotificationKind {
    Enrolled => "enrollment.created",
    ModuleUnlocked => "module.unlocked",
    AssignmentDueSoon => "assignment.due_soon",
    QuizGraded => "quiz.attempt.graded",
    AssignmentGraded => "assignment.graded",
    CourseCompleted => "course.completed",
    InvitationAccepted => "invitation.accepted",
});

impl NotificationKind {
    /// The kind a domain event of type `event` notifies as, if it notifies anyone.
    pub fn of_event(event: &str) -> Option<Self> {
        match event.parse().ok()? {
            kind @ (Self::Enrolled
            | Self::ModuleUnlocked
            | Self::QuizGraded
            | Self::AssignmentGraded
            | Self::CourseCompleted) => Some(kind),
            Self::AssignmentDueSoon | Self::InvitationAccepted => None,
        }
    }
}
