//! Multi-factor authentication: a TOTP second factor with single-use recovery codes, the
//! challenge a password sign-in answers with when a code is due, the tenant's policy of which
//! roles must have MFA, and admin resets.

mod recovery;
mod routes;
pub mod service;
mod store;
pub mod totp;

pub use routes::{credential_router, router};
pub use service::{Challenge, SecondStep, enrollment_required, second_step};
