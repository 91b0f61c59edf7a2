//! Settings commands: load, check, save (with the password changes), start from defaults, password status.
//! Every page load carries the admin policy's locks and the profiles, so the form shows both at once.

use super::blocking;
use crate::delivery::Delivery;
use crate::state::AppState;
use serde::{Deserialize, Serialize};
use smtp_desk::account::{self, Edit, PasswordChange, PasswordChanges};
use smtp_desk::journal::events::{self, Actor, Secret};
use smtp_desk::policy::{self, Lock};
use smtp_desk::secrets::{self, Password, DEFAULT_PROFILE};
use smtp_desk::settings::{self, profiles, ReadOnly, Report, Settings};
use smtp_desk::ErrorReport;
use tauri::{AppHandle, Manager, State};
use ts_rs::TS;

#[derive(Serialize, TS)]
#[ts(export_to = "window/")]
pub struct LoadedSettings {
    /// What the page edits, and sends back as the base of its next save.
    settings: Settings,
    notice: Option<String>,
    /// Set while the file cannot be used as it is: the page saves nothing until it is replaced.
    read_only: Option<ReadOnly>,
    machine_name: String,
    file: String,
    /// The core's verdict on `settings`, so the form shows it without asking (and waiting).
    report: Report,
    /// Every profile's name, Global (`global`) first.
    profile_names: Vec<String>,
    /// The profile used when none is named.
    default_profile: String,
    /// The fields the admin policy fixes: shown disabled, with the reason.
    locks: Vec<Lock>,
    /// Where the admin policy file is (read or looked for).
    policy_file: String,
    /// Why the policy file can't be used, if it can't: nothing is sent until it is fixed.
    policy_problem: Option<String>,
}

impl LoadedSettings {
    /// The page's view of `settings` as read from `path`, with the policy as it is now.
    pub(crate) fn new(settings: Settings, notice: Option<String>, read_only: Option<ReadOnly>, path: &std::path::Path) -> Self {
        let policy = policy::load();
        let (policy_file, policy_problem) = match &policy {
            policy::State::Absent => (policy::path(), None),
            policy::State::Active { path, .. } => (path.clone(), None),
            policy::State::Invalid { path, problem } => (path.clone(), Some(problem.clone())),
        };
        LoadedSettings {
            report: settings::check(&settings),
            profile_names: profiles::names(&settings),
            default_profile: profiles::default_name(&settings).to_string(),
            locks: policy.locks(),
            policy_file: policy_file.display().to_string(),
            policy_problem,
            settings,
            notice,
            read_only,
            machine_name: smtp_desk::machine::host_name(),
            file: path.display().to_string(),
        }
    }
}

/// Reads the settings file once, and remembers those bytes, so that only outside changes are reported.
pub fn read_settings(state: &AppState) -> Result<LoadedSettings, ErrorReport> {
    let report = |e: settings::Error| ErrorReport::from(&e);
    let path = smtp_desk::paths::settings_file().map_err(report)?;
    let loaded = settings::load_from(&path).map_err(report)?;
    state.note_file(loaded.bytes);
    Ok(LoadedSettings::new(loaded.settings, loaded.notice, loaded.read_only, &path))
}

#[tauri::command]
pub async fn load_settings(app: AppHandle) -> Result<LoadedSettings, ErrorReport> {
    blocking(move || read_settings(&app.state::<AppState>())).await
}

/// "Start from defaults" for a file that cannot be used: keeps it as a uniquely named backup
/// beside itself and writes the defaults; the page then edits those.
#[tauri::command]
pub async fn start_from_defaults(app: AppHandle) -> Result<LoadedSettings, ErrorReport> {
    blocking(move || {
        let state = app.state::<AppState>();
        let report = |e: settings::Error| ErrorReport::from(&e);
        let path = smtp_desk::paths::settings_file().map_err(report)?;
        let written = settings::replace_broken(&path).map_err(report)?;
        if let Some(backup) = &written.backup {
            app.state::<Delivery>().record(&events::settings_replaced(backup, Actor::Window));
        }
        state.note_file(Some(written.bytes));
        let notice = written.backup.map(|b| format!("Started from defaults. The old settings file was kept as {}.", b.display()));
        Ok(LoadedSettings::new(written.settings, notice, None, &path))
    })
    .await
}

/// The core's verdict on the form: Global's fields, or the named `profile` as it resolves (its
/// overrides on Global's values), by plain field key as the form shows them.
#[tauri::command]
pub fn check_settings(settings: Settings, profile: Option<String>) -> Result<Report, ErrorReport> {
    Ok(settings::check(&as_global(&settings, profile.as_deref())?))
}

/// `settings` with the named profile resolved into Global's place, so the checks made for Global
/// judge it by plain keys (Global itself when `name` is `None` or Global).
pub(crate) fn as_global(settings: &Settings, name: Option<&str>) -> Result<Settings, ErrorReport> {
    let name = name.unwrap_or(profiles::GLOBAL);
    if profiles::is_global(name) {
        return Ok(settings.clone());
    }
    let profile = profiles::resolve(settings, Some(name)).map_err(|e| ErrorReport::from(&e))?;
    Ok(Settings { profile, profiles: Default::default(), default_profile: None, ..settings.clone() })
}

