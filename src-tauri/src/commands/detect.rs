//! "Find settings" in the window: a detection run (core `smtp_desk::detect`) for the address the
//! user typed, its result coming as a `detect-finished` event so `run_cancel` can stop it. The
//! options are the CLI's: the setting `detect.ispdb_url`, then the documented environment.

use super::blocking;
use crate::commands::diagnose::Started;
use crate::state::AppState;
use serde::Serialize;
use smtp_desk::detect::{self, Detection, Options};
use smtp_desk::{settings, ErrorReport};
use tauri::{AppHandle, Emitter, Manager, State};
use ts_rs::TS;

/// The payload of the `detect-finished` event.
#[derive(Serialize, Clone, TS)]
#[ts(export_to = "window/")]
pub(crate) struct DetectFinishedEvent {
    run_id: u64,
    #[serde(flatten)]
    end: DetectEnd,
}

#[derive(Serialize, Clone, TS)]
#[ts(export_to = "window/")]
#[serde(rename_all = "snake_case")]
pub(crate) enum DetectEnd {
    Result(Detection),
    Error(ErrorReport),
}

/// Starts finding the outgoing server for `address`; bad input (not an address, unusable
/// options) is refused here, before any network traffic.
#[tauri::command]
pub async fn detect_start(app: AppHandle, address: String, state: State<'_, AppState>) -> Result<Started, ErrorReport> {
    detect::Address::parse(&address).map_err(|e| e.report())?;
    let options = blocking(|| {
        let base = settings::load().map(|l| Options::default().with_settings(&l.settings)).unwrap_or_default();
        base.with_env().map_err(|e| e.report())
    })
    .await?;
    let (run_id, cancel) = state.start_run();
    tauri::async_runtime::spawn(async move {
        let end = match detect::detect(&address, &options, &cancel).await {
            Ok(d) => DetectEnd::Result(d),
            Err(e) => DetectEnd::Error(e.report()),
        };
        app.state::<AppState>().end_run(run_id);
        let _ = app.emit("detect-finished", DetectFinishedEvent { run_id, end });
    });
    Ok(Started::new(run_id))
}
