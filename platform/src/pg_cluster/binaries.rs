//! Finding the PostgreSQL server programs: on PATH, then under the folders where Debian and
//! Ubuntu install them.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};

/// Where Debian and Ubuntu install the server binaries, one folder per major version.
const DEBIAN_LIB_ROOT: &str = "/usr/lib/postgresql";

/// The server programs, all from one installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Binaries {
    pub(super) initdb: PathBuf,
    pub(super) pg_ctl: PathBuf,
}

/// Finds `initdb` and `pg_ctl` on PATH, then under the newest `/usr/lib/postgresql/<N>/bin`.
pub(super) fn find_binaries() -> Result<Binaries> {
    let path = std::env::var_os("PATH");
    find_binaries_in(path.as_deref(), Path::new(DEBIAN_LIB_ROOT)).ok_or_else(|| {
        anyhow!(
            "PostgreSQL server programs (initdb, pg_ctl, postgres) were found neither on PATH nor \
             under {DEBIAN_LIB_ROOT}/<version>/bin. Install them (on Debian or Ubuntu: \
             `apt install postgresql`) or set DATABASE_URL to use an existing server"
        )
    })
}

fn find_binaries_in(path_var: Option<&OsStr>, lib_root: &Path) -> Option<Binaries> {
    let mut candidates = Vec::new();
    if let Some(path_var) = path_var {
        for dir in std::env::split_paths(path_var) {
            let initdb = dir.join("initdb");
            if !is_executable(&initdb) {
                continue;
            }
            // pg_ctl finds postgres next to its own resolved path, so prefer the folder the
            // PATH entry links to (e.g. /usr/local/bin/initdb -> /usr/lib/postgresql/15/bin).
            if let Some(real_dir) = fs::canonicalize(&initdb)
                .ok()
                .and_then(|real| real.parent().map(Path::to_path_buf))
            {
                candidates.push(real_dir);
            }
            candidates.push(dir);
        }
    }
    if let Some(dir) = newest_version_dir(lib_root) {
        candidates.push(dir.join("bin"));
    }
    candidates.into_iter().find_map(|dir| {
        let bins = Binaries {
            initdb: dir.join("initdb"),
            pg_ctl: dir.join("pg_ctl"),
        };
        (is_executable(&bins.initdb)
            && is_executable(&bins.pg_ctl)
            && is_executable(&dir.join("postgres")))
        .then_some(bins)
    })
}

/// The subfolder of `lib_root` with the highest version number (`15` beats `9.6`).
fn newest_version_dir(lib_root: &Path) -> Option<PathBuf> {
    fs::read_dir(lib_root)
        .ok()?
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let version = parse_version(entry.file_name().to_str()?)?;
            entry
                .path()
                .join("bin")
                .is_dir()
                .then(|| (version, entry.path()))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, path)| path)
}

fn parse_version(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pg_cluster::tests::Scratch;

    fn fake_program(path: &Path) {
        fs::create_dir_all(path.parent().expect("has parent")).expect("create bin dir");
        fs::write(path, "#!/bin/sh\n").expect("write program");
        fs::set_permissions(path, fs::Permissions::from_mode(0o755)).expect("chmod program");
    }

    fn fake_install(bin: &Path) {
        for name in ["initdb", "pg_ctl", "postgres"] {
            fake_program(&bin.join(name));
        }
    }

    #[test]
    fn picks_the_newest_debian_version() {
        let scratch = Scratch::new("versions");
        let lib = scratch.0.join("lib");
        fake_install(&lib.join("9.6/bin"));
        fake_install(&lib.join("15/bin"));
        fake_install(&lib.join("13/bin"));
        fs::create_dir_all(lib.join("99")).expect("dir without bin");
        fs::create_dir_all(lib.join("notes/bin")).expect("non-version dir");

        let bins = find_binaries_in(None, &lib).expect("found");
        assert_eq!(bins.initdb, lib.join("15/bin/initdb"));
        assert_eq!(bins.pg_ctl, lib.join("15/bin/pg_ctl"));
    }

    #[test]
    fn path_comes_before_the_debian_folders() {
        let scratch = Scratch::new("path");
        let lib = scratch.0.join("lib");
        fake_install(&lib.join("15/bin"));
        let on_path = scratch.0.join("opt/pg/bin");
        fake_install(&on_path);
        let elsewhere = scratch.0.join("elsewhere");
        fs::create_dir_all(&elsewhere).expect("dir");
        let path_var = std::env::join_paths([&elsewhere, &on_path]).expect("join");

        let bins = find_binaries_in(Some(&path_var), &lib).expect("found");
        assert_eq!(
            bins.initdb,
            fs::canonicalize(&on_path).expect("real").join("initdb")
        );
    }

    #[test]
    fn initdb_symlinked_onto_path_resolves_to_its_installation() {
        let scratch = Scratch::new("symlink");
        let install = scratch.0.join("install/bin");
        fake_install(&install);
        let path_dir = scratch.0.join("local/bin");
        fs::create_dir_all(&path_dir).expect("dir");
        // Only initdb is linked; pg_ctl and postgres live in the installation only.
        std::os::unix::fs::symlink(install.join("initdb"), path_dir.join("initdb")).expect("link");
        let path_var = std::env::join_paths([&path_dir]).expect("join");

        let bins = find_binaries_in(Some(&path_var), &scratch.0.join("no-lib")).expect("found");
        let real = fs::canonicalize(&install).expect("real");
        assert_eq!(bins.initdb, real.join("initdb"));
        assert_eq!(bins.pg_ctl, real.join("pg_ctl"));
    }

    #[test]
    fn incomplete_installations_are_skipped() {
        let scratch = Scratch::new("incomplete");
        let lib = scratch.0.join("lib");
        fake_program(&lib.join("16/bin/initdb"));
        assert_eq!(find_binaries_in(None, &lib), None);
        let plain = scratch.0.join("lib/16/bin/pg_ctl");
        fs::write(&plain, "not executable").expect("write");
        fake_program(&lib.join("16/bin/postgres"));
        assert_eq!(find_binaries_in(None, &lib), None);
    }

    #[test]
    fn versions_compare_numerically() {
        assert!(parse_version("15") > parse_version("9.6"));
        assert!(parse_version("10") > parse_version("9"));
        assert_eq!(parse_version("main"), None);
    }
}
