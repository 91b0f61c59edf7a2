//! "Keep delivering when the window is closed": the systemd user service that runs
//! `smtp-desk deliver --daemon`, asked about and turned on or off through the core's `outbox::service`.

use super::blocking;
use serde::Serialize;
use smtp_desk::outbox::service;
use smtp_desk::ErrorReport;
use ts_rs::TS;

/// Where the delivery service stands, as the switch shows it.
#[derive(Serialize, TS)]
#[ts(export_to = "window/")]
pub struct DeliveryService {
    /// Turned on: starts with the user's session.
    enabled: bool,
    /// Running now.
    active: bool,
}

/// systemd's own answer first: without a user manager the switch has nothing to turn, and the
/// error (`service_unavailable`) says what to do instead.
fn current() -> Result<DeliveryService, ErrorReport> {
    service::require_systemd().map_err(|e| ErrorReport::from(&e))?;
    Ok(shown(service::status()))
}

fn shown(s: service::Status) -> DeliveryService {
    DeliveryService { enabled: s.enabled, active: s.active }
}

#[tauri::command]
pub async fn delivery_service_status() -> Result<DeliveryService, ErrorReport> {
    blocking(current).await
}

/// Turns the service on (writes the unit, `systemctl --user enable --now`) or off (disables and removes it).
#[tauri::command]
pub async fn delivery_service_set(enabled: bool) -> Result<DeliveryService, ErrorReport> {
    blocking(move || {
        let s = if enabled { service::enable() } else { service::disable() };
        s.map(shown).map_err(|e| ErrorReport::from(&e))
    })
    .await
}
