//! The sender domain's own published mail policy: MX (so replies and bounces arrive), MTA-STS
//! (`_mta-sts.DOMAIN`, RFC 8461) and TLS-RPT (`_smtp._tls.DOMAIN`, RFC 8460). The last two are
//! optional: absent is fine; present but malformed is a warning.

use super::{Check, Context, Line};
use crate::direct::mx::{self, RouteError};
use crate::dns;

pub async fn mx(ctx: &Context) -> Line {
    let domain = &ctx.domain;
    match mx::route(&ctx.resolver, domain).await {
        Ok(hosts) if hosts.first().is_some_and(|h| h.implicit) => Line::warning(
            Check::Mx,
            format!("{domain} has no MX record: mail to it goes to its own address (implicit MX)"),
            format!("Publish an MX record naming the server that receives mail for {domain}, so replies and bounces arrive."),
        ),
        Ok(hosts) => {
            let shown: Vec<String> = hosts.iter().map(|h| format!("{} ({})", h.name, h.preference)).collect();
            Line::ok(Check::Mx, format!("{domain} receives mail at {}", shown.join(", ")))
        }
        Err(RouteError::Permanent(why)) => Line::failed(
            Check::Mx,
            // The reason is worded for a recipient's address; here the domain is ours.
            why.trim_end_matches("; check the address").to_string(),
            format!("Replies and bounces to {domain} can't arrive: publish an MX record naming the server that receives its mail."),
        ),
        Err(RouteError::Temporary(why)) => Line::unknown(Check::Mx, why, "Check this machine's DNS, then run the check again."),
    }
}

pub async fn mta_sts(ctx: &Context) -> Line {
    optional(
        ctx,
        Check::MtaSts,
        &format!("_mta-sts.{}", ctx.domain),
        "v=STSv1",
        "MTA-STS",
        "Optional: it makes senders to your domain insist on TLS (a TXT record plus a policy file at \
         https://mta-sts.DOMAIN/.well-known/mta-sts.txt).",
    )
    .await
}

pub async fn tls_rpt(ctx: &Context) -> Line {
    optional(
        ctx,
        Check::TlsRpt,
        &format!("_smtp._tls.{}", ctx.domain),
        "v=TLSRPTv1",
        "TLS-RPT",
        "Optional: it asks senders to report TLS failures to you, e.g. \"v=TLSRPTv1; rua=mailto:tls-reports@DOMAIN\".",
    )
    .await
}

/// A TXT record that may be absent; when present it must start with `version`.
async fn optional(ctx: &Context, check: Check, name: &str, version: &str, what: &str, about: &str) -> Line {
    let about = about.replace("DOMAIN", &ctx.domain);
    match dns::txt(&ctx.resolver, name).await {
        Ok(records) => {
            let ours: Vec<&String> =
                records.iter().filter(|r| r.trim_start().to_ascii_lowercase().starts_with(&version.to_ascii_lowercase())).collect();
            match ours.as_slice() {
                [one] => Line::ok(check, format!("{what} published at {name}: \"{one}\"")),
                [] => Line::warning(
                    check,
                    format!("{name} has TXT records but none starts with {version}"),
                    format!("Fix the record. {about}"),
                ),
                _ => {
                    Line::warning(check, format!("{name} has {} {version} records; only one is allowed", ours.len()), "Delete all but one.")
                }
            }
        }
        Err(f) if f.is_absent() => Line::ok(check, format!("{what} not published (optional)")).with_hint(about),
        Err(f) => Line::unknown(check, format!("looking up {name} failed: {f}"), "Check this machine's DNS, then run the check again."),
    }
}
