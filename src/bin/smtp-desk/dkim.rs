//! `smtp-desk dkim generate|show|check|remove`: a profile's DKIM key (kept in the OS keyring),
//! the DNS TXT record to publish for it, and whether DNS holds it.

use crate::EXIT_FAILURE;
use clap::{Args, Subcommand};
use smtp_desk::direct::dkim::{self, KeyInfo, Published};
use smtp_desk::error::ErrorReport;
use smtp_desk::journal::events;
use smtp_desk::settings::{self, profiles};
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum DkimCommand {
    /// Make a key pair (dkim.algorithm) for the profile's selector and domain; the private key
    /// goes to the OS keyring only. Prints the TXT record to publish.
    Generate {
        /// Replace the existing key (mail signed before the new record is published fails DKIM).
        #[arg(long)]
        replace: bool,
        #[command(flatten)]
        which: Which,
    },
    /// Print the TXT record to publish for the profile's key.
    Show {
        #[command(flatten)]
        which: Which,
    },
    /// Look the record up in DNS and say whether it holds our key.
    #[command(after_help = CHECK_HELP)]
    Check {
        #[command(flatten)]
        which: Which,
    },
    /// Remove the profile's key from the keyring (then unpublish its record).
    Remove {
        #[command(flatten)]
        which: Which,
    },
}

#[derive(Args)]
pub struct Which {
    /// The profile whose key (default: the default profile).
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// Print JSON (the key's record and, for check, what DNS holds) instead of text.
    #[arg(long)]
    json: bool,
}

/// `check` exits 3 when the record is missing or holds another key, 4 when DNS did not answer.
pub const EXIT_NOT_PUBLISHED: u8 = 3;
pub const EXIT_DNS_UNKNOWN: u8 = 4;

const CHECK_HELP: &str = "Exit codes:
  0   the record is published and holds our key
  1   no key, or the keyring or settings could not be read
  3   the record is missing, or holds another key
  4   DNS did not answer (the record could not be checked)

The DNS server asked is the system's, or the one SMTP_DESK_DNS_SERVER names (IP or IP:PORT).";

pub fn run(command: DkimCommand) -> ExitCode {
    match run_inner(command) {
        Ok(code) => ExitCode::from(code),
        Err((code, report)) => {
            crate::output::print_error(&report);
            ExitCode::from(code)
        }
    }
}

/// The exit code: 0, or `check`'s verdict (already printed).
fn run_inner(command: DkimCommand) -> Result<u8, (u8, ErrorReport)> {
    let s = load_settings()?;
    let failed = |e: dkim::Error| (EXIT_FAILURE, ErrorReport::from(&e));
    match command {
        DkimCommand::Generate { replace, which } => {
            let name = canonical(&s, &which)?;
            let info = dkim::generate(&s, &name, replace).map_err(failed)?;
            recorded(&format!("DKIM key made for {}{} (saved in the keyring)", info.record_name, of(&name)));
            if which.json {
                crate::output::print_json(&info);
            } else {
                eprintln!("A new {} key is saved in the OS keyring{}.", algorithm(&info), of(&name));
                print_record(&info);
                if profiles::resolve(&s, Some(&name)).is_ok_and(|p| !p.dkim.enabled) {
                    eprintln!(
                        "Signing is off: once the record is published, turn it on with smtp-desk config set dkim.enabled true{}",
                        flag(&name)
                    );
                }
            }
            Ok(0)
        }
        DkimCommand::Show { which } => {
            let name = canonical(&s, &which)?;
            let info = existing(&s, &name)?;
            if which.json {
                crate::output::print_json(&info);
            } else {
                print_record(&info);
            }
            Ok(0)
        }
        DkimCommand::Check { which } => {
            let name = canonical(&s, &which)?;
            let mut info = existing(&s, &name)?;
            let published = lookup(&info)?;
            info.published = Some(published.clone());
            if which.json {
                crate::output::print_json(&info);
            } else {
                match &published {
                    Published::Matches => println!("ok: {} holds our key", info.record_name),
                    Published::Missing => {
                        println!("missing: no DKIM record at {}", info.record_name);
                        print_record(&info);
                    }
                    Published::Different(what) => {
                        println!("different: {} holds {what}", info.record_name);
                        print_record(&info);
                    }
                    Published::Unknown(why) => println!("unknown: {} could not be looked up: {why}", info.record_name),
                }
            }
            Ok(match published {
                Published::Matches => 0,
                Published::Missing | Published::Different(_) => EXIT_NOT_PUBLISHED,
                Published::Unknown(_) => EXIT_DNS_UNKNOWN,
            })
        }
        DkimCommand::Remove { which } => {
            let name = canonical(&s, &which)?;
            dkim::remove(&s, &name).map_err(failed)?;
            recorded(&format!("DKIM key removed from the keyring{}", of(&name)));
            if which.json {
                crate::output::print_json(&serde_json::json!({ "profile": name, "removed": true }));
            } else {
                eprintln!("DKIM key removed from the keyring{}. Remove its DNS record too, and turn signing off.", of(&name));
            }
            Ok(0)
        }
    }
}

