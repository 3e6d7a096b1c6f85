//! A learner's answer, read against the question it answers.
//!
//! Answers arrive as JSON whose shape depends on the question's kind (see [`Response`]); reading
//! one checks it against the question (known option ids, no duplicates, sizes), so a wrong
//! answer is a clear field error at save time rather than a surprise at grading.

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;
use serde_json::{Value, json};

use super::spec::{Blank, QuestionItem, QuestionSpec};
use crate::error::FieldError;

/// Longest short answer or blank, in characters.
const MAX_SHORT_TEXT: usize = 2_000;
/// Longest essay or plugin text answer, in characters.
const MAX_LONG_TEXT: usize = 100_000;
/// Largest structured plugin answer, serialised.
const MAX_PLUGIN_JSON: usize = 64 * 1024;

/// An answer, by kind: `{"option"}`, `{"options": [...]}`, `{"value": bool}`, `{"text"}`,
/// `{"value": number}`, `{"order": [...]}`, `{"pairs": {prompt: choice}}`,
/// `{"blanks": {blank: text}}`, `{"text"}` (essay), `{"text"?, "json"?}` (plugin).
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    SingleChoice {
        option: String,
    },
    MultipleResponse {
        options: Vec<String>,
    },
    TrueFalse {
        value: bool,
    },
    ShortAnswer {
        text: String,
    },
    Numeric {
        value: f64,
    },
    Ordering {
        order: Vec<String>,
    },
    Matching {
        pairs: BTreeMap<String, String>,
    },
    FillInBlanks {
        blanks: BTreeMap<String, String>,
    },
    Essay {
        text: String,
    },
    Plugin {
        text: Option<String>,
        json: Option<Value>,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OptionAnswer {
    option: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OptionsAnswer {
    options: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BoolAnswer {
    value: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TextAnswer {
    text: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NumberAnswer {
    value: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrderAnswer {
    order: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PairsAnswer {
    pairs: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BlanksAnswer {
    blanks: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PluginAnswer {
    text: Option<String>,
    json: Option<Value>,
}

fn shape<T: serde::de::DeserializeOwned>(
    answer: &Value,
    expected: &str,
) -> Result<T, Vec<FieldError>> {
    T::deserialize(answer).map_err(|_| {
        vec![FieldError::new(
            "answer",
            "invalid_answer",
            format!("expected {expected}"),
        )]
    })
}

fn too_long(field: &str, text: &str, max: usize) -> Option<FieldError> {
    (text.chars().count() > max)
        .then(|| FieldError::new(field, "too_long", format!("at most {max} characters")))
}

fn known(items: &[QuestionItem], id: &str) -> bool {
    items.iter().any(|i| i.id == id)
}

fn finish(response: Response, errors: Vec<FieldError>) -> Result<Response, Vec<FieldError>> {
    if errors.is_empty() {
        Ok(response)
    } else {
        Err(errors)
    }
}

impl QuestionSpec {
    /// Reads a learner's answer to this question; every problem is a field error under `answer`.
    pub fn parse_response(&self, answer: &Value) -> Result<Response, Vec<FieldError>> {
        match self {
            Self::SingleChoice { options, .. } => single_choice(answer, options),
            Self::MultipleResponse { options, .. } => multiple_response(answer, options),
            Self::TrueFalse { .. } => true_false(answer),
            Self::ShortAnswer { .. } => short_answer(answer),
            Self::Numeric { .. } => numeric(answer),
            Self::Ordering { items, .. } => ordering(answer, items),
            Self::Matching {
                prompts, choices, ..
            } => matching(answer, prompts, choices),
            Self::FillInBlanks { blanks, .. } => fill_in_blanks(answer, blanks),
            Self::Essay { .. } => essay(answer),
            Self::Plugin { .. } => plugin_answer(answer),
        }
    }
}

/// `{"option"}`: one of the question's options.
fn single_choice(answer: &Value, options: &[QuestionItem]) -> Result<Response, Vec<FieldError>> {
    let mut errors = Vec::new();
    let a: OptionAnswer = shape(answer, r#"{"option": "<option id>"}"#)?;
    if !known(options, &a.option) {
        errors.push(FieldError::new(
            "answer.option",
            "unknown_option",
            "not an option of the question",
        ));
    }
    finish(Response::SingleChoice { option: a.option }, errors)
}

/// `{"options": [...]}`: options of the question, each once.
fn multiple_response(
    answer: &Value,
    options: &[QuestionItem],
) -> Result<Response, Vec<FieldError>> {
    let mut errors = Vec::new();
    let a: OptionsAnswer = shape(answer, r#"{"options": ["<option id>", ...]}"#)?;
    let mut seen = HashSet::new();
    for (i, id) in a.options.iter().enumerate() {
        if !known(options, id) {
            errors.push(FieldError::new(
                format!("answer.options[{i}]"),
                "unknown_option",
                "not an option of the question",
            ));
        } else if !seen.insert(id) {
            errors.push(FieldError::new(
                format!("answer.options[{i}]"),
                "duplicate",
                "selected twice",
            ));
        }
    }
    finish(Response::MultipleResponse { options: a.options }, errors)
}

/// `{"value": bool}`.
fn true_false(answer: &Value) -> Result<Response, Vec<FieldError>> {
    let a: BoolAnswer = shape(answer, r#"{"value": true | false}"#)?;
    Ok(Response::TrueFalse { value: a.value })
}

/// `{"text"}`, at most [`MAX_SHORT_TEXT`] characters.
fn short_answer(answer: &Value) -> Result<Response, Vec<FieldError>> {
    let mut errors = Vec::new();
    let a: TextAnswer = shape(answer, r#"{"text": "..."}"#)?;
    errors.extend(too_long("answer.text", &a.text, MAX_SHORT_TEXT));
    finish(Response::ShortAnswer { text: a.text }, errors)
}

/// `{"value": number}`, finite.
fn numeric(answer: &Value) -> Result<Response, Vec<FieldError>> {
    let mut errors = Vec::new();
    let a: NumberAnswer = shape(answer, r#"{"value": <number>}"#)?;
    if !a.value.is_finite() {
        errors.push(FieldError::new(
            "answer.value",
            "not_finite",
            "a finite number",
        ));
    }
    finish(Response::Numeric { value: a.value }, errors)
}

/// `{"order": [...]}`: every item of the question exactly once.
fn ordering(answer: &Value, items: &[QuestionItem]) -> Result<Response, Vec<FieldError>> {
    let mut errors = Vec::new();
    let a: OrderAnswer = shape(answer, r#"{"order": ["<item id>", ...]}"#)?;
    let given: HashSet<&String> = a.order.iter().collect();
    let permutation = a.order.len() == items.len()
        && given.len() == items.len()
        && items.iter().all(|i| given.contains(&i.id));
    if !permutation {
        errors.push(FieldError::new(
            "answer.order",
            "not_a_permutation",
            "every item exactly once",
        ));
    }
    finish(Response::Ordering { order: a.order }, errors)
}

/// `{"pairs": {prompt: choice}}`: prompts and choices of the question; some may be left out.
fn matching(
    answer: &Value,
    prompts: &[QuestionItem],
    choices: &[QuestionItem],
) -> Result<Response, Vec<FieldError>> {
    let mut errors = Vec::new();
    let a: PairsAnswer = shape(answer, r#"{"pairs": {"<prompt id>": "<choice id>"}}"#)?;
    for (prompt, choice) in &a.pairs {
        if !known(prompts, prompt) {
            errors.push(FieldError::new(
                format!("answer.pairs.{prompt}"),
                "unknown_prompt",
                "not a prompt of the question",
            ));
        } else if !known(choices, choice) {
            errors.push(FieldError::new(
                format!("answer.pairs.{prompt}"),
                "unknown_choice",
                "not a choice of the question",
            ));
        }
    }
    finish(Response::Matching { pairs: a.pairs }, errors)
}

/// `{"blanks": {blank: text}}`: blanks of the question; some may be left out.
fn fill_in_blanks(answer: &Value, blanks: &[Blank]) -> Result<Response, Vec<FieldError>> {
    let mut errors = Vec::new();
    let a: BlanksAnswer = shape(answer, r#"{"blanks": {"<blank id>": "..."}}"#)?;
    for (id, text) in &a.blanks {
        let field = format!("answer.blanks.{id}");
        if !blanks.iter().any(|b| &b.id == id) {
            errors.push(FieldError::new(
                field,
                "unknown_blank",
                "not a blank of the question",
            ));
        } else {
            errors.extend(too_long(&field, text, 500));
        }
    }
    finish(Response::FillInBlanks { blanks: a.blanks }, errors)
}

/// `{"text"}`, at most [`MAX_LONG_TEXT`] characters.
fn essay(answer: &Value) -> Result<Response, Vec<FieldError>> {
    let mut errors = Vec::new();
    let a: TextAnswer = shape(answer, r#"{"text": "..."}"#)?;
    errors.extend(too_long("answer.text", &a.text, MAX_LONG_TEXT));
    finish(Response::Essay { text: a.text }, errors)
}

/// `{"text"?, "json"?}`: at least one of them, each within its limit.
fn plugin_answer(answer: &Value) -> Result<Response, Vec<FieldError>> {
    let mut errors = Vec::new();
    let a: PluginAnswer = shape(answer, r#"{"text": "..."} and/or {"json": ...}"#)?;
    if a.text.is_none() && a.json.is_none() {
        errors.push(FieldError::new(
            "answer",
            "empty_answer",
            "give `text`, `json` or both",
        ));
    }
    if let Some(text) = &a.text {
        errors.extend(too_long("answer.text", text, MAX_LONG_TEXT));
    }
    if a.json
        .as_ref()
        .is_some_and(|j| j.to_string().len() > MAX_PLUGIN_JSON)
    {
        errors.push(FieldError::new(
            "answer.json",
            "too_large",
            "at most 64 KiB",
        ));
    }
    finish(
        Response::Plugin {
            text: a.text,
            json: a.json,
        },
        errors,
    )
}

impl Response {
    /// The answer as the JSON a learner sends.
    pub fn to_answer(&self) -> Value {
        match self {
            Self::SingleChoice { option } => json!({ "option": option }),
            Self::MultipleResponse { options } => json!({ "options": options }),
            Self::TrueFalse { value } => json!({ "value": value }),
            Self::ShortAnswer { text } | Self::Essay { text } => json!({ "text": text }),
            Self::Numeric { value } => json!({ "value": value }),
            Self::Ordering { order } => json!({ "order": order }),
            Self::Matching { pairs } => json!({ "pairs": pairs }),
            Self::FillInBlanks { blanks } => json!({ "blanks": blanks }),
            Self::Plugin { text, json } => {
                let mut answer = serde_json::Map::new();
                if let Some(text) = text {
                    answer.insert("text".into(), Value::String(text.clone()));
                }
                if let Some(value) = json {
                    answer.insert("json".into(), value.clone());
                }
                Value::Object(answer)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(ids: &[&str]) -> Vec<QuestionItem> {
        ids.iter()
            .map(|id| QuestionItem {
                id: (*id).into(),
                text: format!("Text {id}"),
            })
            .collect()
    }

    fn codes(result: Result<Response, Vec<FieldError>>) -> Vec<String> {
        result
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.code)
            .collect()
    }

    #[test]
    fn choice_answers_must_name_the_questions_options_once() {
        let spec = QuestionSpec::MultipleResponse {
            options: items(&["a", "b", "c"]),
            correct: vec!["a".into()],
            scoring: Default::default(),
        };
        assert!(
            spec.parse_response(&json!({ "options": ["a", "c"] }))
                .is_ok()
        );
        assert_eq!(
            codes(spec.parse_response(&json!({ "options": ["a", "z"] }))),
            ["unknown_option"]
        );
        assert_eq!(
            codes(spec.parse_response(&json!({ "options": ["a", "a"] }))),
            ["duplicate"]
        );
        assert_eq!(
            codes(spec.parse_response(&json!({ "option": "a" }))),
            ["invalid_answer"]
        );
        assert_eq!(codes(spec.parse_response(&json!("a"))), ["invalid_answer"]);
    }

    #[test]
    fn an_order_is_a_permutation_of_every_item() {
        let spec = QuestionSpec::Ordering {
            items: items(&["a", "b", "c"]),
            scoring: Default::default(),
        };
        assert!(
            spec.parse_response(&json!({ "order": ["c", "a", "b"] }))
                .is_ok()
        );
        for bad in [
            json!(["a", "b"]),
            json!(["a", "a", "b"]),
            json!(["a", "b", "z"]),
            json!(["a", "b", "c", "a"]),
        ] {
            assert_eq!(
                codes(spec.parse_response(&json!({ "order": bad }))),
                ["not_a_permutation"],
                "{bad}"
            );
        }
    }

    #[test]
    fn matching_and_blank_answers_may_be_partial_but_not_unknown() {
        let spec = QuestionSpec::Matching {
            prompts: items(&["p1", "p2"]),
            choices: items(&["c1", "c2", "c3"]),
            pairs: BTreeMap::from([("p1".into(), "c1".into()), ("p2".into(), "c2".into())]),
        };
        assert!(
            spec.parse_response(&json!({ "pairs": { "p1": "c3" } }))
                .is_ok()
        );
        assert_eq!(
            codes(spec.parse_response(&json!({ "pairs": { "px": "c1" } }))),
            ["unknown_prompt"]
        );
        assert_eq!(
            codes(spec.parse_response(&json!({ "pairs": { "p1": "cx" } }))),
            ["unknown_choice"]
        );
    }

    #[test]
    fn text_answers_are_bounded_and_plugin_answers_need_something() {
        let short = QuestionSpec::ShortAnswer {
            accepted: vec!["x".into()],
            case_sensitive: false,
            regex: None,
        };
        assert_eq!(
            codes(short.parse_response(&json!({ "text": "y".repeat(2_001) }))),
            ["too_long"]
        );
        let plugin = QuestionSpec::Plugin {
            plugin: "lab-flag-grader".into(),
            config: json!({}),
        };
        assert_eq!(codes(plugin.parse_response(&json!({}))), ["empty_answer"]);
        assert!(plugin.parse_response(&json!({ "text": "flag{x}" })).is_ok());
        let numeric = QuestionSpec::Numeric {
            answer: 1.0,
            tolerance: 0.0,
            tolerance_mode: Default::default(),
        };
        assert_eq!(
            codes(numeric.parse_response(&json!({ "value": "1" }))),
            ["invalid_answer"]
        );
    }

    #[test]
    fn answers_read_back_in_the_shape_they_were_sent() {
        let spec = QuestionSpec::FillInBlanks {
            text: "{{a}} and {{b}}".into(),
            blanks: vec![],
        };
        let sent = json!({ "blanks": {} });
        assert_eq!(
            spec.parse_response(&sent).map(|r| r.to_answer()).ok(),
            Some(sent)
        );
    }
}
