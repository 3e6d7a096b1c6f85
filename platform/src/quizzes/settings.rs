//! A quiz's settings and question list: written by the course's staff, read by its learners
//! (without the question list).

use std::collections::HashSet;
use std::net::IpAddr;

use serde_json::json;
use uuid::Uuid;

use super::model::{Quiz, QuizInput, QuizSettings, ShowCorrectAnswers, Slot};
use super::store::{self, QuizRow};
use crate::audit::{Audit, AuditActor};
use crate::auth::{Actor, Caller};
use crate::courses::{CourseId, ItemId};
use crate::enrollments::Staff;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::state::AppState;

/// Most entries in a quiz's question list.
const MAX_SLOTS: usize = 200;

/// Checks the settings that stand alone; the question list is checked against the tenant's
/// banks by [`save`].
pub fn parse(input: &QuizInput) -> ApiResult<(QuizSettings, Vec<Slot>)> {
    let mut errors = Vec::new();
    if input
        .time_limit_seconds
        .is_some_and(|t| !(60..=604_800).contains(&t))
    {
        errors.push(FieldError::new(
            "time_limit_seconds",
            "out_of_range",
            "60 seconds to 7 days",
        ));
    }
    if input.max_attempts.is_some_and(|m| !(1..=100).contains(&m)) {
        errors.push(FieldError::new("max_attempts", "out_of_range", "1 to 100"));
    }
    let passing = input.passing_percent.unwrap_or(50.0);
    if !(passing.is_finite() && (0.0..=100.0).contains(&passing)) {
        errors.push(FieldError::new(
            "passing_percent",
            "out_of_range",
            "0 to 100",
        ));
    }
    if let (Some(from), Some(until)) = (input.available_from, input.available_until)
        && from >= until
    {
        errors.push(FieldError::new(
            "available_until",
            "before_start",
            "the window must end after it opens",
        ));
    }
    if input.show_correct_answers == ShowCorrectAnswers::AfterWindow
        && input.available_until.is_none()
    {
        errors.push(FieldError::new(
            "show_correct_answers",
            "needs_window",
            "`after_window` needs `available_until`",
        ));
    }
    if input.questions.len() > MAX_SLOTS {
        errors.push(FieldError::new(
            "questions",
            "too_many",
            format!("at most {MAX_SLOTS} entries"),
        ));
    }
    let mut slots = Vec::with_capacity(input.questions.len());
    let mut named = HashSet::new();
    for (at, slot) in input.questions.iter().enumerate() {
        match slot.parse(at) {
            Ok(slot) => {
                if let Slot::Question { question_id } = slot
                    && !named.insert(question_id)
                {
                    errors.push(FieldError::new(
                        format!("questions[{at}].question_id"),
                        "duplicate",
                        "the question is already in the list",
                    ));
                }
                slots.push(slot);
            }
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    Ok((
        QuizSettings {
            time_limit_seconds: input.time_limit_seconds,
            max_attempts: input.max_attempts,
            passing_percent: (passing * 100.0).round() / 100.0,
            attempt_grading: input.attempt_grading,
            shuffle_questions: input.shuffle_questions,
            shuffle_options: input.shuffle_options,
            available_from: input.available_from,
            available_until: input.available_until,
            show_correct_answers: input.show_correct_answers,
        },
        slots,
    ))
}

/// Every slot's bank, category and question must be one the course may ask from.
async fn check_slots(
    tx: &mut lms_tenants::TenantTx,
    course: CourseId,
    slots: &[Slot],
) -> ApiResult<()> {
    let questions: Vec<Uuid> = slots
        .iter()
        .filter_map(|s| match s {
            Slot::Question { question_id } => Some(question_id.0),
            Slot::Draw { .. } => None,
        })
        .collect();
    let banks: Vec<Uuid> = slots
        .iter()
        .filter_map(|s| match s {
            Slot::Draw { bank_id, .. } => Some(bank_id.0),
            Slot::Question { .. } => None,
        })
        .collect();
    let pairs: Vec<(Uuid, Uuid)> = slots
        .iter()
        .filter_map(|s| match s {
            Slot::Draw {
                bank_id,
                category_id: Some(c),
                ..
            } => Some((bank_id.0, c.0)),
            _ => None,
        })
        .collect();
    let usable_questions: HashSet<Uuid> = store::usable_questions(tx, course, &questions)
        .await?
        .into_iter()
        .collect();
    let usable_banks: HashSet<Uuid> = store::usable_banks(tx, course, &banks)
        .await?
        .into_iter()
        .collect();
    let known_categories: HashSet<Uuid> = store::known_categories(tx, &pairs)
        .await?
        .into_iter()
        .collect();
    let mut errors = Vec::new();
    for (at, slot) in slots.iter().enumerate() {
        match slot {
            Slot::Question { question_id } if !usable_questions.contains(&question_id.0) => {
                errors.push(FieldError::new(
                    format!("questions[{at}].question_id"),
                    "unknown_question",
                    "no question of this course's or the shared banks has this id (archived questions cannot be added)",
                ));
            }
            Slot::Draw {
                bank_id,
                category_id,
                ..
            } => {
                if !usable_banks.contains(&bank_id.0) {
                    errors.push(FieldError::new(
                        format!("questions[{at}].bank_id"),
                        "unknown_bank",
                        "neither a bank of this course nor a shared bank",
                    ));
                } else if let Some(c) = category_id
                    && !known_categories.contains(&c.0)
                {
                    errors.push(FieldError::new(
                        format!("questions[{at}].category_id"),
                        "unknown_category",
                        "the bank has no category with this id",
                    ));
                }
            }
            Slot::Question { .. } => {}
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(errors))
    }
}

fn view(row: &QuizRow, questions: Option<Vec<Slot>>, question_count: i64) -> Quiz {
    Quiz {
        item_id: row.item_id,
        course_id: row.course_id,
        title: row.title.clone(),
        settings: row.settings(),
        questions,
        question_count,
        updated_at: row.updated_at,
    }
}

/// Saves the settings and the question list of a course's quiz item (its staff).
pub async fn save(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    course: CourseId,
    item: ItemId,
    input: QuizInput,
) -> ApiResult<Quiz> {
    let (settings, slots) = parse(&input)?;
    let mut staff = Staff::begin(state, caller, course, true).await?;
    store::quiz(&mut staff.tx, course, item)
        .await?
        .ok_or(ApiError::NotFound)?;
    check_slots(&mut staff.tx, course, &slots).await?;
    store::save_settings(&mut staff.tx, course, item, &settings).await?;
    // A bank or category deleted since the list was checked trips its foreign key: a client error.
    store::replace_slots(&mut staff.tx, item, &slots)
        .await
        .map_err(|err| match crate::error::violated_constraint(&err) {
            Some(
                "quiz_slots_bank_fkey" | "quiz_slots_category_fkey" | "quiz_slots_question_fkey",
            ) => ApiError::validation(
                "questions",
                "not_found",
                "a bank, category or question of the list no longer exists",
            ),
            _ => err.into(),
        })?;
    Audit::new(
        AuditActor::User(staff.actor.user_id),
        "quiz.updated",
        "course",
        course,
    )
    .from_ip(ip)
    .details(json!({ "item_id": item, "questions": slots.len() }))
    .record(&mut staff.tx)
    .await?;
    let row = store::quiz(&mut staff.tx, course, item)
        .await?
        .ok_or(ApiError::NotFound)?;
    let count = store::question_count(&mut staff.tx, item).await?;
    staff.tx.commit().await?;
    Ok(view(&row, Some(slots), count))
}

/// The quiz: with its question list for the course's staff; without it for learners enrolled in
/// the course (published or archived). Anyone else: 404.
pub async fn get(
    state: &AppState,
    caller: &Caller,
    course: CourseId,
    item: ItemId,
) -> ApiResult<Quiz> {
    let (mut tx, actor) = caller.begin(state).await?;
    let quiz = read(&mut tx, &actor, course, item).await?;
    tx.commit().await?;
    Ok(quiz)
}

/// [`get`] in the caller's transaction.
pub(super) async fn read(
    tx: &mut lms_tenants::TenantTx,
    actor: &Actor,
    course: CourseId,
    item: ItemId,
) -> ApiResult<Quiz> {
    let staff = crate::courses::course_reader(tx, actor, course).await?;
    let row = store::quiz(tx, course, item)
        .await?
        .ok_or(ApiError::NotFound)?;
    let count = store::question_count(tx, item).await?;
    let slots = if staff {
        Some(store::slots(tx, item).await?)
    } else {
        None
    };
    Ok(view(&row, slots, count))
}
