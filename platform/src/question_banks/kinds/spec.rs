//! The authoring definitions of the question kinds, answer key included.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::QuestionKind;
use super::response::Response;

/// An option, an ordering item, a matching prompt or a matching choice: an id and its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuestionItem {
    /// 1 to 32 characters of `A-Z`, `a-z`, `0-9`, `_` and `-`, unique in its list. Learners see
    /// it, so it must not give the answer away.
    pub id: String,
    /// What the learner reads (Markdown), 1 to 2,000 characters.
    pub text: String,
}

/// How a multiple-response question turns a selection into a score.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MultipleResponseScoring {
    /// Full credit only when exactly the correct options are selected, else nothing.
    AllOrNothing,
    /// (correct options selected − incorrect options selected) / number of correct options,
    /// never below 0.
    #[default]
    RightMinusWrong,
    /// The share of options classified right: selected when correct, left alone when not.
    PerOption,
}

/// How an ordering question turns an order into a score.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderingScoring {
    /// Full credit only for the exact order.
    AllOrNothing,
    /// The share of items placed at their correct position.
    #[default]
    PerPosition,
}

/// What a numeric question's tolerance is measured in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ToleranceMode {
    /// The tolerance is in the answer's unit: 9.81 ± 0.05 accepts 9.76 to 9.86.
    #[default]
    Absolute,
    /// The tolerance is a fraction of |answer|: 0.01 accepts answers within 1 %.
    Relative,
}

/// One gap of a fill-in-the-blanks text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Blank {
    /// The placeholder's name: `{{id}}` in the text. Same character rules as an option id.
    pub id: String,
    /// 1 to 20 accepted answers of 1 to 500 characters each. Compared after trimming and
    /// collapsing runs of whitespace.
    pub accepted: Vec<String>,
    /// Whether letter case must match; by default it does not.
    #[serde(default)]
    pub case_sensitive: bool,
}

/// A question's kind-specific definition, answer key included. Tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum QuestionSpec {
    /// Pick exactly one option.
    SingleChoice {
        /// 2 to 20 options.
        options: Vec<QuestionItem>,
        /// The id of the correct option.
        correct: String,
    },
    /// Pick any number of options.
    MultipleResponse {
        /// 2 to 20 options.
        options: Vec<QuestionItem>,
        /// The ids of the correct options, at least one.
        correct: Vec<String>,
        /// Default `right_minus_wrong`.
        #[serde(default)]
        scoring: MultipleResponseScoring,
    },
    /// True or false.
    TrueFalse {
        /// Whether the statement is true.
        correct: bool,
    },
    /// A short typed answer, compared with accepted answers and/or a regular expression.
    ShortAnswer {
        /// Up to 50 accepted answers of 1 to 500 characters each.
        #[serde(default)]
        accepted: Vec<String>,
        /// Whether letter case must match; by default it does not.
        #[serde(default)]
        case_sensitive: bool,
        /// A regular expression (Rust `regex` syntax, at most 500 characters) that the whole
        /// answer must match. At least one of `accepted` and `regex` is required.
        #[serde(default)]
        regex: Option<String>,
    },
    /// A number, right within a tolerance.
    Numeric {
        /// The correct value (finite).
        answer: f64,
        /// How far off an answer may be and still count, at least 0 (default 0: exact).
        #[serde(default)]
        tolerance: f64,
        /// Default `absolute`.
        #[serde(default)]
        tolerance_mode: ToleranceMode,
    },
    /// Put items in order.
    Ordering {
        /// 2 to 20 items, in the correct order (learners always see them shuffled).
        items: Vec<QuestionItem>,
        /// Default `per_position`.
        #[serde(default)]
        scoring: OrderingScoring,
    },
    /// Match each prompt with a choice. Scored by the share of prompts matched right.
    Matching {
        /// 2 to 20 prompts.
        prompts: Vec<QuestionItem>,
        /// At least as many choices as prompts (the extras are distractors), at most 30.
        /// Learners always see them shuffled.
        choices: Vec<QuestionItem>,
        /// Prompt id → the id of its choice: every prompt exactly once, each choice at most
        /// once.
        pairs: BTreeMap<String, String>,
    },
    /// A text with gaps. Scored by the share of gaps filled right.
    FillInBlanks {
        /// Markdown of at most 5,000 characters with one `{{id}}` placeholder per blank.
        text: String,
        /// 1 to 20 blanks, each appearing exactly once in the text.
        blanks: Vec<Blank>,
    },
    /// A written answer graded by a person.
    Essay {
        /// The suggested minimum length in words (1 to 20,000), shown and reported, not
        /// enforced.
        #[serde(default)]
        min_words: Option<u32>,
        /// The suggested maximum length in words (1 to 20,000, at least `min_words`).
        #[serde(default)]
        max_words: Option<u32>,
    },
    /// Graded by an installed grader plugin.
    Plugin {
        /// The grader plugin's name: 1 to 64 characters of `a-z`, `0-9` and `-`, starting with
        /// a letter.
        plugin: String,
        /// The plugin's configuration for this question: a JSON object checked against the
        /// plugin's schema. Never shown to learners.
        #[schema(value_type = Object)]
        config: Value,
    },
}

impl QuestionSpec {
    pub fn kind(&self) -> QuestionKind {
        match self {
            Self::SingleChoice { .. } => QuestionKind::SingleChoice,
            Self::MultipleResponse { .. } => QuestionKind::MultipleResponse,
            Self::TrueFalse { .. } => QuestionKind::TrueFalse,
            Self::ShortAnswer { .. } => QuestionKind::ShortAnswer,
            Self::Numeric { .. } => QuestionKind::Numeric,
            Self::Ordering { .. } => QuestionKind::Ordering,
            Self::Matching { .. } => QuestionKind::Matching,
            Self::FillInBlanks { .. } => QuestionKind::FillInBlanks,
            Self::Essay { .. } => QuestionKind::Essay,
            Self::Plugin { .. } => QuestionKind::Plugin,
        }
    }

    /// The correct answer in the shape of a learner's answer (see [`Response::to_answer`]), for
    /// quizzes that show correct answers; `None` for essay and plugin questions. A short answer
    /// gives its first accepted answer (`None` when only a regex is set).
    pub fn answer_key(&self) -> Option<Value> {
        let response = match self {
            Self::SingleChoice { correct, .. } => Response::SingleChoice {
                option: correct.clone(),
            },
            Self::MultipleResponse { correct, .. } => Response::MultipleResponse {
                options: correct.clone(),
            },
            Self::TrueFalse { correct } => Response::TrueFalse { value: *correct },
            Self::ShortAnswer { accepted, .. } => Response::ShortAnswer {
                text: accepted.first()?.clone(),
            },
            Self::Numeric { answer, .. } => Response::Numeric { value: *answer },
            Self::Ordering { items, .. } => Response::Ordering {
                order: items.iter().map(|i| i.id.clone()).collect(),
            },
            Self::Matching { pairs, .. } => Response::Matching {
                pairs: pairs.clone(),
            },
            Self::FillInBlanks { blanks, .. } => Response::FillInBlanks {
                blanks: blanks
                    .iter()
                    .filter_map(|b| Some((b.id.clone(), b.accepted.first()?.clone())))
                    .collect(),
            },
            Self::Essay { .. } | Self::Plugin { .. } => return None,
        };
        Some(response.to_answer())
    }
}
