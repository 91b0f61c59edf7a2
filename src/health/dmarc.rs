//! The DMARC line: `_dmarc.DOMAIN` (or its organisational domain's) is published, its policy,
//! and whether mail we send aligns with the From domain through SPF (the envelope sender's domain
//! passing SPF) or DKIM (our `d=` domain with its key published), as mail-auth evaluates it.

use super::{Check, Context, Line};
use mail_auth::dkim::Signature;
use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::dmarc::Policy;
use mail_auth::{AuthenticatedMessage, DkimOutput, DmarcResult, SpfOutput};

pub async fn check(ctx: &Context, spf: &SpfOutput, dkim_published: bool) -> Line {
    let domain = &ctx.domain;
    let raw = format!("From: postmaster@{domain}\r\nSubject: deliverability check\r\n\r\n.\r\n");
    let Some(message) = AuthenticatedMessage::parse(raw.as_bytes()) else {
        return Line::unknown(Check::Dmarc, "could not build the sample message", "");
    };
    // What a receiver would see for mail we sign: a passing signature by our d= domain.
    let signature = Signature { d: ctx.dkim_domain.clone(), s: ctx.profile.dkim.selector.clone(), ..Default::default() };
    let dkim: Vec<DkimOutput> = if dkim_published { vec![DkimOutput::pass().with_signature(&signature)] } else { vec![] };
    let out = ctx.authenticator.verify_dmarc(DmarcParameters::new(&message, &dkim, domain, spf)).await;

    let Some(record) = out.dmarc_record() else {
        if let DmarcResult::TempError(e) = out.spf_result() {
            return Line::unknown(
                Check::Dmarc,
                format!("looking up _dmarc.{domain} failed: {e}"),
                "Check this machine's DNS, then run the check again.",
            );
        }
        let rua = match ctx.profile.sender.from_address.trim() {
            a if a.to_ascii_lowercase().ends_with(&format!("@{domain}")) => a.to_string(),
            _ => format!("postmaster@{domain}"),
        };
        return Line::warning(
            Check::Dmarc,
            format!("no DMARC record at _dmarc.{domain}"),
            "Publish one (p=none only asks receivers for reports; move to quarantine once they show your mail passes). Large \
             receivers (Gmail, Yahoo) require DMARC from bulk senders.",
        )
        .publish(format!("_dmarc.{domain}. TXT \"v=DMARC1; p=none; rua=mailto:{rua}\""));
    };
    let policy = match record.p {
        Policy::None | Policy::Unspecified => "none",
        Policy::Quarantine => "quarantine",
        Policy::Reject => "reject",
    };
    let spf_aligned = *out.spf_result() == DmarcResult::Pass;
    let dkim_aligned = *out.dkim_result() == DmarcResult::Pass;
    let via: Vec<&str> = [(spf_aligned, "SPF"), (dkim_aligned, "DKIM")].into_iter().filter(|(a, _)| *a).map(|(_, n)| n).collect();
    if !via.is_empty() {
        let summary = format!("p={policy}; mail from {domain} aligns through {}", via.join(" and "));
        return if policy == "none" {
            Line::ok(Check::Dmarc, format!("{summary} (p=none: receivers only report)"))
        } else {
            Line::ok(Check::Dmarc, summary)
        };
    }
    let mut why = vec![];
    if !spf_aligned {
        why.push(format!("SPF does not pass for {domain} (see the SPF line)"));
    }
    if !dkim_aligned {
        why.push(if !dkim_published {
            format!("no published DKIM key signs for {} (see the DKIM line)", ctx.dkim_domain)
        } else {
            format!("the DKIM domain {} is not aligned with {domain}", ctx.dkim_domain)
        });
    }
    let summary = format!("p={policy}, but mail from {domain} would not align: {}", why.join("; "));
    let hint = "Make SPF pass for this IP or publish the DKIM key (either one aligned is enough).";
    match record.p {
        Policy::Quarantine | Policy::Reject => Line::failed(
            Check::Dmarc,
            format!("{summary}: receivers will {}", if policy == "reject" { "reject it" } else { "put it in spam" }),
            hint,
        ),
        _ => Line::warning(Check::Dmarc, summary, hint),
    }
}
