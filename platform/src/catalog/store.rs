//! All SQL of the catalog: published courses only, on the caller's tenant-scoped transaction.

use chrono::{DateTime, Utc};
use lms_tenants::TenantTx;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use super::model::{CatalogCourse, OutlineItem, OutlineModule, Prerequisite};
use crate::courses::{CourseId, Difficulty, ItemId, ItemKind, ModuleId};

#[derive(sqlx::FromRow)]
pub struct CatalogRow {
    pub id: CourseId,
    pub slug: String,
    pub title: String,
    pub summary: String,
    /// Empty in listings, which do not show it.
    pub description: String,
    pub category: Option<String>,
    pub tags: Vec<String>,
    pub difficulty: Difficulty,
    pub language: String,
    pub estimated_minutes: Option<i32>,
    pub thumbnail_url: Option<String>,
    pub price_minor: i64,
    pub currency: Option<String>,
    pub self_enrollment: bool,
    pub capacity: Option<i32>,
    pub sequential: bool,
    pub published_at: Option<DateTime<Utc>>,
    pub seats_left: Option<i64>,
    /// Search relevance; 0 outside a search.
    pub rank: f32,
}

impl CatalogRow {
    pub fn to_course(&self) -> CatalogCourse {
        CatalogCourse {
            id: self.id,
            slug: self.slug.clone(),
            title: self.title.clone(),
            summary: self.summary.clone(),
            category: self.category.clone(),
            tags: self.tags.clone(),
            difficulty: self.difficulty,
            language: self.language.clone(),
            estimated_minutes: self.estimated_minutes,
            thumbnail_url: self.thumbnail_url.clone(),
            price_minor: self.price_minor,
            currency: self.currency.clone(),
            self_enrollment: self.self_enrollment,
            capacity: self.capacity,
            seats_left: self.seats_left,
            published_at: self.published_at,
        }
    }
}

const COLUMNS: &str = "c.id, c.slug, c.title, c.summary, c.category, c.tags,
    c.difficulty, c.language, c.estimated_minutes, c.thumbnail_url, c.price_minor, c.currency,
    c.self_enrollment, c.capacity, c.sequential, c.published_at,
    case when c.capacity is null then null else greatest(c.capacity - (
        select count(*) from enrollments e
        where e.tenant_id = c.tenant_id and e.course_id = c.id and e.status = 'active'), 0)
    end as seats_left";

/// The catalog's filters; `None` filters nothing.
pub struct Filters<'a> {
    pub category: Option<&'a str>,
    pub tag: Option<&'a str>,
    pub difficulty: Option<Difficulty>,
    pub language: Option<&'a str>,
}

/// Published courses matching the filters, newest published first, from after `cursor`.
/// Fetches `limit + 1` rows so the caller knows whether another page exists.
///
/// Only the filters in use are in the statement: with `$n is null or ...` for absent filters,
/// PostgreSQL's generic plan for the prepared statement (chosen after five executions) cannot
/// see which filters are absent and scans and sorts every published course of the tenant
/// instead of reading the first rows of `courses_catalog`.
pub async fn newest(
    tx: &mut TenantTx,
    f: &Filters<'_>,
    cursor: Option<(DateTime<Utc>, CourseId)>,
    limit: i64,
) -> Result<Vec<CatalogRow>, sqlx::Error> {
    let mut query = QueryBuilder::<Postgres>::new(format!(
        "select {COLUMNS}, ''::text as description, 0::real as rank from courses c
         where c.tenant_id = "
    ));
    query.push_bind(tx.tenant_id());
    query.push(" and c.status = 'published'");
    push_filters(&mut query, f);
    if let Some((published_at, id)) = cursor {
        query.push(" and (c.published_at, c.id) < (");
        query.push_bind(published_at);
        query.push(", ");
        query.push_bind(id);
        query.push(")");
    }
    query.push(" order by c.published_at desc, c.id desc limit ");
    query.push_bind(limit + 1);
    query.build_query_as().fetch_all(&mut **tx).await
}

