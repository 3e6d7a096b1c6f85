//! Compiling uploads under a budget.
//!
//! Cranelift has no budget of its own and a thread cannot be stopped, while a small hostile
//! component (deep nets of branches with thousands of locals live across them) can take minutes
//! and gigabytes to compile. So an upload is first compiled in a child process that limits its
//! own address space and CPU time (`setrlimit`) and is killed by the parent after a wall-clock
//! budget. Only when the child succeeded does the host compile the component itself: Cranelift's
//! cost is deterministic for the same input and settings, so that compile is bounded by what the
//! child proved. The child's machine code is never loaded (that would take `unsafe` and trust
//! code produced from hostile input); the child only answers "compiled" or why not.
//!
//! Compilations are also few at once: a server-wide cap with a short wait, and one per tenant.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rustix::process::Signal;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::InstanceAllocationStrategy;

use crate::error::{PluginError, RejectReason};
use crate::host::{HostConfig, TenantId};
use crate::prescan::ShapeLimits;

/// The hidden first argument that makes a binary act as the compile child: the `lms` server
/// and `lms-plugin-runner` call [`run_child_if_requested`] first thing in `main`.
pub const CHILD_SUBCOMMAND: &str = "__compile-plugin";

/// Exit code of a child whose compile failed with an error (the component is invalid).
const EXIT_INVALID: u8 = 3;
/// Exit code of a child that could not start its work (bad arguments, unreadable input).
const EXIT_SETUP: u8 = 4;

/// The compile budget and the program that proves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileConfig {
    /// The program to run as the compile child; `None`: this process's own executable, which
    /// must call [`run_child_if_requested`] at the start of `main`.
    pub program: Option<PathBuf>,
    /// Arguments put before the child's own (`[CHILD_SUBCOMMAND]`).
    pub args: Vec<String>,
    /// CPU time the child may use (4 s; the first-party graders take ~0.1 s); `RLIMIT_CPU`.
    pub cpu_time: Duration,
    /// Address space of the child (1 GiB); `RLIMIT_AS`.
    pub address_space_bytes: u64,
    /// Wall-clock time before the parent kills the child (6 s).
    pub wall_time: Duration,
    /// Compilations running at once across the host (2); one per tenant at most.
    pub max_concurrent: usize,
    /// How long a compilation may wait for a free slot before [`PluginError::CompileBusy`] (3 s).
    pub queue_wait: Duration,
    /// Shapes refused before compiling.
    pub shape: ShapeLimits,
}

impl Default for CompileConfig {
    fn default() -> Self {
        Self {
            program: None,
            args: vec![CHILD_SUBCOMMAND.to_owned()],
            cpu_time: Duration::from_secs(4),
            address_space_bytes: 1 << 30,
            wall_time: Duration::from_secs(6),
            max_concurrent: 2,
            queue_wait: Duration::from_secs(3),
            shape: ShapeLimits::default(),
        }
    }
}

/// What the child needs to build an engine like the parent's and to limit itself.
#[derive(Debug, Serialize, Deserialize)]
struct ChildRequest {
    max_memory_bytes: usize,
    max_table_elements: usize,
    max_wasm_stack_bytes: usize,
    fuel: bool,
    cpu_seconds: u64,
    address_space_bytes: u64,
    max_input_bytes: usize,
}

impl ChildRequest {
    fn new(config: &HostConfig) -> Self {
        Self {
            max_memory_bytes: config.max_memory_bytes,
            max_table_elements: config.max_table_elements,
            max_wasm_stack_bytes: config.max_wasm_stack_bytes,
            fuel: config.fuel.is_some(),
            cpu_seconds: config.compile.cpu_time.as_secs().max(1),
            address_space_bytes: config.compile.address_space_bytes,
            max_input_bytes: config.max_upload_bytes,
        }
    }

    /// The host settings that shape the generated code; the rest stay at their defaults.
    fn host_config(&self) -> HostConfig {
        HostConfig {
            max_memory_bytes: self.max_memory_bytes,
            max_table_elements: self.max_table_elements,
            max_wasm_stack_bytes: self.max_wasm_stack_bytes,
            fuel: self.fuel.then_some(0),
            ..HostConfig::default()
        }
    }
}

