//! Question bank rules.
//!
//! Only instructors and tenant admins work with banks; learners see questions only through their
//! attempts. A course's bank belongs to the course's staff (its instructors and the tenant's
//! admins; to anyone else it does not exist). A shared bank (no course) is read and drawn from by
//! every instructor, and edited by tenant admins and the instructor who made it.
//!
//! Questions are versioned: every edit adds a version and makes it current, so the attempts that
//! were given an earlier version keep exactly what they were asked. Questions are archived, never
//! deleted; archived questions are no longer given to new attempts.

use std::net::IpAddr;

use lms_tenants::TenantTx;
use serde_json::json;

use super::kinds::QuestionSpec;
use super::model::{Bank, BankId, CategoryId, Question, QuestionId};
use super::store::{self, BankRow, NewVersion, QuestionRow};
use crate::audit::{Audit, AuditActor};
use crate::auth::{Actor, Caller};
use crate::courses::CourseId;
use crate::courses::is_course_staff;
use crate::db::Cursor;
use crate::enrollments::Staff;
use crate::error::{ApiError, ApiResult, FieldError, OnConstraint, codes};
use crate::http::Page;
use crate::state::AppState;
use crate::users::Role;

/// A bank as one caller may use it, with the transaction it was read in.
pub(crate) struct BankAccess {
    pub tx: TenantTx,
    pub actor: Actor,
    pub bank: BankRow,
}

impl BankAccess {
    /// Opens the bank for reading, or for writing (`write`: its row is locked).
    pub async fn open(
        state: &AppState,
        caller: &Caller,
        id: BankId,
        write: bool,
    ) -> ApiResult<Self> {
        let (mut tx, actor) = caller.begin(state).await?;
        authors_only(&actor)?;
        let bank = store::bank(&mut tx, id, write)
            .await?
            .ok_or(ApiError::NotFound)?;
        let admin = actor.roles.contains(Role::TenantAdmin);
        // A course's bank is invisible to anyone but the course's staff.
        if let Some(course) = bank.course_id
            && !is_course_staff(&mut tx, &actor, course).await?
        {
            return Err(ApiError::NotFound);
        }
        if bank.course_id.is_none() && write && !admin && bank.created_by != actor.user_id {
            return Err(ApiError::Forbidden {
                code: codes::FORBIDDEN,
                detail: "a shared bank is edited by tenant admins and the instructor who made it",
            });
        }
        Ok(Self { tx, actor, bank })
    }

    fn id(&self) -> BankId {
        self.bank.id
    }

    fn audit(&self, ip: IpAddr, action: &'static str) -> Audit {
        Audit::new(
            AuditActor::User(self.actor.user_id),
            action,
            "question_bank",
            self.bank.id,
        )
        .from_ip(ip)
    }
}

fn authors_only(actor: &Actor) -> ApiResult<()> {
    if actor.roles.contains(Role::TenantAdmin) || actor.roles.contains(Role::Instructor) {
        Ok(())
    } else {
        Err(ApiError::Forbidden {
            code: codes::FORBIDDEN,
            detail: "only instructors and tenant admins work with question banks",
        })
    }
}

/// A new bank's settings.
pub struct NewBank {
    pub course: Option<CourseId>,
    pub title: String,
    pub description: String,
}

pub async fn create(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    new: NewBank,
) -> ApiResult<Bank> {
    let (mut tx, actor) = match new.course {
        Some(course) => {
            let staff = Staff::begin(state, caller, course, false).await?;
            (staff.tx, staff.actor)
        }
        None => {
            let (tx, actor) = caller.begin(state).await?;
            authors_only(&actor)?;
            (tx, actor)
        }
    };
    let id = BankId::default();
    store::insert_bank(
        &mut tx,
        id,
        new.course,
        &new.title,
        &new.description,
        actor.user_id,
    )
    .await?;
    Audit::new(
        AuditActor::User(actor.user_id),
        "question_bank.created",
        "question_bank",
        id,
    )
    .from_ip(ip)
    .details(json!({ "course_id": new.course, "title": new.title }))
    .record(&mut tx)
    .await?;
    let row = store::bank(&mut tx, id, false)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(row.to_bank(Vec::new()))
}

/// A course's banks (its staff), or the shared banks (every instructor).
pub async fn list(
    state: &AppState,
    caller: &Caller,
    course: Option<CourseId>,
    cursor: Option<Cursor>,
    limit: i64,
) -> ApiResult<Page<Bank>> {
    let mut tx = match course {
        Some(course) => Staff::begin(state, caller, course, false).await?.tx,
        None => {
            let (tx, actor) = caller.begin(state).await?;
            authors_only(&actor)?;
            tx
        }
    };
    let rows = store::banks(&mut tx, course, cursor.map(|c| c.0), limit + 1).await?;
    let ids: Vec<BankId> = rows.iter().map(|r| r.id).collect();
    let mut categories: std::collections::HashMap<BankId, Vec<_>> = Default::default();
    for (bank, category) in store::categories_of(&mut tx, &ids).await? {
        categories.entry(bank).or_default().push(category);
    }
    tx.commit().await?;
    let banks = rows
        .iter()
        .map(|row| row.to_bank(categories.remove(&row.id).unwrap_or_default()))
        .collect();
    Ok(Page::from_rows(banks, limit, |b: &Bank| b.id.0))
}

