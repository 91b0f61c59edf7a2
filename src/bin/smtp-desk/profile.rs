//! `smtp-desk profile list|show|create|rename|delete|default`: the named profiles, each edit made
//! under the settings lock and recorded in the event log.

use crate::{Outcome, EXIT_BAD_INPUT, EXIT_FAILURE};
use clap::Subcommand;
use serde_json::{json, Value};
use smtp_desk::error::ErrorReport;
use smtp_desk::journal::events::{self, Actor, ProfileAction};
use smtp_desk::settings::{self, fields, profiles, Settings};

#[derive(Subcommand)]
pub enum ProfileCommand {
    /// List the profiles: the default marked, each one's mode and relay host, and what it overrides.
    List {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Show every field of a profile: its value and whether it is the profile's own or inherited from Global.
    Show {
        name: String,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Add a profile that inherits everything from Global (or starts as a copy of another's overrides).
    Create {
        name: String,
        /// Start with this profile's overrides.
        #[arg(long, value_name = "PROFILE")]
        copy_of: Option<String>,
    },
    /// Rename a profile; its saved passwords move with it.
    Rename { old: String, new: String },
    /// Delete a profile and its saved passwords.
    Delete { name: String },
    /// Make a profile the one used when none is named (`global` for Global).
    Default { name: String },
}

pub fn run(command: ProfileCommand) -> Outcome {
    match command {
        ProfileCommand::List { json } => list(json),
        ProfileCommand::Show { name, json } => show(&name, json),
        ProfileCommand::Create { name, copy_of } => {
            edit(|s| profiles::create(s, &name, copy_of.as_deref()))?;
            done(&ProfileAction::Created { copy_of }, &name, format!("Profile {name} created."))
        }
        ProfileCommand::Rename { old, new } => {
            let path = crate::config::settings_path()?;
            smtp_desk::account::rename_profile(&path, &old, &new).map_err(|r| (code_of_report(&r), r))?;
            done(&ProfileAction::Renamed { from: old.clone() }, &new, format!("Profile {old} renamed to {new}."))
        }
        ProfileCommand::Delete { name } => {
            let path = crate::config::settings_path()?;
            smtp_desk::account::delete_profile(&path, &name).map_err(|r| (code_of_report(&r), r))?;
            done(&ProfileAction::Deleted, &name, format!("Profile {name} deleted."))
        }
        ProfileCommand::Default { name } => {
            let written = edit(|s| profiles::set_default(s, &name))?;
            let shown = profiles::default_name(&written.settings).to_string();
            done(&ProfileAction::MadeDefault, &shown, format!("{shown} is now the default profile."))
        }
    }
}

/// Exit code of a settings error: bad input (unknown profile, bad name, invalid result) is 2.
pub fn code_of(e: &settings::Error) -> u8 {
    use settings::Error as E;
    match e {
        E::Invalid(_)
        | E::UnknownKey(_)
        | E::BadValue { .. }
        | E::UnknownProfile { .. }
        | E::ProfileExists(_)
        | E::BadProfileName { .. }
        | E::GlobalOnly { .. }
        | E::Policy(_) => EXIT_BAD_INPUT,
        _ => EXIT_FAILURE,
    }
}

/// The same for an error already turned into a report (`account`'s).
fn code_of_report(r: &ErrorReport) -> u8 {
    use smtp_desk::error::ErrorKind as K;
    match r.kind {
        K::InvalidSettings
        | K::UnknownKey
        | K::BadValue
        | K::UnknownProfile
        | K::ProfileExists
        | K::BadProfileName
        | K::GlobalOnlyField
        | K::PolicyViolated => EXIT_BAD_INPUT,
        _ => EXIT_FAILURE,
    }
}

fn edit(change: impl FnOnce(&mut Settings) -> Result<(), settings::Error>) -> Result<settings::Written, (u8, ErrorReport)> {
    let path = crate::config::settings_path()?;
    settings::modify(&path, settings::WriteOptions::default(), change).map_err(|e| (code_of(&e), (&e).into()))
}

fn done(action: &ProfileAction, name: &str, message: String) -> Outcome {
    events::record_at(&smtp_desk::paths::outbox_file(), &events::profile_changed(action, name, Actor::CommandLine));
    eprintln!("{message}");
    Ok(())
}

fn load() -> Result<Settings, (u8, ErrorReport)> {
    let path = crate::config::settings_path()?;
    let loaded = settings::load_from(&path).map_err(|e| (EXIT_FAILURE, (&e).into()))?;
    if let Some(n) = &loaded.notice {
        eprintln!("warning: {n}");
    }
    Ok(loaded.settings)
}

/// A profile's resolved value of `key` (tolerating overrides that don't apply: `check` reports those).
fn resolved_doc(s: &Settings, name: &str) -> Value {
    let resolved = profiles::resolve(s, Some(name)).unwrap_or_else(|_| s.profile.clone());
    serde_json::to_value(resolved).expect("a profile serialises")
}

fn list(as_json: bool) -> Outcome {
    let s = load()?;
    let default = profiles::default_name(&s).to_string();
    let rows: Vec<Value> = profiles::names(&s)
        .into_iter()
        .map(|name| {
            let doc = resolved_doc(&s, &name);
            let overrides: Vec<&String> = s.profiles.get(&name).map(|o| o.keys().collect()).unwrap_or_default();
            json!({
                "name": name,
                "default": name == default,
                "mode": fields::value_of(&doc, "mode"),
                "relay_host": fields::value_of(&doc, "relay.host"),
                "overrides": overrides,
            })
        })
        .collect();
    if as_json {
        println!("{}", serde_json::to_string_pretty(&rows).expect("serialisable"));
        return Ok(());
    }
    println!("{:<2}{:<24} {:<8} {:<30} OVERRIDES", "", "PROFILE", "MODE", "RELAY HOST");
    for r in &rows {
        let text = |v: &Value| v.as_str().map(str::to_string).unwrap_or_default();
        let overrides = r["overrides"].as_array().map(|a| a.iter().map(text).collect::<Vec<_>>().join(", ")).unwrap_or_default();
        let overrides = if r["name"] == profiles::GLOBAL {
            "(every field)".to_string()
        } else if overrides.is_empty() {
            "(nothing: inherits everything)".to_string()
        } else {
            overrides
        };
        let host = match text(&r["relay_host"]) {
            h if h.is_empty() => "-".to_string(),
            h => h,
        };
        let mark = if r["default"] == true { "*" } else { "" };
        println!("{mark:<2}{:<24} {:<8} {:<30} {overrides}", text(&r["name"]), text(&r["mode"]), host);
    }
    Ok(())
}

fn show(name: &str, as_json: bool) -> Outcome {
    let s = load()?;
    let name = profiles::canonical(&s, Some(name)).map_err(|e| (code_of(&e), (&e).into()))?.to_string();
    let own = s.profiles.get(&name);
    let doc = resolved_doc(&s, &name);
    let report = settings::check_profile(&s, &name);
    let rows: Vec<Value> = settings::KEYS
        .iter()
        .map(|k| {
            let origin = match own {
                None => "global",
                Some(_) if !k.per_profile => "global only",
                Some(o) if o.contains_key(k.name) => "own",
                Some(_) => "inherited",
            };
            json!({ "key": k.name, "value": fields::value_of(&doc, k.name), "origin": origin })
        })
        .collect();
    if as_json {
        let out = json!({
            "profile": name,
            "default": profiles::default_name(&s) == name,
            "fields": rows,
            "overrides": own,
            "errors": report.errors,
            "warnings": report.warnings,
        });
        println!("{}", serde_json::to_string_pretty(&out).expect("serialisable"));
        return Ok(());
    }
    println!("profile {name}{}", if profiles::default_name(&s) == name { " (default)" } else { "" });
    for r in &rows {
        let value = match &r["value"] {
            Value::String(t) => t.clone(),
            Value::Null => "(not set)".into(),
            other => other.to_string(),
        };
        println!("{:<26} {:<40} {}", r["key"].as_str().unwrap_or_default(), value, r["origin"].as_str().unwrap_or_default());
    }
    for i in &report.errors {
        println!("error: {}: {}", i.field, i.message);
    }
    for i in &report.warnings {
        println!("warning: {}: {}", i.field, i.message);
    }
    Ok(())
}
