//! The SMTP password, kept only in the OS keyring (Secret Service, Keychain, Credential Manager).
//!
//! There is no fallback: if the keyring is missing or locked the caller gets an error saying so.
//! The calls block (D-Bus round trips); async callers must run them on a blocking thread.
//! Every call gives up after `SMTP_DESK_KEYRING_TIMEOUT_SECS` (default 60); a change that gave
//! up never takes effect later (see [`set`]).

use crate::error::{ErrorKind, ErrorReport};
use std::fmt;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

/// The keyring service name every SMTP Desk entry is filed under.
pub const SERVICE: &str = "smtp-desk";

/// A password in memory. It cannot be printed, logged or serialised by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Accepts a password typed or piped by the user; one trailing newline from a pipe is dropped.
    pub fn new(text: impl Into<String>) -> Result<Self, Error> {
        let mut text: String = text.into();
        if text.ends_with('\n') {
            text.pop();
            if text.ends_with('\r') {
                text.pop();
            }
        }
        if text.is_empty() {
            return Err(Error::Empty);
        }
        if text.contains(['\r', '\n', '\0']) {
            return Err(Error::ControlCharacter);
        }
        Ok(Self(text))
    }

    /// The secret itself, for the one place that must send it to the server.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the password is empty")]
    Empty,
    #[error("the password contains a line break or NUL character")]
    ControlCharacter,
    #[error("no keyring service is available: {0}")]
    Unavailable(String),
    #[error("the keyring is locked: {0}")]
    Locked(String),
    #[error("the keyring failed: {0}")]
    Platform(String),
}

impl From<&Error> for ErrorReport {
    fn from(e: &Error) -> Self {
        let mut r = match e {
            Error::Empty => ErrorReport::new(ErrorKind::PasswordEmpty, "The password is empty.").hint("Type the password, or use 'Clear' to remove the saved one."),
            Error::ControlCharacter => ErrorReport::new(ErrorKind::PasswordInvalid, "The password contains a line break or NUL character.")
                .hint("Paste the password again without the line break."),
            Error::Unavailable(_) => ErrorReport::new(ErrorKind::KeyringUnavailable, e.to_string()).hint(
                "SMTP Desk keeps passwords only in the OS keyring and never in a file. Start a keyring service \
                 (GNOME Keyring or KWallet: log in to a desktop session, or run `gnome-keyring-daemon --start --components=secrets` \
                 inside a D-Bus session) and try again.",
            ),
            Error::Locked(_) => ErrorReport::new(ErrorKind::KeyringLocked, e.to_string())
                .hint("Unlock the keyring (log in to the desktop, or unlock 'Login' in Passwords and Keys / `gnome-keyring-daemon --unlock`) and try again."),
            Error::Platform(_) => ErrorReport::new(ErrorKind::KeyringFailed, e.to_string()).hint("Check that the keyring service is running and unlocked, then try again."),
        };
        if matches!(e, Error::Empty | Error::ControlCharacter) {
            r.field = Some("password".into());
        }
        r
    }
}

fn map_err(e: keyring::Error) -> Error {
    use keyring::Error as K;
    match e {
        K::NoDefaultStore => Error::Unavailable("no Secret Service, Keychain or Credential Manager could be reached".into()),
        K::NoStorageAccess(p) => Error::Locked(p.to_string()),
        K::PlatformFailure(p) => {
            let text = p.to_string();
            // zbus reports a missing Secret Service as a D-Bus name or connection failure.
            if text.contains("ServiceUnknown")
                || text.contains("was not provided")
                || text.contains("DBUS_SESSION_BUS_ADDRESS")
                || text.contains("onnection")
                || text.contains("No such file")
            {
                Error::Unavailable(text)
            } else if text.to_ascii_lowercase().contains("locked") || text.contains("dismissed") {
                Error::Locked(text)
            } else {
                Error::Platform(text)
            }
        }
        other => Error::Platform(other.to_string()),
    }
}

