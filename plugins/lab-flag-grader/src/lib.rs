//! Grades capture-the-flag lab answers against salted SHA-256 digests of the flags.
//!
//! Config: `{"flags":[{"name":..,"salt":..,"sha256":..,"points":..}], "case_sensitive":bool,
//! "trim_whitespace":bool}` where `sha256` is the lowercase hex digest of `salt + flag` (with the
//! flag lowercased when `case_sensitive` is false). The response is one or more flags: a JSON array
//! of strings in `response-json`, or lines of `response-text`. Each flag earns its points once.

use lms_plugin_sdk::prelude::*;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The question's configuration.
#[derive(Debug, Deserialize)]
pub struct Config {
    /// The flags to find.
    pub flags: Vec<Flag>,
    /// Whether flags compare case-sensitively (default true).
    #[serde(default = "yes")]
    pub case_sensitive: bool,
    /// Whether surrounding whitespace of a submitted flag is ignored (default true).
    #[serde(default = "yes")]
    pub trim_whitespace: bool,
}

fn yes() -> bool {
    true
}

/// One flag, stored only as a salted digest.
#[derive(Debug, Deserialize)]
pub struct Flag {
    /// Shown in feedback.
    pub name: String,
    /// Prepended to the flag before hashing.
    pub salt: String,
    /// Lowercase hex SHA-256 of `salt + flag`.
    pub sha256: String,
    /// Points for finding this flag.
    pub points: f64,
}

impl Config {
    fn validate(&self) -> Result<(), GradeError> {
        if self.flags.is_empty() {
            return Err(GradeError::InvalidConfig("no flags".into()));
        }
        for flag in &self.flags {
            if flag.sha256.len() != 64 || !flag.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(GradeError::InvalidConfig(format!(
                    "flag {}: sha256 must be 64 hex digits",
                    flag.name
                )));
            }
            if !flag.points.is_finite() || flag.points < 0.0 {
                return Err(GradeError::InvalidConfig(format!(
                    "flag {}: points must be a non-negative number",
                    flag.name
                )));
            }
        }
        Ok(())
    }
}

/// The lowercase hex SHA-256 of `salt + flag`.
pub fn digest(salt: &str, flag: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt.as_bytes());
    hasher.update(flag.as_bytes());
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Scores the submitted flags: one criterion per configured flag.
pub fn score(config: &Config, submitted: &[String]) -> Vec<Criterion> {
    let normalised: Vec<String> = submitted
        .iter()
        .map(|s| {
            let s = if config.trim_whitespace {
                s.trim()
            } else {
                s.as_str()
            };
            if config.case_sensitive {
                s.to_owned()
            } else {
                s.to_lowercase()
            }
        })
        .filter(|s| !s.is_empty())
        .collect();
    config
        .flags
        .iter()
        .map(|flag| {
            let expected = flag.sha256.to_ascii_lowercase();
            let found = normalised.iter().any(|s| digest(&flag.salt, s) == expected);
            let (points, message) = if found {
                (flag.points, "flag found")
            } else {
                (0.0, "flag not found")
            };
            Criterion::new(flag.name.clone(), points, flag.points, message)
        })
        .collect()
}

/// The submitted flags: a JSON array of strings, or else the lines of the text response.
pub fn submitted_flags(request: &GradeRequest) -> Result<Vec<String>, GradeError> {
    if let Some(flags) = request.parse_response_json::<Vec<String>>()? {
        return Ok(flags);
    }
    Ok(request
        .response_text
        .as_deref()
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect())
}

/// The lab-flag grader.
pub struct LabFlagGrader;

impl Grader for LabFlagGrader {
    fn grade(request: GradeRequest) -> Result<Grade, GradeError> {
        let config: Config = request.parse_config()?;
        config.validate()?;
        let submitted = submitted_flags(&request)?;
        let criteria = score(&config, &submitted);
        let found = criteria.iter().filter(|c| c.points > 0.0).count();
        log::debug(&format!("{found} of {} flags found", criteria.len()));
        Ok(Grade::from_criteria(criteria, request.max_points))
    }
}

export_grader!(LabFlagGrader);

#[cfg(test)]
mod tests {
    use super::*;

    fn config(case_sensitive: bool) -> Config {
        let flag = |name: &str, salt: &str, value: &str, points| Flag {
            name: name.into(),
            salt: salt.into(),
            sha256: digest(salt, value),
            points,
        };
        Config {
            flags: vec![
                flag("user", "s1", "FLAG{user}", 1.0),
                flag("root", "s2", "FLAG{root}", 3.0),
            ],
            case_sensitive,
            trim_whitespace: true,
        }
    }

    fn total(c: &[Criterion]) -> f64 {
        c.iter().map(|c| c.points).sum()
    }

    #[test]
    fn all_flags_earn_full_credit() {
        let c = score(
            &config(true),
            &["FLAG{user}".into(), " FLAG{root}\n".into()],
        );
        assert_eq!(total(&c), 4.0);
    }

    #[test]
    fn one_flag_earns_its_points_once() {
        let c = score(&config(true), &["FLAG{root}".into(), "FLAG{root}".into()]);
        assert_eq!(total(&c), 3.0);
        assert_eq!(c[0].message, "flag not found");
    }

    #[test]
    fn case_matters_unless_configured() {
        assert_eq!(total(&score(&config(true), &["flag{user}".into()])), 0.0);
        let mut insensitive = config(false);
        insensitive.flags[0].sha256 = digest("s1", "flag{user}");
        assert_eq!(total(&score(&insensitive, &["FLAG{USER}".into()])), 1.0);
    }

    #[test]
    fn bad_digest_is_invalid_config() {
        let mut c = config(true);
        c.flags[0].sha256 = "zz".into();
        assert!(matches!(c.validate(), Err(GradeError::InvalidConfig(_))));
    }
}
