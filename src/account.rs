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

/// The keyring changes a save makes alongside the file: the server's password and the SMTP
/// listener's local one, each kept, set or cleared.
#[derive(Debug, Clone, Default)]
pub struct PasswordChanges {
    pub password: PasswordChange,
    pub listener_password: PasswordChange,
}

/// What a save left behind.
#[derive(Debug, Clone)]
pub struct Saved {
    /// Whether a password is saved: `Some` after a `Set` or `Clear`; `None` for `Keep`, which
    /// never asks the keyring, so a locked keyring cannot hold up a port change. The caller
    /// already knows the status it showed (the window's password status, `config show`).
    pub password_saved: Option<bool>,
    /// The same for the SMTP listener's password.
    pub listener_password_saved: Option<bool>,
    /// The file as written: the edit merged onto what the file held at the time.
    pub written: Written,
}

/// Validates everything first, then writes the password to the keyring and the edit to `path`
/// (only the fields it changed, merged onto the file as it is now); if the file write fails
/// (including a conflict), the keyring is put back as it was (and if that fails too, the error
/// says so and what to do).
pub fn save(path: &Path, profile: &str, edit: Edit, change: PasswordChange) -> Result<Saved, ErrorReport> {
    save_with(SecretSource::current().keyring(), path, profile, edit, change)
}

/// [`save`] with the keyring given: the OS keyring in the app, a wrapper in tests.
pub fn save_with(keyring: &dyn Keyring, path: &Path, profile: &str, edit: Edit, change: PasswordChange) -> Result<Saved, ErrorReport> {
    save_all_with(keyring, path, profile, edit, PasswordChanges { password: change, listener_password: PasswordChange::Keep })
}

/// [`save`] with the listener's password changed too: both keyring changes and the file succeed
/// together, or each entry is put back as it was.
pub fn save_all(path: &Path, profile: &str, edit: Edit, changes: PasswordChanges) -> Result<Saved, ErrorReport> {
    save_all_with(SecretSource::current().keyring(), path, profile, edit, changes)
}

/// One keyring entry a save may change.
#[derive(Debug, Clone, Copy)]
enum Entry<'a> {
    Server(&'a str),
    /// The listener password of this profile entry (`secrets::listener_account`).
    Listener(&'a str),
}

impl Entry<'_> {
    fn get(self, k: &dyn Keyring) -> Result<Option<Password>, secrets::Error> {
        match self {
            Entry::Server(profile) => k.get(profile),
            Entry::Listener(profile) => k.get_listener(profile),
        }
    }

    /// Writes `Some` or removes with `None`.
    fn put(self, k: &dyn Keyring, value: Option<&Password>) -> Result<(), secrets::Error> {
        match (self, value) {
            (Entry::Server(profile), Some(p)) => k.set(profile, p),
            (Entry::Server(profile), None) => k.clear(profile),
            (Entry::Listener(profile), Some(p)) => k.set_listener(profile, p),
            (Entry::Listener(profile), None) => k.clear_listener(profile),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Entry::Server(_) => "password",
            Entry::Listener(_) => "listener password",
        }
    }
}

/// A keyring change made, with what the entry held before it.
struct Made<'a> {
    entry: Entry<'a>,
    change: &'a PasswordChange,
    previous: Option<Password>,
}

/// [`save_all`] with the keyring given.
pub fn save_all_with(
    keyring: &dyn Keyring,
    path: &Path,
    profile: &str,
    edit: Edit,
    changes: PasswordChanges,
) -> Result<Saved, ErrorReport> {
    let settings = edit.edited;
    let report = settings::check(settings);
    if !report.is_ok() {
        return Err((&settings::Error::Invalid(report.errors)).into());
    }
    let failed = |e: secrets::Error| ErrorReport::from(&e);
    // Every keyring call happens before the file is written, so a keyring failure leaves the file
    // untouched (and the changes already made are put back). Keeping a password needs no keyring.
    let mut made: Vec<Made> = Vec::new();
    for (entry, change) in [(Entry::Server(profile), &changes.password), (Entry::Listener(profile), &changes.listener_password)] {
        let value = match change {
            PasswordChange::Keep => continue,
            PasswordChange::Set(p) => Some(p),
            PasswordChange::Clear => None,
        };
        let step = entry.get(keyring).and_then(|previous| entry.put(keyring, value).map(|()| previous));
        match step {
            Ok(previous) => made.push(Made { entry, change, previous }),
            Err(e) => return Err(undo(keyring, &made, failed(e))),
        }
    }
    let written = match settings::update(path, edit.base, settings, edit.keep_mine) {
        Ok(w) => w,
        Err(e) => return Err(undo(keyring, &made, ErrorReport::from(&e))),
    };
    let saved = |change: &PasswordChange| match change {
        PasswordChange::Set(_) => Some(true),
        PasswordChange::Clear => Some(false),
        PasswordChange::Keep => None,
    };
    Ok(Saved { password_saved: saved(&changes.password), listener_password_saved: saved(&changes.listener_password), written })
}

