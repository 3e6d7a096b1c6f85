//! Certificate rules for people: tenant admins keep templates, issue and revoke; learners read
//! their own certificates.

use std::net::IpAddr;

use serde_json::json;

use super::issue::{self, Cause, NotIssued};
use super::model::{Certificate, CertificateId, CertificateView, Credit, Design, Template};
use super::store::{self, TemplateFields};
use crate::audit::{Audit, AuditActor};
use crate::auth::Caller;
use crate::courses::CourseId;
use crate::db::Cursor;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::events::{self, CertificateRevoked};
use crate::http::Page;
use crate::question_banks::in_hundredths;
use crate::state::AppState;
use crate::users::{Role, UserId};
use crate::validation::{Fields, line, prose};

/// The view of a certificate for a caller of its tenant.
fn view(state: &AppState, caller: &Caller, certificate: Certificate) -> CertificateView {
    CertificateView::new(
        certificate,
        &state.settings.link_base(&caller.tenant),
        &caller.tenant.display_name,
    )
}

/// Problem codes of this module.
pub mod codes {
    /// Neither the course nor the tenant has a certificate template.
    pub const NO_CERTIFICATE_TEMPLATE: &str = "no_certificate_template";
    /// The learner already holds a live certificate of the course.
    pub const CERTIFICATE_EXISTS: &str = "certificate_exists";
    /// The certificate is revoked already.
    pub const CERTIFICATE_REVOKED: &str = "certificate_revoked";
    /// The learner's account is not active.
    pub const USER_INACTIVE: &str = "user_inactive";
    /// The tenant has used every index of its status list.
    pub const STATUS_LIST_FULL: &str = "status_list_full";
}

const MAX_CREDIT_BODIES: usize = 20;

/// A template as a client sends it.
#[derive(Debug, Clone)]
pub struct TemplateInput {
    pub title: String,
    pub description: Option<String>,
    pub criteria: String,
    pub signatory_name: Option<String>,
    pub signatory_title: Option<String>,
    pub credit_hours: Option<f64>,
    pub credits: Vec<Credit>,
    pub min_grade_percent: Option<f64>,
    pub valid_days: Option<i64>,
    pub design: Design,
}

fn hundredths(field: &str, raw: f64, max: f64) -> Result<f64, FieldError> {
    if in_hundredths(raw) && (0.0..=max).contains(&raw) {
        Ok(raw)
    } else {
        Err(FieldError::new(
            field,
            "out_of_range",
            format!("0 to {max}, in steps of 0.01"),
        ))
    }
}

fn optional_line(field: &str, raw: Option<&str>, max: usize) -> Result<Option<String>, FieldError> {
    raw.map(|text| line(field, text, max)).transpose()
}

