//! Saving the settings and the password as one change, so neither is left half-saved.

use crate::error::ErrorReport;
use crate::secrets::{self, Password};
use crate::settings::{self, AuthMethod, Settings, Written};
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
    /// Whether a password is saved (with password login; otherwise, unless one was just set,
    /// `false` without asking the keyring).
    pub password_saved: bool,
    /// The file as written: the edit merged onto what the file held at the time.
    pub written: Written,
}

/// Validates everything first, then writes the password to the keyring and the edit to `path`
/// (only the fields it changed, merged onto the file as it is now); if the file write fails
/// (including a conflict), the keyring is put back as it was.
pub fn save(path: &Path, profile: &str, edit: Edit, change: PasswordChange) -> Result<Saved, ErrorReport> {
    let settings = edit.edited;
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
    let written = settings::update(path, edit.base, settings, edit.keep_mine);
    if let Err(e) = &written {
        if let Some(previous) = previous {
            let restored = match previous {
                Some(p) => secrets::set(profile, &p),
                None => secrets::clear(profile),
            };
            if let Err(re) = restored {
                tracing::error!("could not restore the previous password after a failed save: {re}");
            }
        }
        return Err(e.into());
    }
    let password_saved = match change {
        PasswordChange::Set(_) => true,
        PasswordChange::Clear => false,
        PasswordChange::Keep => kept,
    };
    Ok(Saved { password_saved, written: written.expect("checked above") })
}
