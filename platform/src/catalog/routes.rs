//! `/api/v1/catalog`: published courses for learners.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::{CatalogCourse, CatalogCursor, CatalogDetail, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use super::service::{self, CatalogQuery};
use crate::auth::Authenticated;
use crate::courses::Difficulty;
use crate::error::{ApiResult, FieldError, Problem};
use crate::http::{ApiPath, ApiQuery, Page};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_catalog))
        .routes(routes!(get_catalog_course))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct CatalogParams {
    category: Option<String>,
    /// Courses carrying this tag (tags are lowercase).
    tag: Option<String>,
    difficulty: Option<Difficulty>,
    /// Exact language tag, e.g. `en` or `pt-BR`.
    language: Option<String>,
    /// Search text (web-search syntax: words, "quoted phrases", -excluded) over titles, tags,
    /// summaries and descriptions. Results are then ordered by relevance instead of newest first.
    q: Option<String>,
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page of the same listing.
    cursor: Option<String>,
}

impl CatalogParams {
    fn parse(self) -> ApiResult<CatalogQuery> {
        let mut errors = Vec::new();
        let limit = self.limit.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&limit) {
            errors.push(FieldError::new(
                "limit",
                "out_of_range",
                format!("must be between 1 and {MAX_PAGE_SIZE}"),
            ));
        }
        let q = self
            .q
            .map(|q| q.trim().to_owned())
            .filter(|q| !q.is_empty());
        if q.as_ref().is_some_and(|q| q.chars().count() > 200) {
            errors.push(FieldError::new("q", "too_long", "at most 200 characters"));
        }
        if !errors.is_empty() {
            return Err(crate::error::ApiError::Validation(errors));
        }
        let cursor = self
            .cursor
            .as_deref()
            .map(|c| CatalogCursor::decode(c, q.is_some()))
            .transpose()?;
        Ok(CatalogQuery {
            category: self.category,
            tag: self.tag.map(|t| t.to_lowercase()),
            difficulty: self.difficulty,
            language: self.language,
            q,
            cursor,
            limit: i64::from(limit),
        })
    }
}

/// Published courses, newest published first, or with `q` by relevance. Cursor pagination is
/// keyset-based, so courses published while a client pages never repeat or push others out.
#[utoipa::path(
    get, path = "/api/v1/catalog", tag = "catalog",
    params(CatalogParams),
    responses(
        (status = 200, body = Page<CatalogCourse>),
        (status = 400, description = "`invalid_query` or `invalid_cursor`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn list_catalog(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(params): ApiQuery<CatalogParams>,
) -> ApiResult<Json<Page<CatalogCourse>>> {
    let query = params.parse()?;
    Ok(Json(service::list(&state, &auth, query).await?))
}

/// A published course by id or slug: description, teachers, prerequisites and its outline
/// (module and item titles, kinds and whether items are required; never item content).
#[utoipa::path(
    get, path = "/api/v1/catalog/{id}", tag = "catalog",
    params(("id" = String, Path, description = "The course's id or slug")),
    responses(
        (status = 200, body = CatalogDetail),
        (status = 404, description = "No published course with this id or slug", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn get_catalog_course(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(key): ApiPath<String>,
) -> ApiResult<Json<CatalogDetail>> {
    Ok(Json(service::get(&state, &auth, &key).await?))
}
