//! The OpenAPI 3.1 document, assembled from every feature router's annotated handlers.

use std::collections::BTreeMap;

use anyhow::bail;
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi, PartialSchema, ToResponse};

use crate::error::Problem;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "LMS API",
        description = "Multi-tenant learning platform. Every tenant-scoped call names its tenant by host \
            (custom domain or subdomain) or by the `X-Tenant` header. Errors are RFC 9457 problem+json \
            with a stable `code`.",
        version = "1.0.0"
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "auth", description = "Accounts and sessions"),
        (name = "users", description = "User management (tenant admins)"),
        (name = "imports", description = "Bulk CSV imports of users and enrollments with dry runs, progress and per-row outcomes (tenant admins)"),
        (name = "scim", description = "SCIM 2.0 provisioning (RFC 7643/7644) under /scim/v2 with the organisation's SCIM token, which also selects the organisation; errors there are SCIM Error messages (application/scim+json). Tenant admins manage the tokens under /api/v1/scim/tokens"),
        (name = "mfa", description = "Multi-factor authentication: TOTP enrollment, recovery codes, the login challenge, the tenant's policy and admin resets"),
        (name = "sso", description = "Single sign-on: OpenID Connect connections, email domains verified by DNS (tenant admins), and the SSO sign-in"),
        (name = "courses", description = "Course authoring: settings, workflow, instructors, prerequisites, modules and items"),
        (name = "catalog", description = "Published courses for learners: filters, search and public outlines"),
        (name = "enrollments", description = "Enrolling into courses: self-enrollment, bulk and cohort enrollment, rosters, my learning"),
        (name = "progress", description = "Learner progress: item completion, viewing time, course completion, progress tables and CSV export"),
        (name = "question banks", description = "Question banks, categories and versioned questions of every kind (instructors and tenant admins)"),
        (name = "quizzes", description = "Quiz settings, attempts with frozen questions and deadlines, autosaved answers, grading by rule, plugin and person, the grading queue"),
        (name = "assignments", description = "Assignment settings with rubrics and late policies, text and file submissions, grading with feedback and inline comments, grade release, the graders' queue"),
        (name = "gradebook", description = "Scores per learner and assessment, weighted course grades, the learner's own grades, CSV export"),
        (name = "certificates", description = "Verifiable certificates: templates per course or tenant default, issuance on completion or by an admin, revocation, the learner's own certificates"),
        (name = "cohorts", description = "Groups of learners enrolled together: kept by tenant admins, managed as teams by their corporate managers"),
        (name = "reports", description = "Team reports: a corporate manager's team members' enrollments, progress, completions, quiz results and released grades (tenant admins: every cohort's members), paginated or as CSV"),
        (name = "plugins", description = "The plugin registry: uploads, installs, capability grants, signatures, the first-party catalog, grading and invocation records (tenant admins; grading also instructors)"),
        (name = "tenant", description = "The current tenant's branding and settings"),
        (name = "audit", description = "The audit trail"),
        (name = "events", description = "Domain events of the tenant (tenant admins); each type's data is in the webhooks section"),
        (name = "webhooks", description = "Signed webhooks: endpoints, secrets, the delivery log and redelivery (tenant admins)"),
        (name = "notifications", description = "The signed-in user's notifications: inbox, unread count, preferences and the live stream"),
        (name = "jobs", description = "Background jobs: list, inspect and re-run dead jobs (tenant admins)"),
        (name = "operator", description = "Platform operator: tenants, domains, signing keys, every tenant's background jobs"),
        (name = "operations", description = "Probes and metrics"),
    )
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::auth::cookies::ACCESS_COOKIE,
                "Session cookie; unsafe methods also need the X-CSRF-Token header",
            ))),
        );
        components.add_security_scheme(
            "scim",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The organisation's SCIM token (POST /api/v1/scim/tokens); it names the organisation",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "operator",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The platform-operator credential"))
                    .build(),
            ),
        );
    }
}

