//! The domain's own autoconfig file (Thunderbird's clientConfig v1.1): at
//! `https://autoconfig.D/mail/config-v1.1.xml?emailaddress=…` and at
//! `https://D/.well-known/autoconfig/mail/config-v1.1.xml`; and the XML reader that ISPDB shares.
//!
//! Only `outgoingServer type="smtp"` entries count. The domain speaks for itself only: a host
//! outside it needs the user's confirmation, whatever the file claims about its provider. When
//! HTTPS finds nothing, the plain-HTTP address is tried only to say so: what it serves is shown,
//! flagged, and never used (anyone on the path could have written it).

use super::net::{get, Fetched};
use super::{domain_trust, within, Address, Candidate, Context, SourceReport, Status, Trust, UsernameForm};
use crate::settings::Security;

/// Which of the domain's two addresses.
#[derive(Debug, Clone, Copy)]
pub enum Where {
    Subdomain,
    WellKnown,
}

/// One `<outgoingServer type="smtp">`.
#[derive(Debug, Clone, PartialEq)]
pub struct Server {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username_form: UsernameForm,
}

/// What a clientConfig file says.
#[derive(Debug, Default)]
pub struct Config {
    /// The provider's id and `<domain>` entries.
    pub provider_domains: Vec<String>,
    pub servers: Vec<Server>,
    /// Entries left out and why (another server type, a username form we can't fill, bad port).
    pub skipped: Vec<String>,
}

/// Reads clientConfig XML; `Err` says why it is not one ("bad XML: …").
pub fn parse(xml: &str, address: &Address) -> Result<Config, String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| format!("bad XML: {e}"))?;
    let root = doc.root_element();
    if root.tag_name().name() != "clientConfig" {
        return Err(format!("bad XML: the root element is <{}>, not <clientConfig>", root.tag_name().name()));
    }
    let mut config = Config::default();
    let text = |n: roxmltree::Node, tag: &str| {
        n.children().find(|c| c.has_tag_name(tag)).and_then(|c| c.text()).map(|t| t.trim().to_string()).unwrap_or_default()
    };
    for provider in root.children().filter(|n| n.has_tag_name("emailProvider")) {
        if let Some(id) = provider.attribute("id") {
            config.provider_domains.push(id.to_ascii_lowercase());
        }
        for d in provider.children().filter(|n| n.has_tag_name("domain")) {
            if let Some(t) = d.text() {
                config.provider_domains.push(t.trim().to_ascii_lowercase());
            }
        }
        for out in provider.children().filter(|n| n.has_tag_name("outgoingServer")) {
            let kind = out.attribute("type").unwrap_or("");
            if kind != "smtp" {
                config.skipped.push(format!("outgoingServer type '{kind}' (only smtp is used)"));
                continue;
            }
            let host = text(out, "hostname").replace("%EMAILDOMAIN%", &address.domain).to_ascii_lowercase();
            if host.is_empty() || host.contains('%') || host.contains('/') || host.contains(':') {
                config.skipped.push(format!("hostname '{host}' is not a host name"));
                continue;
            }
            let Ok(port) = text(out, "port").parse::<u16>() else {
                config.skipped.push(format!("{host}: port '{}' is not a port number", text(out, "port")));
                continue;
            };
            let security = match text(out, "socketType").to_ascii_uppercase().as_str() {
                "SSL" | "TLS" => Security::ImplicitTls,
                "STARTTLS" => Security::StartTls,
                "PLAIN" => Security::None,
                other => {
                    config.skipped.push(format!("{host}:{port}: socketType '{other}' unknown"));
                    continue;
                }
            };
            let username_form = match text(out, "username").as_str() {
                "%EMAILADDRESS%" | "" => UsernameForm::EmailAddress,
                "%EMAILLOCALPART%" => UsernameForm::LocalPart,
                other => {
                    config.skipped.push(format!("{host}:{port}: username form '{other}' is not supported"));
                    continue;
                }
            };
            config.servers.push(Server { host, port, security, username_form });
        }
    }
    Ok(config)
}

/// Candidates from a parsed file: `trust` decides each host's trust and note.
pub(crate) fn candidates(
    config: &Config,
    address: &Address,
    source: super::Source,
    trust: impl Fn(&str) -> (Trust, String),
) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = config
        .servers
        .iter()
        .map(|s| {
            let (mut t, mut note) = trust(&s.host);
            if s.security == Security::None && t != Trust::Refused {
                t = t.max(Trust::Confirm);
                note = format!("{note}; no encryption: the password would travel in clear text");
            }
            Candidate {
                host: s.host.clone(),
                port: s.port,
                security: s.security,
                username: s.username_form.for_address(address),
                username_form: s.username_form.clone(),
                source,
                trust: t,
                note,
            }
        })
        .collect();
    // Keep the file's order within a trust level (it lists the preferred server first).
    out.sort_by_key(|c| c.trust);
    out
}

