//! `grader-bench`: the latency of one grade call in the platform's plugin host, instantiation
//! included, with a 16 KiB request; instantiation on its own; the same grading logic compiled
//! natively and hosted in Extism; and how quickly a runaway plugin is stopped.
//!
//! Run through `cargo xtask bench grader`, which builds the plugins first.
#![allow(clippy::print_stdout)]

mod latency;
mod raw;

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use lms_plugin_host::{GradeRequest, HostConfig, PluginHost, PluginId, PluginVersion, TenantId};
use lms_plugin_sdk::Grader;
use numeric_grader::NumericGrader;

use crate::latency::{Latencies, micros};

/// The request size the targets are stated for.
const REQUEST_BYTES: usize = 16 << 10;
/// Targets for a hosted grade call, instantiation included.
const TARGET_P50: Duration = Duration::from_micros(50);
const TARGET_P99: Duration = Duration::from_micros(500);

const USAGE: &str = "usage: grader-bench --plugins DIR --extism FILE [--iterations N]

  --plugins DIR     the plugins' wasm32-wasip2 release folder (numeric_grader.wasm, infinite_loop.wasm)
  --extism FILE     extism_numeric_grader.wasm (wasm32-unknown-unknown)
  --iterations N    timed calls per measurement (default 20000)";

struct Options {
    plugins: PathBuf,
    extism: PathBuf,
    iterations: usize,
}

impl Options {
    fn parse() -> Result<Self> {
        let mut plugins = None;
        let mut extism = None;
        let mut iterations = 20_000;
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
            match arg.as_str() {
                "--plugins" => plugins = Some(PathBuf::from(value()?)),
                "--extism" => extism = Some(PathBuf::from(value()?)),
                "--iterations" => {
                    iterations = value()?.parse().context("--iterations")?;
                    ensure!(iterations > 0, "--iterations must be positive");
                }
                _ => bail!("unknown argument {arg}\n{USAGE}"),
            }
        }
        Ok(Self {
            plugins: plugins.with_context(|| format!("--plugins is required\n{USAGE}"))?,
            extism: extism.with_context(|| format!("--extism is required\n{USAGE}"))?,
            iterations,
        })
    }
}

