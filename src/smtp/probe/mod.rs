//! The steps of a validation (and of the test email): resolve, connect, greeting, EHLO, TLS,
//! AUTH, envelope (and DATA), each timed, each failure turned into a category and a hint.
//!
//! This file owns the run: the plan, the loop, the session's deadlines and cancel, and sending a
//! command. Each step group is an `impl Probe` block in its own file (as mail-send has one file
//! per verb) and returns its own [`Report`]: status, summary, detail rows and warnings.

mod auth;
mod connect;
mod ehlo;
mod envelope;
mod resolve;
mod starttls;

use super::conn::{Error as Wire, Session};
use super::failure::{Category, Failure, Place};
use super::job::Job;
use super::redact::Redactor;
use super::reply::{Capabilities, Reply};
use super::tls::TlsSetup;
use super::transcript::{Transcript, TranscriptLine};
use super::{CancelToken, Step, StepKind, StepStatus};
use crate::secrets::Password;
use crate::settings::{AuthMethod, Profile, Security};
use std::net::IpAddr;
use std::time::Duration;
use tokio::time::Instant;

/// What the run is for.
pub(crate) enum Goal<'a> {
    /// Stop after RCPT TO, then RSET and QUIT.
    Validate { recipient: &'a str },
    /// Send `message` (not yet dot-stuffed; see [`super::codec`]) to `to`.
    Send { to: &'a str, message: &'a [u8] },
}

/// Everything a run produced; secrets already redacted.
pub(crate) struct Run {
    pub steps: Vec<Step>,
    pub failure: Option<Failure>,
    pub warnings: Vec<String>,
    pub transcript: Vec<TranscriptLine>,
    /// The server's last reply (the final DATA reply after a successful send).
    pub last_reply: Option<Reply>,
}

/// How long we wait for the answer to a "does this port speak TLS?" check after a missing
/// greeting: a real TLS server answers a ClientHello within a round trip, and the whole run must
/// still end within the timeout plus a second.
const TLS_SNIFF: Duration = Duration::from_millis(600);

/// The whole run (validation or test email) ends after this many step timeouts, however the
/// time is spread: a server whose every reply comes just inside the step timeout must not keep
/// the user waiting for steps × timeout (with the 600 s maximum, over an hour). Three step
/// timeouts leave room for one slow step and normal ones, while a run against a working server
/// takes a fraction of one.
pub const RUN_LIMIT_FACTOR: u32 = 3;

/// What one step found: its verdict and the rows and warnings it adds.
#[derive(Default)]
pub(crate) struct Report {
    status: Option<StepStatus>,
    summary: String,
    details: Vec<(String, String)>,
    warnings: Vec<String>,
}

/// A step that failed, with the rows it had found until then (the certificate, each address
/// tried, the server's replies).
pub(crate) struct Failed {
    failure: Failure,
    details: Vec<(String, String)>,
    warnings: Vec<String>,
}

impl From<Failure> for Failed {
    fn from(failure: Failure) -> Self {
        Self { failure, details: Vec::new(), warnings: Vec::new() }
    }
}

type StepResult = Result<Report, Failed>;

impl Report {
    fn detail(&mut self, k: &str, v: impl Into<String>) {
        self.details.push((k.into(), v.into()));
    }

    /// A warning for the whole run (shown after the steps).
    fn warn(&mut self, warning: String) {
        self.warnings.push(warning);
    }

    fn done(mut self, status: StepStatus, summary: impl Into<String>) -> StepResult {
        self.status = Some(status);
        self.summary = summary.into();
        Ok(self)
    }

    /// The step failed: `failure`, with the rows found so far.
    fn fail(&mut self, failure: Failure) -> Failed {
        Failed { failure, details: std::mem::take(&mut self.details), warnings: std::mem::take(&mut self.warnings) }
    }
}

