//! The `smtp-desk` command: the same settings file and keyring entry as the window, for scripts
//! and SSH sessions. It links no GUI library, so it starts in a few milliseconds.
//!
//! This file holds the arguments and the dispatch; each command group has its own file
//! (`config`, `password`, `probe`, `outbox` for sendmail and the queue), and `output` prints results and errors.
// The error path of a short-lived command is cold: a large Err costs nothing worth boxing for.
#![allow(clippy::result_large_err)]

mod config;
mod detect;
mod dkim;
mod health;
mod journal;
mod listen;
mod man;
mod mode;
mod oauth;
mod outbox;
mod output;
mod password;
mod policy;
mod probe;
mod profile;
mod report;

use clap::{Parser, Subcommand};
use smtp_desk::error::ErrorReport;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "smtp-desk", version, about = "Outgoing mail settings: show, change, and keep the password in the OS keyring")]
struct Cli {
    /// System mode: settings in /etc/smtp-desk, queue in /var/spool/smtp-desk, password as a
    /// systemd credential (see `smtp-desk mode`).
    #[arg(long, global = true)]
    system: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show or change the settings.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Save or remove the SMTP password in the OS keyring.
    #[command(subcommand)]
    Password(password::PasswordCommand),
    /// OAuth2 sign-in (Google, Microsoft 365, custom): login, status, logout.
    #[command(subcommand)]
    Oauth(oauth::OAuthCommand),
    /// Named profiles: list, show, create, rename, delete, and choose the default.
    #[command(subcommand)]
    Profile(profile::ProfileCommand),
    /// Check the settings against the server step by step: DNS, connect, greeting, EHLO, TLS,
    /// login, sender and recipient. No message is sent. In Direct mode: the recipient's mail
    /// servers (MX), the first that answers on port 25, no login.
    #[command(after_help = output::exit_codes_help())]
    Validate {
        /// The recipient for the RCPT TO check (default: the from address; required in Direct
        /// mode, whose check asks this address's own mail servers).
        #[arg(long, value_name = "ADDR")]
        to: Option<String>,
        #[command(flatten)]
        values: probe::TryValues,
        #[command(flatten)]
        output: probe::ProbeOutput,
    },
    /// Send a short test email and show the server's final reply.
    #[command(after_help = output::exit_codes_help())]
    SendTest {
        /// Who receives the test email.
        #[arg(long, value_name = "ADDR")]
        to: String,
        #[command(flatten)]
        values: probe::TryValues,
        #[command(flatten)]
        output: probe::ProbeOutput,
    },
    #[command(flatten)]
    Outbox(outbox::Command),
    /// Take mail over SMTP on 127.0.0.1 and ::1 into the outbox (foreground; for systemd or scripts).
    #[command(after_help = listen::LISTEN_HELP)]
    Listen,
    /// Show the mail log: what happened to each recipient (newest first).
    #[command(after_help = journal::LOG_HELP)]
    Log(journal::LogArgs),
    /// Show the event log: settings changes, validations, queue actions, agents (newest first).
    #[command(after_help = journal::EVENTS_HELP)]
    Events(journal::EventArgs),
    /// A report of the mail log: today, yesterday or a range of days (problems first, totals,
    /// traffic per hour, top senders and recipients, reasons, servers, warnings).
    Report(report::ReportArgs),
    /// The dashboard: sending mode, last success and failure, the queue, today so far, problems.
    Status(report::StatusArgs),
    /// Say which mode this command runs in (desktop or system) and why, and where it keeps its files.
    #[command(after_help = mode::MODE_HELP)]
    Mode(mode::ModeArgs),
    /// Show the admin policy: where its file is, whether it is in force, and each lock and rule.
    #[command(after_help = policy::POLICY_HELP)]
    Policy(policy::PolicyArgs),
    /// Find the outgoing server for an email address (provider table, autoconfig, SRV, ISPDB,
    /// MX, probes), show what each source found, and optionally apply it.
    #[command(after_help = detect::DETECT_HELP)]
    Detect(detect::DetectArgs),
    /// DKIM signing keys: generate one (kept in the OS keyring), show the DNS record to publish,
    /// check that DNS holds it, remove it.
    #[command(subcommand)]
    Dkim(dkim::DkimCommand),
    /// The deliverability check: EHLO name, reverse DNS, SPF, DKIM, DMARC, MX, MTA-STS, TLS-RPT,
    /// outgoing port 25 and DNS blocklists, each with what to fix.
    #[command(after_help = health::HEALTH_HELP)]
    Health(health::HealthArgs),
    /// Write the manual pages (smtp-desk.1 and one per subcommand) into DIR: for packaging.
    #[command(hide = true)]
    Man { dir: std::path::PathBuf },
}

/// Exit codes: 0 ok, 1 a runtime failure (file, keyring), 2 bad input (clap's convention);
/// `validate` and `send-test` add one per failed step (`StepKind::exit_code`).
const EXIT_FAILURE: u8 = 1;
const EXIT_BAD_INPUT: u8 = 2;
const EXIT_CANCELLED: u8 = 20;

/// A command's failure: its exit code and what to print.
type Outcome = Result<(), (u8, ErrorReport)>;

fn main() -> ExitCode {
    smtp_desk::log::init("smtp-desk");
    mode::choose();
    if let Some(code) = outbox::run_by_name() {
        return code;
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Config(command) => config::run(command),
        Command::Password(command) => password::run(command),
        Command::Oauth(command) => oauth::run(command),
        Command::Profile(command) => profile::run(command),
        Command::Validate { to, values, output } => return probe::validate(to.as_deref(), &values, &output),
        Command::SendTest { to, values, output } => return probe::send_test(&to, &values, &output),
        Command::Outbox(command) => return outbox::run(command),
        Command::Listen => return listen::run(),
        Command::Log(args) => journal::log(args),
        Command::Events(args) => journal::events(args),
        Command::Report(args) => report::run(args),
        Command::Status(args) => report::status(args),
        Command::Policy(args) => policy::run(args),
        Command::Mode(args) => mode::run(args),
        Command::Detect(args) => detect::run(args),
        Command::Dkim(command) => return dkim::run(command),
        Command::Health(args) => health::run(args),
        Command::Man { dir } => return man::write(&dir),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, report)) => {
            output::print_error(&report);
            ExitCode::from(code)
        }
    }
}
