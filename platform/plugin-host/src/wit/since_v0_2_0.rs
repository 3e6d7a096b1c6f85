//! `lms:plugin@0.2.0`: the `integration` world's generated bindings, the host side of its
//! imports (`log`, `config`, `http`, `key-value`), and the conversions between its records and
//! the host's own types.
//!
//! The imports are written by hand rather than through bindgen's `add_to_linker`, like 0.1.0's
//! `log`, so that each one first checks the call's grants and budgets. Every value a plugin
//! passes in is copied under the store's transfer budget (see [`super::transfer_budget`]).

use std::time::Instant;

use wasmtime::component::{Linker, WasmStr};
use wasmtime::{Store, StoreContextMut};

use crate::host::State;
use crate::integration::{self as ours, IntegrationCall};

/// The bindings bindgen generates from the frozen WIT.
#[allow(missing_docs, clippy::all)]
mod bindings {
    wasmtime::component::bindgen!({
        path: "../../plugin-sdk/wit/since_v0.2.0",
        world: "integration",
        exports: { default: async },
    });
}

use bindings::lms::plugin::{events, http, key_value};
pub use bindings::*;

/// Adds the host side of the 0.2.0 imports to `linker`.
pub(super) fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    use bindings::lms::plugin::log::Level;
    // The events interface carries only types.
    linker.instance("lms:plugin/events@0.2.0")?;

    linker.instance("lms:plugin/log@0.2.0")?.func_wrap(
        "log",
        |store: StoreContextMut<'_, State>, (level, message): (Level, WasmStr)| {
            let level = match level {
                Level::Trace => tracing::Level::TRACE,
                Level::Debug => tracing::Level::DEBUG,
                Level::Info => tracing::Level::INFO,
                Level::Warn => tracing::Level::WARN,
                Level::Error => tracing::Level::ERROR,
            };
            super::write_log_line(store, level, &message);
            Ok(())
        },
    )?;

    {
        let mut config = linker.instance("lms:plugin/config@0.2.0")?;
        config.func_wrap(
            "settings",
            |mut store: StoreContextMut<'_, State>, (): ()| {
                let config = store.data_mut().granted_config()?;
                Ok((config.settings.clone(),))
            },
        )?;
        config.func_wrap(
            "secret",
            |mut store: StoreContextMut<'_, State>, (name,): (String,)| {
                let config = store.data_mut().granted_config()?;
                Ok((config.secrets.get(&name).cloned(),))
            },
        )?;
    }

    {
        let mut kv = linker.instance("lms:plugin/key-value@0.2.0")?;
        kv.func_wrap(
            "get",
            |mut store: StoreContextMut<'_, State>, (key,): (String,)| {
                let kv = store.data_mut().granted_key_value()?;
                Ok((kv.get(&key).map(<[u8]>::to_vec),))
            },
        )?;
        kv.func_wrap(
            "set",
            |mut store: StoreContextMut<'_, State>, (key, value): (String, Vec<u8>)| {
                let kv = store.data_mut().granted_key_value()?;
                let result = kv.set(key, value).map_err(|e| match e {
                    ours::KeyValueError::InvalidKey(m) => key_value::Error::InvalidKey(m),
                    ours::KeyValueError::QuotaExceeded { quota } => {
                        key_value::Error::QuotaExceeded(quota)
                    }
                });
                Ok((result,))
            },
        )?;
        kv.func_wrap(
            "delete",
            |mut store: StoreContextMut<'_, State>, (key,): (String,)| {
                store.data_mut().granted_key_value()?.delete(&key);
                Ok(())
            },
        )?;
    }

    linker.instance("lms:plugin/http@0.2.0")?.func_wrap_async(
        "send",
        |store: StoreContextMut<'_, State>, (request,): (http::Request,)| {
            Box::new(send(store, request))
        },
    )?;
    Ok(())
}

