//! tenant_profile
