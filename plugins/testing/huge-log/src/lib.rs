//! Logs one huge line (40 MiB, or `{"bytes": n}` from the question's config), then grades
//! normally.
use lms_plugin_sdk::prelude::*;
use lms_plugin_sdk::serde_json::Value;

struct Loud;

impl Grader for Loud {
    fn grade(request: GradeRequest) -> Result<Grade, GradeError> {
        let bytes = lms_plugin_sdk::serde_json::from_str::<Value>(&request.config)
            .ok()
            .and_then(|config| config.get("bytes")?.as_u64())
            .map_or(40 << 20, |n| usize::try_from(n).unwrap_or(usize::MAX));
        log::info(&"x".repeat(bytes));
        Ok(Grade {
            points: 0.0,
            passed: false,
            feedback: vec![Criterion::new("loud", 0.0, request.max_points, "")],
        })
    }
}

export_grader!(Loud);
