//! All SQL on `quizzes` and `quiz_slots`, and the questions an attempt draws from them.

use chrono::{DateTime, Utc};
use lms_tenants::TenantTx;
use serde_json::Value;
use uuid::Uuid;

use super::model::{AttemptGrading, QuizSettings, ShowCorrectAnswers, Slot};
use crate::courses::{CourseId, ItemId};
use crate::question_banks::{BankId, CategoryId, QuestionId};

/// A quiz item with its settings (absent until an author saves them).
#[derive(sqlx::FromRow)]
pub struct QuizRow {
    pub item_id: ItemId,
    pub course_id: CourseId,
    pub title: String,
    pub configured: bool,
    pub time_limit_seconds: Option<i32>,
    pub max_attempts: Option<i32>,
    pub passing_percent: Option<f64>,
    pub attempt_grading: Option<AttemptGrading>,
    pub shuffle_questions: Option<bool>,
    pub shuffle_options: Option<bool>,
    pub available_from: Option<DateTime<Utc>>,
    pub available_until: Option<DateTime<Utc>>,
    pub show_correct_answers: Option<ShowCorrectAnswers>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl QuizRow {
    pub fn settings(&self) -> QuizSettings {
        QuizSettings {
            time_limit_seconds: self.time_limit_seconds,
            max_attempts: self.max_attempts,
            passing_percent: self.passing_percent.unwrap_or(50.0),
            attempt_grading: self.attempt_grading.unwrap_or_default(),
            shuffle_questions: self.shuffle_questions.unwrap_or(false),
            shuffle_options: self.shuffle_options.unwrap_or(false),
            available_from: self.available_from,
            available_until: self.available_until,
            show_correct_answers: self.show_correct_answers.unwrap_or_default(),
        }
    }
}

/// The course's quiz item `item` with its settings; `None` when the course has no quiz item
/// with this id.
pub async fn quiz(
    tx: &mut TenantTx,
    course: CourseId,
    item: ItemId,
) -> Result<Option<QuizRow>, sqlx::Error> {
    sqlx::query_as(
        "select i.id as item_id, i.course_id, i.title, q.item_id is not null as configured,
                q.time_limit_seconds, q.max_attempts, q.passing_percent::float8 as passing_percent,
                q.attempt_grading, q.shuffle_questions, q.shuffle_options, q.available_from,
                q.available_until, q.show_correct_answers, q.updated_at
         from course_items i
         left join quizzes q on q.tenant_id = i.tenant_id and q.item_id = i.id
         where i.tenant_id = $1 and i.course_id = $2 and i.id = $3 and i.kind = 'quiz'",
    )
    .bind(tx.tenant_id())
    .bind(course)
    .bind(item)
    .fetch_optional(&mut **tx)
    .await
}

pub async fn save_settings(
    tx: &mut TenantTx,
    course: CourseId,
    item: ItemId,
    s: &QuizSettings,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into quizzes (tenant_id, item_id, course_id, time_limit_seconds, max_attempts,
             passing_percent, attempt_grading, shuffle_questions, shuffle_options, available_from,
             available_until, show_correct_answers)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         on conflict (tenant_id, item_id) do update set
             time_limit_seconds = excluded.time_limit_seconds,
             max_attempts = excluded.max_attempts,
             passing_percent = excluded.passing_percent,
             attempt_grading = excluded.attempt_grading,
             shuffle_questions = excluded.shuffle_questions,
             shuffle_options = excluded.shuffle_options,
             available_from = excluded.available_from,
             available_until = excluded.available_until,
             show_correct_answers = excluded.show_correct_answers",
    )
    .bind(tx.tenant_id())
    .bind(item)
    .bind(course)
    .bind(s.time_limit_seconds)
    .bind(s.max_attempts)
    .bind(s.passing_percent)
    .bind(s.attempt_grading.as_str())
    .bind(s.shuffle_questions)
    .bind(s.shuffle_options)
    .bind(s.available_from)
    .bind(s.available_until)
    .bind(s.show_correct_answers.as_str())
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Replaces the quiz's question list.
pub async fn replace_slots(
    tx: &mut TenantTx,
    item: ItemId,
    slots: &[Slot],
) -> Result<(), sqlx::Error> {
    sqlx::query("delete from quiz_slots where tenant_id = $1 and item_id = $2")
        .bind(tx.tenant_id())
        .bind(item)
        .execute(&mut **tx)
        .await?;
    let mut questions: Vec<Option<Uuid>> = Vec::with_capacity(slots.len());
    let mut banks: Vec<Option<Uuid>> = Vec::with_capacity(slots.len());
    let mut categories: Vec<Option<Uuid>> = Vec::with_capacity(slots.len());
    let mut counts: Vec<Option<i32>> = Vec::with_capacity(slots.len());
    for slot in slots {
        match *slot {
            Slot::Question { question_id } => {
                questions.push(Some(question_id.0));
                banks.push(None);
                categories.push(None);
                counts.push(None);
            }
            Slot::Draw {
                bank_id,
                category_id,
                count,
            } => {
                questions.push(None);
                banks.push(Some(bank_id.0));
                categories.push(category_id.map(|c| c.0));
                counts.push(Some(count));
            }
        }
    }
    sqlx::query(
        "insert into quiz_slots (tenant_id, item_id, position, question_id, bank_id, category_id,
             draw_count)
         select $1, $2, s.ord - 1, s.question_id, s.bank_id, s.category_id, s.draw_count
         from unnest($3::uuid[], $4::uuid[], $5::uuid[], $6::int[])
             with ordinality as s(question_id, bank_id, category_id, draw_count, ord)",
    )
    .bind(tx.tenant_id())
    .bind(item)
    .bind(&questions)
    .bind(&banks)
    .bind(&categories)
    .bind(&counts)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn slots(tx: &mut TenantTx, item: ItemId) -> Result<Vec<Slot>, sqlx::Error> {
    // (question_id, bank_id, category_id, draw_count), as the table's check allows them.
    type SlotRow = (Option<Uuid>, Option<Uuid>, Option<Uuid>, Option<i32>);
    let rows: Vec<SlotRow> = sqlx::query_as(
        "select question_id, bank_id, category_id, draw_count from quiz_slots
         where tenant_id = $1 and item_id = $2 order by position",
    )
    .bind(tx.tenant_id())
    .bind(item)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| match row {
            (Some(q), ..) => Some(Slot::Question {
                question_id: QuestionId(q),
            }),
            (None, Some(bank), category, Some(count)) => Some(Slot::Draw {
                bank_id: BankId(bank),
                category_id: category.map(CategoryId),
                count,
            }),
            _ => None,
        })
        .collect())
}

