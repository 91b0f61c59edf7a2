//! The event log: what happened to the app rather than to a message — settings changed (which
//! fields, old → new, never a secret), validation runs and test emails with their outcome and
//! transcript, queue actions, delivery agents and the listener starting and stopping, and the
//! app's own warnings and errors — with a severity, read newest first in keyset pages.

use super::{Cursor, Error, Listing};
use crate::outbox::Store;
use rusqlite::types::Value;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::Info, Severity::Warning, Severity::Error];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// What an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(rename = "EventCategory")]
pub enum Category {
    /// Settings saved: `detail` is `{"changes": [{"field", "label", "old", "new"}], "by"}`, one
    /// change per field (its registry key and label); a password is `{"field": "password" |
    /// "listener.password", "old": null, "new": "set" | "cleared"}`, never its value. `by` is
    /// `"window"` or `"command_line"` (in every category a person acts in).
    Settings,
    /// A validation run: `detail` is its outcome (`Outcome`: steps and transcript, as the window
    /// showed it, credentials redacted) plus `by` and, when given, `to`. A run that could not
    /// start is `{"ok": false, "error": ErrorReport, "by"}`.
    Validation,
    /// A test email: `detail` is its outcome, as for a validation.
    TestEmail,
    /// Flush, retry, delete, hold, release: `detail` is `{"action", "ids", "all", "changed", "by"}`
    /// (`ids` null and `all` true for every message; a flush counts deferred recipients).
    Queue,
    /// A delivery agent (the window, the daemon, a one-shot run) started or stopped: `detail` is
    /// `{"agent", "action": "start" | "stop"}`, a stop with its totals (`sent`, `deferred`,
    /// `failed`, `bounces`, `connect_failures`, `connect_error`) or `error`. A one-shot run is
    /// recorded only when it delivered or failed something.
    Agent,
    /// The loopback listener: `{"action": "start" | "stop", "addresses"}`, or a refused login
    /// `{"action": "refused_login", "peer", "failed_logins", "user"}` (`user` is the login the
    /// listener expects, never what was typed; never a password).
    Listener,
    /// The app's own warnings and errors (delivery could not read the keyring or the queue, the
    /// listener could not start, settings unusable): no detail, or for mail that failed for good
    /// `{"failures": [{"message", "recipient", "reply"}], "total"}`. A repeated one is recorded
    /// once per [`REPEAT_EVERY`].
    App,
    /// The relay's certificate as delivery saw it on connecting: `{"host", "not_after" (ms),
    /// "subject", "issuer"}`; once a day per host and certificate ([`record_certificate`]). Info
    /// while it has more than [`CERTIFICATE_WARN_DAYS`] left, a warning within them, an error once
    /// it has ended; the dashboard reads the latest for the relay host.
    Certificate,
}

impl Category {
    pub const ALL: [Category; 8] = [
        Category::Settings,
        Category::Validation,
        Category::TestEmail,
        Category::Queue,
        Category::Agent,
        Category::Listener,
        Category::App,
        Category::Certificate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Settings => "settings",
            Category::Validation => "validation",
            Category::TestEmail => "test_email",
            Category::Queue => "queue",
            Category::Agent => "agent",
            Category::Listener => "listener",
            Category::App => "app",
            Category::Certificate => "certificate",
        }
    }

    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// One event: the shape of each line of `smtp-desk events --json` (fields are only ever added).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Event {
    pub id: i64,
    /// ms since the Unix epoch.
    pub at: i64,
    pub severity: Severity,
    pub category: Category,
    /// One line a person reads.
    pub summary: String,
    /// More, by category (see [`Category`]); never a secret.
    #[ts(type = "unknown")]
    pub detail: Option<serde_json::Value>,
}

/// An event to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub severity: Severity,
    pub category: Category,
    pub summary: String,
    pub detail: Option<serde_json::Value>,
}

impl NewEvent {
    pub fn info(category: Category, summary: impl Into<String>) -> Self {
        NewEvent { severity: Severity::Info, category, summary: summary.into(), detail: None }
    }

    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    pub fn with_detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = Some(detail);
        self
    }
}

