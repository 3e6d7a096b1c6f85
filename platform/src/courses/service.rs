//! Course-authoring rules. Instructors create courses and manage their own; co-instructors edit
//! them; tenant admins manage every course. Learners only read published courses.

use std::net::IpAddr;

use lms_tenants::TenantTx;
use serde_json::json;

use super::model::{Course, CourseDetail, CourseId, CourseStatus, Difficulty, InstructorRole};
use super::outline_store;
use super::store::{self, CourseFields, CourseRow};
use super::values::{
    Category, CourseSlug, Currency, Language, Markdown, Summary, Tags, Title, WebUrl,
};
use crate::audit::{Audit, AuditActor};
use crate::auth::{Actor, Caller};
use crate::db::Cursor;
use crate::error::{ApiError, ApiResult, FieldError, OnConstraint, codes};
use crate::http::Page;
use crate::state::AppState;
use crate::users::{Role, UserId, UserStatus, store as users};

/// Changes to a course's settings; `None` leaves a setting as it is, `Some(None)` clears it.
#[derive(Debug, Default)]
pub struct CourseChanges {
    pub slug: Option<CourseSlug>,
    pub title: Option<Title>,
    pub summary: Option<Summary>,
    pub description: Option<Markdown>,
    pub category: Option<Option<Category>>,
    pub tags: Option<Tags>,
    pub difficulty: Option<Difficulty>,
    pub language: Option<Language>,
    pub estimated_minutes: Option<Option<i32>>,
    pub thumbnail_url: Option<Option<WebUrl>>,
    pub price_minor: Option<i64>,
    pub currency: Option<Option<Currency>>,
    pub self_enrollment: Option<bool>,
    pub capacity: Option<Option<i32>>,
    pub sequential: Option<bool>,
    pub is_template: Option<bool>,
}

/// A new course: its address and title, and any other settings.
pub struct NewCourse {
    pub slug: CourseSlug,
    pub title: Title,
    pub settings: CourseChanges,
}

fn slug_taken() -> ApiError {
    ApiError::Conflict {
        code: codes::SLUG_TAKEN,
        detail: "another course of this organisation already uses this slug".into(),
    }
}

/// `base` with `changes` applied; a price needs a currency.
fn merged<'a>(base: CourseFields<'a>, c: &'a CourseChanges) -> ApiResult<CourseFields<'a>> {
    let fields = CourseFields {
        slug: c.slug.as_ref().map_or(base.slug, CourseSlug::as_str),
        title: c.title.as_ref().map_or(base.title, Title::as_str),
        summary: c.summary.as_ref().map_or(base.summary, Summary::as_str),
        description: c
            .description
            .as_ref()
            .map_or(base.description, Markdown::as_str),
        category: match &c.category {
            Some(v) => v.as_ref().map(Category::as_str),
            None => base.category,
        },
        tags: c.tags.as_ref().map_or(base.tags, Tags::as_slice),
        difficulty: c.difficulty.unwrap_or(base.difficulty),
        language: c.language.as_ref().map_or(base.language, Language::as_str),
        estimated_minutes: c.estimated_minutes.unwrap_or(base.estimated_minutes),
        thumbnail_url: match &c.thumbnail_url {
            Some(v) => v.as_ref().map(WebUrl::as_str),
            None => base.thumbnail_url,
        },
        price_minor: c.price_minor.unwrap_or(base.price_minor),
        currency: match &c.currency {
            Some(v) => v.as_ref().map(Currency::as_str),
            None => base.currency,
        },
        self_enrollment: c.self_enrollment.unwrap_or(base.self_enrollment),
        capacity: c.capacity.unwrap_or(base.capacity),
        sequential: c.sequential.unwrap_or(base.sequential),
        is_template: c.is_template.unwrap_or(base.is_template),
    };
    if fields.price_minor > 0 && fields.currency.is_none() {
        return Err(ApiError::validation(
            "currency",
            "required",
            "a course with a price needs a currency",
        ));
    }
    Ok(fields)
}

const DEFAULTS: CourseFields<'static> = CourseFields {
    slug: "",
    title: "",
    summary: "",
    description: "",
    category: None,
    tags: &[],
    difficulty: Difficulty::Beginner,
    language: "en",
    estimated_minutes: None,
    thumbnail_url: None,
    price_minor: 0,
    currency: None,
    self_enrollment: true,
    capacity: None,
    sequential: false,
    is_template: false,
};

/// What the actor may do to one course.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Tenant admin or the course's owner: everything, including co-instructors and deletion.
    Manage,
    /// Co-instructor: settings, status, prerequisites and outline.
    Edit,
}