/// How many questions an attempt would be given now: the named questions that are not
/// archived, and each draw's count or what its bank (category) holds, whichever is less.
pub async fn question_count(tx: &mut TenantTx, item: ItemId) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "select coalesce(sum(case when s.question_id is not null then
                    (select count(*) from questions q where q.tenant_id = s.tenant_id
                        and q.id = s.question_id and q.archived_at is null)
                else least(s.draw_count, (select count(*) from questions q
                    where q.tenant_id = s.tenant_id and q.bank_id = s.bank_id
                      and (s.category_id is null or q.category_id = s.category_id)
                      and q.archived_at is null)) end), 0)::bigint
         from quiz_slots s where s.tenant_id = $1 and s.item_id = $2",
    )
    .bind(tx.tenant_id())
    .bind(item)
    .fetch_one(&mut **tx)
    .await
}

/// Of `banks`, those the course's quizzes may ask from: the course's own and the shared ones.
pub async fn usable_banks(
    tx: &mut TenantTx,
    course: CourseId,
    banks: &[Uuid],
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "select id from question_banks where tenant_id = $1 and id = any($3)
           and (course_id = $2 or course_id is null)",
    )
    .bind(tx.tenant_id())
    .bind(course)
    .bind(banks)
    .fetch_all(&mut **tx)
    .await
}

