//! All SQL on `quiz_attempts` and `attempt_questions`. Writers lock the learner's enrollment row
//! first and the attempt's row second, always in that order, so starts, submissions, the
//! deadline sweep and manual grading of one learner's quiz apply one after another.

use chrono::{DateTime, Utc};
use lms_tenants::TenantTx;
use serde_json::Value;
use uuid::Uuid;

use super::model::{AttemptId, AttemptStatus, AttemptSummary, Grading};
use crate::auth::session_is_current;
use crate::courses::{CourseId, ItemId};
use crate::enrollments::EnrollmentId;
use crate::question_banks::QuestionId;
use crate::users::UserId;

#[derive(sqlx::FromRow, Clone)]
pub struct AttemptRow {
    pub id: AttemptId,
    pub item_id: ItemId,
    pub course_id: CourseId,
    pub enrollment_id: EnrollmentId,
    pub user_id: UserId,
    pub number: i32,
    pub status: AttemptStatus,
    pub started_at: DateTime<Utc>,
    pub deadline_at: Option<DateTime<Utc>>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub auto_submitted: bool,
    pub max_score: f64,
    pub score: Option<f64>,
    pub percent: Option<f64>,
    pub passed: Option<bool>,
}

impl AttemptRow {
    pub fn course(&self) -> CourseId {
        self.course_id
    }

    pub fn item(&self) -> ItemId {
        self.item_id
    }

    pub fn enrollment(&self) -> EnrollmentId {
        self.enrollment_id
    }

    /// The `quiz.attempt.graded` event of this (graded) attempt.
    pub fn graded_event(&self) -> crate::events::QuizAttemptGraded {
        crate::events::QuizAttemptGraded {
            attempt_id: self.id,
            course_id: self.course_id,
            item_id: self.item_id,
            user_id: self.user_id,
            score: self.score,
            max_score: self.max_score,
            percent: self.percent,
            passed: self.passed,
        }
    }

    /// Past its deadline (answers are refused from then on).
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        self.deadline_at.is_some_and(|d| now >= d)
    }

    pub fn summary(&self) -> AttemptSummary {
        AttemptSummary {
            id: self.id,
            item_id: self.item(),
            course_id: self.course(),
            user_id: self.user_id,
            number: self.number,
            status: self.status,
            started_at: self.started_at,
            deadline_at: self.deadline_at,
            submitted_at: self.submitted_at,
            auto_submitted: self.auto_submitted,
            max_score: self.max_score,
            score: self.score,
            percent: self.percent,
            passed: self.passed,
        }
    }
}

const COLUMNS: &str = "a.id, a.item_id, a.course_id, a.enrollment_id, a.user_id, a.number,
    a.status, a.started_at, a.deadline_at, a.submitted_at, a.auto_submitted,
    a.max_score::float8 as max_score, a.score::float8 as score, a.percent::float8 as percent,
    a.passed";

/// The attempt; `lock` takes its row lock (after the enrollment's, see the module docs).
pub async fn attempt(
    tx: &mut TenantTx,
    id: AttemptId,
    lock: bool,
) -> Result<Option<AttemptRow>, sqlx::Error> {
    let lock = if lock { " for update of a" } else { "" };
    sqlx::query_as(&format!(
        "select {COLUMNS} from quiz_attempts a where a.tenant_id = $1 and a.id = $2{lock}"
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

/// The user's attempts at a quiz, first first.
pub async fn attempts_of(
    tx: &mut TenantTx,
    item: ItemId,
    user: UserId,
) -> Result<Vec<AttemptRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from quiz_attempts a
         where a.tenant_id = $1 and a.user_id = $2 and a.item_id = $3 order by a.number"
    ))
    .bind(tx.tenant_id())
    .bind(user)
    .bind(item)
    .fetch_all(&mut **tx)
    .await
}

/// A new attempt's row.
pub struct NewAttempt {
    pub id: AttemptId,
    pub item: ItemId,
    pub course: CourseId,
    pub enrollment: EnrollmentId,
    pub user: UserId,
    pub number: i32,
    pub deadline_at: Option<DateTime<Utc>>,
    pub max_score: f64,
}

/// One question given to a new attempt.
pub struct GivenQuestion {
    pub question_id: QuestionId,
    pub version: i32,
    pub points: f64,
    pub presented: Value,
    /// The version's prompt and definition (not stored with the attempt).
    pub prompt: String,
    pub spec: Value,
}