/// A provider's trust: the address's domain, or one of the provider's own listed domains.
pub(crate) fn provider_trust(host: &str, address: &Address, provider_domains: &[String]) -> (Trust, String) {
    if within(host, &address.domain) {
        return (Trust::Trusted, format!("in your domain {}", address.domain));
    }
    if let Some(d) = provider_domains.iter().find(|d| within(host, d)) {
        return (Trust::Trusted, format!("the provider's own domain {d}"));
    }
    (
        Trust::Confirm,
        format!("{host} is outside {} and the provider's domains: the user must confirm before a password goes there", address.domain),
    )
}

pub(crate) async fn run(ctx: &Context, place: Where) -> SourceReport {
    let a = &ctx.address;
    let source = match place {
        Where::Subdomain => super::Source::Autoconfig,
        Where::WellKnown => super::Source::WellKnown,
    };
    let https = url(place, a);
    let http = https.replacen("https://", "http://", 1);
    let mut report = SourceReport::new(source);
    let why = match get(&ctx.http, &https).await {
        Fetched::Body(xml) => {
            report.tried(&https, "HTTP 200");
            return match parse(&xml, a) {
                Ok(config) => {
                    for s in &config.skipped {
                        report.tried("skipped", s.clone());
                    }
                    report.candidates = candidates(&config, a, source, |h| domain_trust(h, &a.domain));
                    report.finish(Status::Nothing, "the file lists no SMTP server")
                }
                Err(e) => report.finish(Status::Failed, e),
            };
        }
        Fetched::Not(why) => {
            report.tried(&https, why.clone());
            why
        }
    };
    // Plain HTTP only to flag it: shown, never used.
    if let Fetched::Body(xml) = get(&ctx.http, &http).await {
        report.tried(&http, "HTTP 200 over plain HTTP: not used");
        if let Ok(config) = parse(&xml, a) {
            let flagged = |_: &str| (Trust::Refused, "served over plain HTTP (could have been changed on the way): not used".to_string());
            report.candidates = candidates(&config, a, source, flagged);
            if !report.candidates.is_empty() {
                let mut r = report.finish(Status::Nothing, "");
                r.status = Status::Failed;
                r.summary = format!("HTTPS: {why}; plain HTTP serves a file naming {} — flagged, not used", r.candidates[0].host);
                return r;
            }
        }
    } else {
        report.tried(&http, "nothing (plain HTTP is only checked to flag it)");
    }
    let status = if why.starts_with("HTTP 4") || why.contains("NXDOMAIN") { Status::Nothing } else { Status::Failed };
    report.finish(status, why)
}

/// Where the file is asked for, over HTTPS.
pub(crate) fn url(place: Where, a: &Address) -> String {
    match place {
        Where::Subdomain => format!("https://autoconfig.{}/mail/config-v1.1.xml?emailaddress={}", a.domain, encode(&a.full)),
        Where::WellKnown => format!("https://{}/.well-known/autoconfig/mail/config-v1.1.xml", a.domain),
    }
}

/// The address in a query string.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = r#"<?xml version="1.0"?>
<clientConfig version="1.1">
  <emailProvider id="example.com">
    <domain>example.com</domain>
    <domain>example.net</domain>
    <incomingServer type="imap"><hostname>imap.example.com</hostname><port>993</port></incomingServer>
    <outgoingServer type="smtp">
      <hostname>smtp.%EMAILDOMAIN%</hostname><port>465</port><socketType>SSL</socketType>
      <username>%EMAILLOCALPART%</username><authentication>password-cleartext</authentication>
    </outgoingServer>
    <outgoingServer type="smtp">
      <hostname>smtp.example.com</hostname><port>587</port><socketType>STARTTLS</socketType>
      <username>%EMAILADDRESS%</username>
    </outgoingServer>
    <outgoingServer type="exchange"><hostname>ews.example.com</hostname></outgoingServer>
  </emailProvider>
</clientConfig>"#;

    #[test]
    fn reads_smtp_servers_only() {
        let a = Address::parse("jo@example.com").unwrap();
        let c = parse(XML, &a).unwrap();
        assert_eq!(c.servers.len(), 2);
        assert_eq!(c.servers[0].host, "smtp.example.com");
        assert_eq!(c.servers[0].security, Security::ImplicitTls);
        assert_eq!(c.servers[0].username_form.for_address(&a), "jo");
        assert_eq!(c.servers[1].security, Security::StartTls);
        assert_eq!(c.skipped.len(), 1);
        assert_eq!(c.provider_domains, ["example.com", "example.com", "example.net"]);
    }

    #[test]
    fn bad_xml_says_so() {
        let a = Address::parse("jo@example.com").unwrap();
        assert!(parse("<clientConfig><oops></clientConfig>", &a).unwrap_err().starts_with("bad XML"));
        assert!(parse("<html></html>", &a).unwrap_err().contains("not <clientConfig>"));
    }

    #[test]
    fn query_encoding() {
        assert_eq!(encode("a+b@x.y"), "a%2Bb%40x.y");
    }
}