/// Adds an event now; returns its id.
pub fn record(store: &Store, e: &NewEvent) -> Result<i64, Error> {
    let detail = e.detail.as_ref().map(|d| d.to_string());
    store
        .conn()
        .prepare_cached("INSERT INTO events (at, severity, category, summary, detail) VALUES (?1, ?2, ?3, ?4, ?5)")
        .and_then(|mut s| {
            s.insert(rusqlite::params![crate::outbox::now_millis(), e.severity.as_str(), e.category.as_str(), e.summary, detail])
        })
        .map_err(|err| Error::storage(store, err))
}

/// Which page of the event log to read, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
pub struct EventQuery {
    /// From this time on (ms, inclusive).
    pub since: Option<i64>,
    /// Before this time (ms, exclusive).
    pub until: Option<i64>,
    /// This severity or worse.
    pub severity: Option<Severity>,
    pub category: Option<Category>,
    pub before: Option<Cursor>,
    pub after: Option<Cursor>,
    /// Events per page (1 to 500; 0 means 50).
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct EventPage {
    pub events: Vec<Event>,
    pub older: bool,
    pub newer: bool,
}

const COLUMNS: &str = "id, at, severity, category, summary, detail";

fn event(r: &rusqlite::Row<'_>) -> rusqlite::Result<Event> {
    Ok(Event {
        id: r.get(0)?,
        at: r.get(1)?,
        severity: Severity::parse(&r.get::<_, String>(2)?).unwrap_or(Severity::Error),
        category: Category::parse(&r.get::<_, String>(3)?).unwrap_or(Category::App),
        summary: r.get(4)?,
        detail: r.get::<_, Option<String>>(5)?.and_then(|d| serde_json::from_str(&d).ok()),
    })
}

/// A page of the event log, newest first.
pub fn page(store: &Store, q: &EventQuery) -> Result<EventPage, Error> {
    let mut l = Listing {
        table: "events",
        columns: COLUMNS,
        filters: Vec::new(),
        args: Vec::new(),
        before: q.before,
        after: q.after,
        limit: q.limit,
        store,
    };
    if let Some(s) = q.since {
        l.filter("at >= ?", Value::Integer(s));
    }
    if let Some(u) = q.until {
        l.filter("at < ?", Value::Integer(u));
    }
    if let Some(sev) = q.severity {
        let worse: Vec<String> = Severity::ALL.into_iter().filter(|s| *s >= sev).map(|s| format!("'{}'", s.as_str())).collect();
        l.filters.push(format!("severity IN ({})", worse.join(", ")));
    }
    if let Some(c) = q.category {
        l.filter("category = ?", Value::Text(c.as_str().into()));
    }
    let rows = l.read(event, |e| Cursor { at: e.at, id: e.id })?;
    Ok(EventPage { events: rows.rows, older: rows.older, newer: rows.newer })
}

// ---------------------------------------------------------------------------------------------
// Recording: the events the CLI, the window and the delivery agents write, built here once so
// the command line and the window can never describe the same thing differently.

/// Who did it: the same action reads "from the window" or "from the command line".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Window,
    CommandLine,
}

impl Actor {
    pub fn as_str(self) -> &'static str {
        match self {
            Actor::Window => "window",
            Actor::CommandLine => "command_line",
        }
    }

    fn phrase(self) -> &'static str {
        match self {
            Actor::Window => "from the window",
            Actor::CommandLine => "from the command line",
        }
    }
}

/// [`record`], but a failure is only logged: an event must never fail (or hold up) the thing it
/// records.
pub fn record_or_log(store: &Store, e: &NewEvent) {
    if let Err(err) = record(store, e) {
        tracing::warn!("could not write to the event log ({err}): {}", e.summary);
    }
}