fn main() -> Result<()> {
    let options = Options::parse()?;
    let n = options.iterations;
    let read =
        |path: PathBuf| std::fs::read(&path).with_context(|| format!("reading {}", path.display()));
    let numeric = read(options.plugins.join("numeric_grader.wasm"))?;
    let runaway = read(options.plugins.join("infinite_loop.wasm"))?;
    let extism_wasm = read(options.extism.clone())?;

    let request = request();
    ensure!(
        request.size() == REQUEST_BYTES,
        "request is {} bytes",
        request.size()
    );
    let limits = HostConfig::default();
    println!("grader benchmark: numeric-grader, one {REQUEST_BYTES}-byte request (a long prompt)");
    println!(
        "machine: {} cores, load average {}",
        std::thread::available_parallelism().map_or(0, usize::from),
        std::fs::read_to_string("/proc/loadavg")
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|_| "unknown".into())
    );
    println!(
        "limits: HostConfig::default() (deadline {} ms, memory {} MiB, fuel {})\n",
        limits.grader_deadline.as_millis(),
        limits.max_memory_bytes >> 20,
        limits.fuel.map_or("off".to_owned(), |f| f.to_string())
    );

    // The platform's host: a fresh instance from the pooling allocator for every call.
    let host = Arc::new(PluginHost::new(limits.clone())?);
    let (id, version) = (PluginId("numeric".into()), PluginVersion("1.0.0".into()));
    host.install_grader(id.clone(), version.clone(), &numeric)?;
    let tenant = TenantId("bench".into());
    let call = {
        let (host, id, version, tenant) = (host.clone(), id.clone(), version.clone(), tenant);
        move |request: GradeRequest| {
            let (host, id, version, tenant) =
                (host.clone(), id.clone(), version.clone(), tenant.clone());
            async move {
                let invocation = host.grade(&id, &version, &tenant, &request).await;
                invocation.result.map(|g| g.points)
            }
        }
    };
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let points = current.block_on(call(request.clone()))?;
    ensure!(
        points == request.max_points,
        "expected full credit, got {points}"
    );

    let hosted_single = current.block_on(async {
        for _ in 0..n / 10 {
            black_box(call(request.clone()).await)?;
        }
        let mut samples = Vec::with_capacity(n);
        let started = Instant::now();
        for _ in 0..n {
            let t = Instant::now();
            black_box(call(request.clone()).await)?;
            samples.push(t.elapsed());
        }
        anyhow::Ok(Latencies::new(samples, started.elapsed()))
    })?;

    let two = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let hosted_two = two.block_on(async {
        let mut tasks = Vec::new();
        let started = Instant::now();
        for _ in 0..2 {
            let (call, request) = (call.clone(), request.clone());
            tasks.push(tokio::spawn(async move {
                let mut samples = Vec::with_capacity(n);
                for _ in 0..n {
                    let t = Instant::now();
                    black_box(call(request.clone()).await)?;
                    samples.push(t.elapsed());
                }
                anyhow::Ok(samples)
            }));
        }
        let mut samples = Vec::with_capacity(2 * n);
        for task in tasks {
            samples.extend(task.await??);
        }
        anyhow::Ok(Latencies::new(samples, started.elapsed()))
    })?;

    // The same component on a bare engine with the host's settings.
    let raw = raw::RawGrader::new(&numeric)?;
    let raw_request = raw::GradeRequest {
        question_kind: request.question_kind.clone(),
        prompt: request.prompt.clone(),
        config: request.config.clone(),
        max_points: request.max_points,
        response_text: request.response_text.clone(),
        response_json: request.response_json.clone(),
        learner: request.learner.clone(),
    };
    let (instantiation, raw_call) = current.block_on(async {
        for _ in 0..n / 10 {
            raw.grade(&raw_request).await?;
        }
        let mut instantiate = Vec::with_capacity(n);
        let mut call = Vec::with_capacity(n);
        let started = Instant::now();
        for _ in 0..n {
            let t = Instant::now();
            raw.instantiate().await?;
            instantiate.push(t.elapsed());
            let t = Instant::now();
            let points = raw.grade(&raw_request).await?;
            call.push(t.elapsed());
            ensure!(points == request.max_points, "raw call gave {points}");
        }
        let elapsed = started.elapsed();
        anyhow::Ok((
            Latencies::new(instantiate, elapsed),
            Latencies::new(call, elapsed),
        ))
    })?;

    // The same logic compiled natively: what the call would cost without a sandbox.
    let sdk_request = lms_plugin_sdk::GradeRequest {
        question_kind: request.question_kind.clone(),
        prompt: request.prompt.clone(),
        config: request.config.clone(),
        max_points: request.max_points,
        response_text: request.response_text.clone(),
        response_json: request.response_json.clone(),
        learner: request.learner.clone(),
    };
    let native_points = NumericGrader::grade(sdk_request.clone())
        .map_err(|e| anyhow::anyhow!("native grade: {e:?}"))?
        .points;
    ensure!(
        native_points == request.max_points,
        "native gave {native_points}"
    );
    let native = Latencies::measure(n, || {
        black_box(NumericGrader::grade(black_box(sdk_request.clone())))
            .map(drop)
            .map_err(|e| anyhow::anyhow!("native grade: {e:?}"))
    })?;

    // The same logic as an Extism plugin.
    let extism = extism_runs(&extism_wasm, &request, n)?;

    // A runaway plugin (an infinite loop) against the deadline.
    let (runaway_id, runaway_version) = (PluginId("runaway".into()), PluginVersion("1.0.0".into()));
    host.install_grader(runaway_id.clone(), runaway_version.clone(), &runaway)?;
    let mut stops = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let invocation = current.block_on(host.grade(
            &runaway_id,
            &runaway_version,
            &TenantId("bench".into()),
            &request,
        ));
        stops.push(t.elapsed());
        match invocation.result {
            Err(e) if e.code() == "deadline_exceeded" => {}
            other => bail!("the runaway plugin was not stopped by its deadline: {other:?}"),
        }
    }
    let slowest_stop = stops.iter().max().copied().unwrap_or_default();

    let verdict = |l: &Latencies| {
        let ok = l.p50() <= TARGET_P50 && l.p99() <= TARGET_P99;
        if ok { "targets met" } else { "TARGETS MISSED" }
    };
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-12);
    println!("grade call, instantiation included (targets p50 <= 50 µs, p99 <= 500 µs):");
    println!(
        "  host, 1 thread           {hosted_single}  {}",
        verdict(&hosted_single)
    );
    println!(
        "  host, 2 concurrent       {hosted_two}  {}",
        verdict(&hosted_two)
    );
    println!("breakdown on a bare engine with the host's settings:");
    println!("  instantiation alone      {instantiation}");
    println!("  instantiation + call     {raw_call}");
    println!(
        "  host bookkeeping         {} at p50 (request and grade checks, limiter, concurrency permit)",
        micros(hosted_single.p50().saturating_sub(raw_call.p50()))
    );
    println!("same grading logic:");
    println!("  native                   {native}");
    println!("  Extism, reused instance  {}", extism.reused);
    println!("  Extism, fresh instance   {}", extism.fresh);
    println!("  Extism instantiation     {}", extism.instantiation);
    println!("ratios at p50:");
    println!(
        "  host / native            {:.0}x",
        ratio(hosted_single.p50(), native.p50())
    );
    println!(
        "  Extism fresh / host      {:.2}x",
        ratio(extism.fresh.p50(), hosted_single.p50())
    );
    println!(
        "  Extism reused / host     {:.2}x",
        ratio(extism.reused.p50(), hosted_single.p50())
    );
    let deadline = limits.grader_deadline;
    println!("runaway plugin (infinite loop), 5 calls:");
    println!(
        "  deadline {} ms, stopped after {} (slowest {:.1} ms): {}",
        deadline.as_millis(),
        stops
            .iter()
            .map(|d| format!("{:.1} ms", d.as_secs_f64() * 1e3))
            .collect::<Vec<_>>()
            .join(", "),
        slowest_stop.as_secs_f64() * 1e3,
        if slowest_stop <= 2 * deadline {
            "within twice the deadline"
        } else {
            "LATER THAN TWICE THE DEADLINE"
        }
    );
    Ok(())
}

