//! PATCH (RFC 7644 §3.5.2) applied to a resource held as a JSON document, with what Entra ID
//! and Okta send beside the RFC: `op` in any case ("Replace"), booleans as "True"/"False",
//! path-less operations whose value object is keyed by paths (`name.givenName`, an extension
//! URN followed by an attribute), removal of members by a value list instead of a filter, and
//! add or replace through a filter that matches nothing (it creates the value).

use serde_json::{Map, Value};

use super::error::{ScimError, ScimResult, ScimType};
use super::schema::{self, Attribute, Kind, Mutability};

/// The most operations one PATCH may carry.
pub const MAX_OPERATIONS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Replace,
    Remove,
}

#[derive(Debug, Clone)]
pub struct Operation {
    pub op: Op,
    pub path: Option<String>,
    pub value: Option<Value>,
}

/// The schemas a resource type's document is made of.
pub struct Shape {
    pub core_urn: &'static str,
    pub core: &'static [Attribute],
    /// The extension's URN and attributes (the document keeps them under the URN).
    pub extension: Option<(&'static str, &'static [Attribute])>,
}

/// `externalId`, common to every resource (RFC 7643 §3.1).
pub const EXTERNAL_ID: Attribute = Attribute {
    name: "externalId",
    kind: Kind::String,
    multi: false,
    required: false,
    mutability: Mutability::ReadWrite,
    unique: false,
    description: "The identity provider's identifier.",
    sub: &[],
    max_len: 254,
};

fn invalid_syntax(detail: impl Into<String>) -> ScimError {
    ScimError::bad_request(ScimType::InvalidSyntax, detail)
}

fn invalid_path(detail: impl Into<String>) -> ScimError {
    ScimError::bad_request(ScimType::InvalidPath, detail)
}

/// Reads a PatchOp message (member names in any case, as some clients send them).
pub fn read_request(body: &Value) -> ScimResult<Vec<Operation>> {
    let object = body
        .as_object()
        .ok_or_else(|| invalid_syntax("the body must be a PatchOp object"))?;
    let schemas = get_ci(object, "schemas")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid_syntax("schemas must list the PatchOp schema"))?;
    if !schemas.iter().any(|s| {
        s.as_str()
            .is_some_and(|s| s.eq_ignore_ascii_case(schema::PATCH_OP))
    }) {
        return Err(invalid_syntax(format!(
            "schemas must list {}",
            schema::PATCH_OP
        )));
    }
    let operations = get_ci(object, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid_syntax("Operations must be an array"))?;
    if operations.is_empty() {
        return Err(invalid_syntax("Operations is empty"));
    }
    if operations.len() > MAX_OPERATIONS {
        return Err(ScimError::bad_request(
            ScimType::TooMany,
            format!("at most {MAX_OPERATIONS} operations per request"),
        ));
    }
    operations
        .iter()
        .map(|operation| {
            let operation = operation
                .as_object()
                .ok_or_else(|| invalid_syntax("each operation must be an object"))?;
            let op = match get_ci(operation, "op").and_then(Value::as_str) {
                Some(op) if op.eq_ignore_ascii_case("add") => Op::Add,
                Some(op) if op.eq_ignore_ascii_case("replace") => Op::Replace,
                Some(op) if op.eq_ignore_ascii_case("remove") => Op::Remove,
                _ => return Err(invalid_syntax("op must be add, replace or remove")),
            };
            let path = match get_ci(operation, "path") {
                None | Some(Value::Null) => None,
                Some(Value::String(path)) if path.len() <= 1_000 => Some(path.clone()),
                Some(_) => return Err(invalid_path("path must be a string")),
            };
            let value = get_ci(operation, "value").cloned();
            if op != Op::Remove && value.is_none() {
                return Err(invalid_syntax("add and replace need a value"));
            }
            if op == Op::Remove && path.is_none() {
                return Err(ScimError::bad_request(
                    ScimType::NoTarget,
                    "remove needs a path",
                ));
            }
            Ok(Operation { op, path, value })
        })
        .collect()
}

