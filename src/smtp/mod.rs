//! Talking to the SMTP server: "Validate configuration" (each step timed and explained) and
//! "Send test email", with a swaks-style transcript whose credentials are redacted.
//!
//! Why a small hand-written client instead of lettre's transport: the validation must time and
//! explain every step, bound *each* network wait by the timeout setting (lettre's async timeout
//! covers only the connect), show the whole EHLO capability list (lettre's `server_info()` drops
//! keywords it does not know), show the certificate even when it fails, and keep a transcript —
//! none of which lettre exposes. lettre still builds the test message (headers, Message-ID, Date).
//!
//! Layout, one file per protocol concept as in lettre: [`reply`] (RFC 5321 replies and EHLO
//! keywords), `conn` (stream, bounded reads, deadline + cancel), `tls` (rustls, verifier,
//! certificate details), `sasl` (PLAIN and LOGIN), [`codec`] (CRLF and dot-stuffing on bytes),
//! [`transcript`], `redact` and `sanitize` (how server text becomes shown text: redacted, cut,
//! cleaned — where it is read), [`failure`] (categories and hints), `probe/` (the run and one
//! file per step group), `send` (the test email), [`Job`] (the profile and its password).
//!
//! Two entry points, [`validate`] and [`send_test`], both on a [`Job`] and both returning an
//! [`Outcome`]: a failure is an answer to show, not an exception. Only bad input (unusable
//! settings, a recipient that is not an address) is refused up front by [`check_ready`].

pub(crate) mod address;
pub mod codec;
pub(crate) mod conn;
pub mod failure;
mod job;
pub(crate) mod ntlm;
mod probe;
pub(crate) mod redact;
pub(crate) mod reply;
mod sanitize;
pub(crate) mod sasl;
mod send;
pub(crate) mod session;
pub(crate) mod tls;
pub mod transcript;
#[cfg(test)]
mod wire_props;

pub use failure::{Category, Failure};
pub use job::{Job, PasswordRead};
pub use probe::RUN_LIMIT_FACTOR;
pub use send::send_test;
pub use tokio_util::sync::CancellationToken as CancelToken;
pub use transcript::{render as render_transcript, Direction, TranscriptLine};

use crate::error::{ErrorKind, ErrorReport};
use crate::settings::{self, Mode, Profile, Settings};
use serde::Serialize;
use ts_rs::TS;

/// One step of a validation (or of sending the test email).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// Direct mode: the recipient domain's MX hosts (RFC 5321 §5.1), the first that answers is used.
    Mx,
    /// Resolve the host name to every A/AAAA address.
    Resolve,
    /// Open a TCP connection, trying each address in turn.
    Connect,
    /// Read the server's greeting (220), or its refusal.
    Banner,
    /// EHLO with the configured name; the capability list.
    Ehlo,
    /// STARTTLS or implicit TLS: version, cipher, certificate, verification.
    Tls,
    /// Log in with the saved credentials.
    Auth,
    /// MAIL FROM + RCPT TO, then RSET (validation) — nothing is sent.
    Envelope,
    /// DATA: the test email itself (send-test only).
    Data,
}

impl StepKind {
    /// Every step, in the order of a STARTTLS or plain run.
    pub const ALL: [StepKind; 9] = [
        StepKind::Mx,
        StepKind::Resolve,
        StepKind::Connect,
        StepKind::Banner,
        StepKind::Ehlo,
        StepKind::Tls,
        StepKind::Auth,
        StepKind::Envelope,
        StepKind::Data,
    ];

