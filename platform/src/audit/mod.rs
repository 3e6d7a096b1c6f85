//! The append-only audit trail: every write of consequence records who did what to which target,
//! from where and when. Tenant admins read it; nobody edits it (no UPDATE or DELETE grant, and a
//! trigger refuses even the owner).

mod routes;
mod store;

use std::net::IpAddr;

use lms_tenants::TenantTx;
use serde_json::Value;

pub use routes::router;
pub use store::{AuditEvent, insert_on};

use crate::users::UserId;

/// Who performed an audited action.
#[derive(Debug, Clone, Copy)]
pub enum AuditActor {
    User(UserId),
    Operator,
    /// Not signed in (registration, password reset).
    Anonymous,
    /// An identity provider provisioning through SCIM, with the tenant's SCIM token of this id
    /// (recorded as a `system` actor).
    ScimToken(uuid::Uuid),
}

/// One audited action, recorded in the same transaction as the change it describes.
pub struct Audit {
    pub actor: AuditActor,
    pub action: &'static str,
    pub target_type: &'static str,
    pub target_id: Option<String>,
    pub ip: Option<IpAddr>,
    pub details: Value,
}

impl Audit {
    pub fn new(
        actor: AuditActor,
        action: &'static str,
        target_type: &'static str,
        target_id: impl ToString,
    ) -> Self {
        Self {
            actor,
            action,
            target_type,
            target_id: Some(target_id.to_string()),
            ip: None,
            details: Value::Object(serde_json::Map::new()),
        }
    }

    pub fn from_ip(mut self, ip: IpAddr) -> Self {
        self.ip = Some(ip);
        self
    }

    pub fn from_optional_ip(mut self, ip: Option<IpAddr>) -> Self {
        self.ip = ip;
        self
    }

    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    pub async fn record(self, tx: &mut TenantTx) -> Result<(), sqlx::Error> {
        store::insert(tx, &self).await
    }
}
