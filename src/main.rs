//! The `smtp-desk` command: the same settings file and keyring entry as the window, for scripts
//! and SSH sessions. It links no GUI library, so it starts in a few milliseconds.

use clap::{Parser, Subcommand};
use smtp_desk::error::ErrorReport;
use smtp_desk::secrets::{self, Password, DEFAULT_PROFILE};
use smtp_desk::settings::{self, KEYS};
use std::io::{IsTerminal, Read};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "smtp-desk", version, about = "Outgoing mail settings: show, change, and keep the password in the OS keyring")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show or change the settings.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Save or remove the SMTP password in the OS keyring.
    #[command(subcommand)]
    Password(PasswordCommand),
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the settings (and whether a password is saved).
    Show {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Change one setting; the whole result is validated before it is saved.
    #[command(after_help = keys_help())]
    Set { key: String, value: String },
    /// Print where the settings file is.
    Path,
}

#[derive(Subcommand)]
enum PasswordCommand {
    /// Save the password: typed at a prompt (not echoed), or read from standard input.
    Set,
    /// Remove the saved password.
    Clear,
}

fn keys_help() -> String {
    let mut s = String::from("Keys:\n");
    for k in KEYS {
        s.push_str(&format!("  {:<26} {}\n", k.name, k.takes));
    }
    s
}

/// Exit codes: 0 ok, 1 a runtime failure (file, keyring), 2 bad input (clap's convention).
const EXIT_FAILURE: u8 = 1;
const EXIT_BAD_INPUT: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Config(ConfigCommand::Show { json }) => show(json),
        Command::Config(ConfigCommand::Set { key, value }) => set(&key, &value),
        Command::Config(ConfigCommand::Path) => {
            println!("{}", smtp_desk::paths::settings_file().display());
            Ok(())
        }
        Command::Password(PasswordCommand::Set) => password_set(),
        Command::Password(PasswordCommand::Clear) => secrets::clear(DEFAULT_PROFILE).map_err(|e| (EXIT_FAILURE, (&e).into())).map(|_| {
            eprintln!("Password removed from the keyring.");
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, report)) => {
            print_error(&report);
            ExitCode::from(code)
        }
    }
}

type Outcome = Result<(), (u8, ErrorReport)>;

fn print_error(r: &ErrorReport) {
    if r.issues.is_empty() {
        eprintln!("error: {}", r.message);
    } else {
        eprintln!("error: the settings were not saved:");
    }
    for issue in &r.issues {
        eprintln!("  {}: {}", issue.field, issue.message);
    }
    if let Some(h) = &r.hint {
        eprintln!("hint: {h}");
    }
}

fn show(json: bool) -> Outcome {
    let loaded = settings::load();
    if let Some(n) = &loaded.notice {
        eprintln!("warning: {n}");
    }
    let report = settings::check(&loaded.settings);
    // The keyring is asked only when a password would be used, keeping `show` fast and usable
    // without a desktop session.
    let password = if loaded.settings.profile.auth.method == settings::AuthMethod::Password {
        Some(secrets::is_saved(DEFAULT_PROFILE).map_err(|e| ErrorReport::from(&e)))
    } else {
        None
    };
    if json {
        let out = serde_json::json!({
            "file": smtp_desk::paths::settings_file(),
            "settings": loaded.settings,
            "password_saved": password.as_ref().map(|p| p.as_ref().ok().copied()),
            "password_error": password.as_ref().and_then(|p| p.as_ref().err()),
            "errors": report.errors,
            "warnings": report.warnings,
            "notice": loaded.notice,
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
        Some(Ok(true)) => line("password", "saved in the OS keyring".into()),
        Some(Ok(false)) => line("password", "NOT SAVED — run: smtp-desk password set".into()),
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

fn set(key: &str, value: &str) -> Outcome {
    let path = smtp_desk::paths::settings_file();
    let loaded = settings::load_from(&path);
    if let Some(n) = &loaded.notice {
        eprintln!("warning: {n}");
    }
    let mut s = loaded.settings;
    settings::set_key(&mut s, key, value).map_err(|e| (EXIT_BAD_INPUT, (&e).into()))?;
    settings::save_to(&path, &s).map_err(|e| {
        let code = if matches!(e, settings::Error::Invalid(_)) { EXIT_BAD_INPUT } else { EXIT_FAILURE };
        (code, (&e).into())
    })?;
    for w in settings::check(&s).warnings {
        eprintln!("warning: {}: {}", w.field, w.message);
    }
    Ok(())
}

fn password_set() -> Outcome {
    let text = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("SMTP password: ").map_err(|e| (EXIT_FAILURE, ErrorReport::new("input", format!("could not read the password: {e}"))))?
    } else {
        let mut t = String::new();
        std::io::stdin()
            .read_to_string(&mut t)
            .map_err(|e| (EXIT_FAILURE, ErrorReport::new("input", format!("could not read the password from standard input: {e}"))))?;
        t
    };
    let password = Password::new(text).map_err(|e| (EXIT_BAD_INPUT, (&e).into()))?;
    secrets::set(DEFAULT_PROFILE, &password).map_err(|e| (EXIT_FAILURE, (&e).into()))?;
    eprintln!("Password saved in the OS keyring.");
    Ok(())
}