/// Records `e` in the outbox at `path`, opened for this one write (a command-line command that
/// holds no store; a command records at most once). Never fails: problems are logged.
pub fn record_at(path: &std::path::Path, e: &NewEvent) {
    match Store::open(path) {
        Ok(store) => record_or_log(&store, e),
        Err(err) => tracing::warn!("could not open the event log ({err}): {}", e.summary),
    }
}

/// How long the same app warning is recorded only once: a daemon that finds the keyring locked
/// on every pass, or a one-shot run per `sendmail` call that finds the settings unusable, writes
/// one line per this long, not one per pass.
pub const REPEAT_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

/// [`record_or_log`] for a problem that may repeat on every pass: skipped when an event with the
/// same summary was recorded within [`REPEAT_EVERY`] (by any process: the check reads the log).
pub fn record_unless_repeated(store: &Store, e: &NewEvent) {
    let since = crate::outbox::now_millis() - REPEAT_EVERY.as_millis() as i64;
    let seen = store
        .conn()
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM events WHERE at >= ?1 AND summary = ?2)")
        .and_then(|mut s| s.query_row(rusqlite::params![since, e.summary], |r| r.get::<_, bool>(0)));
    match seen {
        Ok(true) => {}
        Ok(false) => record_or_log(store, e),
        Err(err) => tracing::warn!("could not read the event log ({err}): {}", e.summary),
    }
}

/// A value as a person reads it in a summary: text without quotes, switches as on/off, nothing
/// as "(not set)"; long text cut short (the detail keeps it whole).
fn shown(v: &serde_json::Value) -> String {
    const LONGEST: usize = 60;
    let text = match v {
        serde_json::Value::Null => return "(not set)".into(),
        serde_json::Value::String(s) if s.is_empty() => return "(empty)".into(),
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Bool(true) => "on".into(),
        serde_json::Value::Bool(false) => "off".into(),
        other => other.to_string(),
    };
    if text.chars().count() > LONGEST {
        format!("{}…", text.chars().take(LONGEST - 1).collect::<String>())
    } else {
        text
    }
}

/// Joins the first few parts of a summary, counting the rest.
fn listed(parts: &[String]) -> String {
    const SHOWN: usize = 4;
    let mut s = parts.iter().take(SHOWN).cloned().collect::<Vec<_>>().join("; ");
    if parts.len() > SHOWN {
        s.push_str(&format!("; and {} more", parts.len() - SHOWN));
    }
    s
}

/// Which keyring entry a password change touched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secret {
    /// The server's password (`password set`).
    Server,
    /// The SMTP listener's local password (`password set --listener`).
    Listener,
}

impl Secret {
    fn field(self) -> (&'static str, &'static str) {
        match self {
            Secret::Server => ("password", "Password"),
            Secret::Listener => ("listener.password", "Listener password"),
        }
    }
}

/// The settings saved (`old` as the file held them, `new` as written) with the passwords set
/// (`Some(true)`), cleared (`Some(false)`) or kept (`None`) in the same save: one event naming
/// each changed field by its key and label, old → new. Walks the field registry, so every field
/// is covered and none holds a secret; a password is only ever "set" or "cleared". `None` when
/// nothing changed.
pub fn settings_saved(
    old: &crate::settings::Settings,
    new: &crate::settings::Settings,
    passwords: &[(Secret, Option<bool>)],
    by: Actor,
) -> Option<NewEvent> {
    let as_json = |s: &crate::settings::Settings| serde_json::to_value(&s.profile).expect("settings serialise");
    let (before, after) = (as_json(old), as_json(new));
    let mut changes = Vec::new();
    let mut parts = Vec::new();
    for f in crate::settings::fields::FIELDS {
        let o = crate::settings::fields::value_of(&before, f.name).cloned().unwrap_or_default();
        let n = crate::settings::fields::value_of(&after, f.name).cloned().unwrap_or_default();
        if o != n {
            parts.push(format!("{} {} → {}", f.label, shown(&o), shown(&n)));
            changes.push(serde_json::json!({ "field": f.name, "label": f.label, "old": o, "new": n }));
        }
    }
    for (secret, saved) in passwords {
        let Some(saved) = saved else { continue };
        let (field, label) = secret.field();
        let word = if *saved { "set" } else { "cleared" };
        parts.push(format!("{label} {word}"));
        changes.push(serde_json::json!({ "field": field, "label": label, "old": null, "new": word }));
    }
    if changes.is_empty() {
        return None;
    }
    Some(NewEvent {
        severity: Severity::Info,
        category: Category::Settings,
        summary: format!("Settings changed {}: {}", by.phrase(), listed(&parts)),
        detail: Some(serde_json::json!({ "changes": changes, "by": by.as_str() })),
    })
}

