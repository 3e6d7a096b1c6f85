//! All SQL on `assignments`, `assignment_submissions` and `submission_files`.

use chrono::{DateTime, Utc};
use lms_tenants::TenantTx;
use serde_json::Value;
use uuid::Uuid;

use super::late::LatePolicy;
use super::model::SubmissionStatus;
use super::model::{SubmissionFileId, SubmissionId};
use crate::courses::{CourseId, ItemId};
use crate::enrollments::EnrollmentId;
use crate::users::UserId;

/// An assignment item with its settings (absent until an author saves them).
#[derive(sqlx::FromRow)]
pub struct AssignmentRow {
    pub item_id: ItemId,
    pub course_id: CourseId,
    pub title: String,
    pub configured: bool,
    pub instructions: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
    pub late_policy: Option<LatePolicy>,
    pub late_penalty_percent: Option<f64>,
    pub accepts_text: Option<bool>,
    pub accepts_files: Option<bool>,
    pub max_files: Option<i32>,
    pub max_file_bytes: Option<i32>,
    pub file_extensions: Option<Vec<String>>,
    pub points: Option<f64>,
    pub passing_percent: Option<f64>,
    pub rubric: Option<Value>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// The settings as written (checked by `settings::parse`).
pub struct Settings {
    pub instructions: String,
    pub due_at: Option<DateTime<Utc>>,
    pub late_policy: &'static str,
    pub late_penalty_percent: Option<f64>,
    pub accepts_text: bool,
    pub accepts_files: bool,
    pub max_files: i32,
    pub max_file_bytes: i32,
    pub file_extensions: Vec<String>,
    pub points: f64,
    pub passing_percent: f64,
    pub rubric: Option<Value>,
}

pub async fn assignment(
    tx: &mut TenantTx,
    course: CourseId,
    item: ItemId,
) -> Result<Option<AssignmentRow>, sqlx::Error> {
    sqlx::query_as(
        "select i.id as item_id, i.course_id, i.title, a.item_id is not null as configured,
                a.instructions, a.due_at, a.late_policy,
                a.late_penalty_percent::float8 as late_penalty_percent, a.accepts_text,
                a.accepts_files, a.max_files, a.max_file_bytes, a.file_extensions,
                a.points::float8 as points, a.passing_percent::float8 as passing_percent,
                a.rubric, a.updated_at
         from course_items i
         left join assignments a on a.tenant_id = i.tenant_id and a.item_id = i.id
         where i.tenant_id = $1 and i.course_id = $2 and i.id = $3 and i.kind = 'assignment'",
    )
    .bind(tx.tenant_id())
    .bind(course)
    .bind(item)
    .fetch_optional(&mut **tx)
    .await
}

/// Locks the assignment's settings row: `exclusive` for its author (who may change the rubric),
/// shared for graders (who grade with it).
pub async fn lock(tx: &mut TenantTx, item: ItemId, exclusive: bool) -> Result<(), sqlx::Error> {
    let mode = if exclusive { "update" } else { "share" };
    sqlx::query(&format!(
        "select 1 from assignments where tenant_id = $1 and item_id = $2 for {mode}"
    ))
    .bind(tx.tenant_id())
    .bind(item)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn save(
    tx: &mut TenantTx,
    course: CourseId,
    item: ItemId,
    s: &Settings,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into assignments (tenant_id, item_id, course_id, instructions, due_at,
             late_policy, late_penalty_percent, accepts_text, accepts_files, max_files,
             max_file_bytes, file_extensions, points, passing_percent, rubric)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
         on conflict (tenant_id, item_id) do update set
             instructions = excluded.instructions, due_at = excluded.due_at,
             late_policy = excluded.late_policy,
             late_penalty_percent = excluded.late_penalty_percent,
             accepts_text = excluded.accepts_text, accepts_files = excluded.accepts_files,
             max_files = excluded.max_files, max_file_bytes = excluded.max_file_bytes,
             file_extensions = excluded.file_extensions, points = excluded.points,
             passing_percent = excluded.passing_percent, rubric = excluded.rubric",
    )
    .bind(tx.tenant_id())
    .bind(item)
    .bind(course)
    .bind(&s.instructions)
    .bind(s.due_at)
    .bind(s.late_policy)
    .bind(s.late_penalty_percent)
    .bind(s.accepts_text)
    .bind(s.accepts_files)
    .bind(s.max_files)
    .bind(s.max_file_bytes)
    .bind(&s.file_extensions)
    .bind(s.points)
    .bind(s.passing_percent)
    .bind(&s.rubric)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Whether any submission to the assignment has been graded.
pub async fn any_graded(tx: &mut TenantTx, item: ItemId) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "select exists (select 1 from assignment_submissions
                        where tenant_id = $1 and item_id = $2 and status = 'graded')",
    )
    .bind(tx.tenant_id())
    .bind(item)
    .fetch_one(&mut **tx)
    .await
}

