//! When a failed job runs again: exponential backoff with full jitter, capped.

use std::time::Duration;

use rand::Rng;

/// How a kind of job retries.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Attempts in all, the first included; after the last failure the job is dead.
    pub max_attempts: i32,
    /// The delay scale after the first failure.
    pub base: Duration,
    /// No delay is longer than this.
    pub cap: Duration,
}

impl Retry {
    /// 20 attempts over about two days: 15 s, 30 s, 1 min … then every 6 hours at most.
    pub const DEFAULT: Self = Self {
        max_attempts: 20,
        base: Duration::from_secs(15),
        cap: Duration::from_secs(6 * 3600),
    };

    /// The ceiling of the delay after the `attempt`-th failure (1-based): `base · 2^(attempt-1)`,
    /// capped.
    pub fn ceiling(&self, attempt: i32) -> Duration {
        let doublings = u32::try_from(attempt.saturating_sub(1))
            .unwrap_or(0)
            .min(30);
        self.base
            .checked_mul(1u32 << doublings)
            .map_or(self.cap, |d| d.min(self.cap))
    }

    /// The delay after the `attempt`-th failure: uniformly random between half the ceiling and
    /// the ceiling, so jobs that failed together (an SMTP outage) do not return together.
    pub fn delay(&self, attempt: i32) -> Duration {
        let ceiling = self.ceiling(attempt);
        rand::thread_rng().gen_range(ceiling / 2..=ceiling)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_then_stop_at_the_cap() {
        let retry = Retry::DEFAULT;
        assert_eq!(retry.ceiling(1), Duration::from_secs(15));
        assert_eq!(retry.ceiling(2), Duration::from_secs(30));
        assert_eq!(retry.ceiling(5), Duration::from_secs(240));
        assert_eq!(retry.ceiling(12), Duration::from_secs(6 * 3600));
        assert_eq!(retry.ceiling(i32::MAX), Duration::from_secs(6 * 3600));
        assert_eq!(retry.ceiling(0), Duration::from_secs(15));
    }

    #[test]
    fn jitter_stays_between_half_and_the_whole_ceiling() {
        let retry = Retry::DEFAULT;
        for attempt in 1..25 {
            let ceiling = retry.ceiling(attempt);
            for _ in 0..50 {
                let delay = retry.delay(attempt);
                assert!(
                    delay >= ceiling / 2 && delay <= ceiling,
                    "{delay:?} vs {ceiling:?}"
                );
            }
        }
    }

    #[test]
    fn the_default_schedule_spans_about_two_days() {
        let retry = Retry::DEFAULT;
        let total: Duration = (1..retry.max_attempts).map(|a| retry.ceiling(a)).sum();
        assert!(total > Duration::from_secs(36 * 3600), "{total:?}");
        assert!(total < Duration::from_secs(4 * 86400), "{total:?}");
    }
}
