//! Reading an uploaded CSV: the body (`text/csv`, or a `multipart/form-data` form with one `file`
//! field) is bounded in bytes before it is read and in rows while it is parsed; the header is
//! checked against the kind's columns at once, so a wrong file is refused in the response.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{HeaderMap, StatusCode, header};

use super::model::ImportKind;
use crate::error::{ApiError, ApiResult, FieldError};

/// The largest file accepted.
pub const MAX_FILE_BYTES: usize = 5 << 20;
/// The largest request body: the file plus a multipart form's own bytes.
pub const MAX_BODY_BYTES: usize = MAX_FILE_BYTES + (64 << 10);
/// The most data rows a file may have (the header not counted).
pub const MAX_ROWS: usize = 10_000;

/// A file's columns: those a row must have and those it may have.
pub struct Columns {
    pub required: &'static [&'static str],
    pub optional: &'static [&'static str],
}

pub fn columns(kind: ImportKind) -> Columns {
    match kind {
        ImportKind::Users => Columns {
            required: &["email"],
            optional: &["name", "roles", "cohort", "status"],
        },
        ImportKind::Enrollments => Columns {
            required: &["email", "course"],
            optional: &["cohort"],
        },
    }
}

/// A file as sent: its name (from a form) and bytes.
pub struct Upload {
    pub file_name: Option<String>,
    pub bytes: Bytes,
}

fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

fn unreadable(rejection: &BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge
    } else {
        ApiError::BadRequest {
            code: "unreadable_body",
            detail: "the request body could not be read".into(),
        }
    }
}

/// Reads the request's file: a `text/csv` body, or the `file` field of a multipart form.
pub async fn read(request: Request) -> ApiResult<Upload> {
    let headers = request.headers().clone();
    let media = media_type(&headers);
    match media.as_str() {
        "text/csv" | "application/csv" | "text/plain" => {
            let bytes = Bytes::from_request(request, &())
                .await
                .map_err(|r| unreadable(&r))?;
            if bytes.len() > MAX_FILE_BYTES {
                return Err(ApiError::PayloadTooLarge);
            }
            Ok(Upload {
                file_name: None,
                bytes,
            })
        }
        "multipart/form-data" => read_form(request).await,
        _ => Err(ApiError::WrongMediaType {
            expected: "text/csv or multipart/form-data",
        }),
    }
}

async fn read_form(request: Request) -> ApiResult<Upload> {
    let mut form = Multipart::from_request(request, &())
        .await
        .map_err(|rejection| ApiError::BadRequest {
            code: "invalid_multipart",
            detail: format!("the form could not be read ({})", rejection.body_text()),
        })?;
    let malformed = |err: axum::extract::multipart::MultipartError| {
        if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::BadRequest {
                code: "invalid_multipart",
                detail: format!("the form could not be read: {}", err.body_text()),
            }
        }
    };
    let mut upload = None;
    while let Some(mut field) = form.next_field().await.map_err(malformed)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name != "file" || upload.is_some() {
            return Err(ApiError::Validation(vec![FieldError::new(
                if name.is_empty() { "form" } else { &name },
                "unknown_field",
                "the form takes one `file` field",
            )]));
        }
        let file_name = field.file_name().map(clean_file_name);
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(malformed)? {
            if bytes.len() + chunk.len() > MAX_FILE_BYTES {
                return Err(ApiError::PayloadTooLarge);
            }
            bytes.extend_from_slice(&chunk);
        }
        upload = Some(Upload {
            file_name,
            bytes: bytes.into(),
        });
    }
    upload.ok_or_else(|| {
        ApiError::Validation(vec![FieldError::new(
            "file",
            "missing",
            "send the CSV as the form's `file` field",
        )])
    })
}

/// A file name to show back: no control characters, at most 255 characters.
fn clean_file_name(raw: &str) -> String {
    raw.chars()
        .filter(|c| !c.is_control())
        .take(255)
        .collect::<String>()
}

/// A parsed file: its header and its rows.
#[derive(Debug)]
pub struct ParsedFile {
    pub columns: Vec<String>,
    pub rows: Vec<ParsedRow>,
}

#[derive(Debug)]
pub struct ParsedRow {
    /// As a spreadsheet numbers it: the header is row 1.
    pub row_number: i32,
    /// Trimmed cells; at most one more than the header has (enough to say the row is wrong).
    pub cells: Vec<String>,
    /// The first earlier row with the same email (and course, for enrollments).
    pub duplicate_of: Option<i32>,
}

fn file_problem(code: &str, message: impl Into<String>) -> ApiError {
    ApiError::Validation(vec![FieldError::new("file", code, message)])
}

