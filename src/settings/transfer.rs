//! Import and export of the configuration: the settings written to a file without any secret, and
//! such a file checked whole, then applied through the settings file's locked, atomic write.
//!
//! The format is the settings document itself, exactly as the settings file holds it
//! (`{"schema": 2, "profile": {...}, "profiles": {...}, "default_profile": null}`), so an export
//! round-trips byte for byte, a copied settings file imports too, and a file from before named
//! profiles (schema 1, `{"schema": 1, "profile": {...}}`) is migrated as it is read. A file of a
//! newer schema is refused. `--profile NAME` exports one profile: `"only_profile": NAME` plus
//! that profile alone (Global's fields under `profile`, or a named profile's overrides under
//! `profiles.NAME`).
//!
//! Importing a whole document REPLACES the settings (Global, every named profile, the default
//! profile): the same file gives the same setup on every machine, and importing it again changes
//! nothing. Importing one profile replaces that profile only. Every problem in the file (unknown
//! keys, wrong types, values out of range, bad profile names, the admin policy) is found and
//! listed before anything changes; the file paths named are the document's own
//! (`profile.relay.port`, `profiles.alerts.relay.host`).

use super::{fields, profiles, Error as SettingsError, Issue, Overrides, Profile, Settings, WriteOptions, Written, SCHEMA_VERSION};
use crate::error::{ErrorKind, ErrorReport};
use crate::policy;
use crate::secrets::{self, Keyring, Password};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// The key that marks a file holding one profile, and names it.
pub const ONLY_PROFILE: &str = "only_profile";

/// Everything that can go wrong with an import.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file can't be imported; `issues` lists every problem, by its path in the file.
    #[error("{} can't be imported ({} problem{}); nothing was changed", .file.display(), .issues.len(), if .issues.len() == 1 { "" } else { "s" })]
    Invalid { file: PathBuf, issues: Vec<Issue> },
    #[error("could not read {}: {source}", .file.display())]
    Read { file: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The keyring refused the password; nothing was changed.
    #[error("the password could not be saved: {0}; nothing was changed")]
    Keyring(secrets::Error),
    /// The file write failed after the password was saved, and the old one could not be put back.
    #[error("the settings were not imported ({settings}) and the previous password could not be put back: {keyring}")]
    Rollback { settings: String, keyring: secrets::Error },
}

impl From<&Error> for ErrorReport {
    fn from(e: &Error) -> Self {
        match e {
            Error::Invalid { issues, .. } => {
                let mut r = ErrorReport::new(ErrorKind::ImportInvalid, e.to_string())
                    .hint("Fix each line in the file (or export it again from a working SMTP Desk), then import again.");
                r.field = issues.first().map(|i| i.field.clone());
                r.issues = issues.clone();
                r
            }
            Error::Read { .. } => ErrorReport::new(ErrorKind::ImportInvalid, e.to_string()).hint("Check the file's path and permissions."),
            Error::Settings(s) => s.into(),
            Error::Keyring(k) => {
                let r = ErrorReport::from(k);
                ErrorReport { message: e.to_string(), ..r }
            }
            Error::Rollback { keyring, .. } => ErrorReport::new(ErrorKind::PasswordRollbackFailed, e.to_string()).hint(format!(
                "The keyring holds the new password but the settings were not imported. {} Then import again.",
                ErrorReport::from(keyring).hint.unwrap_or_default()
            )),
        }
    }
}

/// The settings as a configuration file: the whole document, or (with `profile`) that one
/// profile marked with [`ONLY_PROFILE`]. Never holds a secret: the settings hold none.
pub fn export(settings: &Settings, profile: Option<&str>) -> Result<Vec<u8>, SettingsError> {
    let mut json = match profile {
        None => serde_json::to_vec_pretty(&Settings { schema: SCHEMA_VERSION, ..settings.clone() }),
        Some(name) => {
            let name = profiles::canonical(settings, Some(name))?;
            let mut doc = Map::new();
            doc.insert("schema".into(), SCHEMA_VERSION.into());
            doc.insert(ONLY_PROFILE.into(), name.into());
            if name == profiles::GLOBAL {
                doc.insert("profile".into(), serde_json::to_value(&settings.profile).expect("a profile always serialises"));
            } else {
                let own = settings.profiles.get(name).cloned().unwrap_or_default();
                doc.insert(
                    "profiles".into(),
                    Value::Object([(name.to_string(), serde_json::to_value(own).expect("overrides serialise"))].into_iter().collect()),
                );
            }
            serde_json::to_vec_pretty(&Value::Object(doc))
        }
    }
    .expect("settings always serialise");
    json.push(b'\n');
    Ok(json)
}

