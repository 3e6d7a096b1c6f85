//! Invitations: the email that carries one, in the tenant's brand, and the inviter's
//! notification when it is accepted.

use anyhow::Context;
use lms_tenants::{Tenant, TenantTx};

use super::{compose, deliver};
use crate::email::SendEmail;
use crate::jobs::{self, Options};
use crate::state::AppState;
use crate::users::{Email, UserId};

/// Queues the invitation to `to` (named `name`) in the caller's transaction; the link (with
/// its one-time `token`) chooses a password on the tenant's host.
pub async fn invitation_email(
    state: &AppState,
    tx: &mut TenantTx,
    tenant: &Tenant,
    (to, name): (&Email, &str),
    token: &str,
) -> anyhow::Result<()> {
    let link_base = state.settings.link_base(tenant);
    let mail = super::email::invitation(
        tenant,
        &link_base,
        name,
        format!("/accept-invitation?token={token}"),
    )
    .context("rendering the invitation email")?;
    let send = SendEmail {
        to: to.as_str().to_owned(),
        subject: mail.subject,
        body: mail.text,
        html: Some(mail.html),
    };
    jobs::enqueue(tx, &send, Options::default()).await?;
    Ok(())
}

/// Tells the admin who invited `invitee` (if one did) that the invitation was accepted.
pub async fn invitation_accepted(
    state: &AppState,
    tx: &mut TenantTx,
    invitee: UserId,
    (name, email): (&str, &str),
) -> anyhow::Result<()> {
    let Some(inviter) = crate::users::store::inviter(tx, invitee).await? else {
        return Ok(());
    };
    let draft = compose::invitation_accepted(inviter, invitee, name, email);
    deliver(state, tx, None, &draft).await
}
