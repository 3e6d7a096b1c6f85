//! The progress table as CSV (RFC 4180, UTF-8, a header row).
//!
//! Names and emails are learner-controlled and the file is opened in spreadsheets, so a cell that
//! a spreadsheet would read as a formula (starting with `=`, `+`, `-`, `@`, tab or carriage
//! return) is prefixed with an apostrophe (OWASP's advice against CSV injection).

use super::model::LearnerProgress;
use super::service::rfc3339;

const HEADER: [&str; 12] = [
    "enrollment_id",
    "user_id",
    "display_name",
    "email",
    "status",
    "progress_percent",
    "required_completed",
    "required_total",
    "time_spent_seconds",
    "enrolled_at",
    "last_activity_at",
    "completed_at",
];

/// A cell a spreadsheet shows as text, never evaluates.
pub fn inert(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

/// The rows as a CSV document.
pub fn to_csv(rows: &[LearnerProgress]) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::with_capacity(64 + rows.len() * 160));
    out.write_record(HEADER)?;
    for row in rows {
        out.write_record([
            row.enrollment_id.0.to_string(),
            row.user_id.0.to_string(),
            inert(&row.display_name),
            inert(&row.email),
            row.status.as_str().to_owned(),
            row.progress.percent.to_string(),
            row.progress.required_completed.to_string(),
            row.progress.required_total.to_string(),
            row.time_spent_seconds.to_string(),
            rfc3339(Some(row.enrolled_at)),
            rfc3339(row.last_activity_at),
            rfc3339(row.progress.completed_at),
        ])?;
    }
    out.into_inner().map_err(|e| e.into_error().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_made_inert_and_plain_text_is_kept() {
        assert_eq!(inert("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(inert("+1"), "'+1");
        assert_eq!(inert("-2"), "'-2");
        assert_eq!(inert("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(inert("\tx"), "'\tx");
        assert_eq!(inert("Ada Lovelace"), "Ada Lovelace");
        assert_eq!(inert("a=b"), "a=b");
    }
}