/// Declares problem+json responses as `components.responses` entries: each type names its
/// component, and an annotation may list it by name, `(status = 403, response = Forbidden)`.
macro_rules! problem_responses {
    ($($(#[$doc:meta])* $name:ident => $description:expr;)*) => {
        $(
            $(#[$doc])*
            pub struct $name;

            impl<'r> ToResponse<'r> for $name {
                fn response() -> (&'r str, RefOr<Response>) {
                    (stringify!($name), problem_response($description))
                }
            }
        )*

        /// Every shared response with its component name.
        fn shared_responses() -> Vec<(&'static str, RefOr<Response>)> {
            vec![$(<$name as ToResponse>::response()),*]
        }
    };
}

problem_responses! {
    /// 400, added to every operation with a parameter or a body to parse.
    BadRequest => "The request does not parse: a body that is not JSON (`malformed_json`), a path or \
        query parameter of the wrong type (`invalid_path_parameter`, `invalid_query`)";
    /// 401, added to every operation that requires credentials.
    Unauthorized => "No valid credentials: a missing, expired or revoked token, or a token of \
        another tenant";
    /// 403, listed by the operations that refuse some callers and added to every tenant
    /// operation that requires credentials.
    Forbidden => "Refused (`forbidden` or the refusing rule's own code): the caller's role or \
        relation to the resource does not allow this; also a suspended tenant \
        (`tenant_suspended`), a cookie session's unsafe call without its CSRF token \
        (`csrf_failed`) and a session restricted to MFA enrollment (`mfa_enrollment_required`)";
    /// 404, added to every operation with a path parameter.
    NotFound => "Not found (`not_found`): an identifier in the path names nothing the caller may \
        see; on tenant calls also a host or `X-Tenant` header that names no tenant";
    /// 404, added to every tenant operation without a path parameter.
    UnknownTenant => "No tenant answers to the host or the `X-Tenant` header (`not_found`)";
    /// 415, added to every operation with a body.
    UnsupportedMediaType => "The body is not of the operation's media type \
        (`unsupported_media_type`)";
    /// 422, added to every operation with a body or a page size.
    ValidationFailed => "The body or a query parameter breaks a rule (`validation_failed`, unknown \
        fields included); `errors` names each field";
}

fn problem_response(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name(
                        <Problem as utoipa::ToSchema>::name(),
                    )))
                    .build(),
            )
            .build(),
    )
}

/// Where tenant calls live: every operation below it names its tenant by host or `X-Tenant`.
const TENANT_API: &str = "/api/v1/";
/// SCIM provisioning: its operations declare their own errors, in the SCIM error format.
const SCIM_API: &str = "/scim/v2/";
/// The platform operator's calls: below [`TENANT_API`] but for no tenant.
const OPERATOR_API: &str = "/api/v1/operator/";

/// Declares what annotations leave out, once for every operation, so that each annotation lists
/// only its own responses. First the security requirement, unless the annotation declares one:
/// the operator credential below [`OPERATOR_API`], a tenant's bearer token or session cookie
/// elsewhere below [`TENANT_API`], none outside it; `security(())` declares a public operation.
/// Then each shared response whose status the annotation does not declare itself: 400 where
/// there is a parameter or a body to parse, 401 where credentials are required, 403 where a
/// tenant's credentials are (a session restricted to MFA enrollment is refused), 404 where a path
/// parameter names something and on every other tenant call (an unknown tenant), 415 and 422
/// where there is a body, 422 where a page size is bounded.
pub fn add_shared_responses(openapi: &mut utoipa::openapi::OpenApi) {
    let components = openapi.components.get_or_insert_with(Default::default);
    components.responses.extend(
        shared_responses()
            .into_iter()
            .map(|(name, response)| (name.to_owned(), response)),
    );
    if !components.schemas.contains_key("Problem") {
        components
            .schemas
            .insert("Problem".to_owned(), <Problem as PartialSchema>::schema());
    }
    for (path, item) in &mut openapi.paths.paths {
        let tenant_call = path.starts_with(TENANT_API) && !path.starts_with(OPERATOR_API);
        for operation in operations_mut(item) {
            declare_security(path, operation);
            if path.starts_with(SCIM_API) {
                continue;
            }
            let has_body = operation.request_body.is_some();
            let parameters = operation.parameters.as_deref().unwrap_or_default();
            let has_path_parameter = parameters
                .iter()
                .any(|p| matches!(p.parameter_in, ParameterIn::Path));
            let has_parameters = has_path_parameter
                || parameters
                    .iter()
                    .any(|p| matches!(p.parameter_in, ParameterIn::Query));
            let has_page_size = parameters
                .iter()
                .any(|p| p.name == "limit" && matches!(p.parameter_in, ParameterIn::Query));
            let authenticated = operation.security.as_ref().is_some_and(|s| !s.is_empty());
            let shared = [
                ("400", name::<BadRequest>(), has_body || has_parameters),
                ("401", name::<Unauthorized>(), authenticated),
                ("403", name::<Forbidden>(), authenticated && tenant_call),
                ("404", name::<NotFound>(), has_path_parameter),
                ("404", name::<UnknownTenant>(), tenant_call),
                ("415", name::<UnsupportedMediaType>(), has_body),
                ("422", name::<ValidationFailed>(), has_body || has_page_size),
            ];
            for (status, name, applies) in shared {
                if applies {
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
                }
            }
        }
    }
}

