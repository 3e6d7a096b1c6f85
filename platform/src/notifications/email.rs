//! Notifications as email from the user's tenant: its name, colours and logo, links on its own
//! host, the way to stop such emails. One template pair (HTML, auto-escaped, and plain text)
//! serves a single notification and the daily digest.

use std::sync::LazyLock;

use lms_tenants::Tenant;
use minijinja::value::Value;
use minijinja::{Environment, context};
use serde::Serialize;

use super::compose::Draft;

/// A rendered message.
#[derive(Debug)]
pub struct Mail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Colours when the tenant has none (or, defensively, one that is not `#rrggbb`).
const DEFAULT_PRIMARY: &str = "#1f3a5f";
const DEFAULT_ACCENT: &str = "#2f6fdf";

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    // `.html` templates escape every value; `.txt` ones do not.
    for (name, source) in [
        ("email.html", include_str!("templates/email.html")),
        ("email.txt", include_str!("templates/email.txt")),
    ] {
        if let Err(err) = env.add_template(name, source) {
            // The templates are part of the binary: a unit test renders both.
            tracing::error!(template = name, error = %err, "notification email template");
        }
    }
    env
});

/// What the templates know of the tenant.
#[derive(Serialize)]
struct Brand<'a> {
    name: &'a str,
    primary_color: &'a str,
    accent_color: &'a str,
    logo_url: Option<Value>,
    support_email: Option<&'a str>,
}

impl<'a> Brand<'a> {
    fn of(tenant: &'a Tenant) -> Self {
        let colour = |c: &'a Option<String>, default: &'static str| {
            c.as_deref().filter(|c| is_hex_colour(c)).unwrap_or(default)
        };
        let branding = &tenant.branding;
        Self {
            name: &tenant.display_name,
            primary_color: colour(&branding.primary_color, DEFAULT_PRIMARY),
            accent_color: colour(&branding.accent_color, DEFAULT_ACCENT),
            logo_url: branding
                .logo_url
                .as_deref()
                .filter(|u| u.starts_with("https://"))
                .map(url),
            support_email: branding.support_email.as_deref(),
        }
    }
}

/// A URL for an attribute: the characters HTML gives a meaning to are escaped, the rest left
/// as written (the templates' escaping would also turn every `/` into `&#x2f;`, which some
/// mail filters hold against a message).
fn url(raw: &str) -> Value {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Value::from_safe_string(out)
}

fn is_hex_colour(c: &str) -> bool {
    c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|d| d.is_ascii_hexdigit())
}

/// One notification in a message.
#[derive(Serialize)]
struct Item<'a> {
    title: &'a str,
    body: &'a str,
    /// Absolute, on the tenant's host.
    url: Option<Value>,
}

/// The message for a list of notifications.
pub struct Message<'a> {
    pub tenant: &'a Tenant,
    /// Where the tenant's users open links (`Settings::link_base`).
    pub link_base: &'a str,
    pub recipient: &'a str,
    pub subject: String,
    pub intro: Option<String>,
    pub notifications: &'a [Draft],
    /// Notifications left out of the list.
    pub more: usize,
    /// The label of each notification's link button.
    pub action: &'a str,
    /// Whether the user's preferences sent it (it then says where to change them); an
    /// invitation is not such an email.
    pub by_preference: bool,
}

impl Message<'_> {
    pub fn render(&self) -> Result<Mail, minijinja::Error> {
        let items: Vec<Item<'_>> = self
            .notifications
            .iter()
            .map(|n| Item {
                title: &n.title,
                body: &n.body,
                url: n
                    .link
                    .as_ref()
                    .map(|l| url(&format!("{}{l}", self.link_base))),
            })
            .collect();
        let ctx = context! {
            tenant => Brand::of(self.tenant),
            recipient => self.recipient,
            subject => &self.subject,
            intro => &self.intro,
            notifications => items,
            more => self.more,
            action => self.action,
            preferences_url => self
                .by_preference
                .then(|| url(&format!("{}/settings/notifications", self.link_base))),
        };
        Ok(Mail {
            subject: self.subject.clone(),
            text: TEMPLATES.get_template("email.txt")?.render(&ctx)?,
            html: TEMPLATES.get_template("email.html")?.render(&ctx)?,
        })
    }
}