/// Inserts the attempt and its questions in one statement; the attempt's row.
pub async fn insert_attempt(
    tx: &mut TenantTx,
    a: &NewAttempt,
    questions: &[GivenQuestion],
) -> Result<AttemptRow, sqlx::Error> {
    let ids: Vec<QuestionId> = questions.iter().map(|q| q.question_id).collect();
    let versions: Vec<i32> = questions.iter().map(|q| q.version).collect();
    let points: Vec<f64> = questions.iter().map(|q| q.points).collect();
    let presented: Vec<Value> = questions.iter().map(|q| q.presented.clone()).collect();
    sqlx::query_as(&format!(
        "with attempt as (
             insert into quiz_attempts as a (tenant_id, id, item_id, course_id, enrollment_id,
                 user_id, number, deadline_at, max_score)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             returning {COLUMNS}
         ),
         given as (
             insert into attempt_questions (tenant_id, attempt_id, position, question_id,
                 version, points, presented)
             select $1, $2, q.ord - 1, q.question_id, q.version, q.points, q.presented
             from unnest($10::uuid[], $11::int[], $12::float8[], $13::jsonb[])
                 with ordinality as q(question_id, version, points, presented, ord)
         )
         select * from attempt"
    ))
    .bind(tx.tenant_id())
    .bind(a.id)
    .bind(a.item)
    .bind(a.course)
    .bind(a.enrollment)
    .bind(a.user)
    .bind(a.number)
    .bind(a.deadline_at)
    .bind(a.max_score)
    .bind(&ids)
    .bind(&versions)
    .bind(&points)
    .bind(&presented)
    .fetch_one(&mut **tx)
    .await
}

/// One question of an attempt with what grading needs (the version's definition).
#[derive(sqlx::FromRow, Clone)]
pub struct AttemptQuestionRow {
    pub position: i32,
    pub points: f64,
    pub prompt: String,
    pub spec: Value,
    pub presented: Value,
    pub answer: Option<Value>,
    pub answered_at: Option<DateTime<Utc>>,
    pub grading: Grading,
    pub awarded: Option<f64>,
    pub feedback: Option<Value>,
    pub review_reason: Option<String>,
}

impl AttemptQuestionRow {
    /// The row of a question just given to a new attempt at `position`.
    pub fn given(position: i32, q: GivenQuestion) -> Self {
        Self {
            position,
            points: q.points,
            prompt: q.prompt,
            spec: q.spec,
            presented: q.presented,
            answer: None,
            answered_at: None,
            grading: Grading::Pending,
            awarded: None,
            feedback: None,
            review_reason: None,
        }
    }
}

const QUESTION_COLUMNS: &str = "aq.position, aq.points::float8 as points,
    v.prompt, v.spec, aq.presented, aq.answer, aq.answered_at, aq.grading,
    aq.awarded::float8 as awarded, aq.feedback, aq.review_reason";

/// The attempt's questions in order; `position` only that one.
pub async fn questions(
    tx: &mut TenantTx,
    attempt: AttemptId,
    position: Option<i32>,
) -> Result<Vec<AttemptQuestionRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {QUESTION_COLUMNS} from attempt_questions aq
         join question_versions v on v.tenant_id = aq.tenant_id
             and v.question_id = aq.question_id and v.version = aq.version
         where aq.tenant_id = $1 and aq.attempt_id = $2 and ($3::int is null or aq.position = $3)
         order by aq.position"
    ))
    .bind(tx.tenant_id())
    .bind(attempt)
    .bind(position)
    .fetch_all(&mut **tx)
    .await
}

/// Saves (or replaces) the answer at `position` of the user's attempt while it is open and
/// before its deadline, sharing the attempt's row lock (closing it takes the row exclusively,
/// so no answer lands after the attempt was read for grading), and only while the caller's
/// session is current ([`session_is_current`]). The question as saved; `None` when nothing was
/// saved (a stale session; no such attempt or position, not the user's, closed, expired).
pub async fn save_answer(
    tx: &mut TenantTx,
    attempt: AttemptId,
    (user, epoch): (UserId, i32),
    position: i32,
    answer: &Value,
) -> Result<Option<AttemptQuestionRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "with a as (
             select id from quiz_attempts
             where tenant_id = $1 and id = $2 and user_id = $3 and status = 'in_progress'
               and (deadline_at is null or deadline_at > now()) and {session}
             for share
         )
         update attempt_questions aq set answer = $5, answered_at = now()
         from a, question_versions v
         where aq.tenant_id = $1 and aq.attempt_id = a.id and aq.position = $4
           and v.tenant_id = aq.tenant_id and v.question_id = aq.question_id
           and v.version = aq.version
         returning {QUESTION_COLUMNS}",
        session = session_is_current("$3", "$6"),
    ))
    .bind(tx.tenant_id())
    .bind(attempt)
    .bind(user)
    .bind(position)
    .bind(answer)
    .bind(epoch)
    .fetch_optional(&mut **tx)
    .await
}

