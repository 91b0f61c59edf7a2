//! The deliverability check (`smtp-desk health`, the window's Deliverability panel): whether
//! mail from this machine and sender domain will be trusted by receivers: EHLO name, reverse
//! DNS, SPF, DKIM, DMARC, MX, MTA-STS, TLS-RPT, outbound port 25, DNS blocklists. Each line is
//! ok / warning / failed / unknown with a hint a person can act on.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// A line's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(rename = "HealthStatus")]
pub enum Status {
    Ok,
    Warning,
    Failed,
    /// Could not be known (no answer, a refused blocklist query, no public IP).
    Unknown,
}

/// What a line checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(rename = "HealthCheck")]
pub enum Check {
    /// The EHLO name is a fully qualified name that resolves.
    EhloName,
    /// The public IP: how it was learned.
    PublicIp,
    /// Forward-confirmed reverse DNS of the public IP matches the EHLO name.
    ReverseDns,
    Spf,
    Dkim,
    Dmarc,
    /// The sender domain's MX (replies and bounces can arrive).
    Mx,
    MtaSts,
    TlsRpt,
    /// Outbound port 25 reachable.
    Port25,
    /// One DNS blocklist (its name in the summary).
    Blocklist,
}

/// One line of the check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(rename = "HealthLine")]
pub struct Line {
    pub check: Check,
    pub status: Status,
    /// What was found, in a sentence.
    pub summary: String,
    /// What to do about it (empty when nothing).
    pub hint: String,
    /// A DNS record to publish when that is the fix (`example.com. TXT "v=spf1 ip4:… -all"`).
    pub record: Option<String>,
}

/// The whole check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(rename = "HealthReport")]
pub struct Report {
    /// The sender domain checked.
    pub domain: String,
    /// The EHLO name checked.
    pub ehlo_name: String,
    /// The public IP checked, when it could be learned.
    pub public_ip: Option<String>,
    pub lines: Vec<Line>,
}

/// What to check and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// The sender domain; `None`: the profile's From domain (or its DKIM domain).
    pub domain: Option<String>,
    /// The public IP to check; `None`: learn it (a server's EHLO reply, else a "my address" DNS
    /// query to a public resolver).
    pub ip: Option<std::net::IpAddr>,
    /// Each network step's limit.
    pub timeout: std::time::Duration,
}

/// Why the check could not run at all (a single line that fails is a [`Line`], not this).
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("no sender domain to check: set the From address (sender.from_address) or give --domain")]
    NoDomain,
    #[error(transparent)]
    Dns(#[from] crate::dns::SetupError),
}

/// Runs every check for profile `profile` (`None`: the default profile).
pub async fn run(settings: &crate::settings::Settings, profile: Option<&str>, options: &Options) -> Result<Report, Error> {
    let _ = (settings, profile, options);
    Err(Error::NoDomain)
}
