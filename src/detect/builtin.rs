//! A small built-in table of the major providers' submission servers, so the common cases answer
//! offline and at once; and the MX host suffixes that name a provider (for custom domains hosted
//! there). Published by the providers themselves; checked against their help pages in 2026.

use super::{within, Candidate, Context, Source, SourceReport, Status, Trust, UsernameForm};
use crate::settings::Security;

/// One provider.
pub struct Provider {
    pub name: &'static str,
    /// Address domains it serves.
    pub domains: &'static [&'static str],
    /// MX host suffixes that mean a domain is hosted there.
    pub mx: &'static [&'static str],
    /// Submission servers, preferred first.
    pub servers: &'static [(&'static str, u16, Security)],
    pub username: UsernameForm,
}

pub static PROVIDERS: &[Provider] = &[
    Provider {
        name: "Google (Gmail, Google Workspace)",
        domains: &["gmail.com", "googlemail.com"],
        mx: &["google.com", "googlemail.com"],
        servers: &[("smtp.gmail.com", 465, Security::ImplicitTls), ("smtp.gmail.com", 587, Security::StartTls)],
        username: UsernameForm::EmailAddress,
    },
    Provider {
        name: "Microsoft (Outlook.com, Office 365)",
        domains: &["outlook.com", "hotmail.com", "live.com", "msn.com", "outlook.de", "hotmail.co.uk", "hotmail.fr"],
        mx: &["mail.protection.outlook.com", "olc.protection.outlook.com"],
        servers: &[("smtp.office365.com", 587, Security::StartTls)],
        username: UsernameForm::EmailAddress,
    },
    Provider {
        name: "Yahoo",
        domains: &["yahoo.com", "ymail.com", "rocketmail.com", "yahoo.co.uk", "yahoo.fr", "yahoo.de"],
        mx: &["yahoodns.net"],
        servers: &[("smtp.mail.yahoo.com", 465, Security::ImplicitTls), ("smtp.mail.yahoo.com", 587, Security::StartTls)],
        username: UsernameForm::EmailAddress,
    },
    Provider {
        name: "Apple iCloud",
        domains: &["icloud.com", "me.com", "mac.com"],
        mx: &["mail.icloud.com"],
        servers: &[("smtp.mail.me.com", 587, Security::StartTls)],
        username: UsernameForm::EmailAddress,
    },
    Provider {
        name: "Fastmail",
        domains: &["fastmail.com", "fastmail.fm", "messagingengine.com"],
        mx: &["messagingengine.com"],
        servers: &[("smtp.fastmail.com", 465, Security::ImplicitTls), ("smtp.fastmail.com", 587, Security::StartTls)],
        username: UsernameForm::EmailAddress,
    },
    Provider {
        name: "Zoho Mail",
        domains: &["zoho.com", "zohomail.com"],
        mx: &["zoho.com", "zoho.eu"],
        servers: &[("smtp.zoho.com", 465, Security::ImplicitTls), ("smtp.zoho.com", 587, Security::StartTls)],
        username: UsernameForm::EmailAddress,
    },
    Provider {
        name: "GMX",
        domains: &["gmx.com", "gmx.net", "gmx.de", "gmx.at", "gmx.ch"],
        mx: &["gmx.net", "gmx.com"],
        servers: &[("mail.gmx.net", 465, Security::ImplicitTls), ("mail.gmx.net", 587, Security::StartTls)],
        username: UsernameForm::EmailAddress,
    },
    Provider {
        name: "Mail.ru",
        domains: &["mail.ru", "inbox.ru", "list.ru", "bk.ru"],
        mx: &["mail.ru"],
        servers: &[("smtp.mail.ru", 465, Security::ImplicitTls)],
        username: UsernameForm::EmailAddress,
    },
];

/// The provider serving addresses at `domain`.
pub fn by_domain(domain: &str) -> Option<&'static Provider> {
    PROVIDERS.iter().find(|p| p.domains.iter().any(|d| d.eq_ignore_ascii_case(domain)))
}

/// The provider whose mail exchanger `mx_host` is.
pub fn by_mx(mx_host: &str) -> Option<&'static Provider> {
    PROVIDERS.iter().find(|p| p.mx.iter().any(|suffix| within(mx_host, suffix)))
}

/// The provider's servers as candidates (trusted: the table is ours).
pub(crate) fn candidates(p: &Provider, ctx: &Context, source: Source) -> Vec<Candidate> {
    p.servers
        .iter()
        .map(|&(host, port, security)| Candidate {
            host: host.into(),
            port,
            security,
            username_form: p.username.clone(),
            username: p.username.for_address(&ctx.address),
            source,
            trust: Trust::Trusted,
            note: format!("{}'s published server", p.name),
        })
        .collect()
}

pub(crate) fn run(ctx: &Context) -> SourceReport {
    let mut report = SourceReport::new(Source::Builtin);
    match by_domain(&ctx.address.domain) {
        Some(p) => {
            report.tried(&ctx.address.domain, p.name);
            report.candidates = candidates(p, ctx, Source::Builtin);
            report.finish(Status::Nothing, "")
        }
        None => report.finish(Status::Nothing, format!("{} is not one of the built-in providers", ctx.address.domain)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn lookups() {
        assert_eq!(super::by_domain("GMAIL.com").unwrap().servers[0].0, "smtp.gmail.com");
        assert!(super::by_mx("example-com.mail.protection.outlook.com").unwrap().name.starts_with("Microsoft"));
        assert!(super::by_mx("aspmx.l.google.com").is_some());
        assert!(super::by_domain("example.com").is_none());
    }
}
