//! Diagnose commands: validation runs streamed to the page as events (cancellable), and the test
//! email. Both use the saved settings and the password from the keyring.

use super::blocking;
use crate::state::AppState;
use serde::Serialize;
use smtp_desk::secrets::DEFAULT_PROFILE;
use smtp_desk::smtp::{self, CancelToken, Job, Outcome, Step};
use smtp_desk::ErrorReport;
use tauri::{AppHandle, Emitter, Manager, State};
use ts_rs::TS;

/// The payload of the `validation-step` event.
#[derive(Serialize, Clone, TS)]
#[ts(export_to = "window/")]
pub(crate) struct StepEvent<'a> {
    run_id: u64,
    step: &'a Step,
}

/// The payload of the `validation-finished` event.
#[derive(Serialize, Clone, TS)]
#[ts(export_to = "window/")]
pub(crate) struct FinishedEvent {
    run_id: u64,
    outcome: Outcome,
}

#[derive(Serialize, TS)]
#[ts(export_to = "window/")]
pub struct Started {
    run_id: u64,
}

/// The saved profile and its password, whose keyring read goes on while DNS, connect and TLS
/// run; the settings file is read off the async workers.
async fn saved_job(recipient: Option<String>) -> Result<Job, ErrorReport> {
    blocking(move || {
        let job = Job::from_saved(DEFAULT_PROFILE)?;
        smtp::check_ready(job.profile(), recipient.as_deref())?;
        Ok(job)
    })
    .await
}

#[tauri::command]
pub async fn validate_start(app: AppHandle, recipient: Option<String>, state: State<'_, AppState>) -> Result<Started, ErrorReport> {
    let recipient = recipient.filter(|r| !r.trim().is_empty());
    let job = saved_job(recipient.clone()).await?;
    let run_id = state.next_run_id();
    let cancel = CancelToken::new();
    state.runs.lock().unwrap_or_else(|p| p.into_inner()).insert(run_id, cancel.clone());
    tauri::async_runtime::spawn(async move {
        let emitter = app.clone();
        let mut on_step = move |step: &Step| {
            let _ = emitter.emit("validation-step", StepEvent { run_id, step });
        };
        let outcome = smtp::validate(&job, recipient.as_deref(), &cancel, &mut on_step).await;
        app.state::<AppState>().runs.lock().unwrap_or_else(|p| p.into_inner()).remove(&run_id);
        let _ = app.emit("validation-finished", FinishedEvent { run_id, outcome });
    });
    Ok(Started { run_id })
}

#[tauri::command]
pub fn validate_cancel(run_id: u64, state: State<'_, AppState>) {
    if let Some(token) = state.runs.lock().unwrap_or_else(|p| p.into_inner()).get(&run_id) {
        token.cancel();
    }
}

#[tauri::command]
pub async fn send_test(to: String) -> Result<Outcome, ErrorReport> {
    let to = to.trim().to_string();
    let job = saved_job(Some(to.clone())).await?;
    smtp::send_test(&job, &to, &CancelToken::new(), &mut |_| {}).await
}
