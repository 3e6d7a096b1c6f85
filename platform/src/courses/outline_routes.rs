//! `/api/v1/courses/{id}/modules…`: a course's modules and items, and their order.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::{CourseId, Item, ItemContent, ItemId, ItemKind, Module, ModuleId, RawContent};
use super::outline::{self, ItemChanges, NewItem};
use super::routes::nullable;
use super::values::{Summary, Title};
use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::{ApiJson, ApiPath, ClientIp};
use crate::state::AppState;
use crate::validation::Fields;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_module))
        .routes(routes!(update_module, delete_module))
        .routes(routes!(reorder_modules))
        .routes(routes!(create_item))
        .routes(routes!(update_item, delete_item))
        .routes(routes!(reorder_items))
}

/// Most modules per course and items per module.
const MAX_ORDER_LEN: usize = 1_000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ModuleRequest {
    /// Trimmed; 1 to 200 characters on one line, no control characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    title: String,
    /// Up to 1,000 characters; no control characters other than tab and line breaks.
    #[schema(
        max_length = 1000,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    summary: Option<String>,
}

/// Adds a module at the end of the course.
#[utoipa::path(
    post, path = "/api/v1/courses/{id}/modules", tag = "courses",
    params(("id" = String, Path, format = Uuid)),
    request_body = ModuleRequest,
    responses(
        (status = 201, body = Module),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn create_module(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(course): ApiPath<CourseId>,
    ApiJson(body): ApiJson<ModuleRequest>,
) -> ApiResult<(StatusCode, Json<Module>)> {
    let mut fields = Fields::default();
    let title = fields.take(Title::parse("title", &body.title));
    let summary = fields.take(Summary::parse(
        "summary",
        body.summary.as_deref().unwrap_or_default(),
    ));
    let (title, summary) = fields.finish(|| Some((title?, summary?)))?;
    Ok((
        StatusCode::CREATED,
        Json(outline::create_module(&state, &auth, ip, course, title, summary).await?),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateModuleRequest {
    /// Trimmed; 1 to 200 characters on one line, no control characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    title: Option<String>,
    /// Up to 1,000 characters; no control characters other than tab and line breaks.
    #[schema(
        max_length = 1000,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    summary: Option<String>,
}

/// Renames a module or changes its summary.
#[utoipa::path(
    patch, path = "/api/v1/courses/{id}/modules/{module_id}", tag = "courses",
    params(("id" = String, Path, format = Uuid), ("module_id" = String, Path, format = Uuid)),
    request_body = UpdateModuleRequest,
    responses(
        (status = 200, body = Module),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn update_module(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(ids): ApiPath<(CourseId, ModuleId)>,
    ApiJson(body): ApiJson<UpdateModuleRequest>,
) -> ApiResult<Json<Module>> {
    let mut fields = Fields::default();
    let title = body
        .title
        .and_then(|t| fields.take(Title::parse("title", &t)));
    let summary = body
        .summary
        .and_then(|s| fields.take(Summary::parse("summary", &s)));
    fields.finish(|| Some(()))?;
    Ok(Json(
        outline::update_module(&state, &auth, ip, ids, title, summary).await?,
    ))
}

/// Deletes a module and its items; the modules after it move up.
#[utoipa::path(
    delete, path = "/api/v1/courses/{id}/modules/{module_id}", tag = "courses",
    params(("id" = String, Path, format = Uuid), ("module_id" = String, Path, format = Uuid)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn delete_module(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(ids): ApiPath<(CourseId, ModuleId)>,
) -> ApiResult<StatusCode> {
    outline::delete_module(&state, &auth, ip, ids).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ModuleOrder {
    /// Every module of the course, once each, in the new order; at most 1,000.
    #[schema(max_items = 1000)]
    module_ids: Vec<ModuleId>,
}

/// Puts the course's modules in a new order. The list must be exactly the current modules
/// (else 409 `stale_order`); concurrent reorders apply one after another.
#[utoipa::path(
    put, path = "/api/v1/courses/{id}/modules/order", tag = "courses",
    params(("id" = String, Path, format = Uuid)),
    request_body = ModuleOrder,
    responses(
        (status = 200, body = Vec<Module>),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`stale_order`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn reorder_modules(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(course): ApiPath<CourseId>,
    ApiJson(body): ApiJson<ModuleOrder>,
) -> ApiResult<Json<Vec<Module>>> {
    if body.module_ids.len() > MAX_ORDER_LEN {
        return Err(ApiError::validation(
            "module_ids",
            "too_many",
            "too many modules",
        ));
    }
    Ok(Json(
        outline::reorder_modules(&state, &auth, ip, course, body.module_ids).await?,
    ))
}

/// A new item. `body` is for `text`; `url` for `video`, `document` and `external_link`;
/// `duration_seconds` for `video`; `quiz` and `assignment` take no content yet.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateItemRequest {
    kind: ItemKind,
    /// Trimmed; 1 to 200 characters on one line, no control characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    title: String,
    /// Counts towards completion (default true).
    required: Option<bool>,
    /// Markdown for `text` items: up to 100,000 characters; no control characters other than
    /// tab and line breaks.
    #[schema(
        max_length = 100000,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    body: Option<String>,
    /// An absolute http(s) URL with a host, at most 2,000 characters (`video`, `document` and
    /// `external_link` items).
    #[schema(
        format = "uri",
        max_length = 2000,
        pattern = r"^https?://[a-z][a-z0-9]*(\.[a-z][a-z0-9]*)*(/[A-Za-z0-9._~-]*)*$"
    )]
    url: Option<String>,
    /// A video's length: 0 to 1,000,000.
    #[schema(minimum = 0, maximum = 1000000)]
    duration_seconds: Option<i64>,
}

/// Adds an item at the end of the module.
#[utoipa::path(
    post, path = "/api/v1/courses/{id}/modules/{module_id}/items", tag = "courses",
    params(("id" = String, Path, format = Uuid), ("module_id" = String, Path, format = Uuid)),
    request_body = CreateItemRequest,
    responses(
        (status = 201, body = Item),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn create_item(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(ids): ApiPath<(CourseId, ModuleId)>,
    ApiJson(body): ApiJson<CreateItemRequest>,
) -> ApiResult<(StatusCode, Json<Item>)> {
    let mut fields = Fields::default();
    let title = fields.take(Title::parse("title", &body.title));
    let raw = RawContent {
        body: body.body,
        url: body.url,
        duration_seconds: body.duration_seconds,
    };
    let content = ItemContent::parse(body.kind, &raw, &mut fields);
    let new = fields.finish(|| {
        Some(NewItem {
            title: title?,
            required: body.required.unwrap_or(true),
            content: content?,
        })
    })?;
    Ok((
        StatusCode::CREATED,
        Json(outline::create_item(&state, &auth, ip, ids, new).await?),
    ))
}

/// Changes to an item; its kind is fixed. Content fields given replace the item's content as a
/// whole (so they must be complete for its kind).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateItemRequest {
    /// Trimmed; 1 to 200 characters on one line, no control characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    title: Option<String>,
    required: Option<bool>,
    /// Markdown for `text` items: up to 100,000 characters; no control characters other than
    /// tab and line breaks.
    #[schema(
        max_length = 100000,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    body: Option<String>,
    /// An absolute http(s) URL with a host, at most 2,000 characters (`video`, `document` and
    /// `external_link` items).
    #[schema(
        format = "uri",
        max_length = 2000,
        pattern = r"^https?://[a-z][a-z0-9]*(\.[a-z][a-z0-9]*)*(/[A-Za-z0-9._~-]*)*$"
    )]
    url: Option<String>,
    /// A video's length, 0 to 1,000,000; `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 1000000)]
    duration_seconds: Option<Option<i64>>,
}

/// Changes an item's title, whether it is required, or its content.
#[utoipa::path(
    patch, path = "/api/v1/courses/{id}/modules/{module_id}/items/{item_id}", tag = "courses",
    params(
        ("id" = String, Path, format = Uuid),
        ("module_id" = String, Path, format = Uuid),
        ("item_id" = String, Path, format = Uuid),
    ),
    request_body = UpdateItemRequest,
    responses(
        (status = 200, body = Item),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn update_item(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(ids): ApiPath<(CourseId, ModuleId, ItemId)>,
    ApiJson(body): ApiJson<UpdateItemRequest>,
) -> ApiResult<Json<Item>> {
    let mut fields = Fields::default();
    let title = body
        .title
        .and_then(|t| fields.take(Title::parse("title", &t)));
    fields.finish(|| Some(()))?;
    let (authoring, current) = outline::item_for_update(&state, &auth, ids).await?;
    let touches_content =
        body.body.is_some() || body.url.is_some() || body.duration_seconds.is_some();
    let mut fields = Fields::default();
    let content = if touches_content {
        // Fields not sent keep their current value, so a video's duration can change alone.
        let raw = RawContent {
            body: body.body.or_else(|| current.body.clone()),
            url: body.url.or_else(|| current.url.clone()),
            duration_seconds: match body.duration_seconds {
                Some(d) => d,
                None => current.duration_seconds.map(i64::from),
            },
        };
        ItemContent::parse(current.kind, &raw, &mut fields)
    } else {
        None
    };
    fields.finish(|| Some(()))?;
    let changes = ItemChanges {
        title,
        required: body.required,
        content,
    };
    Ok(Json(
        outline::update_item(authoring, ip, current, changes).await?,
    ))
}

/// Deletes an item; the items after it move up.
#[utoipa::path(
    delete, path = "/api/v1/courses/{id}/modules/{module_id}/items/{item_id}", tag = "courses",
    params(
        ("id" = String, Path, format = Uuid),
        ("module_id" = String, Path, format = Uuid),
        ("item_id" = String, Path, format = Uuid),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn delete_item(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(ids): ApiPath<(CourseId, ModuleId, ItemId)>,
) -> ApiResult<StatusCode> {
    outline::delete_item(&state, &auth, ip, ids).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ItemOrder {
    /// Every item of the module, once each, in the new order; at most 1,000.
    #[schema(max_items = 1000)]
    item_ids: Vec<ItemId>,
}

/// Puts a module's items in a new order. The list must be exactly the module's current items
/// (else 409 `stale_order`).
#[utoipa::path(
    put, path = "/api/v1/courses/{id}/modules/{module_id}/items/order", tag = "courses",
    params(("id" = String, Path, format = Uuid), ("module_id" = String, Path, format = Uuid)),
    request_body = ItemOrder,
    responses(
        (status = 200, body = Module),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`stale_order`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn reorder_items(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(ids): ApiPath<(CourseId, ModuleId)>,
    ApiJson(body): ApiJson<ItemOrder>,
) -> ApiResult<Json<Module>> {
    if body.item_ids.len() > MAX_ORDER_LEN {
        return Err(ApiError::validation(
            "item_ids",
            "too_many",
            "too many items",
        ));
    }
    Ok(Json(
        outline::reorder_items(&state, &auth, ip, ids, body.item_ids).await?,
    ))
}