pub async fn get(state: &AppState, caller: &Caller, id: BankId) -> ApiResult<Bank> {
    let mut access = BankAccess::open(state, caller, id, false).await?;
    let categories = store::categories(&mut access.tx, id).await?;
    access.tx.commit().await?;
    Ok(access.bank.to_bank(categories))
}

pub async fn update(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    id: BankId,
    title: Option<String>,
    description: Option<String>,
) -> ApiResult<Bank> {
    let mut access = BankAccess::open(state, caller, id, true).await?;
    store::update_bank(&mut access.tx, id, title.as_deref(), description.as_deref()).await?;
    access
        .audit(ip, "question_bank.updated")
        .record(&mut access.tx)
        .await?;
    let row = store::bank(&mut access.tx, id, false)
        .await?
        .ok_or(ApiError::NotFound)?;
    let categories = store::categories(&mut access.tx, id).await?;
    access.tx.commit().await?;
    Ok(row.to_bank(categories))
}

/// A foreign key refusing a delete because a quiz or an attempt still refers to the row: 409
/// `in_use`. Every delete that can reach a bank, category or question version maps its error here.
pub(crate) fn in_use(what: &'static str) -> impl Fn(sqlx::Error) -> ApiError {
    move |err| match crate::error::violated_constraint(&err) {
        Some(name) if store::IN_USE.contains(&name) => ApiError::Conflict {
            code: "in_use",
            detail: format!(
                "{what} is used by a quiz or by learners' attempts; archive its questions instead"
            ),
        },
        _ => err.into(),
    }
}

/// Deletes a bank with its categories and questions, unless a quiz asks from it or an attempt
/// was given one of its questions (409 `in_use`).
pub async fn delete(state: &AppState, caller: &Caller, ip: IpAddr, id: BankId) -> ApiResult<()> {
    let mut access = BankAccess::open(state, caller, id, true).await?;
    store::delete_bank(&mut access.tx, id)
        .await
        .map_err(in_use("the bank"))?;
    access
        .audit(ip, "question_bank.deleted")
        .details(json!({ "title": access.bank.title }))
        .record(&mut access.tx)
        .await?;
    access.tx.commit().await?;
    Ok(())
}

pub async fn add_category(
    state: &AppState,
    caller: &Caller,
    id: BankId,
    name: String,
) -> ApiResult<Bank> {
    let mut access = BankAccess::open(state, caller, id, true).await?;
    store::insert_category(&mut access.tx, id, CategoryId::default(), &name)
        .await
        .on_constraint(store::CATEGORY_NAME_TAKEN, || ApiError::Conflict {
            code: codes::NAME_TAKEN,
            detail: "the bank has a category of this name".into(),
        })?;
    let categories = store::categories(&mut access.tx, id).await?;
    access.tx.commit().await?;
    Ok(access.bank.to_bank(categories))
}

/// Deletes a category; its questions stay in the bank without one. A quiz drawing from the
/// category keeps it (409 `in_use`).
pub async fn delete_category(
    state: &AppState,
    caller: &Caller,
    id: BankId,
    category: CategoryId,
) -> ApiResult<()> {
    let mut access = BankAccess::open(state, caller, id, true).await?;
    if !store::delete_category(&mut access.tx, id, category)
        .await
        .map_err(in_use("the category"))?
    {
        return Err(ApiError::NotFound);
    }
    access.tx.commit().await?;
    Ok(())
}

/// A question's content as an author writes it (already parsed, not yet checked against the
/// bank).
pub struct Draft {
    pub category: Option<CategoryId>,
    pub prompt: String,
    pub points: f64,
    pub spec: QuestionSpec,
}

/// Checks what depends on the tenant's data: the category is the bank's, a plugin question's
/// grader is installed and its configuration satisfies the grader's schema.
async fn check_draft(tx: &mut TenantTx, bank: BankId, draft: &Draft) -> ApiResult<()> {
    if let Some(category) = draft.category
        && !store::has_category(tx, bank, category).await?
    {
        return Err(ApiError::Validation(vec![FieldError::new(
            "category_id",
            "unknown_category",
            "the bank has no category with this id",
        )]));
    }
    if let QuestionSpec::Plugin { plugin, config } = &draft.spec {
        crate::plugins::check_grader_config(tx, plugin, config, "spec").await?;
    }
    Ok(())
}

fn question(row: &QuestionRow) -> ApiResult<Question> {
    row.to_question()
        .map_err(|e| ApiError::Internal(e.context("stored question unreadable")))
}

