//! The demo quizzes, each with a question bank of its course:
//!
//! - "Python for Data Analysis": a bank with categories and a question of every kind (the lab
//!   question graded by the first-party `lab-flag-grader`, installed for the demo tenant from the
//!   plugin catalog), the course's "Cleaning quiz" asking one question of each kind after a
//!   warm-up question drawn at random, and a graded attempt of the first demo learner (answered,
//!   submitted, graded by the rules, the grader plugin and the instructor).
//! - "Web Security Fundamentals": a bank of six objective questions on injection, XSS, CSRF,
//!   password hashing, HTTPS and session cookies, asked by "Check your understanding", the
//!   required quiz of the sequential course's second module that opens its capture-the-flag lab.
//!
//! Everything goes through the services the API uses, as the demo's admin, instructor and
//! learner, so the demo data obeys every rule the API enforces. Each run adds only what is
//! missing: a bank is found by its title in its course, questions by any version of their prompt
//! (an instructor's edits are not undone), a quiz is configured while it has no questions, and the
//! learner's attempt is made while they have none. Without the grader's artifact the lab question
//! is left out (and added by a later run once the plugin is built).

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr};

use anyhow::{Context, anyhow};
use lms_tenants::Tenant;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::Seeding;
use crate::auth::Caller;
use crate::courses::{CourseId, ItemId, ItemKind};
use crate::db::Cursor;
use crate::error::ApiError;
use crate::plugins::service as plugins;
use crate::plugins::{Capability, PluginName};
use crate::question_banks::kinds::{Presentation, QuestionSpec};
use crate::question_banks::model::{self as bank_values, Bank};
use crate::question_banks::service::{self as banks, Draft, NewBank};
use crate::question_banks::{CategoryId, QuestionId};
use crate::quizzes::attempts;
use crate::quizzes::grading;
use crate::quizzes::model::{
    AttemptGrading, AttemptStatus, Grading, ManualGrade, QuizInput, QuizSettings,
    ShowCorrectAnswers, Slot, SlotInput,
};
use crate::quizzes::settings as quizzes;
use crate::state::AppState;
use crate::users::Role;

const LAB_GRADER: &str = "lab-flag-grader";

/// The seed's writes come from the machine it runs on.
const SEED_IP: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A demo quiz: the course item it configures, the bank of the course it asks from, and the
/// settings it gets while it has no questions.
struct DemoQuiz {
    course_slug: &'static str,
    /// The quiz item's title.
    title: &'static str,
    bank_title: &'static str,
    bank_description: &'static str,
    categories: &'static [&'static str],
    /// The category the quiz draws one question of at random for each attempt, before its other
    /// questions; the questions of that category are asked only that way.
    draw: Option<&'static str>,
    settings: QuizSettings,
    questions: fn() -> Vec<DemoQuestion>,
    /// Whether the first demo learner has a graded attempt (answered with the questions'
    /// `answer`s).
    graded_attempt: bool,
}

const QUIZZES: [DemoQuiz; 2] = [CLEANING_QUIZ, WEB_SECURITY_QUIZ];

const MISSING: &str = "Missing values";
const TYPES: &str = "Types and parsing";
const DUPLICATES: &str = "Duplicates and outliers";
const WARM_UP: &str = "Warm-up";

const CLEANING_QUIZ: DemoQuiz = DemoQuiz {
    course_slug: "python-for-data-analysis",
    title: "Cleaning quiz",
    bank_title: "Cleaning data with pandas",
    bank_description: "Finding and fixing missing values, wrong types, duplicates and outliers \
                       with pandas; the Cleaning quiz asks from it.",
    categories: &[MISSING, TYPES, DUPLICATES, WARM_UP],
    draw: Some(WARM_UP),
    settings: QuizSettings {
        time_limit_seconds: Some(30 * 60),
        max_attempts: Some(3),
        passing_percent: 70.0,
        attempt_grading: AttemptGrading::Highest,
        shuffle_questions: false,
        shuffle_options: true,
        available_from: None,
        available_until: None,
        show_correct_answers: ShowCorrectAnswers::AfterSubmission,
    },
    questions: cleaning_questions,
    graded_attempt: true,
};

const INJECTION: &str = "Injection and XSS";
const SESSIONS: &str = "Sessions and CSRF";
const TRANSPORT: &str = "Passwords and HTTPS";

