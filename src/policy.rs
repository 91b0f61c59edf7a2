//! The admin policy: a read-only file in the system location that locks fields and forbids weak
//! settings for every profile and every user of the machine.
//!
//! An invalid policy file is never ignored: while it is broken, nothing is sent. It does not stop
//! the settings from being saved (its locks are unknown, so none is applied), and every save says
//! so ([`crate::settings::Written::policy_problem`]; the CLI prints it as a warning).
//!
//! Every settings write goes through [`State::guard`] (from `settings::modify`): a change that
//! sets a locked field to another value is refused; a value the file held from before the policy
//! (or a policy change) is replaced by the locked one, silently, since no one chose it in this
//! edit; and a write whose result still breaks a rule (TLS, relay hosts, sender domain) is refused.
//! Validation (`settings::check`) knows nothing of the policy: the window shows
//! [`State::report`] beside it.

use crate::error::{ErrorKind, ErrorReport};
use crate::settings::{fields, profiles, Issue, Profile, Settings};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use ts_rs::TS;

/// The environment variable naming another policy file (documented; for packagers and tests).
pub const PATH_VAR: &str = "SMTP_DESK_POLICY";
/// The policy file layout this build reads.
pub const SCHEMA_VERSION: u32 = 1;
/// The largest policy file read.
const MAX_FILE_BYTES: u64 = 256 * 1024;

/// The policy file's contents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    pub schema: u32,
    /// Shown to users beside everything the policy decides, e.g. "Set by IT (it@example.com)".
    pub reason: String,
    /// Fields fixed to a value, by dotted key (`relay.host`): every profile gets this value and
    /// no one can change it.
    pub lock: BTreeMap<String, Value>,
    /// Certificate checking can't be turned off (locks `relay.verify_certificates` to true).
    pub require_certificate_verification: bool,
    /// Mail leaves only over TLS: security `none` is refused.
    pub require_tls: bool,
    /// The only relay hosts allowed (`smtp.example.com`, or `*.example.com` for its subdomains);
    /// empty: any.
    pub allowed_relay_hosts: Vec<String>,
    /// Mail is sent only from this domain: the From address (and envelope senders at intake).
    pub sender_domain: Option<String>,
    /// The SMTP listener can't be turned on (locks `listener.enabled` to false).
    pub disable_listener: bool,
}

/// The policy as found on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// No policy file: nothing is enforced.
    Absent,
    Active {
        path: PathBuf,
        policy: Policy,
    },
    /// The file exists but can't be used: nothing is sent until it is fixed.
    Invalid {
        path: PathBuf,
        problem: String,
    },
}

/// A field the policy decides, as the window shows it (disabled, with the reason).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct Lock {
    pub field: String,
    pub value: Value,
    /// Why, in words: the rule and the policy's own reason.
    pub reason: String,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("the admin policy {path} can't be used: {problem}")]
    Invalid { path: PathBuf, problem: String },
    #[error("the admin policy {path} forbids this: {}", summary(.issues))]
    Violated { path: PathBuf, issues: Vec<Issue> },
}

fn summary(issues: &[Issue]) -> String {
    issues.iter().map(|i| format!("{}: {}", i.field, i.message)).collect::<Vec<_>>().join("; ")
}

impl From<&Error> for ErrorReport {
    fn from(e: &Error) -> Self {
        match e {
            Error::Invalid { path, .. } => ErrorReport::new(ErrorKind::PolicyInvalid, e.to_string()).hint(format!(
                "Nothing is sent until the policy is fixed. Ask whoever manages this machine to correct {} (or remove it).",
                path.display()
            )),
            Error::Violated { issues, .. } => {
                let mut r = ErrorReport::new(ErrorKind::PolicyViolated, e.to_string())
                    .hint("The admin policy decides these fields; choose values it allows. Nothing was changed.");
                r.field = issues.first().map(|i| i.field.clone());
                r.issues = issues.clone();
                r
            }
        }
    }
}

