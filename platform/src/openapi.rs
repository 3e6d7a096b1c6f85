//! The OpenAPI 3.1 document, assembled from every feature router's annotated handlers.

use std::collections::BTreeMap;

use anyhow::bail;
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi, PartialSchema};

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
        (name = "courses", description = "Course authoring: settings, workflow, instructors, prerequisites, modules and items"),
        (name = "catalog", description = "Published courses for learners: filters, search and public outlines"),
        (name = "enrollments", description = "Enrolling into courses: self-enrollment, bulk and cohort enrollment, rosters, my learning"),
        (name = "progress", description = "Learner progress: item completion, viewing time, course completion, progress tables and CSV export"),
        (name = "question banks", description = "Question banks, categories and versioned questions of every kind (instructors and tenant admins)"),
        (name = "quizzes", description = "Quiz settings, attempts with frozen questions and deadlines, autosaved answers, grading by rule, plugin and person, the grading queue"),
        (name = "assignments", description = "Assignment settings with rubrics and late policies, text and file submissions, grading with feedback and inline comments, grade release, the graders' queue"),
        (name = "gradebook", description = "Scores per learner and assessment, weighted course grades, the learner's own grades, CSV export"),
        (name = "cohorts", description = "Groups of learners enrolled together (tenant admins and corporate managers)"),
        (name = "plugins", description = "The plugin registry: uploads, installs, capability grants, signatures, the first-party catalog, grading and invocation records (tenant admins; grading also instructors)"),
        (name = "tenant", description = "The current tenant's branding and settings"),
        (name = "audit", description = "The audit trail"),
        (name = "operator", description = "Platform operator: tenants, domains, signing keys"),
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

/// The responses every operation of a kind can answer, whatever its handler does: declared once
/// here as components instead of in each route's annotation.
const SHARED_RESPONSES: &[(&str, &str, &str)] = &[
    (
        "400",
        "BadRequest",
        "The request does not parse: a body that is not JSON (`malformed_json`), a path or query \
         parameter of the wrong type (`invalid_path_parameter`, `invalid_query`)",
    ),
    (
        "401",
        "Unauthorized",
        "No valid credentials: a missing, expired or revoked token, or a token of another tenant",
    ),
    (
        "415",
        "UnsupportedMediaType",
        "The body is not of the operation's media type (`unsupported_media_type`)",
    ),
    (
        "422",
        "ValidationFailed",
        "The body or a query parameter breaks a rule (`validation_failed`, unknown fields \
         included); `errors` names each field",
    ),
];

/// Adds the shared responses to every operation they apply to, unless its annotation declares
/// that status itself: 400 where there is a parameter or a body to parse, 415 and 422 where
/// there is a body, 422 where a page size is bounded, 401 where credentials are required.
pub fn add_shared_responses(openapi: &mut utoipa::openapi::OpenApi) {
    let components = openapi.components.get_or_insert_with(Default::default);
    for (_, name, description) in SHARED_RESPONSES {
        components.responses.insert(
            (*name).to_owned(),
            RefOr::T(
                ResponseBuilder::new()
                    .description(*description)
                    .content(
                        "application/problem+json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name(
                                <Problem as utoipa::ToSchema>::name(),
                            )))
                            .build(),
                    )
                    .build(),
            ),
        );
    }
    if !components.schemas.contains_key("Problem") {
        components
            .schemas
            .insert("Problem".to_owned(), <Problem as PartialSchema>::schema());
    }
    for item in openapi.paths.paths.values_mut() {
        for operation in operations_mut(item) {
            let has_body = operation.request_body.is_some();
            let parameters = operation.parameters.as_deref().unwrap_or_default();
            let has_parameters = parameters
                .iter()
                .any(|p| matches!(p.parameter_in, ParameterIn::Path | ParameterIn::Query));
            let has_page_size = parameters
                .iter()
                .any(|p| p.name == "limit" && matches!(p.parameter_in, ParameterIn::Query));
            let authenticated = operation.security.as_ref().is_some_and(|s| !s.is_empty());
            let applies = |status: &str| match status {
                "400" => has_body || has_parameters,
                "401" => authenticated,
                "415" => has_body,
                "422" => has_body || has_page_size,
                _ => false,
            };
            for (status, name, _) in SHARED_RESPONSES {
                if applies(status) && !operation.responses.responses.contains_key(*status) {
                    operation.responses.responses.insert(
                        (*status).to_owned(),
                        RefOr::Ref(Ref::new(format!("#/components/responses/{name}"))),
                    );
                }
            }
        }
    }
}

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

    #[test]
    fn the_api_has_no_schema_name_clash() {
        document().expect("document");
    }
}
