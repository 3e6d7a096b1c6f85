//! Courses and their outline (modules and items) as the API shows them, and the enums they use.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::values::{Markdown, WebUrl};
use crate::error::FieldError;
use crate::users::UserId;
use crate::validation::{Fields, bounded};

entity_id!(
    /// A course's identifier (UUIDv7), unique within its tenant.
    CourseId
);
entity_id!(
    /// A module's identifier (UUIDv7).
    ModuleId
);
entity_id!(
    /// An item's identifier (UUIDv7).
    ItemId
);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Difficulty {
    Beginner,
    Intermediate,
    Advanced,
}

text_enum!(Difficulty {
    Beginner => "beginner",
    Intermediate => "intermediate",
    Advanced => "advanced",
});

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CourseStatus {
    /// Being written; only its authors see it.
    Draft,
    /// Visible to learners.
    Published,
    /// Withdrawn; can go back to draft.
    Archived,
}

text_enum!(CourseStatus {
    Draft => "draft",
    Published => "published",
    Archived => "archived",
});

impl CourseStatus {
    /// The audited action of moving from `self` to `to`, if that transition is allowed.
    pub fn transition(self, to: Self) -> Option<&'static str> {
        match (self, to) {
            (Self::Draft, Self::Published) => Some("course.published"),
            (Self::Published, Self::Archived) => Some("course.archived"),
            (Self::Archived, Self::Draft) => Some("course.unarchived"),
            _ => None,
        }
    }
}

/// How a user takes part in authoring a course.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InstructorRole {
    /// Created the course (or its clone); manages co-instructors.
    Owner,
    /// Edits the course.
    CoInstructor,
}

text_enum!(InstructorRole {
    Owner => "owner",
    CoInstructor => "co_instructor",
});

/// A course's settings as the API shows them (lists; the detail adds the outline).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Course {
    pub id: CourseId,
    pub slug: String,
    pub title: String,
    pub summary: String,
    /// Markdown.
    pub description: String,
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
    pub self_enrollment: bool,
    /// Most learners enrolled at once; none means unlimited.
    pub capacity: Option<i32>,
    /// Modules unlock one after another as the previous one is completed.
    pub sequential: bool,
    pub is_template: bool,
    pub status: CourseStatus,
    pub published_at: Option<DateTime<Utc>>,
    pub archived_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One of a course's instructors.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Instructor {
    pub user_id: UserId,
    pub display_name: String,
    pub role: InstructorRole,
}

/// What an item is and the content that kind carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemContent {
    Text {
        body: Markdown,
    },
    Video {
        url: WebUrl,
        duration_seconds: Option<i32>,
    },
    Document {
        url: WebUrl,
    },
    ExternalLink {
        url: WebUrl,
    },
    /// Placeholder until assessments exist.
    Quiz,
    /// Placeholder until assignments exist.
    Assignment,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// A Markdown `body`.
    Text,
    /// A `url` and optional `duration_seconds`.
    Video,
    /// A `url` to the document.
    Document,
    /// A `url` that opens elsewhere.
    ExternalLink,
    /// Placeholder; its content comes with assessments.
    Quiz,
    /// Placeholder; its content comes with assignments.
    Assignment,
}

text_enum!(ItemKind {
    Text => "text",
    Video => "video",
    Document => "document",
    ExternalLink => "external_link",
    Quiz => "quiz",
    Assignment => "assignment",
});

/// An item's content fields as sent by a client, before they are checked against its kind.
#[derive(Debug, Default, Clone)]
pub struct RawContent {
    pub body: Option<String>,
    pub url: Option<String>,
    pub duration_seconds: Option<i64>,
}

