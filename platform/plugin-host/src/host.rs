//! [`PluginHost`]: install plugins and run them under limits.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store, Trap, UpdateDeadline};

use crate::compile::{self, CompileConfig, CompileGate};
use crate::engine::{self, EpochTicker};
use crate::error::{PluginError, RejectReason};
use crate::grader::{Grade, GradeRequest};
use crate::integration::{
    Grants, HttpClient, InstallConfig, IntegrationCall, IntegrationDone, KeyValue,
};
use crate::limits::Limiter;
use crate::prescan::{self, InstanceLimits};
use crate::validate::{self, Capability};
use crate::wit::{self, GraderPre, IntegrationPre, LogLine, WitVersion};

/// A plugin's id, opaque to the host.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PluginId(pub String);

/// A plugin's release version; an installed version is immutable.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PluginVersion(pub String);

/// The tenant a call is made for, opaque to the host.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TenantId(pub String);

macro_rules! display_inner {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}
display_inner!(PluginId, PluginVersion, TenantId);

/// The sandbox's limits. [`HostConfig::default`] is the production setting.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Largest accepted upload (10 MiB).
    pub max_upload_bytes: usize,
    /// Linear memory of one call, all of its memories together (64 MiB).
    pub max_memory_bytes: usize,
    /// Table elements of one call, all of its tables together (20 000).
    pub max_table_elements: usize,
    /// Core and component instances per store.
    pub max_instances: usize,
    /// Tables per store.
    pub max_tables: usize,
    /// Memories per store.
    pub max_memories: usize,
    /// Native stack for wasm code (512 KiB).
    pub max_wasm_stack_bytes: usize,
    /// Component instances the pooling allocator holds (1000).
    pub pooled_instances: u32,
    /// Wall-clock deadline of a `grade` call (100 ms).
    pub grader_deadline: Duration,
    /// Wall-clock deadline of an integration call, its HTTP requests included (15 s).
    pub integration_deadline: Duration,
    /// HTTP requests one integration call may send (16).
    pub max_http_requests_per_call: u32,
    /// Largest HTTP response body handed to a plugin (1 MiB).
    pub max_http_response_bytes: usize,
    /// How often the epoch advances; the deadline's resolution (2 ms).
    pub epoch_tick: Duration,
    /// Fuel per call, for deterministic budgets; `None` runs without fuel metering.
    pub fuel: Option<u64>,
    /// Largest request text (128 KiB).
    pub max_request_bytes: usize,
    /// Largest output of a grade: its feedback text plus a fixed size per criterion; also the
    /// largest error message of a grader (20 KiB).
    pub max_output_bytes: usize,
    /// Most criteria in a grade (64).
    pub max_criteria: usize,
    /// Most bytes the host copies out of a plugin at once: its result or error, or one host
    /// call's arguments such as a log line (2 MiB; never less than `max_criteria` criteria
    /// plus `max_output_bytes`). A larger value is refused unread with
    /// [`PluginError::TransferTooLarge`]; what is copied is then held to the output limits.
    pub max_transfer_bytes: usize,
    /// Calls running at once (64).
    pub max_concurrency: usize,
    /// Calls running at once for one tenant, so that one tenant cannot take every slot (16, a
    /// quarter of the default `max_concurrency`; at least 1 is used).
    pub max_concurrency_per_tenant: usize,
    /// How long a call may wait for a free slot before [`PluginError::Overloaded`] (50 ms).
    pub queue_wait: Duration,
    /// Log lines kept per call; further lines are dropped.
    pub max_log_lines: usize,
    /// Longest log line kept (4 KiB); a longer line is replaced by a note of its size.
    pub max_log_line_bytes: usize,
    /// The compile budget of uploads and the helper process that proves it.
    pub compile: CompileConfig,
}

