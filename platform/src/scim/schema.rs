//! The attributes the server keeps (RFC 7643 §4, §8.7): one definition that renders `/Schemas`
//! and that every request is read against, so that what is published is what is stored.

use serde_json::{Map, Value, json};

use super::error::{ScimError, ScimResult};

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    Boolean,
    Complex,
    Reference,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadWrite,
    ReadOnly,
    Immutable,
}

/// One attribute of a schema.
#[derive(Debug)]
pub struct Attribute {
    pub name: &'static str,
    pub kind: Kind,
    pub multi: bool,
    pub required: bool,
    pub mutability: Mutability,
    /// `server` for userName and a group's displayName, `none` otherwise.
    pub unique: bool,
    pub description: &'static str,
    pub sub: &'static [Attribute],
    /// The largest string accepted.
    pub max_len: usize,
}

const fn string(name: &'static str, description: &'static str) -> Attribute {
    Attribute {
        name,
        kind: Kind::String,
        multi: false,
        required: false,
        mutability: Mutability::ReadWrite,
        unique: false,
        description,
        sub: &[],
        max_len: 254,
    }
}

const fn boolean(name: &'static str, description: &'static str) -> Attribute {
    Attribute {
        kind: Kind::Boolean,
        ..string(name, description)
    }
}

const NAME: &[Attribute] = &[
    string("formatted", "The full name."),
    string("familyName", "The family name."),
    string("givenName", "The given name."),
    string("middleName", "The middle name."),
    string("honorificPrefix", "The honorific prefix."),
    string("honorificSuffix", "The honorific suffix."),
];

const EMAIL: &[Attribute] = &[
    // Required: an email without its address says nothing.
    Attribute {
        required: true,
        ..string("value", "The email address.")
    },
    string("type", "work, home or other."),
    boolean("primary", "The primary address."),
];

/// The User attributes kept (RFC 7643 §4.1), besides the common `id`, `externalId` and `meta`.
pub const USER: &[Attribute] = &[
    Attribute {
        required: true,
        unique: true,
        ..string(
            "userName",
            "The login name, unique in the organisation ignoring case; an email address is the account's email.",
        )
    },
    Attribute {
        kind: Kind::Complex,
        sub: NAME,
        ..string("name", "The user's name.")
    },
    Attribute {
        max_len: 200,
        ..string("displayName", "The name shown to others.")
    },
    string("nickName", "A casual name."),
    string("title", "The job title."),
    string(
        "preferredLanguage",
        "The preferred language (RFC 7231 language tag).",
    ),
    string("locale", "The locale (e.g. en-US)."),
    string("timezone", "The time zone (IANA name)."),
    // Required: an account's login is an email address. A userName that is one is enough on
    // creation (identity providers send the UPN), and the last address is kept when none is left.
    Attribute {
        kind: Kind::Complex,
        multi: true,
        required: true,
        sub: EMAIL,
        ..string(
            "emails",
            "Email addresses; the primary one is the account's email unless userName is an address. \
             May be left out on creation when userName is an email address.",
        )
    },
    // Required: an account is always either active or not; true when left out on creation.
    Attribute {
        required: true,
        ..boolean(
            "active",
            "Whether the account may sign in (true when left out on creation); false ends its sessions.",
        )
    },
];

/// The Enterprise User extension attributes kept (RFC 7643 §4.3).
pub const ENTERPRISE: &[Attribute] = &[
    string("employeeNumber", "The employee number."),
    string("costCenter", "The cost center."),
    string("organization", "The organization."),
    string("division", "The division."),
    string("department", "The department."),
];

const MEMBER: &[Attribute] = &[
    Attribute {
        mutability: Mutability::Immutable,
        ..string("value", "The member user's id.")
    },
    Attribute {
        kind: Kind::Reference,
        mutability: Mutability::Immutable,
        max_len: 2048,
        ..string("$ref", "The member's URI.")
    },
    Attribute {
        mutability: Mutability::Immutable,
        ..string("type", "User.")
    },
    Attribute {
        mutability: Mutability::ReadOnly,
        ..string("display", "The member's display name.")
    },
];

/// The Group attributes kept (RFC 7643 §4.2): a group is a cohort.
pub const GROUP: &[Attribute] = &[
    Attribute {
        required: true,
        unique: true,
        max_len: 200,
        ..string(
            "displayName",
            "The cohort's name, unique in the organisation ignoring case.",
        )
    },
    Attribute {
        kind: Kind::Complex,
        multi: true,
        sub: MEMBER,
        ..string("members", "The cohort's members (users).")
    },
];

/// The definition of `name` in `attributes`, ignoring case (attribute names are
/// case-insensitive, RFC 7643 §2.1).
pub fn find<'a>(attributes: &'a [Attribute], name: &str) -> Option<&'a Attribute> {
    attributes
        .iter()
        .find(|a| a.name.eq_ignore_ascii_case(name))
}