/// The keyring entry (as `secrets::get` takes it) of profile `name`'s own password, in `settings`.
pub(crate) fn password_entry(settings: &Settings, name: &str) -> Result<String, ErrorReport> {
    profiles::password_entry(settings, Some(name)).map_err(|e| ErrorReport::from(&e))
}

/// The page's password field: it sends the password only when the user typed a new one.
#[derive(Deserialize, TS)]
#[serde(tag = "action", rename_all = "snake_case")]
#[ts(export_to = "window/")]
pub enum PasswordAction {
    Keep,
    Set { value: String },
    Clear,
}

#[derive(Serialize, TS)]
#[ts(export_to = "window/")]
pub struct Saved {
    /// `None` when the password was kept: the keyring was not asked, the page's status stands.
    password_saved: Option<bool>,
    /// The same for the SMTP listener's password.
    listener_password_saved: Option<bool>,
    report: Report,
    /// The file as written: the page's changes merged onto what the file held. The page's next base.
    settings: Settings,
}

impl PasswordAction {
    fn into_change(self) -> Result<PasswordChange, ErrorReport> {
        Ok(match self {
            PasswordAction::Keep => PasswordChange::Keep,
            PasswordAction::Clear => PasswordChange::Clear,
            PasswordAction::Set { value } => PasswordChange::Set(Password::new(value).map_err(|e| ErrorReport::from(&e))?),
        })
    }
}

/// Saves the fields the page changed since it read `base`, onto the file as it is now. A field
/// changed in the file meanwhile is a `settings_conflict` naming it, unless it is in `keep_mine`.
/// The server's and the listener's passwords change in the keyring with it, or not at all: those
/// of `profile` (Global when absent), the profile the page is editing.
#[tauri::command(rename_all = "snake_case")]
#[allow(clippy::too_many_arguments)]
pub async fn save_settings(
    settings: Settings,
    profile: Option<String>,
    base: Settings,
    password: PasswordAction,
    listener_password: Option<PasswordAction>,
    keep_mine: Option<Vec<String>>,
    state: State<'_, AppState>,
    app: AppHandle,
) -> Result<Saved, ErrorReport> {
    let changes = PasswordChanges {
        password: password.into_change()?,
        listener_password: listener_password.unwrap_or(PasswordAction::Keep).into_change()?,
    };
    let saved = blocking(move || {
        let path = smtp_desk::paths::settings_file().map_err(|e| ErrorReport::from(&e))?;
        let keep_mine = keep_mine.unwrap_or_default();
        let entry = password_entry(&settings, profile.as_deref().unwrap_or(profiles::GLOBAL))?;
        account::save_all(&path, &entry, Edit { base: &base, edited: &settings, keep_mine: &keep_mine }, changes)
    })
    .await?;
    let passwords = [(Secret::Server, saved.password_saved), (Secret::Listener, saved.listener_password_saved)];
    if let Some(e) = events::settings_saved(&saved.written.previous, &saved.written.settings, &passwords, Actor::Window) {
        let recorder = app.clone();
        // Off the async workers (SQLite); the page's answer does not wait for it.
        tauri::async_runtime::spawn_blocking(move || recorder.state::<Delivery>().record(&e));
    }
    // Our own write must not come back to the page as an outside change.
    state.note_file(Some(saved.written.bytes));
    state.set_dirty(false);
    let settings = saved.written.settings;
    Ok(Saved {
        password_saved: saved.password_saved,
        listener_password_saved: saved.listener_password_saved,
        report: settings::check(&settings),
        settings,
    })
}

#[derive(Serialize, TS)]
#[ts(export_to = "window/")]
pub struct PasswordStatus {
    saved: bool,
}

/// The keyring entry of `profile` (Global when absent) as the settings file names it now.
pub(crate) fn entry_of(profile: Option<String>) -> Result<String, ErrorReport> {
    let Some(name) = profile.filter(|p| !profiles::is_global(p)) else { return Ok(DEFAULT_PROFILE.to_string()) };
    let settings = settings::load().map_err(|e| ErrorReport::from(&e))?.settings;
    password_entry(&settings, &name)
}

/// Whether profile `profile`'s own SMTP password is saved (never the password itself).
#[tauri::command]
pub async fn password_status(profile: Option<String>) -> Result<PasswordStatus, ErrorReport> {
    blocking(move || {
        let entry = entry_of(profile)?;
        secrets::is_saved(&entry).map(|saved| PasswordStatus { saved }).map_err(|e| (&e).into())
    })
    .await
}

/// Whether the SMTP listener's password of `profile` is saved (never the password itself).
#[tauri::command]
pub async fn listener_password_status(profile: Option<String>) -> Result<PasswordStatus, ErrorReport> {
    blocking(move || {
        let entry = entry_of(profile)?;
        secrets::get_listener_of(&entry).map(|p| PasswordStatus { saved: p.is_some() }).map_err(|e| (&e).into())
    })
    .await
}
