//! `/scim/v2`: the SCIM 2.0 endpoints an identity provider calls with the tenant's SCIM token.
//! Every answer, errors included, is `application/scim+json`.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, Path, RawQuery, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::caller::Provisioner;
use super::discovery::{self, MAX_BODY_BYTES};
use super::error::{SCIM_JSON, ScimError, ScimErrorBody, ScimResult, ScimType};
use super::resource::{render_group, render_user, select_attributes, wants_members};
use super::schema::LIST_RESPONSE;
use super::service::{self, GroupWithMembers, Listed};
use crate::cohorts::CohortId;
use crate::state::AppState;
use crate::users::UserId;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(service_provider_config))
        .routes(routes!(resource_types))
        .routes(routes!(resource_type))
        .routes(routes!(schemas))
        .routes(routes!(schema))
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, replace_user, patch_user, delete_user))
        .routes(routes!(list_groups, create_group))
        .routes(routes!(get_group, replace_group, patch_group, delete_group))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// A SCIM resource (User, Group, or a discovery resource); see `/scim/v2/Schemas`.
#[derive(Serialize, ToSchema)]
#[schema(as = scim::Resource)]
struct ResourceDoc {
    schemas: Vec<String>,
    id: String,
    #[serde(rename = "externalId")]
    external_id: Option<String>,
    #[schema(value_type = Object)]
    meta: Value,
}

/// A ListResponse (RFC 7644 §3.4.2): 1-based `startIndex`, at most 200 `Resources` a page.
#[derive(Serialize, ToSchema)]
#[schema(as = scim::ListResponse)]
struct ListDoc {
    schemas: Vec<String>,
    #[serde(rename = "totalResults")]
    total_results: i64,
    #[serde(rename = "startIndex")]
    start_index: i64,
    #[serde(rename = "itemsPerPage")]
    items_per_page: i64,
    #[serde(rename = "Resources")]
    resources: Vec<ResourceDoc>,
}

/// A PatchOp message (RFC 7644 §3.5.2): at most 100 operations; `op` in any case.
#[derive(Serialize, ToSchema)]
#[schema(as = scim::PatchOp)]
struct PatchDoc {
    schemas: Vec<String>,
    #[serde(rename = "Operations")]
    #[schema(value_type = Vec<Object>)]
    operations: Vec<Value>,
}

/// Answers with a SCIM JSON body.
fn scim(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON))],
        serde_json::to_vec(body).unwrap_or_default(),
    )
        .into_response()
}

/// A SCIM request body: `application/scim+json` or `application/json`, at most
/// [`MAX_BODY_BYTES`].
struct ScimBody(Value);

impl<S: Send + Sync> FromRequest<S> for ScimBody {
    type Rejection = ScimError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ScimError> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            });
        if !matches!(
            content_type.as_deref(),
            None | Some("application/scim+json" | "application/json")
        ) {
            return Err(ScimError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                None,
                "send application/scim+json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ScimError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    None,
                    format!("the body is larger than {MAX_BODY_BYTES} bytes"),
                )
            } else {
                ScimError::bad_request(ScimType::InvalidSyntax, "the body could not be read")
            }
        })?;
        serde_json::from_slice(&bytes)
            .map(Self)
            .map_err(|_| ScimError::bad_request(ScimType::InvalidSyntax, "the body is not JSON"))
    }
}

/// The query parameters SCIM reads.
struct Params(HashMap<String, String>);

impl Params {
    fn of(raw: Option<String>) -> Self {
        Self(
            url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        )
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn shape(&self, resource: &mut Value) {
        select_attributes(
            resource,
            self.get("attributes"),
            self.get("excludedAttributes"),
        );
    }

    fn wants_members(&self) -> bool {
        wants_members(self.get("attributes"), self.get("excludedAttributes"))
    }
}

fn list_response(total: i64, start_index: i64, resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

fn user_id(raw: &str) -> ScimResult<UserId> {
    Uuid::parse_str(raw)
        .map(UserId)
        .map_err(|_| ScimError::not_found())
}

fn cohort_id(raw: &str) -> ScimResult<CohortId> {
    Uuid::parse_str(raw)
        .map(CohortId)
        .map_err(|_| ScimError::not_found())
}

/// The server's SCIM features: PATCH and filters yes; bulk, sort, ETags and password changes no.
#[utoipa::path(
    get, path = "/scim/v2/ServiceProviderConfig", tag = "scim",
    security(("scim" = [])),
    responses(
        (status = 200, body = ResourceDoc, content_type = "application/scim+json"),
        (status = 401, description = "No valid SCIM token", body = ScimErrorBody, content_type = "application/scim+json"),
    )
)]
async fn service_provider_config(
    State(state): State<AppState>,
    who: Provisioner,
) -> ScimResult<Response> {
    let (tx, _) = who.begin(&state).await?;
    tx.commit().await?;
    Ok(scim(
        StatusCode::OK,
        &discovery::service_provider_config(&who.base_url(&state)),
    ))
}