/// A member of a JSON object by name, ignoring case.
pub fn get_ci<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object.get(name).or_else(|| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// A parsed attribute path: `[urn:]attr[.sub]` or `attr[sub eq value][.sub]`.
#[derive(Debug)]
struct Path {
    /// In the extension (false: the core schema).
    extension: bool,
    attribute: &'static Attribute,
    filter: Option<(&'static Attribute, Value)>,
    sub: Option<&'static Attribute>,
}

/// Resolves a path; `Ok(None)` for an attribute this server does not keep (the operation is
/// ignored, as attributes sent on creation are).
fn parse_path(shape: &Shape, raw: &str) -> ScimResult<Option<Path>> {
    let (extension, local) = split_urn(shape, raw)?;
    let attributes: &'static [Attribute] = if extension {
        shape.extension.map_or(&[], |(_, attrs)| attrs)
    } else {
        shape.core
    };
    let (head, filter, sub) = match local.split_once('[') {
        Some((head, rest)) => {
            let (inner, after) = rest
                .split_once(']')
                .ok_or_else(|| invalid_path(format!("unclosed [ in {raw:?}")))?;
            let sub = match after {
                "" => None,
                after => Some(
                    after
                        .strip_prefix('.')
                        .ok_or_else(|| invalid_path(format!("malformed path {raw:?}")))?,
                ),
            };
            (head, Some(inner), sub)
        }
        None => match local.split_once('.') {
            Some((head, sub)) => (head, None, Some(sub)),
            None => (local, None, None),
        },
    };
    if head.is_empty() || head.contains(['.', ' ', '"']) {
        return Err(invalid_path(format!("malformed path {raw:?}")));
    }
    let attribute = if !extension && head.eq_ignore_ascii_case(EXTERNAL_ID.name) {
        Some(&EXTERNAL_ID)
    } else {
        schema::find(attributes, head)
    };
    let Some(attribute) = attribute else {
        return Ok(None);
    };
    let filter = match filter {
        None => None,
        Some(inner) => {
            if !attribute.multi || attribute.kind != Kind::Complex {
                return Err(invalid_path(format!(
                    "{} is not a multi-valued complex attribute",
                    attribute.name
                )));
            }
            Some(parse_filter(attribute, inner)?)
        }
    };
    let sub = match sub {
        None => None,
        Some(sub) => Some(schema::find(attribute.sub, sub).ok_or_else(|| {
            invalid_path(format!("{} has no sub-attribute {sub:?}", attribute.name))
        })?),
    };
    Ok(Some(Path {
        extension,
        attribute,
        filter,
        sub,
    }))
}

/// Splits off a schema URN: `(true, attr)` for the extension's, `(false, attr)` for the core
/// schema's or none.
fn split_urn<'r>(shape: &Shape, raw: &'r str) -> ScimResult<(bool, &'r str)> {
    if !raw.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:")) {
        return Ok((false, raw));
    }
    let strip = |urn: &str| -> Option<&'r str> {
        raw.get(..urn.len())
            .filter(|head| head.eq_ignore_ascii_case(urn))
            .and_then(|_| raw[urn.len()..].strip_prefix(':'))
    };
    if let Some(rest) = strip(shape.core_urn) {
        return Ok((false, rest));
    }
    if let Some((urn, _)) = shape.extension
        && let Some(rest) = strip(urn)
    {
        return Ok((true, rest));
    }
    Err(invalid_path(format!("unknown schema in path {raw:?}")))
}

/// `sub eq value` inside brackets.
fn parse_filter(
    attribute: &'static Attribute,
    inner: &str,
) -> ScimResult<(&'static Attribute, Value)> {
    let inner = inner.trim();
    let mut parts = inner.splitn(3, char::is_whitespace);
    let (Some(name), Some(op), Some(value)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid_path(format!("unsupported filter [{inner}]")));
    };
    if !op.eq_ignore_ascii_case("eq") {
        return Err(invalid_path(format!(
            "unsupported filter [{inner}]: only eq"
        )));
    }
    let sub = schema::find(attribute.sub, name)
        .ok_or_else(|| invalid_path(format!("{} has no sub-attribute {name:?}", attribute.name)))?;
    let value = value.trim();
    let value = if value.starts_with('"') {
        serde_json::from_str::<Value>(value)
            .map_err(|_| invalid_path(format!("malformed string in [{inner}]")))?
    } else {
        match value.to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(invalid_path(format!("unsupported value in [{inner}]"))),
        }
    };
    let value = schema::read_value(sub, &value)?.unwrap_or(Value::Null);
    Ok((sub, value))
}

