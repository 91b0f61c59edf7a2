//! Named profiles: their names, how each inherits from Global, and creating, renaming, deleting
//! and overriding them (in the settings document; keyring entries move in `account`).

use super::fields::{self, FIELDS};
use super::{Error, Overrides, Profile, Settings};
use serde_json::Value;

/// The name of the Global profile wherever a profile is named (`--profile global`, the queue).
pub const GLOBAL: &str = "global";
/// Names a profile can't take: Global's, and the keyring entry Global's password has always had.
const RESERVED: &[&str] = &[GLOBAL, crate::secrets::DEFAULT_PROFILE];
/// The longest profile name.
pub const MAX_NAME_CHARS: usize = 40;

/// What is wrong with `name` as a new profile's name, if anything.
pub fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("is empty — give the profile a short name such as alerts".into());
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Some(format!("is longer than {MAX_NAME_CHARS} characters — choose a shorter name"));
    }
    // Dots would read as key separators in `profiles.NAME.relay.host`; spaces and the rest would
    // need quoting on every command line.
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') || !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Some("may use only letters, digits, - and _, starting with a letter or digit (e.g. marketing-site)".into());
    }
    if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(name)) {
        return Some(format!("'{name}' is reserved — choose another name"));
    }
    None
}

/// Whether `name` names the Global profile (any case).
pub fn is_global(name: &str) -> bool {
    name.eq_ignore_ascii_case(GLOBAL)
}

/// Every profile's name: Global first, then the named ones in order.
pub fn names(settings: &Settings) -> Vec<String> {
    std::iter::once(GLOBAL.to_string()).chain(settings.profiles.keys().cloned()).collect()
}

/// The profile used when none is named.
pub fn default_name(settings: &Settings) -> &str {
    settings.default_profile.as_deref().unwrap_or(GLOBAL)
}

/// `name` as the settings spell it (`global` for Global), or [`Error::UnknownProfile`].
/// `None` is the default profile.
pub fn canonical<'a>(settings: &'a Settings, name: Option<&'a str>) -> Result<&'a str, Error> {
    let name = name.unwrap_or_else(|| default_name(settings));
    if is_global(name) {
        return Ok(GLOBAL);
    }
    settings.profiles.get_key_value(name).map(|(k, _)| k.as_str()).ok_or_else(|| unknown(settings, name))
}

fn unknown(settings: &Settings, name: &str) -> Error {
    Error::UnknownProfile { name: name.to_string(), known: names(settings) }
}

/// The overrides of a named profile (`None` for Global, which overrides nothing).
pub fn overrides<'a>(settings: &'a Settings, name: &str) -> Result<Option<&'a Overrides>, Error> {
    let name = canonical(settings, Some(name))?;
    Ok(settings.profiles.get(name))
}

/// The profile `name` as it applies: Global's fields with the named profile's overrides laid on
/// top. (The admin policy is applied on top of this by `policy::State::effective`.)
pub fn resolve(settings: &Settings, name: Option<&str>) -> Result<Profile, Error> {
    let name = canonical(settings, name)?;
    let Some(own) = settings.profiles.get(name) else {
        return Ok(settings.profile.clone());
    };
    overlay(&settings.profile, name, own)
}

/// `base` with `own` laid on top; a key that is unknown, Global-only or of the wrong type is
/// [`Error::BadValue`] naming `profiles.NAME.KEY`.
pub fn overlay(base: &Profile, name: &str, own: &Overrides) -> Result<Profile, Error> {
    let mut doc = serde_json::to_value(base).expect("a profile always serialises");
    for (key, value) in own {
        let bad = |message: String| Error::BadValue { key: format!("profiles.{name}.{key}"), message };
        let field = fields::find(key).ok_or_else(|| bad("is not a setting — remove it".into()))?;
        if !field.per_profile {
            return Err(bad(format!("{} is set for the whole machine, in Global only — remove it from this profile", field.label)));
        }
        let slot = key.split('.').try_fold(&mut doc, |node, part| node.get_mut(part)).expect("every registry key exists in a profile");
        *slot = value.clone();
    }
    serde_json::from_value(doc).map_err(|e| {
        // serde names the type, not the key: find the key whose value does not fit.
        let key = own
            .iter()
            .find(|(k, v)| {
                let mut one = serde_json::to_value(base).expect("a profile always serialises");
                if let Some(slot) = k.split('.').try_fold(&mut one, |node, part| node.get_mut(part)) {
                    *slot = (*v).clone();
                }
                serde_json::from_value::<Profile>(one).is_err()
            })
            .map(|(k, _)| k.as_str())
            .unwrap_or("?");
        Error::BadValue { key: format!("profiles.{name}.{key}"), message: e.to_string() }
    })
}

/// Sets `key` of profile `name` to `value`: Global's field, or a named profile's override.
/// An override equal to Global's value is kept: the user chose it, and it stays when Global changes.
pub fn set_override(settings: &mut Settings, name: &str, key: &str, value: Value) -> Result<(), Error> {
    let field = fields::find(key).ok_or_else(|| Error::UnknownKey(key.to_string()))?;
    let name = canonical(settings, Some(name))?.to_string();
    if name == GLOBAL {
        let mut doc = serde_json::to_value(&settings.profile).expect("a profile always serialises");
        let slot = key.split('.').try_fold(&mut doc, |node, part| node.get_mut(part)).expect("every registry key exists in a profile");
        *slot = value;
        settings.profile = serde_json::from_value(doc).map_err(|e| Error::BadValue { key: key.to_string(), message: e.to_string() })?;
        return Ok(());
    }
    if !field.per_profile {
        return Err(Error::GlobalOnly { key: key.to_string() });
    }
    let mut own = settings.profiles.get(&name).cloned().unwrap_or_default();
    own.insert(key.to_string(), value);
    overlay(&settings.profile, &name, &own)?;
    settings.profiles.insert(name, own);
    Ok(())
}

