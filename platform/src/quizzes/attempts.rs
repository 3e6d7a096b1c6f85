//! Attempt rules.
//!
//! An enrolled learner starts an attempt at a configured quiz inside its availability window (a
//! sequential course's later modules stay locked). Starting freezes the questions (named ones at
//! their current version, draws at random, never the same question twice), their order and
//! their option order, and computes the deadline: the time limit or the window's end, whichever
//! is first. While one attempt is open, starting again answers it. Answers are saved one at a
//! time (saving again replaces the answer) until the deadline; submitting (or the deadline, by
//! the sweep or the next request) closes the attempt and grades it ([`super::grading`]).
//!
//! Every write locks the learner's enrollment row and then the attempt's: racing starts cannot
//! exceed the quiz's maximum and two tabs submitting produce one submission.

use chrono::{DateTime, Duration, Utc};
use lms_tenants::TenantTx;
use rand::seq::SliceRandom;
use serde::Deserialize;
use serde_json::Value;

use super::attempt_store::{self, AttemptQuestionRow, AttemptRow, GivenQuestion, NewAttempt};
use super::grading;
use super::model::{
    Attempt, AttemptGrading, AttemptId, AttemptQuestion, AttemptStatus, Grading, MyAttempts,
    QuestionResult, QuizSettings, ShowCorrectAnswers,
};
use super::store::{self, Candidate, QuizRow};
use crate::auth::{Actor, Caller};
use crate::courses::is_course_staff;
use crate::courses::{CourseId, ItemId};
use crate::enrollments::EnrollmentId;
use crate::error::{ApiError, ApiResult};
use crate::progress::gate::{self, Purpose};
use crate::question_banks::kinds::{Presentation, QuestionSpec};
use crate::state::AppState;

fn closed() -> ApiError {
    ApiError::Conflict {
        code: "attempt_closed",
        detail: "the attempt is submitted or past its deadline; answers are no longer accepted"
            .into(),
    }
}

/// The learner's enrollment, locked, with the quiz; every refusal a learner can meet on the way.
async fn enter(
    tx: &mut TenantTx,
    caller: &Caller,
    course: CourseId,
    item: ItemId,
) -> ApiResult<(EnrollmentId, QuizRow)> {
    let entered = gate::enter(tx, caller, course, item, Purpose::Quiz).await?;
    entered.require_unlocked()?;
    let quiz = store::quiz(tx, course, item)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok((entered.enrollment, quiz))
}

/// Starts an attempt, or answers the open one. `true` when a new attempt was started.
pub async fn start(
    state: &AppState,
    caller: &Caller,
    course: CourseId,
    item: ItemId,
) -> ApiResult<(bool, Attempt)> {
    // At most twice: an open attempt found past its deadline is closed and committed first.
    for _ in 0..2 {
        let mut tx = caller.begin_unconfirmed(state).await?;
        let (enrollment, quiz) = enter(&mut tx, caller, course, item).await?;
        let user = caller.user;
        if !quiz.configured {
            return Err(not_ready());
        }
        let settings = quiz.settings();
        let now = Utc::now();
        if settings.available_from.is_some_and(|from| now < from) {
            return Err(ApiError::Conflict {
                code: "quiz_not_open",
                detail: "the quiz is not open yet".into(),
            });
        }
        let attempts = attempt_store::attempts_of(&mut tx, item, user).await?;
        if let Some(open) = attempts
            .iter()
            .find(|a| a.status == AttemptStatus::InProgress)
        {
            if open.expired(now) {
                let jobs = grading::close(&mut tx, open, &settings, true)
                    .await?
                    .map(|closed| closed.jobs)
                    .unwrap_or_default();
                tx.commit().await?;
                grading::run_plugins(state, caller.tenant.id, open, &settings, jobs).await?;
                continue;
            }
            let view = view(&mut tx, open, &settings, &attempts, false).await?;
            tx.commit().await?;
            return Ok((false, view));
        }
        if settings.available_until.is_some_and(|until| now >= until) {
            return Err(ApiError::Conflict {
                code: "quiz_closed",
                detail: "the quiz's window has closed".into(),
            });
        }
        let used = i32::try_from(attempts.len()).unwrap_or(i32::MAX);
        if settings.max_attempts.is_some_and(|max| used >= max) {
            return Err(ApiError::Conflict {
                code: "no_attempts_left",
                detail: format!("all {used} attempts are used"),
            });
        }
        let candidates = draw(&mut tx, item).await?;
        if candidates.is_empty() {
            return Err(not_ready());
        }
        let given = present(candidates, &settings)?;
        let deadline_at = deadline(now, &settings);
        let row = NewAttempt {
            id: AttemptId::default(),
            item,
            course,
            enrollment,
            user,
            number: used + 1,
            deadline_at,
            max_score: given.iter().map(|q| q.points).sum(),
        };
        let attempt = attempt_store::insert_attempt(&mut tx, &row, &given).await?;
        let questions: Vec<AttemptQuestionRow> = given
            .into_iter()
            .zip(0..)
            .map(|(q, position)| AttemptQuestionRow::given(position, q))
            .collect();
        let view = view_of(&attempt, &questions, &settings, &attempts, false)?;
        tx.commit().await?;
        return Ok((true, view));
    }
    Err(ApiError::Conflict {
        code: "attempt_closing",
        detail: "the previous attempt is being closed; try again".into(),
    })
}