fn is_author(actor: &Actor) -> bool {
    actor.roles.contains(Role::Instructor) || actor.roles.contains(Role::TenantAdmin)
}

/// Learners and other non-authors may not author (403).
pub fn require_author(actor: &Actor) -> ApiResult<()> {
    if is_author(actor) {
        Ok(())
    } else {
        Err(ApiError::forbidden())
    }
}

/// The actor's access to the course, or `None` when they are not one of its authors.
async fn access(tx: &mut TenantTx, actor: &Actor, course: &CourseRow) -> ApiResult<Option<Access>> {
    if actor.roles.contains(Role::TenantAdmin) {
        return Ok(Some(Access::Manage));
    }
    if !actor.roles.contains(Role::Instructor) {
        return Ok(None);
    }
    Ok(
        match store::instructor_role(tx, course.id, actor.user_id).await? {
            Some(InstructorRole::Owner) => Some(Access::Manage),
            Some(InstructorRole::CoInstructor) => Some(Access::Edit),
            None => None,
        },
    )
}

/// An authoring transaction: the course locked, the actor allowed at least `needed`.
pub struct Authoring {
    pub tx: TenantTx,
    pub actor: Actor,
    pub course: CourseRow,
    pub access: Access,
}

impl Authoring {
    pub async fn begin(
        state: &AppState,
        caller: &Caller,
        id: CourseId,
        needed: Access,
    ) -> ApiResult<Self> {
        let (mut tx, actor) = caller.begin(state).await?;
        require_author(&actor)?;
        let course = store::by_id_for_update(&mut tx, id)
            .await?
            .ok_or(ApiError::NotFound)?;
        let access = match access(&mut tx, &actor, &course).await? {
            Some(access) => access,
            // A draft stays invisible to those who cannot author it.
            None if course.status == CourseStatus::Published => {
                return Err(ApiError::forbidden());
            }
            None => return Err(ApiError::NotFound),
        };
        if needed == Access::Manage && access != Access::Manage {
            return Err(ApiError::Forbidden {
                code: codes::FORBIDDEN,
                detail: "only the course's owner or a tenant admin may do this",
            });
        }
        Ok(Self {
            tx,
            actor,
            course,
            access,
        })
    }

    pub fn audit(&self, ip: IpAddr, action: &'static str, target_id: impl ToString) -> Audit {
        Audit::new(
            AuditActor::User(self.actor.user_id),
            action,
            "course",
            target_id,
        )
        .from_ip(ip)
    }

    /// Commits and answers with the course as it now is.
    pub async fn finish(mut self) -> ApiResult<CourseDetail> {
        let id = self.course.id;
        let course = store::by_id(&mut self.tx, id)
            .await?
            .ok_or(ApiError::NotFound)?;
        let detail = detail(&mut self.tx, &course).await?;
        self.tx.commit().await?;
        Ok(detail)
    }
}

/// The course with its instructors, prerequisites and outline.
pub async fn detail(tx: &mut TenantTx, course: &CourseRow) -> ApiResult<CourseDetail> {
    let id = course.id;
    let instructors = store::instructors(tx, id).await?;
    let prerequisite_ids = store::prerequisites(tx, id).await?;
    let modules = outline_store::modules(tx, id).await?;
    let items = outline_store::items(tx, id).await?;
    let modules = modules
        .iter()
        .map(|m| {
            m.to_module(
                items
                    .iter()
                    .filter(|i| i.module_id == m.id)
                    .map(outline_store::ItemRow::to_item)
                    .collect(),
            )
        })
        .collect();
    Ok(CourseDetail {
        course: course.to_course(),
        instructors,
        prerequisite_ids,
        modules,
    })
}

/// Courses for their authors: a tenant admin sees all, an instructor those they (co-)teach.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    status: Option<CourseStatus>,
    cursor: Option<Cursor>,
    limit: i64,
) -> ApiResult<Page<Course>> {
    let (mut tx, actor) = caller.begin(state).await?;
    require_author(&actor)?;
    let taught_by = (!actor.roles.contains(Role::TenantAdmin)).then_some(actor.user_id);
    let rows = store::list(&mut tx, taught_by, status, cursor, limit).await?;
    tx.commit().await?;
    let courses = rows.iter().map(CourseRow::to_course).collect();
    Ok(Page::from_rows(courses, limit, |c: &Course| c.id.0))
}

