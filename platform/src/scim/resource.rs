//! Users and groups as SCIM resources: the JSON the server answers with, the documents PATCH
//! works on, and what a request's User resource means for the account (its email, name and
//! status).

use serde_json::{Map, Value, json};

use super::error::{ScimError, ScimResult};
use super::patch::{EXTERNAL_ID, Shape, get_ci};
use super::schema::{self, ENTERPRISE, ENTERPRISE_SCHEMA, GROUP, GROUP_SCHEMA, USER, USER_SCHEMA};
use super::store::{GroupView, MemberView, UserView};
use crate::users::{DisplayName, Email, UserStatus};

pub const USER_SHAPE: Shape = Shape {
    core_urn: USER_SCHEMA,
    core: USER,
    extension: Some((ENTERPRISE_SCHEMA, ENTERPRISE)),
};

pub const GROUP_SHAPE: Shape = Shape {
    core_urn: GROUP_SCHEMA,
    core: GROUP,
    extension: None,
};

/// Reads a User resource sent by POST or PUT: the attributes the server keeps, under their
/// canonical names, the enterprise extension's under its URN. Others are ignored.
pub fn read_user(body: &Value) -> ScimResult<Map<String, Value>> {
    let object = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_value("the body must be a User resource"))?;
    let mut document = schema::read_object(USER, object)?;
    if let Some(external_id) = get_ci(object, "externalId")
        && let Some(external_id) = schema::read_value(&EXTERNAL_ID, external_id)?
    {
        document.insert("externalId".to_owned(), external_id);
    }
    if let Some(extension) = get_ci(object, ENTERPRISE_SCHEMA) {
        let extension = extension.as_object().ok_or_else(|| {
            ScimError::invalid_value(format!("{ENTERPRISE_SCHEMA} must be an object"))
        })?;
        let extension = schema::read_object(ENTERPRISE, extension)?;
        if !extension.is_empty() {
            document.insert(ENTERPRISE_SCHEMA.to_owned(), Value::Object(extension));
        }
    }
    Ok(document)
}

/// The document of a user as the server holds it: what the identity provider said, or for an
/// account it never touched, what the account is (its email as login and work address).
pub fn user_document(user: &UserView) -> Map<String, Value> {
    let mut document = match (&user.user_name, &user.attributes) {
        (Some(user_name), Some(Value::Object(attributes))) => {
            let mut document = attributes.clone();
            document.insert("userName".to_owned(), json!(user_name));
            if let Some(external_id) = &user.external_id {
                document.insert("externalId".to_owned(), json!(external_id));
            }
            document
        }
        _ => json!({
            "userName": user.email,
            "displayName": user.display_name,
            "emails": [{ "value": user.email, "type": "work", "primary": true }],
        })
        .as_object()
        .cloned()
        .unwrap_or_default(),
    };
    document.insert(
        "active".to_owned(),
        Value::Bool(user.status != UserStatus::Deactivated),
    );
    document
}

/// The User resource.
pub fn render_user(user: &UserView, base: &str) -> Value {
    let mut resource = user_document(user);
    let mut schemas = vec![USER_SCHEMA];
    if resource.contains_key(ENTERPRISE_SCHEMA) {
        schemas.push(ENTERPRISE_SCHEMA);
    }
    resource.insert("schemas".to_owned(), json!(schemas));
    resource.insert("id".to_owned(), json!(user.id));
    resource.insert(
        "meta".to_owned(),
        json!({
            "resourceType": "User",
            "created": user.created_at,
            "lastModified": user.updated_at,
            "location": format!("{base}/Users/{}", user.id),
            "version": version(user.updated_at),
        }),
    );
    Value::Object(resource)
}

fn version(at: chrono::DateTime<chrono::Utc>) -> String {
    format!("W/\"{}\"", at.timestamp_micros())
}

/// What a user document means for the account.
pub struct Account {
    pub user_name: String,
    pub external_id: Option<String>,
    /// `None`: the document does not say (PUT without `active`: unchanged).
    pub active: Option<bool>,
    /// The login email: `userName` when it is an address, else the primary (or first) email.
    /// `None` when neither is one.
    pub email: Option<Email>,
    pub display_name: DisplayName,
    /// Everything else, stored as sent.
    pub attributes: Value,
}

