//! Cohorts: named groups of learners that tenant admins keep and corporate managers manage (their
//! teams), and that a course's staff enroll into the course in one call.

mod model;
mod routes;
mod service;
pub(crate) mod store;

pub use model::{CohortId, CohortName, Team};
pub use routes::router;
