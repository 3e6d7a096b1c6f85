//! The quiz, written through the API by the course's staff: a course bank of 32 objective
//! questions about Python (4 of each of the 8 objective kinds) in two categories, and a quiz
//! that names the 8 "Core" questions and draws 12 of the 24 "Practice" ones for each attempt,
//! shuffled, timed, at most 2 attempts.

use std::collections::HashMap;
use std::fmt;

use anyhow::{Context, Result, bail};
use reqwest::Method;
use serde_json::{Value, json};

use crate::client::{Api, Call};

/// Questions every attempt draws from the practice category.
const DRAWN: i64 = 12;
const TIME_LIMIT_SECONDS: i64 = 20 * 60;
const MAX_ATTEMPTS: i64 = 2;

/// Words learners type into short answers and blanks: some of them right somewhere.
pub const GUESSED_WORDS: &[&str] = &[
    "len", "break", "append", "int", "return", "range", "open", "None", "False", "print", "list",
    "continue", "def",
];
/// Numbers learners type into numeric questions.
pub const GUESSED_NUMBERS: &[f64] = &[1024.0, 2.67, 4.0, 11.0, 1.0, 3.0, 10.0, 0.0];

/// What was written.
pub struct Written {
    pub bank_questions: usize,
    pub per_attempt: i64,
    /// The right answer to each question, by prompt (what a learner who knows it sends).
    pub key: HashMap<String, Value>,
}

impl fmt::Display for Written {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "quiz: {} questions per attempt (the 8 core questions, one per objective kind, and {DRAWN} drawn from {} practice ones), \
             questions and options shuffled, {} min time limit, {MAX_ATTEMPTS} attempts allowed; bank of {} questions",
            self.per_attempt,
            self.bank_questions - 8,
            TIME_LIMIT_SECONDS / 60,
            self.bank_questions,
        )
    }
}

pub async fn write_quiz(api: &Api, staff: &str, course: &str, item: &str) -> Result<Written> {
    let post = |path: String, body: Value| async move {
        api.call(
            Call::Authoring,
            Method::POST,
            &path,
            Some(staff),
            Some(&body),
        )
        .await
    };
    let bank = post(
        "/api/v1/question-banks".into(),
        json!({ "course_id": course, "title": "Python fundamentals",
                "description": "Checks of the first module, asked in the module quiz." }),
    )
    .await
    .context("creating the question bank")?;
    let bank = id(&bank)?;
    let mut categories = Vec::new();
    for name in ["Core", "Practice"] {
        let answer = post(
            format!("/api/v1/question-banks/{bank}/categories"),
            json!({ "name": name }),
        )
        .await
        .with_context(|| format!("adding category {name}"))?;
        let category = answer["categories"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["name"].as_str() == Some(name))
            .and_then(|c| c["id"].as_str())
            .with_context(|| format!("category {name} missing from {answer}"))?;
        categories.push(category.to_owned());
    }
    let (core, practice) = (&categories[0], &categories[1]);

    let all = questions();
    let mut named = Vec::new();
    for (n, question) in all.iter().enumerate() {
        // The first of each kind's four is a core question.
        let is_core = n % 4 == 0;
        let mut body = question.clone();
        body["category_id"] = json!(if is_core { core } else { practice });
        let answer = post(format!("/api/v1/question-banks/{bank}/questions"), body)
            .await
            .with_context(|| format!("adding question {}", question["prompt"]))?;
        if is_core {
            named.push(json!({ "question_id": id(&answer)? }));
        }
    }
    let mut slots = named;
    slots.push(json!({ "bank_id": bank, "category_id": practice, "count": DRAWN }));
    let quiz = json!({
        "time_limit_seconds": TIME_LIMIT_SECONDS,
        "max_attempts": MAX_ATTEMPTS,
        "passing_percent": 60,
        "attempt_grading": "highest",
        "shuffle_questions": true,
        "shuffle_options": true,
        "show_correct_answers": "after_submission",
        "questions": slots,
    });
    let saved = api
        .call(
            Call::Authoring,
            Method::PUT,
            &format!("/api/v1/courses/{course}/items/{item}/quiz"),
            Some(staff),
            Some(&quiz),
        )
        .await
        .context("saving the quiz")?;
    let per_attempt = saved["question_count"].as_i64().unwrap_or(0);
    if per_attempt != 8 + DRAWN {
        bail!(
            "the saved quiz asks {per_attempt} questions, not {}: {saved}",
            8 + DRAWN
        );
    }
    let key = all
        .iter()
        .filter_map(|q| Some((q["prompt"].as_str()?.to_owned(), right_answer(&q["spec"])?)))
        .collect();
    Ok(Written {
        bank_questions: all.len(),
        per_attempt,
        key,
    })
}

