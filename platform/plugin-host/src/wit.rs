//! One set of bindings per supported WIT version, and the dispatch over them.
//!
//! Released WIT is frozen under `plugin-sdk/wit/since_vX.Y.Z/`. Each version gets a module here
//! (`since_v0_1_0`, later `since_v0_2_0`...) and a variant of [`GraderPre`]; the host converts its
//! own version-independent types to and from each. Versions older than [`MIN_VERSION`] are no
//! longer loaded.

use std::fmt;

use wasmtime::Store;
use wasmtime::component::{Component, InstancePre, Linker};

use crate::grader::{Criterion, Grade, GradeRequest, GraderError};
use crate::host::State;

/// Bindings for `lms:plugin@0.1.0`.
#[allow(missing_docs, clippy::all)]
pub mod since_v0_1_0 {
    wasmtime::component::bindgen!({
        path: "../../plugin-sdk/wit/since_v0.1.0",
        world: "grader",
        exports: { default: async },
    });
}

/// A version of the `lms:plugin` WIT package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WitVersion {
    /// Major.
    pub major: u32,
    /// Minor.
    pub minor: u32,
    /// Patch.
    pub patch: u32,
}

impl WitVersion {
    const fn new(major: u32, minor: u32, patch: u32) -> Self {
        Self {
            major,
            minor,
            patch,
        }
    }
}

impl fmt::Display for WitVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// The oldest WIT version the host still runs.
pub const MIN_VERSION: WitVersion = WitVersion::new(0, 1, 0);
/// The newest WIT version, the one the SDK builds against.
pub const LATEST_VERSION: WitVersion = WitVersion::new(0, 1, 0);
/// Every supported version, newest first.
pub const SUPPORTED_VERSIONS: &[WitVersion] = &[LATEST_VERSION];

/// The package every plugin import must come from (besides the trapping WASI stubs).
pub(crate) const PACKAGE_PREFIX: &str = "lms:plugin/";

/// Adds the host side of every supported version's imports to `linker`.
pub(crate) fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    since_v0_1_0::lms::plugin::log::add_to_linker::<State, wasmtime::component::HasSelf<State>>(
        linker,
        |state| state,
    )?;
    Ok(())
}

/// A grader ready to instantiate, in the WIT version it was built against.
pub(crate) enum GraderPre {
    /// Built against 0.1.0.
    V0_1_0(since_v0_1_0::GraderPre<State>),
}

impl GraderPre {
    /// Finds the newest supported version whose `grader` world the component implements.
    /// A component built against a version older than [`MIN_VERSION`] matches none of them and
    /// is rejected. When 0.2.0 ships: try `since_v0_2_0::GraderPre::new` first, then fall back.
    pub(crate) fn new(
        linker: &Linker<State>,
        component: &Component,
    ) -> Result<(Self, WitVersion), String> {
        let pre: InstancePre<State> = linker
            .instantiate_pre(component)
            .map_err(|e| format!("{e:#}"))?;
        since_v0_1_0::GraderPre::new(pre)
            .map(|p| (Self::V0_1_0(p), WitVersion::new(0, 1, 0)))
            .map_err(|e| format!("{e:#}"))
    }

    /// Instantiates the grader in `store` and grades `request`.
    pub(crate) async fn grade(
        &self,
        store: &mut Store<State>,
        request: &GradeRequest,
    ) -> wasmtime::Result<Result<Grade, GraderError>> {
        match self {
            Self::V0_1_0(pre) => {
                let grader = pre.instantiate_async(&mut *store).await?;
                let request = since_v0_1_0::GradeRequest {
                    question_kind: request.question_kind.clone(),
                    prompt: request.prompt.clone(),
                    config: request.config.clone(),
                    max_points: request.max_points,
                    response_text: request.response_text.clone(),
                    response_json: request.response_json.clone(),
                    learner: request.learner.clone(),
                };
                let result = grader.call_grade(&mut *store, &request).await?;
                Ok(result
                    .map(|g| Grade {
                        points: g.points,
                        passed: g.passed,
                        feedback: g
                            .feedback
                            .into_iter()
                            .map(|c| Criterion {
                                name: c.name,
                                points: c.points,
                                max_points: c.max_points,
                                message: c.message,
                            })
                            .collect(),
                    })
                    .map_err(|e| match e {
                        since_v0_1_0::GradeError::InvalidConfig(m) => GraderError::InvalidConfig(m),
                        since_v0_1_0::GradeError::InvalidResponse(m) => {
                            GraderError::InvalidResponse(m)
                        }
                        since_v0_1_0::GradeError::Internal(m) => GraderError::Internal(m),
                    }))
            }
        }
    }
}

impl since_v0_1_0::lms::plugin::log::Host for State {
    fn log(&mut self, level: since_v0_1_0::lms::plugin::log::Level, message: String) {
        use since_v0_1_0::lms::plugin::log::Level;
        let level = match level {
            Level::Trace => tracing::Level::TRACE,
            Level::Debug => tracing::Level::DEBUG,
            Level::Info => tracing::Level::INFO,
            Level::Warn => tracing::Level::WARN,
            Level::Error => tracing::Level::ERROR,
        };
        self.log(level, &message);
    }
}
