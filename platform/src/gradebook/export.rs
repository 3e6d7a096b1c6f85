//! The gradebook as CSV (RFC 4180, UTF-8, a header row): a learner per row, an assessment per
//! column, then the course grade. Cells a spreadsheet would evaluate are made inert.

use super::model::{Column, LearnerGrades};
use crate::progress::inert;

/// A score cell: the percentage, or empty when nothing is graded.
fn cell(percent: Option<f64>) -> String {
    percent.map(|p| p.to_string()).unwrap_or_default()
}

pub fn to_csv(columns: &[Column], rows: &[LearnerGrades]) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::with_capacity(128 + rows.len() * 96));
    let mut header: Vec<String> = ["user_id", "display_name", "email", "status"]
        .map(str::to_owned)
        .to_vec();
    header.extend(columns.iter().map(|c| inert(&format!("{} (%)", c.title))));
    header.extend([
        "current_grade_percent".to_owned(),
        "final_grade_percent".to_owned(),
    ]);
    out.write_record(&header)?;
    for row in rows {
        let mut record = vec![
            row.user_id.0.to_string(),
            inert(&row.display_name),
            inert(&row.email),
            row.status.as_str().to_owned(),
        ];
        record.extend(row.scores.iter().map(|s| cell(s.percent)));
        record.push(cell(row.grade.current_percent));
        record.push(row.grade.final_percent.to_string());
        out.write_record(&record)?;
    }
    out.into_inner().map_err(|e| e.into_error().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::courses::ItemId;
    use crate::enrollments::{EnrollmentId, EnrollmentStatus};
    use crate::gradebook::model::{AssessmentKind, CourseGrade, Score};
    use crate::users::UserId;

    #[test]
    fn titles_and_names_cannot_become_formulas() {
        let column = Column {
            item_id: ItemId::default(),
            title: "=HYPERLINK(\"evil\")".into(),
            kind: AssessmentKind::Quiz,
            weight: 1.0,
            category: None,
            passing_percent: Some(50.0),
        };
        let row = LearnerGrades {
            enrollment_id: EnrollmentId::default(),
            user_id: UserId(uuid::Uuid::now_v7()),
            display_name: "@SUM(A1)".into(),
            email: "a@b.example".into(),
            status: EnrollmentStatus::Active,
            scores: vec![Score {
                item_id: column.item_id,
                percent: Some(87.5),
                passed: Some(true),
                released: true,
            }],
            grade: CourseGrade {
                current_percent: Some(87.5),
                final_percent: 87.5,
            },
        };
        let text = String::from_utf8(to_csv(&[column], &[row]).expect("csv")).expect("utf-8");
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some(
                "user_id,display_name,email,status,\"'=HYPERLINK(\"\"evil\"\") (%)\",current_grade_percent,final_grade_percent"
            )
        );
        let data = lines.next().expect("a row");
        assert!(
            data.contains(",'@SUM(A1),a@b.example,active,87.5,87.5,87.5"),
            "{data}"
        );
    }
}
