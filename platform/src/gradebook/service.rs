//! Gradebook rules.
//!
//! Every quiz and assignment of a course is a column. A learner's score in a quiz is the
//! quiz's attempt grading (highest, latest or average) over the graded attempts; in an
//! assignment, the latest graded submission's percentage. The course's staff see every grade
//! (assignment grades before their release, marked as held back); learners see their own,
//! released ones only. The course grade is a weighted mean (see [`super::compute`]).

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use serde_json::json;
use uuid::Uuid;

use super::compute::course_grade;
use super::model::{
    AssessmentKind, CategoryWeight, Column, Gradebook, GradebookSettings, GradebookSettingsInput,
    LearnerGrades, MyGrades, Score, Weighting,
};
use super::store::{self, LearnerRow, ScoreRow};
use crate::audit::{Audit, AuditActor};
use crate::auth::Caller;
use crate::courses::{CourseId, ItemId, ItemKind};
use crate::db::Cursor;
use crate::enrollments::Staff;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::http::Page;
use crate::question_banks::in_hundredths;
use crate::state::AppState;
use crate::users::UserId;
use crate::validation::line;

const MAX_CATEGORIES: usize = 20;

/// The course's weighting and categories (defaults when never saved).
struct Scheme {
    weighting: Weighting,
    categories: Vec<CategoryWeight>,
    updated_at: Option<chrono::DateTime<chrono::Utc>>,
}

async fn scheme(tx: &mut lms_tenants::TenantTx, course: CourseId) -> ApiResult<Scheme> {
    Ok(match store::settings(tx, course).await? {
        Some(row) => Scheme {
            weighting: row.weighting,
            categories: serde_json::from_value(row.categories)
                .map_err(|e| ApiError::Internal(e.into()))?,
            updated_at: Some(row.updated_at),
        },
        None => Scheme {
            weighting: Weighting::Assessment,
            categories: Vec::new(),
            updated_at: None,
        },
    })
}

async fn columns(tx: &mut lms_tenants::TenantTx, course: CourseId) -> ApiResult<Vec<Column>> {
    Ok(store::columns(tx, course)
        .await?
        .into_iter()
        .map(|c| Column {
            item_id: c.item_id,
            title: c.title,
            kind: if c.kind == ItemKind::Quiz {
                AssessmentKind::Quiz
            } else {
                AssessmentKind::Assignment
            },
            weight: c.weight,
            category: c.category,
            passing_percent: c.passing_percent,
        })
        .collect())
}

fn weight(field: &str, raw: f64) -> Result<f64, FieldError> {
    if in_hundredths(raw) && (0.0..=1_000.0).contains(&raw) {
        Ok(raw)
    } else {
        Err(FieldError::new(
            field,
            "out_of_range",
            "0 to 1000, in steps of 0.01",
        ))
    }
}

