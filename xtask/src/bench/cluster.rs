//! The server's private PostgreSQL cluster, reached directly: its port and generated passwords
//! come from `<data_dir>/cluster.json`, which the server writes on first start.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

use crate::{command, output_text};

pub struct Cluster {
    pub port: u16,
    owner_password: String,
    pub app_password: String,
}

impl Cluster {
    pub fn read(data_dir: &Path) -> Result<Self> {
        let path = data_dir.join("cluster.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let port = json_value(&text, "port")
            .and_then(|p| p.parse().ok())
            .with_context(|| format!("no port in {}", path.display()))?;
        let password = |key: &str| {
            json_value(&text, key)
                .map(str::to_owned)
                .with_context(|| format!("no {key} in {}", path.display()))
        };
        Ok(Self {
            port,
            owner_password: password("owner_password")?,
            app_password: password("app_password")?,
        })
    }

    /// `psql` as the cluster superuser `lms` on database `lms`: unaligned tuples, stops on
    /// the first error. Arguments (`-c`, `-f`, `-v`) are the caller's.
    pub fn psql(&self) -> Command {
        let mut cmd = command("psql");
        cmd.env("PGPASSWORD", &self.owner_password)
            .env("PGCONNECT_TIMEOUT", "10")
            .args(["-X", "-w", "-q", "-At", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", "lms", "-d", "lms"]);
        cmd
    }

    /// Runs SQL as the superuser and returns what it printed.
    pub fn query(&self, sql: &str) -> Result<String> {
        output_text(self.psql().args(["-c", sql]))
    }
}

/// The value of `"key": value` in the server's flat, pretty-printed JSON (a string or a number).
fn json_value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let quoted = format!("\"{key}\"");
    let after = &text[text.find(&quoted)? + quoted.len()..];
    let after = after.trim_start().strip_prefix(':')?.trim_start();
    match after.strip_prefix('"') {
        Some(rest) => rest.split('"').next(),
        None => after.split([',', '}', '\n']).next().map(str::trim),
    }
}

#[cfg(test)]
mod tests {
    use super::json_value;

    #[test]
    fn reads_strings_and_numbers() {
        let text =
            "{\n  \"port\": 40123,\n  \"owner_password\": \"abc\",\n  \"app_password\": \"def\"\n}";
        assert_eq!(json_value(text, "port"), Some("40123"));
        assert_eq!(json_value(text, "owner_password"), Some("abc"));
        assert_eq!(json_value(text, "app_password"), Some("def"));
        assert_eq!(json_value(text, "missing"), None);
    }
}
