//! A private PostgreSQL cluster for single-machine installs.
//!
//! The server needs a real PostgreSQL: tenant isolation rests on row-level security and on
//! separate login roles, which no embedded substitute provides. When no `DATABASE_URL` is
//! given, rather than ask the operator to install, configure and secure a server by hand,
//! the platform runs its own cluster from the system's PostgreSQL binaries, kept entirely
//! under its data folder:
//!
//! - `<data_dir>/pgdata`: the cluster itself (mode 0700);
//! - `<data_dir>/cluster.json`: its port and generated passwords (mode 0600);
//! - `<data_dir>/postgres.log`: the server log.
//!
//! The cluster listens on 127.0.0.1 only, has no Unix socket (a socket path under a deep data
//! folder can exceed the kernel's length limit) and requires a SCRAM password for every
//! connection. Its superuser `lms` owns the schema and runs the migrations; the migrations
//! create the `lms_app` and `lms_operator` login roles, whose passwords are generated here on
//! first use and kept with the others.
//!
//! PostgreSQL refuses to run as root, so when the server runs as root the cluster runs as an
//! unprivileged system user (`postgres` where the distribution package created it, otherwise
//! `lms-postgres`), through `runuser`.
//!
//! `pg_ctl` detaches the postmaster, so the cluster outlives a server that exits without
//! calling [`PrivateCluster::stop`]; the next start finds it running and reuses it.

mod binaries;
mod lifecycle;
mod state;
mod system_user;

use std::path::PathBuf;

use binaries::Binaries;
use state::ClusterState;
use system_user::SystemUser;

/// The cluster superuser, which owns the `lms` database and runs the migrations.
const OWNER: &str = "lms";
/// The database the platform uses.
const DATABASE: &str = "lms";

/// A PostgreSQL cluster run by the platform under its data folder.
pub struct PrivateCluster {
    bins: Binaries,
    run_as: Option<SystemUser>,
    data_dir: PathBuf,
    pgdata: PathBuf,
    log_path: PathBuf,
    state: ClusterState,
}

impl PrivateCluster {
    /// URL of the cluster superuser (the migration owner), database `lms`.
    pub fn owner_url(&self) -> String {
        format!(
            "postgres://{OWNER}:{}@127.0.0.1:{}/{DATABASE}",
            self.state.owner_password, self.state.port
        )
    }

    /// Generated password for the `lms_app` login role the migrations create.
    pub fn app_password(&self) -> &str {
        &self.state.app_password
    }

    /// Generated password for the `lms_operator` login role the migrations create.
    pub fn operator_password(&self) -> &str {
        &self.state.operator_password
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::state::generate_password;
    use super::*;

    /// A scratch folder under the system temp dir, removed when dropped.
    pub(super) struct Scratch(pub(super) PathBuf);

    impl Scratch {
        pub(super) fn new(name: &str) -> Scratch {
            let dir = std::env::temp_dir().join(format!(
                "pg-cluster-test-{}-{name}-{}",
                std::process::id(),
                generate_password()
            ));
            fs::create_dir_all(&dir).expect("create scratch dir");
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn owner_url_names_the_lms_database() {
        let cluster = PrivateCluster {
            bins: Binaries {
                initdb: PathBuf::from("/x/initdb"),
                pg_ctl: PathBuf::from("/x/pg_ctl"),
            },
            run_as: None,
            data_dir: PathBuf::from("/d"),
            pgdata: PathBuf::from("/d/pgdata"),
            log_path: PathBuf::from("/d/postgres.log"),
            state: ClusterState {
                port: 5999,
                owner_password: "pw".into(),
                app_password: "app".into(),
                operator_password: "op".into(),
            },
        };
        assert_eq!(cluster.owner_url(), "postgres://lms:pw@127.0.0.1:5999/lms");
        assert_eq!(cluster.app_password(), "app");
        assert_eq!(cluster.operator_password(), "op");
    }
}
