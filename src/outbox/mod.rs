//! The outbox: mail that local programs hand in, kept durably in SQLite until it is delivered.
//!
//! Intake (`sendmail`, later the loopback listener) turns what a program hands in into a
//! [`Submission`] ([`message`] normalises it, [`sendmail`] reads the command line), commits it
//! through [`intake::Intake`] (group commit) into the [`store::Store`], and only then says
//! "accepted". [`queue`] lists and manages what waits. Delivery is a later step: it starts from
//! [`Store::open_for_delivery`] (which puts messages left `sending` by a crash back to `queued`)
//! and is woken by [`wake_delivery`].

pub mod address;
pub mod intake;
pub mod message;
pub mod queue;
pub mod sendmail;
pub mod smtp_session;
pub mod store;

pub use intake::Intake;
pub use message::{normalise, Normalised, Options as MessageOptions, MAX_MESSAGE_BYTES};
pub use queue::{Counts, Filter, MessageDetail, MessageSummary, RecipientStatus};
pub use store::{Dsn, Store, Submission};

use crate::error::{ErrorKind, ErrorReport};
use serde::{Deserialize, Serialize};

/// The sysexits(3) codes intake exits with, so callers (cron, scripts) can tell a bad message
/// from a full disk.
pub mod exit {
    /// The command line is wrong: unknown flag, missing value, no recipient given at all.
    pub const USAGE: u8 = 64;
    /// The message or an address is wrong: unparseable, CR/LF in an address, no recipient in the headers (`-t`).
    pub const DATAERR: u8 = 65;
    /// A bare local recipient (`root`) while "local mail goes to" is not set.
    pub const NOUSER: u8 = 67;
    /// The queue can't take the message: over the size limit. The message isn't malformed, the
    /// queue refuses to create it; retrying the same message won't help.
    pub const CANTCREAT: u8 = 73;
    /// The queue could not be written (disk full, database locked too long): try again later.
    pub const TEMPFAIL: u8 = 75;
}

/// Where a recipient stands. `sent` and `failed` are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Waiting for its first (or next, after release) delivery attempt.
    Queued,
    /// A delivery agent is handing it to the server now.
    Sending,
    /// Accepted by the server.
    Sent,
    /// A temporary failure: tried again at `next_try_at`.
    Deferred,
    /// Kept back by a person (hold); not tried until released.
    Held,
    /// A permanent failure; `last_reply` says why.
    Failed,
}

impl State {
    pub const ALL: [State; 6] = [State::Queued, State::Sending, State::Sent, State::Deferred, State::Held, State::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Sending => "sending",
            State::Sent => "sent",
            State::Deferred => "deferred",
            State::Held => "held",
            State::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything that can go wrong taking in or managing mail. Each intake variant maps to one
/// sysexits code ([`Error::exit_code`]); nothing is stored when one is returned.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Usage(String),
    #[error("the message can't be accepted: {0}")]
    Unparseable(String),
    #[error("no recipient: {0}")]
    NoRecipient(String),
    #[error("the address {address:?} {why}")]
    BadAddress { address: String, why: String },
    #[error("'{0}' is a local user name, and local mail has nowhere to go")]
    LocalRecipientUnset(String),
    #[error("the message is {size} bytes, over the limit of {limit} bytes")]
    TooBig { size: usize, limit: usize },
    #[error("the outbox at {path} could not be opened or written: {message}")]
    Storage { path: String, message: String },
    #[error("could not read the message: {0}")]
    Input(std::io::Error),
    #[error("no message with id {0} in the queue")]
    NotFound(i64),
}

impl Error {
    /// The sysexits code for this refusal.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => exit::USAGE,
            Error::Unparseable(_) | Error::BadAddress { .. } => exit::DATAERR,
            Error::NoRecipient(_) => exit::DATAERR,
            Error::LocalRecipientUnset(_) => exit::NOUSER,
            Error::TooBig { .. } => exit::CANTCREAT,
            Error::Storage { .. } | Error::Input(_) => exit::TEMPFAIL,
            Error::NotFound(_) => exit::DATAERR,
        }
    }

    /// A stable category name for `--json` and the window.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Usage(_) => ErrorKind::BadArguments,
            Error::Unparseable(_) => ErrorKind::MessageUnparseable,
            Error::NoRecipient(_) => ErrorKind::NoRecipient,
            Error::BadAddress { .. } => ErrorKind::BadAddress,
            Error::LocalRecipientUnset(_) => ErrorKind::LocalRecipientUnset,
            Error::TooBig { .. } => ErrorKind::MessageTooBig,
            Error::Storage { .. } => ErrorKind::QueueStorage,
            Error::Input(_) => ErrorKind::Input,
            Error::NotFound(_) => ErrorKind::NotInQueue,
        }
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
            Error::Usage(_) => "See smtp-desk sendmail --help for the flags understood.".into(),
            Error::NoRecipient(_) => "Name recipients on the command line, or use -t to take them from the To, Cc and Bcc headers.".into(),
            Error::LocalRecipientUnset(_) => {
                "Set where local mail goes: smtp-desk config set local_recipient admin@example.com (or use a full address).".into()
            }
            Error::TooBig { .. } => "Send large files another way (a link to a shared folder) or split the message.".into(),
            Error::Storage { .. } => {
                "Nothing was queued. Check free disk space and that the data folder is writable, then send again.".into()
            }
            Error::NotFound(_) => "List the queue with smtp-desk queue list.".into(),
            _ => return None,
        })
    }
}

impl From<&Error> for ErrorReport {
    fn from(e: &Error) -> Self {
        let mut r = ErrorReport::new(e.kind(), e.to_string());
        r.hint = e.hint();
        r
    }
}

/// Asks the delivery agent to look at the queue now.
///
/// Called after every acceptance and by `sendmail -q` / `queue flush` (which first record the
/// request with [`Store::record_flush_request`]). It must not write to the store: that would be
/// a second fsync per message.
///
/// TODO(delivery, issue 8 second half): wake the running agent (window or `deliver --daemon`),
/// or start a one-shot `smtp-desk deliver --once` if none runs.
pub fn wake_delivery(_store: &Store) -> Result<WakeOutcome, Error> {
    Ok(WakeOutcome::NoAgentYet)
}

/// What [`wake_delivery`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WakeOutcome {
    /// Delivery is not built yet: the request is recorded, the mail stays queued.
    NoAgentYet,
}

/// Milliseconds since the Unix epoch: how times are kept in the store.
pub(crate) fn now_millis() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