impl Default for HostConfig {
    fn default() -> Self {
        Self {
            max_upload_bytes: 10 << 20,
            max_memory_bytes: 64 << 20,
            max_table_elements: 20_000,
            max_instances: 32,
            max_tables: 32,
            max_memories: 4,
            max_wasm_stack_bytes: 512 << 10,
            pooled_instances: 1000,
            grader_deadline: Duration::from_millis(100),
            integration_deadline: Duration::from_secs(15),
            max_http_requests_per_call: 16,
            max_http_response_bytes: 1 << 20,
            epoch_tick: Duration::from_millis(2),
            fuel: None,
            max_request_bytes: 128 << 10,
            max_output_bytes: 20 << 10,
            max_criteria: 64,
            max_transfer_bytes: 2 << 20,
            max_concurrency: 64,
            max_concurrency_per_tenant: 16,
            queue_wait: Duration::from_millis(50),
            max_log_lines: 100,
            max_log_line_bytes: 4 << 10,
            compile: CompileConfig::default(),
        }
    }
}

/// What the host knows about an installed plugin version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledPlugin {
    /// Lowercase hex SHA-256 of the component bytes; the compiled artifact is pinned to it.
    pub sha256: String,
    /// The WIT version the plugin was built against.
    pub wit_version: WitVersion,
}

/// How an invocation ended, for the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The plugin returned a valid result.
    Success,
    /// The call failed; the code is [`PluginError::code`].
    Failure(&'static str),
}

/// The audit record of one invocation, success or not.
#[derive(Debug, Clone, PartialEq)]
pub struct InvocationRecord {
    /// The plugin called.
    pub plugin: PluginId,
    /// Its version.
    pub version: PluginVersion,
    /// The tenant the call was for.
    pub tenant: TenantId,
    /// The WIT version of the plugin, when it is installed.
    pub wit_version: Option<WitVersion>,
    /// Time from the call to its result, waiting included.
    pub wall_time: Duration,
    /// Fuel consumed, when fuel metering is on.
    pub fuel_used: Option<u64>,
    /// The most linear memory the call had, all of its memories together, in bytes.
    pub peak_memory_bytes: usize,
    /// How it ended.
    pub outcome: Outcome,
}

/// A result with its record.
#[derive(Debug)]
pub struct Invocation<T> {
    /// The plugin's result or the typed failure.
    pub result: Result<T, PluginError>,
    /// What happened, for metering and audit.
    pub record: InvocationRecord,
}

/// The per-call store data.
pub(crate) struct State {
    limiter: Limiter,
    deadline: Instant,
    deadline_hit: bool,
    plugin: String,
    log_lines: usize,
    max_log_lines: usize,
    max_log_line_bytes: usize,
    /// What an integration call was granted; nothing for graders.
    grants: Grants,
    http_requests: u32,
    max_http_requests: u32,
    max_http_response_bytes: usize,
}

/// The marker error a host function raises when a plugin reaches for a capability its call was
/// not granted; the call ends as [`PluginError::CapabilityDenied`].
#[derive(Debug)]
struct CapabilityDenied(&'static str);

impl fmt::Display for CapabilityDenied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "capability {} not granted", self.0)
    }
}

impl std::error::Error for CapabilityDenied {}

impl State {
    /// The install's config, if granted (`secrets`).
    pub(crate) fn granted_config(&mut self) -> wasmtime::Result<&InstallConfig> {
        self.grants
            .config
            .as_ref()
            .ok_or_else(|| CapabilityDenied("secrets").into())
    }

    /// The install's key-value store, if granted (`key_value`).
    pub(crate) fn granted_key_value(&mut self) -> wasmtime::Result<&mut KeyValue> {
        self.grants
            .key_value
            .as_mut()
            .ok_or_else(|| CapabilityDenied("key_value").into())
    }

    /// The install's HTTP client and the response cap, if granted (`http`).
    pub(crate) fn granted_http(&self) -> wasmtime::Result<(Arc<dyn HttpClient>, usize)> {
        self.grants
            .http
            .clone()
            .map(|client| (client, self.max_http_response_bytes))
            .ok_or_else(|| CapabilityDenied("http").into())
    }

