#[path = "api/auth.rs"]
mod auth;
#[path = "api/cookies.rs"]
mod cookies;
#[path = "api/helpers.rs"]
mod helpers;
#[path = "api/rate_limits.rs"]
mod rate_limits;
#[path = "api/smtp.rs"]
mod smtp;
#[path = "api/tokens.rs"]
mod tokens;
