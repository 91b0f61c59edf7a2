//! Opens the main window with the settings and UI state already in the page (an initialization
//! script), so the form is filled without an IPC round trip: WebKit delivers IPC replies only
//! once the window's first frame is drawn, which costs hundreds of milliseconds at start-up.

use crate::commands::settings::read_settings;
use crate::state::AppState;
use crate::window_state;
use tauri::{AppHandle, Manager, WebviewWindow, WebviewWindowBuilder};

pub fn open_main_window(app: &AppHandle) -> tauri::Result<WebviewWindow> {
    let config = app.config().app.windows.iter().find(|w| w.label == "main").cloned().expect("tauri.conf.json declares the main window");
    let (loaded, load_error) = match read_settings(&app.state::<AppState>()) {
        Ok(loaded) => (Some(loaded), None),
        Err(e) => (None, Some(e)),
    };
    let data = serde_json::json!({
        "loaded": loaded,
        "load_error": load_error,
        "ui_state": window_state::ui_state(app),
    });
    // JSON is a JavaScript expression; settings hold no secrets.
    let script = format!("window.__SMTP_DESK_STARTUP__ = {data};");
    WebviewWindowBuilder::from_config(app, &config)?.initialization_script(&script).build()
}
