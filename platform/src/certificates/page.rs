//! The human verification page: the verdict and what the credential states, in the issuing
//! tenant's branding (colours and logo). Every value is HTML-escaped by the template engine.

use std::sync::LazyLock;

use lms_tenants::Branding;
use minijinja::{Environment, context};

use super::public::CertificateVerification;
use super::verify::Verdict;
use crate::error::ApiError;

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    if let Err(err) = env.add_template("verify.html", include_str!("templates/verify.html")) {
        // Part of the binary: the certificates tests render it.
        tracing::error!(error = %err, "verification page template");
    }
    env
});

fn label(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Valid => "Valid certificate",
        Verdict::Revoked => "Revoked by its issuer",
        Verdict::Expired => "Expired",
        Verdict::NotYetValid => "Not yet valid",
        Verdict::Invalid => "Not a valid certificate",
    }
}

/// `#rrggbb` colours only (the branding validates them; this keeps the style sheet safe anyway).
fn colour(value: Option<&String>, default: &'static str) -> String {
    value
        .filter(|c| {
            c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|h| h.is_ascii_hexdigit())
        })
        .cloned()
        .unwrap_or_else(|| default.to_owned())
}

pub fn render(
    answer: &CertificateVerification,
    branding: Option<&Branding>,
) -> Result<String, ApiError> {
    let summary = &answer.verification.credential;
    let verdict = answer.verification.verdict;
    let template = TEMPLATES
        .get_template("verify.html")
        .map_err(|e| ApiError::Internal(e.into()))?;
    template
        .render(context! {
            verdict => serde_json::to_value(verdict).ok(),
            verdict_label => label(verdict),
            title => summary.title,
            description => summary.description,
            criteria => summary.criteria,
            recipient_name => summary.recipient_name,
            issuer_name => summary.issuer_name,
            issuer_id => summary.issuer_id,
            valid_from => summary.valid_from,
            valid_until => summary.valid_until,
            credit_hours => summary.credit_hours,
            certificate_id => answer.certificate_id.to_string(),
            checks => answer.verification.checks,
            primary => colour(branding.and_then(|b| b.primary_color.as_ref()), "#1f3a5f"),
            accent => colour(branding.and_then(|b| b.accent_color.as_ref()), "#1f3a5f"),
            logo_url => branding.and_then(|b| b.logo_url.clone()).filter(|u| u.starts_with("https://")),
        })
        .map_err(|e| ApiError::Internal(e.into()))
}
