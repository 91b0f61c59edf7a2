//! Validation of a profile: errors that block saving and warnings shown beside the fields.
//!
//! The one set of rules: the window asks for this verdict over IPC (`check_settings`), and the
//! CLI and the settings file loader come through here too.

use super::fields::{self, value_of, Kind, FIELDS};
use super::model::*;
use super::profiles;
use serde::Serialize;
use serde_json::Value;
use std::net::IpAddr;
use ts_rs::TS;

/// One problem with one field. `message` says what is wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, TS)]
pub struct Issue {
    /// The dotted settings key, as used by `smtp-desk config set` and the form.
    pub field: String,
    pub message: String,
}

/// The result of checking a profile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, TS)]
pub struct Report {
    /// Problems that make the settings unusable; saving is refused while any remain.
    pub errors: Vec<Issue>,
    /// Risks the user may accept; shown, never blocking.
    pub warnings: Vec<Issue>,
}

impl Report {
    fn error(&mut self, field: &str, message: impl Into<String>) {
        // One error per field is enough to act on; the first found is the most basic.
        if !self.errors.iter().any(|i| i.field == field) {
            self.errors.push(Issue { field: field.into(), message: message.into() });
        }
    }
    fn warn(&mut self, field: &str, message: impl Into<String>) {
        self.warnings.push(Issue { field: field.into(), message: message.into() });
    }
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Checks the whole settings: Global's fields (keyed `relay.host`), every named profile as it
/// resolves (keyed `profiles.NAME.relay.host`), the profiles' names and overrides, and the default.
/// A named profile's issue that Global already has, on a field it inherits, is reported once, at Global.
pub fn check(settings: &Settings) -> Report {
    let mut r = check_fields(&settings.profile);
    let global = r.clone();
    for (name, own) in &settings.profiles {
        let prefix = format!("profiles.{name}");
        if let Some(problem) = profiles::name_problem(name) {
            r.error(&prefix, format!("the profile name {problem} — rename it: smtp-desk profile rename '{name}' NEW-NAME"));
        }
        let (resolved, bad) = resolve_tolerant(&settings.profile, name, own);
        for issue in bad {
            r.error(&format!("{prefix}.{}", issue.field), issue.message);
        }
        let mine = check_fields(&resolved);
        let inherited = |i: &Issue, of: &[Issue]| !own.contains_key(&i.field) && of.contains(i);
        for i in mine.errors.iter().filter(|i| !inherited(i, &global.errors)) {
            r.error(&format!("{prefix}.{}", i.field), i.message.clone());
        }
        for i in mine.warnings.iter().filter(|i| !inherited(i, &global.warnings)) {
            r.warn(&format!("{prefix}.{}", i.field), i.message.clone());
        }
    }
    if let Some(default) = &settings.default_profile {
        if !profiles::is_global(default) && !settings.profiles.contains_key(default) {
            r.error(
                "default_profile",
                format!(
                    "names no profile ('{default}') — choose one of {} with: smtp-desk profile default NAME",
                    profiles::names(settings).join(", ")
                ),
            );
        }
    }
    r
}

/// Checks one profile as it resolves, keyed by plain field keys (`relay.host`): what the window's
/// form for that profile shows. An override that can't apply is reported on its key.
pub fn check_profile(settings: &Settings, name: &str) -> Report {
    let name = match profiles::canonical(settings, Some(name)) {
        Ok(n) => n,
        Err(e) => {
            let mut r = Report::default();
            r.error("profile", format!("{e} — profiles: {}", profiles::names(settings).join(", ")));
            return r;
        }
    };
    let Some(own) = settings.profiles.get(name) else {
        return check_fields(&settings.profile);
    };
    let (resolved, bad) = resolve_tolerant(&settings.profile, name, own);
    let mut r = check_fields(&resolved);
    for issue in bad {
        r.error(&issue.field, issue.message);
    }
    r
}

/// `base` with each override of profile `name` that applies laid on top, and an issue (keyed by
/// the plain override key) for each that doesn't: unknown, Global-only or of the wrong type.
fn resolve_tolerant(base: &Profile, name: &str, own: &Overrides) -> (Profile, Vec<Issue>) {
    let mut resolved = base.clone();
    let mut bad = Vec::new();
    for (key, value) in own {
        let one = Overrides::from([(key.clone(), value.clone())]);
        match profiles::overlay(&resolved, name, &one) {
            Ok(p) => resolved = p,
            Err(e) => {
                let message = match e {
                    super::Error::BadValue { message, .. } => message,
                    other => other.to_string(),
                };
                let fix = match fields::find(key) {
                    Some(f) if f.per_profile => format!(
                        " (expected {}) — set it with: smtp-desk config set {key} VALUE --profile {name}, or inherit Global's with: smtp-desk config unset {key} --profile {name}",
                        f.takes
                    ),
                    _ => format!(": smtp-desk config unset {key} --profile {name}"),
                };
                bad.push(Issue { field: key.clone(), message: format!("{message}{fix}") });
            }
        }
    }
    (resolved, bad)
}

/// Checks every field of one profile.
fn check_fields(p: &Profile) -> Report {
    let mut r = Report::default();

    // A path that is not UTF-8 cannot come from the settings file (JSON) or the form; it reads as unset here.
    let doc = serde_json::to_value(p).unwrap_or_default();
    for field in FIELDS.iter().filter(|f| matches!(f.kind, Kind::Text | Kind::OptionalText)) {
        if let Some(Value::String(text)) = value_of(&doc, field.name) {
            if text.chars().any(|c| c.is_control()) {
                r.error(field.name, "contains a line break, tab or other control character — remove it (header injection guard)");
            }
        }
    }

    let ispdb = &p.detect.ispdb_url;
    if !ispdb.starts_with("https://") || !ispdb.ends_with('/') || ispdb.len() <= "https://".len() + 1 {
        r.error(
            "detect.ispdb_url",
            format!(
                "'{ispdb}' is not an https:// address ending in / — use {} (the default) or your own copy of it",
                crate::detect::DEFAULT_ISPDB_URL
            ),
        );
    }

    let relay = p.mode == Mode::Relay;
    check_host(&mut r, "relay.host", &p.relay.host, relay);
    if p.relay.port == 0 {
        r.error("relay.port", "must be between 1 and 65535 — the usual ports are 587 (STARTTLS), 465 (implicit TLS) and 25");
    }
    if let Some(ca) = &p.relay.ca_file {
        if ca.as_os_str().is_empty() {
            r.error("relay.ca_file", "is empty — choose a PEM file of CA certificates or clear the setting");
        } else if !ca.is_file() {
            r.error("relay.ca_file", format!("{} is not a readable file — choose an existing PEM file of CA certificates", ca.display()));
        }
    }
    let selector = &p.dkim.selector;
    if selector.is_empty()
        || selector.len() > 63
        || !selector.split('.').all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
    {
        r.error("dkim.selector", format!("'{selector}' is not a DNS label — use letters, digits and '-', e.g. smtpdesk or 2026a"));
    }
    if !p.dkim.domain.is_empty() {
        if let Err(why) = host_name_problem(&p.dkim.domain) {
            r.error("dkim.domain", format!("{why} — give the domain of your From address (example.com) or leave it empty"));
        }
    }
    if !p.ehlo_name.is_empty() && !is_address_literal(&p.ehlo_name) {
        if let Err(why) = host_name_problem(&p.ehlo_name) {
            r.error("ehlo_name", format!("{why} — use this machine's fully qualified name (e.g. mail.example.com) or leave it empty"));
        }
    }

    if p.auth.method == AuthMethod::Password {
        if p.auth.username.trim().is_empty() {
            r.error(
                "auth.username",
                "is required for password login — enter the account name the server expects (often the full email address)",
            );
        } else if p.auth.username.len() > 256 {
            r.error("auth.username", "is longer than 256 characters — check what was pasted");
        }
        if relay && p.relay.security == Security::None && !is_loopback_host(&p.relay.host) {
            r.error(
                "relay.security",
                format!("a password would travel unencrypted to {} — choose STARTTLS or Implicit TLS", display_host(&p.relay.host)),
            );
        }
    }

    if p.auth.method == AuthMethod::Password && p.auth.mechanism.is_oauth() {
        r.error(
            "auth.mechanism",
            "is an OAuth2 mechanism, but the login is a password — choose auto, plain, login or ntlm, or set auth.method to oauth2",
        );
    }
    if p.auth.method == AuthMethod::OAuth2 {
        if p.auth.username.trim().is_empty() {
            r.error("auth.username", "is required for OAuth2 login — enter the signed-in account's email address (XOAUTH2 sends it)");
        }
        if !matches!(p.auth.mechanism, crate::settings::Mechanism::Auto) && !p.auth.mechanism.is_oauth() {
            r.error("auth.mechanism", "is a password mechanism, but the login is OAuth2 — choose auto, xoauth2 or oauthbearer");
        }
        for (field, message) in crate::oauth::provider::problems(&p.auth) {
            r.error(field, message);
        }
        if relay && p.relay.security == Security::None && !is_loopback_host(&p.relay.host) {
            r.error(
                "relay.security",
                format!("an access token would travel unencrypted to {} — choose STARTTLS or Implicit TLS", display_host(&p.relay.host)),
            );
        }
    }

    check_address(&mut r, "sender.from_address", &p.sender.from_address, p.mode != Mode::Off);
    if p.sender.from_name.chars().count() > 200 {
        r.error("sender.from_name", "is longer than 200 characters — shorten it");
    }
    if let Some(reply_to) = &p.sender.reply_to {
        check_address(&mut r, "sender.reply_to", reply_to, false);
    }
    if let Some(local) = &p.local_recipient {
        check_address(&mut r, "local_recipient", local, false);
    }

    if p.listener.port == 0 {
        r.error("listener.port", "must be between 1 and 65535 — 2525 is the usual choice (ports below 1024 need root)");
    }
    if p.listener.username.len() > 256 {
        r.error("listener.username", "is longer than 256 characters — choose a short local login name");
    }

    // The ports have their own messages above (they name the usual ports).
    for field in FIELDS.iter().filter(|f| f.name != "relay.port" && f.name != "listener.port") {
        if let (Some((lo, hi)), Some(value)) = (field.range, value_of(&doc, field.name).and_then(Value::as_u64)) {
            if value < u64::from(lo) || value > u64::from(hi) {
                r.error(field.name, format!("must be between {lo} and {hi} {} (it is {value})", field.unit));
            }
        }
    }

    if relay {
        relay_warnings(&mut r, p);
    }
    r
}

fn relay_warnings(r: &mut Report, p: &Profile) {
    let (port, security) = (p.relay.port, p.relay.security);
    if p.auth.method == AuthMethod::None {
        r.warn("auth.method", "Anonymous relay: the server must accept mail from this machine without a login. Fine for a local relay; elsewhere choose Password.");
    }
    if security == Security::None {
        r.warn("relay.security", "No encryption: messages (and anything in them) cross the network in plain text.");
    }
    match (port, security) {
        (465, Security::StartTls) => {
            r.warn("relay.port", "Port 465 expects implicit TLS, but STARTTLS is selected — choose 'Implicit TLS' or use port 587.")
        }
        (587 | 25, Security::ImplicitTls) => {
            r.warn("relay.port", format!("Port {port} expects STARTTLS, but implicit TLS is selected — choose 'STARTTLS' or use port 465."))
        }
        _ => {}
    }
    if !p.relay.verify_certificates && security != Security::None {
        r.warn(
            "relay.verify_certificates",
            "Certificate checking is off: anyone on the path can pose as the server and read the password.",
        );
    }
}

fn check_host(r: &mut Report, field: &str, host: &str, required: bool) {
    if host.is_empty() {
        if required {
            r.error(field, "is required for relay mode — enter the SMTP server's name, e.g. smtp.example.com");
        }
        return;
    }
    if host.trim() != host {
        r.error(field, "has spaces at the start or end — remove them");
        return;
    }
    if host.parse::<IpAddr>().is_ok() {
        return;
    }
    if host.contains(':') {
        r.error(field, "contains a ':' — put the port number in the Port field (a pasted host:port is split automatically)");
        return;
    }
    if let Err(why) = host_name_problem(host) {
        r.error(field, format!("{why} — enter a host name like smtp.example.com or an IP address"));
    }
}

/// Why `name` is not a usable DNS host name, if it is not. International names are accepted
/// and checked in their ASCII (punycode) form.
pub(crate) fn host_name_problem(name: &str) -> Result<(), String> {
    let ascii = idna::domain_to_ascii(name).map_err(|_| format!("'{name}' is not a valid host name"))?;
    let ascii = ascii.strip_suffix('.').unwrap_or(&ascii);
    if ascii.is_empty() {
        return Err("is empty".into());
    }
    if ascii.len() > 253 {
        return Err("is longer than 253 characters".into());
    }
    for label in ascii.split('.') {
        if label.is_empty() {
            return Err(format!("'{name}' has an empty part between dots"));
        }
        if label.len() > 63 {
            return Err(format!("'{name}' has a part longer than 63 characters"));
        }
        if !label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') || label.starts_with('-') || label.ends_with('-') {
            return Err(format!("'{name}' may only contain letters, digits, dots and inner hyphens"));
        }
    }
    Ok(())
}

