//! The gradebook: each learner's score in every quiz and assignment of a course, the weighted
//! course grade (by assessment or by category), the learner's own view, and the CSV export.

mod compute;
mod export;
mod model;
mod routes;
mod service;
mod store;

pub use routes::router;
pub use service::final_percent;