/// When the process was started as the compile child (first argument [`CHILD_SUBCOMMAND`]),
/// compiles the component on standard input under the limits in the second argument and
/// returns the exit code; otherwise returns `None` at once. Call it before starting any
/// runtime or thread, so that the address-space limit applies to the compile alone.
pub fn run_child_if_requested() -> Option<ExitCode> {
    let mut args = std::env::args_os().skip(1);
    if args.next()? != CHILD_SUBCOMMAND {
        return None;
    }
    let code = match args.next().map(|a| a.to_string_lossy().into_owned()) {
        Some(request) => child(&request),
        None => {
            eprintln!("{CHILD_SUBCOMMAND}: missing the request argument");
            EXIT_SETUP
        }
    };
    Some(ExitCode::from(code))
}

fn child(request: &str) -> u8 {
    let request: ChildRequest = match serde_json::from_str(request) {
        Ok(request) => request,
        Err(e) => {
            eprintln!("{CHILD_SUBCOMMAND}: bad request: {e}");
            return EXIT_SETUP;
        }
    };
    // Die with the server rather than compile on for nobody.
    let _ = rustix::process::set_parent_process_death_signal(Some(Signal::KILL));
    let limit = |resource, soft: u64, hard: u64| {
        rustix::process::setrlimit(
            resource,
            rustix::process::Rlimit {
                current: Some(soft),
                maximum: Some(hard),
            },
        )
    };
    // Past the soft CPU limit the kernel sends SIGXCPU (which kills), past the hard one SIGKILL.
    let limited = limit(
        rustix::process::Resource::Cpu,
        request.cpu_seconds,
        request.cpu_seconds + 1,
    )
    .and_then(|()| {
        limit(
            rustix::process::Resource::As,
            request.address_space_bytes,
            request.address_space_bytes,
        )
    });
    if let Err(e) = limited {
        eprintln!("{CHILD_SUBCOMMAND}: setting resource limits: {e}");
        return EXIT_SETUP;
    }
    let mut bytes = Vec::new();
    let read = std::io::Read::read_to_end(
        &mut std::io::Read::take(std::io::stdin().lock(), request.max_input_bytes as u64 + 1),
        &mut bytes,
    );
    if let Err(e) = read {
        eprintln!("{CHILD_SUBCOMMAND}: reading the component: {e}");
        return EXIT_SETUP;
    }
    let mut settings = crate::engine::settings(&request.host_config());
    // The pooling allocator reserves far more address space than the limit allows; the child
    // never instantiates anything, and the allocator does not change the generated code.
    settings.allocation_strategy(InstanceAllocationStrategy::OnDemand);
    let engine = match wasmtime::Engine::new(&settings) {
        Ok(engine) => engine,
        Err(e) => {
            eprintln!("{CHILD_SUBCOMMAND}: building the engine: {e:#}");
            return EXIT_SETUP;
        }
    };
    match wasmtime::component::Component::new(&engine, &bytes) {
        Ok(_) => 0,
        Err(e) => {
            eprint!("{e:#}");
            EXIT_INVALID
        }
    }
}

