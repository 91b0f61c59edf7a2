//! The window's commands, one file per domain; each is a thin call into the core library.

pub mod detect;
pub mod diagnose;
pub mod dkim;
pub mod health;
pub mod journal;
pub mod oauth;
pub mod profiles;
pub mod queue;
pub mod service;
pub mod settings;
pub mod transfer;
pub mod window;

use smtp_desk::{ErrorKind, ErrorReport};

/// Runs blocking core work (file and keyring I/O) off the async runtime's workers.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, ErrorReport> + Send + 'static) -> Result<T, ErrorReport> {
    tauri::async_runtime::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(ErrorReport::new(ErrorKind::Internal, format!("the task failed: {e}"))))
}
