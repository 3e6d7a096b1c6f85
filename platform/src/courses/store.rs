//! All SQL on `courses`, `course_instructors` and `course_prerequisites`. Every function runs on
//! the caller's tenant-scoped transaction.

use chrono::{DateTime, Utc};
use lms_tenants::TenantTx;
use uuid::Uuid;

use super::model::{Course, CourseId, CourseStatus, Difficulty, Instructor, InstructorRole};
use crate::db::Cursor;
use crate::users::UserId;

pub const SLUG_TAKEN: &str = "courses_slug_key";

#[derive(Clone, sqlx::FromRow)]
pub struct CourseRow {
    pub id: CourseId,
    pub slug: String,
    pub title: String,
    pub summary: String,
    pub description: String,
    pub category: Option<String>,
    pub tags: Vec<String>,
    pub difficulty: Difficulty,
    pub language: String,
    pub estimated_minutes: Option<i32>,
    pub thumbnail_url: Option<String>,
    pub price_minor: i64,
    pub currency: Option<String>,
    pub self_enrollment: bool,
    pub capacity: Option<i32>,
    pub sequential: bool,
    pub is_template: bool,
    pub status: CourseStatus,
    pub published_at: Option<DateTime<Utc>>,
    pub archived_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, slug, title, summary, description, category, tags, difficulty, language,
    estimated_minutes, thumbnail_url, price_minor, currency, self_enrollment, capacity, sequential,
    is_template, status, published_at, archived_at, created_at, updated_at";

impl CourseRow {
    pub fn to_course(&self) -> Course {
        Course {
            id: self.id,
            slug: self.slug.clone(),
            title: self.title.clone(),
            summary: self.summary.clone(),
            description: self.description.clone(),
            category: self.category.clone(),
            tags: self.tags.clone(),
            difficulty: self.difficulty,
            language: self.language.clone(),
            estimated_minutes: self.estimated_minutes,
            thumbnail_url: self.thumbnail_url.clone(),
            price_minor: self.price_minor,
            currency: self.currency.clone(),
            self_enrollment: self.self_enrollment,
            capacity: self.capacity,
            sequential: self.sequential,
            is_template: self.is_template,
            status: self.status,
            published_at: self.published_at,
            archived_at: self.archived_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// Every setting of a course, as stored (the service has parsed and merged them).
pub struct CourseFields<'a> {
    pub slug: &'a str,
    pub title: &'a str,
    pub summary: &'a str,
    pub description: &'a str,
    pub category: Option<&'a str>,
    pub tags: &'a [String],
    pub difficulty: Difficulty,
    pub language: &'a str,
    pub estimated_minutes: Option<i32>,
    pub thumbnail_url: Option<&'a str>,
    pub price_minor: i64,
    pub currency: Option<&'a str>,
    pub self_enrollment: bool,
    pub capacity: Option<i32>,
    pub sequential: bool,
    pub is_template: bool,
}

impl CourseRow {
    /// The row's current settings, to merge a partial update into.
    pub fn fields(&self) -> CourseFields<'_> {
        CourseFields {
            slug: &self.slug,
            title: &self.title,
            summary: &self.summary,
            description: &self.description,
            category: self.category.as_deref(),
            tags: &self.tags,
            difficulty: self.difficulty,
            language: &self.language,
            estimated_minutes: self.estimated_minutes,
            thumbnail_url: self.thumbnail_url.as_deref(),
            price_minor: self.price_minor,
            currency: self.currency.as_deref(),
            self_enrollment: self.self_enrollment,
            capacity: self.capacity,
            sequential: self.sequential,
            is_template: self.is_template,
        }
    }
}

/// Inserts a draft course.
pub async fn insert(
    tx: &mut TenantTx,
    id: CourseId,
    c: &CourseFields<'_>,
) -> Result<CourseRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "insert into courses (tenant_id, id, slug, title, summary, description, category, tags,
                              difficulty, language, estimated_minutes, thumbnail_url, price_minor,
                              currency, self_enrollment, capacity, sequential, is_template)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
         returning {COLUMNS}"
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .bind(c.slug)
    .bind(c.title)
    .bind(c.summary)
    .bind(c.description)
    .bind(c.category)
    .bind(c.tags)
    .bind(c.difficulty.as_str())
    .bind(c.language)
    .bind(c.estimated_minutes)
    .bind(c.thumbnail_url)
    .bind(c.price_minor)
    .bind(c.currency)
    .bind(c.self_enrollment)
    .bind(c.capacity)
    .bind(c.sequential)
    .bind(c.is_template)
    .fetch_one(&mut **tx)
    .await
}