/// The resource types: User (with the enterprise extension) and Group.
#[utoipa::path(
    get, path = "/scim/v2/ResourceTypes", tag = "scim",
    security(("scim" = [])),
    responses(
        (status = 200, body = ListDoc, content_type = "application/scim+json"),
        (status = 401, description = "No valid SCIM token", body = ScimErrorBody, content_type = "application/scim+json"),
    )
)]
async fn resource_types(State(state): State<AppState>, who: Provisioner) -> ScimResult<Response> {
    let (tx, _) = who.begin(&state).await?;
    tx.commit().await?;
    Ok(scim(
        StatusCode::OK,
        &discovery::list(discovery::resource_types(&who.base_url(&state))),
    ))
}

/// One resource type (`User` or `Group`).
#[utoipa::path(
    get, path = "/scim/v2/ResourceTypes/{id}", tag = "scim",
    security(("scim" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, body = ResourceDoc, content_type = "application/scim+json"),
        (status = 400, description = "`invalidValue`: a NUL character in the path or query", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 401, description = "No valid SCIM token", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 404, description = "No such resource type", body = ScimErrorBody, content_type = "application/scim+json"),
    )
)]
async fn resource_type(
    State(state): State<AppState>,
    who: Provisioner,
    Path(id): Path<String>,
) -> ScimResult<Response> {
    let (tx, _) = who.begin(&state).await?;
    tx.commit().await?;
    discovery::resource_types(&who.base_url(&state))
        .into_iter()
        .find(|r| r["id"] == id.as_str())
        .map(|r| scim(StatusCode::OK, &r))
        .ok_or_else(ScimError::not_found)
}

/// The schemas, with every attribute the server keeps.
#[utoipa::path(
    get, path = "/scim/v2/Schemas", tag = "scim",
    security(("scim" = [])),
    responses(
        (status = 200, body = ListDoc, content_type = "application/scim+json"),
        (status = 401, description = "No valid SCIM token", body = ScimErrorBody, content_type = "application/scim+json"),
    )
)]
async fn schemas(State(state): State<AppState>, who: Provisioner) -> ScimResult<Response> {
    let (tx, _) = who.begin(&state).await?;
    tx.commit().await?;
    Ok(scim(
        StatusCode::OK,
        &discovery::list(discovery::schemas(&who.base_url(&state))),
    ))
}

/// One schema, by its URN.
#[utoipa::path(
    get, path = "/scim/v2/Schemas/{id}", tag = "scim",
    security(("scim" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, body = ResourceDoc, content_type = "application/scim+json"),
        (status = 400, description = "`invalidValue`: a NUL character in the path or query", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 401, description = "No valid SCIM token", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 404, description = "No such schema", body = ScimErrorBody, content_type = "application/scim+json"),
    )
)]
async fn schema(
    State(state): State<AppState>,
    who: Provisioner,
    Path(id): Path<String>,
) -> ScimResult<Response> {
    let (tx, _) = who.begin(&state).await?;
    tx.commit().await?;
    discovery::schemas(&who.base_url(&state))
        .into_iter()
        .find(|s| {
            s["id"]
                .as_str()
                .is_some_and(|s| s.eq_ignore_ascii_case(&id))
        })
        .map(|s| scim(StatusCode::OK, &s))
        .ok_or_else(ScimError::not_found)
}

/// Users of the organisation in id order. `filter`: `userName eq`, `externalId eq`, `id eq`,
/// `emails[type eq "work"].value eq`, joined by `and` (anything else is 400 `invalidFilter`);
/// `startIndex` (1-based) and `count` (at most 200); `attributes` / `excludedAttributes`.
#[utoipa::path(
    get, path = "/scim/v2/Users", tag = "scim",
    security(("scim" = [])),
    params(
        ("filter" = Option<String>, Query, max_length = 1000),
        ("startIndex" = Option<i64>, Query),
        ("count" = Option<i64>, Query, maximum = 200),
        ("attributes" = Option<String>, Query),
        ("excludedAttributes" = Option<String>, Query),
    ),
    responses(
        (status = 200, body = ListDoc, content_type = "application/scim+json"),
        (status = 400, description = "`invalidFilter`, or `invalidValue` for a non-numeric page parameter", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 401, description = "No valid SCIM token", body = ScimErrorBody, content_type = "application/scim+json"),
    )
)]
async fn list_users(
    State(state): State<AppState>,
    who: Provisioner,
    RawQuery(query): RawQuery,
) -> ScimResult<Response> {
    let params = Params::of(query);
    let window = service::window(params.get("startIndex"), params.get("count"))?;
    let Listed {
        total,
        start_index,
        items,
    } = service::list_users(&state, &who, params.get("filter"), window).await?;
    let base = who.base_url(&state);
    let resources = items
        .iter()
        .map(|user| {
            let mut resource = render_user(user, &base);
            params.shape(&mut resource);
            resource
        })
        .collect();
    Ok(scim(
        StatusCode::OK,
        &list_response(total, start_index, resources),
    ))
}

