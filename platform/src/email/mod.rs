//! Outgoing email: queued as a job in the transaction that causes it, sent after commit.

mod mailer;
mod outbox;

pub use mailer::{Mailer, SendError};
pub use outbox::{OutgoingEmail, SendEmail, deliver, enqueue};
