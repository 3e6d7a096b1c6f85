//! Quizzes and attempts as the API shows them, and the settings authors send.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::courses::{CourseId, ItemId};
use crate::error::FieldError;
use crate::question_banks::kinds::Presentation;
use crate::question_banks::{BankId, CategoryId, QuestionId};
use crate::users::UserId;

entity_id!(
    /// A quiz attempt's identifier (UUIDv7).
    AttemptId
);

/// Which of a learner's graded attempts makes their quiz score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttemptGrading {
    #[default]
    Highest,
    Latest,
    Average,
}

/// When a learner may see the correct answers of a submitted attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShowCorrectAnswers {
    Never,
    /// Once the attempt is submitted.
    #[default]
    AfterSubmission,
    /// Once the quiz's availability window has closed (needs `available_until`).
    AfterWindow,
    /// Once the learner has passed the quiz.
    AfterPassing,
}

text_enum!(AttemptGrading { Highest => "highest", Latest => "latest", Average => "average" });
text_enum!(ShowCorrectAnswers {
    Never => "never",
    AfterSubmission => "after_submission",
    AfterWindow => "after_window",
    AfterPassing => "after_passing",
});

/// Where an attempt is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttemptStatus {
    /// Answering; answers are saved until the deadline.
    #[default]
    InProgress,
    /// Submitted; some answers wait for a person (essays) or a grader plugin.
    Submitted,
    /// Every answer is graded; the score is final.
    Graded,
}

text_enum!(AttemptStatus {
    InProgress => "in_progress",
    Submitted => "submitted",
    Graded => "graded",
});

/// How an answer was, or will be, graded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Grading {
    /// Not graded yet.
    #[default]
    Pending,
    /// By the question's rules or its grader plugin.
    Auto,
    /// Waiting for a person: essays, and answers a grader plugin could not grade.
    Review,
    /// By a person.
    Manual,
}

text_enum!(Grading { Pending => "pending", Auto => "auto", Review => "review", Manual => "manual" });

/// One entry of a quiz's question list as authors send it: a question of a bank (asked at its
/// current version), or `count` questions drawn at random from a bank or one of its categories.
/// Banks must be the course's own or shared ones.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlotInput {
    pub question_id: Option<QuestionId>,
    pub bank_id: Option<BankId>,
    pub category_id: Option<CategoryId>,
    /// How many to draw, 1 to 100 (with `bank_id`).
    #[schema(minimum = 1, maximum = 100)]
    pub count: Option<i32>,
}

/// One entry of a quiz's question list, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum Slot {
    /// This question, at its current version when an attempt starts.
    Question { question_id: QuestionId },
    /// `count` questions drawn at random for each attempt (never one asked elsewhere in it).
    Draw {
        bank_id: BankId,
        category_id: Option<CategoryId>,
        count: i32,
    },
}

impl SlotInput {
    pub fn parse(&self, at: usize) -> Result<Slot, FieldError> {
        let field = format!("questions[{at}]");
        match (self.question_id, self.bank_id, self.category_id, self.count) {
            (Some(question_id), None, None, None) => Ok(Slot::Question { question_id }),
            (None, Some(bank_id), category_id, Some(count)) if (1..=100).contains(&count) => {
                Ok(Slot::Draw {
                    bank_id,
                    category_id,
                    count,
                })
            }
            (None, Some(_), _, Some(_)) => Err(FieldError::new(
                format!("{field}.count"),
                "out_of_range",
                "draw 1 to 100 questions",
            )),
            _ => Err(FieldError::new(
                field,
                "invalid_slot",
                "either `question_id`, or `bank_id` with `count` (and optionally `category_id`)",
            )),
        }
    }
}

/// A quiz's settings as authors send them (every field optional: absent means the default).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuizInput {
    /// 60 to 604,800 seconds; none: untimed.
    #[schema(minimum = 60, maximum = 604800)]
    pub time_limit_seconds: Option<i32>,
    /// 1 to 100; none: unlimited.
    #[schema(minimum = 1, maximum = 100)]
    pub max_attempts: Option<i32>,
    /// The score (per cent) that passes, 0 to 100 (default 50).
    #[schema(minimum = 0, maximum = 100)]
    pub passing_percent: Option<f64>,
    #[serde(default)]
    pub attempt_grading: AttemptGrading,
    /// Ask the questions in a random order in each attempt.
    #[serde(default)]
    pub shuffle_questions: bool,
    /// Show choice options (and matching prompts) in a random order in each attempt.
    #[serde(default)]
    pub shuffle_options: bool,
    pub available_from: Option<DateTime<Utc>>,
    pub available_until: Option<DateTime<Utc>>,
    #[serde(default)]
    pub show_correct_answers: ShowCorrectAnswers,
    /// The questions in order, at most 200 entries.
    #[serde(default)]
    #[schema(max_items = 200)]
    pub questions: Vec<SlotInput>,
}

