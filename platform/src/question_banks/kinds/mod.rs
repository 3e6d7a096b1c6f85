//! The question kinds: their authoring definitions with answer keys ([`QuestionSpec`]), what a
//! learner is shown ([`Presentation`], never the key), how an answer is read ([`Response`]) and
//! how it is graded ([`AutoGrade`]). Pure logic, no I/O.

mod presentation;
mod response;
mod scoring;
mod spec;
mod text_answer;
mod validate;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

pub use presentation::Presentation;
pub use response::Response;
pub use spec::{
    Blank, MultipleResponseScoring, OrderingScoring, QuestionItem, QuestionSpec, ToleranceMode,
};

/// A question's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QuestionKind {
    SingleChoice,
    MultipleResponse,
    TrueFalse,
    ShortAnswer,
    Numeric,
    Ordering,
    Matching,
    FillInBlanks,
    Essay,
    Plugin,
}

impl QuestionKind {
    pub const ALL: [Self; 10] = [
        Self::SingleChoice,
        Self::MultipleResponse,
        Self::TrueFalse,
        Self::ShortAnswer,
        Self::Numeric,
        Self::Ordering,
        Self::Matching,
        Self::FillInBlanks,
        Self::Essay,
        Self::Plugin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SingleChoice => "single_choice",
            Self::MultipleResponse => "multiple_response",
            Self::TrueFalse => "true_false",
            Self::ShortAnswer => "short_answer",
            Self::Numeric => "numeric",
            Self::Ordering => "ordering",
            Self::Matching => "matching",
            Self::FillInBlanks => "fill_in_blanks",
            Self::Essay => "essay",
            Self::Plugin => "plugin",
        }
    }

    pub fn from_db(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// How an answer is graded without a person.
#[derive(Debug, Clone, PartialEq)]
pub enum AutoGrade {
    /// By the question's rules: the share of the points earned, 0.0 to 1.0.
    Scored { fraction: f64 },
    /// By a person (essays).
    Manual,
    /// By the named grader plugin with the question's configuration.
    Plugin {
        plugin: String,
        config: Value,
        text: Option<String>,
        json: Option<Value>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_their_database_names() {
        for kind in QuestionKind::ALL {
            assert_eq!(QuestionKind::from_db(kind.as_str()), Some(kind));
            assert_eq!(
                serde_json::to_value(kind).ok(),
                Some(Value::String(kind.as_str().to_owned()))
            );
        }
        assert_eq!(QuestionKind::from_db("nope"), None);
    }
}