const WEB_SECURITY_QUIZ: DemoQuiz = DemoQuiz {
    course_slug: "web-security-fundamentals",
    title: "Check your understanding",
    bank_title: "Web security basics",
    bank_description: "Injection, cross-site scripting, cross-site request forgery, password \
                       storage, HTTPS and session cookies; \"Check your understanding\" asks from \
                       it.",
    categories: &[INJECTION, SESSIONS, TRANSPORT],
    draw: None,
    settings: QuizSettings {
        time_limit_seconds: Some(15 * 60),
        max_attempts: None,
        passing_percent: 60.0,
        attempt_grading: AttemptGrading::Highest,
        shuffle_questions: false,
        shuffle_options: true,
        available_from: None,
        available_until: None,
        show_correct_answers: ShowCorrectAnswers::AfterSubmission,
    },
    questions: web_security_questions,
    graded_attempt: false,
};

/// The flags the cleaning lab notebook prints, by check; the question keeps only salted digests.
const LAB_FLAGS: [(&str, &str, &str); 3] = [
    ("totals complete", "pyd-7c1e", "FLAG{totals-complete}"),
    ("one row per order", "pyd-4b9a", "FLAG{one-row-per-order}"),
    ("dates parsed", "pyd-e02f", "FLAG{dates-are-datetimes}"),
];

