//! The deliverability check (`smtp-desk health`, the window's Deliverability panel): whether
//! mail from this machine and sender domain will be trusted by receivers: EHLO name, reverse
//! DNS, SPF, DKIM, DMARC, MX, MTA-STS, TLS-RPT, outbound port 25, DNS blocklists. Each line is
//! ok / warning / failed / unknown with a hint a person can act on.

mod blocklist;
mod dkim;
mod dmarc;
mod ehlo;
mod policy;
mod port25;
mod public_ip;
mod reverse;
mod spf;

use crate::settings::{Profile, Settings};
use hickory_resolver::config::LookupIpStrategy;
use hickory_resolver::TokioResolver;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use ts_rs::TS;

pub use public_ip::OPENDNS;

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
    /// The profile named does not exist (or the settings can't be read as one).
    #[error("{0}")]
    Profile(String),
    /// `--domain` is not a domain name.
    #[error("'{0}' is not a domain name: give the sender domain, e.g. --domain example.com")]
    BadDomain(String),
}

impl Line {
    fn new(check: Check, status: Status, summary: impl Into<String>, hint: impl Into<String>) -> Self {
        Line { check, status, summary: summary.into(), hint: hint.into(), record: None }
    }

    pub(crate) fn ok(check: Check, summary: impl Into<String>) -> Self {
        Line::new(check, Status::Ok, summary, "")
    }

    pub(crate) fn warning(check: Check, summary: impl Into<String>, hint: impl Into<String>) -> Self {
        Line::new(check, Status::Warning, summary, hint)
    }

    pub(crate) fn failed(check: Check, summary: impl Into<String>, hint: impl Into<String>) -> Self {
        Line::new(check, Status::Failed, summary, hint)
    }

    pub(crate) fn unknown(check: Check, summary: impl Into<String>, hint: impl Into<String>) -> Self {
        Line::new(check, Status::Unknown, summary, hint)
    }

    /// The line with `record` as the DNS record to publish.
    pub(crate) fn publish(mut self, record: impl Into<String>) -> Self {
        self.record = Some(record.into());
        self
    }

    pub(crate) fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = hint.into();
        self
    }

    /// The line of a check that needs the public IP when it could not be learned.
    pub(crate) fn without_ip(check: Check) -> Self {
        Line::unknown(check, "not checked: the public IP is not known", "Give the public IP (see the Public IP line).")
    }
}

impl Report {
    /// True when any line failed (the CLI's exit code).
    pub fn failed(&self) -> bool {
        self.lines.iter().any(|l| l.status == Status::Failed)
    }
}

/// What the checks share: names, the resolvers, the limit.
pub(crate) struct Context {
    pub domain: String,
    pub ehlo_name: String,
    /// The DKIM signing domain (`d=`): the profile's, else `domain`.
    pub dkim_domain: String,
    pub profile_name: String,
    pub profile: Profile,
    pub settings: Settings,
    pub resolver: TokioResolver,
    pub authenticator: mail_auth::MessageAuthenticator,
    pub timeout: Duration,
}

