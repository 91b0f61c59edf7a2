//! Validate and the test email in Direct mode: the recipient domain's mail servers (the `Mx`
//! step, RFC 5321 §5.1), then the opening steps against the first one that answers on port 25 —
//! opportunistic STARTTLS (RFC 3207 §4, RFC 7435), no login — then the envelope (and DATA).
//!
//! A host that can't be resolved or reached is passed over for the next, as delivery does; its
//! rows are not shown as steps, only named in the steps of the host used and in the transcript.

use super::{skip_rest, Goal, Probe, Run, RUN_LIMIT_FACTOR};
use crate::direct::mx::{self, MxHost, RouteError};
use crate::settings::Profile;
use crate::smtp::conn::{bounded, Error as Wire};
use crate::smtp::failure::{hints, Category, Failure};
use crate::smtp::session::{Failed, Opener, Report, Secret};
use crate::smtp::transcript::{Transcript, TranscriptLine};
use crate::smtp::{CancelToken, Job, Step, StepKind, StepStatus};
use hickory_resolver::config::LookupIpStrategy;
use tokio::time::Instant;

/// The steps of a Direct run: the MX lookup, the opening without a login, the envelope (and DATA).
fn plan(goal: &Goal<'_>) -> Vec<StepKind> {
    let mut plan =
        vec![StepKind::Mx, StepKind::Resolve, StepKind::Connect, StepKind::Banner, StepKind::Ehlo, StepKind::Tls, StepKind::Envelope];
    if matches!(goal, Goal::Send { .. }) {
        plan.push(StepKind::Data);
    }
    plan
}

/// The steps tried again on the next MX host when they fail: `plan[OPENING]`.
const OPENING: std::ops::Range<usize> = 1..3;

/// The profile a run against the MX host `host` uses: port 25, STARTTLS when offered, any
/// certificate (noted), no login; the sender, EHLO name and limits as set.
fn for_mx(profile: &Profile, host: &str) -> Profile {
    let mut p = mx::session_profile(profile, host, false);
    p.relay.ca_file = None;
    p
}

pub(super) async fn run(job: &Job, goal: Goal<'_>, cancel: &CancelToken, on_step: &mut (dyn FnMut(&Step) + Send)) -> Run {
    let base = job.profile();
    let run_deadline = Instant::now() + base.limits.step_timeout() * RUN_LIMIT_FACTOR;
    let recipient = match &goal {
        Goal::Validate { recipient } => *recipient,
        Goal::Send { to, .. } => *to,
    };
    let plan = plan(&goal);
    let mut steps = Vec::with_capacity(plan.len());
    let mut warnings = Vec::new();
    let mut transcript = Transcript::default();

    let started = Instant::now();
    let found = find(base, recipient, cancel, run_deadline, &mut transcript).await;
    let duration_ms = started.elapsed().as_millis() as u64;
    let hosts = match found {
        Err(Failed { failure, details, .. }) => {
            let step = mx_step(StepStatus::Failed, failure.message.clone(), details, duration_ms, Some(failure.clone()));
            on_step(&step);
            steps.push(step);
            skip_rest(&plan[1..], on_step, &mut steps);
            return Run { steps, failure: Some(failure), warnings, transcript: transcript.into_lines(), last_reply: None };
        }
        Ok((hosts, report)) => {
            let step = mx_step(StepStatus::Ok, report.summary, report.details, duration_ms, None);
            on_step(&step);
            steps.push(step);
            hosts
        }
    };

    let profiles: Vec<Profile> = hosts.iter().map(|h| for_mx(base, &h.name)).collect();
    let mut lines: Vec<TranscriptLine> = transcript.into_lines();
    let mut passed_over: Vec<(String, String)> = Vec::new();
    for (i, profile) in profiles.iter().enumerate() {
        let mut o = Opener::new(profile, Secret::Given(None), cancel, Some(run_deadline));
        o.opportunistic = true;
        let mut p = Probe { o };
        let (mut opening, mut opening_warnings) = (Vec::new(), Vec::new());
        let failure = p.run_plan(&plan, OPENING, &goal, &mut |_| {}, &mut opening, &mut opening_warnings).await;
        let last = i + 1 == profiles.len();
        if let Some(f) = &failure {
            if !last && f.category != Category::Cancelled && !p.o.past_run_deadline() {
                let name = &hosts[i].name;
                passed_over.push((format!("{name} (passed over)"), f.message.clone()));
                p.o.t.info(format!("{name} did not answer: trying the next mail server."));
                lines.extend(std::mem::take(&mut p.o.t).into_lines());
                continue;
            }
        }
        // This host is the one used: its rows are shown, naming the hosts passed over first.
        if let Some(first) = opening.first_mut() {
            first.details.splice(0..0, passed_over.iter().cloned());
        }
        for (host, why) in &passed_over {
            warnings.push(format!("The mail server {host} did not answer ({why}); {} was used.", hosts[i].name));
        }
        for step in &opening {
            on_step(step);
        }
        steps.extend(opening);
        warnings.extend(opening_warnings);
        let failure = match failure {
            Some(f) => Some(f),
            None => p.run_plan(&plan, OPENING.end..plan.len(), &goal, on_step, &mut steps, &mut warnings).await,
        };
        let mut run = p.finish(steps, failure, warnings);
        lines.append(&mut run.transcript);
        run.transcript = lines;
        return run;
    }
    unreachable!("find() returns at least one host")
}

