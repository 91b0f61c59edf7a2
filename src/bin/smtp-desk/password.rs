//! `smtp-desk password set|clear`: the SMTP password in the OS keyring.

use crate::{Outcome, EXIT_BAD_INPUT, EXIT_FAILURE};
use clap::Subcommand;
use smtp_desk::error::{ErrorKind, ErrorReport};
use smtp_desk::secrets::{self, Password, DEFAULT_PROFILE};
use std::io::{IsTerminal, Read};

#[derive(Subcommand)]
pub enum PasswordCommand {
    /// Save the password: typed at a prompt (not echoed), or read from standard input.
    Set,
    /// Remove the saved password.
    Clear,
}

pub fn run(command: PasswordCommand) -> Outcome {
    match command {
        PasswordCommand::Set => set(),
        PasswordCommand::Clear => secrets::clear(DEFAULT_PROFILE).map_err(|e| (EXIT_FAILURE, (&e).into())).map(|_| {
            eprintln!("Password removed from the keyring.");
        }),
    }
}

fn set() -> Outcome {
    let text = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("SMTP password: ")
            .map_err(|e| (EXIT_FAILURE, ErrorReport::new(ErrorKind::Input, format!("could not read the password: {e}"))))?
    } else {
        read_stdin()?
    };
    let password = Password::new(text).map_err(|e| (EXIT_BAD_INPUT, (&e).into()))?;
    secrets::set(DEFAULT_PROFILE, &password).map_err(|e| (EXIT_FAILURE, (&e).into()))?;
    eprintln!("Password saved in the OS keyring.");
    Ok(())
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
