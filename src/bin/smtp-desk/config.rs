//! `smtp-desk config show|set|path|export|import`: the settings file, and configuration files
//! for setting up many machines alike.

use crate::{Outcome, EXIT_BAD_INPUT, EXIT_FAILURE};
use clap::Subcommand;
use smtp_desk::error::{ErrorKind, ErrorReport};
use smtp_desk::journal::events::{self, Actor};
use smtp_desk::secrets::{self, DEFAULT_PROFILE};
use smtp_desk::settings::{self, KEYS};
use smtp_desk::system;

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Print the settings (and whether a password is saved).
    Show {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// Show this profile as it resolves (each field marked as its own or inherited).
        #[arg(long, value_name = "NAME")]
        profile: Option<String>,
    },
    /// Change settings: one or more KEY VALUE pairs, validated together and saved at once.
    #[command(after_help = keys_help())]
    Set {
        #[arg(required = true, num_args = 2.., value_names = ["KEY", "VALUE"])]
        pairs: Vec<String>,
        /// If the settings file cannot be read as settings (broken, too large, or from a newer
        /// SMTP Desk), keep it as a backup beside itself and start from defaults.
        #[arg(long)]
        replace_broken_file: bool,
        /// Set the keys in this profile (as its own values, overriding Global's); default: Global.
        #[arg(long, value_name = "NAME")]
        profile: Option<String>,
    },
    /// Make a key of a named profile inherit Global's value again.
    Unset {
        key: String,
        /// The named profile.
        #[arg(long, value_name = "NAME", required = true)]
        profile: String,
    },
    /// Print where the settings file is.
    Path,
    /// Write the settings as a configuration file (JSON with a schema version, never a secret).
    #[command(after_help = "Import it elsewhere with `smtp-desk config import FILE`. See docs/config-management.md.")]
    Export {
        /// Export one profile only: `global`, or a named profile (its overrides).
        #[arg(long, value_name = "NAME")]
        profile: Option<String>,
        /// Write to FILE instead of standard output.
        #[arg(long, value_name = "FILE")]
        output: Option<std::path::PathBuf>,
    },
    /// Apply a configuration file: everything is checked first and nothing changes if anything is
    /// wrong (each problem is listed). A whole file replaces the settings (every profile); a file
    /// of one profile replaces that profile. Importing the same file again changes nothing.
    #[command(after_help = IMPORT_HELP)]
    Import {
        file: std::path::PathBuf,
        /// Import only this profile from the file (`global` or a name).
        #[arg(long, value_name = "NAME")]
        profile: Option<String>,
        /// Read the SMTP password from standard input and save it in the OS keyring, for the
        /// profile imported (else the default profile), once the file has passed every check.
        #[arg(long)]
        password_stdin: bool,
        /// Check the file and say what would change, changing nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

const IMPORT_HELP: &str = "Prints `changed: ...` or `unchanged: ...` on success (for configuration-management tools). \
Exit codes: 0 imported (or nothing to change), 1 the file can't be imported (every problem listed) or the keyring failed, \
2 bad arguments. See docs/config-management.md.";

pub fn run(command: ConfigCommand) -> Outcome {
    match command {
        ConfigCommand::Show { json, profile: None } => show(json),
        ConfigCommand::Show { json, profile: Some(name) } => show_profile(&name, json),
        ConfigCommand::Set { pairs, replace_broken_file, profile } => set(&pairs, replace_broken_file, profile.as_deref()),
        ConfigCommand::Unset { key, profile } => unset(&key, &profile),
        ConfigCommand::Path => settings_file().map(|path| println!("{}", path.display())),
        ConfigCommand::Export { profile, output } => export(profile.as_deref(), output.as_deref()),
        ConfigCommand::Import { file, profile, password_stdin, dry_run } => import(&file, profile.as_deref(), password_stdin, dry_run),
    }
}

fn keys_help() -> String {
    let mut s = String::from("Keys:\n");
    for k in KEYS {
        s.push_str(&format!("  {:<26} {}\n", k.name, k.takes));
    }
    s
}

/// The settings file's path, or the error that there is none.
pub fn settings_path() -> Result<std::path::PathBuf, (u8, ErrorReport)> {
    settings_file()
}

fn settings_file() -> Result<std::path::PathBuf, (u8, ErrorReport)> {
    smtp_desk::paths::settings_file().map_err(|e| (EXIT_FAILURE, (&e).into()))
}

/// Whether one of `entries` holds a saved password, without reading it: the keyring in desktop
/// mode; in system mode the credential files (a look needs root, a read would decrypt).
fn password_saved(entries: &[String]) -> Result<bool, ErrorReport> {
    for entry in entries {
        let saved = if system::current() == system::Mode::System {
            system::credential::saved_kind(entry).map(|k| k.is_some()).map_err(|e| ErrorReport::from(&e))?
        } else {
            secrets::is_saved(entry).map_err(|e| ErrorReport::from(&e))?
        };
        if saved {
            return Ok(true);
        }
    }
    Ok(false)
}

fn saved_where() -> &'static str {
    match system::current() {
        system::Mode::System => "saved as the system credential (smtp-desk mode)",
        system::Mode::Desktop => "saved in the OS keyring",
    }
}

