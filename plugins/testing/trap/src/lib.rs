//! Panics, which aborts the instance with a trap.
use lms_plugin_sdk::prelude::*;

struct Panicky;

impl Grader for Panicky {
    fn grade(request: GradeRequest) -> Result<Grade, GradeError> {
        if std::hint::black_box(request.max_points) >= 0.0 {
            panic!("grader bug");
        }
        Err(GradeError::Internal("unreachable".into()))
    }
}

export_grader!(Panicky);
