//! Grading attempts.
//!
//! Closing an attempt (submission, or the deadline) grades every objective answer by its
//! question's rules in the same transaction; essays wait for a person; plugin questions are
//! graded by the tenant's grader plugin after the commit (no row lock is held while a plugin
//! runs), and a plugin that fails or runs out of time leaves the answer for a person with the
//! reason, never losing it. An attempt is graded once no answer waits; passing the quiz (by its
//! attempt grading) completes the quiz item and so advances the course's progress.

use std::net::IpAddr;

use lms_tenants::{TenantId, TenantTx};
use serde::Deserialize;
use serde_json::{Value, json};

use super::attempt_store::{self, AnswerGrade, AttemptQuestionRow, AttemptRow};
use super::attempts;
use super::model::{
    Attempt, AttemptId, AttemptStatus, Grading, ManualGrade, QuizSettings, ReviewAnswer,
    ReviewAttempt,
};
use crate::audit::{Audit, AuditActor};
use crate::auth::Caller;
use crate::courses::CourseId;
use crate::courses::is_course_staff;
use crate::db::Cursor;
use crate::error::{ApiError, ApiResult, FieldError, codes};
use crate::http::Page;
use crate::plugins::{GradeInput, PluginName};
use crate::question_banks::in_hundredths;
use crate::question_banks::kinds::{AutoGrade, QuestionSpec};
use crate::state::AppState;
use crate::users::Role;

/// A plugin question to grade after the closing transaction commits.
pub(super) struct PluginJob {
    position: i32,
    plugin: String,
    config: Value,
    prompt: String,
    points: f64,
    text: Option<String>,
    json: Option<Value>,
}

/// Points in hundredths, within 0..=max.
fn points(fraction: f64, max: f64) -> f64 {
    let fraction = if fraction.is_finite() {
        fraction.clamp(0.0, 1.0)
    } else {
        0.0
    };
    ((fraction * max * 100.0).round() / 100.0).min(max)
}

fn review(position: i32, reason: &str) -> AnswerGrade {
    AnswerGrade {
        position,
        grading: Grading::Review,
        awarded: None,
        feedback: None,
        review_reason: Some(reason.to_owned()),
        graded_by: None,
    }
}

fn auto(position: i32, awarded: f64, feedback: Option<Value>) -> AnswerGrade {
    AnswerGrade {
        position,
        grading: Grading::Auto,
        awarded: Some(awarded),
        feedback,
        review_reason: None,
        graded_by: None,
    }
}

/// An attempt [`close`] has just closed.
pub(super) struct Closed {
    /// As it is now: graded, or submitted when answers wait.
    pub attempt: AttemptRow,
    /// The learner's attempts at the quiz, this one included.
    pub attempts: Vec<AttemptRow>,
    /// Its questions with the grades just written.
    pub questions: Vec<AttemptQuestionRow>,
    /// The plugin questions to grade after the commit ([`run_plugins`]).
    pub jobs: Vec<PluginJob>,
}

