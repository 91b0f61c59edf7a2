//! Facts about this machine that settings default to: its host name for EHLO.

use std::net::IpAddr;

/// This machine's name as the OS reports it; the default EHLO name when none is set.
///
/// Only the cheap `gethostname` call: resolving the canonical name would put a DNS lookup on
/// the start-up path of every `smtp-desk` invocation.
pub fn host_name() -> String {
    let name = gethostname::gethostname().to_string_lossy().trim().to_string();
    if name.is_empty() {
        "localhost".to_string()
    } else {
        name
    }
}

/// The name to give in EHLO when the settings leave it empty, in its ASCII form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EhloName {
    /// What goes on the wire: a host name in ASCII (punycode) form, or an address literal.
    pub name: String,
    /// Why `name` is not this machine's own name, when it is not.
    pub fallback_reason: Option<String>,
}

/// This machine's name for EHLO: its host name when that is a valid one, else the address
/// literal of `local` (this end of the connection, e.g. `[192.0.2.7]`), else
/// `localhost.localdomain`.
///
/// Why check: the OS allows names that are not host names (underscores, spaces, a bare `_`,
/// anything a user typed into a "computer name" field), and servers refuse such an EHLO (501)
/// or count it against the sender; an address literal is what RFC 5321 §4.1.4 wants when there
/// is no usable name.
pub fn ehlo_name(local: Option<IpAddr>) -> EhloName {
    ehlo_name_for(&host_name(), local)
}

/// The EHLO name to send for the `ehlo_name` setting: this machine's ([`ehlo_name`]) when the
/// setting is empty, else the setting in its ASCII (punycode) form. Settings checks make it a
/// host name or an address literal; only a host name has an ASCII form.
pub fn ehlo_name_from_setting(setting: &str, local: Option<IpAddr>) -> EhloName {
    let name = setting.trim();
    if name.is_empty() {
        return ehlo_name(local);
    }
    let ascii = if name.starts_with('[') { None } else { idna::domain_to_ascii(name).ok() };
    EhloName { name: ascii.unwrap_or_else(|| name.to_string()), fallback_reason: None }
}

fn ehlo_name_for(raw: &str, local: Option<IpAddr>) -> EhloName {
    let problem = match crate::settings::host_name_problem(raw) {
        Ok(()) => match idna::domain_to_ascii(raw) {
            Ok(ascii) => return EhloName { name: ascii.trim_end_matches('.').to_string(), fallback_reason: None },
            Err(_) => format!("'{raw}' is not a valid host name"),
        },
        Err(why) => why,
    };
    let (name, instead) = match local {
        Some(ip) => (address_literal(ip), "the address of this end of the connection"),
        None => ("localhost.localdomain".to_string(), "the conventional name for an unnamed machine"),
    };
    EhloName {
        fallback_reason: Some(format!(
            "this machine's name can't be used ({problem}), so it introduces itself as {name}, {instead}; set 'EHLO name' to \
             this machine's fully qualified name to change that"
        )),
        name,
    }
}

/// `[192.0.2.7]` or `[IPv6:2001:db8::7]` (RFC 5321 §4.1.3).
pub fn address_literal(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("[{v4}]"),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("[{v4}]"),
            None => format!("[IPv6:{v6}]"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_name_is_used_in_ascii_form() {
        assert_eq!(ehlo_name_for("mail.example.com", None), EhloName { name: "mail.example.com".into(), fallback_reason: None });
        assert_eq!(ehlo_name_for("host", None).name, "host");
        assert_eq!(ehlo_name_for("bücher.example", None).name, "xn--bcher-kva.example");
        assert_eq!(ehlo_name_for("Host.Example.", None).name, "host.example");
    }

    #[test]
    fn an_invalid_name_falls_back_and_says_why() {
        let local = Some(IpAddr::from([127, 0, 0, 1]));
        for bad in ["my_laptop", "John's PC", "-x-", "a..b", ""] {
            let e = ehlo_name_for(bad, local);
            assert_eq!(e.name, "[127.0.0.1]", "{bad}");
            let why = e.fallback_reason.unwrap();
            assert!(why.contains("can't be used") && why.contains("[127.0.0.1]") && why.contains("EHLO name"), "{why}");
        }
        assert_eq!(ehlo_name_for("my_laptop", None).name, "localhost.localdomain");
        assert_eq!(ehlo_name_for("my_laptop", Some("2001:db8::7".parse().unwrap())).name, "[IPv6:2001:db8::7]");
        assert_eq!(ehlo_name_for("my_laptop", Some("::ffff:10.0.0.1".parse().unwrap())).name, "[10.0.0.1]");
    }
}