impl TemplateInput {
    fn parse(self) -> ApiResult<TemplateFields> {
        let mut fields = Fields::default();
        let title = fields.take(line("title", &self.title, 200));
        let description = fields.take(prose(
            "description",
            self.description.as_deref().unwrap_or_default(),
            2000,
        ));
        let criteria = fields.take(prose("criteria", &self.criteria, 2000).and_then(|text| {
            if text.trim().is_empty() {
                Err(FieldError::new(
                    "criteria",
                    "invalid_text",
                    "1 to 2000 characters",
                ))
            } else {
                Ok(text)
            }
        }));
        let signatory_name = fields.take(optional_line(
            "signatory_name",
            self.signatory_name.as_deref(),
            200,
        ));
        let signatory_title = fields.take(optional_line(
            "signatory_title",
            self.signatory_title.as_deref(),
            200,
        ));
        let credit_hours = fields.take(
            self.credit_hours
                .map(|h| hundredths("credit_hours", h, 10_000.0))
                .transpose(),
        );
        if self.credits.len() > MAX_CREDIT_BODIES {
            fields.push(FieldError::new(
                "credits",
                "too_many",
                format!("at most {MAX_CREDIT_BODIES} bodies"),
            ));
        }
        let mut credits = Vec::with_capacity(self.credits.len());
        let mut bodies: Vec<String> = Vec::with_capacity(self.credits.len());
        for (i, credit) in self.credits.iter().enumerate() {
            let body = fields.take(line(&format!("credits[{i}].body"), &credit.body, 100));
            if let Some(body) = &body {
                if bodies.contains(body) {
                    fields.push(FieldError::new(
                        format!("credits[{i}].body"),
                        "duplicate",
                        "each body once",
                    ));
                }
                bodies.push(body.clone());
            }
            let amount = fields.take(hundredths(
                &format!("credits[{i}].credits"),
                credit.credits,
                1_000.0,
            ));
            if let (Some(body), Some(credits_value)) = (body, amount) {
                credits.push(Credit {
                    body,
                    credits: credits_value,
                });
            }
        }
        let min_grade_percent = fields.take(
            self.min_grade_percent
                .map(|p| hundredths("min_grade_percent", p, 100.0))
                .transpose(),
        );
        let valid_days = fields.take(
            self.valid_days
                .map(|d| {
                    crate::validation::bounded("valid_days", d, 1, 36_500)
                        .map(|d| i32::try_from(d).unwrap_or(i32::MAX))
                })
                .transpose(),
        );
        fields.finish(|| {
            Some(TemplateFields {
                title: title?,
                description: description?,
                criteria: criteria?,
                signatory_name: signatory_name?,
                signatory_title: signatory_title?,
                credit_hours: credit_hours?,
                credits,
                min_grade_percent: min_grade_percent?,
                valid_days: valid_days?,
                design: self.design,
            })
        })
    }
}

fn audit(
    caller: UserId,
    ip: IpAddr,
    action: &'static str,
    target: &'static str,
    id: impl ToString,
) -> Audit {
    Audit::new(AuditActor::User(caller), action, target, id).from_ip(ip)
}

/// Every template of the tenant (tenant admins).
pub async fn templates(state: &AppState, caller: &Caller) -> ApiResult<Vec<Template>> {
    let (mut tx, _) = caller.begin_as(state, Role::TenantAdmin).await?;
    let found = store::templates(&mut tx).await?;
    tx.commit().await?;
    Ok(found)
}

/// The course's template, or the tenant's default (`None`) (tenant admins).
pub async fn template(
    state: &AppState,
    caller: &Caller,
    course: Option<CourseId>,
) -> ApiResult<Template> {
    let (mut tx, _) = caller.begin_as(state, Role::TenantAdmin).await?;
    let found = store::template(&mut tx, course).await?;
    tx.commit().await?;
    found.ok_or(ApiError::NotFound)
}

/// Creates or replaces a template (tenant admins). A course's must be one of the tenant's.
pub async fn save_template(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    course: Option<CourseId>,
    input: TemplateInput,
) -> ApiResult<Template> {
    let (mut tx, actor) = caller.begin_as(state, Role::TenantAdmin).await?;
    if let Some(course) = course {
        crate::courses::store::by_id(&mut tx, course)
            .await?
            .ok_or(ApiError::NotFound)?;
    }
    let fields = input.parse()?;
    let saved = store::save_template(&mut tx, course, &fields).await?;
    audit(
        actor.user_id,
        ip,
        "certificate_template.saved",
        "certificate_template",
        saved.id,
    )
    .details(json!({ "course_id": course, "title": saved.title }))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(saved)
}

