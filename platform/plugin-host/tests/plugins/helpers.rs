use std::path::PathBuf;

use lms_plugin_host::{GradeRequest, HostConfig, PluginHost, PluginId, PluginVersion, TenantId};
use sha2::{Digest, Sha256};

/// The folder holding the plugins' `.wasm` files.
#[track_caller]
pub fn artifacts() -> PathBuf {
    match std::env::var_os("LMS_PLUGIN_ARTIFACTS") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => panic!(
            "LMS_PLUGIN_ARTIFACTS is unset: run `cargo xtask test`, or build the plugins with \
             `cargo build --release --target wasm32-wasip2 --manifest-path plugins/Cargo.toml \
             --target-dir target/plugins` and set \
             LMS_PLUGIN_ARTIFACTS=target/plugins/wasm32-wasip2/release (absolute path)"
        ),
    }
}

/// The bytes of a built plugin, e.g. `wasm("lab_flag_grader")`.
#[track_caller]
pub fn wasm(name: &str) -> Vec<u8> {
    let path = artifacts().join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "reading {}: {e}; is LMS_PLUGIN_ARTIFACTS the plugins' wasm32-wasip2/release folder?",
            path.display()
        )
    })
}

pub fn host() -> PluginHost {
    host_with(HostConfig::default())
}

/// A host with `config`, compiling in this package's compile child (a test binary cannot be
/// the child itself) unless the config names another program.
#[track_caller]
pub fn host_with(mut config: HostConfig) -> PluginHost {
    if config.compile.program.is_none() {
        config.compile.program = Some(env!("CARGO_BIN_EXE_lms-plugin-compile").into());
    }
    PluginHost::new(config).expect("the plugin host starts")
}

/// Installs the named plugin as version 1.0.0 under its own name, granted logging.
pub async fn install(host: &PluginHost, name: &str) -> (PluginId, PluginVersion) {
    install_bytes(host, name, &wasm(name)).await
}

pub fn tenant() -> TenantId {
    TenantId("tenant-a".to_owned())
}

pub fn request(
    config: &str,
    max_points: f64,
    text: Option<&str>,
    json: Option<&str>,
) -> GradeRequest {
    GradeRequest {
        question_kind: "test".into(),
        prompt: "Answer the question.".into(),
        config: config.into(),
        max_points,
        response_text: text.map(str::to_owned),
        response_json: json.map(str::to_owned),
        learner: "learner-1".into(),
    }
}

/// Lowercase hex SHA-256 of `salt + flag`, as the lab-flag grader expects.
pub fn flag_digest(salt: &str, flag: &str) -> String {
    hex::encode(Sha256::digest(format!("{salt}{flag}")))
}

/// A two-flag lab worth 1 + 3 points.
pub fn lab_config() -> String {
    serde_json::json!({
        "flags": [
            {"name": "user", "salt": "s1", "sha256": flag_digest("s1", "FLAG{user}"), "points": 1.0},
            {"name": "root", "salt": "s2", "sha256": flag_digest("s2", "FLAG{root}"), "points": 3.0},
        ],
        "case_sensitive": true,
        "trim_whitespace": true,
    })
    .to_string()
}

/// The bytes of a hostile component written in the component text format, from
/// `plugins/testing/<name>/grader.wat` (shapes Rust cannot build).
#[track_caller]
pub fn wat_component(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../plugins/testing")
        .join(name)
        .join("grader.wat");
    wat::parse_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Installs `bytes` as version 1.0.0 of `name` for [`tenant`], granted logging.
pub async fn install_bytes(
    host: &PluginHost,
    name: &str,
    bytes: &[u8],
) -> (PluginId, PluginVersion) {
    let id = PluginId(name.to_owned());
    let version = PluginVersion("1.0.0".to_owned());
    host.install_grader(
        &tenant(),
        id.clone(),
        version.clone(),
        bytes,
        &[lms_plugin_host::Capability::Log],
    )
    .await
    .unwrap_or_else(|e| panic!("installing {name}: {e}"));
    (id, version)
}
