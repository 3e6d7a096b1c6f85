//! `/api/v1/notifications`: the signed-in user's own notifications, their preferences, and the
//! live stream. Another user's notification answers 404 like a missing one.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::NotificationId;
use super::preferences::{self, Digest, Preference, Preferences};
use super::store::{self, Notification};
use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::{ApiJson, ApiPath, ApiQuery, Page, PageParams};
use crate::state::AppState;

/// The unread count stops counting here (a badge shows "10000+").
const UNREAD_CAP: i64 = 10_000;
/// Problem code: a `Last-Event-ID` that is not a notification id.
const INVALID_LAST_EVENT_ID: &str = "invalid_last_event_id";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_notifications))
        .routes(routes!(unread_count))
        .routes(routes!(mark_read))
        .routes(routes!(mark_all_read))
        .routes(routes!(get_preferences, put_preferences))
        .routes(routes!(stream))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct NotificationQuery {
    /// Only notifications not yet read.
    unread: Option<bool>,
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    #[param(pattern = "^[A-Za-z0-9_-]{21}[AQgw]$")]
    cursor: Option<String>,
}

/// The caller's notifications, newest first.
#[utoipa::path(
    get, path = "/api/v1/notifications", tag = "notifications",
    params(NotificationQuery),
    responses((status = 200, body = Page<Notification>))
)]
async fn list_notifications(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(query): ApiQuery<NotificationQuery>,
) -> ApiResult<Json<Page<Notification>>> {
    let (limit, cursor) = PageParams {
        limit: query.limit,
        cursor: query.cursor,
    }
    .parse()?;
    let (mut tx, actor) = auth.begin(&state).await?;
    let rows = store::list(
        &mut tx,
        actor.user_id,
        query.unread.unwrap_or(false),
        cursor,
        limit,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(Page::from_rows(rows, limit, |n| n.id.0)))
}

#[derive(Debug, Serialize, ToSchema)]
struct UnreadCount {
    /// Unread notifications, counted up to 10,000.
    unread: i64,
}

/// How many of the caller's notifications are unread.
#[utoipa::path(
    get, path = "/api/v1/notifications/unread-count", tag = "notifications",
    responses((status = 200, body = UnreadCount))
)]
async fn unread_count(
    State(state): State<AppState>,
    auth: Authenticated,
) -> ApiResult<Json<UnreadCount>> {
    let (mut tx, actor) = auth.begin(&state).await?;
    let unread = store::unread_count(&mut tx, actor.user_id, UNREAD_CAP).await?;
    tx.commit().await?;
    Ok(Json(UnreadCount { unread }))
}

/// Marks one of the caller's notifications read (again: a no-op).
#[utoipa::path(
    post, path = "/api/v1/notifications/{id}/read", tag = "notifications",
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = Notification))
)]
async fn mark_read(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(id): ApiPath<NotificationId>,
) -> ApiResult<Json<Notification>> {
    let (mut tx, actor) = auth.begin(&state).await?;
    let notification = store::mark_read(&mut tx, actor.user_id, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(Json(notification))
}

#[derive(Debug, Serialize, ToSchema)]
struct MarkedRead {
    /// Notifications that were unread.
    marked: u64,
}

/// Marks all the caller's notifications read.
#[utoipa::path(
    post, path = "/api/v1/notifications/read-all", tag = "notifications",
    responses((status = 200, body = MarkedRead))
)]
async fn mark_all_read(
    State(state): State<AppState>,
    auth: Authenticated,
) -> ApiResult<Json<MarkedRead>> {
    let (mut tx, actor) = auth.begin(&state).await?;
    let marked = store::mark_all_read(&mut tx, actor.user_id).await?;
    tx.commit().await?;
    Ok(Json(MarkedRead { marked }))
}

