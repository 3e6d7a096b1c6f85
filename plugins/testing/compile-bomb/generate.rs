//! Generates a component that is as costly to compile as fits the upload rules: core modules of
//! a few huge functions, each with thousands of `i64` locals that stay live across a long net of
//! nested branches (every branch updates some of them, so every join merges them). Cranelift's
//! register allocation of such a function takes seconds and hundreds of MiB; a 10 MiB upload of
//! them would take minutes and gigabytes. The component imports nothing and exports nothing: the
//! cost is paid when it is compiled, before any world check.
//!
//! Used as a module by the plugin host's tests and example (`#[path]`); the example writes it:
//!   cargo run -p lms-plugin-host --example compile_bomb -- /tmp/compile-bomb.wasm
//! (`-- OUT [FUNCTIONS LOCALS BRANCHES]`; the defaults fill ~10 MiB). `rustc generate.rs` alone
//! builds a tool that writes the text.

use std::fmt::Write as _;

/// The shape of the generated component.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Functions, each in the one core module.
    pub functions: usize,
    /// `i64` locals per function, all live from the start to the end.
    pub locals: usize,
    /// `if`/`else` pairs per function, nested up to 8 deep.
    pub branches: usize,
}

impl Shape {
    /// Just under the host's default shape limits (5 000 locals, 512 KiB per function) and the
    /// 10 MiB upload limit.
    pub const WORST: Self = Self {
        functions: 20,
        locals: 4_900,
        branches: 14_600,
    };
}

/// The component's text (component-model WAT).
pub fn wat(shape: Shape) -> String {
    let mut out = String::with_capacity(shape.functions * shape.branches * 80);
    out.push_str("(component\n  (core module $bomb\n");
    for f in 0..shape.functions {
        function(&mut out, f, shape);
    }
    out.push_str("  )\n  (core instance (instantiate $bomb))\n)\n");
    out
}

fn function(out: &mut String, index: usize, shape: Shape) {
    let n = shape.locals.max(3);
    let _ = writeln!(
        out,
        "    (func (export \"f{index}\") (param $p i32) (result i64) (local {})",
        "i64 ".repeat(n)
    );
    // Local 0 is the parameter; locals 1..=n are distinct values derived from it.
    for l in 1..=n {
        let _ = writeln!(
            out,
            "      local.get 0 i32.const {l} i32.add i64.extend_i32_u local.set {l}"
        );
    }
    // A deterministic spread of which locals each branch touches.
    let mut seed = 0x9e37_79b9_u64 ^ index as u64;
    let mut pick = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        1 + (seed % n as u64) as usize
    };
    let mut open = 0;
    for b in 0..shape.branches {
        let (a, c, d) = (pick(), pick(), pick());
        let _ = writeln!(
            out,
            "      local.get 0 i32.const {} i32.and if \
             local.get {a} local.get {c} i64.add local.set {a} else \
             local.get {c} local.get {d} i64.mul local.set {d}",
            1 << (b % 31)
        );
        open += 1;
        // Nest up to 8 deep, then close the net and start another.
        if open == 8 || b + 1 == shape.branches {
            for _ in 0..open {
                out.push_str("      end\n");
            }
            open = 0;
        }
    }
    // Every local is used at the end, so all of them are live across every branch.
    out.push_str("      local.get 1\n");
    for l in 2..=n {
        let _ = writeln!(out, "      local.get {l} i64.add");
    }
    out.push_str("    )\n");
}

#[allow(dead_code)]
fn main() {
    let mut args = std::env::args().skip(1);
    let Some(out) = args.next() else {
        eprintln!("usage: generate OUT.wat [FUNCTIONS LOCALS BRANCHES]");
        std::process::exit(2);
    };
    let mut shape = Shape::WORST;
    let mut numbers = args.filter_map(|a| a.parse().ok());
    shape.functions = numbers.next().unwrap_or(shape.functions);
    shape.locals = numbers.next().unwrap_or(shape.locals);
    shape.branches = numbers.next().unwrap_or(shape.branches);
    if let Err(e) = std::fs::write(&out, wat(shape)) {
        eprintln!("writing {out}: {e}");
        std::process::exit(1);
    }
}
