//! Every event type, its data, and its entry in the API document's `webhooks` section.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa::openapi::OpenApi;

use super::Event;
use crate::assignments::SubmissionId;
use crate::certificates::{CertificateId, CertificateSource};
use crate::courses::{CourseId, ItemId, ModuleId};
use crate::enrollments::{EnrollmentId, EnrollmentSource};
use crate::quizzes::AttemptId;
use crate::users::{Role, UserId, UserStatus};

/// `user.created`: an account was created (registration, invitation, and later SSO and SCIM).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserCreated {
    pub user_id: UserId,
    pub email: String,
    pub display_name: String,
    pub roles: Vec<Role>,
    /// `active`, or `invited` until the invitation is accepted.
    pub status: UserStatus,
}

/// `user.deactivated`: an account was deactivated; its sessions ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserDeactivated {
    pub user_id: UserId,
}

/// `enrollment.created`: a learner was enrolled (again) in a course.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnrollmentCreated {
    pub enrollment_id: EnrollmentId,
    pub course_id: CourseId,
    pub user_id: UserId,
    pub source: EnrollmentSource,
}

/// `enrollment.removed`: a learner was unenrolled (the enrollment is kept as dropped).
#[derive(Debug, Serialize, ToSchema)]
pub struct EnrollmentRemoved {
    pub enrollment_id: EnrollmentId,
    pub course_id: CourseId,
    pub user_id: UserId,
}

/// `item.completed`: a learner completed a course item (once; completions are sticky).
#[derive(Debug, Serialize, ToSchema)]
pub struct ItemCompleted {
    pub enrollment_id: EnrollmentId,
    pub course_id: CourseId,
    pub item_id: ItemId,
    pub user_id: UserId,
    pub completed_at: DateTime<Utc>,
}

/// `module.unlocked`: in a sequential course, a learner's completion of a required item opened a
/// later module (one event per module opened; modules without items are not announced).
#[derive(Debug, Serialize, ToSchema)]
pub struct ModuleUnlocked {
    pub enrollment_id: EnrollmentId,
    pub course_id: CourseId,
    pub module_id: ModuleId,
    pub user_id: UserId,
    /// The module's first item, where the learner continues.
    pub first_item_id: ItemId,
    pub unlocked_at: DateTime<Utc>,
}

/// `course.completed`: a learner completed every counted item of a course.
#[derive(Debug, Serialize, ToSchema)]
pub struct CourseCompleted {
    pub enrollment_id: EnrollmentId,
    pub course_id: CourseId,
    pub user_id: UserId,
    pub completed_at: DateTime<Utc>,
}

/// `quiz.attempt.submitted`: a quiz attempt was submitted (by the learner or at its deadline).
#[derive(Debug, Serialize, ToSchema)]
pub struct QuizAttemptSubmitted {
    pub attempt_id: AttemptId,
    pub course_id: CourseId,
    pub item_id: ItemId,
    pub user_id: UserId,
    /// Submitted when its deadline passed, not by the learner.
    pub auto_submitted: bool,
    pub submitted_at: Option<DateTime<Utc>>,
}

/// `quiz.attempt.graded`: every answer of a quiz attempt is graded, and so is the attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuizAttemptGraded {
    pub attempt_id: AttemptId,
    pub course_id: CourseId,
    pub item_id: ItemId,
    pub user_id: UserId,
    pub score: Option<f64>,
    pub max_score: f64,
    pub percent: Option<f64>,
    pub passed: Option<bool>,
}

/// `assignment.submitted`: a learner submitted work to an assignment.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssignmentSubmitted {
    pub submission_id: SubmissionId,
    pub course_id: CourseId,
    pub item_id: ItemId,
    pub user_id: UserId,
    /// Submitted after the due date.
    pub late: bool,
}

/// `assignment.graded`: a submission was graded (or graded again).
#[derive(Debug, Serialize, ToSchema)]
pub struct AssignmentGraded {
    pub submission_id: SubmissionId,
    pub course_id: CourseId,
    pub item_id: ItemId,
    pub user_id: UserId,
    /// Points after any late penalty.
    pub score: f64,
    pub passed: bool,
    /// Whether the learner sees the grade yet.
    pub released: bool,
}

