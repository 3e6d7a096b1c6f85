//! The team report as CSV (RFC 4180, UTF-8, a header row), one row per enrollment and
//! assessment: an enrollment's columns repeat on each of its course's quizzes and assignments,
//! and an enrollment in a course without any has one row with the assessment columns empty.
//! Names, emails and titles are user-controlled, so every text cell goes through
//! [`inert`]: one a spreadsheet would evaluate is prefixed with `'`.

use super::model::TeamReportRow;
use crate::progress::inert;

const HEADER: [&str; 21] = [
    "enrollment_id",
    "user_id",
    "display_name",
    "email",
    "course_id",
    "course_title",
    "status",
    "progress_percent",
    "completed_items",
    "counted_items",
    "enrolled_at",
    "last_activity_at",
    "completed_at",
    "assessment_kind",
    "assessment_item_id",
    "assessment_title",
    "quiz_attempts",
    "quiz_best_percent",
    "quiz_last_percent",
    "assignment_percent",
    "passed",
];

fn rfc3339(at: Option<chrono::DateTime<chrono::Utc>>) -> String {
    at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn number(value: Option<f64>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

fn flag(value: Option<bool>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// The rows as a CSV document.
pub fn to_csv(rows: &[TeamReportRow]) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::with_capacity(256 + rows.len() * 300));
    out.write_record(HEADER)?;
    for row in rows {
        let enrollment = [
            row.enrollment_id.0.to_string(),
            row.user_id.0.to_string(),
            inert(&row.display_name),
            inert(&row.email),
            row.course_id.0.to_string(),
            inert(&row.course_title),
            row.status.as_str().to_owned(),
            row.progress.percent.to_string(),
            row.progress.required_completed.to_string(),
            row.progress.required_total.to_string(),
            rfc3339(Some(row.enrolled_at)),
            rfc3339(row.last_activity_at),
            rfc3339(row.progress.completed_at),
        ];
        let mut assessments: Vec<[String; 8]> = Vec::new();
        for quiz in &row.quizzes {
            assessments.push([
                "quiz".to_owned(),
                quiz.item_id.0.to_string(),
                inert(&quiz.title),
                quiz.attempts.to_string(),
                number(quiz.best_percent),
                number(quiz.last_percent),
                String::new(),
                flag(quiz.passed),
            ]);
        }
        for assignment in &row.assignments {
            assessments.push([
                "assignment".to_owned(),
                assignment.item_id.0.to_string(),
                inert(&assignment.title),
                String::new(),
                String::new(),
                String::new(),
                number(assignment.percent),
                flag(assignment.passed),
            ]);
        }
        if assessments.is_empty() {
            assessments.push(Default::default());
        }
        for assessment in assessments {
            out.write_record(enrollment.iter().chain(assessment.iter()))?;
        }
    }
    out.into_inner().map_err(|e| e.into_error().into())
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use uuid::Uuid;

    use super::*;
    use crate::courses::{CourseId, ItemId};
    use crate::enrollments::EnrollmentId;
    use crate::progress::CourseProgress;
    use crate::reports::model::{AssignmentResult, ReportStatus};
    use crate::users::UserId;

    fn row(title: &str) -> TeamReportRow {
        TeamReportRow {
            enrollment_id: EnrollmentId(Uuid::now_v7()),
            user_id: UserId(Uuid::now_v7()),
            display_name: "-1 Dee".into(),
            email: "dee@example.com".into(),
            course_id: CourseId(Uuid::now_v7()),
            course_title: title.into(),
            status: ReportStatus::InProgress,
            enrolled_at: Utc::now(),
            last_activity_at: None,
            progress: CourseProgress::new(1, 2, None),
            quizzes: Vec::new(),
            assignments: Vec::new(),
        }
    }

    #[test]
    fn one_row_per_assessment_or_one_for_a_course_without_any() {
        let mut graded = row("Essays, \"advanced\"");
        graded.assignments.push(AssignmentResult {
            item_id: ItemId(Uuid::now_v7()),
            title: "=1+1".into(),
            percent: Some(80.0),
            passed: Some(true),
            released_at: Some(Utc::now()),
        });
        let csv = to_csv(&[row("Plain"), graded]).expect("csv");
        let mut reader = csv::Reader::from_reader(csv.as_slice());
        let records: Vec<csv::StringRecord> =
            reader.records().map(|r| r.expect("record")).collect();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].len(), HEADER.len());
        assert_eq!(&records[0][2], "'-1 Dee");
        assert_eq!(&records[0][13], "");
        assert_eq!(&records[1][5], "Essays, \"advanced\"");
        assert_eq!(&records[1][13], "assignment");
        assert_eq!(&records[1][15], "'=1+1");
        assert_eq!(&records[1][19], "80");
        assert_eq!(&records[1][20], "true");
    }
}