/// The settings diff alone (no password change), as [`settings_saved`].
pub fn settings_changed(old: &crate::settings::Settings, new: &crate::settings::Settings, by: Actor) -> Option<NewEvent> {
    settings_saved(old, new, &[], by)
}

/// A password saved or removed on its own (`password set|clear`): only "set" or "cleared".
pub fn password_changed(secret: Secret, saved: bool, by: Actor) -> NewEvent {
    let s = crate::settings::Settings::default();
    settings_saved(&s, &s, &[(secret, Some(saved))], by).expect("a password change is a change")
}

/// Which kind of run a probe was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    Validation,
    TestEmail,
}

/// A validation run or a test email and how it ended: info when it passed, error when it failed
/// (the failed step and the reason in the summary), warning when cancelled. The detail is the
/// whole outcome (steps and transcript, already redacted by the core) plus who ran it, so a
/// past failure can be looked at again.
pub fn probe_finished(probe: Probe, outcome: &crate::smtp::Outcome, to: Option<&str>, by: Actor) -> NewEvent {
    let (category, what) = match probe {
        Probe::Validation => (Category::Validation, "Validation"),
        Probe::TestEmail => (Category::TestEmail, "Test email"),
    };
    let reason = outcome.failure.as_ref().map(|f| f.message.lines().next().unwrap_or_default().to_string()).unwrap_or_default();
    let (severity, summary) = if outcome.cancelled {
        (Severity::Warning, format!("{what} cancelled"))
    } else if outcome.ok {
        let summary = match (probe, to) {
            (Probe::TestEmail, Some(to)) => format!("Test email sent to {to}"),
            (Probe::TestEmail, None) => "Test email sent".into(),
            (Probe::Validation, _) => "Validation passed".into(),
        };
        let reply = outcome.reply.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
        (Severity::Info, format!("{summary} in {} ms{reply}", outcome.elapsed_ms))
    } else {
        let at = outcome.failed_step().map(|s| format!(" at {}", s.name().to_uppercase())).unwrap_or_default();
        let to = match (probe, to) {
            (Probe::TestEmail, Some(to)) => format!(" to {to}"),
            _ => String::new(),
        };
        (Severity::Error, format!("{what}{to} failed{at}: {reason}"))
    };
    let mut detail = serde_json::to_value(outcome).expect("an outcome serialises");
    if let Some(o) = detail.as_object_mut() {
        o.insert("by".into(), by.as_str().into());
        if let Some(to) = to {
            o.insert("to".into(), to.into());
        }
    }
    NewEvent { severity, category, summary: shorter(summary), detail: Some(detail) }
}

/// A test email that could not even be started (the message could not be built).
pub fn probe_refused(probe: Probe, error: &crate::error::ErrorReport, by: Actor) -> NewEvent {
    let what = if probe == Probe::TestEmail { "Test email" } else { "Validation" };
    let category = if probe == Probe::TestEmail { Category::TestEmail } else { Category::Validation };
    NewEvent {
        severity: Severity::Error,
        category,
        summary: shorter(format!("{what} not started: {}", error.message)),
        detail: Some(serde_json::json!({ "ok": false, "error": error, "by": by.as_str() })),
    }
}

