//! RFC 6186 §3.1 SRV records: `_submissions._tcp.D` (implicit TLS, RFC 8314) and
//! `_submission._tcp.D` (STARTTLS). A target of "." means "no service here". DNS is not
//! authenticated, so a target outside the domain needs the user's confirmation.

use super::{domain_trust, Candidate, Context, Source, SourceReport, Status, UsernameForm};
use crate::settings::Security;

pub(crate) async fn run(ctx: &Context) -> SourceReport {
    let mut report = SourceReport::new(Source::Srv);
    let d = &ctx.address.domain;
    let names = [(format!("_submissions._tcp.{d}."), Security::ImplicitTls), (format!("_submission._tcp.{d}."), Security::StartTls)];
    let lookups = both(ctx, &names).await;
    let mut whys = Vec::new();
    for ((name, security), result) in names.iter().zip(lookups) {
        match result {
            Ok(mut records) => {
                records.sort_by_key(|r| (r.0, std::cmp::Reverse(r.1)));
                let mut listed = Vec::new();
                for (_, _, port, target) in records {
                    if target.is_empty() || port == 0 {
                        listed.push("\".\" (no service)".to_string());
                        continue;
                    }
                    listed.push(format!("{target}:{port}"));
                    let (trust, note) = domain_trust(&target, d);
                    report.candidates.push(Candidate {
                        host: target,
                        port,
                        security: *security,
                        username_form: UsernameForm::EmailAddress,
                        username: ctx.address.full.clone(),
                        source: Source::Srv,
                        trust,
                        note,
                    });
                }
                report.tried(name.trim_end_matches('.'), listed.join(", "));
            }
            Err(why) => {
                report.tried(name.trim_end_matches('.'), why.clone());
                whys.push(why);
            }
        }
    }
    report.candidates.sort_by_key(|c| c.trust);
    let all_missing = whys.len() == 2 && whys.iter().all(|w| w.starts_with("NXDOMAIN") || w.starts_with("no record"));
    let why = whys.first().cloned().unwrap_or_else(|| "no usable SRV record".into());
    report.finish(if all_missing || whys.len() < 2 { Status::Nothing } else { Status::Failed }, why)
}

/// (priority, weight, port, target without the final dot) per record, or why not.
type Records = Result<Vec<(u16, u16, u16, String)>, String>;

async fn both(ctx: &Context, names: &[(String, Security); 2]) -> [Records; 2] {
    let (a, b) = tokio::join!(lookup(ctx, &names[0].0), lookup(ctx, &names[1].0));
    [a, b]
}

async fn lookup(ctx: &Context, name: &str) -> Records {
    crate::dns::srv(&ctx.resolver, name).await.map_err(|e| e.to_string())
}
