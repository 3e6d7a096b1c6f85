//! What a notification says: one event's data, worded for the user it is about.

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
    #[serde(default)]
    pub item_id: Option<uuid::Uuid>,
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
            NotificationKind::QuizGraded | NotificationKind::CourseCompleted => true,
        }
    }
}

/// The notification for `data`, given the course's title and the item's.
pub fn draft(kind: NotificationKind, data: &EventData, course: &str, item: Option<&str>) -> Draft {
    let item_title = item.unwrap_or(course);
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
    };
    Draft {
        user: data.user_id,
        kind,
        title: clip(title, 300),
        body: clip(body, 2000),
        link: Some(link),
        subject,
    }
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
        let d = draft(
            NotificationKind::QuizGraded,
            &quiz,
            "Algebra",
            Some("Quiz 1"),
        );
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
    fn long_titles_are_clipped_on_a_character_boundary() {
        assert_eq!(clip("é".repeat(400), 300).chars().count(), 300);
    }
}
