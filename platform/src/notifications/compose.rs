//! What a notification says: one event's data, worded for the user it is about.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::NotificationKind;
use crate::users::UserId;

/// A notification about to be written.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub user: UserId,
    pub kind: NotificationKind,
    pub title: String,
    pub body: String,
    pub link: Option<String>,
    pub subject: Option<uuid::Uuid>,
}

/// The fields of the notifying events' data that a notification uses.
#[derive(Debug, Deserialize)]
pub struct EventData {
    pub user_id: UserId,
    pub course_id: uuid::Uuid,
    /// The item it is about; for `module.unlocked`, the module's first item.
    #[serde(default, alias = "first_item_id")]
    pub item_id: Option<uuid::Uuid>,
    #[serde(default)]
    pub module_id: Option<uuid::Uuid>,
    #[serde(default)]
    enrollment_id: Option<uuid::Uuid>,
    #[serde(default)]
    attempt_id: Option<uuid::Uuid>,
    #[serde(default)]
    submission_id: Option<uuid::Uuid>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    score: Option<f64>,
    #[serde(default)]
    max_score: Option<f64>,
    #[serde(default)]
    percent: Option<f64>,
    #[serde(default)]
    passed: Option<bool>,
    #[serde(default)]
    released: Option<bool>,
}

impl EventData {
    /// Whether the event is news to its user: not an enrollment they made themselves, not a
    /// grade still held back from them.
    pub fn notifies(&self, kind: NotificationKind) -> bool {
        match kind {
            NotificationKind::Enrolled => self.source.as_deref() != Some("self"),
            NotificationKind::AssignmentGraded => self.released == Some(true),
            NotificationKind::QuizGraded
            | NotificationKind::CourseCompleted
            | NotificationKind::ModuleUnlocked => true,
            // Not caused by events (see `NotificationKind::of_event`).
            NotificationKind::AssignmentDueSoon | NotificationKind::InvitationAccepted => false,
        }
    }
}

/// The titles a notification names.
#[derive(Debug, Default, sqlx::FromRow)]
pub struct Titles {
    pub course: String,
    pub item: Option<String>,
    pub module: Option<String>,
}

/// The notification for an event's `data`, given the titles it names; `None` for the kinds no
/// event causes.
pub fn draft(kind: NotificationKind, data: &EventData, titles: &Titles) -> Option<Draft> {
    let course = &titles.course;
    let item_title = titles.item.as_deref().unwrap_or(course);
    let course_link = format!("/courses/{}", data.course_id);
    let item_link = data.item_id.map_or_else(
        || course_link.clone(),
        |item| format!("{course_link}/items/{item}"),
    );
    let (title, body, link, subject) = match kind {
        NotificationKind::Enrolled => (
            format!("You were enrolled in {course}"),
            String::new(),
            course_link,
            data.enrollment_id,
        ),
        NotificationKind::CourseCompleted => (
            format!("You completed {course}"),
            "Every required item of the course is complete.".to_owned(),
            course_link,
            data.enrollment_id,
        ),
        NotificationKind::ModuleUnlocked => (
            format!(
                "{} is open",
                titles.module.as_deref().unwrap_or("The next module")
            ),
            format!("Continue {course} with {item_title}."),
            item_link,
            data.enrollment_id,
        ),
        NotificationKind::QuizGraded => (
            format!("{item_title} was graded"),
            grade_line(data),
            item_link,
            data.attempt_id,
        ),
        NotificationKind::AssignmentGraded => (
            format!("{item_title} was graded"),
            grade_line(data),
            item_link,
            data.submission_id,
        ),
        NotificationKind::AssignmentDueSoon | NotificationKind::InvitationAccepted => return None,
    };
    Some(Draft::new(
        data.user_id,
        kind,
        title,
        body,
        Some(link),
        subject,
    ))
}

impl Draft {
    /// A notification with its title and body clipped to what the inbox stores.
    pub fn new(
        user: UserId,
        kind: NotificationKind,
        title: String,
        body: String,
        link: Option<String>,
        subject: Option<uuid::Uuid>,
    ) -> Self {
        Self {
            user,
            kind,
            title: clip(title, 300),
            body: clip(body, 2000),
            link,
            subject,
        }
    }
}

