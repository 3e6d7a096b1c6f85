//! `/api/v1/certificate-templates`, `/api/v1/courses/{id}/certificate-template` (tenant admins),
//! `/api/v1/certificates` (tenant admins: list, issue, revoke; holders: read) and
//! `/api/v1/me/certificates` (the caller's own).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::{CertificateId, CertificateView, Credit, Design, Template};
use super::service::{self, TemplateInput};
use crate::auth::Authenticated;
use crate::courses::CourseId;
use crate::error::{ApiResult, Problem};
use crate::http::{ApiJson, ApiPath, ApiQuery, ClientIp, Page, PageParams};
use crate::state::AppState;
use crate::users::UserId;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_templates))
        .routes(routes!(
            get_default_template,
            save_default_template,
            delete_default_template
        ))
        .routes(routes!(
            get_course_template,
            save_course_template,
            delete_course_template
        ))
        .routes(routes!(list_certificates, issue_certificate))
        .routes(routes!(get_certificate))
        .routes(routes!(download_credential))
        .routes(routes!(download_credential_jwt))
        .routes(routes!(download_pdf))
        .routes(routes!(revoke_certificate))
        .routes(routes!(my_certificates))
}

/// What a course's certificates say.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TemplateRequest {
    /// The achievement's name, e.g. `Certified Data Steward`.
    #[schema(min_length = 1, max_length = 200)]
    title: String,
    #[schema(max_length = 2000)]
    description: Option<String>,
    /// How the achievement is earned (the credential's criteria narrative).
    #[schema(min_length = 1, max_length = 2000)]
    criteria: String,
    #[schema(min_length = 1, max_length = 200)]
    signatory_name: Option<String>,
    #[schema(min_length = 1, max_length = 200)]
    signatory_title: Option<String>,
    /// Hours of learning, 0 to 10,000 in steps of 0.01.
    #[schema(minimum = 0, maximum = 10000)]
    credit_hours: Option<f64>,
    /// Credits per accrediting body (at most 20, each body once).
    #[serde(default)]
    #[schema(max_items = 20)]
    credits: Vec<Credit>,
    /// Automatic issuance needs a final course grade of at least this percentage.
    #[schema(minimum = 0, maximum = 100)]
    min_grade_percent: Option<f64>,
    /// Certificates expire this many days after issuance (1 to 36,500); absent: never.
    #[schema(minimum = 1, maximum = 36500)]
    valid_days: Option<i64>,
    /// Default `classic`.
    #[serde(default)]
    design: Design,
}

impl From<TemplateRequest> for TemplateInput {
    fn from(r: TemplateRequest) -> Self {
        Self {
            title: r.title,
            description: r.description,
            criteria: r.criteria,
            signatory_name: r.signatory_name,
            signatory_title: r.signatory_title,
            credit_hours: r.credit_hours,
            credits: r.credits,
            min_grade_percent: r.min_grade_percent,
            valid_days: r.valid_days,
            design: r.design,
        }
    }
}

