//! `smtp-desk password set|clear`: the SMTP password in the OS keyring (or, with `--listener`,
//! the SMTP listener's local password, in its own entry).

use crate::{Outcome, EXIT_BAD_INPUT, EXIT_FAILURE};
use clap::Subcommand;
use smtp_desk::error::{ErrorKind, ErrorReport};
use smtp_desk::journal::events::{self, Actor, Secret};
use smtp_desk::secrets::{self, Password, DEFAULT_PROFILE};
use smtp_desk::settings::{self, profiles};
use std::io::{IsTerminal, Read};

#[derive(Subcommand)]
pub enum PasswordCommand {
    /// Save the password: typed at a prompt (not echoed), or read from standard input.
    Set {
        /// The SMTP listener's local password (for listener.username) instead of the server's.
        #[arg(long)]
        listener: bool,
        /// The password of this profile (its own keyring entry); default: Global's.
        #[arg(long, value_name = "NAME")]
        profile: Option<String>,
    },
    /// Remove the saved password.
    Clear {
        /// The SMTP listener's local password instead of the server's.
        #[arg(long)]
        listener: bool,
        /// The password of this profile; default: Global's.
        #[arg(long, value_name = "NAME")]
        profile: Option<String>,
    },
    /// Say whether a password is saved (and, for a named profile, whether it is its own or Global's).
    Status {
        /// The SMTP listener's local password instead of the server's.
        #[arg(long)]
        listener: bool,
        /// The password of this profile; default: Global's.
        #[arg(long, value_name = "NAME")]
        profile: Option<String>,
    },
}

pub fn run(command: PasswordCommand) -> Outcome {
    match command {
        PasswordCommand::Set { listener, profile } => set(listener, profile.as_deref()),
        PasswordCommand::Clear { listener, profile } => clear(listener, profile.as_deref()),
        PasswordCommand::Status { listener, profile } => status(listener, profile.as_deref()),
    }
}

/// The profile's name as the settings spell it, and its keyring entry (`secrets` takes it).
/// Without `--profile`, `set` and `clear` touch Global's entry, as before profiles.
fn entry_of(profile: Option<&str>) -> Result<(String, String), (u8, ErrorReport)> {
    let Some(name) = profile else {
        return Ok((profiles::GLOBAL.to_string(), DEFAULT_PROFILE.to_string()));
    };
    let s = load_settings()?;
    let bad = |e: settings::Error| (crate::profile::code_of(&e), ErrorReport::from(&e));
    let canonical = profiles::canonical(&s, Some(name)).map_err(bad)?.to_string();
    let entry = profiles::password_entry(&s, Some(&canonical)).map_err(bad)?;
    Ok((canonical, entry))
}

fn load_settings() -> Result<settings::Settings, (u8, ErrorReport)> {
    let path = crate::config::settings_path()?;
    Ok(settings::load_from(&path).map_err(|e| (EXIT_FAILURE, ErrorReport::from(&e)))?.settings)
}

fn clear(listener: bool, profile: Option<&str>) -> Outcome {
    let (name, entry) = entry_of(profile)?;
    let done = if listener { secrets::clear_listener_of(&entry) } else { secrets::clear(&entry) };
    done.map_err(|e| (EXIT_FAILURE, (&e).into()))?;
    eprintln!("{}assword removed from the keyring{}.", if listener { "Listener p" } else { "P" }, of(&name));
    recorded(if listener { Secret::Listener } else { Secret::Server }, &name, false);
    Ok(())
}

fn of(name: &str) -> String {
    if profiles::is_global(name) {
        String::new()
    } else {
        format!(" (profile {name})")
    }
}

fn status(listener: bool, profile: Option<&str>) -> Outcome {
    let s = load_settings()?;
    let bad = |e: settings::Error| (crate::profile::code_of(&e), ErrorReport::from(&e));
    let name = profiles::canonical(&s, Some(profile.unwrap_or(profiles::GLOBAL))).map_err(bad)?.to_string();
    let entry = profiles::password_entry(&s, Some(&name)).map_err(bad)?;
    let keyring = |e: secrets::Error| (EXIT_FAILURE, ErrorReport::from(&e));
    if listener {
        let saved = secrets::get_listener_of(&entry).map_err(keyring)?.is_some();
        println!("{}", if saved { "listener password saved" } else { "no listener password saved" });
        return Ok(());
    }
    let own = secrets::is_saved(&entry).map_err(keyring)?;
    let text = if own {
        "password saved".to_string()
    } else if profiles::password_entries(&s, Some(&name)).map_err(bad)?.len() > 1 && secrets::is_saved(DEFAULT_PROFILE).map_err(keyring)? {
        "no password of its own: uses Global's (same server and login)".to_string()
    } else {
        format!(
            "no password saved — run: smtp-desk password set{}",
            if profiles::is_global(&name) { String::new() } else { format!(" --profile {name}") }
        )
    };
    println!("{text}");
    Ok(())
}

fn set(listener: bool, profile: Option<&str>) -> Outcome {
    let (name, entry) = entry_of(profile)?;
    let text = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(if listener { "SMTP listener password: " } else { "SMTP password: " })
            .map_err(|e| (EXIT_FAILURE, ErrorReport::new(ErrorKind::Input, format!("could not read the password: {e}"))))?
    } else {
        read_stdin()?
    };
    let password = Password::new(text).map_err(|e| (EXIT_BAD_INPUT, (&e).into()))?;
    if listener {
        secrets::set_listener_of(&entry, &password).map_err(|e| (EXIT_FAILURE, (&e).into()))?;
        eprintln!("Listener password saved in the OS keyring{}.", of(&name));
        recorded(Secret::Listener, &name, true);
        return Ok(());
    }
    secrets::set(&entry, &password).map_err(|e| (EXIT_FAILURE, (&e).into()))?;
    eprintln!("Password saved in the OS keyring{}.", of(&name));
    recorded(Secret::Server, &name, true);
    Ok(())
}

/// Notes the change in the event log: only "set" or "cleared", never the password.
fn recorded(secret: Secret, profile: &str, saved: bool) {
    events::record_at(&smtp_desk::paths::outbox_file(), &events::profile_password_changed(secret, profile, saved, Actor::CommandLine));
}

/// The password piped on standard input (`password set`, `--password-stdin`); one trailing
/// newline is dropped.
pub fn from_stdin() -> Result<Password, (u8, ErrorReport)> {
    Password::new(read_stdin()?).map_err(|e| (EXIT_BAD_INPUT, (&e).into()))
}

fn read_stdin() -> Result<String, (u8, ErrorReport)> {
    let mut t = String::new();
    std::io::stdin()
        .read_to_string(&mut t)
        .map_err(|e| (EXIT_FAILURE, ErrorReport::new(ErrorKind::Input, format!("could not read the password from standard input: {e}"))))?;
    Ok(t)
}