pub async fn create_question(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    bank: BankId,
    draft: Draft,
) -> ApiResult<Question> {
    let mut access = BankAccess::open(state, caller, bank, true).await?;
    check_draft(&mut access.tx, bank, &draft).await?;
    let id = QuestionId::default();
    store::insert_question(
        &mut access.tx,
        bank,
        draft.category,
        &NewVersion {
            question: id,
            version: 1,
            prompt: &draft.prompt,
            points: draft.points,
            spec: &draft.spec,
            by: access.actor.user_id,
        },
    )
    .await?;
    access
        .audit(ip, "question.created")
        .details(json!({ "question_id": id, "kind": draft.spec.kind().as_str() }))
        .record(&mut access.tx)
        .await?;
    let row = store::question(&mut access.tx, id, false)
        .await?
        .ok_or(ApiError::NotFound)?;
    access.tx.commit().await?;
    question(&row)
}

/// The bank a question is in, opened for the caller; 404 when the caller may not see it.
async fn open_question(
    state: &AppState,
    caller: &Caller,
    id: QuestionId,
    write: bool,
) -> ApiResult<(BankAccess, QuestionRow)> {
    // The question's bank decides access; read it first in a short transaction of its own.
    let bank = {
        let mut tx = caller.begin_unconfirmed(state).await?;
        let row = store::question(&mut tx, id, false)
            .await?
            .ok_or(ApiError::NotFound)?;
        tx.commit().await?;
        row.bank_id
    };
    let mut access = BankAccess::open(state, caller, bank, write).await?;
    let row = store::question(&mut access.tx, id, write)
        .await?
        .filter(|q| q.bank_id == bank)
        .ok_or(ApiError::NotFound)?;
    Ok((access, row))
}

pub async fn get_question(
    state: &AppState,
    caller: &Caller,
    id: QuestionId,
) -> ApiResult<Question> {
    let (access, row) = open_question(state, caller, id, false).await?;
    access.tx.commit().await?;
    question(&row)
}

/// Every version of a question, newest first.
pub async fn versions(
    state: &AppState,
    caller: &Caller,
    id: QuestionId,
) -> ApiResult<Vec<Question>> {
    let (mut access, _) = open_question(state, caller, id, false).await?;
    let rows = store::versions(&mut access.tx, id).await?;
    access.tx.commit().await?;
    rows.iter().map(question).collect()
}

/// Saves an edit as a new current version (attempts keep the version they were given).
pub async fn edit_question(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    id: QuestionId,
    draft: Draft,
) -> ApiResult<Question> {
    let (mut access, row) = open_question(state, caller, id, true).await?;
    if row.archived_at.is_some() {
        return Err(ApiError::Conflict {
            code: "question_archived",
            detail: "archived questions cannot be edited".into(),
        });
    }
    let bank = access.id();
    check_draft(&mut access.tx, bank, &draft).await?;
    let version = row.current_version + 1;
    store::insert_version(
        &mut access.tx,
        &NewVersion {
            question: id,
            version,
            prompt: &draft.prompt,
            points: draft.points,
            spec: &draft.spec,
            by: access.actor.user_id,
        },
    )
    .await?;
    store::set_current(&mut access.tx, id, version, draft.category).await?;
    access
        .audit(ip, "question.edited")
        .details(json!({ "question_id": id, "version": version }))
        .record(&mut access.tx)
        .await?;
    let row = store::question(&mut access.tx, id, false)
        .await?
        .ok_or(ApiError::NotFound)?;
    access.tx.commit().await?;
    question(&row)
}

/// Archives a question: the attempts that were given it keep it; no new attempt is (whether the
/// quiz names it or draws from its bank).
pub async fn archive_question(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    id: QuestionId,
) -> ApiResult<()> {
    let (mut access, _) = open_question(state, caller, id, true).await?;
    store::archive(&mut access.tx, id).await?;
    access
        .audit(ip, "question.archived")
        .details(json!({ "question_id": id }))
        .record(&mut access.tx)
        .await?;
    access.tx.commit().await?;
    Ok(())
}

/// A page of a bank's questions (current versions), newest first.
pub async fn questions(
    state: &AppState,
    caller: &Caller,
    bank: BankId,
    category: Option<CategoryId>,
    archived: bool,
    cursor: Option<Cursor>,
    limit: i64,
) -> ApiResult<Page<Question>> {
    let mut access = BankAccess::open(state, caller, bank, false).await?;
    let rows = store::questions(
        &mut access.tx,
        bank,
        category,
        archived,
        cursor.map(|c| c.0),
        limit + 1,
    )
    .await?;
    access.tx.commit().await?;
    let items = rows.iter().map(question).collect::<ApiResult<Vec<_>>>()?;
    Ok(Page::from_rows(items, limit, |q: &Question| q.id.0))
}