/// Reads a value sent for `attribute`: the right type (booleans also as the strings "True" and
/// "False", which Entra ID sends), strings bounded, complex values reduced to their known
/// sub-attributes. `Ok(None)` for a null (an unassigned attribute).
pub fn read_value(attribute: &Attribute, value: &Value) -> ScimResult<Option<Value>> {
    if value.is_null() {
        return Ok(None);
    }
    if attribute.multi {
        let items: Vec<Value> = match value {
            Value::Array(items) => items.clone(),
            single => vec![single.clone()],
        };
        if items.len() > 100 {
            return Err(ScimError::invalid_value(format!(
                "{}: at most 100 values",
                attribute.name
            )));
        }
        let mut read = Vec::with_capacity(items.len());
        for item in &items {
            if let Some(item) = read_single(attribute, item)? {
                read.push(item);
            }
        }
        return Ok(Some(Value::Array(read)));
    }
    read_single(attribute, value)
}

fn read_single(attribute: &Attribute, value: &Value) -> ScimResult<Option<Value>> {
    let wrong = || {
        ScimError::invalid_value(format!(
            "{}: expected {}",
            attribute.name,
            match attribute.kind {
                Kind::String | Kind::Reference => "a string",
                Kind::Boolean => "a boolean",
                Kind::Complex => "an object",
            }
        ))
    };
    match (attribute.kind, value) {
        (_, Value::Null) => Ok(None),
        (Kind::String | Kind::Reference, Value::String(s)) => {
            if s.chars().count() > attribute.max_len {
                return Err(ScimError::invalid_value(format!(
                    "{}: at most {} characters",
                    attribute.name, attribute.max_len
                )));
            }
            if s.contains('\0') {
                return Err(ScimError::invalid_value(format!(
                    "{}: contains a NUL character",
                    attribute.name
                )));
            }
            Ok(Some(value.clone()))
        }
        (Kind::Boolean, Value::Bool(_)) => Ok(Some(value.clone())),
        (Kind::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("true") => {
            Ok(Some(Value::Bool(true)))
        }
        (Kind::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("false") => {
            Ok(Some(Value::Bool(false)))
        }
        (Kind::Complex, Value::Object(map)) => {
            Ok(Some(Value::Object(read_object(attribute.sub, map)?)))
        }
        _ => Err(wrong()),
    }
}

/// Reduces an object to the attributes `attributes` defines, under their canonical names;
/// read-only and unknown attributes are left out (RFC 7644 §3.3: the server ignores them).
pub fn read_object(
    attributes: &[Attribute],
    map: &Map<String, Value>,
) -> ScimResult<Map<String, Value>> {
    let mut read = Map::new();
    for (key, value) in map {
        let Some(attribute) = find(attributes, key) else {
            continue;
        };
        if attribute.mutability == Mutability::ReadOnly {
            continue;
        }
        if let Some(value) = read_value(attribute, value)? {
            read.insert(attribute.name.to_owned(), value);
        }
    }
    Ok(read)
}

/// A schema as `/Schemas` publishes it.
pub fn schema_resource(
    id: &str,
    name: &str,
    description: &str,
    attributes: &[Attribute],
    base: &str,
) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": id,
        "name": name,
        "description": description,
        "attributes": attributes.iter().map(attribute_json).collect::<Vec<_>>(),
        "meta": {
            "resourceType": "Schema",
            "location": format!("{base}/Schemas/{id}"),
        }
    })
}

fn attribute_json(attribute: &Attribute) -> Value {
    let mut out = json!({
        "name": attribute.name,
        "type": match attribute.kind {
            Kind::String => "string",
            Kind::Boolean => "boolean",
            Kind::Complex => "complex",
            Kind::Reference => "reference",
        },
        "multiValued": attribute.multi,
        "description": attribute.description,
        "required": attribute.required,
        "caseExact": false,
        "mutability": match attribute.mutability {
            Mutability::ReadWrite => "readWrite",
            Mutability::ReadOnly => "readOnly",
            Mutability::Immutable => "immutable",
        },
        "returned": "default",
        "uniqueness": if attribute.unique { "server" } else { "none" },
    });
    if attribute.kind == Kind::Complex {
        out["subAttributes"] = Value::Array(attribute.sub.iter().map(attribute_json).collect());
    }
    if attribute.kind == Kind::Reference {
        out["referenceTypes"] = json!(["User"]);
    }
    if attribute.name == "type" && attribute.mutability == Mutability::ReadWrite {
        out["canonicalValues"] = json!(["work", "home", "other"]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entra_boolean_strings_and_attribute_case_are_read() {
        let read = read_object(
            USER,
            json!({ "ACTIVE": "False", "Name": { "givenname": "Ann", "nope": 1 }, "password": "x" })
                .as_object()
                .expect("object"),
        )
        .expect("reads");
        assert_eq!(
            Value::Object(read),
            json!({ "active": false, "name": { "givenName": "Ann" } })
        );
    }

    #[test]
    fn wrong_types_are_invalid_values() {
        for bad in [
            json!({ "active": "maybe" }),
            json!({ "displayName": 3 }),
            json!({ "name": "x" }),
        ] {
            let err = read_object(USER, bad.as_object().expect("object")).expect_err("refused");
            assert_eq!(
                err.scim_type,
                Some(super::super::error::ScimType::InvalidValue)
            );
        }
    }
}
