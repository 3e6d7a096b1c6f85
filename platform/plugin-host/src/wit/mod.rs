//! One set of bindings per supported WIT version, and the dispatch over them.
//!
//! Released WIT is frozen under `plugin-sdk/wit/since_vX.Y.Z/`. Each version gets a module here
//! (`since_v0_1_0`, `since_v0_2_0`...) and a variant of the world's `...Pre` enum ([`GraderPre`],
//! [`IntegrationPre`]); the host converts its own version-independent types to and from each.
//! Versions older than [`MIN_VERSION`] are no longer loaded.
//!
//! 0.2.0 added the `integration` and `exporter` worlds and the `config`, `http` and `key-value`
//! interfaces; the `grader` world is still the one 0.1.0 released, so graders stay on 0.1.0.

pub mod since_v0_1_0;
pub mod since_v0_2_0;

use std::fmt;

use wasmtime::component::{Component, ComponentExportIndex, InstancePre, Linker, WasmStr};
use wasmtime::{Store, StoreContextMut};

use crate::grader::{Grade, GradeRequest, GraderError};
use crate::host::State;
use crate::integration::{IntegrationCall, IntegrationError};

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
pub const LATEST_VERSION: WitVersion = WitVersion::new(0, 2, 0);
/// Every supported version, newest first.
pub const SUPPORTED_VERSIONS: &[WitVersion] = &[LATEST_VERSION, MIN_VERSION];

/// The package every plugin import must come from (besides the trapping WASI stubs).
pub(crate) const PACKAGE_PREFIX: &str = "lms:plugin/";

/// Adds the host side of every supported version's imports to `linker`.
pub(crate) fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    since_v0_1_0::add_to_linker(linker)?;
    since_v0_2_0::add_to_linker(linker)
}

/// Writes one log line of a plugin, within the call's allowance. The text is borrowed from the
/// plugin's memory, so measuring it copies nothing; only a line within the cap is copied out.
pub(crate) fn write_log_line(
    mut store: StoreContextMut<'_, State>,
    level: tracing::Level,
    message: &WasmStr,
) {
    if !store.data_mut().take_log_line() {
        return;
    }
    let max = store.data().max_log_line_bytes();
    let line = match message.to_str(&store) {
        Ok(text) if text.len() <= max => LogLine::Text(text.into_owned()),
        Ok(text) => LogLine::TooLong(text.len()),
        Err(_) => LogLine::NotText,
    };
    store.data().write_log(level, &line);
}

/// One log line as the host keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LogLine {
    /// The line, within the cap.
    Text(String),
    /// A line over the cap, of this many bytes; its text is not kept.
    TooLong(usize),
    /// A line that is not valid text.
    NotText,
}

/// The bytes one `criterion` record takes in the plugin's memory (two strings, two f64).
pub(crate) const CRITERION_ABI_BYTES: usize = 32;

/// The fewest bytes the host must let wasmtime copy out of a plugin in one transfer (the
/// `grade` result, or one host call's arguments) for a result within the limits:
/// `max_criteria` criteria as the host holds them plus `max_output_bytes` of text.
///
/// wasmtime charges a list its length times the host element's size and a string its length,
/// both before allocating, and fails the transfer once the store's budget is spent; nothing
/// past it is copied. The results are lifted into owned values rather than read lazily
/// ([`wasmtime::component::WasmList`]) because wasmtime runs the plugin's `post-return`, which
/// frees them, before `call` returns.
pub(crate) fn transfer_budget(max_criteria: usize, max_output_bytes: usize) -> usize {
    max_criteria
        .saturating_mul(std::mem::size_of::<since_v0_1_0::LiftedCriterion>())
        .saturating_add(max_output_bytes)
}

/// Whether `error` is wasmtime refusing a transfer over [`transfer_budget`]. wasmtime's error
/// type for it is private, so its message is what identifies it.
pub(crate) fn is_transfer_refused(error: &wasmtime::Error) -> bool {
    error
        .chain()
        .any(|cause| cause.to_string().contains("fuel allocated for hostcalls"))
}

/// A grader ready to instantiate, in the WIT version it was built against.
pub(crate) enum GraderPre {
    /// Built against 0.1.0.
    V0_1_0 {
        /// The instance, checked to implement the world.
        pre: since_v0_1_0::GraderPre<State>,
        /// The `grade` export, called with the host's result types.
        grade: ComponentExportIndex,
    },
}

impl GraderPre {
    /// Finds the newest supported version whose `grader` world the component implements.
    /// A component built against a version older than [`MIN_VERSION`] matches none of them and
    /// is rejected. The grader world has not changed since 0.1.0; a version that changes it adds
    /// a variant here, tried first.
    pub(crate) fn new(
        linker: &Linker<State>,
        component: &Component,
    ) -> Result<(Self, WitVersion), String> {
        let pre: InstancePre<State> = linker
            .instantiate_pre(component)
            .map_err(|e| format!("{e:#}"))?;
        let pre = since_v0_1_0::GraderPre::new(pre).map_err(|e| format!("{e:#}"))?;
        let (_, grade) = component
            .get_export(None, "grade")
            .ok_or_else(|| "no `grade` export".to_owned())?;
        Ok((Self::V0_1_0 { pre, grade }, WitVersion::new(0, 1, 0)))
    }

    /// Instantiates the grader in `store` and grades `request`.
    pub(crate) async fn grade(
        &self,
        store: &mut Store<State>,
        request: &GradeRequest,
    ) -> wasmtime::Result<Result<Grade, GraderError>> {
        match self {
            Self::V0_1_0 { pre, grade } => since_v0_1_0::grade(pre, grade, store, request).await,
        }
    }
}

/// An integration ready to instantiate, in the WIT version it was built against.
pub(crate) enum IntegrationPre {
    /// Built against 0.2.0, where the world first appeared.
    V0_2_0(since_v0_2_0::IntegrationPre<State>),
}

impl IntegrationPre {
    /// Checks that the component implements a supported version of the `integration` world.
    pub(crate) fn new(
        linker: &Linker<State>,
        component: &Component,
    ) -> Result<(Self, WitVersion), String> {
        let pre: InstancePre<State> = linker
            .instantiate_pre(component)
            .map_err(|e| format!("{e:#}"))?;
        let pre = since_v0_2_0::IntegrationPre::new(pre).map_err(|e| format!("{e:#}"))?;
        Ok((Self::V0_2_0(pre), WitVersion::new(0, 2, 0)))
    }

    /// Instantiates the integration in `store` and makes `call`.
    pub(crate) async fn call(
        &self,
        store: &mut Store<State>,
        call: &IntegrationCall,
    ) -> wasmtime::Result<Result<(), IntegrationError>> {
        match self {
            Self::V0_2_0(pre) => since_v0_2_0::call(pre, store, call).await,
        }
    }
}
