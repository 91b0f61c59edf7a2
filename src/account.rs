//! Saving the settings and the password as one change, so neither is left half-saved.

use crate::error::ErrorReport;
use crate::secrets::{self, Keyring, OsKeyring, Password};
use crate::settings::{self, Settings};
use std::path::Path;

/// What to do with the saved password alongside a settings save.
#[derive(Debug, Clone, Default)]
pub enum PasswordChange {
    #[default]
    Keep,
    Set(Password),
    Clear,
}

/// Validates everything first, then writes the password to the keyring and the settings to
/// `path`; if the file write fails, the keyring is put back as it was (and if that fails too,
/// the error says so and what to do).
///
/// Returns whether a password is saved afterwards: `Some` after a `Set` or `Clear`; `None` for
/// `Keep`, which never asks the keyring, so a locked keyring cannot hold up a port change. The
/// caller already knows the status it showed (the window's password status, `config show`).
pub fn save(path: &Path, profile: &str, settings: &Settings, change: PasswordChange) -> Result<Option<bool>, ErrorReport> {
    save_with(&OsKeyring, path, profile, settings, change)
}

/// [`save`] with the keyring given: the OS keyring in the app, a wrapper in tests.
pub fn save_with(
    keyring: &dyn Keyring,
    path: &Path,
    profile: &str,
    settings: &Settings,
    change: PasswordChange,
) -> Result<Option<bool>, ErrorReport> {
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
    if let Err(e) = settings::save_to(path, settings) {
        let mut report = ErrorReport::from(&e);
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
    Ok(match change {
        PasswordChange::Set(_) => Some(true),
        PasswordChange::Clear => Some(false),
        PasswordChange::Keep => None,
    })
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
        "password_rollback_failed",
        format!("The settings were not saved ({}) and the password could not be put back: {}; {now}.", file.message, keyring.message),
    )
    .hint(format!("Fix: {hint} Then save again with the password typed in, so that the settings and the keyring agree."))
}
