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
    /// Settings saved: `detail` is `{"changes": [{"field", "old", "new"}]}`.
    Settings,
    /// A validation run: `detail` is its outcome (steps and transcript), as the window showed it.
    Validation,
    /// A test email: `detail` is its outcome, as for a validation.
    TestEmail,
    /// Flush, delete, hold, release: `detail` is `{"action", "ids"}`.
    Queue,
    /// A delivery agent (the window, the daemon, a one-shot run) started or stopped.
    Agent,
    /// The loopback listener started, stopped or refused a login.
    Listener,
    /// The app's own warnings and errors.
    App,
}

impl Category {
    pub const ALL: [Category; 7] = [
        Category::Settings,
        Category::Validation,
        Category::TestEmail,
        Category::Queue,
        Category::Agent,
        Category::Listener,
        Category::App,
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
