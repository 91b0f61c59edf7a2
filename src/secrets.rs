//! The SMTP password, kept only in the OS keyring (Secret Service, Keychain, Credential Manager).
//!
//! There is no fallback: if the keyring is missing or locked the caller gets an error saying so.
//! The calls block (D-Bus round trips); async callers must run them on a blocking thread.

use crate::error::{ErrorKind, ErrorReport};
use std::fmt;
use std::sync::mpsc;
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

/// Runs one keyring operation on its own thread and waits at most `answer_timeout()` for it.
/// keyring has no timeout of its own; a late answer is dropped with the thread.
fn with_entry<T: Send + 'static>(profile: &str, op: impl FnOnce(&keyring::Entry) -> Result<T, Error> + Send + 'static) -> Result<T, Error> {
    let user = format!("profile:{profile}");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let result = keyring::Entry::new(SERVICE, &user).map_err(map_err).and_then(|e| op(&e));
        let _ = tx.send(result);
    });
    let wait = answer_timeout();
    rx.recv_timeout(wait).unwrap_or_else(|_| {
        Err(Error::Locked(format!("the keyring did not answer within {} s (an unlock prompt may be waiting)", wait.as_secs())))
    })
}

/// Stores (or replaces) the password of a profile.
pub fn set(profile: &str, password: &Password) -> Result<(), Error> {
    let password = password.clone();
    with_entry(profile, move |e| e.set_password(password.expose()).map_err(map_err))
}

/// Reads the password of a profile, if one is saved.
pub fn get(profile: &str) -> Result<Option<Password>, Error> {
    with_entry(profile, |e| match e.get_password() {
        Ok(p) => Ok(Some(Password(p))),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(map_err(e)),
    })
}

/// Whether a password is saved, without handing it out.
pub fn is_saved(profile: &str) -> Result<bool, Error> {
    get(profile).map(|p| p.is_some())
}

/// Removes the password of a profile; removing one that is not there is not an error.
pub fn clear(profile: &str) -> Result<(), Error> {
    with_entry(profile, |e| match e.delete_credential() {
        Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(e) => Err(map_err(e)),
    })
}

/// The profile every caller uses until named profiles arrive.
pub const DEFAULT_PROFILE: &str = "default";
