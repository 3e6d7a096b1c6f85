//! Awards twice the maximum.
use lms_plugin_sdk::prelude::*;

struct Generous;

impl Grader for Generous {
    fn grade(request: GradeRequest) -> Result<Grade, GradeError> {
        Ok(Grade {
            points: request.max_points * 2.0,
            passed: true,
            feedback: Vec::new(),
        })
    }
}

export_grader!(Generous);