/// Renames profile `old` to `new` in the settings file at `path` and moves its keyring entries
/// (the SMTP password and the listener password) with it: the new entries are written first, the
/// file next, the old entries removed last, so a failure at any step leaves a working profile.
pub fn rename_profile(path: &Path, old: &str, new: &str) -> Result<Written, ErrorReport> {
    let report = |e: settings::Error| ErrorReport::from(&e);
    let current = settings::load_from(path).map_err(report)?.settings;
    let old_entry = settings::profiles::password_entry(&current, Some(old)).map_err(report)?;
    // Onto itself would copy the entries onto themselves and then remove them.
    if old_entry == new {
        return Err(report(settings::Error::ProfileExists(new.to_string())));
    }
    // Checked before the keyring is touched; the write below checks again under the lock.
    settings::profiles::rename(&mut current.clone(), old, new).map_err(report)?;
    let failed = |e: secrets::Error| ErrorReport::from(&e);
    // The keyring in desktop mode, the system credential in system mode.
    let k = SecretSource::current().keyring();
    let password = k.get(&old_entry).map_err(failed)?;
    let listener = k.get_listener(&old_entry).map_err(failed)?;
    // The new name's entries are made to hold exactly the old ones: an entry left under that name
    // (a profile of that name deleted while the keyring was locked) must not become this profile's.
    let copied = match &password {
        Some(p) => k.set(new, p),
        None => k.clear(new),
    }
    .and_then(|()| match &listener {
        Some(p) => k.set_listener(new, p),
        None => k.clear_listener(new),
    });
    if let Err(e) = copied {
        let _ = k.clear(new);
        let _ = k.clear_listener(new);
        return Err(failed(e));
    }
    let written = match settings::modify(path, settings::WriteOptions::default(), |s| settings::profiles::rename(s, old, new)) {
        Ok(w) => w,
        Err(e) => {
            // The name is still free in the file: its entries belong to no profile.
            let _ = k.clear(new);
            let _ = k.clear_listener(new);
            return Err(report(e));
        }
    };
    for result in [k.clear(&old_entry), k.clear_listener(&old_entry)] {
        if let Err(e) = result {
            tracing::warn!(profile = old, "the renamed profile's old keyring entry could not be removed: {e}");
        }
    }
    // Its DKIM key follows too (the published record stays valid); a failure leaves it under the
    // old name, which `dkim generate` would replace.
    if let Err(e) = crate::direct::dkim::follow_rename(&current, old, new) {
        tracing::warn!(profile = old, "the renamed profile's DKIM key stays under its old name: {e}");
    }
    // Mail queued under the old name follows the profile (the mail log keeps the name each row
    // was written with). Left behind, it would wait as mail of a profile that does not exist.
    let outbox = crate::paths::outbox_file();
    if outbox.exists() {
        if let Err(e) = crate::outbox::Store::open(&outbox).and_then(|mut store| store.rename_profile(&old_entry, new)) {
            tracing::warn!(profile = old, "mail queued for the renamed profile keeps its old name: {e}");
        }
    }
    Ok(written)
}