#[derive(sqlx::FromRow)]
pub struct SubmissionRow {
    pub id: SubmissionId,
    pub item_id: ItemId,
    pub course_id: CourseId,
    pub enrollment_id: EnrollmentId,
    pub user_id: UserId,
    pub learner_name: String,
    pub number: i32,
    pub body: Option<String>,
    pub submitted_at: DateTime<Utc>,
    pub late_seconds: i32,
    pub status: SubmissionStatus,
    pub raw_score: Option<f64>,
    pub penalty: Option<f64>,
    pub score: Option<f64>,
    pub percent: Option<f64>,
    pub passed: Option<bool>,
    pub rubric_grades: Option<Value>,
    pub feedback: Option<String>,
    pub inline_comments: Option<Value>,
    pub graded_by: Option<UserId>,
    pub graded_at: Option<DateTime<Utc>>,
    pub released_at: Option<DateTime<Utc>>,
    /// The assignment's points.
    pub points: f64,
}

const SUBMISSION_COLUMNS: &str = "s.id, s.item_id, s.course_id, s.enrollment_id, s.user_id,
    u.display_name as learner_name, s.number, s.body, s.submitted_at, s.late_seconds, s.status,
    s.raw_score::float8 as raw_score, s.penalty::float8 as penalty, s.score::float8 as score,
    s.percent::float8 as percent, s.passed, s.rubric_grades, s.feedback, s.inline_comments,
    s.graded_by, s.graded_at, s.released_at, a.points::float8 as points";

const SUBMISSION_FROM: &str = "from assignment_submissions s
    join users u on u.tenant_id = s.tenant_id and u.id = s.user_id
    join assignments a on a.tenant_id = s.tenant_id and a.item_id = s.item_id";

/// A learner's submissions to an assignment, newest first.
pub async fn submissions_of(
    tx: &mut TenantTx,
    item: ItemId,
    user: UserId,
) -> Result<Vec<SubmissionRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {SUBMISSION_COLUMNS} {SUBMISSION_FROM}
         where s.tenant_id = $1 and s.item_id = $2 and s.user_id = $3
         order by s.number desc"
    ))
    .bind(tx.tenant_id())
    .bind(item)
    .bind(user)
    .fetch_all(&mut **tx)
    .await
}

