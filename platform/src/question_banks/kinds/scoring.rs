//! Grading an answer by its question's rules. An answer of another kind, or one naming ids the
//! question no longer has, earns nothing; grading never fails.

use std::collections::HashSet;

use super::AutoGrade;
use super::response::Response;
use super::spec::{MultipleResponseScoring, OrderingScoring, QuestionSpec, ToleranceMode};
use super::text_answer::{matches_accepted, matches_regex};

fn share(right: usize, of: usize) -> f64 {
    if of == 0 {
        0.0
    } else {
        right as f64 / of as f64
    }
}

fn all_or_nothing(right: bool) -> f64 {
    if right { 1.0 } else { 0.0 }
}

impl QuestionSpec {
    /// Grades a read answer (see [`QuestionSpec::parse_response`]).
    pub fn grade(&self, response: &Response) -> AutoGrade {
        let fraction = match (self, response) {
            (Self::SingleChoice { correct, .. }, Response::SingleChoice { option }) => {
                all_or_nothing(option == correct)
            }
            (
                Self::MultipleResponse {
                    options,
                    correct,
                    scoring,
                },
                Response::MultipleResponse { options: selected },
            ) => {
                let correct: HashSet<&String> = correct.iter().collect();
                let selected: HashSet<&String> = selected.iter().collect();
                let hits = selected.intersection(&correct).count();
                let misses = selected.difference(&correct).count();
                match scoring {
                    MultipleResponseScoring::AllOrNothing => all_or_nothing(selected == correct),
                    MultipleResponseScoring::RightMinusWrong => {
                        (share(hits, correct.len()) - share(misses, correct.len())).max(0.0)
                    }
                    MultipleResponseScoring::PerOption => {
                        let classified = options
                            .iter()
                            .filter(|o| correct.contains(&o.id) == selected.contains(&o.id))
                            .count();
                        share(classified, options.len())
                    }
                }
            }
            (Self::TrueFalse { correct }, Response::TrueFalse { value }) => {
                all_or_nothing(value == correct)
            }
            (
                Self::ShortAnswer {
                    accepted,
                    case_sensitive,
                    regex,
                },
                Response::ShortAnswer { text },
            ) => all_or_nothing(
                matches_accepted(text, accepted, *case_sensitive)
                    || regex
                        .as_deref()
                        .is_some_and(|r| matches_regex(text, r, *case_sensitive)),
            ),
            (
                Self::Numeric {
                    answer,
                    tolerance,
                    tolerance_mode,
                },
                Response::Numeric { value },
            ) => {
                let allowed = match tolerance_mode {
                    ToleranceMode::Absolute => *tolerance,
                    ToleranceMode::Relative => tolerance * answer.abs(),
                };
                // A hair of slack so that 9.76 counts for 9.81 ± 0.05 despite binary floats.
                all_or_nothing(
                    value.is_finite()
                        && (value - answer).abs() <= allowed + allowed.max(answer.abs()) * 1e-12,
                )
            }
            (Self::Ordering { items, scoring }, Response::Ordering { order }) => {
                let placed = items
                    .iter()
                    .zip(order)
                    .filter(|(item, given)| &item.id == *given)
                    .count();
                match scoring {
                    OrderingScoring::AllOrNothing => {
                        all_or_nothing(order.len() == items.len() && placed == items.len())
                    }
                    OrderingScoring::PerPosition => share(placed, items.len()),
                }
            }
            (Self::Matching { prompts, pairs, .. }, Response::Matching { pairs: given }) => {
                let right = prompts
                    .iter()
                    .filter(|p| {
                        pairs
                            .get(&p.id)
                            .is_some_and(|c| given.get(&p.id) == Some(c))
                    })
                    .count();
                share(right, prompts.len())
            }
            (Self::FillInBlanks { blanks, .. }, Response::FillInBlanks { blanks: given }) => {
                let right = blanks
                    .iter()
                    .filter(|b| {
                        given
                            .get(&b.id)
                            .is_some_and(|t| matches_accepted(t, &b.accepted, b.case_sensitive))
                    })
                    .count();
                share(right, blanks.len())
            }
            (Self::Essay { .. }, Response::Essay { .. }) => return AutoGrade::Manual,
            (Self::Plugin { plugin, config }, Response::Plugin { text, json }) => {
                return AutoGrade::Plugin {
                    plugin: plugin.clone(),
                    config: config.clone(),
                    text: text.clone(),
                    json: json.clone(),
                };
            }
            _ => 0.0,
        };
        AutoGrade::Scored {
            fraction: fraction.clamp(0.0, 1.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::question_banks::kinds::spec::{Blank, QuestionItem};

    fn items(ids: &[&str]) -> Vec<QuestionItem> {
        ids.iter()
            .map(|id| QuestionItem {
                id: (*id).into(),
                text: (*id).into(),
            })
            .collect()
    }

    fn score(spec: &QuestionSpec, response: Response) -> f64 {
        match spec.grade(&response) {
            AutoGrade::Scored { fraction } => fraction,
            other => panic!("not scored: {other:?}"),
        }
    }

    fn strings(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn multiple_response_rules_score_the_same_selection_differently() {
        let spec = |scoring| QuestionSpec::MultipleResponse {
            options: items(&["a", "b", "c", "d"]),
            correct: strings(&["a", "c"]),
            scoring,
        };
        let pick = |ids: &[&str]| Response::MultipleResponse {
            options: strings(ids),
        };
        let all = spec(MultipleResponseScoring::AllOrNothing);
        let rmw = spec(MultipleResponseScoring::RightMinusWrong);
        let per = spec(MultipleResponseScoring::PerOption);
        assert_eq!(score(&all, pick(&["a", "b"])), 0.0);
        assert_eq!(score(&rmw, pick(&["a", "b"])), 0.0);
        assert_eq!(score(&per, pick(&["a", "b"])), 0.5);
        assert_eq!(score(&rmw, pick(&["a"])), 0.5);
        assert_eq!(score(&per, pick(&["a"])), 0.75);
        assert_eq!(score(&all, pick(&["c", "a"])), 1.0);
        assert_eq!(score(&rmw, pick(&["a", "b", "c", "d"])), 0.0);
    }

    #[test]
    fn short_answers_are_normalised_and_regexes_match_whole_answers() {
        let spec = QuestionSpec::ShortAnswer {
            accepted: strings(&["Paris"]),
            case_sensitive: false,
            regex: None,
        };
        assert_eq!(
            score(
                &spec,
                Response::ShortAnswer {
                    text: "  paris ".into()
                }
            ),
            1.0
        );
        assert_eq!(
            score(
                &spec,
                Response::ShortAnswer {
                    text: "Paris, France".into()
                }
            ),
            0.0
        );
        let strict = QuestionSpec::ShortAnswer {
            accepted: strings(&["Paris"]),
            case_sensitive: true,
            regex: None,
        };
        assert_eq!(
            score(
                &strict,
                Response::ShortAnswer {
                    text: "paris".into()
                }
            ),
            0.0
        );
        let re = QuestionSpec::ShortAnswer {
            accepted: vec![],
            case_sensitive: false,
            regex: Some("colou?r".into()),
        };
        assert_eq!(
            score(
                &re,
                Response::ShortAnswer {
                    text: "COLOR".into()
                }
            ),
            1.0
        );
        assert_eq!(
            score(
                &re,
                Response::ShortAnswer {
                    text: "colourful".into()
                }
            ),
            0.0
        );
    }

    #[test]
    fn numeric_tolerances_include_their_edges() {
        let abs = QuestionSpec::Numeric {
            answer: 9.81,
            tolerance: 0.05,
            tolerance_mode: ToleranceMode::Absolute,
        };
        assert_eq!(score(&abs, Response::Numeric { value: 9.76 }), 1.0);
        assert_eq!(score(&abs, Response::Numeric { value: 9.86 }), 1.0);
        assert_eq!(score(&abs, Response::Numeric { value: 9.87 }), 0.0);
        let rel = QuestionSpec::Numeric {
            answer: 200.0,
            tolerance: 0.01,
            tolerance_mode: ToleranceMode::Relative,
        };
        assert_eq!(score(&rel, Response::Numeric { value: 198.0 }), 1.0);
        assert_eq!(score(&rel, Response::Numeric { value: 197.9 }), 0.0);
        assert_eq!(score(&rel, Response::Numeric { value: f64::NAN }), 0.0);
    }

    #[test]
    fn orderings_matchings_and_blanks_give_partial_credit() {
        let order = QuestionSpec::Ordering {
            items: items(&["a", "b", "c", "d"]),
            scoring: OrderingScoring::PerPosition,
        };
        assert_eq!(
            score(
                &order,
                Response::Ordering {
                    order: strings(&["a", "b", "d", "c"])
                }
            ),
            0.5
        );
        let strict = QuestionSpec::Ordering {
            items: items(&["a", "b"]),
            scoring: OrderingScoring::AllOrNothing,
        };
        assert_eq!(
            score(
                &strict,
                Response::Ordering {
                    order: strings(&["b", "a"])
                }
            ),
            0.0
        );
        let matching = QuestionSpec::Matching {
            prompts: items(&["p1", "p2"]),
            choices: items(&["c1", "c2", "c3"]),
            pairs: BTreeMap::from([("p1".into(), "c1".into()), ("p2".into(), "c2".into())]),
        };
        let given = BTreeMap::from([
            ("p1".to_owned(), "c1".to_owned()),
            ("p2".to_owned(), "c3".to_owned()),
        ]);
        assert_eq!(score(&matching, Response::Matching { pairs: given }), 0.5);
        let blanks = QuestionSpec::FillInBlanks {
            text: "{{a}} {{b}}".into(),
            blanks: vec![
                Blank {
                    id: "a".into(),
                    accepted: strings(&["Oslo"]),
                    case_sensitive: false,
                },
                Blank {
                    id: "b".into(),
                    accepted: strings(&["Bergen"]),
                    case_sensitive: true,
                },
            ],
        };
        let given = BTreeMap::from([
            ("a".to_owned(), " oslo ".to_owned()),
            ("b".to_owned(), "bergen".to_owned()),
        ]);
        assert_eq!(
            score(&blanks, Response::FillInBlanks { blanks: given }),
            0.5
        );
    }

    #[test]
    fn stale_or_mismatched_answers_earn_nothing_without_panicking() {
        let spec = QuestionSpec::SingleChoice {
            options: items(&["a", "b"]),
            correct: "a".into(),
        };
        assert_eq!(
            score(
                &spec,
                Response::SingleChoice {
                    option: "gone".into()
                }
            ),
            0.0
        );
        assert_eq!(score(&spec, Response::TrueFalse { value: true }), 0.0);
        let order = QuestionSpec::Ordering {
            items: items(&["a", "b", "c"]),
            scoring: OrderingScoring::AllOrNothing,
        };
        assert_eq!(
            score(
                &order,
                Response::Ordering {
                    order: strings(&["a"])
                }
            ),
            0.0
        );
        let essay = QuestionSpec::Essay {
            min_words: None,
            max_words: None,
        };
        assert_eq!(
            essay.grade(&Response::Essay { text: "x".into() }),
            AutoGrade::Manual
        );
    }
}
