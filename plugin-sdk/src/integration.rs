//! The `integration` world (WIT 0.2.0): react to a tenant's domain events.
//!
//! ```ignore
//! use lms_plugin_sdk::integration::prelude::*;
//!
//! struct Announce;
//!
//! impl Integration for Announce {
//!     fn handle_event(event: Event) -> Result<(), IntegrationError> {
//!         if event.kind != "course.completed" {
//!             return Ok(());
//!         }
//!         let settings: serde_json::Value = config::settings()?;
//!         let url = settings["url"].as_str().unwrap_or_default();
//!         let response = http::Request::post(url).json(&serde_json::json!({"event": event.id}))?.send()?;
//!         if response.status >= 500 {
//!             return Err(IntegrationError::Retry(format!("status {}", response.status)));
//!         }
//!         Ok(())
//!     }
//! }
//!
//! lms_plugin_sdk::export_integration!(Announce);
//! ```
//!
//! Each import is a capability the plugin's manifest must declare and the install must grant:
//! `log` ([`log`]), `secrets` ([`config`]), `http` ([`http`]) and `key_value` ([`kv`]). The host
//! refuses an upload whose component imports an interface its manifest does not declare.

use serde::de::DeserializeOwned;

/// The organisation an event happened in (WIT `events.tenant`).
pub use crate::integration_bindings::lms::plugin::events::Tenant;

/// The learner an event concerns (WIT `events.learner`).
pub use crate::integration_bindings::lms::plugin::events::Learner;

/// The course an event concerns (WIT `events.course`).
pub use crate::integration_bindings::lms::plugin::events::Course;

/// The certificate an event concerns (WIT `events.certificate`).
pub use crate::integration_bindings::lms::plugin::events::Certificate;

/// One domain event (WIT `events.event`).
pub use crate::integration_bindings::lms::plugin::events::Event;

/// Why a call failed (WIT `integration-error`): `Retry` asks the platform to try again later.
pub use crate::integration_bindings::IntegrationError;

/// An integration plugin. Only [`Integration::handle_event`] is required.
pub trait Integration {
    /// Handles one event. The same event may be delivered more than once (after a failure);
    /// use its `id` to avoid doing the work twice where that matters.
    fn handle_event(event: Event) -> Result<(), IntegrationError>;

    /// Checks the settings (JSON text) when an admin installs or reconfigures the plugin.
    fn on_install(config: String) -> Result<(), IntegrationError> {
        let _ = config;
        Ok(())
    }

    /// Runs on the install's schedule.
    fn on_schedule() -> Result<(), IntegrationError> {
        Ok(())
    }
}

impl Event {
    /// Parses the event's data.
    pub fn parse_data<T: DeserializeOwned>(&self) -> Result<T, IntegrationError> {
        serde_json::from_str(&self.data)
            .map_err(|e| IntegrationError::Failed(format!("event data: {e}")))
    }
}

/// Everything an integration usually needs, for `use lms_plugin_sdk::integration::prelude::*`.
pub mod prelude {
    pub use super::{Event, Integration, IntegrationError, config, http, kv, log};
    pub use crate::export_integration;
}

/// Logging to the host (capability `log`).
pub mod log {
    /// How serious a log line is.
    pub use crate::integration_bindings::lms::plugin::log::Level;

    /// Writes one line at `level`.
    pub fn log(level: Level, message: &str) {
        #[cfg(target_arch = "wasm32")]
        crate::integration_bindings::lms::plugin::log::log(level, message);
        #[cfg(not(target_arch = "wasm32"))]
        eprintln!("[{level:?}] {message}");
    }

    /// Logs at info level.
    pub fn info(message: &str) {
        log(Level::Info, message);
    }

    /// Logs at warn level.
    pub fn warn(message: &str) {
        log(Level::Warn, message);
    }

    /// Logs at error level.
    pub fn error(message: &str) {
        log(Level::Error, message);
    }
}

/// The install's settings and secrets (capability `secrets`).
pub mod config {
    use serde::de::DeserializeOwned;

    use super::IntegrationError;
    use crate::integration_bindings::lms::plugin::config as wit;

    /// The settings, parsed; a parse failure is [`IntegrationError::InvalidConfig`].
    pub fn settings<T: DeserializeOwned>() -> Result<T, IntegrationError> {
        parse(&wit::settings())
    }

