//! The outbox: mail that local programs hand in, kept durably in SQLite until it is delivered.
//!
//! Intake (`sendmail`, the loopback [`listener`]) turns what a program hands in into a
//! [`Submission`] ([`message`] normalises it, [`sendmail`] reads the command line), commits it
//! through [`intake::Intake`] (group commit) into the [`store::Store`], and only then says
//! "accepted". [`queue`] lists and manages what waits. Delivery: [`runner`] (the agent: one at a
//! time, [`agent`] lock and wake socket) runs [`deliver`] passes over [`relay`] connections,
//! claiming and recording through [`claim`], retrying per [`retry`], keeping connections in
//! [`pool`], and reporting failures to senders through [`bounce`]; it is woken by
//! [`wake_delivery`]. [`service`] installs `deliver --daemon` as a systemd user service.
//!
//! Profiles (issue 10): every message is queued with the profile it is sent with (its canonical
//! name: `sendmail --profile NAME`, the listener login's profile, else the default profile at
//! intake), and every mail-log row names its profile. Delivery runs per profile ([`runner`]);
//! connections are kept per profile in the [`pool`], and `limits.connection_limit` caps the
//! connections of all profiles together. Intake refuses an envelope sender outside the admin
//! policy's sender domain ([`Error::Policy`], a 'refused' row); an invalid policy stops delivery,
//! never intake.

pub mod address;
pub mod agent;
pub mod bounce;
pub mod claim;
pub mod deliver;
pub mod direct;
pub mod intake;
pub mod listener;
pub mod message;
pub mod pool;
pub mod queue;
pub(crate) mod relay;
pub mod retry;
pub mod runner;
pub mod sendmail;
pub mod service;
pub mod smtp_session;
pub mod store;

pub use intake::Intake;
pub use message::{normalise, Normalised, Options as MessageOptions, MAX_MESSAGE_BYTES};
pub use queue::{Attempt, Counts, MessageDetail, MessageSummary, Overview, Page, PageQuery, RecipientStatus};
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
    /// The admin policy forbids it (a sender outside the policy's sender domain).
    pub const NOPERM: u8 = 77;
}

/// Where a recipient stands. `sent` and `failed` are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord, ts_rs::TS)]
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
    #[error("there is no profile named '{name}' (profiles: {})", known.join(", "))]
    UnknownProfile { name: String, known: Vec<String> },
    #[error(transparent)]
    Policy(crate::policy::Error),
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
            Error::UnknownProfile { .. } => exit::USAGE,
            Error::Policy(_) => exit::NOPERM,
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
            Error::UnknownProfile { .. } => ErrorKind::UnknownProfile,
            Error::Policy(p) => ErrorReport::from(p).kind,
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
            Error::Storage { .. } if crate::system::current() == crate::system::Mode::System && !crate::system::is_root() => {
                "In system mode the queue is root's: run this with sudo (a user's sendmail hands mail to the system service instead)."
                    .into()
            }
            Error::Storage { .. } => {
                "Nothing was queued. Check free disk space and that the data folder is writable, then send again.".into()
            }
            Error::NotFound(_) => "List the queue with smtp-desk queue list.".into(),
            Error::UnknownProfile { .. } => "Nothing was queued. Name one of the profiles listed (smtp-desk profile list).".into(),
            Error::Policy(_) => {
                "Nothing was queued. Send from an address in the domain the admin policy allows (sendmail -f you@that.domain).".into()
            }
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
/// Called after every acceptance and by `sendmail -q` / `queue flush` (which first make deferred
/// mail due). It must not write to the store: that would be a second fsync per message. Pokes the
/// running agent (window or `deliver --daemon` or a one-shot run) through its wake socket, or,
/// if none listens, starts a detached `smtp-desk deliver --once`, so mail is never stranded.
pub fn wake_delivery(store: &Store) -> Result<WakeOutcome, Error> {
    let dir = store.path().parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    Ok(wake_delivery_in(dir))
}

/// [`wake_delivery`] for the outbox whose data dir is `dir`, for intakes that don't hold a
/// [`Store`] of their own (the listener's is owned by its writer thread).
pub fn wake_delivery_in(dir: &std::path::Path) -> WakeOutcome {
    if agent::poke(dir) {
        return WakeOutcome::Woken;
    }
    // While sending is off a one-shot run would only say so and exit: the mail stays queued
    // (not held: holding is a person's decision) until sending is turned on, which wakes delivery.
    if crate::settings::load().is_ok_and(|l| every_profile_off(&l.settings)) {
        return WakeOutcome::SendingOff;
    }
    match agent::start_once(dir) {
        Ok(()) => WakeOutcome::Started,
        Err(e) => {
            // The message is safely queued either way; the next agent run picks it up.
            tracing::warn!("could not start a delivery run: {e}");
            WakeOutcome::NotStarted
        }
    }
}

/// Whether no profile sends (each is off, or can't be resolved).
fn every_profile_off(settings: &crate::settings::Settings) -> bool {
    use crate::settings::profiles;
    profiles::names(settings).iter().all(|n| profiles::resolve(settings, Some(n)).map_or(true, |p| p.mode == crate::settings::Mode::Off))
}

/// What [`wake_delivery`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WakeOutcome {
    /// A running agent was poked.
    Woken,
    /// No agent was running: a one-shot delivery run was started.
    Started,
    /// No agent runs and none could be started: the mail waits for the next run.
    NotStarted,
    /// No agent runs and sending is off: none was started; the mail waits until sending is on.
    SendingOff,
}

/// Wakes delivery if mail is due and sending is on: after the settings change (`config set`, the
/// window's save), so mail kept while sending was off goes out once it is turned on. Creates no
/// outbox where there is none.
pub fn wake_if_waiting() -> Result<Option<WakeOutcome>, Error> {
    let path = crate::paths::outbox_file();
    if !path.is_file() {
        return Ok(None);
    }
    let store = Store::open(&path)?;
    match store.next_due()? {
        Some(at) if at <= now_millis() => wake_delivery(&store).map(Some),
        _ => Ok(None),
    }
}

/// Milliseconds since the Unix epoch: how times are kept in the store.
pub(crate) fn now_millis() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