fn is_address_literal(s: &str) -> bool {
    s.strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .map(|ip| ip.strip_prefix("IPv6:").unwrap_or(ip).parse::<IpAddr>().is_ok())
        .unwrap_or(false)
}

fn check_address(r: &mut Report, field: &str, addr: &str, required: bool) {
    if addr.is_empty() {
        if required {
            r.error(field, "is required — enter the address mail is sent from, e.g. alerts@example.com");
        }
        return;
    }
    if let Err(why) = address_problem(addr) {
        r.error(field, format!("{why} — enter a plain address like name@example.com (no display name or angle brackets)"));
    }
}

/// Why `addr` is not a plain mailbox address (RFC 5321 §4.1.2, with RFC 6531 UTF-8), if it is not.
fn address_problem(addr: &str) -> Result<(), String> {
    let Some((local, domain)) = addr.rsplit_once('@') else {
        return Err(format!("'{addr}' has no '@'"));
    };
    if local.is_empty() {
        return Err(format!("'{addr}' has nothing before the '@'"));
    }
    if local.len() > 64 {
        return Err(format!("'{addr}' has more than 64 characters before the '@'"));
    }
    const SPECIALS: &str = "()<>[]:;@\\,\" ";
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") || local.chars().any(|c| SPECIALS.contains(c)) {
        return Err(format!("'{addr}' is not a valid address"));
    }
    if domain.is_empty() {
        return Err(format!("'{addr}' has nothing after the '@'"));
    }
    if is_address_literal(domain) {
        return Ok(());
    }
    host_name_problem(domain).map_err(|_| format!("'{addr}' has an invalid domain '{domain}'"))
}

/// Whether mail to this host stays on this machine, so a plaintext password cannot be sniffed.
pub fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.to_ascii_lowercase().ends_with(".localhost")
        || h.parse::<IpAddr>().map(|ip| ip.is_loopback()).unwrap_or(false)
}

fn display_host(host: &str) -> &str {
    if host.is_empty() {
        "the server"
    } else {
        host
    }
}
