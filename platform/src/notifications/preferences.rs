//! What a user wants to hear about, and how: per notification type, in the app and by email.
//! A type the user never chose for takes the defaults: in the app yes, by email no (nobody is
//! emailed before they ask to be).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::NotificationKind;
use super::store::PreferenceRow;

/// One type's channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Preference {
    #[serde(rename = "type")]
    pub kind: NotificationKind,
    /// Shown in the app's inbox and stream.
    pub in_app: bool,
    /// Sent by email.
    pub email: bool,
}

impl Preference {
    pub const fn default_for(kind: NotificationKind) -> Self {
        Self {
            kind,
            in_app: true,
            email: false,
        }
    }
}

/// A summary by email of what the user has not read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Digest {
    /// None.
    #[default]
    Off,
    /// Each morning (07:00 UTC), the unread notifications of the day before.
    Daily,
}

text_enum!(Digest {
    Off => "off",
    Daily => "daily",
});

/// Every type with its effective channels, in [`NotificationKind::ALL`] order, and the digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Preferences {
    pub types: Vec<Preference>,
    pub digest: Digest,
}

impl Preferences {
    /// The stored choices over the defaults.
    pub fn from_rows(rows: &[PreferenceRow], digest: Digest) -> Self {
        let types = NotificationKind::ALL
            .iter()
            .map(|&kind| {
                rows.iter()
                    .find(|r| r.kind == kind)
                    .map_or(Preference::default_for(kind), |r| Preference {
                        kind,
                        in_app: r.in_app,
                        email: r.email,
                    })
            })
            .collect();
        Self { types, digest }
    }

    pub fn get(&self, kind: NotificationKind) -> Preference {
        self.types
            .iter()
            .copied()
            .find(|p| p.kind == kind)
            .unwrap_or(Preference::default_for(kind))
    }

    /// The rows to store: only the choices that differ from the defaults.
    pub fn to_rows(&self) -> Vec<PreferenceRow> {
        self.types
            .iter()
            .filter(|p| **p != Preference::default_for(p.kind))
            .map(|p| PreferenceRow {
                kind: p.kind,
                in_app: p.in_app,
                email: p.email,
            })
            .collect()
    }
}

/// Why a preferences body was refused: the index of the offending entry.
#[derive(Debug, PartialEq, Eq)]
pub struct DuplicateType(pub usize);

/// The preferences a body names over the defaults (a type it leaves out gets its defaults
/// back); a type named twice is refused.
pub fn replace_with(types: &[Preference], digest: Digest) -> Result<Preferences, DuplicateType> {
    for (i, p) in types.iter().enumerate() {
        if types[..i].iter().any(|q| q.kind == p.kind) {
            return Err(DuplicateType(i));
        }
    }
    let rows: Vec<PreferenceRow> = types
        .iter()
        .map(|p| PreferenceRow {
            kind: p.kind,
            in_app: p.in_app,
            email: p.email,
        })
        .collect();
    Ok(Preferences::from_rows(&rows, digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unchosen_types_take_the_defaults_and_only_differences_are_stored() {
        let prefs = replace_with(
            &[Preference {
                kind: NotificationKind::AssignmentGraded,
                in_app: true,
                email: true,
            }],
            Digest::Daily,
        )
        .expect("valid");
        assert_eq!(prefs.digest, Digest::Daily);
        assert_eq!(prefs.types.len(), NotificationKind::ALL.len());
        assert!(prefs.get(NotificationKind::AssignmentGraded).email);
        assert!(!prefs.get(NotificationKind::Enrolled).email);
        assert!(prefs.get(NotificationKind::Enrolled).in_app);
        let rows = prefs.to_rows();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].kind, NotificationKind::AssignmentGraded);
    }

    #[test]
    fn a_type_named_twice_is_refused() {
        let p = Preference::default_for(NotificationKind::QuizGraded);
        assert_eq!(replace_with(&[p, p], Digest::Off), Err(DuplicateType(1)));
    }
}
