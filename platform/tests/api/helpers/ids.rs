//! Typed ids of what the fixture creates. Each reads as a `&str` (paths, bodies, binds) and
//! compares with the JSON the API returns.

use serde_json::Value;

macro_rules! ids {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// The id of the `"id"` field of a created resource's JSON.
            #[track_caller]
            pub fn of(created: &Value) -> Self {
                Self::from_value(&created["id"])
            }

            #[track_caller]
            pub fn from_value(id: &Value) -> Self {
                Self(
                    id.as_str()
                        .unwrap_or_else(|| panic!("no {} in {id}", stringify!($name)))
                        .to_owned(),
                )
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl From<$name> for Value {
            fn from(id: $name) -> Value {
                Value::String(id.0)
            }
        }

        impl PartialEq<$name> for Value {
            fn eq(&self, id: &$name) -> bool {
                self.as_str() == Some(id.as_str())
            }
        }

        impl PartialEq<&$name> for Value {
            fn eq(&self, id: &&$name) -> bool {
                self.as_str() == Some(id.as_str())
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, id: &$name) -> bool {
                *self == id.0
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }
    )*};
}

ids! {
    /// A course.
    CourseId,
    /// A module of a course.
    ModuleId,
    /// An item of a module.
    ItemId,
    /// A question bank.
    BankId,
    /// A question of a bank.
    QuestionId,
    /// A quiz attempt.
    AttemptId,
    /// An assignment submission.
    SubmissionId,
    /// A cohort.
    CohortId,
}