/// Where the policy file is: `SMTP_DESK_POLICY` if set, else the system location
/// (Linux `/etc/smtp-desk/policy.json`, under `SMTP_DESK_SYSTEM_ROOT` if set; macOS `/Library/Application Support/SMTP Desk/policy.json`,
/// Windows `%ProgramData%\SMTP Desk\policy.json`).
pub fn path() -> PathBuf {
    if let Some(p) = std::env::var_os(PATH_VAR).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    system_path()
}

#[cfg(target_os = "windows")]
fn system_path() -> PathBuf {
    let base = std::env::var_os("ProgramData").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(r"C:\ProgramData"));
    base.join("SMTP Desk").join("policy.json")
}

#[cfg(target_os = "macos")]
fn system_path() -> PathBuf {
    PathBuf::from("/Library/Application Support/SMTP Desk/policy.json")
}

#[cfg(not(any(target_os = "windows", target_os = "macos")))]
fn system_path() -> PathBuf {
    // Under SMTP_DESK_SYSTEM_ROOT when set, with system mode's other machine-wide files.
    crate::system::settings_dir().join("policy.json")
}

/// Reads the policy from its usual place.
pub fn load() -> State {
    load_from(&path())
}

/// Reads the policy file at `path`: absent, active, or invalid (never an error: an invalid
/// policy is a state that stops sending).
pub fn load_from(path: &Path) -> State {
    let invalid = |problem: String| State::Invalid { path: path.to_path_buf(), problem };
    let bytes = match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return State::Absent,
        Err(e) => return invalid(format!("it could not be read ({e})")),
        Ok(m) if m.len() > MAX_FILE_BYTES => return invalid(format!("it is {} bytes, more than a policy can be", m.len())),
        Ok(_) => match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => return invalid(format!("it could not be read ({e})")),
        },
    };
    match parse(&bytes) {
        Ok(policy) => State::Active { path: path.to_path_buf(), policy },
        Err(problems) => invalid(problems.join("; ")),
    }
}

/// The keys a policy file may hold.
const KEYS: &[&str] = &[
    "schema",
    "reason",
    "lock",
    "require_certificate_verification",
    "require_tls",
    "allowed_relay_hosts",
    "sender_domain",
    "disable_listener",
];