/// Closes an open attempt and grades what the rules can: locks the enrollment and the attempt
/// (`None` for an attempt that is closed already), marks it submitted (`auto`: by the
/// deadline), grades, grades the attempt itself when nothing waits, and completes the quiz item
/// when the learner has passed the quiz.
pub(super) async fn close(
    tx: &mut TenantTx,
    attempt: &AttemptRow,
    settings: &QuizSettings,
    auto_submitted: bool,
) -> ApiResult<Option<Closed>> {
    let enrollment = crate::enrollments::lock(tx, attempt.enrollment()).await?;
    let Some(current) = attempt_store::attempt(tx, attempt.id, true).await? else {
        return Ok(None);
    };
    if current.status != AttemptStatus::InProgress {
        return Ok(None);
    }
    let mut questions = attempt_store::questions(tx, current.id, None).await?;
    let mut grades = Vec::with_capacity(questions.len());
    let mut jobs = Vec::new();
    for row in &questions {
        match grade_by_rule(row) {
            RuleGrade::Now(grade) => grades.push(grade),
            RuleGrade::ByPlugin(job) => jobs.push(job),
        }
    }
    let waiting = jobs.len()
        + grades
            .iter()
            .filter(|g| g.grading == Grading::Review)
            .count();
    let closed = attempt_store::close_graded(
        tx,
        current.id,
        auto_submitted,
        &grades,
        waiting,
        settings.passing_percent,
    )
    .await?
    .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("the locked attempt was not open")))?;
    for grade in grades {
        if let Some(row) = questions.iter_mut().find(|r| r.position == grade.position) {
            row.grading = grade.grading;
            row.awarded = grade.awarded;
            row.feedback = grade.feedback;
            row.review_reason = grade.review_reason;
        }
    }
    let attempts = attempt_store::attempts_of(tx, closed.item(), closed.user_id).await?;
    if closed.status == AttemptStatus::Graded && attempts::passed(&attempts, settings) {
        crate::progress::complete_locked(
            tx,
            closed.course(),
            closed.enrollment(),
            closed.item(),
            enrollment,
        )
        .await?;
    }
    Ok(Some(Closed {
        attempt: closed,
        attempts,
        questions,
        jobs,
    }))
}

/// An answer graded by its question's rules, or the plugin job that will grade it.
enum RuleGrade {
    Now(AnswerGrade),
    ByPlugin(PluginJob),
}

fn grade_by_rule(row: &AttemptQuestionRow) -> RuleGrade {
    let Ok(spec) = QuestionSpec::deserialize(&row.spec) else {
        return RuleGrade::Now(review(
            row.position,
            "the question's definition could not be read",
        ));
    };
    let Some(answer) = &row.answer else {
        return RuleGrade::Now(auto(row.position, 0.0, None));
    };
    let Ok(response) = spec.parse_response(answer) else {
        return RuleGrade::Now(review(row.position, "the saved answer could not be read"));
    };
    match spec.grade(&response) {
        AutoGrade::Scored { fraction } => {
            RuleGrade::Now(auto(row.position, points(fraction, row.points), None))
        }
        AutoGrade::Manual => RuleGrade::Now(review(row.position, "graded by a person")),
        AutoGrade::Plugin {
            plugin,
            config,
            text,
            json,
        } => RuleGrade::ByPlugin(PluginJob {
            position: row.position,
            plugin,
            config,
            prompt: row.prompt.clone(),
            points: row.points,
            text,
            json,
        }),
    }
}

/// Grades the attempt when nothing waits, and completes the quiz item once the learner has
/// passed the quiz.
async fn settle(tx: &mut TenantTx, attempt: &AttemptRow, settings: &QuizSettings) -> ApiResult<()> {
    if attempt_store::finalize(tx, attempt.id, settings.passing_percent).await? {
        let all = attempt_store::attempts_of(tx, attempt.item(), attempt.user_id).await?;
        if attempts::passed(&all, settings) {
            crate::progress::complete_by_assessment(
                tx,
                attempt.course(),
                attempt.enrollment(),
                attempt.item(),
            )
            .await?;
        }
    }
    Ok(())
}

