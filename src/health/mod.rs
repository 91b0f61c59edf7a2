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