    /// The name in JSON and in the CLI's exit-code table.
    pub fn name(self) -> &'static str {
        match self {
            StepKind::Mx => "mx",
            StepKind::Resolve => "resolve",
            StepKind::Connect => "connect",
            StepKind::Banner => "banner",
            StepKind::Ehlo => "ehlo",
            StepKind::Tls => "tls",
            StepKind::Auth => "auth",
            StepKind::Envelope => "envelope",
            StepKind::Data => "data",
        }
    }

    /// What makes this step fail, in a few words (the CLI's exit-code table).
    pub fn fails_when(self) -> &'static str {
        match self {
            StepKind::Mx => "direct mode: the recipient's domain takes no mail (null MX, no such domain) or DNS failed",
            StepKind::Resolve => "the host name was not found or DNS failed",
            StepKind::Connect => "refused, unreachable or no answer (firewall)",
            StepKind::Banner => "no greeting, a refusal (421/554), not SMTP, or the port wants implicit TLS",
            StepKind::Ehlo => "EHLO and HELO refused, or the server hung up",
            StepKind::Tls => {
                "STARTTLS missing/refused, handshake or certificate problem, or implicit TLS set for a port that talks plain SMTP"
            }
            StepKind::Auth => "no password saved, AUTH missing, no common mechanism, login rejected",
            StepKind::Envelope => "sender or recipient refused, login required",
            StepKind::Data => "the test email was refused (send-test)",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            StepKind::Mx => "Find the recipient's mail servers",
            StepKind::Resolve => "Resolve host name",
            StepKind::Connect => "Connect",
            StepKind::Banner => "Server greeting",
            StepKind::Ehlo => "EHLO and capabilities",
            StepKind::Tls => "TLS",
            StepKind::Auth => "Login",
            StepKind::Envelope => "Sender and recipient",
            StepKind::Data => "Send message",
        }
    }

    /// The `smtp-desk validate` / `send-test` exit code when this step fails (see the CLI help).
    pub fn exit_code(self) -> u8 {
        match self {
            StepKind::Resolve => 10,
            StepKind::Connect => 11,
            StepKind::Banner => 12,
            StepKind::Ehlo => 13,
            StepKind::Tls => 14,
            StepKind::Auth => 15,
            StepKind::Envelope => 16,
            StepKind::Data => 17,
            StepKind::Mx => 18,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Ok,
    Warning,
    Failed,
    Skipped,
}

/// A finished step, as streamed to the window.
#[derive(Debug, Clone, Serialize, TS)]
pub struct Step {
    pub step: StepKind,
    pub title: String,
    pub status: StepStatus,
    pub duration_ms: u64,
    /// One line saying what happened.
    pub summary: String,
    /// Label/value rows (addresses, capabilities, certificate fields, …).
    pub details: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub failure: Option<Failure>,
}

/// The result of "Validate configuration" and of "Send test email": one struct for both, the
/// send-only fields set by [`send_test`].
#[derive(Debug, Clone, Serialize, TS)]
pub struct Outcome {
    pub ok: bool,
    /// Always sent; optional on the TypeScript side only so the window's send-test code of before
    /// the merge (which had no such field) still type-checks.
    #[ts(as = "Option<bool>", optional)]
    pub cancelled: bool,
    /// Every planned step: those run, then the ones skipped after a failure.
    pub steps: Vec<Step>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional = nullable)]
    pub failure: Option<Failure>,
    pub warnings: Vec<String>,
    pub transcript: Vec<TranscriptLine>,
    pub elapsed_ms: u64,
    /// Send-test: the server's final reply to the message (`250 2.0.0 Ok: queued as …`), or its last reply.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional = nullable)]
    pub reply: Option<String>,
    /// Send-test: the queue id the server named in its reply, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional = nullable)]
    pub queue_id: Option<String>,
    /// Send-test: the Message-ID header of the test email.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional = nullable)]
    pub message_id: Option<String>,
}

impl Outcome {
    /// The step that failed, if any.
    pub fn failed_step(&self) -> Option<StepKind> {
        self.steps.iter().find(|s| s.status == StepStatus::Failed).map(|s| s.step)
    }

    fn refused(report: ErrorReport) -> Self {
        let category = if report.kind == ErrorKind::InvalidRecipient { Category::InvalidRecipient } else { Category::InvalidSettings };
        Self::finished(
            probe::Run {
                steps: Vec::new(),
                failure: Some(Failure::new(category, report.message, report.hint.unwrap_or_default())),
                warnings: Vec::new(),
                transcript: Vec::new(),
                last_reply: None,
            },
            None,
        )
    }

    fn finished(run: probe::Run, started: Option<std::time::Instant>) -> Self {
        Self {
            ok: run.failure.is_none(),
            cancelled: run.failure.as_ref().is_some_and(|f| f.category == Category::Cancelled),
            steps: run.steps,
            failure: run.failure,
            warnings: run.warnings,
            transcript: run.transcript,
            elapsed_ms: started.map_or(0, |s| s.elapsed().as_millis() as u64),
            reply: None,
            queue_id: None,
            message_id: None,
        }
    }
}