/// A configuration file as read: what it holds, as settings of this schema (defaults where it
/// says nothing), and which part of the settings it replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    pub settings: Settings,
    /// The one profile it replaces (`global` or a name); `None`: the whole settings.
    pub only: Option<String>,
    /// The schema the file was written in, when it was older than this build's.
    pub migrated_from: Option<u32>,
}

impl Incoming {
    /// Replaces the part of `settings` this file holds.
    pub fn apply(&self, settings: &mut Settings) {
        match self.only.as_deref() {
            None => *settings = self.settings.clone(),
            Some(profiles::GLOBAL) => settings.profile = self.settings.profile.clone(),
            Some(name) => {
                settings.profiles.insert(name.to_string(), self.settings.profiles.get(name).cloned().unwrap_or_default());
            }
        }
    }

    /// Whether a path of the resulting settings is this file's business.
    fn in_scope(&self, path: &str) -> bool {
        match self.only.as_deref() {
            None => true,
            Some(profiles::GLOBAL) => !path.starts_with("profiles."),
            Some(name) => path.starts_with(&format!("profiles.{name}.")) || path == format!("profiles.{name}"),
        }
    }
}

fn issue(field: impl Into<String>, message: impl Into<String>) -> Issue {
    Issue { field: field.into(), message: message.into() }
}

/// Reads a configuration file's bytes; `select` (`--profile`) picks one profile out of it.
/// Returns what could be read with every problem found in its structure (unknown keys, wrong
/// types, bad names), or, when nothing more can be read (not JSON, a newer schema), those alone.
pub fn read(bytes: &[u8], select: Option<&str>) -> Result<(Incoming, Vec<Issue>), Vec<Issue>> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| {
        let text = e.to_string();
        let text = text.rfind(" at line ").map_or(text.as_str(), |i| &text[..i]).to_string();
        vec![issue("file", format!("line {}, column {}: {text} — the file is not valid JSON", e.line(), e.column()))]
    })?;
    let Value::Object(top) = doc else {
        return Err(vec![issue(
            "file",
            format!("is not a JSON object — a configuration file starts with {{\"schema\": {SCHEMA_VERSION}, ..."),
        )]);
    };
    let mut issues = Vec::new();
    let schema = match top.get("schema") {
        None => {
            issues.push(issue(
                "schema",
                format!("is missing — add \"schema\": {SCHEMA_VERSION} (or 1 for a settings file from before named profiles)"),
            ));
            SCHEMA_VERSION
        }
        Some(v) => match v.as_u64() {
            Some(n) if n > u64::from(SCHEMA_VERSION) => {
                return Err(vec![issue(
                    "schema",
                    format!(
                        "{n} is newer than this SMTP Desk reads (schema {SCHEMA_VERSION}) — upgrade SMTP Desk here, or export the file \
                         from a version that writes schema {SCHEMA_VERSION}"
                    ),
                )]);
            }
            Some(n) if n >= 1 => n as u32,
            _ => {
                issues.push(issue("schema", format!("must be a whole number from 1 to {SCHEMA_VERSION}, not {v}")));
                SCHEMA_VERSION
            }
        },
    };
    // Schema 1 had only the Global profile.
    let known: &[&str] =
        if schema == 1 { &["schema", "profile"] } else { &["schema", "profile", "profiles", "default_profile", ONLY_PROFILE] };
    for key in top.keys().filter(|k| !known.contains(&k.as_str())) {
        issues.push(issue(key.clone(), format!("is not part of a schema-{schema} configuration — remove it (keys: {})", known.join(", "))));
    }
    let mut settings = Settings::default();
    if let Some(v) = top.get("profile") {
        read_global(v, &mut settings, &mut issues);
    }
    let named: Vec<String> = match top.get("profiles") {
        Some(v) if schema >= 2 => read_named(v, &mut settings, &mut issues),
        _ => Vec::new(),
    };
    let holds = |name: &str| profiles::is_global(name) || named.iter().any(|n| n == name);
    if schema >= 2 {
        match top.get("default_profile") {
            None | Some(Value::Null) => {}
            Some(Value::String(name)) if holds(name) => settings.default_profile = (!profiles::is_global(name)).then(|| name.clone()),
            Some(Value::String(name)) => issues.push(issue(
                "default_profile",
                format!("names '{name}', a profile the file does not hold — name one of: {}", profile_list(&named)),
            )),
            Some(other) => issues.push(issue("default_profile", format!("must be a profile's name or null, not {other}"))),
        }
    }
    let marked = match top.get(ONLY_PROFILE) {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => {
            let alone = if profiles::is_global(name) { named.is_empty() } else { named.len() == 1 && named[0] == *name };
            if !alone || (profiles::is_global(name) && !top.contains_key("profile")) {
                issues.push(issue(
                    ONLY_PROFILE,
                    format!(
                        "says the file holds profile '{name}' alone, but it holds {} — remove the key to import everything",
                        holding(&top, &named)
                    ),
                ));
            }
            Some(if profiles::is_global(name) { profiles::GLOBAL.to_string() } else { name.clone() })
        }
        Some(other) => {
            issues.push(issue(ONLY_PROFILE, format!("must be a profile's name, not {other}")));
            None
        }
    };
    let only = match (select, marked) {
        (None, marked) => marked,
        (Some(wanted), Some(marked)) => {
            if !(wanted == marked || profiles::is_global(wanted) && marked == profiles::GLOBAL) {
                issues.push(issue(
                    "--profile",
                    format!(
                        "the file holds only profile '{marked}', not '{wanted}' — import it with --profile {marked} or without --profile"
                    ),
                ));
            }
            Some(marked)
        }
        (Some(wanted), None) => {
            let present = if profiles::is_global(wanted) { top.contains_key("profile") } else { named.iter().any(|n| n == wanted) };
            if !present {
                issues.push(issue("--profile", format!("the file holds no profile '{wanted}' — it holds {}", holding(&top, &named))));
            }
            Some(if profiles::is_global(wanted) { profiles::GLOBAL.to_string() } else { wanted.to_string() })
        }
    };
    let migrated_from = (schema < SCHEMA_VERSION).then_some(schema);
    Ok((Incoming { settings, only, migrated_from }, issues))
}

