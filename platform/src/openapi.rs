//! The OpenAPI 3.1 document, assembled from every feature router's annotated handlers.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

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

/// The document as pretty JSON (what `lms openapi` prints and the repository commits).
pub fn document_json() -> anyhow::Result<String> {
    let (_, api) = crate::app::routes().split_for_parts();
    Ok(api.to_pretty_json()? + "\n")
}
