//! Opening an SMTP session: resolve, connect, greeting, EHLO, TLS (and EHLO again), AUTH, each
//! under the step timeout, each failure a [`Failure`] with its category and hint.
//!
//! One dialogue for the validation, the test email and delivery. Each step returns its
//! [`Report`] (status, summary, detail rows, warnings), which the probe shows step by step and
//! delivery drops; delivery calls [`open`] and maps the one typed error to its own. Each step
//! group is an `impl Opener` block in its own file.

mod auth;
mod connect;
mod ehlo;
mod resolve;
mod starttls;

use super::conn::{Error as Wire, Session};
use super::failure::{Failure, Place};
use super::job::{keyring_failure, Job};
use super::redact::Redactor;
use super::reply::{Capabilities, Reply};
use super::tls::{CertInfo, TlsSetup};
use super::transcript::Transcript;
use super::{CancelToken, StepKind, StepStatus};
use crate::secrets::Password;
use crate::settings::{AuthMethod, Profile, Security};
use std::net::IpAddr;
use std::time::Duration;
use tokio::time::Instant;

/// How long we wait for the answer to a "does this port speak TLS?" check after a missing
/// greeting: a real TLS server answers a ClientHello within a round trip, and a validation must
/// still end within its overall limit plus a second.
const TLS_SNIFF: Duration = Duration::from_millis(600);