/// Saves the course's weighting (its staff).
pub async fn save_settings(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    course: CourseId,
    input: GradebookSettingsInput,
) -> ApiResult<GradebookSettings> {
    let mut staff = Staff::begin(state, caller, course, true).await?;
    let known: HashSet<ItemId> = store::columns(&mut staff.tx, course)
        .await?
        .iter()
        .map(|c| c.item_id)
        .collect();
    let mut errors = Vec::new();
    if input.categories.len() > MAX_CATEGORIES {
        errors.push(FieldError::new(
            "categories",
            "too_many",
            format!("at most {MAX_CATEGORIES}"),
        ));
    }
    let mut categories = Vec::new();
    let mut names = HashSet::new();
    for (at, c) in input.categories.iter().enumerate() {
        let name = line(&format!("categories[{at}].name"), &c.name, 100);
        let w = weight(&format!("categories[{at}].weight"), c.weight);
        match (name, w) {
            (Ok(name), Ok(weight)) => {
                if names.insert(name.to_lowercase()) {
                    categories.push(CategoryWeight { name, weight });
                } else {
                    errors.push(FieldError::new(
                        format!("categories[{at}].name"),
                        "duplicate",
                        "category names are unique",
                    ));
                }
            }
            (name, w) => errors.extend(name.err().into_iter().chain(w.err())),
        }
    }
    if input.weighting == Weighting::Category && categories.is_empty() && errors.is_empty() {
        errors.push(FieldError::new(
            "categories",
            "required",
            "weighting by category needs at least one category",
        ));
    }
    let mut items = Vec::new();
    let mut listed = HashSet::new();
    for (at, item) in input.items.iter().enumerate() {
        if !known.contains(&item.item_id) {
            errors.push(FieldError::new(
                format!("items[{at}].item_id"),
                "unknown_item",
                "no quiz or assignment of this course has this id",
            ));
            continue;
        }
        if !listed.insert(item.item_id) {
            errors.push(FieldError::new(
                format!("items[{at}].item_id"),
                "duplicate",
                "each assessment once",
            ));
            continue;
        }
        let w = weight(&format!("items[{at}].weight"), item.weight.unwrap_or(1.0));
        let category = match item.category.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(name) => categories
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(name))
                .map(|c| Some(c.name.clone()))
                .ok_or_else(|| {
                    FieldError::new(
                        format!("items[{at}].category"),
                        "unknown_category",
                        "name one of `categories`",
                    )
                }),
        };
        match (w, category) {
            (Ok(w), Ok(category)) => items.push((item.item_id, w, category)),
            (w, category) => errors.extend(w.err().into_iter().chain(category.err())),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let categories_json =
        serde_json::to_value(&categories).map_err(|e| ApiError::Internal(e.into()))?;
    store::save(
        &mut staff.tx,
        course,
        input.weighting.as_str(),
        &categories_json,
        &items,
    )
    .await?;
    Audit::new(
        AuditActor::User(staff.actor.user_id),
        "gradebook.updated",
        "course",
        course,
    )
    .from_ip(ip)
    .details(json!({ "weighting": input.weighting.as_str(), "categories": categories.len() }))
    .record(&mut staff.tx)
    .await?;
    let view = settings_view(&mut staff.tx, course).await?;
    staff.tx.commit().await?;
    Ok(view)
}

async fn settings_view(
    tx: &mut lms_tenants::TenantTx,
    course: CourseId,
) -> ApiResult<GradebookSettings> {
    let scheme = scheme(tx, course).await?;
    Ok(GradebookSettings {
        course_id: course,
        weighting: scheme.weighting,
        categories: scheme.categories,
        columns: columns(tx, course).await?,
        updated_at: scheme.updated_at,
    })
}

/// The course's weighting and columns (its staff).
pub async fn get_settings(
    state: &AppState,
    caller: &Caller,
    course: CourseId,
) -> ApiResult<GradebookSettings> {
    let mut staff = Staff::begin(state, caller, course, false).await?;
    let view = settings_view(&mut staff.tx, course).await?;
    staff.tx.commit().await?;
    Ok(view)
}

/// The scores of `user` in the columns' order.
fn row_scores(
    columns: &[Column],
    scores: &HashMap<(UserId, ItemId), &ScoreRow>,
    user: UserId,
) -> Vec<Score> {
    columns
        .iter()
        .map(|c| {
            let found = scores.get(&(user, c.item_id));
            Score {
                item_id: c.item_id,
                percent: found.map(|s| s.percent),
                passed: found.map(|s| s.passed),
                released: found.is_some_and(|s| s.released),
            }
        })
        .collect()
}

