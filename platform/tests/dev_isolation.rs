#[path = "api/audit.rs"]
mod audit;
#[path = "api/cross_tenant.rs"]
mod cross_tenant;
#[path = "api/errors.rs"]
mod errors;
#[path = "api/helpers.rs"]
mod helpers;
#[path = "api/operator.rs"]
mod operator;
#[path = "api/rls.rs"]
mod rls;
#[path = "api/tenant_profile.rs"]
mod tenant_profile;
#[path = "api/users.rs"]
mod users;