/// "Essay 1 is due in 5 hours": an assignment the user has not submitted, due at `due_at`.
pub fn due_soon(
    user: UserId,
    course: (uuid::Uuid, &str),
    item: (uuid::Uuid, &str),
    due_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Draft {
    let hours = ((due_at - now).num_minutes().max(0) + 59) / 60;
    let when = match hours {
        0 | 1 => "within the hour".to_owned(),
        h => format!("in {h} hours"),
    };
    Draft::new(
        user,
        NotificationKind::AssignmentDueSoon,
        format!("{} is due {when}", item.1),
        format!(
            "Due {} (UTC) in {}. You have not submitted it yet.",
            due_at.format("%Y-%m-%d %H:%M"),
            course.1
        ),
        Some(format!("/courses/{}/items/{}", course.0, item.0)),
        Some(item.0),
    )
}

/// "Ada Lovelace accepted your invitation", for the admin who invited them.
pub fn invitation_accepted(inviter: UserId, invitee: UserId, name: &str, email: &str) -> Draft {
    Draft::new(
        inviter,
        NotificationKind::InvitationAccepted,
        format!("{name} accepted your invitation"),
        format!("{email} has joined and can sign in now."),
        Some(format!("/users/{invitee}")),
        Some(invitee.0),
    )
}

/// "Score 8 of 10 (80%): passed." with what the event knows.
fn grade_line(data: &EventData) -> String {
    let mut line = String::new();
    if let Some(score) = data.score {
        line.push_str(&format!("Score {}", number(score)));
        if let Some(max) = data.max_score {
            line.push_str(&format!(" of {}", number(max)));
        }
        if let Some(percent) = data.percent {
            line.push_str(&format!(" ({}%)", number(percent)));
        }
    }
    match data.passed {
        Some(passed) => {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(if passed { "passed." } else { "not passed." });
        }
        None if !line.is_empty() => line.push('.'),
        None => {}
    }
    line
}

/// Up to two decimals, without trailing zeros.
fn number(x: f64) -> String {
    let rounded = (x * 100.0).round() / 100.0;
    let text = format!("{rounded:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn clip(mut text: String, max_chars: usize) -> String {
    if let Some((at, _)) = text.char_indices().nth(max_chars) {
        text.truncate(at);
    }
    text
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn data(value: serde_json::Value) -> EventData {
        serde_json::from_value(value).expect("event data")
    }

    #[test]
    fn grades_are_worded_with_what_the_event_knows() {
        let course = uuid::Uuid::now_v7();
        let item = uuid::Uuid::now_v7();
        let quiz = data(json!({
            "attempt_id": uuid::Uuid::now_v7(), "course_id": course, "item_id": item,
            "user_id": uuid::Uuid::now_v7(), "score": 8.0, "max_score": 10.0,
            "percent": 80.0, "passed": true,
        }));
        let titles = Titles {
            course: "Algebra".into(),
            item: Some("Quiz 1".into()),
            module: None,
        };
        let d = draft(NotificationKind::QuizGraded, &quiz, &titles).expect("a quiz notifies");
        assert_eq!(d.title, "Quiz 1 was graded");
        assert_eq!(d.body, "Score 8 of 10 (80%): passed.");
        assert_eq!(d.link, Some(format!("/courses/{course}/items/{item}")));
        let pending = data(json!({
            "course_id": course, "user_id": uuid::Uuid::now_v7(), "score": null,
            "max_score": 12.5, "percent": null, "passed": null,
        }));
        assert_eq!(grade_line(&pending), "");
        assert_eq!(number(2.0 / 3.0), "0.67");
    }

    #[test]
    fn self_enrollment_and_held_back_grades_notify_nobody() {
        let base = json!({ "course_id": uuid::Uuid::now_v7(), "user_id": uuid::Uuid::now_v7() });
        let with = |extra: serde_json::Value| {
            let mut v = base.clone();
            if let (Some(v), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
                v.extend(extra.clone());
            }
            data(v)
        };
        assert!(!with(json!({ "source": "self" })).notifies(NotificationKind::Enrolled));
        assert!(with(json!({ "source": "cohort" })).notifies(NotificationKind::Enrolled));
        assert!(!with(json!({ "released": false })).notifies(NotificationKind::AssignmentGraded));
        assert!(with(json!({ "released": true })).notifies(NotificationKind::AssignmentGraded));
    }

    #[test]
    fn an_opened_module_points_at_its_first_item() {
        let course = uuid::Uuid::now_v7();
        let first = uuid::Uuid::now_v7();
        let event = data(json!({
            "enrollment_id": uuid::Uuid::now_v7(), "course_id": course,
            "module_id": uuid::Uuid::now_v7(), "user_id": uuid::Uuid::now_v7(),
            "first_item_id": first, "unlocked_at": "2026-12-05T10:00:00Z",
        }));
        assert!(event.notifies(NotificationKind::ModuleUnlocked));
        let titles = Titles {
            course: "Algebra".into(),
            item: Some("Fractions".into()),
            module: Some("Week 2".into()),
        };
        let d = draft(NotificationKind::ModuleUnlocked, &event, &titles).expect("notifies");
        assert_eq!(d.title, "Week 2 is open");
        assert_eq!(d.body, "Continue Algebra with Fractions.");
        assert_eq!(d.link, Some(format!("/courses/{course}/items/{first}")));
        assert!(draft(NotificationKind::AssignmentDueSoon, &event, &titles).is_none());
    }

    #[test]
    fn due_soon_says_how_long_is_left_in_whole_hours() {
        let now = Utc::now();
        let user = UserId(uuid::Uuid::now_v7());
        let (course, item) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        let at = |minutes| {
            due_soon(
                user,
                (course, "Algebra"),
                (item, "Essay"),
                now + chrono::Duration::minutes(minutes),
                now,
            )
        };
        assert_eq!(at(59).title, "Essay is due within the hour");
        assert_eq!(at(61).title, "Essay is due in 2 hours");
        assert_eq!(at(24 * 60).title, "Essay is due in 24 hours");
        assert_eq!(at(-5).title, "Essay is due within the hour");
        assert!(
            at(90)
                .body
                .ends_with("in Algebra. You have not submitted it yet.")
        );
        assert_eq!(at(90).subject, Some(item));
    }

    #[test]
    fn long_titles_are_clipped_on_a_character_boundary() {
        assert_eq!(clip("é".repeat(400), 300).chars().count(), 300);
    }
}
