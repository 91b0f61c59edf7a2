//! OAuth2 sign-in for the Authentication section: who is signed in, Sign in (the browser flow
//! with a loopback redirect runs here, in Rust; the page shows the address to open, may paste
//! the address the browser ended on, or cancel) and Sign out.

use super::blocking;
use serde::Serialize;
use smtp_desk::oauth::{self, flow, tokens};
use smtp_desk::settings::Auth;
use smtp_desk::{ErrorKind, ErrorReport};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use tauri::{AppHandle, Emitter, State};
use tokio::sync::{mpsc, oneshot};
use ts_rs::TS;

/// A profile's sign-in as the page shows it (never a token).
#[derive(Serialize, TS)]
#[ts(export_to = "window/")]
pub struct OAuthState {
    signed_in: bool,
    user: String,
    /// Unix seconds of the last token refresh (0: never).
    #[ts(type = "number")]
    refreshed_at: i64,
}

fn state(entry: &str) -> Result<OAuthState, ErrorReport> {
    let s = oauth::status(entry).map_err(|e| ErrorReport::from(&e))?;
    Ok(OAuthState { signed_in: s.signed_in, user: s.user, refreshed_at: s.refreshed_at })
}

/// Whether profile `profile` (Global when absent) is signed in, as whom, refreshed when.
#[tauri::command]
pub async fn oauth_status(profile: Option<String>) -> Result<OAuthState, ErrorReport> {
    blocking(move || state(&super::settings::entry_of(profile)?)).await
}

/// The payload of the `oauth-sign-in-url` event: the provider's page a sign-in waits on, for
/// the user to open by hand when the browser did not open or runs elsewhere.
#[derive(Serialize, Clone, TS)]
#[ts(export_to = "window/")]
pub(crate) struct OAuthSignInUrlEvent {
    url: String,
}

/// The sign-in waiting for its browser (at most one): where a pasted address goes, and how to stop it.
#[derive(Default)]
pub struct PendingSignIn {
    waiting: Mutex<Option<Waiting>>,
    next_id: AtomicU64,
}

struct Waiting {
    id: u64,
    paste: mpsc::Sender<String>,
    cancel: oneshot::Sender<()>,
}

impl PendingSignIn {
    /// Registers a new sign-in; an older one still waiting is cancelled (its page asked again).
    fn begin(&self, paste: mpsc::Sender<String>, cancel: oneshot::Sender<()>) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let old = self.waiting.lock().unwrap_or_else(|p| p.into_inner()).replace(Waiting { id, paste, cancel });
        if let Some(old) = old {
            let _ = old.cancel.send(());
        }
        id
    }

    fn take(&self) -> Option<Waiting> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    fn paste_sender(&self) -> Option<mpsc::Sender<String>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|w| w.paste.clone())
    }
}

/// Clears sign-in `id` from the pending state however its command ends (done, failed, cancelled, dropped).
struct Clear<'a> {
    pending: &'a PendingSignIn,
    id: u64,
}

impl Drop for Clear<'_> {
    fn drop(&mut self) {
        let mut w = self.pending.waiting.lock().unwrap_or_else(|p| p.into_inner());
        if w.as_ref().is_some_and(|w| w.id == self.id) {
            *w = None;
        }
    }
}

fn no_sign_in() -> ErrorReport {
    ErrorReport::new(ErrorKind::OAuthFailed, "No sign-in is waiting for an address.").hint("Click Sign in first.")
}

/// Signs profile `profile` in with the form's `auth` values: opens the system browser on the
/// provider's page, tells the page its address (`oauth-sign-in-url`), and waits (up to 5
/// minutes) for the redirect to 127.0.0.1, an address pasted through `oauth_paste`, or `oauth_cancel`.
#[tauri::command]
pub async fn oauth_sign_in(
    app: AppHandle,
    pending: State<'_, PendingSignIn>,
    profile: Option<String>,
    auth: Auth,
) -> Result<OAuthState, ErrorReport> {
    let entry = blocking(move || super::settings::entry_of(profile)).await?;
    let ep = oauth::endpoints(&auth).map_err(|e| ErrorReport::from(&e))?;
    let sign_in = flow::browser_start(&ep).await.map_err(|e| ErrorReport::from(&e))?;
    let (paste_tx, paste_rx) = mpsc::channel(4);
    let (cancel_tx, cancel_rx) = oneshot::channel();
    let _clear = Clear { pending: pending.inner(), id: pending.begin(paste_tx, cancel_tx) };
    let _ = app.emit("oauth-sign-in-url", OAuthSignInUrlEvent { url: sign_in.url.clone() });
    flow::open_in_browser(&sign_in.url);
    tokio::select! {
        done = sign_in.finish(&ep, &entry, &auth.username, Some(paste_rx)) => done.map_err(|e| ErrorReport::from(&e))?,
        _ = cancel_rx => return Err(ErrorReport::new(ErrorKind::OAuthFailed, "Sign-in cancelled.")),
    };
    blocking(move || state(&entry)).await
}

/// Hands the waiting sign-in the address the browser ended on (`http://127.0.0.1:PORT/?code=…&state=…`);
/// the sign-in checks its `state` and finishes (or fails) as if the browser had come back itself.
#[tauri::command]
pub async fn oauth_paste(pending: State<'_, PendingSignIn>, url: String) -> Result<(), ErrorReport> {
    let url = url.trim().to_string();
    if !url.contains("code=") && !url.contains("error=") {
        return Err(ErrorReport::new(ErrorKind::OAuthFailed, "That is not the address the browser ended on: it has no code= in it.")
            .hint("Copy the whole address from the browser's address bar; it starts with http://127.0.0.1."));
    }
    let paste = pending.paste_sender().ok_or_else(no_sign_in)?;
    paste.try_send(url).map_err(|_| no_sign_in())
}

/// Stops the waiting sign-in; its `oauth_sign_in` returns "Sign-in cancelled.". Nothing waiting: nothing to do.
#[tauri::command]
pub async fn oauth_cancel(pending: State<'_, PendingSignIn>) -> Result<(), ErrorReport> {
    if let Some(w) = pending.take() {
        let _ = w.cancel.send(());
    }
    Ok(())
}

/// Signs profile `profile` out: its refresh token leaves the keyring.
#[tauri::command]
pub async fn oauth_sign_out(profile: Option<String>) -> Result<OAuthState, ErrorReport> {
    blocking(move || {
        let entry = super::settings::entry_of(profile)?;
        tokens::forget(&entry).map_err(|e| ErrorReport::from(&e))?;
        state(&entry)
    })
    .await
}
