//! The EHLO name line: a fully qualified name that resolves (receivers look it up, and many
//! score a bare or unresolvable name as spam), ideally to the public IP.

use super::{Check, Context, Line};
use crate::dns::Failure;
use std::net::IpAddr;

const SET_IT: &str = "Set the EHLO name to this machine's public fully qualified name: smtp-desk config set ehlo_name mail.example.com";

pub async fn check(ctx: &Context, ip: Option<IpAddr>) -> Line {
    let name = &ctx.ehlo_name;
    if name.starts_with('[') {
        return Line::failed(Check::EhloName, format!("{name} is an address, not a name"), SET_IT);
    }
    if !name.contains('.') {
        return Line::failed(Check::EhloName, format!("{name} is not a fully qualified name (it has no domain)"), SET_IT);
    }
    let a_record = |ip: IpAddr| format!("{name}. {} {ip}", if ip.is_ipv4() { "A" } else { "AAAA" });
    match ctx.resolver.lookup_ip(format!("{name}.")).await {
        Ok(found) => {
            let addresses: Vec<IpAddr> = found.iter().collect();
            let shown = addresses.iter().map(IpAddr::to_string).collect::<Vec<_>>().join(", ");
            match ip {
                Some(ip) if !addresses.contains(&ip) => Line::warning(
                    Check::EhloName,
                    format!("{name} resolves to {shown}, not to the public IP {ip}"),
                    format!("Point {name} at {ip} (or set the EHLO name to the name that does)."),
                )
                .publish(a_record(ip)),
                _ => Line::ok(Check::EhloName, format!("{name} resolves to {shown}")),
            }
        }
        Err(e) => match Failure::of(&e) {
            f if f.is_absent() => {
                let line = Line::failed(
                    Check::EhloName,
                    format!("{name} does not resolve ({f})"),
                    format!("Publish an address record for {name}, or set the EHLO name to a name that has one."),
                );
                match ip {
                    Some(ip) => line.publish(a_record(ip)),
                    None => line,
                }
            }
            f => Line::unknown(
                Check::EhloName,
                format!("looking up {name} failed: {f}"),
                "Check this machine's DNS, then run the check again.",
            ),
        },
    }
}
