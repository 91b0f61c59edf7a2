//! Export and import of the configuration from the window: Rust opens the native save or open
//! dialog (the page gets no file access) and calls the core's `settings::transfer`, which writes
//! no secret and imports all or nothing.

use super::blocking;
use crate::commands::settings::LoadedSettings;
use crate::delivery::Delivery;
use crate::state::AppState;
use serde::Serialize;
use smtp_desk::journal::events::{self, Actor};
use smtp_desk::settings::{self, transfer};
use smtp_desk::{policy, ErrorKind, ErrorReport};
use tauri::{AppHandle, Manager};
use tauri_plugin_dialog::{DialogExt, FilePath};
use ts_rs::TS;

/// A configuration imported: the settings as written, and what the import said.
#[derive(Serialize, TS)]
#[ts(export_to = "window/")]
pub struct ImportDone {
    loaded: LoadedSettings,
    /// Whether anything changed (importing the same file again changes nothing).
    changed: bool,
    /// The file's schema when it was older and migrated on reading.
    migrated_from: Option<u32>,
    file: String,
}

fn place(picked: FilePath) -> Result<std::path::PathBuf, ErrorReport> {
    picked.into_path().map_err(|e| ErrorReport::new(ErrorKind::BadArguments, format!("that place can't be used: {e}")))
}

/// Asks where to save, then writes the whole configuration there (no password: the keyring keeps
/// those). The path written, or `None` when the user cancelled.
#[tauri::command]
pub async fn settings_export(app: AppHandle) -> Result<Option<String>, ErrorReport> {
    let dialog =
        app.dialog().file().set_title("Export the settings").add_filter("JSON", &["json"]).set_file_name("smtp-desk-settings.json");
    let (tx, rx) = tokio::sync::oneshot::channel();
    dialog.save_file(move |picked| {
        let _ = tx.send(picked);
    });
    let Some(picked) = rx.await.ok().flatten() else { return Ok(None) };
    let path = place(picked)?;
    blocking(move || {
        let report = |e: settings::Error| ErrorReport::from(&e);
        let loaded = settings::load().map_err(report)?;
        let bytes = transfer::export(&loaded.settings, None).map_err(report)?;
        std::fs::write(&path, bytes).map_err(|e| {
            ErrorReport::new(ErrorKind::SettingsIo, format!("could not write {}: {e}", path.display())).hint("Choose another place.")
        })?;
        Ok(Some(path.display().to_string()))
    })
    .await
}

/// Asks for a configuration file, then imports it: every problem listed and nothing changed, or
/// the whole file applied. `None` when the user cancelled.
#[tauri::command]
pub async fn settings_import(app: AppHandle) -> Result<Option<ImportDone>, ErrorReport> {
    let dialog = app.dialog().file().set_title("Import settings").add_filter("JSON", &["json"]);
    let (tx, rx) = tokio::sync::oneshot::channel();
    dialog.pick_file(move |picked| {
        let _ = tx.send(picked);
    });
    let Some(picked) = rx.await.ok().flatten() else { return Ok(None) };
    let file = place(picked)?;
    blocking(move || {
        let path = smtp_desk::paths::settings_file().map_err(|e| ErrorReport::from(&e))?;
        let imported = transfer::import(&smtp_desk::secrets::OsKeyring, &path, &file, None, None, &policy::load())
            .map_err(|e| ErrorReport::from(&e))?;
        let changed = imported.changed();
        let written = imported.written;
        // Our own write must not come back to the page as an outside change.
        app.state::<AppState>().note_file(Some(written.bytes.clone()));
        if let Some(e) = events::imported(&file, &written.previous, &written.settings, false, Actor::Window) {
            app.state::<Delivery>().record(&e);
        }
        let notice = (!imported.warnings.is_empty()).then(|| imported.warnings.join(" "));
        Ok(Some(ImportDone {
            loaded: LoadedSettings::new(written.settings, notice, None, &path),
            changed,
            migrated_from: imported.migrated_from,
            file: file.display().to_string(),
        }))
    })
    .await
}
