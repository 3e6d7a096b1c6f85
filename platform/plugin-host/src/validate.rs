//! Upload validation: size, well-formedness and imports.

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::error::{PluginError, RejectReason};
use crate::wit::PACKAGE_PREFIX;

/// WASI interfaces that Rust's standard library links for panic messages and process exit.
/// They carry no capability; the host satisfies them with functions that trap when called.
const INERT_WASI: &[&str] = &[
    "wasi:cli/environment@",
    "wasi:cli/exit@",
    "wasi:cli/stdin@",
    "wasi:cli/stdout@",
    "wasi:cli/stderr@",
    "wasi:cli/terminal-input@",
    "wasi:cli/terminal-output@",
    "wasi:cli/terminal-stdin@",
    "wasi:cli/terminal-stdout@",
    "wasi:cli/terminal-stderr@",
    "wasi:io/error@",
    "wasi:io/poll@",
    "wasi:io/streams@",
];

/// Whether an import is one a plugin may have: our package, or an inert WASI interface.
/// Filesystem, sockets, clocks, random and HTTP are never allowed. (`wasi:io/poll` is inert
/// without them: the only pollables a plugin could get are from stdio streams, which trap.)
pub(crate) fn import_allowed(name: &str) -> bool {
    name.starts_with(PACKAGE_PREFIX) || INERT_WASI.iter().any(|p| name.starts_with(p))
}

fn rejected(reason: RejectReason) -> PluginError {
    PluginError::Rejected { reason }
}

/// Compiles `bytes` after checking their size, then checks the component's imports.
pub(crate) fn compile(
    engine: &Engine,
    bytes: &[u8],
    max_bytes: usize,
) -> Result<Component, PluginError> {
    if bytes.len() > max_bytes {
        return Err(rejected(RejectReason::TooLarge {
            size: bytes.len(),
            limit: max_bytes,
        }));
    }
    let component = Component::new(engine, bytes)
        .map_err(|e| rejected(RejectReason::Malformed(format!("{e:#}"))))?;
    check_imports(engine, &component)?;
    Ok(component)
}

/// Rejects a component that imports anything outside the plugin worlds.
pub(crate) fn check_imports(engine: &Engine, component: &Component) -> Result<(), PluginError> {
    let ty = component.component_type();
    for (name, _) in ty.imports(engine) {
        if !import_allowed(name) {
            return Err(rejected(RejectReason::ForbiddenImport(name.to_owned())));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::import_allowed;

    #[test]
    fn only_our_package_and_inert_wasi_are_allowed() {
        assert!(import_allowed("lms:plugin/log@0.1.0"));
        assert!(import_allowed("wasi:cli/stderr@0.2.6"));
        for denied in [
            "wasi:filesystem/types@0.2.6",
            "wasi:filesystem/preopens@0.2.0",
            "wasi:sockets/tcp@0.2.6",
            "wasi:clocks/wall-clock@0.2.6",
            "wasi:clocks/monotonic-clock@0.2.6",
            "wasi:random/random@0.2.6",
            "wasi:http/outgoing-handler@0.2.6",
            "lms:pluginx/log@0.1.0",
        ] {
            assert!(!import_allowed(denied), "{denied} must be denied");
        }
    }
}