fn system_flag() -> &'static str {
    if system::current() == system::Mode::System {
        " --system"
    } else {
        ""
    }
}

fn show(json: bool) -> Outcome {
    let path = settings_file()?;
    let loaded = settings::load_from(&path).map_err(|e| (EXIT_FAILURE, (&e).into()))?;
    if let Some(n) = &loaded.notice {
        eprintln!("warning: {n}");
    }
    let report = settings::check(&loaded.settings);
    // The keyring is asked only when a password would be used, keeping `show` fast and usable
    // without a desktop session.
    let password = if loaded.settings.profile.auth.method == settings::AuthMethod::Password {
        Some(password_saved(&[DEFAULT_PROFILE.to_string()]))
    } else {
        None
    };
    if json {
        let out = serde_json::json!({
            "file": path,
            "settings": loaded.settings,
            "password_saved": password.as_ref().map(|p| p.as_ref().ok().copied()),
            "password_error": password.as_ref().and_then(|p| p.as_ref().err()),
            "errors": report.errors,
            "warnings": report.warnings,
            "notice": loaded.notice,
            "read_only": loaded.read_only,
        });
        println!("{}", serde_json::to_string_pretty(&out).expect("serialisable"));
        return Ok(());
    }
    let s = &loaded.settings.profile;
    let mut out = String::new();
    let mut line = |k: &str, v: String| out.push_str(&format!("{k:<26} {v}\n"));
    let doc = serde_json::to_value(s).expect("serialisable");
    for key in KEYS {
        let v = key.name.split('.').try_fold(&doc, |n, p| n.get(p)).cloned().unwrap_or_default();
        let text = match v {
            serde_json::Value::String(t) if t.is_empty() && key.name == "ehlo_name" => {
                format!("(this machine: {})", smtp_desk::machine::host_name())
            }
            serde_json::Value::String(t) => t,
            serde_json::Value::Null => "(not set)".into(),
            other => other.to_string(),
        };
        line(key.name, text);
    }
    match &password {
        None => line("password", "(not used)".into()),
        Some(Ok(true)) => line("password", saved_where().into()),
        Some(Ok(false)) => line("password", format!("NOT SAVED — run: smtp-desk password set{}", system_flag())),
        Some(Err(e)) => line("password", format!("unknown: {}", e.message)),
    }
    print!("{out}");
    for i in &report.errors {
        println!("error: {}: {}", i.field, i.message);
    }
    for i in &report.warnings {
        println!("warning: {}: {}", i.field, i.message);
    }
    Ok(())
}