    /// Counts one request against the call's budget; false once it is spent.
    pub(crate) fn take_http_request(&mut self) -> bool {
        if self.http_requests >= self.max_http_requests {
            return false;
        }
        self.http_requests += 1;
        true
    }

    /// When the call must end.
    pub(crate) fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Counts a log line against the call's allowance; false once it is used up (or when the
    /// install has no `log` grant), and the line is then not read at all.
    pub(crate) fn take_log_line(&mut self) -> bool {
        if self.log_lines >= self.max_log_lines {
            return false;
        }
        self.log_lines += 1;
        true
    }

    /// The longest log line whose text is kept.
    pub(crate) fn max_log_line_bytes(&self) -> usize {
        self.max_log_line_bytes
    }

    /// Writes a line counted by [`State::take_log_line`] to the host's log.
    pub(crate) fn write_log(&self, level: tracing::Level, line: &LogLine) {
        let message = match line {
            LogLine::Text(text) => text.clone(),
            LogLine::TooLong(size) => format!(
                "(a log line of {size} bytes, over the {} byte limit, was dropped)",
                self.max_log_line_bytes
            ),
            LogLine::NotText => "(a log line that is not valid text was dropped)".to_owned(),
        };
        let plugin = self.plugin.as_str();
        match level {
            tracing::Level::ERROR => tracing::error!(plugin, "{message}"),
            tracing::Level::WARN => tracing::warn!(plugin, "{message}"),
            tracing::Level::INFO => tracing::info!(plugin, "{message}"),
            tracing::Level::DEBUG => tracing::debug!(plugin, "{message}"),
            tracing::Level::TRACE => tracing::trace!(plugin, "{message}"),
        }
    }
}

/// The marker error the epoch callback raises once the wall-clock deadline has passed.
#[derive(Debug)]
struct DeadlineHit;

impl fmt::Display for DeadlineHit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline exceeded")
    }
}

impl std::error::Error for DeadlineHit {}

/// Each tenant's share of the concurrency slots: a semaphore per tenant with calls in flight
/// or waiting, removed once the tenant has none.
struct TenantPermits {
    per_tenant: usize,
    tenants: Mutex<HashMap<TenantId, Arc<Semaphore>>>,
}

/// A tenant's claim on its share; frees the slot, and the tenant's entry once idle, on drop.
struct TenantSlot {
    owner: Arc<TenantPermits>,
    tenant: TenantId,
    semaphore: Arc<Semaphore>,
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl TenantPermits {
    fn new(per_tenant: usize) -> Self {
        Self {
            per_tenant,
            tenants: Mutex::new(HashMap::new()),
        }
    }

    /// Waits for a slot of `tenant`'s share.
    async fn acquire(
        self: &Arc<Self>,
        tenant: &TenantId,
    ) -> Result<TenantSlot, tokio::sync::AcquireError> {
        let semaphore = Arc::clone(
            self.tenants
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(tenant.clone())
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_tenant))),
        );
        // The slot exists before the wait so that a caller that gives up also cleans up.
        let mut slot = TenantSlot {
            owner: Arc::clone(self),
            tenant: tenant.clone(),
            semaphore,
            permit: None,
        };
        slot.permit = Some(Arc::clone(&slot.semaphore).acquire_owned().await?);
        Ok(slot)
    }

    /// Tenants with calls in flight or waiting.
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.tenants
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl Drop for TenantSlot {
    fn drop(&mut self) {
        drop(self.permit.take());
        let mut tenants = self
            .owner
            .tenants
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Clones are only made under this lock, so with none but the map's and this one
        // nobody else is using or waiting for the tenant's share.
        if Arc::strong_count(&self.semaphore) == 2 {
            tenants.remove(&self.tenant);
        }
    }
}

struct InstalledGrader {
    pre: GraderPre,
    info: InstalledPlugin,
}

