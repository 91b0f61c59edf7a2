//! Mozilla's ISPDB (Thunderbird's database of providers): `{ispdb_url}{domain}`, over HTTPS only.
//! A host in the provider's own listed domains is trusted, as the database is curated; the MX
//! source asks it for the MX host's domain too.

use super::autoconfig::{candidates, parse, provider_trust};
use super::net::{get, Fetched};
use super::{Context, Source, SourceReport, Status};

pub(crate) async fn run(ctx: &Context) -> SourceReport {
    let mut report = SourceReport::new(Source::Ispdb);
    match lookup(ctx, &ctx.address.domain, Source::Ispdb, &mut report).await {
        Ok(()) => report.finish(Status::Nothing, "the entry lists no SMTP server"),
        Err((status, why)) => report.finish(status, why),
    }
}

/// Asks the ISPDB about `domain`, adding what it found to `report`; `Err` is the status and why not.
pub(crate) async fn lookup(ctx: &Context, domain: &str, source: Source, report: &mut SourceReport) -> Result<(), (Status, String)> {
    let url = format!("{}{}", ctx.options.ispdb_url, domain);
    match get(&ctx.http, &url).await {
        Fetched::Body(xml) => {
            report.tried(&url, "HTTP 200");
            let config = parse(&xml, &ctx.address).map_err(|e| (Status::Failed, e))?;
            let a = &ctx.address;
            report.candidates.extend(candidates(&config, a, source, |h| provider_trust(h, a, &config.provider_domains)));
            Ok(())
        }
        Fetched::Not(why) => {
            report.tried(&url, why.clone());
            let status = if why == "HTTP 404" { Status::Nothing } else { Status::Failed };
            Err((status, if why == "HTTP 404" { format!("no entry for {domain} (HTTP 404)") } else { why }))
        }
    }
}
