//! The integration world's values, independent of the WIT version a plugin was built against,
//! and what one call of an integration may use: the capabilities its install was granted.
//!
//! Config and key-value live in memory for the call: the embedder loads them before and, when
//! the call succeeds, saves the key-value store back; a failed call's writes are dropped, so a
//! retry sees what the failed call saw. Outbound HTTP goes through an [`HttpClient`] the embedder
//! provides (the platform's guarded client, restricted to the install's hosts and rate limit);
//! the host adds a per-call request budget, the response size cap and the call's deadline.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// The organisation an event happened in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTenant {
    /// Its id.
    pub id: String,
    /// Its slug.
    pub slug: String,
    /// The name learners see.
    pub display_name: String,
    /// The brand's primary colour, `#rrggbb`.
    pub primary_color: Option<String>,
}

/// The learner an event concerns, with only what the install may know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventLearner {
    /// An opaque id.
    pub id: String,
    /// Display name (capability `learner_profile`).
    pub display_name: Option<String>,
    /// Email address (capability `learner_profile`).
    pub email: Option<String>,
    /// The linked Discord user id.
    pub discord_user_id: Option<String>,
}

/// The course an event concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventCourse {
    /// Its id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its slug.
    pub slug: String,
}

/// The certificate an event concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventCertificate {
    /// Its id.
    pub id: String,
    /// Where it can be verified.
    pub verification_url: String,
}

/// One domain event as an integration receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The event's id.
    pub id: String,
    /// Its type, e.g. `course.completed`.
    pub kind: String,
    /// The version of the type's data.
    pub version: u32,
    /// RFC 3339, UTC.
    pub occurred_at: String,
    /// The organisation.
    pub tenant: EventTenant,
    /// The learner concerned.
    pub learner: Option<EventLearner>,
    /// The course concerned.
    pub course: Option<EventCourse>,
    /// The certificate concerned.
    pub certificate: Option<EventCertificate>,
    /// The event's data as JSON text.
    pub data: String,
}

impl Event {
    /// The bytes of text the event carries into the plugin.
    pub fn size(&self) -> usize {
        let t = &self.tenant;
        let learner = self.learner.as_ref().map_or(0, |l| {
            l.id.len()
                + l.display_name.as_ref().map_or(0, String::len)
                + l.email.as_ref().map_or(0, String::len)
                + l.discord_user_id.as_ref().map_or(0, String::len)
        });
        let course = self
            .course
            .as_ref()
            .map_or(0, |c| c.id.len() + c.title.len() + c.slug.len());
        let certificate = self
            .certificate
            .as_ref()
            .map_or(0, |c| c.id.len() + c.verification_url.len());
        self.id.len()
            + self.kind.len()
            + self.occurred_at.len()
            + t.id.len()
            + t.slug.len()
            + t.display_name.len()
            + t.primary_color.as_ref().map_or(0, String::len)
            + learner
            + course
            + certificate
            + self.data.len()
    }
}

/// An integration's own reason for failing (WIT `integration-error`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntegrationError {
    /// The install's settings or secrets are unusable; retrying will not help.
    #[error("invalid config: {0}")]
    InvalidConfig(String),
    /// Worth retrying later.
    #[error("retry later: {0}")]
    Retry(String),
    /// Retrying will not help.
    #[error("failed: {0}")]
    Failed(String),
}

impl IntegrationError {
    /// The plugin's own message.
    pub fn message(&self) -> &str {
        match self {
            Self::InvalidConfig(m) | Self::Retry(m) | Self::Failed(m) => m,
        }
    }

    /// Whether the plugin says a later attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Retry(_))
    }
}

/// The methods a plugin may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpMethod {
    /// GET.
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
}

impl HttpMethod {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }
}

