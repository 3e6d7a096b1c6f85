//! What a learner answers, from what the attempt shows of a question: always an answer the
//! question accepts, right or wrong by chance.

use rand::Rng;
use rand::seq::SliceRandom;
use serde_json::{Map, Value, json};

use crate::authoring::{GUESSED_NUMBERS, GUESSED_WORDS};

/// An answer to a question shown as `presentation`; an error names what could not be answered
/// (a kind this benchmark never asks, or a presentation without its choices).
pub fn choose(presentation: &Value, rng: &mut impl Rng) -> Result<Value, String> {
    let ids = |field: &str| -> Result<Vec<String>, String> {
        let ids: Vec<String> = presentation[field]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| item["id"].as_str().map(str::to_owned))
            .collect();
        if ids.is_empty() {
            Err(format!("presentation without {field}"))
        } else {
            Ok(ids)
        }
    };
    let word = |rng: &mut dyn rand::RngCore| {
        GUESSED_WORDS
            .choose(rng)
            .copied()
            .unwrap_or("list")
            .to_owned()
    };
    match presentation["type"].as_str() {
        Some("single_choice") => {
            let options = ids("options")?;
            Ok(json!({ "option": options.choose(rng) }))
        }
        Some("multiple_response") => {
            let options = ids("options")?;
            let count = rng.gen_range(1..=options.len().min(3));
            let picked: Vec<&String> = options.choose_multiple(rng, count).collect();
            Ok(json!({ "options": picked }))
        }
        Some("true_false") => Ok(json!({ "value": rng.gen_bool(0.5) })),
        Some("short_answer") => Ok(json!({ "text": word(rng) })),
        Some("numeric") => {
            Ok(json!({ "value": GUESSED_NUMBERS.choose(rng).copied().unwrap_or(0.0) }))
        }
        Some("ordering") => {
            let mut items = ids("items")?;
            // Most learners keep part of the order they were shown.
            if rng.gen_bool(0.5) {
                items.shuffle(rng);
            } else {
                let last = items.len() - 1;
                items.swap(0, last);
            }
            Ok(json!({ "order": items }))
        }
        Some("matching") => {
            let prompts = ids("prompts")?;
            let mut choices = ids("choices")?;
            choices.shuffle(rng);
            let pairs: Map<String, Value> = prompts
                .into_iter()
                .zip(choices)
                .map(|(p, c)| (p, Value::String(c)))
                .collect();
            Ok(json!({ "pairs": pairs }))
        }
        Some("fill_in_blanks") => {
            let blanks: Map<String, Value> = presentation["blank_ids"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(|id| (id.to_owned(), Value::String(word(rng))))
                .collect();
            if blanks.is_empty() {
                return Err("presentation without blank_ids".into());
            }
            Ok(json!({ "blanks": blanks }))
        }
        Some(other) => Err(format!(
            "a {other} question (the quiz asks objective kinds only)"
        )),
        None => Err("presentation without a type".into()),
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn answers_name_only_what_was_shown() {
        let mut rng = StdRng::seed_from_u64(1);
        let shown = json!({ "type": "matching",
            "prompts": [{ "id": "p1", "text": "a" }, { "id": "p2", "text": "b" }],
            "choices": [{ "id": "c1", "text": "x" }, { "id": "c2", "text": "y" }, { "id": "c3", "text": "z" }] });
        let answer = choose(&shown, &mut rng).unwrap_or_default();
        let pairs = answer["pairs"].as_object().cloned().unwrap_or_default();
        assert_eq!(pairs.len(), 2);
        assert!(
            pairs
                .values()
                .all(|c| ["c1", "c2", "c3"].contains(&c.as_str().unwrap_or("")))
        );
        let order = choose(
            &json!({ "type": "ordering", "items": [{ "id": "a" }, { "id": "b" }, { "id": "c" }] }),
            &mut rng,
        )
        .unwrap_or_default();
        let mut sorted: Vec<&str> = order["order"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        sorted.sort_unstable();
        assert_eq!(sorted, ["a", "b", "c"]);
        assert!(choose(&json!({ "type": "essay" }), &mut rng).is_err());
    }
}