struct InstalledIntegration {
    pre: IntegrationPre,
    info: InstalledPlugin,
}

type PluginKey = (PluginId, PluginVersion);

/// Installs and runs plugins. Cheap to share behind an `Arc`; every method takes `&self`.
pub struct PluginHost {
    engine: Engine,
    linker: Linker<State>,
    config: HostConfig,
    compiled: Mutex<HashMap<[u8; 32], Component>>,
    graders: RwLock<HashMap<PluginKey, Arc<InstalledGrader>>>,
    integrations: RwLock<HashMap<PluginKey, Arc<InstalledIntegration>>>,
    permits: Arc<Semaphore>,
    tenant_permits: Arc<TenantPermits>,
    compile_gate: CompileGate,
    _ticker: EpochTicker,
}

impl PluginHost {
    /// Builds the engine and starts the epoch ticker.
    pub fn new(config: HostConfig) -> Result<Self, PluginError> {
        let engine = engine::build(&config)?;
        let mut linker = Linker::new(&engine);
        wit::add_to_linker(&mut linker)
            .map_err(|e| PluginError::Internal(format!("linking host functions: {e:#}")))?;
        let ticker = EpochTicker::start(engine.clone(), config.epoch_tick)?;
        // Never more calls in flight than the pool has instances.
        let permits = config.max_concurrency.min(config.pooled_instances as usize);
        Ok(Self {
            engine,
            linker,
            compiled: Mutex::new(HashMap::new()),
            graders: RwLock::new(HashMap::new()),
            integrations: RwLock::new(HashMap::new()),
            permits: Arc::new(Semaphore::new(permits)),
            tenant_permits: Arc::new(TenantPermits::new(
                config.max_concurrency_per_tenant.clamp(1, permits.max(1)),
            )),
            compile_gate: CompileGate::new(&config.compile),
            config,
            _ticker: ticker,
        })
    }

    /// The limits in force.
    pub fn config(&self) -> &HostConfig {
        &self.config
    }

    /// Validates and compiles `bytes` for `tenant` without installing them: size, shape,
    /// compile budget, well-formedness, imports (each `lms:plugin` one needing a capability in
    /// `declared`) and the exported world. Returns what [`PluginHost::install_grader`] would
    /// record. Compiling counts against the tenant's and the host's share
    /// ([`PluginError::CompileBusy`]).
    pub async fn validate_grader(
        &self,
        tenant: &TenantId,
        bytes: &[u8],
        declared: &[Capability],
    ) -> Result<InstalledPlugin, PluginError> {
        let (pre, info) = self.prepare_grader(tenant, bytes, declared).await?;
        drop(pre);
        Ok(info)
    }