/// How long to wait for the keyring. A locked keyring may show an unlock prompt and wait for
/// the user; past this the caller gets a "locked" error instead of a hang.
fn answer_timeout() -> Duration {
    let secs = std::env::var("SMTP_DESK_KEYRING_TIMEOUT_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(60);
    Duration::from_secs(secs)
}

/// `account` is the keyring entry's user name: `profile:NAME` for a profile's SMTP password,
/// [`LISTENER_ACCOUNT`] for the listener's local login.
fn entry(account: &str) -> Result<keyring::Entry, Error> {
    keyring::Entry::new(SERVICE, account).map_err(map_err)
}

fn profile_account(profile: &str) -> String {
    format!("profile:{profile}")
}

/// The keyring entry of the SMTP listener's local password: its own entry, so the relay's
/// password is never what local programs log in with.
pub const LISTENER_ACCOUNT: &str = "listener";

fn no_answer(wait: Duration, what: &str) -> Error {
    Error::Locked(format!("the keyring did not answer within {} s (an unlock prompt may be waiting); {what}", wait.as_secs()))
}

/// Runs one keyring read on its own thread and waits at most `answer_timeout()` for it.
/// keyring has no timeout or cancel of its own; a late answer to a read changes nothing and is
/// dropped with the thread.
fn read<T: Send + 'static>(profile: &str, op: impl FnOnce(&keyring::Entry) -> Result<T, Error> + Send + 'static) -> Result<T, Error> {
    let profile = profile.to_string();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(entry(&profile).and_then(|e| op(&e)));
    });
    let wait = answer_timeout();
    rx.recv_timeout(wait).unwrap_or_else(|_| Err(no_answer(wait, "nothing was read")))
}

// A change is different: the keyring call cannot be stopped, and one that waits on an unlock
// prompt goes on after its caller gave up and told the user "not saved". If the user then
// unlocks, a plain call would change the password behind that answer. So a change runs as a
// small transaction on its own thread:
//
// 1. it waits for any earlier change in this process (`CHANGES`), so an abandoned change and its
//    undo can never land on top of a newer one;
// 2. it reads the current secret: the step that waits for the unlock prompt when an entry exists;
// 3. if the caller has given up by then, it stops: nothing was changed (the usual case);
// 4. otherwise it writes. If the caller gives up during the write (no entry existed yet, so the
//    write itself waited for the unlock), the worker puts the secret read in step 2 back as soon
//    as the write returns, and logs it.
//
// Whether the caller still waits and whether the worker has answered are decided under one lock
// (`Phase`), so the caller's answer and the keyring's final state always agree. Undoing rather
// than preventing in step 4 leaves the new secret in the keyring for the moment between the write
// and its undo; preventing it would need the Secret Service unlock call, which keyring hides.
// When the process exits first (the CLI after its error) the thread dies with it and nothing
// more is sent to the keyring.

/// Serialises keyring changes within this process.
static CHANGES: Mutex<()> = Mutex::new(());

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for an earlier change to finish.
    Queued,
    /// Reading the current secret (may wait for an unlock prompt).
    Reading,
    /// Writing the new value (may wait for an unlock prompt if there was no entry).
    Writing,
    /// The worker has sent its result.
    Answered,
    /// The caller stopped waiting; the worker must leave the keyring as it was.
    Abandoned,
}

