//! The dashboard's data, read in one go: status (mode, server, last success and failure, the
//! delivery agent, the listener), the queue, today so far, the latest events, and problems first.

use super::events::{self, Event, Severity};
use super::mail_log::{self, Entry, LogResult};
use super::report::{self, Hour, Problem, Queries, Totals};
use super::Error;
use crate::outbox::{Counts, Store};
use crate::settings::{Mode, Security, Settings};
use rusqlite::OptionalExtension;
use serde::Serialize;
use ts_rs::TS;

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
pub struct Dashboard {
    pub mode: Mode,
    /// host:port mail goes to ("" when sending is off or no server is set).
    pub server: String,
    pub last_sent: Option<Entry>,
    /// The latest deferral, bounce or refusal, with its hint.
    pub last_failure: Option<Entry>,
    pub last_failure_hint: Option<String>,
    /// A delivery agent holds the lock now (the window, `deliver --daemon`, or a one-shot run).
    pub agent_running: bool,
    /// The listener's port when it is on.
    pub listener_port: Option<u16>,
    pub queue: Counts,
    /// When the oldest message still waiting was taken in (ms).
    pub oldest_waiting: Option<i64>,
    /// Today (local time) so far.
    pub today: Totals,
    pub today_hours: Vec<Hour>,
    pub latest_events: Vec<Event>,
    pub problems: Vec<Problem>,
}

/// A server whose last this many attempts were all deferred is failing.
const FAILING_AFTER: usize = 5;
/// More waiting messages than this, or the oldest waiting longer than [`STUCK_MS`], is a growing queue.
const GROWING: u64 = 100;
const STUCK_MS: i64 = 3_600_000;
const LATEST_EVENTS: u32 = 10;

/// The dashboard's data now. `agent_running`: whether a delivery agent runs (the window knows:
/// it is one; the CLI asks [`crate::outbox::agent`]).
pub fn load(store: &Store, settings: &Settings, agent_running: bool, now_ms: i64) -> Result<Dashboard, Error> {
    let p = &settings.profile;
    let server = match p.mode {
        Mode::Relay if !p.relay.host.is_empty() => format!("{}:{}", p.relay.host, p.relay.port),
        _ => String::new(),
    };
    let last_sent = latest(store, &[LogResult::Sent])?;
    let last_failure = latest(store, &[LogResult::Deferred, LogResult::Bounced, LogResult::Refused])?;
    let last_failure_hint = last_failure.as_ref().map(failure_hint);
    let queue = store.counts()?;
    let oldest_waiting = oldest_waiting(store)?;
    let (from, to) = report::today(now_ms);
    let q = Queries::new(store, from, to);
    let (today, today_hours) = q.totals_and_hours(&jiff::tz::TimeZone::system())?;
    let latest_events = events::page(store, &events::EventQuery { limit: LATEST_EVENTS, ..Default::default() })?.events;
    let attempts = latest_attempts(store)?;
    let mut d = Dashboard {
        mode: p.mode,
        server,
        last_sent,
        last_failure,
        last_failure_hint,
        agent_running,
        listener_port: p.listener.enabled.then_some(p.listener.port),
        queue,
        oldest_waiting,
        today,
        today_hours,
        latest_events,
        problems: Vec::new(),
    };
    d.problems = problems(&d, &attempts, now_ms);
    d.problems.extend(certificate_problem(store, settings, now_ms)?);
    Ok(d)
}

/// The newest row with one of these results.
fn latest(store: &Store, results: &[LogResult]) -> Result<Option<Entry>, Error> {
    let mut best: Option<Entry> = None;
    for r in results {
        let page = mail_log::page(store, &mail_log::LogQuery { result: Some(*r), limit: 1, ..Default::default() })?;
        if let Some(e) = page.entries.into_iter().next() {
            if best.as_ref().is_none_or(|b| (e.at, e.id) > (b.at, b.id)) {
                best = Some(e);
            }
        }
    }
    Ok(best)
}