/// Every learner's grades (all of them when `limit` is `None`), for the course's staff.
async fn book(
    tx: &mut lms_tenants::TenantTx,
    course: CourseId,
    after: Option<Uuid>,
    limit: Option<i64>,
) -> ApiResult<(Scheme, Vec<Column>, Vec<LearnerGrades>)> {
    let scheme = scheme(tx, course).await?;
    let columns = columns(tx, course).await?;
    let learners: Vec<LearnerRow> = store::learners(tx, course, after, limit).await?;
    let users: Vec<UserId> = learners.iter().map(|l| l.user_id).collect();
    let found = store::scores(tx, course, &users, true).await?;
    let by_cell: HashMap<(UserId, ItemId), &ScoreRow> =
        found.iter().map(|s| ((s.user_id, s.item_id), s)).collect();
    let rows = learners
        .into_iter()
        .map(|l| {
            let scores = row_scores(&columns, &by_cell, l.user_id);
            let percents: Vec<Option<f64>> = scores.iter().map(|s| s.percent).collect();
            LearnerGrades {
                enrollment_id: l.enrollment_id,
                user_id: l.user_id,
                display_name: l.display_name,
                email: l.email,
                status: l.status,
                grade: course_grade(scheme.weighting, &scheme.categories, &columns, &percents),
                scores,
            }
        })
        .collect();
    Ok((scheme, columns, rows))
}

/// A page of the course's gradebook (its staff).
pub async fn gradebook(
    state: &AppState,
    caller: &Caller,
    course: CourseId,
    cursor: Option<Cursor>,
    limit: i64,
) -> ApiResult<Gradebook> {
    let mut staff = Staff::begin(state, caller, course, false).await?;
    let (scheme, columns, rows) =
        book(&mut staff.tx, course, cursor.map(|c| c.0), Some(limit + 1)).await?;
    staff.tx.commit().await?;
    let page = Page::from_rows(rows, limit, |r: &LearnerGrades| r.enrollment_id.0);
    Ok(Gradebook {
        course_id: course,
        weighting: scheme.weighting,
        categories: scheme.categories,
        columns,
        items: page.items,
        next_cursor: page.next_cursor,
    })
}

/// The whole gradebook, for the CSV export (its staff).
pub async fn gradebook_all(
    state: &AppState,
    caller: &Caller,
    course: CourseId,
) -> ApiResult<(Vec<Column>, Vec<LearnerGrades>)> {
    let mut staff = Staff::begin(state, caller, course, false).await?;
    let (_, columns, rows) = book(&mut staff.tx, course, None, None).await?;
    staff.tx.commit().await?;
    Ok((columns, rows))
}

/// The caller's own grades in a course they are enrolled in (released grades only).
pub async fn mine(state: &AppState, caller: &Caller, course: CourseId) -> ApiResult<MyGrades> {
    let (mut tx, actor) = caller.begin(state).await?;
    crate::enrollments::of_user_in(&mut tx, course, actor.user_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let scheme = scheme(&mut tx, course).await?;
    let columns = columns(&mut tx, course).await?;
    let found = store::scores(&mut tx, course, &[actor.user_id], false).await?;
    tx.commit().await?;
    let by_cell: HashMap<(UserId, ItemId), &ScoreRow> =
        found.iter().map(|s| ((s.user_id, s.item_id), s)).collect();
    let scores = row_scores(&columns, &by_cell, actor.user_id);
    let percents: Vec<Option<f64>> = scores.iter().map(|s| s.percent).collect();
    Ok(MyGrades {
        course_id: course,
        grade: course_grade(scheme.weighting, &scheme.categories, &columns, &percents),
        weighting: scheme.weighting,
        categories: scheme.categories,
        columns,
        scores,
    })
}

/// A learner's final course grade (every ungraded assessment counting 0, released grades only,
/// as the learner sees it), for rules such as a certificate's minimum grade. `None` when the
/// course has no assessments.
pub async fn final_percent(
    tx: &mut lms_tenants::TenantTx,
    course: CourseId,
    user: UserId,
) -> ApiResult<Option<f64>> {
    let columns = columns(tx, course).await?;
    if columns.is_empty() {
        return Ok(None);
    }
    let scheme = scheme(tx, course).await?;
    let found = store::scores(tx, course, &[user], false).await?;
    let by_cell: HashMap<(UserId, ItemId), &ScoreRow> =
        found.iter().map(|s| ((s.user_id, s.item_id), s)).collect();
    let percents: Vec<Option<f64>> = row_scores(&columns, &by_cell, user)
        .iter()
        .map(|s| s.percent)
        .collect();
    Ok(Some(
        course_grade(scheme.weighting, &scheme.categories, &columns, &percents).final_percent,
    ))
}