impl Account {
    pub fn of(document: &Map<String, Value>) -> ScimResult<Self> {
        let user_name = document
            .get("userName")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ScimError::invalid_value("userName is required"))?
            .to_owned();
        let external_id = document
            .get("externalId")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let active = document.get("active").and_then(Value::as_bool);
        let emails = document
            .get("emails")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let primary = emails
            .iter()
            .find(|e| e.get("primary").and_then(Value::as_bool) == Some(true))
            .or_else(|| emails.first())
            .and_then(|e| e.get("value"))
            .and_then(Value::as_str);
        let email = Email::parse(&user_name)
            .ok()
            .or_else(|| primary.and_then(|p| Email::parse(p).ok()));
        let name = document.get("name");
        let given_family = name.map(|n| {
            [n.get("givenName"), n.get("familyName")]
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        });
        let shown = [
            document
                .get("displayName")
                .and_then(Value::as_str)
                .map(str::to_owned),
            name.and_then(|n| n.get("formatted"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            given_family,
            Some(user_name.clone()),
        ]
        .into_iter()
        .flatten()
        .map(|s| s.trim().chars().take(200).collect::<String>())
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| user_name.chars().take(200).collect());
        let display_name = DisplayName::parse(&shown)
            .map_err(|_| ScimError::invalid_value("the user's name has control characters"))?;
        let mut attributes = document.clone();
        for key in ["userName", "externalId", "active"] {
            attributes.remove(key);
        }
        Ok(Self {
            user_name,
            external_id,
            active,
            email,
            display_name,
            attributes: Value::Object(attributes),
        })
    }
}

/// The group document PATCH works on.
pub fn group_document(group: &GroupView, members: &[MemberView]) -> Map<String, Value> {
    let mut document = Map::new();
    document.insert("displayName".to_owned(), json!(group.name));
    if let Some(external_id) = &group.external_id {
        document.insert("externalId".to_owned(), json!(external_id));
    }
    if !members.is_empty() {
        document.insert(
            "members".to_owned(),
            Value::Array(
                members
                    .iter()
                    .map(|m| json!({ "value": m.user_id }))
                    .collect(),
            ),
        );
    }
    document
}

/// The Group resource; `members` is `None` when they were not asked for.
pub fn render_group(group: &GroupView, members: Option<&[MemberView]>, base: &str) -> Value {
    let mut resource = json!({
        "schemas": [GROUP_SCHEMA],
        "id": group.id,
        "displayName": group.name,
        "meta": {
            "resourceType": "Group",
            "created": group.created_at,
            "lastModified": group.updated_at,
            "location": format!("{base}/Groups/{}", group.id),
            "version": version(group.updated_at),
        }
    });
    if let Some(external_id) = &group.external_id {
        resource["externalId"] = json!(external_id);
    }
    if let Some(members) = members
        && !members.is_empty()
    {
        resource["members"] = Value::Array(
            members
                .iter()
                .map(|m| {
                    json!({
                        "value": m.user_id,
                        "display": m.display_name,
                        "type": "User",
                        "$ref": format!("{base}/Users/{}", m.user_id),
                    })
                })
                .collect(),
        );
    }
    resource
}

/// Reads a Group resource sent by POST or PUT.
pub fn read_group(body: &Value) -> ScimResult<Map<String, Value>> {
    let object = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_value("the body must be a Group resource"))?;
    let mut document = schema::read_object(GROUP, object)?;
    if let Some(external_id) = get_ci(object, "externalId")
        && let Some(external_id) = schema::read_value(&EXTERNAL_ID, external_id)?
    {
        document.insert("externalId".to_owned(), external_id);
    }
    Ok(document)
}

/// Applies `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5) to a resource: `id` and
/// `schemas` are always returned; names may carry their schema URN and a sub-attribute.
pub fn select_attributes(resource: &mut Value, attributes: Option<&str>, excluded: Option<&str>) {
    let Value::Object(object) = resource else {
        return;
    };
    let names = |list: &str| -> Vec<(bool, String, Option<String>)> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|name| {
                let (extension, local) = strip_urn(name);
                let (head, sub) = match local.split_once('.') {
                    Some((head, sub)) => (head.to_owned(), Some(sub.to_owned())),
                    None => (local.to_owned(), None),
                };
                (extension, head, sub)
            })
            .collect()
    };
    if let Some(list) = attributes.filter(|l| !l.trim().is_empty()) {
        let wanted = names(list);
        let keep = |extension: bool, key: &str| -> Option<Option<Vec<String>>> {
            let subs: Vec<&(bool, String, Option<String>)> = wanted
                .iter()
                .filter(|(e, head, _)| *e == extension && head.eq_ignore_ascii_case(key))
                .collect();
            if subs.is_empty() {
                None
            } else if subs.iter().any(|(_, _, sub)| sub.is_none()) {
                Some(None)
            } else {
                Some(Some(
                    subs.iter().filter_map(|(_, _, s)| s.clone()).collect(),
                ))
            }
        };
        let mut kept = Map::new();
        for (key, value) in std::mem::take(object) {
            if ["id", "schemas"].contains(&key.as_str()) {
                kept.insert(key, value);
            } else if key == ENTERPRISE_SCHEMA {
                let Value::Object(inner) = value else {
                    continue;
                };
                let inner: Map<String, Value> = inner
                    .into_iter()
                    .filter(|(k, _)| keep(true, k).is_some())
                    .collect();
                if !inner.is_empty() {
                    kept.insert(key, Value::Object(inner));
                }
            } else if let Some(subs) = keep(false, &key) {
                match (subs, value) {
                    (Some(subs), Value::Object(inner)) => {
                        let inner: Map<String, Value> = inner
                            .into_iter()
                            .filter(|(k, _)| subs.iter().any(|s| s.eq_ignore_ascii_case(k)))
                            .collect();
                        kept.insert(key, Value::Object(inner));
                    }
                    (_, value) => {
                        kept.insert(key, value);
                    }
                }
            }
        }
        *object = kept;
    } else if let Some(list) = excluded {
        for (extension, head, sub) in names(list) {
            let target = if extension {
                match object.get_mut(ENTERPRISE_SCHEMA) {
                    Some(Value::Object(inner)) => inner,
                    _ => continue,
                }
            } else {
                &mut *object
            };
            let Some(key) = target
                .keys()
                .find(|k| k.eq_ignore_ascii_case(&head))
                .cloned()
            else {
                continue;
            };
            if key == "id" || key == "schemas" {
                continue;
            }
            match sub {
                None => {
                    target.remove(&key);
                }
                Some(sub) => {
                    if let Some(Value::Object(inner)) = target.get_mut(&key) {
                        inner.retain(|k, _| !k.eq_ignore_ascii_case(&sub));
                    }
                }
            }
        }
    }
}