/// Where the login step gets the password.
pub(crate) enum Secret<'a> {
    /// From the job, waiting for its keyring read if that is still going (the window starts the
    /// validation before the keyring answers).
    Job(&'a Job),
    /// Already read (delivery reads it once per pass).
    Given(Option<&'a Password>),
}

/// What one step found: its verdict and the rows and warnings it adds.
#[derive(Default)]
pub(crate) struct Report {
    pub status: Option<StepStatus>,
    pub summary: String,
    pub details: Vec<(String, String)>,
    pub warnings: Vec<String>,
}

/// A step that failed, with the rows it had found until then (the certificate, each address
/// tried, the server's replies).
pub(crate) struct Failed {
    pub failure: Failure,
    pub details: Vec<(String, String)>,
    pub warnings: Vec<String>,
}

impl From<Failure> for Failed {
    fn from(failure: Failure) -> Self {
        Self { failure, details: Vec::new(), warnings: Vec::new() }
    }
}

pub(crate) type StepResult = Result<Report, Failed>;

impl Report {
    pub fn detail(&mut self, k: &str, v: impl Into<String>) {
        self.details.push((k.into(), v.into()));
    }

    /// A warning for the whole run (shown after the steps).
    pub fn warn(&mut self, warning: String) {
        self.warnings.push(warning);
    }

    pub fn done(mut self, status: StepStatus, summary: impl Into<String>) -> StepResult {
        self.status = Some(status);
        self.summary = summary.into();
        Ok(self)
    }

    /// The step failed: `failure`, with the rows found so far.
    pub fn fail(&mut self, failure: Failure) -> Failed {
        Failed { failure, details: std::mem::take(&mut self.details), warnings: std::mem::take(&mut self.warnings) }
    }
}

/// The opening failed at `step`; secrets already redacted from the message and hint.
#[derive(Debug, thiserror::Error)]
#[error("{}", .failure.message)]
pub(crate) struct StepFailure {
    pub step: StepKind,
    pub failure: Failure,
}

/// A session ready for MAIL FROM: logged in if the settings ask for a login.
pub(crate) struct Opened {
    pub session: Session,
    /// Carries the redactor for what is read from here on.
    pub transcript: Transcript,
    pub caps: Capabilities,
}

/// The opening steps the settings imply, in order: implicit TLS starts before the greeting.
pub(crate) fn steps(profile: &Profile) -> Vec<StepKind> {
    let mut plan = vec![StepKind::Resolve, StepKind::Connect];
    if profile.relay.security == Security::ImplicitTls {
        plan.extend([StepKind::Tls, StepKind::Banner, StepKind::Ehlo]);
    } else {
        plan.extend([StepKind::Banner, StepKind::Ehlo, StepKind::Tls]);
    }
    plan.push(StepKind::Auth);
    plan
}

/// Runs every opening step (no overall limit beyond the step timeouts), for delivery. Also gives
/// the server's certificate when the TLS step got one, even when a later step (or the
/// certificate's own check) failed: delivery keeps its end for the dashboard.
pub(crate) async fn open(
    profile: &Profile,
    password: Option<&Password>,
    cancel: &CancelToken,
) -> (Result<Opened, StepFailure>, Option<CertInfo>) {
    let mut o = Opener::new(profile, Secret::Given(password), cancel, None);
    for step in steps(profile) {
        o.start_step();
        if let Err(Failed { failure, .. }) = o.step(step).await {
            return (Err(StepFailure { step, failure: o.redact(failure) }), o.cert.take());
        }
    }
    let session = o.session.take().expect("the connect step leaves a session");
    let cert = o.cert.take();
    (Ok(Opened { session, transcript: o.t, caps: o.caps }), cert)
}

/// Direct delivery's opening: the steps of [`open`] without the lookup, to `addrs` (one MX
/// host's addresses, already resolved by `direct::mx`) with the profile's host as the name TLS
/// checks. `opportunistic`: STARTTLS when offered, an unverifiable certificate used and noted
/// (the profile's `verify_certificates` must then be off); else TLS and its check are required.
pub(crate) async fn open_at(
    profile: &Profile,
    addrs: Vec<IpAddr>,
    opportunistic: bool,
    cancel: &CancelToken,
) -> (Result<Opened, StepFailure>, Option<CertInfo>, Vec<String>) {
    let mut o = Opener::new(profile, Secret::Given(None), cancel, None);
    o.addrs = addrs;
    o.opportunistic = opportunistic;
    let mut warnings = Vec::new();
    for step in steps(profile).into_iter().filter(|s| *s != StepKind::Resolve) {
        o.start_step();
        match o.step(step).await {
            Ok(report) => warnings.extend(report.warnings),
            Err(Failed { failure, .. }) => return (Err(StepFailure { step, failure: o.redact(failure) }), o.cert.take(), warnings),
        }
    }
    let session = o.session.take().expect("the connect step leaves a session");
    let cert = o.cert.take();
    (Ok(Opened { session, transcript: o.t, caps: o.caps }), cert, warnings)
}

/// What to scrub from everything shown, once the password is known.
pub(crate) fn redactor(profile: &Profile, password: Option<&Password>) -> Redactor {
    match (password, profile.auth.method) {
        (Some(pw), AuthMethod::Password) => Redactor::new(&profile.auth.username, pw.expose()),
        (Some(token), AuthMethod::OAuth2) => {
            let mut r = Redactor::new(&profile.auth.username, token.expose());
            r.also(&crate::smtp::sasl::xoauth2(&profile.auth.username, token.expose()));
            r
        }
        _ => Redactor::default(),
    }
}

/// The state of a session being opened (and, for the probe, used on for the envelope).
pub(crate) struct Opener<'a> {
    pub profile: &'a Profile,
    secret: Secret<'a>,
    pub cancel: &'a CancelToken,
    pub timeout: Duration,
    /// When the whole run must end (the probe's overall limit); none for delivery.
    pub run_deadline: Option<Instant>,
    /// This end of the connection, for an address-literal EHLO name.
    local_ip: Option<IpAddr>,
    /// The host as the user wrote it, for messages.
    pub host: String,
    /// The host in the form DNS and TLS use (IDNA ASCII, or the address literal).
    host_ascii: String,
    addrs: Vec<IpAddr>,
    pub session: Option<Session>,
    pub t: Transcript,
    pub caps: Capabilities,
    tls: Option<TlsSetup>,
    /// The server's certificate, once the TLS step has seen it (whatever its verdict).
    pub cert: Option<CertInfo>,
    pub last_reply: Option<Reply>,
    /// Direct delivery's opportunistic TLS (RFC 7435, RFC 3207 §4 for MX hosts): STARTTLS when
    /// offered, plain text when not, and a certificate that does not verify is used and noted
    /// rather than refused. Set only with `relay.verify_certificates` off (no MTA-STS policy).
    pub opportunistic: bool,
}

impl<'a> Opener<'a> {
    pub fn new(profile: &'a Profile, secret: Secret<'a>, cancel: &'a CancelToken, run_deadline: Option<Instant>) -> Self {
        let host = profile.relay.host.trim().to_string();
        let mut t = Transcript::default();
        let known = match &secret {
            Secret::Job(job) => job.password_if_known(),
            Secret::Given(pw) => pw.cloned(),
        };
        t.set_redactor(redactor(profile, known.as_ref()));
        Self {
            profile,
            secret,
            cancel,
            timeout: profile.limits.step_timeout(),
            run_deadline,
            local_ip: None,
            host_ascii: host.trim_start_matches('[').trim_end_matches(']').to_string(),
            host,
            addrs: Vec::new(),
            session: None,
            t,
            caps: Capabilities::default(),
            tls: None,
            cert: None,
            last_reply: None,
            opportunistic: false,
        }
    }

