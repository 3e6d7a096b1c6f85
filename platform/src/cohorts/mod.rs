//! Cohorts: named groups of learners that tenant admins and corporate managers keep, and that a
//! course's staff enroll into the course in one call.

mod model;
mod routes;
mod service;
pub(crate) mod store;

pub use model::CohortId;
pub use routes::router;
