//! Grades numeric answers with a tolerance, significant figures and unit conversion.
//!
//! Config: `{"answer": 9.81, "unit": "m", "tolerance": {"absolute": 0.01} | {"relative": 0.02},
//! "significant_figures": 3, "require_unit": false}`. The response text is a number optionally
//! followed by a unit (`"1.5 km"`); a unit of the same dimension is converted to the answer's.

use lms_plugin_sdk::prelude::*;
use serde::Deserialize;

/// The question's configuration.
#[derive(Debug, Deserialize)]
pub struct Config {
    /// The correct value, in `unit`.
    pub answer: f64,
    /// The answer's unit, if it has one.
    #[serde(default)]
    pub unit: Option<String>,
    /// How far from the answer a response may be.
    #[serde(default)]
    pub tolerance: Option<Tolerance>,
    /// Compare after rounding both to this many significant figures.
    #[serde(default)]
    pub significant_figures: Option<u32>,
    /// Whether a response without a unit is wrong (otherwise it is taken in the answer's unit).
    #[serde(default)]
    pub require_unit: bool,
}

/// An accepted distance from the answer.
#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum Tolerance {
    /// At most this far from the answer.
    Absolute(f64),
    /// At most this fraction of the answer's magnitude away.
    Relative(f64),
}

/// What a unit measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    /// Metres and friends.
    Length,
    /// Grams and friends.
    Mass,
    /// Seconds and friends.
    Time,
}

/// The built-in units: symbol, dimension, factor to the base unit (m, kg, s).
const UNITS: &[(&str, Dimension, f64)] = &[
    ("km", Dimension::Length, 1000.0),
    ("m", Dimension::Length, 1.0),
    ("cm", Dimension::Length, 0.01),
    ("mm", Dimension::Length, 0.001),
    ("um", Dimension::Length, 1e-6),
    ("kg", Dimension::Mass, 1.0),
    ("g", Dimension::Mass, 0.001),
    ("mg", Dimension::Mass, 1e-6),
    ("h", Dimension::Time, 3600.0),
    ("min", Dimension::Time, 60.0),
    ("s", Dimension::Time, 1.0),
    ("ms", Dimension::Time, 0.001),
];

/// The dimension and base-unit factor of a unit symbol.
pub fn unit(symbol: &str) -> Option<(Dimension, f64)> {
    UNITS
        .iter()
        .find(|(s, _, _)| *s == symbol)
        .map(|&(_, d, f)| (d, f))
}

/// Converts `value` from unit `from` to unit `to`; `None` if either is unknown or they differ in
/// dimension.
pub fn convert(value: f64, from: &str, to: &str) -> Option<f64> {
    let (df, ff) = unit(from)?;
    let (dt, ft) = unit(to)?;
    (df == dt).then(|| value * ff / ft)
}

/// Splits `"1.5 km"` into the number and the unit, if any.
pub fn parse_response(text: &str) -> Result<(f64, Option<String>), GradeError> {
    let text = text.trim();
    let split = text
        .char_indices()
        .find(|&(i, c)| c.is_alphabetic() && !(matches!(c, 'e' | 'E') && is_exponent(text, i)))
        .map_or(text.len(), |(i, _)| i);
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| GradeError::InvalidResponse(format!("not a number: {:?}", number.trim())))?;
    if !value.is_finite() {
        return Err(GradeError::InvalidResponse("not a finite number".into()));
    }
    let unit = unit.trim();
    Ok((value, (!unit.is_empty()).then(|| unit.to_owned())))
}

/// Whether the `e` at `i` is an exponent marker (`1e3`), not the start of a unit.
fn is_exponent(text: &str, i: usize) -> bool {
    let before = text[..i]
        .chars()
        .last()
        .is_some_and(|c| c.is_ascii_digit() || c == '.');
    let mut after = text[i + 1..].chars();
    let next = after.next();
    let digit = |c: Option<char>| c.is_some_and(|c| c.is_ascii_digit());
    before && (digit(next) || (matches!(next, Some('+' | '-')) && digit(after.next())))
}

/// Rounds to `figures` significant figures.
pub fn round_sig(value: f64, figures: u32) -> f64 {
    if value == 0.0 || figures == 0 {
        return value;
    }
    let magnitude = value.abs().log10().floor() as i32;
    let scale = 10f64.powi(figures as i32 - 1 - magnitude);
    (value * scale).round() / scale
}

