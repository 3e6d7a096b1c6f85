//! `GET /api/v1/notifications/stream`: a user's new notifications as Server-Sent Events.
//!
//! **Fan-out through PostgreSQL `LISTEN/NOTIFY`, not Redis.** The commit that writes a
//! notification sends `NOTIFY lms_notifications, '<tenant id>:<user id>'`; PostgreSQL delivers
//! it to every replica's one listening connection, and only if the transaction commits, so a
//! stream never hears of a notification it cannot read yet. The database every replica already
//! shares is the bus: no second system to run, secure and keep in step with the data (Redis
//! pub/sub would need the notification published after commit, where a crash loses it). The
//! payload carries ids only, never content: each stream re-reads its user's notifications
//! from the table in its tenant's transaction, under row-level security. `NOTIFY` costs one
//! short message per notification and one connection per process, well within PostgreSQL's
//! means at this traffic (people get a few notifications a day); should it ever not be, the
//! same [`Notifier`] can listen to Redis (fred) instead without the streams changing.
//!
//! **No gaps, no duplicates.** Each user's notifications are numbered in commit order (a
//! counter row locked until the writer commits). A stream keeps the number of the last one it
//! sent and, whenever woken, sends those numbered after it, in order. It subscribes before it
//! reads its starting point, so nothing committed in between is missed. `Last-Event-ID` (a
//! notification id) resumes after that notification; without it a stream starts with what
//! comes next. A lost listener connection wakes every stream once it is back (notifications
//! sent meanwhile were lost), and each stream also looks every 30 seconds.
//!
//! Streams are bounded: [`MAX_STREAMS_PER_USER`] per user in each process. A stream ends when
//! its access token expires, when its user is deactivated or signed out everywhere (checked at
//! every look), and when the server shuts down; clients reconnect with `Last-Event-ID`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use lms_tenants::TenantId;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::watch;

use super::store::{self, CHANNEL, Notification};
use crate::auth::Caller;
use crate::state::AppState;
use crate::users::UserId;

/// Concurrent streams one user may hold open on one server process.
pub const MAX_STREAMS_PER_USER: usize = 5;
/// Notifications read per look.
const BATCH: i64 = 100;
/// A stream looks even when not woken this often.
const POLL: Duration = Duration::from_secs(30);
/// A comment line this often keeps proxies from closing a quiet stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

type Key = (TenantId, UserId);

/// The process's streams by user, woken by the one `LISTEN` connection.
#[derive(Clone)]
pub struct Notifier {
    inner: Arc<Inner>,
}

struct Inner {
    users: Mutex<HashMap<Key, Slot>>,
    /// Set when the server shuts down: every stream ends.
    closed: watch::Sender<bool>,
}

struct Slot {
    streams: usize,
    /// Bumped for each notification of the user's.
    wake: watch::Sender<u64>,
}

impl Default for Notifier {
    fn default() -> Self {
        Self {
            inner: Arc::new(Inner {
                users: Mutex::new(HashMap::new()),
                closed: watch::channel(false).0,
            }),
        }
    }
}

/// A stream's place among the user's streams; leaving drops it.
pub struct Subscription {
    notifier: Notifier,
    key: Key,
    wake: watch::Receiver<u64>,
    closed: watch::Receiver<bool>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut users = self.notifier.users();
        if let Some(slot) = users.get_mut(&self.key) {
            slot.streams -= 1;
            if slot.streams == 0 {
                users.remove(&self.key);
            }
        }
    }
}

impl Notifier {
    fn users(&self) -> MutexGuard<'_, HashMap<Key, Slot>> {
        // The map stays consistent even if a holder panicked: each change is one statement.
        self.inner
            .users
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Joins the user's streams; `None` when they already hold [`MAX_STREAMS_PER_USER`].
    pub fn subscribe(&self, tenant: TenantId, user: UserId) -> Option<Subscription> {
        let key = (tenant, user);
        let mut users = self.users();
        let slot = users.entry(key).or_insert_with(|| Slot {
            streams: 0,
            wake: watch::channel(0).0,
        });
        if slot.streams >= MAX_STREAMS_PER_USER {
            return None;
        }
        slot.streams += 1;
        let wake = slot.wake.subscribe();
        drop(users);
        Some(Subscription {
            notifier: self.clone(),
            key,
            wake,
            closed: self.inner.closed.subscribe(),
        })
    }