/// One line of at most a few hundred characters (a server's reply can be long).
fn shorter(s: String) -> String {
    const LONGEST: usize = 300;
    let line = s.lines().next().unwrap_or_default();
    if line.chars().count() > LONGEST {
        format!("{}…", line.chars().take(LONGEST - 1).collect::<String>())
    } else {
        line.to_string()
    }
}

/// What a person did to the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueAction {
    /// Everything deferred made due now (`queue flush`, `sendmail -q`, the window's Flush).
    Flush,
    /// These messages made due now (`queue retry`, the window's Retry).
    Retry,
    Hold,
    Release,
    Delete,
}

impl QueueAction {
    pub fn as_str(self) -> &'static str {
        match self {
            QueueAction::Flush => "flush",
            QueueAction::Retry => "retry",
            QueueAction::Hold => "hold",
            QueueAction::Release => "release",
            QueueAction::Delete => "delete",
        }
    }
}

/// A queue action: "Held 3 messages from the window". `ids` is `None` for every message (flush,
/// delete all); `changed` is how many messages it changed (for a flush: deferred recipients).
pub fn queue_action(action: QueueAction, ids: Option<&[i64]>, changed: usize, by: Actor) -> NewEvent {
    let messages = |n: usize| if n == 1 { "1 message".to_string() } else { format!("{n} messages") };
    let how = by.phrase();
    let summary = match (action, ids) {
        // A flush counts deferred recipients made due, not messages.
        (QueueAction::Flush, _) => {
            let r = if changed == 1 { "1 deferred recipient".to_string() } else { format!("{changed} deferred recipients") };
            format!("Flushed the queue {how}: {r} made due now")
        }
        (QueueAction::Retry, _) => format!("Retried {} now {how}", messages(changed)),
        (QueueAction::Hold, _) => format!("Held {} {how}", messages(changed)),
        (QueueAction::Release, _) => format!("Released {} {how}", messages(changed)),
        (QueueAction::Delete, None) => format!("Deleted all {} {how}", messages(changed)),
        (QueueAction::Delete, Some(_)) => format!("Deleted {} {how}", messages(changed)),
    };
    NewEvent {
        severity: Severity::Info,
        category: Category::Queue,
        summary,
        detail: Some(serde_json::json!({
            "action": action.as_str(),
            "ids": ids,
            "all": ids.is_none(),
            "changed": changed,
            "by": by.as_str(),
        })),
    }
}

fn agent_name(kind: crate::outbox::agent::Kind) -> &'static str {
    use crate::outbox::agent::Kind;
    match kind {
        Kind::Once => "deliver --once",
        Kind::Daemon => "deliver --daemon",
        Kind::Window => "the window",
    }
}

/// A delivery agent (the window or `deliver --daemon`) took over delivery.
pub fn agent_started(kind: crate::outbox::agent::Kind) -> NewEvent {
    NewEvent::info(Category::Agent, format!("Delivery agent started ({})", agent_name(kind)))
        .with_detail(serde_json::json!({ "agent": agent_name(kind), "action": "start" }))
}

/// A delivery agent stopped (or a one-shot run finished) with these totals: a warning when mail
/// failed for good or the server could not be reached.
pub fn agent_stopped(kind: crate::outbox::agent::Kind, s: &crate::outbox::deliver::Summary) -> NewEvent {
    let name = agent_name(kind);
    let what = match kind {
        crate::outbox::agent::Kind::Once => format!("One-shot delivery ({name})"),
        _ => format!("Delivery agent stopped ({name})"),
    };
    let unreachable = s.connect_error.as_deref().map(|e| format!("; the server could not be reached: {e}")).unwrap_or_default();
    let severity = if s.failed > 0 || s.connect_failures > 0 { Severity::Warning } else { Severity::Info };
    NewEvent {
        severity,
        category: Category::Agent,
        summary: shorter(format!("{what}: {} sent, {} deferred, {} failed{unreachable}", s.sent, s.deferred, s.failed)),
        detail: Some(serde_json::json!({
            "agent": name,
            "action": "stop",
            "sent": s.sent,
            "deferred": s.deferred,
            "failed": s.failed,
            "bounces": s.bounces,
            "connect_failures": s.connect_failures,
            "connect_error": s.connect_error,
        })),
    }
}