/// A change to the keyring: write `Some(secret)` or delete with `None`.
fn change(profile: &str, new: Option<Vec<u8>>) -> Result<(), Error> {
    let caller_profile = profile;
    let profile = profile.to_string();
    let phase = Arc::new(Mutex::new(Phase::Queued));
    let (tx, rx) = mpsc::channel();
    let worker_phase = phase.clone();
    std::thread::spawn(move || {
        let phase = worker_phase;
        let _turn = CHANGES.lock().unwrap_or_else(|p| p.into_inner());
        let advance = |next: Phase| {
            let mut p = phase.lock().unwrap_or_else(|p| p.into_inner());
            if *p == Phase::Abandoned {
                return false;
            }
            *p = next;
            true
        };
        if !advance(Phase::Reading) {
            return;
        }
        let result = entry(&profile).and_then(|e| {
            let previous = match e.get_secret() {
                Ok(s) => Some(s),
                Err(keyring::Error::NoEntry) => None,
                Err(other) => return Err(map_err(other)),
            };
            if !advance(Phase::Writing) {
                tracing::info!(profile = profile.as_str(), "the keyring answered after the caller gave up; nothing was changed");
                return Ok(());
            }
            write(&e, new.as_deref())?;
            let mut p = phase.lock().unwrap_or_else(|p| p.into_inner());
            if *p == Phase::Abandoned {
                match write(&e, previous.as_deref()) {
                    Ok(()) => tracing::warn!(
                        profile = profile.as_str(),
                        "a keyring change finished after its caller gave up; the previous password was put back"
                    ),
                    Err(undo) => tracing::error!(
                        profile = profile.as_str(),
                        error = %undo,
                        "a keyring change finished after its caller gave up, and the previous password could not be put back"
                    ),
                }
                return Ok(());
            }
            *p = Phase::Answered;
            match new {
                Some(_) => tracing::info!(profile = profile.as_str(), "password saved in the keyring"),
                None => tracing::info!(profile = profile.as_str(), "password removed from the keyring"),
            }
            // Sent under the phase lock: a caller that times out now still finds the answer.
            let _ = tx.send(Ok(()));
            Ok(())
        });
        if let Err(e) = result {
            let mut p = phase.lock().unwrap_or_else(|p| p.into_inner());
            if *p != Phase::Abandoned {
                *p = Phase::Answered;
                let _ = tx.send(Err(e));
            }
        }
    });
    let wait = answer_timeout();
    if let Ok(result) = rx.recv_timeout(wait) {
        return result;
    }
    let mut p = phase.lock().unwrap_or_else(|p| p.into_inner());
    if let Ok(result) = rx.try_recv() {
        return result;
    }
    let was = std::mem::replace(&mut *p, Phase::Abandoned);
    tracing::warn!(profile = caller_profile, phase = ?was, timeout_secs = wait.as_secs(), "the keyring did not answer in time; the change was abandoned");
    Err(match was {
        Phase::Queued => no_answer(
            wait,
            "an earlier change is still waiting for it. The password was not changed, and will not be when the keyring answers later",
        ),
        Phase::Writing => {
            no_answer(wait, "the password was not changed: if the keyring finishes the change later, the previous one is put back")
        }
        _ => no_answer(wait, "the password was not changed, and will not be when the keyring answers later"),
    })
}

fn write(e: &keyring::Entry, secret: Option<&[u8]>) -> Result<(), Error> {
    match secret {
        Some(s) => e.set_secret(s).map_err(map_err),
        None => match e.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_err(e)),
        },
    }
}

/// Stores (or replaces) the password of a profile.
///
/// If this returns an error, the password is as it was, even if the keyring finishes the call
/// later (see the transaction above).
pub fn set(profile: &str, password: &Password) -> Result<(), Error> {
    change(&profile_account(profile), Some(password.expose().as_bytes().to_vec()))
}

/// Reads the password of a profile, if one is saved.
pub fn get(profile: &str) -> Result<Option<Password>, Error> {
    get_account(&profile_account(profile))
}

fn get_account(account: &str) -> Result<Option<Password>, Error> {
    read(account, |e| {
        // The Secret Service finds an item, then reads it: an item removed in between (another
        // process clearing or replacing the password) answers "Object does not exist". That is
        // a race, not a failure: ask once more, which finds the new state.
        let mut raced = false;
        loop {
            match e.get_password() {
                Ok(p) => return Ok(Some(Password(p))),
                Err(keyring::Error::NoEntry) => return Ok(None),
                Err(err) if !raced && err.to_string().contains("Object does not exist") => raced = true,
                Err(err) => return Err(map_err(err)),
            }
        }
    })
}

/// Whether a password is saved, without handing it out.
pub fn is_saved(profile: &str) -> Result<bool, Error> {
    get(profile).map(|p| p.is_some())
}

/// Removes the password of a profile; removing one that is not there is not an error.
/// Like [`set`], an error means nothing was removed.
pub fn clear(profile: &str) -> Result<(), Error> {
    change(&profile_account(profile), None)
}

/// The SMTP listener's local password, if one is saved.
pub fn get_listener() -> Result<Option<Password>, Error> {
    get_account(LISTENER_ACCOUNT)
}

/// The keyring account of the listener password of a profile's entry (as [`get`] takes it):
/// Global's is [`LISTENER_ACCOUNT`], as it always was; a named profile's is `listener:NAME`.
pub fn listener_account(profile: &str) -> String {
    if profile == DEFAULT_PROFILE {
        LISTENER_ACCOUNT.to_string()
    } else {
        format!("{LISTENER_ACCOUNT}:{profile}")
    }
}