/// Published courses matching the filters and the query, best first: full text
/// (`websearch_to_tsquery` on the weighted `search` document), ranked by `ts_rank`, a `real` the
/// cursor carries exactly. A course's rank depends only on its own text, so pages stay stable.
/// Like [`newest`], only the filters in use are in the statement.
pub async fn search(
    tx: &mut TenantTx,
    f: &Filters<'_>,
    text: &str,
    cursor: Option<(f32, CourseId)>,
    limit: i64,
) -> Result<Vec<CatalogRow>, sqlx::Error> {
    let mut query = QueryBuilder::<Postgres>::new(format!(
        "select * from (
             select {COLUMNS}, ''::text as description,
                    ts_rank(c.search, websearch_to_tsquery('simple', "
    ));
    query.push_bind(text);
    query.push(")) as rank from courses c where c.tenant_id = ");
    query.push_bind(tx.tenant_id());
    query.push(" and c.status = 'published'");
    push_filters(&mut query, f);
    query.push(" and c.search @@ websearch_to_tsquery('simple', ");
    query.push_bind(text);
    query.push(")) found");
    if let Some((rank, id)) = cursor {
        query.push(" where (rank, id) < (");
        query.push_bind(rank);
        query.push(", ");
        query.push_bind(id);
        query.push(")");
    }
    query.push(" order by rank desc, id desc limit ");
    query.push_bind(limit + 1);
    query.build_query_as().fetch_all(&mut **tx).await
}

/// `and` clauses for the filters that are set.
fn push_filters<'a>(query: &mut QueryBuilder<'a, Postgres>, f: &Filters<'a>) {
    if let Some(category) = f.category {
        query.push(" and c.category = ");
        query.push_bind(category);
    }
    if let Some(tag) = f.tag {
        query.push(" and ");
        query.push_bind(tag);
        query.push(" = any(c.tags)");
    }
    if let Some(difficulty) = f.difficulty {
        query.push(" and c.difficulty = ");
        query.push_bind(difficulty.as_str());
    }
    if let Some(language) = f.language {
        query.push(" and c.language = ");
        query.push_bind(language);
    }
}

/// A published course by id or by slug.
pub async fn published(
    tx: &mut TenantTx,
    id: Option<CourseId>,
    slug: &str,
) -> Result<Option<CatalogRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {COLUMNS}, c.description, 0::real as rank from courses c
         where c.tenant_id = $1 and c.status = 'published'
           and (c.id = $2 or ($2 is null and c.slug = $3))"
    ))
    .bind(tx.tenant_id())
    .bind(id)
    .bind(slug)
    .fetch_optional(&mut **tx)
    .await
}

/// The course's modules and items in order, without item content.
pub async fn outline(
    tx: &mut TenantTx,
    course: CourseId,
) -> Result<Vec<OutlineModule>, sqlx::Error> {
    let modules: Vec<(ModuleId, String, String)> = sqlx::query_as(
        "select id, title, summary from course_modules
         where tenant_id = $1 and course_id = $2 order by position",
    )
    .bind(tx.tenant_id())
    .bind(course)
    .fetch_all(&mut **tx)
    .await?;
    let items: Vec<(ItemId, ModuleId, ItemKind, String, bool, Option<i32>)> = sqlx::query_as(
        "select id, module_id, kind, title, required, duration_seconds from course_items
         where tenant_id = $1 and course_id = $2 order by position",
    )
    .bind(tx.tenant_id())
    .bind(course)
    .fetch_all(&mut **tx)
    .await?;
    Ok(modules
        .into_iter()
        .map(|(id, title, summary)| OutlineModule {
            id,
            title,
            summary,
            items: items
                .iter()
                .filter(|i| i.1 == id)
                .map(
                    |(id, _, kind, title, required, duration_seconds)| OutlineItem {
                        id: *id,
                        kind: *kind,
                        title: title.clone(),
                        required: *required,
                        duration_seconds: *duration_seconds,
                    },
                )
                .collect(),
        })
        .collect())
}

pub async fn prerequisites(
    tx: &mut TenantTx,
    course: CourseId,
) -> Result<Vec<Prerequisite>, sqlx::Error> {
    let rows: Vec<(Uuid, String, String)> = sqlx::query_as(
        "select c.id, c.slug, c.title from course_prerequisites p
         join courses c on c.tenant_id = p.tenant_id and c.id = p.prerequisite_id
         where p.tenant_id = $1 and p.course_id = $2 order by c.title, c.id",
    )
    .bind(tx.tenant_id())
    .bind(course)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, slug, title)| Prerequisite {
            id: CourseId(id),
            slug,
            title,
        })
        .collect())
}
