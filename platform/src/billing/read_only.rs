//! The read-only guard: while a tenant's subscription is unpaid, canceled or expired (or past
//! due beyond the grace period), its authoring and enrolment writes answer 403
//! `billing_read_only`. Reads, learners' own work (progress, attempts, submissions) and grading
//! go on; nothing is deleted, and a resumed subscription lifts the guard at once.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::access::{Access, read_only};
use crate::auth::Authenticated;
use crate::state::AppState;

/// What a write belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    /// Courses, their content and settings, question banks.
    Authoring,
    /// Enrolling (and unenrolling) learners, one by one, in bulk or from a file.
    Enrolment,
}

/// The area of a request, `None` for reads and for writes the guard leaves alone.
pub fn area(method: &Method, path: &str) -> Option<Area> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return None;
    }
    let rest = path.strip_prefix("/api/v1/")?;
    let segments: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    match segments.as_slice() {
        ["imports", "enrollments"] => Some(Area::Enrolment),
        [
            "courses",
            _,
            "enrollment" | "enrollments" | "cohort-enrollments" | "team-enrollments" | "checkout",
            ..,
        ] => Some(Area::Enrolment),
        // A learner's own work and the graders' release stay open.
        ["courses", _, "items", _, "progress"]
        | ["courses", _, "items", _, "quiz", "attempts", ..]
        | [
            "courses",
            _,
            "items",
            _,
            "assignment",
            "submissions" | "release",
            ..,
        ] => None,
        ["courses", ..] | ["question-banks", ..] | ["questions", ..] => Some(Area::Authoring),
        _ => None,
    }
}

/// The middleware: for a guarded write by a signed-in user, refuses it when the tenant is
/// read-only. Requests without valid credentials pass on, to be refused by their handler as
/// usual (so the guard tells nothing to the unauthenticated).
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    // Without billing no tenant is ever read-only.
    if !state.billing.enabled() || area(request.method(), request.uri().path()).is_none() {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let authenticated = Authenticated::from_request_parts(&mut parts, &state).await;
    let request = Request::from_parts(parts, body);
    let Ok(auth) = authenticated else {
        return next.run(request).await;
    };
    let access = async {
        let mut tx = state.db.begin(auth.tenant.id).await?;
        let access = Access::of(&mut tx, &state.billing).await?;
        tx.commit().await?;
        Ok::<_, crate::error::ApiError>(access)
    }
    .await;
    match access {
        Ok(access) if access.read_only => read_only().into_response(),
        Ok(_) => next.run(request).await,
        Err(err) => err.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authoring_and_enrolment_writes_are_guarded_and_learners_work_is_not() {
        let post = Method::POST;
        assert_eq!(area(&post, "/api/v1/courses"), Some(Area::Authoring));
        assert_eq!(
            area(&Method::PATCH, "/api/v1/courses/x/modules/y"),
            Some(Area::Authoring)
        );
        assert_eq!(
            area(&Method::PUT, "/api/v1/courses/x/items/y/quiz"),
            Some(Area::Authoring)
        );
        assert_eq!(
            area(&Method::PUT, "/api/v1/questions/x"),
            Some(Area::Authoring)
        );
        assert_eq!(area(&post, "/api/v1/question-banks"), Some(Area::Authoring));
        assert_eq!(
            area(&post, "/api/v1/courses/x/enrollment"),
            Some(Area::Enrolment)
        );
        assert_eq!(
            area(&Method::DELETE, "/api/v1/courses/x/enrollments/u"),
            Some(Area::Enrolment)
        );
        assert_eq!(
            area(&post, "/api/v1/imports/enrollments"),
            Some(Area::Enrolment)
        );
        assert_eq!(area(&Method::GET, "/api/v1/courses"), None);
        assert_eq!(
            area(&Method::PUT, "/api/v1/courses/x/items/y/progress"),
            None
        );
        assert_eq!(area(&post, "/api/v1/courses/x/items/y/quiz/attempts"), None);
        assert_eq!(
            area(&post, "/api/v1/courses/x/items/y/assignment/submissions"),
            None
        );
        assert_eq!(area(&post, "/api/v1/quiz-attempts/x/submit"), None);
        assert_eq!(area(&post, "/api/v1/users/invitations"), None);
        assert_eq!(area(&post, "/api/v1/coursesx"), None);
    }
}
