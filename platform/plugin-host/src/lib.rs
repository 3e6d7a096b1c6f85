//! The WebAssembly plugin sandbox.
//!
//! Plugins are components built against the `lms:plugin` WIT package (frozen per release under
//! `plugin-sdk/wit/since_vX.Y.Z/`). [`PluginHost`] validates and compiles a plugin once at upload
//! (keyed by the SHA-256 of its bytes), keeps a pre-linked [`wasmtime::component::InstancePre`]
//! per plugin version, and runs every call in a fresh store from the pooling allocator under hard
//! limits: an epoch deadline, memory, tables, instances, stack, input and output size, optional
//! fuel, and a concurrency cap. Every failure is a typed [`PluginError`]; the host never panics on
//! a plugin's behalf.

mod compile;
mod engine;
mod error;
mod grader;
mod host;
mod integration;
mod limits;
mod prescan;
mod validate;
pub mod wit;

pub use compile::{CHILD_SUBCOMMAND, CompileConfig, run_child_if_requested};
pub use engine::settings as engine_settings;
pub use error::{PluginError, RejectReason};
pub use grader::{Criterion, Grade, GradeRequest, GraderError};
pub use host::{
    HostConfig, InstalledPlugin, Invocation, InvocationRecord, Outcome, PluginHost, PluginId,
    PluginVersion, TenantId,
};
pub use integration::{
    BoxFuture, Event, EventCertificate, EventCourse, EventLearner, EventTenant, Grants, HttpClient,
    HttpError, HttpMethod, HttpRequest, HttpResponse, InstallConfig, IntegrationCall,
    IntegrationDone, IntegrationError, KeyValue, KeyValueError, MAX_KEY_BYTES,
};
pub use prescan::ShapeLimits;
pub use validate::Capability;
pub use wit::WitVersion;