/// A request a plugin asks the host to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// The method.
    pub method: HttpMethod,
    /// The absolute URL.
    pub url: String,
    /// Headers, name and value.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// The answer to a plugin's request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Headers, name and value.
    pub headers: Vec<(String, String)>,
    /// The body, within the cap.
    pub body: Vec<u8>,
}

/// Why a plugin's request was not sent or not answered (WIT `http.error`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// The host is not among the install's allowed hosts.
    #[error("{0} is not an allowed host of this install")]
    HostNotAllowed(String),
    /// The URL is unusable or its address refused.
    #[error("refused: {0}")]
    Refused(String),
    /// The call's request budget is spent.
    #[error("this call already sent as many requests as one call may")]
    TooManyRequests,
    /// The install's rate limit is spent.
    #[error("rate limited; retry after {retry_after_ms} ms")]
    RateLimited {
        /// When to retry.
        retry_after_ms: u32,
    },
    /// The response body was over the cap.
    #[error("the response is over the {limit} byte cap")]
    ResponseTooLarge {
        /// The cap.
        limit: u32,
    },
    /// No answer in time.
    #[error("no answer in time")]
    Timeout,
    /// The exchange failed.
    #[error("transport failure: {0}")]
    Transport(String),
}

/// A boxed future, for the object-safe [`HttpClient`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Sends a plugin's requests: the embedder's guarded client, bound to one install (its allowed
/// hosts and rate limit). The host applies the call's budget and deadline around it.
pub trait HttpClient: Send + Sync {
    /// Sends one request; a body over `max_body_bytes` is [`HttpError::ResponseTooLarge`].
    fn send(
        &self,
        request: HttpRequest,
        max_body_bytes: usize,
    ) -> BoxFuture<'_, Result<HttpResponse, HttpError>>;
}

/// Why a key-value write was refused (WIT `key-value.error`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyValueError {
    /// The key is unusable.
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// The write would pass the quota.
    #[error("over the key-value quota of {quota} bytes")]
    QuotaExceeded {
        /// The quota, bytes of keys and values.
        quota: u32,
    },
}

/// Longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 256;

/// An install's key-value store for one call. Its size is the bytes of its keys and values.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyValue {
    entries: BTreeMap<String, Vec<u8>>,
    quota_bytes: usize,
    used_bytes: usize,
    changed: bool,
}

impl fmt::Debug for KeyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyValue")
            .field("keys", &self.entries.len())
            .field("used_bytes", &self.used_bytes)
            .field("quota_bytes", &self.quota_bytes)
            .finish()
    }
}

impl KeyValue {
    /// The store as saved, under `quota_bytes`. A store saved under a larger quota is kept as it
    /// is, but only deletes and shrinking writes succeed until it fits.
    pub fn new(entries: BTreeMap<String, Vec<u8>>, quota_bytes: usize) -> Self {
        let used_bytes = entries.iter().map(|(k, v)| k.len() + v.len()).sum();
        Self {
            entries,
            quota_bytes,
            used_bytes,
            changed: false,
        }
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.entries.get(key).map(Vec::as_slice)
    }

    /// Saves `value` under `key`, within the quota.
    pub fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), KeyValueError> {
        check_key(&key)?;
        let old = self.entries.get(&key).map_or(0, |v| key.len() + v.len());
        let new = key.len() + value.len();
        let used = self.used_bytes - old + new;
        if used > self.quota_bytes && new > old {
            return Err(KeyValueError::QuotaExceeded {
                quota: u32::try_from(self.quota_bytes).unwrap_or(u32::MAX),
            });
        }
        self.used_bytes = used;
        self.entries.insert(key, value);
        self.changed = true;
        Ok(())
    }

    /// Removes `key`.
    pub fn delete(&mut self, key: &str) {
        if let Some(value) = self.entries.remove(key) {
            self.used_bytes -= key.len() + value.len();
            self.changed = true;
        }
    }

    /// Whether a write or delete happened.
    pub fn changed(&self) -> bool {
        self.changed
    }

    /// Bytes of keys and values.
    pub fn used_bytes(&self) -> usize {
        self.used_bytes
    }

    /// The entries, to save.
    pub fn into_entries(self) -> BTreeMap<String, Vec<u8>> {
        self.entries
    }
}

