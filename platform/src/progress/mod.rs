//! Learner progress: item completion, viewing time and video position reported by learners,
//! course progress and completion, the learner's own view and the course staff's progress table
//! (paginated or as CSV).

mod export;
pub mod gate;
mod model;
mod routes;
mod service;
mod store;

pub use export::inert;
pub use model::{ContinueItem, CourseProgress, ProgressReport};
pub use routes::router;
pub use service::{complete_by_assessment, complete_locked, report};
pub use store::{CONTINUE_ITEM, COUNTS, ReportContext, continue_item};
