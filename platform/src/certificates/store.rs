//! All SQL on certificate templates, certificates and status-list indexes.

use chrono::{DateTime, Utc};
use lms_tenants::TenantTx;

use super::model::{
    Certificate, CertificateId, CertificateSource, Credit, Design, IssuerKeyId, Template,
    TemplateId,
};
use crate::courses::CourseId;
use crate::db::Cursor;
use crate::events::EventId;
use crate::users::{UserId, UserStatus};

const TEMPLATE_COLUMNS: &str = "id, course_id, title, description, criteria, signatory_name, \
     signatory_title, credit_hours::float8 as credit_hours, credits, \
     min_grade_percent::float8 as min_grade_percent, valid_days, design, created_at, updated_at";

const CERTIFICATE_COLUMNS: &str = "id, course_id, user_id, source, recipient_name, course_title, \
     title, description, criteria, signatory_name, signatory_title, \
     credit_hours::float8 as credit_hours, credits, grade_percent::float8 as grade_percent, design, \
     issued_at, expires_at, revoked_at, revocation_reason, status_index";

/// A template's fields as saved.
#[derive(Debug, Clone)]
pub struct TemplateFields {
    pub title: String,
    pub description: String,
    pub criteria: String,
    pub signatory_name: Option<String>,
    pub signatory_title: Option<String>,
    pub credit_hours: Option<f64>,
    pub credits: Vec<Credit>,
    pub min_grade_percent: Option<f64>,
    pub valid_days: Option<i32>,
    pub design: Design,
}

/// The tenant's templates: the default first, then the courses'.
pub async fn templates(tx: &mut TenantTx) -> Result<Vec<Template>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {TEMPLATE_COLUMNS} from certificate_templates where tenant_id = $1
         order by course_id nulls first, id limit 10000"
    ))
    .bind(tx.tenant_id())
    .fetch_all(&mut **tx)
    .await
}

/// The course's own template (`Some(course)`) or the tenant's default (`None`).
pub async fn template(
    tx: &mut TenantTx,
    course: Option<CourseId>,
) -> Result<Option<Template>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {TEMPLATE_COLUMNS} from certificate_templates
         where tenant_id = $1 and course_id is not distinct from $2"
    ))
    .bind(tx.tenant_id())
    .bind(course)
    .fetch_optional(&mut **tx)
    .await
}

/// The template a course's certificates follow: its own, else the tenant's default.
pub async fn template_for(
    tx: &mut TenantTx,
    course: CourseId,
) -> Result<Option<Template>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {TEMPLATE_COLUMNS} from certificate_templates
         where tenant_id = $1 and (course_id = $2 or course_id is null)
         order by course_id nulls last limit 1"
    ))
    .bind(tx.tenant_id())
    .bind(course)
    .fetch_optional(&mut **tx)
    .await
}

/// Creates or replaces the course's (or the default) template.
pub async fn save_template(
    tx: &mut TenantTx,
    course: Option<CourseId>,
    fields: &TemplateFields,
) -> Result<Template, sqlx::Error> {
    sqlx::query_as(&format!(
        "insert into certificate_templates (tenant_id, id, course_id, title, description, criteria,
             signatory_name, signatory_title, credit_hours, credits, min_grade_percent, valid_days,
             design)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         on conflict (tenant_id, course_id) do update set
             title = excluded.title, description = excluded.description,
             criteria = excluded.criteria, signatory_name = excluded.signatory_name,
             signatory_title = excluded.signatory_title, credit_hours = excluded.credit_hours,
             credits = excluded.credits, min_grade_percent = excluded.min_grade_percent,
             valid_days = excluded.valid_days, design = excluded.design
         returning {TEMPLATE_COLUMNS}"
    ))
    .bind(tx.tenant_id())
    .bind(TemplateId::default())
    .bind(course)
    .bind(&fields.title)
    .bind(&fields.description)
    .bind(&fields.criteria)
    .bind(&fields.signatory_name)
    .bind(&fields.signatory_title)
    .bind(fields.credit_hours)
    .bind(sqlx::types::Json(&fields.credits))
    .bind(fields.min_grade_percent)
    .bind(fields.valid_days)
    .bind(fields.design)
    .fetch_one(&mut **tx)
    .await
}

pub async fn delete_template(
    tx: &mut TenantTx,
    course: Option<CourseId>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "delete from certificate_templates
         where tenant_id = $1 and course_id is not distinct from $2",
    )
    .bind(tx.tenant_id())
    .bind(course)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// What a certificate names about its course and learner.
#[derive(Debug, sqlx::FromRow)]
pub struct Parties {
    pub course_title: String,
    pub recipient_name: String,
    pub recipient_email: String,
    pub recipient_status: UserStatus,
}

/// The course's title and the learner's name, or `None` when either is not the tenant's.
pub async fn parties(
    tx: &mut TenantTx,
    course: CourseId,
    user: UserId,
) -> Result<Option<Parties>, sqlx::Error> {
    sqlx::query_as(
        "select c.title as course_title, u.display_name as recipient_name,
                u.email as recipient_email, u.status as recipient_status
         from courses c, users u
         where c.tenant_id = $1 and c.id = $2 and u.tenant_id = $1 and u.id = $3",
    )
    .bind(tx.tenant_id())
    .bind(course)
    .bind(user)
    .fetch_optional(&mut **tx)
    .await
}

/// The learner's live (unrevoked) certificate of the course.
pub async fn live(
    tx: &mut TenantTx,
    course: CourseId,
    user: UserId,
) -> Result<Option<CertificateId>, sqlx::Error> {
    sqlx::query_scalar(
        "select id from certificates
         where tenant_id = $1 and course_id = $2 and user_id = $3 and revoked_at is null",
    )
    .bind(tx.tenant_id())
    .bind(course)
    .bind(user)
    .fetch_optional(&mut **tx)
    .await
}

