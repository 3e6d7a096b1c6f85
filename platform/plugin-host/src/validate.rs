//! Upload validation: size and imports. Each import must be an exact interface name: one of
//! ours, tied to a capability the plugin declares, or an inert WASI interface of an allowed
//! version. Nothing is matched by prefix, so a future interface is unreachable until it is
//! listed here with its capability.

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::error::{PluginError, RejectReason};
use crate::wit::PACKAGE_PREFIX;

/// A capability a plugin declares in its manifest and an install grants. Every `lms:plugin`
/// interface a component imports needs one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Capability {
    /// `lms:plugin/log`: write lines to the host's log.
    Log,
    /// `lms:plugin/http`: outgoing HTTP to the install's allowed hosts.
    Http,
    /// `lms:plugin/key-value`: the install's key-value store.
    KeyValue,
    /// `lms:plugin/config`: the install's settings and secrets.
    Secrets,
}

impl Capability {
    /// The manifest's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Log => "log",
            Self::Http => "http",
            Self::KeyValue => "key_value",
            Self::Secrets => "secrets",
        }
    }

    /// The capability of a manifest name, when the host has interfaces for it.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Log, Self::Http, Self::KeyValue, Self::Secrets]
            .into_iter()
            .find(|c| c.as_str() == name)
    }
}

/// Our interfaces, by exact name and version, with the capability each needs.
const PLUGIN_INTERFACES: &[(&str, Capability)] = &[
    ("lms:plugin/log@0.1.0", Capability::Log),
    ("lms:plugin/log@0.2.0", Capability::Log),
    ("lms:plugin/config@0.2.0", Capability::Secrets),
    ("lms:plugin/http@0.2.0", Capability::Http),
    ("lms:plugin/key-value@0.2.0", Capability::KeyValue),
];

/// Our interfaces that carry only types (records a world's exports use); no capability.
const TYPE_INTERFACES: &[&str] = &["lms:plugin/events@0.2.0"];

/// WASI interfaces that Rust's standard library links for panic messages and process exit.
/// They carry no capability; the host satisfies them with functions that trap when called.
/// (`wasi:io/poll` is inert too: the only pollables a plugin could get come from stdio
/// streams, which trap.) Filesystem, sockets, clocks, random and HTTP are never allowed.
const INERT_WASI: &[&str] = &[
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
];

/// WASI 0.2.x: the releases whose inert interfaces above keep their shape.
fn wasi_version_allowed(version: &str) -> bool {
    version
        .strip_prefix("0.2.")
        .is_some_and(|patch| !patch.is_empty() && patch.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether the import `name` is allowed for a plugin declaring `declared`.
pub(crate) fn check_import(name: &str, declared: &[Capability]) -> Result<(), RejectReason> {
    if name.starts_with(PACKAGE_PREFIX) {
        if TYPE_INTERFACES.contains(&name) {
            return Ok(());
        }
        let Some((_, capability)) = PLUGIN_INTERFACES.iter().find(|(n, _)| *n == name) else {
            return Err(RejectReason::ForbiddenImport(name.to_owned()));
        };
        if !declared.contains(capability) {
            return Err(RejectReason::UndeclaredCapability {
                import: name.to_owned(),
                capability: capability.as_str().to_owned(),
            });
        }
        return Ok(());
    }
    let allowed = name.split_once('@').is_some_and(|(interface, version)| {
        INERT_WASI.contains(&interface) && wasi_version_allowed(version)
    });
    if allowed {
        Ok(())
    } else {
        Err(RejectReason::ForbiddenImport(name.to_owned()))
    }
}

/// Refuses a binary over the upload limit before any parsing.
pub(crate) fn check_size(bytes: &[u8], max_bytes: usize) -> Result<(), PluginError> {
    if bytes.len() > max_bytes {
        return Err(PluginError::Rejected {
            reason: RejectReason::TooLarge {
                size: bytes.len(),
                limit: max_bytes,
            },
        });
    }
    Ok(())
}

/// Rejects a component that imports anything outside the plugin worlds or needing a capability
/// it does not declare.
pub(crate) fn check_imports(
    engine: &Engine,
    component: &Component,
    declared: &[Capability],
) -> Result<(), PluginError> {
    let ty = component.component_type();
    for (name, _) in ty.imports(engine) {
        check_import(name, declared).map_err(|reason| PluginError::Rejected { reason })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{Capability, check_import};
    use crate::error::RejectReason;

    #[test]
    fn only_exact_interfaces_are_allowed() {
        let log = [Capability::Log];
        assert_eq!(check_import("lms:plugin/log@0.1.0", &log), Ok(()));
        assert_eq!(check_import("wasi:cli/stderr@0.2.6", &[]), Ok(()));
        assert_eq!(check_import("wasi:io/streams@0.2.0", &[]), Ok(()));
        for denied in [
            "wasi:filesystem/types@0.2.6",
            "wasi:filesystem/preopens@0.2.0",
            "wasi:sockets/tcp@0.2.6",
            "wasi:clocks/wall-clock@0.2.6",
            "wasi:clocks/monotonic-clock@0.2.6",
            "wasi:random/random@0.2.6",
            "wasi:http/outgoing-handler@0.2.6",
            "lms:pluginx/log@0.1.0",
            "lms:plugin/log@0.3.0",
            "lms:plugin/events@0.1.0",
            "lms:plugin/log",
            "lms:plugin/http@0.1.0",
            "lms:plugin/log@0.1.0-extra",
            "wasi:cli/stderr@0.3.0",
            "wasi:cli/stderr@0.2.",
            "wasi:cli/stderr",
            "wasi:cli/stderr-extra@0.2.6",
        ] {
            assert!(
                matches!(
                    check_import(denied, &log),
                    Err(RejectReason::ForbiddenImport(_))
                ),
                "{denied} must be denied"
            );
        }
    }

    #[test]
    fn our_interfaces_need_their_declared_capability() {
        assert!(matches!(
            check_import("lms:plugin/log@0.1.0", &[]),
            Err(RejectReason::UndeclaredCapability { capability, .. }) if capability == "log"
        ));
        assert_eq!(Capability::from_name("log"), Some(Capability::Log));
        assert_eq!(Capability::from_name("http"), Some(Capability::Http));
        assert_eq!(Capability::from_name("learner_profile"), None);
        for (import, capability) in [
            ("lms:plugin/http@0.2.0", "http"),
            ("lms:plugin/key-value@0.2.0", "key_value"),
            ("lms:plugin/config@0.2.0", "secrets"),
        ] {
            assert!(matches!(
                check_import(import, &[Capability::Log]),
                Err(RejectReason::UndeclaredCapability { capability: c, .. }) if c == capability
            ));
            let granted = Capability::from_name(capability)
                .map(|c| vec![c])
                .unwrap_or_default();
            assert_eq!(check_import(import, &granted), Ok(()));
        }
        assert_eq!(check_import("lms:plugin/events@0.2.0", &[]), Ok(()));
    }
}