/// Whether `value` (already in the answer's unit) matches the configured answer.
pub fn matches(config: &Config, value: f64) -> bool {
    let (mut expected, mut got) = (config.answer, value);
    if let Some(figures) = config.significant_figures {
        expected = round_sig(expected, figures);
        got = round_sig(got, figures);
    }
    let diff = (expected - got).abs();
    let allowed = match config.tolerance {
        Some(Tolerance::Absolute(a)) => a.abs(),
        Some(Tolerance::Relative(r)) => r.abs() * expected.abs(),
        None => 0.0,
    };
    // A few ulps of slack so that unit conversion rounding does not fail exact answers.
    diff <= allowed + 1e-9 * expected.abs().max(f64::MIN_POSITIVE)
}

/// Scores one response text against the configuration.
pub fn score(config: &Config, response: &str) -> Result<Criterion, GradeError> {
    let (value, given_unit) = parse_response(response)?;
    let wrong = |message: String| Criterion::new("value", 0.0, 1.0, message);
    let value = match (&config.unit, given_unit) {
        (Some(want), Some(got)) => match convert(value, &got, want) {
            Some(v) => v,
            None if unit(&got).is_none() => return Ok(wrong(format!("unknown unit {got:?}"))),
            None => return Ok(wrong(format!("{got} cannot be converted to {want}"))),
        },
        (Some(want), None) if config.require_unit => {
            return Ok(wrong(format!("a unit is required (e.g. {want})")));
        }
        (None, Some(got)) => return Ok(wrong(format!("no unit expected, got {got:?}"))),
        (_, None) => value,
    };
    Ok(if matches(config, value) {
        Criterion::new("value", 1.0, 1.0, "correct")
    } else {
        wrong("incorrect value".into())
    })
}

/// The numeric grader.
pub struct NumericGrader;

impl Grader for NumericGrader {
    fn grade(request: GradeRequest) -> Result<Grade, GradeError> {
        let config: Config = request.parse_config()?;
        if !config.answer.is_finite() {
            return Err(GradeError::InvalidConfig("answer must be finite".into()));
        }
        if let Some(u) = &config.unit
            && unit(u).is_none()
        {
            return Err(GradeError::InvalidConfig(format!("unknown unit {u:?}")));
        }
        let response = request
            .response_text
            .as_deref()
            .ok_or_else(|| GradeError::InvalidResponse("no response text".into()))?;
        let criterion = score(&config, response)?;
        Ok(Grade::from_criteria(vec![criterion], request.max_points))
    }
}

#[cfg(feature = "component")]
export_grader!(NumericGrader);

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> Config {
        serde_json::from_str(json).expect("test config")
    }

    fn points(config: &Config, response: &str) -> f64 {
        score(config, response).expect("gradable").points
    }

    #[test]
    fn exact_answer_without_tolerance() {
        let c = config(r#"{"answer": 42}"#);
        assert_eq!(points(&c, "42"), 1.0);
        assert_eq!(points(&c, "42.001"), 0.0);
    }

    #[test]
    fn absolute_and_relative_tolerance() {
        let abs = config(r#"{"answer": 9.81, "tolerance": {"absolute": 0.05}}"#);
        assert_eq!(points(&abs, "9.85"), 1.0);
        assert_eq!(points(&abs, "9.9"), 0.0);
        let rel = config(r#"{"answer": 200, "tolerance": {"relative": 0.01}}"#);
        assert_eq!(points(&rel, "201.9"), 1.0);
        assert_eq!(points(&rel, "202.1"), 0.0);
    }

    #[test]
    fn significant_figures() {
        let c = config(r#"{"answer": 3.14159, "significant_figures": 3}"#);
        assert_eq!(points(&c, "3.14"), 1.0);
        assert_eq!(points(&c, "3.142"), 1.0);
        assert_eq!(points(&c, "3.15"), 0.0);
        assert_eq!(round_sig(0.0012345, 2), 0.0012);
    }

    #[test]
    fn units_convert_within_a_dimension() {
        let c = config(r#"{"answer": 1.5, "unit": "km"}"#);
        assert_eq!(points(&c, "1500 m"), 1.0);
        assert_eq!(points(&c, "150000cm"), 1.0);
        assert_eq!(points(&c, "1.5"), 1.0);
        assert_eq!(points(&c, "1.5 kg"), 0.0);
        assert_eq!(points(&c, "1.5 furlong"), 0.0);
        let t = config(r#"{"answer": 2, "unit": "min", "require_unit": true}"#);
        assert_eq!(points(&t, "120 s"), 1.0);
        assert_eq!(points(&t, "2"), 0.0);
    }

    #[test]
    fn exponents_are_not_units() {
        assert_eq!(
            parse_response("1e3 m").ok(),
            Some((1000.0, Some("m".into())))
        );
        assert_eq!(parse_response("2.5E-1").ok(), Some((0.25, None)));
        assert!(parse_response("abc").is_err());
    }
}
