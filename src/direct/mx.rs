//! Where a recipient domain's mail goes (RFC 5321 §5.1): its MX hosts by preference, the domain
//! itself when it has no MX (implicit MX), none at all for a null MX (RFC 7505). CNAMEs are
//! followed by the resolver; a DNS failure that may pass (timeout, SERVFAIL) stays temporary.

use crate::dns::{self, Failure};
use crate::settings::{AuthMethod, Profile, Security};
use hickory_resolver::TokioResolver;
use std::net::IpAddr;

/// The port MX hosts take mail from other servers on (RFC 5321 §4.5.4.2).
pub const SMTP_PORT: u16 = 25;

/// The settings a session with MX host `host` opens with: port 25, STARTTLS, no login, the
/// profile's sender, EHLO name and timeouts; the certificate is checked (for the MX name) only
/// when `verify` (an MTA-STS `enforce` policy), else TLS is opportunistic. Validation and
/// delivery both.
pub fn session_profile(profile: &Profile, host: &str, verify: bool) -> Profile {
    let mut p = profile.clone();
    p.relay.host = host.to_string();
    p.relay.port = SMTP_PORT;
    p.relay.security = Security::StartTls;
    p.relay.verify_certificates = verify;
    p.auth.method = AuthMethod::None;
    p
}

/// One host to try, best first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MxHost {
    /// ASCII, lower case, without the root dot.
    pub name: String,
    pub preference: u16,
    /// True when the domain has no MX and its own A/AAAA are used (RFC 5321 §5.1).
    pub implicit: bool,
}

/// Why a domain's mail can't be routed now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// Permanent: the mail fails with this reason.
    #[error("{0}")]
    Permanent(String),
    /// Temporary: the mail waits and is tried again.
    #[error("{0}")]
    Temporary(String),
}

impl RouteError {
    pub fn is_permanent(&self) -> bool {
        matches!(self, RouteError::Permanent(_))
    }
}

/// The domain in the form DNS uses (IDNA ASCII, lower case, no trailing dot); an error for a name
/// that can't be one.
pub fn ascii_domain(domain: &str) -> Result<String, RouteError> {
    let d = domain.trim().trim_end_matches('.');
    let ascii = idna::domain_to_ascii(d).map_err(|_| RouteError::Permanent(format!("'{d}' is not a valid domain name")))?;
    if ascii.is_empty() || !ascii.contains('.') && ascii != "localhost" {
        return Err(RouteError::Permanent(format!("'{d}' is not a domain that can receive mail (it has no dot)")));
    }
    Ok(ascii)
}

/// The hosts to try for `domain`, best first. Hosts of equal preference keep DNS's order (RFC
/// 5321 asks for a random one; the resolver already rotates them).
pub async fn route(resolver: &TokioResolver, domain: &str) -> Result<Vec<MxHost>, RouteError> {
    let domain = ascii_domain(domain)?;
    match dns::mx(resolver, &domain).await {
        Ok(records) => {
            let real: Vec<&(u16, String)> = records.iter().filter(|(_, h)| !h.is_empty()).collect();
            if real.is_empty() {
                // Only "0 ." (or an empty answer): the domain says it takes no mail.
                return Err(RouteError::Permanent(format!(
                    "{domain} accepts no mail: it publishes a null MX (RFC 7505); check the address"
                )));
            }
            let mut hosts: Vec<MxHost> =
                real.into_iter().map(|(p, h)| MxHost { name: h.clone(), preference: *p, implicit: false }).collect();
            hosts.sort_by_key(|h| h.preference);
            hosts.dedup_by(|a, b| a.name == b.name);
            Ok(hosts)
        }
        Err(Failure::NoRecords) => Ok(vec![MxHost { name: domain, preference: 0, implicit: true }]),
        Err(Failure::NoSuchName) => Err(RouteError::Permanent(format!("the domain {domain} does not exist (NXDOMAIN); check the address"))),
        Err(e) => Err(RouteError::Temporary(format!("looking up the mail servers of {domain} failed: {e}; will try again"))),
    }
}

/// Every address of `host`, IPv6 and IPv4 (the resolver's order). An implicit-MX host with no
/// address is a permanent failure (the domain takes no mail); an MX host with none is temporary
/// for that host (the caller tries the next).
pub async fn addresses(resolver: &TokioResolver, host: &MxHost) -> Result<Vec<IpAddr>, RouteError> {
    match resolver.lookup_ip(format!("{}.", host.name)).await {
        Ok(found) => {
            let ips: Vec<IpAddr> = found.iter().collect();
            if ips.is_empty() {
                Err(no_address(host))
            } else {
                Ok(ips)
            }
        }
        Err(e) => match Failure::of(&e) {
            f if f.is_absent() => Err(no_address(host)),
            f => Err(RouteError::Temporary(format!("looking up {} failed: {f}", host.name))),
        },
    }
}

fn no_address(host: &MxHost) -> RouteError {
    if host.implicit {
        RouteError::Permanent(format!("{} has no mail server: no MX record and no address (A/AAAA); check the address", host.name))
    } else {
        RouteError::Temporary(format!("the mail server {} has no address (A/AAAA)", host.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_checked_and_made_ascii() {
        assert_eq!(ascii_domain("Example.COM.").unwrap(), "example.com");
        assert_eq!(ascii_domain("bücher.example").unwrap(), "xn--bcher-kva.example");
        assert!(ascii_domain("nodot").unwrap_err().is_permanent());
        assert!(ascii_domain("").unwrap_err().is_permanent());
    }
}