/// `(true, attr)` for an enterprise-extension attribute, `(false, attr)` for a core one.
fn strip_urn(name: &str) -> (bool, &str) {
    for (urn, extension) in [
        (ENTERPRISE_SCHEMA, true),
        (USER_SCHEMA, false),
        (GROUP_SCHEMA, false),
    ] {
        if let Some(head) = name.get(..urn.len())
            && head.eq_ignore_ascii_case(urn)
        {
            return (extension, name[urn.len()..].trim_start_matches(':'));
        }
    }
    (false, name)
}

/// Whether a response with these parameters includes the group's members.
pub fn wants_members(attributes: Option<&str>, excluded: Option<&str>) -> bool {
    let lists = |list: &str, name: &str| {
        list.split(',').any(|a| {
            let (_, local) = strip_urn(a.trim());
            local
                .split('.')
                .next()
                .is_some_and(|head| head.eq_ignore_ascii_case(name))
        })
    };
    match (attributes.filter(|a| !a.trim().is_empty()), excluded) {
        (Some(attributes), _) => lists(attributes, "members"),
        (None, Some(excluded)) => !lists(excluded, "members"),
        (None, None) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_and_excluded_attributes_select_what_is_returned() {
        let resource = json!({
            "schemas": [USER_SCHEMA], "id": "1", "userName": "a", "displayName": "A",
            "name": { "givenName": "A", "familyName": "B" },
            ENTERPRISE_SCHEMA: { "department": "D", "division": "E" },
        });
        let mut only = resource.clone();
        select_attributes(
            &mut only,
            Some(&format!(
                "userName,name.givenName,{ENTERPRISE_SCHEMA}:department"
            )),
            None,
        );
        assert_eq!(
            only,
            json!({ "schemas": [USER_SCHEMA], "id": "1", "userName": "a",
                    "name": { "givenName": "A" }, ENTERPRISE_SCHEMA: { "department": "D" } })
        );
        let mut without = resource;
        select_attributes(&mut without, None, Some("displayName,name.familyName,id"));
        assert_eq!(without["id"], "1");
        assert!(without.get("displayName").is_none());
        assert_eq!(without["name"], json!({ "givenName": "A" }));
        assert!(!wants_members(None, Some("members")));
        assert!(wants_members(None, None));
        assert!(!wants_members(Some("displayName"), None));
    }

    #[test]
    fn the_login_email_is_the_user_name_or_else_the_primary_email() {
        let account = Account::of(
            json!({ "userName": "Ann@Example.com", "emails": [{ "value": "x@y.z" }] })
                .as_object()
                .expect("object"),
        )
        .expect("reads");
        assert_eq!(account.email.expect("email").as_str(), "ann@example.com");
        assert_eq!(account.display_name.as_str(), "Ann@Example.com");
        let account = Account::of(
            json!({ "userName": "ann", "name": { "givenName": "Ann", "familyName": "Lee" },
                    "emails": [{ "value": "o@y.z" }, { "value": "P@y.z", "primary": true }] })
            .as_object()
            .expect("object"),
        )
        .expect("reads");
        assert_eq!(account.email.expect("email").as_str(), "p@y.z");
        assert_eq!(account.display_name.as_str(), "Ann Lee");
        assert!(Account::of(json!({ "userName": " " }).as_object().expect("object")).is_err());
    }
}
