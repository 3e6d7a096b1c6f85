//! `/api/v1/courses`: authoring courses — settings, status, clone, co-instructors and
//! prerequisites. The outline's routes are in `outline_routes`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Deserializer};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::{Course, CourseDetail, CourseId, CourseStatus, Difficulty};
use super::outline_routes;
use super::service::{self, CourseChanges, NewCourse};
use super::values::{
    Category, CourseSlug, Currency, Language, Markdown, Summary, Tags, Title, WebUrl,
};
use crate::auth::Authenticated;
use crate::error::{ApiResult, Problem};
use crate::http::{ApiJson, ApiPath, ApiQuery, ClientIp, Page, PageParams};
use crate::state::AppState;
use crate::users::UserId;
use crate::validation::{Fields, bounded};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_courses, create_course))
        .routes(routes!(get_course, update_course, delete_course))
        .routes(routes!(set_status))
        .routes(routes!(clone_course))
        .routes(routes!(add_instructor))
        .routes(routes!(remove_instructor))
        .routes(routes!(set_prerequisites))
        .merge(outline_routes::router())
}

/// A present JSON `null` becomes `Some(None)` (clear the setting); an absent field stays `None`.
pub(super) fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// `tags` in requests: up to 20 strings, each 1 to 50 characters on one line.
fn tags_schema() -> utoipa::openapi::schema::Array {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(
            utoipa::openapi::ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::Type::String)
                .min_length(Some(1))
                .max_length(Some(50))
                .pattern(Some(TEXT_LINE_PATTERN)),
        )
        .max_items(Some(20))
        .build()
}

/// One trimmed line: at least one character that is not white space, no control characters.
const TEXT_LINE_PATTERN: &str = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$";

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    status: Option<CourseStatus>,
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    #[param(pattern = "^[A-Za-z0-9_-]{21}[AQgw]$")]
    cursor: Option<String>,
}

