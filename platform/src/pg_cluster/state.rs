//! The cluster's files under the data folder: `cluster.json` with its port and passwords,
//! `pgdata` and the settings file in it, and the server log.

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, Result};
use rand::Rng;
use rand::distributions::Alphanumeric;
use serde::{Deserialize, Serialize};

use super::PrivateCluster;
use super::system_user::chown_recursive;

/// Settings file included at the end of `postgresql.conf`, rewritten at every start.
const SETTINGS_FILE: &str = "lms.conf";
/// The log is moved aside at start once it grows past this size.
const LOG_ROTATE_BYTES: u64 = 16 * 1024 * 1024;
const PASSWORD_LEN: usize = 32;

/// Port and secrets of the cluster, persisted in `cluster.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct ClusterState {
    pub(super) port: u16,
    pub(super) owner_password: String,
    pub(super) app_password: String,
    pub(super) operator_password: String,
}

impl PrivateCluster {
    /// Creates `pgdata` (mode 0700) and, as root, hands it to the system user.
    pub(super) fn prepare_pgdata(&self) -> Result<()> {
        if !self.pgdata.exists() {
            fs::create_dir(&self.pgdata)
                .with_context(|| format!("creating {}", self.pgdata.display()))?;
        }
        if let Some(user) = &self.run_as {
            let meta = fs::metadata(&self.pgdata)
                .with_context(|| format!("reading {}", self.pgdata.display()))?;
            if meta.uid() != user.uid || meta.gid() != user.gid {
                tracing::info!(
                    user = %user.name,
                    pgdata = %self.pgdata.display(),
                    "handing the cluster's files to the system user"
                );
                chown_recursive(&self.pgdata, user.uid, user.gid)?;
            }
        }
        fs::set_permissions(&self.pgdata, fs::Permissions::from_mode(0o700))
            .with_context(|| format!("setting the mode of {}", self.pgdata.display()))?;
        Ok(())
    }

    /// Creates the log (mode 0600, owned by whoever runs the cluster), first moving a large
    /// one aside.
    pub(super) fn prepare_log(&self) -> Result<()> {
        if let Ok(meta) = fs::metadata(&self.log_path)
            && meta.len() > LOG_ROTATE_BYTES
        {
            let old = self.data_dir.join("postgres.log.1");
            fs::rename(&self.log_path, &old)
                .with_context(|| format!("moving {} aside", self.log_path.display()))?;
        }
        fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&self.log_path)
            .with_context(|| format!("creating {}", self.log_path.display()))?;
        self.hand_over(&self.log_path)
    }

    /// As root, gives a file to the system user that runs the cluster.
    pub(super) fn hand_over(&self, path: &Path) -> Result<()> {
        if let Some(user) = &self.run_as {
            std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid))
                .with_context(|| format!("changing the owner of {}", path.display()))?;
        }
        Ok(())
    }

    /// Makes `postgresql.conf` include the settings file this module rewrites at each start.
    pub(super) fn ensure_settings_included(&self) -> Result<()> {
        let conf = self.pgdata.join("postgresql.conf");
        let text =
            fs::read_to_string(&conf).with_context(|| format!("reading {}", conf.display()))?;
        let line = format!("include_if_exists = '{SETTINGS_FILE}'");
        if !text.lines().any(|l| l.trim() == line) {
            let mut file = fs::OpenOptions::new()
                .append(true)
                .open(&conf)
                .with_context(|| format!("opening {}", conf.display()))?;
            writeln!(file, "\n# Settings managed by the LMS server.\n{line}")
                .with_context(|| format!("writing {}", conf.display()))?;
        }
        Ok(())
    }

    pub(super) fn write_settings(&self) -> Result<()> {
        let path = self.pgdata.join(SETTINGS_FILE);
        let mut file = fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        file.write_all(settings_text(self.state.port).as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        self.hand_over(&path)
    }

    /// The end of the server log, formatted to append to an error message.
    pub(super) fn log_tail(&self) -> String {
        match read_tail(&self.log_path, 40) {
            Some(tail) if !tail.trim().is_empty() => {
                format!(
                    "\n--- last lines of {} ---\n{tail}",
                    self.log_path.display()
                )
            }
            _ => String::new(),
        }
    }
}

