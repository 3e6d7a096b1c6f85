//! Issuing a certificate, in the caller's transaction: the rules, the snapshot of what it says,
//! its status-list index, the signed credential and the `certificate.issued` event commit
//! together.

use chrono::{TimeDelta, Utc};
use lms_tenants::TenantTx;

use super::credential::{self, Claims, Issuer};
use super::model::{Certificate, CertificateId, CertificateSource};
use super::store::{self, NewCertificate};
use super::{did, keys, proof};
use crate::courses::CourseId;
use crate::events::{self, CertificateIssued, EventId};
use crate::state::AppState;
use crate::users::{UserId, UserStatus};

/// Bits in a tenant's Bitstring Status List (16 KiB, the specification's minimum for privacy).
pub const STATUS_LIST_LENGTH: i32 = 131_072;

/// Who or what asks for the certificate.
#[derive(Debug, Clone, Copy)]
pub enum Cause {
    /// The learner's completion of the course (the event that said so).
    Completion(EventId),
    /// A tenant admin, who may issue regardless of the grade rule.
    Admin(UserId),
}

/// Why no certificate was issued.
#[derive(Debug, thiserror::Error)]
pub enum NotIssued {
    #[error("neither the course nor the tenant has a certificate template")]
    NoTemplate,
    #[error("the course or the learner is not the tenant's")]
    Unknown,
    #[error("the learner's account is not active")]
    Inactive,
    #[error("the learner holds a live certificate of this course")]
    AlreadyHeld(CertificateId),
    #[error("the completion event issued its certificate already")]
    EventUsed,
    #[error("the final grade {grade:?} is below the template's minimum {minimum}")]
    BelowMinimumGrade { grade: Option<f64>, minimum: f64 },
    #[error("the tenant's status list is full")]
    StatusListFull,
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

impl From<sqlx::Error> for NotIssued {
    fn from(err: sqlx::Error) -> Self {
        Self::Failed(err.into())
    }
}

impl From<crate::error::ApiError> for NotIssued {
    fn from(err: crate::error::ApiError) -> Self {
        Self::Failed(anyhow::anyhow!("{err}"))
    }
}

/// Issues `user`'s certificate of `course` in `tx` (not committed).
pub async fn issue(
    state: &AppState,
    tx: &mut TenantTx,
    course: CourseId,
    user: UserId,
    cause: Cause,
) -> Result<Certificate, NotIssued> {
    if let Cause::Completion(event) = cause
        && store::issued_by_event(tx, event).await?
    {
        return Err(NotIssued::EventUsed);
    }
    let template = store::template_for(tx, course)
        .await?
        .ok_or(NotIssued::NoTemplate)?;
    let parties = store::parties(tx, course, user)
        .await?
        .ok_or(NotIssued::Unknown)?;
    if parties.recipient_status != UserStatus::Active {
        return Err(NotIssued::Inactive);
    }
    if let Some(held) = store::live(tx, course, user).await? {
        return Err(NotIssued::AlreadyHeld(held));
    }
    let grade = crate::gradebook::final_percent(tx, course, user).await?;
    if let (Cause::Completion(_), Some(minimum)) = (cause, template.min_grade_percent)
        && grade.is_none_or(|g| g < minimum)
    {
        return Err(NotIssued::BelowMinimumGrade { grade, minimum });
    }
    let id = CertificateId::default();
    // Whole seconds: the credential's dates are `xsd:dateTime` without fractions.
    let issued_at =
        chrono::DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap_or_else(Utc::now);
    let expires_at = template
        .valid_days
        .map(|days| issued_at + TimeDelta::days(i64::from(days)));
    let key = keys::current(tx, &state.sealing).await?;
    let tenant_id = tx.tenant_id();
    let tenant = lms_tenants::registry::by_id(tx, tenant_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the tenant is gone"))?;
    let issuer = Issuer::of(&state.settings, &tenant);
    // Taken last: the row lock on the tenant's counter is held until commit.
    let status_index = store::next_status_index(tx).await?;
    if status_index >= STATUS_LIST_LENGTH {
        return Err(NotIssued::StatusListFull);
    }
    let unsigned = credential::unsigned(
        &issuer,
        &Claims {
            id,
            course,
            title: &template.title,
            description: &template.description,
            criteria: &template.criteria,
            credit_hours: template.credit_hours,
            recipient_name: &parties.recipient_name,
            recipient_email: &parties.recipient_email,
            issued_at,
            expires_at,
            status_index,
        },
    );
    let signed = proof::sign(
        &unsigned,
        &did::verification_method(&issuer.did, key.id),
        issued_at,
        &key.signing,
    )
    .map_err(|err| anyhow::anyhow!("signing the credential: {err}"))?;
    let (source, event, issued_by) = match cause {
        Cause::Completion(event) => (CertificateSource::Automatic, Some(event), None),
        Cause::Admin(admin) => (CertificateSource::Manual, None, Some(admin)),
    };
    let new = NewCertificate {
        id,
        course,
        user,
        source,
        event,
        issued_by,
        parties: &parties,
        template: &template,
        grade_percent: grade,
        issued_at,
        expires_at,
        status_index,
        key: Some(key.id),
        credential: Some(&signed),
    };
    let certificate = store::insert(tx, &new).await?.ok_or(match cause {
        Cause::Completion(_) => NotIssued::EventUsed,
        Cause::Admin(_) => NotIssued::AlreadyHeld(id),
    })?;
    events::emit(
        tx,
        &CertificateIssued {
            certificate_id: certificate.id,
            course_id: course,
            user_id: user,
            source,
            issued_at,
            expires_at,
        },
    )
    .await?;
    Ok(certificate)
}
