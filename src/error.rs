//! The one shape every domain error takes on its way to a person: `{ kind, message, hint?, field? }`.

use serde::Serialize;
use ts_rs::TS;

/// What kind of failure an [`ErrorReport`] is: a stable name the window and scripts match on.
///
/// Serialised in snake_case (`invalid_settings`, `keyring_locked`, …); the TypeScript union of the
/// same names is generated from this enum (ui/src/generated/ErrorKind.ts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The settings fail validation; `issues` lists every problem.
    InvalidSettings,
    /// `smtp-desk config set` was given a key that does not exist.
    UnknownKey,
    /// A value given for a key can't be used.
    BadValue,
    /// The settings file could not be read or written.
    SettingsIo,
    /// The settings file can be read but not written (broken, too large, newer schema).
    SettingsReadOnly,
    /// A field was changed both in this form (or command) and in the file since it was read.
    SettingsConflict,
    /// Another writer held the settings file's lock too long.
    SettingsLocked,
    /// The settings directory may be written by other users.
    SettingsUnsafeDir,
    /// There is no home directory, so no place for the settings.
    NoConfigDir,
    /// No profile has that name.
    UnknownProfile,
    /// A profile with that name exists already.
    ProfileExists,
    /// A profile name can't be used (characters, length, reserved), or Global can't be renamed or deleted.
    BadProfileName,
    /// A machine-wide field was set on a named profile.
    GlobalOnlyField,
    /// The admin policy file exists but can't be used: nothing is sent until it is fixed.
    PolicyInvalid,
    /// The settings break the admin policy (a locked field, certificate checks, TLS, relay host, sender domain, listener).
    PolicyViolated,
    /// A configuration file given to import can't be used; `issues` lists every problem.
    ImportInvalid,
    /// The test email's recipient is not an email address.
    InvalidRecipient,
    /// An empty password was given to save.
    PasswordEmpty,
    /// The password contains a line break or NUL character.
    PasswordInvalid,
    /// No keyring service (Secret Service, Keychain, Credential Manager) answers.
    KeyringUnavailable,
    /// The keyring is locked.
    KeyringLocked,
    /// The keyring refused or failed for another reason.
    KeyringFailed,
    /// The settings were not saved and the previous password could not be put back.
    PasswordRollbackFailed,
    /// OAuth2 login is configured but this profile is not signed in.
    OAuthNotSignedIn,
    /// The provider no longer accepts the sign-in (revoked, expired): sign in again.
    OAuthSignInAgain,
    /// An OAuth2 sign-in or token refresh failed (network, provider, settings).
    OAuthFailed,
    /// The command line is wrong.
    BadArguments,
    /// Standard input or the terminal could not be read.
    Input,
    /// The window could not do something to itself (close).
    Window,
    /// The window's own state (theme, last screen) could not be saved.
    UiState,
    /// A message handed to the outbox could not be read as a message.
    MessageUnparseable,
    /// A message handed to the outbox has no recipient.
    NoRecipient,
    /// An envelope address can't be used (CR/LF, not an address).
    BadAddress,
    /// Mail for a bare local name (`root`) but no "local mail goes to" address is set.
    LocalRecipientUnset,
    /// A message is over the size limit.
    MessageTooBig,
    /// The outbox database could not be read or written.
    QueueStorage,
    /// No queued message has that id.
    NotInQueue,
    /// The SMTP listener can't serve: it is off, its port can't be bound, or an address isn't loopback.
    ListenerUnavailable,
    /// The listener's login is set but its password is not saved in the keyring.
    ListenerPasswordMissing,
    /// The delivery service can't be installed here: no systemd for this user.
    ServiceUnavailable,
    /// Installing or removing the delivery service failed (systemctl or writing the unit).
    ServiceFailed,
    /// A log export (CSV) could not be written.
    ExportFailed,
    /// DKIM signing is on but no key is saved for the profile's selector and domain.
    DkimNoKey,
    /// A DKIM key exists already (replacing it needs a new DNS record).
    DkimKeyExists,
    /// DKIM can't sign: no domain to sign for, an unreadable saved key, a signing failure.
    DkimUnusable,
    /// A background task failed unexpectedly.
    Internal,
    /// Set by the window when Tauri itself refuses a call (unknown command, bad arguments) or
    /// something other than the core fails; the core never sends it.
    Ipc,
}

impl ErrorKind {
    /// The snake_case name, as in JSON.
    fn name(self) -> Option<String> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::String(s)) => Some(s),
            _ => None,
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name() {
            Some(name) => f.write_str(&name),
            None => write!(f, "{self:?}"),
        }
    }
}

/// Lets tests and scripts compare with the name they see in JSON: `report.kind == "keyring_locked"`.
impl PartialEq<&str> for ErrorKind {
    fn eq(&self, other: &&str) -> bool {
        self.name().as_deref() == Some(*other)
    }
}

/// What the window (and `--json` output) receives for any failure.
///
/// Built from a domain error; never carries a secret because no domain error holds one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ErrorReport {
    /// A stable machine-readable category, e.g. `invalid_settings`, `keyring_locked`.
    pub kind: ErrorKind,
    /// What happened, in plain words.
    pub message: String,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub hint: Option<String>,
    /// The settings field the error is about, as a dotted key (`relay.port`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub field: Option<String>,
    /// For invalid settings: every problem found, not only the first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[ts(as = "Option<_>", optional)]
    pub issues: Vec<crate::settings::Issue>,
}

impl ErrorReport {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), hint: None, field: None, issues: Vec::new() }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}