/// Runs every check for profile `profile` (`None`: the default profile).
///
/// Independent checks run at once; learning the IP is cut at `options.timeout`, each check at
/// twice that (a chain of lookups, e.g. SPF's includes, may take several), DMARC (which needs the
/// SPF and DKIM outcomes) at what is left of three timeouts: about three timeouts at worst.
pub async fn run(settings: &Settings, profile: Option<&str>, options: &Options) -> Result<Report, Error> {
    let profile_name = crate::settings::profiles::canonical(settings, profile).map_err(|e| Error::Profile(e.to_string()))?.to_string();
    let resolved = crate::settings::profiles::resolve(settings, Some(&profile_name)).map_err(|e| Error::Profile(e.to_string()))?;
    let domain = sender_domain(options.domain.as_deref(), &resolved)?;
    let dkim_domain = match resolved.dkim.domain.trim() {
        "" => domain.clone(),
        d => crate::direct::mx::ascii_domain(d).unwrap_or_else(|_| d.to_ascii_lowercase()),
    };
    let ehlo_name = crate::machine::ehlo_name_from_setting(&resolved.ehlo_name, None).name.to_ascii_lowercase();
    let server = crate::dns::server_from_env().map_err(crate::dns::SetupError::BadServer)?;
    let ctx = Context {
        resolver: crate::dns::resolver(server, options.timeout, LookupIpStrategy::Ipv4AndIpv6)?,
        authenticator: crate::dns::authenticator(server, options.timeout)?,
        domain,
        ehlo_name,
        dkim_domain,
        profile_name,
        profile: resolved,
        settings: settings.clone(),
        timeout: options.timeout,
    };
    // One lookup may take twice the timeout (hickory tries UDP, then TCP); the whole check gets
    // three: the IP (one), the checks that need it (two, alongside the others), DMARC (the rest).
    let limit = options.timeout * 2;
    let deadline = tokio::time::Instant::now() + options.timeout * 3;

    let with_ip = async {
        let (ip, ip_line) = public_ip::learn(options.ip, server, options.timeout).await;
        let (ehlo, rdns, spf, lists) = tokio::join!(
            bounded(limit, Check::EhloName, ehlo::check(&ctx, ip)),
            bounded(limit, Check::ReverseDns, reverse::check(&ctx, ip)),
            spf::check(&ctx, ip, limit),
            blocklist::check(&ctx, ip, limit),
        );
        (ip, ip_line, ehlo, rdns, spf, lists)
    };
    let ((ip, ip_line, ehlo, rdns, spf, lists), dkim, mx, sts, tlsrpt, port25) = tokio::join!(
        with_ip,
        dkim::check(&ctx, limit),
        bounded(limit, Check::Mx, policy::mx(&ctx)),
        bounded(limit, Check::MtaSts, policy::mta_sts(&ctx)),
        bounded(limit, Check::TlsRpt, policy::tls_rpt(&ctx)),
        bounded(limit, Check::Port25, port25::check(&ctx)),
    );
    let rest = deadline.saturating_duration_since(tokio::time::Instant::now()).max(Duration::from_millis(200));
    let dmarc = bounded(rest, Check::Dmarc, dmarc::check(&ctx, &spf.output, dkim.published)).await;

    let mut lines = vec![ehlo, ip_line, rdns, spf.line, dkim.line, dmarc, mx, sts, tlsrpt, port25];
    lines.extend(lists);
    Ok(Report { domain: ctx.domain, ehlo_name: ctx.ehlo_name, public_ip: ip.map(|ip| ip.to_string()), lines })
}

/// `check`'s line, or "unknown" when it took longer than `limit`.
pub(crate) async fn bounded(limit: Duration, check: Check, work: impl std::future::Future<Output = Line>) -> Line {
    tokio::time::timeout(limit, work).await.unwrap_or_else(|_| {
        Line::unknown(
            check,
            format!("no answer within {} s", limit.as_secs_f32()),
            "Check this machine's DNS and network, then run the check again.",
        )
    })
}

/// The domain to check: `--domain`, else the From address's, else the DKIM domain.
fn sender_domain(given: Option<&str>, profile: &Profile) -> Result<String, Error> {
    let from = profile.sender.from_address.rsplit_once('@').map(|(_, d)| d.trim()).filter(|d| !d.is_empty());
    let chosen = match given.map(str::trim).filter(|d| !d.is_empty()) {
        Some(d) => return crate::direct::mx::ascii_domain(d).map_err(|_| Error::BadDomain(d.to_string())),
        None => from.or(Some(profile.dkim.domain.trim()).filter(|d| !d.is_empty())),
    };
    let d = chosen.ok_or(Error::NoDomain)?;
    crate::direct::mx::ascii_domain(d).map_err(|_| Error::BadDomain(d.to_string()))
}
