//! OAuth2 sign-in for the Authentication section: who is signed in, Sign in (the browser flow
//! with a loopback redirect runs here, in Rust; the page only shows the outcome) and Sign out.

use super::blocking;
use serde::Serialize;
use smtp_desk::oauth::{self, flow, tokens};
use smtp_desk::settings::Auth;
use smtp_desk::ErrorReport;
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

/// Signs profile `profile` in with the form's `auth` values: opens the system browser on the
/// provider's page and waits (up to 5 minutes) for its redirect to 127.0.0.1.
#[tauri::command]
pub async fn oauth_sign_in(profile: Option<String>, auth: Auth) -> Result<OAuthState, ErrorReport> {
    let entry = blocking(move || super::settings::entry_of(profile)).await?;
    let ep = oauth::endpoints(&auth).map_err(|e| ErrorReport::from(&e))?;
    let sign_in = flow::browser_start(&ep).await.map_err(|e| ErrorReport::from(&e))?;
    flow::open_in_browser(&sign_in.url);
    sign_in.finish(&ep, &entry, &auth.username, None).await.map_err(|e| ErrorReport::from(&e))?;
    blocking(move || state(&entry)).await
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
