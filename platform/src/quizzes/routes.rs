//! Quiz routes: settings (`/api/v1/courses/{id}/items/{item_id}/quiz`), attempts
//! (`…/quiz/attempts`, `/api/v1/quiz-attempts/{id}`), manual grading and the grading queue.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::{
    AnswerInput, Attempt, AttemptId, AttemptQuestion, ManualGrade, MyAttempts, Quiz, QuizInput,
    ReviewAttempt,
};
use super::{attempts, grading, settings};
use crate::auth::Authenticated;
use crate::courses::{CourseId, ItemId};
use crate::error::{ApiResult, Problem};
use crate::http::{ApiJson, ApiPath, ApiQuery, ClientIp, Page, PageParams};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_quiz, save_quiz))
        .routes(routes!(my_attempts, start_attempt))
        .routes(routes!(get_attempt))
        .routes(routes!(save_answer))
        .routes(routes!(submit_attempt))
        .routes(routes!(grade_answer))
        .routes(routes!(grading_queue))
}

/// A quiz item's settings: with its question list for the course's staff, without it for
/// enrolled learners.
#[utoipa::path(
    get, path = "/api/v1/courses/{id}/items/{item_id}/quiz", tag = "quizzes",
    params(("id" = String, Path, format = Uuid), ("item_id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = Quiz),
        (status = 404, description = "No such course, no quiz item with this id in it, or the caller is neither its staff nor enrolled", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn get_quiz(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath((course, item)): ApiPath<(CourseId, ItemId)>,
) -> ApiResult<Json<Quiz>> {
    Ok(Json(settings::get(&state, &auth, course, item).await?))
}

/// Saves a quiz item's settings and question list (the course's staff). Attempts already
/// started keep the questions they were given.
#[utoipa::path(
    put, path = "/api/v1/courses/{id}/items/{item_id}/quiz", tag = "quizzes",
    params(("id" = String, Path, format = Uuid), ("item_id" = String, Path, format = Uuid)),
    request_body = QuizInput,
    responses(
        (status = 200, body = Quiz),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 422, description = "A setting is out of range, or a question, bank or category is not one the course may ask from (`unknown_question`, `unknown_bank`, `unknown_category`)", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn save_quiz(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath((course, item)): ApiPath<(CourseId, ItemId)>,
    ApiJson(body): ApiJson<QuizInput>,
) -> ApiResult<Json<Quiz>> {
    Ok(Json(
        settings::save(&state, &auth, ip, course, item, body).await?,
    ))
}

/// The caller's attempts at a quiz, the attempts left, the quiz score and whether it is passed.
#[utoipa::path(
    get, path = "/api/v1/courses/{id}/items/{item_id}/quiz/attempts", tag = "quizzes",
    params(("id" = String, Path, format = Uuid), ("item_id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = MyAttempts),
    )
)]
async fn my_attempts(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath((course, item)): ApiPath<(CourseId, ItemId)>,
) -> ApiResult<Json<MyAttempts>> {
    Ok(Json(attempts::mine(&state, &auth, course, item).await?))
}

/// Starts an attempt (201), or answers the caller's open attempt (200). The questions, their
/// order and their options' order are frozen for the attempt; its `deadline_at` is the time
/// limit or the window's end, whichever comes first.
#[utoipa::path(
    post, path = "/api/v1/courses/{id}/items/{item_id}/quiz/attempts", tag = "quizzes",
    params(("id" = String, Path, format = Uuid), ("item_id" = String, Path, format = Uuid)),
    responses(
        (status = 201, description = "A new attempt", body = Attempt),
        (status = 200, description = "The attempt already open", body = Attempt),
        (status = 403, description = "`not_enrolled`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`quiz_not_ready` (no questions), `quiz_not_open`, `quiz_closed`, `no_attempts_left`, `module_locked`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn start_attempt(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath((course, item)): ApiPath<(CourseId, ItemId)>,
) -> ApiResult<(StatusCode, Json<Attempt>)> {
    let (created, attempt) = attempts::start(&state, &auth, course, item).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(attempt)))
}

/// An attempt with its questions and saved answers; once submitted, the results, and the correct
/// answers when the quiz shows them. The learner's own, or any attempt for the course's staff
/// (who always see the correct answers).
#[utoipa::path(
    get, path = "/api/v1/quiz-attempts/{id}", tag = "quizzes",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = Attempt),
    )
)]
async fn get_attempt(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(id): ApiPath<AttemptId>,
) -> ApiResult<Json<Attempt>> {
    Ok(Json(attempts::get(&state, &auth, id).await?))
}

/// Saves the answer to one question of the caller's open attempt (saving again replaces it).
/// Its shape depends on the question's kind; answers are refused from the deadline on.
#[utoipa::path(
    put, path = "/api/v1/quiz-attempts/{id}/answers/{position}", tag = "quizzes",
    params(("id" = String, Path, format = Uuid), ("position" = i32, Path, description = "The question's position in the attempt, from 0")),
    request_body = AnswerInput,
    responses(
        (status = 200, body = AttemptQuestion),
        (status = 409, description = "`attempt_closed`: submitted, or past the deadline", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The answer does not fit the question", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn save_answer(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath((id, position)): ApiPath<(AttemptId, i32)>,
    ApiJson(body): ApiJson<AnswerInput>,
) -> ApiResult<Json<AttemptQuestion>> {
    Ok(Json(
        attempts::save_answer(&state, &auth, id, position, body.answer).await?,
    ))
}

/// Submits the caller's attempt and grades it: objective questions at once, plugin questions by
/// their grader, essays by a person. Submitting a closed attempt again answers it unchanged.
#[utoipa::path(
    post, path = "/api/v1/quiz-attempts/{id}/submit", tag = "quizzes",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = Attempt),
    )
)]
async fn submit_attempt(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(id): ApiPath<AttemptId>,
) -> ApiResult<Json<Attempt>> {
    Ok(Json(attempts::submit(&state, &auth, id).await?))
}

/// Grades (or regrades) one answer of a submitted attempt by hand (the course's staff).
#[utoipa::path(
    post, path = "/api/v1/quiz-attempts/{id}/answers/{position}/grade", tag = "quizzes",
    params(("id" = String, Path, format = Uuid), ("position" = i32, Path, description = "The question's position in the attempt, from 0")),
    request_body = ManualGrade,
    responses(
        (status = 200, body = Attempt),
        (status = 403, description = "The learner's own attempt", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`attempt_in_progress`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn grade_answer(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath((id, position)): ApiPath<(AttemptId, i32)>,
    ApiJson(body): ApiJson<ManualGrade>,
) -> ApiResult<Json<Attempt>> {
    Ok(Json(
        grading::grade_answer(&state, &auth, ip, id, position, body).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct QueueParams {
    /// Only this course's attempts.
    course_id: Option<CourseId>,
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    #[param(pattern = "^[A-Za-z0-9_-]{21}[AQgw]$")]
    cursor: Option<String>,
}

/// The caller's grading queue: submitted attempts with answers waiting for a person in the
/// courses they teach (every course for tenant admins), oldest first.
#[utoipa::path(
    get, path = "/api/v1/grading-queue", tag = "quizzes",
    params(QueueParams),
    responses(
        (status = 200, body = Page<ReviewAttempt>),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn grading_queue(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(params): ApiQuery<QueueParams>,
) -> ApiResult<Json<Page<ReviewAttempt>>> {
    let (limit, cursor) = PageParams {
        limit: params.limit,
        cursor: params.cursor,
    }
    .parse()?;
    Ok(Json(
        grading::queue(&state, &auth, params.course_id, cursor, limit).await?,
    ))
}
