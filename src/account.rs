//! Saving the settings and the password as one change, so neither is left half-saved.

use crate::error::ErrorReport;
use crate::secrets::{self, Password};
use crate::settings::{self, AuthMethod, Settings};
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
/// `path`; if the file write fails, the keyring is put back as it was.
///
/// Returns whether a password is saved afterwards (with password login; otherwise, unless one
/// was just set, `false` without asking the keyring).
pub fn save(path: &Path, profile: &str, settings: &Settings, change: PasswordChange) -> Result<bool, ErrorReport> {
    let report = settings::check(settings);
    if !report.is_ok() {
        return Err((&settings::Error::Invalid(report.errors)).into());
    }
    let keyring = |e: secrets::Error| ErrorReport::from(&e);
    let uses_password = settings.profile.auth.method == AuthMethod::Password;
    // Every keyring call happens before the file is written, so a keyring failure leaves both
    // untouched. Without password login, keeping the password needs no keyring at all.
    let (previous, kept) = match change {
        PasswordChange::Keep if uses_password => (None, secrets::is_saved(profile).map_err(keyring)?),
        PasswordChange::Keep => (None, false),
        _ => (Some(secrets::get(profile).map_err(keyring)?), false),
    };
    match &change {
        PasswordChange::Keep => {}
        PasswordChange::Set(p) => secrets::set(profile, p).map_err(keyring)?,
        PasswordChange::Clear => secrets::clear(profile).map_err(keyring)?,
    }
    if let Err(e) = settings::save_to(path, settings) {
        if let Some(previous) = previous {
            let restored = match previous {
                Some(p) => secrets::set(profile, &p),
                None => secrets::clear(profile),
            };
            if let Err(re) = restored {
                tracing::error!("could not restore the previous password after a failed save: {re}");
            }
        }
        return Err((&e).into());
    }
    Ok(match change {
        PasswordChange::Set(_) => true,
        PasswordChange::Clear => false,
        PasswordChange::Keep => kept,
    })
}
