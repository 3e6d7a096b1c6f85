//! The demo tenant's courses: three published courses with modules and items of every kind,
//! both demo learners enrolled, and the first learner half-way through the first course.
//! Written through the same stores the API uses; skipped when the first course exists.

use anyhow::{Context, anyhow};
use lms_tenants::TenantTx;
use uuid::Uuid;

use crate::courses::outline_store;
use crate::courses::store::{self as courses, CourseFields};
use crate::courses::{
    CourseId, CourseStatus, Difficulty, InstructorRole, ItemContent, ItemId, ItemKind, ModuleId,
    RawContent,
};
use crate::users::UserId;
use crate::validation::Fields;

struct DemoCourse {
    slug: &'static str,
    title: &'static str,
    summary: &'static str,
    category: &'static str,
    tags: &'static [&'static str],
    difficulty: Difficulty,
    minutes: i32,
    sequential: bool,
    modules: &'static [(&'static str, &'static [DemoItem])],
}

struct DemoItem {
    kind: ItemKind,
    title: &'static str,
    required: bool,
    /// The body of a text item, the URL of a video, document or link.
    content: &'static str,
    duration_seconds: Option<i64>,
}

const fn item(kind: ItemKind, title: &'static str, content: &'static str) -> DemoItem {
    DemoItem {
        kind,
        title,
        required: true,
        content,
        duration_seconds: None,
    }
}

const fn video(title: &'static str, url: &'static str, seconds: i64) -> DemoItem {
    DemoItem {
        kind: ItemKind::Video,
        title,
        required: true,
        content: url,
        duration_seconds: Some(seconds),
    }
}

const fn optional(item: DemoItem) -> DemoItem {
    DemoItem {
        required: false,
        ..item
    }
}

const COURSES: [DemoCourse; 3] = [
    DemoCourse {
        slug: "web-security-fundamentals",
        title: "Web Security Fundamentals",
        summary: "How web applications are attacked and defended, from injection to sessions, \
                  with a hands-on capture-the-flag lab.",
        category: "Security",
        tags: &["security", "owasp", "web"],
        difficulty: Difficulty::Intermediate,
        minutes: 240,
        sequential: true,
        modules: &[
            (
                "Threats and attack surface",
                &[
                    item(
                        ItemKind::Text,
                        "Welcome",
                        "# Welcome\n\nThis course walks through the OWASP Top 10 with examples.",
                    ),
                    video(
                        "Anatomy of an injection",
                        "https://media.demo.example/injection.mp4",
                        540,
                    ),
                    item(
                        ItemKind::Document,
                        "OWASP Top 10 cheat sheet",
                        "https://media.demo.example/owasp-top10.pdf",
                    ),
                ],
            ),
            (
                "Defences",
                &[
                    item(
                        ItemKind::Text,
                        "Sessions and cookies",
                        "Use `__Host-` cookies, `SameSite`, and rotate session ids on login.",
                    ),
                    optional(item(
                        ItemKind::ExternalLink,
                        "MDN: Content Security Policy",
                        "https://developer.mozilla.org/docs/Web/HTTP/CSP",
                    )),
                    item(ItemKind::Quiz, "Check your understanding", ""),
                ],
            ),
            (
                "Hands-on lab",
                &[item(
                    ItemKind::Assignment,
                    "Capture the flag: find the injection",
                    "",
                )],
            ),
        ],
    },
    DemoCourse {
        slug: "python-for-data-analysis",
        title: "Python for Data Analysis",
        summary: "Load, clean and explore data with Python and pandas.",
        category: "Data",
        tags: &["python", "pandas", "data"],
        difficulty: Difficulty::Beginner,
        minutes: 180,
        sequential: false,
        modules: &[
            (
                "Getting started",
                &[
                    item(
                        ItemKind::Text,
                        "Setting up",
                        "Install Python 3.12 and run `pip install pandas`.",
                    ),
                    video(
                        "Your first DataFrame",
                        "https://media.demo.example/dataframe.mp4",
                        420,
                    ),
                ],
            ),
            (
                "Cleaning data",
                &[
                    item(
                        ItemKind::Document,
                        "Sample dataset notes",
                        "https://media.demo.example/dataset.pdf",
                    ),
                    optional(item(
                        ItemKind::ExternalLink,
                        "pandas user guide",
                        "https://pandas.pydata.org/docs/user_guide/",
                    )),
                    item(ItemKind::Quiz, "Cleaning quiz", ""),
                ],
            ),
        ],
    },
    DemoCourse {
        slug: "leading-remote-teams",
        title: "Leading Remote Teams",
        summary: "Practical habits for managers of distributed teams.",
        category: "Leadership",
        tags: &["management", "remote"],
        difficulty: Difficulty::Advanced,
        minutes: 90,
        sequential: false,
        modules: &[(
            "Working apart, together",
            &[
                video(
                    "Rituals that scale",
                    "https://media.demo.example/rituals.mp4",
                    600,
                ),
                item(
                    ItemKind::Text,
                    "Writing things down",
                    "Decisions live in documents, not in meetings.",
                ),
                item(ItemKind::Assignment, "Draft your team charter", ""),
            ],
        )],
    },
];

