//! `validate` and `send-test`: the only commands that start an async runtime or read the
//! password. The values are the saved ones, or those with `--set` changes (never saved).

use crate::config::check_pairs;
use crate::output::{self, print_error};
use crate::{password, EXIT_BAD_INPUT};
use smtp_desk::account::SecretSource;
use smtp_desk::error::ErrorReport;
use smtp_desk::journal::events::{self, Actor, Probe};
use smtp_desk::policy;
use smtp_desk::secrets;
use smtp_desk::settings::{self, profiles};
use smtp_desk::smtp::{self, CancelToken, Job, Step};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct ProbeOutput {
    /// Machine-readable output: the whole result as JSON on standard output.
    #[arg(long)]
    json: bool,
    /// Also print the conversation with the server (swaks style; credentials redacted).
    #[arg(long)]
    transcript: bool,
}

#[derive(clap::Args)]
pub struct TryValues {
    /// Try changed settings without saving them: KEY VALUE pairs as for `config set`, checked
    /// the same way; the settings file is not written.
    #[arg(long = "set", num_args = 2.., value_names = ["KEY", "VALUE"])]
    set: Vec<String>,
    /// Read the password from standard input instead of the keyring (nothing is saved).
    #[arg(long)]
    password_stdin: bool,
    /// Use this profile (as it resolves from Global and its overrides, under the admin policy);
    /// default: the default profile.
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
}

pub fn validate(to: Option<&str>, values: &TryValues, out: &ProbeOutput) -> ExitCode {
    let job = match prepare(to, values, out) {
        Ok(job) => job,
        Err(code) => return code,
    };
    let human = !out.json;
    let mut on_step = |s: &Step| {
        if human {
            output::print_step(s);
        }
    };
    let outcome = runtime().block_on(smtp::validate(&job, to, &CancelToken::new(), &mut on_step));
    events::record_at(&smtp_desk::paths::outbox_file(), &events::probe_finished(Probe::Validation, &outcome, to, Actor::CommandLine));
    if out.json {
        output::print_json(&outcome);
    } else {
        output::finish(&outcome, out.transcript);
        if outcome.ok {
            println!("Validation passed in {} ms.", outcome.elapsed_ms);
        }
    }
    output::exit_code(&outcome)
}

pub fn send_test(to: &str, values: &TryValues, out: &ProbeOutput) -> ExitCode {
    let job = match prepare(Some(to), values, out) {
        Ok(job) => job,
        Err(code) => return code,
    };
    let result = match runtime().block_on(smtp::send_test(&job, to, &CancelToken::new(), &mut |_| {})) {
        Ok(r) => r,
        Err(report) => {
            events::record_at(&smtp_desk::paths::outbox_file(), &events::probe_refused(Probe::TestEmail, &report, Actor::CommandLine));
            return bad_input(&report, out);
        }
    };
    events::record_at(&smtp_desk::paths::outbox_file(), &events::probe_finished(Probe::TestEmail, &result, Some(to), Actor::CommandLine));
    if out.json {
        output::print_json(&result);
    } else {
        result.steps.iter().for_each(output::print_step);
        output::finish(&result, out.transcript);
        if result.ok {
            println!("Test email sent to {to} in {} ms.", result.elapsed_ms);
            println!("  server reply: {}", result.reply.as_deref().unwrap_or_default());
            if let Some(id) = &result.queue_id {
                println!("  queued as:    {id}");
            }
            println!("  Message-ID:   {}", result.message_id.as_deref().unwrap_or_default());
        }
    }
    output::exit_code(&result)
}

/// The job: the saved settings (with the `--set` changes) and the password (`--password-stdin`,
/// else the saved one, read on its own thread so the keyring overlaps DNS, connect and TLS).
/// Unusable settings or recipient are refused before anything is read from the keyring.
fn prepare(to: Option<&str>, values: &TryValues, out: &ProbeOutput) -> Result<Job, ExitCode> {
    let refuse = |code: u8, report: ErrorReport| {
        if out.json {
            println!("{}", serde_json::json!({ "ok": false, "error": report }));
        }
        print_error(&report);
        ExitCode::from(code)
    };
    check_pairs(&values.set, "smtp-desk validate --set relay.port 587").map_err(|(code, r)| refuse(code, r))?;
    let loaded = settings::load().map_err(|e| refuse(EXIT_BAD_INPUT, (&e).into()))?;
    if let Some(n) = &loaded.notice {
        eprintln!("warning: {n}");
    }
    let mut tried = loaded.settings;
    let name = profiles::canonical(&tried, values.profile.as_deref()).map_err(|e| refuse(EXIT_BAD_INPUT, (&e).into()))?.to_string();
    for pair in values.set.chunks(2) {
        settings::set_key_in(&mut tried, Some(&name), &pair[0], &pair[1]).map_err(|e| refuse(EXIT_BAD_INPUT, (&e).into()))?;
    }
    // What sending would use: a broken admin policy, or a profile that breaks it, is refused here too.
    let profile = policy::load().effective(&tried, Some(&name)).map_err(|e| refuse(EXIT_BAD_INPUT, (&e).into()))?;
    smtp::check_validate(&profile, to).map_err(|r| refuse(EXIT_BAD_INPUT, r))?;
    if values.password_stdin {
        let password = password::from_stdin().map_err(|(code, r)| refuse(code, r))?;
        return Ok(Job::from_values(profile, Some(password)));
    }
    if profile.auth.method == settings::AuthMethod::OAuth2 {
        let entry = smtp_desk::oauth::entry_for(&tried, Some(&name)).map_err(|r| refuse(EXIT_BAD_INPUT, r))?;
        return Job::with_oauth_token(profile, &entry).map_err(|r| refuse(EXIT_BAD_INPUT, r));
    }
    if profile.auth.method != settings::AuthMethod::Password {
        return Ok(Job::from_values(profile, None));
    }
    // The profile's own entry, else Global's while it logs in as Global does (`account::password_for`).
    let entries = profiles::password_entries(&tried, Some(&name)).map_err(|e| refuse(EXIT_BAD_INPUT, (&e).into()))?;
    if SecretSource::current() == SecretSource::SystemCredential {
        // The system credential: a file or one `systemd-creds` run, read before the runtime starts.
        let mut found = None;
        for entry in &entries {
            found = SecretSource::SystemCredential.get(entry).map_err(|r| refuse(crate::EXIT_FAILURE, r))?;
            if found.is_some() {
                break;
            }
        }
        return Ok(Job::from_values(profile, found));
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let found = entries.iter().try_fold(None, |found, entry| match found {
            Some(p) => Ok(Some(p)),
            None => secrets::get(entry),
        });
        let _ = tx.send(found);
    });
    Ok(Job::with_password_read(profile, rx))
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
