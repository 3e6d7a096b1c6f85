//! The plugin compile child alone: `lms-plugin-compile __compile-plugin <request>` with the
//! component on standard input (see `lms_plugin_host::CompileConfig`). The server and the
//! runner embed the same entry point; this binary serves the host's own tests.

use std::process::ExitCode;

fn main() -> ExitCode {
    lms_plugin_host::run_child_if_requested().unwrap_or_else(|| {
        eprintln!(
            "usage: lms-plugin-compile {} <request> < component.wasm",
            lms_plugin_host::CHILD_SUBCOMMAND
        );
        ExitCode::from(2)
    })
}
