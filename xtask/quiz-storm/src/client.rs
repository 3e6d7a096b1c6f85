//! The HTTP client every request goes through: a keep-alive pool with a bound on requests in
//! flight, and the tally of what the server answered.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use hdrhistogram::Histogram;
use reqwest::Method;
use serde_json::Value;
use tokio::sync::Semaphore;

/// What a request is, for the tally.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Call {
    Login,
    Authoring,
    Start,
    Save,
    Submit,
}

impl Call {
    pub const STORM: [Call; 3] = [Call::Start, Call::Save, Call::Submit];

    pub fn name(self) -> &'static str {
        match self {
            Call::Login => "login",
            Call::Authoring => "authoring",
            Call::Start => "start attempt",
            Call::Save => "save answer",
            Call::Submit => "submit",
        }
    }

    /// The status a request of this kind succeeds with: a new attempt is 201 (200 would mean
    /// the learner already had one open).
    fn expected(self, status: u16) -> bool {
        match self {
            Call::Start => status == 201,
            Call::Login | Call::Save | Call::Submit => status == 200,
            Call::Authoring => (200..300).contains(&status),
        }
    }
}

/// Failures of one kind: how many, and the first one's answer.
pub struct Failure {
    pub call: Call,
    pub count: u64,
    pub sample: String,
}

/// Everything recorded since the last [`Api::reset`].
#[derive(Default)]
pub struct Tally {
    /// Latency of the successful answers, in microseconds.
    pub latencies: BTreeMap<Call, Histogram<u64>>,
    pub succeeded: BTreeMap<Call, u64>,
    /// By `call: status code` or `call: transport kind`.
    pub failures: BTreeMap<String, Failure>,
    /// When the first request of a kind was sent and the last one answered.
    pub spans: BTreeMap<Call, (Instant, Instant)>,
    /// Latency of the successful answers by the whole second (since the reset) they were sent
    /// in, in microseconds: where in the storm the slow answers were.
    pub timeline: BTreeMap<(Call, u64), Histogram<u64>>,
    pub requests: u64,
}

impl Tally {
    pub fn failed(&self) -> u64 {
        self.failures.values().map(|f| f.count).sum()
    }

    pub fn failed_of(&self, call: Call) -> u64 {
        self.failures
            .values()
            .filter(|f| f.call == call)
            .map(|f| f.count)
            .sum()
    }

    fn fail(&mut self, call: Call, what: String, sample: &str) {
        let failure = self.failures.entry(what).or_insert_with(|| Failure {
            call,
            count: 0,
            sample: sample.chars().take(400).collect(),
        });
        failure.count += 1;
    }
}

pub struct Api {
    http: reqwest::Client,
    base: String,
    tenant: String,
    permits: Semaphore,
    in_flight: AtomicUsize,
    peak_in_flight: AtomicUsize,
    tally: Mutex<Tally>,
    /// When the tally was last reset.
    since: Mutex<Instant>,
}

impl Api {
    /// A client for `base` (`http://host:port`) speaking for tenant `tenant`, with at most
    /// `connections` requests (so connections) in flight.
    pub fn new(base: &str, tenant: &str, connections: usize) -> Result<Self> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(connections)
            .pool_idle_timeout(Duration::from_secs(120))
            .tcp_nodelay(true)
            // Past the server's own 30 s request timeout.
            .timeout(Duration::from_secs(60))
            .build()?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            tenant: tenant.to_owned(),
            permits: Semaphore::new(connections),
            in_flight: AtomicUsize::new(0),
            peak_in_flight: AtomicUsize::new(0),
            tally: Mutex::new(Tally::default()),
            since: Mutex::new(Instant::now()),
        })
    }

    /// Forgets what was recorded so far (the storm is measured on its own).
    pub fn reset(&self) {
        *self.lock() = Tally::default();
        *self.since.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        self.peak_in_flight.store(0, Ordering::Relaxed);
    }

    pub fn peak_in_flight(&self) -> usize {
        self.peak_in_flight.load(Ordering::Relaxed)
    }

    pub fn with_tally<T>(&self, f: impl FnOnce(&Tally) -> T) -> T {
        f(&self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts something wrong in a successful answer (or in what a learner could do with it).
    pub fn anomaly(&self, call: Call, what: &str, sample: &str) {
        self.lock()
            .fail(call, format!("{}: {what}", call.name()), sample);
    }

    /// Sends one request and reads its JSON answer. The latency runs from the moment it is
    /// asked for, so waiting for a free connection counts. Anything but the expected status is
    /// tallied and returned as an error.
    pub async fn call(
        &self,
        call: Call,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Value> {
        let asked = Instant::now();
        let outcome = {
            let _permit = self.permits.acquire().await?;
            let now = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
            self.peak_in_flight.fetch_max(now, Ordering::Relaxed);
            let outcome = self.send(method, path, token, body).await;
            self.in_flight.fetch_sub(1, Ordering::Relaxed);
            outcome
        };
        let done = Instant::now();
        let second = asked
            .saturating_duration_since(*self.since.lock().unwrap_or_else(|e| e.into_inner()))
            .as_secs();
        let mut tally = self.lock();
        tally.requests += 1;
        let span = tally.spans.entry(call).or_insert((asked, done));
        span.0 = span.0.min(asked);
        span.1 = span.1.max(done);
        match outcome {
            Ok((status, text)) if call.expected(status) => {
                let micros = u64::try_from((done - asked).as_micros()).unwrap_or(u64::MAX);
                let histogram = tally.latencies.entry(call).or_insert_with(new_histogram);
                histogram.saturating_record(micros.max(1));
                tally
                    .timeline
                    .entry((call, second))
                    .or_insert_with(new_histogram)
                    .saturating_record(micros.max(1));
                *tally.succeeded.entry(call).or_default() += 1;
                if text.is_empty() {
                    return Ok(Value::Null);
                }
                serde_json::from_str(&text).map_err(|e| {
                    tally.fail(call, format!("{}: {status} not JSON", call.name()), &text);
                    anyhow!("{} {path}: answer is not JSON ({e}): {text}", call.name())
                })
            }
            Ok((status, text)) => {
                let code = serde_json::from_str::<Value>(&text)
                    .ok()
                    .and_then(|v| v["code"].as_str().map(str::to_owned))
                    .unwrap_or_else(|| "-".into());
                tally.fail(call, format!("{}: {status} {code}", call.name()), &text);
                Err(anyhow!("{} {path} answered {status}: {text}", call.name()))
            }
            Err(error) => {
                let kind = if error.is_timeout() {
                    "timeout"
                } else if error.is_connect() {
                    "connect"
                } else if error.is_body() || error.is_decode() {
                    "reading the body"
                } else if error.is_request() {
                    "sending"
                } else {
                    "other"
                };
                let message = chain(&error);
                tally.fail(
                    call,
                    format!("{}: transport error ({kind})", call.name()),
                    &message,
                );
                Err(anyhow!("{} {path}: {message}", call.name()))
            }
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<(u16, String), reqwest::Error> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("X-Tenant", &self.tenant);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        Ok((status, response.text().await?))
    }
}

/// 1 µs to 10 minutes at 3 significant digits.
fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

/// An error with its causes, as one line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
