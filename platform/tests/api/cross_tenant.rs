//! The black-box cross-tenant suite. Tenant A's credentials, ids and emailed tokens must never
//! reach tenant B's data, and no answer to A may name anything of B's.
//!
//! Every tenant-scoped endpoint belongs in [`suite`]; everything else in the OpenAPI document is
//! in [`EXCLUDED`] with the reason. `every_endpoint_is_covered_or_excluded` fails for an endpoint
//! in neither, so a new endpoint cannot ship without a cross-tenant check.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    AssignmentIds, PASSWORD, QuizIds, Reply, TestApp, TestTenant, paths, seed_assignment, seed_quiz,
};

/// The two tenants and the secrets of A's that the suite tries on B.
struct Fixture {
    a: TestTenant,
    b: TestTenant,
    /// A live password-reset token of A's learner.
    a_reset_token: String,
    /// A live invitation token of an invited (not yet active) user of A.
    a_invitation_token: String,
    /// A draft course of each tenant with one module holding one item.
    a_course: CourseIds,
    b_course: CourseIds,
    /// A cohort of each tenant with its learner as member.
    a_cohort: String,
    b_cohort: String,
    /// An installed, enabled plugin of each tenant (named for it), and a trusted publisher key.
    a_plugin: PluginIds,
    b_plugin: PluginIds,
    /// An upload body for A's registry.
    a_plugin_upload: Value,
    /// A shared question bank of each tenant with a category and a question, and an attempt of
    /// the tenant's learner at a quiz asking it.
    a_quiz: QuizIds,
    b_quiz: QuizIds,
    /// A published course of each tenant with an assignment and a submission with a file.
    a_assignment: AssignmentIds,
    b_assignment: AssignmentIds,
    /// A dead job of each tenant (re-runnable by its admin).
    a_job: String,
    b_job: String,
    /// A domain event of each tenant.
    a_event: String,
    b_event: String,
    /// A webhook endpoint of each tenant with a finished delivery of that event.
    a_webhook: WebhookIds,
    b_webhook: WebhookIds,
    /// A notification of each tenant's admin.
    a_notification: String,
    b_notification: String,
    /// A CSV import of each tenant (a dry run naming the tenant's learner).
    a_import: String,
    b_import: String,
    /// A live MFA login challenge of A's learner (enrolled), and that learner's authenticator.
    a_mfa_challenge: String,
    a_authenticator: crate::helpers::Authenticator,
    /// An SSO connection and a claimed email domain of each tenant.
    a_sso: SsoIds,
    b_sso: SsoIds,
    /// A live SCIM token of A's.
    a_scim_token: String,
}

/// An SSO connection and an email domain routed to it.
#[derive(Clone)]
struct SsoIds {
    connection: String,
    domain: String,
}

/// A webhook endpoint and one of its deliveries.
#[derive(Clone)]
struct WebhookIds {
    endpoint: String,
    delivery: String,
}

/// The names and ids a plugin path can carry.
#[derive(Clone)]
struct PluginIds {
    name: String,
    version: String,
    key: String,
}

/// The ids a course path can name.
#[derive(Clone)]
struct CourseIds {
    course: String,
    module: String,
    item: String,
    /// An instructor of the course (its owner, the tenant's admin).
    instructor: String,
}

/// What fills a path template's placeholders.
struct PathIds<'a> {
    id: &'a str,
    module_id: &'a str,
    item_id: &'a str,
    user_id: &'a str,
    name: &'a str,
    version: &'a str,
    category_id: &'a str,
    file_id: &'a str,
}

impl<'a> PathIds<'a> {
    fn only(id: &'a str) -> Self {
        Self {
            id,
            module_id: id,
            item_id: id,
            user_id: id,
            name: id,
            version: id,
            category_id: id,
            file_id: id,
        }
    }

    fn bank(q: &'a QuizIds) -> Self {
        Self {
            category_id: &q.category,
            ..Self::only(&q.bank)
        }
    }

    fn plugin(p: &'a PluginIds) -> Self {
        Self {
            id: &p.key,
            module_id: &p.key,
            item_id: &p.key,
            user_id: &p.key,
            name: &p.name,
            version: &p.version,
            category_id: &p.key,
            file_id: &p.key,
        }
    }

    fn course(c: &'a CourseIds) -> Self {
        Self {
            id: &c.course,
            module_id: &c.module,
            item_id: &c.item,
            user_id: &c.instructor,
            name: &c.course,
            version: &c.course,
            category_id: &c.course,
            file_id: &c.course,
        }
    }

    fn submission(a: &'a AssignmentIds) -> Self {
        Self {
            file_id: &a.file,
            ..Self::only(&a.submission)
        }
    }
}

/// How the call authenticates.
#[derive(Clone, Copy, Debug)]
enum Credential {
    /// A's tenant admin's access token as `Authorization: Bearer`.
    AdminBearer,
    /// None in headers (the endpoint is public or its secret travels in the body).
    None,
    /// A's SCIM token as `Authorization: Bearer` (it names tenant A).
    ScimBearer,
}

/// One tenant-scoped endpoint and what it must answer when used across tenants.
struct Endpoint {
    method: Method,
    /// The OpenAPI path template.
    path: &'static str,
    credential: Credential,
    body: Option<fn(&Fixture) -> Value>,
    /// On A's host, with B's ids in the path. `None` when the path takes no id.
    foreign_id: Option<StatusCode>,
    /// On B's host (by `X-Tenant`, by subdomain, and by subdomain contradicting `X-Tenant: a`),
    /// with A's credentials and secrets.
    other_tenant: StatusCode,
    /// Answers with the addressed tenant's public profile (slug and name), which anyone may read.
    public_profile: bool,
}

