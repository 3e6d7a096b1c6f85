//! The learner's catalog: published courses with filters, ranked full-text search, keyset
//! pagination, and a course's public outline.

mod model;
mod routes;
mod service;
mod store;

pub use routes::router;