/// The caller's channels for each notification type.
#[utoipa::path(
    get, path = "/api/v1/notifications/preferences", tag = "notifications",
    responses((status = 200, body = Preferences))
)]
async fn get_preferences(
    State(state): State<AppState>,
    auth: Authenticated,
) -> ApiResult<Json<Preferences>> {
    let (mut tx, actor) = auth.begin(&state).await?;
    let rows = store::preferences(&mut tx, actor.user_id).await?;
    let (digest, _) = store::digest_setting(&mut tx, actor.user_id).await?;
    tx.commit().await?;
    Ok(Json(Preferences::from_rows(&rows, digest)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PutPreferences {
    /// Each type at most once; a type left out gets its defaults back (in the app, not by
    /// email).
    #[schema(max_items = 50)]
    types: Vec<Preference>,
    /// `off` when left out.
    #[serde(default)]
    digest: Digest,
}

/// Replaces the caller's channels for each notification type.
#[utoipa::path(
    put, path = "/api/v1/notifications/preferences", tag = "notifications",
    request_body = PutPreferences,
    responses((status = 200, body = Preferences))
)]
async fn put_preferences(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<PutPreferences>,
) -> ApiResult<Json<Preferences>> {
    let prefs = preferences::replace_with(&body.types, body.digest).map_err(|dup| {
        ApiError::validation(
            &format!("types[{}].type", dup.0),
            "duplicate_type",
            "each type at most once",
        )
    })?;
    let (mut tx, actor) = auth.begin(&state).await?;
    store::replace_preferences(&mut tx, actor.user_id, &prefs.to_rows()).await?;
    store::set_digest(&mut tx, actor.user_id, prefs.digest).await?;
    tx.commit().await?;
    Ok(Json(prefs))
}

/// The caller's new notifications as Server-Sent Events, as they are written.
///
/// Each event is `event: notification`, `id:` the notification's id and `data:` the
/// notification as JSON. With `Last-Event-ID` (sent by `EventSource` when it reconnects) the
/// stream first sends every notification after that one, then new ones. A comment line every
/// 15 seconds keeps the connection open. The stream ends when the access token expires.
#[utoipa::path(
    get, path = "/api/v1/notifications/stream", tag = "notifications",
    params(("Last-Event-ID" = Option<String>, Header, format = Uuid,
            description = "The id of the last notification received: resume after it")),
    responses(
        (status = 200, content_type = "text/event-stream", body = String,
         description = "`event: notification` with `id:` and the notification as `data:`"),
        (status = 400, description = "`invalid_last_event_id`: `Last-Event-ID` is not a notification id",
         body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: the caller already holds the most streams one user may open",
         body = Problem, content_type = "application/problem+json"),
    )
)]
async fn stream(
    State(state): State<AppState>,
    auth: Authenticated,
    headers: HeaderMap,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;

    let resume = match headers.get("last-event-id") {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .filter(|v| v.len() <= 36)
                .and_then(|v| v.parse::<uuid::Uuid>().ok())
                .ok_or(ApiError::BadRequest {
                    code: INVALID_LAST_EVENT_ID,
                    detail: "Last-Event-ID is not a notification id".into(),
                })?,
        ),
    };
    let subscription = state
        .notifications
        .subscribe(auth.tenant.id, auth.user)
        .ok_or(ApiError::TooManyRequests {
            retry_after: Duration::from_secs(10),
        })?;
    // Subscribed first: whatever commits after the starting point read here wakes the stream.
    let (mut tx, actor) = auth.begin(&state).await?;
    let last = match resume {
        Some(id) => store::resume_point(&mut tx, actor.user_id, id).await?,
        None => store::last_seq(&mut tx, actor.user_id).await?,
    };
    tx.commit().await?;
    let expires_in = u64::try_from(auth.claims.exp - chrono::Utc::now().timestamp())
        .map(Duration::from_secs)
        .unwrap_or_default();
    Ok(
        super::stream::sse(state, auth.caller.clone(), subscription, last, expires_in)
            .into_response(),
    )
}
