//! Settings commands: load, check, save (with the password change), password status.

use super::blocking;
use crate::state::AppState;
use serde::{Deserialize, Serialize};
use smtp_desk::account::{self, PasswordChange};
use smtp_desk::secrets::{self, Password, DEFAULT_PROFILE};
use smtp_desk::settings::{self, Report, Settings};
use smtp_desk::ErrorReport;
use tauri::{AppHandle, Manager, State};

#[derive(Serialize)]
pub struct LoadedSettings {
    settings: Settings,
    notice: Option<String>,
    machine_name: String,
    file: String,
}

/// Reads the settings file and remembers its content, so that only outside changes are reported.
pub fn read_settings(state: &AppState) -> LoadedSettings {
    let path = smtp_desk::paths::settings_file();
    let loaded = settings::load_from(&path);
    state.note_file(std::fs::read(&path).ok());
    LoadedSettings {
        settings: loaded.settings,
        notice: loaded.notice,
        machine_name: smtp_desk::machine::host_name(),
        file: path.display().to_string(),
    }
}

#[tauri::command]
pub async fn load_settings(app: AppHandle) -> Result<LoadedSettings, ErrorReport> {
    blocking(move || Ok(read_settings(&app.state::<AppState>()))).await
}

#[tauri::command]
pub fn check_settings(settings: Settings) -> Report {
    settings::check(&settings)
}

/// The page's password field: it sends the password only when the user typed a new one.
#[derive(Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum PasswordAction {
    Keep,
    Set { value: String },
    Clear,
}

#[derive(Serialize)]
pub struct Saved {
    /// `None` when the password was kept: the keyring was not asked, the page's status stands.
    password_saved: Option<bool>,
    report: Report,
}

#[tauri::command]
pub async fn save_settings(settings: Settings, password: PasswordAction, state: State<'_, AppState>) -> Result<Saved, ErrorReport> {
    let change = match password {
        PasswordAction::Keep => PasswordChange::Keep,
        PasswordAction::Clear => PasswordChange::Clear,
        PasswordAction::Set { value } => PasswordChange::Set(Password::new(value).map_err(|e| ErrorReport::from(&e))?),
    };
    let (password_saved, content, report) = blocking(move || {
        let path = smtp_desk::paths::settings_file();
        let saved = account::save(&path, DEFAULT_PROFILE, &settings, change)?;
        Ok((saved, std::fs::read(&path).ok(), settings::check(&settings)))
    })
    .await?;
    // Our own write must not come back to the page as an outside change.
    state.note_file(content);
    state.set_dirty(false);
    Ok(Saved { password_saved, report })
}

#[derive(Serialize)]
pub struct PasswordStatus {
    saved: bool,
}

#[tauri::command]
pub async fn password_status() -> Result<PasswordStatus, ErrorReport> {
    blocking(|| secrets::is_saved(DEFAULT_PROFILE).map(|saved| PasswordStatus { saved }).map_err(|e| (&e).into())).await
}