    /// Parses settings given as JSON text (e.g. `on-install`'s argument).
    pub fn parse<T: DeserializeOwned>(json: &str) -> Result<T, IntegrationError> {
        serde_json::from_str(json)
            .map_err(|e| IntegrationError::InvalidConfig(format!("settings: {e}")))
    }

    /// The secret saved under `name`.
    pub fn secret(name: &str) -> Option<String> {
        wit::secret(name)
    }

    /// The secret saved under `name`, or [`IntegrationError::InvalidConfig`] naming it.
    pub fn required_secret(name: &str) -> Result<String, IntegrationError> {
        secret(name).ok_or_else(|| IntegrationError::InvalidConfig(format!("no secret {name:?}")))
    }
}

/// Outgoing HTTP to the install's allowed hosts (capability `http`).
pub mod http {
    use serde::Serialize;
    use serde::de::DeserializeOwned;

    use super::IntegrationError;
    use crate::integration_bindings::lms::plugin::http as wit;
    pub use crate::integration_bindings::lms::plugin::http::{Error, Header, Method, Response};

    /// A request being built.
    #[derive(Debug, Clone)]
    pub struct Request(wit::Request);

    impl Request {
        /// A request with `method` to `url`.
        pub fn new(method: Method, url: &str) -> Self {
            Self(wit::Request {
                method,
                url: url.to_owned(),
                headers: Vec::new(),
                body: Vec::new(),
            })
        }

        /// A GET.
        pub fn get(url: &str) -> Self {
            Self::new(Method::Get, url)
        }

        /// A POST.
        pub fn post(url: &str) -> Self {
            Self::new(Method::Post, url)
        }

        /// A PUT.
        pub fn put(url: &str) -> Self {
            Self::new(Method::Put, url)
        }

        /// A DELETE.
        pub fn delete(url: &str) -> Self {
            Self::new(Method::Delete, url)
        }

        /// Adds a header.
        pub fn header(mut self, name: &str, value: &str) -> Self {
            self.0.headers.push(Header {
                name: name.to_owned(),
                value: value.to_owned(),
            });
            self
        }

        /// Sets a JSON body (and its content type).
        pub fn json<T: Serialize>(mut self, body: &T) -> Result<Self, IntegrationError> {
            self.0.body = serde_json::to_vec(body)
                .map_err(|e| IntegrationError::Failed(format!("serialising a body: {e}")))?;
            Ok(self.header("content-type", "application/json"))
        }

        /// Sets a raw body.
        pub fn body(mut self, body: Vec<u8>) -> Self {
            self.0.body = body;
            self
        }

        /// Sends it; a refusal by the host or a transport failure is an `Err`, any status `Ok`.
        pub fn send(self) -> Result<Response, Error> {
            wit::send(&self.0)
        }
    }

    impl Response {
        /// The first header called `name` (case-insensitive).
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| h.value.as_str())
        }

        /// Whether the status is 2xx.
        pub fn is_success(&self) -> bool {
            (200..300).contains(&self.status)
        }

        /// The body parsed as JSON.
        pub fn json<T: DeserializeOwned>(&self) -> Result<T, IntegrationError> {
            serde_json::from_slice(&self.body)
                .map_err(|e| IntegrationError::Failed(format!("response body: {e}")))
        }
    }

    impl Error {
        /// The error as an [`IntegrationError`]: worth a retry when the request may succeed
        /// later (rate limits, timeouts, transport failures), final otherwise.
        pub fn into_integration_error(self) -> IntegrationError {
            let message = format!("{self:?}");
            match self {
                Self::RateLimited(_) | Self::Timeout | Self::Transport(_) => {
                    IntegrationError::Retry(message)
                }
                Self::HostNotAllowed(_)
                | Self::Refused(_)
                | Self::TooManyRequests
                | Self::ResponseTooLarge(_) => IntegrationError::Failed(message),
            }
        }
    }
}

/// The install's key-value store (capability `key_value`); writes are saved when the call
/// succeeds.
pub mod kv {
    use crate::integration_bindings::lms::plugin::key_value as wit;
    pub use crate::integration_bindings::lms::plugin::key_value::Error;

    /// The value under `key`.
    pub fn get(key: &str) -> Option<Vec<u8>> {
        wit::get(key)
    }

    /// Saves `value` under `key`, within the quota.
    pub fn set(key: &str, value: &[u8]) -> Result<(), Error> {
        wit::set(key, value)
    }

    /// Removes `key`.
    pub fn delete(key: &str) {
        wit::delete(key);
    }
}
