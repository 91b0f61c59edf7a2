//! Checks that `ui/src/generated/` is exactly what the core's IPC types and the window's own make
//! (the window's in `window/`); `scripts/gen-bindings.sh` rewrites it.

use crate::commands::diagnose::{FinishedEvent, FormValues, SendFinishedEvent, Started, StepEvent};
use crate::commands::journal::Exported;
use crate::commands::service::DeliveryService;
use crate::commands::settings::{LoadedSettings, PasswordAction, PasswordStatus, Saved};
use crate::commands::transfer::ImportDone;
use crate::window_state::UiState;
use smtp_desk::contract::Scope;
use std::path::Path;
use ts_rs::TS;

#[test]
fn typescript_bindings_are_current() {
    let generated = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/generated");
    // The core's types too: a window struct may use a core type no core type uses, and only this
    // check sees every file, so only it can tell one that nothing makes any more.
    let result = smtp_desk::contract::sync(&generated, Scope::Whole, |dir| {
        smtp_desk::contract::export_core(dir)?;
        let cfg = smtp_desk::contract::config(dir);
        LoadedSettings::export_all(&cfg)?;
        Saved::export_all(&cfg)?;
        PasswordStatus::export_all(&cfg)?;
        crate::commands::oauth::OAuthState::export_all(&cfg)?;
        crate::commands::oauth::OAuthSignInUrlEvent::export_all(&cfg)?;
        PasswordAction::export_all(&cfg)?;
        DeliveryService::export_all(&cfg)?;
        Started::export_all(&cfg)?;
        StepEvent::export_all(&cfg)?;
        FinishedEvent::export_all(&cfg)?;
        SendFinishedEvent::export_all(&cfg)?;
        crate::commands::detect::DetectFinishedEvent::export_all(&cfg)?;
        FormValues::export_all(&cfg)?;
        Exported::export_all(&cfg)?;
        ImportDone::export_all(&cfg)?;
        UiState::export_all(&cfg)
    });
    if let Err(problems) = result {
        panic!("{problems}");
    }
}
