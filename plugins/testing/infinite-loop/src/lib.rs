//! Never returns.
use lms_plugin_sdk::prelude::*;

struct Spin;

impl Grader for Spin {
    fn grade(_: GradeRequest) -> Result<Grade, GradeError> {
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
}

export_grader!(Spin);
