//! The typed failures of the plugin sandbox.

use crate::grader::GraderError;
use crate::integration::IntegrationError;

/// Why a plugin call or upload failed. The variants are stable; `code` gives a machine string.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PluginError {
    /// The plugin trapped (panic, `unreachable`, out-of-bounds access, stack overflow...).
    #[error("the plugin trapped: {reason}")]
    Trap {
        /// What the trap was.
        reason: String,
    },
    /// The plugin ran past its world's wall-clock deadline.
    #[error("the plugin ran past its {deadline_ms} ms deadline")]
    DeadlineExceeded {
        /// The deadline that was exceeded.
        deadline_ms: u64,
    },
    /// The plugin used up its fuel budget.
    #[error("the plugin used up its fuel budget of {budget}")]
    OutOfFuel {
        /// The budget that was used up.
        budget: u64,
    },
    /// The plugin tried to grow its memory past the limit (and then failed).
    #[error("the plugin exceeded its memory limit of {limit_bytes} bytes")]
    MemoryLimit {
        /// The limit on all the linear memories of one call together.
        limit_bytes: usize,
    },
    /// The plugin's output (a grade's feedback or a grader's error message) is larger than
    /// allowed.
    #[error("the plugin's output is {size} bytes, over the limit of {limit}")]
    OutputTooLarge {
        /// The size of the output: its text plus a fixed size per criterion.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The plugin handed the host a value (its result or error, or a host call's arguments
    /// such as a log line) larger than the host copies out of a plugin at once. It was refused
    /// before being copied.
    #[error("the plugin passed the host a value over the {limit} bytes the host reads at once")]
    TransferTooLarge {
        /// The most bytes the host reads in one transfer.
        limit: usize,
    },
    /// The plugin returned a result that breaks the world's contract (e.g. points above maximum).
    #[error("the plugin returned an invalid result: {reason}")]
    InvalidOutput {
        /// What was wrong with it.
        reason: String,
    },
    /// The request was refused before reaching the plugin.
    #[error("invalid plugin input: {reason}")]
    InvalidInput {
        /// What was wrong with it.
        reason: String,
    },
    /// The plugin declined to grade, with its own reason (WIT `grade-error`).
    #[error("the grader declined: {0}")]
    Grader(GraderError),
    /// The integration failed with its own reason (WIT `integration-error`).
    #[error("the integration failed: {0}")]
    Integration(IntegrationError),
    /// The plugin called an import of a capability its install was not granted.
    #[error("the plugin used the capability {capability:?}, which its install was not granted")]
    CapabilityDenied {
        /// The capability, e.g. `http`.
        capability: String,
    },
    /// The binary was refused at upload.
    #[error("plugin rejected: {reason}")]
    Rejected {
        /// Why.
        reason: RejectReason,
    },
    /// No plugin with that id and version is installed.
    #[error("plugin {id}@{version} is not installed")]
    NotInstalled {
        /// The plugin id.
        id: String,
        /// The plugin version.
        version: String,
    },
    /// Too many calls are in flight; try again later.
    #[error("the plugin sandbox is overloaded")]
    Overloaded,
    /// Compiling the upload took more CPU time, memory or wall-clock time than its budget.
    #[error("compiling the component exceeded its budget: {budget}")]
    CompileBudgetExceeded {
        /// Which budget, e.g. "10 s of CPU time".
        budget: String,
    },
    /// Too many compilations are running; try again later. With `tenant` set, the caller's
    /// organisation already has one running (its share), otherwise the whole server is busy.
    #[error("{}", if *tenant { "a compilation for this tenant is already running" } else { "too many plugin compilations are running" })]
    CompileBusy {
        /// Whether the tenant's own share is used up (rather than the server's).
        tenant: bool,
    },
    /// The host itself failed (engine setup, instantiation); never the plugin's output.
    #[error("plugin host failure: {0}")]
    Internal(String),
}

impl PluginError {
    /// A stable machine-readable code for this failure.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Trap { .. } => "trap",
            Self::DeadlineExceeded { .. } => "deadline_exceeded",
            Self::OutOfFuel { .. } => "out_of_fuel",
            Self::MemoryLimit { .. } => "memory_limit",
            Self::OutputTooLarge { .. } => "output_too_large",
            Self::TransferTooLarge { .. } => "transfer_too_large",
            Self::InvalidOutput { .. } => "invalid_output",
            Self::InvalidInput { .. } => "invalid_input",
            Self::Grader(_) => "grader_declined",
            Self::Integration(_) => "integration_failed",
            Self::CapabilityDenied { .. } => "capability_denied",
            Self::Rejected { .. } => "rejected",
            Self::NotInstalled { .. } => "not_installed",
            Self::Overloaded => "overloaded",
            Self::CompileBudgetExceeded { .. } => "compile_budget_exceeded",
            Self::CompileBusy { .. } => "compile_busy",
            Self::Internal(_) => "internal",
        }
    }
}

/// Why an uploaded binary was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RejectReason {
    /// The binary is larger than the upload limit.
    #[error("the binary is {size} bytes, over the limit of {limit}")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The bytes are not a valid WebAssembly component.
    #[error("not a valid WebAssembly component: {0}")]
    Malformed(String),
    /// The component imports something outside the plugin worlds.
    #[error("the component imports {0:?}, which no plugin world provides")]
    ForbiddenImport(String),
    /// This plugin id and version is already installed with different bytes; versions are
    /// immutable.
    #[error("{0} is already installed with other bytes; versions are immutable")]
    VersionConflict(String),
    /// The component does not export a supported plugin world.
    #[error("the component does not implement a supported plugin world: {0}")]
    UnsupportedWorld(String),
    /// A declared size or count is over the host's limit (a memory or table larger than an
    /// instance may have, or a function shape no real plugin needs).
    #[error("{what} is {declared}, over the limit of {limit}")]
    ExceedsLimit {
        /// What was declared, e.g. "the initial size in bytes of memory 0 of core module 1".
        what: String,
        /// The declared size or count.
        declared: u64,
        /// The host's limit.
        limit: u64,
    },
    /// The component imports an `lms:plugin` interface whose capability its manifest does not
    /// declare.
    #[error(
        "the component imports {import:?}, which needs the undeclared capability {capability:?}"
    )]
    UndeclaredCapability {
        /// The import.
        import: String,
        /// The capability it needs.
        capability: String,
    },
}

impl RejectReason {
    /// A stable machine-readable code for this reason.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "too_large",
            Self::Malformed(_) => "malformed",
            Self::ForbiddenImport(_) => "forbidden_import",
            Self::VersionConflict(_) => "version_conflict",
            Self::UnsupportedWorld(_) => "unsupported_world",
            Self::ExceedsLimit { .. } => "exceeds_limit",
            Self::UndeclaredCapability { .. } => "undeclared_capability",
        }
    }
}
