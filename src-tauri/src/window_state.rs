//! The window's own state (size and position, last screen, theme), kept with tauri-plugin-store
//! in the app data dir. The page reaches it only through our commands, never the plugin.

use serde::{Deserialize, Serialize};
use serde_json::json;
use tauri::{AppHandle, PhysicalPosition, PhysicalSize, Runtime, WebviewWindow, Window};
use tauri_plugin_store::StoreExt;
use ts_rs::TS;

const STORE: &str = "window-state.json";

/// What the page may read and change.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export_to = "window/")]
pub struct UiState {
    pub theme: Theme,
    pub last_screen: Screen,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, Default, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export_to = "window/")]
pub enum Theme {
    #[default]
    System,
    Light,
    Dark,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, Default, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export_to = "window/")]
pub enum Screen {
    #[default]
    Settings,
    Diagnose,
    Queue,
    Dashboard,
    Log,
    Events,
    Report,
}

#[derive(Debug, Serialize, Deserialize)]
struct Geometry {
    x: i32,
    y: i32,
    width: u32,
    height: u32,
}

pub fn ui_state<R: Runtime>(app: &AppHandle<R>) -> UiState {
    let store = app.store(STORE).ok();
    let get = |key: &str| store.as_ref().and_then(|s| s.get(key)).unwrap_or_default();
    UiState {
        theme: serde_json::from_value(get("theme")).unwrap_or_default(),
        last_screen: serde_json::from_value(get("last_screen")).unwrap_or_default(),
    }
}

pub fn set_ui_state<R: Runtime>(app: &AppHandle<R>, state: &UiState) -> Result<(), String> {
    let store = app.store(STORE).map_err(|e| e.to_string())?;
    store.set("theme", json!(state.theme));
    store.set("last_screen", json!(state.last_screen));
    store.save().map_err(|e| e.to_string())
}

/// Puts the window back where the user left it, if that still fits a monitor.
pub fn restore<R: Runtime>(app: &AppHandle<R>, window: &WebviewWindow<R>) {
    let Ok(store) = app.store(STORE) else { return };
    let Some(g) = store.get("window").and_then(|v| serde_json::from_value::<Geometry>(v).ok()) else { return };
    if g.width >= 400 && g.height >= 300 {
        let _ = window.set_size(PhysicalSize::new(g.width, g.height));
    }
    let on_screen = window.available_monitors().unwrap_or_default().iter().any(|m| {
        let (p, s) = (m.position(), m.size());
        g.x >= p.x && g.y >= p.y && g.x < p.x + s.width as i32 && g.y < p.y + s.height as i32
    });
    if on_screen {
        let _ = window.set_position(PhysicalPosition::new(g.x, g.y));
    }
}

pub fn save<R: Runtime>(app: &AppHandle<R>, window: &Window<R>) {
    let (Ok(pos), Ok(size), Ok(store)) = (window.outer_position(), window.inner_size(), app.store(STORE)) else { return };
    store.set("window", json!(Geometry { x: pos.x, y: pos.y, width: size.width, height: size.height }));
    if let Err(e) = store.save() {
        tracing::warn!("could not save the window state: {e}");
    }
}
