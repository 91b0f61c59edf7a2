//! The DKIM card's commands: the key of a profile as stored, a new key, the DNS check and removal,
//! each a thin call into `smtp_desk::direct::dkim` on the saved settings. Only the public half
//! (the TXT record) ever reaches the window.

use super::blocking;
use smtp_desk::direct::dkim::{self, KeyInfo};
use smtp_desk::settings::{self, profiles, Settings};
use smtp_desk::{ErrorKind, ErrorReport};
use std::time::Duration;

/// How long the DNS check may take in all.
const CHECK_LIMIT: Duration = Duration::from_secs(20);

/// The saved settings and the profile name the core uses ("global" for Global).
fn saved(profile: Option<String>) -> Result<(Settings, String), ErrorReport> {
    let settings = settings::load().map_err(|e| ErrorReport::from(&e))?.settings;
    let name = profile.filter(|p| !profiles::is_global(p)).unwrap_or_else(|| profiles::GLOBAL.to_string());
    Ok((settings, name))
}

/// Profile `profile`'s key (Global when absent), without asking DNS; null when it has none.
#[tauri::command]
pub async fn dkim_key(profile: Option<String>) -> Result<Option<KeyInfo>, ErrorReport> {
    blocking(move || {
        let (settings, name) = saved(profile)?;
        dkim::key_info(&settings, &name).map_err(|e| ErrorReport::from(&e))
    })
    .await
}

/// Makes a new key for `profile` with its saved selector, domain and key type; an existing key
/// is replaced only when `replace` (the window asks first).
#[tauri::command]
pub async fn dkim_generate(profile: Option<String>, replace: bool) -> Result<KeyInfo, ErrorReport> {
    blocking(move || {
        let (settings, name) = saved(profile)?;
        dkim::generate(&settings, &name, replace).map_err(|e| ErrorReport::from(&e))
    })
    .await
}

/// The key with `published` filled from DNS (Matches / Missing / Different / Unknown).
#[tauri::command]
pub async fn dkim_check(profile: Option<String>) -> Result<KeyInfo, ErrorReport> {
    let info = dkim_key(profile).await?.ok_or_else(|| {
        ErrorReport::new(ErrorKind::InvalidSettings, "This profile has no DKIM key yet.").hint("Choose 'Generate key' first.")
    })?;
    let resolver = smtp_desk::dns::resolver_from_env(CHECK_LIMIT / 4, hickory_resolver::config::LookupIpStrategy::Ipv4AndIpv6)
        .map_err(|e| ErrorReport::new(ErrorKind::Internal, format!("DNS can't be used: {e}")))?;
    let published = match tokio::time::timeout(CHECK_LIMIT, dkim::check(&resolver, &info)).await {
        Ok(p) => p,
        Err(_) => dkim::Published::Unknown(format!("DNS gave no answer within {} s", CHECK_LIMIT.as_secs())),
    };
    Ok(KeyInfo { published: Some(published), ..info })
}

/// Removes `profile`'s key from the keyring.
#[tauri::command]
pub async fn dkim_remove(profile: Option<String>) -> Result<(), ErrorReport> {
    blocking(move || {
        let (settings, name) = saved(profile)?;
        dkim::remove(&settings, &name).map_err(|e| ErrorReport::from(&e))
    })
    .await
}
