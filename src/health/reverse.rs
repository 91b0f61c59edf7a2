//! The reverse DNS line: forward-confirmed reverse DNS (the IP's PTR names a host that resolves
//! back to the IP, checked by mail-auth's iprev) and that host is the EHLO name.

use super::{Check, Context, Line};
use mail_auth::IprevResult;
use std::net::IpAddr;

pub async fn check(ctx: &Context, ip: Option<IpAddr>) -> Line {
    let Some(ip) = ip else { return Line::without_ip(Check::ReverseDns) };
    let out = ctx.authenticator.verify_iprev(ip).await;
    let names: Vec<String> = out.ptr.iter().flat_map(|p| p.iter()).map(|n| n.trim_end_matches('.').to_ascii_lowercase()).collect();
    let ehlo = &ctx.ehlo_name;
    let ask_provider = format!(
        "Ask whoever owns {ip} (your hosting or internet provider; often a 'reverse DNS' field in its panel) to set its PTR to \
         {ehlo}, and make {ehlo} resolve to {ip}."
    );
    match out.result() {
        IprevResult::Pass if names.iter().any(|n| n == ehlo) => {
            Line::ok(Check::ReverseDns, format!("{ip} → {ehlo} → {ip} (forward-confirmed, matches the EHLO name)"))
        }
        IprevResult::Pass => {
            let first = names.first().cloned().unwrap_or_default();
            Line::warning(
                Check::ReverseDns,
                format!("{ip} → {first} → {ip} is forward-confirmed, but the EHLO name is {ehlo}"),
                format!("Set the EHLO name to it: smtp-desk config set ehlo_name {first} (or change the PTR to {ehlo})."),
            )
        }
        IprevResult::Fail(_) => {
            Line::failed(Check::ReverseDns, format!("{ip} → {} does not resolve back to {ip}", names.join(", ")), ask_provider)
        }
        IprevResult::TempError(e) => Line::unknown(
            Check::ReverseDns,
            format!("looking up the PTR of {ip} failed: {e}"),
            "Check this machine's DNS, then run the check again.",
        ),
        IprevResult::PermError(_) | IprevResult::None => {
            Line::failed(Check::ReverseDns, format!("{ip} has no PTR record (no reverse DNS)"), ask_provider)
        }
    }
}