fn suite() -> Vec<Endpoint> {
    use Credential::{AdminBearer, None as Public, ScimBearer};
    let ep = |method: Method,
              path: &'static str,
              credential: Credential,
              body: Option<fn(&Fixture) -> Value>,
              foreign_id: Option<StatusCode>,
              other_tenant: StatusCode| Endpoint {
        method,
        path,
        credential,
        body,
        foreign_id,
        other_tenant,
        public_profile: false,
    };
    vec![
        // SCIM tokens (tenant admins) and the SCIM endpoints (A's SCIM token): B's ids are unknown
        // on A; A's token addressed to B by host or header is refused.
        ep(
            Method::GET,
            "/api/v1/scim/tokens",
            AdminBearer,
            None,
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/scim/tokens",
            AdminBearer,
            None,
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/scim/tokens/{id}/rotate",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::DELETE,
            "/api/v1/scim/tokens/{id}",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/scim/v2/ServiceProviderConfig",
            ScimBearer,
            None,
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/scim/v2/ResourceTypes",
            ScimBearer,
            None,
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/scim/v2/ResourceTypes/{id}",
            ScimBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/scim/v2/Schemas",
            ScimBearer,
            None,
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/scim/v2/Schemas/{id}",
            ScimBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/scim/v2/Users",
            ScimBearer,
            None,
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/scim/v2/Users",
            ScimBearer,
            Some(|_| json!({ "userName": "intruder@a.example", "active": true })),
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/scim/v2/Users/{id}",
            ScimBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::PUT,
            "/scim/v2/Users/{id}",
            ScimBearer,
            Some(|_| json!({ "userName": "intruder@a.example", "active": false })),
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::PATCH,
            "/scim/v2/Users/{id}",
            ScimBearer,
            Some(|_| {
                json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{ "op": "replace", "path": "active", "value": false }] })
            }),
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::DELETE,
            "/scim/v2/Users/{id}",
            ScimBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/scim/v2/Groups",
            ScimBearer,
            None,
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/scim/v2/Groups",
            ScimBearer,
            Some(
                |fx| json!({ "displayName": "Intruders", "members": [{ "value": fx.b.learner.id }] }),
            ),
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/scim/v2/Groups/{id}",
            ScimBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::PUT,
            "/scim/v2/Groups/{id}",
            ScimBearer,
            Some(
                |fx| json!({ "displayName": "Taken over", "members": [{ "value": fx.a.learner.id }] }),
            ),
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::PATCH,
            "/scim/v2/Groups/{id}",
            ScimBearer,
            Some(|fx| {
                json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{ "op": "add", "path": "members", "value": [{ "value": fx.a.learner.id }] }] })
            }),
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::DELETE,
            "/scim/v2/Groups/{id}",
            ScimBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        // Notifications: the caller's own; B's notification ids are unknown on A.
        ep(
            Method::GET,
            "/api/v1/notifications",
            AdminBearer,
            None,
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/notifications/unread-count",
            AdminBearer,
            None,
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/notifications/{id}/read",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/notifications/read-all",
            AdminBearer,
            None,
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/notifications/preferences",
            AdminBearer,
            None,
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::PUT,
            "/api/v1/notifications/preferences",
            AdminBearer,
            Some(
                |_| json!({ "types": [{ "type": "course.completed", "in_app": false, "email": true }] }),
            ),
            None,
            StatusCode::UNAUTHORIZED,
        ),
        // Refused before the stream opens (a stream of A's own is tested in notifications.rs).
        ep(
            Method::GET,
            "/api/v1/notifications/stream",
            AdminBearer,
            None,
            None,
            StatusCode::UNAUTHORIZED,
        ),
        // Domain events.
        ep(
            Method::GET,
            "/api/v1/events",
            AdminBearer,
            None,
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/events/{id}",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        // Webhooks.
        ep(
            Method::GET,
            "/api/v1/webhooks/endpoints",
            AdminBearer,
            None,
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/webhooks/endpoints",
            AdminBearer,
            Some(|_| json!({ "url": "https://hooks.example.invalid/intruder" })),
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/webhooks/endpoints/{id}",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::PATCH,
            "/api/v1/webhooks/endpoints/{id}",
            AdminBearer,
            Some(
                |_| json!({ "description": "changed by A", "url": "https://hooks.example.invalid/a" }),
            ),
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::DELETE,
            "/api/v1/webhooks/endpoints/{id}",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/webhooks/endpoints/{id}/rotate-secret",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/webhooks/endpoints/{id}/deliveries",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/webhooks/deliveries/{id}",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/webhooks/deliveries/{id}/redeliver",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        // Bulk CSV imports (bodies are CSV: without one, the credentials are refused first).
        ep(
            Method::GET,
            "/api/v1/imports",
            AdminBearer,
            None,
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/imports/users",
            AdminBearer,
            None,
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/imports/enrollments",
            AdminBearer,
            None,
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/imports/{id}",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/imports/{id}/rows",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/imports/{id}/errors.csv",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        // Background jobs.
        ep(
            Method::GET,
            "/api/v1/jobs",
            AdminBearer,
            None,
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/jobs/{id}",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/jobs/{id}/rerun",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        // Audit trail.
        ep(
            Method::GET,
            "/api/v1/audit-events",
            AdminBearer,
            None,
            None,
            StatusCode::UNAUTHORIZED,
        ),
        // Sessions: A's access token is bound to A (audience), A's refresh token is unknown to B.
        ep(
            Method::GET,
            "/api/v1/auth/me",
            AdminBearer,
            None,
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/auth/password",
            AdminBearer,
            Some(
                |_| json!({ "current_password": PASSWORD, "new_password": "a whole new password" }),
            ),
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/auth/refresh",
            Public,
            Some(|fx| json!({ "refresh_token": fx.a.admin.refresh_token })),
            None,
            StatusCode::UNAUTHORIZED,
        ),
        // Logout is idempotent (204 for unknown tokens); the final checks prove A's session lives.
        ep(
            Method::POST,
            "/api/v1/auth/logout",
            Public,
            Some(|fx| json!({ "refresh_token": fx.a.admin.refresh_token })),
            None,
            StatusCode::NO_CONTENT,
        ),
        // A's email and password are no account in B.
        ep(
            Method::POST,
            "/api/v1/auth/login",
            Public,
            Some(|fx| json!({ "email": fx.a.admin.email, "password": PASSWORD })),
            None,
            StatusCode::UNAUTHORIZED,
        ),
        // Always 202 (no account enumeration); the final checks prove no email was queued.
        ep(
            Method::POST,
            "/api/v1/auth/password-reset",
            Public,
            Some(|fx| json!({ "email": fx.a.learner.email })),
            None,
            StatusCode::ACCEPTED,
        ),
        // Emailed secrets of A are unknown to B.
        ep(
            Method::POST,
            "/api/v1/auth/password-reset/confirm",
            Public,
            Some(|fx| json!({ "token": fx.a_reset_token, "new_password": "taken over by b" })),
            None,
            StatusCode::BAD_REQUEST,
        ),
        ep(
            Method::POST,
            "/api/v1/auth/invitations/accept",
            Public,
            Some(|fx| json!({ "token": fx.a_invitation_token, "password": PASSWORD })),
            None,
            StatusCode::BAD_REQUEST,
        ),
        // The tenant profile: public reads answer the addressed tenant; writes need its token.
        Endpoint {
            public_profile: true,
            ..ep(
                Method::GET,
                "/api/v1/tenant",
                AdminBearer,
                None,
                None,
                StatusCode::OK,
            )
        },
        ep(
            Method::PATCH,
            "/api/v1/tenant",
            AdminBearer,
            Some(
                |_| json!({ "display_name": "Owned by A", "branding": { "primary_color": "#ff0000" } }),
            ),
            None,
            StatusCode::UNAUTHORIZED,
        ),
        // Course authoring: A's admin, B's course, module, item and instructor ids.
        ep(
            Method::GET,
            "/api/v1/courses",
            AdminBearer,
            None,
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/courses",
            AdminBearer,
            Some(|_| json!({ "slug": "intruder", "title": "Intruder" })),
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/courses/{id}",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::PATCH,
            "/api/v1/courses/{id}",
            AdminBearer,
            Some(|_| json!({ "title": "Owned by A" })),
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::DELETE,
            "/api/v1/courses/{id}",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/courses/{id}/status",
            AdminBearer,
            Some(|_| json!({ "status": "published" })),
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/courses/{id}/clone",
            AdminBearer,
            Some(|_| json!({ "slug": "stolen", "title": "Stolen" })),
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/courses/{id}/instructors",
            AdminBearer,
            Some(|fx| json!({ "user_id": fx.b_course.instructor })),
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::DELETE,
            "/api/v1/courses/{id}/instructors/{user_id}",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::PUT,
            "/api/v1/courses/{id}/prerequisites",
            AdminBearer,
            Some(|fx| json!({ "course_ids": [fx.b_course.course] })),
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/courses/{id}/modules",
            AdminBearer,
            Some(|_| json!({ "title": "Injected" })),
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::PUT,
            "/api/v1/courses/{id}/modules/order",
            AdminBearer,
            Some(|fx| json!({ "module_ids": [fx.b_course.module] })),
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::PATCH,
            "/api/v1/courses/{id}/modules/{module_id}",
            AdminBearer,
            Some(|_| json!({ "title": "Renamed by A" })),
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::DELETE,
            "/api/v1/courses/{id}/modules/{module_id}",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/courses/{id}/modules/{module_id}/items",
            AdminBearer,
            Some(|_| json!({ "kind": "text", "title": "Injected", "body": "by A" })),
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::PUT,
            "/api/v1/courses/{id}/modules/{module_id}/items/order",
            AdminBearer,
            Some(|fx| json!({ "item_ids": [fx.b_course.item] })),
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::PATCH,
            "/api/v1/courses/{id}/modules/{module_id}/items/{item_id}",
            AdminBearer,
            Some(|_| json!({ "title": "Renamed by A" })),
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::DELETE,
            "/api/v1/courses/{id}/modules/{module_id}/items/{item_id}",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        // Catalog and enrollment: B's (draft) course is unknown on A, by id and in bodies.
        ep(
            Method::GET,
            "/api/v1/catalog",
            AdminBearer,
            None,
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/catalog/{id}",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/courses/{id}/enrollment",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/courses/{id}/enrollments",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/courses/{id}/enrollments",
            AdminBearer,
            Some(|fx| json!({ "user_ids": [fx.b.learner.id] })),
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::DELETE,
            "/api/v1/courses/{id}/enrollments/{user_id}",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/courses/{id}/cohort-enrollments",
            AdminBearer,
            Some(|fx| json!({ "cohort_id": fx.b_cohort })),
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/courses/{id}/team-enrollments",
            AdminBearer,
            Some(|fx| json!({ "user_ids": [fx.b.learner.id] })),
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/me/enrollments",
            AdminBearer,
            None,
            None,
            StatusCode::UNAUTHORIZED,
        ),
        // Progress: B's course and item ids are unknown on A.
        ep(
            Method::PUT,
            "/api/v1/courses/{id}/items/{item_id}/progress",
            AdminBearer,
            Some(|_| json!({ "complete": true })),
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/courses/{id}/progress/me",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/courses/{id}/progress",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/courses/{id}/progress.csv",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        // Cohorts: B's cohort id is unknown on A.
        ep(
            Method::GET,
            "/api/v1/cohorts",
            AdminBearer,
            None,
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/cohorts",
            AdminBearer,
            Some(|_| json!({ "name": "Intruders" })),
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/cohorts/{id}",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::PATCH,
            "/api/v1/cohorts/{id}",
            AdminBearer,
            Some(|_| json!({ "name": "Renamed by A" })),
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::DELETE,
            "/api/v1/cohorts/{id}",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/cohorts/{id}/members",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/cohorts/{id}/members",
            AdminBearer,
            Some(|fx| json!({ "user_ids": [fx.a.learner.id] })),
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::DELETE,
            "/api/v1/cohorts/{id}/members",
            AdminBearer,
            Some(|fx| json!({ "user_ids": [fx.b.learner.id] })),
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/cohorts/{id}/managers",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/cohorts/{id}/managers",
            AdminBearer,
            Some(|fx| json!({ "user_id": fx.b.admin.id })),
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::DELETE,
            "/api/v1/cohorts/{id}/managers/{user_id}",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        // Team reports: B's cohorts and learners never appear on A.
        ep(
            Method::GET,
            "/api/v1/reports/team",
            AdminBearer,
            None,
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/reports/team.csv",
            AdminBearer,
            None,
            None,
            StatusCode::UNAUTHORIZED,
        ),
        // The plugin registry: B's plugin names, versions and keys are unknown on A.
        ep(
            Method::GET,
            "/api/v1/plugins",
            AdminBearer,
            None,
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/plugins",
            AdminBearer,
            Some(|fx| fx.a_plugin_upload.clone()),
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/plugins/{name}",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/plugins/{name}/versions",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/plugins/{name}/versions/{version}",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/plugins/{name}/versions/{version}/install",
            AdminBearer,
            Some(|_| json!({ "granted_capabilities": ["log"] })),
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/plugins/{name}/enable",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/plugins/{name}/disable",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/plugins/{name}/rollback",
            AdminBearer,
            Some(|_| json!({ "version": "0.0.1" })),
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/plugins/{name}/settings",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::PUT,
            "/api/v1/plugins/{name}/settings",
            AdminBearer,
            Some(|_| json!({ "settings": {}, "secrets": { "token": "x" } })),
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/plugins/{name}/grade",
            AdminBearer,
            Some(
                |_| json!({ "question_kind": "numeric", "prompt": "", "config": { "answer": 1.0 }, "max_points": 1.0, "response_text": "1" }),
            ),
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/plugin-registry",
            AdminBearer,
            None,
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::PUT,
            "/api/v1/plugin-registry",
            AdminBearer,
            Some(|_| json!({ "require_signatures": true })),
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/plugin-registry/publisher-keys",
            AdminBearer,
            None,
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/plugin-registry/publisher-keys",
            AdminBearer,
            Some(
                |_| json!({ "name": "Intruder", "public_key": "O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik=" }),
            ),
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::DELETE,
            "/api/v1/plugin-registry/publisher-keys/{id}",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        // The catalog is platform-wide; a tenant's own plugin name is not in it.
        ep(
            Method::GET,
            "/api/v1/plugin-catalog",
            AdminBearer,
            None,
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/plugin-catalog/{name}/install",
            AdminBearer,
            Some(|_| json!({ "granted_capabilities": ["log"] })),
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/plugin-invocations",
            AdminBearer,
            None,
            None,
            StatusCode::UNAUTHORIZED,
        ),
        // Question banks and quizzes: B's banks, categories, questions and attempts are unknown
        // on A, and A's admin is nobody on B.
        ep(
            Method::GET,
            "/api/v1/question-banks",
            AdminBearer,
            None,
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/question-banks",
            AdminBearer,
            Some(|_| json!({ "title": "Intruder bank" })),
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/question-banks/{id}",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::PATCH,
            "/api/v1/question-banks/{id}",
            AdminBearer,
            Some(|_| json!({ "title": "Renamed by A" })),
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::DELETE,
            "/api/v1/question-banks/{id}",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/question-banks/{id}/categories",
            AdminBearer,
            Some(|_| json!({ "name": "Added by A" })),
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::DELETE,
            "/api/v1/question-banks/{id}/categories/{category_id}",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/question-banks/{id}/questions",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/question-banks/{id}/questions",
            AdminBearer,
            Some(
                |_| json!({ "prompt": "Planted", "points": 1, "spec": { "type": "true_false", "correct": true } }),
            ),
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/questions/{id}",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::PUT,
            "/api/v1/questions/{id}",
            AdminBearer,
            Some(
                |_| json!({ "prompt": "Edited by A", "points": 1, "spec": { "type": "true_false", "correct": false } }),
            ),
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::DELETE,
            "/api/v1/questions/{id}",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/questions/{id}/versions",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/courses/{id}/items/{item_id}/quiz",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::PUT,
            "/api/v1/courses/{id}/items/{item_id}/quiz",
            AdminBearer,
            Some(|fx| json!({ "questions": [{ "question_id": fx.b_quiz.question }] })),
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/courses/{id}/items/{item_id}/quiz/attempts",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/courses/{id}/items/{item_id}/quiz/attempts",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/quiz-attempts/{id}",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::PUT,
            "/api/v1/quiz-attempts/{id}/answers/{position}",
            AdminBearer,
            Some(|_| json!({ "answer": { "value": false } })),
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/quiz-attempts/{id}/submit",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/quiz-attempts/{id}/answers/{position}/grade",
            AdminBearer,
            Some(|_| json!({ "points": 1 })),
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/grading-queue",
            AdminBearer,
            None,
            None,
            StatusCode::UNAUTHORIZED,
        ),
        // Assignments and the gradebook: B's courses, items and submissions are unknown on A.
        ep(
            Method::GET,
            "/api/v1/courses/{id}/items/{item_id}/assignment",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::PUT,
            "/api/v1/courses/{id}/items/{item_id}/assignment",
            AdminBearer,
            Some(|_| json!({ "points": 10 })),
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/courses/{id}/items/{item_id}/assignment/submissions",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/courses/{id}/items/{item_id}/assignment/submissions",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/courses/{id}/items/{item_id}/assignment/release",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/assignment-submissions",
            AdminBearer,
            None,
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/assignment-submissions/{id}",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::PUT,
            "/api/v1/assignment-submissions/{id}/grade",
            AdminBearer,
            Some(|_| json!({ "points": 1 })),
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/assignment-submissions/{id}/files/{file_id}",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/courses/{id}/gradebook",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/courses/{id}/gradebook.csv",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/courses/{id}/gradebook/me",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/courses/{id}/gradebook/settings",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::PUT,
            "/api/v1/courses/{id}/gradebook/settings",
            AdminBearer,
            Some(|fx| json!({ "items": [{ "item_id": fx.b_assignment.item }] })),
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        // Multi-factor authentication: A's tokens are unknown on B, and so is A's challenge.
        ep(
            Method::GET,
            "/api/v1/auth/mfa",
            AdminBearer,
            None,
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/auth/mfa/enrollment",
            AdminBearer,
            None,
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/auth/mfa/enrollment/confirm",
            AdminBearer,
            Some(|_| json!({ "code": "123456" })),
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/auth/mfa/recovery-codes",
            AdminBearer,
            Some(|_| json!({ "code": "123456" })),
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/auth/mfa/disable",
            AdminBearer,
            Some(|_| json!({ "code": "123456" })),
            None,
            StatusCode::UNAUTHORIZED,
        ),
        // A's challenge with a right code of A's learner: unknown on B (the final checks prove
        // it still works on A).
        ep(
            Method::POST,
            "/api/v1/auth/mfa/verify",
            Public,
            Some(
                |fx| json!({ "challenge": fx.a_mfa_challenge, "code": fx.a_authenticator.code(0) }),
            ),
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/mfa/policy",
            AdminBearer,
            None,
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::PUT,
            "/api/v1/mfa/policy",
            AdminBearer,
            Some(|_| json!({ "required_roles": ["learner"] })),
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/users/{id}/mfa/reset",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        // Single sign-on administration: A's tokens are unknown on B, B's ids unknown on A.
        ep(
            Method::GET,
            "/api/v1/sso/connections",
            AdminBearer,
            None,
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/sso/connections",
            AdminBearer,
            Some(|_| sso_connection_body("intruder")),
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/sso/connections/{id}",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::PUT,
            "/api/v1/sso/connections/{id}",
            AdminBearer,
            Some(|_| sso_connection_body("intruder")),
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::DELETE,
            "/api/v1/sso/connections/{id}",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/sso/domains",
            AdminBearer,
            None,
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/sso/domains",
            AdminBearer,
            Some(
                |fx| json!({ "domain": "intruder.example", "connection_id": fx.a_sso.connection }),
            ),
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::PUT,
            "/api/v1/sso/domains/{id}",
            AdminBearer,
            Some(|fx| json!({ "connection_id": fx.a_sso.connection })),
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::DELETE,
            "/api/v1/sso/domains/{id}",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/sso/domains/{id}/verify",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        // The SSO sign-in: B started no login of A's, and has no code of A's (a real state and
        // code of A's presented to B are in `sso::a_user_of_one_tenants_idp_cannot_sign_in_to_another_tenant`).
        ep(
            Method::GET,
            "/api/v1/auth/sso/start",
            Public,
            None,
            None,
            StatusCode::BAD_REQUEST,
        ),
        ep(
            Method::GET,
            "/api/v1/auth/sso/callback",
            Public,
            None,
            None,
            StatusCode::BAD_REQUEST,
        ),
        ep(
            Method::POST,
            "/api/v1/auth/sso/exchange",
            Public,
            Some(|_| json!({ "code": "not-a-code-of-this-tenant" })),
            None,
            StatusCode::UNAUTHORIZED,
        ),
        // User management.
        ep(
            Method::GET,
            "/api/v1/users",
            AdminBearer,
            None,
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/users/invitations",
            AdminBearer,
            Some(
                |_| json!({ "email": "intruder@evil.example", "display_name": "Intruder", "roles": ["tenant_admin"] }),
            ),
            None,
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::GET,
            "/api/v1/users/{id}",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::PUT,
            "/api/v1/users/{id}/roles",
            AdminBearer,
            Some(|_| json!({ "roles": ["tenant_admin"] })),
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/users/{id}/deactivate",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
        ep(
            Method::POST,
            "/api/v1/users/{id}/reactivate",
            AdminBearer,
            None,
            Some(StatusCode::NOT_FOUND),
            StatusCode::UNAUTHORIZED,
        ),
    ]
}

/// Endpoints outside the suite, each with the reason it needs no cross-tenant check here.
const EXCLUDED: &[(&str, &str, &str)] = &[
    // Probes and platform metadata: no tenant is addressed and no tenant data is returned.
    ("GET", "/healthz", "liveness probe, no tenant"),
    ("GET", "/readyz", "readiness probe, no tenant"),
    (
        "GET",
        "/metrics",
        "Prometheus metrics, labelled by route template only",
    ),
    (
        "GET",
        "/tls/ask",
        "reverse-proxy certificate check: says only whether a host names a tenant (public routing data)",
    ),
    (
        "GET",
        "/.well-known/jwks.json",
        "platform-wide public signing keys; tenant binding is the token's audience, tested above",
    ),
    // Registration creates a fresh account in the addressed tenant and takes no credential or id
    // of any other tenant; that the same email in two tenants stays two accounts is tested in
    // `the_same_email_in_two_tenants_is_two_separate_accounts`.
    (
        "POST",
        "/api/v1/auth/register",
        "no foreign credential or id",
    ),
    // The platform operator works across tenants by design, with the operator credential (which a
    // tenant admin's token is not: see operator.rs).
    (
        "POST",
        "/api/v1/operator/tenants",
        "operator, cross-tenant by design",
    ),
    (
        "GET",
        "/api/v1/operator/jobs",
        "operator, cross-tenant by design",
    ),
    (
        "GET",
        "/api/v1/operator/jobs/{tenant_id}/{id}",
        "operator, cross-tenant by design",
    ),
    (
        "POST",
        "/api/v1/operator/jobs/{tenant_id}/{id}/rerun",
        "operator, cross-tenant by design",
    ),
    (
        "GET",
        "/api/v1/operator/tenants",
        "operator, cross-tenant by design",
    ),
    (
        "GET",
        "/api/v1/operator/tenants/{id}",
        "operator, cross-tenant by design",
    ),
    (
        "POST",
        "/api/v1/operator/tenants/{id}/suspend",
        "operator, cross-tenant by design",
    ),
    (
        "POST",
        "/api/v1/operator/tenants/{id}/resume",
        "operator, cross-tenant by design",
    ),
    (
        "POST",
        "/api/v1/operator/tenants/{id}/domains",
        "operator, cross-tenant by design",
    ),
    (
        "DELETE",
        "/api/v1/operator/tenants/{id}/domains/{domain}",
        "operator, cross-tenant by design",
    ),
    (
        "POST",
        "/api/v1/operator/tenants/{id}/invitations",
        "operator, cross-tenant by design",
    ),
    (
        "POST",
        "/api/v1/operator/signing-keys/rotate",
        "operator, platform-wide keys",
    ),
];

/// Everything that identifies tenant B: none of it may appear in an answer to A.
fn identifiers_of(tenant: &TestTenant) -> Vec<String> {
    vec![
        tenant.id.clone(),
        tenant.admin.id.clone(),
        tenant.learner.id.clone(),
        tenant.admin.email.clone(),
        tenant.learner.email.clone(),
        format!("{}.example", tenant.slug),
        format!("{}.lms.test", tenant.slug),
        format!("\"{}\"", tenant.slug),
        format!("Tenant {}", tenant.slug),
    ]
}

#[track_caller]
fn assert_no_identifiers(reply: &Reply, forbidden: &[String], context: &str) {
    for needle in forbidden {
        assert!(
            !reply.text.contains(needle.as_str()),
            "{context}: the answer names {needle:?} of the other tenant: {}",
            reply.text
        );
    }
}

/// Where a call is addressed.
#[derive(Clone, Copy, Debug)]
enum Address<'a> {
    /// `X-Tenant: slug`.
    Header(&'a str),
    /// `Host: slug.lms.test`.
    Subdomain(&'a str),
    /// `Host: host_slug.lms.test` with a contradicting `X-Tenant: header_slug` (the host wins).
    SubdomainOverHeader(&'a str, &'a str),
}

async fn call(
    app: &TestApp,
    fx: &Fixture,
    ep: &Endpoint,
    ids: &PathIds<'_>,
    to: Address<'_>,
) -> Reply {
    let path = ep
        .path
        .replace("{id}", ids.id)
        .replace("{module_id}", ids.module_id)
        .replace("{item_id}", ids.item_id)
        .replace("{user_id}", ids.user_id)
        .replace("{name}", ids.name)
        .replace("{version}", ids.version)
        .replace("{category_id}", ids.category_id)
        .replace("{file_id}", ids.file_id)
        .replace("{position}", "0");
    let mut request = app.call(ep.method.clone(), &path);
    request = match to {
        Address::Header(slug) => request.tenant(slug),
        Address::Subdomain(slug) => request.host(&format!("{slug}.lms.test")),
        Address::SubdomainOverHeader(host, header) => {
            request.host(&format!("{host}.lms.test")).tenant(header)
        }
    };
    match ep.credential {
        Credential::AdminBearer => request = request.bearer(&fx.a.admin.access_token),
        Credential::ScimBearer => request = request.bearer(&fx.a_scim_token),
        Credential::None => {}
    }
    if let Some(body) = ep.body {
        request = request.json(body(fx));
    }
    request.send().await
}

async fn outbox_count(app: &TestApp, recipient: &str) -> i64 {
    let mut su = app.db.superuser().await;
    sqlx::query_scalar(
        "select count(*) from jobs where kind = 'email.send' and payload->>'to' = $1",
    )
    .bind(recipient)
    .fetch_one(&mut su)
    .await
    .expect("outbox count")
}

async fn fixture(app: &TestApp) -> Fixture {
    let a = app.seed_tenant("a").await;
    let b = app.seed_tenant("b").await;
    app.post("/api/v1/auth/password-reset")
        .tenant("a")
        .json(json!({ "email": a.learner.email }))
        .send()
        .await
        .assert_status(StatusCode::ACCEPTED);
    let a_reset_token = app.token_from_last_email(&a.learner.email).await;
    let invitee = "invitee@a.example";
    app.post("/api/v1/users/invitations")
        .tenant("a")
        .bearer(&a.admin.access_token)
        .json(json!({ "email": invitee, "display_name": "Invitee", "roles": ["learner"] }))
        .send()
        .await
        .assert_status(StatusCode::CREATED);
    let a_invitation_token = app.token_from_last_email(invitee).await;
    let a_course = seed_course(app, &a).await;
    let b_course = seed_course(app, &b).await;
    let a_cohort = seed_cohort(app, &a).await;
    let b_cohort = seed_cohort(app, &b).await;
    let a_plugin = seed_plugin(app, &a, "1.0.0").await;
    // B's version differs from A's, so A's plugin with B's version is unknown too.
    let b_plugin = seed_plugin(app, &b, "2.0.0").await;
    let a_plugin_upload = crate::helpers::plugin_upload(
        "intruder-plugin",
        "1.0.0",
        &crate::helpers::plugin_wasm("numeric_grader"),
    );
    let a_quiz = seed_quiz(app, &a).await;
    let b_quiz = seed_quiz(app, &b).await;
    let a_assignment = seed_assignment(app, &a).await;
    let b_assignment = seed_assignment(app, &b).await;
    let a_job = seed_dead_job(app, &a).await;
    let b_job = seed_dead_job(app, &b).await;
    let a_event = any_event(app, &a).await;
    let b_event = any_event(app, &b).await;
    let a_webhook = seed_webhook(app, &a, &a_event).await;
    let b_webhook = seed_webhook(app, &b, &b_event).await;
    let a_notification = seed_notification(app, &a).await;
    let b_notification = seed_notification(app, &b).await;
    let a_import = seed_import(app, &a).await;
    let b_import = seed_import(app, &b).await;
    let a_authenticator = app.enroll_mfa("a", &a.learner).await.authenticator;
    let a_mfa_challenge = app.mfa_challenge("a", &a.learner.email).await;
    let a_sso = seed_sso(app, &a).await;
    let b_sso = seed_sso(app, &b).await;
    let a_scim_token = app
        .post("/api/v1/scim/tokens")
        .tenant("a")
        .bearer(&a.admin.access_token)
        .send()
        .await
        .json()["secret"]
        .as_str()
        .expect("SCIM secret")
        .to_owned();
    Fixture {
        a_scim_token,
        a_import,
        b_import,
        a_sso,
        b_sso,
        a_mfa_challenge,
        a_authenticator,
        a_notification,
        b_notification,
        a_event,
        b_event,
        a_webhook,
        b_webhook,
        a_job,
        b_job,
        a_quiz,
        b_quiz,
        a_assignment,
        b_assignment,
        a,
        b,
        a_reset_token,
        a_invitation_token,
        a_course,
        b_course,
        a_cohort,
        b_cohort,
        a_plugin,
        b_plugin,
        a_plugin_upload,
    }
}

/// A dry-run users import of the tenant naming its learner; returns its id.
async fn seed_import(app: &TestApp, t: &TestTenant) -> String {
    let csv = format!("email,name\n{},Renamed\n", t.learner.email);
    let reply = app
        .post("/api/v1/imports/users?dry_run=true")
        .tenant(&t.slug)
        .bearer(&t.admin.access_token)
        .raw(Some("text/csv"), csv.into_bytes())
        .send()
        .await;
    reply.assert_status(StatusCode::ACCEPTED);
    reply.json()["id"].as_str().expect("import id").to_owned()
}

/// An SSO connection's settings (an https issuer the suite never calls).
fn sso_connection_body(name: &str) -> Value {
    json!({
        "name": name,
        "issuer": format!("https://{name}.idp.example"),
        "client_id": format!("{name}-client"),
        "client_secret": "a-client-secret-of-the-suite",
    })
}

/// A connection of the tenant and a claimed (unverified) domain routed to it.
async fn seed_sso(app: &TestApp, t: &TestTenant) -> SsoIds {
    let admin = |method: Method, path: &str| {
        app.call(method, path)
            .tenant(&t.slug)
            .bearer(&t.admin.access_token)
    };
    let connection = admin(Method::POST, "/api/v1/sso/connections")
        .json(sso_connection_body(&format!("{}-corp", t.slug)))
        .send()
        .await;
    connection.assert_status(StatusCode::CREATED);
    let connection = connection.json()["id"].as_str().expect("id").to_owned();
    let domain = admin(Method::POST, "/api/v1/sso/domains")
        .json(json!({ "domain": format!("{}-corp.example", t.slug), "connection_id": connection }))
        .send()
        .await;
    domain.assert_status(StatusCode::CREATED);
    let domain = domain.json()["id"].as_str().expect("id").to_owned();
    SsoIds { connection, domain }
}

/// One of the tenant's domain events (its users' creation, at least).
async fn any_event(app: &TestApp, t: &TestTenant) -> String {
    sqlx::query_scalar("select id::text from domain_events where tenant_id = $1::uuid limit 1")
        .bind(&t.id)
        .fetch_one(&mut app.db.superuser().await)
        .await
        .expect("an event")
}

/// A webhook endpoint of the tenant (whose host never resolves) and a failed delivery of
/// `event` to it.
async fn seed_webhook(app: &TestApp, t: &TestTenant, event: &str) -> WebhookIds {
    let created = app
        .post("/api/v1/webhooks/endpoints")
        .tenant(&t.slug)
        .bearer(&t.admin.access_token)
        .json(json!({ "url": format!("https://hooks-of-{}.example.invalid/events", t.slug) }))
        .send()
        .await;
    created.assert_status(StatusCode::CREATED);
    let endpoint = created.json()["id"].as_str().expect("id").to_owned();
    let delivery = uuid::Uuid::now_v7();
    sqlx::query(
        "insert into webhook_deliveries
             (tenant_id, id, endpoint_id, event_id, event_type, state, attempts, finished_at)
         select tenant_id, $3, $4::uuid, id, kind, 'failed', 8, now()
         from domain_events where tenant_id = $1::uuid and id = $2::uuid",
    )
    .bind(&t.id)
    .bind(event)
    .bind(delivery)
    .bind(&endpoint)
    .execute(&mut app.db.superuser().await)
    .await
    .expect("delivery");
    WebhookIds {
        endpoint,
        delivery: delivery.to_string(),
    }
}

/// An unread notification of the tenant's admin.
async fn seed_notification(app: &TestApp, t: &TestTenant) -> String {
    let id = uuid::Uuid::now_v7();
    sqlx::query(
        "with next as (
             insert into notification_sequences (tenant_id, user_id, last_seq)
             values ($1::uuid, $2::uuid, 1)
             on conflict (tenant_id, user_id)
             do update set last_seq = notification_sequences.last_seq + 1
             returning last_seq)
         insert into notifications (tenant_id, id, user_id, kind, title, seq)
         select $1::uuid, $3, $2::uuid, 'course.completed', 'You completed a course', last_seq
         from next",
    )
    .bind(&t.id)
    .bind(&t.admin.id)
    .bind(id)
    .execute(&mut app.db.superuser().await)
    .await
    .expect("notification");
    id.to_string()
}

/// A job of the tenant's that failed for good.
async fn seed_dead_job(app: &TestApp, t: &TestTenant) -> String {
    let id = uuid::Uuid::now_v7();
    sqlx::query(
        "insert into jobs (tenant_id, id, kind, payload, state, attempts, max_attempts, last_error, finished_at)
         values ($1::uuid, $2, 'email.send', '{}', 'dead', 1, 1, 'refused', now())",
    )
    .bind(&t.id)
    .bind(id)
    .execute(&mut app.db.superuser().await)
    .await
    .expect("dead job");
    id.to_string()
}

/// An installed and enabled plugin named for the tenant, and a trusted publisher key.
async fn seed_plugin(app: &TestApp, t: &TestTenant, version: &str) -> PluginIds {
    let name = format!("grader-of-{}", t.slug);
    let post = |path: String, body: Value| {
        app.post(&path)
            .tenant(&t.slug)
            .bearer(&t.admin.access_token)
            .json(body)
    };
    post(
        "/api/v1/plugins".into(),
        crate::helpers::plugin_upload(
            &name,
            version,
            &crate::helpers::plugin_wasm("numeric_grader"),
        ),
    )
    .send()
    .await
    .assert_status(StatusCode::CREATED);
    post(
        paths::plugin_install(&name, version),
        json!({ "granted_capabilities": ["log"] }),
    )
    .send()
    .await
    .assert_status(StatusCode::OK);
    app.post(&paths::plugin_enable(&name))
        .tenant(&t.slug)
        .bearer(&t.admin.access_token)
        .send()
        .await
        .assert_status(StatusCode::OK);
    let seed = if t.slug == "a" { [1u8; 32] } else { [2u8; 32] };
    let public_key = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(
            ed25519_dalek::SigningKey::from_bytes(&seed)
                .verifying_key()
                .to_bytes(),
        )
    };
    let key = post(
        "/api/v1/plugin-registry/publisher-keys".into(),
        json!({ "name": format!("Publisher of {}", t.slug), "public_key": public_key }),
    )
    .send()
    .await;
    key.assert_status(StatusCode::CREATED);
    PluginIds {
        name,
        version: version.to_owned(),
        key: key.json()["id"].as_str().expect("key id").to_owned(),
    }
}

/// A cohort of the tenant's admin with the tenant's learner in it.
async fn seed_cohort(app: &TestApp, t: &TestTenant) -> String {
    let admin = app.actor(&t.slug, &t.admin);
    let cohort = admin
        .create_cohort(json!({ "name": format!("Cohort of {}", t.slug) }))
        .await;
    admin
        .add_cohort_members(&cohort, json!([t.learner.id]))
        .await;
    cohort.into()
}

/// A draft course of the tenant's admin with one module holding one item.
async fn seed_course(app: &TestApp, t: &TestTenant) -> CourseIds {
    let admin = app.actor(&t.slug, &t.admin);
    let course = admin
        .create_course(
            &format!("{}-course", t.slug),
            json!({ "title": format!("Course of {}", t.slug) }),
        )
        .await;
    let module = admin.add_module(&course, "Module").await;
    let item = admin
        .add_item(
            &course,
            &module,
            json!({ "kind": "text", "title": "Item", "body": "Hello" }),
        )
        .await;
    CourseIds {
        course: course.into(),
        module: module.into(),
        item: item.into(),
        instructor: t.admin.id.clone(),
    }
}

#[tokio::test]
async fn every_tenant_scoped_endpoint_refuses_other_tenants_credentials_and_ids() {
    let app = TestApp::spawn().await;
    let fx = fixture(&app).await;
    let forbidden = identifiers_of(&fx.b);
    let forbidden_public: Vec<String> = forbidden
        .iter()
        .filter(|s| !(s.starts_with('"') || s.starts_with("Tenant ") || s.ends_with(".lms.test")))
        .cloned()
        .collect();
    let a_reset_mails = outbox_count(&app, &fx.a.learner.email).await;

    for ep in suite() {
        let name = format!("{} {}", ep.method, ep.path);

        // (a) A's own host, B's ids in the path: as if they did not exist.
        if let Some(expected) = ep.foreign_id {
            let mut foreign = Vec::new();
            if ep.path.starts_with("/api/v1/cohorts/") || ep.path.starts_with("/scim/v2/Groups/") {
                foreign.push(PathIds::only(&fx.b_cohort));
            } else if ep.path.starts_with("/api/v1/jobs/") {
                foreign.push(PathIds::only(&fx.b_job));
            } else if ep.path.starts_with("/api/v1/imports/") {
                foreign.push(PathIds::only(&fx.b_import));
            } else if ep.path.starts_with("/api/v1/events/") {
                foreign.push(PathIds::only(&fx.b_event));
            } else if ep.path.starts_with("/api/v1/webhooks/endpoints/") {
                foreign.push(PathIds::only(&fx.b_webhook.endpoint));
            } else if ep.path.starts_with("/api/v1/webhooks/deliveries/") {
                foreign.push(PathIds::only(&fx.b_webhook.delivery));
            } else if ep.path.starts_with("/api/v1/notifications/") {
                foreign.push(PathIds::only(&fx.b_notification));
            } else if ep.path.starts_with("/api/v1/question-banks/") {
                // B's bank, and A's own bank with B's category under it.
                foreign.push(PathIds::bank(&fx.b_quiz));
                if ep.path.contains("{category_id}") {
                    foreign.push(PathIds {
                        category_id: &fx.b_quiz.category,
                        ..PathIds::bank(&fx.a_quiz)
                    });
                }
            } else if ep.path.starts_with("/api/v1/questions/") {
                foreign.push(PathIds::only(&fx.b_quiz.question));
            } else if ep.path.starts_with("/api/v1/quiz-attempts/") {
                foreign.push(PathIds::only(&fx.b_quiz.attempt));
            } else if ep.path.starts_with("/api/v1/assignment-submissions/") {
                // B's submission, and A's own submission with B's file under it.
                foreign.push(PathIds::submission(&fx.b_assignment));
                if ep.path.contains("{file_id}") {
                    foreign.push(PathIds {
                        file_id: &fx.b_assignment.file,
                        ..PathIds::submission(&fx.a_assignment)
                    });
                }
            } else if ep.path.starts_with("/api/v1/courses/")
                || ep.path.starts_with("/api/v1/catalog/")
            {
                // B's course, and A's own course with B's module, item or instructor under it.
                foreign.push(PathIds::course(&fx.b_course));
                foreign.push(PathIds {
                    id: &fx.a_course.course,
                    ..PathIds::course(&fx.b_course)
                });
                foreign.push(PathIds {
                    id: &fx.a_course.course,
                    module_id: &fx.a_course.module,
                    ..PathIds::course(&fx.b_course)
                });
                foreign.retain(|ids| {
                    ids.id != fx.a_course.course
                        || (ep.path.contains("{module_id}") && ids.module_id != fx.a_course.module)
                        || ep.path.contains("{item_id}")
                        || ep.path.contains("{user_id}")
                });
            } else if ep.path.starts_with("/api/v1/sso/connections/") {
                foreign.push(PathIds::only(&fx.b_sso.connection));
            } else if ep.path.starts_with("/api/v1/sso/domains/") {
                foreign.push(PathIds::only(&fx.b_sso.domain));
            } else if ep.path.starts_with("/api/v1/plugin") {
                // B's plugin and key; and A's plugin with B's version where the path has one.
                foreign.push(PathIds::plugin(&fx.b_plugin));
                if ep.path.contains("{version}") {
                    foreign.push(PathIds {
                        name: &fx.a_plugin.name,
                        ..PathIds::plugin(&fx.b_plugin)
                    });
                }
            } else {
                foreign.extend(
                    [&fx.b.learner.id, &fx.b.admin.id, &fx.b.id].map(|id| PathIds::only(id)),
                );
            }
            for ids in &foreign {
                let reply = call(&app, &fx, &ep, ids, Address::Header("a")).await;
                let b_id = ids.id;
                assert_eq!(
                    reply.status, expected,
                    "{name} on A with B's id {b_id} (module {}, item {}, user {}): {}",
                    ids.module_id, ids.item_id, ids.user_id, reply.text
                );
                assert_no_identifiers(&reply, &forbidden, &format!("{name} on A with B's id"));
            }
        }

        // (b) B's host with A's credentials (and with A's or B's ids where the path has one).
        let ids = if ep.path.starts_with("/api/v1/cohorts/")
            || ep.path.starts_with("/scim/v2/Groups/")
        {
            vec![PathIds::only(&fx.a_cohort), PathIds::only(&fx.b_cohort)]
        } else if ep.path.starts_with("/api/v1/jobs/") {
            vec![PathIds::only(&fx.a_job), PathIds::only(&fx.b_job)]
        } else if ep.path.starts_with("/api/v1/imports/") {
            vec![PathIds::only(&fx.a_import), PathIds::only(&fx.b_import)]
        } else if ep.path.starts_with("/api/v1/events/") {
            vec![PathIds::only(&fx.a_event), PathIds::only(&fx.b_event)]
        } else if ep.path.starts_with("/api/v1/webhooks/endpoints/") {
            vec![
                PathIds::only(&fx.a_webhook.endpoint),
                PathIds::only(&fx.b_webhook.endpoint),
            ]
        } else if ep.path.starts_with("/api/v1/webhooks/deliveries/") {
            vec![
                PathIds::only(&fx.a_webhook.delivery),
                PathIds::only(&fx.b_webhook.delivery),
            ]
        } else if ep.path.starts_with("/api/v1/notifications/") {
            vec![
                PathIds::only(&fx.a_notification),
                PathIds::only(&fx.b_notification),
            ]
        } else if ep.path.starts_with("/api/v1/question-banks/") {
            vec![PathIds::bank(&fx.a_quiz), PathIds::bank(&fx.b_quiz)]
        } else if ep.path.starts_with("/api/v1/questions/") {
            vec![
                PathIds::only(&fx.a_quiz.question),
                PathIds::only(&fx.b_quiz.question),
            ]
        } else if ep.path.starts_with("/api/v1/quiz-attempts/") {
            vec![
                PathIds::only(&fx.a_quiz.attempt),
                PathIds::only(&fx.b_quiz.attempt),
            ]
        } else if ep.path.starts_with("/api/v1/assignment-submissions/") {
            vec![
                PathIds::submission(&fx.a_assignment),
                PathIds::submission(&fx.b_assignment),
            ]
        } else if ep.path.starts_with("/api/v1/courses/") || ep.path.starts_with("/api/v1/catalog/")
        {
            vec![PathIds::course(&fx.a_course), PathIds::course(&fx.b_course)]
        } else if ep.path.starts_with("/api/v1/plugin") {
            vec![PathIds::plugin(&fx.a_plugin), PathIds::plugin(&fx.b_plugin)]
        } else if ep.path.starts_with("/api/v1/sso/connections/") {
            vec![
                PathIds::only(&fx.a_sso.connection),
                PathIds::only(&fx.b_sso.connection),
            ]
        } else if ep.path.starts_with("/api/v1/sso/domains/") {
            vec![
                PathIds::only(&fx.a_sso.domain),
                PathIds::only(&fx.b_sso.domain),
            ]
        } else if ep.path.contains("{id}") {
            vec![
                PathIds::only(&fx.a.learner.id),
                PathIds::only(&fx.b.learner.id),
            ]
        } else {
            vec![PathIds::only("")]
        };
        for ids in &ids {
            let id = ids.id;
            for to in [
                Address::Header("b"),
                Address::Subdomain("b"),
                Address::SubdomainOverHeader("b", "a"),
            ] {
                let reply = call(&app, &fx, &ep, ids, to).await;
                assert_eq!(
                    reply.status, ep.other_tenant,
                    "{name} addressed to B ({to:?}, id {id:?}) with A's credentials: {}",
                    reply.text
                );
                let allowed_public = if ep.public_profile {
                    &forbidden_public
                } else {
                    &forbidden
                };
                assert_no_identifiers(
                    &reply,
                    allowed_public,
                    &format!("{name} addressed to B ({to:?})"),
                );
                if reply.status.is_client_error() {
                    // SCIM answers in its own error format.
                    let expected = if ep.path.starts_with("/scim/") {
                        "application/scim+json"
                    } else {
                        "application/problem+json"
                    };
                    assert_eq!(
                        reply
                            .headers
                            .get("content-type")
                            .and_then(|v| v.to_str().ok()),
                        Some(expected),
                        "{name}: {}",
                        reply.text
                    );
                }
            }
        }
    }

    // Nothing A's credentials did while addressed to B had an effect anywhere.
    let b_admin = |path: &str| app.get(path).tenant("b").bearer(&fx.b.admin.access_token);
    let b_notifications = b_admin("/api/v1/notifications").send().await;
    b_notifications.assert_status(StatusCode::OK);
    assert_eq!(
        b_notifications.json()["items"][0]["id"],
        fx.b_notification.as_str(),
        "{}",
        b_notifications.text
    );
    assert_eq!(
        b_notifications.json()["items"][0]["read_at"],
        Value::Null,
        "A's calls marked B's notification read: {}",
        b_notifications.text
    );
    let b_preferences = b_admin("/api/v1/notifications/preferences").send().await;
    assert!(
        b_preferences.json()["types"]
            .as_array()
            .expect("types")
            .iter()
            .all(|p| p["in_app"] == true && p["email"] == false),
        "A's calls changed B's preferences: {}",
        b_preferences.text
    );
    let b_job = b_admin(&format!("/api/v1/jobs/{}", fx.b_job)).send().await;
    b_job.assert_status(StatusCode::OK);
    assert_eq!(
        b_job.json()["state"],
        "dead",
        "B's dead job was re-run: {}",
        b_job.text
    );
    let b_endpoints = b_admin("/api/v1/webhooks/endpoints").send().await;
    b_endpoints.assert_status(StatusCode::OK);
    let b_endpoints = b_endpoints.json();
    assert_eq!(
        b_endpoints.as_array().map(Vec::len),
        Some(1),
        "B gained or lost webhook endpoints: {b_endpoints}"
    );
    assert_eq!(b_endpoints[0]["id"], fx.b_webhook.endpoint.as_str());
    assert_eq!(b_endpoints[0]["description"], "");
    assert!(b_endpoints[0]["previous_secret_expires_at"].is_null());
    let b_delivery = b_admin(&format!(
        "/api/v1/webhooks/deliveries/{}",
        fx.b_webhook.delivery
    ))
    .send()
    .await;
    b_delivery.assert_status(StatusCode::OK);
    assert_eq!(b_delivery.json()["state"], "failed", "{}", b_delivery.text);
    let b_learner = b_admin(&paths::user(&fx.b.learner.id)).send().await;
    b_learner.assert_status(StatusCode::OK);
    assert_eq!(b_learner.json()["status"], "active");
    assert_eq!(b_learner.json()["roles"], json!(["learner"]));
    let b_users = b_admin("/api/v1/users").send().await;
    b_users.assert_status(StatusCode::OK);
    assert_eq!(
        b_users.json()["items"].as_array().map(Vec::len),
        Some(2),
        "B gained or lost users: {}",
        b_users.text
    );
    let b_profile = app.get("/api/v1/tenant").tenant("b").send().await;
    b_profile.assert_status(StatusCode::OK);
    assert_eq!(b_profile.json()["display_name"], "Tenant b");
    assert!(
        b_profile.json()["branding"]["primary_color"].is_null(),
        "{}",
        b_profile.text
    );
    // B's plugin and registry are as B left them.
    let b_plugin = b_admin(&paths::plugin(&fx.b_plugin.name)).send().await;
    b_plugin.assert_status(StatusCode::OK);
    assert_eq!(b_plugin.json()["enabled"], true, "{}", b_plugin.text);
    assert_eq!(b_plugin.json()["active_version"], "2.0.0");
    assert_eq!(b_plugin.json()["version_count"], 1);
    let b_registry = b_admin("/api/v1/plugin-registry").send().await;
    assert_eq!(b_registry.json()["require_signatures"], false);
    let b_keys = b_admin("/api/v1/plugin-registry/publisher-keys")
        .send()
        .await;
    assert_eq!(b_keys.json().as_array().map(Vec::len), Some(1));
    let b_plugins = b_admin("/api/v1/plugins").send().await;
    assert_eq!(
        b_plugins.json()["items"].as_array().map(Vec::len),
        Some(1),
        "{}",
        b_plugins.text
    );
    // B's bank, question and attempt are as B left them.
    let b_bank = b_admin(&paths::bank(&fx.b_quiz.bank)).send().await;
    b_bank.assert_status(StatusCode::OK);
    assert_eq!(b_bank.json()["title"], "Bank of b", "{}", b_bank.text);
    assert_eq!(
        b_bank.json()["categories"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(b_bank.json()["question_count"], 1);
    let b_question = b_admin(&paths::question(&fx.b_quiz.question)).send().await;
    b_question.assert_status(StatusCode::OK);
    assert_eq!(b_question.json()["version"], 1, "{}", b_question.text);
    assert_eq!(b_question.json()["archived_at"], Value::Null);
    let b_attempt = b_admin(&paths::attempt(&fx.b_quiz.attempt)).send().await;
    b_attempt.assert_status(StatusCode::OK);
    assert_eq!(
        b_attempt.json()["status"],
        "in_progress",
        "{}",
        b_attempt.text
    );
    assert_eq!(
        b_attempt.json()["questions"][0]["answer"],
        json!({ "value": true })
    );
    // B's cohort is as B left it.
    let b_cohort = b_admin(&paths::cohort(&fx.b_cohort)).send().await;
    b_cohort.assert_status(StatusCode::OK);
    assert_eq!(b_cohort.json()["name"], "Cohort of b");
    assert_eq!(b_cohort.json()["member_count"], 1, "{}", b_cohort.text);
    // B's course is as B left it, and A's course did not take B's ids as references.
    let b_course = b_admin(&paths::course(&fx.b_course.course)).send().await;
    b_course.assert_status(StatusCode::OK);
    let b_course = b_course.json();
    assert_eq!(b_course["title"], "Course of b");
    assert_eq!(b_course["status"], "draft");
    assert_eq!(b_course["prerequisite_ids"], json!([]));
    assert_eq!(b_course["instructors"].as_array().map(Vec::len), Some(1));
    assert_eq!(b_course["modules"][0]["title"], "Module");
    assert_eq!(b_course["modules"][0]["items"][0]["title"], "Item");
    assert_eq!(b_course["modules"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        b_course["modules"][0]["items"].as_array().map(Vec::len),
        Some(1)
    );
    // B's submission is still waiting for a grade, its file intact.
    let b_submission = b_admin(&paths::submission(&fx.b_assignment.submission))
        .send()
        .await;
    b_submission.assert_status(StatusCode::OK);
    assert_eq!(b_submission.json()["status"], "submitted");
    assert_eq!(b_submission.json()["grade"], Value::Null);
    let b_file = b_admin(&paths::submission_file(
        &fx.b_assignment.submission,
        &fx.b_assignment.file,
    ))
    .send()
    .await;
    b_file.assert_status(StatusCode::OK);
    assert_eq!(b_file.text, "my work");
    // B's draft course, its quiz course and its assignment course.
    let b_courses = b_admin("/api/v1/courses").send().await;
    b_courses.assert_status(StatusCode::OK);
    assert_eq!(
        b_courses.json()["items"].as_array().map(Vec::len),
        Some(3),
        "{}",
        b_courses.text
    );
    let a_course_path = paths::course(&fx.a_course.course);
    let on_a = |method: Method, path: String, body: Value| {
        app.call(method, &path)
            .tenant("a")
            .bearer(&fx.a.admin.access_token)
            .json(body)
    };
    let refused = on_a(
        Method::PUT,
        format!("{a_course_path}/prerequisites"),
        json!({ "course_ids": [fx.b_course.course] }),
    )
    .send()
    .await;
    refused.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(refused.json()["errors"][0]["code"], "unknown_course");
    let refused = on_a(
        Method::POST,
        format!("{a_course_path}/instructors"),
        json!({ "user_id": fx.b.admin.id }),
    )
    .send()
    .await;
    refused.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(refused.json()["errors"][0]["code"], "unknown_user");
    on_a(
        Method::PUT,
        format!("{a_course_path}/modules/order"),
        json!({ "module_ids": [fx.a_course.module, fx.b_course.module] }),
    )
    .send()
    .await
    .assert_problem(StatusCode::CONFLICT, "stale_order");
    assert_eq!(
        outbox_count(&app, &fx.a.learner.email).await,
        a_reset_mails,
        "B queued a reset email for A's user"
    );
    let b_audit = b_admin("/api/v1/audit-events").send().await;
    b_audit.assert_status(StatusCode::OK);
    let b_events = b_audit.json()["items"].as_array().cloned().expect("items");
    assert!(!b_events.is_empty(), "{}", b_audit.text);
    for event in &b_events {
        let action = event["action"].as_str().unwrap_or_default();
        assert!(
            ![
                "tenant.updated",
                "user.roles_changed",
                "user.deactivated",
                "user.reactivated",
                "user.password_changed",
                "user.password_reset",
                "user.password_reset_requested",
                "user.mfa_enabled",
                "user.mfa_disabled",
                "user.mfa_reset",
                "user.mfa_recovery_codes_regenerated",
                "tenant.mfa_policy_changed",
            ]
            .contains(&action),
            "A's calls left {action} in B's trail: {event}"
        );
        if action == "user.invited" {
            assert_eq!(event["actor_kind"], "operator", "{event}");
        }
        assert_ne!(event["actor_id"], fx.a.admin.id.as_str(), "{event}");
    }

    // A's session, and A's emailed secrets, survived their use on B.
    app.get("/api/v1/auth/me")
        .tenant("a")
        .bearer(&fx.a.admin.access_token)
        .send()
        .await
        .assert_status(StatusCode::OK);
    app.post("/api/v1/auth/refresh")
        .tenant("a")
        .json(json!({ "refresh_token": fx.a.admin.refresh_token }))
        .send()
        .await
        .assert_status(StatusCode::OK);
    app.post("/api/v1/auth/password-reset/confirm")
        .tenant("a")
        .json(json!({ "token": fx.a_reset_token, "new_password": "reset on the right tenant" }))
        .send()
        .await
        .assert_status(StatusCode::NO_CONTENT);
    app.post("/api/v1/auth/invitations/accept")
        .tenant("a")
        .json(json!({ "token": fx.a_invitation_token, "password": PASSWORD }))
        .send()
        .await
        .assert_status(StatusCode::OK);
    app.verify_mfa(
        "a",
        &fx.a_mfa_challenge,
        json!({ "code": fx.a_authenticator.code(1) }),
    )
    .await
    .assert_status(StatusCode::OK);
}

#[tokio::test]
async fn emailed_tokens_are_bound_to_their_tenant() {
    let app = TestApp::spawn().await;
    let fx = fixture(&app).await;
    for to in ["b", "nope"] {
        let reset = app
            .post("/api/v1/auth/password-reset/confirm")
            .tenant(to)
            .json(json!({ "token": fx.a_reset_token, "new_password": "taken over by b" }))
            .send()
            .await;
        assert!(reset.status.is_client_error(), "{to}: {}", reset.text);
        let accept = app
            .post("/api/v1/auth/invitations/accept")
            .host(&format!("{to}.lms.test"))
            .json(json!({ "token": fx.a_invitation_token, "password": PASSWORD }))
            .send()
            .await;
        assert!(accept.status.is_client_error(), "{to}: {}", accept.text);
        assert_no_identifiers(&accept, &identifiers_of(&fx.a), "invitation on B");
    }
    app.post("/api/v1/auth/password-reset/confirm")
        .tenant("b")
        .json(json!({ "token": fx.a_reset_token, "new_password": "taken over by b" }))
        .send()
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_reset_token");
    app.post("/api/v1/auth/invitations/accept")
        .tenant("b")
        .json(json!({ "token": fx.a_invitation_token, "password": PASSWORD }))
        .send()
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_invitation");
    // B's own refresh token is refused on A as well (both directions).
    app.post("/api/v1/auth/refresh")
        .tenant("a")
        .json(json!({ "refresh_token": fx.b.learner.refresh_token }))
        .send()
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_refresh_token");
    // The tokens still work where they belong.
    app.post("/api/v1/auth/password-reset/confirm")
        .tenant("a")
        .json(json!({ "token": fx.a_reset_token, "new_password": "reset on the right tenant" }))
        .send()
        .await
        .assert_status(StatusCode::NO_CONTENT);
    app.login("a", &fx.a.learner.email, "reset on the right tenant")
        .await
        .assert_status(StatusCode::OK);
}

#[tokio::test]
async fn lists_show_only_the_callers_tenant() {
    let (app, a) = TestApp::with_tenant("a").await;
    let b = app.seed_tenant("b").await;
    app.register("b", "second@b.example").await;
    let forbidden = identifiers_of(&b);

    let users = app
        .get("/api/v1/users?limit=200")
        .tenant("a")
        .bearer(&a.admin.access_token)
        .send()
        .await;
    users.assert_status(StatusCode::OK);
    assert_no_identifiers(&users, &forbidden, "A's user list");
    assert!(!users.text.contains("second@b.example"), "{}", users.text);
    let items = users.json()["items"].as_array().cloned().expect("items");
    let mut ids: Vec<&str> = items.iter().filter_map(|u| u["id"].as_str()).collect();
    ids.sort_unstable();
    let mut expected = vec![a.admin.id.as_str(), a.learner.id.as_str()];
    expected.sort_unstable();
    assert_eq!(ids, expected, "{}", users.text);
    assert!(items.iter().all(|u| u["tenant_id"] == a.id.as_str()));

    // Searching for B's users from A finds nothing.
    for q in ["b.example", "learner@b", "second"] {
        let found = app
            .get(&format!("/api/v1/users?q={q}"))
            .tenant("a")
            .bearer(&a.admin.access_token)
            .send()
            .await;
        found.assert_status(StatusCode::OK);
        assert_eq!(found.json()["items"], json!([]), "q={q}: {}", found.text);
    }

    let events = app
        .get("/api/v1/audit-events?limit=200")
        .tenant("a")
        .bearer(&a.admin.access_token)
        .send()
        .await;
    events.assert_status(StatusCode::OK);
    assert_no_identifiers(&events, &forbidden, "A's audit trail");
    let items = events.json()["items"].as_array().cloned().expect("items");
    assert!(!items.is_empty());
    let a_ids = [a.id.as_str(), a.admin.id.as_str(), a.learner.id.as_str()];
    for event in &items {
        let target = event["target_id"].as_str().unwrap_or_default();
        assert!(a_ids.contains(&target), "foreign target in {event}");
        if let Some(actor) = event["actor_id"].as_str() {
            assert!(a_ids.contains(&actor), "foreign actor in {event}");
        }
    }
    let jobs = app
        .get("/api/v1/jobs?limit=200")
        .tenant("a")
        .bearer(&a.admin.access_token)
        .send()
        .await;
    jobs.assert_status(StatusCode::OK);
    assert_no_identifiers(&jobs, &forbidden, "A's jobs");
    let items = jobs.json()["items"].as_array().cloned().expect("items");
    assert!(
        !items.is_empty(),
        "A's invitation emails are jobs: {}",
        jobs.text
    );
    assert!(
        items.iter().all(|j| j["tenant_id"] == a.id.as_str()),
        "{}",
        jobs.text
    );

    // B's imports (naming B's learner) never show in A's list.
    let b_import = seed_import(&app, &b).await;
    let imports = app
        .get("/api/v1/imports")
        .tenant("a")
        .bearer(&a.admin.access_token)
        .send()
        .await;
    imports.assert_status(StatusCode::OK);
    assert_no_identifiers(&imports, &forbidden, "A's imports");
    assert!(!imports.text.contains(&b_import), "{}", imports.text);
    assert_eq!(imports.json()["items"], json!([]));

    // B's admin sees B's own trail, not A's.
    let b_events = app
        .get("/api/v1/audit-events?limit=200")
        .tenant("b")
        .bearer(&b.admin.access_token)
        .send()
        .await;
    b_events.assert_status(StatusCode::OK);
    assert_no_identifiers(&b_events, &identifiers_of(&a), "B's audit trail");
}

#[tokio::test]
async fn the_same_email_in_two_tenants_is_two_separate_accounts() {
    let (app, a) = TestApp::with_tenant("a").await;
    app.seed_tenant("b").await;
    // A's learner's email and password do not open B ...
    app.login("b", &a.learner.email, PASSWORD)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
    // ... and registering it in B makes a new account that knows nothing of A's.
    let in_b = app.register("b", &a.learner.email).await;
    assert_ne!(in_b.id, a.learner.id);
    let me = app
        .get("/api/v1/auth/me")
        .tenant("b")
        .bearer(&in_b.access_token)
        .send()
        .await;
    me.assert_status(StatusCode::OK);
    assert_eq!(me.json()["id"], in_b.id.as_str());
    assert_no_identifiers(
        &me,
        &identifiers_of(&a)[..3],
        "B's account of the same email",
    );
    // Each token works only where it was issued.
    app.get("/api/v1/auth/me")
        .tenant("a")
        .bearer(&in_b.access_token)
        .send()
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
    app.get("/api/v1/auth/me")
        .tenant("b")
        .bearer(&a.learner.access_token)
        .send()
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
}

#[test]
fn every_endpoint_is_covered_or_excluded() {
    let document: Value =
        serde_json::from_str(&lms_platform::openapi::document_json().expect("document"))
            .expect("json");
    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            if ["parameters", "summary", "description", "servers"].contains(&method.as_str()) {
                continue;
            }
            documented.insert((method.to_ascii_uppercase(), path.clone()));
        }
    }
    let mut listed = BTreeSet::new();
    for ep in suite() {
        assert!(
            listed.insert((ep.method.to_string(), ep.path.to_owned())),
            "{} {} is in the suite twice",
            ep.method,
            ep.path
        );
        assert_eq!(
            ep.foreign_id.is_some(),
            ep.path.contains('{'),
            "{} {}: endpoints with ids in the path must say what a foreign id answers",
            ep.method,
            ep.path
        );
    }
    for (method, path, reason) in EXCLUDED {
        assert!(!reason.is_empty());
        assert!(
            listed.insert(((*method).to_owned(), (*path).to_owned())),
            "{method} {path} is both in the suite and excluded, or excluded twice"
        );
    }
    let missing: Vec<_> = documented.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "endpoints with no cross-tenant check: add them to suite() in cross_tenant.rs (or to EXCLUDED with a reason): {missing:?}"
    );
    let stale: Vec<_> = listed.difference(&documented).collect();
    assert!(
        stale.is_empty(),
        "the cross-tenant suite lists endpoints the API no longer has: {stale:?}"
    );
}
