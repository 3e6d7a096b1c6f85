//! `lms-plugin-runner`: grade one request with a built plugin under the production limits.
#![allow(clippy::print_stdout)]

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use lms_plugin_runner::{RequestFile, run};

/// Runs a grader component (`.wasm`) on a JSON grade request in the server's sandbox, with the
/// production limits, and prints the grade or the typed error with wall time, fuel, peak
/// memory, input and output size. Exits 0 with a grade, 1 when the plugin failed, 2 when the
/// input could not be read.
#[derive(Parser)]
#[command(name = "lms-plugin-runner", version)]
struct Cli {
    /// The plugin component, e.g. target/wasm32-wasip2/release/my_grader.wasm.
    plugin: PathBuf,
    /// The grade request as JSON (`-` for standard input); see
    /// plugin-sdk/runner/examples/numeric-request.json.
    #[arg(long, short)]
    input: PathBuf,
    /// Print one JSON object instead of the text report.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    // Installing compiles the plugin first in a child, this program with a hidden argument; it
    // must start before any runtime or thread so that its limits cover the compile alone.
    if let Some(code) = lms_plugin_host::run_child_if_requested() {
        return code;
    }
    let cli = Cli::parse();
    // The plugin's log lines (`lms_plugin_sdk::log`) go to standard error.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "lms_plugin_host=trace".into()),
        )
        .without_time()
        .init();

    let (component, request) = match read_inputs(&cli) {
        Ok(inputs) => inputs,
        Err(err) => {
            eprintln!("lms-plugin-runner: {err:#}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("lms-plugin-runner: starting the async runtime: {err}");
            return ExitCode::from(2);
        }
    };
    let report = runtime.block_on(run(&component, &request.into_request()));
    if cli.json {
        println!("{}", report.to_json());
    } else {
        print!("{report}");
    }
    if report.succeeded() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn read_inputs(cli: &Cli) -> anyhow::Result<(Vec<u8>, RequestFile)> {
    let component = std::fs::read(&cli.plugin)
        .with_context(|| format!("reading the plugin {}", cli.plugin.display()))?;
    let json = if cli.input.as_os_str() == "-" {
        let mut json = String::new();
        std::io::stdin()
            .read_to_string(&mut json)
            .context("reading the request from standard input")?;
        json
    } else {
        std::fs::read_to_string(&cli.input)
            .with_context(|| format!("reading the request {}", cli.input.display()))?
    };
    let request = RequestFile::parse(&json)
        .with_context(|| format!("the request {} is not valid", cli.input.display()))?;
    Ok((component, request))
}
