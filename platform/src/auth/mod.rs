//! Local accounts and sessions: registration, login, token refresh, logout, password change and
//! reset, invitation acceptance; the access-token keys and the request principal.

pub mod backoff;
mod caller;
pub mod cookies;
pub mod keys;
pub mod passwords;
pub mod principal;
pub(crate) mod routes;
pub mod service;
pub mod store;
pub mod tokens;

pub use backoff::LoginBackoff;
pub use caller::Caller;
pub use keys::KeyRing;
pub use passwords::{Password, PasswordHasher};
pub use principal::{Actor, Authenticated, MfaEnrollmentCaller, session_is_current};
pub use routes::{credential_router, session_router};
