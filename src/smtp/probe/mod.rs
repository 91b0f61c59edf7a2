//! A validation (and the test email) as steps: the session's opening steps from
//! [`super::session`], then the envelope (and DATA), each timed and reported as it finishes.
//!
//! This file owns the run: the plan, the loop, the overall limit, and ending the conversation
//! after a refusal. The envelope and DATA are in `envelope.rs`.

mod direct;
mod envelope;

use super::failure::{Category, Failure};
use super::job::Job;
use super::reply::Reply;
use super::session::{self, Failed, Opener, Report, Secret, StepResult};
use super::transcript::TranscriptLine;
use super::{CancelToken, Step, StepKind, StepStatus};
use crate::settings::Profile;
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

/// The whole run (validation or test email) ends after this many step timeouts, however the
/// time is spread: a server whose every reply comes just inside the step timeout must not keep
/// the user waiting for steps × timeout (with the 600 s maximum, over an hour). Three step
/// timeouts leave room for one slow step and normal ones, while a run against a working server
/// takes a fraction of one.
pub const RUN_LIMIT_FACTOR: u32 = 3;

/// Runs the steps in order, reporting each to `on_step` as it finishes. Direct mode first finds
/// the recipient's mail servers (`direct.rs`).
pub(crate) async fn run(job: &Job, goal: Goal<'_>, cancel: &CancelToken, on_step: &mut (dyn FnMut(&Step) + Send)) -> Run {
    if job.profile().mode == crate::settings::Mode::Direct {
        return direct::run(job, goal, cancel, on_step).await;
    }
    let plan = plan(job.profile(), &goal);
    let mut p = Probe::new(job, cancel);
    let mut steps = Vec::with_capacity(plan.len());
    let mut warnings = Vec::new();
    let failure = p.run_plan(&plan, 0..plan.len(), &goal, on_step, &mut steps, &mut warnings).await;
    p.finish(steps, failure, warnings)
}

impl Probe<'_> {
    /// Runs `plan[range]`, pushing each finished step to `steps` and `on_step`; after a failure the
    /// rest of the whole plan is pushed as skipped and the conversation ended. The failure, if any.
    async fn run_plan(
        &mut self,
        plan: &[StepKind],
        range: std::ops::Range<usize>,
        goal: &Goal<'_>,
        on_step: &mut (dyn FnMut(&Step) + Send),
        steps: &mut Vec<Step>,
        warnings: &mut Vec<String>,
    ) -> Option<Failure> {
        let p = self;
        let mut failure = None;
        for i in range {
            let kind = plan[i];
            p.o.start_step();
            let started = Instant::now();
            let result = if p.o.cancelled() {
                Err(Failure::cancelled().into())
            } else if p.o.past_run_deadline() {
                Err(p.run_timeout(kind, goal).into())
            } else {
                match p.step(kind, goal).await {
                    // A step cut short by the overall limit says so, not "the server stopped answering".
                    Err(f) if f.failure.category == Category::Timeout && p.o.past_run_deadline() => {
                        Err(Failed { failure: p.run_timeout(kind, goal), ..f })
                    }
                    r => r,
                }
            };
            // What to redact is known once the password is (at the login step at the latest); lines
            // read from then on are redacted as they are read. Server text in the step is already
            // redacted and cleaned; this pass catches text from elsewhere (I/O and TLS errors).
            let secrets = p.o.t.redactor().clone();
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
                failure: fail.clone().map(|f| p.o.redact(f)),
            };
            on_step(&step);
            steps.push(step);
            if let Some(f) = fail {
                skip_rest(&plan[i + 1..], on_step, steps);
                failure = Some(p.o.redact(f));
                break;
            }
        }
        if let Some(f) = &failure {
            p.quit_politely(f.category).await;
        }
        failure
    }

    /// The run's result, with everything shown scrubbed of the credentials.
    fn finish(self, steps: Vec<Step>, failure: Option<Failure>, warnings: Vec<String>) -> Run {
        let secrets = self.o.t.redactor().clone();
        let warnings = warnings.iter().map(|w| secrets.tidy(w)).collect();
        let last_reply = self.o.last_reply.map(|r| Reply { lines: r.lines.iter().map(|l| secrets.tidy(l)).collect(), ..r });
        Run { steps, failure, warnings, transcript: self.o.t.into_lines(), last_reply }
    }
}

/// The steps not run after a failure, as skipped rows.
fn skip_rest(rest: &[StepKind], on_step: &mut (dyn FnMut(&Step) + Send), steps: &mut Vec<Step>) {
    for &kind in rest {
        let step = Step {
            step: kind,
            title: kind.title().into(),
            status: StepStatus::Skipped,
            duration_ms: 0,
            summary: "Not run: an earlier step failed.".into(),
            details: Vec::new(),
            failure: None,
        };
        on_step(&step);
        steps.push(step);
    }
}

/// The steps the settings imply, in order: the opening, then the envelope (and DATA).
fn plan(profile: &Profile, goal: &Goal<'_>) -> Vec<StepKind> {
    let mut plan = session::steps(profile);
    plan.push(StepKind::Envelope);
    if matches!(goal, Goal::Send { .. }) {
        plan.push(StepKind::Data);
    }
    plan
}

/// The session the opening steps leave, used on for the envelope.
struct Probe<'a> {
    o: Opener<'a>,
}

impl<'a> Probe<'a> {
    fn new(job: &'a Job, cancel: &'a CancelToken) -> Self {
        let profile = job.profile();
        let run_deadline = Instant::now() + profile.limits.step_timeout() * RUN_LIMIT_FACTOR;
        Self { o: Opener::new(profile, Secret::Job(job), cancel, Some(run_deadline)) }
    }

    /// The failure when the whole run passed its overall limit during `kind`.
    fn run_timeout(&self, kind: StepKind, goal: &Goal<'_>) -> Failure {
        let what = match goal {
            Goal::Validate { .. } => "The validation",
            Goal::Send { .. } => "Sending the test email",
        };
        self.o.place().run_timeout(what, kind.title(), RUN_LIMIT_FACTOR)
    }

    async fn step(&mut self, kind: StepKind, goal: &Goal<'_>) -> StepResult {
        match kind {
            StepKind::Envelope => match goal {
                Goal::Validate { recipient } => self.envelope(recipient, true).await,
                Goal::Send { to, .. } => self.envelope(to, false).await,
            },
            StepKind::Data => match goal {
                Goal::Send { message, .. } => self.data(message).await,
                Goal::Validate { .. } => Report::default().done(StepStatus::Skipped, "Nothing to send."),
            },
            opening => self.o.step(opening).await,
        }
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
        let o = &mut self.o;
        let last = o.last_reply.clone();
        if let (true, Some(s)) = (in_step, o.session.as_mut()) {
            s.deadline = Instant::now() + Duration::from_millis(500).min(o.timeout);
            let cancel = CancelToken::new();
            s.cancel = cancel;
            if s.send(&mut o.t, "QUIT", "QUIT").await.is_ok() {
                let _ = s.read_reply(&mut o.t).await;
            }
        }
        o.last_reply = last;
        o.session = None;
    }
}
