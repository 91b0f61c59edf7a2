//! Saving the settings and the password as one change, so neither is left half-saved.

use crate::error::{ErrorKind, ErrorReport};
use crate::secrets::{self, Keyring, OsKeyring, Password};
use crate::settings::{self, Settings, Written};
use std::path::Path;

/// What to do with the saved password alongside a settings save.
#[derive(Debug, Clone, Default)]
pub enum PasswordChange {
    #[default]
    Keep,
    Set(Password),
    Clear,
}

/// A form's edit: what it read from the file, what it shows now, and the conflicting fields the
/// user chose to keep their own value for.
#[derive(Debug, Clone, Copy)]
pub struct Edit<'a> {
    pub base: &'a Settings,
    pub edited: &'a Settings,
    pub keep_mine: &'a [String],
}

/// What a save left behind.
#[derive(Debug, Clone)]
pub struct Saved {
    /// Whether a password is saved: `Some` after a `Set` or `Clear`; `None` for `Keep`, which
    /// never asks the keyring, so a locked keyring cannot hold up a port change. The caller
    /// already knows the status it showed (the window's password status, `config show`).
    pub password_saved: Option<bool>,
    /// The file as written: the edit merged onto what the file held at the time.
    pub written: Written,
}

/// Validates everything first, then writes the password to the keyring and the edit to `path`
/// (only the fields it changed, merged onto the file as it is now); if the file write fails
/// (including a conflict), the keyring is put back as it was (and if that fails too, the error
/// says so and what to do).
pub fn save(path: &Path, profile: &str, edit: Edit, change: PasswordChange) -> Result<Saved, ErrorReport> {
    save_with(&OsKeyring, path, profile, edit, change)
}

/// [`save`] with the keyring given: the OS keyring in the app, a wrapper in tests.
pub fn save_with(keyring: &dyn Keyring, path: &Path, profile: &str, edit: Edit, change: PasswordChange) -> Result<Saved, ErrorReport> {
    let settings = edit.edited;
    let report = settings::check(settings);
    if !report.is_ok() {
        return Err((&settings::Error::Invalid(report.errors)).into());
    }
    let failed = |e: secrets::Error| ErrorReport::from(&e);
    // Every keyring call happens before the file is written, so a keyring failure leaves both
    // untouched. Keeping the password needs no keyring at all.
    let previous = match change {
        PasswordChange::Keep => None,
        _ => Some(keyring.get(profile).map_err(failed)?),
    };
    match &change {
        PasswordChange::Keep => {}
        PasswordChange::Set(p) => keyring.set(profile, p).map_err(failed)?,
        PasswordChange::Clear => keyring.clear(profile).map_err(failed)?,
    }
    let written = settings::update(path, edit.base, settings, edit.keep_mine);
    if let Err(e) = &written {
        let mut report = ErrorReport::from(e);
        if let Some(previous) = previous {
            let restored = match previous {
                Some(p) => keyring.set(profile, &p),
                None => keyring.clear(profile),
            };
            if let Err(re) = restored {
                report = rollback_failed(report, &change, &re);
            }
        }
        return Err(report);
    }
    let password_saved = match change {
        PasswordChange::Set(_) => Some(true),
        PasswordChange::Clear => Some(false),
        PasswordChange::Keep => None,
    };
    Ok(Saved { password_saved, written: written.expect("checked above") })
}

/// The file write failed after the keyring was changed, and putting the old password back failed
/// too: the settings and the keyring now disagree, and only the user can settle it.
fn rollback_failed(file: ErrorReport, change: &PasswordChange, keyring: &secrets::Error) -> ErrorReport {
    let now = match change {
        PasswordChange::Clear => "the saved password is removed",
        _ => "the keyring holds the new password",
    };
    // Neither message can hold a secret: a file error names the path, a keyring error the service's reply.
    tracing::error!(file_error = %file.message, keyring_error = %keyring, "the settings were not saved and the password could not be put back");
    let keyring = ErrorReport::from(keyring);
    let hint = [file.hint.as_deref(), keyring.hint.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
    ErrorReport::new(
        ErrorKind::PasswordRollbackFailed,
        format!("The settings were not saved ({}) and the password could not be put back: {}; {now}.", file.message, keyring.message),
    )
    .hint(format!("Fix: {hint} Then save again with the password typed in, so that the settings and the keyring agree."))
}