/// Deletes profile `name` from the settings file at `path`, then its keyring entries.
pub fn delete_profile(path: &Path, name: &str) -> Result<Written, ErrorReport> {
    let report = |e: settings::Error| ErrorReport::from(&e);
    let current = settings::load_from(path).map_err(report)?.settings;
    let entry = settings::profiles::password_entry(&current, Some(name)).map_err(report)?;
    let written = settings::modify(path, settings::WriteOptions::default(), |s| settings::profiles::delete(s, name)).map_err(report)?;
    if let Err(e) = crate::direct::dkim::remove(&current, name) {
        tracing::warn!(profile = name, "the deleted profile's DKIM key could not be removed from the keyring: {e}");
    }
    let k = SecretSource::current().keyring();
    for result in [k.clear(&entry), k.clear_listener(&entry)] {
        result.map_err(|e| {
            ErrorReport::from(&e).hint(format!(
                "The profile was deleted, but its password is still in the keyring under 'profile:{entry}'. Remove it there, \
                 or create a profile named {name} again and clear its password."
            ))
        })?;
    }
    Ok(written)
}

/// The SMTP password profile `name` (the default when `None`) logs in with: its own entry, else
/// Global's when it logs in to Global's server as Global's user (`profiles::password_entries`).
/// In system mode the password is the system credential's ([`SecretSource`]).
pub fn password_for(settings: &Settings, name: Option<&str>) -> Result<Option<Password>, ErrorReport> {
    let entries = settings::profiles::password_entries(settings, name).map_err(|e| ErrorReport::from(&e))?;
    let source = SecretSource::current();
    for entry in entries {
        if let Some(p) = source.get(&entry)? {
            return Ok(Some(p));
        }
    }
    Ok(None)
}

/// Where a saved SMTP password is read from: the OS keyring (desktop mode) or the system
/// credential (system mode: [`crate::system::credential`]). Entry names are the keyring's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretSource {
    Keyring,
    SystemCredential,
}

impl SecretSource {
    /// The source of this process's mode ([`crate::system::current`]).
    pub fn current() -> SecretSource {
        match crate::system::current() {
            crate::system::Mode::Desktop => SecretSource::Keyring,
            crate::system::Mode::System => SecretSource::SystemCredential,
        }
    }

    /// The store a save writes passwords to: the OS keyring, or the system credential.
    pub fn keyring(self) -> &'static dyn Keyring {
        match self {
            SecretSource::Keyring => &OsKeyring,
            #[cfg(unix)]
            SecretSource::SystemCredential => &crate::system::credential::SystemKeyring,
            #[cfg(not(unix))]
            SecretSource::SystemCredential => &OsKeyring,
        }
    }

    /// The password saved for keyring entry `entry` (blocking: keyring D-Bus or `systemd-creds`).
    pub fn get(self, entry: &str) -> Result<Option<Password>, ErrorReport> {
        match self {
            SecretSource::Keyring => secrets::get(entry).map_err(|e| ErrorReport::from(&e)),
            #[cfg(unix)]
            SecretSource::SystemCredential => crate::system::credential::get(entry).map_err(|e| ErrorReport::from(&e)),
            #[cfg(not(unix))]
            SecretSource::SystemCredential => Ok(None),
        }
    }
}

/// Puts back the keyring entries `made` changed (newest first) after `report`'s failure.
fn undo(keyring: &dyn Keyring, made: &[Made], mut report: ErrorReport) -> ErrorReport {
    for m in made.iter().rev() {
        if let Err(re) = m.entry.put(keyring, m.previous.as_ref()) {
            report = rollback_failed(report, m.entry, m.change, &re);
        }
    }
    report
}

/// The file write failed after the keyring was changed, and putting the old password back failed
/// too: the settings and the keyring now disagree, and only the user can settle it.
fn rollback_failed(file: ErrorReport, entry: Entry, change: &PasswordChange, keyring: &secrets::Error) -> ErrorReport {
    let what = entry.name();
    let now = match change {
        PasswordChange::Clear => format!("the saved {what} is removed"),
        _ => format!("the keyring holds the new {what}"),
    };
    // Neither message can hold a secret: a file error names the path, a keyring error the service's reply.
    tracing::error!(file_error = %file.message, keyring_error = %keyring, "the settings were not saved and the {what} could not be put back");
    let keyring = ErrorReport::from(keyring);
    let hint = [file.hint.as_deref(), keyring.hint.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
    ErrorReport::new(
        ErrorKind::PasswordRollbackFailed,
        format!("The settings were not saved ({}) and the {what} could not be put back: {}; {now}.", file.message, keyring.message),
    )
    .hint(format!("Fix: {hint} Then save again with the {what} typed in, so that the settings and the keyring agree."))
}
