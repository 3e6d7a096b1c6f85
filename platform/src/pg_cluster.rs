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

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use rand::Rng;
use rand::distributions::Alphanumeric;
use serde::{Deserialize, Serialize};
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgSslMode};
use tokio::process::Command;

/// The cluster superuser, which owns the `lms` database and runs the migrations.
const OWNER: &str = "lms";
/// The database the platform uses.
const DATABASE: &str = "lms";
/// System user created to run the cluster when the server runs as root and no `postgres`
/// user exists.
const FALLBACK_SYSTEM_USER: &str = "lms-postgres";
/// Where Debian and Ubuntu install the server binaries, one folder per major version.
const DEBIAN_LIB_ROOT: &str = "/usr/lib/postgresql";
/// Settings file included at the end of `postgresql.conf`, rewritten at every start.
const SETTINGS_FILE: &str = "lms.conf";
/// The log is moved aside at start once it grows past this size.
const LOG_ROTATE_BYTES: u64 = 16 * 1024 * 1024;
const PASSWORD_LEN: usize = 32;

/// A PostgreSQL cluster run by the platform under its data folder.
pub struct PrivateCluster {
    bins: Binaries,
    run_as: Option<SystemUser>,
    data_dir: PathBuf,
    pgdata: PathBuf,
    log_path: PathBuf,
    state: ClusterState,
}

/// Port and secrets of the cluster, persisted in `cluster.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ClusterState {
    port: u16,
    owner_password: String,
    app_password: String,
    operator_password: String,
}

/// The server programs, all from one installation.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Binaries {
    initdb: PathBuf,
    pg_ctl: PathBuf,
}

/// The unprivileged account that runs the cluster when the server runs as root.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SystemUser {
    name: String,
    uid: u32,
    gid: u32,
}

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

    /// Creates `pgdata` (mode 0700) and, as root, hands it to the system user.
    fn prepare_pgdata(&self) -> Result<()> {
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
    fn prepare_log(&self) -> Result<()> {
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
    fn hand_over(&self, path: &Path) -> Result<()> {
        if let Some(user) = &self.run_as {
            std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid))
                .with_context(|| format!("changing the owner of {}", path.display()))?;
        }
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

    /// Makes `postgresql.conf` include the settings file this module rewrites at each start.
    fn ensure_settings_included(&self) -> Result<()> {
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

    fn write_settings(&self) -> Result<()> {
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

    /// The end of the server log, formatted to append to an error message.
    fn log_tail(&self) -> String {
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
    fn generate(port: u16) -> ClusterState {
        ClusterState {
            port,
            owner_password: generate_password(),
            app_password: generate_password(),
            operator_password: generate_password(),
        }
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

fn generate_password() -> String {
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

fn read_state(path: &Path) -> Result<Option<ClusterState>> {
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
fn write_state(path: &Path, state: &ClusterState) -> Result<()> {
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

/// Finds `initdb` and `pg_ctl` on PATH, then under the newest `/usr/lib/postgresql/<N>/bin`.
fn find_binaries() -> Result<Binaries> {
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

/// The effective uid of this process.
fn effective_uid() -> Result<u32> {
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
async fn system_user() -> Result<SystemUser> {
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
fn ensure_traversable(data_dir: &Path, user: &SystemUser) -> Result<()> {
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

fn chown_recursive(path: &Path, uid: u32, gid: u32) -> Result<()> {
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

fn output_text(output: &Output) -> String {
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
    use super::*;

    /// A scratch folder under the system temp dir, removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
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

    #[test]
    fn settings_listen_on_loopback_only_without_sockets() {
        let text = settings_text(6123);
        assert!(text.contains("listen_addresses = '127.0.0.1'\n"));
        assert!(text.contains("port = 6123\n"));
        assert!(text.contains("unix_socket_directories = ''\n"));
    }

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
