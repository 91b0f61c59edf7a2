//! Autodetect ("Find settings"): from an email address, the outgoing (SMTP submission) server to
//! propose, with every source's outcome shown so a wrong guess can be understood.
//!
//! Owns: the sources and their priority, the overall deadline and cancel, the trust of each
//! candidate (a host outside the address's domain needs the user's confirmation before a password
//! goes there; anything fetched over plain HTTP is never used), and the options that say where to
//! look (DNS server, extra HTTPS roots, ISPDB address). It never sends credentials anywhere.
//!
//! Sources, highest priority first, all started at once ([`Source::ALL`]): [`builtin`] (a small
//! table of major providers, answers offline), [`autoconfig`] (`https://autoconfig.D/…` and
//! `https://D/.well-known/autoconfig/…`), [`srv`] (RFC 6186 `_submissions._tcp` /
//! `_submission._tcp`), [`ispdb`] (Mozilla's database), [`mx`] (MX → provider → ISPDB of the MX's
//! domain), [`probe`] (`smtp.D` / `mail.D` on 465 and 587: connect, greeting, EHLO). The run ends
//! as soon as the best source still possible has answered, or at the deadline: what is still
//! running then is cancelled and reported as timed out. `net` builds the resolver and the HTTPS
//! client from [`Options`].

pub mod autoconfig;
pub mod builtin;
pub mod ispdb;
pub mod mx;
pub(crate) mod net;
pub mod probe;
pub mod srv;

use crate::settings::Security;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use ts_rs::TS;

/// Mozilla's ISPDB (Thunderbird's), the default for [`Options::ispdb_url`].
pub const DEFAULT_ISPDB_URL: &str = "https://autoconfig.thunderbird.net/v1.1/";
/// The overall deadline unless told otherwise.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(4);

/// Environment variables that set [`Options`] (documented in the README and `detect --help`).
pub const ENV_DNS_SERVER: &str = crate::dns::ENV_DNS_SERVER;
pub const ENV_EXTRA_CA: &str = "SMTP_DESK_EXTRA_CA";
pub const ENV_ISPDB_URL: &str = "SMTP_DESK_ISPDB_URL";

/// Where detection looks and how long it may take.
#[derive(Debug, Clone)]
pub struct Options {
    pub deadline: Duration,
    /// The ISPDB base address; the domain is appended (`{ispdb_url}{domain}`).
    pub ispdb_url: String,
    /// A DNS server (`IP:PORT` or `IP`) to ask instead of the system's.
    pub dns_server: Option<std::net::SocketAddr>,
    /// A PEM file of CA certificates trusted in addition to the built-in roots, for HTTPS and the
    /// probes' certificate check (a company proxy, a private autoconfig server).
    pub extra_ca: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Self { deadline: DEFAULT_DEADLINE, ispdb_url: DEFAULT_ISPDB_URL.into(), dns_server: None, extra_ca: None }
    }
}

impl Options {
    /// The defaults, with [`ENV_DNS_SERVER`], [`ENV_EXTRA_CA`] and [`ENV_ISPDB_URL`] applied.
    pub fn from_env() -> Result<Self, Error> {
        Self::default().with_env()
    }

    /// The ISPDB address of the settings (`detect.ispdb_url`, Global's: machine-wide).
    pub fn with_settings(mut self, settings: &crate::settings::Settings) -> Self {
        self.ispdb_url = settings.profile.detect.ispdb_url.clone();
        self
    }

    /// These options with the environment's [`ENV_DNS_SERVER`], [`ENV_EXTRA_CA`] and
    /// [`ENV_ISPDB_URL`] over them.
    pub fn with_env(self) -> Result<Self, Error> {
        let mut o = self;
        if let Some(v) = std::env::var_os(ENV_DNS_SERVER).filter(|v| !v.is_empty()) {
            o.dns_server = Some(parse_dns_server(&v.to_string_lossy())?);
        }
        if let Some(v) = std::env::var_os(ENV_EXTRA_CA).filter(|v| !v.is_empty()) {
            o.extra_ca = Some(PathBuf::from(v));
        }
        if let Some(v) = std::env::var_os(ENV_ISPDB_URL).filter(|v| !v.is_empty()) {
            o.ispdb_url = v.to_string_lossy().into_owned();
        }
        Ok(o)
    }
}

