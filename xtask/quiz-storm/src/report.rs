//! The storm's figures: printed, and written as `name=value` lines for the command that
//! checks the database and the targets afterwards.

use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::Options;
use crate::client::{Api, Call, Tally};
use crate::machine::Load;

/// What the server acknowledged to one learner.
#[derive(Default)]
pub struct Acked {
    /// The attempt's id, once the start was answered.
    pub attempt: Option<String>,
    /// Questions the attempt asked.
    pub questions: usize,
    /// Answers saved with 200.
    pub saved: usize,
    /// Set when the submission was answered with the attempt graded.
    pub score: Option<f64>,
    pub percent: Option<f64>,
    pub passed: Option<bool>,
}

/// One second of the storm while learners were starting: what was sent in it and how fast it
/// was answered.
struct Second {
    second: u64,
    starts: u64,
    start_p50_ms: f64,
    start_p99_ms: f64,
    start_max_ms: f64,
    saves: u64,
    save_p99_ms: f64,
    submits: u64,
}

/// One request kind's figures.
struct Figures {
    call: Call,
    succeeded: u64,
    failed: u64,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    /// From the first request sent to the last one answered.
    span: Duration,
}

pub struct Summary {
    learners: u32,
    window: Duration,
    connections: usize,
    figures: Vec<Figures>,
    seconds: Vec<Second>,
    requests: u64,
    failed: u64,
    failures: Vec<(String, u64, String)>,
    wall: Duration,
    peak_in_flight: usize,
    started: usize,
    graded: usize,
    mean_percent: Option<f64>,
    passed: usize,
    load: Load,
}

/// The seconds in which starts were sent.
fn seconds(tally: &Tally) -> Vec<Second> {
    let at = |call: Call, second: u64| tally.timeline.get(&(call, second));
    let ms = |h: Option<&Histogram<u64>>, q: f64| {
        h.map_or(0.0, |h| h.value_at_quantile(q) as f64 / 1000.0)
    };
    let count = |h: Option<&Histogram<u64>>| h.map_or(0, Histogram::len);
    tally
        .timeline
        .keys()
        .filter(|(call, _)| *call == Call::Start)
        .map(|&(_, second)| {
            let start = at(Call::Start, second);
            let save = at(Call::Save, second);
            Second {
                second,
                starts: count(start),
                start_p50_ms: ms(start, 0.5),
                start_p99_ms: ms(start, 0.99),
                start_max_ms: start.map_or(0.0, |h| h.max() as f64 / 1000.0),
                saves: count(save),
                save_p99_ms: ms(save, 0.99),
                submits: count(at(Call::Submit, second)),
            }
        })
        .collect()
}

impl Summary {
    pub fn new(api: &Api, acked: &[Acked], wall: Duration, options: &Options, load: Load) -> Self {
        let (figures, seconds, requests, failed, failures) = api.with_tally(|tally| {
            let figures = Call::STORM
                .iter()
                .map(|&call| {
                    let ms = |q: f64| {
                        tally
                            .latencies
                            .get(&call)
                            .map_or(0.0, |h| h.value_at_quantile(q) as f64 / 1000.0)
                    };
                    Figures {
                        call,
                        succeeded: tally.succeeded.get(&call).copied().unwrap_or(0),
                        failed: tally.failed_of(call),
                        p50_ms: ms(0.5),
                        p90_ms: ms(0.9),
                        p99_ms: ms(0.99),
                        max_ms: tally
                            .latencies
                            .get(&call)
                            .map_or(0.0, |h| h.max() as f64 / 1000.0),
                        span: tally
                            .spans
                            .get(&call)
                            .map_or(Duration::ZERO, |(first, last)| *last - *first),
                    }
                })
                .collect();
            let failures = tally
                .failures
                .iter()
                .map(|(what, f)| (what.clone(), f.count, f.sample.clone()))
                .collect();
            (
                figures,
                seconds(tally),
                tally.requests,
                tally.failed(),
                failures,
            )
        });
        let graded: Vec<&Acked> = acked.iter().filter(|a| a.score.is_some()).collect();
        let percents: Vec<f64> = graded.iter().filter_map(|a| a.percent).collect();
        Self {
            learners: options.learners,
            window: options.window,
            connections: options.connections,
            figures,
            seconds,
            requests,
            failed,
            failures,
            wall,
            peak_in_flight: api.peak_in_flight(),
            started: acked.iter().filter(|a| a.attempt.is_some()).count(),
            graded: graded.len(),
            mean_percent: (!percents.is_empty())
                .then(|| percents.iter().sum::<f64>() / percents.len() as f64),
            passed: graded.iter().filter(|a| a.passed == Some(true)).count(),
            load,
        }
    }

    fn figures(&self, call: Call) -> Option<&Figures> {
        self.figures.iter().find(|f| f.call == call)
    }

