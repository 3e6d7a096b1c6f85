//! Assignment routes: settings (`/api/v1/courses/{id}/items/{item_id}/assignment`), the
//! learner's submissions (`…/assignment/submissions`), grade release, and the graders' side
//! (`/api/v1/assignment-submissions…`).

use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::grading::{self, ListQuery};
use super::model::{
    Assignment, AssignmentInput, GradeInput, MySubmissions, Released, Submission, SubmissionFileId,
    SubmissionForm, SubmissionId, WaitingSubmission,
};
use super::{settings, submissions, upload};
use crate::auth::Authenticated;
use crate::courses::{CourseId, ItemId};
use crate::error::{ApiResult, Problem};
use crate::http::{ApiJson, ApiPath, ApiQuery, ClientIp, Page, PageParams};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    let uploads = OpenApiRouter::new()
        .routes(routes!(my_submissions, submit))
        .layer(DefaultBodyLimit::max(upload::MAX_FORM_BYTES));
    OpenApiRouter::new()
        .routes(routes!(get_assignment, save_assignment))
        .merge(uploads)
        .routes(routes!(release_grades))
        .routes(routes!(list_submissions))
        .routes(routes!(get_submission))
        .routes(routes!(grade_submission))
        .routes(routes!(download_file))
}

/// An assignment item's settings, rubric included (the course's staff and enrolled learners).
#[utoipa::path(
    get, path = "/api/v1/courses/{id}/items/{item_id}/assignment", tag = "assignments",
    params(("id" = String, Path, format = Uuid), ("item_id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = Assignment),
        (status = 404, description = "No such course, no assignment item with this id in it, or the caller is neither its staff nor enrolled", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`assignment_not_ready`: no settings saved yet", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn get_assignment(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath((course, item)): ApiPath<(CourseId, ItemId)>,
) -> ApiResult<Json<Assignment>> {
    Ok(Json(settings::get(&state, &auth, course, item).await?))
}

/// Saves an assignment item's settings (the course's staff). With a rubric, the points are the
/// sum of each criterion's best level; once a submission is graded, the rubric and points stay.
#[utoipa::path(
    put, path = "/api/v1/courses/{id}/items/{item_id}/assignment", tag = "assignments",
    params(("id" = String, Path, format = Uuid), ("item_id" = String, Path, format = Uuid)),
    request_body = AssignmentInput,
    responses(
        (status = 200, body = Assignment),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`rubric_in_use`: graded submissions fix the rubric and points", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn save_assignment(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath((course, item)): ApiPath<(CourseId, ItemId)>,
    ApiJson(body): ApiJson<AssignmentInput>,
) -> ApiResult<Json<Assignment>> {
    Ok(Json(
        settings::save(&state, &auth, ip, course, item, body).await?,
    ))
}

/// The caller's submissions to an assignment (newest first, grades once released), whether it
/// takes a submission now, and the score that counts.
#[utoipa::path(
    get, path = "/api/v1/courses/{id}/items/{item_id}/assignment/submissions", tag = "assignments",
    params(("id" = String, Path, format = Uuid), ("item_id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = MySubmissions),
        (status = 409, description = "`assignment_not_ready`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn my_submissions(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath((course, item)): ApiPath<(CourseId, ItemId)>,
) -> ApiResult<Json<MySubmissions>> {
    Ok(Json(submissions::mine(&state, &auth, course, item).await?))
}

/// Submits work: a `text` field and/or `files` fields, as the assignment accepts. Submitting
/// again before the due date replaces a submission still waiting for a grade.
#[utoipa::path(
    post, path = "/api/v1/courses/{id}/items/{item_id}/assignment/submissions", tag = "assignments",
    params(("id" = String, Path, format = Uuid), ("item_id" = String, Path, format = Uuid)),
    request_body(content = SubmissionForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, body = Submission),
        (status = 400, description = "`multipart_required`, `invalid_multipart`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`not_enrolled`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`assignment_not_ready`, `past_due` (late work refused), `resubmission_closed`, `module_locked`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The form is larger than 64 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`empty_submission`, `not_accepted`, `too_many`, `file_too_large`, `file_type_not_accepted`, `file_type_mismatch`, `invalid_file_name`, `unknown_field`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn submit(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath((course, item)): ApiPath<(CourseId, ItemId)>,
    form: Result<Multipart, MultipartRejection>,
) -> ApiResult<(StatusCode, Json<Submission>)> {
    let submission = submissions::submit(&state, &auth, course, item, upload::read(form)).await?;
    Ok((StatusCode::CREATED, Json(submission)))
}

/// Releases every held-back grade of the assignment (the course's staff); passing grades
/// complete their learners' items.
#[utoipa::path(
    post, path = "/api/v1/courses/{id}/items/{item_id}/assignment/release", tag = "assignments",
    params(("id" = String, Path, format = Uuid), ("item_id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = Released),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn release_grades(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath((course, item)): ApiPath<(CourseId, ItemId)>,
) -> ApiResult<Json<Released>> {
    Ok(Json(
        grading::release(&state, &auth, ip, course, item).await?,
    ))
}

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum ListStatus {
    /// Waiting for a grade (the grading queue).
    #[default]
    Waiting,
    Graded,
    All,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListParams {
    course_id: Option<CourseId>,
    item_id: Option<ItemId>,
    /// Default `waiting`.
    #[param(inline)]
    status: Option<ListStatus>,
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    #[param(pattern = "^[A-Za-z0-9_-]{21}[AQgw]$")]
    cursor: Option<String>,
}

/// Learners' current submissions in the courses the caller teaches (every course for tenant
/// admins), oldest first; by default those waiting for a grade: the grading queue.
#[utoipa::path(
    get, path = "/api/v1/assignment-submissions", tag = "assignments",
    params(ListParams),
    responses(
        (status = 200, body = Page<WaitingSubmission>),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn list_submissions(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(params): ApiQuery<ListParams>,
) -> ApiResult<Json<Page<WaitingSubmission>>> {
    let (limit, cursor) = PageParams {
        limit: params.limit,
        cursor: params.cursor,
    }
    .parse()?;
    let status = match params.status.unwrap_or_default() {
        ListStatus::Waiting => Some("submitted"),
        ListStatus::Graded => Some("graded"),
        ListStatus::All => None,
    };
    let query = ListQuery {
        course: params.course_id,
        item: params.item_id,
        status,
        cursor,
        limit,
    };
    Ok(Json(grading::list(&state, &auth, query).await?))
}

/// A submission with its files and, for the course's staff or once released, its grade.
#[utoipa::path(
    get, path = "/api/v1/assignment-submissions/{id}", tag = "assignments",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = Submission),
    )
)]
async fn get_submission(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(id): ApiPath<SubmissionId>,
) -> ApiResult<Json<Submission>> {
    Ok(Json(submissions::get(&state, &auth, id).await?))
}

/// Grades or regrades a learner's current submission (the course's staff): rubric levels or
/// points, feedback, inline comments; `release` shows it to the learner at once.
#[utoipa::path(
    put, path = "/api/v1/assignment-submissions/{id}/grade", tag = "assignments",
    params(("id" = String, Path, format = Uuid)),
    request_body = GradeInput,
    responses(
        (status = 200, body = Submission),
        (status = 403, description = "The learner's own submission", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`submission_superseded`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`criterion_not_graded`, `unknown_level`, `outside_text`, `unknown_file`, points out of range", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn grade_submission(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<SubmissionId>,
    ApiJson(body): ApiJson<GradeInput>,
) -> ApiResult<Json<Submission>> {
    Ok(Json(grading::grade(&state, &auth, ip, id, body).await?))
}

/// A submitted file, as an attachment (its learner and the course's staff).
#[utoipa::path(
    get, path = "/api/v1/assignment-submissions/{id}/files/{file_id}", tag = "assignments",
    params(("id" = String, Path, format = Uuid), ("file_id" = String, Path, format = Uuid)),
    responses(
        (status = 200, description = "The file, with the content type of its extension", content_type = "application/octet-stream", body = Vec<u8>),
    )
)]
async fn download_file(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath((id, file)): ApiPath<(SubmissionId, SubmissionFileId)>,
) -> ApiResult<impl IntoResponse> {
    let (name, content_type, bytes) = submissions::download(&state, &auth, id, file).await?;
    let disposition = content_disposition(&name);
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_DISPOSITION, disposition),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        bytes,
    ))
}

/// `attachment` with an ASCII fallback name and the UTF-8 name (RFC 6266 / RFC 5987), so
/// browsers save the file rather than render it.
fn content_disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispositions_are_attachments_with_safe_names() {
        assert_eq!(
            content_disposition("essay final.pdf"),
            "attachment; filename=\"essay final.pdf\"; filename*=UTF-8''essay%20final.pdf"
        );
        let tricky = content_disposition("a\"b\r\nX-Evil: 1é.pdf");
        assert!(!tricky.contains('\r') && !tricky.contains('\n'), "{tricky}");
        assert!(
            tricky.starts_with("attachment; filename=\"a_b__X-Evil: 1_.pdf\""),
            "{tricky}"
        );
        assert!(tricky.ends_with("%C3%A9.pdf"), "{tricky}");
    }
}
