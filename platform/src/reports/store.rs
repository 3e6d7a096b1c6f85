//! All SQL of the team report, on the caller's tenant-scoped transaction.
//!
//! A page is read in two statements: the team's enrollments newest first (a keyset page on the
//! enrollment id), then the quiz and assignment results of that page's enrollments only. The
//! team is the active members of the cohorts the manager manages (every cohort without one):
//! `cohort_managers_user` finds the manager's cohorts, `cohort_members_user` a user's
//! memberships, `enrollments_user` and the primary key the enrollments in id order, and the
//! partial indexes of the `cohort_managers` migration the graded attempts and released grades.

use chrono::{DateTime, Utc};
use lms_tenants::TenantTx;
use uuid::Uuid;

use super::model::ReportFilter;
use crate::cohorts::Team;
use crate::courses::{CourseId, ItemId, ItemKind};
use crate::enrollments::{EnrollmentId, EnrollmentStatus};
use crate::progress::COUNTS;
use crate::users::UserId;

#[derive(sqlx::FromRow)]
pub struct EnrollmentRow {
    pub enrollment_id: EnrollmentId,
    pub user_id: UserId,
    pub display_name: String,
    pub email: String,
    pub course_id: CourseId,
    pub course_title: String,
    pub status: EnrollmentStatus,
    pub enrolled_at: DateTime<Utc>,
    pub last_activity_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub done: i64,
    pub total: i64,
}

/// Up to `limit` enrollments of the team matching `filter`, newest first, older than `after`.
pub async fn enrollments(
    tx: &mut TenantTx,
    team: Team,
    filter: &ReportFilter,
    after: Option<EnrollmentId>,
    limit: i64,
) -> Result<Vec<EnrollmentRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select e.id as enrollment_id, e.user_id, u.display_name, u.email, e.course_id,
                c.title as course_title, e.status, e.enrolled_at, e.last_activity_at,
                e.completed_at, n.done, n.total
         from enrollments e
         join users u on u.tenant_id = e.tenant_id and u.id = e.user_id
         join courses c on c.tenant_id = e.tenant_id and c.id = e.course_id
         cross join lateral ({COUNTS}) n
         where e.tenant_id = $1 and u.status = 'active'
           and exists (
               select 1 from cohort_members m
               where m.tenant_id = e.tenant_id and m.user_id = e.user_id
                 and ($2::uuid is null or m.cohort_id = $2)
                 and ($3::uuid is null or exists (
                     select 1 from cohort_managers g
                     where g.tenant_id = m.tenant_id and g.user_id = $3
                       and g.cohort_id = m.cohort_id)))
           and ($4::uuid is null or e.course_id = $4)
           and ($5::uuid is null or e.user_id = $5)
           and ($6::text is null or e.status = $6)
           and ($7::uuid is null or e.id < $7)
         order by e.id desc
         limit $8"
    ))
    .bind(tx.tenant_id())
    .bind(filter.cohort)
    .bind(team.manager())
    .bind(filter.course)
    .bind(filter.user)
    .bind(filter.status.map(|s| s.enrollment_status().as_str()))
    .bind(after)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await
}

/// One enrollment's result in one quiz or assignment of its course.
#[derive(sqlx::FromRow)]
pub struct ResultRow {
    pub enrollment_id: EnrollmentId,
    pub item_id: ItemId,
    pub title: String,
    pub kind: ItemKind,
    pub attempts: i64,
    pub best_percent: Option<f64>,
    pub last_percent: Option<f64>,
    pub quiz_passed: Option<bool>,
    pub grade_percent: Option<f64>,
    pub grade_passed: Option<bool>,
    pub released_at: Option<DateTime<Utc>>,
}

/// The quiz results and released assignment grades of these enrollments, one row per
/// enrollment and assessment of its course, in outline order. A quiz counts graded attempts;
/// an assignment shows its latest released grade (grades held back are never read).
pub async fn results(
    tx: &mut TenantTx,
    enrollments: &[EnrollmentId],
) -> Result<Vec<ResultRow>, sqlx::Error> {
    let ids: Vec<Uuid> = enrollments.iter().map(|e| e.0).collect();
    sqlx::query_as(
        "select e.id as enrollment_id, i.id as item_id, i.title, i.kind,
                coalesce(q.attempts, 0) as attempts, q.best_percent, q.last_percent,
                q.passed as quiz_passed, s.percent as grade_percent, s.passed as grade_passed,
                s.released_at
         from enrollments e
         join course_items i on i.tenant_id = e.tenant_id and i.course_id = e.course_id
             and i.kind in ('quiz', 'assignment')
         join course_modules m on m.tenant_id = i.tenant_id and m.id = i.module_id
         left join lateral (
             select count(*) as attempts, max(a.percent)::float8 as best_percent,
                    ((array_agg(a.percent order by a.number desc))[1])::float8 as last_percent,
                    case z.attempt_grading
                        when 'highest' then max(a.percent)
                        when 'average' then round(avg(a.percent), 2)
                        else (array_agg(a.percent order by a.number desc))[1]
                    end >= z.passing_percent as passed
             from quiz_attempts a
             join quizzes z on z.tenant_id = a.tenant_id and z.item_id = a.item_id
             where a.tenant_id = e.tenant_id and a.enrollment_id = e.id and a.item_id = i.id
               and a.status = 'graded'
             group by z.attempt_grading, z.passing_percent
         ) q on i.kind = 'quiz'
         left join lateral (
             select g.percent::float8 as percent, g.passed, g.released_at
             from assignment_submissions g
             where g.tenant_id = e.tenant_id and g.enrollment_id = e.id and g.item_id = i.id
               and g.status = 'graded' and g.released_at is not null
             order by g.number desc
             limit 1
         ) s on i.kind = 'assignment'
         where e.tenant_id = $1 and e.id = any($2)
         order by e.id desc, m.position, i.position",
    )
    .bind(tx.tenant_id())
    .bind(ids)
    .fetch_all(&mut **tx)
    .await
}
