//! Profile commands: create, rename, delete and make default. Each writes the settings file
//! through the core (renaming and deleting move or remove the profile's keyring entries too),
//! records an event, and returns the page's fresh view of the settings.

use super::blocking;
use crate::commands::settings::LoadedSettings;
use crate::delivery::Delivery;
use crate::state::AppState;
use smtp_desk::account;
use smtp_desk::journal::events::{self, Actor, NewEvent, ProfileAction};
use smtp_desk::settings::{self, profiles, Written};
use smtp_desk::ErrorReport;
use tauri::{AppHandle, Manager};

/// Runs one profile change on the settings file, then records `event` and answers with the file as written.
async fn change(
    app: AppHandle,
    write: impl FnOnce(&std::path::Path) -> Result<Written, ErrorReport> + Send + 'static,
    event: impl FnOnce(&Written) -> NewEvent + Send + 'static,
) -> Result<LoadedSettings, ErrorReport> {
    blocking(move || {
        let path = smtp_desk::paths::settings_file().map_err(|e| ErrorReport::from(&e))?;
        let written = write(&path)?;
        // Our own write must not come back to the page as an outside change.
        app.state::<AppState>().note_file(Some(written.bytes.clone()));
        app.state::<Delivery>().record(&event(&written));
        Ok(LoadedSettings::new(written.settings, None, None, &path))
    })
    .await
}

fn modify(path: &std::path::Path, f: impl FnOnce(&mut settings::Settings) -> Result<(), settings::Error>) -> Result<Written, ErrorReport> {
    settings::modify(path, settings::WriteOptions::default(), f).map_err(|e| ErrorReport::from(&e))
}

/// Adds profile `name`, inheriting everything from Global, or starting with `copy_of`'s overrides.
#[tauri::command(rename_all = "snake_case")]
pub async fn profile_create(app: AppHandle, name: String, copy_of: Option<String>) -> Result<LoadedSettings, ErrorReport> {
    let (n, from) = (name.clone(), copy_of.clone());
    change(
        app,
        move |path| modify(path, |s| profiles::create(s, &n, from.as_deref())),
        move |_| events::profile_changed(&ProfileAction::Created { copy_of }, &name, Actor::Window),
    )
    .await
}

/// Renames a named profile; its keyring entries move with it.
#[tauri::command(rename_all = "snake_case")]
pub async fn profile_rename(app: AppHandle, name: String, new_name: String) -> Result<LoadedSettings, ErrorReport> {
    let (old, new) = (name.clone(), new_name.clone());
    change(
        app,
        move |path| account::rename_profile(path, &old, &new),
        move |_| events::profile_changed(&ProfileAction::Renamed { from: name }, &new_name, Actor::Window),
    )
    .await
}

/// Deletes a named profile and its keyring entries.
#[tauri::command(rename_all = "snake_case")]
pub async fn profile_delete(app: AppHandle, name: String) -> Result<LoadedSettings, ErrorReport> {
    let n = name.clone();
    change(
        app,
        move |path| account::delete_profile(path, &n),
        move |_| events::profile_changed(&ProfileAction::Deleted, &name, Actor::Window),
    )
    .await
}

/// Makes `name` the profile used when none is named (`global` for Global).
#[tauri::command(rename_all = "snake_case")]
pub async fn profile_set_default(app: AppHandle, name: String) -> Result<LoadedSettings, ErrorReport> {
    let n = name.clone();
    change(
        app,
        move |path| modify(path, |s| profiles::set_default(s, &n)),
        move |w| events::profile_changed(&ProfileAction::MadeDefault, profiles::default_name(&w.settings), Actor::Window),
    )
    .await
}
