//! Enrollments: learners enroll themselves into published courses (prerequisites and capacity
//! permitting); a course's instructors and tenant admins enroll and unenroll learners in bulk and
//! read the roster; everyone reads their own learning.

mod model;
mod routes;
mod service;
mod store;

pub use model::{EnrollmentId, EnrollmentSource, EnrollmentStatus};
pub use routes::{bulk_ids, router};
pub(crate) use service::{Staff, audit_imported, enroll_imported};
pub use store::{active_counts, active_users, lock, of_user_in, status_of, statuses};
