//! Team reports: what a corporate manager's team (the active members of the cohorts they manage)
//! does in its courses: enrollments, progress, completions, quiz results and released assignment
//! grades, a page at a time or as CSV. Tenant admins read the same report over every cohort.

mod export;
mod model;
mod routes;
mod service;
mod store;

pub use routes::router;
