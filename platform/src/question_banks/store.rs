//! All SQL on `question_banks`, `question_categories`, `questions` and `question_versions`, on
//! the caller's tenant-scoped transaction.

use chrono::{DateTime, Utc};
use lms_tenants::TenantTx;
use serde_json::Value;
use uuid::Uuid;

use super::kinds::{QuestionKind, QuestionSpec};
use super::model::{Bank, BankId, Category, CategoryId, Question, QuestionId};
use crate::courses::CourseId;
use crate::users::UserId;

pub const CATEGORY_NAME_TAKEN: &str = "question_categories_name_key";
/// Foreign keys that keep a bank, category or question in use by a quiz or an attempt.
pub const IN_USE: [&str; 4] = [
    "quiz_slots_bank_fkey",
    "quiz_slots_category_fkey",
    "quiz_slots_question_fkey",
    "attempt_questions_version_fkey",
];

#[derive(sqlx::FromRow)]
pub struct BankRow {
    pub id: BankId,
    pub course_id: Option<CourseId>,
    pub title: String,
    pub description: String,
    pub created_by: UserId,
    pub question_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl BankRow {
    pub fn to_bank(&self, categories: Vec<Category>) -> Bank {
        Bank {
            id: self.id,
            course_id: self.course_id,
            title: self.title.clone(),
            description: self.description.clone(),
            created_by: self.created_by,
            question_count: self.question_count,
            categories,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

const BANK_COLUMNS: &str = "b.id, b.course_id, b.title, b.description, b.created_by,
    (select count(*) from questions q where q.tenant_id = b.tenant_id and q.bank_id = b.id
        and q.archived_at is null) as question_count,
    b.created_at, b.updated_at";

pub async fn insert_bank(
    tx: &mut TenantTx,
    id: BankId,
    course: Option<CourseId>,
    title: &str,
    description: &str,
    by: UserId,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into question_banks (tenant_id, id, course_id, title, description, created_by)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tx.tenant_id())
    .bind(id)
    .bind(course)
    .bind(title)
    .bind(description)
    .bind(by)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// The bank; `lock` takes its row lock (every write to a bank's categories or questions).
pub async fn bank(
    tx: &mut TenantTx,
    id: BankId,
    lock: bool,
) -> Result<Option<BankRow>, sqlx::Error> {
    let lock = if lock { " for update of b" } else { "" };
    sqlx::query_as(&format!(
        "select {BANK_COLUMNS} from question_banks b where b.tenant_id = $1 and b.id = $2{lock}"
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

/// A page of banks, newest first: a course's (`course` set) or the shared ones.
pub async fn banks(
    tx: &mut TenantTx,
    course: Option<CourseId>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<BankRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {BANK_COLUMNS} from question_banks b
         where b.tenant_id = $1 and b.course_id is not distinct from $2
           and ($3::uuid is null or b.id < $3)
         order by b.id desc limit $4"
    ))
    .bind(tx.tenant_id())
    .bind(course)
    .bind(after)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await
}

pub async fn update_bank(
    tx: &mut TenantTx,
    id: BankId,
    title: Option<&str>,
    description: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update question_banks set title = coalesce($3, title),
             description = coalesce($4, description)
         where tenant_id = $1 and id = $2",
    )
    .bind(tx.tenant_id())
    .bind(id)
    .bind(title)
    .bind(description)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn delete_bank(tx: &mut TenantTx, id: BankId) -> Result<(), sqlx::Error> {
    sqlx::query("delete from question_banks where tenant_id = $1 and id = $2")
        .bind(tx.tenant_id())
        .bind(id)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

/// A bank's categories by name.
pub async fn categories(tx: &mut TenantTx, bank: BankId) -> Result<Vec<Category>, sqlx::Error> {
    Ok(categories_of(tx, &[bank])
        .await?
        .into_iter()
        .map(|(_, c)| c)
        .collect())
}

/// The categories of several banks in one query, by bank and then name.
pub async fn categories_of(
    tx: &mut TenantTx,
    banks: &[BankId],
) -> Result<Vec<(BankId, Category)>, sqlx::Error> {
    let rows: Vec<(BankId, Uuid, String, i64)> = sqlx::query_as(
        "select c.bank_id, c.id, c.name, (select count(*) from questions q
                where q.tenant_id = c.tenant_id and q.category_id = c.id
                  and q.bank_id = c.bank_id and q.archived_at is null)
         from question_categories c where c.tenant_id = $1 and c.bank_id = any($2)
         order by c.bank_id, lower(c.name)",
    )
    .bind(tx.tenant_id())
    .bind(banks)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(bank, id, name, question_count)| {
            (
                bank,
                Category {
                    id: CategoryId(id),
                    name,
                    question_count,
                },
            )
        })
        .collect())
}

pub async fn insert_category(
    tx: &mut TenantTx,
    bank: BankId,
    id: CategoryId,
    name: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into question_categories (tenant_id, id, bank_id, name) values ($1, $2, $3, $4)",
    )
    .bind(tx.tenant_id())
    .bind(id)
    .bind(bank)
    .bind(name)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Whether the bank has this category.
pub async fn has_category(
    tx: &mut TenantTx,
    bank: BankId,
    category: CategoryId,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "select exists (select 1 from question_categories
                        where tenant_id = $1 and bank_id = $2 and id = $3)",
    )
    .bind(tx.tenant_id())
    .bind(bank)
    .bind(category)
    .fetch_one(&mut **tx)
    .await
}

/// Deletes the category (its questions stay in the bank, uncategorised); false when unknown.
pub async fn delete_category(
    tx: &mut TenantTx,
    bank: BankId,
    category: CategoryId,
) -> Result<bool, sqlx::Error> {
    sqlx::query("delete from question_categories where tenant_id = $1 and bank_id = $2 and id = $3")
        .bind(tx.tenant_id())
        .bind(bank)
        .bind(category)
        .execute(&mut **tx)
        .await
        .map(|r| r.rows_affected() > 0)
}

#[derive(sqlx::FromRow)]
pub struct QuestionRow {
    pub id: QuestionId,
    pub bank_id: BankId,
    pub category_id: Option<CategoryId>,
    pub version: i32,
    pub current_version: i32,
    pub kind: String,
    pub prompt: String,
    pub points: f64,
    pub spec: Value,
    pub archived_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub version_created_at: DateTime<Utc>,
}

impl QuestionRow {
    /// The API's view; `None` when the stored definition no longer reads (never expected).
    pub fn to_question(&self) -> Result<Question, anyhow::Error> {
        let spec: QuestionSpec = serde_json::from_value(self.spec.clone())?;
        let kind = QuestionKind::from_db(&self.kind)
            .ok_or_else(|| anyhow::anyhow!("unknown question kind {}", self.kind))?;
        Ok(Question {
            id: self.id,
            bank_id: self.bank_id,
            category_id: self.category_id,
            version: self.version,
            current_version: self.current_version,
            kind,
            prompt: self.prompt.clone(),
            points: self.points,
            spec,
            archived_at: self.archived_at,
            created_at: self.created_at,
            version_created_at: self.version_created_at,
        })
    }
}

const QUESTION_COLUMNS: &str = "q.id, q.bank_id, q.category_id, v.version, q.current_version,
    v.kind, v.prompt, v.points::float8 as points, v.spec, q.archived_at, q.created_at,
    v.created_at as version_created_at";

/// One version of a question to write.
pub struct NewVersion<'a> {
    pub question: QuestionId,
    pub version: i32,
    pub prompt: &'a str,
    pub points: f64,
    pub spec: &'a QuestionSpec,
    pub by: UserId,
}

