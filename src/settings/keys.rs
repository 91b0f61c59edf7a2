//! Editing settings one key at a time (`smtp-desk config set KEY VALUE`), with the same names the
//! window uses for its fields and errors.

use super::{Error, Settings};
use serde_json::Value;

/// A settable key and what it takes.
pub struct Key {
    pub name: &'static str,
    pub takes: &'static str,
}

pub const KEYS: &[Key] = &[
    Key { name: "mode", takes: "off | relay | direct" },
    Key { name: "relay.host", takes: "host name or IP; host:port sets the port too" },
    Key { name: "relay.port", takes: "1-65535" },
    Key { name: "relay.security", takes: "start_tls | implicit_tls | none" },
    Key { name: "relay.verify_certificates", takes: "true | false" },
    Key { name: "relay.ca_file", takes: "path to a PEM file, or empty to clear" },
    Key { name: "ehlo_name", takes: "host name, or empty for this machine's name" },
    Key { name: "auth.method", takes: "none | password" },
    Key { name: "auth.username", takes: "login name" },
    Key { name: "auth.mechanism", takes: "auto | plain | login" },
    Key { name: "sender.from_name", takes: "display name" },
    Key { name: "sender.from_address", takes: "name@example.com" },
    Key { name: "sender.reply_to", takes: "name@example.com, or empty to clear" },
    Key { name: "local_recipient", takes: "name@example.com for mail to root, cron and other local users, or empty to clear" },
    Key { name: "limits.timeout_secs", takes: "1-600" },
    Key { name: "limits.connection_limit", takes: "1-100" },
    Key { name: "limits.max_idle_secs", takes: "0-3600" },
    Key { name: "limits.batch_size", takes: "1-10000" },
    Key { name: "limits.max_queue_age_hours", takes: "1-8760" },
];

/// Keys whose empty value means "not set".
const OPTIONAL: &[&str] = &["relay.ca_file", "sender.reply_to", "local_recipient"];

/// Splits a pasted `host:port` (or `[v6]:port`) into its parts; a plain host gives no port.
pub fn split_host_port(input: &str) -> (String, Option<u16>) {
    let input = input.trim();
    if let Some(rest) = input.strip_prefix('[') {
        if let Some((host, tail)) = rest.split_once(']') {
            let port = tail.strip_prefix(':').and_then(|p| p.parse().ok());
            return (host.to_string(), port);
        }
    }
    match input.rsplit_once(':') {
        // More than one ':' is a bare IPv6 address, not host:port.
        Some((host, port)) if !host.contains(':') => match port.parse::<u16>() {
            Ok(p) => (host.to_string(), Some(p)),
            Err(_) => (input.to_string(), None),
        },
        _ => (input.to_string(), None),
    }
}

/// Sets one key from its text form. The change is applied to a copy and only kept if the result
/// still has the right shape; the caller validates the whole before saving.
pub fn set_key(settings: &mut Settings, key: &str, value: &str) -> Result<(), Error> {
    let known = KEYS.iter().find(|k| k.name == key).ok_or_else(|| Error::UnknownKey(key.to_string()))?;
    let bad = |message: String| Error::BadValue { key: key.to_string(), message };

    let mut doc = serde_json::to_value(&settings.profile).expect("settings always serialise");
    let mut updates = vec![(key.to_string(), value.to_string())];
    if key == "relay.host" {
        let (host, port) = split_host_port(value);
        updates = vec![(key.to_string(), host)];
        if let Some(port) = port {
            updates.push(("relay.port".into(), port.to_string()));
        }
    }
    for (k, v) in updates {
        let slot = k.split('.').try_fold(&mut doc, |node, part| node.get_mut(part)).expect("every listed key exists");
        *slot = if v.is_empty() && OPTIONAL.contains(&k.as_str()) {
            Value::Null
        } else {
            typed_value(slot, &v).map_err(|m| bad(format!("{m} (expected {})", known.takes)))?
        };
    }
    let profile = serde_json::from_value(doc).map_err(|e| bad(format!("{e} (expected {})", known.takes)))?;
    settings.profile = profile;
    Ok(())
}

/// Turns text into the JSON type the slot already holds.
fn typed_value(current: &Value, text: &str) -> Result<Value, String> {
    Ok(match current {
        Value::Bool(_) => match text.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Value::Bool(true),
            "false" | "no" | "off" | "0" => Value::Bool(false),
            _ => return Err(format!("'{text}' is not true or false")),
        },
        Value::Number(_) => Value::Number(text.trim().parse::<u64>().map_err(|_| format!("'{text}' is not a whole number"))?.into()),
        _ => Value::String(text.to_string()),
    })
}
