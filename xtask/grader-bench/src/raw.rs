//! The grader component on a bare wasmtime engine configured like the platform's host
//! (`platform/plugin-host/src/engine.rs`: pooling allocator, epoch interruption, NaN
//! canonicalisation, the same memory and stack limits), to time instantiation on its own and
//! instantiation plus the call without the host's bookkeeping. The host keeps its engine private,
//! so these settings are copied here from [`HostConfig::default`].

use anyhow::Result;
use lms_plugin_host::HostConfig;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../../plugin-sdk/wit/since_v0.1.0",
        world: "grader",
        exports: { default: async },
    });
}

pub use bindings::GradeRequest;

/// A compiled grader, ready to instantiate.
pub struct RawGrader {
    engine: Engine,
    pre: bindings::GraderPre<()>,
}

impl RawGrader {
    /// Compiles `wasm` on an engine with the production settings.
    pub fn new(wasm: &[u8]) -> Result<Self> {
        let limits = HostConfig::default();
        let instances = limits.pooled_instances;
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(instances)
            .total_core_instances(instances.saturating_mul(4))
            .total_memories(instances)
            .total_tables(instances.saturating_mul(2))
            .total_stacks(instances)
            .max_memory_size(limits.max_memory_bytes)
            .table_elements(limits.max_table_elements);
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .cranelift_nan_canonicalization(true)
            .max_wasm_stack(limits.max_wasm_stack_bytes)
            .memory_reservation(limits.max_memory_bytes as u64)
            .memory_reservation_for_growth(0)
            .memory_guard_size(64 << 10)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = wt(Engine::new(&config))?;
        let component = wt(Component::new(&engine, wasm))?;
        let mut linker = Linker::new(&engine);
        // The numeric grader never logs; its log import may trap.
        wt(linker.define_unknown_imports_as_traps(&component))?;
        let pre = wt(bindings::GraderPre::new(wt(
            linker.instantiate_pre(&component)
        )?))?;
        Ok(Self { engine, pre })
    }

    fn store(&self) -> Store<()> {
        let mut store = Store::new(&self.engine, ());
        store.set_epoch_deadline(u64::MAX);
        store
    }

    /// A fresh store and instance, dropped at once.
    pub async fn instantiate(&self) -> Result<()> {
        let mut store = self.store();
        wt(self.pre.instantiate_async(&mut store).await)?;
        Ok(())
    }

    /// A fresh store and instance, and one `grade` call; the points, or the grader's error.
    pub async fn grade(&self, request: &GradeRequest) -> Result<f64> {
        let mut store = self.store();
        let grader = wt(self.pre.instantiate_async(&mut store).await)?;
        match wt(grader.call_grade(&mut store, request).await)? {
            Ok(grade) => Ok(grade.points),
            Err(e) => anyhow::bail!("the grader declined: {e:?}"),
        }
    }
}

/// wasmtime 48's error as an `anyhow` error, with its causes.
fn wt<T>(result: wasmtime::Result<T>) -> Result<T> {
    result.map_err(|e| anyhow::anyhow!("{e:#}"))
}