/// Whether a value of a multi-valued attribute matches a `[sub eq value]` filter (strings
/// compared ignoring case).
fn matches(item: &Value, sub: &Attribute, expected: &Value) -> bool {
    match (item.get(sub.name), expected) {
        (Some(Value::String(a)), Value::String(b)) => a.eq_ignore_ascii_case(b),
        (Some(a), b) => a == b,
        (None, _) => false,
    }
}

/// Applies the operations in order to `document` (the resource without `id`, `meta` and
/// `schemas`, the extension's attributes under its URN).
pub fn apply(
    shape: &Shape,
    document: &mut Map<String, Value>,
    operations: &[Operation],
) -> ScimResult<()> {
    for operation in operations {
        // The extension's URN alone names all of its attributes.
        if let (Some(path), Some((urn, _))) = (&operation.path, shape.extension)
            && path.eq_ignore_ascii_case(urn)
        {
            match (operation.op, &operation.value) {
                (Op::Remove, _) => {
                    document.remove(urn);
                }
                (_, Some(value)) => {
                    let keyed = Operation {
                        op: operation.op,
                        path: None,
                        value: Some(serde_json::json!({ urn: value })),
                    };
                    apply(shape, document, std::slice::from_ref(&keyed))?;
                }
                (_, None) => {}
            }
            continue;
        }
        match &operation.path {
            Some(path) => {
                if let Some(path) = parse_path(shape, path)? {
                    apply_at(
                        shape,
                        document,
                        operation.op,
                        &path,
                        operation.value.as_ref(),
                    )?;
                }
            }
            None => {
                let Some(Value::Object(values)) = &operation.value else {
                    return Err(invalid_syntax(
                        "an operation without a path needs an object value",
                    ));
                };
                for (key, value) in values {
                    if let Some((urn, _)) = shape.extension
                        && key.eq_ignore_ascii_case(urn)
                    {
                        let Value::Object(inner) = value else {
                            return Err(ScimError::invalid_value(format!(
                                "{urn} must be an object"
                            )));
                        };
                        for (name, value) in inner {
                            let full = format!("{urn}:{name}");
                            if let Some(path) = parse_path(shape, &full)? {
                                apply_at(shape, document, operation.op, &path, Some(value))?;
                            }
                        }
                        continue;
                    }
                    if let Some(path) = parse_path(shape, key)? {
                        apply_at(shape, document, operation.op, &path, Some(value))?;
                    }
                }
            }
        }
    }
    if let Some((urn, _)) = shape.extension
        && document
            .get(urn)
            .is_some_and(|v| v.as_object().is_some_and(Map::is_empty))
    {
        document.remove(urn);
    }
    Ok(())
}

