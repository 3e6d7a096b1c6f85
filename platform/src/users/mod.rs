//! Users within a tenant: the model, its SQL, and tenant-admin user management (list, invite,
//! change roles, deactivate, reactivate).

mod model;
mod routes;
pub mod service;
pub mod store;

pub use model::{DisplayName, Email, Role, Roles, User, UserId, UserStatus};
pub(crate) use routes::InviteRequest;
pub use routes::router;
