//! The SDK for LMS plugins.
//!
//! A plugin is a WebAssembly component built for `wasm32-wasip2` against the `lms:plugin` WIT
//! package (frozen per release under `wit/since_vX.Y.Z/`). This crate binds the newest version and
//! offers a Rust-shaped API over it: implement [`Grader`] and register the type with
//! [`export_grader!`].
//!
//! ```ignore
//! use lms_plugin_sdk::prelude::*;
//!
//! struct Exact;
//!
//! impl Grader for Exact {
//!     fn grade(request: GradeRequest) -> Result<Grade, GradeError> {
//!         let answer = request.response_text.as_deref().unwrap_or_default();
//!         let ok = answer.trim() == "42";
//!         let points = if ok { request.max_points } else { 0.0 };
//!         Ok(Grade::from_criteria(vec![Criterion::new("answer", points, request.max_points, "")], request.max_points))
//!     }
//! }
//!
//! export_grader!(Exact);
//! ```
//!
//! Graders are pure: the only capability they import is [`log`]. They have no clock, randomness,
//! filesystem or network, and the host rejects components that import anything else.
//!
//! Integrations (the `integration` world of WIT 0.2.0) react to the tenant's domain events:
//! implement [`integration::Integration`] and register it with [`export_integration!`]. They may
//! import the capabilities their manifest declares and the install grants: [`integration::log`],
//! [`integration::config`], [`integration::http`] and [`integration::kv`].

mod grading;
pub mod integration;
pub mod log;

pub use grading::{Criterion, Grade, GradeError, GradeRequest};
/// The serde the SDK parses configurations with. Derive through it with
/// `#[serde(crate = "lms_plugin_sdk::serde")]`, or depend on `serde` directly.
pub use serde;
/// The JSON parser behind [`GradeRequest::parse_config`], for plugins that read JSON themselves.
pub use serde_json;

/// The WIT version this SDK builds graders against (the grader world is unchanged since).
pub const WIT_VERSION: &str = "0.1.0";

/// The WIT version this SDK builds integrations against.
pub const INTEGRATION_WIT_VERSION: &str = "0.2.0";

/// The generated bindings; used by [`export_grader!`], not part of the stable API.
#[doc(hidden)]
#[allow(clippy::too_many_arguments, missing_docs)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit/since_v0.1.0",
        world: "grader",
        pub_export_macro: true,
        export_macro_name: "__export_grader_world",
        default_bindings_module: "lms_plugin_sdk::bindings",
        generate_all,
    });
}

/// The generated bindings of the `integration` world; used by [`export_integration!`], not part
/// of the stable API.
#[doc(hidden)]
#[allow(clippy::too_many_arguments, missing_docs)]
pub mod integration_bindings {
    wit_bindgen::generate!({
        path: "wit/since_v0.2.0",
        world: "integration",
        pub_export_macro: true,
        export_macro_name: "__export_integration_world",
        default_bindings_module: "lms_plugin_sdk::integration_bindings",
        generate_all,
    });
}

/// A grader plugin: turns a learner's response into a [`Grade`].
///
/// Implementations must be deterministic: the same request always gives the same grade.
pub trait Grader {
    /// Grades one response.
    ///
    /// Return [`GradeError::InvalidConfig`] when the question's configuration is unusable and
    /// [`GradeError::InvalidResponse`] when the response cannot be read at all; a wrong answer is
    /// an `Ok` grade with zero points.
    fn grade(request: GradeRequest) -> Result<Grade, GradeError>;
}

/// Everything a grader usually needs, for `use lms_plugin_sdk::prelude::*`.
pub mod prelude {
    pub use crate::log;
    pub use crate::{Criterion, Grade, GradeError, GradeRequest, Grader, export_grader};
}

/// Exports a type implementing [`Grader`] as this component's `grade` function.
///
/// Call it once, at the crate root of a `cdylib` plugin: `export_grader!(MyGrader);`.
#[macro_export]
macro_rules! export_grader {
    ($grader:ty) => {
        const _: () = {
            struct __LmsGraderExport;

            impl $crate::bindings::Guest for __LmsGraderExport {
                fn grade(
                    request: $crate::GradeRequest,
                ) -> ::core::result::Result<$crate::Grade, $crate::GradeError> {
                    <$grader as $crate::Grader>::grade(request)
                }
            }

            $crate::bindings::__export_grader_world!(
                __LmsGraderExport with_types_in $crate::bindings
            );
        };
    };
}

/// Exports a type implementing [`integration::Integration`] as this component's
/// `handle-event`, `on-install` and `on-schedule` functions.
///
/// Call it once, at the crate root of a `cdylib` plugin: `export_integration!(MyIntegration);`.
#[macro_export]
macro_rules! export_integration {
    ($integration:ty) => {
        const _: () = {
            struct __LmsIntegrationExport;

            impl $crate::integration_bindings::Guest for __LmsIntegrationExport {
                fn handle_event(
                    event: $crate::integration::Event,
                ) -> ::core::result::Result<(), $crate::integration::IntegrationError> {
                    <$integration as $crate::integration::Integration>::handle_event(event)
                }

                fn on_install(
                    config: ::std::string::String,
                ) -> ::core::result::Result<(), $crate::integration::IntegrationError> {
                    <$integration as $crate::integration::Integration>::on_install(config)
                }

                fn on_schedule() -> ::core::result::Result<(), $crate::integration::IntegrationError> {
                    <$integration as $crate::integration::Integration>::on_schedule()
                }
            }

            $crate::integration_bindings::__export_integration_world!(
                __LmsIntegrationExport with_types_in $crate::integration_bindings
            );
        };
    };
}
