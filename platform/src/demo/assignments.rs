//! The demo assignments: both assignment items of the demo courses configured with Markdown
//! instructions, a due date two weeks after the first run, a 10 %-a-day late penalty, text and
//! files, and a rubric; and a graded submission of the first demo learner to "Draft your team
//! charter" (Leading Remote Teams): a charter as text with a file attached, graded by the
//! instructor with the rubric, feedback and inline comments, and released.
//!
//! The graded submission is in Leading Remote Teams because the capture-the-flag lab sits in the
//! last module of a sequential course, locked for learners until they complete the modules before
//! it.
//!
//! Everything goes through the services the API uses, as the demo's instructor and learner. Each
//! run adds only what is missing: an assignment is configured while it has no settings (an
//! instructor's edits are kept), the learner submits while they have no submission, and the
//! instructor grades the learner's submission while it is the seed's and waits for a grade.

use std::net::{IpAddr, Ipv4Addr};

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use lms_tenants::Tenant;

use super::Seeding;
use crate::assignments::grading;
use crate::assignments::late::LatePolicy;
use crate::assignments::model::{
    Anchor, AssignmentInput, GradeInput, InlineComment, Submission, SubmissionStatus,
};
use crate::assignments::rubric::{CriterionGrade, CriterionInput, LevelInput, Rubric, RubricInput};
use crate::assignments::settings;
use crate::assignments::submissions::{self, Form};
use crate::auth::Caller;
use crate::courses::{CourseId, ItemId, ItemKind};
use crate::error::{ApiError, codes};
use crate::state::AppState;
use crate::users::Role;

/// The seed's writes come from the machine it runs on.
const SEED_IP: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Days from the run that configures an assignment to its due date.
const DUE_IN_DAYS: i64 = 14;
const LATE_PENALTY_PERCENT: f64 = 10.0;
const PASSING_PERCENT: f64 = 60.0;

struct DemoAssignment {
    course: &'static str,
    title: &'static str,
    /// Markdown.
    instructions: &'static str,
    file_extensions: &'static [&'static str],
    rubric: &'static [DemoCriterion],
    /// The first demo learner's graded submission, if they make one.
    graded: Option<&'static DemoSubmission>,
}

struct DemoCriterion {
    title: &'static str,
    description: &'static str,
    /// Best first: (title, description, points).
    levels: &'static [(&'static str, &'static str, f64)],
}

struct DemoSubmission {
    /// Markdown.
    text: &'static str,
    file: (&'static str, &'static str),
    /// The level the instructor chooses, by criterion title, with a comment.
    levels: &'static [(&'static str, &'static str, Option<&'static str>)],
    feedback: &'static str,
    /// A passage of `text`, quoted exactly, and the instructor's comment on it.
    comments: &'static [(&'static str, &'static str)],
}

const ASSIGNMENTS: [DemoAssignment; 2] = [
    DemoAssignment {
        course: "web-security-fundamentals",
        title: "Capture the flag: find the injection",
        instructions: CTF_INSTRUCTIONS,
        file_extensions: &["pdf", "txt", "md", "zip"],
        rubric: &CTF_RUBRIC,
        graded: None,
    },
    DemoAssignment {
        course: "leading-remote-teams",
        title: "Draft your team charter",
        instructions: CHARTER_INSTRUCTIONS,
        file_extensions: &["pdf", "txt", "md", "docx"],
        rubric: &CHARTER_RUBRIC,
        graded: Some(&CHARTER),
    },
];

const CTF_INSTRUCTIONS: &str = "\
The lab shop at `https://ctf.demo.example` has a product search that builds its SQL by pasting \
the search term into the query. Behind it is a table `flags` with one row; the flag in it looks \
like `FLAG{...}`.

## Your task

1. Find the request parameter that is injectable, and show it with the smallest payload that \
   changes the query's result.
2. Use it to read the flag.
3. Fix the code: rewrite the query in `search.py` with bound parameters, and add a test showing \
   that your payload from step 1 no longer works.

## What to hand in

- A short report, in the text box or as a `.md`, `.txt` or `.pdf` file: the parameter, the \
  payloads you tried, the flag, and why the fix works.
- Your fix, its test and any scripts you wrote, as a `.zip`.

## Rules

Attack only `ctf.demo.example`; the lab resets every hour. Late work loses 10 % of the points \
per day or part of a day.
";