/// Parses and checks a policy document: every problem found, each naming its key and the fix.
pub fn parse(bytes: &[u8]) -> Result<Policy, Vec<String>> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| {
        let text = e.to_string();
        let text = text.rfind(" at line ").map_or(text.as_str(), |i| &text[..i]).to_string();
        vec![format!("line {}, column {}: {text}", e.line(), e.column())]
    })?;
    let Value::Object(map) = &doc else {
        return Err(vec!["it is not a JSON object — a policy is {\"schema\": 1, ...}".into()]);
    };
    let mut problems = Vec::new();
    if !map.contains_key("schema") {
        problems.push(format!("schema: missing — add \"schema\": {SCHEMA_VERSION}"));
    }
    // Each key on its own, so one wrong type does not hide the next; the keys that read well are
    // checked further below.
    let mut good = map.clone();
    for (key, value) in map {
        if !KEYS.contains(&key.as_str()) {
            problems.push(format!("'{key}' is not a policy key — remove it (keys: {})", KEYS.join(", ")));
            good.remove(key);
            continue;
        }
        let one = Value::Object([(key.clone(), value.clone())].into_iter().collect());
        if let Err(e) = serde_json::from_value::<Policy>(one) {
            problems.push(format!("{key}: {e}"));
            good.remove(key);
        }
    }
    let policy: Policy = serde_json::from_value(Value::Object(good.clone())).map_err(|e| vec![e.to_string()])?;
    if good.contains_key("schema") && policy.schema != SCHEMA_VERSION {
        problems.push(format!("schema {} is not one this SMTP Desk knows (it reads schema {SCHEMA_VERSION})", policy.schema));
    }
    let mut locked = Settings::default();
    for (key, value) in &policy.lock {
        if fields::find(key).is_none() {
            problems.push(format!("lock: '{key}' is not a setting — use a key from `smtp-desk config set --help`"));
        } else if let Err(e) = profiles::set_override(&mut locked, profiles::GLOBAL, key, value.clone()) {
            problems.push(format!("lock: {e}"));
        }
    }
    for (flag, key, value) in [
        (policy.require_certificate_verification, "relay.verify_certificates", Value::Bool(true)),
        (policy.disable_listener, "listener.enabled", Value::Bool(false)),
    ] {
        if flag && policy.lock.get(key).is_some_and(|v| v != &value) {
            problems.push(format!("lock: {key} contradicts the policy's own rules — lock it to {value} or remove the lock"));
        }
    }
    for host in &policy.allowed_relay_hosts {
        let name = host.strip_prefix("*.").unwrap_or(host);
        if crate::settings::host_name_problem(name).is_err() && name.parse::<std::net::IpAddr>().is_err() {
            problems.push(format!("allowed_relay_hosts: '{host}' is not a host name, *.domain or IP address"));
        }
    }
    if let Some(domain) = &policy.sender_domain {
        if crate::settings::host_name_problem(domain).is_err() {
            problems.push(format!("sender_domain: '{domain}' is not a domain name"));
        }
    }
    if problems.is_empty() {
        // A locked value that validation refuses, or that breaks the policy's own rules, could
        // never be saved: say so now rather than at every save.
        for issue in crate::settings::check(&locked).errors {
            if policy.lock.contains_key(&issue.field) {
                problems.push(format!("lock: {}: {}", issue.field, issue.message));
            }
        }
        let state = State::Active { path: PathBuf::new(), policy: policy.clone() };
        for issue in state.violations(&locked.profile) {
            if policy.lock.contains_key(&issue.field) {
                problems.push(format!("lock: {} contradicts the policy's own rules: {}", issue.field, issue.message));
            }
        }
    }
    if problems.is_empty() {
        Ok(policy)
    } else {
        Err(problems)
    }
}

impl State {
    /// Whether mail may be sent at all: not while the policy file is invalid.
    pub fn ready(&self) -> Result<(), Error> {
        match self {
            State::Invalid { path, problem } => Err(Error::Invalid { path: path.clone(), problem: problem.clone() }),
            _ => Ok(()),
        }
    }

    /// The policy in force, if any.
    pub fn policy(&self) -> Option<&Policy> {
        match self {
            State::Active { policy, .. } => Some(policy),
            _ => None,
        }
    }

    /// The policy file this state was read from (the usual place when absent).
    pub fn path(&self) -> PathBuf {
        match self {
            State::Active { path, .. } | State::Invalid { path, .. } => path.clone(),
            State::Absent => path(),
        }
    }

    /// Every field the policy fixes, with its value and why.
    pub fn locks(&self) -> Vec<Lock> {
        let Some(p) = self.policy() else { return Vec::new() };
        let because = |rule: &str| if p.reason.is_empty() { rule.to_string() } else { format!("{rule} ({})", p.reason) };
        let mut out: Vec<Lock> = p
            .lock
            .iter()
            .map(|(k, v)| Lock { field: k.clone(), value: v.clone(), reason: because("Locked by the admin policy") })
            .collect();
        let mut implied = |field: &str, value: Value, rule: &str| {
            if !out.iter().any(|l| l.field == field) {
                out.push(Lock { field: field.into(), value, reason: because(rule) });
            }
        };
        if p.require_certificate_verification {
            implied("relay.verify_certificates", Value::Bool(true), "The admin policy requires certificate checking");
        }
        if p.disable_listener {
            implied("listener.enabled", Value::Bool(false), "The admin policy turns the SMTP listener off");
        }
        out
    }