fn not_ready() -> ApiError {
    ApiError::Conflict {
        code: "quiz_not_ready",
        detail: "the quiz has no questions yet".into(),
    }
}

/// The deadline: the time limit from now or the window's end, whichever is first.
fn deadline(now: DateTime<Utc>, settings: &QuizSettings) -> Option<DateTime<Utc>> {
    let limit = settings
        .time_limit_seconds
        .map(|s| now + Duration::seconds(i64::from(s)));
    match (limit, settings.available_until) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The questions for a new attempt, in the quiz's order: named questions at their current
/// version (archived ones are skipped), then each draw at random among the questions not asked
/// yet.
async fn draw(tx: &mut TenantTx, item: ItemId) -> ApiResult<Vec<Candidate>> {
    let mut asked = std::collections::HashSet::new();
    // Of the slot at `position`: how many it still draws.
    let mut slot: Option<(i32, i32)> = None;
    let mut out = Vec::new();
    for row in store::candidates(tx, item).await? {
        let left = match (row.draw_count, slot) {
            (None, _) => 1,
            (Some(_), Some((position, left))) if position == row.position => left,
            (Some(count), _) => count,
        };
        if left > 0 && asked.insert(row.question.question_id) {
            out.push(row.question);
            slot = Some((row.position, left - 1));
        } else {
            slot = Some((row.position, left));
        }
    }
    Ok(out)
}

/// Freezes what the learner is shown: the question order (shuffled when the quiz says so) and
/// each question's presentation with its option order.
fn present(
    mut candidates: Vec<Candidate>,
    settings: &QuizSettings,
) -> ApiResult<Vec<GivenQuestion>> {
    let mut rng = rand::thread_rng();
    if settings.shuffle_questions {
        candidates.shuffle(&mut rng);
    }
    candidates
        .into_iter()
        .map(|c| {
            let spec = QuestionSpec::deserialize(&c.spec).map_err(|e| {
                ApiError::Internal(anyhow::anyhow!(
                    "stored question {} unreadable: {e}",
                    c.question_id
                ))
            })?;
            let presented = serde_json::to_value(spec.present(settings.shuffle_options, &mut rng))
                .map_err(|e| ApiError::Internal(e.into()))?;
            Ok(GivenQuestion {
                question_id: c.question_id,
                version: c.version,
                points: c.points,
                presented,
                prompt: c.prompt,
                spec: c.spec,
            })
        })
        .collect()
}

/// The quiz score by the quiz's attempt grading over the graded attempts (per cent).
pub fn quiz_score(attempts: &[AttemptRow], grading: AttemptGrading) -> Option<f64> {
    let graded: Vec<f64> = attempts
        .iter()
        .filter(|a| a.status == AttemptStatus::Graded)
        .filter_map(|a| a.percent)
        .collect();
    match grading {
        AttemptGrading::Highest => graded.iter().copied().reduce(f64::max),
        AttemptGrading::Latest => graded.last().copied(),
        AttemptGrading::Average if graded.is_empty() => None,
        AttemptGrading::Average => {
            Some((graded.iter().sum::<f64>() / graded.len() as f64 * 100.0).round() / 100.0)
        }
    }
}

/// Whether the learner has passed the quiz.
pub fn passed(attempts: &[AttemptRow], settings: &QuizSettings) -> bool {
    quiz_score(attempts, settings.attempt_grading).is_some_and(|s| s >= settings.passing_percent)
}

/// Whether correct answers may be shown for a closed attempt now.
fn reveal(settings: &QuizSettings, attempts: &[AttemptRow], now: DateTime<Utc>) -> bool {
    match settings.show_correct_answers {
        ShowCorrectAnswers::Never => false,
        ShowCorrectAnswers::AfterSubmission => true,
        ShowCorrectAnswers::AfterWindow => settings.available_until.is_some_and(|u| now >= u),
        ShowCorrectAnswers::AfterPassing => passed(attempts, settings),
    }
}

/// The attempt as its learner (or, with `staff`, the course's staff) sees it. `attempts` are
/// the learner's attempts at the quiz (for the passing rule).
pub(super) async fn view(
    tx: &mut TenantTx,
    attempt: &AttemptRow,
    settings: &QuizSettings,
    attempts: &[AttemptRow],
    staff: bool,
) -> ApiResult<Attempt> {
    let rows = attempt_store::questions(tx, attempt.id, None).await?;
    view_of(attempt, &rows, settings, attempts, staff)
}

/// [`view`] of questions already read.
pub(super) fn view_of(
    attempt: &AttemptRow,
    rows: &[AttemptQuestionRow],
    settings: &QuizSettings,
    attempts: &[AttemptRow],
    staff: bool,
) -> ApiResult<Attempt> {
    let now = Utc::now();
    let open = attempt.status == AttemptStatus::InProgress;
    let show_key = staff || (!open && reveal(settings, attempts, now));
    let questions = rows
        .iter()
        .map(|row| question_view(row, open, show_key))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Attempt {
        summary: attempt.summary(),
        seconds_left: attempt
            .deadline_at
            .filter(|_| open)
            .map(|d| (d - now).num_seconds().max(0)),
        questions,
    })
}

