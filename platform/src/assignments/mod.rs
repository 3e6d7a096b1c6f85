//! Assignments: instructions with a due date and late policy, text and file submissions (files
//! in the file storage) with resubmission until the due date, grading by rubric or points with
//! feedback and inline comments, grade release, and the graders' list across their courses.

mod files;
pub(crate) mod grading;
pub(crate) mod late;
pub(crate) mod model;
mod routes;
pub(crate) mod rubric;
pub(crate) mod settings;
mod store;
pub(crate) mod submissions;
mod upload;

pub use model::SubmissionId;
pub use routes::router;
