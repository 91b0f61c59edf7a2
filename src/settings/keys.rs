//! Editing settings one key at a time (`smtp-desk config set KEY VALUE`), with the same names the
//! window uses for its fields and errors.

use super::fields::{Field, Kind, FIELDS};
use super::{profiles, Error, Settings};
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

/// Sets one key of Global from its text form: [`set_key_in`] for Global.
pub fn set_key(settings: &mut Settings, key: &str, value: &str) -> Result<(), Error> {
    set_key_in(settings, None, key, value)
}

/// Sets one key of profile `profile` (`None`: Global) from its text form. The change is applied
/// to a copy and only kept if the result still has the right shape; the caller validates the
/// whole before saving. For a named profile the value becomes an override, kept even if it
/// equals Global's. A pasted `host:port` sets both the host and the port.
pub fn set_key_in(settings: &mut Settings, profile: Option<&str>, key: &str, value: &str) -> Result<(), Error> {
    let name = profiles::canonical(settings, Some(profile.unwrap_or(profiles::GLOBAL)))?.to_string();
    let known = KEYS.iter().find(|k| k.name == key).ok_or_else(|| Error::UnknownKey(key.to_string()))?;
    if name != profiles::GLOBAL && !known.per_profile {
        return Err(Error::GlobalOnly { key: key.to_string() });
    }
    let mut updates = vec![(key.to_string(), value.to_string())];
    if key == "relay.host" {
        let (host, port) = split_host_port(value);
        updates = vec![(key.to_string(), host)];
        if let Some(port) = port {
            updates.push(("relay.port".into(), port.to_string()));
        }
    }
    // Typed like Global's field: the type of a field is the same in every profile.
    let doc = serde_json::to_value(&settings.profile).expect("settings always serialise");
    let mut edited = settings.clone();
    for (k, v) in updates {
        let field = super::fields::find(&k).expect("a listed key");
        let expected = |message: String| Error::BadValue { key: k.clone(), message: format!("{message} (expected {})", field.takes) };
        let slot = super::fields::value_of(&doc, &k).expect("every listed key exists");
        let typed = if v.is_empty() && field.kind == Kind::OptionalText { Value::Null } else { typed_value(slot, &v).map_err(expected)? };
        profiles::set_override(&mut edited, &name, &k, typed).map_err(|e| match e {
            Error::BadValue { message, .. } => expected(message),
            other => other,
        })?;
    }
    *settings = edited;
    Ok(())
}

/// Makes `key` of the named profile `profile` inherit Global's value again. A key the profile
/// holds is removed even when it is not a setting (a hand-edited file), so the fix `check` names works.
pub fn unset_key(settings: &mut Settings, profile: &str, key: &str) -> Result<(), Error> {
    let name = profiles::canonical(settings, Some(profile))?.to_string();
    if let Some(own) = settings.profiles.get_mut(&name) {
        if own.remove(key).is_some() {
            return Ok(());
        }
    }
    profiles::reset(settings, &name, key)
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