/// One course: its authors see it in any status, everyone else only once published.
pub async fn get(state: &AppState, caller: &Caller, id: CourseId) -> ApiResult<CourseDetail> {
    let (mut tx, actor) = caller.begin(state).await?;
    let course = store::by_id(&mut tx, id).await?.ok_or(ApiError::NotFound)?;
    if course.status != CourseStatus::Published && access(&mut tx, &actor, &course).await?.is_none()
    {
        return Err(ApiError::NotFound);
    }
    let detail = detail(&mut tx, &course).await?;
    tx.commit().await?;
    Ok(detail)
}

pub async fn create(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    new: NewCourse,
) -> ApiResult<CourseDetail> {
    let (mut tx, actor) = caller.begin(state).await?;
    require_author(&actor)?;
    let changes = CourseChanges {
        slug: Some(new.slug),
        title: Some(new.title),
        ..new.settings
    };
    let fields = merged(DEFAULTS, &changes)?;
    let id = CourseId::default();
    let course = store::insert(&mut tx, id, &fields)
        .await
        .on_constraint(store::SLUG_TAKEN, slug_taken)?;
    store::add_instructor(&mut tx, id, actor.user_id, InstructorRole::Owner).await?;
    Audit::new(
        AuditActor::User(actor.user_id),
        "course.created",
        "course",
        id,
    )
    .from_ip(ip)
    .details(json!({ "slug": course.slug }))
    .record(&mut tx)
    .await?;
    let detail = detail(&mut tx, &course).await?;
    tx.commit().await?;
    Ok(detail)
}

pub async fn update(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    id: CourseId,
    changes: CourseChanges,
) -> ApiResult<CourseDetail> {
    let mut authoring = Authoring::begin(state, caller, id, Access::Edit).await?;
    let fields = merged(authoring.course.fields(), &changes)?;
    store::update(&mut authoring.tx, id, &fields)
        .await
        .on_constraint(store::SLUG_TAKEN, slug_taken)?;
    authoring
        .audit(ip, "course.updated", id)
        .record(&mut authoring.tx)
        .await?;
    authoring.finish().await
}

/// Deletes a draft course that never had learners, with its outline (owner or tenant admin).
pub async fn delete(state: &AppState, caller: &Caller, ip: IpAddr, id: CourseId) -> ApiResult<()> {
    let mut authoring = Authoring::begin(state, caller, id, Access::Manage).await?;
    if authoring.course.status != CourseStatus::Draft {
        return Err(ApiError::Conflict {
            code: "course_not_draft",
            detail: "only draft courses can be deleted; archive it instead".into(),
        });
    }
    // A course that was published, archived and returned to draft may carry learners' records;
    // deleting it would delete their attempts, submissions and grades with it.
    if store::has_enrollments(&mut authoring.tx, id).await? {
        return Err(ApiError::Conflict {
            code: "course_has_learners",
            detail: "learners have been enrolled in this course; archive it instead".into(),
        });
    }
    store::delete(&mut authoring.tx, id)
        .await
        .map_err(crate::question_banks::in_use(
            "a question bank of the course",
        ))?;
    authoring
        .audit(ip, "course.deleted", id)
        .details(json!({ "slug": authoring.course.slug }))
        .record(&mut authoring.tx)
        .await?;
    authoring.tx.commit().await?;
    Ok(())
}

/// Moves a course along draft -> published -> archived -> draft.
pub async fn set_status(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    id: CourseId,
    to: CourseStatus,
) -> ApiResult<CourseDetail> {
    let mut authoring = Authoring::begin(state, caller, id, Access::Edit).await?;
    let from = authoring.course.status;
    let action = from.transition(to).ok_or_else(|| ApiError::Conflict {
        code: "invalid_transition",
        detail: format!("a {} course cannot become {}", from.as_str(), to.as_str()),
    })?;
    store::set_status(&mut authoring.tx, id, to).await?;
    authoring
        .audit(ip, action, id)
        .details(json!({ "from": from, "to": to }))
        .record(&mut authoring.tx)
        .await?;
    authoring.finish().await
}

