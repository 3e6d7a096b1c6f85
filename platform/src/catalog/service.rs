//! Catalog rules: any signed-in user of the tenant browses its published courses; drafts and
//! archived courses do not exist here (404).

use super::model::{CatalogCourse, CatalogCursor, CatalogDetail, CatalogInstructor};
use super::store::{self, CatalogRow, Filters};
use crate::auth::Caller;
use crate::courses::{CourseId, store as courses};
use crate::error::{ApiError, ApiResult};
use crate::http::Page;
use crate::state::AppState;

/// What a catalog listing asks for, parsed.
pub struct CatalogQuery {
    pub category: Option<String>,
    pub tag: Option<String>,
    pub difficulty: Option<crate::courses::Difficulty>,
    pub language: Option<String>,
    /// Search text; ranked results when present.
    pub q: Option<String>,
    pub cursor: Option<CatalogCursor>,
    pub limit: i64,
}

pub async fn list(
    state: &AppState,
    caller: &Caller,
    query: CatalogQuery,
) -> ApiResult<Page<CatalogCourse>> {
    let (mut tx, _) = caller.begin(state).await?;
    let filters = Filters {
        category: query.category.as_deref(),
        tag: query.tag.as_deref(),
        difficulty: query.difficulty,
        language: query.language.as_deref(),
    };
    let rows = match &query.q {
        Some(q) => {
            let cursor = match query.cursor {
                Some(CatalogCursor::Ranked { rank, id }) => Some((rank, id)),
                _ => None,
            };
            store::search(&mut tx, &filters, q, cursor, query.limit).await?
        }
        None => {
            let cursor = match query.cursor {
                Some(CatalogCursor::Newest { published_at, id }) => Some((published_at, id)),
                _ => None,
            };
            store::newest(&mut tx, &filters, cursor, query.limit).await?
        }
    };
    tx.commit().await?;
    Ok(page(rows, query.limit, query.q.is_some()))
}

fn page(mut rows: Vec<CatalogRow>, limit: i64, ranked: bool) -> Page<CatalogCourse> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next_cursor = rows.last().filter(|_| more).and_then(|last| {
        let id = last.id;
        if ranked {
            Some(CatalogCursor::Ranked {
                rank: last.rank,
                id,
            })
        } else {
            last.published_at
                .map(|published_at| CatalogCursor::Newest { published_at, id })
        }
        .map(CatalogCursor::encode)
    });
    Page {
        items: rows.iter().map(CatalogRow::to_course).collect(),
        next_cursor,
    }
}

/// A published course by id or slug, with its public outline (item titles, kinds and whether
/// they are required; never their content) and its teachers' display names.
pub async fn get(state: &AppState, caller: &Caller, key: &str) -> ApiResult<CatalogDetail> {
    let (mut tx, _) = caller.begin(state).await?;
    let id = uuid::Uuid::parse_str(key).ok().map(CourseId);
    let row = store::published(&mut tx, id, key)
        .await?
        .ok_or(ApiError::NotFound)?;
    let course = row.id;
    let instructors = courses::instructors(&mut tx, course)
        .await?
        .into_iter()
        .map(|i| CatalogInstructor {
            user_id: i.user_id,
            display_name: i.display_name,
        })
        .collect();
    let prerequisites = store::prerequisites(&mut tx, course).await?;
    let modules = store::outline(&mut tx, course).await?;
    tx.commit().await?;
    Ok(CatalogDetail {
        course: row.to_course(),
        description: row.description.clone(),
        sequential: row.sequential,
        instructors,
        prerequisites,
        modules,
    })
}
