//! Latency samples and their percentiles.

use std::fmt;
use std::time::{Duration, Instant};

/// Per-call durations of one measurement.
pub struct Latencies {
    sorted: Vec<Duration>,
    /// Wall time of the whole measurement, for throughput.
    pub elapsed: Duration,
}

impl Latencies {
    /// Sorts the samples; `elapsed` is how long taking them took.
    pub fn new(mut samples: Vec<Duration>, elapsed: Duration) -> Self {
        samples.sort_unstable();
        Self {
            sorted: samples,
            elapsed,
        }
    }

    /// Times `calls` runs of `f`, stopping at the first failure.
    pub fn measure<E>(calls: usize, mut f: impl FnMut() -> Result<(), E>) -> Result<Self, E> {
        let mut samples = Vec::with_capacity(calls);
        let started = Instant::now();
        for _ in 0..calls {
            let t = Instant::now();
            f()?;
            samples.push(t.elapsed());
        }
        Ok(Self::new(samples, started.elapsed()))
    }

    /// The `p`th percentile (0..=100), nearest rank.
    pub fn percentile(&self, p: f64) -> Duration {
        if self.sorted.is_empty() {
            return Duration::ZERO;
        }
        let rank = (p / 100.0 * self.sorted.len() as f64).ceil() as usize;
        self.sorted[rank.clamp(1, self.sorted.len()) - 1]
    }

    /// The median.
    pub fn p50(&self) -> Duration {
        self.percentile(50.0)
    }

    /// The 99th percentile.
    pub fn p99(&self) -> Duration {
        self.percentile(99.0)
    }

    /// Calls completed per second over the whole measurement.
    pub fn per_second(&self) -> f64 {
        self.sorted.len() as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

impl fmt::Display for Latencies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "p50 {:>9}  p99 {:>9}  max {:>9}  {:>9.0} calls/s  (n={})",
            micros(self.p50()),
            micros(self.p99()),
            micros(self.sorted.last().copied().unwrap_or_default()),
            self.per_second(),
            self.sorted.len()
        )
    }
}

/// `12.3 µs`.
pub fn micros(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples = (1..=100).map(Duration::from_micros).collect();
        let l = Latencies::new(samples, Duration::from_millis(1));
        assert_eq!(l.p50(), Duration::from_micros(50));
        assert_eq!(l.p99(), Duration::from_micros(99));
        assert_eq!(l.percentile(100.0), Duration::from_micros(100));
    }
}