/// Creates a user: a learner without a password who signs in through the organisation's SSO.
/// `userName` is unique ignoring case (409 `uniqueness`); when it is an email address it is the
/// account's email, else the primary email is.
#[utoipa::path(
    post, path = "/scim/v2/Users", tag = "scim",
    security(("scim" = [])),
    request_body(content = ResourceDoc, content_type = "application/scim+json"),
    responses(
        (status = 201, body = ResourceDoc, content_type = "application/scim+json"),
        (status = 400, description = "`invalidValue` or `invalidSyntax`", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 401, description = "No valid SCIM token", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 409, description = "`uniqueness`: the userName or email is taken", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 413, description = "The body is too large", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 415, description = "Not JSON", body = ScimErrorBody, content_type = "application/scim+json"),
    )
)]
async fn create_user(
    State(state): State<AppState>,
    who: Provisioner,
    ScimBody(body): ScimBody,
) -> ScimResult<Response> {
    let user = service::create_user(&state, &who, &body).await?;
    let resource = render_user(&user, &who.base_url(&state));
    let mut response = scim(StatusCode::CREATED, &resource);
    if let Some(location) = resource["meta"]["location"]
        .as_str()
        .and_then(|l| HeaderValue::from_str(l).ok())
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// One user (deactivated users too; deleted ones are 404).
#[utoipa::path(
    get, path = "/scim/v2/Users/{id}", tag = "scim",
    security(("scim" = [])),
    params(
        ("id" = String, Path),
        ("attributes" = Option<String>, Query),
        ("excludedAttributes" = Option<String>, Query),
    ),
    responses(
        (status = 200, body = ResourceDoc, content_type = "application/scim+json"),
        (status = 400, description = "`invalidValue`: a NUL character in the path or query", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 401, description = "No valid SCIM token", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 404, description = "No such user", body = ScimErrorBody, content_type = "application/scim+json"),
    )
)]
async fn get_user(
    State(state): State<AppState>,
    who: Provisioner,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ScimResult<Response> {
    let user = service::get_user(&state, &who, user_id(&id)?).await?;
    let mut resource = render_user(&user, &who.base_url(&state));
    Params::of(query).shape(&mut resource);
    Ok(scim(StatusCode::OK, &resource))
}

/// Replaces a user (an absent `active` leaves the account's status as it is; `active` false
/// ends every session of the user at once).
#[utoipa::path(
    put, path = "/scim/v2/Users/{id}", tag = "scim",
    security(("scim" = [])),
    params(("id" = String, Path)),
    request_body(content = ResourceDoc, content_type = "application/scim+json"),
    responses(
        (status = 200, body = ResourceDoc, content_type = "application/scim+json"),
        (status = 400, description = "`invalidValue` or `invalidSyntax`", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 401, description = "No valid SCIM token", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 404, description = "No such user", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 409, description = "`uniqueness`, or the organisation's last active admin", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 413, description = "The body is too large", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 415, description = "Not JSON", body = ScimErrorBody, content_type = "application/scim+json"),
    )
)]
async fn replace_user(
    State(state): State<AppState>,
    who: Provisioner,
    Path(id): Path<String>,
    ScimBody(body): ScimBody,
) -> ScimResult<Response> {
    let user = service::replace_user(&state, &who, user_id(&id)?, &body).await?;
    Ok(scim(
        StatusCode::OK,
        &render_user(&user, &who.base_url(&state)),
    ))
}

