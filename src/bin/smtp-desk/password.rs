//! `smtp-desk password set|clear`: the SMTP password in the OS keyring (or, with `--listener`,
//! the SMTP listener's local password, in its own entry).

use crate::{Outcome, EXIT_BAD_INPUT, EXIT_FAILURE};
use clap::Subcommand;
use smtp_desk::error::{ErrorKind, ErrorReport};
use smtp_desk::journal::events::{self, Actor, Secret};
use smtp_desk::secrets::{self, Password, DEFAULT_PROFILE};
use smtp_desk::settings::{self, profiles};
use smtp_desk::system::{self, credential};
use std::io::{IsTerminal, Read};

#[derive(Subcommand)]
pub enum PasswordCommand {
    /// Save the password: typed at a prompt (not echoed), or read from standard input.
    #[command(after_help = SYSTEM_HELP)]
    Set {
        /// The SMTP listener's local password (for listener.username) instead of the server's.
        #[arg(long)]
        listener: bool,
        /// System mode only: keep the password in a root-only 0600 file instead of an encrypted
        /// systemd credential (for machines where systemd-creds can't be used).
        #[arg(long)]
        file: bool,
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

const SYSTEM_HELP: &str = "In system mode (smtp-desk mode; --system) the password is saved as an encrypted systemd credential,
/etc/smtp-desk/credentials/smtp-password.cred (systemd-creds encrypt --name=smtp-password), which
the system service reads through LoadCredentialEncrypted=; only root can save or read it.
With --file it is kept unencrypted in /etc/smtp-desk/credentials/smtp-password (mode 0600, root's).";

pub fn run(command: PasswordCommand) -> Outcome {
    if system::current() == system::Mode::System {
        return run_system(command);
    }
    match command {
        PasswordCommand::Set { file: true, .. } => Err((
            EXIT_BAD_INPUT,
            ErrorReport::new(ErrorKind::BadArguments, "--file is for system mode only (the desktop keeps passwords in the OS keyring)")
                .hint("Add --system to save the system service's password: smtp-desk password set --system --file"),
        )),
        PasswordCommand::Set { listener, profile, .. } => set(listener, profile.as_deref()),
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

/// The password commands in system mode: the system credential instead of the keyring.
fn run_system(command: PasswordCommand) -> Outcome {
    let (listener, profile) = match &command {
        PasswordCommand::Set { listener, profile, .. }
        | PasswordCommand::Clear { listener, profile }
        | PasswordCommand::Status { listener, profile } => (*listener, profile.clone()),
    };
    if listener {
        return Err((
            EXIT_BAD_INPUT,
            ErrorReport::new(ErrorKind::BadArguments, "the SMTP listener's password is not offered in system mode")
                .hint("Local users hand mail in with sendmail; the system service takes it on its socket (smtp-desk mode)."),
        ));
    }
    let (name, entry) = entry_of(profile.as_deref())?;
    let failed = |e: credential::Error| (EXIT_FAILURE, ErrorReport::from(&e));
    match command {
        PasswordCommand::Set { file, .. } => {
            if !system::is_root() {
                return Err(failed(credential::Error::NotRoot(system::credentials_dir())));
            }
            let text = if std::io::stdin().is_terminal() {
                rpassword::prompt_password("SMTP password: ")
                    .map_err(|e| (EXIT_FAILURE, ErrorReport::new(ErrorKind::Input, format!("could not read the password: {e}"))))?
            } else {
                read_stdin()?
            };
            let password = Password::new(text).map_err(|e| (EXIT_BAD_INPUT, (&e).into()))?;
            let kind = if file { credential::Kind::PlainFile } else { credential::Kind::Encrypted };
            let path = credential::set(&entry, &password, kind).map_err(failed)?;
            if file {
                eprintln!(
                    "warning: the password is kept UNENCRYPTED in {} (readable by root only). Anyone with root, or a copy \
                     of this disk or its backups, can read it. Prefer an encrypted credential: smtp-desk password set --system",
                    path.display()
                );
            } else {
                eprintln!("Password saved as an encrypted systemd credential in {}{}.", path.display(), of(&name));
                eprintln!("Restart the service to use it: systemctl restart smtp-desk");
            }
            recorded(Secret::Server, &name, true);
        }
        PasswordCommand::Clear { .. } => {
            let removed = credential::clear(&entry).map_err(failed)?;
            eprintln!("{}{}.", if removed { "System password removed" } else { "No system password was saved" }, of(&name));
            recorded(Secret::Server, &name, false);
        }
        PasswordCommand::Status { .. } => match credential::saved_kind(&entry).map_err(failed)? {
            Some(credential::Kind::Encrypted) => {
                println!(
                    "password saved (encrypted systemd credential {})",
                    credential::path_of(&entry, credential::Kind::Encrypted).display()
                )
            }
            Some(credential::Kind::PlainFile) => {
                println!(
                    "password saved (unencrypted root-only file {})",
                    credential::path_of(&entry, credential::Kind::PlainFile).display()
                )
            }
            None => println!(
                "no password saved — run as root: smtp-desk password set --system{}",
                if profiles::is_global(&name) { String::new() } else { format!(" --profile {name}") }
            ),
        },
    }
    Ok(())
}