/// `IP:PORT`, `[IPv6]:PORT` or a bare `IP` (port 53).
pub fn parse_dns_server(text: &str) -> Result<std::net::SocketAddr, Error> {
    crate::dns::parse_server(text).ok_or_else(|| Error::BadDnsServer(text.trim().to_string()))
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("'{0}' is not an email address: enter one address such as someone@example.com.")]
    NotAnAddress(String),
    #[error("{ENV_DNS_SERVER}='{0}' is not a DNS server address: use IP or IP:PORT, e.g. 127.0.0.1:5353.")]
    BadDnsServer(String),
    #[error("The extra CA file {path} ({ENV_EXTRA_CA}) can't be used: {why}. Give a PEM file of CA certificates.")]
    ExtraCa { path: String, why: String },
    #[error("The ISPDB address '{0}' ({ENV_ISPDB_URL}) is not an https:// URL.")]
    BadIspdbUrl(String),
    #[error("DNS can't be set up: {0}.")]
    Dns(String),
}

impl Error {
    /// The command-line/JSON form (`kind` says which input to fix).
    pub fn report(&self) -> crate::error::ErrorReport {
        use crate::error::{ErrorKind, ErrorReport};
        let (kind, field) = match self {
            Error::NotAnAddress(_) => (ErrorKind::InvalidRecipient, "address"),
            Error::BadDnsServer(_) | Error::Dns(_) => (ErrorKind::BadValue, ENV_DNS_SERVER),
            Error::ExtraCa { .. } => (ErrorKind::BadValue, ENV_EXTRA_CA),
            Error::BadIspdbUrl(_) => (ErrorKind::BadValue, ENV_ISPDB_URL),
        };
        let mut r = ErrorReport::new(kind, self.to_string());
        r.field = Some(field.into());
        r
    }
}

/// Where a candidate came from, in priority order (the first listed wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(rename = "DetectSource")]
pub enum Source {
    /// The built-in table of major providers (offline).
    Builtin,
    /// `https://autoconfig.D/mail/config-v1.1.xml?emailaddress=…`
    Autoconfig,
    /// `https://D/.well-known/autoconfig/mail/config-v1.1.xml`
    WellKnown,
    /// RFC 6186 SRV records.
    Srv,
    /// Mozilla's ISPDB for the domain.
    Ispdb,
    /// The domain's MX host → its provider (table, then ISPDB of the MX's domain).
    Mx,
    /// Connecting to smtp.D / mail.D on 465 and 587 (greeting and EHLO only).
    Probe,
}

impl Source {
    pub const ALL: [Source; 7] =
        [Source::Builtin, Source::Autoconfig, Source::WellKnown, Source::Srv, Source::Ispdb, Source::Mx, Source::Probe];

    pub fn name(self) -> &'static str {
        match self {
            Source::Builtin => "builtin",
            Source::Autoconfig => "autoconfig",
            Source::WellKnown => "well_known",
            Source::Srv => "srv",
            Source::Ispdb => "ispdb",
            Source::Mx => "mx",
            Source::Probe => "probe",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Source::Builtin => "Built-in provider table",
            Source::Autoconfig => "Domain autoconfig (autoconfig.D)",
            Source::WellKnown => "Domain autoconfig (.well-known)",
            Source::Srv => "DNS SRV records (RFC 6186)",
            Source::Ispdb => "Mozilla ISPDB",
            Source::Mx => "MX host's provider",
            Source::Probe => "Probe smtp.D / mail.D",
        }
    }
}

