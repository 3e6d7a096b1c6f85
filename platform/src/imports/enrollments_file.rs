//! An enrollments file, `email,course,cohort`: each row enrolls the user with that email into
//! the course (its id or slug) as the course's staff would (source `staff`, capacity applies,
//! prerequisites do not), with the `enrollment.created` event. Users who have not accepted
//! their invitation yet can be enrolled, so a class imported in a users file can be enrolled at
//! once; deactivated users cannot. `cohort` (optional, `;`-separated names or ids) adds the user
//! to those cohorts too. A user already active or completed in the course is unchanged; one who
//! dropped it is enrolled again.

use std::collections::{HashMap, HashSet};

use lms_tenants::TenantTx;
use uuid::Uuid;

use super::model::RowAction;
use super::rows::{
    Batch, Carry, Cells, CohortLookup, CohortRef, RowError, add_to_cohorts, shorten,
};
use super::store::{Outcome, PendingRow};
use crate::cohorts::CohortId;
use crate::cohorts::store as cohorts;
use crate::courses::store::{self as courses, CourseRow};
use crate::courses::{CourseId, CourseStatus};
use crate::enrollments::{self, EnrollmentStatus};
use crate::error::ApiResult;
use crate::users::store::{self as user_store, UserRow};
use crate::users::{Email, UserId, UserStatus};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum CourseRef {
    Id(Uuid),
    Slug(String),
}

struct Line {
    email: Email,
    course: CourseRef,
    cohorts: Vec<CohortRef>,
}

fn parse(batch: &Batch<'_>, row: &PendingRow) -> Result<Line, RowError> {
    if let Some(first) = row.duplicate_of {
        return Err(RowError::new(
            "duplicate_row",
            format!("row {first} has the same email and course; only the first row applies"),
        ));
    }
    let cells = Cells::of(batch.columns, row)?;
    let email = cells.email()?;
    let course = cells
        .get("course")
        .ok_or_else(|| RowError::new("missing_course", "the row names no course"))?;
    let course = match Uuid::parse_str(course) {
        Ok(id) => CourseRef::Id(id),
        Err(_) => CourseRef::Slug(course.to_lowercase()),
    };
    Ok(Line {
        email,
        course,
        cohorts: cells.cohorts(),
    })
}

struct Plan {
    user: UserId,
    /// `Some`: enroll into this course.
    enroll: Option<CourseId>,
    join: Vec<CohortId>,
}

struct World {
    users: HashMap<String, UserRow>,
    courses: HashMap<CourseRef, CourseRow>,
    enrolled: HashMap<(UserId, CourseId), EnrollmentStatus>,
    active: HashMap<CourseId, i64>,
    cohorts: CohortLookup,
    memberships: HashSet<(CohortId, UserId)>,
}

/// Processes one batch of an enrollments file (see [`super::users_file::process`]). The batch's
/// courses are locked while their seats are counted and taken, as any enrollment does.
pub async fn process(
    tx: &mut TenantTx,
    billing: &crate::billing::Billing,
    batch: &Batch<'_>,
    rows: &[PendingRow],
    carry: &mut Carry,
) -> ApiResult<Vec<Outcome>> {
    let lines: Vec<Result<Line, RowError>> = rows.iter().map(|r| parse(batch, r)).collect();
    let world = load(tx, batch, &lines).await?;
    let mut outcomes = Vec::with_capacity(rows.len());
    let mut plans = Vec::new();
    for (row, line) in rows.iter().zip(lines) {
        match line.and_then(|line| plan(&world, carry, line)) {
            Ok(plan) => {
                let action = if plan.enroll.is_some() {
                    RowAction::Created
                } else if plan.join.is_empty() {
                    RowAction::Unchanged
                } else {
                    RowAction::Updated
                };
                outcomes.push(Outcome::done(row.row_number, action));
                plans.push(plan);
            }
            Err(err) => outcomes.push(Outcome::failed(row.row_number, err)),
        }
    }
    if !batch.dry_run {
        crate::billing::seats::ensure_within_limit(tx, billing).await?;
        let mut enrolled: HashMap<CourseId, Vec<UserId>> = HashMap::new();
        for plan in plans {
            if let Some(course) = plan.enroll
                && enrollments::enroll_imported(tx, course, plan.user, batch.by)
                    .await?
                    .is_some()
            {
                enrolled.entry(course).or_default().push(plan.user);
            }
            add_to_cohorts(tx, batch, plan.user, &plan.join).await?;
        }
        for (course, users) in enrolled {
            enrollments::audit_imported(tx, batch.by, batch.ip, course, &users).await?;
        }
    }
    Ok(outcomes)
}

