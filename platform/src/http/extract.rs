//! Extractors whose rejections are problem+json like every other error.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, FieldError, codes};

/// A JSON body: `Content-Type: application/json` required, unknown fields and wrong types
/// answered with 422 and the offending field's path, malformed JSON with 400.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<mime_lite::Essence>().ok())
            .is_some_and(|essence| essence.is_json());
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes =
            Bytes::from_request(req, state)
                .await
                .map_err(|rejection: BytesRejection| {
                    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                        ApiError::PayloadTooLarge
                    } else {
                        ApiError::BadRequest {
                            code: "unreadable_body",
                            detail: "the request body could not be read".into(),
                        }
                    }
                })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// An optional JSON body: an empty body is `None`; anything else must be valid JSON.
pub struct MaybeJson<T>(pub Option<T>);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for MaybeJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let has_body = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .is_none_or(|len| len != "0")
            && (req.headers().contains_key(header::CONTENT_TYPE)
                || req.headers().contains_key(header::CONTENT_LENGTH));
        if !has_body {
            return Ok(Self(None));
        }
        ApiJson::<T>::from_request(req, state)
            .await
            .map(|ApiJson(v)| Self(Some(v)))
    }
}

/// Deserialises JSON, turning serde's errors into problem details with the field's path.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if has_nul_escape(bytes) {
        return Err(ApiError::nul_character("a string of the JSON body"));
    }
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => ApiError::Validation(vec![FieldError::new(
                if path == "." { String::new() } else { path },
                "invalid_value",
                strip_position(&inner.to_string()),
            )]),
            serde_json::error::Category::Syntax
            | serde_json::error::Category::Eof
            | serde_json::error::Category::Io => ApiError::BadRequest {
                code: codes::MALFORMED_JSON,
                detail: format!("the body is not valid JSON: {inner}"),
            },
        }
    })
}

/// Whether a JSON text has a `\u0000` escape in a string (value or key), which PostgreSQL cannot
/// store. Inside a string a backslash escapes the next character, so `\\u0000` is ordinary text;
/// a raw NUL byte is refused by the parser itself.
fn has_nul_escape(json: &[u8]) -> bool {
    let mut in_string = false;
    let mut i = 0;
    while i < json.len() {
        match json[i] {
            b'"' => in_string = !in_string,
            b'\\' if in_string => {
                if json.get(i + 1..i + 6) == Some(&b"u0000"[..]) {
                    return true;
                }
                // Skip the escaped character: `\"` does not end the string, `\\` escapes nothing.
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    false
}

fn strip_position(message: &str) -> String {
    message
        .split(" at line ")
        .next()
        .unwrap_or(message)
        .to_owned()
}

/// Path parameters; an id that does not parse is a 400 `invalid_path_parameter`.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| ApiPath(v))
            .map_err(|rejection: PathRejection| ApiError::BadRequest {
                code: "invalid_path_parameter",
                detail: rejection.body_text(),
            })
    }
}

/// Query parameters; unknown or malformed ones are a 400 `invalid_query`.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| ApiQuery(v))
            .map_err(|rejection: QueryRejection| ApiError::BadRequest {
                code: "invalid_query",
                detail: rejection.body_text(),
            })
    }
}

/// Just enough media-type parsing to accept `application/json; charset=utf-8` and `+json` types.
mod mime_lite {
    pub struct Essence(String);

    impl std::str::FromStr for Essence {
        type Err = ();
        fn from_str(s: &str) -> Result<Self, ()> {
            Ok(Self(
                s.split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase(),
            ))
        }
    }

    impl Essence {
        pub fn is_json(&self) -> bool {
            self.0 == "application/json"
                || (self.0.starts_with("application/") && self.0.ends_with("+json"))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        nested: Nested,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Nested {
        count: u8,
    }

    #[test]
    fn a_nul_escape_is_found_in_any_string_and_only_there() {
        let nul = |json: &str| has_nul_escape(json.as_bytes());
        assert!(nul(r#"{"a":"x\u0000"}"#));
        assert!(nul(r#"{"a":{"b":["ok","\u0000"]}}"#));
        assert!(nul(r#"{"k\u0000":1}"#));
        assert!(nul(r#"{"a":"\\\u0000"}"#));
        assert!(nul(r#"{"a":"\"\u0000"}"#));
        assert!(!nul(r#"{"a":"\\u0000"}"#));
        assert!(!nul(r#"{"a":"\\\\u0000"}"#));
        assert!(!nul(r#"{"a":"\u0001","b":"u0000"}"#));
        assert!(!nul(r#"{"a":"\\","b":"u0000"}"#));
        assert!(matches!(
            parse_json::<serde_json::Value>(br#"{"a":"\u0000"}"#),
            Err(ApiError::BadRequest {
                code: codes::NUL_CHARACTER,
                ..
            })
        ));
    }

    #[test]
    fn wrong_types_name_the_field() {
        let err = parse_json::<Body>(br#"{"name":"a","nested":{"count":"x"}}"#).err();
        match err {
            Some(ApiError::Validation(fields)) => assert_eq!(fields[0].field, "nested.count"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn unknown_fields_and_syntax_errors_are_client_errors() {
        assert!(matches!(
            parse_json::<Body>(br#"{"name":"a","nested":{"count":1},"admin":true}"#),
            Err(ApiError::Validation(_))
        ));
        assert!(matches!(
            parse_json::<Body>(b"{\"name\":"),
            Err(ApiError::BadRequest {
                code: codes::MALFORMED_JSON,
                ..
            })
        ));
    }
}