/// Refuses settings that can't be validated and recipients that are not addresses, before any
/// network traffic; the report names the field to fix. See [`check_validate`] for a validation.
pub fn check_ready(profile: &Profile, recipient: Option<&str>) -> Result<(), ErrorReport> {
    check_settings(profile)?;
    if let Some(to) = recipient {
        if to.parse::<lettre::Address>().is_err() {
            return Err(on_field(
                ErrorReport::new(ErrorKind::InvalidRecipient, format!("'{to}' is not an email address."))
                    .hint("Enter one address such as someone@example.com."),
                "to",
            ));
        }
    }
    Ok(())
}

/// [`check_ready`] for a validation or test email: in Direct mode the recipient is needed, since
/// its domain's own mail servers are the ones asked.
pub fn check_validate(profile: &Profile, recipient: Option<&str>) -> Result<(), ErrorReport> {
    if profile.mode == Mode::Direct && recipient.is_none_or(|r| r.trim().is_empty()) {
        check_settings(profile)?;
        return Err(on_field(
            ErrorReport::new(
                ErrorKind::InvalidRecipient,
                "Direct mode needs a test recipient: validation asks the recipient's own mail servers.",
            )
            .hint("Enter a test recipient address (smtp-desk validate --to someone@example.com)."),
            "to",
        ));
    }
    check_ready(profile, recipient)
}

/// The settings part of [`check_ready`]: a job can be made before its recipient is known.
pub fn check_settings(profile: &Profile) -> Result<(), ErrorReport> {
    if profile.mode == Mode::Off {
        return Err(on_field(
            ErrorReport::new(ErrorKind::InvalidSettings, "Sending is off, so there is nothing to validate.")
                .hint("Choose 'Relay' and enter the SMTP server's host name (smtp-desk config set mode relay)."),
            "mode",
        ));
    }
    let report = settings::check(&Settings { profile: profile.clone(), ..Settings::default() });
    if let Some(first) = report.errors.first() {
        let mut r = on_field(
            ErrorReport::new(ErrorKind::InvalidSettings, format!("The settings are not valid: {}: {}", first.field, first.message))
                .hint("Correct the fields marked, then validate again."),
            &first.field,
        );
        r.issues = report.errors.clone();
        return Err(r);
    }
    Ok(())
}

fn on_field(mut report: ErrorReport, field: &str) -> ErrorReport {
    report.field = Some(field.into());
    report
}

/// Runs the validation steps the job's settings imply, calling `on_step` as each one finishes.
///
/// Every step is bounded by `profile.limits.timeout_secs`, and the whole run by
/// [`RUN_LIMIT_FACTOR`] × that (a server whose every reply comes just in time still can't hold
/// it longer: the run then fails with a `timeout` naming the overall limit); `cancel` stops the
/// run within moments, mid-step. The password never appears in the result. `recipient` defaults
/// to the from address. Unusable settings or recipient are the outcome's failure, before any
/// network traffic.
pub async fn validate(job: &Job, recipient: Option<&str>, cancel: &CancelToken, on_step: &mut (dyn FnMut(&Step) + Send)) -> Outcome {
    let started = std::time::Instant::now();
    let profile = job.profile();
    if let Err(report) = check_validate(profile, recipient) {
        return Outcome::refused(report);
    }
    // Direct mode has its recipient (check_ready); a relay is asked about the sender itself.
    let recipient = recipient.unwrap_or(&profile.sender.from_address);
    let run = probe::run(job, probe::Goal::Validate { recipient }, cancel, on_step).await;
    Outcome::finished(run, Some(started))
}

#[cfg(test)]
mod tests {
    use super::StepKind;

    #[test]
    fn step_names_are_their_json_names_and_exit_codes_are_distinct() {
        let mut codes = std::collections::HashSet::new();
        for step in StepKind::ALL {
            assert_eq!(serde_json::to_value(step).unwrap(), step.name());
            assert!(codes.insert(step.exit_code()), "{step:?}");
            assert!(!step.fails_when().is_empty());
        }
    }
}
