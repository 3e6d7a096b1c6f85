//! The Discord integration: posts enrolments and course completions to a channel through its
//! webhook, and keeps a mapped role on learners who linked their Discord account (granted when
//! they complete the course, removed when the enrolment ends).
//!
//! Settings: `api_base` (default `https://discord.com/api/v10`), `announce` (the event types to
//! post, default both), `username`, `guild_id`, `course_roles` (course slug → role id).
//! Secrets: `webhook_url`, `bot_token`. A re-delivered event (after a failure later in the same
//! delivery) is not posted twice: the ids of the last events posted are kept in the key-value
//! store.

pub mod message;

use std::collections::BTreeMap;

use lms_plugin_sdk::integration::prelude::*;
use serde::Deserialize;

use crate::message::{Announcement, Verdict, judge, webhook_body};

const DEFAULT_API: &str = "https://discord.com/api/v10";
/// Event ids remembered as posted.
const RECENT: usize = 200;

#[derive(Deserialize, Default)]
#[serde(default)]
struct Settings {
    api_base: Option<String>,
    announce: Option<Vec<String>>,
    username: Option<String>,
    guild_id: Option<String>,
    course_roles: BTreeMap<String, String>,
}

fn verdict(response: http::Response) -> Result<(), IntegrationError> {
    match judge(response.status, &response.body) {
        Verdict::Done => Ok(()),
        Verdict::Retry(m) => Err(IntegrationError::Retry(m)),
        Verdict::Stop(m) => Err(IntegrationError::InvalidConfig(m)),
        Verdict::Fail(m) => Err(IntegrationError::Failed(m)),
    }
}

fn posted(event: &str) -> bool {
    kv::get("recent")
        .map(|v| String::from_utf8_lossy(&v).lines().any(|l| l == event))
        .unwrap_or(false)
}

fn remember(event: &str) -> Result<(), IntegrationError> {
    let recent = kv::get("recent").unwrap_or_default();
    let recent = String::from_utf8_lossy(&recent);
    let mut ids: Vec<&str> = recent.lines().collect();
    ids.push(event);
    let keep = ids.len().saturating_sub(RECENT);
    let text = ids[keep..].join("\n");
    kv::set("recent", text.as_bytes()).map_err(|e| IntegrationError::Failed(format!("{e:?}")))
}

fn announce(event: &Event, settings: &Settings) -> Result<(), IntegrationError> {
    let wanted = settings.announce.as_ref().map_or(
        ["enrollment.created", "course.completed"].contains(&event.kind.as_str()),
        |kinds| kinds.iter().any(|k| *k == event.kind),
    );
    let Some(course) = &event.course else {
        return Ok(());
    };
    if !wanted || posted(&event.id) {
        return Ok(());
    }
    let Some(url) = config::secret("webhook_url") else {
        log::warn("no webhook_url secret: nothing is posted");
        return Ok(());
    };
    let body = webhook_body(
        &Announcement {
            kind: event.kind.clone(),
            tenant: event.tenant.display_name.clone(),
            color: event.tenant.primary_color.clone(),
            learner: event.learner.as_ref().and_then(|l| l.display_name.clone()),
            course: course.title.clone(),
        },
        settings.username.as_deref(),
    );
    let response = http::Request::post(&format!("{url}?wait=true"))
        .json(&body)?
        .send()
        .map_err(http::Error::into_integration_error)?;
    verdict(response)?;
    remember(&event.id)
}

fn sync_role(event: &Event, settings: &Settings) -> Result<(), IntegrationError> {
    let grant = match event.kind.as_str() {
        "course.completed" => true,
        "enrollment.removed" => false,
        _ => return Ok(()),
    };
    let (Some(course), Some(guild)) = (&event.course, &settings.guild_id) else {
        return Ok(());
    };
    let Some(role) = settings.course_roles.get(&course.slug) else {
        return Ok(());
    };
    let Some(user) = event
        .learner
        .as_ref()
        .and_then(|l| l.discord_user_id.as_deref())
    else {
        // Only learners who linked their Discord account get roles.
        return Ok(());
    };
    let token = config::required_secret("bot_token")?;
    let api = settings
        .api_base
        .as_deref()
        .unwrap_or(DEFAULT_API)
        .trim_end_matches('/');
    let url = format!("{api}/guilds/{guild}/members/{user}/roles/{role}");
    let request = if grant {
        http::Request::put(&url)
    } else {
        http::Request::delete(&url)
    };
    let reason = format!("{} {}", event.kind, course.slug);
    let response = request
        .header("authorization", &format!("Bot {token}"))
        .header("x-audit-log-reason", &message::truncate(&reason, 512))
        .send()
        .map_err(http::Error::into_integration_error)?;
    verdict(response)
}

struct Discord;

impl Integration for Discord {
    fn handle_event(event: Event) -> Result<(), IntegrationError> {
        let settings: Settings = config::settings()?;
        announce(&event, &settings)?;
        sync_role(&event, &settings)
    }

    fn on_install(config: String) -> Result<(), IntegrationError> {
        let settings: Settings = config::parse(&config)?;
        if !settings.course_roles.is_empty() && settings.guild_id.is_none() {
            return Err(IntegrationError::InvalidConfig(
                "course_roles need a guild_id".into(),
            ));
        }
        Ok(())
    }
}

export_integration!(Discord);
