//! The catalog as learners see it: a course's card, its public outline, and the catalog cursor.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::courses::{CourseId, Difficulty, ItemId, ItemKind, ModuleId};
use crate::error::{ApiError, codes};
use crate::users::UserId;

pub const DEFAULT_PAGE_SIZE: u32 = 20;
pub const MAX_PAGE_SIZE: u32 = 100;

/// A published course as the catalog lists it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CatalogCourse {
    pub id: CourseId,
    pub slug: String,
    pub title: String,
    pub summary: String,
    pub category: Option<String>,
    pub tags: Vec<String>,
    pub difficulty: Difficulty,
    /// BCP 47 language tag.
    pub language: String,
    pub estimated_minutes: Option<i32>,
    pub thumbnail_url: Option<String>,
    /// Price in minor units of `currency` (0 is free).
    pub price_minor: i64,
    pub currency: Option<String>,
    /// Whether learners may enroll themselves.
    pub self_enrollment: bool,
    /// Most learners enrolled at once; none means unlimited.
    pub capacity: Option<i32>,
    /// Places left (capacity minus active enrollments); none when unlimited.
    pub seats_left: Option<i64>,
    pub published_at: Option<DateTime<Utc>>,
}

/// An item of the public outline: what it is, not its content (that is for enrolled learners).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OutlineItem {
    pub id: ItemId,
    pub kind: ItemKind,
    pub title: String,
    /// Whether the item counts towards completing the course.
    pub required: bool,
    pub duration_seconds: Option<i32>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OutlineModule {
    pub id: ModuleId,
    pub title: String,
    pub summary: String,
    pub items: Vec<OutlineItem>,
}

/// A course's teacher as learners see them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CatalogInstructor {
    pub user_id: UserId,
    pub display_name: String,
}

/// A course the learner must complete first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Prerequisite {
    pub id: CourseId,
    pub slug: String,
    pub title: String,
}

/// A published course with its description, teachers, prerequisites and outline.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CatalogDetail {
    #[serde(flatten)]
    pub course: CatalogCourse,
    /// Markdown.
    pub description: String,
    /// Modules unlock one after another.
    pub sequential: bool,
    pub instructors: Vec<CatalogInstructor>,
    pub prerequisites: Vec<Prerequisite>,
    pub modules: Vec<OutlineModule>,
}

/// Where the next catalog page starts. The default order is newest published first, keyed on
/// `(published_at, id)`; a search is ordered by rank, keyed on `(rank, id)`. A course's rank
/// depends only on its own text and the query, so courses published while a client pages do not
/// move the ones it has not seen yet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CatalogCursor {
    Newest {
        published_at: DateTime<Utc>,
        id: CourseId,
    },
    Ranked {
        rank: f32,
        id: CourseId,
    },
}

impl CatalogCursor {
    pub fn encode(self) -> String {
        let mut bytes = Vec::with_capacity(25);
        match self {
            Self::Newest { published_at, id } => {
                bytes.push(b'n');
                bytes.extend_from_slice(&published_at.timestamp_micros().to_be_bytes());
                bytes.extend_from_slice(id.0.as_bytes());
            }
            Self::Ranked { rank, id } => {
                bytes.push(b'r');
                bytes.extend_from_slice(&rank.to_bits().to_be_bytes());
                bytes.extend_from_slice(id.0.as_bytes());
            }
        }
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// A cursor this API issued for the same kind of listing (search or not); 400 otherwise.
    pub fn decode(raw: &str, ranked: bool) -> Result<Self, ApiError> {
        let invalid = || ApiError::BadRequest {
            code: codes::INVALID_CURSOR,
            detail: "the cursor is not one this API issued for this listing".into(),
        };
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
        let id = |b: &[u8]| Uuid::from_slice(b).map(CourseId).map_err(|_| invalid());
        match (bytes.first(), bytes.len(), ranked) {
            (Some(b'n'), 25, false) => {
                let micros = i64::from_be_bytes(bytes[1..9].try_into().map_err(|_| invalid())?);
                Ok(Self::Newest {
                    published_at: DateTime::from_timestamp_micros(micros).ok_or_else(invalid)?,
                    id: id(&bytes[9..])?,
                })
            }
            (Some(b'r'), 21, true) => {
                let bits = u32::from_be_bytes(bytes[1..5].try_into().map_err(|_| invalid())?);
                let rank = f32::from_bits(bits);
                if !rank.is_finite() {
                    return Err(invalid());
                }
                Ok(Self::Ranked {
                    rank,
                    id: id(&bytes[5..])?,
                })
            }
            _ => Err(invalid()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_only_for_their_listing() {
        let newest = CatalogCursor::Newest {
            published_at: DateTime::from_timestamp_micros(1_790_000_000_123_456).expect("time"),
            id: CourseId::default(),
        };
        let ranked = CatalogCursor::Ranked {
            rank: 0.607_927_1,
            id: CourseId::default(),
        };
        assert_eq!(
            CatalogCursor::decode(&newest.encode(), false).ok(),
            Some(newest)
        );
        assert_eq!(
            CatalogCursor::decode(&ranked.encode(), true).ok(),
            Some(ranked)
        );
        assert!(CatalogCursor::decode(&newest.encode(), true).is_err());
        assert!(CatalogCursor::decode(&ranked.encode(), false).is_err());
        assert!(CatalogCursor::decode("garbage!", false).is_err());
    }
}