/// `certificate.issued`: a learner received a certificate of a course (on completion, or from a
/// tenant admin).
#[derive(Debug, Serialize, ToSchema)]
pub struct CertificateIssued {
    pub certificate_id: CertificateId,
    pub course_id: CourseId,
    pub user_id: UserId,
    pub source: CertificateSource,
    pub issued_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// `certificate.revoked`: a tenant admin revoked a certificate; its status list says so.
#[derive(Debug, Serialize, ToSchema)]
pub struct CertificateRevoked {
    pub certificate_id: CertificateId,
    pub course_id: CourseId,
    pub user_id: UserId,
    pub reason: String,
    pub revoked_at: DateTime<Utc>,
}

/// Declares each event type's name, subject field and summary, and the list the API document
/// describes.
macro_rules! catalog {
    ($($data:ident: $name:literal, about $subject:ident, $summary:literal;)+) => {
        $(
            impl Event for $data {
                const TYPE: &'static str = $name;
                const SUMMARY: &'static str = $summary;
                fn subject(&self) -> uuid::Uuid {
                    self.$subject.0
                }
            }
        )+

        /// Every event type's name, in the catalog's order.
        pub const TYPES: &[&str] = &[$($name),+];

        /// Adds each event type to the document: its data schema under `components.schemas`,
        /// and a `webhooks` entry whose request body is the envelope carrying that data.
        pub fn describe_webhooks(openapi: &mut OpenApi) {
            let mut webhooks = serde_json::Map::new();
            $(describe::<$data>(openapi, &mut webhooks);)+
            openapi
                .extensions
                .get_or_insert_with(Default::default)
                .insert("webhooks".to_owned(), Value::Object(webhooks));
        }
    };
}

catalog! {
    UserCreated: "user.created", about user_id, "An account was created.";
    UserDeactivated: "user.deactivated", about user_id, "An account was deactivated.";
    EnrollmentCreated: "enrollment.created", about enrollment_id, "A learner was enrolled in a course.";
    EnrollmentRemoved: "enrollment.removed", about enrollment_id, "A learner was unenrolled from a course.";
    ItemCompleted: "item.completed", about enrollment_id, "A learner completed a course item.";
    ModuleUnlocked: "module.unlocked", about enrollment_id, "A module of a sequential course opened to a learner.";
    CourseCompleted: "course.completed", about enrollment_id, "A learner completed a course.";
    QuizAttemptSubmitted: "quiz.attempt.submitted", about attempt_id, "A quiz attempt was submitted.";
    QuizAttemptGraded: "quiz.attempt.graded", about attempt_id, "A quiz attempt was graded.";
    AssignmentSubmitted: "assignment.submitted", about submission_id, "A learner submitted an assignment.";
    AssignmentGraded: "assignment.graded", about submission_id, "An assignment submission was graded.";
    CertificateIssued: "certificate.issued", about certificate_id, "A learner received a certificate.";
    CertificateRevoked: "certificate.revoked", about certificate_id, "A certificate was revoked.";
}

fn describe<E: Event>(openapi: &mut OpenApi, webhooks: &mut serde_json::Map<String, Value>) {
    let components = openapi.components.get_or_insert_with(Default::default);
    let mut schemas = vec![(E::name().into_owned(), E::schema())];
    E::schemas(&mut schemas);
    for (name, schema) in schemas {
        components.schemas.entry(name).or_insert(schema);
    }
    let envelope = json!({
        "type": "object",
        "required": ["id", "type", "version", "tenant_id", "occurred_at", "data"],
        "properties": {
            "id": { "type": "string", "format": "uuid" },
            "type": { "type": "string", "const": E::TYPE },
            "version": { "type": "integer", "const": E::VERSION },
            "tenant_id": { "type": "string", "format": "uuid" },
            "occurred_at": { "type": "string", "format": "date-time" },
            "data": { "$ref": format!("#/components/schemas/{}", E::name()) },
        },
    });
    webhooks.insert(
        E::TYPE.to_owned(),
        json!({
            "post": {
                "summary": E::SUMMARY,
                "operationId": format!("event {}", E::TYPE),
                "tags": ["events"],
                "requestBody": {
                    "required": true,
                    "content": { "application/json": { "schema": envelope } },
                },
                "responses": {
                    "2XX": { "description": "Received; any other answer is retried" },
                },
            },
        }),
    );
}
