//! Rules for the text and numbers clients send, shared by every feature's value types. Each
//! parses raw input into a [`FieldError`] naming the JSON path it came from, and [`Fields`]
//! collects them, so a request with several bad fields answers with all of them at once.

use crate::error::{ApiError, FieldError};

/// Collects field errors so one answer names every bad field.
#[derive(Default)]
pub struct Fields(Vec<FieldError>);

impl Fields {
    pub fn take<T>(&mut self, parsed: Result<T, FieldError>) -> Option<T> {
        parsed.map_err(|e| self.0.push(e)).ok()
    }

    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    /// `Ok(value)` when no error was collected.
    pub fn finish<T>(self, value: impl FnOnce() -> Option<T>) -> Result<T, ApiError> {
        if self.0.is_empty()
            && let Some(v) = value()
        {
            return Ok(v);
        }
        Err(ApiError::Validation(self.0))
    }
}

/// Trimmed single-line text of bounded length (titles, categories).
pub fn line(field: &str, raw: &str, max: usize) -> Result<String, FieldError> {
    let text = raw.trim();
    if text.is_empty() || text.chars().count() > max || text.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "invalid_text",
            format!("1 to {max} characters on one line"),
        ));
    }
    Ok(text.to_owned())
}

/// Markdown or plain multi-line text of bounded length (may be empty).
pub fn prose(field: &str, raw: &str, max: usize) -> Result<String, FieldError> {
    if raw.chars().count() > max
        || raw
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(FieldError::new(
            field,
            "invalid_text",
            format!("at most {max} characters, no control characters"),
        ));
    }
    Ok(raw.to_owned())
}

/// A count that must lie in a range (minutes, seconds, capacity, price in minor units).
pub fn bounded(field: &str, raw: i64, min: i64, max: i64) -> Result<i64, FieldError> {
    if (min..=max).contains(&raw) {
        Ok(raw)
    } else {
        Err(FieldError::new(
            field,
            "out_of_range",
            format!("must be between {min} and {max}"),
        ))
    }
}