    /// Wakes the user's streams in this process.
    pub fn wake(&self, tenant: TenantId, user: UserId) {
        if let Some(slot) = self.users().get(&(tenant, user)) {
            slot.wake.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    fn wake_all(&self) {
        for slot in self.users().values() {
            slot.wake.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// Ends every stream (the server is shutting down).
    pub fn close(&self) {
        self.inner.closed.send_replace(true);
    }

    /// How many streams the process holds open.
    pub fn open_streams(&self) -> usize {
        self.users().values().map(|s| s.streams).sum()
    }

    /// Listens for notifications on one connection of `pool` and wakes their users' streams,
    /// until aborted. After a lost connection it wakes every stream once it is back.
    pub async fn listen(self, pool: PgPool) {
        loop {
            match PgListener::connect_with(&pool).await {
                Ok(mut listener) => match listener.listen(CHANNEL).await {
                    Ok(()) => {
                        self.wake_all();
                        loop {
                            match listener.recv().await {
                                Ok(message) => match parse_payload(message.payload()) {
                                    Some((tenant, user)) => self.wake(tenant, user),
                                    None => tracing::warn!(
                                        payload = message.payload(),
                                        "unreadable notification wake-up"
                                    ),
                                },
                                Err(err) => {
                                    tracing::warn!(error = %err, "notification wake-ups");
                                    break;
                                }
                            }
                        }
                    }
                    Err(err) => tracing::warn!(error = %err, "listening for notifications"),
                },
                Err(err) => tracing::warn!(error = %err, "connecting for notifications"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// `<tenant id>:<user id>`.
fn parse_payload(payload: &str) -> Option<Key> {
    let (tenant, user) = payload.split_once(':')?;
    Some((
        TenantId::from_uuid(tenant.parse().ok()?),
        UserId(user.parse().ok()?),
    ))
}

/// What a stream carries between events.
struct Cursor {
    state: AppState,
    caller: Caller,
    /// The number of the last notification sent.
    last: i64,
    pending: VecDeque<Notification>,
    subscription: Subscription,
    /// When the access token the stream was opened with expires.
    expires: tokio::time::Instant,
}

/// Starts a stream after notification number `last`.
pub fn sse(
    state: AppState,
    caller: Caller,
    subscription: Subscription,
    last: i64,
    expires_in: Duration,
) -> Sse<impl Stream<Item = Result<Event, std::convert::Infallible>>> {
    let cursor = Cursor {
        state,
        caller,
        last,
        pending: VecDeque::new(),
        subscription,
        expires: tokio::time::Instant::now() + expires_in,
    };
    let events = futures::stream::unfold(cursor, |mut c| async move {
        let event = c.next().await?;
        Some((Ok(event), c))
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}

impl Cursor {
    /// The next event, waiting as long as it takes; `None` ends the stream.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if *self.subscription.closed.borrow() {
                return None;
            }
            if let Some(n) = self.pending.pop_front() {
                self.last = n.seq;
                match Event::default()
                    .id(n.id.to_string())
                    .event("notification")
                    .json_data(&n)
                {
                    Ok(event) => return Some(event),
                    Err(err) => {
                        tracing::error!(error = %err, "encoding a notification event");
                        return None;
                    }
                }
            }
            // Marks the wake-ups so far as seen before reading: one after the read wakes us.
            self.subscription.wake.borrow_and_update();
            match self.read().await {
                Ok(rows) if !rows.is_empty() => {
                    self.pending.extend(rows);
                    continue;
                }
                Ok(_) => {}
                Err(err) => {
                    tracing::debug!(error = %err, "notification stream ends");
                    return None;
                }
            }
            tokio::select! {
                changed = self.subscription.wake.changed() => {
                    if changed.is_err() {
                        return None;
                    }
                }
                _ = self.subscription.closed.changed() => return None,
                () = tokio::time::sleep(POLL) => {}
                () = tokio::time::sleep_until(self.expires) => return None,
            }
        }
    }

    /// The user's notifications after the last sent, confirming the user is still active and
    /// the session current.
    async fn read(&self) -> Result<Vec<Notification>, crate::error::ApiError> {
        let (mut tx, actor) = self.caller.begin(&self.state).await?;
        let rows = store::after(&mut tx, actor.user_id, self.last, BATCH).await?;
        tx.commit().await?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_per_user_are_bounded_and_released() {
        let notifier = Notifier::default();
        let tenant = TenantId::new();
        let user = UserId::default();
        let held: Vec<_> = (0..MAX_STREAMS_PER_USER)
            .map(|_| notifier.subscribe(tenant, user).expect("under the bound"))
            .collect();
        assert!(notifier.subscribe(tenant, user).is_none());
        // Another user of the tenant is not affected.
        assert!(notifier.subscribe(tenant, UserId::default()).is_some());
        drop(held);
        assert_eq!(notifier.open_streams(), 0);
        assert!(notifier.subscribe(tenant, user).is_some());
    }

    #[test]
    fn a_wake_up_reaches_only_its_users_streams() {
        let notifier = Notifier::default();
        let tenant = TenantId::new();
        let (alice, bob) = (UserId::default(), UserId::default());
        let mut a = notifier.subscribe(tenant, alice).expect("a");
        let mut b = notifier.subscribe(tenant, bob).expect("b");
        let mut other_tenant = notifier.subscribe(TenantId::new(), alice).expect("c");
        let payload = format!("{}:{}", tenant.as_uuid(), alice.0);
        let (t, u) = parse_payload(&payload).expect("payload");
        notifier.wake(t, u);
        assert!(a.wake.has_changed().expect("open"));
        assert!(!b.wake.has_changed().expect("open"));
        assert!(!other_tenant.wake.has_changed().expect("open"));
        a.wake.borrow_and_update();
        b.wake.borrow_and_update();
        other_tenant.wake.borrow_and_update();
        assert!(parse_payload("garbage").is_none());
        assert!(parse_payload("x:y").is_none());
    }
}
