//! What a learner is shown of a question: its kind and the choices to answer with, in an order
//! frozen for the attempt, and never any part of the answer key.

use rand::Rng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::spec::{QuestionItem, QuestionSpec};

/// A question as the learner sees it, tagged by `type`. Options, items and choices carry the ids
/// an answer names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Presentation {
    /// Answer `{"option": id}`.
    SingleChoice { options: Vec<QuestionItem> },
    /// Answer `{"options": [id, ...]}`.
    MultipleResponse { options: Vec<QuestionItem> },
    /// Answer `{"value": true | false}`.
    TrueFalse,
    /// Answer `{"text": "..."}`.
    ShortAnswer,
    /// Answer `{"value": number}`.
    Numeric,
    /// Answer `{"order": [id, ...]}` with every item once.
    Ordering { items: Vec<QuestionItem> },
    /// Answer `{"pairs": {prompt_id: choice_id}}`.
    Matching {
        prompts: Vec<QuestionItem>,
        choices: Vec<QuestionItem>,
    },
    /// Answer `{"blanks": {blank_id: "..."}}`; `text` holds a `{{blank_id}}` placeholder per blank.
    FillInBlanks {
        text: String,
        blank_ids: Vec<String>,
    },
    /// Answer `{"text": "..."}`; the word bounds are guidance.
    Essay {
        min_words: Option<u32>,
        max_words: Option<u32>,
    },
    /// Answer `{"text": "..."}` and/or `{"json": ...}` as the prompt asks.
    Plugin,
}

fn shuffled(items: &[QuestionItem], shuffle: bool, rng: &mut impl Rng) -> Vec<QuestionItem> {
    let mut items = items.to_vec();
    if shuffle {
        items.shuffle(rng);
    }
    items
}

/// The items in a random order that is not the given one (the given order is the answer), when
/// there are two or more.
fn never_in_order(items: &[QuestionItem], rng: &mut impl Rng) -> Vec<QuestionItem> {
    let mut out = items.to_vec();
    if out.len() < 2 {
        return out;
    }
    loop {
        out.shuffle(rng);
        if out.iter().zip(items).any(|(a, b)| a.id != b.id) {
            return out;
        }
    }
}

impl QuestionSpec {
    /// What the learner is shown. Ordering items and matching choices are always shuffled
    /// (their given order is the answer); options and matching prompts when `shuffle_options`.
    pub fn present(&self, shuffle_options: bool, rng: &mut impl Rng) -> Presentation {
        match self {
            Self::SingleChoice { options, .. } => Presentation::SingleChoice {
                options: shuffled(options, shuffle_options, rng),
            },
            Self::MultipleResponse { options, .. } => Presentation::MultipleResponse {
                options: shuffled(options, shuffle_options, rng),
            },
            Self::TrueFalse { .. } => Presentation::TrueFalse,
            Self::ShortAnswer { .. } => Presentation::ShortAnswer,
            Self::Numeric { .. } => Presentation::Numeric,
            Self::Ordering { items, .. } => Presentation::Ordering {
                items: never_in_order(items, rng),
            },
            Self::Matching {
                prompts, choices, ..
            } => Presentation::Matching {
                prompts: shuffled(prompts, shuffle_options, rng),
                choices: shuffled(choices, true, rng),
            },
            Self::FillInBlanks { text, blanks } => Presentation::FillInBlanks {
                text: text.clone(),
                blank_ids: blanks.iter().map(|b| b.id.clone()).collect(),
            },
            Self::Essay {
                min_words,
                max_words,
            } => Presentation::Essay {
                min_words: *min_words,
                max_words: *max_words,
            },
            Self::Plugin { .. } => Presentation::Plugin,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use serde_json::json;

    use super::*;
    use crate::question_banks::kinds::spec::{
        Blank, MultipleResponseScoring, OrderingScoring, ToleranceMode,
    };

    fn items(ids: &[&str]) -> Vec<QuestionItem> {
        ids.iter()
            .map(|id| QuestionItem {
                id: (*id).into(),
                text: format!("Text of {id}"),
            })
            .collect()
    }

    #[test]
    fn no_presentation_carries_any_part_of_the_answer_key() {
        let secret = "zz-secret-key-9";
        let specs = [
            QuestionSpec::MultipleResponse {
                options: items(&["a", "b"]),
                correct: vec!["b".into()],
                scoring: MultipleResponseScoring::AllOrNothing,
            },
            QuestionSpec::ShortAnswer {
                accepted: vec![secret.into()],
                case_sensitive: false,
                regex: Some(format!("{secret}.*")),
            },
            QuestionSpec::Numeric {
                answer: 123_456.789,
                tolerance: 0.5,
                tolerance_mode: ToleranceMode::Relative,
            },
            QuestionSpec::Matching {
                prompts: items(&["p1", "p2"]),
                choices: items(&["c1", "c2"]),
                pairs: BTreeMap::from([("p1".into(), "c1".into()), ("p2".into(), "c2".into())]),
            },
            QuestionSpec::FillInBlanks {
                text: "The {{gap}} is here".into(),
                blanks: vec![Blank {
                    id: "gap".into(),
                    accepted: vec![secret.into()],
                    case_sensitive: false,
                }],
            },
            QuestionSpec::Plugin {
                plugin: "secret-grader-zz".into(),
                config: json!({ "flag_hash": secret }),
            },
        ];
        let mut rng = StdRng::seed_from_u64(7);
        for spec in &specs {
            let shown = serde_json::to_string(&spec.present(true, &mut rng)).unwrap_or_default();
            for leak in [
                secret,
                "correct",
                "pairs",
                "accepted",
                "regex",
                "123456",
                "secret-grader",
                "flag_hash",
                "tolerance",
            ] {
                assert!(!shown.contains(leak), "{leak} in {shown}");
            }
        }
    }

    #[test]
    fn ordering_items_are_never_shown_in_the_answer_order() {
        let spec = QuestionSpec::Ordering {
            items: items(&["a", "b", "c", "d", "e"]),
            scoring: OrderingScoring::PerPosition,
        };
        for seed in 0..50 {
            let mut rng = StdRng::seed_from_u64(seed);
            let Presentation::Ordering { items: shown } = spec.present(false, &mut rng) else {
                panic!("not an ordering");
            };
            let ids: Vec<&str> = shown.iter().map(|i| i.id.as_str()).collect();
            assert_ne!(ids, ["a", "b", "c", "d", "e"], "seed {seed}");
            let mut sorted = ids.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, ["a", "b", "c", "d", "e"]);
        }
    }

    #[test]
    fn options_keep_their_order_unless_shuffled_and_presentations_round_trip() {
        let spec = QuestionSpec::SingleChoice {
            options: items(&["a", "b", "c", "d", "e", "f"]),
            correct: "a".into(),
        };
        let mut rng = StdRng::seed_from_u64(3);
        let kept = spec.present(false, &mut rng);
        assert_eq!(
            kept,
            Presentation::SingleChoice {
                options: items(&["a", "b", "c", "d", "e", "f"])
            }
        );
        let orders: std::collections::HashSet<String> = (0..10)
            .map(|_| serde_json::to_string(&spec.present(true, &mut rng)).unwrap_or_default())
            .collect();
        assert!(orders.len() > 1, "shuffling changes the order");
        let stored = serde_json::to_value(&kept).unwrap_or_default();
        assert_eq!(
            serde_json::from_value::<Presentation>(stored).ok(),
            Some(kept)
        );
    }
}