/// Changes a user by PATCH operations, Entra ID's and Okta's forms included (capitalised ops,
/// "True"/"False", path-less value objects keyed by paths and extension URNs).
#[utoipa::path(
    patch, path = "/scim/v2/Users/{id}", tag = "scim",
    security(("scim" = [])),
    params(("id" = String, Path)),
    request_body(content = PatchDoc, content_type = "application/scim+json"),
    responses(
        (status = 200, body = ResourceDoc, content_type = "application/scim+json"),
        (status = 400, description = "`invalidSyntax`, `invalidPath`, `invalidValue`, `noTarget`, `mutability` or `tooMany`", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 401, description = "No valid SCIM token", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 404, description = "No such user", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 409, description = "`uniqueness`, or the organisation's last active admin", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 413, description = "The body is too large", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 415, description = "Not JSON", body = ScimErrorBody, content_type = "application/scim+json"),
    )
)]
async fn patch_user(
    State(state): State<AppState>,
    who: Provisioner,
    Path(id): Path<String>,
    ScimBody(body): ScimBody,
) -> ScimResult<Response> {
    let user = service::patch_user(&state, &who, user_id(&id)?, &body).await?;
    Ok(scim(
        StatusCode::OK,
        &render_user(&user, &who.base_url(&state)),
    ))
}

/// Deletes a user: the account is deactivated (its sessions end) and leaves the SCIM view; its
/// learning records stay.
#[utoipa::path(
    delete, path = "/scim/v2/Users/{id}", tag = "scim",
    security(("scim" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "`invalidValue`: a NUL character in the path or query", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 401, description = "No valid SCIM token", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 404, description = "No such user", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 409, description = "The organisation's last active admin", body = ScimErrorBody, content_type = "application/scim+json"),
    )
)]
async fn delete_user(
    State(state): State<AppState>,
    who: Provisioner,
    Path(id): Path<String>,
) -> ScimResult<StatusCode> {
    service::delete_user(&state, &who, user_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn group_resource(base: &str, group: &GroupWithMembers, params: &Params) -> Value {
    let mut resource = render_group(&group.group, group.members.as_deref(), base);
    params.shape(&mut resource);
    resource
}

/// Groups (the organisation's cohorts) in id order. `filter`: `displayName eq`, `externalId eq`,
/// `id eq`, `members[value eq "…"]`, joined by `and`; `excludedAttributes=members` leaves the
/// members out.
#[utoipa::path(
    get, path = "/scim/v2/Groups", tag = "scim",
    security(("scim" = [])),
    params(
        ("filter" = Option<String>, Query, max_length = 1000),
        ("startIndex" = Option<i64>, Query),
        ("count" = Option<i64>, Query, maximum = 200),
        ("attributes" = Option<String>, Query),
        ("excludedAttributes" = Option<String>, Query),
    ),
    responses(
        (status = 200, body = ListDoc, content_type = "application/scim+json"),
        (status = 400, description = "`invalidFilter`, or `invalidValue` for a non-numeric page parameter", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 401, description = "No valid SCIM token", body = ScimErrorBody, content_type = "application/scim+json"),
    )
)]
async fn list_groups(
    State(state): State<AppState>,
    who: Provisioner,
    RawQuery(query): RawQuery,
) -> ScimResult<Response> {
    let params = Params::of(query);
    let window = service::window(params.get("startIndex"), params.get("count"))?;
    let listed = service::list_groups(
        &state,
        &who,
        params.get("filter"),
        window,
        params.wants_members(),
    )
    .await?;
    let base = who.base_url(&state);
    let resources = listed
        .items
        .iter()
        .map(|group| group_resource(&base, group, &params))
        .collect();
    Ok(scim(
        StatusCode::OK,
        &list_response(listed.total, listed.start_index, resources),
    ))
}

