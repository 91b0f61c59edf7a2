//! Diagnose commands: validation runs streamed to the page as events (cancellable), and the test email.

use crate::state::AppState;
use smtp_desk::ErrorReport;
use tauri::{AppHandle, State};

#[tauri::command]
pub async fn validate_start(_app: AppHandle, _recipient: Option<String>, _state: State<'_, AppState>) -> Result<u64, ErrorReport> {
    Err(ErrorReport::new("not_ready", "validation is not wired up yet"))
}

#[tauri::command]
pub fn validate_cancel(_run_id: u64) {}

#[tauri::command]
pub async fn send_test(_to: String) -> Result<(), ErrorReport> {
    Err(ErrorReport::new("not_ready", "sending is not wired up yet"))
}