/// How far a candidate may be used without asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(rename = "DetectTrust")]
pub enum Trust {
    /// The host is in the address's domain, or the provider's own known domain.
    Trusted,
    /// The host is outside the address's domain: the user must confirm before a password goes there.
    Confirm,
    /// Found over plain HTTP (or otherwise unsafe): shown, never used.
    Refused,
}

/// The user name the server expects, as ISPDB writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(rename = "DetectUsername")]
pub enum UsernameForm {
    /// `%EMAILADDRESS%`: the whole address.
    EmailAddress,
    /// `%EMAILLOCALPART%`: the part before the @.
    LocalPart,
}

impl UsernameForm {
    pub fn placeholder(&self) -> &'static str {
        match self {
            UsernameForm::EmailAddress => "%EMAILADDRESS%",
            UsernameForm::LocalPart => "%EMAILLOCALPART%",
        }
    }

    pub fn for_address(&self, address: &Address) -> String {
        match self {
            UsernameForm::EmailAddress => address.full.clone(),
            UsernameForm::LocalPart => address.local.clone(),
        }
    }
}

/// One proposed submission server.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(rename = "DetectCandidate")]
pub struct Candidate {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username_form: UsernameForm,
    /// The user name for this address (from `username_form`).
    pub username: String,
    pub source: Source,
    pub trust: Trust,
    /// Why the trust is what it is (and, for a probe, what the server said).
    pub note: String,
}

/// What one source did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(rename = "DetectStatus")]
pub enum Status {
    /// Found at least one candidate.
    Found,
    /// Answered, with nothing usable (NXDOMAIN, HTTP 404, no SMTP server in the XML, no match).
    Nothing,
    /// Failed (network error, bad XML, TLS).
    Failed,
    /// Still running at the deadline.
    TimedOut,
    /// Stopped because a better source had already answered, or the run was cancelled.
    Cancelled,
}

/// One source's outcome, as shown to the user.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(rename = "DetectSourceReport")]
pub struct SourceReport {
    pub source: Source,
    pub title: String,
    pub status: Status,
    /// What it found, or why not ("HTTP 404", "NXDOMAIN", "bad XML: …", "timed out").
    pub summary: String,
    /// What was asked: URLs fetched, DNS names queried, hosts probed, each with its result.
    pub tried: Vec<(String, String)>,
    pub elapsed_ms: u64,
    #[serde(skip)]
    pub candidates: Vec<Candidate>,
}

impl SourceReport {
    fn new(source: Source) -> Self {
        Self {
            source,
            title: source.title().into(),
            status: Status::Nothing,
            summary: String::new(),
            tried: Vec::new(),
            elapsed_ms: 0,
            candidates: Vec::new(),
        }
    }

    pub(crate) fn tried(&mut self, what: impl Into<String>, result: impl Into<String>) {
        self.tried.push((what.into(), result.into()));
    }

    /// Sets the status from the candidates found (Found), else `status` with `why`.
    pub(crate) fn finish(mut self, otherwise: Status, why: impl Into<String>) -> Self {
        if self.candidates.is_empty() {
            self.status = otherwise;
            self.summary = why.into();
        } else {
            self.status = Status::Found;
            let c = &self.candidates[0];
            let mut s = format!("{}:{} ({})", c.host, c.port, security_name(c.security));
            if self.candidates.len() > 1 {
                s.push_str(&format!(" and {} more", self.candidates.len() - 1));
            }
            if c.trust != Trust::Trusted {
                s.push_str(&format!(" — {}", c.note));
            }
            self.summary = s;
        }
        self
    }
}

pub fn security_name(s: Security) -> &'static str {
    match s {
        Security::StartTls => "STARTTLS",
        Security::ImplicitTls => "implicit TLS",
        Security::None => "no encryption",
    }
}

/// The whole answer.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(rename = "Detection")]
pub struct Detection {
    pub address: String,
    pub domain: String,
    /// The candidate to propose: the first trusted one in priority order, else the first that
    /// needs confirmation; never a refused one.
    #[ts(optional = nullable)]
    pub best: Option<Candidate>,
    /// Every candidate found, best first (refused ones last, for the record).
    pub candidates: Vec<Candidate>,
    /// Every source, in priority order, with its outcome.
    pub sources: Vec<SourceReport>,
    pub elapsed_ms: u64,
    pub deadline_ms: u64,
    /// Whether the run was cancelled by the caller.
    pub cancelled: bool,
}