/// The listener password of a profile's entry (see [`listener_account`]).
pub fn get_listener_of(profile: &str) -> Result<Option<Password>, Error> {
    get_account(&listener_account(profile))
}

/// Stores the listener password of a profile's entry; an error means no change.
pub fn set_listener_of(profile: &str, password: &Password) -> Result<(), Error> {
    change(&listener_account(profile), Some(password.expose().as_bytes().to_vec()))
}

/// Removes the listener password of a profile's entry; a missing one is not an error.
pub fn clear_listener_of(profile: &str) -> Result<(), Error> {
    change(&listener_account(profile), None)
}

/// Stores (or replaces) the SMTP listener's local password; like [`set`], an error means no change.
pub fn set_listener(password: &Password) -> Result<(), Error> {
    change(LISTENER_ACCOUNT, Some(password.expose().as_bytes().to_vec()))
}

/// Removes the SMTP listener's local password.
pub fn clear_listener() -> Result<(), Error> {
    change(LISTENER_ACCOUNT, None)
}

/// The keyring account of a profile entry's OAuth2 sign-in (`oauth:ENTRY`, see src/oauth/tokens.rs).
pub fn oauth_account(profile: &str) -> String {
    format!("oauth:{profile}")
}

/// The OAuth2 sign-in record of a profile's entry, if signed in.
pub fn get_oauth(profile: &str) -> Result<Option<Password>, Error> {
    get_account(&oauth_account(profile))
}

/// Stores the OAuth2 sign-in record of a profile's entry; an error means no change.
pub fn set_oauth(profile: &str, record: &Password) -> Result<(), Error> {
    change(&oauth_account(profile), Some(record.expose().as_bytes().to_vec()))
}

/// Removes the OAuth2 sign-in of a profile's entry; a missing one is not an error.
pub fn clear_oauth(profile: &str) -> Result<(), Error> {
    change(&oauth_account(profile), None)
}

/// The keyring account of a profile's DKIM private key (src/direct/dkim.rs):
/// `dkim:PROFILE:SELECTOR._domainkey.DOMAIN`, one per profile, selector and domain.
pub fn dkim_account(profile: &str, selector: &str, domain: &str) -> String {
    format!("dkim:{profile}:{selector}._domainkey.{domain}")
}

/// The DKIM private key saved under `account` ([`dkim_account`]), if any.
pub fn get_dkim(account: &str) -> Result<Option<Password>, Error> {
    get_account(account)
}

/// Saves a DKIM private key under `account`; an error means no change.
pub fn set_dkim(account: &str, key: &Password) -> Result<(), Error> {
    change(account, Some(key.expose().as_bytes().to_vec()))
}

/// Removes the DKIM private key under `account`; a missing one is not an error.
pub fn clear_dkim(account: &str) -> Result<(), Error> {
    change(account, None)
}

/// The keyring calls a settings save makes (`account::save_with`). [`OsKeyring`] is the real
/// one; tests wrap it to change the keyring's state between two calls, which nothing outside
/// the process can time (e.g. lock it just before a rollback).
pub trait Keyring {
    fn get(&self, profile: &str) -> Result<Option<Password>, Error>;
    fn set(&self, profile: &str, password: &Password) -> Result<(), Error>;
    fn clear(&self, profile: &str) -> Result<(), Error>;
    /// The SMTP listener's entry of a profile's entry (see [`listener_account`]). The OS
    /// keyring's by default: a wrapper that means to step in on listener changes overrides these too.
    fn get_listener(&self, profile: &str) -> Result<Option<Password>, Error> {
        get_listener_of(profile)
    }
    fn set_listener(&self, profile: &str, password: &Password) -> Result<(), Error> {
        set_listener_of(profile, password)
    }
    fn clear_listener(&self, profile: &str) -> Result<(), Error> {
        clear_listener_of(profile)
    }
}

/// The OS keyring through this module's functions.
pub struct OsKeyring;

impl Keyring for OsKeyring {
    fn get(&self, profile: &str) -> Result<Option<Password>, Error> {
        get(profile)
    }
    fn set(&self, profile: &str, password: &Password) -> Result<(), Error> {
        set(profile, password)
    }
    fn clear(&self, profile: &str) -> Result<(), Error> {
        clear(profile)
    }
}

/// The profile every caller uses until named profiles arrive.
pub const DEFAULT_PROFILE: &str = "default";
