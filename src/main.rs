//! The `smtp-desk` command: the same settings file and keyring entry as the window, for scripts
//! and SSH sessions. It links no GUI library, so it starts in a few milliseconds.
// The error path of a short-lived command is cold: a large Err costs nothing worth boxing for.
#![allow(clippy::result_large_err)]

use clap::{Parser, Subcommand};
use smtp_desk::error::{ErrorKind, ErrorReport};
use smtp_desk::secrets::{self, Password, DEFAULT_PROFILE};
use smtp_desk::settings::{self, KEYS};
use std::io::{IsTerminal, Read};
use std::process::ExitCode;

mod outbox_cli;

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
    /// Check the settings against the server step by step: DNS, connect, greeting, EHLO, TLS,
    /// login, sender and recipient. No message is sent.
    #[command(after_help = EXIT_CODES)]
    Validate {
        /// The recipient for the RCPT TO check (default: the from address).
        #[arg(long, value_name = "ADDR")]
        to: Option<String>,
        #[command(flatten)]
        output: ProbeOutput,
    },
    /// Send a short test email and show the server's final reply.
    #[command(after_help = EXIT_CODES)]
    SendTest {
        /// Who receives the test email.
        #[arg(long, value_name = "ADDR")]
        to: String,
        #[command(flatten)]
        output: ProbeOutput,
    },
    #[command(flatten)]
    Outbox(outbox_cli::Command),
}

#[derive(clap::Args)]
struct ProbeOutput {
    /// Machine-readable output: the whole result as JSON on standard output.
    #[arg(long)]
    json: bool,
    /// Also print the conversation with the server (swaks style; credentials redacted).
    #[arg(long)]
    transcript: bool,
}

/// The exit codes of `validate` and `send-test`: which step failed, for scripts. Each network
/// step has its own code (`StepKind::exit_code`), so `case $?` can tell DNS from TLS from login.
const EXIT_CODES: &str = "Exit codes:
  0   every step passed (warnings may still be printed)
  1   the keyring could not be read
  2   bad input: unusable settings or recipient
  10  resolve: the host name was not found or DNS failed
  11  connect: refused, unreachable or no answer (firewall)
  12  banner: no greeting, a refusal (421/554), not SMTP, or the port wants implicit TLS
  13  ehlo: EHLO and HELO refused, or the server hung up
  14  tls: STARTTLS missing/refused, handshake or certificate problem, or implicit TLS
      set for a port that talks plain SMTP
  15  auth: no password saved, AUTH missing, no common mechanism, login rejected
  16  envelope: sender or recipient refused, login required
  17  data: the test email was refused (send-test)
  20  cancelled

Time limits: each step waits at most limits.timeout_secs (smtp-desk config set limits.timeout_secs N);
the whole run stops after 3 x that, with a timeout failure naming the overall limit (exit code of
the step it was in).";

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the settings (and whether a password is saved).
    Show {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
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
    },
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

/// Exit codes: 0 ok, 1 a runtime failure (file, keyring), 2 bad input (clap's convention);
/// `validate` and `send-test` add one per failed step (see [`EXIT_CODES`]).
const EXIT_FAILURE: u8 = 1;
const EXIT_BAD_INPUT: u8 = 2;
const EXIT_CANCELLED: u8 = 20;