/// Runs the steps in order, reporting each to `on_step` as it finishes.
pub(crate) async fn run(job: &Job, goal: Goal<'_>, cancel: &CancelToken, on_step: &mut (dyn FnMut(&Step) + Send)) -> Run {
    let plan = plan(job.profile(), &goal);
    let mut p = Probe::new(job, cancel);
    let mut steps = Vec::with_capacity(plan.len());
    let mut warnings = Vec::new();
    let mut failure = None;
    for (i, &kind) in plan.iter().enumerate() {
        p.start_step();
        let started = Instant::now();
        let result = if p.cancelled() {
            Err(Failure::cancelled().into())
        } else if p.past_run_deadline() {
            Err(p.run_timeout(kind, &goal).into())
        } else {
            match p.step(kind, &goal).await {
                // A step cut short by the overall limit says so, not "the server stopped answering".
                Err(f) if f.failure.category == Category::Timeout && p.past_run_deadline() => {
                    Err(Failed { failure: p.run_timeout(kind, &goal), ..f })
                }
                r => r,
            }
        };
        // What to redact is known once the password is (at the login step at the latest); lines
        // read from then on are redacted as they are read. Server text in the step is already
        // redacted and cleaned; this pass catches text from elsewhere (I/O and TLS errors).
        let secrets = p.t.redactor().clone();
        let tidy_rows = |rows: Vec<(String, String)>| rows.into_iter().map(|(k, v)| (secrets.tidy(&k), secrets.tidy(&v))).collect();
        let (status, summary, details, fail) = match result {
            Ok(report) => {
                warnings.extend(report.warnings);
                (report.status.unwrap_or(StepStatus::Ok), report.summary, tidy_rows(report.details), None)
            }
            Err(Failed { failure, details, warnings: found }) => {
                warnings.extend(found);
                (StepStatus::Failed, failure.message.clone(), tidy_rows(details), Some(failure))
            }
        };
        let step = Step {
            step: kind,
            title: kind.title().into(),
            status,
            duration_ms: started.elapsed().as_millis() as u64,
            summary: secrets.tidy(&summary),
            details,
            failure: fail.clone().map(|f| redact_failure(f, &secrets)),
        };
        on_step(&step);
        steps.push(step);
        if let Some(f) = fail {
            for &rest in &plan[i + 1..] {
                let step = Step {
                    step: rest,
                    title: rest.title().into(),
                    status: StepStatus::Skipped,
                    duration_ms: 0,
                    summary: "Not run: an earlier step failed.".into(),
                    details: Vec::new(),
                    failure: None,
                };
                on_step(&step);
                steps.push(step);
            }
            failure = Some(redact_failure(f, &secrets));
            break;
        }
    }
    if let Some(f) = &failure {
        p.quit_politely(f.category).await;
    }
    let secrets = p.t.redactor().clone();
    let warnings = warnings.iter().map(|w| secrets.tidy(w)).collect();
    let last_reply = p.last_reply.map(|r| Reply { lines: r.lines.iter().map(|l| secrets.tidy(l)).collect(), ..r });
    Run { steps, failure, warnings, transcript: p.t.into_lines(), last_reply }
}

/// The steps the settings imply, in order: implicit TLS starts before the greeting.
fn plan(profile: &Profile, goal: &Goal<'_>) -> Vec<StepKind> {
    let mut plan = vec![StepKind::Resolve, StepKind::Connect];
    if profile.relay.security == Security::ImplicitTls {
        plan.extend([StepKind::Tls, StepKind::Banner, StepKind::Ehlo]);
    } else {
        plan.extend([StepKind::Banner, StepKind::Ehlo, StepKind::Tls]);
    }
    plan.extend([StepKind::Auth, StepKind::Envelope]);
    if matches!(goal, Goal::Send { .. }) {
        plan.push(StepKind::Data);
    }
    plan
}

fn redact_failure(mut f: Failure, secrets: &Redactor) -> Failure {
    f.message = secrets.tidy(&f.message);
    f.hint = secrets.tidy(&f.hint);
    f
}

/// What to scrub from everything shown, once the password is known.
fn redactor(profile: &Profile, password: Option<&Password>) -> Redactor {
    match (password, profile.auth.method) {
        (Some(pw), AuthMethod::Password) => Redactor::new(&profile.auth.username, pw.expose()),
        _ => Redactor::default(),
    }
}

struct Probe<'a> {
    job: &'a Job,
    profile: &'a Profile,
    cancel: &'a CancelToken,
    timeout: Duration,
    /// When the whole run must end: [`RUN_LIMIT_FACTOR`] × the step timeout after it started.
    run_deadline: Instant,
    /// This end of the connection, for an address-literal EHLO name.
    local_ip: Option<IpAddr>,
    /// The host as the user wrote it, for messages.
    host: String,
    /// The host in the form DNS and TLS use (IDNA ASCII, or the address literal).
    host_ascii: String,
    addrs: Vec<IpAddr>,
    session: Option<Session>,
    t: Transcript,
    caps: Capabilities,
    tls: Option<TlsSetup>,
    last_reply: Option<Reply>,
}

impl<'a> Probe<'a> {
    fn new(job: &'a Job, cancel: &'a CancelToken) -> Self {
        let profile = job.profile();
        let host = profile.relay.host.trim().to_string();
        let timeout = profile.limits.step_timeout();
        let mut t = Transcript::default();
        t.set_redactor(redactor(profile, job.password_if_known().as_ref()));
        Self {
            job,
            profile,
            cancel,
            timeout,
            run_deadline: Instant::now() + timeout * RUN_LIMIT_FACTOR,
            local_ip: None,
            host_ascii: host.trim_start_matches('[').trim_end_matches(']').to_string(),
            host,
            addrs: Vec::new(),
            session: None,
            t,
            caps: Capabilities::default(),
            tls: None,
            last_reply: None,
        }
    }

    // ---- the session's deadline and cancel ------------------------------------------------

    /// A new step gets a fresh step timeout (never past the run's end) on the open connection.
    fn start_step(&mut self) {
        let deadline = self.step_deadline();
        if let Some(s) = self.session.as_mut() {
            s.deadline = deadline;
        }
    }

