//! wrk: installing it and reading its report.

use anyhow::{Context, Result};

use crate::{command, run, succeeds};

pub fn ensure_installed() -> Result<()> {
    if succeeds(command("wrk").arg("--version"))
        || command("which")
            .arg("wrk")
            .output()
            .is_ok_and(|o| o.status.success())
    {
        return Ok(());
    }
    println!("wrk is not installed; installing the Debian package");
    run(command("apt-get")
        .args(["install", "-y", "--no-install-recommends", "wrk"])
        .env("DEBIAN_FRONTEND", "noninteractive"))
    .context("installing wrk (apt-get install wrk)")
}

/// What wrk printed, with the figures the benchmarks report.
pub struct Report {
    pub text: String,
    pub requests_per_second: f64,
    pub p50: String,
    pub p99: String,
}

impl Report {
    pub fn parse(text: String) -> Result<Self> {
        let rps = field(&text, "Requests/sec:").context("wrk printed no Requests/sec")?;
        let requests_per_second = rps.parse().context("Requests/sec")?;
        Ok(Self {
            p50: percentile(&text, "50%").unwrap_or_default(),
            p99: percentile(&text, "99%").unwrap_or_default(),
            requests_per_second,
            text,
        })
    }

    /// A `name=value` line the script's `done` printed.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.text
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
            .map(str::trim)
    }

    pub fn number(&self, name: &str) -> Option<i64> {
        self.value(name)?.parse().ok()
    }

    /// The 99th percentile in milliseconds.
    pub fn p99_ms(&self) -> Option<f64> {
        duration_ms(&self.p99)
    }
}

fn field<'a>(report: &'a str, label: &str) -> Option<&'a str> {
    report
        .lines()
        .find_map(|l| l.trim().strip_prefix(label))
        .map(str::trim)
}

fn percentile(report: &str, label: &str) -> Option<String> {
    let after = report.split("Latency Distribution").nth(1)?;
    after.lines().find_map(|l| {
        let l = l.trim();
        l.strip_prefix(label).map(|v| v.trim().to_owned())
    })
}

/// wrk's `812.00us`, `3.21ms`, `1.05s`, `2.00m` in milliseconds.
fn duration_ms(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    match unit {
        "us" => Some(number / 1000.0),
        "ms" => Some(number),
        "s" => Some(number * 1000.0),
        "m" => Some(number * 60_000.0),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::duration_ms;

    #[test]
    fn durations_convert_to_milliseconds() {
        assert_eq!(duration_ms("812.00us"), Some(0.812));
        assert_eq!(duration_ms("3.21ms"), Some(3.21));
        assert_eq!(duration_ms("1.05s"), Some(1050.0));
        assert_eq!(duration_ms("?"), None);
    }
}
