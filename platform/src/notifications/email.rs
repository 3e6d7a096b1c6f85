//! A notification as an email from the user's tenant.

use lms_tenants::Tenant;

use super::compose::Draft;

/// A rendered message.
pub struct Mail {
    pub subject: String,
    pub text: String,
}

/// The email for `draft`, signed by the tenant, with the link on the tenant's own host and the
/// way to stop such emails.
pub fn render(
    tenant: &Tenant,
    link_base: &str,
    recipient: &str,
    draft: &Draft,
) -> anyhow::Result<Mail> {
    let mut text = format!("Hello {recipient},\n\n{}\n", draft.title);
    if !draft.body.is_empty() {
        text.push_str(&format!("{}\n", draft.body));
    }
    if let Some(link) = &draft.link {
        text.push_str(&format!("\nOpen it: {link_base}{link}\n"));
    }
    text.push_str(&format!(
        "\n{}\nChoose which notifications you receive by email: {link_base}/settings/notifications\n",
        tenant.display_name
    ));
    Ok(Mail {
        subject: format!("{}: {}", tenant.display_name, draft.title),
        text,
    })
}