fn mx_step(status: StepStatus, summary: String, details: Vec<(String, String)>, duration_ms: u64, failure: Option<Failure>) -> Step {
    Step { step: StepKind::Mx, title: StepKind::Mx.title().into(), status, duration_ms, summary, details, failure }
}

/// The recipient domain's MX hosts with an address, best first (the `Mx` step).
async fn find(
    profile: &Profile,
    recipient: &str,
    cancel: &CancelToken,
    run_deadline: Instant,
    t: &mut Transcript,
) -> Result<(Vec<MxHost>, Report), Failed> {
    let mut report = Report::default();
    let domain = recipient.rsplit_once('@').map_or(recipient, |(_, d)| d);
    let timeout = profile.limits.step_timeout();
    let deadline = (Instant::now() + timeout).min(run_deadline);
    let resolver = crate::dns::resolver_from_env(timeout, LookupIpStrategy::Ipv4AndIpv6)
        .map_err(|e| report.fail(hints::dns_settings_unreadable(&e)))?;
    t.info(format!("Looking up the mail servers (MX) of {domain}..."));
    let timed_out = || {
        Failure::new(
            Category::Timeout,
            format!("DNS gave no answer about {domain}'s mail servers within {} s.", timeout.as_secs().max(1)),
            "Check this machine's DNS server (or SMTP_DESK_DNS_SERVER), then try again.",
        )
    };
    let hosts = match bounded(cancel, deadline, mx::route(&resolver, domain)).await {
        Err(Wire::Cancelled) => return Err(report.fail(Failure::cancelled())),
        Err(_) => return Err(report.fail(timed_out())),
        Ok(Err(e)) => {
            t.info(e.to_string());
            return Err(report.fail(route_failure(&e)));
        }
        Ok(Ok(hosts)) => hosts,
    };
    let mut usable = Vec::new();
    for host in hosts {
        let label = if host.implicit {
            format!("{} (no MX: the domain itself)", host.name)
        } else {
            format!("{} (preference {})", host.name, host.preference)
        };
        match bounded(cancel, deadline, mx::addresses(&resolver, &host)).await {
            Err(Wire::Cancelled) => return Err(report.fail(Failure::cancelled())),
            Err(_) => return Err(report.fail(timed_out())),
            Ok(Err(e)) => {
                t.info(format!("{label}: {e}"));
                report.detail(&label, e.to_string());
                if e.is_permanent() {
                    return Err(report.fail(route_failure(&e)));
                }
            }
            Ok(Ok(ips)) => {
                let list = ips.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
                t.info(format!("{label}: {list}"));
                report.detail(&label, list);
                usable.push(host);
            }
        }
    }
    if usable.is_empty() {
        return Err(report.fail(Failure::new(
            Category::DnsNotFound,
            format!("None of {domain}'s mail servers has an address (A/AAAA)."),
            "Check the recipient address; if it is right, the domain's DNS is broken: try again later.",
        )));
    }
    let names = usable.iter().map(|h| h.name.as_str()).collect::<Vec<_>>().join(", ");
    report.summary = format!("{domain}: {names}");
    report.status = Some(StepStatus::Ok);
    Ok((usable, report))
}

/// A route that can't be had, as the step's failure: permanent ones are about the address.
fn route_failure(e: &RouteError) -> Failure {
    let message = format!("{e}.");
    match e {
        RouteError::Permanent(_) => Failure::new(
            Category::DnsNotFound,
            message,
            "Check the recipient address: mail to this domain can't be delivered (RFC 7505 null MX, or no such domain).",
        ),
        RouteError::Temporary(_) => {
            Failure::new(Category::DnsFailed, message, "DNS did not answer properly; check this machine's DNS server, then try again.")
        }
    }
}
