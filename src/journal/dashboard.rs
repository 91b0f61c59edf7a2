//! The dashboard's data, read in one go: status (mode, server, last success and failure, the
//! delivery agent, the listener), the queue, today so far, the latest events, and problems first.

use super::events::Event;
use super::mail_log::Entry;
use super::report::{Hour, Problem, Totals};
use crate::outbox::Counts;
use crate::settings::Mode;
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