    /// Makes `settings` follow the locks: each locked field takes its value in Global, and no
    /// named profile overrides it. Used before every save, so the file never contradicts the policy.
    pub fn enforce(&self, settings: &mut Settings) {
        for lock in self.locks() {
            // The value was checked when the policy was parsed.
            let _ = profiles::set_override(settings, profiles::GLOBAL, &lock.field, lock.value.clone());
            for own in settings.profiles.values_mut() {
                own.remove(&lock.field);
            }
        }
    }

    /// What in `profile` breaks the rules that are not locks (TLS, relay hosts, sender domain),
    /// by plain field key.
    pub fn violations(&self, profile: &Profile) -> Vec<Issue> {
        let Some(p) = self.policy() else { return Vec::new() };
        let mut out = Vec::new();
        let because = |text: String| Issue {
            field: String::new(),
            message: if p.reason.is_empty() { text } else { format!("{text} ({})", p.reason) },
        };
        let relay = profile.mode == crate::settings::Mode::Relay;
        // Direct delivery hands mail to each recipient's own servers: it would bypass the allowed
        // relays, and it can't promise TLS to servers no one chose.
        if profile.mode == crate::settings::Mode::Direct && (p.require_tls || !p.allowed_relay_hosts.is_empty()) {
            let rule = if p.allowed_relay_hosts.is_empty() { "requires TLS" } else { "allows only its listed relay servers" };
            out.push(Issue {
                field: "mode".into(),
                ..because(format!("the admin policy {rule}, which direct delivery can't promise — choose Relay"))
            });
        }
        if p.require_tls && relay && profile.relay.security == crate::settings::Security::None {
            out.push(Issue {
                field: "relay.security".into(),
                ..because("the admin policy requires TLS — choose STARTTLS or Implicit TLS".into())
            });
        }
        if relay && !p.allowed_relay_hosts.is_empty() && !host_allowed(&p.allowed_relay_hosts, &profile.relay.host) {
            out.push(Issue {
                field: "relay.host".into(),
                ..because(format!("the admin policy allows only these servers: {}", p.allowed_relay_hosts.join(", ")))
            });
        }
        if let Some(domain) = &p.sender_domain {
            let from = profile.sender.from_address.trim();
            if !from.is_empty() && !address_in(from, domain) {
                out.push(Issue {
                    field: "sender.from_address".into(),
                    ..because(format!("the admin policy allows only addresses @{domain} — use one of those"))
                });
            }
        }
        for lock in self.locks() {
            let doc = serde_json::to_value(profile).expect("a profile always serialises");
            if fields::value_of(&doc, &lock.field) != Some(&lock.value) {
                out.push(Issue { field: lock.field.clone(), message: format!("must be {}: {}", lock.value, lock.reason) });
            }
        }
        out
    }

    /// Every violation in the whole settings: Global's fields by plain key, a named profile's as
    /// `profiles.NAME.KEY`.
    pub fn check_settings(&self, settings: &Settings) -> Vec<Issue> {
        let mut out = Vec::new();
        for name in profiles::names(settings) {
            let Ok(profile) = profiles::resolve(settings, Some(&name)) else { continue };
            for mut issue in self.violations(&profile) {
                if name != profiles::GLOBAL {
                    issue.field = format!("profiles.{name}.{}", issue.field);
                }
                if !out.contains(&issue) {
                    out.push(issue);
                }
            }
        }
        out
    }

    /// What the window shows beside the fields: every violation of the settings as they stand
    /// (a locked field holding another value, a broken rule), by the field names of
    /// [`State::check_settings`]; while the policy file is invalid, one issue on the field
    /// `policy` saying so (nothing is sent until it is fixed).
    pub fn report(&self, settings: &Settings) -> Vec<Issue> {
        match self.ready() {
            Err(e) => vec![Issue { field: "policy".into(), message: format!("{e} — nothing is sent until it is fixed") }],
            Ok(()) => self.check_settings(settings),
        }
    }

