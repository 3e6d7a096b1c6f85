//! Declines to grade with a 40 MiB error message.
use lms_plugin_sdk::prelude::*;

struct Verbose;

impl Grader for Verbose {
    fn grade(_: GradeRequest) -> Result<Grade, GradeError> {
        Err(GradeError::Internal("x".repeat(40 << 20)))
    }
}

export_grader!(Verbose);