pub async fn update(
    tx: &mut TenantTx,
    id: CourseId,
    c: &CourseFields<'_>,
) -> Result<CourseRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "update courses set slug = $3, title = $4, summary = $5, description = $6, category = $7,
                tags = $8, difficulty = $9, language = $10, estimated_minutes = $11,
                thumbnail_url = $12, price_minor = $13, currency = $14, self_enrollment = $15,
                capacity = $16, sequential = $17, is_template = $18
         where tenant_id = $1 and id = $2 returning {COLUMNS}"
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .bind(c.slug)
    .bind(c.title)
    .bind(c.summary)
    .bind(c.description)
    .bind(c.category)
    .bind(c.tags)
    .bind(c.difficulty.as_str())
    .bind(c.language)
    .bind(c.estimated_minutes)
    .bind(c.thumbnail_url)
    .bind(c.price_minor)
    .bind(c.currency)
    .bind(c.self_enrollment)
    .bind(c.capacity)
    .bind(c.sequential)
    .bind(c.is_template)
    .fetch_one(&mut **tx)
    .await
}

pub async fn by_id(tx: &mut TenantTx, id: CourseId) -> Result<Option<CourseRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from courses where tenant_id = $1 and id = $2"
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

/// Locks the course for the rest of the transaction: every change to a course or its outline
/// takes this lock first, so concurrent edits (reorders above all) apply one after another.
pub async fn by_id_for_update(
    tx: &mut TenantTx,
    id: CourseId,
) -> Result<Option<CourseRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from courses where tenant_id = $1 and id = $2 for update"
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

pub async fn set_status(
    tx: &mut TenantTx,
    id: CourseId,
    status: CourseStatus,
) -> Result<CourseRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "update courses set status = $3,
                published_at = case when $3 = 'published' then now() else published_at end,
                archived_at = case when $3 = 'archived' then now() when $3 = 'draft' then null else archived_at end
         where tenant_id = $1 and id = $2 returning {COLUMNS}"
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .bind(status.as_str())
    .fetch_one(&mut **tx)
    .await
}

/// Deletes the course's outline first, then the course. The outline's quizzes refer to the
/// course's own banks through foreign keys that refuse deletion (so a shared bank a quiz asks from
/// stays safe); deleting both in one cascade would meet those refusals before the quizzes are gone.
/// Whether anyone was ever enrolled in the course (dropped enrollments included): their attempts,
/// submissions and grades hang off the enrollment.
pub async fn has_enrollments(tx: &mut TenantTx, id: CourseId) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "select exists (select 1 from enrollments where tenant_id = $1 and course_id = $2)",
    )
    .bind(tx.tenant_id())
    .bind(id)
    .fetch_one(&mut **tx)
    .await
}

pub async fn delete(tx: &mut TenantTx, id: CourseId) -> Result<(), sqlx::Error> {
    sqlx::query("delete from course_modules where tenant_id = $1 and course_id = $2")
        .bind(tx.tenant_id())
        .bind(id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("delete from courses where tenant_id = $1 and id = $2")
        .bind(tx.tenant_id())
        .bind(id)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

/// Courses for their authors, newest first: all of them (`taught_by` none, for tenant admins),
/// or those the user owns or co-teaches.
pub async fn list(
    tx: &mut TenantTx,
    taught_by: Option<UserId>,
    status: Option<CourseStatus>,
    cursor: Option<Cursor>,
    limit: i64,
) -> Result<Vec<CourseRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from courses c
         where tenant_id = $1
           and ($2::uuid is null or id < $2)
           and ($3::uuid is null or exists (
                select 1 from course_instructors i
                where i.tenant_id = $1 and i.course_id = c.id and i.user_id = $3))
           and ($4::text is null or status = $4)
         order by id desc
         limit $5"
    ))
    .bind(tx.tenant_id())
    .bind(cursor.map(|c| c.0))
    .bind(taught_by)
    .bind(status.map(CourseStatus::as_str))
    .bind(limit + 1)
    .fetch_all(&mut **tx)
    .await
}

/// The user's part in authoring the course, if any.
pub async fn instructor_role(
    tx: &mut TenantTx,
    course: CourseId,
    user: UserId,
) -> Result<Option<InstructorRole>, sqlx::Error> {
    let role: Option<InstructorRole> = sqlx::query_scalar(
        "select role from course_instructors where tenant_id = $1 and course_id = $2 and user_id = $3",
    )
    .bind(tx.tenant_id())
    .bind(course)
    .bind(user)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(role)
}

