//! Certificates, templates and issuer keys as stored and as the API shows them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::courses::CourseId;
use crate::users::UserId;

entity_id!(
    /// A certificate's identifier; also the last segment of its public verification URL.
    CertificateId
);

entity_id!(
    /// A certificate template's identifier.
    TemplateId
);

entity_id!(
    /// One of a tenant's Ed25519 issuer keys.
    IssuerKeyId
);

/// How a certificate came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CertificateSource {
    /// Issued by the platform when the learner completed the course.
    Automatic,
    /// Issued by a tenant admin.
    Manual,
}

text_enum!(CertificateSource {
    Automatic => "automatic",
    Manual => "manual",
});

/// The layout of the PDF and the verification page (in the tenant's branding either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Design {
    /// A bordered landscape page with the signatory's line.
    #[default]
    Classic,
    /// A plain page with a coloured band.
    Modern,
}

text_enum!(Design {
    Classic => "classic",
    Modern => "modern",
});

/// Credits a continuing-education body grants for the course.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credit {
    /// The accrediting body, e.g. `PMI` or `ISC2`.
    #[schema(min_length = 1, max_length = 100)]
    pub body: String,
    /// 0 to 1,000, in steps of 0.01.
    #[schema(minimum = 0, maximum = 1000)]
    pub credits: f64,
}

/// What a course's certificates say, or the tenant's default (no course).
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Template {
    pub id: TemplateId,
    /// Absent for the tenant's default template.
    pub course_id: Option<CourseId>,
    pub title: String,
    pub description: String,
    pub criteria: String,
    pub signatory_name: Option<String>,
    pub signatory_title: Option<String>,
    pub credit_hours: Option<f64>,
    #[schema(value_type = Vec<Credit>)]
    pub credits: sqlx::types::Json<Vec<Credit>>,
    /// Only learners whose final course grade reaches this percentage receive one.
    pub min_grade_percent: Option<f64>,
    /// Certificates expire this many days after issuance; absent: never.
    pub valid_days: Option<i32>,
    pub design: Design,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Whether a certificate holds, as anyone verifying it would find.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CertificateStatus {
    Valid,
    Revoked,
    Expired,
}

/// A certificate as its holder and the tenant's admins see it.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Certificate {
    pub id: CertificateId,
    pub course_id: CourseId,
    pub user_id: UserId,
    pub source: CertificateSource,
    pub recipient_name: String,
    pub course_title: String,
    /// The achievement's name.
    pub title: String,
    pub description: String,
    pub criteria: String,
    pub signatory_name: Option<String>,
    pub signatory_title: Option<String>,
    pub credit_hours: Option<f64>,
    #[schema(value_type = Vec<Credit>)]
    pub credits: sqlx::types::Json<Vec<Credit>>,
    /// The final course grade when it was issued (courses with assessments).
    pub grade_percent: Option<f64>,
    pub design: Design,
    pub issued_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revocation_reason: Option<String>,
    /// Its bit in the tenant's Bitstring Status List.
    #[serde(skip)]
    pub status_index: i32,
}

impl Certificate {
    /// Revoked wins over expired: a revoked certificate stays revoked.
    pub fn status_at(&self, now: DateTime<Utc>) -> CertificateStatus {
        if self.revoked_at.is_some() {
            CertificateStatus::Revoked
        } else if self.expires_at.is_some_and(|at| at <= now) {
            CertificateStatus::Expired
        } else {
            CertificateStatus::Valid
        }
    }
}

/// A certificate with its current status and the links its holder shares.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CertificateView {
    #[serde(flatten)]
    pub certificate: Certificate,
    pub status: CertificateStatus,
    /// The public verification page (also JSON for machines): the share link.
    pub verification_url: String,
    /// LinkedIn's "add to profile" link for this certification (months counted from 1).
    pub linkedin_url: String,
}

impl CertificateView {
    /// `link_base` is where the tenant's users open links; `organization` its name.
    pub fn new(certificate: Certificate, link_base: &str, organization: &str) -> Self {
        let status = certificate.status_at(Utc::now());
        let verification_url = format!("{link_base}/verify/{}", certificate.id);
        let linkedin_url = linkedin_url(&certificate, organization, &verification_url);
        Self {
            certificate,
            status,
            verification_url,
            linkedin_url,
        }
    }
}

/// `https://www.linkedin.com/profile/add?startTask=CERTIFICATION_NAME&…`, with the issue (and
/// expiry) month counted from 1, as LinkedIn reads it.
pub fn linkedin_url(certificate: &Certificate, organization: &str, cert_url: &str) -> String {
    use chrono::Datelike;
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("startTask", "CERTIFICATION_NAME")
        .append_pair("name", &certificate.title)
        .append_pair("organizationName", organization)
        .append_pair("issueYear", &certificate.issued_at.year().to_string())
        .append_pair("issueMonth", &certificate.issued_at.month().to_string());
    if let Some(expires) = certificate.expires_at {
        query
            .append_pair("expirationYear", &expires.year().to_string())
            .append_pair("expirationMonth", &expires.month().to_string());
    }
    query
        .append_pair("certUrl", cert_url)
        .append_pair("certId", &certificate.id.to_string());
    format!("https://www.linkedin.com/profile/add?{}", query.finish())
}
