//! `smtp-desk password set|clear`: the SMTP password in the OS keyring (or, with `--listener`,
//! the SMTP listener's local password, in its own entry).

use crate::{Outcome, EXIT_BAD_INPUT, EXIT_FAILURE};
use clap::Subcommand;
use smtp_desk::error::{ErrorKind, ErrorReport};
use smtp_desk::journal::events::{self, Actor, Secret};
use smtp_desk::secrets::{self, Password, DEFAULT_PROFILE};
use std::io::{IsTerminal, Read};

#[derive(Subcommand)]
pub enum PasswordCommand {
    /// Save the password: typed at a prompt (not echoed), or read from standard input.
    Set {
        /// The SMTP listener's local password (for listener.username) instead of the server's.
        #[arg(long)]
        listener: bool,
    },
    /// Remove the saved password.
    Clear {
        /// The SMTP listener's local password instead of the server's.
        #[arg(long)]
        listener: bool,
    },
}

pub fn run(command: PasswordCommand) -> Outcome {
    match command {
        PasswordCommand::Set { listener } => set(listener),
        PasswordCommand::Clear { listener: true } => secrets::clear_listener().map_err(|e| (EXIT_FAILURE, (&e).into())).map(|_| {
            eprintln!("Listener password removed from the keyring.");
            recorded(Secret::Listener, false);
        }),
        PasswordCommand::Clear { listener: false } => secrets::clear(DEFAULT_PROFILE).map_err(|e| (EXIT_FAILURE, (&e).into())).map(|_| {
            eprintln!("Password removed from the keyring.");
            recorded(Secret::Server, false);
        }),
    }
}

fn set(listener: bool) -> Outcome {
    let text = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(if listener { "SMTP listener password: " } else { "SMTP password: " })
            .map_err(|e| (EXIT_FAILURE, ErrorReport::new(ErrorKind::Input, format!("could not read the password: {e}"))))?
    } else {
        read_stdin()?
    };
    let password = Password::new(text).map_err(|e| (EXIT_BAD_INPUT, (&e).into()))?;
    if listener {
        secrets::set_listener(&password).map_err(|e| (EXIT_FAILURE, (&e).into()))?;
        eprintln!("Listener password saved in the OS keyring.");
        recorded(Secret::Listener, true);
        return Ok(());
    }
    secrets::set(DEFAULT_PROFILE, &password).map_err(|e| (EXIT_FAILURE, (&e).into()))?;
    eprintln!("Password saved in the OS keyring.");
    recorded(Secret::Server, true);
    Ok(())
}

/// Notes the change in the event log: only "set" or "cleared", never the password.
fn recorded(secret: Secret, saved: bool) {
    events::record_at(&smtp_desk::paths::outbox_file(), &events::password_changed(secret, saved, Actor::CommandLine));
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