fn set(pairs: &[String], replace_broken_file: bool, profile: Option<&str>) -> Outcome {
    check_pairs(pairs, "smtp-desk config set mode relay relay.host smtp.example.com")?;
    let path = settings_file()?;
    // The keys are applied to the file as it is under the lock, so a concurrent writer's change
    // to another key is kept.
    let options = settings::WriteOptions { replace_broken_file };
    let policy = smtp_desk::policy::load();
    warn_invalid_policy(&policy);
    let written = settings::modify_with(&path, options, &policy, |s| {
        for pair in pairs.chunks(2) {
            settings::set_key_in(s, profile, &pair[0], &pair[1])?;
        }
        Ok(())
    })
    .map_err(|e| {
        let code = crate::profile::code_of(&e);
        let mut report = ErrorReport::from(&e);
        let elsewhere = |i: &settings::Issue| i.field.starts_with("profiles.") || i.field == "default_profile";
        if matches!(&e, settings::Error::Invalid(issues) if profile.is_none() && issues.iter().all(elsewhere)) {
            report.hint = Some("Nothing was saved: the profiles listed must be fixed first (each message says how), or deleted with smtp-desk profile delete NAME.".into());
        } else if matches!(e, settings::Error::Invalid(_)) {
            report.hint = Some("Nothing was saved. Settings that depend on each other can be set in one call: smtp-desk config set mode relay relay.host smtp.example.com sender.from_address you@example.com".into());
        }
        if let settings::Error::ReadOnly(read_only) = &e {
            if !matches!(read_only.reason, settings::Reason::Unreadable { .. }) {
                report.hint = Some(format!(
                    "Nothing was saved. Fix {} in an editor, or pass --replace-broken-file to keep it as a backup and start from defaults.",
                    read_only.path.display()
                ));
            }
        }
        (code, report)
    })?;
    after_write(&written)
}

/// `config unset KEY --profile NAME`.
fn unset(key: &str, profile: &str) -> Outcome {
    let path = settings_file()?;
    let written = settings::modify(&path, settings::WriteOptions::default(), |s| settings::unset_key(s, profile, key))
        .map_err(|e| (crate::profile::code_of(&e), (&e).into()))?;
    after_write(&written)
}

/// After a saved change: its event, warnings, and delivery woken if mail may now go.
fn after_write(written: &settings::Written) -> Outcome {
    let replaced = written.backup.as_deref().map(|b| events::settings_replaced(b, Actor::CommandLine));
    let changed = events::settings_changed(&written.previous, &written.settings, Actor::CommandLine);
    if replaced.is_some() || changed.is_some() {
        // One store for the command's events.
        match smtp_desk::outbox::Store::open_default() {
            Ok(store) => replaced.iter().chain(changed.iter()).for_each(|e| events::record_or_log(&store, e)),
            Err(e) => tracing::warn!("could not open the event log: {e}"),
        }
    }
    if let Some(backup) = &written.backup {
        eprintln!("The unusable settings file was kept as {}; the settings started from defaults.", backup.display());
    }
    for w in settings::check(&written.settings).warnings {
        eprintln!("warning: {}: {}", w.field, w.message);
    }
    // Mail kept while sending was off (or waiting on a fixed setting) goes out now.
    let sends = settings::profiles::names(&written.settings)
        .iter()
        .any(|name| settings::profiles::resolve(&written.settings, Some(name)).is_ok_and(|p| p.mode != settings::Mode::Off));
    if sends {
        if let Err(e) = smtp_desk::outbox::wake_if_waiting() {
            eprintln!("warning: the settings are saved, but delivery could not be woken: {e}");
        }
    }
    Ok(())
}

