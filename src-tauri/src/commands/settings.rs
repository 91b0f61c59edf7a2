//! Settings commands: load, check, save (with the password changes), start from defaults, password status.

use super::blocking;
use crate::delivery::Delivery;
use crate::state::AppState;
use serde::{Deserialize, Serialize};
use smtp_desk::account::{self, Edit, PasswordChange, PasswordChanges};
use smtp_desk::journal::events::{self, Actor, Secret};
use smtp_desk::secrets::{self, Password, DEFAULT_PROFILE};
use smtp_desk::settings::{self, ReadOnly, Report, Settings};
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
}

/// Reads the settings file once, and remembers those bytes, so that only outside changes are reported.
pub fn read_settings(state: &AppState) -> Result<LoadedSettings, ErrorReport> {
    let report = |e: settings::Error| ErrorReport::from(&e);
    let path = smtp_desk::paths::settings_file().map_err(report)?;
    let loaded = settings::load_from(&path).map_err(report)?;
    state.note_file(loaded.bytes);
    Ok(LoadedSettings {
        report: settings::check(&loaded.settings),
        settings: loaded.settings,
        notice: loaded.notice,
        read_only: loaded.read_only,
        machine_name: smtp_desk::machine::host_name(),
        file: path.display().to_string(),
    })
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
        Ok(LoadedSettings {
            report: settings::check(&written.settings),
            settings: written.settings,
            notice: written.backup.map(|b| format!("Started from defaults. The old settings file was kept as {}.", b.display())),
            read_only: None,
            machine_name: smtp_desk::machine::host_name(),
            file: path.display().to_string(),
        })
    })
    .await
}

#[tauri::command]
pub fn check_settings(settings: Settings) -> Report {
    settings::check(&settings)
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
/// The server's and the listener's passwords change in the keyring with it, or not at all.
#[tauri::command(rename_all = "snake_case")]
pub async fn save_settings(
    settings: Settings,
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
        account::save_all(&path, DEFAULT_PROFILE, Edit { base: &base, edited: &settings, keep_mine: &keep_mine }, changes)
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

#[tauri::command]
pub async fn password_status() -> Result<PasswordStatus, ErrorReport> {
    blocking(|| secrets::is_saved(DEFAULT_PROFILE).map(|saved| PasswordStatus { saved }).map_err(|e| (&e).into())).await
}

/// Whether the SMTP listener's password is saved (never the password itself).
#[tauri::command]
pub async fn listener_password_status() -> Result<PasswordStatus, ErrorReport> {
    blocking(|| secrets::get_listener().map(|p| PasswordStatus { saved: p.is_some() }).map_err(|e| (&e).into())).await
}
