//! Allocates until the host refuses to grow its memory.
use lms_plugin_sdk::prelude::*;

struct Bomb;

impl Grader for Bomb {
    fn grade(_: GradeRequest) -> Result<Grade, GradeError> {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(std::hint::black_box(vec![1u8; 1 << 20]));
        }
    }
}

export_grader!(Bomb);
