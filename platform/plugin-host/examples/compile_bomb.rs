//! Writes the compile-bomb component (`plugins/testing/compile-bomb/generate.rs`) as a `.wasm`:
//!   cargo run -p lms-plugin-host --example compile_bomb -- OUT.wasm [FUNCTIONS LOCALS BRANCHES]
#![allow(clippy::print_stdout)]

#[path = "../../../plugins/testing/compile-bomb/generate.rs"]
#[allow(dead_code)]
mod generate;

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(out) = args.next() else {
        eprintln!("usage: compile_bomb OUT.wasm [FUNCTIONS LOCALS BRANCHES]");
        return ExitCode::from(2);
    };
    let mut shape = generate::Shape::WORST;
    let mut numbers = args.filter_map(|a| a.parse().ok());
    shape.functions = numbers.next().unwrap_or(shape.functions);
    shape.locals = numbers.next().unwrap_or(shape.locals);
    shape.branches = numbers.next().unwrap_or(shape.branches);
    let bytes = match wat::parse_str(generate::wat(shape)) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("assembling: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = std::fs::write(&out, &bytes) {
        eprintln!("writing {out}: {e}");
        return ExitCode::FAILURE;
    }
    println!("{out}: {} bytes, {shape:?}", bytes.len());
    ExitCode::SUCCESS
}
