//! Journal commands: a page of the mail log, a page of the event log, a report over a range, the
//! dashboard's data, and the mail log as CSV (Rust opens the save dialog, so the page needs no
//! dialog or file permission). Each is a thin call into the core's journal on the window's own
//! outbox connection, off the async workers.

use super::blocking;
use crate::delivery::Delivery;
use serde::Serialize;
use smtp_desk::journal::{self, dashboard::Dashboard, events, mail_log, report::Report};
use smtp_desk::outbox::Store;
use smtp_desk::{ErrorKind, ErrorReport};
use tauri::{AppHandle, Manager};
use ts_rs::TS;

/// Runs `f` on the window's outbox connection, off the async workers.
async fn with_journal<T: Send + 'static>(
    app: AppHandle,
    f: impl FnOnce(&Store) -> Result<T, journal::Error> + Send + 'static,
) -> Result<T, ErrorReport> {
    blocking(move || {
        let mut out = None;
        app.state::<Delivery>()
            .with_store(|s| {
                out = Some(f(s));
                Ok(())
            })
            .map_err(|e| ErrorReport::from(&e))?;
        out.expect("set by the closure").map_err(|e| ErrorReport::from(&e))
    })
    .await
}

#[tauri::command]
pub async fn log_page(app: AppHandle, query: mail_log::LogQuery) -> Result<mail_log::LogPage, ErrorReport> {
    with_journal(app, move |s| mail_log::page(s, &query)).await
}

#[tauri::command]
pub async fn events_page(app: AppHandle, query: events::EventQuery) -> Result<events::EventPage, ErrorReport> {
    with_journal(app, move |s| events::page(s, &query)).await
}

/// The report over `[from, to)`, ms since the epoch (the page picks the local days).
#[tauri::command]
pub async fn report(app: AppHandle, from: i64, to: i64) -> Result<Report, ErrorReport> {
    with_journal(app, move |s| journal::report::build(s, from, to)).await
}

#[tauri::command]
pub async fn dashboard(app: AppHandle) -> Result<Dashboard, ErrorReport> {
    let agent_running = app.state::<Delivery>().agent_running();
    with_journal(app, move |s| {
        // Unreadable settings send nothing, as the agent does: the dashboard says "off".
        let settings = smtp_desk::settings::load().map(|l| l.settings).unwrap_or_default();
        journal::dashboard::load(s, &settings, agent_running, now_ms())
    })
    .await
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Where the mail log was saved, and how many rows.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export_to = "window/")]
pub struct Exported {
    pub path: String,
    pub rows: u64,
}

/// Asks where to save (a native dialog), then writes the rows `query` matches (every page) as
/// CSV. `None` when the user cancelled.
#[tauri::command]
pub async fn export_log_csv(app: AppHandle, query: mail_log::LogQuery) -> Result<Option<Exported>, ErrorReport> {
    use tauri_plugin_dialog::DialogExt;
    let dialog = app.dialog().file().set_title("Export the mail log").add_filter("CSV", &["csv"]).set_file_name("mail-log.csv");
    let (tx, rx) = tokio::sync::oneshot::channel();
    dialog.save_file(move |picked| {
        let _ = tx.send(picked);
    });
    let Some(picked) = rx.await.ok().flatten() else { return Ok(None) };
    let path = picked.into_path().map_err(|e| ErrorReport::new(ErrorKind::BadArguments, format!("that place can't be saved to: {e}")))?;
    let shown = path.display().to_string();
    let outbox = app.state::<Delivery>().outbox_path();
    let rows = blocking(move || {
        // A connection of its own: writing a million rows takes seconds, and the window's
        // connection serves the queue screen and the event log meanwhile.
        let s = Store::open(&outbox).map_err(|e| ErrorReport::from(&e))?;
        let write = || -> Result<u64, journal::Error> {
            let failed = |e: std::io::Error| journal::Error::Export { message: format!("{}: {e}", path.display()) };
            let mut out = std::io::BufWriter::new(std::fs::File::create(&path).map_err(failed)?);
            let rows = journal::export::write_csv(&s, &query, &mut out)?;
            std::io::Write::flush(&mut out).map_err(failed)?;
            Ok(rows)
        };
        write().map_err(|e| ErrorReport::from(&e))
    })
    .await?;
    Ok(Some(Exported { path: shown, rows }))
}