/// `config show --profile NAME`: the profile as it resolves, each field marked own or inherited,
/// its password's status (its own entry, or Global's it may fall back to) and its issues.
fn show_profile(name: &str, json: bool) -> Outcome {
    let path = settings_file()?;
    let loaded = settings::load_from(&path).map_err(|e| (EXIT_FAILURE, (&e).into()))?;
    if let Some(n) = &loaded.notice {
        eprintln!("warning: {n}");
    }
    let s = &loaded.settings;
    let name = settings::profiles::canonical(s, Some(name)).map_err(|e| (crate::profile::code_of(&e), (&e).into()))?.to_string();
    let resolved = settings::profiles::resolve(s, Some(&name)).unwrap_or_else(|_| s.profile.clone());
    let own = s.profiles.get(&name);
    let report = settings::check_profile(s, &name);
    let password = if resolved.auth.method == settings::AuthMethod::Password {
        Some(settings::profiles::password_entries(s, Some(&name)).map_err(|e| ErrorReport::from(&e)).and_then(|e| password_saved(&e)))
    } else {
        None
    };
    if json {
        let out = serde_json::json!({
            "file": path,
            "profile": name,
            "resolved": resolved,
            "overrides": own,
            "password_saved": password.as_ref().map(|p| p.as_ref().ok().copied()),
            "password_error": password.as_ref().and_then(|p| p.as_ref().err()),
            "errors": report.errors,
            "warnings": report.warnings,
        });
        println!("{}", serde_json::to_string_pretty(&out).expect("serialisable"));
        return Ok(());
    }
    let doc = serde_json::to_value(&resolved).expect("serialisable");
    println!("profile                    {name}");
    for key in KEYS {
        let v = settings::fields::value_of(&doc, key.name).cloned().unwrap_or_default();
        let text = match v {
            serde_json::Value::String(t) => t,
            serde_json::Value::Null => "(not set)".into(),
            other => other.to_string(),
        };
        let origin = match own {
            Some(o) if o.contains_key(key.name) => "  (own)",
            Some(_) => "  (inherited)",
            None => "",
        };
        println!("{:<26} {text}{origin}", key.name);
    }
    let status = match &password {
        None => "(not used)".to_string(),
        Some(Ok(true)) => saved_where().into(),
        Some(Ok(false)) => format!("NOT SAVED — run: smtp-desk password set{} --profile {name}", system_flag()),
        Some(Err(e)) => format!("unknown: {}", e.message),
    };
    println!("{:<26} {status}", "password");
    for i in &report.errors {
        println!("error: {}: {}", i.field, i.message);
    }
    for i in &report.warnings {
        println!("warning: {}: {}", i.field, i.message);
    }
    Ok(())
}

/// KEY VALUE pairs come in twos; `example` shows how.
pub fn check_pairs(pairs: &[String], example: &str) -> Result<(), (u8, ErrorReport)> {
    if pairs.len().is_multiple_of(2) {
        return Ok(());
    }
    let last = pairs.last().map(String::as_str).unwrap_or_default();
    Err((
        EXIT_BAD_INPUT,
        ErrorReport::new(ErrorKind::BadArguments, format!("'{last}' has no value")).hint(format!("Give KEY VALUE pairs, e.g. {example}")),
    ))
}

/// An invalid admin policy does not stop a save, but it stops sending: every command that writes
/// the settings says so.
fn warn_invalid_policy(policy: &smtp_desk::policy::State) {
    if let Err(e) = policy.ready() {
        eprintln!("warning: {e}; nothing is sent until it is fixed (the settings are saved without it)");
    }
}

