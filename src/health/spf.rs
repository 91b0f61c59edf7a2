//! The SPF line: the sender domain has one `v=spf1` record (two are a permanent error, RFC 7208
//! §4.5) and mail-auth's evaluation of it for the public IP (its 10-lookup and 2-void-lookup
//! limits included), with the record to publish when it does not pass.

use super::{Check, Context, Line};
use crate::dns;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{SpfOutput, SpfResult};
use std::net::IpAddr;
use std::time::Duration;

/// The line, and mail-auth's outcome for the DMARC line.
pub struct Spf {
    pub line: Line,
    pub output: SpfOutput,
}

fn is_spf(text: &str) -> bool {
    let t = text.trim_start().to_ascii_lowercase();
    t == "v=spf1" || t.starts_with("v=spf1 ")
}

pub async fn check(ctx: &Context, ip: Option<IpAddr>, limit: Duration) -> Spf {
    let domain = &ctx.domain;
    let nothing = |result| SpfOutput::new(domain.clone()).with_result(result);
    let Some(ip) = ip else { return Spf { line: Line::without_ip(Check::Spf), output: nothing(SpfResult::TempError) } };
    let records: Vec<String> = match tokio::time::timeout(limit, dns::txt(&ctx.resolver, domain)).await {
        Ok(Ok(all)) => all.into_iter().filter(|t| is_spf(t)).collect(),
        Ok(Err(f)) if f.is_absent() => vec![],
        Ok(Err(f)) => return temporary(domain, f.to_string()),
        Err(_) => return temporary(domain, dns::Failure::Timeout.to_string()),
    };
    if records.len() > 1 {
        let line = Line::failed(
            Check::Spf,
            format!("permerror: {domain} publishes {} v=spf1 records; receivers treat that as no valid SPF", records.len()),
            "Merge them into one record and delete the others.",
        )
        .publish(suggest(domain, &records, ip));
        return Spf { line, output: nothing(SpfResult::PermError) };
    }
    let sender = format!("postmaster@{domain}");
    let params = SpfParameters::verify_mail_from(ip, &ctx.ehlo_name, &ctx.ehlo_name, &sender);
    let output = match tokio::time::timeout(limit, ctx.authenticator.verify_spf(params)).await {
        Ok(output) => output,
        Err(_) => return temporary(domain, format!("no answer within {} s", limit.as_secs_f32())),
    };
    let record = suggest(domain, &records, ip);
    let current = records.first().map(|r| format!(" (\"{r}\")")).unwrap_or_default();
    let add = format!("Add {ip} to the SPF record of {domain}.");
    let line = match output.result() {
        SpfResult::Pass => Line::ok(Check::Spf, format!("pass: {domain}'s SPF allows {ip}{current}")),
        SpfResult::Fail => Line::failed(Check::Spf, format!("fail: {domain}'s SPF does not allow {ip}{current}"), add).publish(record),
        SpfResult::SoftFail => {
            Line::warning(Check::Spf, format!("softfail: {domain}'s SPF does not quite allow {ip}{current}"), add).publish(record)
        }
        SpfResult::Neutral => {
            Line::warning(Check::Spf, format!("neutral: {domain}'s SPF says nothing about {ip}{current}"), add).publish(record)
        }
        SpfResult::None => Line::failed(
            Check::Spf,
            format!("none: {domain} publishes no SPF record"),
            format!("Publish an SPF record for {domain} that allows {ip}."),
        )
        .publish(record),
        SpfResult::PermError => Line::failed(
            Check::Spf,
            format!("permerror: {domain}'s SPF record can't be evaluated{current}"),
            "Fix the record: a syntax error, more than 10 DNS lookups (include, a, mx, ptr, exists, redirect) or more than 2 \
             lookups that find nothing. Replace includes by the addresses they stand for.",
        ),
        SpfResult::TempError => return temporary(domain, "a DNS lookup failed".into()),
    };
    Spf { line, output }
}

fn temporary(domain: &str, why: String) -> Spf {
    Spf {
        line: Line::unknown(
            Check::Spf,
            format!("temperror: evaluating {domain}'s SPF failed: {why}"),
            "Check this machine's DNS, then run the check again.",
        ),
        output: SpfOutput::new(domain.to_string()).with_result(SpfResult::TempError),
    }
}

/// The one record to publish: `ip4:`/`ip6:` added to the existing record (or to the merged terms
/// of several), else a new record ending in `~all`.
pub fn suggest(domain: &str, records: &[String], ip: IpAddr) -> String {
    let own = match ip {
        IpAddr::V4(v4) => format!("ip4:{v4}"),
        IpAddr::V6(v6) => format!("ip6:{v6}"),
    };
    let mut terms: Vec<String> = vec![own];
    let mut all: Option<String> = None;
    for record in records {
        for term in record.split_whitespace().skip(1) {
            let lower = term.to_ascii_lowercase();
            if lower.trim_start_matches(['+', '-', '~', '?']) == "all" {
                all.get_or_insert(term.to_string());
            } else if !terms.iter().any(|t| t.eq_ignore_ascii_case(term)) {
                terms.push(term.to_string());
            }
        }
    }
    // A redirect= is only followed when there is no "all" (RFC 7208 §6.1): keep it last.
    terms.sort_by_key(|t| t.to_ascii_lowercase().starts_with("redirect="));
    let has_redirect = terms.last().is_some_and(|t| t.to_ascii_lowercase().starts_with("redirect="));
    let mut value = format!("v=spf1 {}", terms.join(" "));
    if !has_redirect {
        value.push(' ');
        value.push_str(all.as_deref().unwrap_or("~all"));
    }
    format!("{domain}. TXT \"{value}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_to_publish_keeps_what_is_there() {
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(suggest("a.test", &[], ip), "a.test. TXT \"v=spf1 ip4:192.0.2.7 ~all\"");
        assert_eq!(
            suggest("a.test", &["v=spf1 include:_spf.example.net -all".into()], ip),
            "a.test. TXT \"v=spf1 ip4:192.0.2.7 include:_spf.example.net -all\""
        );
        assert_eq!(
            suggest("a.test", &["v=spf1 mx -all".into(), "v=spf1 a mx ~all".into()], ip),
            "a.test. TXT \"v=spf1 ip4:192.0.2.7 mx a -all\""
        );
        assert_eq!(
            suggest("a.test", &["v=spf1 redirect=_spf.a.test".into()], "2001:db8::1".parse().unwrap()),
            "a.test. TXT \"v=spf1 ip6:2001:db8::1 redirect=_spf.a.test\""
        );
    }
}
