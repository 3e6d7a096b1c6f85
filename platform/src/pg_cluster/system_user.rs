//! The unprivileged system user that runs the cluster when the server runs as root: finding or
//! creating it, letting it through the data folder, and handing it the cluster's files.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use tokio::process::Command;

use super::lifecycle::output_text;

/// System user created to run the cluster when the server runs as root and no `postgres`
/// user exists.
const FALLBACK_SYSTEM_USER: &str = "lms-postgres";

/// The unprivileged account that runs the cluster when the server runs as root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SystemUser {
    pub(super) name: String,
    pub(super) uid: u32,
    pub(super) gid: u32,
}

/// The effective uid of this process.
pub(super) fn effective_uid() -> Result<u32> {
    if let Ok(status) = fs::read_to_string("/proc/self/status")
        && let Some(uid) = parse_effective_uid(&status)
    {
        return Ok(uid);
    }
    let output = std::process::Command::new("id")
        .arg("-u")
        .output()
        .context("running `id -u` to learn the effective uid")?;
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .context("parsing the output of `id -u`")
}

/// Reads the effective uid from the `Uid:` line of `/proc/<pid>/status`
/// (real, effective, saved, filesystem).
fn parse_effective_uid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .and_then(|uid| uid.parse().ok())
}

/// The system user that runs the cluster when the server runs as root: `postgres` if it
/// exists, else `lms-postgres`, created on first use.
pub(super) async fn system_user() -> Result<SystemUser> {
    for name in ["postgres", FALLBACK_SYSTEM_USER] {
        if let Some(user) = lookup_user(name).await? {
            if user.uid == 0 {
                bail!("system user {name} has uid 0; PostgreSQL cannot run as it");
            }
            return Ok(user);
        }
    }
    tracing::info!(
        user = FALLBACK_SYSTEM_USER,
        "creating a system user to run PostgreSQL"
    );
    let output = Command::new("useradd")
        .args([
            "--system",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            FALLBACK_SYSTEM_USER,
        ])
        .output()
        .await
        .context("running useradd to create the lms-postgres system user")?;
    if !output.status.success() {
        bail!(
            "useradd {FALLBACK_SYSTEM_USER} failed ({}): {}",
            output.status,
            output_text(&output)
        );
    }
    lookup_user(FALLBACK_SYSTEM_USER)
        .await?
        .ok_or_else(|| anyhow!("useradd succeeded but user {FALLBACK_SYSTEM_USER} is not found"))
}

async fn lookup_user(name: &str) -> Result<Option<SystemUser>> {
    // getent also sees users from NSS sources other than /etc/passwd.
    if let Ok(output) = Command::new("getent").args(["passwd", name]).output().await {
        return Ok(if output.status.success() {
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .find_map(parse_passwd_line)
                .filter(|user| user.name == name)
        } else {
            None
        });
    }
    let passwd = fs::read_to_string("/etc/passwd").context("reading /etc/passwd")?;
    Ok(passwd
        .lines()
        .filter_map(parse_passwd_line)
        .find(|user| user.name == name))
}

fn parse_passwd_line(line: &str) -> Option<SystemUser> {
    let mut fields = line.split(':');
    let name = fields.next()?.to_owned();
    let _password = fields.next()?;
    let uid = fields.next()?.parse().ok()?;
    let gid = fields.next()?.parse().ok()?;
    Some(SystemUser { name, uid, gid })
}

/// Makes sure `user` can reach `data_dir`: its parents must already let it through, and
/// `data_dir` itself gets the execute bit for others if it lacks a way in (no listing, and
/// the files inside keep their own modes).
pub(super) fn ensure_traversable(data_dir: &Path, user: &SystemUser) -> Result<()> {
    for dir in data_dir.ancestors().skip(1) {
        let meta = fs::metadata(dir).with_context(|| format!("reading {}", dir.display()))?;
        if !can_traverse(meta.mode(), meta.uid(), meta.gid(), user) {
            bail!(
                "the private PostgreSQL cluster runs as system user {user}, which cannot enter {dir} \
                 (mode {mode:o}, owner {owner}). Use a data folder whose parent folders are \
                 world-executable (e.g. under /var/lib), or run `chmod o+x {dir}`",
                user = user.name,
                dir = dir.display(),
                mode = meta.mode() & 0o7777,
                owner = meta.uid(),
            );
        }
    }
    let meta = fs::metadata(data_dir).with_context(|| format!("reading {}", data_dir.display()))?;
    if !can_traverse(meta.mode(), meta.uid(), meta.gid(), user) {
        let mode = (meta.mode() & 0o7777) | 0o001;
        tracing::info!(
            data_dir = %data_dir.display(),
            mode = format!("{mode:o}"),
            "letting the PostgreSQL system user through the data folder"
        );
        fs::set_permissions(data_dir, fs::Permissions::from_mode(mode))
            .with_context(|| format!("setting the mode of {}", data_dir.display()))?;
    }
    Ok(())
}

/// Whether `user` may enter a folder with this mode and ownership (supplementary groups are
/// not considered).
fn can_traverse(mode: u32, owner: u32, group: u32, user: &SystemUser) -> bool {
    if owner == user.uid {
        mode & 0o100 != 0
    } else if group == user.gid {
        mode & 0o010 != 0
    } else {
        mode & 0o001 != 0
    }
}

pub(super) fn chown_recursive(path: &Path, uid: u32, gid: u32) -> Result<()> {
    let meta = fs::symlink_metadata(path).with_context(|| format!("reading {}", path.display()))?;
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))
        .with_context(|| format!("changing the owner of {}", path.display()))?;
    if meta.is_dir() {
        for entry in fs::read_dir(path).with_context(|| format!("listing {}", path.display()))? {
            let entry = entry.with_context(|| format!("listing {}", path.display()))?;
            chown_recursive(&entry.path(), uid, gid)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effective_uid_is_the_second_uid_field() {
        let status =
            "Name:\tlms\nUmask:\t0022\nUid:\t1000\t0\t0\t0\nGid:\t1000\t1000\t1000\t1000\n";
        assert_eq!(parse_effective_uid(status), Some(0));
        assert_eq!(parse_effective_uid("Name:\tx\n"), None);
    }

    #[test]
    fn passwd_lines_parse() {
        let user = parse_passwd_line(
            "postgres:x:101:104:PostgreSQL administrator,,,:/var/lib/postgresql:/bin/bash",
        )
        .expect("parsed");
        assert_eq!(
            user,
            SystemUser {
                name: "postgres".into(),
                uid: 101,
                gid: 104
            }
        );
        assert_eq!(parse_passwd_line("broken:x:abc:1:::"), None);
        assert_eq!(parse_passwd_line(""), None);
    }

    #[test]
    fn traversal_follows_owner_group_other_bits() {
        let user = SystemUser {
            name: "postgres".into(),
            uid: 101,
            gid: 104,
        };
        assert!(can_traverse(0o755, 0, 0, &user));
        assert!(!can_traverse(0o700, 0, 0, &user));
        assert!(can_traverse(0o711, 0, 0, &user));
        assert!(can_traverse(0o710, 0, 104, &user));
        assert!(can_traverse(0o700, 101, 0, &user));
        // The owner's bits apply to the owner even when others may enter.
        assert!(!can_traverse(0o001, 101, 0, &user));
    }
}