const CTF_RUBRIC: [DemoCriterion; 3] = [
    DemoCriterion {
        title: "Finding and exploiting the injection",
        description: "The injectable parameter, a minimal payload, and the flag.",
        levels: &[
            (
                "Flag captured, method explained",
                "The parameter, a minimal payload and the flag, reproducible from the report.",
                4.0,
            ),
            (
                "Flag captured",
                "The flag, but the way there is hard to reproduce.",
                3.0,
            ),
            (
                "Injection found",
                "The injectable parameter is shown, but not the flag.",
                1.5,
            ),
            ("Not found", "", 0.0),
        ],
    },
    DemoCriterion {
        title: "The fix",
        description: "The query no longer trusts its input, and a test proves it.",
        levels: &[
            (
                "Bound parameters and a test",
                "The query uses bound parameters and a test shows the payload fails.",
                4.0,
            ),
            (
                "Bound parameters",
                "The query uses bound parameters; no test.",
                3.0,
            ),
            (
                "Filtering or escaping",
                "Input filtering or hand-made escaping, which can be bypassed.",
                1.0,
            ),
            ("No fix", "", 0.0),
        ],
    },
    DemoCriterion {
        title: "Report",
        description: "Another student could follow it.",
        levels: &[
            ("Clear", "Someone else could follow it step by step.", 2.0),
            (
                "Understandable",
                "The steps are there; some are missing or unclear.",
                1.0,
            ),
            ("Hard to follow", "", 0.0),
        ],
    },
];

const CHARTER_INSTRUCTIONS: &str = "\
Write a one-page charter for your team, real or imagined: five to eight people across at least \
two time zones. It is the document a new team member reads in their first week.

Cover at least:

- **Working hours**: the hours everyone overlaps, and how quickly people answer outside them.
- **Channels**: what goes in chat, email, the tracker and meetings, and the response time each \
  one expects.
- **Decisions**: how decisions are made and where they are written down.

Write it in the text box (Markdown works), or attach it as a `.md`, `.txt`, `.pdf` or `.docx` \
file. Late work loses 10 % of the points per day or part of a day.
";

const CHARTER_RUBRIC: [DemoCriterion; 3] = [
    DemoCriterion {
        title: "Working hours",
        description: "When the team can count on each other.",
        levels: &[
            (
                "Overlap and response times",
                "The shared hours, and how fast people answer outside them.",
                4.0,
            ),
            (
                "Hours only",
                "Everyone's hours, but no shared window or response times.",
                2.0,
            ),
            ("Missing", "", 0.0),
        ],
    },
    DemoCriterion {
        title: "Channels",
        description: "What goes where.",
        levels: &[
            (
                "Each with its purpose and response time",
                "What each channel is for, and how fast it expects an answer.",
                4.0,
            ),
            (
                "Listed",
                "The channels and what they are for, without response times.",
                2.0,
            ),
            ("Missing", "", 0.0),
        ],
    },
    DemoCriterion {
        title: "Decisions",
        description: "How the team decides and remembers what it decided.",
        levels: &[
            (
                "Who decides, where it is written",
                "How decisions are made and where they are recorded.",
                2.0,
            ),
            (
                "Mentioned",
                "Decisions are mentioned, without a process.",
                1.0,
            ),
            ("Missing", "", 0.0),
        ],
    },
];

