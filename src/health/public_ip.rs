//! The public IP the checks are about: given (`--ip`), else OpenDNS's "my address" name
//! `myip.opendns.com`, which resolver1.opendns.com answers with the address the query came from.
//!
//! With `SMTP_DESK_DNS_SERVER` set, that server is asked instead of OpenDNS (a company resolver
//! that forwards the name, or the tests' dnsmasq, which answers it from its records).

use super::{Check, Line};
use crate::dns::{self, Failure};
use hickory_resolver::config::LookupIpStrategy;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// resolver1.opendns.com: it answers `myip.opendns.com` with the asker's address.
pub const OPENDNS: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(208, 67, 222, 222)), 53);

/// The name whose answer is the asker's address.
const MY_ADDRESS: &str = "myip.opendns.com";

/// The IP, when it can be known, and the line saying how it was learned.
pub async fn learn(given: Option<IpAddr>, server: Option<SocketAddr>, timeout: Duration) -> (Option<IpAddr>, Line) {
    if let Some(ip) = given {
        return (Some(ip), Line::ok(Check::PublicIp, format!("{ip} (given)")));
    }
    let asked = server.unwrap_or(OPENDNS);
    let hint = "Give the address mail leaves from (health --ip, or Public IP in the window; your provider's panel shows it), or allow DNS queries to \
                resolver1.opendns.com (208.67.222.222).";
    let resolver = match dns::resolver(Some(asked), timeout, LookupIpStrategy::Ipv4thenIpv6) {
        Ok(r) => r,
        Err(e) => return (None, Line::unknown(Check::PublicIp, format!("unknown: {e}"), hint)),
    };
    let found = tokio::time::timeout(timeout, resolver.lookup_ip(format!("{MY_ADDRESS}."))).await;
    let why = match found {
        Ok(Ok(ips)) => {
            let ips: Vec<IpAddr> = ips.iter().collect();
            // IPv4 first: the blocklists and most SPF records are about it.
            if let Some(ip) = ips.iter().find(|ip| ip.is_ipv4()).or(ips.first()) {
                return (Some(*ip), Line::ok(Check::PublicIp, format!("{ip} (learned from {MY_ADDRESS} asked of {asked})")));
            }
            "no address in the answer".to_string()
        }
        Ok(Err(e)) => Failure::of(&e).to_string(),
        Err(_) => Failure::Timeout.to_string(),
    };
    (None, Line::unknown(Check::PublicIp, format!("unknown: asking {asked} for {MY_ADDRESS} failed ({why})"), hint))
}
