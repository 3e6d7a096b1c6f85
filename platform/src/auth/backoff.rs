//! Login backoff per account and per client address.
//!
//! After a few free failures each further failure doubles the wait (capped at 15 minutes) before
//! the next attempt is even checked. Keys are (tenant, email as typed), not user ids, so unknown
//! and known accounts behave identically and the backoff reveals nothing. State is per process;
//! with several replicas each enforces its own copy (a shared store would tighten that).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lms_tenants::TenantId;
use moka::sync::Cache;

const ACCOUNT_FREE_FAILURES: u32 = 5;
const ADDRESS_FREE_FAILURES: u32 = 20;
const MAX_WAIT: Duration = Duration::from_secs(15 * 60);
const FORGET_AFTER: Duration = Duration::from_secs(60 * 60);

#[derive(Clone, Copy)]
struct Failures {
    count: u32,
    blocked_until: Instant,
}

#[derive(Clone)]
pub struct LoginBackoff {
    accounts: Arc<Cache<(TenantId, String), Failures>>,
    addresses: Arc<Cache<IpAddr, Failures>>,
}

impl Default for LoginBackoff {
    fn default() -> Self {
        Self {
            accounts: Arc::new(failure_cache()),
            addresses: Arc::new(failure_cache()),
        }
    }
}

impl LoginBackoff {
    /// How long the caller must still wait before this attempt will be checked, if at all.
    pub fn wait(&self, tenant: TenantId, email: &str, ip: IpAddr) -> Option<Duration> {
        let now = Instant::now();
        let account = self
            .accounts
            .get(&(tenant, email.to_owned()))
            .map(|f| f.blocked_until);
        let address = self.addresses.get(&ip).map(|f| f.blocked_until);
        [account, address]
            .into_iter()
            .flatten()
            .filter(|until| *until > now)
            .max()
            .map(|until| until - now)
    }

    pub fn record_failure(&self, tenant: TenantId, email: &str, ip: IpAddr) {
        bump(
            &self.accounts,
            (tenant, email.to_owned()),
            ACCOUNT_FREE_FAILURES,
        );
        bump(&self.addresses, ip, ADDRESS_FREE_FAILURES);
    }

    /// A successful login clears the account's count (the address keeps its own).
    pub fn record_success(&self, tenant: TenantId, email: &str) {
        self.accounts.invalidate(&(tenant, email.to_owned()));
    }
}

fn failure_cache<K: std::hash::Hash + Eq + Send + Sync + 'static>() -> Cache<K, Failures> {
    Cache::builder()
        .max_capacity(1_000_000)
        .time_to_idle(FORGET_AFTER)
        .build()
}

fn bump<K: std::hash::Hash + Eq + Send + Sync + 'static>(
    cache: &Cache<K, Failures>,
    key: K,
    free: u32,
) {
    let now = Instant::now();
    cache.entry(key).and_upsert_with(|existing| {
        let count = existing
            .map_or(0, |e| e.into_value().count)
            .saturating_add(1);
        Failures {
            count,
            blocked_until: now + wait_after(count, free),
        }
    });
}

fn wait_after(count: u32, free: u32) -> Duration {
    if count < free {
        return Duration::ZERO;
    }
    let exponent = (count - free).min(20);
    Duration::from_secs(1u64 << exponent).min(MAX_WAIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_exponentially_after_free_failures_and_cap() {
        assert_eq!(wait_after(4, 5), Duration::ZERO);
        assert_eq!(wait_after(5, 5), Duration::from_secs(1));
        assert_eq!(wait_after(7, 5), Duration::from_secs(4));
        assert_eq!(wait_after(40, 5), MAX_WAIT);
    }

    #[test]
    fn accounts_and_addresses_are_tracked_separately() {
        let backoff = LoginBackoff::default();
        let tenant = TenantId::new();
        let ip = IpAddr::from([192, 0, 2, 1]);
        for _ in 0..ACCOUNT_FREE_FAILURES {
            backoff.record_failure(tenant, "a@example.org", ip);
        }
        assert!(backoff.wait(tenant, "a@example.org", ip).is_some());
        assert!(
            backoff
                .wait(tenant, "b@example.org", IpAddr::from([192, 0, 2, 2]))
                .is_none()
        );
        assert!(
            backoff
                .wait(
                    TenantId::new(),
                    "a@example.org",
                    IpAddr::from([192, 0, 2, 2])
                )
                .is_none()
        );
        backoff.record_success(tenant, "a@example.org");
        assert!(
            backoff
                .wait(tenant, "a@example.org", IpAddr::from([192, 0, 2, 2]))
                .is_none()
        );
    }
}