/// A quiz's settings, checked.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QuizSettings {
    pub time_limit_seconds: Option<i32>,
    pub max_attempts: Option<i32>,
    pub passing_percent: f64,
    pub attempt_grading: AttemptGrading,
    pub shuffle_questions: bool,
    pub shuffle_options: bool,
    pub available_from: Option<DateTime<Utc>>,
    pub available_until: Option<DateTime<Utc>>,
    pub show_correct_answers: ShowCorrectAnswers,
}

/// A quiz: the settings of a course item of kind `quiz`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Quiz {
    pub item_id: ItemId,
    pub course_id: CourseId,
    pub title: String,
    #[serde(flatten)]
    pub settings: QuizSettings,
    /// The question list (course staff only; `null` for learners).
    pub questions: Option<Vec<Slot>>,
    /// How many questions an attempt asks (draws from small banks may give fewer).
    pub question_count: i64,
    pub updated_at: Option<DateTime<Utc>>,
}

/// A learner's result on one question of a submitted attempt.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QuestionResult {
    pub grading: Grading,
    /// Points awarded; `null` until graded.
    pub awarded: Option<f64>,
    /// A grader plugin's per-criterion feedback or the grader's comment.
    #[schema(value_type = Option<Object>)]
    pub feedback: Option<Value>,
    /// Why the answer waits for a person (e.g. the grader plugin failed).
    pub review_reason: Option<String>,
    /// The correct answer, in the shape of an answer, when the quiz shows correct answers now
    /// (never for essays and plugin questions).
    #[schema(value_type = Option<Object>)]
    pub correct_answer: Option<Value>,
}

/// One question of an attempt as the learner sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttemptQuestion {
    pub position: i32,
    pub points: f64,
    /// Markdown.
    pub prompt: String,
    /// What to show: the kind and its options in this attempt's order; never the answer key.
    pub presentation: Presentation,
    /// The saved answer.
    #[schema(value_type = Option<Object>)]
    pub answer: Option<Value>,
    pub answered_at: Option<DateTime<Utc>>,
    /// After submission only.
    pub result: Option<QuestionResult>,
}

/// An attempt without its questions.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttemptSummary {
    pub id: AttemptId,
    pub item_id: ItemId,
    pub course_id: CourseId,
    pub user_id: UserId,
    pub number: i32,
    pub status: AttemptStatus,
    pub started_at: DateTime<Utc>,
    /// Answers are accepted until then; `null` when the quiz is untimed and has no end.
    pub deadline_at: Option<DateTime<Utc>>,
    pub submitted_at: Option<DateTime<Utc>>,
    /// Submitted by the server at the deadline.
    pub auto_submitted: bool,
    pub max_score: f64,
    /// Once graded.
    pub score: Option<f64>,
    pub percent: Option<f64>,
    pub passed: Option<bool>,
}

/// An attempt with its questions, answers and (after submission) results.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Attempt {
    #[serde(flatten)]
    pub summary: AttemptSummary,
    /// Seconds until the deadline while in progress.
    pub seconds_left: Option<i64>,
    pub questions: Vec<AttemptQuestion>,
}

/// A learner's attempts at a quiz and where they stand.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MyAttempts {
    pub quiz: Quiz,
    pub attempts: Vec<AttemptSummary>,
    /// `null` when unlimited.
    pub attempts_left: Option<i32>,
    /// The quiz score by the quiz's attempt grading, over graded attempts.
    pub score_percent: Option<f64>,
    pub passed: bool,
}

/// An answer to save: the shape depends on the question's kind.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerInput {
    #[schema(value_type = Object)]
    pub answer: Value,
}

/// A person's grade for one answer.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ManualGrade {
    /// 0 to the question's points, in hundredths.
    pub points: f64,
    /// Shown to the learner, up to 10,000 characters.
    pub comment: Option<String>,
}

/// An answer waiting for a person.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReviewAnswer {
    pub position: i32,
    pub question_id: QuestionId,
    /// Markdown.
    pub prompt: String,
    pub points: f64,
    #[schema(value_type = Option<Object>)]
    pub answer: Option<Value>,
    /// Why it waits: an essay, or what the grader plugin could not do.
    pub review_reason: Option<String>,
}

/// A submitted attempt with the answers that wait for a person.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReviewAttempt {
    pub attempt_id: AttemptId,
    pub course_id: CourseId,
    pub course_title: String,
    pub item_id: ItemId,
    pub quiz_title: String,
    pub learner_id: UserId,
    pub learner_name: String,
    pub submitted_at: Option<DateTime<Utc>>,
    pub answers: Vec<ReviewAnswer>,
}
