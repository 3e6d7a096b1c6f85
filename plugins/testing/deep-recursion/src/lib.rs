//! Recurses without end.
use lms_plugin_sdk::prelude::*;

struct Deep;

// Recursing forever is the point of this plugin.
#[allow(unconditional_recursion)]
fn dive(depth: u64, pad: [u64; 8]) -> u64 {
    let pad = std::hint::black_box(pad);
    dive(depth + 1, pad) + pad[(depth % 8) as usize]
}

impl Grader for Deep {
    fn grade(_: GradeRequest) -> Result<Grade, GradeError> {
        let n = dive(0, [1; 8]);
        Ok(Grade {
            points: n as f64,
            passed: false,
            feedback: Vec::new(),
        })
    }
}

export_grader!(Deep);