/// Courses for their authors, newest first: tenant admins see all, instructors those they teach.
#[utoipa::path(
    get, path = "/api/v1/courses", tag = "courses",
    params(ListQuery),
    responses(
        (status = 200, body = Page<Course>),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn list_courses(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Page<Course>>> {
    let (limit, cursor) = PageParams {
        limit: q.limit,
        cursor: q.cursor,
    }
    .parse()?;
    Ok(Json(
        service::list(&state, &auth, q.status, cursor, limit).await?,
    ))
}

/// A course's settings. On update every field is optional; `null` clears the nullable ones.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateCourse {
    /// 1 to 100 lowercase letters, digits and single dashes; unique within the organisation.
    #[schema(min_length = 1, max_length = 100, pattern = "^[a-z0-9]+(-[a-z0-9]+)*$")]
    slug: Option<String>,
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
    /// Markdown: up to 100,000 characters; no control characters other than tab and line
    /// breaks.
    #[schema(
        max_length = 100000,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    description: Option<String>,
    /// Trimmed; 1 to 100 characters on one line, no control characters.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 100, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$")]
    category: Option<Option<String>>,
    /// Up to 20 tags, each trimmed, 1 to 50 characters on one line; lowercased, repeats dropped.
    #[schema(schema_with = tags_schema)]
    tags: Option<Vec<String>>,
    difficulty: Option<Difficulty>,
    /// BCP 47 tag such as `en` or `pt-BR`: a 2–3 letter language, then 1–8 character subtags.
    #[schema(pattern = "^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$", max_length = 35)]
    language: Option<String>,
    /// 0 to 2,147,483,647.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 2147483647)]
    estimated_minutes: Option<Option<i64>>,
    /// An absolute https URL with a host, at most 2,000 characters.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = "uri", max_length = 2000, pattern = r"^https://[a-z][a-z0-9]*(\.[a-z][a-z0-9]*)*(/[A-Za-z0-9._~-]*)*$")]
    thumbnail_url: Option<Option<String>>,
    /// In minor units of `currency`; 0 is free.
    #[schema(minimum = 0, maximum = 1000000000000_i64)]
    price_minor: Option<i64>,
    /// ISO 4217, e.g. `EUR`; required when the price is not 0.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, pattern = "^[A-Z]{3}$")]
    currency: Option<Option<String>>,
    self_enrollment: Option<bool>,
    /// At least 1; `null` for unlimited.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 2147483647)]
    capacity: Option<Option<i64>>,
    sequential: Option<bool>,
    is_template: Option<bool>,
}

impl UpdateCourse {
    fn parse(self, fields: &mut Fields) -> CourseChanges {
        let int = |fields: &mut Fields, name: &str, v: i64, min: i64| {
            fields
                .take(bounded(name, v, min, i64::from(i32::MAX)))
                .and_then(|v| i32::try_from(v).ok())
        };
        CourseChanges {
            slug: self
                .slug
                .and_then(|s| fields.take(CourseSlug::parse("slug", &s))),
            title: self
                .title
                .and_then(|s| fields.take(Title::parse("title", &s))),
            summary: self
                .summary
                .and_then(|s| fields.take(Summary::parse("summary", &s))),
            description: self
                .description
                .and_then(|s| fields.take(Markdown::parse("description", &s))),
            category: self
                .category
                .map(|c| c.and_then(|c| fields.take(Category::parse("category", &c)))),
            tags: self.tags.and_then(|t| fields.take(Tags::parse("tags", &t))),
            difficulty: self.difficulty,
            language: self
                .language
                .and_then(|l| fields.take(Language::parse("language", &l))),
            estimated_minutes: self
                .estimated_minutes
                .map(|m| m.and_then(|m| int(fields, "estimated_minutes", m, 0))),
            thumbnail_url: self
                .thumbnail_url
                .map(|u| u.and_then(|u| fields.take(WebUrl::parse_https("thumbnail_url", &u)))),
            price_minor: self
                .price_minor
                .and_then(|p| fields.take(bounded("price_minor", p, 0, 1_000_000_000_000))),
            currency: self
                .currency
                .map(|c| c.and_then(|c| fields.take(Currency::parse("currency", &c)))),
            self_enrollment: self.self_enrollment,
            capacity: self
                .capacity
                .map(|c| c.and_then(|c| int(fields, "capacity", c, 1))),
            sequential: self.sequential,
            is_template: self.is_template,
        }
    }
}

/// A new course; `slug` and `title` are required, everything else has a default.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateCourse {
    /// 1 to 100 lowercase letters, digits and single dashes; unique within the organisation.
    #[schema(min_length = 1, max_length = 100, pattern = "^[a-z0-9]+(-[a-z0-9]+)*$")]
    slug: String,
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
    /// Markdown: up to 100,000 characters; no control characters other than tab and line
    /// breaks.
    #[schema(
        max_length = 100000,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    description: Option<String>,
    /// Trimmed; 1 to 100 characters on one line, no control characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    category: Option<String>,
    /// Up to 20 tags, each trimmed, 1 to 50 characters on one line; lowercased, repeats dropped.
    #[schema(schema_with = tags_schema)]
    tags: Option<Vec<String>>,
    difficulty: Option<Difficulty>,
    /// BCP 47 tag such as `en` or `pt-BR`: a 2–3 letter language, then 1–8 character subtags.
    #[schema(pattern = "^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$", max_length = 35)]
    language: Option<String>,
    #[schema(minimum = 0, maximum = 2147483647)]
    estimated_minutes: Option<i64>,
    /// An absolute https URL with a host, at most 2,000 characters.
    #[schema(
        format = "uri",
        max_length = 2000,
        pattern = r"^https://[a-z][a-z0-9]*(\.[a-z][a-z0-9]*)*(/[A-Za-z0-9._~-]*)*$"
    )]
    thumbnail_url: Option<String>,
    /// In minor units of `currency`; 0 is free.
    #[schema(minimum = 0, maximum = 1000000000000_i64)]
    price_minor: Option<i64>,
    /// ISO 4217, e.g. `EUR`; required when the price is not 0.
    #[schema(pattern = "^[A-Z]{3}$")]
    currency: Option<String>,
    self_enrollment: Option<bool>,
    /// At least 1; absent for unlimited.
    #[schema(minimum = 1, maximum = 2147483647)]
    capacity: Option<i64>,
    sequential: Option<bool>,
    is_template: Option<bool>,
}