/// Runs the compile child on `bytes` and waits for its verdict, killing it at the wall-clock
/// budget (and when this future is dropped).
pub(crate) async fn prove(config: &HostConfig, bytes: &[u8]) -> Result<(), PluginError> {
    let budget = &config.compile;
    let program = match &budget.program {
        Some(program) => program.clone(),
        None => std::env::current_exe()
            .map_err(|e| PluginError::Internal(format!("finding the compile program: {e}")))?,
    };
    let request = serde_json::to_string(&ChildRequest::new(config))
        .map_err(|e| PluginError::Internal(format!("encoding the compile request: {e}")))?;
    let mut child = tokio::process::Command::new(&program)
        .args(&budget.args)
        .arg(request)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            PluginError::Internal(format!(
                "starting the compile child {}: {e}",
                program.display()
            ))
        })?;
    let (Some(mut stdin), Some(mut stderr)) = (child.stdin.take(), child.stderr.take()) else {
        return Err(PluginError::Internal(
            "the compile child has no pipes".into(),
        ));
    };
    let run = async {
        // A child that dies early closes its end; its status says why, not the write error.
        let _ = stdin.write_all(bytes).await;
        drop(stdin);
        // At most a few KiB of message; bounded so a confused child cannot fill memory.
        let mut message = Vec::new();
        let _ = (&mut stderr).take(16 << 10).read_to_end(&mut message).await;
        let status = child.wait().await;
        (status, message)
    };
    let outcome = tokio::time::timeout(budget.wall_time, run).await;
    let Ok((status, message)) = outcome else {
        // SIGKILL and reap; were this future dropped instead, kill_on_drop would do the same.
        let _ = child.kill().await;
        return Err(exceeded(format!(
            "{} s of wall-clock time",
            budget.wall_time.as_secs_f32()
        )));
    };
    let status =
        status.map_err(|e| PluginError::Internal(format!("waiting for the compile child: {e}")))?;
    let message = String::from_utf8_lossy(&message).into_owned();
    if status.success() {
        return Ok(());
    }
    use std::os::unix::process::ExitStatusExt as _;
    let signal = status.signal();
    let killed_by = |signals: &[Signal]| signals.iter().any(|s| Some(s.as_raw()) == signal);
    match status.code() {
        Some(code) if code == i32::from(EXIT_INVALID) => Err(PluginError::Rejected {
            reason: RejectReason::Malformed(message),
        }),
        // SIGXCPU at the soft limit, SIGKILL at the hard one.
        _ if killed_by(&[Signal::XCPU, Signal::KILL]) => Err(exceeded(format!(
            "{} s of CPU time",
            budget.cpu_time.as_secs().max(1)
        ))),
        // An allocation failure under RLIMIT_AS aborts (or faults when a stack cannot grow).
        _ if killed_by(&[Signal::ABORT, Signal::SEGV, Signal::BUS]) => Err(exceeded(format!(
            "{} MiB of memory",
            budget.address_space_bytes >> 20
        ))),
        _ => Err(PluginError::Internal(format!(
            "the compile child {} failed ({status}): {}",
            program.display(),
            message.trim()
        ))),
    }
}

fn exceeded(budget: String) -> PluginError {
    PluginError::CompileBudgetExceeded { budget }
}

/// Admits few compilations at once: one per tenant, and a few across the host.
pub(crate) struct CompileGate {
    permits: Arc<Semaphore>,
    tenants: Arc<Mutex<HashSet<TenantId>>>,
    wait: Duration,
}

/// A tenant's place among the compilations; gives it back when dropped (also when the
/// waiting future is cancelled).
struct TenantSlot {
    tenants: Arc<Mutex<HashSet<TenantId>>>,
    tenant: TenantId,
}

impl Drop for TenantSlot {
    fn drop(&mut self) {
        self.tenants
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.tenant);
    }
}

/// A compilation's place; releases it when dropped.
pub(crate) struct CompileTicket {
    _permit: OwnedSemaphorePermit,
    _slot: TenantSlot,
}

impl CompileGate {
    pub(crate) fn new(config: &CompileConfig) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(config.max_concurrent.max(1))),
            tenants: Arc::new(Mutex::new(HashSet::new())),
            wait: config.queue_wait,
        }
    }

    /// A place for `tenant`, refused at once when the tenant already compiles something, and
    /// after the queue wait when the host is full.
    pub(crate) async fn enter(&self, tenant: &TenantId) -> Result<CompileTicket, PluginError> {
        if !self
            .tenants
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(tenant.clone())
        {
            return Err(PluginError::CompileBusy { tenant: true });
        }
        let slot = TenantSlot {
            tenants: Arc::clone(&self.tenants),
            tenant: tenant.clone(),
        };
        let permit = tokio::time::timeout(self.wait, Arc::clone(&self.permits).acquire_owned())
            .await
            .map_err(|_| PluginError::CompileBusy { tenant: false })?
            .map_err(|_| PluginError::Internal("the compile gate is closed".into()))?;
        Ok(CompileTicket {
            _permit: permit,
            _slot: slot,
        })
    }
}