    /// When the current step runs out of time: its own timeout, but never past the run's end.
    fn step_deadline(&self) -> Instant {
        (Instant::now() + self.timeout).min(self.run_deadline)
    }

    fn past_run_deadline(&self) -> bool {
        Instant::now() >= self.run_deadline
    }

    fn cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// The failure when the whole run passed its overall limit during `kind`.
    fn run_timeout(&self, kind: StepKind, goal: &Goal<'_>) -> Failure {
        let what = match goal {
            Goal::Validate { .. } => "The validation",
            Goal::Send { .. } => "Sending the test email",
        };
        self.place().run_timeout(what, kind.title(), RUN_LIMIT_FACTOR)
    }

    /// The password, waiting (bounded by the step, cancellable) for the keyring read if it is still going.
    async fn password(&mut self) -> Result<Option<Password>, Failure> {
        match self.job.password(self.cancel, self.step_deadline()).await {
            Err(Wire::Cancelled) => Err(Failure::cancelled()),
            // Reported by `run` as the overall limit.
            Err(_) if self.past_run_deadline() => Err(self.place().stalled("waiting for the keyring")),
            Err(_) => Err(keyring_failure(&crate::secrets::Error::Locked("no answer from the keyring in time".into()))),
            Ok(read) => read,
        }
    }

    fn place(&self) -> Place<'_> {
        Place { host: &self.host, port: self.profile.relay.port, timeout_secs: self.profile.limits.timeout_secs.max(1) }
    }

    async fn step(&mut self, kind: StepKind, goal: &Goal<'_>) -> StepResult {
        match kind {
            StepKind::Resolve => self.resolve().await,
            StepKind::Connect => self.connect().await,
            StepKind::Banner => self.banner().await,
            StepKind::Ehlo => self.ehlo().await,
            StepKind::Tls => self.tls_step().await,
            StepKind::Auth => self.auth().await,
            StepKind::Envelope => match goal {
                Goal::Validate { recipient } => self.envelope(recipient, true).await,
                Goal::Send { to, .. } => self.envelope(to, false).await,
            },
            StepKind::Data => match goal {
                Goal::Send { message, .. } => self.data(message).await,
                Goal::Validate { .. } => Report::default().done(StepStatus::Skipped, "Nothing to send."),
            },
        }
    }

    // ---- commands --------------------------------------------------------------------------

    /// Maps a wire error to a failure, saying what we were doing.
    fn wire(&self, e: Wire, doing: &str) -> Failure {
        let place = self.place();
        match e {
            Wire::Cancelled => Failure::cancelled(),
            Wire::Timeout => place.stalled(doing),
            Wire::Closed => place.closed(doing),
            Wire::NotSmtp(what) => place.not_smtp(&what),
            Wire::Io(e) => match e.kind() {
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::UnexpectedEof => {
                    place.closed(doing)
                }
                _ => place.network(doing, &e),
            },
        }
    }

    /// Sends a command and reads the reply.
    async fn cmd(&mut self, line: &str, doing: &str) -> Result<Reply, Failure> {
        self.cmd_shown(line, line, doing).await
    }

    /// Sends a command recorded as `shown` (a placeholder for credentials) and reads the reply.
    async fn cmd_shown(&mut self, line: &str, shown: &str, doing: &str) -> Result<Reply, Failure> {
        let s = self.session.as_mut().expect("connected before any command");
        let r = match s.send(&mut self.t, line, shown).await {
            Ok(()) => s.read_reply(&mut self.t).await,
            Err(e) => Err(e),
        };
        let r = r.map_err(|e| self.wire(e, doing))?;
        self.last_reply = Some(r.clone());
        Ok(r)
    }

    /// After a refusal the conversation is still in step: end it properly, briefly.
    async fn quit_politely(&mut self, category: Category) {
        let in_step = matches!(
            category,
            Category::AuthRejected
                | Category::AuthRequired
                | Category::AuthNotOffered
                | Category::AuthOnlyAfterStarttls
                | Category::NoCommonMechanism
                | Category::PasswordMissing
                | Category::SenderRefused
                | Category::RecipientRefused
                | Category::NonAsciiAddress
                | Category::MessageRefused
                | Category::StarttlsNotOffered
                | Category::EhloRejected
        );
        let last = self.last_reply.clone();
        if let (true, Some(s)) = (in_step, self.session.as_mut()) {
            s.deadline = Instant::now() + Duration::from_millis(500).min(self.timeout);
            let cancel = CancelToken::new();
            s.cancel = cancel;
            if s.send(&mut self.t, "QUIT", "QUIT").await.is_ok() {
                let _ = s.read_reply(&mut self.t).await;
            }
        }
        self.last_reply = last;
        self.session = None;
    }
}

/// A keyring read that failed, as the login step's failure with the keyring's own hint.
pub(crate) fn keyring_failure(e: &crate::secrets::Error) -> Failure {
    let r = crate::error::ErrorReport::from(e);
    Failure::new(Category::KeyringFailed, r.message, r.hint.unwrap_or_default())
}
