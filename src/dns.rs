//! Name lookups for the whole app: the one way a resolver is built (the system's, or the DNS
//! server named by `SMTP_DESK_DNS_SERVER`), typed MX/TXT/SRV answers from hickory's records,
//! and DNS failures in a user's words.
//!
//! `SMTP_DESK_DNS_SERVER` is a documented option (README, `detect --help`, docs/direct.md): a
//! company resolver, a split-horizon view, or the tests' dnsmasq. Every lookup honours it: the
//! relay's address, autodetect, MX for direct delivery, MTA-STS, and the deliverability check
//! (also through [`authenticator`], mail-auth's SPF/DKIM/DMARC checks).

use hickory_resolver::config::{LookupIpStrategy, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::NetError;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::TokioResolver;
use std::net::SocketAddr;
use std::time::Duration;

/// The environment variable naming a DNS server (`IP`, `IP:PORT`, `[IPv6]:PORT`) to ask instead
/// of the system's.
pub const ENV_DNS_SERVER: &str = "SMTP_DESK_DNS_SERVER";

/// `IP:PORT`, `[IPv6]:PORT` or a bare `IP` (port 53); `None` for anything else.
pub fn parse_server(text: &str) -> Option<SocketAddr> {
    let t = text.trim();
    t.parse::<SocketAddr>().ok().or_else(|| t.parse::<std::net::IpAddr>().ok().map(|ip| SocketAddr::new(ip, 53)))
}

/// The server [`ENV_DNS_SERVER`] names, `Ok(None)` when it is unset, `Err(value)` when it is not
/// an address.
pub fn server_from_env() -> Result<Option<SocketAddr>, String> {
    match std::env::var_os(ENV_DNS_SERVER).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => {
            let text = v.to_string_lossy().into_owned();
            parse_server(&text).map(Some).ok_or(text)
        }
    }
}

/// Why a resolver can't be built.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SetupError {
    #[error("{ENV_DNS_SERVER}='{0}' is not a DNS server address: use IP or IP:PORT, e.g. 127.0.0.1:5353.")]
    BadServer(String),
    #[error("this machine's DNS settings can't be read: {0}")]
    System(String),
}

/// How queries are asked: one attempt each (retries would only hide a dead server), bounded by
/// `timeout`.
fn options(timeout: Duration, ip_strategy: LookupIpStrategy) -> ResolverOpts {
    let mut opts = ResolverOpts::default();
    opts.ip_strategy = ip_strategy;
    opts.timeout = timeout;
    opts.attempts = 1;
    opts
}

/// The resolver configuration: `server` alone when given, else the system's (`/etc/resolv.conf`).
fn config(server: Option<SocketAddr>) -> Result<(ResolverConfig, ResolverOpts), SetupError> {
    match server {
        Some(server) => {
            let mut ns = NameServerConfig::udp_and_tcp(server.ip());
            for c in &mut ns.connections {
                c.port = server.port();
            }
            Ok((ResolverConfig::from_parts(None, vec![], vec![ns]), ResolverOpts::default()))
        }
        None => hickory_resolver::system_conf::read_system_conf().map_err(|e| SetupError::System(e.to_string())),
    }
}

/// A resolver asking `server` (or the system's servers), each query bounded by `timeout`.
pub fn resolver(server: Option<SocketAddr>, timeout: Duration, ip_strategy: LookupIpStrategy) -> Result<TokioResolver, SetupError> {
    let (config, _) = config(server)?;
    TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
        .with_options(options(timeout, ip_strategy))
        .build()
        .map_err(|e| SetupError::System(e.to_string()))
}

/// [`resolver`] for the server [`ENV_DNS_SERVER`] names, or the system's.
pub fn resolver_from_env(timeout: Duration, ip_strategy: LookupIpStrategy) -> Result<TokioResolver, SetupError> {
    resolver(server_from_env().map_err(SetupError::BadServer)?, timeout, ip_strategy)
}

/// mail-auth's checks (SPF, DKIM, DMARC, reverse DNS) asking the same server [`resolver`] would.
pub fn authenticator(server: Option<SocketAddr>, timeout: Duration) -> Result<mail_auth::MessageAuthenticator, SetupError> {
    let (config, _) = config(server)?;
    mail_auth::MessageAuthenticator::new(config, options(timeout, LookupIpStrategy::Ipv4AndIpv6))
        .map_err(|e| SetupError::System(e.to_string()))
}

/// What kind of DNS failure: the caller decides whether it is permanent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// NXDOMAIN: the name does not exist.
    NoSuchName,
    /// The name exists but has no record of the type asked (NODATA).
    NoRecords,
    /// No answer in time.
    Timeout,
    /// SERVFAIL, refused, network trouble: temporary.
    Other(String),
}

impl Failure {
    pub fn of(e: &NetError) -> Self {
        if e.is_nx_domain() {
            Failure::NoSuchName
        } else if e.is_no_records_found() {
            Failure::NoRecords
        } else if matches!(e, NetError::Timeout) {
            Failure::Timeout
        } else {
            Failure::Other(e.to_string())
        }
    }

    /// True for an answer that says "nothing there" (NXDOMAIN, NODATA), false for trouble.
    pub fn is_absent(&self) -> bool {
        matches!(self, Failure::NoSuchName | Failure::NoRecords)
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::NoSuchName => f.write_str("NXDOMAIN (no such name)"),
            Failure::NoRecords => f.write_str("no record of that type (NODATA)"),
            Failure::Timeout => f.write_str("DNS timed out"),
            Failure::Other(e) => write!(f, "DNS failed: {e}"),
        }
    }
}

/// A DNS failure in a user's words.
pub fn why(e: &NetError) -> String {
    Failure::of(e).to_string()
}

/// A name as shown and compared: ASCII, lower case, without the root dot.
fn plain(name: &hickory_resolver::proto::rr::Name) -> String {
    name.to_ascii().trim_end_matches('.').to_ascii_lowercase()
}

/// The MX records of `domain` as (preference, host), unsorted; a null MX (RFC 7505) is the host "".
pub async fn mx(resolver: &TokioResolver, domain: &str) -> Result<Vec<(u16, String)>, Failure> {
    let found = resolver.mx_lookup(format!("{}.", domain.trim_end_matches('.'))).await.map_err(|e| Failure::of(&e))?;
    Ok(found
        .answers()
        .iter()
        .filter_map(|r| match &r.data {
            RData::MX(mx) => Some((mx.preference, plain(&mx.exchange))),
            _ => None,
        })
        .collect())
}

/// The TXT records of `name`, each one string (its character-strings joined, RFC 7208 §3.3).
pub async fn txt(resolver: &TokioResolver, name: &str) -> Result<Vec<String>, Failure> {
    let found = resolver.txt_lookup(format!("{}.", name.trim_end_matches('.'))).await.map_err(|e| Failure::of(&e))?;
    Ok(found
        .answers()
        .iter()
        .filter_map(|r| match &r.data {
            RData::TXT(txt) => Some(txt.txt_data.iter().map(|part| String::from_utf8_lossy(part)).collect::<String>()),
            _ => None,
        })
        .collect())
}

/// The SRV records of `name` as (priority, weight, port, target).
pub async fn srv(resolver: &TokioResolver, name: &str) -> Result<Vec<(u16, u16, u16, String)>, Failure> {
    let found = resolver.srv_lookup(name).await.map_err(|e| Failure::of(&e))?;
    Ok(found
        .answers()
        .iter()
        .filter_map(|r| match &r.data {
            RData::SRV(s) => Some((s.priority, s.weight, s.port, plain(&s.target))),
            _ => None,
        })
        .collect())
}