/// An email address split for detection.
#[derive(Debug, Clone)]
pub struct Address {
    pub full: String,
    pub local: String,
    /// The domain in ASCII (IDNA), lower case.
    pub domain: String,
}

impl Address {
    pub fn parse(text: &str) -> Result<Self, Error> {
        let t = text.trim();
        let bad = || Error::NotAnAddress(t.to_string());
        let (local, domain) = t.rsplit_once('@').ok_or_else(bad)?;
        if local.is_empty() || domain.is_empty() || t.parse::<lettre::Address>().is_err() {
            return Err(bad());
        }
        let ascii = idna::domain_to_ascii(domain).map_err(|_| bad())?.trim_end_matches('.').to_string();
        if !ascii.contains('.') {
            return Err(bad());
        }
        Ok(Self { full: t.to_string(), local: local.to_string(), domain: ascii })
    }
}

/// Whether `host` is `domain` or inside it.
pub fn within(host: &str, domain: &str) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    h == d || h.ends_with(&format!(".{d}"))
}

/// Trust for a host the address's own domain published (autoconfig, SRV): outside it, confirm.
pub(crate) fn domain_trust(host: &str, domain: &str) -> (Trust, String) {
    if within(host, domain) {
        (Trust::Trusted, format!("in your domain {domain}"))
    } else {
        (Trust::Confirm, format!("{host} is outside {domain}: the user must confirm before a password goes there"))
    }
}

/// Shared by the sources of one run.
pub(crate) struct Context {
    pub address: Address,
    pub options: Options,
    pub resolver: hickory_resolver::TokioResolver,
    pub http: reqwest::Client,
    pub deadline: Instant,
    pub cancel: CancellationToken,
}

/// Finds the submission server for `address`; `cancel` stops it within moments (what finished
/// is kept, the rest reported as cancelled). Bad input (not an address, unusable options) is an
/// error before any network traffic.
pub async fn detect(address: &str, options: &Options, cancel: &CancellationToken) -> Result<Detection, Error> {
    let started = Instant::now();
    let address = Address::parse(address)?;
    if !options.ispdb_url.starts_with("https://") {
        return Err(Error::BadIspdbUrl(options.ispdb_url.clone()));
    }
    let resolver = net::resolver(options)?;
    let http = net::client(options, &resolver)?;
    let run = cancel.child_token();
    let ctx = Arc::new(Context {
        address: address.clone(),
        options: options.clone(),
        resolver,
        http,
        deadline: started + options.deadline,
        cancel: run.clone(),
    });
    let mut tasks = JoinSet::new();
    for source in Source::ALL {
        let ctx = ctx.clone();
        tasks.spawn(async move {
            let began = Instant::now();
            let mut report = match source {
                Source::Builtin => builtin::run(&ctx),
                Source::Autoconfig => autoconfig::run(&ctx, autoconfig::Where::Subdomain).await,
                Source::WellKnown => autoconfig::run(&ctx, autoconfig::Where::WellKnown).await,
                Source::Srv => srv::run(&ctx).await,
                Source::Ispdb => ispdb::run(&ctx).await,
                Source::Mx => mx::run(&ctx).await,
                Source::Probe => probe::run(&ctx).await,
            };
            report.elapsed_ms = began.elapsed().as_millis() as u64;
            report
        });
    }
    let mut done: Vec<SourceReport> = Vec::new();
    let deadline = tokio::time::sleep_until(ctx.deadline);
    tokio::pin!(deadline);
    let mut was_cancelled = false;
    let mut timed_out = false;
    while !decided(&done) {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => { was_cancelled = true; break; }
            _ = &mut deadline => { timed_out = true; break; }
            next = tasks.join_next() => match next {
                Some(Ok(report)) => done.push(report),
                Some(Err(_)) => {} // a panicked source: reported below as failed
                None => break,
            },
        }
    }
    run.cancel();
    tasks.abort_all();
    let elapsed = started.elapsed().as_millis() as u64;
    for source in Source::ALL {
        if !done.iter().any(|r| r.source == source) {
            let mut r = SourceReport::new(source);
            r.elapsed_ms = elapsed;
            let waiting = if was_cancelled { "cancelled while waiting" } else { "no answer yet" };
            for asked in asks(source, &ctx) {
                r.tried(asked, waiting);
            }
            (r.status, r.summary) = if was_cancelled {
                (Status::Cancelled, "cancelled".into())
            } else if timed_out {
                (Status::TimedOut, format!("no answer within the overall deadline ({} ms)", options.deadline.as_millis()))
            } else {
                (Status::Cancelled, "not needed: a source of higher priority answered".into())
            };
            done.push(r);
        }
    }
    done.sort_by_key(|r| r.source);
    let mut candidates: Vec<Candidate> = done.iter().flat_map(|r| r.candidates.clone()).collect();
    candidates.sort_by_key(|c| (c.trust, c.source));
    let best = candidates.iter().find(|c| c.trust != Trust::Refused).cloned();
    Ok(Detection {
        address: address.full,
        domain: address.domain,
        best,
        candidates,
        sources: done,
        elapsed_ms: elapsed,
        deadline_ms: options.deadline.as_millis() as u64,
        cancelled: was_cancelled,
    })
}

