//! The validated value types course settings are made of, built on the shared rules of
//! [`crate::validation`].

use crate::error::FieldError;
use crate::validation::{line, prose};

/// A course title: 1 to 200 characters on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Title(String);

impl Title {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        line(field, raw, 200).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A short summary: up to 1,000 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary(String);

impl Summary {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        prose(field, raw, 1_000).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Markdown: up to 100,000 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Markdown(String);

impl Markdown {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        prose(field, raw, 100_000).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A course's address within its tenant: lowercase letters, digits and single dashes, 1 to 100.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CourseSlug(String);

impl CourseSlug {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let valid = !raw.is_empty()
            && raw.len() <= 100
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !raw.starts_with('-')
            && !raw.ends_with('-')
            && !raw.contains("--");
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(FieldError::new(
                field,
                "invalid_slug",
                "1 to 100 lowercase letters, digits and single dashes",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A category name: 1 to 100 characters on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category(String);

impl Category {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        line(field, raw, 100).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Up to 20 tags, each 1 to 50 characters, lowercased, without repeats (first occurrence kept).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tags(Vec<String>);

impl Tags {
    pub fn parse(field: &str, raw: &[String]) -> Result<Self, FieldError> {
        if raw.len() > 20 {
            return Err(FieldError::new(field, "too_many", "at most 20 tags"));
        }
        let mut tags: Vec<String> = Vec::with_capacity(raw.len());
        for (i, tag) in raw.iter().enumerate() {
            let tag = line(&format!("{field}[{i}]"), tag, 50)?.to_lowercase();
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        Ok(Self(tags))
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

/// A BCP 47-style language tag: a 2–3 letter language, then optional 1–8 character subtags
/// (`en`, `pt-BR`, `zh-Hant-TW`). The language is lowercased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Language(String);

impl Language {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let mut parts = raw.split('-');
        let primary = parts.next().unwrap_or_default();
        let valid = (2..=3).contains(&primary.len())
            && primary.bytes().all(|b| b.is_ascii_alphabetic())
            && raw.len() <= 35
            && parts.all(|p| {
                (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric())
            });
        if !valid {
            return Err(FieldError::new(
                field,
                "invalid_language",
                "a BCP 47 language tag such as en or pt-BR",
            ));
        }
        let rest = &raw[primary.len()..];
        Ok(Self(format!("{}{rest}", primary.to_ascii_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An absolute `https` (or, where allowed, `http`) URL of at most 2,000 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebUrl(String);

impl WebUrl {
    /// Only `https` (thumbnails, shown inside the tenant's pages).
    pub fn parse_https(field: &str, raw: &str) -> Result<Self, FieldError> {
        Self::parse_with(field, raw, &["https"], "an absolute https URL")
    }

    /// `http` or `https` (content links that open elsewhere).
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        Self::parse_with(field, raw, &["https", "http"], "an absolute http(s) URL")
    }

    fn parse_with(
        field: &str,
        raw: &str,
        schemes: &[&str],
        what: &str,
    ) -> Result<Self, FieldError> {
        match url::Url::parse(raw) {
            Ok(url)
                if raw.len() <= 2_000
                    && schemes.contains(&url.scheme())
                    && url.host_str().is_some_and(|h| !h.is_empty()) =>
            {
                Ok(Self(url.to_string()))
            }
            _ => Err(FieldError::new(
                field,
                "invalid_url",
                format!("must be {what}"),
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An ISO 4217 currency code: three uppercase letters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Currency(String);

impl Currency {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        if raw.len() == 3 && raw.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(FieldError::new(
                field,
                "invalid_currency",
                "an ISO 4217 code such as EUR",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_languages_and_currencies_parse_strictly() {
        assert!(CourseSlug::parse("slug", "rust-101").is_ok());
        for bad in ["", "Rust", "-a", "a-", "a--b", "a b", "ü"] {
            assert!(CourseSlug::parse("slug", bad).is_err(), "{bad}");
        }
        assert_eq!(
            Language::parse("language", "PT-BR").map(|l| l.0).ok(),
            Some("pt-BR".into())
        );
        for bad in ["", "e", "english", "en--us", "en_US"] {
            assert!(Language::parse("language", bad).is_err(), "{bad}");
        }
        assert!(Currency::parse("currency", "EUR").is_ok());
        assert!(Currency::parse("currency", "eur").is_err());
        assert!(WebUrl::parse_https("t", "http://example.org/a.png").is_err());
        assert!(WebUrl::parse("u", "javascript:alert(1)").is_err());
    }
}