fn check_key(key: &str) -> Result<(), KeyValueError> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(KeyValueError::InvalidKey(format!(
            "a key is 1 to {MAX_KEY_BYTES} bytes, not {}",
            key.len()
        )));
    }
    if key.chars().any(char::is_control) {
        return Err(KeyValueError::InvalidKey(
            "a key may not contain control characters".into(),
        ));
    }
    Ok(())
}

/// What one call of an integration may use: exactly what its install was granted. A capability
/// left out is refused if the plugin reaches for it ([`crate::PluginError::CapabilityDenied`]).
#[derive(Clone, Default)]
pub struct Grants {
    /// `log`: its lines reach the host's log.
    pub log: bool,
    /// `secrets`: the settings (JSON text) and secrets of the install.
    pub config: Option<InstallConfig>,
    /// `key_value`: the install's store.
    pub key_value: Option<KeyValue>,
    /// `http`: the install's client.
    pub http: Option<Arc<dyn HttpClient>>,
}

impl fmt::Debug for Grants {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Grants")
            .field("log", &self.log)
            .field("config", &self.config.is_some())
            .field("key_value", &self.key_value)
            .field("http", &self.http.is_some())
            .finish()
    }
}

/// An install's settings and opened secrets, for one call.
#[derive(Clone, Default)]
pub struct InstallConfig {
    /// The settings as JSON text.
    pub settings: String,
    /// Secrets by name, opened for the call.
    pub secrets: BTreeMap<String, String>,
}

impl fmt::Debug for InstallConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstallConfig")
            .field("settings", &self.settings)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// What a successful integration call leaves behind.
#[derive(Debug, Clone)]
pub struct IntegrationDone {
    /// The key-value store after the call, when the install has one; save it if
    /// [`KeyValue::changed`].
    pub key_value: Option<KeyValue>,
    /// Requests the call sent.
    pub http_requests: u32,
}

/// Which export of the integration world to call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntegrationCall {
    /// `handle-event`.
    HandleEvent(Event),
    /// `on-install`, with the settings as JSON text.
    OnInstall(String),
    /// `on-schedule`.
    OnSchedule,
}

impl IntegrationCall {
    /// The bytes of text the call carries into the plugin.
    pub fn size(&self) -> usize {
        match self {
            Self::HandleEvent(event) => event.size(),
            Self::OnInstall(config) => config.len(),
            Self::OnSchedule => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quota_counts_keys_and_values_and_deletes_free_room() {
        let mut kv = KeyValue::new(BTreeMap::new(), 10);
        assert_eq!(kv.set("ab".into(), vec![0; 8]), Ok(()));
        assert_eq!(kv.used_bytes(), 10);
        assert_eq!(
            kv.set("c".into(), vec![1]),
            Err(KeyValueError::QuotaExceeded { quota: 10 })
        );
        // Replacing a value with a smaller one is always possible.
        assert_eq!(kv.set("ab".into(), vec![0; 2]), Ok(()));
        assert_eq!(kv.set("c".into(), vec![1; 3]), Ok(()));
        kv.delete("ab");
        assert_eq!(kv.used_bytes(), 4);
        assert!(kv.changed());
        assert_eq!(kv.get("c"), Some(&[1, 1, 1][..]));
    }

    #[test]
    fn keys_are_bounded_and_printable() {
        let mut kv = KeyValue::new(BTreeMap::new(), 1 << 20);
        for bad in [String::new(), "a".repeat(MAX_KEY_BYTES + 1), "a\nb".into()] {
            assert!(matches!(
                kv.set(bad, vec![]),
                Err(KeyValueError::InvalidKey(_))
            ));
        }
        assert!(!kv.changed());
    }
}
