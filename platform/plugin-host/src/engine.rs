//! The wasmtime engine shared by every plugin, and the thread that drives its epoch.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::error::PluginError;
use crate::host::HostConfig;

/// The engine's settings: component model, async, epoch interruption, optional fuel, NaN
/// canonicalisation and deterministic relaxed SIMD (the same results on every CPU), and a
/// pooling allocator sized for plugins rather than wasmtime's 4 GiB-per-memory defaults. Public
/// so that measurements of a bare engine use exactly the production settings.
///
/// Grades must not depend on the machine. Floats are canonicalised and relaxed-SIMD
/// instructions take their deterministic semantics; threads and shared memory are not compiled
/// into this wasmtime (no `threads` feature), so there is no data race to observe, and no clock
/// or randomness is importable. What remains machine-dependent: how deep recursion gets before
/// the native stack limit traps (frame sizes differ between CPU backends), the wall-clock
/// deadline, and a memory grow refused because the host itself is out of memory.
pub fn settings(config: &HostConfig) -> Config {
    let mut pool = PoolingAllocationConfig::default();
    let instances = config.pooled_instances;
    pool.total_component_instances(instances)
        // A Rust component is a main module plus a few small shim modules.
        .total_core_instances(instances.saturating_mul(4))
        .total_memories(instances)
        .total_tables(instances.saturating_mul(2))
        .total_stacks(instances)
        .max_memory_size(config.max_memory_bytes)
        .table_elements(config.max_table_elements)
        // Returning a slot to the pool would otherwise madvise its pages away and fault them
        // back on the next call: page-table changes that stall every other core with TLB
        // shootdowns. Instead the pages a call wrote (found with PAGEMAP_SCAN where the kernel
        // has it) are zeroed in place, up to these sizes.
        .linear_memory_keep_resident(1 << 20)
        .table_keep_resident(64 << 10)
        .pagemap_scan(Enabled::Auto)
        .decommit_batch_size(16);

    let mut wasm = Config::new();
    wasm.wasm_component_model(true)
        .epoch_interruption(true)
        .consume_fuel(config.fuel.is_some())
        .cranelift_nan_canonicalization(true)
        // Otherwise e.g. `i32x4.relaxed_trunc_f32x4_s` of NaN is i32::MIN on x86, 0 on ARM.
        .relaxed_simd_deterministic(true)
        .max_wasm_stack(config.max_wasm_stack_bytes)
        // Slots no larger than the memory limit; bounds checks are explicit as a result.
        .memory_reservation(config.max_memory_bytes as u64)
        .memory_reservation_for_growth(0)
        .memory_guard_size(64 << 10)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    wasm
}

/// Builds the engine with [`settings`].
pub(crate) fn build(config: &HostConfig) -> Result<Engine, PluginError> {
    Engine::new(&settings(config))
        .map_err(|e| PluginError::Internal(format!("building the engine: {e:#}")))
}

/// Increments the engine's epoch every tick until dropped.
pub(crate) struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    pub(crate) fn start(engine: Engine, tick: std::time::Duration) -> Result<Self, PluginError> {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("plugin-epoch".into())
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    engine.increment_epoch();
                }
            })
            .map_err(|e| PluginError::Internal(format!("starting the epoch ticker: {e}")))?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            // The thread only sleeps and increments; a join error would mean it panicked,
            // which there is nothing left to do about.
            let _ = thread.join();
        }
    }
}