fn name<'r, R: ToResponse<'r>>() -> &'r str {
    R::response().0
}

/// The security requirement of an operation whose annotation declares none (see
/// [`add_shared_responses`]); `security(())`, an empty requirement, becomes no requirement.
fn declare_security(path: &str, operation: &mut Operation) {
    let public = |requirements: &[SecurityRequirement]| {
        requirements
            .iter()
            .all(|r| *r == SecurityRequirement::default())
    };
    match &operation.security {
        Some(requirements) if public(requirements) => operation.security = None,
        Some(_) => {}
        None if path.starts_with(OPERATOR_API) => {
            operation.security = Some(vec![SecurityRequirement::new("operator", NO_SCOPES)]);
        }
        None if path.starts_with(TENANT_API) => {
            operation.security = Some(vec![
                SecurityRequirement::new("bearer", NO_SCOPES),
                SecurityRequirement::new("cookie", NO_SCOPES),
            ]);
        }
        None => {}
    }
}

const NO_SCOPES: [&str; 0] = [];

fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

/// Fails when two documents name different schemas alike. Merging routers keeps one schema per
/// component name and drops the other silently, so an operation would describe another type's
/// body; two Rust types of the same name in different features must get distinct names
/// (`#[schema(as = feature::Name)]`).
pub fn check_unique_schema_names<'a>(
    documents: impl IntoIterator<Item = &'a utoipa::openapi::OpenApi>,
) -> anyhow::Result<()> {
    let mut seen: BTreeMap<&str, serde_json::Value> = BTreeMap::new();
    let mut clashes = Vec::new();
    for document in documents {
        let Some(components) = &document.components else {
            continue;
        };
        for (name, schema) in &components.schemas {
            let schema = serde_json::to_value(schema)?;
            match seen.get(name.as_str()) {
                Some(first) if *first != schema => clashes.push(name.as_str()),
                Some(_) => {}
                None => {
                    seen.insert(name, schema);
                }
            }
        }
    }
    if !clashes.is_empty() {
        clashes.dedup();
        bail!(
            "different schemas share a component name: {}; rename one type or give it \
             #[schema(as = feature::Name)]",
            clashes.join(", ")
        );
    }
    Ok(())
}

/// The whole document, after checking that no feature's schema hides another's.
pub fn document() -> anyhow::Result<utoipa::openapi::OpenApi> {
    let base = ApiDoc::openapi();
    let features = crate::app::features(None);
    check_unique_schema_names(
        std::iter::once(&base).chain(features.iter().map(|router| router.get_openapi())),
    )?;
    let (_, api) = crate::app::routes().split_for_parts();
    Ok(api)
}

/// The document as pretty JSON (what `lms openapi` prints and the repository commits).
pub fn document_json() -> anyhow::Result<String> {
    Ok(document()?.to_pretty_json()? + "\n")
}

#[cfg(test)]
mod tests {
    use utoipa::openapi::{ComponentsBuilder, ObjectBuilder, OpenApiBuilder, Type};

    use super::*;

