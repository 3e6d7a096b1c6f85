//! The grader component on a bare wasmtime engine with the platform host's own settings
//! (`lms_plugin_host::engine_settings` for [`HostConfig::default`]: pooling allocator, epoch
//! interruption, NaN canonicalisation, the same memory and stack limits), to time instantiation
//! on its own and instantiation plus the call without the host's bookkeeping.

use anyhow::Result;
use lms_plugin_host::HostConfig;
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store};

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
    /// Compiles `wasm` on an engine with the production settings (the host's own).
    pub fn new(wasm: &[u8]) -> Result<Self> {
        let config = lms_plugin_host::engine_settings(&HostConfig::default());
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