    /// Installs a grader plugin version for `tenant` with the capabilities `granted`.
    /// Compilation is shared between versions with the same bytes; installing the same id and
    /// version again with other bytes is rejected.
    pub async fn install_grader(
        &self,
        tenant: &TenantId,
        id: PluginId,
        version: PluginVersion,
        bytes: &[u8],
        granted: &[Capability],
    ) -> Result<InstalledPlugin, PluginError> {
        let key = (id, version);
        if let Some(existing) = self.installed(&key) {
            if existing.info.sha256 == hex::encode(Sha256::digest(bytes)) {
                return Ok(existing.info.clone());
            }
            return Err(PluginError::Rejected {
                reason: RejectReason::VersionConflict(format!("{}@{}", key.0, key.1)),
            });
        }
        let (pre, info) = self.prepare_grader(tenant, bytes, granted).await?;
        self.graders
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                key,
                Arc::new(InstalledGrader {
                    pre,
                    info: info.clone(),
                }),
            );
        Ok(info)
    }

    /// What the host knows about an installed version, if it is installed (since start-up).
    pub fn installed_grader(
        &self,
        id: &PluginId,
        version: &PluginVersion,
    ) -> Option<InstalledPlugin> {
        self.installed(&(id.clone(), version.clone()))
            .map(|grader| grader.info.clone())
    }

    fn installed(&self, key: &PluginKey) -> Option<Arc<InstalledGrader>> {
        self.graders
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned()
    }

    async fn prepare_grader(
        &self,
        tenant: &TenantId,
        bytes: &[u8],
        capabilities: &[Capability],
    ) -> Result<(GraderPre, InstalledPlugin), PluginError> {
        self.prepare(tenant, bytes, capabilities, GraderPre::new)
            .await
    }

    /// Compiles (or finds compiled) `bytes`, checks its imports against `capabilities` and that
    /// it implements the world `world` checks for; only then is the compiled component kept.
    async fn prepare<P>(
        &self,
        tenant: &TenantId,
        bytes: &[u8],
        capabilities: &[Capability],
        world: impl FnOnce(&Linker<State>, &Component) -> Result<(P, WitVersion), String>,
    ) -> Result<(P, InstalledPlugin), PluginError> {
        let digest: [u8; 32] = Sha256::digest(bytes).into();
        let cached = self
            .compiled
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&digest)
            .cloned();
        let component = match cached {
            Some(component) => component,
            None => self.compile(tenant, bytes).await?,
        };
        validate::check_imports(&self.engine, &component, capabilities)?;
        // Inert WASI imports (allowed by validation) become functions that trap if called.
        let mut linker = self.linker.clone();
        linker
            .define_unknown_imports_as_traps(&component)
            .map_err(|e| PluginError::Internal(format!("stubbing imports: {e:#}")))?;
        let (pre, wit_version) = world(&linker, &component).map_err(|e| PluginError::Rejected {
            reason: RejectReason::UnsupportedWorld(e),
        })?;
        // Only components that passed every check are kept.
        self.compiled
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(digest, component);
        Ok((
            pre,
            InstalledPlugin {
                sha256: hex::encode(digest),
                wit_version,
            },
        ))
    }

    /// Compiles new bytes within the budget: size and shape first, then a child process
    /// proves the compile fits its limits, then the host compiles on the blocking pool.
    async fn compile(&self, tenant: &TenantId, bytes: &[u8]) -> Result<Component, PluginError> {
        let config = &self.config;
        validate::check_size(bytes, config.max_upload_bytes)?;
        prescan::check(
            bytes,
            &config.compile.shape,
            &InstanceLimits {
                max_memory_bytes: config.max_memory_bytes as u64,
                max_table_elements: config.max_table_elements as u64,
            },
        )?;
        let ticket = self.compile_gate.enter(tenant).await?;
        compile::prove(config, bytes).await?;
        let engine = self.engine.clone();
        let bytes = bytes.to_vec();
        // The ticket moves with the work: a caller that gives up does not free the slot
        // while the compile still runs.
        tokio::task::spawn_blocking(move || {
            let _ticket = ticket;
            Component::new(&engine, &bytes)
        })
        .await
        .map_err(|e| PluginError::Internal(format!("compiling a plugin: {e}")))?
        .map_err(|e| PluginError::Rejected {
            reason: RejectReason::Malformed(format!("{e:#}")),
        })
    }

    /// Grades one response with an installed grader. Never panics; every failure is in
    /// `result`, and the record is filled either way.
    pub async fn grade(
        &self,
        plugin: &PluginId,
        version: &PluginVersion,
        tenant: &TenantId,
        request: &GradeRequest,
    ) -> Invocation<Grade> {
        self.grade_with_log(plugin, version, tenant, request, true)
            .await
    }

    /// [`PluginHost::grade`] for an install that may or may not have been granted the `log`
    /// capability: without it, the plugin's log lines are dropped.
    pub async fn grade_with_log(
        &self,
        plugin: &PluginId,
        version: &PluginVersion,
        tenant: &TenantId,
        request: &GradeRequest,
        log_granted: bool,
    ) -> Invocation<Grade> {
        let started = Instant::now();
        let mut record = InvocationRecord {
            plugin: plugin.clone(),
            version: version.clone(),
            tenant: tenant.clone(),
            wit_version: None,
            wall_time: Duration::ZERO,
            fuel_used: None,
            peak_memory_bytes: 0,
            outcome: Outcome::Success,
        };
        let result = self
            .grade_inner(plugin, version, tenant, request, log_granted, &mut record)
            .await;
        record.wall_time = started.elapsed();
        record.outcome = match &result {
            Ok(_) => Outcome::Success,
            Err(e) => Outcome::Failure(e.code()),
        };
        Invocation { result, record }
    }

    async fn grade_inner(
        &self,
        plugin: &PluginId,
        version: &PluginVersion,
        tenant: &TenantId,
        request: &GradeRequest,
        log_granted: bool,
        record: &mut InvocationRecord,
    ) -> Result<Grade, PluginError> {
        request.check(self.config.max_request_bytes)?;
        let key = (plugin.clone(), version.clone());
        let grader = self
            .installed(&key)
            .ok_or_else(|| PluginError::NotInstalled {
                id: plugin.0.clone(),
                version: version.0.clone(),
            })?;
        record.wit_version = Some(grader.info.wit_version);

        let _permits = self.slots(tenant).await?;

        let deadline = self.config.grader_deadline;
        let mut store = self.new_store(&key, deadline)?;
        if !log_granted {
            store.data_mut().max_log_lines = 0;
        }
        let outcome = grader.pre.grade(&mut store, request).await;

        if let Some(budget) = self.config.fuel {
            record.fuel_used = store
                .get_fuel()
                .ok()
                .map(|left| budget.saturating_sub(left));
        }
        record.peak_memory_bytes = store.data().limiter.peak_memory_bytes;

        let grade = match outcome {
            Ok(Ok(grade)) => grade,
            Ok(Err(declined)) => {
                declined.check(self.config.max_output_bytes)?;
                return Err(PluginError::Grader(declined));
            }
            Err(error) => return Err(self.classify(&error, store.data(), deadline)),
        };
        grade.check(
            request.max_points,
            self.config.max_criteria,
            self.config.max_output_bytes,
        )?;
        Ok(grade)
    }

    /// Validates and compiles an integration for `tenant` without installing it, as
    /// [`PluginHost::validate_grader`] does for graders.
    pub async fn validate_integration(
        &self,
        tenant: &TenantId,
        bytes: &[u8],
        declared: &[Capability],
    ) -> Result<InstalledPlugin, PluginError> {
        let (pre, info) = self
            .prepare(tenant, bytes, declared, IntegrationPre::new)
            .await?;
        drop(pre);
        Ok(info)
    }

    /// Installs an integration version for `tenant`; its imports must be among `granted`.
    pub async fn install_integration(
        &self,
        tenant: &TenantId,
        id: PluginId,
        version: PluginVersion,
        bytes: &[u8],
        granted: &[Capability],
    ) -> Result<InstalledPlugin, PluginError> {
        let key = (id, version);
        if let Some(existing) = self.installed_integration_entry(&key) {
            if existing.info.sha256 == hex::encode(Sha256::digest(bytes)) {
                return Ok(existing.info.clone());
            }
            return Err(PluginError::Rejected {
                reason: RejectReason::VersionConflict(format!("{}@{}", key.0, key.1)),
            });
        }
        let (pre, info) = self
            .prepare(tenant, bytes, granted, IntegrationPre::new)
            .await?;
        self.integrations
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                key,
                Arc::new(InstalledIntegration {
                    pre,
                    info: info.clone(),
                }),
            );
        Ok(info)
    }

    /// What the host knows about an installed integration version (since start-up).
    pub fn installed_integration(
        &self,
        id: &PluginId,
        version: &PluginVersion,
    ) -> Option<InstalledPlugin> {
        self.installed_integration_entry(&(id.clone(), version.clone()))
            .map(|installed| installed.info.clone())
    }

    fn installed_integration_entry(&self, key: &PluginKey) -> Option<Arc<InstalledIntegration>> {
        self.integrations
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned()
    }

    /// Calls an installed integration with what its install was granted. Never panics; every
    /// failure is in `result` (the plugin's own as [`PluginError::Integration`]), and the record
    /// is filled either way. On success the key-value store comes back, to be saved.
    pub async fn call_integration(
        &self,
        plugin: &PluginId,
        version: &PluginVersion,
        tenant: &TenantId,
        call: &IntegrationCall,
        grants: Grants,
    ) -> Invocation<IntegrationDone> {
        let started = Instant::now();
        let mut record = InvocationRecord {
            plugin: plugin.clone(),
            version: version.clone(),
            tenant: tenant.clone(),
            wit_version: None,
            wall_time: Duration::ZERO,
            fuel_used: None,
            peak_memory_bytes: 0,
            outcome: Outcome::Success,
        };
        let result = self
            .call_integration_inner(plugin, version, tenant, call, grants, &mut record)
            .await;
        record.wall_time = started.elapsed();
        record.outcome = match &result {
            Ok(_) => Outcome::Success,
            Err(e) => Outcome::Failure(e.code()),
        };
        Invocation { result, record }
    }

    async fn call_integration_inner(
        &self,
        plugin: &PluginId,
        version: &PluginVersion,
        tenant: &TenantId,
        call: &IntegrationCall,
        grants: Grants,
        record: &mut InvocationRecord,
    ) -> Result<IntegrationDone, PluginError> {
        let size = call.size();
        if size > self.config.max_request_bytes {
            return Err(PluginError::InvalidInput {
                reason: format!(
                    "the call carries {size} bytes, over the limit of {}",
                    self.config.max_request_bytes
                ),
            });
        }
        let key = (plugin.clone(), version.clone());
        let integration =
            self.installed_integration_entry(&key)
                .ok_or_else(|| PluginError::NotInstalled {
                    id: plugin.0.clone(),
                    version: version.0.clone(),
                })?;
        record.wit_version = Some(integration.info.wit_version);
        let _permits = self.slots(tenant).await?;

        let deadline = self.config.integration_deadline;
        let mut store = self.new_store(&key, deadline)?;
        if !grants.log {
            store.data_mut().max_log_lines = 0;
        }
        store.data_mut().grants = grants;
        let outcome = integration.pre.call(&mut store, call).await;

        if let Some(budget) = self.config.fuel {
            record.fuel_used = store
                .get_fuel()
                .ok()
                .map(|left| budget.saturating_sub(left));
        }
        record.peak_memory_bytes = store.data().limiter.peak_memory_bytes;
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(failed)) => {
                let size = failed.message().len();
                if size > self.config.max_output_bytes {
                    return Err(PluginError::OutputTooLarge {
                        size,
                        limit: self.config.max_output_bytes,
                    });
                }
                if failed.message().contains('\0') {
                    return Err(PluginError::InvalidOutput {
                        reason: "the integration's error message contains a NUL character".into(),
                    });
                }
                return Err(PluginError::Integration(failed));
            }
            Err(error) => return Err(self.classify(&error, store.data(), deadline)),
        }
        let state = store.into_data();
        Ok(IntegrationDone {
            key_value: state.grants.key_value,
            http_requests: state.http_requests,
        })
    }

    /// The tenant's share first, then a slot of the host's, both within one wait.
    async fn slots(
        &self,
        tenant: &TenantId,
    ) -> Result<(TenantSlot, tokio::sync::OwnedSemaphorePermit), PluginError> {
        let waited = tokio::time::timeout(self.config.queue_wait, async {
            let tenant_slot = self.tenant_permits.acquire(tenant).await?;
            let permit = Arc::clone(&self.permits).acquire_owned().await?;
            Ok::<_, tokio::sync::AcquireError>((tenant_slot, permit))
        });
        waited
            .await
            .map_err(|_| PluginError::Overloaded)?
            .map_err(|_| PluginError::Internal("the concurrency limiter is closed".into()))
    }

    fn new_store(&self, key: &PluginKey, deadline: Duration) -> Result<Store<State>, PluginError> {
        let config = &self.config;
        let state = State {
            limiter: Limiter::new(
                config.max_memory_bytes,
                config.max_table_elements,
                config.max_instances,
                config.max_tables,
                config.max_memories,
            ),
            deadline: Instant::now() + deadline,
            deadline_hit: false,
            plugin: format!("{}@{}", key.0, key.1),
            log_lines: 0,
            max_log_lines: config.max_log_lines,
            max_log_line_bytes: config.max_log_line_bytes,
            grants: Grants::default(),
            http_requests: 0,
            max_http_requests: config.max_http_requests_per_call,
            max_http_response_bytes: config.max_http_response_bytes,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limiter);
        // Copying the result (or a host call's arguments) out of the plugin happens after its
        // deadline stops applying; wasmtime refuses any transfer over this budget unread.
        store.set_hostcall_fuel(self.transfer_budget());
        if let Some(fuel) = config.fuel {
            store
                .set_fuel(fuel)
                .map_err(|e| PluginError::Internal(format!("setting fuel: {e:#}")))?;
        }
        // Every tick, yield to the executor so one plugin cannot starve other tasks; once the
        // wall-clock deadline has passed, stop the plugin.
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut ctx| {
            let state = ctx.data_mut();
            if Instant::now() >= state.deadline {
                state.deadline_hit = true;
                return Err(DeadlineHit.into());
            }
            Ok(UpdateDeadline::YieldCustom(
                1,
                Box::pin(tokio::task::yield_now()),
            ))
        });
        Ok(store)
    }

    /// The bytes wasmtime may copy out of a plugin in one transfer.
    fn transfer_budget(&self) -> usize {
        let config = &self.config;
        wit::transfer_budget(config.max_criteria, config.max_output_bytes)
            .max(config.max_transfer_bytes)
    }

    fn classify(&self, error: &wasmtime::Error, state: &State, deadline: Duration) -> PluginError {
        let trap = error.downcast_ref::<Trap>().copied();
        if state.deadline_hit || error.is::<DeadlineHit>() || trap == Some(Trap::Interrupt) {
            return PluginError::DeadlineExceeded {
                deadline_ms: u64::try_from(deadline.as_millis()).unwrap_or(u64::MAX),
            };
        }
        if let Some(denied) = error.downcast_ref::<CapabilityDenied>() {
            return PluginError::CapabilityDenied {
                capability: denied.0.to_owned(),
            };
        }
        if wit::is_transfer_refused(error) {
            return PluginError::TransferTooLarge {
                limit: self.transfer_budget(),
            };
        }
        if trap == Some(Trap::OutOfFuel) {
            return PluginError::OutOfFuel {
                budget: self.config.fuel.unwrap_or_default(),
            };
        }
        if state.limiter.memory_refused {
            return PluginError::MemoryLimit {
                limit_bytes: self.config.max_memory_bytes,
            };
        }
        PluginError::Trap {
            reason: match trap {
                Some(trap) => trap.to_string(),
                None => format!("{error:#}"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_tenant_share_is_bounded_and_forgotten_when_idle() {
        let permits = Arc::new(TenantPermits::new(2));
        let a = TenantId("a".into());
        let b = TenantId("b".into());
        let first = permits.acquire(&a).await.expect("a slot");
        let second = permits.acquire(&a).await.expect("a slot");
        let third = tokio::time::timeout(Duration::from_millis(20), permits.acquire(&a)).await;
        assert!(third.is_err(), "a third slot for tenant a");
        let other = permits
            .acquire(&b)
            .await
            .expect("tenant b has its own share");
        assert_eq!(permits.tracked(), 2);
        drop((first, second, other));
        assert_eq!(permits.tracked(), 0);
    }
}