    /// A new step gets a fresh step timeout (never past the run's end) on the open connection.
    pub fn start_step(&mut self) {
        let deadline = self.step_deadline();
        if let Some(s) = self.session.as_mut() {
            s.deadline = deadline;
        }
    }

    /// When the current step runs out of time: its own timeout, but never past the run's end.
    pub fn step_deadline(&self) -> Instant {
        let step = Instant::now() + self.timeout;
        self.run_deadline.map_or(step, |run| step.min(run))
    }

    pub fn past_run_deadline(&self) -> bool {
        self.run_deadline.is_some_and(|run| Instant::now() >= run)
    }

    pub fn cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    pub fn place(&self) -> Place<'_> {
        Place { host: &self.host, port: self.profile.relay.port, timeout_secs: self.profile.limits.timeout_secs.max(1) }
    }

    /// `f` with the credentials scrubbed (they may be quoted in I/O and TLS errors).
    pub fn redact(&self, mut f: Failure) -> Failure {
        let secrets = self.t.redactor();
        f.message = secrets.tidy(&f.message);
        f.hint = secrets.tidy(&f.hint);
        f
    }

    /// The password, waiting (bounded by the step, cancellable) for the keyring read if it is still going.
    async fn password(&mut self) -> Result<Option<Password>, Failure> {
        let job = match &self.secret {
            Secret::Given(pw) => return Ok(pw.cloned()),
            Secret::Job(job) => *job,
        };
        match job.password(self.cancel, self.step_deadline()).await {
            Err(Wire::Cancelled) => Err(Failure::cancelled()),
            // Reported by the probe's run as the overall limit.
            Err(_) if self.past_run_deadline() => Err(self.place().stalled("waiting for the keyring")),
            Err(_) => Err(keyring_failure(&crate::secrets::Error::Locked("no answer from the keyring in time".into()))),
            Ok(read) => read,
        }
    }

    /// One opening step.
    pub async fn step(&mut self, kind: StepKind) -> StepResult {
        match kind {
            StepKind::Resolve => self.resolve().await,
            StepKind::Connect => self.connect().await,
            StepKind::Banner => self.banner().await,
            StepKind::Ehlo => self.ehlo().await,
            StepKind::Tls => self.tls_step().await,
            StepKind::Auth => self.auth().await,
            StepKind::Mx | StepKind::Envelope | StepKind::Data => unreachable!("{kind:?} is not an opening step"),
        }
    }

    /// Maps a wire error to a failure, saying what we were doing.
    pub fn wire(&self, e: Wire, doing: &str) -> Failure {
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
    pub async fn cmd(&mut self, line: &str, doing: &str) -> Result<Reply, Failure> {
        self.cmd_shown(line, line, doing).await
    }

    /// Sends a SASL answer recorded as `shown` and reads the reply, a 334 challenge recorded as
    /// `334 {challenge_shown}`.
    pub async fn cmd_challenge(&mut self, line: &str, shown: &str, challenge_shown: &str, doing: &str) -> Result<Reply, Failure> {
        let s = self.session.as_mut().expect("connected before any command");
        let r = match s.send(&mut self.t, line, shown).await {
            Ok(()) => s.read_challenge(&mut self.t, challenge_shown).await,
            Err(e) => Err(e),
        };
        let r = r.map_err(|e| self.wire(e, doing))?;
        self.last_reply = Some(r.clone());
        Ok(r)
    }

    /// Sends a command recorded as `shown` (a placeholder for credentials) and reads the reply.
    pub async fn cmd_shown(&mut self, line: &str, shown: &str, doing: &str) -> Result<Reply, Failure> {
        let s = self.session.as_mut().expect("connected before any command");
        let r = match s.send(&mut self.t, line, shown).await {
            Ok(()) => s.read_reply(&mut self.t).await,
            Err(e) => Err(e),
        };
        let r = r.map_err(|e| self.wire(e, doing))?;
        self.last_reply = Some(r.clone());
        Ok(r)
    }
}

#[cfg(test)]
mod tests;