/// What a source asks, for the report of one that did not finish (so a timeout says what hung).
fn asks(source: Source, ctx: &Context) -> Vec<String> {
    let a = &ctx.address;
    match source {
        Source::Builtin => vec![],
        Source::Autoconfig => vec![autoconfig::url(autoconfig::Where::Subdomain, a)],
        Source::WellKnown => vec![autoconfig::url(autoconfig::Where::WellKnown, a)],
        Source::Srv => vec![format!("_submissions._tcp.{}", a.domain), format!("_submission._tcp.{}", a.domain)],
        Source::Ispdb => vec![format!("{}{}", ctx.options.ispdb_url, a.domain)],
        Source::Mx => vec![format!("MX {}", a.domain)],
        Source::Probe => ["smtp", "mail"].iter().flat_map(|h| [465, 587].map(|p| format!("{h}.{}:{p}", a.domain))).collect(),
    }
}

/// Whether the answer is known: some source found a trusted candidate and every source of
/// higher priority has finished (a lower one can't change the choice), or every source finished.
fn decided(done: &[SourceReport]) -> bool {
    for source in Source::ALL {
        match done.iter().find(|r| r.source == source) {
            None => return false,
            Some(r) if r.candidates.iter().any(|c| c.trust == Trust::Trusted) => return true,
            Some(_) => {}
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_split_and_idna() {
        let a = Address::parse(" Jo@Bücher.Example ").unwrap();
        assert_eq!(a.local, "Jo");
        assert_eq!(a.domain, "xn--bcher-kva.example");
        assert!(Address::parse("nobody").is_err());
        assert!(Address::parse("a@localhost").is_err());
    }

    #[test]
    fn a_host_outside_the_domain_needs_confirmation() {
        assert_eq!(domain_trust("smtp.example.com", "example.com").0, Trust::Trusted);
        assert_eq!(domain_trust("example.com", "example.com").0, Trust::Trusted);
        assert_eq!(domain_trust("smtp.evil-example.com", "example.com").0, Trust::Confirm);
        assert_eq!(domain_trust("example.com.evil.net", "example.com").0, Trust::Confirm);
    }

    #[test]
    fn dns_server_forms() {
        assert_eq!(parse_dns_server("127.0.0.1:5353").unwrap().port(), 5353);
        assert_eq!(parse_dns_server("::1").unwrap().port(), 53);
        assert!(parse_dns_server("dns.example").is_err());
    }
}
