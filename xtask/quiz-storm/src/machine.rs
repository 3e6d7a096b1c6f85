//! What the machine's cores did during the storm, from `/proc`: all of them, this client, the
//! server, its PostgreSQL cluster, and everything else (other work on the machine).

use std::path::{Path, PathBuf};
use std::time::Instant;

/// `/proc` counts CPU time in ticks of 1/100 s (USER_HZ).
const TICKS_PER_SECOND: f64 = 100.0;

pub struct Sampler {
    started: Instant,
    machine: Option<Ticks>,
    client: u64,
    server: Option<(u32, u64)>,
    cluster_dir: Option<PathBuf>,
    cluster: u64,
    load_before: String,
}

/// Shares of the machine (all cores together), in per cent.
pub struct Load {
    pub cores: usize,
    pub busy: Option<f64>,
    /// Of `busy`: time the virtual machine's host gave to others while this one had work.
    pub steal: Option<f64>,
    /// Idle while a process waited for the disk (not in `busy`).
    pub iowait: Option<f64>,
    pub client: f64,
    pub server: Option<f64>,
    pub cluster: Option<f64>,
    pub load_before: String,
    pub load_after: String,
}

impl Load {
    /// Busy time that was neither this client, the server, its cluster nor stolen by the host.
    pub fn others(&self) -> Option<f64> {
        Some(self.busy? - self.client - self.server? - self.cluster? - self.steal?)
            .map(|o| o.max(0.0))
    }
}

impl Sampler {
    pub fn start(server: Option<u32>, cluster_dir: Option<&Path>) -> Self {
        Self {
            started: Instant::now(),
            machine: machine_ticks(),
            client: process_ticks("self").unwrap_or(0),
            server: server.map(|pid| (pid, process_ticks(&pid.to_string()).unwrap_or(0))),
            cluster: cluster_dir.map_or(0, cluster_ticks),
            cluster_dir: cluster_dir.map(Path::to_path_buf),
            load_before: load_average(),
        }
    }

    pub fn finish(self) -> Load {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let seconds = self.started.elapsed().as_secs_f64().max(0.001);
        let share = |ticks: u64| ticks as f64 / TICKS_PER_SECOND / seconds / cores as f64 * 100.0;
        let ticks = self.machine.zip(machine_ticks());
        let part = |of: fn(&Ticks) -> u64| {
            ticks.map(|(before, after)| {
                of(&after).saturating_sub(of(&before)) as f64
                    / after.total.saturating_sub(before.total).max(1) as f64
                    * 100.0
            })
        };
        Load {
            cores,
            busy: part(|t| t.busy),
            steal: part(|t| t.steal),
            iowait: part(|t| t.iowait),
            client: share(
                process_ticks("self")
                    .unwrap_or(0)
                    .saturating_sub(self.client),
            ),
            server: self.server.map(|(pid, before)| {
                share(
                    process_ticks(&pid.to_string())
                        .unwrap_or(0)
                        .saturating_sub(before),
                )
            }),
            cluster: self
                .cluster_dir
                .as_deref()
                .map(|dir| share(cluster_ticks(dir).saturating_sub(self.cluster))),
            load_before: self.load_before,
            load_after: load_average(),
        }
    }
}

/// Ticks of all cores.
#[derive(Clone, Copy)]
struct Ticks {
    busy: u64,
    steal: u64,
    iowait: u64,
    total: u64,
}

fn machine_ticks() -> Option<Ticks> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|v| v.parse().ok())
        .collect();
    let [user, nice, system, idle, iowait, irq, softirq, steal] = ticks[..] else {
        return None;
    };
    let total = user + nice + system + idle + iowait + irq + softirq + steal;
    Some(Ticks {
        busy: total - idle - iowait,
        steal,
        iowait,
        total,
    })
}

/// A process's `(parent, user + system ticks)` from `/proc/<pid>/stat`.
fn stat(pid: &str) -> Option<(u32, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields after it are space-separated.
    let fields: Vec<&str> = text.rsplit_once(')')?.1.split_whitespace().collect();
    let parent = fields.get(1)?.parse().ok()?;
    let user: u64 = fields.get(11)?.parse().ok()?;
    let system: u64 = fields.get(12)?.parse().ok()?;
    Some((parent, user + system))
}

fn process_ticks(pid: &str) -> Option<u64> {
    stat(pid).map(|(_, ticks)| ticks)
}

/// The cluster's postmaster (whose command line names its data folder) and its children.
fn cluster_ticks(dir: &Path) -> u64 {
    let dir = dir.to_string_lossy();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let pids: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.bytes().all(|b| b.is_ascii_digit()))
        .collect();
    let postmaster = pids.iter().find(|pid| {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        comm.trim() == "postgres"
            && std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmd| String::from_utf8_lossy(&cmd).contains(dir.as_ref()))
    });
    let Some(postmaster) = postmaster.and_then(|p| p.parse::<u32>().ok()) else {
        return 0;
    };
    pids.iter()
        .filter_map(|pid| stat(pid).map(|s| (pid, s)))
        .filter(|(pid, (parent, _))| *parent == postmaster || **pid == postmaster.to_string())
        .map(|(_, (_, ticks))| ticks)
        .sum()
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "?".into())
}