/// Whether the event issued a certificate already.
pub async fn issued_by_event(tx: &mut TenantTx, event: EventId) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "select exists (select 1 from certificates where tenant_id = $1 and event_id = $2)",
    )
    .bind(tx.tenant_id())
    .bind(event)
    .fetch_one(&mut **tx)
    .await
}

/// Takes the tenant's next status-list index.
pub async fn next_status_index(tx: &mut TenantTx) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar(
        "insert into certificate_status_lists as l (tenant_id, next_index) values ($1, 1)
         on conflict (tenant_id) do update set next_index = l.next_index + 1
         returning next_index - 1",
    )
    .bind(tx.tenant_id())
    .fetch_one(&mut **tx)
    .await
}

/// A certificate to write.
#[derive(Debug)]
pub struct NewCertificate<'a> {
    pub id: CertificateId,
    pub course: CourseId,
    pub user: UserId,
    pub source: CertificateSource,
    pub event: Option<EventId>,
    pub issued_by: Option<UserId>,
    pub parties: &'a Parties,
    pub template: &'a Template,
    pub grade_percent: Option<f64>,
    pub issued_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub status_index: i32,
    pub key: Option<IssuerKeyId>,
    pub credential: Option<&'a serde_json::Value>,
}

/// Writes the certificate; `None` when the learner holds a live one of the course already, or
/// the event issued one (a race lost to a concurrent issuance).
pub async fn insert(
    tx: &mut TenantTx,
    new: &NewCertificate<'_>,
) -> Result<Option<Certificate>, sqlx::Error> {
    let t = new.template;
    sqlx::query_as(&format!(
        "insert into certificates (tenant_id, id, course_id, user_id, source, event_id, issued_by,
             recipient_name, course_title, title, description, criteria, signatory_name,
             signatory_title, credit_hours, credits, grade_percent, design, issued_at, expires_at,
             status_index, key_id, credential)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
                 $19, $20, $21, $22, $23)
         on conflict do nothing
         returning {CERTIFICATE_COLUMNS}"
    ))
    .bind(tx.tenant_id())
    .bind(new.id)
    .bind(new.course)
    .bind(new.user)
    .bind(new.source)
    .bind(new.event)
    .bind(new.issued_by)
    .bind(&new.parties.recipient_name)
    .bind(&new.parties.course_title)
    .bind(&t.title)
    .bind(&t.description)
    .bind(&t.criteria)
    .bind(&t.signatory_name)
    .bind(&t.signatory_title)
    .bind(t.credit_hours)
    .bind(&t.credits)
    .bind(new.grade_percent)
    .bind(t.design)
    .bind(new.issued_at)
    .bind(new.expires_at)
    .bind(new.status_index)
    .bind(new.key)
    .bind(new.credential)
    .fetch_optional(&mut **tx)
    .await
}

pub async fn get(tx: &mut TenantTx, id: CertificateId) -> Result<Option<Certificate>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {CERTIFICATE_COLUMNS} from certificates where tenant_id = $1 and id = $2"
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

/// The signed credential of a certificate, when it has one.
pub async fn credential(
    tx: &mut TenantTx,
    id: CertificateId,
) -> Result<Option<serde_json::Value>, sqlx::Error> {
    let found: Option<Option<serde_json::Value>> =
        sqlx::query_scalar("select credential from certificates where tenant_id = $1 and id = $2")
            .bind(tx.tenant_id())
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(found.flatten())
}

/// Newest first, one more than `limit`; optionally of one course and/or one learner.
pub async fn list(
    tx: &mut TenantTx,
    course: Option<CourseId>,
    user: Option<UserId>,
    cursor: Option<Cursor>,
    limit: i64,
) -> Result<Vec<Certificate>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {CERTIFICATE_COLUMNS} from certificates
         where tenant_id = $1 and ($2::uuid is null or course_id = $2)
           and ($3::uuid is null or user_id = $3) and ($4::uuid is null or id < $4)
         order by id desc limit $5"
    ))
    .bind(tx.tenant_id())
    .bind(course)
    .bind(user)
    .bind(cursor.map(|c| c.0))
    .bind(limit + 1)
    .fetch_all(&mut **tx)
    .await
}

/// Revokes a live certificate; `None` when it is unknown or revoked already.
pub async fn revoke(
    tx: &mut TenantTx,
    id: CertificateId,
    by: UserId,
    reason: &str,
) -> Result<Option<Certificate>, sqlx::Error> {
    sqlx::query_as(&format!(
        "update certificates set revoked_at = now(), revoked_by = $3, revocation_reason = $4
         where tenant_id = $1 and id = $2 and revoked_at is null
         returning {CERTIFICATE_COLUMNS}"
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .bind(by)
    .bind(reason)
    .fetch_optional(&mut **tx)
    .await
}

/// The indexes of the tenant's revoked certificates (the set bits of its status list).
pub async fn revoked_indexes(tx: &mut TenantTx) -> Result<Vec<i32>, sqlx::Error> {
    sqlx::query_scalar(
        "select status_index from certificates where tenant_id = $1 and revoked_at is not null",
    )
    .bind(tx.tenant_id())
    .fetch_all(&mut **tx)
    .await
}

/// The payload of a `course.completed` event.
pub async fn event_payload(
    tx: &mut TenantTx,
    event: EventId,
) -> Result<Option<(String, serde_json::Value)>, sqlx::Error> {
    sqlx::query_as("select kind, payload from domain_events where tenant_id = $1 and id = $2")
        .bind(tx.tenant_id())
        .bind(event)
        .fetch_optional(&mut **tx)
        .await
}