/// Deletes a template (tenant admins); certificates issued with it keep what they say.
pub async fn delete_template(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    course: Option<CourseId>,
) -> ApiResult<()> {
    let (mut tx, actor) = caller.begin_as(state, Role::TenantAdmin).await?;
    let found = store::template(&mut tx, course)
        .await?
        .ok_or(ApiError::NotFound)?;
    store::delete_template(&mut tx, course).await?;
    audit(
        actor.user_id,
        ip,
        "certificate_template.deleted",
        "certificate_template",
        found.id,
    )
    .details(json!({ "course_id": course }))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Issues a certificate by hand (tenant admins): the course needs a template (its own or the
/// tenant's default); the learner's grade does not matter, completion neither.
pub async fn issue_manually(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    course: CourseId,
    user: UserId,
) -> ApiResult<CertificateView> {
    let (mut tx, actor) = caller.begin_as(state, Role::TenantAdmin).await?;
    let certificate =
        match issue::issue(state, &mut tx, course, user, Cause::Admin(actor.user_id)).await {
            Ok(certificate) => certificate,
            Err(NotIssued::Unknown) => {
                return Err(ApiError::validation(
                    "course_id",
                    "unknown_course_or_user",
                    "no such course or user in this tenant",
                ));
            }
            Err(NotIssued::NoTemplate) => {
                return Err(ApiError::Conflict {
                    code: codes::NO_CERTIFICATE_TEMPLATE,
                    detail: "neither the course nor the tenant has a certificate template".into(),
                });
            }
            Err(NotIssued::AlreadyHeld(_) | NotIssued::EventUsed) => {
                return Err(ApiError::Conflict {
                    code: codes::CERTIFICATE_EXISTS,
                    detail: "the learner holds a live certificate of this course".into(),
                });
            }
            Err(NotIssued::Inactive) => {
                return Err(ApiError::Conflict {
                    code: codes::USER_INACTIVE,
                    detail: "the learner's account is not active".into(),
                });
            }
            Err(NotIssued::StatusListFull) => {
                return Err(ApiError::Conflict {
                    code: codes::STATUS_LIST_FULL,
                    detail: "the tenant has issued as many certificates as its status list holds"
                        .into(),
                });
            }
            Err(NotIssued::BelowMinimumGrade { .. }) => {
                return Err(ApiError::Internal(anyhow::anyhow!(
                    "the grade rule applied to a manual issuance"
                )));
            }
            Err(NotIssued::Failed(err)) => return Err(ApiError::Internal(err)),
        };
    audit(
        actor.user_id,
        ip,
        "certificate.issued",
        "certificate",
        certificate.id,
    )
    .details(json!({ "course_id": course, "user_id": user }))
    .record(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(view(state, caller, certificate))
}

/// Revokes a certificate with a reason (tenant admins). Its status-list bit is set from now on.
pub async fn revoke(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    id: CertificateId,
    reason: &str,
) -> ApiResult<CertificateView> {
    let reason = line("reason", reason, 500).map_err(|e| ApiError::Validation(vec![e]))?;
    let (mut tx, actor) = caller.begin_as(state, Role::TenantAdmin).await?;
    let Some(revoked) = store::revoke(&mut tx, id, actor.user_id, &reason).await? else {
        store::get(&mut tx, id).await?.ok_or(ApiError::NotFound)?;
        return Err(ApiError::Conflict {
            code: codes::CERTIFICATE_REVOKED,
            detail: "the certificate is revoked already".into(),
        });
    };
    let revoked_at = revoked.revoked_at.unwrap_or_else(chrono::Utc::now);
    events::emit(
        &mut tx,
        &CertificateRevoked {
            certificate_id: id,
            course_id: revoked.course_id,
            user_id: revoked.user_id,
            reason: reason.clone(),
            revoked_at,
        },
    )
    .await?;
    audit(actor.user_id, ip, "certificate.revoked", "certificate", id)
        .details(json!({ "reason": reason }))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(view(state, caller, revoked))
}

/// A certificate, for its holder or a tenant admin (404 for anyone else), in the caller's
/// transaction (open).
async fn readable(
    state: &AppState,
    caller: &Caller,
    id: CertificateId,
) -> ApiResult<(lms_tenants::TenantTx, Certificate)> {
    let (mut tx, actor) = caller.begin(state).await?;
    let found = store::get(&mut tx, id).await?.ok_or(ApiError::NotFound)?;
    if found.user_id != actor.user_id && !actor.roles.contains(Role::TenantAdmin) {
        return Err(ApiError::NotFound);
    }
    Ok((tx, found))
}

/// A certificate, for its holder or a tenant admin.
pub async fn get(
    state: &AppState,
    caller: &Caller,
    id: CertificateId,
) -> ApiResult<CertificateView> {
    let (tx, found) = readable(state, caller, id).await?;
    tx.commit().await?;
    Ok(view(state, caller, found))
}

/// The signed Open Badges credential (JSON-LD with its proof), for its holder or an admin.
pub async fn credential(
    state: &AppState,
    caller: &Caller,
    id: CertificateId,
) -> ApiResult<serde_json::Value> {
    let (mut tx, _) = readable(state, caller, id).await?;
    let signed = store::credential(&mut tx, id).await?;
    tx.commit().await?;
    signed.ok_or(ApiError::NotFound)
}

/// The credential as a VC-JWT signed by the tenant's current issuer key.
pub async fn credential_jwt(
    state: &AppState,
    caller: &Caller,
    id: CertificateId,
) -> ApiResult<String> {
    let (mut tx, _) = readable(state, caller, id).await?;
    let signed = store::credential(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let key = super::keys::current(&mut tx, &state.sealing).await?;
    tx.commit().await?;
    let issuer = super::credential::Issuer::of(&state.settings, &caller.tenant);
    let method = super::did::verification_method(&issuer.did, key.id);
    Ok(super::jwt::encode(&signed, &method, &key.signing)?)
}

/// The tenant's certificates, newest first (tenant admins), of a course and/or a learner.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    course: Option<CourseId>,
    user: Option<UserId>,
    cursor: Option<Cursor>,
    limit: i64,
) -> ApiResult<Page<CertificateView>> {
    let (mut tx, _) = caller.begin_as(state, Role::TenantAdmin).await?;
    let rows = store::list(&mut tx, course, user, cursor, limit).await?;
    tx.commit().await?;
    let page = Page::from_rows(rows, limit, |c: &Certificate| c.id.0);
    Ok(Page {
        items: page
            .items
            .into_iter()
            .map(|c| view(state, caller, c))
            .collect(),
        next_cursor: page.next_cursor,
    })
}

/// The caller's own certificates, newest first.
pub async fn mine(
    state: &AppState,
    caller: &Caller,
    cursor: Option<Cursor>,
    limit: i64,
) -> ApiResult<Page<CertificateView>> {
    let (mut tx, actor) = caller.begin(state).await?;
    let rows = store::list(&mut tx, None, Some(actor.user_id), cursor, limit).await?;
    tx.commit().await?;
    let page = Page::from_rows(rows, limit, |c: &Certificate| c.id.0);
    Ok(Page {
        items: page
            .items
            .into_iter()
            .map(|c| view(state, caller, c))
            .collect(),
        next_cursor: page.next_cursor,
    })
}

/// The certificate's PDF, for its holder or an admin.
pub async fn pdf(state: &AppState, caller: &Caller, id: CertificateId) -> ApiResult<Vec<u8>> {
    let (tx, found) = readable(state, caller, id).await?;
    tx.commit().await?;
    let tenant = caller.tenant.clone();
    let link_base = state.settings.link_base(&tenant);
    let rendered = tokio::task::spawn_blocking(move || {
        let verification_url = format!("{link_base}/verify/{}", found.id);
        super::pdf::render(
            &found,
            &super::pdf::Provider {
                name: &tenant.display_name,
                primary_color: tenant.branding.primary_color.as_deref(),
                verification_url: &verification_url,
            },
        )
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))?;
    rendered.map_err(|e| ApiError::Internal(e.into()))
}