/// The answer a spec counts as fully right, in the shape learners send.
fn right_answer(spec: &Value) -> Option<Value> {
    let ids = |field: &str| -> Vec<Value> {
        spec[field]
            .as_array()
            .into_iter()
            .flatten()
            .map(|item| item["id"].clone())
            .collect()
    };
    Some(match spec["type"].as_str()? {
        "single_choice" => json!({ "option": spec["correct"] }),
        "multiple_response" => json!({ "options": spec["correct"] }),
        "true_false" => json!({ "value": spec["correct"] }),
        // The regex-only question accepts the built-in's bare name.
        "short_answer" => {
            json!({ "text": spec["accepted"].get(0).cloned().unwrap_or(json!("int")) })
        }
        "numeric" => json!({ "value": spec["answer"] }),
        "ordering" => json!({ "order": ids("items") }),
        "matching" => json!({ "pairs": spec["pairs"] }),
        "fill_in_blanks" => {
            let blanks: serde_json::Map<String, Value> = spec["blanks"]
                .as_array()?
                .iter()
                .filter_map(|b| Some((b["id"].as_str()?.to_owned(), b["accepted"].get(0)?.clone())))
                .collect();
            json!({ "blanks": blanks })
        }
        _ => return None,
    })
}

fn id(answer: &Value) -> Result<String> {
    answer["id"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no id in {answer}"))
}

fn items(texts: &[(&str, &str)]) -> Value {
    Value::Array(
        texts
            .iter()
            .map(|(id, text)| json!({ "id": id, "text": text }))
            .collect(),
    )
}

/// The 32 questions, four of each kind in a row.
fn questions() -> Vec<Value> {
    let q = |prompt: &str, points: f64, spec: Value| json!({ "prompt": prompt, "points": points, "spec": spec });
    vec![
        // Single choice.
        q(
            "Which keyword starts a function definition?",
            1.0,
            json!({ "type": "single_choice",
            "options": items(&[("o1", "`func`"), ("o2", "`def`"), ("o3", "`function`"), ("o4", "`lambda`")]),
            "correct": "o2" }),
        ),
        q(
            "What does `len([1, 2, 3])` return?",
            1.0,
            json!({ "type": "single_choice",
            "options": items(&[("o1", "`2`"), ("o2", "`6`"), ("o3", "`3`"), ("o4", "It raises an error")]),
            "correct": "o3" }),
        ),
        q(
            "Which of these types is immutable?",
            1.0,
            json!({ "type": "single_choice",
            "options": items(&[("o1", "`tuple`"), ("o2", "`list`"), ("o3", "`dict`"), ("o4", "`set`")]),
            "correct": "o1" }),
        ),
        q(
            "What does `print(7 // 2)` print?",
            1.0,
            json!({ "type": "single_choice",
            "options": items(&[("o1", "`3.5`"), ("o2", "`4`"), ("o3", "`1`"), ("o4", "`3`")]),
            "correct": "o4" }),
        ),
        // Multiple response.
        q(
            "Which of these are built-in sequence types?",
            2.0,
            json!({ "type": "multiple_response",
            "options": items(&[("o1", "`list`"), ("o2", "`dict`"), ("o3", "`tuple`"), ("o4", "`str`"), ("o5", "`set`")]),
            "correct": ["o1", "o3", "o4"] }),
        ),
        q(
            "Which expressions create an empty dictionary?",
            2.0,
            json!({ "type": "multiple_response",
            "options": items(&[("o1", "`{}`"), ("o2", "`[]`"), ("o3", "`dict()`"), ("o4", "`set()`")]),
            "correct": ["o1", "o3"], "scoring": "all_or_nothing" }),
        ),
        q(
            "Which values are falsy?",
            2.0,
            json!({ "type": "multiple_response",
            "options": items(&[("o1", "`0`"), ("o2", "`\"0\"`"), ("o3", "`\"\"`"), ("o4", "`None`"), ("o5", "`[0]`")]),
            "correct": ["o1", "o3", "o4"], "scoring": "per_option" }),
        ),
        q(
            "Which loops visit every key of the dictionary `d`?",
            2.0,
            json!({ "type": "multiple_response",
            "options": items(&[("o1", "`for k in d:`"), ("o2", "`for k in d.values():`"), ("o3", "`for k in d.keys():`"), ("o4", "`for k in range(d):`")]),
            "correct": ["o1", "o3"] }),
        ),
        // True or false.
        q(
            "A Python list can hold values of different types.",
            0.5,
            json!({ "type": "true_false", "correct": true }),
        ),
        q(
            "Strings in Python can be changed in place.",
            0.5,
            json!({ "type": "true_false", "correct": false }),
        ),
        q(
            "`is` compares values, exactly like `==`.",
            0.5,
            json!({ "type": "true_false", "correct": false }),
        ),
        q(
            "Indentation is part of Python's syntax.",
            0.5,
            json!({ "type": "true_false", "correct": true }),
        ),
        // Short answer.
        q(
            "Which built-in function gives the number of items in a list?",
            1.0,
            json!({ "type": "short_answer",
            "accepted": ["len", "len()"] }),
        ),
        q(
            "Which keyword leaves a loop at once?",
            1.0,
            json!({ "type": "short_answer",
            "accepted": ["break"] }),
        ),
        q(
            "Which list method adds one item at the end?",
            1.0,
            json!({ "type": "short_answer",
            "accepted": ["append", "list.append", "append()"] }),
        ),
        q(
            "Which built-in turns the string `\"42\"` into the number 42?",
            1.0,
            json!({ "type": "short_answer",
            "regex": "int(\\(\\))?" }),
        ),
        // Numeric.
        q(
            "What is `2 ** 10`?",
            1.0,
            json!({ "type": "numeric", "answer": 1024 }),
        ),
        q(
            "What does `round(2.675, 2)` give (floats are binary fractions)?",
            1.0,
            json!({ "type": "numeric",
            "answer": 2.67, "tolerance": 0.001 }),
        ),
        q(
            "How many numbers does `range(3, 15, 3)` produce?",
            1.0,
            json!({ "type": "numeric", "answer": 4 }),
        ),
        q(
            "What does `sum([0.1] * 10)` come to? Within 1 % counts.",
            1.0,
            json!({ "type": "numeric",
            "answer": 1.0, "tolerance": 0.01, "tolerance_mode": "relative" }),
        ),
        // Ordering.
        q(
            "Put the steps of running a script in order.",
            2.0,
            json!({ "type": "ordering",
            "items": items(&[("s1", "Write the code"), ("s2", "Save it as `main.py`"), ("s3", "Run `python main.py`"), ("s4", "Read the output")]) }),
        ),
        q(
            "Order these as `sorted([3, 10, 1, 2])` returns them.",
            2.0,
            json!({ "type": "ordering",
            "items": items(&[("n1", "`1`"), ("n2", "`2`"), ("n3", "`3`"), ("n4", "`10`")]), "scoring": "all_or_nothing" }),
        ),
        q(
            "Order the clauses of a `try` statement as they are written.",
            2.0,
            json!({ "type": "ordering",
            "items": items(&[("c1", "`try`"), ("c2", "`except`"), ("c3", "`else`"), ("c4", "`finally`")]) }),
        ),
        q(
            "Order from the smallest value to the largest.",
            2.0,
            json!({ "type": "ordering",
            "items": items(&[("v1", "`0.5`"), ("v2", "`1`"), ("v3", "`3 / 2`"), ("v4", "`2 ** 1`"), ("v5", "`10 % 7`")]) }),
        ),
        // Matching.
        q(
            "Match each literal with its type.",
            2.0,
            json!({ "type": "matching",
            "prompts": items(&[("p1", "`3`"), ("p2", "`3.0`"), ("p3", "`\"3\"`"), ("p4", "`[3]`")]),
            "choices": items(&[("c1", "`int`"), ("c2", "`float`"), ("c3", "`str`"), ("c4", "`list`"), ("c5", "`dict`")]),
            "pairs": { "p1": "c1", "p2": "c2", "p3": "c3", "p4": "c4" } }),
        ),
        q(
            "Match each list method with what it does.",
            2.0,
            json!({ "type": "matching",
            "prompts": items(&[("p1", "`append`"), ("p2", "`pop`"), ("p3", "`sort`")]),
            "choices": items(&[("c1", "Orders the items in place"), ("c2", "Adds an item at the end"), ("c3", "Removes and returns an item"), ("c4", "Counts the items")]),
            "pairs": { "p1": "c2", "p2": "c3", "p3": "c1" } }),
        ),
        q(
            "Match each operator with its meaning.",
            2.0,
            json!({ "type": "matching",
            "prompts": items(&[("p1", "`//`"), ("p2", "`%`"), ("p3", "`**`")]),
            "choices": items(&[("c1", "Power"), ("c2", "Floor division"), ("c3", "Remainder")]),
            "pairs": { "p1": "c2", "p2": "c3", "p3": "c1" } }),
        ),
        q(
            "Match each exception with what raises it.",
            2.0,
            json!({ "type": "matching",
            "prompts": items(&[("p1", "`KeyError`"), ("p2", "`IndexError`"), ("p3", "`ZeroDivisionError`")]),
            "choices": items(&[("c1", "`[1, 2][5]`"), ("c2", "`{}['a']`"), ("c3", "`1 / 0`"), ("c4", "`int('x')`")]),
            "pairs": { "p1": "c2", "p2": "c1", "p3": "c3" } }),
        ),
        // Fill in the blanks.
        q(
            "Complete the sentence.",
            1.0,
            json!({ "type": "fill_in_blanks",
            "text": "A function hands a value back with the `{{kw}}` keyword.",
            "blanks": [{ "id": "kw", "accepted": ["return"] }] }),
        ),
        q(
            "Complete the loop so that it runs five times.",
            1.0,
            json!({ "type": "fill_in_blanks",
            "text": "`for i in {{fn}}(5):`",
            "blanks": [{ "id": "fn", "accepted": ["range"] }] }),
        ),
        q(
            "Complete the statement that reads a file.",
            1.0,
            json!({ "type": "fill_in_blanks",
            "text": "`with {{fn}}(\"data.txt\") as f:`",
            "blanks": [{ "id": "fn", "accepted": ["open"] }] }),
        ),
        q(
            "Name the two values.",
            2.0,
            json!({ "type": "fill_in_blanks",
            "text": "`{{nothing}}` stands for no value, and `{{no}}` is the boolean that is not true.",
            "blanks": [{ "id": "nothing", "accepted": ["None"], "case_sensitive": true },
                       { "id": "no", "accepted": ["False"], "case_sensitive": true }] }),
        ),
    ]
}
