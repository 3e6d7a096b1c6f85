//! Checking a question's definition as its author writes it. Every problem is reported at once,
//! each with the JSON path of the field under `spec`.

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;

use super::spec::{Blank, QuestionItem, QuestionSpec};
use super::text_answer::compile_regex;
use crate::error::FieldError;

struct Errors(Vec<FieldError>);

impl Errors {
    fn push(&mut self, field: impl Into<String>, code: &str, message: impl Into<String>) {
        self.0.push(FieldError::new(
            format!("spec.{}", field.into()),
            code,
            message,
        ));
    }

    fn count(&mut self, field: &str, len: usize, min: usize, max: usize) {
        if !(min..=max).contains(&len) {
            self.push(field, "wrong_count", format!("{min} to {max} entries"));
        }
    }

    fn text(&mut self, field: &str, text: &str, max: usize) {
        if text.trim().is_empty() || text.chars().count() > max {
            self.push(field, "invalid_text", format!("1 to {max} characters"));
        }
    }

    /// Ids and texts of a list of options, items, prompts or choices.
    fn items(&mut self, field: &str, items: &[QuestionItem]) {
        let mut seen = HashSet::new();
        for (i, item) in items.iter().enumerate() {
            if !valid_id(&item.id) {
                self.push(
                    format!("{field}[{i}].id"),
                    "invalid_id",
                    "1 to 32 of A-Z a-z 0-9 _ -",
                );
            } else if !seen.insert(item.id.as_str()) {
                self.push(
                    format!("{field}[{i}].id"),
                    "duplicate_id",
                    "ids are unique in the list",
                );
            }
            self.text(&format!("{field}[{i}].text"), &item.text, 2_000);
        }
    }

    fn accepted(&mut self, field: &str, accepted: &[String], min: usize, max: usize) {
        self.count(field, accepted.len(), min, max);
        for (i, a) in accepted.iter().enumerate() {
            self.text(&format!("{field}[{i}]"), a, 500);
        }
    }
}

/// An option, item or blank id: 1 to 32 ASCII letters, digits, `_` or `-`.
fn valid_id(id: &str) -> bool {
    (1..=32).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The `{{id}}` placeholders of a fill-in-the-blanks text, in order.
pub(super) fn placeholders(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        out.push(&after[..end]);
        rest = &after[end + 2..];
    }
    out
}

impl QuestionSpec {
    /// Checks the definition; field paths start with `spec.` (e.g. `spec.options[2].id`).
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors(Vec::new());
        match self {
            Self::SingleChoice { options, correct } => single_choice(&mut e, options, correct),
            Self::MultipleResponse {
                options, correct, ..
            } => multiple_response(&mut e, options, correct),
            Self::TrueFalse { .. } => {}
            Self::ShortAnswer {
                accepted,
                case_sensitive,
                regex,
            } => short_answer(&mut e, accepted, *case_sensitive, regex.as_deref()),
            Self::Numeric {
                answer, tolerance, ..
            } => numeric(&mut e, *answer, *tolerance),
            Self::Ordering { items, .. } => ordering(&mut e, items),
            Self::Matching {
                prompts,
                choices,
                pairs,
            } => matching(&mut e, prompts, choices, pairs),
            Self::FillInBlanks { text, blanks } => fill_in_blanks(&mut e, text, blanks),
            Self::Essay {
                min_words,
                max_words,
            } => essay(&mut e, *min_words, *max_words),
            Self::Plugin { plugin, config } => plugin_question(&mut e, plugin, config),
        }
        if e.0.is_empty() { Ok(()) } else { Err(e.0) }
    }
}

/// A single-choice question: 2 to 20 options, and the correct one among them.
fn single_choice(e: &mut Errors, options: &[QuestionItem], correct: &str) {
    e.count("options", options.len(), 2, 20);
    e.items("options", options);
    if !options.iter().any(|o| o.id == correct) {
        e.push("correct", "unknown_option", "name one of the options");
    }
}

/// A multiple-response question: 2 to 20 options, and at least one correct, each named once.
fn multiple_response(e: &mut Errors, options: &[QuestionItem], correct: &[String]) {
    e.count("options", options.len(), 2, 20);
    e.items("options", options);
    e.count("correct", correct.len(), 1, options.len().max(1));
    let mut seen = HashSet::new();
    for (i, c) in correct.iter().enumerate() {
        if !options.iter().any(|o| &o.id == c) {
            e.push(
                format!("correct[{i}]"),
                "unknown_option",
                "name one of the options",
            );
        } else if !seen.insert(c) {
            e.push(format!("correct[{i}]"), "duplicate_id", "listed twice");
        }
    }
}

