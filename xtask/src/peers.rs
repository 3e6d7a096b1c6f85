//! The Python test peers (e.g. the SMTP sink): a virtualenv under
//! `target/test-peers/venv` with `xtask/test-peers-requirements.txt`
//! installed.

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::{command, root, run, succeeds};

const REQUIREMENTS: &str = "xtask/test-peers-requirements.txt";

/// Step 3: makes sure the venv exists and has the pinned requirements.
/// Returns the absolute path of the venv's python (for `LMS_TEST_PYTHON`).
pub fn ensure() -> Result<PathBuf> {
    let dir = root().join("target").join("test-peers");
    let venv = dir.join("venv");
    let python = venv.join("bin").join("python");
    let marker = dir.join("installed-requirements.txt");
    let requirements_path = root().join(REQUIREMENTS);
    let requirements = std::fs::read_to_string(&requirements_path)
        .with_context(|| format!("reading {}", requirements_path.display()))?;

    // A venv whose interpreter no longer runs (e.g. its base Python moved) is
    // rebuilt from scratch.
    let healthy = python.is_file() && succeeds(command(&python).args(["-c", "import sys"]));
    if healthy {
        println!("venv: {}", venv.display());
    } else {
        if venv.exists() {
            println!("venv at {} is broken; recreating it", venv.display());
            std::fs::remove_dir_all(&venv)
                .with_context(|| format!("removing {}", venv.display()))?;
        }
        let _ = std::fs::remove_file(&marker);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        if !succeeds(command("python3").args(["-m", "ensurepip", "--version"])) {
            // Debian splits the venv module out of python3.
            println!("python3 lacks the venv module; installing python3-venv");
            let _ = run(command("apt-get")
                .args(["install", "-y", "--no-install-recommends", "python3-venv"])
                .env("DEBIAN_FRONTEND", "noninteractive"));
        }
        run(command("python3").args(["-m", "venv"]).arg(&venv)).context(
            "creating the test-peers venv needs Python 3 with the venv module \
             (Debian: apt-get install python3-venv)",
        )?;
    }

    let installed = std::fs::read_to_string(&marker).ok();
    if installed.as_deref() == Some(requirements.as_str()) {
        println!("{REQUIREMENTS} already installed");
    } else {
        run(command(&python).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            REQUIREMENTS,
        ]))
        .context("installing the Python test peers' requirements")?;
        std::fs::write(&marker, &requirements)
            .with_context(|| format!("writing {}", marker.display()))?;
        println!("installed {REQUIREMENTS}");
    }
    Ok(python)
}

/// The committed verifier (script, manifest, lockfile), relative to the workspace root.
const VERIFIER_SOURCE: &str = "platform/tests/peers/verifier";

/// The Node test peer: Digital Bazaar's credential libraries, installed from the committed
/// lockfile with `npm ci` into `target/test-peers/verifier` (beside a copy of the script).
/// Returns that directory (for `LMS_TEST_VERIFIER`).
pub fn ensure_verifier() -> Result<PathBuf> {
    let source = root().join(VERIFIER_SOURCE);
    let dir = root().join("target").join("test-peers").join("verifier");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for file in ["package.json", "package-lock.json", "verify.mjs"] {
        std::fs::copy(source.join(file), dir.join(file))
            .with_context(|| format!("copying {VERIFIER_SOURCE}/{file}"))?;
    }
    if !succeeds(command("npm").arg("--version")) {
        println!("npm is missing; installing Debian's nodejs and npm");
        let _ = run(command("apt-get").args(["update", "-q"]));
        let _ = run(command("apt-get")
            .args(["install", "-y", "--no-install-recommends", "nodejs", "npm"])
            .env("DEBIAN_FRONTEND", "noninteractive"));
    }
    let lock = std::fs::read_to_string(source.join("package-lock.json"))
        .with_context(|| format!("reading {VERIFIER_SOURCE}/package-lock.json"))?;
    let marker = dir.join("installed-package-lock.json");
    let installed = std::fs::read_to_string(&marker).ok();
    if installed.as_deref() == Some(lock.as_str()) && dir.join("node_modules").is_dir() {
        println!("{VERIFIER_SOURCE} already installed");
    } else {
        run(command("npm")
            .args([
                "ci",
                "--ignore-scripts",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
            ])
            .current_dir(&dir))
        .context("installing the credential verifier's npm packages (needs Node.js and npm)")?;
        std::fs::write(&marker, &lock).with_context(|| format!("writing {}", marker.display()))?;
        println!("installed {VERIFIER_SOURCE}");
    }
    Ok(dir)
}