/// The grade of one answer.
pub struct AnswerGrade {
    pub position: i32,
    pub grading: Grading,
    pub awarded: Option<f64>,
    pub feedback: Option<Value>,
    pub review_reason: Option<String>,
    /// A person's id for manual grades.
    pub graded_by: Option<UserId>,
}

/// Writes grades; `only_pending` leaves answers that are no longer pending alone (plugin
/// results arriving after a person or the sweep dealt with the answer).
pub async fn set_grades(
    tx: &mut TenantTx,
    attempt: AttemptId,
    grades: &[AnswerGrade],
    only_pending: bool,
) -> Result<(), sqlx::Error> {
    if grades.is_empty() {
        return Ok(());
    }
    let positions: Vec<i32> = grades.iter().map(|g| g.position).collect();
    let gradings: Vec<&str> = grades.iter().map(|g| g.grading.as_str()).collect();
    let awarded: Vec<Option<f64>> = grades.iter().map(|g| g.awarded).collect();
    let feedback: Vec<Option<Value>> = grades.iter().map(|g| g.feedback.clone()).collect();
    let reasons: Vec<Option<String>> = grades.iter().map(|g| g.review_reason.clone()).collect();
    let by: Vec<Option<Uuid>> = grades.iter().map(|g| g.graded_by.map(|u| u.0)).collect();
    sqlx::query(
        "update attempt_questions aq set grading = g.grading, awarded = g.awarded,
             feedback = g.feedback, review_reason = g.reason, graded_by = g.by,
             graded_at = case when g.grading in ('auto', 'manual') then now() end
         from unnest($3::int[], $4::text[], $5::float8[], $6::jsonb[], $7::text[], $8::uuid[])
             as g(position, grading, awarded, feedback, reason, by)
         where aq.tenant_id = $1 and aq.attempt_id = $2 and aq.position = g.position
           and (not $9 or aq.grading = 'pending')",
    )
    .bind(tx.tenant_id())
    .bind(attempt)
    .bind(&positions)
    .bind(&gradings)
    .bind(&awarded)
    .bind(&feedback)
    .bind(&reasons)
    .bind(&by)
    .bind(only_pending)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Closes an open attempt whose every answer `grades` grades, or leaves waiting (`waiting`:
/// how many, plugin questions included): marks it submitted (`auto`: by the deadline), writes
/// the grades and, when nothing waits, grades the attempt itself like [`finalize`]. One
/// statement; `None` when the attempt is not open.
pub async fn close_graded(
    tx: &mut TenantTx,
    attempt: AttemptId,
    auto: bool,
    grades: &[AnswerGrade],
    waiting: usize,
    passing_percent: f64,
) -> Result<Option<AttemptRow>, sqlx::Error> {
    let positions: Vec<i32> = grades.iter().map(|g| g.position).collect();
    let gradings: Vec<&str> = grades.iter().map(|g| g.grading.as_str()).collect();
    let awarded: Vec<Option<f64>> = grades.iter().map(|g| g.awarded).collect();
    let feedback: Vec<Option<Value>> = grades.iter().map(|g| g.feedback.clone()).collect();
    let reasons: Vec<Option<String>> = grades.iter().map(|g| g.review_reason.clone()).collect();
    let closed: Option<AttemptRow> = sqlx::query_as(&format!(
        "with graded as (
             update attempt_questions aq set grading = g.grading, awarded = g.awarded,
                 feedback = g.feedback, review_reason = g.reason,
                 graded_at = case when g.grading = 'auto' then now() end
             from unnest($3::int[], $4::text[], $5::float8[], $6::jsonb[], $7::text[])
                 as g(position, grading, awarded, feedback, reason)
             where aq.tenant_id = $1 and aq.attempt_id = $2 and aq.position = g.position
               and exists (select 1 from quiz_attempts o where o.tenant_id = $1 and o.id = $2
                   and o.status = 'in_progress')
             returning aq.awarded
         ),
         totals as (select coalesce(sum(awarded), 0) as score from graded)
         update quiz_attempts a set
             status = case when $8 then 'graded' else 'submitted' end,
             auto_submitted = $9,
             submitted_at = case when $9 then coalesce(least(a.deadline_at, now()), now())
                            else now() end,
             score = case when $8 then t.score end,
             percent = case when not $8 then null when a.max_score > 0
                 then round(t.score * 100 / a.max_score, 2) else 100 end,
             passed = case when not $8 then null when a.max_score > 0
                 then t.score * 100 >= $10::float8::numeric * a.max_score else true end,
             graded_at = case when $8 then now() end
         from totals t
         where a.tenant_id = $1 and a.id = $2 and a.status = 'in_progress'
         returning {COLUMNS}"
    ))
    .bind(tx.tenant_id())
    .bind(attempt)
    .bind(&positions)
    .bind(&gradings)
    .bind(&awarded)
    .bind(&feedback)
    .bind(&reasons)
    .bind(waiting == 0)
    .bind(auto)
    .bind(passing_percent)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(closed) = &closed {
        let submitted = crate::events::QuizAttemptSubmitted {
            attempt_id: closed.id,
            course_id: closed.course_id,
            item_id: closed.item_id,
            user_id: closed.user_id,
            auto_submitted: closed.auto_submitted,
            submitted_at: closed.submitted_at,
        };
        crate::events::emit(tx, &submitted).await?;
        if closed.status == AttemptStatus::Graded {
            crate::events::emit(tx, &closed.graded_event()).await?;
        }
    }
    Ok(closed)
}

/// Grades the attempt when no answer is pending or waiting for review: its score, per cent and
/// whether it passed, with the `quiz.attempt.graded` event. Returns whether it is graded now.
pub async fn finalize(
    tx: &mut TenantTx,
    attempt: AttemptId,
    passing_percent: f64,
) -> Result<bool, sqlx::Error> {
    let graded: Option<AttemptRow> = sqlx::query_as(&format!(
        "with totals as (
             select count(*) filter (where grading in ('pending', 'review')) as open,
                    coalesce(sum(awarded), 0) as score
             from attempt_questions where tenant_id = $1 and attempt_id = $2
         )
         update quiz_attempts a set status = 'graded', score = t.score,
             percent = case when a.max_score > 0
                 then round(t.score * 100 / a.max_score, 2) else 100 end,
             passed = case when a.max_score > 0
                 then t.score * 100 >= $3::float8::numeric * a.max_score else true end,
             graded_at = now()
         from totals t
         where a.tenant_id = $1 and a.id = $2 and a.status <> 'in_progress' and t.open = 0
         returning {COLUMNS}"
    ))
    .bind(tx.tenant_id())
    .bind(attempt)
    .bind(passing_percent)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(graded) = graded else {
        return Ok(false);
    };
    crate::events::emit(tx, &graded.graded_event()).await?;
    Ok(true)
}