/// Grades the plugin questions of a closed attempt with the tenant's grader plugins, then
/// records the grades (answers a person or the sweep dealt with meanwhile are left alone). A
/// failing plugin leaves its answer for a person, with the reason.
pub(super) async fn run_plugins(
    state: &AppState,
    tenant: TenantId,
    attempt: &AttemptRow,
    settings: &QuizSettings,
    jobs: Vec<PluginJob>,
) -> ApiResult<()> {
    if jobs.is_empty() {
        return Ok(());
    }
    let learner = attempt.user_id;
    let mut grades = Vec::with_capacity(jobs.len());
    for job in jobs {
        let Ok(name) = PluginName::parse(&job.plugin) else {
            grades.push(review(
                job.position,
                "the grader plugin's name is not valid",
            ));
            continue;
        };
        let input = GradeInput {
            question_kind: "plugin".into(),
            prompt: job.prompt,
            config: job.config,
            max_points: job.points,
            response_text: job.text,
            response_json: job.json,
        };
        grades.push(
            match crate::plugins::run_grader(state, tenant, learner, &name, input).await {
                Ok(grade) => auto(
                    job.position,
                    points(grade.points / job.points.max(f64::MIN_POSITIVE), job.points),
                    Some(json!({
                        "plugin": grade.plugin,
                        "version": grade.version,
                        "passed": grade.passed,
                        "criteria": grade.feedback,
                    })),
                ),
                Err(err) => review(
                    job.position,
                    &format!(
                        "the grader plugin could not grade it ({}): {err}",
                        err.code()
                    ),
                ),
            },
        );
    }
    let mut tx = state.db.begin(tenant).await?;
    crate::enrollments::lock(&mut tx, attempt.enrollment()).await?;
    let current = attempt_store::attempt(&mut tx, attempt.id, true)
        .await?
        .ok_or(ApiError::NotFound)?;
    attempt_store::set_grades(&mut tx, current.id, &grades, true).await?;
    settle(&mut tx, &current, settings).await?;
    tx.commit().await?;
    Ok(())
}