/// Adds an instructor; false when the user already is one.
pub async fn add_instructor(
    tx: &mut TenantTx,
    course: CourseId,
    user: UserId,
    role: InstructorRole,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "insert into course_instructors (tenant_id, course_id, user_id, role)
         values ($1, $2, $3, $4) on conflict (tenant_id, course_id, user_id) do nothing",
    )
    .bind(tx.tenant_id())
    .bind(course)
    .bind(user)
    .bind(role.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes a co-instructor (never the owner); false when there was none.
pub async fn remove_co_instructor(
    tx: &mut TenantTx,
    course: CourseId,
    user: UserId,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "delete from course_instructors
         where tenant_id = $1 and course_id = $2 and user_id = $3 and role = 'co_instructor'",
    )
    .bind(tx.tenant_id())
    .bind(course)
    .bind(user)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The course's instructors with their names, owner first.
pub async fn instructors(
    tx: &mut TenantTx,
    course: CourseId,
) -> Result<Vec<Instructor>, sqlx::Error> {
    let rows: Vec<(UserId, String, InstructorRole)> = sqlx::query_as(
        "select u.id, u.display_name, i.role
         from course_instructors i
         join users u on u.tenant_id = i.tenant_id and u.id = i.user_id
         where i.tenant_id = $1 and i.course_id = $2
         order by i.role = 'owner' desc, i.added_at, u.id",
    )
    .bind(tx.tenant_id())
    .bind(course)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, display_name, role)| Instructor {
            user_id: id,
            display_name,
            role,
        })
        .collect())
}

pub async fn prerequisites(
    tx: &mut TenantTx,
    course: CourseId,
) -> Result<Vec<CourseId>, sqlx::Error> {
    sqlx::query_scalar(
        "select prerequisite_id from course_prerequisites
         where tenant_id = $1 and course_id = $2 order by prerequisite_id",
    )
    .bind(tx.tenant_id())
    .bind(course)
    .fetch_all(&mut **tx)
    .await
}

/// Those of `ids` that are courses of this tenant.
pub async fn existing(tx: &mut TenantTx, ids: &[CourseId]) -> Result<Vec<CourseId>, sqlx::Error> {
    let ids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
    sqlx::query_scalar("select id from courses where tenant_id = $1 and id = any($2)")
        .bind(tx.tenant_id())
        .bind(ids)
        .fetch_all(&mut **tx)
        .await
}

/// Serializes prerequisite changes within the tenant, so two concurrent edits cannot each add
/// half of a cycle that neither sees.
pub async fn lock_prerequisite_graph(tx: &mut TenantTx) -> Result<(), sqlx::Error> {
    sqlx::query(
        "select pg_advisory_xact_lock(hashtextextended('course_prerequisites:' || $1::text, 0))",
    )
    .bind(tx.tenant_id())
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Whether `course` is among the courses `from` requires, directly or transitively (so making
/// `from` a prerequisite of `course` would close a cycle).
pub async fn requires_transitively(
    tx: &mut TenantTx,
    from: &[CourseId],
    course: CourseId,
) -> Result<bool, sqlx::Error> {
    let from: Vec<Uuid> = from.iter().map(|id| id.0).collect();
    sqlx::query_scalar(
        "with recursive required(id) as (
             select unnest($2::uuid[])
             union
             select p.prerequisite_id from course_prerequisites p
             join required r on p.tenant_id = $1 and p.course_id = r.id
         )
         select exists (select 1 from required where id = $3)",
    )
    .bind(tx.tenant_id())
    .bind(from)
    .bind(course)
    .fetch_one(&mut **tx)
    .await
}

pub async fn replace_prerequisites(
    tx: &mut TenantTx,
    course: CourseId,
    ids: &[CourseId],
) -> Result<(), sqlx::Error> {
    sqlx::query("delete from course_prerequisites where tenant_id = $1 and course_id = $2")
        .bind(tx.tenant_id())
        .bind(course)
        .execute(&mut **tx)
        .await?;
    let ids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
    sqlx::query(
        "insert into course_prerequisites (tenant_id, course_id, prerequisite_id)
         select $1, $2, unnest($3::uuid[])",
    )
    .bind(tx.tenant_id())
    .bind(course)
    .bind(ids)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// The courses with these ids or slugs, locked in id order when `lock` (a bulk enrollment
/// taking their seats).
pub async fn by_ids_or_slugs(
    tx: &mut TenantTx,
    ids: &[Uuid],
    slugs: &[String],
    lock: bool,
) -> Result<Vec<CourseRow>, sqlx::Error> {
    let lock = if lock { " order by id for update" } else { "" };
    sqlx::query_as(&format!(
        "select {COLUMNS} from courses
         where tenant_id = $1 and (id = any($2) or slug = any($3)){lock}"
    ))
    .bind(tx.tenant_id())
    .bind(ids)
    .bind(slugs)
    .fetch_all(&mut **tx)
    .await
}
