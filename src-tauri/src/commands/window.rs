//! Window commands: unsaved-changes state, confirmed close, the page's remembered UI state, and
//! the "form ready" signal the launch benchmark waits for.

use crate::state::AppState;
use crate::window_state::{self, UiState};
use smtp_desk::{ErrorKind, ErrorReport};
use tauri::{AppHandle, Manager, State, Window};

#[tauri::command]
pub fn set_dirty(dirty: bool, state: State<'_, AppState>) {
    state.set_dirty(dirty);
}

/// Called after the user chose to discard unsaved edits.
#[tauri::command]
pub fn close_window(window: Window, state: State<'_, AppState>) -> Result<(), ErrorReport> {
    state.set_dirty(false);
    window_state::save(window.app_handle(), &window);
    window.destroy().map_err(|e| ErrorReport::new(ErrorKind::Window, format!("could not close the window: {e}")))
}

/// Async so that it runs off the main thread, which is busy drawing the window at start-up.
#[tauri::command]
pub async fn get_ui_state(app: AppHandle) -> UiState {
    window_state::ui_state(&app)
}

#[tauri::command]
pub fn set_ui_state(app: AppHandle, state: UiState) -> Result<(), ErrorReport> {
    window_state::set_ui_state(&app, &state)
        .map_err(|e| ErrorReport::new(ErrorKind::UiState, format!("could not save the window state: {e}")))
}

/// The page has filled the form and is ready for input.
#[tauri::command]
pub fn ui_ready(state: State<'_, AppState>) {
    state.milestone("READY");
}
