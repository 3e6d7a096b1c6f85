//! Outgoing email: written to the outbox in the transaction that causes it, delivered after
//! commit by the dispatcher.

mod dispatcher;
mod outbox;

pub use dispatcher::{Dispatcher, Mailer};
pub use outbox::{OutgoingEmail, enqueue};