/// The tenant's certificate templates: its default first, then the courses' own.
#[utoipa::path(
    get, path = "/api/v1/certificate-templates", tag = "certificates",
    responses(
        (status = 200, body = Vec<Template>),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn list_templates(
    State(state): State<AppState>,
    auth: Authenticated,
) -> ApiResult<Json<Vec<Template>>> {
    Ok(Json(service::templates(&state, &auth).await?))
}

/// The tenant's default template, for courses without their own.
#[utoipa::path(
    get, path = "/api/v1/certificate-templates/default", tag = "certificates",
    responses(
        (status = 200, body = Template),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, description = "The tenant has no default template (or no tenant answers to the host)", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn get_default_template(
    State(state): State<AppState>,
    auth: Authenticated,
) -> ApiResult<Json<Template>> {
    Ok(Json(service::template(&state, &auth, None).await?))
}

/// Creates or replaces the tenant's default template: every course without its own issues
/// certificates with it.
#[utoipa::path(
    put, path = "/api/v1/certificate-templates/default", tag = "certificates",
    request_body = TemplateRequest,
    responses(
        (status = 200, body = Template),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn save_default_template(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<TemplateRequest>,
) -> ApiResult<Json<Template>> {
    Ok(Json(
        service::save_template(&state, &auth, ip, None, body.into()).await?,
    ))
}

/// Deletes the tenant's default template: courses without their own stop issuing.
#[utoipa::path(
    delete, path = "/api/v1/certificate-templates/default", tag = "certificates",
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, description = "The tenant has no default template (or no tenant answers to the host)", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn delete_default_template(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
) -> ApiResult<StatusCode> {
    service::delete_template(&state, &auth, ip, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The course's own certificate template.
#[utoipa::path(
    get, path = "/api/v1/courses/{id}/certificate-template", tag = "certificates",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = Template),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn get_course_template(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(course): ApiPath<CourseId>,
) -> ApiResult<Json<Template>> {
    Ok(Json(service::template(&state, &auth, Some(course)).await?))
}

/// Creates or replaces the course's own template (which wins over the tenant's default).
#[utoipa::path(
    put, path = "/api/v1/courses/{id}/certificate-template", tag = "certificates",
    params(("id" = String, Path, format = Uuid)),
    request_body = TemplateRequest,
    responses(
        (status = 200, body = Template),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn save_course_template(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(course): ApiPath<CourseId>,
    ApiJson(body): ApiJson<TemplateRequest>,
) -> ApiResult<Json<Template>> {
    Ok(Json(
        service::save_template(&state, &auth, ip, Some(course), body.into()).await?,
    ))
}

/// Deletes the course's own template (the tenant's default applies again, if any).
#[utoipa::path(
    delete, path = "/api/v1/courses/{id}/certificate-template", tag = "certificates",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn delete_course_template(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(course): ApiPath<CourseId>,
) -> ApiResult<StatusCode> {
    service::delete_template(&state, &auth, ip, Some(course)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// Only this course's certificates.
    course_id: Option<CourseId>,
    /// Only this learner's certificates.
    user_id: Option<UserId>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// The tenant's certificates, newest first, revoked and expired ones included.
#[utoipa::path(
    get, path = "/api/v1/certificates", tag = "certificates",
    params(ListQuery),
    responses(
        (status = 200, body = Page<CertificateView>),
        (status = 403, response = crate::openapi::Forbidden),
    )
)]
async fn list_certificates(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Page<CertificateView>>> {
    let (limit, cursor) = PageParams {
        limit: q.limit,
        cursor: q.cursor,
    }
    .parse()?;
    Ok(Json(
        service::list(&state, &auth, q.course_id, q.user_id, cursor, limit).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct IssueRequest {
    course_id: CourseId,
    user_id: UserId,
}

/// Issues a certificate by hand, whatever the learner's progress and grade. The course needs a
/// template (its own or the tenant's default).
#[utoipa::path(
    post, path = "/api/v1/certificates", tag = "certificates",
    request_body = IssueRequest,
    responses(
        (status = 201, body = CertificateView),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`no_certificate_template`: neither the course nor the tenant has a template; `certificate_exists`: the learner holds a live certificate of the course; `user_inactive`: the learner's account is not active; `status_list_full`", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn issue_certificate(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<IssueRequest>,
) -> ApiResult<(StatusCode, Json<CertificateView>)> {
    let issued = service::issue_manually(&state, &auth, ip, body.course_id, body.user_id).await?;
    Ok((StatusCode::CREATED, Json(issued)))
}

/// A certificate (its holder, or a tenant admin).
#[utoipa::path(
    get, path = "/api/v1/certificates/{id}", tag = "certificates",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = CertificateView),
    )
)]
async fn get_certificate(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(id): ApiPath<CertificateId>,
) -> ApiResult<Json<CertificateView>> {
    Ok(Json(service::get(&state, &auth, id).await?))
}

/// The certificate's signed Open Badges 3.0 credential (JSON-LD with its `eddsa-rdfc-2022`
/// Data Integrity proof), as a download (its holder, or a tenant admin).
#[utoipa::path(
    get, path = "/api/v1/certificates/{id}/credential", tag = "certificates",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, description = "The credential (`application/vc+ld+json`)", body = Object, content_type = "application/vc+ld+json"),
    )
)]
async fn download_credential(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(id): ApiPath<CertificateId>,
) -> ApiResult<Response> {
    let credential = service::credential(&state, &auth, id).await?;
    let mut response = Json(credential).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/vc+ld+json"),
    );
    if let Ok(value) =
        HeaderValue::from_str(&format!("attachment; filename=\"certificate-{id}.json\""))
    {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// The certificate's credential as a VC-JWT (`EdDSA`, `kid` naming the issuer's key in its DID
/// document) (its holder, or a tenant admin).
#[utoipa::path(
    get, path = "/api/v1/certificates/{id}/credential/jwt", tag = "certificates",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, description = "A compact JWS (`application/vc+jwt`)", body = String, content_type = "application/vc+jwt"),
    )
)]
async fn download_credential_jwt(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(id): ApiPath<CertificateId>,
) -> ApiResult<Response> {
    let token = service::credential_jwt(&state, &auth, id).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/vc+jwt"),
        )],
        token,
    )
        .into_response())
}

/// The certificate as a one-page PDF with a QR code of its verification URL (its holder, or a
/// tenant admin).
#[utoipa::path(
    get, path = "/api/v1/certificates/{id}/pdf", tag = "certificates",
    params(("id" = String, Path, format = Uuid)),
    responses(
        (status = 200, description = "The PDF", body = Vec<u8>, content_type = "application/pdf"),
    )
)]
async fn download_pdf(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiPath(id): ApiPath<CertificateId>,
) -> ApiResult<Response> {
    let pdf = service::pdf(&state, &auth, id).await?;
    let disposition = HeaderValue::from_str(&format!("inline; filename=\"certificate-{id}.pdf\""))
        .unwrap_or_else(|_| HeaderValue::from_static("inline"));
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/pdf"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        pdf,
    )
        .into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RevokeRequest {
    /// Why, on one line; anyone verifying the certificate sees that it is revoked, not why.
    #[schema(min_length = 1, max_length = 500)]
    reason: String,
}

/// Revokes a certificate: its credential's status list says so from now on.
#[utoipa::path(
    post, path = "/api/v1/certificates/{id}/revoke", tag = "certificates",
    params(("id" = String, Path, format = Uuid)),
    request_body = RevokeRequest,
    responses(
        (status = 200, body = CertificateView),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, description = "`certificate_revoked`: revoked already", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn revoke_certificate(
    State(state): State<AppState>,
    auth: Authenticated,
    ClientIp(ip): ClientIp,
    ApiPath(id): ApiPath<CertificateId>,
    ApiJson(body): ApiJson<RevokeRequest>,
) -> ApiResult<Json<CertificateView>> {
    Ok(Json(
        service::revoke(&state, &auth, ip, id, &body.reason).await?,
    ))
}

/// The caller's certificates, newest first.
#[utoipa::path(
    get, path = "/api/v1/me/certificates", tag = "certificates",
    params(PageParams),
    responses(
        (status = 200, body = Page<CertificateView>),
    )
)]
async fn my_certificates(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<Json<Page<CertificateView>>> {
    let (limit, cursor) = page.parse()?;
    Ok(Json(service::mine(&state, &auth, cursor, limit).await?))
}