/// Creates a group as a cohort, with its members (users of the organisation).
#[utoipa::path(
    post, path = "/scim/v2/Groups", tag = "scim",
    security(("scim" = [])),
    request_body(content = ResourceDoc, content_type = "application/scim+json"),
    responses(
        (status = 201, body = ResourceDoc, content_type = "application/scim+json"),
        (status = 400, description = "`invalidValue` (e.g. a member that is no user of the organisation) or `invalidSyntax`", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 401, description = "No valid SCIM token", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 409, description = "`uniqueness`: a cohort has this name", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 413, description = "The body is too large", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 415, description = "Not JSON", body = ScimErrorBody, content_type = "application/scim+json"),
    )
)]
async fn create_group(
    State(state): State<AppState>,
    who: Provisioner,
    ScimBody(body): ScimBody,
) -> ScimResult<Response> {
    let group = service::create_group(&state, &who, &body).await?;
    let base = who.base_url(&state);
    let resource = render_group(&group.group, group.members.as_deref(), &base);
    let mut response = scim(StatusCode::CREATED, &resource);
    if let Some(location) = resource["meta"]["location"]
        .as_str()
        .and_then(|l| HeaderValue::from_str(l).ok())
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// One group.
#[utoipa::path(
    get, path = "/scim/v2/Groups/{id}", tag = "scim",
    security(("scim" = [])),
    params(
        ("id" = String, Path),
        ("attributes" = Option<String>, Query),
        ("excludedAttributes" = Option<String>, Query),
    ),
    responses(
        (status = 200, body = ResourceDoc, content_type = "application/scim+json"),
        (status = 400, description = "`invalidValue`: a NUL character in the path or query", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 401, description = "No valid SCIM token", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 404, description = "No such group", body = ScimErrorBody, content_type = "application/scim+json"),
    )
)]
async fn get_group(
    State(state): State<AppState>,
    who: Provisioner,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ScimResult<Response> {
    let params = Params::of(query);
    let group = service::get_group(&state, &who, cohort_id(&id)?, params.wants_members()).await?;
    Ok(scim(
        StatusCode::OK,
        &group_resource(&who.base_url(&state), &group, &params),
    ))
}

/// Replaces a group: its name, external id and exact member list.
#[utoipa::path(
    put, path = "/scim/v2/Groups/{id}", tag = "scim",
    security(("scim" = [])),
    params(("id" = String, Path)),
    request_body(content = ResourceDoc, content_type = "application/scim+json"),
    responses(
        (status = 200, body = ResourceDoc, content_type = "application/scim+json"),
        (status = 400, description = "`invalidValue` or `invalidSyntax`", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 401, description = "No valid SCIM token", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 404, description = "No such group", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 409, description = "`uniqueness`: a cohort has this name", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 413, description = "The body is too large", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 415, description = "Not JSON", body = ScimErrorBody, content_type = "application/scim+json"),
    )
)]
async fn replace_group(
    State(state): State<AppState>,
    who: Provisioner,
    Path(id): Path<String>,
    ScimBody(body): ScimBody,
) -> ScimResult<Response> {
    let group = service::replace_group(&state, &who, cohort_id(&id)?, &body).await?;
    Ok(scim(
        StatusCode::OK,
        &render_group(
            &group.group,
            group.members.as_deref(),
            &who.base_url(&state),
        ),
    ))
}

/// Changes a group by PATCH operations: members added, removed (`members[value eq "…"]`, or
/// Entra's value list) or replaced; the name and external id replaced.
#[utoipa::path(
    patch, path = "/scim/v2/Groups/{id}", tag = "scim",
    security(("scim" = [])),
    params(("id" = String, Path)),
    request_body(content = PatchDoc, content_type = "application/scim+json"),
    responses(
        (status = 200, body = ResourceDoc, content_type = "application/scim+json"),
        (status = 400, description = "`invalidSyntax`, `invalidPath`, `invalidValue`, `noTarget` or `tooMany`", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 401, description = "No valid SCIM token", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 404, description = "No such group", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 409, description = "`uniqueness`: a cohort has this name", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 413, description = "The body is too large", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 415, description = "Not JSON", body = ScimErrorBody, content_type = "application/scim+json"),
    )
)]
async fn patch_group(
    State(state): State<AppState>,
    who: Provisioner,
    Path(id): Path<String>,
    ScimBody(body): ScimBody,
) -> ScimResult<Response> {
    let group = service::patch_group(&state, &who, cohort_id(&id)?, &body).await?;
    Ok(scim(
        StatusCode::OK,
        &render_group(
            &group.group,
            group.members.as_deref(),
            &who.base_url(&state),
        ),
    ))
}

/// Deletes a group's cohort (the users stay).
#[utoipa::path(
    delete, path = "/scim/v2/Groups/{id}", tag = "scim",
    security(("scim" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "`invalidValue`: a NUL character in the path or query", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 401, description = "No valid SCIM token", body = ScimErrorBody, content_type = "application/scim+json"),
        (status = 404, description = "No such group", body = ScimErrorBody, content_type = "application/scim+json"),
    )
)]
async fn delete_group(
    State(state): State<AppState>,
    who: Provisioner,
    Path(id): Path<String>,
) -> ScimResult<StatusCode> {
    service::delete_group(&state, &who, cohort_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What an unknown path below `/scim/v2` answers: 404 (501 for `/.search`, which the server
/// does not offer), in the SCIM error format.
pub fn unknown(method: &axum::http::Method, path: &str) -> ScimError {
    if path.ends_with("/.search") && method == axum::http::Method::POST {
        ScimError::new(
            StatusCode::NOT_IMPLEMENTED,
            None,
            "POST .search is not supported: use GET with a filter",
        )
    } else {
        ScimError::not_found()
    }
}