/// When the oldest message with a recipient still waiting (queued or deferred) was taken in.
fn oldest_waiting(store: &Store) -> Result<Option<i64>, Error> {
    // Ids grow with time: the smallest waiting id is the oldest (recipient_by_state_message).
    store
        .conn()
        .query_row(
            "SELECT received_at FROM message WHERE id = (SELECT min(message) FROM (
               SELECT min(message) AS message FROM recipient WHERE state = 'queued'
               UNION ALL SELECT min(message) FROM recipient WHERE state = 'deferred'))",
            [],
            |r| r.get::<_, i64>(0),
        )
        .optional()
        .map_err(|e| Error::storage(store, e))
}

/// The latest delivery attempts, newest first: (result, server, reply).
fn latest_attempts(store: &Store) -> Result<Vec<(LogResult, String, String)>, Error> {
    let mut stmt = store
        .conn()
        .prepare_cached(&format!(
            "SELECT result, server, reply FROM mail_log WHERE result IN ('sent', 'deferred', 'bounced')
             ORDER BY at DESC, id DESC LIMIT {FAILING_AFTER}"
        ))
        .map_err(|e| Error::storage(store, e))?;
    stmt.query_map([], |r| {
        Ok((LogResult::parse(&r.get::<_, String>(0)?).unwrap_or(LogResult::Deferred), r.get::<_, String>(1)?, r.get::<_, String>(2)?))
    })
    .and_then(|rows| rows.collect())
    .map_err(|e| Error::storage(store, e))
}

/// What a person can do about a failed row, by its reply code (plain words where the code says
/// little).
pub fn failure_hint(e: &Entry) -> String {
    let code: u16 = e.reply.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
    match (e.result, code) {
        (LogResult::Refused, _) => {
            "Intake refused this mail before queuing it; the program that handed it in was told. Fix what the reason says and send again."
                .into()
        }
        (_, 530) => {
            "The server wants a login: choose 'Password' login in the settings and enter the account's user name and password.".into()
        }
        (_, 535) => {
            "The server rejected the user name or password: check them in the settings (and that the account may send mail).".into()
        }
        (_, 552) => "The message is too big for the server: send large files another way (a link to a shared folder).".into(),
        (_, 550 | 551 | 553) => format!(
            "If the reply says relaying is denied, the server won't carry mail to other domains for you: log in, or use your \
             provider's relay. If it says the user is unknown, check {}.",
            e.recipient
        ),
        (_, 421 | 450 | 451 | 452) | (LogResult::Deferred, _) if e.reply.is_empty() || code / 100 != 5 => {
            "A temporary failure: the mail stays queued and is tried again. If it keeps happening, check that the server is up \
             and reachable (smtp-desk validate) and its sending limits."
                .into()
        }
        _ => "The server refused this for good and the sender was told. Read the server's text: it may reject the address, the \
              content (spam filter) or the sender's domain (SPF/DMARC)."
            .into(),
    }
}