async fn load(
    tx: &mut TenantTx,
    batch: &Batch<'_>,
    lines: &[Result<Line, RowError>],
) -> ApiResult<World> {
    let valid: Vec<&Line> = lines.iter().flatten().collect();
    let emails: Vec<&str> = valid.iter().map(|l| l.email.as_str()).collect();
    let users = user_store::by_emails(tx, &emails, false).await?;
    let user_ids: Vec<UserId> = users.iter().map(|u| u.id).collect();
    let ids: Vec<Uuid> = valid
        .iter()
        .filter_map(|l| match &l.course {
            CourseRef::Id(id) => Some(*id),
            CourseRef::Slug(_) => None,
        })
        .collect();
    let slugs: Vec<String> = valid
        .iter()
        .filter_map(|l| match &l.course {
            CourseRef::Slug(slug) => Some(slug.clone()),
            CourseRef::Id(_) => None,
        })
        .collect();
    let found = courses::by_ids_or_slugs(tx, &ids, &slugs, !batch.dry_run).await?;
    let course_ids: Vec<CourseId> = found.iter().map(|c| c.id).collect();
    let enrolled = enrollments::statuses(tx, &user_ids, &course_ids)
        .await?
        .into_iter()
        .map(|(user, course, status)| ((user, course), status))
        .collect();
    let active = enrollments::active_counts(tx, &course_ids)
        .await?
        .into_iter()
        .collect();
    let refs: Vec<CohortRef> = valid
        .iter()
        .flat_map(|l| l.cohorts.iter().cloned())
        .collect();
    let cohort_lookup = CohortLookup::load(tx, &refs).await?;
    let memberships = if refs.is_empty() {
        HashSet::new()
    } else {
        cohorts::memberships_of(tx, &user_ids)
            .await?
            .into_iter()
            .collect()
    };
    let mut by_ref = HashMap::new();
    for course in found {
        by_ref.insert(CourseRef::Slug(course.slug.clone()), course.clone());
        by_ref.insert(CourseRef::Id(course.id.0), course);
    }
    Ok(World {
        users: users.into_iter().map(|u| (u.email.clone(), u)).collect(),
        courses: by_ref,
        enrolled,
        active,
        cohorts: cohort_lookup,
        memberships,
    })
}

fn plan(world: &World, carry: &mut Carry, line: Line) -> Result<Plan, RowError> {
    let user = world.users.get(line.email.as_str()).ok_or_else(|| {
        RowError::new(
            "unknown_user",
            "no user of this organisation has this email",
        )
    })?;
    if user.status == UserStatus::Deactivated {
        return Err(RowError::new(
            "user_deactivated",
            "the user is deactivated; reactivate them first",
        ));
    }
    let course = world.courses.get(&line.course).ok_or_else(|| {
        let shown = match &line.course {
            CourseRef::Id(id) => id.to_string(),
            CourseRef::Slug(slug) => shorten(slug),
        };
        RowError::new(
            "unknown_course",
            format!("no course of this organisation has the id or slug `{shown}`"),
        )
    })?;
    if course.status != CourseStatus::Published {
        return Err(RowError::new(
            "course_not_published",
            format!(
                "the course is {}; only published courses take enrollments",
                course.status.as_str()
            ),
        ));
    }
    let cohorts = world.cohorts.resolve(&line.cohorts)?;
    let current = world.enrolled.get(&(user.id, course.id));
    let enroll = !matches!(
        current,
        Some(EnrollmentStatus::Active | EnrollmentStatus::Completed)
    );
    if enroll && let Some(capacity) = course.capacity {
        let taken = world.active.get(&course.id).copied().unwrap_or(0)
            + carry.seats_taken.get(&course.id).copied().unwrap_or(0);
        if taken >= i64::from(capacity) {
            return Err(RowError::new("course_full", "the course has no seats left"));
        }
    }
    if enroll {
        *carry.seats_taken.entry(course.id).or_default() += 1;
    }
    let join = cohorts
        .into_iter()
        .filter(|c| {
            !world.memberships.contains(&(*c, user.id)) && carry.members_added.insert((*c, user.id))
        })
        .collect();
    Ok(Plan {
        user: user.id,
        enroll: enroll.then_some(course.id),
        join,
    })
}
