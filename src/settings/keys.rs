//! Editing settings one key at a time (`smtp-desk config set KEY VALUE`), with the same names the
//! window uses for its fields and errors.

use super::fields::{Field, Kind, FIELDS};
use super::{Error, Settings};
use serde_json::Value;

/// A settable key and what it takes: a field of the registry.
pub type Key = Field;

/// The keys `config set` takes and `config show` lists: the field registry.
pub const KEYS: &[Key] = FIELDS;

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
        let optional = super::fields::find(&k).is_some_and(|f| f.kind == Kind::OptionalText);
        *slot = if v.is_empty() && optional {
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