/// A delivery agent stopped on an error (the queue could not be read or written).
pub fn agent_failed(kind: crate::outbox::agent::Kind, error: &str) -> NewEvent {
    let name = agent_name(kind);
    NewEvent {
        severity: Severity::Error,
        category: Category::Agent,
        summary: shorter(format!("Delivery agent stopped ({name}) after an error: {error}")),
        detail: Some(serde_json::json!({ "agent": name, "action": "stop", "error": error })),
    }
}

/// Recipients that failed for good in a delivery pass (what the window's notification says).
pub fn delivery_failed(failures: &[crate::outbox::runner::Failure], total: usize) -> NewEvent {
    let list: Vec<serde_json::Value> =
        failures.iter().map(|f| serde_json::json!({ "message": f.message, "recipient": f.recipient, "reply": f.reply })).collect();
    NewEvent {
        severity: Severity::Error,
        category: Category::App,
        summary: shorter(crate::outbox::runner::describe_failures(failures, total)),
        detail: Some(serde_json::json!({ "failures": list, "total": total })),
    }
}

/// A problem of the app itself a person should see (delivery could not read the keyring or the
/// queue, the listener could not start).
pub fn app_problem(severity: Severity, summary: impl Into<String>) -> NewEvent {
    NewEvent { severity, category: Category::App, summary: shorter(summary.into()), detail: None }
}

/// An unusable settings file was kept as `backup` and the settings started from defaults.
pub fn settings_replaced(backup: &std::path::Path, by: Actor) -> NewEvent {
    app_problem(
        Severity::Warning,
        format!("The unusable settings file was kept as {} and the settings started from defaults ({})", backup.display(), by.phrase()),
    )
}

/// The SMTP listener started on these addresses.
pub fn listener_started(addresses: &[std::net::SocketAddr]) -> NewEvent {
    let at: Vec<String> = addresses.iter().map(ToString::to_string).collect();
    NewEvent::info(Category::Listener, format!("SMTP listener started on {}", at.join(", ")))
        .with_detail(serde_json::json!({ "action": "start", "addresses": at }))
}

/// The SMTP listener stopped.
pub fn listener_stopped(addresses: &[std::net::SocketAddr]) -> NewEvent {
    let at: Vec<String> = addresses.iter().map(ToString::to_string).collect();
    NewEvent::info(Category::Listener, format!("SMTP listener stopped on {}", at.join(", ")))
        .with_detail(serde_json::json!({ "action": "stop", "addresses": at }))
}

/// The listener refused `failed` logins in one session from `peer`. Only the login the listener
/// expects is named: what the client typed is never kept (it may be a password in the wrong
/// field), and never the password. The summary names the address, not the port or the count, so
/// [`record_unless_repeated`] keeps a client guessing passwords to one line per [`REPEAT_EVERY`].
pub fn listener_refused_login(peer: std::net::SocketAddr, failed: usize, expected_user: &str) -> NewEvent {
    NewEvent {
        severity: Severity::Warning,
        category: Category::Listener,
        summary: format!("SMTP listener refused logins from {} (wrong user name or password for '{expected_user}')", peer.ip()),
        detail: Some(
            serde_json::json!({ "action": "refused_login", "peer": peer.to_string(), "failed_logins": failed, "user": expected_user }),
        ),
    }
}

/// A certificate ending within this many days is a warning (on the dashboard and in the log).
pub const CERTIFICATE_WARN_DAYS: i64 = 14;

/// The relay's certificate as a connection saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateSeen {
    /// The relay host as the settings name it (what the dashboard matches).
    pub host: String,
    /// The end of its validity, ms since the Unix epoch.
    pub not_after: i64,
    pub subject: String,
    pub issuer: String,
}

