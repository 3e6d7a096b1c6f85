//! What the plugin sends to Discord and how it reads the answers, as pure functions (unit
//! tested on the host). Discord's documented limits: message content 2000 characters, 10 embeds,
//! 6000 characters over all embeds, title 256, description 4096, 25 fields (name 256, value
//! 1024), footer 2048, author name 256; `429` answers carry `retry_after` in seconds.

use lms_plugin_sdk::serde_json::{self, Value, json};

/// Most characters of a message's `content`.
pub const CONTENT_MAX: usize = 2000;
/// Most characters of an embed's title.
pub const TITLE_MAX: usize = 256;
/// Most characters of an embed's description.
pub const DESCRIPTION_MAX: usize = 4096;
/// Most characters of an embed's footer text.
pub const FOOTER_MAX: usize = 2048;
/// Most characters of a field's name and value.
pub const FIELD_NAME_MAX: usize = 256;
/// Most characters of a field's value.
pub const FIELD_VALUE_MAX: usize = 1024;
/// Most characters over all the embeds of one message.
pub const EMBEDS_TOTAL_MAX: usize = 6000;
/// Most characters of the webhook's username.
pub const USERNAME_MAX: usize = 80;

/// One event worth a message.
#[derive(Debug, Clone, PartialEq)]
pub struct Announcement {
    /// `enrollment.created` or `course.completed`.
    pub kind: String,
    /// The organisation's name.
    pub tenant: String,
    /// The brand colour, `#rrggbb`.
    pub color: Option<String>,
    /// The learner's name, when the install may know it.
    pub learner: Option<String>,
    /// The course's title.
    pub course: String,
}

/// `text` cut to `max` characters, ending with an ellipsis when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

fn color(hex: Option<&str>) -> Option<u32> {
    let hex = hex?.strip_prefix('#')?;
    (hex.len() == 6).then(|| u32::from_str_radix(hex, 16).ok())?
}

/// The webhook's JSON body for `a`: one tenant-branded embed, no mentions.
pub fn webhook_body(a: &Announcement, username: Option<&str>) -> Value {
    let who = a.learner.as_deref().unwrap_or("A learner");
    let (title, description) = match a.kind.as_str() {
        "course.completed" => (
            format!("🎓 {who} completed {}", a.course),
            format!("Congratulations to {who} on completing **{}**.", a.course),
        ),
        _ => (
            format!("👋 {who} enrolled in {}", a.course),
            format!("{who} has started **{}**. Say hello!", a.course),
        ),
    };
    let title = truncate(&title, TITLE_MAX);
    let footer = truncate(&a.tenant, FOOTER_MAX);
    let course = truncate(&a.course, FIELD_VALUE_MAX);
    // The description takes what the other parts leave of the 6000 characters.
    let used =
        title.chars().count() + footer.chars().count() + "Course".len() + course.chars().count();
    let room = EMBEDS_TOTAL_MAX.saturating_sub(used).min(DESCRIPTION_MAX);
    let mut embed = json!({
        "title": title,
        "description": truncate(&description, room),
        "fields": [{ "name": truncate("Course", FIELD_NAME_MAX), "value": course, "inline": true }],
        "footer": { "text": footer },
    });
    if let Some(color) = color(a.color.as_deref()) {
        embed["color"] = json!(color);
    }
    let mut body = json!({
        "embeds": [embed],
        "allowed_mentions": { "parse": [] },
    });
    if let Some(name) = username {
        body["username"] = json!(truncate(name, USERNAME_MAX));
    }
    body
}

/// The characters Discord counts against [`EMBEDS_TOTAL_MAX`] in `body`'s embeds.
pub fn embed_characters(body: &Value) -> usize {
    let len = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
    body["embeds"]
        .as_array()
        .map(|embeds| {
            embeds
                .iter()
                .map(|e| {
                    len(&e["title"])
                        + len(&e["description"])
                        + len(&e["footer"]["text"])
                        + len(&e["author"]["name"])
                        + e["fields"].as_array().map_or(0, |fields| {
                            fields
                                .iter()
                                .map(|f| len(&f["name"]) + len(&f["value"]))
                                .sum()
                        })
                })
                .sum()
        })
        .unwrap_or(0)
}

