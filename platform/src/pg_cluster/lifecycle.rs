//! Starting the cluster (initialising it on first use), creating its database, and stopping
//! it; the server programs are run from here.

use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgSslMode};
use tokio::process::Command;

use super::binaries::find_binaries;
use super::state::{ClusterState, read_state, write_state};
use super::system_user::{effective_uid, ensure_traversable, system_user};
use super::{DATABASE, OWNER, PrivateCluster};

impl PrivateCluster {
    /// Initialises the cluster on first use (or reuses it) under `data_dir` and starts it;
    /// waits until it accepts connections.
    pub async fn start(data_dir: &Path) -> Result<PrivateCluster> {
        let bins = find_binaries()?;
        fs::create_dir_all(data_dir)
            .with_context(|| format!("creating data folder {}", data_dir.display()))?;
        let data_dir = fs::canonicalize(data_dir)
            .with_context(|| format!("resolving data folder {}", data_dir.display()))?;

        let run_as = if effective_uid()? == 0 {
            let user = system_user().await?;
            tracing::info!(
                user = %user.name,
                "running as root: the private PostgreSQL cluster runs as an unprivileged user"
            );
            ensure_traversable(&data_dir, &user)?;
            Some(user)
        } else {
            None
        };

        let pgdata = data_dir.join("pgdata");
        let state_path = data_dir.join("cluster.json");
        let initialized = pgdata.join("PG_VERSION").is_file();
        let state = match read_state(&state_path)? {
            Some(state) => state,
            None if initialized => bail!(
                "{} holds a PostgreSQL cluster but {} is missing, so its passwords are unknown; \
                 restore cluster.json or move pgdata aside to start afresh",
                pgdata.display(),
                state_path.display()
            ),
            None => {
                let state = ClusterState::generate(free_port()?);
                write_state(&state_path, &state)?;
                state
            }
        };

        let mut cluster = PrivateCluster {
            bins,
            run_as,
            log_path: data_dir.join("postgres.log"),
            pgdata,
            data_dir,
            state,
        };
        cluster.prepare_pgdata()?;
        if initialized {
            tracing::info!(pgdata = %cluster.pgdata.display(), "reusing private PostgreSQL cluster");
        } else {
            tracing::info!(
                pgdata = %cluster.pgdata.display(),
                initdb = %cluster.bins.initdb.display(),
                "initialising private PostgreSQL cluster"
            );
            cluster.initdb().await?;
        }
        cluster.ensure_settings_included()?;

        if cluster.is_running().await? {
            tracing::info!(
                port = cluster.state.port,
                "private PostgreSQL cluster is already running; reusing it"
            );
        } else {
            if !port_is_free(cluster.state.port) {
                let port = free_port()?;
                tracing::info!(
                    old_port = cluster.state.port,
                    new_port = port,
                    "port of the private PostgreSQL cluster is taken; moving it"
                );
                cluster.state.port = port;
                write_state(&state_path, &cluster.state)?;
            }
            cluster.write_settings()?;
            cluster.prepare_log()?;
            tracing::info!(
                port = cluster.state.port,
                "starting private PostgreSQL cluster"
            );
            cluster.pg_ctl_start().await?;
        }

        cluster.ensure_database().await?;
        tracing::info!(
            port = cluster.state.port,
            database = DATABASE,
            "private PostgreSQL cluster is ready"
        );
        Ok(cluster)
    }

    /// Stops the cluster (`pg_ctl stop -m fast`) and waits.
    pub async fn stop(self) -> Result<()> {
        tracing::info!(
            port = self.state.port,
            "stopping private PostgreSQL cluster"
        );
        let args: Vec<OsString> = vec![
            "-D".into(),
            self.pgdata.clone().into(),
            "-m".into(),
            "fast".into(),
            "-w".into(),
            "stop".into(),
        ];
        let output = self.run(&self.bins.pg_ctl, &args).await?;
        if !output.status.success() {
            bail!(
                "pg_ctl stop failed ({}): {}{}",
                output.status,
                output_text(&output),
                self.log_tail()
            );
        }
        tracing::info!("private PostgreSQL cluster stopped");
        Ok(())
    }

    async fn initdb(&self) -> Result<()> {
        let pwfile = TempSecret::create(
            &self.data_dir.join(".initdb-password"),
            &self.state.owner_password,
        )?;
        self.hand_over(pwfile.path())?;

        let mut last_failure = String::new();
        for locale in ["--locale=C.UTF-8", "--no-locale"] {
            let args: Vec<OsString> = vec![
                "-D".into(),
                self.pgdata.clone().into(),
                format!("--username={OWNER}").into(),
                "--auth-local=scram-sha-256".into(),
                "--auth-host=scram-sha-256".into(),
                "--encoding=UTF8".into(),
                locale.into(),
                {
                    let mut arg = OsString::from("--pwfile=");
                    arg.push(pwfile.path());
                    arg
                },
            ];
            let output = self.run(&self.bins.initdb, &args).await?;
            if output.status.success() {
                tracing::info!(locale, "initdb finished");
                return Ok(());
            }
            last_failure = format!(
                "initdb {locale} failed ({}): {}",
                output.status,
                output_text(&output)
            );
            tracing::warn!(locale, failure = %last_failure, "initdb failed");
            // initdb cleans up after itself, but make sure the next attempt starts empty.
            clear_dir(&self.pgdata)?;
            self.prepare_pgdata()?;
        }
        Err(anyhow!(last_failure))
    }