fn load_settings() -> Result<settings::Settings, (u8, ErrorReport)> {
    let path = crate::config::settings_path()?;
    Ok(settings::load_from(&path).map_err(|e| (EXIT_FAILURE, ErrorReport::from(&e)))?.settings)
}

fn canonical(s: &settings::Settings, which: &Which) -> Result<String, (u8, ErrorReport)> {
    profiles::canonical(s, which.profile.as_deref()).map(str::to_string).map_err(|e| (crate::profile::code_of(&e), ErrorReport::from(&e)))
}

/// The profile's key, or the error naming `dkim generate`.
fn existing(s: &settings::Settings, name: &str) -> Result<KeyInfo, (u8, ErrorReport)> {
    dkim::existing_key(s, name).map_err(|e| (EXIT_FAILURE, ErrorReport::from(&e)))
}

fn lookup(info: &KeyInfo) -> Result<Published, (u8, ErrorReport)> {
    let resolver = smtp_desk::dns::resolver_from_env(std::time::Duration::from_secs(5), Default::default()).map_err(|e| {
        (
            crate::EXIT_BAD_INPUT,
            ErrorReport::new(smtp_desk::error::ErrorKind::BadValue, e.to_string()).hint("Fix or unset SMTP_DESK_DNS_SERVER"),
        )
    })?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    Ok(runtime.block_on(dkim::check(&resolver, info)))
}

fn algorithm(info: &KeyInfo) -> &'static str {
    match info.algorithm {
        settings::DkimAlgorithm::Rsa2048 => "RSA-2048",
        settings::DkimAlgorithm::Ed25519 => "Ed25519",
    }
}

/// The record to publish: the name, the whole value, and (when it is longer than one DNS
/// character-string) the value in quoted pieces for DNS panels that ask for them.
fn print_record(info: &KeyInfo) {
    println!("Publish this DNS TXT record (domain {}, selector {}, {} key):", info.domain, info.selector, algorithm(info));
    println!("  name:  {}", info.record_name);
    println!("  type:  TXT");
    println!("  value: {}", info.record_value);
    let parts = info.record_strings();
    if parts.len() > 1 {
        println!("Some DNS panels and zone files take a long value in pieces of at most 255 characters:");
        println!("  {}", parts.iter().map(|p| format!("\"{p}\"")).collect::<Vec<_>>().join(" "));
    }
}

fn of(name: &str) -> String {
    if profiles::is_global(name) {
        String::new()
    } else {
        format!(" (profile {name})")
    }
}

fn flag(name: &str) -> String {
    if profiles::is_global(name) {
        String::new()
    } else {
        format!(" --profile {name}")
    }
}

/// Notes the change in the event log: the record's name, never the key.
fn recorded(text: &str) {
    events::record_at(&smtp_desk::paths::outbox_file(), &events::app_problem(events::Severity::Info, text));
}
