//! `/api/v1/question-banks` and `/api/v1/questions`: banks, their categories and their
//! versioned questions (instructors and tenant admins).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::kinds::QuestionSpec;
use super::model::{self, Bank, BankId, CategoryId, Question, QuestionId};
use super::service::{self, Draft, NewBank};
use crate::auth::Authenticated;
use crate::courses::CourseId;
use crate::error::{ApiResult, Problem};
use crate::http::{ApiJson, ApiPath, ApiQuery, ClientIp, Page, PageParams};
use crate::state::AppState;
use crate::validation::Fields;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_banks, create_bank))
        .routes(routes!(get_bank, update_bank, delete_bank))
        .routes(routes!(create_category))
        .routes(routes!(delete_category))
        .routes(routes!(list_questions, create_question))
        .routes(routes!(get_question, edit_question, archive_question))
        .routes(routes!(question_versions))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct BankListParams {
    /// A course's banks (its staff); without it, the banks shared by every course.
    course_id: Option<CourseId>,
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    #[param(pattern = "^[A-Za-z0-9_-]{21}[AQgw]$")]
    cursor: Option<String>,
}

/// A course's question banks, or the shared ones, newest first.
#[utoipa::path(
    get, path = "/api/v1/question-banks", tag = "question banks",
    params(BankListParams),
    responses(
        (status = 200, body = Page<Bank>),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, description = "Unknown tenant or course", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn list_banks(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(params): ApiQuery<BankListParams>,
) -> ApiResult<Json<Page<Bank>>> {
    let (limit, cursor) = PageParams {
        limit: params.limit,
        cursor: params.cursor,
    }
    .parse()?;
    Ok(Json(
        service::list(&state, &auth, params.course_id, cursor, limit).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateBank {
    /// The course whose staff own the bank; omit for a bank shared by every course.
    course_id: Option<CourseId>,
    /// Trimmed; 1 to 200 characters on one line, no control characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    title: String,
    /// Up to 5,000 characters; no control characters other than tab and line breaks.
    #[schema(
        max_length = 5000,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    description: Option<String>,
}

/// Creates a question bank: a course's (its staff) or a shared one (instructors, tenant admins).
#[utoipa::path(
    post, path = "/api/v1/question-banks", tag = "question banks",
    request_body = CreateBank,
    responses(
        (status = 201, body = Bank),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, description = "Unknown tenant or course", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn create_bank(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<CreateBank>,
) -> ApiResult<(StatusCode, Json<Bank>)> {
    let mut fields = Fields::default();
    let title = fields.take(model::bank_title(&body.title));
    let description = fields.take(model::bank_description(
        body.description.as_deref().unwrap_or(""),
    ));
    let new = fields.finish(|| {
        Some(NewBank {
            course: body.course_id,
            title: title?,
            description: description?,
        })
    })?;
    Ok((
        StatusCode::CREATED,
        Json(service::create(&state, &auth, ip, new).await?),
    ))
}

/// A bank with its categories and question counts.
#[utoipa::path(
    get, path = "/api/v1/question-banks/{id}", tag = "question banks",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = Bank),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn get_bank(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(id): ApiPath<BankId>,
) -> ApiResult<Json<Bank>> {
    Ok(Json(service::get(&state, &auth, id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateBank {
    /// Trimmed; 1 to 200 characters on one line, no control characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    title: Option<String>,
    /// Up to 5,000 characters; no control characters other than tab and line breaks.
    #[schema(
        max_length = 5000,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    description: Option<String>,
}

/// Renames a bank or changes its description.
#[utoipa::path(
    patch, path = "/api/v1/question-banks/{id}", tag = "question banks",
    params(("id" = String, Path, format = Uuid)),
    request_body = UpdateBank,
    responses(
        (status = 200, body = Bank),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn update_bank(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<BankId>,
    ApiJson(body): ApiJson<UpdateBank>,
) -> ApiResult<Json<Bank>> {
    let mut fields = Fields::default();
    let title = body
        .title
        .as_deref()
        .map(|t| fields.take(model::bank_title(t)));
    let description = body
        .description
        .as_deref()
        .map(|d| fields.take(model::bank_description(d)));
    let (title, description) = fields.finish(|| Some((title.flatten(), description.flatten())))?;
    Ok(Json(
        service::update(&state, &auth, ip, id, title, description).await?,
    ))
}

/// Deletes a bank with its categories and questions; 409 `in_use` while a quiz asks from it or
/// an attempt was given one of its questions.
#[utoipa::path(
    delete, path = "/api/v1/question-banks/{id}", tag = "question banks",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`in_use`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn delete_bank(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<BankId>,
) -> ApiResult<StatusCode> {
    service::delete(&state, &auth, ip, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateCategory {
    /// Trimmed; 1 to 100 characters on one line, no control characters; unique in the bank
    /// ignoring case.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    name: String,
}

/// Adds a category to a bank; answers the bank.
#[utoipa::path(
    post, path = "/api/v1/question-banks/{id}/categories", tag = "question banks",
    params(("id" = String, Path, format = Uuid)),
    request_body = CreateCategory,
    responses(
        (status = 201, body = Bank),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`name_taken`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn create_category(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(id): ApiPath<BankId>,
    ApiJson(body): ApiJson<CreateCategory>,
) -> ApiResult<(StatusCode, Json<Bank>)> {
    let name = model::category_name(&body.name)
        .map_err(|e| crate::error::ApiError::Validation(vec![e]))?;
    Ok((
        StatusCode::CREATED,
        Json(service::add_category(&state, &auth, id, name).await?),
    ))
}

/// Deletes a category (its questions stay in the bank); 409 `in_use` while a quiz draws from it.
#[utoipa::path(
    delete, path = "/api/v1/question-banks/{id}/categories/{category_id}", tag = "question banks",
    params(("id" = String, Path, format = Uuid), ("category_id" = String, Path, format = Uuid)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`in_use`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn delete_category(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath((id, category)): ApiPath<(BankId, CategoryId)>,
) -> ApiResult<StatusCode> {
    service::delete_category(&state, &auth, id, category).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct QuestionListParams {
    /// Only the questions of this category.
    category_id: Option<CategoryId>,
    /// `true` lists the archived questions instead.
    #[serde(default)]
    archived: bool,
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    #[param(pattern = "^[A-Za-z0-9_-]{21}[AQgw]$")]
    cursor: Option<String>,
}

/// A bank's questions at their current versions, newest first, with their answer keys.
#[utoipa::path(
    get, path = "/api/v1/question-banks/{id}/questions", tag = "question banks",
    params(("id" = String, Path, format = Uuid), QuestionListParams),
    responses(
        (status = 200, body = Page<Question>),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn list_questions(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(id): ApiPath<BankId>,
    ApiQuery(params): ApiQuery<QuestionListParams>,
) -> ApiResult<Json<Page<Question>>> {
    let (limit, cursor) = PageParams {
        limit: params.limit,
        cursor: params.cursor,
    }
    .parse()?;
    Ok(Json(
        service::questions(
            &state,
            &auth,
            id,
            params.category_id,
            params.archived,
            cursor,
            limit,
        )
        .await?,
    ))
}

/// A question as its author writes it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct QuestionInput {
    /// A category of the question's bank.
    category_id: Option<CategoryId>,
    /// Markdown, 1 to 20,000 characters, not only white space; no control characters other
    /// than tab and line breaks.
    #[schema(
        min_length = 1,
        max_length = 20000,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    prompt: String,
    /// The most the question earns: more than 0, at most 1,000, in hundredths.
    #[schema(exclusive_minimum = 0, maximum = 1000, multiple_of = 0.01)]
    points: f64,
    /// The kind's definition with its answer key.
    spec: QuestionSpec,
}

impl QuestionInput {
    fn parse(self) -> ApiResult<Draft> {
        let mut fields = Fields::default();
        let prompt = fields.take(model::prompt(&self.prompt));
        let points = fields.take(model::points(self.points));
        if let Err(errors) = self.spec.validate() {
            for error in errors {
                fields.push(error);
            }
        }
        let (category, spec) = (self.category_id, self.spec);
        fields.finish(|| {
            Some(Draft {
                category,
                prompt: prompt?,
                points: points?,
                spec,
            })
        })
    }
}

/// Adds a question to a bank (version 1).
#[utoipa::path(
    post, path = "/api/v1/question-banks/{id}/questions", tag = "question banks",
    params(("id" = String, Path, format = Uuid)),
    request_body = QuestionInput,
    responses(
        (status = 201, body = Question),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 422, description = "A field is invalid, the category is not the bank's, or a plugin question's grader is not installed or its configuration does not fit the grader's schema", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn create_question(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<BankId>,
    ApiJson(body): ApiJson<QuestionInput>,
) -> ApiResult<(StatusCode, Json<Question>)> {
    let draft = body.parse()?;
    Ok((
        StatusCode::CREATED,
        Json(service::create_question(&state, &auth, ip, id, draft).await?),
    ))
}

/// A question at its current version, with its answer key.
#[utoipa::path(
    get, path = "/api/v1/questions/{id}", tag = "question banks",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = Question),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn get_question(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(id): ApiPath<QuestionId>,
) -> ApiResult<Json<Question>> {
    Ok(Json(service::get_question(&state, &auth, id).await?))
}

/// Edits a question: the edit becomes a new current version, and attempts keep the version they
/// were given.
#[utoipa::path(
    put, path = "/api/v1/questions/{id}", tag = "question banks",
    params(("id" = String, Path, format = Uuid)),
    request_body = QuestionInput,
    responses(
        (status = 200, body = Question),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`question_archived`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn edit_question(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<QuestionId>,
    ApiJson(body): ApiJson<QuestionInput>,
) -> ApiResult<Json<Question>> {
    let draft = body.parse()?;
    Ok(Json(
        service::edit_question(&state, &auth, ip, id, draft).await?,
    ))
}

/// Archives a question: the attempts that were given it keep it; no new attempt is.
#[utoipa::path(
    delete, path = "/api/v1/questions/{id}", tag = "question banks",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 204, description = "Archived"),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn archive_question(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<QuestionId>,
) -> ApiResult<StatusCode> {
    service::archive_question(&state, &auth, ip, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every version of a question, newest first.
#[utoipa::path(
    get, path = "/api/v1/questions/{id}/versions", tag = "question banks",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = Vec<Question>),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn question_versions(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(id): ApiPath<QuestionId>,
) -> ApiResult<Json<Vec<Question>>> {
    Ok(Json(service::versions(&state, &auth, id).await?))
}