fn export(profile: Option<&str>, output: Option<&std::path::Path>) -> Outcome {
    let path = settings_file()?;
    let loaded = settings::load_from(&path).map_err(|e| (EXIT_FAILURE, (&e).into()))?;
    if let Some(read_only) = &loaded.read_only {
        // Exporting defaults in place of a broken file would spread the wrong settings.
        return Err((EXIT_FAILURE, (&settings::Error::ReadOnly(Box::new(read_only.clone()))).into()));
    }
    let bytes = settings::transfer::export(&loaded.settings, profile).map_err(|e| (EXIT_BAD_INPUT, (&e).into()))?;
    let Some(output) = output else {
        use std::io::Write;
        return std::io::stdout().write_all(&bytes).map_err(|e| (EXIT_FAILURE, ErrorReport::new(ErrorKind::ExportFailed, e.to_string())));
    };
    let failed = |e: std::io::Error| {
        (
            EXIT_FAILURE,
            ErrorReport::new(ErrorKind::ExportFailed, format!("could not write {}: {e}", output.display()))
                .hint("Check the directory exists and that you may write to it."),
        )
    };
    let dir = output.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    // Whole or not at all: a temp file beside the target, renamed over it.
    let mut tmp = tempfile::Builder::new().prefix(".smtp-desk-export.").tempfile_in(dir).map_err(failed)?;
    std::io::Write::write_all(&mut tmp, &bytes).and_then(|_| tmp.as_file().sync_all()).map_err(failed)?;
    tmp.persist(output).map_err(|e| failed(e.error))?;
    eprintln!("Exported {} to {}", profile.map_or("the settings".to_string(), |p| format!("profile {p}")), output.display());
    Ok(())
}

fn import(file: &std::path::Path, profile: Option<&str>, password_stdin: bool, dry_run: bool) -> Outcome {
    use settings::transfer;
    let path = settings_file()?;
    let policy = smtp_desk::policy::load();
    warn_invalid_policy(&policy);
    // The password is read before anything is checked (standard input is there only once), and
    // saved only after the file passed every check.
    let password = if password_stdin { Some(crate::password::from_stdin()?) } else { None };
    let refused = |e: transfer::Error| {
        let code =
            if matches!(e, transfer::Error::Settings(settings::Error::UnknownProfile { .. })) { EXIT_BAD_INPUT } else { EXIT_FAILURE };
        let mut report = ErrorReport::from(&e);
        // Each problem on its own line, under the message that names the file.
        if !report.issues.is_empty() {
            for i in std::mem::take(&mut report.issues) {
                report.message.push_str(&format!("\n  {}: {}", i.field, i.message));
            }
        }
        (code, report)
    };
    if dry_run {
        let plan = transfer::plan(&path, file, profile, &policy).map_err(refused)?;
        match events::imported(file, &plan.before, &plan.after, false, Actor::CommandLine) {
            Some(e) => println!("would change: {}", e.summary.split_once(": ").map_or(e.summary.as_str(), |(_, what)| what)),
            None => println!("unchanged: the settings already match {}", file.display()),
        }
        if password.is_some() {
            println!("(a dry run saves no password; profile {} would get it)", plan.password_profile);
        }
        return Ok(());
    }
    let imported =
        transfer::import(smtp_desk::account::SecretSource::current().keyring(), &path, file, profile, password.as_ref(), &policy)
            .map_err(refused)?;
    if let Some(schema) = imported.migrated_from {
        eprintln!("note: {} is a schema-{schema} file; it was read as schema {}", file.display(), settings::SCHEMA_VERSION);
    }
    let written = &imported.written;
    let event = events::imported(file, &written.previous, &written.settings, imported.password_saved == Some(true), Actor::CommandLine);
    match &event {
        Some(e) => println!("changed: {}", e.summary),
        None => println!("unchanged: the settings already match {}", file.display()),
    }
    if let Some(e) = &event {
        match smtp_desk::outbox::Store::open_default() {
            Ok(store) => events::record_or_log(&store, e),
            Err(e) => tracing::warn!("could not open the event log: {e}"),
        }
    }
    for w in &imported.warnings {
        eprintln!("warning: {w}");
    }
    for w in settings::check(&written.settings).warnings {
        eprintln!("warning: {}: {}", w.field, w.message);
    }
    if event.is_some() && written.settings.profile.mode != settings::Mode::Off {
        if let Err(e) = smtp_desk::outbox::wake_if_waiting() {
            eprintln!("warning: the settings are imported, but delivery could not be woken: {e}");
        }
    }
    Ok(())
}
