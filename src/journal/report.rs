//! Reports over a time range (today, yesterday, a chosen range): totals, traffic per hour, top
//! senders and recipients, deferral and bounce reasons grouped by reply, the servers delivered
//! to with their delays, and the warnings and errors — problems first.

use super::events::{Event, Severity};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Counts and bytes over a range. Counts are per recipient, as in the mail log, except
/// `messages_received`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Totals {
    /// Messages taken in.
    pub messages_received: u64,
    /// Recipients taken in.
    pub received: u64,
    pub delivered: u64,
    /// Deferral attempts (a recipient deferred three times counts three).
    pub deferred: u64,
    pub bounced: u64,
    pub refused: u64,
    pub held: u64,
    /// Bytes of the messages taken in (each message once).
    pub bytes_received: u64,
    /// Bytes delivered (each recipient's copy).
    pub bytes_delivered: u64,
}

/// One hour of traffic (the chart).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Hour {
    /// The hour's start, ms since the Unix epoch.
    pub start: i64,
    pub received: u64,
    pub delivered: u64,
    pub deferred: u64,
    pub bounced: u64,
    pub refused: u64,
}

/// An address with how much mail it sent or got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Top {
    pub address: String,
    pub count: u64,
    pub bytes: u64,
}

/// One reply a server gave, and how often.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Reason {
    /// The reply, grouped: the same text with addresses and ids left out counts together.
    pub reply: String,
    pub count: u64,
    /// A recipient it happened to (the latest), so a person can look it up.
    pub example: String,
}

/// A server mail was delivered to, and how long mail took from being taken in to being accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ServerStats {
    pub server: String,
    pub delivered: u64,
    pub avg_delay_ms: u64,
    pub max_delay_ms: u64,
}

/// Something a person should look at, shown first: what, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Problem {
    pub severity: Severity,
    pub title: String,
    pub hint: String,
    /// Where the window goes to show more: `queue:failed`, `log:bounced`, `events:warning`, `settings`.
    pub link: Option<String>,
}

/// A report over `[from, to)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(rename = "JournalReport")]
pub struct Report {
    /// ms since the Unix epoch, inclusive.
    pub from: i64,
    /// ms since the Unix epoch, exclusive.
    pub to: i64,
    /// The oldest row the journal keeps; when it is after `from`, the range reaches past the data
    /// kept (the retention setting) and the report says so.
    pub kept_since: Option<i64>,
    pub problems: Vec<Problem>,
    pub totals: Totals,
    /// One entry per hour of the range (for a range of more than 14 days, per day).
    pub hours: Vec<Hour>,
    pub top_senders: Vec<Top>,
    pub top_senders_by_size: Vec<Top>,
    pub top_recipients: Vec<Top>,
    pub top_recipients_by_size: Vec<Top>,
    pub deferral_reasons: Vec<Reason>,
    pub bounce_reasons: Vec<Reason>,
    pub refusal_reasons: Vec<Reason>,
    pub servers: Vec<ServerStats>,
    /// Warnings and errors from the event log in the range, newest first.
    pub warnings: Vec<Event>,
}
