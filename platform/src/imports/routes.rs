//! `/api/v1/imports`: bulk CSV imports of users and enrollments (tenant admins).

use axum::Json;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::{Import, ImportId, ImportKind, ImportRow, RowAction};
use super::service;
use super::upload::{self, MAX_BODY_BYTES};
use crate::auth::Authenticated;
use crate::error::{ApiResult, Problem};
use crate::http::{ApiPath, ApiQuery, ClientIp, Page, PageParams};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    let uploads = OpenApiRouter::new()
        .routes(routes!(import_users))
        .routes(routes!(import_enrollments))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    OpenApiRouter::new()
        .merge(uploads)
        .routes(routes!(list_imports))
        .routes(routes!(get_import))
        .routes(routes!(list_rows))
        .routes(routes!(errors_csv))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct UploadQuery {
    /// Validate and report every row's outcome without changing anything.
    #[serde(default)]
    dry_run: bool,
}

/// A multipart upload: the CSV as its one `file` field.
#[derive(ToSchema)]
#[allow(dead_code)]
struct UploadForm {
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

async fn upload_as(
    state: AppState,
    auth: Authenticated,
    ip: std::net::IpAddr,
    kind: ImportKind,
    dry_run: bool,
    request: Request,
) -> ApiResult<impl IntoResponse> {
    let file = upload::read(request).await?;
    let import = service::upload(&state, &auth, ip, kind, dry_run, file).await?;
    let location = format!("/api/v1/imports/{}", import.id);
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(import),
    ))
}

/// Imports users from CSV: `email` (required), `name`, `roles` (`;`-separated), `cohort`
/// (`;`-separated cohort names or ids) and `status` (`active` or `deactivated`), one header row,
/// at most 10,000 rows and 5 MiB, UTF-8. Each row creates (invites) the user with its email,
/// updates their name, roles, status and cohorts, or leaves them unchanged; running the same
/// file again changes nothing. The file is checked at once (its header, size and row count);
/// its rows are applied by a background job: poll the import for its progress and read each
/// row's outcome from its rows. With `dry_run=true` every row is validated and its outcome
/// reported, and nothing changes.
#[utoipa::path(
    post, path = "/api/v1/imports/users", tag = "imports",
    params(UploadQuery),
    request_body(content(
        (String = "text/csv"),
        (UploadForm = "multipart/form-data"),
    )),
    responses(
        (status = 202, description = "Stored and queued; `Location` names the import", body = Import),
        (status = 400, description = "`invalid_multipart`, `nul_character`", body = Problem, content_type = "application/problem+json"),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 413, description = "The file is larger than 5 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` naming a column of the header (`unknown_column`, `duplicate_column`, `missing_column`, `empty_column`) or the `file` (`missing_header`, `no_rows`, `invalid_encoding`, `malformed_csv`); `too_many_rows`: more than 10,000 rows", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn import_users(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiQuery(q): ApiQuery<UploadQuery>,
    request: Request,
) -> ApiResult<impl IntoResponse> {
    upload_as(state, auth, ip, ImportKind::Users, q.dry_run, request).await
}

/// Imports enrollments from CSV: `email` and `course` (its id or slug) required, `cohort`
/// (`;`-separated cohort names or ids the user also joins) optional; the same limits as a users
/// file. Each row enrolls the user (invited or active) into the published course as its staff
/// would (capacity applies), or leaves an enrollment already active or completed unchanged.
/// With `dry_run=true` nothing changes.
#[utoipa::path(
    post, path = "/api/v1/imports/enrollments", tag = "imports",
    params(UploadQuery),
    request_body(content(
        (String = "text/csv"),
        (UploadForm = "multipart/form-data"),
    )),
    responses(
        (status = 202, description = "Stored and queued; `Location` names the import", body = Import),
        (status = 400, description = "`invalid_multipart`, `nul_character`", body = Problem, content_type = "application/problem+json"),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 413, description = "The file is larger than 5 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` naming a column of the header or the `file`; `too_many_rows`: more than 10,000 rows", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn import_enrollments(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiQuery(q): ApiQuery<UploadQuery>,
    request: Request,
) -> ApiResult<impl IntoResponse> {
    upload_as(state, auth, ip, ImportKind::Enrollments, q.dry_run, request).await
}

/// The tenant's imports, newest first.
#[utoipa::path(
    get, path = "/api/v1/imports", tag = "imports",
    params(PageParams),
    responses(
        (status = 200, body = Page<Import>),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn list_imports(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<Json<Page<Import>>> {
    let (limit, cursor) = page.parse()?;
    Ok(Json(service::list(&state, &auth, cursor, limit).await?))
}

/// One import: its status, counts and progress.
#[utoipa::path(
    get, path = "/api/v1/imports/{id}", tag = "imports",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = Import),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn get_import(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(id): ApiPath<ImportId>,
) -> ApiResult<Json<Import>> {
    Ok(Json(service::get(&state, &auth, id).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct RowsQuery {
    /// Only the rows with this outcome (e.g. `failed`).
    action: Option<RowAction>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^[A-Za-z0-9_-]{21}[AQgw]$")]
    cursor: Option<String>,
}

/// The import's rows in file order with their outcome: the action, or the error's code and
/// message (e.g. `invalid_email`, `unknown_role`, `unknown_cohort`, `unknown_course`,
/// `duplicate_email`, `name_required`, `last_admin`, `course_full`).
#[utoipa::path(
    get, path = "/api/v1/imports/{id}/rows", tag = "imports",
    params(("id" = String, Path, format = Uuid), RowsQuery),
    responses(
        (status = 200, body = Page<ImportRow>),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn list_rows(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(id): ApiPath<ImportId>,
    ApiQuery(q): ApiQuery<RowsQuery>,
) -> ApiResult<Json<Page<ImportRow>>> {
    let (limit, cursor) = PageParams {
        limit: q.limit,
        cursor: q.cursor,
    }
    .parse()?;
    Ok(Json(
        service::rows(&state, &auth, id, q.action, cursor, limit).await?,
    ))
}

/// The import's failed rows as CSV, to fix and upload again: `row_number`, `error_code`,
/// `error_message`, then the row's own cells under the file's header. Cells a spreadsheet would
/// evaluate as formulas are prefixed with `'`.
#[utoipa::path(
    get, path = "/api/v1/imports/{id}/errors.csv", tag = "imports",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, description = "`text/csv` with a header row", content_type = "text/csv", body = String),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn errors_csv(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(id): ApiPath<ImportId>,
) -> ApiResult<impl IntoResponse> {
    let body = service::errors_csv(&state, &auth, id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"import-errors.csv\"",
            ),
        ],
        body,
    ))
}