fn profile_list(named: &[String]) -> String {
    std::iter::once(profiles::GLOBAL.to_string()).chain(named.iter().cloned()).collect::<Vec<_>>().join(", ")
}

fn holding(top: &Map<String, Value>, named: &[String]) -> String {
    let mut parts: Vec<String> = Vec::new();
    if top.contains_key("profile") {
        parts.push("Global".into());
    }
    parts.extend(named.iter().map(|n| format!("'{n}'")));
    if parts.is_empty() {
        "no profile".into()
    } else {
        parts.join(", ")
    }
}

/// Global's fields under `profile`, by the layout of [`Profile`]: each good value goes into
/// `settings`, each bad one becomes an issue.
fn read_global(value: &Value, settings: &mut Settings, issues: &mut Vec<Issue>) {
    let skeleton = serde_json::to_value(Profile::default()).expect("a profile always serialises");
    match (value, &skeleton) {
        (Value::Object(file), Value::Object(layout)) => walk(file, layout, "", settings, issues),
        _ => issues.push(issue("profile", "must be an object of settings, e.g. {\"mode\": \"relay\", \"relay\": {\"host\": ...}}")),
    }
}

fn walk(file: &Map<String, Value>, layout: &Map<String, Value>, prefix: &str, settings: &mut Settings, issues: &mut Vec<Issue>) {
    let here = || layout.keys().cloned().collect::<Vec<_>>().join(", ");
    for (k, v) in file {
        let key = format!("{prefix}{k}");
        let path = format!("profile.{key}");
        match layout.get(k) {
            None => issues.push(issue(path, format!("is not a setting — remove it (settings here: {})", here()))),
            Some(Value::Object(inner)) if fields::find(&key).is_none() => match v {
                Value::Object(sub) => walk(sub, inner, &format!("{key}."), settings, issues),
                _ => {
                    issues.push(issue(path, format!("must be an object holding {}", inner.keys().cloned().collect::<Vec<_>>().join(", "))))
                }
            },
            Some(_) => {
                if profiles::set_override(settings, profiles::GLOBAL, &key, v.clone()).is_err() {
                    issues.push(issue(path, wrong_value(&key, v)));
                }
            }
        }
    }
}