/// Makes `key` of the named profile `name` inherit Global's value again.
pub fn reset(settings: &mut Settings, name: &str, key: &str) -> Result<(), Error> {
    fields::find(key).ok_or_else(|| Error::UnknownKey(key.to_string()))?;
    let name = canonical(settings, Some(name))?.to_string();
    if name == GLOBAL {
        return Err(Error::BadValue { key: key.to_string(), message: "Global inherits from nothing — set a value instead".into() });
    }
    if let Some(own) = settings.profiles.get_mut(&name) {
        own.remove(key);
    }
    Ok(())
}

/// Adds the profile `name`, inheriting everything, or starting with a copy of `copy_of`'s overrides.
pub fn create(settings: &mut Settings, name: &str, copy_of: Option<&str>) -> Result<(), Error> {
    if let Some(problem) = name_problem(name) {
        return Err(Error::BadProfileName { name: name.to_string(), problem });
    }
    if settings.profiles.keys().any(|k| k.eq_ignore_ascii_case(name)) {
        return Err(Error::ProfileExists(name.to_string()));
    }
    let own = match copy_of {
        Some(from) => overrides(settings, from)?.cloned().unwrap_or_default(),
        None => Overrides::new(),
    };
    settings.profiles.insert(name.to_string(), own);
    Ok(())
}

/// Renames a named profile (the default follows it).
pub fn rename(settings: &mut Settings, old: &str, new: &str) -> Result<(), Error> {
    let old = canonical(settings, Some(old))?.to_string();
    if old == GLOBAL {
        return Err(Error::BadProfileName { name: old, problem: "Global can't be renamed".into() });
    }
    if let Some(problem) = name_problem(new) {
        return Err(Error::BadProfileName { name: new.to_string(), problem });
    }
    if settings.profiles.keys().any(|k| k.eq_ignore_ascii_case(new) && *k != old) {
        return Err(Error::ProfileExists(new.to_string()));
    }
    let own = settings.profiles.remove(&old).expect("canonical found it");
    settings.profiles.insert(new.to_string(), own);
    if settings.default_profile.as_deref() == Some(old.as_str()) {
        settings.default_profile = Some(new.to_string());
    }
    Ok(())
}

/// Removes a named profile; if it was the default, Global becomes the default.
pub fn delete(settings: &mut Settings, name: &str) -> Result<(), Error> {
    let name = canonical(settings, Some(name))?.to_string();
    if name == GLOBAL {
        return Err(Error::BadProfileName { name, problem: "Global can't be deleted: every profile inherits from it".into() });
    }
    settings.profiles.remove(&name);
    if settings.default_profile.as_deref() == Some(name.as_str()) {
        settings.default_profile = None;
    }
    Ok(())
}

/// Makes `name` the profile used when none is named.
pub fn set_default(settings: &mut Settings, name: &str) -> Result<(), Error> {
    let name = canonical(settings, Some(name))?.to_string();
    settings.default_profile = (name != GLOBAL).then_some(name);
    Ok(())
}

/// The keyring entries (by profile, as `secrets` takes them) that may hold the SMTP password of
/// profile `name`, in the order they are read: its own, then Global's, but Global's only while
/// the profile logs in to Global's server as Global's user: an inherited password must never go
/// to another server or account.
pub fn password_entries(settings: &Settings, name: Option<&str>) -> Result<Vec<String>, Error> {
    let name = canonical(settings, name)?;
    if name == GLOBAL {
        return Ok(vec![crate::secrets::DEFAULT_PROFILE.to_string()]);
    }
    let own = settings.profiles.get(name).expect("canonical found it");
    let same_login = !["relay.host", "relay.port", "auth.username"].iter().any(|k| own.contains_key(*k));
    let mut entries = vec![name.to_string()];
    if same_login {
        entries.push(crate::secrets::DEFAULT_PROFILE.to_string());
    }
    Ok(entries)
}

/// The keyring entry a password typed for profile `name` is saved under.
pub fn password_entry(settings: &Settings, name: Option<&str>) -> Result<String, Error> {
    let name = canonical(settings, name)?;
    Ok(if name == GLOBAL { crate::secrets::DEFAULT_PROFILE.to_string() } else { name.to_string() })
}

/// The listener login of each profile that sets one (its own, not inherited), for choosing the
/// profile of mail that arrives over the listener: `(login, profile)`.
pub fn listener_logins(settings: &Settings) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if !settings.profile.listener.username.is_empty() {
        out.push((settings.profile.listener.username.clone(), GLOBAL.to_string()));
    }
    for (name, own) in &settings.profiles {
        if let Some(Value::String(login)) = own.get("listener.username") {
            if !login.is_empty() {
                out.push((login.clone(), name.clone()));
            }
        }
    }
    out
}

/// Every per-profile field's key, for the window's "inherited" marks and `profile show`.
pub fn overridable_keys() -> impl Iterator<Item = &'static str> {
    FIELDS.iter().filter(|f| f.per_profile).map(|f| f.name)
}
