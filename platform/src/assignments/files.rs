//! What a submitted file may be: its name, its extension among the assignment's accepted ones,
//! and content that matches the extension for the formats with a signature. The content type
//! served back is derived from the extension, never taken from the client.

use crate::error::FieldError;

/// Accepted when an assignment names no extensions: documents, spreadsheets, slides, archives and
/// images; nothing a browser would run.
pub const DEFAULT_EXTENSIONS: [&str; 18] = [
    "pdf", "doc", "docx", "odt", "rtf", "txt", "md", "csv", "xlsx", "ods", "pptx", "odp", "zip",
    "png", "jpg", "jpeg", "gif", "webp",
];

/// The most extensions an assignment may list.
pub const MAX_EXTENSIONS: usize = 50;

/// The content type served for a file with this (lower-case) extension.
pub fn content_type(extension: &str) -> &'static str {
    match extension {
        "pdf" => "application/pdf",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "odt" => "application/vnd.oasis.opendocument.text",
        "rtf" => "application/rtf",
        "txt" | "md" | "csv" | "py" | "rs" | "java" | "c" | "sql" => "text/plain; charset=utf-8",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "ods" => "application/vnd.oasis.opendocument.spreadsheet",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "odp" => "application/vnd.oasis.opendocument.presentation",
        "zip" => "application/zip",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        _ => "application/octet-stream",
    }
}

/// The leading bytes files of this extension always start with, where the format has them.
fn signature(extension: &str) -> Option<&'static [&'static [u8]]> {
    const ZIP: &[&[u8]] = &[b"PK\x03\x04", b"PK\x05\x06"];
    Some(match extension {
        "pdf" => &[b"%PDF-"],
        "png" => &[b"\x89PNG\r\n\x1a\n"],
        "jpg" | "jpeg" => &[b"\xff\xd8\xff"],
        "gif" => &[b"GIF87a", b"GIF89a"],
        "zip" | "docx" | "xlsx" | "pptx" | "odt" | "ods" | "odp" => ZIP,
        "doc" => &[b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"],
        "rtf" => &[b"{\\rtf"],
        _ => return None,
    })
}

/// An extension an author lists: 1 to 10 lower-case letters or digits (a leading dot is dropped).
pub fn extension(field: &str, raw: &str) -> Result<String, FieldError> {
    let ext = raw.trim().trim_start_matches('.').to_ascii_lowercase();
    if ext.is_empty() || ext.len() > 10 || !ext.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(FieldError::new(
            field,
            "invalid_extension",
            "1 to 10 letters or digits, e.g. `pdf`",
        ));
    }
    Ok(ext)
}

/// A submitted file's name: its last path component (browsers may send a path), 1 to 255
/// characters without control characters. Returns the name and its lower-case extension.
pub fn file_name(field: &str, raw: &str) -> Result<(String, String), FieldError> {
    let name = raw.rsplit(['/', '\\']).next().unwrap_or("").trim();
    let bad = || {
        FieldError::new(
            field,
            "invalid_file_name",
            "a file name of 1 to 255 characters with an extension, e.g. `essay.pdf`",
        )
    };
    if name.is_empty()
        || name.chars().count() > 255
        || name.chars().any(char::is_control)
        || name.starts_with('.')
    {
        return Err(bad());
    }
    let (_, ext) = name.rsplit_once('.').ok_or_else(bad)?;
    let ext = extension(field, ext).map_err(|_| bad())?;
    Ok((name.to_owned(), ext))
}

/// Refuses a file whose extension the assignment does not accept, or whose content is not what
/// its extension says.
pub fn check(
    field: &str,
    extension: &str,
    bytes: &[u8],
    accepted: &[String],
) -> Result<(), FieldError> {
    if !accepted.iter().any(|a| a == extension) {
        return Err(FieldError::new(
            field,
            "file_type_not_accepted",
            format!("this assignment accepts {}", accepted.join(", ")),
        ));
    }
    if let Some(signatures) = signature(extension)
        && !signatures.iter().any(|s| bytes.starts_with(s))
    {
        return Err(FieldError::new(
            field,
            "file_type_mismatch",
            format!("the file's content is not a .{extension} file"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Vec<String> {
        DEFAULT_EXTENSIONS.iter().map(|e| (*e).to_owned()).collect()
    }

    #[test]
    fn names_lose_their_path_and_keep_a_lower_case_extension() {
        assert_eq!(
            file_name("f", "C:\\fakepath\\Essay.PDF").ok(),
            Some(("Essay.PDF".to_owned(), "pdf".to_owned()))
        );
        assert_eq!(
            file_name("f", "../../etc/passwd.txt").ok(),
            Some(("passwd.txt".to_owned(), "txt".to_owned()))
        );
        for bad in [
            "",
            "noextension",
            ".htaccess",
            "a.",
            "x/",
            "a\u{0}.pdf",
            "a.p-f",
        ] {
            assert!(file_name("f", bad).is_err(), "{bad:?}");
        }
        assert!(file_name("f", &format!("{}.pdf", "a".repeat(252))).is_err());
    }

    #[test]
    fn the_extension_must_be_accepted_and_match_the_content() {
        let accepted = defaults();
        assert!(check("f", "pdf", b"%PDF-1.7 ...", &accepted).is_ok());
        assert!(check("f", "txt", b"anything goes", &accepted).is_ok());
        assert_eq!(
            check("f", "pdf", b"<html><script>", &accepted).map_err(|e| e.code),
            Err("file_type_mismatch".into())
        );
        assert_eq!(
            check("f", "docx", b"%PDF-", &accepted).map_err(|e| e.code),
            Err("file_type_mismatch".into())
        );
        assert_eq!(
            check("f", "html", b"<html>", &accepted).map_err(|e| e.code),
            Err("file_type_not_accepted".into())
        );
        assert!(check("f", "png", b"\x89PNG\r\n\x1a\n....", &accepted).is_ok());
    }

    #[test]
    fn extensions_are_normalised_and_checked() {
        assert_eq!(extension("e", " .PDF ").ok().as_deref(), Some("pdf"));
        assert!(extension("e", "").is_err());
        assert!(extension("e", "tar.gz").is_err());
        assert!(extension("e", "averyveryverylong").is_err());
    }

    #[test]
    fn content_types_come_from_the_extension() {
        assert_eq!(content_type("pdf"), "application/pdf");
        assert_eq!(content_type("html"), "application/octet-stream");
        assert_eq!(content_type("svg"), "application/octet-stream");
    }
}