/// The named profiles under `profiles`: names, then each override; returns the names read.
fn read_named(value: &Value, settings: &mut Settings, issues: &mut Vec<Issue>) -> Vec<String> {
    let Value::Object(map) = value else {
        issues.push(issue("profiles", "must be an object of named profiles, e.g. {\"alerts\": {\"relay.host\": \"smtp.example.com\"}}"));
        return Vec::new();
    };
    let mut names = Vec::new();
    for (name, own) in map {
        let path = format!("profiles.{name}");
        if let Some(problem) = profiles::name_problem(name) {
            issues.push(issue(path, format!("the profile name {problem}")));
            continue;
        }
        if names.iter().any(|n: &String| n.eq_ignore_ascii_case(name)) {
            issues.push(issue(path, "is the same name as another profile in the file (in another case) — keep one"));
            continue;
        }
        let Value::Object(keys) = own else {
            issues.push(issue(path, "must be an object of the settings it overrides by key, e.g. {\"relay.host\": \"smtp.example.com\"}"));
            continue;
        };
        settings.profiles.insert(name.clone(), Overrides::new());
        names.push(name.clone());
        for (key, value) in keys {
            let at = format!("{path}.{key}");
            match fields::find(key) {
                None if value.is_object() => {
                    issues.push(issue(at, "is not a setting — a profile lists its settings by dotted key, e.g. \"relay.host\""))
                }
                None => issues.push(issue(at, "is not a setting — remove it (`smtp-desk config set --help` lists the keys)")),
                Some(f) if !f.per_profile => issues.push(issue(
                    at,
                    format!("{} is set for the whole machine, in Global only — move it to \"profile\" or remove it", f.label),
                )),
                Some(_) => {
                    if profiles::set_override(settings, name, key, value.clone()).is_err() {
                        issues.push(issue(at, wrong_value(key, value)));
                    }
                }
            }
        }
    }
    names
}

fn wrong_value(key: &str, value: &Value) -> String {
    let takes = fields::find(key).map_or("a value of the right type", |f| f.takes);
    format!("{value} can't be used here — use {takes}")
}

/// Every problem the resulting settings `after` would have, in `incoming`'s part of them:
/// validation (Global and each named profile as it resolves), then the admin policy, strictly:
/// a value the file gives a locked field must be the locked one.
pub fn validate(incoming: &Incoming, before: &Settings, after: &Settings, policy: &policy::State) -> Vec<Issue> {
    let global = |field: &str| if field.starts_with("profiles.") { field.to_string() } else { format!("profile.{field}") };
    let mut found: Vec<Issue> = super::check(after).errors.into_iter().map(|i| Issue { field: global(&i.field), ..i }).collect();
    let global_errors: Vec<String> = found.iter().map(|i| i.field.clone()).collect();
    for (name, own) in &after.profiles {
        match profiles::resolve(after, Some(name)) {
            Ok(profile) => {
                let alone = Settings { profile, ..Settings::default() };
                // A problem of an inherited field is Global's, reported there once.
                let inherited = |field: &str| !own.contains_key(field) && global_errors.contains(&format!("profile.{field}"));
                found.extend(
                    super::check(&alone)
                        .errors
                        .into_iter()
                        .filter(|i| !inherited(&i.field))
                        .map(|i| issue(format!("profiles.{name}.{}", i.field), i.message)),
                );
            }
            Err(e) => found.push(issue(format!("profiles.{name}"), e.to_string())),
        }
    }
    // Against a `before` that already follows the locks, every value the file gives a locked
    // field other than the lock's is a breach, even one the machine held already.
    let mut locked = before.clone();
    policy.enforce(&mut locked);
    found.extend(policy.lock_breaches(&locked, after).into_iter().map(|i| Issue { field: global(&i.field), ..i }));
    let mut enforced = after.clone();
    policy.enforce(&mut enforced);
    found.extend(policy.check_settings(&enforced).into_iter().map(|i| Issue { field: global(&i.field), ..i }));
    found.retain(|i| incoming.in_scope(&i.field));
    found
}

/// A checked import, ready to write (or to show, for a dry run).
#[derive(Debug, Clone)]
pub struct Plan {
    pub incoming: Incoming,
    /// The settings as they are now, and as the import would leave them.
    pub before: Settings,
    pub after: Settings,
    /// The profile a password given with the import belongs to.
    pub password_profile: String,
}

