//! A cheap pass over every core module of an upload before anything compiles it: shapes that
//! make Cranelift's cost explode (huge functions, tens of thousands of locals, a flood of
//! functions) and memories or tables larger than an instance may have are refused here, with the
//! declared size and the limit, in time linear in the upload and without allocating per local.

use wasmparser::{Encoding, Parser, Payload};

use crate::error::{PluginError, RejectReason};

/// Ceilings on the shape of the core modules inside a component. The defaults are far above
/// what real plugins need: the first-party graders (Rust, LTO, `opt-level = "s"`) have ~420
/// functions, at most 35 locals and 6.3 KiB of code in one function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeLimits {
    /// Functions defined by one core module (20 000).
    pub max_functions: u64,
    /// Locals of one function, parameters excluded (5 000).
    pub max_locals: u64,
    /// Bytes of one function body (512 KiB).
    pub max_body_bytes: u64,
    /// Core modules in one component (16).
    pub max_modules: u64,
}

impl Default for ShapeLimits {
    fn default() -> Self {
        Self {
            max_functions: 20_000,
            max_locals: 5_000,
            max_body_bytes: 512 << 10,
            max_modules: 16,
        }
    }
}

/// The instance limits a declared memory or table must fit.
pub(crate) struct InstanceLimits {
    pub(crate) max_memory_bytes: u64,
    pub(crate) max_table_elements: u64,
}

fn over(what: String, declared: u64, limit: u64) -> PluginError {
    PluginError::Rejected {
        reason: RejectReason::ExceedsLimit {
            what,
            declared,
            limit,
        },
    }
}

fn malformed(error: &wasmparser::BinaryReaderError) -> PluginError {
    PluginError::Rejected {
        reason: RejectReason::Malformed(error.to_string()),
    }
}

/// Walks `bytes` (a component, possibly nesting components) and checks each core module.
/// Malformed bytes are left to the compiler's validation unless the walk cannot go on.
pub(crate) fn check(
    bytes: &[u8],
    shape: &ShapeLimits,
    instance: &InstanceLimits,
) -> Result<(), PluginError> {
    // Which core module (1-based, in order of appearance) the current payloads belong to;
    // `None` while reading a component's own sections.
    let mut module: Option<u64> = None;
    let mut modules = 0u64;
    // Nesting depth of components around the current position, to know when a module ends.
    let mut stack: Vec<Option<u64>> = Vec::new();
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| malformed(&e))?;
        match payload {
            Payload::Version { encoding, .. } => {
                stack.push(module);
                module = match encoding {
                    Encoding::Module => {
                        modules += 1;
                        if modules > shape.max_modules {
                            return Err(over(
                                "the number of core modules".into(),
                                modules,
                                shape.max_modules,
                            ));
                        }
                        Some(modules)
                    }
                    Encoding::Component => None,
                };
            }
            Payload::End(_) => module = stack.pop().flatten(),
            Payload::FunctionSection(functions) => {
                let count = u64::from(functions.count());
                if count > shape.max_functions {
                    return Err(over(
                        format!("the number of functions of core module {}", index(module)),
                        count,
                        shape.max_functions,
                    ));
                }
            }
            Payload::CodeSectionEntry(body) => {
                let size = body.range().len() as u64;
                let what = |thing: &str| {
                    format!("the {thing} of a function of core module {}", index(module))
                };
                if size > shape.max_body_bytes {
                    return Err(over(what("body size in bytes"), size, shape.max_body_bytes));
                }
                let mut locals = 0u64;
                for group in body.get_locals_reader().map_err(|e| malformed(&e))? {
                    let (count, _) = group.map_err(|e| malformed(&e))?;
                    locals = locals.saturating_add(u64::from(count));
                }
                if locals > shape.max_locals {
                    return Err(over(what("number of locals"), locals, shape.max_locals));
                }
            }
            Payload::MemorySection(memories) => {
                for (i, memory) in memories.into_iter().enumerate() {
                    let memory = memory.map_err(|e| malformed(&e))?;
                    let page = 1u64 << memory.page_size_log2.unwrap_or(16).min(63);
                    let declared = memory.initial.saturating_mul(page);
                    if declared > instance.max_memory_bytes {
                        return Err(over(
                            format!(
                                "the initial size in bytes of memory {i} of core module {}",
                                index(module)
                            ),
                            declared,
                            instance.max_memory_bytes,
                        ));
                    }
                }
            }
            Payload::TableSection(tables) => {
                for (i, table) in tables.into_iter().enumerate() {
                    let table = table.map_err(|e| malformed(&e))?;
                    if table.ty.initial > instance.max_table_elements {
                        return Err(over(
                            format!(
                                "the initial number of elements of table {i} of core module {}",
                                index(module)
                            ),
                            table.ty.initial,
                            instance.max_table_elements,
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn index(module: Option<u64>) -> u64 {
    module.unwrap_or_default()
}
