//! Seats: every account of a tenant that is not deactivated (active or invited) holds one. The
//! plan's `max_active_learners` bounds them. Whatever creates or reactivates an account
//! (invitation, registration, SCIM, CSV import, SSO sign-up, reactivation) calls [`take`] first,
//! in the transaction that then writes the account; enrolment calls [`ensure_within_limit`].

use lms_tenants::TenantTx;

use super::access::Access;
use super::{Billing, store};
use crate::error::{ApiError, ApiResult};

pub const SEAT_LIMIT_REACHED: &str = "seat_limit_reached";

/// Takes a seat for one account about to be created or reactivated in `tx`: 409
/// `seat_limit_reached` when the plan's seats are all taken, 403 `billing_read_only` when the
/// subscription is unpaid or canceled. The seat lock is held until `tx` ends, so concurrent
/// callers count one after another and never take more than the limit.
pub async fn take(tx: &mut TenantTx, billing: &Billing) -> ApiResult<()> {
    store::lock_seats(tx).await?;
    let access = Access::of(tx, billing).await?;
    access.refuse_if_read_only()?;
    if let Some(max) = access.entitlements.max_active_learners {
        let tenant = tx.tenant_id();
        let used = store::seats_used(tx, tenant).await?;
        if used >= i64::from(max) {
            return Err(limit_reached(max));
        }
    }
    Ok(())
}

/// Enrolment works while the tenant is not read-only and holds no more seats than its plan
/// includes (after a downgrade it may hold more until accounts are deactivated).
pub async fn ensure_within_limit(tx: &mut TenantTx, billing: &Billing) -> ApiResult<()> {
    let access = Access::of(tx, billing).await?;
    access.refuse_if_read_only()?;
    if let Some(max) = access.entitlements.max_active_learners {
        let tenant = tx.tenant_id();
        let used = store::seats_used(tx, tenant).await?;
        if used > i64::from(max) {
            return Err(ApiError::Conflict {
                code: SEAT_LIMIT_REACHED,
                detail: format!(
                    "the organisation has {used} active accounts and its plan includes {max}: \
                     deactivate accounts or upgrade the plan to enrol again"
                ),
            });
        }
    }
    Ok(())
}

/// Seats the tenant holds now.
pub async fn used(tx: &mut TenantTx) -> ApiResult<i64> {
    let tenant = tx.tenant_id();
    Ok(store::seats_used(tx, tenant).await?)
}

fn limit_reached(max: i32) -> ApiError {
    ApiError::Conflict {
        code: SEAT_LIMIT_REACHED,
        detail: format!(
            "all {max} seats of the organisation's plan are taken: deactivate an account or \
             upgrade the plan"
        ),
    }
}
