//! Cursor pagination. Lists are ordered by UUIDv7 id, newest first; the cursor is the last id of
//! the previous page, so rows inserted while a client pages never shift or repeat what it sees.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::db::Cursor;
use crate::error::{ApiError, codes};

pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 200;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^[A-Za-z0-9_-]{21}[AQgw]$")]
    pub cursor: Option<String>,
}

impl PageParams {
    /// The validated page size and the decoded cursor.
    pub fn parse(&self) -> Result<(i64, Option<Cursor>), ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&limit) {
            return Err(ApiError::validation(
                "limit",
                "out_of_range",
                format!("must be between 1 and {MAX_PAGE_SIZE}"),
            ));
        }
        let cursor = self.cursor.as_deref().map(decode).transpose()?;
        Ok((i64::from(limit), cursor))
    }
}

fn decode(raw: &str) -> Result<Cursor, ApiError> {
    URL_SAFE_NO_PAD
        .decode(raw)
        .ok()
        .and_then(|bytes| Uuid::from_slice(&bytes).ok())
        .map(Cursor)
        .ok_or(ApiError::BadRequest {
            code: codes::INVALID_CURSOR,
            detail: "the cursor is not one this API issued".into(),
        })
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows fetched newest first; the extra row only
    /// signals that another page exists.
    pub fn from_rows(mut rows: Vec<T>, limit: i64, id_of: impl Fn(&T) -> Uuid) -> Self {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = if more {
            rows.last()
                .map(|row| URL_SAFE_NO_PAD.encode(id_of(row).as_bytes()))
        } else {
            None
        };
        Self {
            items: rows,
            next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        let page = Page::from_rows(ids.clone(), 2, |id| *id);
        assert_eq!(page.items.len(), 2);
        let params = PageParams {
            limit: Some(2),
            cursor: page.next_cursor,
        };
        let (_, cursor) = params.parse().ok().unzip();
        assert_eq!(cursor.flatten().map(|c| c.0), Some(ids[1]));
        assert!(
            PageParams {
                limit: None,
                cursor: Some("not-a-cursor!".into())
            }
            .parse()
            .is_err()
        );
        assert!(
            PageParams {
                limit: Some(0),
                cursor: None
            }
            .parse()
            .is_err()
        );
        assert!(
            PageParams {
                limit: Some(201),
                cursor: None
            }
            .parse()
            .is_err()
        );
    }

    #[test]
    fn last_page_has_no_cursor() {
        let page = Page::from_rows(vec![Uuid::now_v7()], 2, |id| *id);
        assert!(page.next_cursor.is_none());
    }
}
