//! Host tests against the real wasm plugins built by `cargo xtask test` (step "Plugins"), found
//! through `LMS_PLUGIN_ARTIFACTS`. One binary, one module per concern.

mod compat;
mod compile_budget;
mod determinism;
mod graders;
mod helpers;
mod hostile;
mod imports;
mod integrations;
mod limits;
mod sandbox_totals;
mod upload;