impl CreateCourse {
    fn parse(self) -> ApiResult<NewCourse> {
        let mut fields = Fields::default();
        let slug = fields.take(CourseSlug::parse("slug", &self.slug));
        let title = fields.take(Title::parse("title", &self.title));
        let settings = UpdateCourse {
            summary: self.summary,
            description: self.description,
            category: self.category.map(Some),
            tags: self.tags,
            difficulty: self.difficulty,
            language: self.language,
            estimated_minutes: self.estimated_minutes.map(Some),
            thumbnail_url: self.thumbnail_url.map(Some),
            price_minor: self.price_minor,
            currency: self.currency.map(Some),
            self_enrollment: self.self_enrollment,
            capacity: self.capacity.map(Some),
            sequential: self.sequential,
            is_template: self.is_template,
            ..UpdateCourse::default()
        }
        .parse(&mut fields);
        fields.finish(|| {
            Some(NewCourse {
                slug: slug?,
                title: title?,
                settings,
            })
        })
    }
}

/// Creates a draft course owned by the caller (instructors and tenant admins).
#[utoipa::path(
    post, path = "/api/v1/courses", tag = "courses",
    request_body = CreateCourse,
    responses(
        (status = 201, body = CourseDetail),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`slug_taken`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn create_course(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<CreateCourse>,
) -> ApiResult<(StatusCode, Json<CourseDetail>)> {
    let new = body.parse()?;
    Ok((
        StatusCode::CREATED,
        Json(service::create(&state, &auth, ip, new).await?),
    ))
}

/// A course with its instructors, prerequisites and outline. Learners see published courses only.
#[utoipa::path(
    get, path = "/api/v1/courses/{id}", tag = "courses",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = CourseDetail),
    )
)]
async fn get_course(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(id): ApiPath<CourseId>,
) -> ApiResult<Json<CourseDetail>> {
    Ok(Json(service::get(&state, &auth, id).await?))
}