/// The email for one notification.
pub fn single(
    tenant: &Tenant,
    link_base: &str,
    recipient: &str,
    draft: &Draft,
) -> Result<Mail, minijinja::Error> {
    Message {
        tenant,
        link_base,
        recipient,
        subject: format!("{}: {}", tenant.display_name, draft.title),
        intro: None,
        notifications: std::slice::from_ref(draft),
        more: 0,
        action: "Open",
        by_preference: true,
    }
    .render()
}

/// The invitation to join `tenant`: `accept_path` (on the tenant's host) chooses a password.
pub fn invitation(
    tenant: &Tenant,
    link_base: &str,
    recipient: &str,
    accept_path: String,
) -> Result<Mail, minijinja::Error> {
    let invitation = Draft {
        user: crate::users::UserId::default(),
        kind: super::NotificationKind::InvitationAccepted,
        title: format!("You are invited to {}", tenant.display_name),
        body: "Choose your password to sign in. The link works once, for seven days.".to_owned(),
        link: Some(accept_path),
        subject: None,
    };
    Message {
        tenant,
        link_base,
        recipient,
        subject: invitation.title.clone(),
        intro: None,
        notifications: std::slice::from_ref(&invitation),
        more: 0,
        action: "Choose your password",
        by_preference: false,
    }
    .render()
}

#[cfg(test)]
mod tests {
    use lms_tenants::{Branding, Slug, TenantId, TenantSettings, TenantStatus};

    use super::*;
    use crate::notifications::NotificationKind;
    use crate::users::UserId;

    fn tenant(branding: Branding) -> Tenant {
        Tenant {
            id: TenantId::new(),
            slug: Slug::parse("acme").expect("slug"),
            display_name: "Acme <Training>".to_owned(),
            status: TenantStatus::Active,
            branding,
            settings: TenantSettings::default(),
            domains: Vec::new(),
            created_at: chrono::Utc::now(),
        }
    }

    fn draft(title: &str) -> Draft {
        Draft {
            user: UserId::default(),
            kind: NotificationKind::Enrolled,
            title: title.to_owned(),
            body: String::new(),
            link: Some("/courses/1".to_owned()),
            subject: None,
        }
    }

    #[test]
    fn the_email_wears_the_tenants_brand_and_escapes_what_users_wrote() {
        let acme = tenant(Branding {
            logo_url: Some("https://cdn.acme.example/logo.png".to_owned()),
            primary_color: Some("#112233".to_owned()),
            accent_color: Some("red;background:url(x)".to_owned()),
            support_email: Some("help@acme.example".to_owned()),
            theme: Default::default(),
        });
        let mail = single(
            &acme,
            "https://acme.lms.test",
            "Ada",
            &draft("You were enrolled in <script>alert(1)</script>"),
        )
        .expect("renders");
        assert_eq!(
            mail.subject,
            "Acme <Training>: You were enrolled in <script>alert(1)</script>"
        );
        assert!(mail.html.contains("background:#112233"), "{}", mail.html);
        // A colour that is not #rrggbb never reaches the style attribute.
        assert!(mail.html.contains(DEFAULT_ACCENT), "{}", mail.html);
        assert!(!mail.html.contains("url(x)"), "{}", mail.html);
        assert!(
            mail.html
                .contains(r#"src="https://cdn.acme.example/logo.png""#)
        );
        assert!(mail.html.contains("Acme &lt;Training&gt;"), "{}", mail.html);
        assert!(!mail.html.contains("<script>"), "{}", mail.html);
        assert!(mail.html.contains("https://acme.lms.test/courses/1"));
        assert!(mail.html.contains("help@acme.example"));
        assert!(mail.text.contains("Hello Ada,"), "{}", mail.text);
        assert!(
            mail.text
                .contains("You were enrolled in <script>alert(1)</script>"),
            "plain text is not escaped: {}",
            mail.text
        );
        assert!(mail.text.contains("Open: https://acme.lms.test/courses/1"));
        assert!(
            mail.text
                .contains("https://acme.lms.test/settings/notifications")
        );
    }

    #[test]
    fn without_a_logo_the_tenants_name_heads_the_email() {
        let mail = single(
            &tenant(Branding::default()),
            "https://x.test",
            "Ada",
            &draft("Hi"),
        )
        .expect("renders");
        assert!(mail.html.contains(DEFAULT_PRIMARY));
        assert!(!mail.html.contains("<img"));
        assert!(
            mail.html.contains(">Acme &lt;Training&gt;</span>"),
            "{}",
            mail.html
        );
    }
}