fn main() -> ExitCode {
    smtp_desk::log::init("smtp-desk");
    if let Some(code) = outbox_cli::run_by_name() {
        return code;
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Config(ConfigCommand::Show { json }) => show(json),
        Command::Config(ConfigCommand::Set { pairs, replace_broken_file }) => set(&pairs, replace_broken_file),
        Command::Config(ConfigCommand::Path) => settings_file().map(|path| println!("{}", path.display())),
        Command::Password(PasswordCommand::Set) => password_set(),
        Command::Validate { to, output } => return probe::validate(to.as_deref(), &output),
        Command::SendTest { to, output } => return probe::send_test(&to, &output),
        Command::Outbox(command) => return outbox_cli::run(command),
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

fn settings_file() -> Result<std::path::PathBuf, (u8, ErrorReport)> {
    smtp_desk::paths::settings_file().map_err(|e| (EXIT_FAILURE, (&e).into()))
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
        Some(secrets::is_saved(DEFAULT_PROFILE).map_err(|e| ErrorReport::from(&e)))
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

fn set(pairs: &[String], replace_broken_file: bool) -> Outcome {
    if !pairs.len().is_multiple_of(2) {
        let last = pairs.last().map(String::as_str).unwrap_or_default();
        return Err((
            EXIT_BAD_INPUT,
            ErrorReport::new(ErrorKind::BadArguments, format!("'{last}' has no value"))
                .hint("Give KEY VALUE pairs, e.g. smtp-desk config set mode relay relay.host smtp.example.com"),
        ));
    }
    let path = settings_file()?;
    // The keys are applied to the file as it is under the lock, so a concurrent writer's change
    // to another key is kept.
    let options = settings::WriteOptions { replace_broken_file };
    let written = settings::modify(&path, options, |s| {
        for pair in pairs.chunks(2) {
            settings::set_key(s, &pair[0], &pair[1])?;
        }
        Ok(())
    })
    .map_err(|e| {
        let code = match e {
            settings::Error::Invalid(_) | settings::Error::UnknownKey(_) | settings::Error::BadValue { .. } => EXIT_BAD_INPUT,
            _ => EXIT_FAILURE,
        };
        let mut report = ErrorReport::from(&e);
        if matches!(e, settings::Error::Invalid(_)) {
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
    if let Some(backup) = &written.backup {
        eprintln!("The unusable settings file was kept as {}; the settings started from defaults.", backup.display());
    }
    for w in settings::check(&written.settings).warnings {
        eprintln!("warning: {}: {}", w.field, w.message);
    }
    Ok(())
}

fn password_set() -> Outcome {
    let text = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("SMTP password: ")
            .map_err(|e| (EXIT_FAILURE, ErrorReport::new(ErrorKind::Input, format!("could not read the password: {e}"))))?
    } else {
        let mut t = String::new();
        std::io::stdin().read_to_string(&mut t).map_err(|e| {
            (EXIT_FAILURE, ErrorReport::new(ErrorKind::Input, format!("could not read the password from standard input: {e}")))
        })?;
        t
    };
    let password = Password::new(text).map_err(|e| (EXIT_BAD_INPUT, (&e).into()))?;
    secrets::set(DEFAULT_PROFILE, &password).map_err(|e| (EXIT_FAILURE, (&e).into()))?;
    eprintln!("Password saved in the OS keyring.");
    Ok(())
}

/// `validate` and `send-test`: the only commands that start an async runtime or read the password.
mod probe {
    use super::{print_error, ProbeOutput, EXIT_BAD_INPUT, EXIT_CANCELLED, EXIT_FAILURE};
    use smtp_desk::error::ErrorReport;
    use smtp_desk::secrets::{self, DEFAULT_PROFILE};
    use smtp_desk::settings::{self, AuthMethod, Profile};
    use smtp_desk::smtp::{self, CancelToken, PasswordSource, Step, StepKind, StepStatus};
    use std::io::Write;
    use std::process::ExitCode;

    pub fn validate(to: Option<&str>, out: &ProbeOutput) -> ExitCode {
        let (profile, password) = match prepare(to, out) {
            Ok(p) => p,
            Err(code) => return ExitCode::from(code),
        };
        let human = !out.json;
        let mut on_step = |s: &Step| {
            if human {
                print_step(s);
            }
        };
        let outcome = runtime().block_on(smtp::validate_with(&profile, password, to, &CancelToken::new(), &mut on_step));
        if out.json {
            println!("{}", serde_json::to_string_pretty(&outcome).expect("serialisable"));
        } else {
            finish(outcome.failure.as_ref(), &outcome.warnings, &outcome.transcript, out.transcript);
            if outcome.ok {
                println!("Validation passed in {} ms.", outcome.elapsed_ms);
            }
        }
        exit_code(outcome.ok, outcome.cancelled, outcome.failure.as_ref(), outcome.failed_step())
    }

    pub fn send_test(to: &str, out: &ProbeOutput) -> ExitCode {
        let (profile, password) = match prepare(Some(to), out) {
            Ok(p) => p,
            Err(code) => return ExitCode::from(code),
        };
        let result = match runtime().block_on(smtp::send_test_with(&profile, password, to, &CancelToken::new())) {
            Ok(r) => r,
            Err(report) => return bad_input(&report, out),
        };
        if out.json {
            println!("{}", serde_json::to_string_pretty(&result).expect("serialisable"));
        } else {
            result.steps.iter().for_each(print_step);
            finish(result.failure.as_ref(), &result.warnings, &result.transcript, out.transcript);
            if result.ok {
                println!("Test email sent to {to} in {} ms.", result.elapsed_ms);
                println!("  server reply: {}", result.reply);
                if let Some(id) = &result.queue_id {
                    println!("  queued as:    {id}");
                }
                println!("  Message-ID:   {}", result.message_id);
            }
        }
        let cancelled = result.failure.as_ref().is_some_and(|f| f.category == smtp::Category::Cancelled);
        exit_code(result.ok, cancelled, result.failure.as_ref(), result.failed_step())
    }

    /// Loads the settings and refuses unusable ones. If login uses a password, its keyring read
    /// starts on its own thread: the D-Bus round trips then overlap DNS, connect and TLS.
    fn prepare(to: Option<&str>, out: &ProbeOutput) -> Result<(Profile, PasswordSource<'static>), u8> {
        let loaded = settings::load().map_err(|e| {
            bad_input(&(&e).into(), out);
            EXIT_BAD_INPUT
        })?;
        if let Some(n) = &loaded.notice {
            eprintln!("warning: {n}");
        }
        let profile = loaded.settings.profile;
        smtp::check_ready(&profile, to).map_err(|r| {
            bad_input(&r, out);
            EXIT_BAD_INPUT
        })?;
        if profile.auth.method != AuthMethod::Password {
            return Ok((profile, PasswordSource::Ready(None)));
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let _ = tx.send(secrets::get(DEFAULT_PROFILE));
        });
        Ok((profile, PasswordSource::Pending(rx)))
    }

    fn bad_input(report: &ErrorReport, out: &ProbeOutput) -> ExitCode {
        if out.json {
            println!("{}", serde_json::json!({ "ok": false, "error": report }));
        }
        print_error(report);
        ExitCode::from(EXIT_BAD_INPUT)
    }

    /// One thread is plenty for one connection, and starts fastest.
    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime")
    }

    fn print_step(s: &Step) {
        let mark = match s.status {
            StepStatus::Ok => "✓",
            StepStatus::Warning => "!",
            StepStatus::Failed => "✗",
            StepStatus::Skipped => "-",
        };
        println!("{mark} {:<22} {:>6} ms  {}", s.title, s.duration_ms, s.summary);
        // The certificate and a failed step's findings are what a person needs to see; the rest is in --json.
        if s.step == StepKind::Tls || s.status == StepStatus::Failed {
            for (k, v) in &s.details {
                println!("{:>34}  {k}: {v}", "");
            }
        }
        let _ = std::io::stdout().flush();
    }

    fn finish(failure: Option<&smtp::Failure>, warnings: &[String], transcript: &[smtp::TranscriptLine], show_transcript: bool) {
        for w in warnings {
            println!("warning: {w}");
        }
        if let Some(f) = failure {
            println!("error ({}): {}", f.category, f.message);
            println!("hint: {}", f.hint);
        }
        if show_transcript {
            println!("\nTranscript:");
            print!("{}", smtp::render_transcript(transcript));
        }
    }

    fn exit_code(ok: bool, cancelled: bool, failure: Option<&smtp::Failure>, failed: Option<StepKind>) -> ExitCode {
        let keyring = failure.is_some_and(|f| f.category == smtp::Category::KeyringFailed);
        ExitCode::from(match (ok, cancelled, failed) {
            (true, _, _) => 0,
            (_, true, _) => EXIT_CANCELLED,
            _ if keyring => EXIT_FAILURE,
            (_, _, Some(step)) => step.exit_code(),
            (_, _, None) => EXIT_BAD_INPUT,
        })
    }
}
