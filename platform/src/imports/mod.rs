//! Bulk CSV imports for tenant admins without SCIM: a users file (create, update, deactivate,
//! roles, cohorts) and an enrollments file (user, course, cohort).
//!
//! - **Upload** ([`upload`]): bounded in bytes before it is read and in rows while it is parsed;
//!   a wrong header is refused at once, naming the column. The import, its rows as sent and the
//!   job that applies them are stored in one transaction.
//! - **Job** ([`job`]): `imports.run` applies the rows in batches, in the tenant's transaction
//!   as the app role, through the users, cohorts and enrollments services (their events,
//!   invitations and audit are the API's); each batch commits with its rows' outcomes, so the
//!   admin polls the progress and a stopped run resumes where it was.
//! - **Rows apply individually**: a refused row is reported with a code and never blocks the
//!   others; re-running a file reports every row it already applied as `unchanged`.
//! - **Dry run**: every lookup and rule, every row's outcome, no change.

mod enrollments_file;
mod job;
mod model;
mod routes;
mod rows;
mod service;
mod store;
mod upload;
mod users_file;

pub use job::{RunImport, run};
pub use model::{Import, ImportId, ImportKind, ImportStatus, RowAction};
pub use routes::router;
