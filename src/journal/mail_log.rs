//! The mail log: one row per recipient for each thing that happened to mail — taken in, sent,
//! deferred, bounced, refused at intake, held — read newest first in keyset pages, filtered by
//! result, time range and address.

use super::{Cursor, Error, Listing};
use crate::outbox::Store;
use rusqlite::types::Value;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Adds one row; the parameters in order: at, message (or NULL), message_id, sender, recipient,
/// size, server, tls (or NULL), result, reply, duration_ms. Written by intake and delivery in
/// their own transactions, so a row exists exactly when what it records was committed.
pub(crate) const INSERT: &str =
    "INSERT INTO mail_log (at, message, message_id, sender, recipient, size, server, tls, result, reply, duration_ms)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";

/// What happened to one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum LogResult {
    /// Taken into the queue (by `sendmail`, the listener, or as a bounce SMTP Desk wrote).
    Received,
    /// Accepted by the server.
    Sent,
    /// A temporary failure: it will be tried again.
    Deferred,
    /// A permanent failure (or given up after the longest time in the queue): the sender is told.
    Bounced,
    /// Refused at intake: never queued.
    Refused,
    /// Kept back by a person.
    Held,
}

impl LogResult {
    pub const ALL: [LogResult; 6] =
        [LogResult::Received, LogResult::Sent, LogResult::Deferred, LogResult::Bounced, LogResult::Refused, LogResult::Held];

    pub fn as_str(self) -> &'static str {
        match self {
            LogResult::Received => "received",
            LogResult::Sent => "sent",
            LogResult::Deferred => "deferred",
            LogResult::Bounced => "bounced",
            LogResult::Refused => "refused",
            LogResult::Held => "held",
        }
    }

    pub fn parse(s: &str) -> Option<LogResult> {
        LogResult::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for LogResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of the mail log: the shape of each line of `smtp-desk log --json` (stable: fields are
/// only ever added).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(rename = "LogEntry")]
pub struct Entry {
    pub id: i64,
    /// ms since the Unix epoch.
    pub at: i64,
    /// The queue id; `None` when intake refused the mail (no message was made).
    pub message: Option<i64>,
    pub message_id: String,
    /// The envelope sender; "" is the null sender.
    pub sender: String,
    pub recipient: String,
    pub size: u64,
    /// host:port of a delivery attempt; who took it in (sendmail, listener, bounce) otherwise.
    pub server: String,
    /// The TLS version of a delivery ("TLS 1.3"); `None` without TLS or for intake rows.
    pub tls: Option<String>,
    pub result: LogResult,
    /// The server's reply, or why there was none.
    pub reply: String,
    pub duration_ms: u64,
}

/// Which page of the mail log to read: newest first, filtered; the page before or after one on
/// screen (keyset on (at, id): a deep page costs what the first does).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
pub struct LogQuery {
    /// From this time on (ms, inclusive).
    pub since: Option<i64>,
    /// Before this time (ms, exclusive).
    pub until: Option<i64>,
    pub result: Option<LogResult>,
    /// Rows whose sender or recipient is this address (case-insensitive).
    pub address: Option<String>,
    /// The next (older) page: rows before this one.
    pub before: Option<Cursor>,
    /// The previous (newer) page: rows after this one.
    pub after: Option<Cursor>,
    /// Rows per page (1 to 500; 0 means 50).
    pub limit: u32,
}

/// A page of the mail log, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct LogPage {
    pub entries: Vec<Entry>,
    /// Older rows match too (there is a next page).
    pub older: bool,
    /// Newer rows match too (there is a previous page).
    pub newer: bool,
}

const COLUMNS: &str = "id, at, message, message_id, sender, recipient, size, server, tls, result, reply, duration_ms";

fn entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
    Ok(Entry {
        id: r.get(0)?,
        at: r.get(1)?,
        message: r.get(2)?,
        message_id: r.get(3)?,
        sender: r.get(4)?,
        recipient: r.get(5)?,
        size: r.get::<_, i64>(6)?.max(0) as u64,
        server: r.get(7)?,
        tls: r.get(8)?,
        result: LogResult::parse(&r.get::<_, String>(9)?).unwrap_or(LogResult::Deferred),
        reply: r.get(10)?,
        duration_ms: r.get::<_, i64>(11)?.max(0) as u64,
    })
}

/// A page of the mail log, newest first.
pub fn page(store: &Store, q: &LogQuery) -> Result<LogPage, Error> {
    if let (Some(s), Some(u)) = (q.since, q.until) {
        if u < s {
            return Err(Error::BadQuery { field: "until".into(), message: "the end of the range is before its start".into() });
        }
    }
    let mut l = Listing {
        table: "mail_log",
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
    if let Some(r) = q.result {
        l.filter("result = ?", Value::Text(r.as_str().into()));
    }
    if let Some(a) = q.address.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
        l.filter("(recipient = ? COLLATE NOCASE OR sender = ? COLLATE NOCASE)", Value::Text(a.to_string()));
    }
    let rows = l.read(entry, |e| Cursor { at: e.at, id: e.id })?;
    Ok(LogPage { entries: rows.rows, older: rows.older, newer: rows.newer })
}
