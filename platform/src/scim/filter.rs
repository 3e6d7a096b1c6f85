//! The filters the server answers (RFC 7644 §3.4.2.2), the ones identity providers send:
//! `eq` comparisons of `userName`, `externalId`, `id`, `emails[type eq "work"].value` (Users),
//! `displayName`, `externalId`, `id` and `members[value eq "…"]` (Groups), joined by `and`.
//! Anything else is 400 `invalidFilter`, not a silently wider answer.

use super::error::{ScimError, ScimResult, ScimType};
use super::schema::{GROUP_SCHEMA, USER_SCHEMA};

/// The longest filter read.
pub const MAX_FILTER_LEN: usize = 1_000;
const MAX_TERMS: usize = 10;

/// One comparison of a filter; a filter is all of them (`and`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    Id(String),
    ExternalId(String),
    /// Users: the login name, ignoring case (RFC 7643: `caseExact` false).
    UserName(String),
    /// Users: the work email address, ignoring case.
    WorkEmail(String),
    /// Groups: the name, ignoring case.
    DisplayName(String),
    /// Groups: having this user as a member.
    Member(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    User,
    Group,
}

fn invalid(detail: impl Into<String>) -> ScimError {
    ScimError::bad_request(ScimType::InvalidFilter, detail)
}

pub fn parse(raw: &str, resource: Resource) -> ScimResult<Vec<Condition>> {
    if raw.len() > MAX_FILTER_LEN {
        return Err(invalid(format!(
            "filters are limited to {MAX_FILTER_LEN} bytes"
        )));
    }
    let tokens = tokenize(raw)?;
    let mut conditions = Vec::new();
    let mut it = tokens.into_iter().peekable();
    loop {
        let Some(Token::Word(path)) = it.next() else {
            return Err(invalid("expected an attribute path"));
        };
        if path.ends_with(']') {
            conditions.push(value_path(&path, resource)?);
        } else {
            match it.next() {
                Some(Token::Word(op)) if op.eq_ignore_ascii_case("eq") => {}
                Some(Token::Word(op)) => {
                    return Err(invalid(format!(
                        "only the eq operator is supported, not {op:?}"
                    )));
                }
                _ => return Err(invalid("expected an operator")),
            }
            let Some(Token::Str(value)) = it.next() else {
                return Err(invalid("expected a quoted string to compare with"));
            };
            conditions.push(attribute(&path, value, resource)?);
        }
        if conditions.len() > MAX_TERMS {
            return Err(invalid(format!("at most {MAX_TERMS} comparisons")));
        }
        match it.next() {
            None => return Ok(conditions),
            Some(Token::Word(and)) if and.eq_ignore_ascii_case("and") => {}
            Some(_) => return Err(invalid("comparisons may only be joined by and")),
        }
    }
}

/// An attribute name without the resource's own schema URN, if it carries one.
fn local(path: &str, resource: Resource) -> &str {
    let urn = match resource {
        Resource::User => USER_SCHEMA,
        Resource::Group => GROUP_SCHEMA,
    };
    match path.get(..urn.len()) {
        Some(head) if head.eq_ignore_ascii_case(urn) => {
            path[urn.len()..].strip_prefix(':').unwrap_or(path)
        }
        _ => path,
    }
}

fn attribute(path: &str, value: String, resource: Resource) -> ScimResult<Condition> {
    let name = local(path, resource);
    if let Some((name, rest)) = name.split_once('[') {
        let (inner, after) = rest
            .rsplit_once(']')
            .ok_or_else(|| invalid("unclosed [ in the path"))?;
        let (attr, kind) = parse_inner(inner)?;
        return match (resource, name.to_ascii_lowercase().as_str()) {
            (Resource::User, "emails")
                if attr == "type"
                    && kind.eq_ignore_ascii_case("work")
                    && after.eq_ignore_ascii_case(".value") =>
            {
                Ok(Condition::WorkEmail(value))
            }
            _ => Err(invalid(format!(
                "filtering on {name}[…]{after} is not supported"
            ))),
        };
    }
    let name = name.to_ascii_lowercase();
    match (resource, name.as_str()) {
        (_, "id") => Ok(Condition::Id(value)),
        (_, "externalid") => Ok(Condition::ExternalId(value)),
        (Resource::User, "username") => Ok(Condition::UserName(value)),
        (Resource::Group, "displayname") => Ok(Condition::DisplayName(value)),
        _ => Err(invalid(format!("filtering on {path:?} is not supported"))),
    }
}