/// Answers waiting for a person, per attempt, oldest submission first: the page's attempts
/// after `after` in the courses the caller grades (all courses for `all`).
#[derive(sqlx::FromRow)]
pub struct ReviewRow {
    pub attempt_id: AttemptId,
    pub position: i32,
    pub course_id: CourseId,
    pub course_title: String,
    pub item_id: ItemId,
    pub quiz_title: String,
    pub learner_id: UserId,
    pub learner_name: String,
    pub question_id: QuestionId,
    pub prompt: String,
    pub points: f64,
    pub answer: Option<Value>,
    pub review_reason: Option<String>,
    pub submitted_at: Option<DateTime<Utc>>,
}

pub async fn review_queue(
    tx: &mut TenantTx,
    grader: UserId,
    all: bool,
    course: Option<CourseId>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<ReviewRow>, sqlx::Error> {
    sqlx::query_as(
        "with page as (
             select a.id from quiz_attempts a
             where a.tenant_id = $1 and a.status = 'submitted'
               and ($4::uuid is null or a.course_id = $4)
               and ($5::uuid is null or a.id > $5)
               and ($3 or exists (select 1 from course_instructors ci where ci.tenant_id = a.tenant_id
                   and ci.course_id = a.course_id and ci.user_id = $2))
               and exists (select 1 from attempt_questions r where r.tenant_id = a.tenant_id
                   and r.attempt_id = a.id and r.grading = 'review')
             order by a.id limit $6
         )
         select a.id as attempt_id, aq.position, a.course_id, c.title as course_title, a.item_id,
                i.title as quiz_title, a.user_id as learner_id, u.display_name as learner_name,
                aq.question_id, v.prompt, aq.points::float8 as points, aq.answer,
                aq.review_reason, a.submitted_at
         from page p
         join quiz_attempts a on a.tenant_id = $1 and a.id = p.id
         join attempt_questions aq on aq.tenant_id = a.tenant_id and aq.attempt_id = a.id
             and aq.grading = 'review'
         join question_versions v on v.tenant_id = aq.tenant_id
             and v.question_id = aq.question_id and v.version = aq.version
         join courses c on c.tenant_id = a.tenant_id and c.id = a.course_id
         join course_items i on i.tenant_id = a.tenant_id and i.id = a.item_id
         join users u on u.tenant_id = a.tenant_id and u.id = a.user_id
         order by a.id, aq.position",
    )
    .bind(tx.tenant_id())
    .bind(grader)
    .bind(all)
    .bind(course)
    .bind(after)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await
}
