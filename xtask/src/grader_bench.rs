//! `cargo xtask bench grader`: builds the plugins, the Extism build of the numeric grader and the
//! benchmark (`xtask/grader-bench`, a workspace of its own so that neither `cargo xtask test` nor
//! CI compiles Extism), then runs it in release.

use anyhow::{Result, bail};

use crate::{cargo, command, output_text, root, run};

const USAGE: &str = "cargo xtask bench grader [--iterations N]";

/// Runs the grader benchmark; `args` are what follows `bench grader`.
pub fn grader(args: &[&str]) -> Result<()> {
    let iterations = match args {
        [] => None,
        ["--iterations", n] => match n.parse::<usize>() {
            Ok(n) if n > 0 => Some(n.to_string()),
            _ => bail!("--iterations takes a positive number\nusage: {USAGE}"),
        },
        _ => bail!("unknown arguments: {}\nusage: {USAGE}", args.join(" ")),
    };

    ensure_target("wasm32-wasip2")?;
    ensure_target("wasm32-unknown-unknown")?;

    let plugins_target = root().join("target").join("plugins");
    run(cargo()
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
        ])
        .arg(root().join("plugins").join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&plugins_target))?;

    let manifest = root().join("xtask").join("grader-bench").join("Cargo.toml");
    let bench_target = root().join("target").join("grader-bench");
    run(cargo()
        .args([
            "build",
            "--release",
            "--locked",
            "-p",
            "extism-numeric-grader",
            "--target",
            "wasm32-unknown-unknown",
            "--manifest-path",
        ])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&bench_target))?;

    let mut bench = cargo();
    bench
        .args([
            "run",
            "--release",
            "--locked",
            "-p",
            "grader-bench",
            "--manifest-path",
        ])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&bench_target)
        .arg("--")
        .arg("--plugins")
        .arg(plugins_target.join("wasm32-wasip2").join("release"))
        .arg("--extism")
        .arg(
            bench_target
                .join("wasm32-unknown-unknown")
                .join("release")
                .join("extism_numeric_grader.wasm"),
        );
    if let Some(n) = iterations {
        bench.args(["--iterations", &n]);
    }
    run(&mut bench)
}

fn ensure_target(target: &str) -> Result<()> {
    let installed = output_text(command("rustup").args(["target", "list", "--installed"]))?;
    if !installed.lines().any(|l| l.trim() == target) {
        run(command("rustup").args(["target", "add", target]))?;
    }
    Ok(())
}
