//! Reading a submission's `multipart/form-data` body: a `text` field and `files` fields, each
//! file read in chunks and refused as soon as it outgrows the largest file any assignment takes.

use axum::extract::Multipart;
use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::http::StatusCode;

use super::settings::MAX_FILE_BYTES;
use crate::error::{ApiError, ApiResult, FieldError};

/// The most files one submission form may carry (assignments allow at most 20).
const MAX_PARTS: usize = 21;
/// The largest text answer read (the submission rules allow 100,000 characters).
const MAX_TEXT_BYTES: usize = 400_000;
/// The largest submission body: every file at the largest size would be too much to hold, so
/// a submission's files together may have at most this many bytes.
pub const MAX_FORM_BYTES: usize = 64 * 1024 * 1024;

/// A submission form as sent.
#[derive(Debug, Default)]
pub struct Form {
    pub text: Option<String>,
    /// (file name as sent, content)
    pub files: Vec<(String, Vec<u8>)>,
}

fn malformed(err: &MultipartError) -> ApiError {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge
    } else {
        ApiError::BadRequest {
            code: "invalid_multipart",
            detail: format!("the form could not be read: {}", err.body_text()),
        }
    }
}

/// The form, or a clear 4xx: not multipart or malformed (400), too large (413), unknown fields
/// or too many files (422).
pub async fn read(form: Result<Multipart, MultipartRejection>) -> ApiResult<Form> {
    // The only rejection is a missing or unusable boundary: not a multipart form.
    let mut multipart = form.map_err(|rejection| ApiError::BadRequest {
        code: "multipart_required",
        detail: format!(
            "send the submission as multipart/form-data ({})",
            rejection.body_text()
        ),
    })?;
    let mut out = Form::default();
    let mut parts = 0usize;
    while let Some(mut field) = multipart.next_field().await.map_err(|e| malformed(&e))? {
        parts += 1;
        if parts > MAX_PARTS {
            return Err(ApiError::Validation(vec![FieldError::new(
                "files",
                "too_many",
                "at most 20 files",
            )]));
        }
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "text" if out.text.is_none() && field.file_name().is_none() => {
                let bytes = collect(&mut field, MAX_TEXT_BYTES, "text").await?;
                let text = String::from_utf8(bytes).map_err(|_| {
                    ApiError::Validation(vec![FieldError::new(
                        "text",
                        "invalid_text",
                        "the text must be UTF-8",
                    )])
                })?;
                if text.contains('\0') {
                    return Err(ApiError::nul_character("the text"));
                }
                out.text = Some(text);
            }
            "files" | "files[]" => {
                let file_name = field.file_name().unwrap_or_default().to_owned();
                if file_name.contains('\0') {
                    return Err(ApiError::nul_character("a file name"));
                }
                let at = format!("files[{}]", out.files.len());
                let limit = usize::try_from(MAX_FILE_BYTES).unwrap_or(usize::MAX);
                let bytes = collect(&mut field, limit, &at).await?;
                out.files.push((file_name, bytes));
            }
            other => {
                return Err(ApiError::Validation(vec![FieldError::new(
                    if other.is_empty() { "form" } else { other },
                    "unknown_field",
                    "the form takes one `text` field and `files` fields",
                )]));
            }
        }
    }
    Ok(out)
}

async fn collect(
    field: &mut axum::extract::multipart::Field<'_>,
    limit: usize,
    at: &str,
) -> ApiResult<Vec<u8>> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| malformed(&e))? {
        if bytes.len() + chunk.len() > limit {
            return Err(ApiError::Validation(vec![FieldError::new(
                at,
                "file_too_large",
                format!("at most {limit} bytes"),
            )]));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}