fn problems(d: &Dashboard, attempts: &[(LogResult, String, String)], now: i64) -> Vec<Problem> {
    let mut p = Vec::new();
    if attempts.len() == FAILING_AFTER && attempts.iter().all(|a| a.0 == LogResult::Deferred) {
        let (_, server, reply) = &attempts[0];
        p.push(Problem {
            severity: Severity::Error,
            title: format!("{server} has deferred the last {FAILING_AFTER} delivery attempts"),
            hint: format!(
                "Its latest reply: {reply}. Mail stays queued and is tried again; check the server settings (smtp-desk validate) \
                 or the server itself."
            ),
            link: Some("log:deferred".into()),
        });
    }
    if d.queue.failed > 0 {
        p.push(Problem {
            severity: Severity::Error,
            title: format!(
                "{} recipient{} failed for good and still in the queue",
                d.queue.failed,
                if d.queue.failed == 1 { "" } else { "s" }
            ),
            hint:
                "Their senders were told. Read the reply, fix the address or the settings, then send again or delete them from the queue."
                    .into(),
            link: Some("queue:failed".into()),
        });
    }
    let waiting = d.queue.queued + d.queue.deferred;
    let stuck = d.oldest_waiting.is_some_and(|t| now - t > STUCK_MS);
    if waiting > GROWING || stuck {
        let age = d.oldest_waiting.map(|t| format!(" The oldest has waited {} minutes.", (now - t).max(0) / 60_000)).unwrap_or_default();
        let why = match (d.mode, d.agent_running) {
            (Mode::Off, _) => "Sending is off: turn it on in the settings to deliver the queue.",
            (_, false) => "No delivery agent is running: open the window or run smtp-desk deliver --daemon.",
            _ => "Look at the deferral reasons in the mail log.",
        };
        p.push(Problem {
            severity: Severity::Warning,
            title: format!("{waiting} recipient{} waiting in the queue", if waiting == 1 { "" } else { "s" }),
            hint: format!("{why}{age}"),
            link: Some(if d.mode == Mode::Off { "settings" } else { "queue:deferred" }.into()),
        });
    }
    p
}

/// How far back the dashboard looks for the relay's certificate: one seen longer ago says little
/// about the one the server has now (ACME certificates are renewed every 60 days), and the bound
/// keeps the query's walk short when there is none.
const CERTIFICATE_SEEN_WITHIN_MS: i64 = 30 * 86_400_000;

/// The relay's certificate ending within [`events::CERTIFICATE_WARN_DAYS`] (a warning) or ended
/// (an error: delivery fails on it), from the latest certificate event for the relay host. One
/// query walking `events_by_time` newest first: it stops at the latest delivery's event, at most
/// a day old while mail goes out, and never reads past [`CERTIFICATE_SEEN_WITHIN_MS`].
fn certificate_problem(store: &Store, settings: &Settings, now: i64) -> Result<Option<Problem>, Error> {
    let p = &settings.profile;
    let host = p.relay.host.trim();
    if p.mode != Mode::Relay || host.is_empty() || p.relay.security == Security::None {
        return Ok(None);
    }
    let not_after = store
        .conn()
        .prepare_cached(
            "SELECT json_extract(detail, '$.not_after') FROM events
             WHERE at >= ?1 AND category = 'certificate' AND json_extract(detail, '$.host') = ?2 ORDER BY at DESC, id DESC LIMIT 1",
        )
        .and_then(|mut s| s.query_row(rusqlite::params![now - CERTIFICATE_SEEN_WITHIN_MS, host], |r| r.get::<_, Option<i64>>(0)).optional())
        .map_err(|e| Error::storage(store, e))?
        .flatten();
    let Some(not_after) = not_after else { return Ok(None) };
    let (severity, date, when) = events::certificate_end(not_after, now);
    Ok(match severity {
        Severity::Info => None,
        Severity::Warning => Some(Problem {
            severity,
            title: format!("The certificate of {host} ends on {date} ({when})"),
            hint: format!(
                "The certificate of {host} ends on {date} ({when}). Tell the server's administrator; after that date mail will wait \
                 in the queue until it is renewed."
            ),
            link: Some("events:warning".into()),
        }),
        Severity::Error if !p.relay.verify_certificates => Some(Problem {
            severity: Severity::Warning,
            title: format!("The certificate of {host} ended on {date}"),
            hint: format!(
                "Mail still goes out because certificate checking is off, but nothing proves the connection reaches {host}. \
                 Ask the server's administrator to renew the certificate, then turn checking back on."
            ),
            link: Some("settings".into()),
        }),
        Severity::Error => Some(Problem {
            severity,
            title: format!("The certificate of {host} ended on {date}"),
            hint: format!(
                "Delivery fails on it: mail waits in the queue until the server's administrator renews the certificate of {host}. \
                 Tell them. If {date} has not come yet, check this machine's clock."
            ),
            link: Some("events:error".into()),
        }),
    })
}