/// A value path standing alone: `members[value eq "…"]`.
fn value_path(path: &str, resource: Resource) -> ScimResult<Condition> {
    let path = local(path, resource);
    let (name, rest) = path
        .split_once('[')
        .ok_or_else(|| invalid("malformed path"))?;
    let inner = rest.strip_suffix(']').unwrap_or(rest);
    let (attr, value) = parse_inner(inner)?;
    match (resource, name.to_ascii_lowercase().as_str()) {
        (Resource::Group, "members") if attr == "value" => Ok(Condition::Member(value)),
        _ => Err(invalid(format!("filtering on {name}[…] is not supported"))),
    }
}

/// `attr eq "value"` inside brackets, as (lowercased attr, value).
fn parse_inner(inner: &str) -> ScimResult<(String, String)> {
    let tokens = tokenize(inner)?;
    match tokens.as_slice() {
        [Token::Word(attr), Token::Word(op), Token::Str(value)]
            if op.eq_ignore_ascii_case("eq") =>
        {
            Ok((attr.to_ascii_lowercase(), value.clone()))
        }
        _ => Err(invalid(
            "only [attribute eq \"value\"] is supported inside brackets",
        )),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Str(String),
}

fn tokenize(raw: &str) -> ScimResult<Vec<Token>> {
    let mut tokens = Vec::new();
    let mut chars = raw.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            tokens.push(Token::Str(quoted(&mut chars)?));
        } else if c == '(' || c == ')' {
            return Err(invalid("grouping with parentheses is not supported"));
        } else {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == '(' || c == ')' {
                    break;
                }
                if c == '"' {
                    return Err(invalid("a quote inside an attribute path"));
                }
                chars.next();
                word.push(c);
                if c == '[' {
                    // A value path: everything to the matching bracket, quotes respected.
                    let mut in_string = false;
                    let mut escaped = false;
                    loop {
                        let Some(c) = chars.next() else {
                            return Err(invalid("unclosed [ in the filter"));
                        };
                        word.push(c);
                        if in_string {
                            if escaped {
                                escaped = false;
                            } else if c == '\\' {
                                escaped = true;
                            } else if c == '"' {
                                in_string = false;
                            }
                        } else if c == '"' {
                            in_string = true;
                        } else if c == ']' {
                            break;
                        } else if c == '[' {
                            return Err(invalid("nested brackets are not supported"));
                        }
                    }
                }
            }
            tokens.push(Token::Word(word));
        }
    }
    Ok(tokens)
}

/// The rest of a JSON string literal after its opening quote.
fn quoted(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> ScimResult<String> {
    let mut literal = String::from("\"");
    let mut escaped = false;
    for c in chars.by_ref() {
        literal.push(c);
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' {
            return serde_json::from_str(&literal).map_err(|_| invalid("a malformed string"));
        }
    }
    Err(invalid("an unterminated string"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filters_identity_providers_send_parse() {
        assert_eq!(
            parse(r#"userName eq "Ann@Example.com""#, Resource::User).expect("parses"),
            vec![Condition::UserName("Ann@Example.com".into())]
        );
        assert_eq!(
            parse(
                r#"emails[type eq "work"].value eq "a@b.c" and externalId eq "x\"y""#,
                Resource::User
            )
            .expect("parses"),
            vec![
                Condition::WorkEmail("a@b.c".into()),
                Condition::ExternalId("x\"y".into())
            ]
        );
        assert_eq!(
            parse(
                r#"urn:ietf:params:scim:schemas:core:2.0:User:USERNAME EQ "a""#,
                Resource::User
            )
            .expect("parses"),
            vec![Condition::UserName("a".into())]
        );
        assert_eq!(
            parse(r#"id eq "g1" and members[value eq "u1"]"#, Resource::Group).expect("parses"),
            vec![Condition::Id("g1".into()), Condition::Member("u1".into())]
        );
    }

    #[test]
    fn everything_else_is_an_invalid_filter() {
        for bad in [
            "",
            "userName",
            r#"userName co "a""#,
            r#"userName eq "a" or userName eq "b""#,
            r#"not (userName eq "a")"#,
            r#"userName eq a"#,
            r#"userName eq "a"#,
            r#"title eq "a""#,
            r#"emails[type eq "home"].value eq "a""#,
            r#"emails.value eq "a""#,
            r#"emails[type eq "work"].value eq "a" and"#,
            r#"members[value eq "u"]"#,
            r#"displayName eq "x""#,
            r#"roles[primary eq "True"].value eq "x""#,
            &format!(r#"userName eq "{}""#, "a".repeat(MAX_FILTER_LEN)),
        ] {
            let err = parse(bad, Resource::User).expect_err(bad);
            assert_eq!(err.scim_type, Some(ScimType::InvalidFilter), "{bad}");
        }
    }
}
