//! What a validation or test email runs on: the profile and its password, which may still be on
//! its way from the keyring while DNS, connect and TLS run. The CLI and the window both start
//! their runs here.

use super::conn::{bounded, Error as Wire};
use super::failure::{Category, Failure};
use super::{check_settings, CancelToken};
use crate::error::ErrorReport;
use crate::secrets::{self, Password};
use crate::settings::{self, AuthMethod, Profile};
use tokio::sync::oneshot;
use tokio::time::Instant;

/// A keyring read under way, delivering its result once.
pub type PasswordRead = oneshot::Receiver<Result<Option<Password>, secrets::Error>>;

/// A profile to validate or send a test email with, and its password.
///
/// The password is read from the keyring on its own thread as soon as the job is made: the
/// keyring's D-Bus round trips take longer than the whole SMTP exchange with a nearby server, so
/// the login step awaits it (bounded by the step's timeout) instead of the run waiting up front.
/// A job can be run more than once (validate, then send); the password is read once.
pub struct Job {
    profile: Profile,
    password: tokio::sync::Mutex<PasswordState>,
    notice: Option<String>,
}

enum PasswordState {
    Ready(Option<Password>),
    Pending(PasswordRead),
    /// An OAuth2 access token on its way (src/oauth/tokens.rs).
    PendingToken(oneshot::Receiver<Result<Password, crate::oauth::Error>>),
    Failed(Failure),
}

impl Job {
    /// The saved settings and the password saved for `profile_name`. Unreadable or unusable
    /// settings are refused before the keyring is asked.
    pub fn from_saved(profile_name: &str) -> Result<Self, ErrorReport> {
        let loaded = settings::load().map_err(|e| ErrorReport::from(&e))?;
        let mut job = Self::with_saved_password(loaded.settings.profile, profile_name)?;
        job.notice = loaded.notice;
        Ok(job)
    }

    /// Values not (necessarily) saved — the form's, or the saved ones with `--set` changes — and
    /// the password saved for `profile_name`, read only if the values log in with a password.
    pub fn with_saved_password(profile: Profile, profile_name: &str) -> Result<Self, ErrorReport> {
        check_settings(&profile)?;
        if profile.auth.method == AuthMethod::OAuth2 {
            return Self::with_oauth_token(profile, profile_name);
        }
        if profile.auth.method != AuthMethod::Password {
            return Ok(Self::from_values(profile, None));
        }
        let (tx, rx) = oneshot::channel();
        let name = profile_name.to_string();
        std::thread::spawn(move || {
            let _ = tx.send(secrets::get(&name));
        });
        Ok(Self::with_password_read(profile, rx))
    }

    /// OAuth2: an access token for `entry`'s sign-in (from memory, or refreshed from the keyring's
    /// refresh token) obtained on its own thread, as a password read would be.
    pub fn with_oauth_token(profile: Profile, entry: &str) -> Result<Self, ErrorReport> {
        let ep = crate::oauth::endpoints(&profile.auth).map_err(|e| ErrorReport::from(&e))?;
        let (tx, rx) = oneshot::channel();
        let entry = entry.to_string();
        std::thread::spawn(move || {
            let _ = tx.send(crate::oauth::tokens::access_token_blocking(&ep, &entry));
        });
        Ok(Self { profile, password: tokio::sync::Mutex::new(PasswordState::PendingToken(rx)), notice: None })
    }

    /// Values and a password the caller already has (typed, or none).
    pub fn from_values(profile: Profile, password: Option<Password>) -> Self {
        Self { profile, password: tokio::sync::Mutex::new(PasswordState::Ready(password)), notice: None }
    }

    /// Values and a password read that the caller started.
    pub fn with_password_read(profile: Profile, read: PasswordRead) -> Self {
        Self { profile, password: tokio::sync::Mutex::new(PasswordState::Pending(read)), notice: None }
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// What was wrong with the settings file when it was loaded (it is then read-only).
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }

    /// The password if it is already known, without waiting.
    pub(crate) fn password_if_known(&self) -> Option<Password> {
        match &*self.password.try_lock().ok()? {
            PasswordState::Ready(p) => p.clone(),
            _ => None,
        }
    }

    /// The password, waiting for the keyring read until `deadline` (then `Err(Timeout)`; the read
    /// goes on, for a later run of the same job) or `cancel`.
    pub(crate) async fn password(&self, cancel: &CancelToken, deadline: Instant) -> Result<Result<Option<Password>, Failure>, Wire> {
        let mut state = match bounded(cancel, deadline, self.password.lock()).await {
            Ok(state) => state,
            Err(e) => return Err(e),
        };
        if let PasswordState::Pending(read) = &mut *state {
            let read = match bounded(cancel, deadline, read).await? {
                Err(_) => Err(secrets::Error::Platform("the keyring reader stopped".into())),
                Ok(r) => r,
            };
            *state = match read {
                Ok(p) => PasswordState::Ready(p),
                Err(e) => PasswordState::Failed(keyring_failure(&e)),
            };
        }
        if let PasswordState::PendingToken(read) = &mut *state {
            *state = match bounded(cancel, deadline, read).await? {
                Err(_) => PasswordState::Failed(super::failure::hints::oauth_refresh_failed(&crate::oauth::Error::Flow(
                    "the token reader stopped".into(),
                ))),
                Ok(Ok(token)) => PasswordState::Ready(Some(token)),
                Ok(Err(e)) => PasswordState::Failed(super::failure::hints::oauth_refresh_failed(&e)),
            };
        }
        Ok(match &*state {
            PasswordState::Ready(p) => Ok(p.clone()),
            PasswordState::Failed(f) => Err(f.clone()),
            PasswordState::Pending(_) | PasswordState::PendingToken(_) => unreachable!("settled above"),
        })
    }
}

/// A keyring read that failed, as the login step's failure with the keyring's own hint.
pub(crate) fn keyring_failure(e: &crate::secrets::Error) -> Failure {
    let r = crate::error::ErrorReport::from(e);
    Failure::new(Category::KeyringFailed, r.message, r.hint.unwrap_or_default())
}