impl ItemContent {
    /// Checks the fields against the kind: each kind takes exactly its own fields.
    pub fn parse(kind: ItemKind, raw: &RawContent, fields: &mut Fields) -> Option<Self> {
        let takes_body = kind == ItemKind::Text;
        let takes_url = matches!(
            kind,
            ItemKind::Video | ItemKind::Document | ItemKind::ExternalLink
        );
        let takes_duration = kind == ItemKind::Video;
        let mut refuse = |present: bool, takes: bool, name: &str| {
            if present && !takes {
                fields.push(FieldError::new(
                    name,
                    "not_applicable",
                    format!("a {} item has no {name}", kind.as_str()),
                ));
            }
        };
        refuse(raw.body.is_some(), takes_body, "body");
        refuse(raw.url.is_some(), takes_url, "url");
        refuse(
            raw.duration_seconds.is_some(),
            takes_duration,
            "duration_seconds",
        );
        let required = |fields: &mut Fields, name: &str| {
            fields.push(FieldError::new(
                name,
                "required",
                format!("a {} item needs a {name}", kind.as_str()),
            ));
        };
        let url = || -> Option<Result<WebUrl, FieldError>> {
            raw.url.as_deref().map(|u| WebUrl::parse("url", u))
        };
        match kind {
            ItemKind::Text => match raw.body.as_deref() {
                Some(body) => fields
                    .take(Markdown::parse("body", body))
                    .map(|body| Self::Text { body }),
                None => {
                    required(fields, "body");
                    None
                }
            },
            ItemKind::Video | ItemKind::Document | ItemKind::ExternalLink => {
                let Some(parsed) = url() else {
                    required(fields, "url");
                    return None;
                };
                let url = fields.take(parsed)?;
                Some(match kind {
                    ItemKind::Video => {
                        let duration_seconds = match raw.duration_seconds {
                            Some(d) => Some(
                                fields
                                    .take(bounded("duration_seconds", d, 0, 1_000_000))
                                    .and_then(|d| i32::try_from(d).ok())?,
                            ),
                            None => None,
                        };
                        Self::Video {
                            url,
                            duration_seconds,
                        }
                    }
                    ItemKind::Document => Self::Document { url },
                    _ => Self::ExternalLink { url },
                })
            }
            ItemKind::Quiz => Some(Self::Quiz),
            ItemKind::Assignment => Some(Self::Assignment),
        }
    }

    pub fn kind(&self) -> ItemKind {
        match self {
            Self::Text { .. } => ItemKind::Text,
            Self::Video { .. } => ItemKind::Video,
            Self::Document { .. } => ItemKind::Document,
            Self::ExternalLink { .. } => ItemKind::ExternalLink,
            Self::Quiz => ItemKind::Quiz,
            Self::Assignment => ItemKind::Assignment,
        }
    }

    pub fn body(&self) -> Option<&str> {
        match self {
            Self::Text { body } => Some(body.as_str()),
            _ => None,
        }
    }

    pub fn url(&self) -> Option<&str> {
        match self {
            Self::Video { url, .. } | Self::Document { url } | Self::ExternalLink { url } => {
                Some(url.as_str())
            }
            _ => None,
        }
    }

    pub fn duration_seconds(&self) -> Option<i32> {
        match self {
            Self::Video {
                duration_seconds, ..
            } => *duration_seconds,
            _ => None,
        }
    }
}

/// One step of a module.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Item {
    pub id: ItemId,
    pub module_id: ModuleId,
    /// 0-based place within the module.
    pub position: i32,
    pub kind: ItemKind,
    pub title: String,
    /// Whether the item counts towards completing the course.
    pub required: bool,
    /// Markdown, for `text` items.
    pub body: Option<String>,
    /// For `video`, `document` and `external_link` items.
    pub url: Option<String>,
    /// For `video` items.
    pub duration_seconds: Option<i32>,
}

/// A module with its items in order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Module {
    pub id: ModuleId,
    /// 0-based place within the course.
    pub position: i32,
    pub title: String,
    pub summary: String,
    pub items: Vec<Item>,
}

/// A course with its instructors, prerequisites and outline.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CourseDetail {
    #[serde(flatten)]
    pub course: Course,
    pub instructors: Vec<Instructor>,
    /// Courses a learner must complete first.
    pub prerequisite_ids: Vec<CourseId>,
    pub modules: Vec<Module>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_documented_transitions_are_allowed() {
        use CourseStatus::{Archived, Draft, Published};
        let allowed: Vec<_> = [Draft, Published, Archived]
            .iter()
            .flat_map(|from| [Draft, Published, Archived].map(|to| (*from, to)))
            .filter(|(from, to)| from.transition(*to).is_some())
            .collect();
        assert_eq!(
            allowed,
            vec![(Draft, Published), (Published, Archived), (Archived, Draft)]
        );
    }

    #[test]
    fn items_take_exactly_their_kinds_fields() {
        let mut fields = Fields::default();
        let raw = RawContent {
            body: Some("# Hi".into()),
            url: Some("https://example.org".into()),
            duration_seconds: None,
        };
        assert!(ItemContent::parse(ItemKind::Text, &raw, &mut fields).is_some());
        assert!(fields.finish(|| Some(())).is_err());
        let mut fields = Fields::default();
        assert!(ItemContent::parse(ItemKind::Video, &RawContent::default(), &mut fields).is_none());
        let mut fields = Fields::default();
        assert_eq!(
            ItemContent::parse(ItemKind::Quiz, &RawContent::default(), &mut fields),
            Some(ItemContent::Quiz)
        );
    }
}