/// Seeds the courses unless the first one exists. `learners` are enrolled into every course;
/// the first of them completes the first half of the first course's items.
pub async fn seed(
    tx: &mut TenantTx,
    instructor: UserId,
    learners: &[UserId],
) -> anyhow::Result<()> {
    let exists: bool = sqlx::query_scalar(
        "select exists (select 1 from courses where tenant_id = $1 and slug = $2)",
    )
    .bind(tx.tenant_id())
    .bind(COURSES[0].slug)
    .fetch_one(&mut **tx)
    .await?;
    if exists {
        return Ok(());
    }
    for (n, course) in COURSES.iter().enumerate() {
        let (id, items) = create(tx, instructor, course)
            .await
            .with_context(|| format!("demo course {}", course.slug))?;
        for learner in learners {
            enroll(tx, id, *learner, instructor).await?;
        }
        if n == 0
            && let Some(learner) = learners.first()
        {
            let half = &items[..items.len() / 2];
            complete(tx, id, *learner, half).await?;
        }
    }
    Ok(())
}

/// Creates and publishes the course; returns its id and item ids in course order.
async fn create(
    tx: &mut TenantTx,
    instructor: UserId,
    course: &DemoCourse,
) -> anyhow::Result<(CourseId, Vec<ItemId>)> {
    let id = CourseId::default();
    let tags: Vec<String> = course.tags.iter().map(|t| (*t).to_owned()).collect();
    let description = format!("## About\n\n{}", course.summary);
    courses::insert(
        tx,
        id,
        &CourseFields {
            slug: course.slug,
            title: course.title,
            summary: course.summary,
            description: &description,
            category: Some(course.category),
            tags: &tags,
            difficulty: course.difficulty,
            language: "en",
            estimated_minutes: Some(course.minutes),
            thumbnail_url: None,
            price_minor: 0,
            currency: None,
            self_enrollment: true,
            capacity: None,
            sequential: course.sequential,
            is_template: false,
        },
    )
    .await?;
    courses::add_instructor(tx, id, instructor, InstructorRole::Owner).await?;
    let mut items = Vec::new();
    for (title, module_items) in course.modules {
        let module = ModuleId::default();
        outline_store::insert_module(tx, id, module, title, "").await?;
        for demo in *module_items {
            let item = ItemId::default();
            outline_store::insert_item(
                tx,
                id,
                module,
                item,
                demo.title,
                demo.required,
                &content(demo)?,
            )
            .await?;
            items.push(item);
        }
    }
    courses::set_status(tx, id, CourseStatus::Published).await?;
    Ok((id, items))
}

fn content(item: &DemoItem) -> anyhow::Result<ItemContent> {
    let text = (!item.content.is_empty()).then(|| item.content.to_owned());
    let raw = match item.kind {
        ItemKind::Text => RawContent {
            body: text,
            url: None,
            duration_seconds: None,
        },
        _ => RawContent {
            body: None,
            url: text,
            duration_seconds: item.duration_seconds,
        },
    };
    let mut fields = Fields::default();
    let parsed = ItemContent::parse(item.kind, &raw, &mut fields);
    fields
        .finish(|| parsed)
        .map_err(|e| anyhow!("item {}: {e:?}", item.title))
}

async fn enroll(
    tx: &mut TenantTx,
    course: CourseId,
    learner: UserId,
    by: UserId,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into enrollments (tenant_id, id, course_id, user_id, source, enrolled_by)
         values ($1, $2, $3, $4, 'staff', $5)",
    )
    .bind(tx.tenant_id())
    .bind(Uuid::now_v7())
    .bind(course)
    .bind(learner)
    .bind(by)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// Marks the items complete for the learner, as if they had studied them over the last days.
async fn complete(
    tx: &mut TenantTx,
    course: CourseId,
    learner: UserId,
    items: &[ItemId],
) -> Result<(), sqlx::Error> {
    let ids: Vec<Uuid> = items.iter().map(|i| i.0).collect();
    sqlx::query(
        "with e as (
             select id from enrollments
             where tenant_id = $1 and course_id = $2 and user_id = $3
         ), done as (
             insert into item_progress (tenant_id, enrollment_id, item_id, completed_at,
                                        time_spent_seconds, first_accessed_at, last_accessed_at)
             select $1, e.id, item.id, now() - (n || ' hours')::interval, 300 + 60 * n,
                    now() - (n || ' hours')::interval - interval '10 minutes',
                    now() - (n || ' hours')::interval
             from e, unnest($4::uuid[]) with ordinality as item(id, n)
             returning 1
         )
         update enrollments set last_activity_at = now() - interval '1 hour'
         where tenant_id = $1 and course_id = $2 and user_id = $3
           and (select count(*) from done) >= 0",
    )
    .bind(tx.tenant_id())
    .bind(course)
    .bind(learner)
    .bind(ids)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}