/// How a certificate's end reads at `now`: its local date, and the severity and words for how far
/// off it is ("in 8 days", "today", "ended"). Shared by the event and the dashboard's problem.
pub fn certificate_end(not_after: i64, now: i64) -> (Severity, String, String) {
    let tz = jiff::tz::TimeZone::system();
    let day = |ms: i64| jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH).to_zoned(tz.clone()).date();
    let (end, today) = (day(not_after), day(now));
    let date = end.strftime("%Y-%m-%d").to_string();
    if not_after <= now {
        return (Severity::Error, date, "ended".into());
    }
    let days = (end - today).get_days();
    let when = match days {
        0 => "today".to_string(),
        1 => "tomorrow".to_string(),
        n => format!("in {n} days"),
    };
    let soon = not_after - now <= CERTIFICATE_WARN_DAYS * 86_400_000;
    (if soon { Severity::Warning } else { Severity::Info }, date, when)
}

/// The event for a certificate seen at `now`: "The certificate of smtp.example.com ends on
/// 2026-12-01 (in 8 days)".
pub fn certificate_seen(seen: &CertificateSeen, now: i64) -> NewEvent {
    let (severity, date, when) = certificate_end(seen.not_after, now);
    let summary = match severity {
        Severity::Error => format!("The certificate of {} ended on {date}: delivery fails until it is renewed", seen.host),
        _ => format!("The certificate of {} ends on {date} ({when})", seen.host),
    };
    NewEvent::info(Category::Certificate, summary).with_severity(severity).with_detail(serde_json::json!({
        "host": seen.host,
        "not_after": seen.not_after,
        "subject": seen.subject,
        "issuer": seen.issuer,
    }))
}

/// Records [`certificate_seen`] unless the same certificate of the same host was recorded in the
/// last day: one line a day, not one per connection. Never fails: problems are logged.
pub fn record_certificate(store: &Store, seen: &CertificateSeen) {
    let now = crate::outbox::now_millis();
    let seen_today = store
        .conn()
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM events WHERE at > ?1 AND category = 'certificate'
               AND json_extract(detail, '$.host') = ?2 AND json_extract(detail, '$.not_after') = ?3)",
        )
        .and_then(|mut s| s.query_row(rusqlite::params![now - 86_400_000, seen.host, seen.not_after], |r| r.get::<_, bool>(0)));
    match seen_today {
        Ok(true) => {}
        Ok(false) => record_or_log(store, &certificate_seen(seen, now)),
        Err(err) => tracing::warn!("could not read the event log ({err}) for the certificate of {}", seen.host),
    }
}

