//! The DNS blocklist lines: the public IP looked up in Spamhaus ZEN, SpamCop and Barracuda
//! (reversed octets, or nibbles for IPv6, under the list's zone). NXDOMAIN: not listed. An answer
//! in 127.255.255.0/24 is the list refusing the query (public resolvers, over-quota) and says
//! nothing about the IP: unknown, never "listed". Another 127.0.0.x answer: listed.

use super::{Check, Context, Line};
use crate::dns::Failure;
use hickory_resolver::proto::rr::RData;
use std::net::IpAddr;
use std::time::Duration;

/// A blocklist: its name, its DNS zone and where to ask for removal.
pub struct List {
    pub name: &'static str,
    pub zone: &'static str,
    pub removal: &'static str,
}

pub const LISTS: [List; 3] = [
    List { name: "Spamhaus ZEN", zone: "zen.spamhaus.org", removal: "https://check.spamhaus.org/" },
    List { name: "SpamCop", zone: "bl.spamcop.net", removal: "https://www.spamcop.net/bl.shtml" },
    List { name: "Barracuda", zone: "b.barracudacentral.org", removal: "https://www.barracudacentral.org/rbl/removal-request" },
];

pub async fn check(ctx: &Context, ip: Option<IpAddr>, limit: Duration) -> Vec<Line> {
    let [a, b, c] = &LISTS;
    let (a, b, c) = tokio::join!(one(ctx, ip, a, limit), one(ctx, ip, b, limit), one(ctx, ip, c, limit));
    vec![a, b, c]
}

/// The name to look up: `7.2.0.192.zen.spamhaus.org` (IPv6: 32 reversed nibbles).
pub fn query_name(ip: IpAddr, zone: &str) -> String {
    let reversed: Vec<String> = match ip {
        IpAddr::V4(v4) => v4.octets().iter().rev().map(u8::to_string).collect(),
        IpAddr::V6(v6) => v6.octets().iter().rev().flat_map(|b| [format!("{:x}", b & 0xf), format!("{:x}", b >> 4)]).collect(),
    };
    format!("{}.{zone}.", reversed.join("."))
}

async fn one(ctx: &Context, ip: Option<IpAddr>, list: &List, limit: Duration) -> Line {
    let title = format!("{} ({})", list.name, list.zone);
    let Some(ip) = ip else {
        return Line::unknown(
            Check::Blocklist,
            format!("{title}: not checked, the public IP is not known"),
            "Give the public IP (see the Public IP line).",
        );
    };
    let name = query_name(ip, list.zone);
    let dns_hint = "Check this machine's DNS, then run the check again.";
    let found = match tokio::time::timeout(limit, ctx.resolver.ipv4_lookup(name.as_str())).await {
        Err(_) => return Line::unknown(Check::Blocklist, format!("{title}: no answer within {} s", limit.as_secs_f32()), dns_hint),
        Ok(Err(e)) => {
            return match Failure::of(&e) {
                f if f.is_absent() => Line::ok(Check::Blocklist, format!("{title}: {ip} is not listed")),
                f => Line::unknown(Check::Blocklist, format!("{title}: the query failed ({f})"), dns_hint),
            }
        }
        Ok(Ok(found)) => found,
    };
    let answers: Vec<std::net::Ipv4Addr> = found
        .answers()
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect();
    if answers.is_empty() {
        return Line::ok(Check::Blocklist, format!("{title}: {ip} is not listed"));
    }
    let shown = answers.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", ");
    if answers.iter().any(|a| a.octets()[..3] == [127, 255, 255]) {
        return Line::unknown(
            Check::Blocklist,
            format!("{title}: the list refused the query (answer {shown}), so whether {ip} is listed is unknown"),
            format!(
                "{} refuses queries from public resolvers (8.8.8.8, 1.1.1.1, …) and over-quota users: check {ip} at {} or run \
                 the check with a resolver of your own (SMTP_DESK_DNS_SERVER).",
                list.name, list.removal
            ),
        );
    }
    if answers.iter().any(|a| a.octets()[0] == 127) {
        return Line::failed(
            Check::Blocklist,
            format!("{title}: {ip} is listed (answer {shown})"),
            format!("Receivers using {} refuse or junk this mail. Find out why and ask for removal at {}.", list.name, list.removal),
        );
    }
    Line::unknown(
        Check::Blocklist,
        format!("{title}: an unexpected answer ({shown}), not a blocklist code"),
        "Your DNS server rewrites unknown names (an ISP's 'search' page): use another resolver (SMTP_DESK_DNS_SERVER).",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_names_reverse_the_address() {
        assert_eq!(query_name("192.0.2.7".parse().unwrap(), "zen.spamhaus.org"), "7.2.0.192.zen.spamhaus.org.");
        let v6 = query_name("2001:db8::1".parse().unwrap(), "zen.spamhaus.org");
        assert!(v6.starts_with("1.0.0.0.0.0.0.0") && v6.ends_with("8.b.d.0.1.0.0.2.zen.spamhaus.org."), "{v6}");
    }
}