/// A short-answer question: accepted answers, a usable regex, or both.
fn short_answer(e: &mut Errors, accepted: &[String], case_sensitive: bool, regex: Option<&str>) {
    e.accepted("accepted", accepted, 0, 50);
    match regex {
        Some(pattern) if pattern.chars().count() > 500 => {
            e.push("regex", "invalid_regex", "at most 500 characters");
        }
        Some(pattern) => {
            if let Err(err) = compile_regex(pattern, case_sensitive) {
                e.push(
                    "regex",
                    "invalid_regex",
                    format!("not a usable pattern: {err}"),
                );
            }
        }
        None if accepted.is_empty() => {
            e.push(
                "accepted",
                "required",
                "give accepted answers, a regex, or both",
            );
        }
        None => {}
    }
}

/// A numeric question: a finite answer and a finite tolerance, at least 0.
fn numeric(e: &mut Errors, answer: f64, tolerance: f64) {
    if !answer.is_finite() {
        e.push("answer", "not_finite", "a finite number");
    }
    if !tolerance.is_finite() || tolerance < 0.0 {
        e.push("tolerance", "out_of_range", "a finite number, at least 0");
    }
}

/// An ordering question: 2 to 20 items.
fn ordering(e: &mut Errors, items: &[QuestionItem]) {
    e.count("items", items.len(), 2, 20);
    e.items("items", items);
}

/// A matching question: every prompt paired with its own choice, and no pair for anything else.
fn matching(
    e: &mut Errors,
    prompts: &[QuestionItem],
    choices: &[QuestionItem],
    pairs: &BTreeMap<String, String>,
) {
    e.count("prompts", prompts.len(), 2, 20);
    e.count("choices", choices.len(), prompts.len().max(2), 30);
    e.items("prompts", prompts);
    e.items("choices", choices);
    let mut used = HashSet::new();
    for prompt in prompts {
        match pairs.get(&prompt.id) {
            None => e.push(
                format!("pairs.{}", prompt.id),
                "required",
                "every prompt needs its choice",
            ),
            Some(choice) if !choices.iter().any(|c| &c.id == choice) => {
                e.push(
                    format!("pairs.{}", prompt.id),
                    "unknown_choice",
                    "name one of the choices",
                );
            }
            Some(choice) if !used.insert(choice) => {
                e.push(
                    format!("pairs.{}", prompt.id),
                    "duplicate_choice",
                    "a choice matches one prompt at most",
                );
            }
            Some(_) => {}
        }
    }
    for prompt in pairs.keys() {
        if !prompts.iter().any(|p| &p.id == prompt) {
            e.push(
                format!("pairs.{prompt}"),
                "unknown_prompt",
                "not one of the prompts",
            );
        }
    }
}

/// A fill-in-the-blanks question: each blank's `{{id}}` placeholder exactly once in the text,
/// and a blank for every placeholder.
fn fill_in_blanks(e: &mut Errors, text: &str, blanks: &[Blank]) {
    e.text("text", text, 5_000);
    e.count("blanks", blanks.len(), 1, 20);
    let found = placeholders(text);
    for (i, blank) in blanks.iter().enumerate() {
        if !valid_id(&blank.id) {
            e.push(
                format!("blanks[{i}].id"),
                "invalid_id",
                "1 to 32 of A-Z a-z 0-9 _ -",
            );
        } else if found.iter().filter(|p| **p == blank.id).count() != 1 {
            e.push(
                format!("blanks[{i}].id"),
                "placeholder_mismatch",
                format!(
                    "`{{{{{}}}}}` must appear exactly once in the text",
                    blank.id
                ),
            );
        }
        if blanks[..i].iter().any(|b| b.id == blank.id) {
            e.push(format!("blanks[{i}].id"), "duplicate_id", "ids are unique");
        }
        e.accepted(&format!("blanks[{i}].accepted"), &blank.accepted, 1, 20);
    }
    for placeholder in found {
        if !blanks.iter().any(|b| b.id == placeholder) {
            e.push(
                "text",
                "placeholder_mismatch",
                format!("`{{{{{placeholder}}}}}` has no blank"),
            );
        }
    }
}

/// An essay question: word bounds, when given, from 1 to 20000 and in order.
fn essay(e: &mut Errors, min_words: Option<u32>, max_words: Option<u32>) {
    for (field, bound) in [("min_words", min_words), ("max_words", max_words)] {
        if bound.is_some_and(|w| !(1..=20_000).contains(&w)) {
            e.push(field, "out_of_range", "1 to 20000");
        }
    }
    if let (Some(min), Some(max)) = (min_words, max_words)
        && min > max
    {
        e.push("max_words", "out_of_range", "at least min_words");
    }
}

