//! The per-store resource limiter: caps memory, tables and instances and records the peak.

use wasmtime::ResourceLimiter;

/// Limits for one invocation's store. Memory and table elements are bounded as totals over
/// every memory and table of the store: a component may hold several core modules, each with
/// its own memory, and a cap per memory would let it multiply the limit. Remembers the largest
/// total seen and whether a growth was refused, so that a trap that follows can be reported as
/// [`crate::PluginError::MemoryLimit`].
#[derive(Debug)]
pub(crate) struct Limiter {
    pub(crate) max_memory_bytes: usize,
    pub(crate) max_table_elements: usize,
    pub(crate) max_instances: usize,
    pub(crate) max_tables: usize,
    pub(crate) max_memories: usize,
    /// Bytes of all linear memories of the store.
    pub(crate) memory_bytes: usize,
    /// Elements of all tables of the store.
    pub(crate) table_elements: usize,
    pub(crate) peak_memory_bytes: usize,
    pub(crate) memory_refused: bool,
    /// The last growth allowed, taken back if wasmtime then fails it.
    last_memory_growth: usize,
    last_table_growth: usize,
}

impl Limiter {
    pub(crate) fn new(
        max_memory_bytes: usize,
        max_table_elements: usize,
        max_instances: usize,
        max_tables: usize,
        max_memories: usize,
    ) -> Self {
        Self {
            max_memory_bytes,
            max_table_elements,
            max_instances,
            max_tables,
            max_memories,
            memory_bytes: 0,
            table_elements: 0,
            peak_memory_bytes: 0,
            memory_refused: false,
            last_memory_growth: 0,
            last_table_growth: 0,
        }
    }
}

/// The store's total after one of its memories or tables goes from `current` to `desired`, if
/// it stays within `limit` (and within the memory's or table's own `maximum`).
fn grown_total(
    total: usize,
    current: usize,
    desired: usize,
    maximum: Option<usize>,
    limit: usize,
) -> Option<usize> {
    let growth = desired.checked_sub(current)?;
    let total = total.checked_add(growth)?;
    (total <= limit && maximum.is_none_or(|m| desired <= m)).then_some(total)
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Called for every memory, at creation too (from 0), so the running sum is the total.
        match grown_total(
            self.memory_bytes,
            current,
            desired,
            maximum,
            self.max_memory_bytes,
        ) {
            Some(total) => {
                self.last_memory_growth = total - self.memory_bytes;
                self.memory_bytes = total;
                self.peak_memory_bytes = self.peak_memory_bytes.max(total);
                Ok(true)
            }
            None => {
                self.memory_refused = true;
                Ok(false)
            }
        }
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.memory_bytes -= std::mem::take(&mut self.last_memory_growth);
        self.memory_refused = true;
        Ok(())
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        match grown_total(
            self.table_elements,
            current,
            desired,
            maximum,
            self.max_table_elements,
        ) {
            Some(total) => {
                self.last_table_growth = total - self.table_elements;
                self.table_elements = total;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn table_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.table_elements -= std::mem::take(&mut self.last_table_growth);
        Ok(())
    }

    fn instances(&self) -> usize {
        self.max_instances
    }

    fn tables(&self) -> usize {
        self.max_tables
    }

    fn memories(&self) -> usize {
        self.max_memories
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: usize = 1 << 20;

    fn limiter() -> Limiter {
        Limiter::new(64 * MIB, 100, 32, 32, 4)
    }

    #[test]
    fn memories_share_one_total() {
        let mut limiter = limiter();
        assert!(limiter.memory_growing(0, 40 * MIB, None).unwrap_or(false));
        // A second memory may not take the store past the limit...
        assert!(!limiter.memory_growing(0, 40 * MIB, None).unwrap_or(true));
        assert!(limiter.memory_refused);
        // ...but may use what is left.
        assert!(limiter.memory_growing(0, 24 * MIB, None).unwrap_or(false));
        assert_eq!(limiter.peak_memory_bytes, 64 * MIB);
        assert!(
            !limiter
                .memory_growing(24 * MIB, 25 * MIB, None)
                .unwrap_or(true)
        );
    }

    #[test]
    fn a_failed_growth_is_taken_back() {
        let mut limiter = limiter();
        assert!(limiter.memory_growing(0, 8 * MIB, None).unwrap_or(false));
        assert!(
            limiter
                .memory_growing(8 * MIB, 16 * MIB, None)
                .unwrap_or(false)
        );
        assert!(
            limiter
                .memory_grow_failed(wasmtime::format_err!("no room"))
                .is_ok()
        );
        assert_eq!(limiter.memory_bytes, 8 * MIB);
    }

    #[test]
    fn tables_share_one_total() {
        let mut limiter = limiter();
        assert!(limiter.table_growing(0, 60, None).unwrap_or(false));
        assert!(!limiter.table_growing(0, 60, None).unwrap_or(true));
        assert!(limiter.table_growing(0, 40, None).unwrap_or(false));
        assert_eq!(limiter.table_elements, 100);
    }
}
