//! Quizzes: the settings and question list of a course's quiz items, attempts with their frozen
//! questions, deadlines and autosaved answers, grading (by rule, by grader plugin, by a person)
//! with the grading queue, and the sweep that closes attempts left open past their deadline.

mod attempt_store;
pub(crate) mod attempts;
pub(crate) mod grading;
pub(crate) mod model;
mod routes;
pub(crate) mod settings;
mod store;
pub mod sweep;

pub use model::AttemptId;
pub use routes::router;