/// Copies a course's settings, prerequisites and outline into a new draft owned by the caller.
/// Its authors may clone any course; other instructors only templates.
pub async fn clone(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    id: CourseId,
    slug: CourseSlug,
    title: Title,
) -> ApiResult<CourseDetail> {
    let (mut tx, actor) = caller.begin(state).await?;
    require_author(&actor)?;
    let source = store::by_id(&mut tx, id).await?.ok_or(ApiError::NotFound)?;
    if access(&mut tx, &actor, &source).await?.is_none() && !source.is_template {
        return Err(if source.status == CourseStatus::Published {
            ApiError::forbidden()
        } else {
            ApiError::NotFound
        });
    }
    let changes = CourseChanges {
        slug: Some(slug),
        title: Some(title),
        is_template: Some(false),
        ..CourseChanges::default()
    };
    let fields = merged(source.fields(), &changes)?;
    let new_id = CourseId::default();
    let course = store::insert(&mut tx, new_id, &fields)
        .await
        .on_constraint(store::SLUG_TAKEN, slug_taken)?;
    store::add_instructor(&mut tx, new_id, actor.user_id, InstructorRole::Owner).await?;
    let prerequisites = store::prerequisites(&mut tx, id).await?;
    store::replace_prerequisites(&mut tx, new_id, &prerequisites).await?;
    outline_store::copy_outline(&mut tx, id, new_id).await?;
    Audit::new(
        AuditActor::User(actor.user_id),
        "course.cloned",
        "course",
        new_id,
    )
    .from_ip(ip)
    .details(json!({ "source_id": id, "slug": course.slug }))
    .record(&mut tx)
    .await?;
    let detail = detail(&mut tx, &course).await?;
    tx.commit().await?;
    Ok(detail)
}

/// Adds an active instructor of the tenant as co-instructor (owner or tenant admin).
pub async fn add_co_instructor(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    id: CourseId,
    user: UserId,
) -> ApiResult<CourseDetail> {
    let mut authoring = Authoring::begin(state, caller, id, Access::Manage).await?;
    let candidate = users::by_id(&mut authoring.tx, user).await?;
    let Some(candidate) = candidate.filter(|u| u.status == UserStatus::Active) else {
        return Err(ApiError::validation(
            "user_id",
            "unknown_user",
            "no active user of this organisation has this id",
        ));
    };
    if !candidate.roles().contains(Role::Instructor) {
        return Err(ApiError::validation(
            "user_id",
            "not_an_instructor",
            "only users with the instructor role can teach a course",
        ));
    }
    if !store::add_instructor(&mut authoring.tx, id, user, InstructorRole::CoInstructor).await? {
        return Err(ApiError::Conflict {
            code: "already_instructor",
            detail: "this user already teaches the course".into(),
        });
    }
    authoring
        .audit(ip, "course.instructor_added", id)
        .details(json!({ "user_id": user }))
        .record(&mut authoring.tx)
        .await?;
    authoring.finish().await
}

pub async fn remove_co_instructor(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    id: CourseId,
    user: UserId,
) -> ApiResult<CourseDetail> {
    let mut authoring = Authoring::begin(state, caller, id, Access::Manage).await?;
    if store::instructor_role(&mut authoring.tx, id, user).await? == Some(InstructorRole::Owner) {
        return Err(ApiError::Conflict {
            code: "cannot_remove_owner",
            detail: "the course's owner cannot be removed".into(),
        });
    }
    if !store::remove_co_instructor(&mut authoring.tx, id, user).await? {
        return Err(ApiError::NotFound);
    }
    authoring
        .audit(ip, "course.instructor_removed", id)
        .details(json!({ "user_id": user }))
        .record(&mut authoring.tx)
        .await?;
    authoring.finish().await
}

/// Replaces the courses that must be completed first. Unknown ids and the course itself are
/// 422; a set that would make the course (transitively) its own prerequisite is 409.
pub async fn set_prerequisites(
    state: &AppState,
    caller: &Caller,
    ip: IpAddr,
    id: CourseId,
    mut ids: Vec<CourseId>,
) -> ApiResult<CourseDetail> {
    let mut authoring = Authoring::begin(state, caller, id, Access::Edit).await?;
    let mut seen = std::collections::HashSet::new();
    ids.retain(|c| seen.insert(*c));
    let existing = store::existing(&mut authoring.tx, &ids).await?;
    let errors: Vec<FieldError> = ids
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            if *c == id {
                Some(FieldError::new(
                    format!("course_ids[{i}]"),
                    "self_reference",
                    "a course cannot require itself",
                ))
            } else if !existing.contains(c) {
                Some(FieldError::new(
                    format!("course_ids[{i}]"),
                    "unknown_course",
                    "no course of this organisation has this id",
                ))
            } else {
                None
            }
        })
        .collect();
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    store::lock_prerequisite_graph(&mut authoring.tx).await?;
    if store::requires_transitively(&mut authoring.tx, &ids, id).await? {
        return Err(ApiError::Conflict {
            code: "prerequisite_cycle",
            detail: "one of these courses already requires this course".into(),
        });
    }
    store::replace_prerequisites(&mut authoring.tx, id, &ids).await?;
    authoring
        .audit(ip, "course.prerequisites_changed", id)
        .details(json!({ "course_ids": ids }))
        .record(&mut authoring.tx)
        .await?;
    authoring.finish().await
}
