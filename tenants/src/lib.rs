//! Tenants: the tenant model, tenant resolution from a request's host, and the tenant-scoped
//! database context through which every query on tenant-owned data runs.
//!
//! Isolation is enforced by PostgreSQL row-level security. This crate owns the only way to open a
//! transaction on the application pool ([`TenantDb::begin`]), and that way always sets
//! `app.tenant_id` transaction-locally first. Code that has no [`TenantTx`] has no connection on
//! which a tenant table could be queried.

mod db;
mod model;
pub mod registry;
mod resolve;

pub use db::{PooledTx, TenantDb, TenantTx, update_profile};
pub use model::{
    Branding, DomainName, Slug, Tenant, TenantId, TenantSettings, TenantStatus, ValidationError,
};
pub use resolve::{Resolution, TenantResolver};
