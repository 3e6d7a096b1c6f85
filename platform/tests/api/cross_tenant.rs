//! cross_tenant
