//! The API's paths, built in one place: `paths::course_status(&course)` rather than a
//! `format!` in each test.

use std::fmt::Display;

macro_rules! paths {
    ($($(#[$doc:meta])* $name:ident($($arg:ident),*) => $template:literal;)*) => {$(
        $(#[$doc])*
        pub fn $name($($arg: impl Display),*) -> String {
            format!($template)
        }
    )*};
}

paths! {
    course(course) => "/api/v1/courses/{course}";
    course_status(course) => "/api/v1/courses/{course}/status";
    course_clone(course) => "/api/v1/courses/{course}/clone";
    prerequisites(course) => "/api/v1/courses/{course}/prerequisites";
    instructors(course) => "/api/v1/courses/{course}/instructors";
    instructor(course, user) => "/api/v1/courses/{course}/instructors/{user}";
    modules(course) => "/api/v1/courses/{course}/modules";
    modules_order(course) => "/api/v1/courses/{course}/modules/order";
    module(course, module) => "/api/v1/courses/{course}/modules/{module}";
    items(course, module) => "/api/v1/courses/{course}/modules/{module}/items";
    items_order(course, module) => "/api/v1/courses/{course}/modules/{module}/items/order";
    item(course, module, item) => "/api/v1/courses/{course}/modules/{module}/items/{item}";
    /// Self-enrollment.
    enrollment(course) => "/api/v1/courses/{course}/enrollment";
    /// The roster and staff enrollment.
    enrollments(course) => "/api/v1/courses/{course}/enrollments";
    enrollments_of(course, user) => "/api/v1/courses/{course}/enrollments/{user}";
    cohort_enrollments(course) => "/api/v1/courses/{course}/cohort-enrollments";
    progress(course) => "/api/v1/courses/{course}/progress";
    progress_csv(course) => "/api/v1/courses/{course}/progress.csv";
    my_progress(course) => "/api/v1/courses/{course}/progress/me";
    item_progress(course, item) => "/api/v1/courses/{course}/items/{item}/progress";
    gradebook(course) => "/api/v1/courses/{course}/gradebook";
    gradebook_settings(course) => "/api/v1/courses/{course}/gradebook/settings";
    quiz(course, item) => "/api/v1/courses/{course}/items/{item}/quiz";
    quiz_attempts(course, item) => "/api/v1/courses/{course}/items/{item}/quiz/attempts";
    assignment(course, item) => "/api/v1/courses/{course}/items/{item}/assignment";
    submissions(course, item) => "/api/v1/courses/{course}/items/{item}/assignment/submissions";
    release(course, item) => "/api/v1/courses/{course}/items/{item}/assignment/release";
    submission(submission) => "/api/v1/assignment-submissions/{submission}";
    submission_file(submission, file) => "/api/v1/assignment-submissions/{submission}/files/{file}";
    grade(submission) => "/api/v1/assignment-submissions/{submission}/grade";
    bank(bank) => "/api/v1/question-banks/{bank}";
    bank_questions(bank) => "/api/v1/question-banks/{bank}/questions";
    bank_categories(bank) => "/api/v1/question-banks/{bank}/categories";
    question(question) => "/api/v1/questions/{question}";
    attempt(attempt) => "/api/v1/quiz-attempts/{attempt}";
    answer(attempt, position) => "/api/v1/quiz-attempts/{attempt}/answers/{position}";
    attempt_submit(attempt) => "/api/v1/quiz-attempts/{attempt}/submit";
    cohort(cohort) => "/api/v1/cohorts/{cohort}";
    cohort_members(cohort) => "/api/v1/cohorts/{cohort}/members";
    cohort_managers(cohort) => "/api/v1/cohorts/{cohort}/managers";
    cohort_manager(cohort, user) => "/api/v1/cohorts/{cohort}/managers/{user}";
    /// Enrollment of the caller's team members.
    team_enrollments(course) => "/api/v1/courses/{course}/team-enrollments";
    user(user) => "/api/v1/users/{user}";
    user_roles(user) => "/api/v1/users/{user}/roles";
    user_deactivate(user) => "/api/v1/users/{user}/deactivate";
    user_reactivate(user) => "/api/v1/users/{user}/reactivate";
    user_mfa_reset(user) => "/api/v1/users/{user}/mfa/reset";
    operator_tenant(tenant) => "/api/v1/operator/tenants/{tenant}";
    operator_domains(tenant) => "/api/v1/operator/tenants/{tenant}/domains";
    operator_suspend(tenant) => "/api/v1/operator/tenants/{tenant}/suspend";
    operator_resume(tenant) => "/api/v1/operator/tenants/{tenant}/resume";
    operator_invitations(tenant) => "/api/v1/operator/tenants/{tenant}/invitations";
    plugin(name) => "/api/v1/plugins/{name}";
    plugin_enable(name) => "/api/v1/plugins/{name}/enable";
    plugin_install(name, version) => "/api/v1/plugins/{name}/versions/{version}/install";
}