/// Parses and checks a file of `kind`: UTF-8 (a byte-order mark is skipped), a header naming
/// each required column once and no unknown one, 1 to [`MAX_ROWS`] rows.
pub fn parse(kind: ImportKind, bytes: &[u8]) -> ApiResult<ParsedFile> {
    if bytes.contains(&0) {
        return Err(ApiError::nul_character("the file"));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes)
        .map_err(|_| file_problem("invalid_encoding", "the file must be UTF-8 text"))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let header = match records.next() {
        Some(Ok(header)) => header,
        Some(Err(err)) => return Err(malformed(&err)),
        None => return Err(file_problem("missing_header", "the file is empty")),
    };
    let columns = check_header(kind, &header)?;
    let index = |name: &str| columns.iter().position(|c| c == name);
    let key_columns: Vec<usize> = match kind {
        ImportKind::Users => vec![index("email")],
        ImportKind::Enrollments => vec![index("email"), index("course")],
    }
    .into_iter()
    .flatten()
    .collect();
    let mut first_of: HashMap<Vec<String>, i32> = HashMap::new();
    let mut rows = Vec::new();
    for (at, record) in records.enumerate() {
        let record = record.map_err(|err| malformed(&err))?;
        if rows.len() == MAX_ROWS {
            return Err(ApiError::Unprocessable {
                code: "too_many_rows",
                detail: format!(
                    "the file has more than {MAX_ROWS} rows; split it into files of at most \
                     {MAX_ROWS} rows"
                ),
            });
        }
        let row_number = i32::try_from(at + 2).unwrap_or(i32::MAX);
        let cells: Vec<String> = record
            .iter()
            .take(columns.len() + 1)
            .map(|c| c.trim().to_owned())
            .collect();
        let key: Vec<String> = key_columns
            .iter()
            .map(|&i| cells.get(i).map(|c| c.to_lowercase()).unwrap_or_default())
            .collect();
        let duplicate_of = if key.iter().any(String::is_empty) {
            None
        } else {
            match first_of.get(&key) {
                Some(&first) => Some(first),
                None => {
                    first_of.insert(key, row_number);
                    None
                }
            }
        };
        rows.push(ParsedRow {
            row_number,
            cells,
            duplicate_of,
        });
    }
    if rows.is_empty() {
        return Err(file_problem("no_rows", "the file has a header but no rows"));
    }
    Ok(ParsedFile { columns, rows })
}

fn malformed(err: &csv::Error) -> ApiError {
    let at = err
        .position()
        .map(|p| format!(" at line {}", p.line()))
        .unwrap_or_default();
    file_problem("malformed_csv", format!("the file is not valid CSV{at}"))
}

/// The header's column names, or every problem with them, each naming its column.
fn check_header(kind: ImportKind, header: &csv::StringRecord) -> ApiResult<Vec<String>> {
    let allowed = columns(kind);
    let names: Vec<String> = header.iter().map(|h| h.trim().to_lowercase()).collect();
    let mut problems = Vec::new();
    let mut seen = Vec::new();
    for name in &names {
        let shown: String = name.chars().take(100).collect();
        if name.is_empty() {
            problems.push(FieldError::new(
                "header",
                "empty_column",
                "a column of the header has no name",
            ));
        } else if !allowed.required.contains(&name.as_str())
            && !allowed.optional.contains(&name.as_str())
        {
            problems.push(FieldError::new(
                shown,
                "unknown_column",
                format!(
                    "unknown column; a {} file has the columns {}",
                    kind.as_str(),
                    allowed
                        .required
                        .iter()
                        .chain(allowed.optional)
                        .copied()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        } else if seen.contains(&name) {
            problems.push(FieldError::new(
                shown,
                "duplicate_column",
                "the column appears more than once in the header",
            ));
        } else {
            seen.push(name);
        }
    }
    for required in allowed.required {
        if !names.iter().any(|n| n == required) {
            problems.push(FieldError::new(
                *required,
                "missing_column",
                format!("a {} file needs this column", kind.as_str()),
            ));
        }
    }
    if problems.is_empty() {
        Ok(names)
    } else {
        Err(ApiError::Validation(problems))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(result: ApiResult<ParsedFile>) -> Vec<(String, String)> {
        match result {
            Err(ApiError::Validation(errors)) => {
                errors.into_iter().map(|e| (e.field, e.code)).collect()
            }
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn header_problems_name_their_column() {
        assert_eq!(
            problems(parse(
                ImportKind::Users,
                b"Email,nickname,email\na@b.co,x,y\n"
            )),
            vec![
                ("nickname".into(), "unknown_column".into()),
                ("email".into(), "duplicate_column".into())
            ]
        );
        assert_eq!(
            problems(parse(ImportKind::Enrollments, b"email\na@b.co\n")),
            vec![("course".into(), "missing_column".into())]
        );
        assert_eq!(
            problems(parse(ImportKind::Users, b"")),
            vec![("file".into(), "missing_header".into())]
        );
        assert_eq!(
            problems(parse(ImportKind::Users, b"email,name\n")),
            vec![("file".into(), "no_rows".into())]
        );
    }

    #[test]
    fn rows_are_numbered_as_a_spreadsheet_does_and_repeats_found() {
        let file = parse(
            ImportKind::Users,
            b"\xEF\xBB\xBF email , Name\nA@b.co, Ada \n\"multi\nline\"@b.co,x\na@B.co,again\n",
        )
        .expect("parsed");
        assert_eq!(file.columns, vec!["email", "name"]);
        let numbers: Vec<i32> = file.rows.iter().map(|r| r.row_number).collect();
        assert_eq!(numbers, vec![2, 3, 4]);
        assert_eq!(file.rows[0].cells, vec!["A@b.co", "Ada"]);
        assert_eq!(file.rows[2].duplicate_of, Some(2));
        assert_eq!(file.rows[1].duplicate_of, None);
    }

    #[test]
    fn too_many_rows_and_bad_bytes_are_refused() {
        let mut big = String::from("email\n");
        for i in 0..=MAX_ROWS {
            big.push_str(&format!("u{i}@example.com\n"));
        }
        assert!(matches!(
            parse(ImportKind::Users, big.as_bytes()),
            Err(ApiError::Unprocessable {
                code: "too_many_rows",
                ..
            })
        ));
        assert!(matches!(
            parse(ImportKind::Users, b"email\na\0@b.co\n"),
            Err(ApiError::BadRequest { .. })
        ));
        assert_eq!(
            problems(parse(ImportKind::Users, b"email\n\xff@b.co\n")),
            vec![("file".into(), "invalid_encoding".into())]
        );
    }
}
