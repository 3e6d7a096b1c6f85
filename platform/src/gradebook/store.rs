//! All SQL of the gradebook: its settings, the course's assessments, and the learners' scores
//! (quiz scores by the quiz's attempt grading, assignment scores from the latest graded
//! submission).

use chrono::{DateTime, Utc};
use lms_tenants::TenantTx;
use serde_json::Value;
use uuid::Uuid;

use super::model::Weighting;
use crate::courses::ItemKind;
use crate::courses::{CourseId, ItemId};
use crate::enrollments::EnrollmentId;
use crate::enrollments::EnrollmentStatus;
use crate::users::UserId;

#[derive(sqlx::FromRow)]
pub struct SettingsRow {
    pub weighting: Weighting,
    pub categories: Value,
    pub updated_at: DateTime<Utc>,
}

pub async fn settings(
    tx: &mut TenantTx,
    course: CourseId,
) -> Result<Option<SettingsRow>, sqlx::Error> {
    sqlx::query_as(
        "select weighting, categories, updated_at from gradebook_settings
         where tenant_id = $1 and course_id = $2",
    )
    .bind(tx.tenant_id())
    .bind(course)
    .fetch_optional(&mut **tx)
    .await
}

/// An assessment item with its weight.
#[derive(sqlx::FromRow)]
pub struct ColumnRow {
    pub item_id: ItemId,
    pub title: String,
    pub kind: ItemKind,
    pub weight: f64,
    pub category: Option<String>,
    pub passing_percent: Option<f64>,
}

/// The course's quizzes and assignments in outline order.
pub async fn columns(tx: &mut TenantTx, course: CourseId) -> Result<Vec<ColumnRow>, sqlx::Error> {
    sqlx::query_as(
        "select i.id as item_id, i.title, i.kind, coalesce(g.weight, 1)::float8 as weight,
                g.category,
                coalesce(q.passing_percent, a.passing_percent)::float8 as passing_percent
         from course_items i
         join course_modules m on m.tenant_id = i.tenant_id and m.id = i.module_id
         left join gradebook_items g on g.tenant_id = i.tenant_id and g.item_id = i.id
         left join quizzes q on q.tenant_id = i.tenant_id and q.item_id = i.id
         left join assignments a on a.tenant_id = i.tenant_id and a.item_id = i.id
         where i.tenant_id = $1 and i.course_id = $2 and i.kind in ('quiz', 'assignment')
         order by m.position, i.position",
    )
    .bind(tx.tenant_id())
    .bind(course)
    .fetch_all(&mut **tx)
    .await
}

/// Replaces the course's weighting, categories and item weights.
pub async fn save(
    tx: &mut TenantTx,
    course: CourseId,
    weighting: &str,
    categories: &Value,
    items: &[(ItemId, f64, Option<String>)],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into gradebook_settings (tenant_id, course_id, weighting, categories)
         values ($1, $2, $3, $4)
         on conflict (tenant_id, course_id) do update
         set weighting = excluded.weighting, categories = excluded.categories",
    )
    .bind(tx.tenant_id())
    .bind(course)
    .bind(weighting)
    .bind(categories)
    .execute(&mut **tx)
    .await?;
    sqlx::query("delete from gradebook_items where tenant_id = $1 and course_id = $2")
        .bind(tx.tenant_id())
        .bind(course)
        .execute(&mut **tx)
        .await?;
    let ids: Vec<Uuid> = items.iter().map(|(id, _, _)| id.0).collect();
    let weights: Vec<f64> = items.iter().map(|(_, w, _)| *w).collect();
    let names: Vec<Option<&str>> = items.iter().map(|(_, _, c)| c.as_deref()).collect();
    sqlx::query(
        "insert into gradebook_items (tenant_id, course_id, item_id, weight, category)
         select $1, $2, g.item_id, g.weight, g.category
         from unnest($3::uuid[], $4::float8[], $5::text[]) as g(item_id, weight, category)",
    )
    .bind(tx.tenant_id())
    .bind(course)
    .bind(&ids)
    .bind(&weights)
    .bind(&names)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// A learner of the course.
#[derive(sqlx::FromRow)]
pub struct LearnerRow {
    pub enrollment_id: EnrollmentId,
    pub user_id: UserId,
    pub display_name: String,
    pub email: String,
    pub status: EnrollmentStatus,
}

/// The course's learners by enrollment, after `after`; at most `limit` (all when `None`).
pub async fn learners(
    tx: &mut TenantTx,
    course: CourseId,
    after: Option<Uuid>,
    limit: Option<i64>,
) -> Result<Vec<LearnerRow>, sqlx::Error> {
    sqlx::query_as(
        "select e.id as enrollment_id, e.user_id, u.display_name, u.email, e.status
         from enrollments e
         join users u on u.tenant_id = e.tenant_id and u.id = e.user_id
         where e.tenant_id = $1 and e.course_id = $2 and ($3::uuid is null or e.id > $3)
         order by e.id
         limit $4",
    )
    .bind(tx.tenant_id())
    .bind(course)
    .bind(after)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await
}

/// One learner's result in one assessment.
#[derive(sqlx::FromRow)]
pub struct ScoreRow {
    pub user_id: UserId,
    pub item_id: ItemId,
    pub percent: f64,
    pub passed: bool,
    pub released: bool,
}

/// The scores of these learners in the course: each quiz by its attempt grading over graded
/// attempts, each assignment by its latest graded submission (released ones only unless
/// `unreleased`).
pub async fn scores(
    tx: &mut TenantTx,
    course: CourseId,
    users: &[UserId],
    unreleased: bool,
) -> Result<Vec<ScoreRow>, sqlx::Error> {
    sqlx::query_as(
        "with quiz as (
             select a.user_id, a.item_id,
                    case q.attempt_grading
                        when 'highest' then max(a.percent)
                        when 'average' then round(avg(a.percent), 2)
                        else (array_agg(a.percent order by a.number desc))[1]
                    end as percent,
                    q.passing_percent
             from quiz_attempts a
             join quizzes q on q.tenant_id = a.tenant_id and q.item_id = a.item_id
             where a.tenant_id = $1 and a.course_id = $2 and a.status = 'graded'
               and a.user_id = any($3)
             group by a.user_id, a.item_id, q.attempt_grading, q.passing_percent
         ),
         assignment as (
             select distinct on (s.user_id, s.item_id) s.user_id, s.item_id, s.percent, s.passed,
                    s.released_at is not null as released
             from assignment_submissions s
             where s.tenant_id = $1 and s.course_id = $2 and s.status = 'graded'
               and s.user_id = any($3) and ($4 or s.released_at is not null)
             order by s.user_id, s.item_id, s.number desc
         )
         select user_id, item_id, percent::float8 as percent, percent >= passing_percent as passed,
                true as released
         from quiz
         union all
         select user_id, item_id, percent::float8, passed, released from assignment",
    )
    .bind(tx.tenant_id())
    .bind(course)
    .bind(users)
    .bind(unreleased)
    .fetch_all(&mut **tx)
    .await
}