/// A person grades (or regrades) one answer of a closed attempt: the course's staff only.
pub async fn grade_answer(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    id: AttemptId,
    position: i32,
    grade: ManualGrade,
) -> ApiResult<Attempt> {
    let (mut tx, actor) = caller.begin(state).await?;
    let attempt = attempt_store::attempt(&mut tx, id, false)
        .await?
        .ok_or(ApiError::NotFound)?;
    if !is_course_staff(&mut tx, &actor, attempt.course()).await? {
        return Err(if attempt.user_id == actor.user_id {
            ApiError::Forbidden {
                code: codes::FORBIDDEN,
                detail: "only the course's instructors and tenant admins grade attempts",
            }
        } else {
            ApiError::NotFound
        });
    }
    crate::enrollments::lock(&mut tx, attempt.enrollment()).await?;
    let attempt = attempt_store::attempt(&mut tx, id, true)
        .await?
        .ok_or(ApiError::NotFound)?;
    if attempt.status == AttemptStatus::InProgress {
        return Err(ApiError::Conflict {
            code: "attempt_in_progress",
            detail: "the attempt is still being answered".into(),
        });
    }
    let row = attempt_store::questions(&mut tx, id, Some(position))
        .await?
        .pop()
        .ok_or(ApiError::NotFound)?;
    let mut errors = Vec::new();
    if !in_hundredths(grade.points) || grade.points < 0.0 || grade.points > row.points {
        errors.push(FieldError::new(
            "points",
            "out_of_range",
            format!("0 to {} in steps of 0.01", row.points),
        ));
    }
    if grade
        .comment
        .as_deref()
        .is_some_and(|c| c.chars().count() > 10_000)
    {
        errors.push(FieldError::new(
            "comment",
            "too_long",
            "at most 10000 characters",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let feedback = grade.comment.as_ref().map(|c| json!({ "comment": c }));
    attempt_store::set_grades(
        &mut tx,
        id,
        &[AnswerGrade {
            position,
            grading: Grading::Manual,
            awarded: Some(grade.points),
            feedback,
            review_reason: None,
            graded_by: Some(actor.user_id),
        }],
        false,
    )
    .await?;
    let quiz = super::store::quiz(&mut tx, attempt.course(), attempt.item())
        .await?
        .ok_or(ApiError::NotFound)?;
    let settings = quiz.settings();
    settle(&mut tx, &attempt, &settings).await?;
    Audit::new(
        AuditActor::User(actor.user_id),
        "quiz_attempt.graded",
        "quiz_attempt",
        id,
    )
    .from_ip(ip)
    .details(json!({ "position": position, "points": grade.points }))
    .record(&mut tx)
    .await?;
    let attempt = attempt_store::attempt(&mut tx, id, false)
        .await?
        .ok_or(ApiError::NotFound)?;
    let all = attempt_store::attempts_of(&mut tx, attempt.item(), attempt.user_id).await?;
    let view = attempts::view(&mut tx, &attempt, &settings, &all, true).await?;
    tx.commit().await?;
    Ok(view)
}

/// The caller's grading queue: submitted attempts with answers waiting for a person in the
/// courses they teach (every course for tenant admins), oldest first.
pub async fn queue(
    state: &AppState,
    caller: &Caller,
    course: Option<CourseId>,
    cursor: Option<Cursor>,
    limit: i64,
) -> ApiResult<Page<ReviewAttempt>> {
    let (mut tx, actor) = caller.begin(state).await?;
    let admin = actor.roles.contains(Role::TenantAdmin);
    if !admin && !actor.roles.contains(Role::Instructor) {
        return Err(ApiError::Forbidden {
            code: codes::FORBIDDEN,
            detail: "only instructors and tenant admins grade attempts",
        });
    }
    let rows = attempt_store::review_queue(
        &mut tx,
        actor.user_id,
        admin,
        course,
        cursor.map(|c| c.0),
        limit + 1,
    )
    .await?;
    tx.commit().await?;
    let mut attempts: Vec<ReviewAttempt> = Vec::new();
    for row in rows {
        if attempts
            .last()
            .is_none_or(|a| a.attempt_id != row.attempt_id)
        {
            attempts.push(ReviewAttempt {
                attempt_id: row.attempt_id,
                course_id: row.course_id,
                course_title: row.course_title.clone(),
                item_id: row.item_id,
                quiz_title: row.quiz_title.clone(),
                learner_id: row.learner_id,
                learner_name: row.learner_name.clone(),
                submitted_at: row.submitted_at,
                answers: Vec::new(),
            });
        }
        if let Some(attempt) = attempts.last_mut() {
            attempt.answers.push(ReviewAnswer {
                position: row.position,
                question_id: row.question_id,
                prompt: row.prompt,
                points: row.points,
                answer: row.answer,
                review_reason: row.review_reason,
            });
        }
    }
    Ok(Page::from_rows(attempts, limit, |a: &ReviewAttempt| {
        a.attempt_id.0
    }))
}

/// Closes one attempt past its deadline in its tenant's own transaction (the sweep).
pub async fn close_expired(state: &AppState, tenant: TenantId, id: AttemptId) -> ApiResult<()> {
    let mut tx = state.db.begin(tenant).await?;
    let Some(attempt) = attempt_store::attempt(&mut tx, id, false).await? else {
        return Ok(());
    };
    if attempt.status != AttemptStatus::InProgress || !attempt.expired(chrono::Utc::now()) {
        return Ok(());
    }
    let quiz = super::store::quiz(&mut tx, attempt.course(), attempt.item())
        .await?
        .ok_or(ApiError::NotFound)?;
    let settings = quiz.settings();
    let jobs = close(&mut tx, &attempt, &settings, true)
        .await?
        .map(|closed| closed.jobs)
        .unwrap_or_default();
    tx.commit().await?;
    run_plugins(state, tenant, &attempt, &settings, jobs).await
}

/// Leaves the plugin questions of an attempt whose grading was interrupted (the process stopped
/// between the two transactions) for a person (the sweep).
pub async fn release_stuck(state: &AppState, tenant: TenantId, id: AttemptId) -> ApiResult<()> {
    let mut tx = state.db.begin(tenant).await?;
    let Some(attempt) = attempt_store::attempt(&mut tx, id, false).await? else {
        return Ok(());
    };
    crate::enrollments::lock(&mut tx, attempt.enrollment()).await?;
    let rows = attempt_store::questions(&mut tx, id, None).await?;
    let grades: Vec<AnswerGrade> = rows
        .iter()
        .filter(|r| r.grading == Grading::Pending)
        .map(|r| review(r.position, "grading by the plugin was interrupted"))
        .collect();
    attempt_store::set_grades(&mut tx, id, &grades, true).await?;
    tx.commit().await?;
    Ok(())
}