    /// Whether `pg_ctl status` finds a live postmaster for `pgdata`.
    async fn is_running(&self) -> Result<bool> {
        let args: Vec<OsString> = vec!["-D".into(), self.pgdata.clone().into(), "status".into()];
        let output = self.run(&self.bins.pg_ctl, &args).await?;
        match output.status.code() {
            Some(0) => Ok(true),
            // 3: no server running (a stale postmaster.pid included).
            Some(3) => Ok(false),
            _ => bail!(
                "pg_ctl status failed ({}): {}",
                output.status,
                output_text(&output)
            ),
        }
    }

    async fn pg_ctl_start(&self) -> Result<()> {
        let args: Vec<OsString> = vec![
            "-D".into(),
            self.pgdata.clone().into(),
            "-l".into(),
            self.log_path.clone().into(),
            "-w".into(),
            "-t".into(),
            "60".into(),
            "start".into(),
        ];
        let output = self.run(&self.bins.pg_ctl, &args).await?;
        if !output.status.success() {
            bail!(
                "could not start the private PostgreSQL cluster (pg_ctl {}): {}{}",
                output.status,
                output_text(&output),
                self.log_tail()
            );
        }
        Ok(())
    }

    /// Creates the `lms` database, owned by the superuser, unless it exists.
    async fn ensure_database(&self) -> Result<()> {
        let options = PgConnectOptions::new()
            .host("127.0.0.1")
            .port(self.state.port)
            .username(OWNER)
            .password(&self.state.owner_password)
            .database("postgres")
            .ssl_mode(PgSslMode::Disable);
        // A cluster found running may still be starting up.
        let mut attempt = 0;
        let mut conn = loop {
            match PgConnection::connect_with(&options).await {
                Ok(conn) => break conn,
                Err(err) if attempt < 30 && is_transient(&err) => {
                    tracing::debug!(error = %err, "private PostgreSQL cluster not ready yet");
                    attempt += 1;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(err) => {
                    return Err(anyhow!(err).context(format!(
                        "the private PostgreSQL cluster in {} does not accept connections \
                         on 127.0.0.1:{}{}",
                        self.pgdata.display(),
                        self.state.port,
                        self.log_tail()
                    )));
                }
            }
        };
        let exists: bool =
            sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
                .bind(DATABASE)
                .fetch_one(&mut conn)
                .await
                .context("looking for the lms database")?;
        if !exists {
            tracing::info!(database = DATABASE, "creating database");
            sqlx::raw_sql(&format!("create database {DATABASE} owner {OWNER}"))
                .execute(&mut conn)
                .await
                .context("creating the lms database")?;
        }
        conn.close().await.context("closing the setup connection")?;
        Ok(())
    }

    /// Runs a server program, as the system user when the server runs as root.
    async fn run(&self, program: &Path, args: &[OsString]) -> Result<Output> {
        let mut command = match &self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.arg("-u").arg(&user.name).arg("--").arg(program);
                command
            }
            None => Command::new(program),
        };
        command
            .args(args)
            .current_dir(&self.data_dir)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        let output = command.output().await.with_context(|| match &self.run_as {
            Some(_) => format!(
                "running {} through runuser (util-linux, needed when the server runs as root)",
                program.display()
            ),
            None => format!("running {}", program.display()),
        })?;
        Ok(output)
    }
}

/// Whether a connection error means the server is not accepting connections yet.
fn is_transient(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_) => true,
        // cannot_connect_now: the database system is starting up.
        sqlx::Error::Database(db) => db.code().as_deref() == Some("57P03"),
        _ => false,
    }
}

/// A file holding a secret, removed when dropped.
struct TempSecret {
    path: PathBuf,
}

impl TempSecret {
    fn create(path: &Path, secret: &str) -> Result<TempSecret> {
        // A leftover from an interrupted run would make create_new fail.
        let _ = fs::remove_file(path);
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("creating {}", path.display()))?;
        let guard = TempSecret {
            path: path.to_path_buf(),
        };
        writeln!(file, "{secret}").with_context(|| format!("writing {}", path.display()))?;
        Ok(guard)
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempSecret {
    fn drop(&mut self) {
        if let Err(err) = fs::remove_file(&self.path) {
            tracing::warn!(path = %self.path.display(), error = %err, "could not remove a temporary password file");
        }
    }
}

/// A free TCP port on 127.0.0.1, as chosen by the kernel.
fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
        .context("looking for a free port on 127.0.0.1")?;
    Ok(listener
        .local_addr()
        .context("reading the chosen port")?
        .port())
}

fn port_is_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// Empties a folder, keeping the folder itself.
fn clear_dir(dir: &Path) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        let path = entry.path();
        let removed = if entry.file_type().is_ok_and(|t| t.is_dir()) {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        removed.with_context(|| format!("removing {}", path.display()))?;
    }
    Ok(())
}

pub(super) fn output_text(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    format!("{}{}", stdout.trim_end(), {
        let stderr = stderr.trim_end();
        if stderr.is_empty() {
            String::new()
        } else {
            format!("\n{stderr}")
        }
    })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::pg_cluster::tests::Scratch;

    #[test]
    fn temp_secret_is_private_and_removed() {
        let scratch = Scratch::new("secret");
        let path = scratch.0.join(".pw");
        {
            let secret = TempSecret::create(&path, "s3cret").expect("create");
            assert_eq!(fs::read_to_string(secret.path()).expect("read"), "s3cret\n");
            let mode = fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert!(!path.exists());
    }
}
