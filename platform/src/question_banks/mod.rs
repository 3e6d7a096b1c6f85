//! Question banks: a course's own or shared by the organisation, with categories and versioned
//! questions of every kind (`kinds`: their definitions, what learners are shown, how answers are
//! read and graded).

pub mod kinds;
mod model;
mod routes;
mod service;
mod store;

pub use model::{BankId, CategoryId, QuestionId, in_hundredths};
pub use routes::router;
pub(crate) use service::is_course_staff;
