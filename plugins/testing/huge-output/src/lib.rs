//! Returns megabytes of feedback.
use lms_plugin_sdk::prelude::*;

struct Chatty;

impl Grader for Chatty {
    fn grade(request: GradeRequest) -> Result<Grade, GradeError> {
        let message = "x".repeat(1 << 20);
        Ok(Grade {
            points: 0.0,
            passed: false,
            feedback: vec![Criterion::new("essay", 0.0, request.max_points, message)],
        })
    }
}

export_grader!(Chatty);
