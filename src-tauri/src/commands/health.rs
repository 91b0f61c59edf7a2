//! The Deliverability panel's command: `smtp_desk::health::run` on the saved settings, on the
//! async runtime (never the UI thread) and bounded as a whole.

use super::blocking;
use smtp_desk::health::{self, Options, Report};
use smtp_desk::settings::{self, profiles};
use smtp_desk::{ErrorKind, ErrorReport};
use std::time::Duration;

/// The whole check ends after this, whatever its steps' own limits.
const RUN_LIMIT: Duration = Duration::from_secs(60);

/// Checks profile `profile` (the default when absent), for `domain` (the From domain when absent),
/// from the public IP `ip` (learned from DNS when absent).
#[tauri::command]
pub async fn health_check(profile: Option<String>, domain: Option<String>, ip: Option<String>) -> Result<Report, ErrorReport> {
    let ip = match ip.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => None,
        Some(text) => Some(text.parse::<std::net::IpAddr>().map_err(|_| {
            let mut r = ErrorReport::new(ErrorKind::BadValue, format!("'{text}' is not an IP address."))
                .hint("Give the address mail leaves from, e.g. 203.0.113.7, or leave Public IP address empty.");
            r.field = Some("health-ip".into());
            r
        })?),
    };
    let settings = blocking(|| settings::load().map(|l| l.settings).map_err(|e| ErrorReport::from(&e))).await?;
    let name = profile.filter(|p| !profiles::is_global(p));
    let timeout = settings.profile.limits.step_timeout().min(Duration::from_secs(10));
    let options = Options { domain: domain.filter(|d| !d.trim().is_empty()), ip, timeout };
    match tokio::time::timeout(RUN_LIMIT, health::run(&settings, name.as_deref(), &options)).await {
        Err(_) => {
            Err(ErrorReport::new(ErrorKind::Internal, format!("The deliverability check did not finish within {} s.", RUN_LIMIT.as_secs()))
                .hint("Check this machine's network and DNS, then try again."))
        }
        Ok(Err(e)) => Err(report(&e)),
        Ok(Ok(r)) => Ok(r),
    }
}

fn report(e: &health::Error) -> ErrorReport {
    match e {
        health::Error::NoDomain => {
            let mut r = ErrorReport::new(ErrorKind::InvalidSettings, format!("{}.", capitalised(&e.to_string())))
                .hint("Enter the From address under Sender, save, then check again.");
            r.field = Some("sender.from_address".into());
            r
        }
        other => ErrorReport::new(ErrorKind::Internal, format!("The deliverability check could not run: {other}.")),
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
}