/// A numeric question whose request carries exactly [`REQUEST_BYTES`] of text, most of it in the
/// prompt, as a long question would.
fn request() -> GradeRequest {
    let mut request = GradeRequest {
        question_kind: "numeric".into(),
        prompt: String::new(),
        config: r#"{"answer":19.62,"unit":"m","tolerance":{"relative":0.01},"require_unit":true}"#
            .into(),
        max_points: 2.0,
        response_text: Some("1962 cm".into()),
        response_json: None,
        learner: "learner-7f3a".into(),
    };
    let sentence = "A stone is dropped from rest and falls freely for two seconds; \
                    taking g = 9.81 m/s², how far does it fall? ";
    let room = REQUEST_BYTES - request.size();
    request.prompt = sentence.chars().cycle().take(room).collect();
    // Multi-byte characters can overshoot; trim to the exact byte count on an ASCII filler.
    while request.size() > REQUEST_BYTES {
        request.prompt.pop();
    }
    while request.size() < REQUEST_BYTES {
        request.prompt.push(' ');
    }
    request
}

struct ExtismFigures {
    reused: Latencies,
    fresh: Latencies,
    instantiation: Latencies,
}

/// Extism's own model: JSON bytes in and out of a plugin instance that is reused between calls
/// (memory reset), and the fair comparison with a fresh instance per call.
fn extism_runs(wasm: &[u8], request: &GradeRequest, n: usize) -> Result<ExtismFigures> {
    let compiled = extism::CompiledPlugin::new(extism::PluginBuilder::new(wasm).with_wasi(false))?;
    let input = || {
        serde_json::json!({
            "question_kind": request.question_kind,
            "prompt": request.prompt,
            "config": request.config,
            "max_points": request.max_points,
            "response_text": request.response_text,
            "response_json": request.response_json,
            "learner": request.learner,
        })
        .to_string()
    };
    let call = |plugin: &mut extism::Plugin| -> Result<f64> {
        let output: &[u8] = plugin.call("grade", input().as_bytes())?;
        let outcome: serde_json::Value = serde_json::from_slice(output)?;
        outcome["grade"]["points"]
            .as_f64()
            .with_context(|| format!("Extism plugin answered {outcome}"))
    };
    let mut plugin = extism::Plugin::new_from_compiled(&compiled)?;
    let points = call(&mut plugin)?;
    ensure!(points == request.max_points, "Extism gave {points}");

    for _ in 0..n / 10 {
        call(&mut plugin)?;
    }
    let reused = Latencies::measure(n, || call(&mut plugin).map(drop))?;
    // Fresh instances are slower: a quarter of the calls.
    let fresh_n = (n / 4).max(1);
    let fresh = Latencies::measure(fresh_n, || {
        let mut plugin = extism::Plugin::new_from_compiled(&compiled)?;
        call(&mut plugin).map(drop)
    })?;
    let instantiation = Latencies::measure(fresh_n, || {
        extism::Plugin::new_from_compiled(&compiled).map(drop)
    })?;
    Ok(ExtismFigures {
        reused,
        fresh,
        instantiation,
    })
}
