//! Question banks: a course's own or shared by the organisation, with categories and versioned
//! questions of every kind (`kinds`: their definitions, what learners are shown, how answers are
//! read and graded).

pub mod kinds;
pub(crate) mod model;
mod routes;
pub(crate) mod service;
mod store;

pub use model::{BankId, CategoryId, QuestionId, in_hundredths};
pub use routes::router;
pub(crate) use service::in_use;