/// Changes a course's settings (its instructors and tenant admins).
#[utoipa::path(
    patch, path = "/api/v1/courses/{id}", tag = "courses",
    params(("id" = String, Path, format = Uuid)),
    request_body = UpdateCourse,
    responses(
        (status = 200, body = CourseDetail),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`slug_taken`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn update_course(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<CourseId>,
    ApiJson(body): ApiJson<UpdateCourse>,
) -> ApiResult<Json<CourseDetail>> {
    let mut fields = Fields::default();
    let changes = body.parse(&mut fields);
    let changes = fields.finish(|| Some(changes))?;
    Ok(Json(service::update(&state, &auth, ip, id, changes).await?))
}

/// Deletes a draft course and its outline (its owner and tenant admins).
#[utoipa::path(
    delete, path = "/api/v1/courses/{id}", tag = "courses",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`course_not_draft`, `course_has_learners`, `in_use` (a bank of the course is used by another course's quiz)", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn delete_course(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<CourseId>,
) -> ApiResult<StatusCode> {
    service::delete(&state, &auth, ip, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct StatusRequest {
    /// draft -> published -> archived -> draft.
    status: CourseStatus,
}

/// Publishes, archives or unarchives (back to draft) a course.
#[utoipa::path(
    post, path = "/api/v1/courses/{id}/status", tag = "courses",
    params(("id" = String, Path, format = Uuid)),
    request_body = StatusRequest,
    responses(
        (status = 200, body = CourseDetail),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`invalid_transition`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn set_status(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<CourseId>,
    ApiJson(body): ApiJson<StatusRequest>,
) -> ApiResult<Json<CourseDetail>> {
    Ok(Json(
        service::set_status(&state, &auth, ip, id, body.status).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CloneRequest {
    /// 1 to 100 lowercase letters, digits and single dashes; unique within the organisation.
    #[schema(min_length = 1, max_length = 100, pattern = "^[a-z0-9]+(-[a-z0-9]+)*$")]
    slug: String,
    /// Trimmed; 1 to 200 characters on one line, no control characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    title: String,
}

/// Copies a course's settings, prerequisites, modules and items into a new draft owned by the
/// caller (not its co-instructors). Any instructor may clone a template.
#[utoipa::path(
    post, path = "/api/v1/courses/{id}/clone", tag = "courses",
    params(("id" = String, Path, format = Uuid)),
    request_body = CloneRequest,
    responses(
        (status = 201, body = CourseDetail),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`slug_taken`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn clone_course(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<CourseId>,
    ApiJson(body): ApiJson<CloneRequest>,
) -> ApiResult<(StatusCode, Json<CourseDetail>)> {
    let mut fields = Fields::default();
    let slug = fields.take(CourseSlug::parse("slug", &body.slug));
    let title = fields.take(Title::parse("title", &body.title));
    let (slug, title) = fields.finish(|| Some((slug?, title?)))?;
    Ok((
        StatusCode::CREATED,
        Json(service::clone(&state, &auth, ip, id, slug, title).await?),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct InstructorRequest {
    /// An active user with the instructor role.
    user_id: UserId,
}

/// Adds a co-instructor, who may then edit the course (its owner and tenant admins).
#[utoipa::path(
    post, path = "/api/v1/courses/{id}/instructors", tag = "courses",
    params(("id" = String, Path, format = Uuid)),
    request_body = InstructorRequest,
    responses(
        (status = 200, body = CourseDetail),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`already_instructor`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`unknown_user` or `not_an_instructor`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn add_instructor(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<CourseId>,
    ApiJson(body): ApiJson<InstructorRequest>,
) -> ApiResult<Json<CourseDetail>> {
    Ok(Json(
        service::add_co_instructor(&state, &auth, ip, id, body.user_id).await?,
    ))
}

/// Removes a co-instructor (its owner and tenant admins); the owner cannot be removed.
#[utoipa::path(
    delete, path = "/api/v1/courses/{id}/instructors/{user_id}", tag = "courses",
    params(("id" = String, Path, format = Uuid), ("user_id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = CourseDetail),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`cannot_remove_owner`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn remove_instructor(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath((id, user_id)): ApiPath<(CourseId, UserId)>,
) -> ApiResult<Json<CourseDetail>> {
    Ok(Json(
        service::remove_co_instructor(&state, &auth, ip, id, user_id).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PrerequisitesRequest {
    /// Courses of the organisation to complete first (replaces the current set); at most 100.
    #[schema(max_items = 100)]
    course_ids: Vec<CourseId>,
}

/// Replaces the courses a learner must complete before this one.
#[utoipa::path(
    put, path = "/api/v1/courses/{id}/prerequisites", tag = "courses",
    params(("id" = String, Path, format = Uuid)),
    request_body = PrerequisitesRequest,
    responses(
        (status = 200, body = CourseDetail),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`prerequisite_cycle`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`self_reference` or `unknown_course`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn set_prerequisites(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<CourseId>,
    ApiJson(body): ApiJson<PrerequisitesRequest>,
) -> ApiResult<Json<CourseDetail>> {
    if body.course_ids.len() > 100 {
        return Err(crate::error::ApiError::validation(
            "course_ids",
            "too_many",
            "at most 100 prerequisites",
        ));
    }
    Ok(Json(
        service::set_prerequisites(&state, &auth, ip, id, body.course_ids).await?,
    ))
}