struct DemoQuestion {
    category: &'static str,
    prompt: &'static str,
    points: f64,
    /// The definition as an author sends it to the API.
    spec: Value,
    /// The first demo learner's answer in the quiz's graded attempt (mostly right), if the
    /// quiz has one.
    answer: Option<Value>,
    /// Points and comment when the answer waits for a person: the instructor's grade of the
    /// essay, or of the lab flags should the grader plugin not grade them.
    by_hand: Option<(f64, &'static str)>,
}

fn lab_config() -> Value {
    let flags: Vec<Value> = LAB_FLAGS
        .iter()
        .map(|(name, salt, flag)| {
            let digest = Sha256::digest(format!("{salt}{flag}").as_bytes());
            json!({ "name": name, "salt": salt, "sha256": hex::encode(digest), "points": 1 })
        })
        .collect();
    json!({ "flags": flags, "case_sensitive": true, "trim_whitespace": true })
}

fn options(texts: &[&str]) -> Value {
    texts
        .iter()
        .zip(["a", "b", "c", "d", "e", "f"])
        .map(|(text, id)| json!({ "id": id, "text": text }))
        .collect()
}

/// The Cleaning quiz's bank: one question of every kind, then the warm-up pool.
fn cleaning_questions() -> Vec<DemoQuestion> {
    vec![
        DemoQuestion {
            category: MISSING,
            prompt: "Which call counts the missing values in each column of `df`?",
            points: 1.0,
            spec: json!({
                "type": "single_choice",
                "options": options(&[
                    "`df.isna().sum()`",
                    "`df.count()`",
                    "`df.isna().any()`",
                    "`df.dropna().shape`",
                ]),
                "correct": "a",
            }),
            answer: Some(json!({ "option": "a" })),
            by_hand: None,
        },
        DemoQuestion {
            category: MISSING,
            prompt: "Which of these are sound ways to deal with the missing values of a numeric \
                     `price` column? Select all that apply.",
            points: 2.0,
            spec: json!({
                "type": "multiple_response",
                "options": options(&[
                    "`df[\"price\"].fillna(df[\"price\"].median())`",
                    "`df.dropna(subset=[\"price\"])`",
                    "`df[\"price\"].interpolate()` when the rows are a time series",
                    "`df[\"price\"].fillna(\"unknown\")`",
                ]),
                "correct": ["a", "b", "c"],
                "scoring": "right_minus_wrong",
            }),
            // Two of the three right options: partial credit.
            answer: Some(json!({ "options": ["a", "b"] })),
            by_hand: None,
        },
        DemoQuestion {
            category: MISSING,
            prompt: "`df.dropna()` removes the rows with missing values from `df` itself, \
                     without assigning the result.",
            points: 1.0,
            spec: json!({ "type": "true_false", "correct": false }),
            answer: Some(json!({ "value": false })),
            by_hand: None,
        },
        DemoQuestion {
            category: TYPES,
            prompt: "Which pandas function turns a column of date strings such as \
                     `\"2024-03-01\"` into datetimes? Write it as you would call it.",
            points: 1.0,
            spec: json!({
                "type": "short_answer",
                "accepted": ["pd.to_datetime", "pandas.to_datetime"],
                "case_sensitive": true,
                "regex": r"(pd\.|pandas\.)?to_datetime(\(\))?",
            }),
            answer: Some(json!({ "text": "pd.to_datetime()" })),
            by_hand: None,
        },
        DemoQuestion {
            category: DUPLICATES,
            prompt: "The `income` column has a mean of 52,300 and a standard deviation of 8,100. \
                     What is the z-score of an income of 70,000? Two decimals are enough.",
            points: 2.0,
            spec: json!({
                "type": "numeric",
                "answer": 17_700.0 / 8_100.0,
                "tolerance": 0.01,
                "tolerance_mode": "absolute",
            }),
            answer: Some(json!({ "value": 2.19 })),
            by_hand: None,
        },
        DemoQuestion {
            category: TYPES,
            prompt: "Put the steps of a cleaning pass in the order the course recommends.",
            points: 2.0,
            spec: json!({
                "type": "ordering",
                "items": [
                    { "id": "load", "text": "Load the raw file with `pd.read_csv`" },
                    { "id": "inspect", "text": "Inspect types and missing counts with `df.info()`" },
                    { "id": "fix", "text": "Fix types, missing values and duplicates" },
                    { "id": "check", "text": "Check the result with assertions" },
                    { "id": "save", "text": "Save the cleaned data with `df.to_parquet`" },
                ],
                "scoring": "per_position",
            }),
            answer: Some(json!({ "order": ["load", "inspect", "fix", "check", "save"] })),
            by_hand: None,
        },
        DemoQuestion {
            category: TYPES,
            prompt: "Match each call with what it does.",
            points: 2.0,
            spec: json!({
                "type": "matching",
                "prompts": [
                    { "id": "category", "text": "`s.astype(\"category\")`" },
                    { "id": "numeric", "text": "`pd.to_numeric(s, errors=\"coerce\")`" },
                    { "id": "strip", "text": "`s.str.strip()`" },
                    { "id": "dedupe", "text": "`df.drop_duplicates()`" },
                ],
                "choices": [
                    { "id": "c1", "text": "Stores a column of a few repeated labels compactly" },
                    { "id": "c2", "text": "Turns text that is not a number into `NaN` instead of raising" },
                    { "id": "c3", "text": "Removes leading and trailing whitespace" },
                    { "id": "c4", "text": "Removes repeated rows" },
                    { "id": "c5", "text": "Sorts the rows by their index" },
                ],
                "pairs": { "category": "c1", "numeric": "c2", "strip": "c3", "dedupe": "c4" },
            }),
            answer: Some(json!({ "pairs": {
                "category": "c1", "numeric": "c2", "strip": "c3", "dedupe": "c4"
            } })),
            by_hand: None,
        },
        DemoQuestion {
            category: DUPLICATES,
            prompt: "Complete the code that counts the repeated orders, then keeps the last row \
                     of each.",
            points: 2.0,
            spec: json!({
                "type": "fill_in_blanks",
                "text": "```python\nrepeated = df.{{count}}(subset=[\"order_id\"]).sum()\n\
                         df = df.drop_duplicates(subset=[\"order_id\"], keep={{keep}})\n```",
                "blanks": [
                    { "id": "count", "accepted": ["duplicated"], "case_sensitive": true },
                    { "id": "keep", "accepted": ["\"last\"", "'last'"], "case_sensitive": true },
                ],
            }),
            answer: Some(json!({ "blanks": { "count": "duplicated", "keep": "\"last\"" } })),
            by_hand: None,
        },
        DemoQuestion {
            category: MISSING,
            prompt: "In a survey dataset, 8 % of the `age` values are missing, mostly among \
                     people who answered on paper. Explain how you would choose between \
                     dropping those rows and imputing the ages, and what you would tell the \
                     readers of your analysis.",
            points: 3.0,
            spec: json!({ "type": "essay", "min_words": 60, "max_words": 300 }),
            answer: Some(
                json!({ "text": "The ages are not missing at random: they are missing \
                mostly for paper respondents, who may be older than the people who answered \
                online. Dropping those rows would therefore bias the sample towards online \
                respondents, so I would first compare the paper and online groups on the \
                other columns. If they differ, I would impute the ages within each group, \
                for example with the group's median, and keep a flag column that says which \
                ages were imputed. In the report I would state how many values were missing, \
                why, how they were filled in, and show that the main results hold with and \
                without the imputed rows." }),
            ),
            by_hand: Some((
                2.5,
                "Good reasoning about why the values are missing and a sensible group-wise \
                 imputation with a flag column. To earn full marks, name a check of the \
                 imputation itself, e.g. comparing the age distributions before and after.",
            )),
        },
        DemoQuestion {
            category: DUPLICATES,
            prompt: "**Lab.** Open the *Cleaning lab* notebook from the dataset notes and run \
                     its three checks on your cleaned `orders` DataFrame. Every check that \
                     passes prints a flag such as `FLAG{...}`. Paste each flag you got, one per \
                     line.",
            points: 2.0,
            spec: json!({ "type": "plugin", "plugin": LAB_GRADER, "config": lab_config() }),
            // Two of the three checks pass.
            answer: Some(json!({ "text": format!("{}\n{}", LAB_FLAGS[0].2, LAB_FLAGS[1].2) })),
            by_hand: Some((
                1.33,
                "Two of the three checks pass; the order dates are still strings.",
            )),
        },
        DemoQuestion {
            category: WARM_UP,
            prompt: "What does `df.info()` show that `df.head()` does not?",
            points: 1.0,
            spec: json!({
                "type": "single_choice",
                "options": options(&[
                    "Each column's type and its number of non-missing values",
                    "The first five rows",
                    "The mean and quartiles of each numeric column",
                    "The rows sorted by their index",
                ]),
                "correct": "a",
            }),
            answer: Some(json!({ "option": "a" })),
            by_hand: None,
        },
        DemoQuestion {
            category: WARM_UP,
            prompt: "`float(\"nan\") == float(\"nan\")` is `False`, which is one reason pandas \
                     offers `isna()`.",
            points: 1.0,
            spec: json!({ "type": "true_false", "correct": true }),
            answer: Some(json!({ "value": true })),
            by_hand: None,
        },
        DemoQuestion {
            category: WARM_UP,
            prompt: "Which `pd.read_csv` argument makes strings such as `\"n/a\"` and `\"-\"` \
                     count as missing values?",
            points: 1.0,
            spec: json!({
                "type": "single_choice",
                "options": options(&[
                    "`na_values`",
                    "`na_filter`",
                    "`skip_blank_lines`",
                    "`dtype`",
                ]),
                "correct": "a",
            }),
            answer: Some(json!({ "option": "a" })),
            by_hand: None,
        },
    ]
}

/// The Web Security quiz's bank: six objective questions of six kinds on the course's two
/// modules (threats, then defences), all of them asked by the quiz.
fn web_security_questions() -> Vec<DemoQuestion> {
    vec![
        DemoQuestion {
            category: INJECTION,
            prompt: "A product search runs \
                     `\"SELECT * FROM products WHERE name LIKE '%\" + term + \"%'\"`. Which \
                     change stops SQL injection through `term`?",
            points: 1.0,
            spec: json!({
                "type": "single_choice",
                "options": options(&[
                    "Pass `term` to the query as a bound parameter",
                    "Remove the single quotes from `term` before building the query",
                    "Accept the search only as a `POST` request",
                    "Run the query as a database user that may only read",
                ]),
                "correct": "a",
            }),
            answer: None,
            by_hand: None,
        },
        DemoQuestion {
            category: INJECTION,
            prompt: "A page shows the comments its users wrote. Which of these protect it \
                     against stored cross-site scripting (XSS)? Select all that apply.",
            points: 2.0,
            spec: json!({
                "type": "multiple_response",
                "options": options(&[
                    "Encoding each comment for the HTML context it is inserted into",
                    "A Content Security Policy that forbids inline scripts",
                    "Serving the page over HTTPS",
                    "Limiting comments to 500 characters",
                ]),
                "correct": ["a", "b"],
                "scoring": "right_minus_wrong",
            }),
            answer: None,
            by_hand: None,
        },
        DemoQuestion {
            category: SESSIONS,
            prompt: "A site served only over HTTPS is safe from cross-site request forgery \
                     (CSRF), so its forms need neither a CSRF token nor `SameSite` cookies.",
            points: 1.0,
            spec: json!({ "type": "true_false", "correct": false }),
            answer: None,
            by_hand: None,
        },
        DemoQuestion {
            category: TRANSPORT,
            prompt: "Name a password hashing function that is deliberately slow and \
                     memory-hard, as OWASP recommends for storing passwords.",
            points: 1.0,
            spec: json!({
                "type": "short_answer",
                "accepted": ["Argon2id", "Argon2", "scrypt"],
                "case_sensitive": false,
            }),
            answer: None,
            by_hand: None,
        },
        DemoQuestion {
            category: TRANSPORT,
            prompt: "Match each response header with what it makes the browser do.",
            points: 2.0,
            spec: json!({
                "type": "matching",
                "prompts": [
                    { "id": "hsts", "text": "`Strict-Transport-Security: max-age=31536000`" },
                    { "id": "csp", "text": "`Content-Security-Policy: script-src 'self'`" },
                    { "id": "nosniff", "text": "`X-Content-Type-Options: nosniff`" },
                    { "id": "frames", "text": "`X-Frame-Options: DENY`" },
                ],
                "choices": [
                    { "id": "c1", "text": "Trust the declared `Content-Type` instead of guessing it from the content" },
                    { "id": "c2", "text": "Use only HTTPS for the site, even when a link says `http://`" },
                    { "id": "c3", "text": "Delete the site's cookies when the tab is closed" },
                    { "id": "c4", "text": "Run only scripts served from the page's own origin" },
                    { "id": "c5", "text": "Refuse to show the page inside a frame" },
                ],
                "pairs": { "hsts": "c2", "csp": "c4", "nosniff": "c1", "frames": "c5" },
            }),
            answer: None,
            by_hand: None,
        },
        DemoQuestion {
            category: SESSIONS,
            prompt: "Complete the session cookie so that it is sent only over HTTPS, is out of \
                     reach of the page's JavaScript, and is never sent with a request that \
                     starts on another site.",
            points: 2.0,
            spec: json!({
                "type": "fill_in_blanks",
                "text": "```http\nSet-Cookie: __Host-session=4f9c2e7a; Path=/; {{transport}}; \
                         {{script}}; SameSite={{site}}\n```",
                "blanks": [
                    { "id": "transport", "accepted": ["Secure"] },
                    { "id": "script", "accepted": ["HttpOnly"] },
                    { "id": "site", "accepted": ["Strict"] },
                ],
            }),
            answer: None,
            by_hand: None,
        },
    ]
}

/// Seeds every demo quiz: its bank, its settings and the first learner's attempt, adding only
/// what is missing.
pub async fn seed(state: &AppState, tenant: &Tenant) -> anyhow::Result<()> {
    let admin = super::signed_in(state, tenant, Role::TenantAdmin).await?;
    let instructor = super::signed_in(state, tenant, Role::Instructor).await?;
    let learner = super::signed_in(state, tenant, Role::Learner).await?;
    for quiz in &QUIZZES {
        seed_quiz(state, &admin, &instructor, &learner, quiz)
            .await
            .with_context(|| format!("the demo quiz {:?}", quiz.title))?;
    }
    Ok(())
}

async fn seed_quiz(
    state: &AppState,
    admin: &Caller,
    instructor: &Caller,
    learner: &Caller,
    quiz: &DemoQuiz,
) -> anyhow::Result<()> {
    let Some((course, item)) = quiz_item(state, instructor, quiz).await? else {
        tracing::info!(
            course = quiz.course_slug,
            quiz = quiz.title,
            "the demo course or its quiz item is gone; no demo quiz seeded"
        );
        return Ok(());
    };
    let demo = (quiz.questions)();
    let lab = demo.iter().any(is_plugin) && lab_grader(state, admin).await?;
    let stocked = stock(state, instructor, course, quiz, lab, &demo).await?;
    configure(state, instructor, course, item, quiz, &stocked, &demo).await?;
    if quiz.graded_attempt {
        graded_attempt(state, instructor, learner, course, item, &demo).await?;
    }
    Ok(())
}

/// A demo bank as this run leaves it.
struct Stocked {
    bank: Bank,
    categories: HashMap<String, CategoryId>,
    /// Every prompt the bank's questions ever had, with the question when it can still be asked
    /// (`None`: archived).
    asked: HashMap<String, Option<QuestionId>>,
    /// The prompts of the questions this run added.
    added: Vec<&'static str>,
}

/// The quiz's bank with the demo questions it lacks (the lab question only with its grader).
async fn stock(
    state: &AppState,
    instructor: &Caller,
    course: CourseId,
    quiz: &DemoQuiz,
    lab: bool,
    demo: &[DemoQuestion],
) -> anyhow::Result<Stocked> {
    let bank = bank(state, instructor, course, quiz).await?;
    let categories: HashMap<String, CategoryId> = bank
        .categories
        .iter()
        .map(|c| (c.name.clone(), c.id))
        .collect();
    let mut asked = existing_questions(state, instructor, &bank).await?;
    let mut added = Vec::new();
    for question in demo {
        if asked.contains_key(question.prompt) || (!lab && is_plugin(question)) {
            continue;
        }
        let id = add_question(state, instructor, &bank, &categories, question).await?;
        asked.insert(question.prompt.to_owned(), Some(id));
        added.push(question.prompt);
    }
    Ok(Stocked {
        bank,
        categories,
        asked,
        added,
    })
}

fn is_plugin(question: &DemoQuestion) -> bool {
    question.spec["type"] == "plugin"
}

/// The demo course's quiz item, unless an instructor deleted them.
async fn quiz_item(
    state: &AppState,
    instructor: &Caller,
    quiz: &DemoQuiz,
) -> anyhow::Result<Option<(CourseId, ItemId)>> {
    super::course_item(
        state,
        instructor,
        quiz.course_slug,
        ItemKind::Quiz,
        quiz.title,
    )
    .await
}

/// Installs `lab-flag-grader` for the tenant from the platform catalog, unless it is installed;
/// whether lab questions can use it. Its absence (the artifact is not built) only leaves the lab
/// question out.
async fn lab_grader(state: &AppState, admin: &Caller) -> anyhow::Result<bool> {
    let name = PluginName::parse(LAB_GRADER).map_err(|e| anyhow!("{LAB_GRADER}: {e:?}"))?;
    match plugins::get(state, admin, &name).await {
        Ok(plugin) if plugin.enabled && plugin.active_version.is_some() => return Ok(true),
        Ok(_) => {
            tracing::info!(
                plugin = LAB_GRADER,
                "the demo tenant's grader is disabled; the demo quiz's lab question is left out"
            );
            return Ok(false);
        }
        Err(ApiError::NotFound) => {}
        Err(err) => return Err(err).seeding("reading the demo tenant's grader plugin"),
    }
    let grant = BTreeSet::from([Capability::Log]);
    match plugins::install_from_catalog(state, admin, SEED_IP, &name, grant).await {
        Ok(_) => {
            tracing::info!(
                plugin = LAB_GRADER,
                "installed for the demo tenant from the catalog"
            );
            Ok(true)
        }
        Err(ApiError::NotFound) => {
            tracing::warn!(
                plugin = LAB_GRADER,
                "not in the plugin catalog: its artifact is not built (see plugins.artifacts_dir, \
                 LMS_PLUGIN_ARTIFACTS); the demo quiz's lab question is left out"
            );
            Ok(false)
        }
        Err(err) => {
            tracing::warn!(
                plugin = LAB_GRADER,
                error = %err,
                "could not be installed for the demo tenant; the demo quiz's lab question is left out"
            );
            Ok(false)
        }
    }
}

/// The course's demo bank with its categories, made if absent.
async fn bank(
    state: &AppState,
    instructor: &Caller,
    course: CourseId,
    quiz: &DemoQuiz,
) -> anyhow::Result<Bank> {
    let title = bank_values::bank_title(quiz.bank_title).map_err(|e| anyhow!("{e:?}"))?;
    let mut cursor = None;
    let found = loop {
        let page = banks::list(state, instructor, Some(course), cursor, 200)
            .await
            .seeding("listing the demo course's banks")?;
        if let Some(bank) = page.items.iter().find(|b| b.title == title) {
            break Some(bank.clone());
        }
        if page.next_cursor.is_none() {
            break None;
        }
        cursor = page.items.last().map(|b| Cursor(b.id.0));
    };
    let mut bank = match found {
        Some(bank) => bank,
        None => banks::create(
            state,
            instructor,
            SEED_IP,
            NewBank {
                course: Some(course),
                title,
                description: bank_values::bank_description(quiz.bank_description)
                    .map_err(|e| anyhow!("{e:?}"))?,
            },
        )
        .await
        .seeding("creating the demo bank")?,
    };
    for name in quiz.categories {
        if !bank
            .categories
            .iter()
            .any(|c| c.name.eq_ignore_ascii_case(name))
        {
            let name = bank_values::category_name(name).map_err(|e| anyhow!("{e:?}"))?;
            bank = banks::add_category(state, instructor, bank.id, name)
                .await
                .seeding("adding a demo bank category")?;
        }
    }
    Ok(bank)
}

/// Every prompt any version of the bank's questions ever had, with the question when it can
/// still be asked (`None`: archived).
async fn existing_questions(
    state: &AppState,
    instructor: &Caller,
    bank: &Bank,
) -> anyhow::Result<HashMap<String, Option<QuestionId>>> {
    let mut prompts = HashMap::new();
    for archived in [true, false] {
        let mut cursor = None;
        loop {
            let page = banks::questions(state, instructor, bank.id, None, archived, cursor, 200)
                .await
                .seeding("listing the demo bank's questions")?;
            for question in &page.items {
                let id = (!archived).then_some(question.id);
                for version in banks::versions(state, instructor, question.id)
                    .await
                    .seeding("reading a demo question's versions")?
                {
                    prompts.insert(version.prompt, id);
                }
            }
            cursor = page.items.last().map(|q| Cursor(q.id.0));
            if page.next_cursor.is_none() {
                break;
            }
        }
    }
    Ok(prompts)
}

/// Adds the question, read and checked as the API reads an author's.
async fn add_question(
    state: &AppState,
    instructor: &Caller,
    bank: &Bank,
    categories: &HashMap<String, CategoryId>,
    question: &DemoQuestion,
) -> anyhow::Result<QuestionId> {
    let invalid = |e| anyhow!("demo question {:?}: {e:?}", question.prompt);
    let spec: QuestionSpec = serde_json::from_value(question.spec.clone())
        .map_err(|e| anyhow!("demo question {:?}: {e}", question.prompt))?;
    spec.validate().map_err(invalid)?;
    let draft = Draft {
        category: categories.get(question.category).copied(),
        prompt: bank_values::prompt(question.prompt).map_err(|e| invalid(vec![e]))?,
        points: bank_values::points(question.points).map_err(|e| invalid(vec![e]))?,
        spec,
    };
    let created = banks::create_question(state, instructor, SEED_IP, bank.id, draft)
        .await
        .seeding("adding a demo question")?;
    Ok(created.id)
}

/// The quiz's question list: one question of its draw category picked at random (the Cleaning
/// quiz's warm-up), then every other question of the bank that can be asked, in order.
fn slots(quiz: &DemoQuiz, stocked: &Stocked, demo: &[DemoQuestion]) -> Vec<SlotInput> {
    let draw = quiz.draw.map(|category| SlotInput {
        question_id: None,
        bank_id: Some(stocked.bank.id),
        category_id: stocked.categories.get(category).copied(),
        count: Some(1),
    });
    let named = demo
        .iter()
        .filter(|q| !is_drawn(quiz, q))
        .filter_map(|q| stocked.asked.get(q.prompt).copied().flatten())
        .map(named_slot);
    draw.into_iter().chain(named).collect()
}

/// Whether the quiz asks the question only by drawing it at random.
fn is_drawn(quiz: &DemoQuiz, question: &DemoQuestion) -> bool {
    quiz.draw == Some(question.category)
}

fn named_slot(question: QuestionId) -> SlotInput {
    SlotInput {
        question_id: Some(question),
        bank_id: None,
        category_id: None,
        count: None,
    }
}

fn slot_input(slot: Slot) -> SlotInput {
    match slot {
        Slot::Question { question_id } => named_slot(question_id),
        Slot::Draw {
            bank_id,
            category_id,
            count,
        } => SlotInput {
            question_id: None,
            bank_id: Some(bank_id),
            category_id,
            count: Some(count),
        },
    }
}

fn quiz_input(settings: &QuizSettings, questions: Vec<SlotInput>) -> QuizInput {
    QuizInput {
        time_limit_seconds: settings.time_limit_seconds,
        max_attempts: settings.max_attempts,
        passing_percent: Some(settings.passing_percent),
        attempt_grading: settings.attempt_grading,
        shuffle_questions: settings.shuffle_questions,
        shuffle_options: settings.shuffle_options,
        available_from: settings.available_from,
        available_until: settings.available_until,
        show_correct_answers: settings.show_correct_answers,
        questions,
    }
}

/// Configures the quiz while it has no questions; adds the questions this run added (the lab
/// question once its grader is built) to a quiz configured before.
async fn configure(
    state: &AppState,
    instructor: &Caller,
    course: CourseId,
    item: ItemId,
    quiz: &DemoQuiz,
    stocked: &Stocked,
    demo: &[DemoQuestion],
) -> anyhow::Result<()> {
    let saved = quizzes::get(state, instructor, course, item)
        .await
        .seeding("reading the demo quiz")?;
    let current: Vec<Slot> = saved.questions.unwrap_or_default();
    let input = if current.is_empty() {
        quiz_input(&quiz.settings, slots(quiz, stocked, demo))
    } else {
        let missing: Vec<SlotInput> = demo
            .iter()
            .filter(|q| !is_drawn(quiz, q) && stocked.added.contains(&q.prompt))
            .filter_map(|q| stocked.asked.get(q.prompt).copied().flatten())
            .filter(|id| !current.contains(&Slot::Question { question_id: *id }))
            .map(named_slot)
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let questions = current.into_iter().map(slot_input).chain(missing).collect();
        quiz_input(&saved.settings, questions)
    };
    quizzes::save(state, instructor, SEED_IP, course, item, input)
        .await
        .seeding("configuring the demo quiz")?;
    Ok(())
}

/// The learner's graded attempt, unless they have attempted the quiz: started, answered,
/// submitted, and what waits for a person graded by the instructor.
async fn graded_attempt(
    state: &AppState,
    instructor: &Caller,
    learner: &Caller,
    course: CourseId,
    item: ItemId,
    demo: &[DemoQuestion],
) -> anyhow::Result<()> {
    let mine = attempts::mine(state, learner, course, item)
        .await
        .seeding("reading the demo learner's attempts")?;
    if !mine.attempts.is_empty() {
        return Ok(());
    }
    let (_, attempt) = attempts::start(state, learner, course, item)
        .await
        .seeding("starting the demo attempt")?;
    let id = attempt.summary.id;
    let by_prompt = |prompt: &str| demo.iter().find(|q| q.prompt == prompt);
    for question in &attempt.questions {
        if let Some(answer) = by_prompt(&question.prompt).and_then(|q| q.answer.clone()) {
            attempts::save_answer(state, learner, id, question.position, answer)
                .await
                .seeding("answering the demo attempt")?;
        }
    }
    let submitted = attempts::submit(state, learner, id)
        .await
        .seeding("submitting the demo attempt")?;
    for question in &submitted.questions {
        let waits = question
            .result
            .as_ref()
            .is_some_and(|r| r.grading == Grading::Review);
        let Some((points, comment)) = by_prompt(&question.prompt).and_then(|q| q.by_hand) else {
            continue;
        };
        if !waits {
            continue;
        }
        if question.presentation == Presentation::Plugin {
            tracing::warn!(
                plugin = LAB_GRADER,
                reason = ?question.result.as_ref().and_then(|r| r.review_reason.as_deref()),
                "the grader did not grade the demo attempt's lab answer; the instructor does"
            );
        }
        grading::grade_answer(
            state,
            instructor,
            SEED_IP,
            id,
            question.position,
            ManualGrade {
                points,
                comment: Some(comment.to_owned()),
            },
        )
        .await
        .seeding("grading the demo attempt")?;
    }
    let graded = attempts::get(state, learner, id)
        .await
        .seeding("reading the demo attempt")?;
    if graded.summary.status != AttemptStatus::Graded {
        tracing::warn!(attempt = %id.0, "the demo attempt still waits for grading");
    }
    Ok(())
}