pub async fn insert_question(
    tx: &mut TenantTx,
    bank: BankId,
    category: Option<CategoryId>,
    version: &NewVersion<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into questions (tenant_id, id, bank_id, category_id, created_by)
         values ($1, $2, $3, $4, $5)",
    )
    .bind(tx.tenant_id())
    .bind(version.question)
    .bind(bank)
    .bind(category)
    .bind(version.by)
    .execute(&mut **tx)
    .await?;
    insert_version(tx, version).await
}

pub async fn insert_version(tx: &mut TenantTx, v: &NewVersion<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into question_versions
             (tenant_id, question_id, version, kind, prompt, points, spec, created_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(tx.tenant_id())
    .bind(v.question)
    .bind(v.version)
    .bind(v.spec.kind().as_str())
    .bind(v.prompt)
    .bind(v.points)
    .bind(sqlx::types::Json(v.spec))
    .bind(v.by)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Makes `version` the question's current one and moves it to `category`.
pub async fn set_current(
    tx: &mut TenantTx,
    id: QuestionId,
    version: i32,
    category: Option<CategoryId>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update questions set current_version = $3, category_id = $4
         where tenant_id = $1 and id = $2",
    )
    .bind(tx.tenant_id())
    .bind(id)
    .bind(version)
    .bind(category)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// The question at its current version; `lock` takes the question's row lock (edits).
pub async fn question(
    tx: &mut TenantTx,
    id: QuestionId,
    lock: bool,
) -> Result<Option<QuestionRow>, sqlx::Error> {
    let lock = if lock { " for update of q" } else { "" };
    sqlx::query_as(&format!(
        "select {QUESTION_COLUMNS} from questions q
         join question_versions v on v.tenant_id = q.tenant_id and v.question_id = q.id
             and v.version = q.current_version
         where q.tenant_id = $1 and q.id = $2{lock}"
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

/// Every version of a question, newest first.
pub async fn versions(tx: &mut TenantTx, id: QuestionId) -> Result<Vec<QuestionRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {QUESTION_COLUMNS} from questions q
         join question_versions v on v.tenant_id = q.tenant_id and v.question_id = q.id
         where q.tenant_id = $1 and q.id = $2 order by v.version desc"
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .fetch_all(&mut **tx)
    .await
}

/// A page of a bank's questions at their current versions, newest first.
pub async fn questions(
    tx: &mut TenantTx,
    bank: BankId,
    category: Option<CategoryId>,
    archived: bool,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<QuestionRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {QUESTION_COLUMNS} from questions q
         join question_versions v on v.tenant_id = q.tenant_id and v.question_id = q.id
             and v.version = q.current_version
         where q.tenant_id = $1 and q.bank_id = $2
           and ($3::uuid is null or q.category_id = $3)
           and (q.archived_at is not null) = $4
           and ($5::uuid is null or q.id < $5)
         order by q.id desc limit $6"
    ))
    .bind(tx.tenant_id())
    .bind(bank)
    .bind(category)
    .bind(archived)
    .bind(after)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await
}

/// Archives the question: kept for the attempts that used it, never drawn again.
pub async fn archive(tx: &mut TenantTx, id: QuestionId) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update questions set archived_at = coalesce(archived_at, now())
         where tenant_id = $1 and id = $2",
    )
    .bind(tx.tenant_id())
    .bind(id)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}