/// A configuration file imported (`config import`): what changed, from which file, by field key
/// (`relay.host` for Global, `profiles.NAME.KEY` for a named profile), with profiles added and
/// removed, the default profile, and whether the password was set (never the password). `None`
/// when the import changed nothing.
pub fn imported(
    file: &std::path::Path,
    old: &crate::settings::Settings,
    new: &crate::settings::Settings,
    password_set: bool,
    by: Actor,
) -> Option<NewEvent> {
    use crate::settings::fields::{value_of, FIELDS};
    let mut changes = Vec::new();
    let mut parts = Vec::new();
    let (before, after) =
        (serde_json::to_value(&old.profile).expect("settings serialise"), serde_json::to_value(&new.profile).expect("settings serialise"));
    for f in FIELDS {
        let (o, n) = (value_of(&before, f.name).cloned().unwrap_or_default(), value_of(&after, f.name).cloned().unwrap_or_default());
        if o != n {
            parts.push(format!("{} {} → {}", f.label, shown(&o), shown(&n)));
            changes.push(serde_json::json!({ "field": f.name, "label": f.label, "old": o, "new": n }));
        }
    }
    let names: std::collections::BTreeSet<&String> = old.profiles.keys().chain(new.profiles.keys()).collect();
    for name in names {
        match (old.profiles.get(name), new.profiles.get(name)) {
            (None, Some(_)) => parts.push(format!("profile {name} added")),
            (Some(_), None) => parts.push(format!("profile {name} removed")),
            _ => {}
        }
        let (o, n) = (old.profiles.get(name).cloned().unwrap_or_default(), new.profiles.get(name).cloned().unwrap_or_default());
        let keys: std::collections::BTreeSet<&String> = o.keys().chain(n.keys()).collect();
        for key in keys {
            let (ov, nv) = (o.get(key).cloned().unwrap_or_default(), n.get(key).cloned().unwrap_or_default());
            if ov != nv {
                let field = format!("profiles.{name}.{key}");
                if old.profiles.contains_key(name) && new.profiles.contains_key(name) {
                    parts.push(format!("{field} {} → {}", shown(&ov), shown(&nv)));
                }
                changes.push(serde_json::json!({ "field": field, "old": ov, "new": nv }));
            }
        }
    }
    if old.default_profile != new.default_profile {
        let name = |d: &Option<String>| d.clone().unwrap_or_else(|| crate::settings::profiles::GLOBAL.into());
        parts.push(format!("default profile {} → {}", name(&old.default_profile), name(&new.default_profile)));
        changes.push(serde_json::json!({ "field": "default_profile", "old": old.default_profile, "new": new.default_profile }));
    }
    if password_set {
        parts.push("Password set".into());
        changes.push(serde_json::json!({ "field": "password", "label": "Password", "old": null, "new": "set" }));
    }
    if changes.is_empty() {
        return None;
    }
    Some(NewEvent {
        severity: Severity::Info,
        category: Category::Settings,
        summary: format!("Settings imported from {} {}: {}", file.display(), by.phrase(), listed(&parts)),
        detail: Some(serde_json::json!({ "file": file, "changes": changes, "by": by.as_str() })),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    #[test]
    fn a_certificate_s_end_reads_by_how_far_off_it_is() {
        // Noon, local time: an hour on is the same day wherever the test runs.
        let noon = jiff::Zoned::now().date().at(12, 0, 0, 0).to_zoned(jiff::tz::TimeZone::system()).unwrap().timestamp().as_millisecond();
        assert_eq!(certificate_end(noon, noon).0, Severity::Error);
        assert_eq!(certificate_end(noon - DAY, noon).2, "ended");
        assert_eq!(certificate_end(noon + 3_600_000, noon), (Severity::Warning, local_date(noon), "today".into()));
        assert_eq!(certificate_end(noon + DAY, noon).2, "tomorrow");
        assert_eq!(certificate_end(noon + 8 * DAY, noon).2, "in 8 days");
        assert_eq!(certificate_end(noon + CERTIFICATE_WARN_DAYS * DAY, noon).0, Severity::Warning);
        assert_eq!(certificate_end(noon + CERTIFICATE_WARN_DAYS * DAY + 1, noon).0, Severity::Info);
    }

    fn local_date(ms: i64) -> String {
        jiff::Timestamp::from_millisecond(ms).unwrap().to_zoned(jiff::tz::TimeZone::system()).date().to_string()
    }

    #[test]
    fn a_certificate_is_recorded_once_a_day_per_host_and_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("outbox.sqlite3")).unwrap();
        let seen = CertificateSeen {
            host: "smtp.example.com".into(),
            not_after: 1_900_000_000_000,
            subject: "CN=a".into(),
            issuer: "CN=b".into(),
        };
        record_certificate(&store, &seen);
        record_certificate(&store, &seen);
        // Renewed: recorded at once; another host: its own line.
        record_certificate(&store, &CertificateSeen { not_after: seen.not_after + 90 * DAY, ..seen.clone() });
        record_certificate(&store, &CertificateSeen { host: "other.example.com".into(), ..seen.clone() });
        let events = page(&store, &EventQuery { category: Some(Category::Certificate), ..Default::default() }).unwrap().events;
        assert_eq!(events.len(), 3, "{events:#?}");
        assert_eq!(events[2].detail.as_ref().unwrap()["host"], "smtp.example.com");
        assert!(events[2].summary.starts_with("The certificate of smtp.example.com ends on "), "{events:#?}");
    }
}
