//! The outbound port 25 line: a short TCP connect to a well-known receiver's first MX host.
//! Many home and cloud providers block port 25 outbound; a connect that times out is that block
//! (packets dropped), a refused one is a firewall that rejects (or the server down).

use super::{Check, Context, Line, Status};
use crate::direct::mx;
use crate::settings::Mode;
use std::net::SocketAddr;

/// Whose MX is tried: a receiver that is always up.
pub const WELL_KNOWN: &str = "gmail.com";

pub async fn check(ctx: &Context) -> Line {
    let dns_trouble = "Check this machine's DNS, then run the check again.";
    let host = match mx::route(&ctx.resolver, WELL_KNOWN).await {
        Ok(hosts) => hosts.into_iter().next(),
        Err(e) => {
            let why = e.to_string();
            return Line::unknown(
                Check::Port25,
                format!("can't find {WELL_KNOWN}'s mail server: {}", why.trim_end_matches("; will try again")),
                dns_trouble,
            );
        }
    };
    let Some(host) = host else { return Line::unknown(Check::Port25, format!("{WELL_KNOWN} has no mail server"), dns_trouble) };
    let ip = match mx::addresses(&ctx.resolver, &host).await {
        Ok(ips) => ips.iter().find(|ip| ip.is_ipv4()).or(ips.first()).copied(),
        Err(e) => return Line::unknown(Check::Port25, format!("{e}"), dns_trouble),
    };
    let Some(ip) = ip else { return Line::unknown(Check::Port25, format!("{} has no address", host.name), dns_trouble) };
    let to = SocketAddr::new(ip, 25);
    let secs = ctx.timeout.as_secs_f32();
    // Only Direct mode needs port 25: for a relay a block is worth knowing, not a failure.
    let blocked = if ctx.profile.mode == Mode::Direct { Status::Failed } else { Status::Warning };
    let relay = "Your provider (or a firewall) blocks outgoing port 25: use Relay mode (your mail provider's submission \
                 server on port 587 or 465), or ask the provider to unblock port 25.";
    match tokio::time::timeout(ctx.timeout, tokio::net::TcpStream::connect(to)).await {
        Ok(Ok(_)) => Line::ok(Check::Port25, format!("outgoing port 25 is open: connected to {} ({to})", host.name)),
        Err(_) => Line {
            status: blocked,
            ..Line::failed(
                Check::Port25,
                format!("connecting to {} ({to}) timed out after {secs} s: outgoing port 25 is blocked", host.name),
                relay,
            )
        },
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => Line {
            status: blocked,
            ..Line::failed(
                Check::Port25,
                format!("{} ({to}) refused the connection: a firewall rejects outgoing port 25, or the server is down", host.name),
                relay,
            )
        },
        Ok(Err(e)) => {
            Line { status: blocked, ..Line::failed(Check::Port25, format!("connecting to {} ({to}) failed: {e}", host.name), relay) }
        }
    }
}