/// What an answer from Discord means for the delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Done.
    Done,
    /// Try again later (rate limited, Discord unavailable).
    Retry(String),
    /// The credentials or ids are wrong: stop, retrying would only count invalid requests
    /// towards Discord's ban threshold.
    Stop(String),
    /// Refused for another reason retrying will not fix.
    Fail(String),
}

/// Reads an answer's status and body.
pub fn judge(status: u16, body: &[u8]) -> Verdict {
    let excerpt = || truncate(&String::from_utf8_lossy(body), 300);
    match status {
        200..=299 => Verdict::Done,
        429 => {
            let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let after = parsed["retry_after"].as_f64().unwrap_or(1.0);
            let global = parsed["global"].as_bool().unwrap_or(false);
            Verdict::Retry(format!(
                "rate limited by Discord: retry after {after} s{}",
                if global { " (global)" } else { "" }
            ))
        }
        401 | 403 | 404 => Verdict::Stop(format!("Discord answered {status}: {}", excerpt())),
        500..=599 => Verdict::Retry(format!("Discord answered {status}")),
        _ => Verdict::Fail(format!("Discord answered {status}: {}", excerpt())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn announcement(course: &str, learner: Option<&str>) -> Announcement {
        Announcement {
            kind: "course.completed".into(),
            tenant: "Acme Academy".into(),
            color: Some("#1a2b3c".into()),
            learner: learner.map(str::to_owned),
            course: course.into(),
        }
    }

    #[test]
    fn a_completion_is_one_branded_embed_without_mentions() {
        let body = webhook_body(&announcement("Rust 101", Some("Ada")), Some("Acme"));
        let embed = &body["embeds"][0];
        assert_eq!(embed["title"], "🎓 Ada completed Rust 101");
        assert_eq!(embed["color"], 0x1a2b3c);
        assert_eq!(embed["footer"]["text"], "Acme Academy");
        assert_eq!(body["allowed_mentions"]["parse"], json!([]));
        assert_eq!(body["username"], "Acme");
        let anonymous = webhook_body(&announcement("Rust 101", None), None);
        assert_eq!(
            anonymous["embeds"][0]["title"],
            "🎓 A learner completed Rust 101"
        );
        assert!(anonymous.get("username").is_none());
    }

    #[test]
    fn long_texts_stay_within_every_limit() {
        let long = "x".repeat(10_000);
        let body = webhook_body(&announcement(&long, Some(&long)), Some(&long));
        let embed = &body["embeds"][0];
        let chars = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
        assert!(chars(&embed["title"]) <= TITLE_MAX);
        assert!(chars(&embed["description"]) <= DESCRIPTION_MAX);
        assert!(chars(&embed["fields"][0]["value"]) <= FIELD_VALUE_MAX);
        assert!(chars(&body["username"]) <= USERNAME_MAX);
        assert!(
            embed_characters(&body) <= EMBEDS_TOTAL_MAX,
            "{}",
            embed_characters(&body)
        );
        assert_eq!(truncate("héllo", 3), "hé…");
    }

    #[test]
    fn answers_are_judged_as_discord_documents_them() {
        assert_eq!(judge(204, b""), Verdict::Done);
        assert!(matches!(
            judge(429, br#"{"message": "You are being rate limited.", "retry_after": 0.25, "global": false}"#),
            Verdict::Retry(m) if m.contains("0.25")
        ));
        assert!(matches!(judge(401, b"{}"), Verdict::Stop(_)));
        assert!(matches!(judge(404, b"{}"), Verdict::Stop(_)));
        assert!(matches!(judge(502, b""), Verdict::Retry(_)));
        assert!(
            matches!(judge(400, br#"{"code": 50035}"#), Verdict::Fail(m) if m.contains("50035"))
        );
    }
}
