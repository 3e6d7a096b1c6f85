//! `lms:plugin@0.1.0`: its generated bindings, the host side of its `log` import, and the
//! conversions between its records and the host's own types.

use wasmtime::component::{ComponentExportIndex, ComponentType, Lift, Linker, TypedFunc, WasmStr};
use wasmtime::{Store, StoreContextMut};

use crate::grader;
use crate::host::State;

/// The bindings bindgen generates from the frozen WIT, re-exported as this module's own.
#[allow(missing_docs, clippy::all)]
mod bindings {
    wasmtime::component::bindgen!({
        path: "../../plugin-sdk/wit/since_v0.1.0",
        world: "grader",
        exports: { default: async },
    });
}

pub use bindings::*;

/// Adds the host side of the 0.1.0 imports to `linker`.
///
/// `log` is written by hand rather than by bindgen so that its message arrives as a [`WasmStr`]:
/// a view into the plugin's memory whose length is known before a byte of it is copied.
pub(super) fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    use bindings::lms::plugin::log::Level;
    linker.instance("lms:plugin/log@0.1.0")?.func_wrap(
        "log",
        |store: StoreContextMut<'_, State>, (level, message): (Level, WasmStr)| {
            let level = match level {
                Level::Trace => tracing::Level::TRACE,
                Level::Debug => tracing::Level::DEBUG,
                Level::Info => tracing::Level::INFO,
                Level::Warn => tracing::Level::WARN,
                Level::Error => tracing::Level::ERROR,
            };
            super::write_log_line(store, level, &message);
            Ok(())
        },
    )?;
    Ok(())
}

/// A criterion as the host lifts it from `lms:plugin@0.1.0`; the canonical ABI lays one out in
/// [`CRITERION_ABI_BYTES`](super::CRITERION_ABI_BYTES) bytes.
#[derive(ComponentType, Lift)]
#[component(record)]
pub(super) struct LiftedCriterion {
    name: String,
    points: f64,
    #[component(name = "max-points")]
    max_points: f64,
    message: String,
}

/// A grade as the host lifts it from `lms:plugin@0.1.0`.
#[derive(ComponentType, Lift)]
#[component(record)]
struct LiftedGrade {
    points: f64,
    passed: bool,
    feedback: Vec<LiftedCriterion>,
}

/// A `grade-error` as the host lifts it from `lms:plugin@0.1.0`.
#[derive(ComponentType, Lift)]
#[component(variant)]
enum LiftedGradeError {
    #[component(name = "invalid-config")]
    InvalidConfig(String),
    #[component(name = "invalid-response")]
    InvalidResponse(String),
    #[component(name = "internal")]
    Internal(String),
}

/// The `grade` export of `lms:plugin@0.1.0` with the host's own result types.
type GradeFunc = TypedFunc<(GradeRequest,), (Result<LiftedGrade, LiftedGradeError>,)>;

/// Instantiates a 0.1.0 grader in `store` and grades `request`.
pub(super) async fn grade(
    pre: &GraderPre<State>,
    export: &ComponentExportIndex,
    store: &mut Store<State>,
    request: &grader::GradeRequest,
) -> wasmtime::Result<Result<grader::Grade, grader::GraderError>> {
    let instance = pre.instance_pre().instantiate_async(&mut *store).await?;
    let func: GradeFunc = instance.get_typed_func(&mut *store, export)?;
    let (result,) = func
        .call_async(&mut *store, (GradeRequest::from(request),))
        .await?;
    Ok(result
        .map(grader::Grade::from)
        .map_err(grader::GraderError::from))
}

impl From<&grader::GradeRequest> for GradeRequest {
    fn from(request: &grader::GradeRequest) -> Self {
        Self {
            question_kind: request.question_kind.clone(),
            prompt: request.prompt.clone(),
            config: request.config.clone(),
            max_points: request.max_points,
            response_text: request.response_text.clone(),
            response_json: request.response_json.clone(),
            learner: request.learner.clone(),
        }
    }
}

impl From<LiftedGrade> for grader::Grade {
    fn from(g: LiftedGrade) -> Self {
        Self {
            points: g.points,
            passed: g.passed,
            feedback: g
                .feedback
                .into_iter()
                .map(grader::Criterion::from)
                .collect(),
        }
    }
}

impl From<LiftedCriterion> for grader::Criterion {
    fn from(c: LiftedCriterion) -> Self {
        Self {
            name: c.name,
            points: c.points,
            max_points: c.max_points,
            message: c.message,
        }
    }
}

impl From<LiftedGradeError> for grader::GraderError {
    fn from(e: LiftedGradeError) -> Self {
        match e {
            LiftedGradeError::InvalidConfig(m) => Self::InvalidConfig(m),
            LiftedGradeError::InvalidResponse(m) => Self::InvalidResponse(m),
            LiftedGradeError::Internal(m) => Self::Internal(m),
        }
    }
}