/// Of `questions`, those the course's quizzes may ask: not archived, in a usable bank.
pub async fn usable_questions(
    tx: &mut TenantTx,
    course: CourseId,
    questions: &[Uuid],
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "select q.id from questions q
         join question_banks b on b.tenant_id = q.tenant_id and b.id = q.bank_id
         where q.tenant_id = $1 and q.id = any($3) and q.archived_at is null
           and (b.course_id = $2 or b.course_id is null)",
    )
    .bind(tx.tenant_id())
    .bind(course)
    .bind(questions)
    .fetch_all(&mut **tx)
    .await
}

/// Of the (bank, category) pairs, the categories that are in their bank.
pub async fn known_categories(
    tx: &mut TenantTx,
    pairs: &[(Uuid, Uuid)],
) -> Result<Vec<Uuid>, sqlx::Error> {
    let (banks, categories): (Vec<Uuid>, Vec<Uuid>) = pairs.iter().copied().unzip();
    sqlx::query_scalar(
        "select c.id from question_categories c
         join unnest($2::uuid[], $3::uuid[]) as p(bank_id, id)
             on p.bank_id = c.bank_id and p.id = c.id
         where c.tenant_id = $1",
    )
    .bind(tx.tenant_id())
    .bind(&banks)
    .bind(&categories)
    .fetch_all(&mut **tx)
    .await
}

/// A question at its current version, as an attempt is given it.
#[derive(sqlx::FromRow)]
pub struct Candidate {
    pub question_id: QuestionId,
    pub version: i32,
    pub points: f64,
    pub prompt: String,
    pub spec: Value,
}

/// One row of [`candidates`]: a named question, or one of a draw's candidates in the random
/// order of the draw.
#[derive(sqlx::FromRow)]
pub struct SlotCandidate {
    /// The slot's position in the quiz.
    pub position: i32,
    /// How many the slot draws; `None` for a named question.
    pub draw_count: Option<i32>,
    #[sqlx(flatten)]
    pub question: Candidate,
}

/// What a new attempt can be given, in one statement, in the quiz's order: each named question
/// (not archived) at its current version, and for each draw its bank's (or category's) questions
/// that are not archived and not named, at random. A draw lists as many candidates as it draws
/// plus as many as the draws before it, so it has enough left after skipping the questions those
/// drew ([`super::attempts`] picks from them).
pub async fn candidates(
    tx: &mut TenantTx,
    item: ItemId,
) -> Result<Vec<SlotCandidate>, sqlx::Error> {
    sqlx::query_as(
        "with slot as (
             select position, question_id, bank_id, category_id, draw_count,
                    coalesce(sum(draw_count) over (order by position
                        rows between unbounded preceding and 1 preceding), 0) as drawn_before
             from quiz_slots where tenant_id = $1 and item_id = $2
         ),
         named as (
             select s.position, null::int as draw_count, 0::float8 as rank, q.id as question_id,
                    v.version, v.points::float8 as points, v.prompt, v.spec
             from slot s
             join questions q on q.tenant_id = $1 and q.id = s.question_id
                 and q.archived_at is null
             join question_versions v on v.tenant_id = q.tenant_id and v.question_id = q.id
                 and v.version = q.current_version
         )
         select * from named
         union all
         select s.position, s.draw_count, d.rank, d.question_id, d.version, d.points, d.prompt,
                d.spec
         from slot s
         cross join lateral (
             select random() as rank, q.id as question_id, v.version,
                    v.points::float8 as points, v.prompt, v.spec
             from questions q
             join question_versions v on v.tenant_id = q.tenant_id and v.question_id = q.id
                 and v.version = q.current_version
             where q.tenant_id = $1 and q.bank_id = s.bank_id
               and (s.category_id is null or q.category_id = s.category_id)
               and q.archived_at is null
               and q.id not in (select question_id from named)
             order by rank limit s.draw_count + s.drawn_before
         ) d
         where s.bank_id is not null
         order by position, rank",
    )
    .bind(tx.tenant_id())
    .bind(item)
    .fetch_all(&mut **tx)
    .await
}