    /// The locked fields an edit from `before` to `after` sets to another value than the lock:
    /// Global's by plain key, a named profile's override as `profiles.NAME.KEY`. A value `after`
    /// still holds from `before` is not the edit's doing: [`State::enforce`] replaces it.
    pub fn lock_breaches(&self, before: &Settings, after: &Settings) -> Vec<Issue> {
        let Some(p) = self.policy() else { return Vec::new() };
        let why = if p.reason.is_empty() { String::new() } else { format!(" ({})", p.reason) };
        let path = self.path();
        let doc = |s: &Settings| serde_json::to_value(&s.profile).expect("a profile always serialises");
        let (old, new) = (doc(before), doc(after));
        let mut out = Vec::new();
        for lock in self.locks() {
            let breach = |field: String| Issue {
                field,
                message: format!("is locked by the admin policy {} to {}{why}", path.display(), lock.value),
            };
            let now = fields::value_of(&new, &lock.field);
            if now != Some(&lock.value) && now != fields::value_of(&old, &lock.field) {
                out.push(breach(lock.field.clone()));
            }
            for (name, own) in &after.profiles {
                let Some(value) = own.get(&lock.field) else { continue };
                let was = before.profiles.get(name).and_then(|o| o.get(&lock.field));
                if value != &lock.value && was != Some(value) {
                    out.push(breach(format!("profiles.{name}.{}", lock.field)));
                }
            }
        }
        out
    }

    /// Brings an edit in line with the policy before it is written: refuses one that sets a
    /// locked field to another value ([`State::lock_breaches`]), applies the locks
    /// ([`State::enforce`]), then refuses a result that breaks a rule ([`State::check_settings`]).
    /// An invalid policy guards nothing (its locks are unknown); saving still works.
    pub fn guard(&self, before: &Settings, after: &mut Settings) -> Result<(), Error> {
        let breaches = self.lock_breaches(before, after);
        if !breaches.is_empty() {
            return Err(Error::Violated { path: self.path(), issues: breaches });
        }
        self.enforce(after);
        let issues = self.check_settings(after);
        if !issues.is_empty() {
            return Err(Error::Violated { path: self.path(), issues });
        }
        Ok(())
    }

    /// The profile `name` (the default when `None`) as mail is sent with it: resolved, locks
    /// applied, and refused while the policy is invalid or the profile breaks it.
    pub fn effective(&self, settings: &Settings, name: Option<&str>) -> Result<Profile, crate::settings::Error> {
        self.ready()?;
        let mut enforced = settings.clone();
        self.enforce(&mut enforced);
        let profile = profiles::resolve(&enforced, name)?;
        let issues = self.violations(&profile);
        if !issues.is_empty() {
            return Err(Error::Violated { path: self.path(), issues }.into());
        }
        Ok(profile)
    }

    /// Refuses an envelope sender outside the policy's sender domain (intake).
    pub fn check_sender(&self, address: &str) -> Result<(), Error> {
        match self.policy().and_then(|p| p.sender_domain.as_deref()) {
            Some(domain) if !address.is_empty() && !address_in(address, domain) => Err(Error::Violated {
                path: self.path(),
                issues: vec![Issue {
                    field: "sender".into(),
                    message: format!("{address} is not @{domain}, the only sender domain the admin policy allows"),
                }],
            }),
            _ => Ok(()),
        }
    }
}

fn address_in(address: &str, domain: &str) -> bool {
    address.rsplit_once('@').is_some_and(|(_, d)| d.trim_end_matches('>').eq_ignore_ascii_case(domain))
}

fn host_allowed(allowed: &[String], host: &str) -> bool {
    let host = host.trim().trim_end_matches('.');
    allowed.iter().any(|a| match a.strip_prefix("*.") {
        Some(parent) => host.len() > parent.len() + 1 && host.to_ascii_lowercase().ends_with(&format!(".{}", parent.to_ascii_lowercase())),
        None => a.eq_ignore_ascii_case(host),
    })
}
