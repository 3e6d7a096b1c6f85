//! Who a service call acts for. The HTTP layer builds a [`Caller`] from a verified access token
//! ([`super::Authenticated`] dereferences to one); the demo seed and background work build one
//! directly for a user they have read from the database. Services take `&Caller`, never the
//! token, and open their transaction with [`Caller::begin`], which also confirms the user.

use lms_tenants::{Tenant, TenantTx};

use super::Actor;
use crate::error::ApiResult;
use crate::state::AppState;
use crate::users::{Role, UserId};

/// A user of a tenant at the session epoch their credential was issued at.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant: Tenant,
    pub user: UserId,
    /// The user's session epoch when the credential was issued; a password, role or status
    /// change moves the user's epoch on and so ends this caller's rights.
    pub epoch: i32,
    /// The login session (refresh-token family) the call belongs to.
    pub session: uuid::Uuid,
}

impl Caller {
    /// A caller for a user read from the database just now, in a session of its own: what the
    /// demo seed and jobs act as.
    pub fn for_user(tenant: Tenant, user: UserId, epoch: i32) -> Self {
        Self {
            tenant,
            user,
            epoch,
            session: uuid::Uuid::now_v7(),
        }
    }

    /// Opens the tenant's transaction and confirms the caller there ([`Actor::load`]): 401 for a
    /// user who is no longer active or whose session epoch has moved on.
    pub async fn begin(&self, state: &AppState) -> ApiResult<(TenantTx, Actor)> {
        let mut tx = state.db.begin(self.tenant.id).await?;
        let actor = Actor::load(&mut tx, self).await?;
        Ok((tx, actor))
    }

    /// [`Caller::begin`] for a caller who must hold `role` (403 otherwise).
    pub async fn begin_as(&self, state: &AppState, role: Role) -> ApiResult<(TenantTx, Actor)> {
        let (tx, actor) = self.begin(state).await?;
        actor.require(role)?;
        Ok((tx, actor))
    }

    /// Opens the tenant's transaction without confirming the caller: for statements that carry
    /// the check themselves ([`super::session_is_current`]) and fall back on [`Actor::load`].
    pub async fn begin_unconfirmed(&self, state: &AppState) -> ApiResult<TenantTx> {
        Ok(state.db.begin(self.tenant.id).await?)
    }
}
