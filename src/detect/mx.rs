//! The domain's MX host → its provider: a custom domain whose mail Google or Microsoft receives
//! sends through them. The built-in table's MX suffixes first, then the ISPDB entry of the MX
//! host's domain (its last two labels: a guess, which is why the ISPDB's own domain list, not
//! the MX name, decides the trust).

use super::{builtin, ispdb, Context, Source, SourceReport, Status};

pub(crate) async fn run(ctx: &Context) -> SourceReport {
    let mut report = SourceReport::new(Source::Mx);
    let d = &ctx.address.domain;
    let mx = match crate::dns::mx(&ctx.resolver, d).await {
        Ok(mut hosts) => {
            hosts.sort();
            report.tried(format!("MX {d}"), hosts.iter().map(|(p, h)| format!("{p} {h}")).collect::<Vec<_>>().join(", "));
            match hosts.into_iter().map(|(_, h)| h).find(|h| !h.is_empty()) {
                Some(h) => h,
                None => return report.finish(Status::Nothing, "null MX: the domain receives no mail"),
            }
        }
        Err(e) => {
            let why = e.to_string();
            report.tried(format!("MX {d}"), why.clone());
            let status = if e.is_absent() { Status::Nothing } else { Status::Failed };
            return report.finish(status, why);
        }
    };
    if let Some(p) = builtin::by_mx(&mx) {
        report.tried(&mx, format!("hosted by {}", p.name));
        report.candidates = builtin::candidates(p, ctx, Source::Mx);
        return report.finish(Status::Nothing, "");
    }
    let labels: Vec<&str> = mx.split('.').collect();
    if labels.len() < 2 {
        return report.finish(Status::Nothing, format!("MX host {mx} names no provider"));
    }
    let base = labels[labels.len() - 2..].join(".");
    if base == *d {
        return report.finish(Status::Nothing, format!("the MX host {mx} is the domain's own (no provider to ask about)"));
    }
    match ispdb::lookup(ctx, &base, Source::Mx, &mut report).await {
        Ok(()) => report.finish(Status::Nothing, format!("the ISPDB entry for {base} lists no SMTP server")),
        Err((status, why)) => report.finish(status, format!("MX {mx}: ISPDB {why}")),
    }
}