pub(super) fn question_view(
    row: &AttemptQuestionRow,
    open: bool,
    show_key: bool,
) -> ApiResult<AttemptQuestion> {
    let presentation: Presentation = serde_json::from_value(row.presented.clone())
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("stored presentation unreadable: {e}")))?;
    let result = if open {
        None
    } else {
        let correct_answer = if show_key {
            serde_json::from_value::<QuestionSpec>(row.spec.clone())
                .ok()
                .and_then(|s| s.answer_key())
        } else {
            None
        };
        Some(QuestionResult {
            grading: row.grading,
            awarded: row
                .awarded
                .filter(|_| matches!(row.grading, Grading::Auto | Grading::Manual)),
            feedback: row.feedback.clone(),
            review_reason: row.review_reason.clone(),
            correct_answer,
        })
    };
    Ok(AttemptQuestion {
        position: row.position,
        points: row.points,
        prompt: row.prompt.clone(),
        presentation,
        answer: row.answer.clone(),
        answered_at: row.answered_at,
        result,
    })
}

/// The caller's attempts at a quiz with the quiz and where they stand.
pub async fn mine(
    state: &AppState,
    caller: &Caller,
    course: CourseId,
    item: ItemId,
) -> ApiResult<MyAttempts> {
    let (mut tx, actor) = caller.begin(state).await?;
    let quiz = super::settings::read(&mut tx, &actor, course, item).await?;
    let attempts = attempt_store::attempts_of(&mut tx, item, actor.user_id).await?;
    tx.commit().await?;
    let settings = &quiz.settings;
    let used = i32::try_from(attempts.len()).unwrap_or(i32::MAX);
    Ok(MyAttempts {
        attempts_left: settings.max_attempts.map(|m| (m - used).max(0)),
        score_percent: quiz_score(&attempts, settings.attempt_grading),
        passed: passed(&attempts, settings),
        attempts: attempts.iter().map(AttemptRow::summary).collect(),
        quiz,
    })
}

/// An attempt, its quiz's settings and the learner's attempts at it, for its learner or the
/// course's staff (`true`); anyone else: 404.
async fn open_attempt(
    tx: &mut TenantTx,
    actor: &Actor,
    id: AttemptId,
) -> ApiResult<(AttemptRow, QuizSettings, bool)> {
    let attempt = attempt_store::attempt(tx, id, false)
        .await?
        .ok_or(ApiError::NotFound)?;
    let staff = if attempt.user_id == actor.user_id {
        false
    } else if is_course_staff(tx, actor, attempt.course()).await? {
        true
    } else {
        return Err(ApiError::NotFound);
    };
    let quiz = store::quiz(tx, attempt.course(), attempt.item())
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok((attempt, quiz.settings(), staff))
}