fn apply_at(
    shape: &Shape,
    document: &mut Map<String, Value>,
    op: Op,
    path: &Path,
    value: Option<&Value>,
) -> ScimResult<()> {
    let attribute = path.attribute;
    if attribute.mutability == Mutability::ReadOnly && path.sub.is_none() {
        return Err(ScimError::bad_request(
            ScimType::Mutability,
            format!("{} is read-only", attribute.name),
        ));
    }
    let target = if path.extension {
        let urn = shape.extension.map(|(urn, _)| urn).unwrap_or_default();
        let entry = document
            .entry(urn.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        entry.as_object_mut().expect("an object")
    } else {
        document
    };
    let name = attribute.name.to_owned();
    match (&path.filter, path.sub) {
        (None, None) => match op {
            Op::Remove => {
                match (attribute.multi, value) {
                    // Entra: `{"op":"Remove","path":"members","value":[{"value":"id"}]}`.
                    (true, Some(value)) if !value.is_null() => {
                        let remove = schema::read_value(attribute, value)?.unwrap_or_default();
                        let remove = remove.as_array().cloned().unwrap_or_default();
                        if let Some(Value::Array(items)) = target.get_mut(&name) {
                            items.retain(|item| !remove.iter().any(|r| same_value(item, r)));
                        }
                    }
                    _ => {
                        target.remove(&name);
                    }
                }
            }
            Op::Add | Op::Replace => {
                let value = value.unwrap_or(&Value::Null);
                match schema::read_value(attribute, value)? {
                    None => {
                        target.remove(&name);
                    }
                    Some(Value::Array(new)) if op == Op::Add => {
                        let items = target
                            .entry(name)
                            .or_insert_with(|| Value::Array(Vec::new()));
                        if let Value::Array(items) = items {
                            for item in new {
                                if !items.iter().any(|i| same_value(i, &item)) {
                                    items.push(item);
                                }
                            }
                        } else {
                            *items = Value::Array(new);
                        }
                    }
                    Some(Value::Object(new)) if !attribute.multi => {
                        // Complex: the sub-attributes sent replace theirs, the rest stay.
                        let entry = target
                            .entry(name)
                            .or_insert_with(|| Value::Object(Map::new()));
                        match entry {
                            Value::Object(old) if op == Op::Add || op == Op::Replace => {
                                old.extend(new);
                            }
                            other => *other = Value::Object(new),
                        }
                    }
                    Some(new) => {
                        target.insert(name, new);
                    }
                }
            }
        },
        (None, Some(sub)) => {
            if attribute.multi {
                return Err(invalid_path(format!(
                    "{}.{} needs a filter such as {}[type eq \"work\"].{}",
                    attribute.name, sub.name, attribute.name, sub.name
                )));
            }
            let entry = target
                .entry(name.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(object) = entry else {
                return Err(invalid_path(format!("{} is not complex", attribute.name)));
            };
            let new = match op {
                Op::Remove => None,
                Op::Add | Op::Replace => schema::read_value(sub, value.unwrap_or(&Value::Null))?,
            };
            match new {
                Some(new) => {
                    object.insert(sub.name.to_owned(), new);
                }
                None => {
                    object.remove(sub.name);
                }
            }
            if object.is_empty() {
                target.remove(&name);
            }
        }
        (Some((filter_sub, expected)), sub) => {
            let items = target
                .entry(name.clone())
                .or_insert_with(|| Value::Array(Vec::new()));
            if !items.is_array() {
                *items = Value::Array(Vec::new());
            }
            let Value::Array(items) = items else {
                unreachable!("made an array above")
            };
            match (op, sub) {
                (Op::Remove, None) => items.retain(|item| !matches(item, filter_sub, expected)),
                (Op::Remove, Some(sub)) => {
                    for item in items
                        .iter_mut()
                        .filter(|i| matches(i, filter_sub, expected))
                    {
                        if let Value::Object(object) = item {
                            object.remove(sub.name);
                        }
                    }
                }
                (Op::Add | Op::Replace, sub) => {
                    let new = match sub {
                        Some(sub) => {
                            let value = schema::read_value(sub, value.unwrap_or(&Value::Null))?;
                            let mut object = Map::new();
                            if let Some(value) = value {
                                object.insert(sub.name.to_owned(), value);
                            }
                            object
                        }
                        None => match schema::read_value(
                            &Attribute {
                                multi: false,
                                ..copy(attribute)
                            },
                            value.unwrap_or(&Value::Null),
                        )? {
                            Some(Value::Object(object)) => object,
                            _ => Map::new(),
                        },
                    };
                    let mut found = false;
                    for item in items
                        .iter_mut()
                        .filter(|i| matches(i, filter_sub, expected))
                    {
                        found = true;
                        if let Value::Object(object) = item {
                            object.extend(new.clone());
                        }
                    }
                    if !found {
                        let mut object = new;
                        object.insert(filter_sub.name.to_owned(), expected.clone());
                        items.push(Value::Object(object));
                    }
                }
            }
            if items.is_empty() {
                target.remove(&name);
            }
        }
    }
    Ok(())
}

/// A shallow copy of a definition (to read one value of a multi-valued attribute).
fn copy(attribute: &Attribute) -> Attribute {
    Attribute {
        name: attribute.name,
        kind: attribute.kind,
        multi: attribute.multi,
        required: attribute.required,
        mutability: attribute.mutability,
        unique: attribute.unique,
        description: attribute.description,
        sub: attribute.sub,
        max_len: attribute.max_len,
    }
}

/// Two values of a multi-valued attribute are the same when their `value`s are (ignoring case),
/// or when they are equal.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a.get("value"), b.get("value")) {
        (Some(Value::String(x)), Some(Value::String(y))) => x.eq_ignore_ascii_case(y),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scim::schema::{
        ENTERPRISE, ENTERPRISE_SCHEMA, GROUP, GROUP_SCHEMA, USER, USER_SCHEMA,
    };

    const USER_SHAPE: Shape = Shape {
        core_urn: USER_SCHEMA,
        core: USER,
        extension: Some((ENTERPRISE_SCHEMA, ENTERPRISE)),
    };
    const GROUP_SHAPE: Shape = Shape {
        core_urn: GROUP_SCHEMA,
        core: GROUP,
        extension: None,
    };

    fn patch(shape: &Shape, document: Value, body: Value) -> ScimResult<Value> {
        let mut document = document.as_object().cloned().expect("object");
        let operations = read_request(&body)?;
        apply(shape, &mut document, &operations)?;
        Ok(Value::Object(document))
    }

    fn ops(operations: Value) -> Value {
        json!({ "schemas": [schema::PATCH_OP], "Operations": operations })
    }

    #[test]
    fn entra_disables_with_a_capitalised_op_and_a_string_boolean() {
        let out = patch(
            &USER_SHAPE,
            json!({ "userName": "a", "active": true }),
            ops(json!([{ "op": "Replace", "path": "active", "value": "False" }])),
        )
        .expect("applies");
        assert_eq!(out["active"], false);
    }

    #[test]
    fn entra_path_less_values_are_keyed_by_paths_and_urns() {
        let out = patch(
            &USER_SHAPE,
            json!({ "userName": "a", "name": { "familyName": "Old", "givenName": "Old" } }),
            ops(json!([{ "op": "Replace", "value": {
                "displayName": "Ann Lee",
                "name.givenName": "Ann",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Sales",
                "active": "True",
                "emails[type eq \"work\"].value": "ann@example.com",
            }}])),
        )
        .expect("applies");
        assert_eq!(out["displayName"], "Ann Lee");
        assert_eq!(
            out["name"],
            json!({ "familyName": "Old", "givenName": "Ann" })
        );
        assert_eq!(out[ENTERPRISE_SCHEMA]["department"], "Sales");
        assert_eq!(out["active"], true);
        assert_eq!(
            out["emails"],
            json!([{ "type": "work", "value": "ann@example.com" }])
        );
    }

    #[test]
    fn okta_deactivates_with_a_path_less_value_object() {
        let out = patch(
            &USER_SHAPE,
            json!({ "userName": "a", "active": true }),
            ops(json!([{ "op": "replace", "value": { "active": false } }])),
        )
        .expect("applies");
        assert_eq!(out["active"], false);
    }

    #[test]
    fn members_are_added_and_removed_by_filter_and_by_value_list() {
        let start = json!({ "displayName": "G", "members": [{ "value": "u1" }, { "value": "u2" }, { "value": "u3" }] });
        let out = patch(
            &GROUP_SHAPE,
            start,
            ops(json!([
                { "op": "Add", "path": "members", "value": [{ "value": "u4" }, { "value": "u1" }] },
                { "op": "Remove", "path": "members[value eq \"u2\"]" },
                { "op": "Remove", "path": "members", "value": [{ "value": "U3" }] },
            ])),
        )
        .expect("applies");
        assert_eq!(
            out["members"],
            json!([{ "value": "u1" }, { "value": "u4" }])
        );
        let out = patch(
            &GROUP_SHAPE,
            out,
            ops(json!([{ "op": "remove", "path": "members" }])),
        )
        .expect("applies");
        assert!(out.get("members").is_none());
    }

    #[test]
    fn malformed_requests_are_refused_with_their_scim_type() {
        let cases = [
            (json!({ "Operations": [] }), ScimType::InvalidSyntax),
            (ops(json!([])), ScimType::InvalidSyntax),
            (
                ops(json!([{ "op": "move", "path": "a" }])),
                ScimType::InvalidSyntax,
            ),
            (ops(json!([{ "op": "remove" }])), ScimType::NoTarget),
            (
                ops(
                    json!([{ "op": "add", "path": "emails[type ne \"work\"].value", "value": "x" }]),
                ),
                ScimType::InvalidPath,
            ),
            (
                ops(json!([{ "op": "add", "path": "name.nope", "value": "x" }])),
                ScimType::InvalidPath,
            ),
            (
                ops(json!([{ "op": "add", "path": "urn:x:y:displayName", "value": "x" }])),
                ScimType::InvalidPath,
            ),
            (
                ops(json!([{ "op": "replace", "path": "active", "value": "maybe" }])),
                ScimType::InvalidValue,
            ),
            (
                ops(Value::Array(vec![
                    json!({ "op": "remove", "path": "title" });
                    MAX_OPERATIONS + 1
                ])),
                ScimType::TooMany,
            ),
        ];
        for (body, expected) in cases {
            let err =
                patch(&USER_SHAPE, json!({ "userName": "a" }), body.clone()).expect_err("refused");
            assert_eq!(err.scim_type, Some(expected), "{body}");
        }
    }
}