/// A plugin question: a plugin name, and a configuration that is a JSON object.
fn plugin_question(e: &mut Errors, plugin: &str, config: &Value) {
    let b = plugin.as_bytes();
    let ok = (1..=64).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-');
    if !ok {
        e.push(
            "plugin",
            "invalid_name",
            "a plugin name: a-z, 0-9 and -, starting with a letter",
        );
    }
    if !config.is_object() {
        e.push("config", "invalid_config", "a JSON object");
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn codes(spec: &QuestionSpec) -> Vec<(String, String)> {
        spec.validate()
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect()
    }

    fn item(id: &str) -> QuestionItem {
        QuestionItem {
            id: id.into(),
            text: format!("Text {id}"),
        }
    }

    #[test]
    fn choices_need_known_unique_ids() {
        let spec = QuestionSpec::SingleChoice {
            options: vec![item("a"), item("a")],
            correct: "z".into(),
        };
        assert_eq!(
            codes(&spec),
            [
                ("spec.options[1].id".to_owned(), "duplicate_id".to_owned()),
                ("spec.correct".to_owned(), "unknown_option".to_owned())
            ]
        );
        let one = QuestionSpec::SingleChoice {
            options: vec![item("a")],
            correct: "a".into(),
        };
        assert_eq!(
            codes(&one),
            [("spec.options".to_owned(), "wrong_count".to_owned())]
        );
    }

    #[test]
    fn pathological_and_broken_regexes_are_refused() {
        for pattern in ["(a{1000}){1000}", "(unclosed", "a)|(b"] {
            let spec = QuestionSpec::ShortAnswer {
                accepted: vec![],
                case_sensitive: false,
                regex: Some(pattern.into()),
            };
            assert_eq!(
                codes(&spec),
                [("spec.regex".to_owned(), "invalid_regex".to_owned())],
                "{pattern}"
            );
        }
        let nothing = QuestionSpec::ShortAnswer {
            accepted: vec![],
            case_sensitive: false,
            regex: None,
        };
        assert_eq!(
            codes(&nothing),
            [("spec.accepted".to_owned(), "required".to_owned())]
        );
    }

    #[test]
    fn numbers_must_be_finite_and_tolerances_not_negative() {
        for (answer, tolerance) in [
            (f64::NAN, 0.0),
            (f64::INFINITY, 0.0),
            (1.0, -0.1),
            (1.0, f64::NAN),
        ] {
            let spec = QuestionSpec::Numeric {
                answer,
                tolerance,
                tolerance_mode: Default::default(),
            };
            assert_eq!(codes(&spec).len(), 1, "{answer} {tolerance}");
        }
    }

    #[test]
    fn blanks_and_placeholders_must_match_one_to_one() {
        let blank = |id: &str| Blank {
            id: id.into(),
            accepted: vec!["x".into()],
            case_sensitive: false,
        };
        let ok = QuestionSpec::FillInBlanks {
            text: "A {{one}} and {{two}}".into(),
            blanks: vec![blank("one"), blank("two")],
        };
        assert!(ok.validate().is_ok());
        let missing = QuestionSpec::FillInBlanks {
            text: "A {{one}} and {{three}}".into(),
            blanks: vec![blank("one"), blank("two")],
        };
        assert_eq!(
            codes(&missing),
            [
                (
                    "spec.blanks[1].id".to_owned(),
                    "placeholder_mismatch".to_owned()
                ),
                ("spec.text".to_owned(), "placeholder_mismatch".to_owned())
            ]
        );
        let twice = QuestionSpec::FillInBlanks {
            text: "{{one}} {{one}}".into(),
            blanks: vec![blank("one")],
        };
        assert_eq!(
            codes(&twice),
            [(
                "spec.blanks[0].id".to_owned(),
                "placeholder_mismatch".to_owned()
            )]
        );
    }

    #[test]
    fn a_choice_matches_one_prompt_at_most() {
        let spec = QuestionSpec::Matching {
            prompts: vec![item("p1"), item("p2")],
            choices: vec![item("c1"), item("c2")],
            pairs: BTreeMap::from([("p1".into(), "c1".into()), ("p2".into(), "c1".into())]),
        };
        assert_eq!(
            codes(&spec),
            [("spec.pairs.p2".to_owned(), "duplicate_choice".to_owned())]
        );
    }

    #[test]
    fn plugin_questions_name_a_plugin_and_carry_an_object() {
        let spec = QuestionSpec::Plugin {
            plugin: "Bad Name".into(),
            config: json!([1]),
        };
        assert_eq!(codes(&spec).len(), 2);
    }
}
