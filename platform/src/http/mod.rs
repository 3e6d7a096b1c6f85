//! HTTP plumbing shared by every feature: extractors, pagination and middleware.

pub mod client_ip;
pub mod extract;
pub mod middleware;
pub mod pagination;
pub mod rate_limit;
pub mod tenant;

pub use client_ip::ClientIp;
pub use extract::{ApiJson, ApiPath, ApiQuery, MaybeJson};
pub use pagination::{Page, PageParams};
pub use tenant::CurrentTenant;