impl ClusterState {
    pub(super) fn generate(port: u16) -> ClusterState {
        ClusterState {
            port,
            owner_password: generate_password(),
            app_password: generate_password(),
            operator_password: generate_password(),
        }
    }
}

pub(super) fn generate_password() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(PASSWORD_LEN)
        .map(char::from)
        .collect()
}

/// The settings this module owns, written to `pgdata/lms.conf`.
fn settings_text(port: u16) -> String {
    format!(
        "# Written by the LMS server at every start of its private cluster; edits are lost.\n\
         # Put your own settings in postgresql.auto.conf (ALTER SYSTEM), which is read last.\n\
         listen_addresses = '127.0.0.1'\n\
         port = {port}\n\
         unix_socket_directories = ''\n\
         max_connections = 200\n\
         shared_buffers = 256MB\n\
         password_encryption = 'scram-sha-256'\n"
    )
}

pub(super) fn read_state(path: &Path) -> Result<Option<ClusterState>> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
    };
    let state =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    Ok(Some(state))
}

/// Writes `cluster.json` atomically, mode 0600.
pub(super) fn write_state(path: &Path, state: &ClusterState) -> Result<()> {
    let tmp = path.with_extension("json.tmp");
    let _ = fs::remove_file(&tmp);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    let json = serde_json::to_string_pretty(state).context("encoding the cluster state")?;
    file.write_all(json.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

/// The last `lines` lines of a file, reading at most its last 64 KiB.
fn read_tail(path: &Path, lines: usize) -> Option<String> {
    let mut file = fs::File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    let start = len.saturating_sub(64 * 1024);
    file.seek(SeekFrom::Start(start)).ok()?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    Some(all[all.len().saturating_sub(lines)..].join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pg_cluster::tests::Scratch;

    #[test]
    fn cluster_state_round_trips_with_private_mode() {
        let scratch = Scratch::new("state");
        let path = scratch.0.join("cluster.json");
        assert_eq!(read_state(&path).expect("read"), None);

        let state = ClusterState::generate(54321);
        write_state(&path, &state).expect("write");
        assert_eq!(read_state(&path).expect("read"), Some(state.clone()));
        let mode = fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);

        let mut moved = state;
        moved.port = 54322;
        write_state(&path, &moved).expect("rewrite");
        assert_eq!(read_state(&path).expect("read"), Some(moved));
    }

    #[test]
    fn generated_passwords_are_long_alphanumeric_and_distinct() {
        let state = ClusterState::generate(1);
        for password in [
            &state.owner_password,
            &state.app_password,
            &state.operator_password,
        ] {
            assert_eq!(password.len(), PASSWORD_LEN);
            assert!(password.chars().all(|c| c.is_ascii_alphanumeric()));
        }
        assert_ne!(state.owner_password, state.app_password);
        assert_ne!(state.app_password, state.operator_password);
    }

    #[test]
    fn settings_listen_on_loopback_only_without_sockets() {
        let text = settings_text(6123);
        assert!(text.contains("listen_addresses = '127.0.0.1'\n"));
        assert!(text.contains("port = 6123\n"));
        assert!(text.contains("unix_socket_directories = ''\n"));
    }

    #[test]
    fn log_tail_keeps_the_last_lines() {
        let scratch = Scratch::new("tail");
        let path = scratch.0.join("postgres.log");
        let text: String = (1..=100).map(|i| format!("line {i}\n")).collect();
        fs::write(&path, text).expect("write");
        let tail = read_tail(&path, 3).expect("tail");
        assert_eq!(tail, "line 98\nline 99\nline 100");
        assert_eq!(read_tail(&scratch.0.join("missing"), 3), None);
    }
}