    fn per_second(&self, call: Call) -> f64 {
        self.figures(call).map_or(0.0, |f| {
            f.succeeded as f64 / f.span.as_secs_f64().max(0.001)
        })
    }

    pub fn print(&self) {
        println!();
        println!(
            "== quiz storm: {} learners over {:.1?}, at most {} requests in flight (peak {}), {:.2?} wall time",
            self.learners, self.window, self.connections, self.peak_in_flight, self.wall
        );
        println!(
            "   {:<14} {:>7} {:>7} {:>9} {:>9} {:>9} {:>9} {:>8}",
            "request", "ok", "failed", "p50 ms", "p90 ms", "p99 ms", "max ms", "span s"
        );
        for f in &self.figures {
            println!(
                "   {:<14} {:>7} {:>7} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>8.2}",
                f.call.name(),
                f.succeeded,
                f.failed,
                f.p50_ms,
                f.p90_ms,
                f.p99_ms,
                f.max_ms,
                f.span.as_secs_f64()
            );
        }
        println!("   by the second the requests were sent in, while learners were starting:");
        println!(
            "   {:>6} {:>7} {:>9} {:>9} {:>9} {:>7} {:>9} {:>7}",
            "second", "starts", "p50 ms", "p99 ms", "max ms", "saves", "p99 ms", "submits"
        );
        for s in &self.seconds {
            println!(
                "   {:>6} {:>7} {:>9.1} {:>9.1} {:>9.1} {:>7} {:>9.1} {:>7}",
                s.second,
                s.starts,
                s.start_p50_ms,
                s.start_p99_ms,
                s.start_max_ms,
                s.saves,
                s.save_p99_ms,
                s.submits
            );
        }
        println!(
            "   throughput     {:.0} requests/s over the wall time; {:.1} attempts started/s, {:.1} submitted/s (over each kind's span)",
            self.requests as f64 / self.wall.as_secs_f64(),
            self.per_second(Call::Start),
            self.per_second(Call::Submit)
        );
        println!(
            "   learners       {} started, {} submitted and graded; mean score {}, {} passed",
            self.started,
            self.graded,
            self.mean_percent
                .map_or("-".into(), |p| format!("{p:.1} %")),
            self.passed
        );
        println!("   failures       {}", self.failed);
        for (what, count, sample) in &self.failures {
            println!("     {count:>6} x {what}");
            println!("              first: {}", sample.replace('\n', " "));
        }
        let l = &self.load;
        let part = |v: Option<f64>| v.map_or("?".into(), |v| format!("{v:.0} %"));
        println!(
            "   machine        {} cores {} busy: this client {:.0} %, server {}, PostgreSQL {}, other processes {}, stolen by the host {}; waiting for the disk {}; load average {} before, {} after",
            l.cores,
            part(l.busy),
            l.client,
            part(l.server),
            part(l.cluster),
            part(l.others()),
            part(l.steal),
            part(l.iowait),
            l.load_before,
            l.load_after
        );
        println!("   (latencies of the expected answers only, from the moment a learner sends)");
    }

    pub fn key_values(&self) -> String {
        let mut out = String::new();
        let mut put = |name: &str, value: String| {
            let _ = writeln!(out, "{name}={value}");
        };
        for f in &self.figures {
            let key = match f.call {
                Call::Start => "start",
                Call::Save => "save",
                Call::Submit => "submit",
                Call::Login | Call::Authoring => continue,
            };
            put(&format!("{key}_ok"), f.succeeded.to_string());
            put(&format!("{key}_p50_ms"), format!("{:.1}", f.p50_ms));
            put(&format!("{key}_p99_ms"), format!("{:.1}", f.p99_ms));
        }
        put("requests", self.requests.to_string());
        put("failed", self.failed.to_string());
        put("wall_seconds", format!("{:.2}", self.wall.as_secs_f64()));
        put(
            "requests_per_second",
            format!("{:.0}", self.requests as f64 / self.wall.as_secs_f64()),
        );
        put(
            "started_per_second",
            format!("{:.1}", self.per_second(Call::Start)),
        );
        put(
            "submitted_per_second",
            format!("{:.1}", self.per_second(Call::Submit)),
        );
        put("peak_in_flight", self.peak_in_flight.to_string());
        put("graded", self.graded.to_string());
        let l = &self.load;
        let part = |v: Option<f64>| v.map_or("?".into(), |v| format!("{v:.0}"));
        put("machine_busy_percent", part(l.busy));
        put("client_percent", format!("{:.0}", l.client));
        put("server_percent", part(l.server));
        put("cluster_percent", part(l.cluster));
        put("others_percent", part(l.others()));
        put("steal_percent", part(l.steal));
        put("iowait_percent", part(l.iowait));
        put("load_before", l.load_before.clone());
        put("load_after", l.load_after.clone());
        out
    }
}
