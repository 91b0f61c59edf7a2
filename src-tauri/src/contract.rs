//! Checks that the window's own IPC types in `ui/src/generated/window/` match the Rust structs
//! (the core's are checked by the core's tests/contract.rs); `scripts/gen-bindings.sh` rewrites them.

use crate::commands::diagnose::{FinishedEvent, Started, StepEvent};
use crate::commands::settings::{LoadedSettings, PasswordAction, PasswordStatus, Saved};
use crate::window_state::UiState;
use std::path::Path;
use ts_rs::TS;

#[test]
fn typescript_bindings_are_current() {
    let generated = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/generated");
    let result = smtp_desk::contract::sync(&generated, "window", |dir| {
        let cfg = smtp_desk::contract::config(dir);
        LoadedSettings::export_all(&cfg)?;
        Saved::export_all(&cfg)?;
        PasswordStatus::export_all(&cfg)?;
        PasswordAction::export_all(&cfg)?;
        Started::export_all(&cfg)?;
        StepEvent::export_all(&cfg)?;
        FinishedEvent::export_all(&cfg)?;
        UiState::export_all(&cfg)
    });
    if let Err(problems) = result {
        panic!("{problems}");
    }
}