/// `http.send`: within the call's grant, request budget and deadline.
async fn send(
    mut store: StoreContextMut<'_, State>,
    request: http::Request,
) -> wasmtime::Result<(Result<http::Response, http::Error>,)> {
    let state = store.data_mut();
    let (client, max_body) = state.granted_http()?;
    if !state.take_http_request() {
        return Ok((Err(http::Error::TooManyRequests),));
    }
    // The request must end within the call's deadline; the plugin stops at its next
    // instruction once the deadline has passed.
    let left = state.deadline().saturating_duration_since(Instant::now());
    let sent = tokio::time::timeout(left, client.send(request.into(), max_body)).await;
    let result = match sent {
        Err(_) => Err(http::Error::Timeout),
        Ok(Ok(response)) => Ok(response.into()),
        Ok(Err(error)) => Err(error.into()),
    };
    Ok((result,))
}

/// Instantiates an integration in `store` and makes `call`.
pub(super) async fn call(
    pre: &IntegrationPre<State>,
    store: &mut Store<State>,
    call: &IntegrationCall,
) -> wasmtime::Result<Result<(), ours::IntegrationError>> {
    let integration = pre.instantiate_async(&mut *store).await?;
    let result = match call {
        IntegrationCall::HandleEvent(event) => {
            integration
                .call_handle_event(&mut *store, &events::Event::from(event))
                .await?
        }
        IntegrationCall::OnInstall(config) => {
            integration.call_on_install(&mut *store, config).await?
        }
        IntegrationCall::OnSchedule => integration.call_on_schedule(&mut *store).await?,
    };
    Ok(result.map_err(ours::IntegrationError::from))
}

impl From<IntegrationError> for ours::IntegrationError {
    fn from(e: IntegrationError) -> Self {
        match e {
            IntegrationError::InvalidConfig(m) => Self::InvalidConfig(m),
            IntegrationError::Retry(m) => Self::Retry(m),
            IntegrationError::Failed(m) => Self::Failed(m),
        }
    }
}

impl From<&ours::Event> for events::Event {
    fn from(e: &ours::Event) -> Self {
        Self {
            id: e.id.clone(),
            kind: e.kind.clone(),
            version: e.version,
            occurred_at: e.occurred_at.clone(),
            tenant: events::Tenant {
                id: e.tenant.id.clone(),
                slug: e.tenant.slug.clone(),
                display_name: e.tenant.display_name.clone(),
                primary_color: e.tenant.primary_color.clone(),
            },
            learner: e.learner.as_ref().map(|l| events::Learner {
                id: l.id.clone(),
                display_name: l.display_name.clone(),
                email: l.email.clone(),
                discord_user_id: l.discord_user_id.clone(),
            }),
            course: e.course.as_ref().map(|c| events::Course {
                id: c.id.clone(),
                title: c.title.clone(),
                slug: c.slug.clone(),
            }),
            certificate: e.certificate.as_ref().map(|c| events::Certificate {
                id: c.id.clone(),
                verification_url: c.verification_url.clone(),
            }),
            data: e.data.clone(),
        }
    }
}

impl From<http::Request> for ours::HttpRequest {
    fn from(r: http::Request) -> Self {
        Self {
            method: match r.method {
                http::Method::Get => ours::HttpMethod::Get,
                http::Method::Post => ours::HttpMethod::Post,
                http::Method::Put => ours::HttpMethod::Put,
                http::Method::Patch => ours::HttpMethod::Patch,
                http::Method::Delete => ours::HttpMethod::Delete,
            },
            url: r.url,
            headers: r.headers.into_iter().map(|h| (h.name, h.value)).collect(),
            body: r.body,
        }
    }
}

impl From<ours::HttpResponse> for http::Response {
    fn from(r: ours::HttpResponse) -> Self {
        Self {
            status: r.status,
            headers: r
                .headers
                .into_iter()
                .map(|(name, value)| http::Header { name, value })
                .collect(),
            body: r.body,
        }
    }
}

impl From<ours::HttpError> for http::Error {
    fn from(e: ours::HttpError) -> Self {
        match e {
            ours::HttpError::HostNotAllowed(h) => Self::HostNotAllowed(h),
            ours::HttpError::Refused(m) => Self::Refused(m),
            ours::HttpError::TooManyRequests => Self::TooManyRequests,
            ours::HttpError::RateLimited { retry_after_ms } => Self::RateLimited(retry_after_ms),
            ours::HttpError::ResponseTooLarge { limit } => Self::ResponseTooLarge(limit),
            ours::HttpError::Timeout => Self::Timeout,
            ours::HttpError::Transport(m) => Self::Transport(m),
        }
    }
}
