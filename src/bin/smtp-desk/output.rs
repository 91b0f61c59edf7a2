//! What the command prints: errors, steps as they finish, the end of a run, and the exit codes
//! of `validate` and `send-test` (their table generated from `StepKind`).

use crate::{EXIT_BAD_INPUT, EXIT_CANCELLED, EXIT_FAILURE};
use smtp_desk::error::ErrorReport;
use smtp_desk::smtp::{self, Outcome, Step, StepKind, StepStatus, RUN_LIMIT_FACTOR};
use std::io::Write;
use std::process::ExitCode;

pub fn print_error(r: &ErrorReport) {
    if r.issues.is_empty() {
        eprintln!("error: {}", r.message);
    } else if r.kind == smtp_desk::error::ErrorKind::InvalidSettings {
        eprintln!("error: the settings were not saved:");
    } else {
        // e.g. the admin policy refusing a profile `validate` was asked to use: nothing was being saved.
        eprintln!("error: {}:", r.message.split(':').next().unwrap_or(&r.message));
    }
    for issue in &r.issues {
        eprintln!("  {}: {}", issue.field, issue.message);
    }
    if let Some(h) = &r.hint {
        eprintln!("hint: {h}");
    }
}

/// The exit codes of `validate` and `send-test`, for `--help`: which step failed, for scripts.
/// Each network step has its own code, so `case $?` can tell DNS from TLS from login.
pub fn exit_codes_help() -> String {
    let mut s = String::from("Exit codes:\n");
    let mut row = |code: u8, text: &str| s.push_str(&format!("  {code:<3} {text}\n"));
    row(0, "every step passed (warnings may still be printed)");
    row(EXIT_FAILURE, "the keyring could not be read");
    row(EXIT_BAD_INPUT, "bad input: unusable settings or recipient");
    for step in StepKind::ALL {
        row(step.exit_code(), &format!("{}: {}", step.name(), step.fails_when()));
    }
    row(EXIT_CANCELLED, "cancelled");
    s.push_str(&format!(
        "\nTime limits: each step waits at most limits.timeout_secs (smtp-desk config set limits.timeout_secs N);\n\
         the whole run stops after {RUN_LIMIT_FACTOR} x that, with a timeout failure naming the overall limit (exit code of\n\
         the step it was in)."
    ));
    s
}

pub fn print_step(s: &Step) {
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

/// After the steps: warnings, the failure and its hint, and the transcript if asked for.
pub fn finish(outcome: &Outcome, show_transcript: bool) {
    for w in &outcome.warnings {
        println!("warning: {w}");
    }
    if let Some(f) = &outcome.failure {
        println!("error ({}): {}", f.category, f.message);
        println!("hint: {}", f.hint);
    }
    if show_transcript {
        println!("\nTranscript:");
        print!("{}", smtp::render_transcript(&outcome.transcript));
    }
}

pub fn print_json(value: &impl serde::Serialize) {
    println!("{}", serde_json::to_string_pretty(value).expect("serialisable"));
}

pub fn exit_code(outcome: &Outcome) -> ExitCode {
    let keyring = outcome.failure.as_ref().is_some_and(|f| f.category == smtp::Category::KeyringFailed);
    ExitCode::from(match (outcome.ok, outcome.cancelled, outcome.failed_step()) {
        (true, _, _) => 0,
        (_, true, _) => EXIT_CANCELLED,
        _ if keyring => EXIT_FAILURE,
        (_, _, Some(step)) => step.exit_code(),
        (_, _, None) => EXIT_BAD_INPUT,
    })
}
