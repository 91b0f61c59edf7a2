//! Queue commands: a page of the queue, one message with its attempts, the overview (counts and
//! whether sending is off), and the actions (flush, retry, hold, release, delete), each a thin
//! call into the core's outbox on the window's own connection.

use super::blocking;
use crate::delivery::Delivery;
use smtp_desk::journal::events::{self, Actor, QueueAction};
use smtp_desk::outbox::{self, MessageDetail, Overview, Page, PageQuery, Store};
use smtp_desk::ErrorReport;
use tauri::{AppHandle, Manager};

/// Runs `f` on the window's queue connection, off the async workers.
async fn with_store<T: Send + 'static>(
    app: AppHandle,
    f: impl FnOnce(&mut Store) -> Result<T, outbox::Error> + Send + 'static,
) -> Result<T, ErrorReport> {
    blocking(move || app.state::<Delivery>().with_store(f).map_err(|e| ErrorReport::from(&e))).await
}

#[tauri::command]
pub async fn queue_page(app: AppHandle, query: PageQuery) -> Result<Page, ErrorReport> {
    with_store(app, move |s| s.page(&query)).await
}

#[tauri::command]
pub async fn queue_show(app: AppHandle, id: i64) -> Result<MessageDetail, ErrorReport> {
    with_store(app, move |s| s.show(id)).await
}

#[tauri::command]
pub async fn queue_overview(app: AppHandle) -> Result<Overview, ErrorReport> {
    with_store(app, |s| s.overview(crate::delivery::sending_mode())).await
}

/// Makes deferred mail due now (these messages, or all) and wakes delivery. Returns how many
/// messages were made due.
#[tauri::command]
pub async fn queue_flush(app: AppHandle, ids: Option<Vec<i64>>) -> Result<usize, ErrorReport> {
    with_store(app, move |s| {
        let n = match &ids {
            Some(ids) => s.retry_now(ids)?,
            None => {
                s.record_flush_request()?;
                s.retry_all_now()?
            }
        };
        let action = if ids.is_some() { QueueAction::Retry } else { QueueAction::Flush };
        acted(s, action, ids.as_deref(), n);
        outbox::wake_delivery(s)?;
        Ok(n)
    })
    .await
}

/// Holds the waiting recipients of these messages. Returns how many messages changed.
#[tauri::command]
pub async fn queue_hold(app: AppHandle, ids: Vec<i64>) -> Result<usize, ErrorReport> {
    with_store(app, move |s| {
        let n = s.hold(&ids)?;
        acted(s, QueueAction::Hold, Some(&ids), n);
        Ok(n)
    })
    .await
}

/// Releases held messages and wakes delivery. Returns how many messages changed.
#[tauri::command]
pub async fn queue_release(app: AppHandle, ids: Vec<i64>) -> Result<usize, ErrorReport> {
    with_store(app, move |s| {
        let n = s.release(&ids)?;
        acted(s, QueueAction::Release, Some(&ids), n);
        outbox::wake_delivery(s)?;
        Ok(n)
    })
    .await
}

/// Deletes these messages, or every message when `ids` is `None`. Returns how many.
#[tauri::command]
pub async fn queue_delete(app: AppHandle, ids: Option<Vec<i64>>) -> Result<usize, ErrorReport> {
    with_store(app, move |s| {
        let n = match &ids {
            Some(ids) => s.delete(ids)?,
            None => s.delete_all()?,
        };
        acted(s, QueueAction::Delete, ids.as_deref(), n);
        Ok(n)
    })
    .await
}

/// Notes a person's queue action in the event log, on the same connection.
fn acted(store: &Store, action: QueueAction, ids: Option<&[i64]>, n: usize) {
    events::record_or_log(store, &events::queue_action(action, ids, n, Actor::Window));
}
