//! Returns half a million criteria with empty names and messages: no text, all structure.
use lms_plugin_sdk::prelude::*;

struct Pedantic;

impl Grader for Pedantic {
    fn grade(_: GradeRequest) -> Result<Grade, GradeError> {
        Ok(Grade {
            points: 0.0,
            passed: false,
            feedback: vec![Criterion::new("", 0.0, 0.0, ""); 500_000],
        })
    }
}

export_grader!(Pedantic);