pub async fn submission(
    tx: &mut TenantTx,
    id: SubmissionId,
    for_update: bool,
) -> Result<Option<SubmissionRow>, sqlx::Error> {
    let lock = if for_update { " for update of s" } else { "" };
    sqlx::query_as(&format!(
        "select {SUBMISSION_COLUMNS} {SUBMISSION_FROM} where s.tenant_id = $1 and s.id = $2{lock}"
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

/// A new submission's row.
pub struct NewSubmission<'a> {
    pub id: SubmissionId,
    pub item: ItemId,
    pub course: CourseId,
    pub enrollment: EnrollmentId,
    pub user: UserId,
    pub body: Option<&'a str>,
    pub late_seconds: i32,
}

/// Records a submission as the learner's next, superseding an earlier one still waiting for a
/// grade. The caller holds the learner's enrollment lock, so numbers cannot collide.
pub async fn insert_submission(
    tx: &mut TenantTx,
    new: &NewSubmission<'_>,
) -> Result<i32, sqlx::Error> {
    sqlx::query(
        "update assignment_submissions set status = 'superseded'
         where tenant_id = $1 and item_id = $2 and user_id = $3 and status = 'submitted'",
    )
    .bind(tx.tenant_id())
    .bind(new.item)
    .bind(new.user)
    .execute(&mut **tx)
    .await?;
    let number = sqlx::query_scalar(
        "insert into assignment_submissions
             (tenant_id, id, item_id, course_id, enrollment_id, user_id, number, body, late_seconds)
         select $1, $2, $3, $4, $5, $6, coalesce(max(number), 0) + 1, $7, $8
         from assignment_submissions where tenant_id = $1 and item_id = $3 and user_id = $6
         returning number",
    )
    .bind(tx.tenant_id())
    .bind(new.id)
    .bind(new.item)
    .bind(new.course)
    .bind(new.enrollment)
    .bind(new.user)
    .bind(new.body)
    .bind(new.late_seconds)
    .fetch_one(&mut **tx)
    .await?;
    let submitted = crate::events::AssignmentSubmitted {
        submission_id: new.id,
        course_id: new.course,
        item_id: new.item,
        user_id: new.user,
        late: new.late_seconds > 0,
    };
    crate::events::emit(tx, &submitted).await?;
    Ok(number)
}

/// A stored file's row.
pub struct NewFile {
    pub id: SubmissionFileId,
    pub file_name: String,
    pub content_type: &'static str,
    pub size_bytes: i32,
    pub sha256: String,
    pub storage_key: String,
}

pub async fn insert_files(
    tx: &mut TenantTx,
    submission: SubmissionId,
    files: &[NewFile],
) -> Result<(), sqlx::Error> {
    if files.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = files.iter().map(|f| f.id.0).collect();
    let positions: Vec<i32> = (0..).take(files.len()).collect();
    let names: Vec<&str> = files.iter().map(|f| f.file_name.as_str()).collect();
    let types: Vec<&str> = files.iter().map(|f| f.content_type).collect();
    let sizes: Vec<i32> = files.iter().map(|f| f.size_bytes).collect();
    let hashes: Vec<&str> = files.iter().map(|f| f.sha256.as_str()).collect();
    let keys: Vec<&str> = files.iter().map(|f| f.storage_key.as_str()).collect();
    sqlx::query(
        "insert into submission_files
             (tenant_id, id, submission_id, position, file_name, content_type, size_bytes, sha256,
              storage_key)
         select $1, f.id, $2, f.position, f.name, f.type, f.size, f.hash, f.key
         from unnest($3::uuid[], $4::int[], $5::text[], $6::text[], $7::int[], $8::text[],
                     $9::text[]) as f(id, position, name, type, size, hash, key)",
    )
    .bind(tx.tenant_id())
    .bind(submission)
    .bind(&ids)
    .bind(&positions)
    .bind(&names)
    .bind(&types)
    .bind(&sizes)
    .bind(&hashes)
    .bind(&keys)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

#[derive(sqlx::FromRow)]
pub struct FileRow {
    pub id: SubmissionFileId,
    pub submission_id: SubmissionId,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i32,
    pub sha256: String,
    pub storage_key: String,
}

/// The files of these submissions, in submission and then upload order.
pub async fn files_of(
    tx: &mut TenantTx,
    submissions: &[SubmissionId],
) -> Result<Vec<FileRow>, sqlx::Error> {
    sqlx::query_as(
        "select id, submission_id, file_name, content_type, size_bytes, sha256, storage_key
         from submission_files where tenant_id = $1 and submission_id = any($2)
         order by submission_id, position",
    )
    .bind(tx.tenant_id())
    .bind(submissions)
    .fetch_all(&mut **tx)
    .await
}

/// A grade as stored.
pub struct GradeRow {
    pub raw_score: f64,
    pub penalty: f64,
    pub score: f64,
    pub percent: f64,
    pub passed: bool,
    pub rubric_grades: Option<Value>,
    pub feedback: Option<String>,
    pub inline_comments: Value,
    pub graded_by: UserId,
    pub release: bool,
}

/// Records a grade, with the `assignment.graded` event.
pub async fn set_grade(
    tx: &mut TenantTx,
    id: SubmissionId,
    g: &GradeRow,
) -> Result<(), sqlx::Error> {
    let graded: Option<(ItemId, CourseId, UserId, bool)> = sqlx::query_as(
        "update assignment_submissions set status = 'graded', raw_score = $3, penalty = $4,
             score = $5, percent = $6, passed = $7, rubric_grades = $8, feedback = $9,
             inline_comments = $10, graded_by = $11, graded_at = now(),
             released_at = case when $12 then coalesce(released_at, now()) else released_at end
         where tenant_id = $1 and id = $2
         returning item_id, course_id, user_id, released_at is not null",
    )
    .bind(tx.tenant_id())
    .bind(id)
    .bind(g.raw_score)
    .bind(g.penalty)
    .bind(g.score)
    .bind(g.percent)
    .bind(g.passed)
    .bind(&g.rubric_grades)
    .bind(&g.feedback)
    .bind(&g.inline_comments)
    .bind(g.graded_by)
    .bind(g.release)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some((item_id, course_id, user_id, released)) = graded {
        let event = crate::events::AssignmentGraded {
            submission_id: id,
            course_id,
            item_id,
            user_id,
            score: g.score,
            passed: g.passed,
            released,
        };
        crate::events::emit(tx, &event).await?;
    }
    Ok(())
}

/// A grade just made visible.
#[derive(sqlx::FromRow)]
pub struct ReleasedRow {
    pub enrollment_id: EnrollmentId,
    pub passed: bool,
}

/// The enrollments whose grades for the assignment are held back, in lock order.
pub async fn held_back_enrollments(
    tx: &mut TenantTx,
    item: ItemId,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "select distinct enrollment_id from assignment_submissions
         where tenant_id = $1 and item_id = $2 and status = 'graded' and released_at is null
         order by enrollment_id",
    )
    .bind(tx.tenant_id())
    .bind(item)
    .fetch_all(&mut **tx)
    .await
}

/// Makes the held-back grades of the assignment visible for these (locked) enrollments.
pub async fn release_all(
    tx: &mut TenantTx,
    item: ItemId,
    enrollments: &[Uuid],
) -> Result<Vec<ReleasedRow>, sqlx::Error> {
    sqlx::query_as(
        "update assignment_submissions set released_at = now()
         where tenant_id = $1 and item_id = $2 and status = 'graded' and released_at is null
           and enrollment_id = any($3)
         returning enrollment_id, passed",
    )
    .bind(tx.tenant_id())
    .bind(item)
    .bind(enrollments)
    .fetch_all(&mut **tx)
    .await
}

/// The learners' current submissions a grader may see, oldest first.
#[derive(sqlx::FromRow)]
pub struct ListedRow {
    pub id: SubmissionId,
    pub course_id: CourseId,
    pub course_title: String,
    pub item_id: ItemId,
    pub assignment_title: String,
    pub user_id: UserId,
    pub learner_name: String,
    pub number: i32,
    pub submitted_at: DateTime<Utc>,
    pub late_seconds: i32,
    pub has_text: bool,
    pub file_count: i64,
}

/// Filters of a grader's list.
pub struct ListFilter {
    pub grader: UserId,
    /// Tenant admins see every course.
    pub admin: bool,
    pub course: Option<CourseId>,
    pub item: Option<ItemId>,
    /// `None`: waiting and graded alike.
    pub status: Option<&'static str>,
    pub after: Option<Uuid>,
    pub limit: i64,
}

pub async fn list(tx: &mut TenantTx, f: &ListFilter) -> Result<Vec<ListedRow>, sqlx::Error> {
    sqlx::query_as(
        "select s.id, s.course_id, c.title as course_title, s.item_id,
                i.title as assignment_title, s.user_id, u.display_name as learner_name, s.number,
                s.submitted_at, s.late_seconds, s.body is not null as has_text,
                (select count(*) from submission_files f
                 where f.tenant_id = s.tenant_id and f.submission_id = s.id) as file_count
         from assignment_submissions s
         join courses c on c.tenant_id = s.tenant_id and c.id = s.course_id
         join course_items i on i.tenant_id = s.tenant_id and i.id = s.item_id
         join users u on u.tenant_id = s.tenant_id and u.id = s.user_id
         where s.tenant_id = $1
           and s.status <> 'superseded'
           and ($4::text is null or s.status = $4)
           and ($2 or exists (select 1 from course_instructors ci
                              where ci.tenant_id = s.tenant_id and ci.course_id = s.course_id
                                and ci.user_id = $3))
           and ($5::uuid is null or s.course_id = $5)
           and ($6::uuid is null or s.item_id = $6)
           and ($7::uuid is null or s.id > $7)
           and not exists (select 1 from assignment_submissions later
                           where later.tenant_id = s.tenant_id and later.item_id = s.item_id
                             and later.user_id = s.user_id and later.number > s.number
                             and later.status <> 'superseded')
         order by s.id
         limit $8",
    )
    .bind(tx.tenant_id())
    .bind(f.admin)
    .bind(f.grader)
    .bind(f.status)
    .bind(f.course)
    .bind(f.item)
    .bind(f.after)
    .bind(f.limit)
    .fetch_all(&mut **tx)
    .await
}