    fn declaring(name: &str, field: &str) -> utoipa::openapi::OpenApi {
        OpenApiBuilder::new()
            .components(Some(
                ComponentsBuilder::new()
                    .schema(
                        name,
                        ObjectBuilder::new()
                            .property(field, ObjectBuilder::new().schema_type(Type::String)),
                    )
                    .build(),
            ))
            .build()
    }

    #[test]
    fn two_schemas_under_one_name_fail_the_document() {
        let assignments = declaring("GradeInput", "points");
        let plugins = declaring("GradeInput", "question_kind");
        let err = check_unique_schema_names([&assignments, &plugins])
            .expect_err("a clash must fail")
            .to_string();
        assert!(err.contains("GradeInput"), "{err}");
    }

    #[test]
    fn one_schema_registered_by_two_features_is_no_clash() {
        let a = declaring("Problem", "code");
        let b = declaring("Problem", "code");
        check_unique_schema_names([&a, &b]).expect("the same schema twice is fine");
    }

    fn operation(
        path: &str,
        parameter: Option<ParameterIn>,
        security: Option<Vec<SecurityRequirement>>,
    ) -> (Vec<(String, String)>, Option<serde_json::Value>) {
        use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder};
        use utoipa::openapi::{PathsBuilder, ResponseBuilder};

        let mut operation = OperationBuilder::new()
            .response("200", ResponseBuilder::new().description("ok"))
            .securities(security);
        if let Some(parameter_in) = parameter {
            operation = operation.parameter(
                ParameterBuilder::new()
                    .name("id")
                    .parameter_in(parameter_in),
            );
        }
        let mut openapi = OpenApiBuilder::new()
            .paths(
                PathsBuilder::new().path(path, PathItem::new(HttpMethod::Get, operation.build())),
            )
            .build();
        add_shared_responses(&mut openapi);
        let operation = openapi
            .paths
            .paths
            .remove(path)
            .and_then(|item| item.get)
            .expect("operation");
        let responses = operation
            .responses
            .responses
            .into_iter()
            .map(|(status, response)| match response {
                RefOr::Ref(r) => (status, r.ref_location),
                RefOr::T(r) => (status, r.description),
            })
            .collect();
        let security = operation
            .security
            .map(|s| serde_json::to_value(s).expect("json"));
        (responses, security)
    }

    fn shared(status: &str, name: &str) -> (String, String) {
        (status.to_owned(), format!("#/components/responses/{name}"))
    }

    #[test]
    fn tenant_calls_need_tenant_credentials_unless_declared_public() {
        let (responses, security) = operation("/api/v1/things", None, None);
        assert_eq!(
            security,
            Some(serde_json::json!([{ "bearer": [] }, { "cookie": [] }]))
        );
        assert_eq!(
            responses,
            [
                ("200".to_owned(), "ok".to_owned()),
                shared("401", "Unauthorized"),
                shared("403", "Forbidden"),
                shared("404", "UnknownTenant"),
            ]
        );
        let public = Some(vec![SecurityRequirement::default()]);
        let (responses, security) = operation("/api/v1/things", None, public);
        assert_eq!(security, None);
        assert_eq!(
            responses,
            [
                ("200".to_owned(), "ok".to_owned()),
                shared("404", "UnknownTenant"),
            ]
        );
    }

    #[test]
    fn operator_and_other_calls_get_their_own_security() {
        let (responses, security) = operation(
            "/api/v1/operator/things/{id}",
            Some(ParameterIn::Path),
            None,
        );
        assert_eq!(security, Some(serde_json::json!([{ "operator": [] }])));
        assert_eq!(
            responses,
            [
                ("200".to_owned(), "ok".to_owned()),
                shared("400", "BadRequest"),
                shared("401", "Unauthorized"),
                shared("404", "NotFound"),
            ]
        );
        let (responses, security) = operation("/probe", Some(ParameterIn::Query), None);
        assert_eq!(security, None);
        assert_eq!(
            responses,
            [
                ("200".to_owned(), "ok".to_owned()),
                shared("400", "BadRequest"),
            ]
        );
    }

    #[test]
    fn the_api_has_no_schema_name_clash() {
        document().expect("document");
    }
}