const CHARTER: DemoSubmission = DemoSubmission {
    text: "\
# Team charter: Platform team

We are six engineers in Lisbon, Berlin and Toronto. This charter is how we work together; \
anyone can propose a change to it in a pull request.

## Working hours

Core hours: 14:00–16:00 UTC, when all of us are online. Outside them, we answer chat within \
four working hours and email within one working day. Nobody is expected to answer after their \
own working day ends.

## Channels

- **Chat** (#platform): quick questions and coordination.
- **Tracker**: every piece of work, with its discussion.
- **Email**: people outside the team.
- **Weekly call** (Tuesdays, 15:00 UTC): demos and the week's priorities.

## Decisions

A decision that affects more than one person starts as a short proposal in the team wiki. It \
stays open for two working days; without consensus the tech lead decides, and the decision is \
recorded on the same page.

Our time zones and working days are in the attached `time-zones.md`.
",
    file: (
        "time-zones.md",
        "\
# Time zones and working days

| Name  | City    | UTC offset | Working day (local) |
|-------|---------|------------|---------------------|
| Lea   | Lisbon  | +0 / +1    | 09:00–17:30         |
| Marta | Lisbon  | +0 / +1    | 10:00–18:30         |
| Jonas | Berlin  | +1 / +2    | 08:30–17:00         |
| Aylin | Berlin  | +1 / +2    | 09:00–17:30         |
| Sam   | Toronto | −5 / −4    | 09:00–17:00         |
| Priya | Toronto | −5 / −4    | 10:00–18:00         |

All six overlap from 14:00 to 16:00 UTC, and from 15:00 to 16:00 UTC in the weeks when Europe \
and North America change their clocks on different dates.
",
    ),
    levels: &[
        ("Working hours", "Overlap and response times", None),
        (
            "Channels",
            "Listed",
            Some("Purposes are clear; the response times of the tracker and the call are not."),
        ),
        ("Decisions", "Who decides, where it is written", None),
    ],
    feedback: "A clear, short charter that a new team member could act on in their first week. \
               The working hours and the decision process are what the assignment asked for. \
               The channels say what each one is for, but not how fast each expects an answer: \
               add that, and this is full marks.",
    comments: &[
        (
            "Core hours: 14:00–16:00 UTC, when all of us are online.",
            "A two-hour overlap is realistic for these time zones. Say what happens when \
             someone is away during it.",
        ),
        (
            "**Tracker**: every piece of work, with its discussion.",
            "How soon should a question in the tracker get an answer?",
        ),
    ],
};

/// Configures the demo assignments and makes the first learner's graded submission, adding
/// only what is missing.
pub async fn seed(state: &AppState, tenant: &Tenant) -> anyhow::Result<()> {
    let instructor = super::signed_in(state, tenant, Role::Instructor).await?;
    let learner = super::signed_in(state, tenant, Role::Learner).await?;
    let due = due_date(Utc::now());
    for demo in &ASSIGNMENTS {
        let Some((course, item)) = assignment_item(state, &instructor, demo).await? else {
            tracing::info!(
                course = demo.course,
                assignment = demo.title,
                "the demo course or its assignment item is gone; not seeded"
            );
            continue;
        };
        configure(state, &instructor, course, item, demo, due).await?;
        if let Some(graded) = demo.graded {
            graded_submission(state, &instructor, &learner, course, item, graded)
                .await
                .with_context(|| format!("the demo submission to {:?}", demo.title))?;
        }
    }
    Ok(())
}

/// The end of the day two weeks on.
fn due_date(now: DateTime<Utc>) -> DateTime<Utc> {
    let day = now + Duration::days(DUE_IN_DAYS);
    day.date_naive()
        .and_hms_opt(23, 59, 0)
        .map_or(day, |end| end.and_utc())
}

/// The demo course's assignment item, unless an instructor deleted them.
async fn assignment_item(
    state: &AppState,
    instructor: &Caller,
    demo: &DemoAssignment,
) -> anyhow::Result<Option<(CourseId, ItemId)>> {
    super::course_item(
        state,
        instructor,
        demo.course,
        ItemKind::Assignment,
        demo.title,
    )
    .await
}

fn rubric(demo: &DemoAssignment) -> RubricInput {
    RubricInput {
        criteria: demo
            .rubric
            .iter()
            .map(|c| CriterionInput {
                title: c.title.to_owned(),
                description: c.description.to_owned(),
                levels: c
                    .levels
                    .iter()
                    .map(|(title, description, points)| LevelInput {
                        title: (*title).to_owned(),
                        description: (*description).to_owned(),
                        points: *points,
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// Saves the assignment's settings while it has none.
async fn configure(
    state: &AppState,
    instructor: &Caller,
    course: CourseId,
    item: ItemId,
    demo: &DemoAssignment,
    due: DateTime<Utc>,
) -> anyhow::Result<()> {
    match settings::get(state, instructor, course, item).await {
        Ok(_) => return Ok(()),
        Err(ApiError::Conflict {
            code: codes::ASSIGNMENT_NOT_READY,
            ..
        }) => {}
        Err(err) => return Err(err).seeding("reading a demo assignment"),
    }
    let input = AssignmentInput {
        instructions: demo.instructions.to_owned(),
        due_at: Some(due),
        late_policy: LatePolicy::Penalty,
        late_penalty_percent: Some(LATE_PENALTY_PERCENT),
        accepts_text: true,
        accepts_files: true,
        max_files: Some(3),
        max_file_bytes: Some(5 * 1024 * 1024),
        file_extensions: demo
            .file_extensions
            .iter()
            .map(|e| (*e).to_owned())
            .collect(),
        points: None,
        passing_percent: Some(PASSING_PERCENT),
        rubric: Some(rubric(demo)),
    };
    settings::save(state, instructor, SEED_IP, course, item, input)
        .await
        .seeding("configuring a demo assignment")?;
    Ok(())
}

/// The learner's submission, made unless they have one, then graded and released by the
/// instructor while it is the seed's and waits for a grade.
async fn graded_submission(
    state: &AppState,
    instructor: &Caller,
    learner: &Caller,
    course: CourseId,
    item: ItemId,
    demo: &DemoSubmission,
) -> anyhow::Result<()> {
    let mine = submissions::mine(state, learner, course, item)
        .await
        .seeding("reading the demo learner's submissions")?;
    let current: Submission = match mine.submissions.into_iter().next() {
        Some(newest) => newest,
        None if !mine.can_submit => {
            tracing::info!(
                assignment = mine.assignment.title,
                "the demo assignment takes no submission now; the demo learner has none"
            );
            return Ok(());
        }
        None => {
            let (name, content) = demo.file;
            let form = Form {
                text: Some(demo.text.to_owned()),
                files: vec![(name.to_owned(), content.as_bytes().to_vec())],
            };
            submissions::submit(state, learner, course, item, async { Ok(form) })
                .await
                .seeding("submitting the demo submission")?
        }
    };
    if current.status != SubmissionStatus::Submitted || current.text.as_deref() != Some(demo.text) {
        return Ok(());
    }
    let Some(levels) = mine
        .assignment
        .rubric
        .as_ref()
        .and_then(|r| levels(r, demo))
    else {
        tracing::warn!(
            assignment = mine.assignment.title,
            "the demo assignment's rubric is not the demo's; its submission waits for a grade"
        );
        return Ok(());
    };
    let inline_comments = demo
        .comments
        .iter()
        .map(|(quote, comment)| {
            Ok(InlineComment {
                anchor: span(demo.text, quote)?,
                comment: (*comment).to_owned(),
            })
        })
        .collect::<anyhow::Result<_>>()?;
    grading::grade(
        state,
        instructor,
        SEED_IP,
        current.id,
        GradeInput {
            rubric: Some(levels),
            points: None,
            feedback: demo.feedback.to_owned(),
            inline_comments,
            release: true,
        },
    )
    .await
    .seeding("grading the demo submission")?;
    Ok(())
}

/// The instructor's level for every criterion of the saved rubric, found by their titles;
/// `None` when the rubric has criteria or levels the demo does not know.
fn levels(rubric: &Rubric, demo: &DemoSubmission) -> Option<Vec<CriterionGrade>> {
    rubric
        .criteria
        .iter()
        .map(|criterion| {
            let (_, level, comment) = demo.levels.iter().find(|(c, ..)| *c == criterion.title)?;
            let level = criterion.levels.iter().find(|l| l.title == *level)?;
            Some(CriterionGrade {
                criterion_id: criterion.id,
                level_id: level.id,
                comment: comment.map(str::to_owned),
            })
        })
        .collect()
}

/// Where `quote` is in `text`, in characters as inline comments count them.
fn span(text: &str, quote: &str) -> anyhow::Result<Anchor> {
    let at = text
        .find(quote)
        .with_context(|| format!("the demo comment's passage {quote:?} is not in the text"))?;
    let start = text[..at].chars().count();
    let end = start + quote.chars().count();
    Ok(Anchor::Text {
        start: u32::try_from(start)?,
        end: u32::try_from(end)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_spans_count_characters() {
        let text = "Core hours: 14:00–16:00 UTC.";
        assert_eq!(
            span(text, "16:00 UTC").ok(),
            Some(Anchor::Text { start: 18, end: 27 })
        );
        assert!(span(text, "17:00").is_err());
        for (quote, _) in CHARTER.comments {
            assert!(span(CHARTER.text, quote).is_ok(), "{quote}");
        }
    }

    #[test]
    fn the_demo_rubrics_are_valid_and_worth_ten_points() {
        for demo in &ASSIGNMENTS {
            let parsed = Rubric::parse(&rubric(demo)).expect("a valid rubric");
            assert_eq!(parsed.points(), 10.0, "{}", demo.title);
            if let Some(graded) = demo.graded {
                let levels = levels(&parsed, graded).expect("a level for every criterion");
                assert_eq!(parsed.score(&levels).ok(), Some(8.0), "{}", demo.title);
            }
        }
    }

    #[test]
    fn the_due_date_is_the_end_of_a_day_two_weeks_on() {
        let now = DateTime::parse_from_rfc3339("2025-03-03T10:15:00Z")
            .expect("a date")
            .with_timezone(&Utc);
        assert_eq!(due_date(now).to_rfc3339(), "2025-03-17T23:59:00+00:00");
    }
}