/// The attempt as the caller sees it, closed (and graded) first when `submit` asks for it or
/// when it is open past its deadline (the sweep may not have come by yet). One transaction,
/// and the view is built from what closing read and wrote, unless plugin questions are graded
/// after its commit.
async fn closing_view(
    state: &AppState,
    caller: &Caller,
    id: AttemptId,
    submit: bool,
) -> ApiResult<Attempt> {
    let (mut tx, actor) = caller.begin(state).await?;
    let (mut attempt, mut settings, staff) = open_attempt(&mut tx, &actor, id).await?;
    if submit && staff {
        // Only the learner submits their attempt.
        return Err(ApiError::NotFound);
    }
    let expired = attempt.expired(Utc::now());
    if attempt.status == AttemptStatus::InProgress && (submit || expired) {
        match grading::close(&mut tx, &attempt, &settings, expired).await? {
            Some(closed) if closed.jobs.is_empty() => {
                let view = view_of(
                    &closed.attempt,
                    &closed.questions,
                    &settings,
                    &closed.attempts,
                    staff,
                )?;
                tx.commit().await?;
                return Ok(view);
            }
            Some(closed) => {
                tx.commit().await?;
                grading::run_plugins(state, caller.tenant.id, &attempt, &settings, closed.jobs)
                    .await?;
                tx = caller.begin_unconfirmed(state).await?;
                (attempt, settings, _) = open_attempt(&mut tx, &actor, id).await?;
            }
            // Closed meanwhile (a second tab, the sweep): as it is now.
            None => {
                attempt = attempt_store::attempt(&mut tx, id, false)
                    .await?
                    .ok_or(ApiError::NotFound)?;
            }
        }
    }
    let attempts = attempt_store::attempts_of(&mut tx, attempt.item(), attempt.user_id).await?;
    let view = view(&mut tx, &attempt, &settings, &attempts, staff).await?;
    tx.commit().await?;
    Ok(view)
}

pub async fn get(state: &AppState, caller: &Caller, id: AttemptId) -> ApiResult<Attempt> {
    closing_view(state, caller, id, false).await
}

/// Saves (or replaces) the caller's answer to one question of their open attempt: written
/// first, then checked against the question's version, and rolled back when it does not fit.
pub async fn save_answer(
    state: &AppState,
    caller: &Caller,
    id: AttemptId,
    position: i32,
    answer: Value,
) -> ApiResult<AttemptQuestion> {
    let mut tx = caller.begin_unconfirmed(state).await?;
    let session = (caller.user, caller.epoch);
    let Some(row) = attempt_store::save_answer(&mut tx, id, session, position, &answer).await?
    else {
        // Nothing saved: say why, a stale session first.
        let actor = Actor::load(&mut tx, caller).await?;
        let attempt = attempt_store::attempt(&mut tx, id, false)
            .await?
            .filter(|a| a.user_id == actor.user_id)
            .ok_or(ApiError::NotFound)?;
        if attempt.status != AttemptStatus::InProgress {
            return Err(closed());
        }
        if attempt.expired(Utc::now()) {
            // Closed in a transaction of its own: closing locks the enrollment before the attempt.
            tx.commit().await?;
            closing_view(state, caller, id, false).await?;
            return Err(closed());
        }
        return Err(ApiError::NotFound);
    };
    let spec = QuestionSpec::deserialize(&row.spec)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("stored question unreadable: {e}")))?;
    // Kept as the learner sent it, and read again against the same version when the attempt is
    // graded. A refused answer is rolled back with the transaction.
    spec.parse_response(&answer).map_err(ApiError::Validation)?;
    tx.commit().await?;
    question_view(&row, true, false)
}

/// Submits the caller's attempt and grades it. Submitting a closed attempt answers it as it is,
/// so a second tab's submission changes nothing.
pub async fn submit(state: &AppState, caller: &Caller, id: AttemptId) -> ApiResult<Attempt> {
    closing_view(state, caller, id, true).await
}