/// Reads the configuration file `file` and checks it against the settings at `settings_path`:
/// every problem at once, or what the import would do.
pub fn plan(settings_path: &Path, file: &Path, select: Option<&str>, policy: &policy::State) -> Result<Plan, Error> {
    let bytes = match super::read_bytes(file) {
        Ok(Some(b)) if b.len() as u64 <= super::MAX_FILE_BYTES => b,
        Ok(Some(_)) => {
            return Err(Error::Invalid {
                file: file.into(),
                issues: vec![issue("file", format!("is larger than the {} bytes a configuration can be", super::MAX_FILE_BYTES))],
            })
        }
        Ok(None) => return Err(Error::Read { file: file.into(), source: std::io::ErrorKind::NotFound.into() }),
        Err(source) => return Err(Error::Read { file: file.into(), source }),
    };
    let loaded = super::load_from(settings_path)?;
    if let Some(read_only) = loaded.read_only {
        return Err(SettingsError::ReadOnly(Box::new(read_only)).into());
    }
    let invalid = |issues| Error::Invalid { file: file.into(), issues };
    let (incoming, mut issues) = read(&bytes, select).map_err(invalid)?;
    let before = loaded.settings;
    let mut after = before.clone();
    incoming.apply(&mut after);
    // A field whose value the file got wrong reads as its default here: its other problems
    // would only repeat it.
    for found in validate(&incoming, &before, &after, policy) {
        if !issues.iter().any(|i| i.field == found.field) {
            issues.push(found);
        }
    }
    if !issues.is_empty() {
        return Err(invalid(issues));
    }
    let password_profile = match incoming.only.as_deref() {
        Some(name) => name.to_string(),
        None => profiles::default_name(&after).to_string(),
    };
    Ok(Plan { incoming, before, after, password_profile })
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct Imported {
    pub written: Written,
    pub migrated_from: Option<u32>,
    /// `Some(true)`: the password was saved; `Some(false)`: the keyring held it already; `None`:
    /// none was given.
    pub password_saved: Option<bool>,
    /// The profile the password was saved for.
    pub password_profile: String,
    /// Named profiles the import removed (a whole import replaces them all).
    pub removed: Vec<String>,
    /// What could not be tidied up afterwards (a removed profile's keyring entry).
    pub warnings: Vec<String>,
}

impl Imported {
    /// Whether anything changed: importing the same file again changes nothing.
    pub fn changed(&self) -> bool {
        self.written.previous != self.written.settings || self.password_saved == Some(true)
    }
}

/// Imports the configuration file `file` into the settings at `settings_path`: checks everything
/// first ([`plan`]); then saves `password` (for the profile imported, else the default one) if
/// the keyring does not hold it already; then writes the settings through
/// [`super::modify_with`] (locked, atomic, checked again against the file as it is then). If
/// that write fails, the keyring is put back as it was; a keyring failure comes before any write.
pub fn import(
    keyring: &dyn Keyring,
    settings_path: &Path,
    file: &Path,
    select: Option<&str>,
    password: Option<&Password>,
    policy: &policy::State,
) -> Result<Imported, Error> {
    let plan = plan(settings_path, file, select, policy)?;
    let mut saved = None;
    let mut undo: Option<(String, Option<Password>)> = None;
    if let Some(password) = password {
        let entry = profiles::password_entry(&plan.after, Some(&plan.password_profile))?;
        let previous = keyring.get(&entry).map_err(Error::Keyring)?;
        if previous.as_ref().map(Password::expose) == Some(password.expose()) {
            saved = Some(false);
        } else {
            keyring.set(&entry, password).map_err(Error::Keyring)?;
            saved = Some(true);
            undo = Some((entry, previous));
        }
    }
    let incoming = &plan.incoming;
    let written = super::modify_with(settings_path, WriteOptions::default(), policy, |s| {
        let before = s.clone();
        incoming.apply(s);
        let issues = validate(incoming, &before, s, policy);
        if issues.is_empty() {
            Ok(())
        } else {
            Err(SettingsError::Invalid(issues))
        }
    });
    let written = match written {
        Ok(w) => w,
        Err(e) => {
            if let Some((entry, previous)) = undo {
                let put_back = match &previous {
                    Some(p) => keyring.set(&entry, p),
                    None => keyring.clear(&entry),
                };
                if let Err(keyring) = put_back {
                    return Err(Error::Rollback { settings: e.to_string(), keyring });
                }
            }
            return Err(e.into());
        }
    };
    let removed: Vec<String> = written.previous.profiles.keys().filter(|n| !written.settings.profiles.contains_key(*n)).cloned().collect();
    let mut warnings = Vec::new();
    for name in &removed {
        for result in [keyring.clear(name), secrets::clear_listener_of(name)] {
            if let Err(e) = result {
                warnings.push(format!("profile {name} was removed, but its keyring entry could not be: {e}"));
            }
        }
    }
    Ok(Imported {
        written,
        migrated_from: plan.incoming.migrated_from,
        password_saved: saved,
        password_profile: plan.password_profile,
        removed,
        warnings,
    })
}
