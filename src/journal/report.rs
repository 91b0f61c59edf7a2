//! Reports over a time range (today, yesterday, a chosen range): totals, traffic per hour, top
//! senders and recipients, deferral and bounce reasons grouped by reply, the servers delivered
//! to with their delays, and the warnings and errors — problems first.

use super::events::{Event, Severity};
use super::mail_log::LogResult;
use super::Error;
use crate::outbox::Store;
use jiff::{tz::TimeZone, Timestamp};
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
    /// Rows older than this were removed by retention (`None`: nothing ever was); when it is after
    /// `from`, the range reaches past the data kept and the report says so.
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

/// How many addresses each top list keeps.
pub const TOP: usize = 10;
/// How many grouped replies each reason list keeps.
const REASONS: usize = 20;
/// A range longer than this many days is charted per day instead of per hour.
const HOURLY_DAYS: i64 = 14;
/// At most this many warnings and errors are listed (newest first).
const WARNINGS: u32 = 200;
/// Deferrals above this share of the attempts (with at least [`DEFERRAL_MIN`] of them) are a problem.
const DEFERRAL_RATE: f64 = 0.2;
const DEFERRAL_MIN: u64 = 5;

/// Today in local time: `[midnight, next midnight)` as ms since the Unix epoch.
pub fn today(now_ms: i64) -> (i64, i64) {
    day_range_in(&TimeZone::system(), local_date(&TimeZone::system(), now_ms), 1)
}

/// Yesterday in local time (23 or 25 hours long on a DST change).
pub fn yesterday(now_ms: i64) -> (i64, i64) {
    let tz = TimeZone::system();
    let d = local_date(&tz, now_ms);
    day_range_in(&tz, d.yesterday().unwrap_or(d), 1)
}

/// From the local midnight starting `from` to the one ending `to` (inclusive), e.g. the CLI's
/// `--from 2026-03-01 --to 2026-03-31`.
pub fn days(from: jiff::civil::Date, to: jiff::civil::Date) -> Result<(i64, i64), Error> {
    if to < from {
        return Err(Error::BadQuery { field: "to".into(), message: format!("{to} is before {from}; give --to on or after --from") });
    }
    let n = (to - from).get_days() as i64 + 1;
    Ok(day_range_in(&TimeZone::system(), from, n))
}

fn local_date(tz: &TimeZone, ms: i64) -> jiff::civil::Date {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH).to_zoned(tz.clone()).date()
}

/// The local midnight (or the first moment of the day, where DST skips midnight) in ms.
fn start_of(tz: &TimeZone, d: jiff::civil::Date) -> i64 {
    d.to_zoned(tz.clone()).and_then(|z| z.start_of_day()).map(|z| z.timestamp().as_millisecond()).unwrap_or(0)
}

/// `n` local days from `d`: the time between their midnights (DST-safe: not n × 24 h).
fn day_range_in(tz: &TimeZone, d: jiff::civil::Date, n: i64) -> (i64, i64) {
    let end = d.checked_add(jiff::Span::new().days(n)).unwrap_or(d);
    (start_of(tz, d), start_of(tz, end))
}

/// Where each chart bucket starts: local hours, or local days for a range over
/// [`HOURLY_DAYS`] days. The first starts at or before `from`; all start before `to`.
fn bucket_starts(tz: &TimeZone, from: i64, to: i64) -> Vec<i64> {
    let mut starts = Vec::new();
    let Ok(t) = Timestamp::from_millisecond(from) else { return starts };
    let z = t.to_zoned(tz.clone());
    if to - from > HOURLY_DAYS * 86_400_000 + 3_600_000 {
        let mut d = z.date();
        loop {
            let s = start_of(tz, d);
            if s >= to {
                break;
            }
            starts.push(s);
            let Ok(next) = d.tomorrow() else { break };
            d = next;
        }
    } else {
        // Local hours are absolute hours apart, DST or not (a change moves the clock a whole
        // hour), so step by 3,600,000 ms from the local hour `from` is in.
        let into_hour = (z.minute() as i64) * 60_000 + (z.second() as i64) * 1000 + (z.millisecond() as i64);
        let mut s = from - into_hour;
        while s < to {
            starts.push(s);
            s += 3_600_000;
        }
    }
    starts
}

/// The report over `[from_ms, to_ms)`, in local time.
pub fn build(store: &Store, from_ms: i64, to_ms: i64) -> Result<Report, Error> {
    build_in(store, &TimeZone::system(), from_ms, to_ms)
}

/// [`build`] in the time zone `tz` (hours and days of the chart).
pub fn build_in(store: &Store, tz: &TimeZone, from: i64, to: i64) -> Result<Report, Error> {
    build_from(&Queries::new(store, from, to), tz)
}

fn build_from(q: &Queries, tz: &TimeZone) -> Result<Report, Error> {
    let (store, from, to) = (q.store, q.from, q.to);
    if to < from {
        return Err(Error::BadQuery { field: "to".into(), message: "the end of the range is before its start".into() });
    }
    let (totals, hours) = q.totals_and_hours(tz)?;
    let (top_senders, top_senders_by_size) = q.top("sender", "received")?;
    let (top_recipients, top_recipients_by_size) = q.top("recipient", "sent")?;
    let deferral_reasons = q.reasons("deferred")?;
    let bounce_reasons = q.reasons("bounced")?;
    let refusal_reasons = q.reasons("refused")?;
    let servers = q.servers()?;
    let warnings = super::events::page(
        store,
        &super::events::EventQuery {
            since: Some(from),
            until: Some(to),
            severity: Some(Severity::Warning),
            limit: WARNINGS,
            ..Default::default()
        },
    )?
    .events;
    let kept_since = super::retention::kept_since(store)?;
    let mut r = Report {
        from,
        to,
        kept_since,
        problems: Vec::new(),
        totals,
        hours,
        top_senders,
        top_senders_by_size,
        top_recipients,
        top_recipients_by_size,
        deferral_reasons,
        bounce_reasons,
        refusal_reasons,
        servers,
        warnings,
    };
    r.problems = problems(&r);
    Ok(r)
}

/// The step of the rollups (migration 7): 15 minutes, on which every time zone's hours and
/// midnights fall.
pub(crate) const BUCKET_MS: i64 = 900_000;

/// The report's queries over one range: whole 15-minute buckets from the rollups (migration 7),
/// what is left at the range's edges from the mail log's rows.
pub(crate) struct Queries<'a> {
    pub store: &'a Store,
    pub from: i64,
    pub to: i64,
    /// Read the rollups (false: every row, as the rollups' tests count directly).
    pub rollups: bool,
}

impl<'a> Queries<'a> {
    pub fn new(store: &'a Store, from: i64, to: i64) -> Queries<'a> {
        Queries { store, from, to, rollups: true }
    }

    fn err(&self, e: rusqlite::Error) -> Error {
        Error::storage(self.store, e)
    }

    /// The whole buckets `[a, b)` inside the range (empty when there are none or `aligned` is
    /// false), and the edges around them to read row by row.
    fn split(&self, aligned: bool) -> ((i64, i64), Vec<(i64, i64)>) {
        let a = self.from.div_euclid(BUCKET_MS) * BUCKET_MS + if self.from.rem_euclid(BUCKET_MS) == 0 { 0 } else { BUCKET_MS };
        let b = self.to.div_euclid(BUCKET_MS) * BUCKET_MS;
        if !self.rollups || !aligned || self.from < 0 || a >= b {
            return ((0, 0), vec![(self.from, self.to)]);
        }
        ((a, b), [(self.from, a), (b, self.to)].into_iter().filter(|(f, t)| f < t).collect())
    }

    /// The totals and the chart: the rollups' buckets, plus one pass over the edges' rows (by
    /// the time index), counted here rather than by SQL's GROUP BY, whose temporary b-tree cost
    /// more than the reading.
    pub fn totals_and_hours(&self, tz: &TimeZone) -> Result<(Totals, Vec<Hour>), Error> {
        let mut t = Totals::default();
        let mut hours: Vec<Hour> =
            bucket_starts(tz, self.from, self.to).into_iter().map(|start| Hour { start, ..Hour::default() }).collect();
        // A bucket adds to the chart's hour (or day) it starts in, so each must lie inside one.
        let ((a, b), edges) = self.split(hours.iter().all(|h| h.start.rem_euclid(BUCKET_MS) == 0));
        let hour_of = |hours: &[Hour], at: i64| hours.partition_point(|h| h.start <= at).saturating_sub(1);
        if a < b {
            let mut stmt = self
                .store
                .conn()
                .prepare_cached(
                    "SELECT bucket, result, n, bytes, messages, message_bytes FROM rollup_total WHERE bucket >= ?1 AND bucket < ?2",
                )
                .map_err(|e| self.err(e))?;
            let mut rows = stmt.query([a, b]).map_err(|e| self.err(e))?;
            while let Some(r) = rows.next().map_err(|e| self.err(e))? {
                let get = |i| r.get::<_, i64>(i).map(|v| v.max(0) as u64);
                let (n, bytes) = (get(2).map_err(|e| self.err(e))?, get(3).map_err(|e| self.err(e))?);
                let i = hour_of(&hours, r.get(0).map_err(|e| self.err(e))?);
                let mut none = Hour::default();
                let h = hours.get_mut(i).unwrap_or(&mut none);
                match r.get_ref(1).map_err(|e| self.err(e))?.as_str().ok().and_then(LogResult::parse) {
                    Some(LogResult::Received) => {
                        t.received += n;
                        h.received += n;
                        t.messages_received += get(4).map_err(|e| self.err(e))?;
                        t.bytes_received += get(5).map_err(|e| self.err(e))?;
                    }
                    Some(LogResult::Sent) => {
                        t.delivered += n;
                        t.bytes_delivered += bytes;
                        h.delivered += n;
                    }
                    Some(LogResult::Deferred) => (t.deferred, h.deferred) = (t.deferred + n, h.deferred + n),
                    Some(LogResult::Bounced) => (t.bounced, h.bounced) = (t.bounced + n, h.bounced + n),
                    Some(LogResult::Refused) => (t.refused, h.refused) = (t.refused + n, h.refused + n),
                    Some(LogResult::Held) => t.held += n,
                    None => {}
                }
            }
        }
        // A message's 'received' rows (one per recipient, all written at one time, so all in the
        // rollups or all in one edge) are counted once for messages and bytes.
        let mut messages = std::collections::HashSet::new();
        let mut stmt = self
            .store
            .conn()
            .prepare_cached("SELECT at, result, size, message FROM mail_log WHERE at >= ?1 AND at < ?2")
            .map_err(|e| self.err(e))?;
        for (from, to) in edges {
            let mut rows = stmt.query([from, to]).map_err(|e| self.err(e))?;
            let mut i = 0;
            while let Some(r) = rows.next().map_err(|e| self.err(e))? {
                let (at, size) = (r.get::<_, i64>(0).map_err(|e| self.err(e))?, r.get::<_, i64>(2).map_err(|e| self.err(e))?.max(0) as u64);
                let result = r.get_ref(1).map_err(|e| self.err(e))?.as_str().ok().and_then(LogResult::parse);
                // Rows come in time order: the bucket only moves on, except after a row out of order.
                if hours.get(i).is_none_or(|h| h.start > at) || hours.get(i + 1).is_some_and(|h| h.start <= at) {
                    i = hour_of(&hours, at);
                }
                let mut none = Hour::default();
                let h = hours.get_mut(i).unwrap_or(&mut none);
                match result {
                    Some(LogResult::Received) => {
                        t.received += 1;
                        h.received += 1;
                        if messages.insert(r.get::<_, Option<i64>>(3).map_err(|e| self.err(e))?) {
                            t.messages_received += 1;
                            t.bytes_received += size;
                        }
                    }
                    Some(LogResult::Sent) => {
                        t.delivered += 1;
                        t.bytes_delivered += size;
                        h.delivered += 1;
                    }
                    Some(LogResult::Deferred) => (t.deferred, h.deferred) = (t.deferred + 1, h.deferred + 1),
                    Some(LogResult::Bounced) => (t.bounced, h.bounced) = (t.bounced + 1, h.bounced + 1),
                    Some(LogResult::Refused) => (t.refused, h.refused) = (t.refused + 1, h.refused + 1),
                    Some(LogResult::Held) => t.held += 1,
                    None => {}
                }
            }
        }
        Ok((t, hours))
    }

    /// Top addresses of `column` among `result` rows, by count and by bytes. Senders count
    /// messages taken in (each once, as pflogsumm does), recipients count deliveries.
    fn top(&self, column: &str, result: &str) -> Result<(Vec<Top>, Vec<Top>), Error> {
        let mut all: std::collections::HashMap<String, (u64, u64)> = std::collections::HashMap::new();
        let ((a, b), edges) = self.split(true);
        // Summed here: the rollup's rows come by bucket, and SQL's GROUP BY would sort them first.
        let mut add = |address: &str, count: i64, bytes: i64| {
            let (count, bytes) = (count.max(0) as u64, bytes.max(0) as u64);
            match all.get_mut(address) {
                Some(e) => (e.0, e.1) = (e.0 + count, e.1 + bytes),
                None => _ = all.insert(address.to_string(), (count, bytes)),
            }
        };
        if a < b {
            let sql = if column == "sender" {
                "SELECT sender, messages, bytes FROM rollup_sender WHERE bucket >= ?1 AND bucket < ?2"
            } else {
                "SELECT recipient, n, bytes FROM rollup_recipient WHERE bucket >= ?1 AND bucket < ?2"
            };
            let mut stmt = self.store.conn().prepare_cached(sql).map_err(|e| self.err(e))?;
            let mut rows = stmt.query([a, b]).map_err(|e| self.err(e))?;
            while let Some(r) = rows.next().map_err(|e| self.err(e))? {
                let address = r.get_ref(0).and_then(|v| Ok(v.as_str()?)).map_err(|e| self.err(e))?;
                add(address, r.get(1).map_err(|e| self.err(e))?, r.get(2).map_err(|e| self.err(e))?);
            }
        }
        let sql = if column == "sender" {
            "SELECT sender, count(*), sum(size) FROM (SELECT sender, max(size) AS size FROM mail_log
             WHERE at >= ?1 AND at < ?2 AND result = ?3 GROUP BY message) GROUP BY sender"
                .to_string()
        } else {
            format!("SELECT {column}, count(*), sum(size) FROM mail_log WHERE at >= ?1 AND at < ?2 AND result = ?3 GROUP BY {column}")
        };
        let mut stmt = self.store.conn().prepare_cached(&sql).map_err(|e| self.err(e))?;
        for (from, to) in edges {
            let mut rows = stmt.query(rusqlite::params![from, to, result]).map_err(|e| self.err(e))?;
            while let Some(r) = rows.next().map_err(|e| self.err(e))? {
                let address = r.get_ref(0).and_then(|v| Ok(v.as_str()?)).map_err(|e| self.err(e))?;
                add(address, r.get(1).map_err(|e| self.err(e))?, r.get(2).map_err(|e| self.err(e))?);
            }
        }
        let all: Vec<Top> = all.into_iter().map(|(address, (count, bytes))| Top { address, count, bytes }).collect();
        let pick = |key: fn(&Top) -> u64| {
            let mut v: Vec<&Top> = all.iter().collect();
            v.sort_unstable_by(|a, b| key(b).cmp(&key(a)).then_with(|| a.address.cmp(&b.address)));
            v.into_iter().take(TOP).cloned().collect()
        };
        Ok((pick(|t| t.count), pick(|t| t.bytes)))
    }

    fn reasons(&self, result: &str) -> Result<Vec<Reason>, Error> {
        // Deferrals, bounces and refusals are few: read by their index (mail_log_by_result), not
        // rolled up. Identical replies are grouped in SQL (the bare `recipient` is from the row
        // of max(id), the latest written), then replies that differ only in addresses, ids and
        // numbers are merged here.
        let mut stmt = self
            .store
            .conn()
            .prepare_cached(
                "SELECT reply, count(*), max(id), recipient FROM mail_log WHERE at >= ?1 AND at < ?2 AND result = ?3 GROUP BY reply",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(rusqlite::params![self.from, self.to, result], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64, r.get::<_, i64>(2)?, r.get::<_, String>(3)?))
            })
            .map_err(|e| self.err(e))?;
        let mut groups: std::collections::HashMap<String, (u64, i64, String)> = std::collections::HashMap::new();
        for row in rows {
            let (reply, n, at, example) = row.map_err(|e| self.err(e))?;
            let g = groups.entry(group_reply(&reply)).or_insert((0, i64::MIN, String::new()));
            g.0 += n;
            if at > g.1 {
                (g.1, g.2) = (at, example);
            }
        }
        let mut v: Vec<Reason> = groups.into_iter().map(|(reply, (count, _, example))| Reason { reply, count, example }).collect();
        v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.reply.cmp(&b.reply)));
        v.truncate(REASONS);
        Ok(v)
    }

    /// Servers delivered to, with the delay from each recipient's message being taken in (its
    /// first 'received' row) to its 'sent' row (Postfix's delay=), fixed when the delivery is
    /// written (`delay_ms`). A delivery of a message with no 'received' row counts as delivered
    /// but not in the delays.
    fn servers(&self) -> Result<Vec<ServerStats>, Error> {
        // server → (delivered, with a delay, sum of delays, max delay)
        let mut all: std::collections::HashMap<String, (i64, i64, i64, Option<i64>)> = std::collections::HashMap::new();
        let mut add = |server: &str, n: i64, delayed: i64, sum: i64, max: Option<i64>| {
            let e = match all.get_mut(server) {
                Some(e) => e,
                None => all.entry(server.to_string()).or_insert((0, 0, 0, None)),
            };
            (e.0, e.1, e.2) = (e.0 + n, e.1 + delayed, e.2 + sum);
            e.3 = e.3.max(max);
        };
        let ((a, b), edges) = self.split(true);
        let mut read = |sql: &str, from: i64, to: i64| -> Result<(), Error> {
            let mut stmt = self.store.conn().prepare_cached(sql).map_err(|e| self.err(e))?;
            let mut rows = stmt.query([from, to]).map_err(|e| self.err(e))?;
            while let Some(r) = rows.next().map_err(|e| self.err(e))? {
                let server = r.get_ref(0).and_then(|v| Ok(v.as_str()?)).map_err(|e| self.err(e))?;
                let get = |i| r.get::<_, i64>(i).map_err(|e| self.err(e));
                add(server, get(1)?, get(2)?, get(3)?, r.get(4).map_err(|e| self.err(e))?);
            }
            Ok(())
        };
        if a < b {
            read("SELECT server, n, delayed, delay_sum, delay_max FROM rollup_server WHERE bucket >= ?1 AND bucket < ?2", a, b)?;
        }
        for (from, to) in edges {
            read(
                "SELECT server, count(*), count(delay_ms), coalesce(sum(delay_ms), 0), max(delay_ms) FROM mail_log
                 WHERE at >= ?1 AND at < ?2 AND result = 'sent' GROUP BY server",
                from,
                to,
            )?;
        }
        let mut v: Vec<ServerStats> = all
            .into_iter()
            .filter(|(_, (n, ..))| *n > 0)
            .map(|(server, (n, delayed, sum, max))| ServerStats {
                server,
                delivered: n as u64,
                avg_delay_ms: if delayed > 0 { (sum as f64 / delayed as f64).max(0.0).round() as u64 } else { 0 },
                max_delay_ms: max.unwrap_or(0).max(0) as u64,
            })
            .collect();
        v.sort_by(|a, b| b.delivered.cmp(&a.delivered).then_with(|| a.server.cmp(&b.server)));
        Ok(v)
    }
}

/// A server's reply with what varies between otherwise equal replies left out, so that they
/// count together. Conservative on purpose (a person must still recognise the reply):
/// - the reply code and the enhanced status code (`550 5.1.1`) at the start are kept;
/// - anything with an `@` (an address) becomes `<address>`;
/// - a word of letters and digits at least 8 long with a digit in it (a queue id, a hash)
///   becomes `<id>`;
/// - other runs of digits (counts, sizes, IP addresses, times) become `#`;
/// - spaces are collapsed. Words without digits or `@` are never changed.
pub fn group_reply(reply: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let reply_code = |w: &str| w.len() == 3 && w.bytes().all(|b| b.is_ascii_digit());
    let enhanced = |w: &str| w.split('.').count() == 3 && w.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    for (i, word) in reply.split_whitespace().enumerate() {
        // "550-5.1.1" is how a multi-line reply's first line starts.
        let multi_line = |w: &str| w.get(..3).is_some_and(reply_code) && w.get(3..4) == Some("-") && w.get(4..).is_some_and(enhanced);
        if (i == 0 && (reply_code(word) || multi_line(word))) || (i <= 1 && enhanced(word)) {
            out.push(word.to_string());
            continue;
        }
        let core_start = word.find(|c: char| c.is_alphanumeric() || c == '@').unwrap_or(word.len());
        let core_end = word.rfind(|c: char| c.is_alphanumeric() || c == '@').map(|e| e + 1).unwrap_or(core_start).max(core_start);
        let (pre, core, post) = (&word[..core_start], &word[core_start..core_end], &word[core_end..]);
        let replaced = if core.contains('@') {
            "<address>".to_string()
        } else if core.len() >= 8 && core.bytes().any(|b| b.is_ascii_digit()) && core.bytes().all(|b| b.is_ascii_alphanumeric()) {
            "<id>".to_string()
        } else if core.bytes().any(|b| b.is_ascii_digit()) {
            let mut s = String::with_capacity(core.len());
            let mut in_digits = false;
            for c in core.chars() {
                if c.is_ascii_digit() {
                    if !in_digits {
                        s.push('#');
                    }
                    in_digits = true;
                } else {
                    s.push(c);
                    in_digits = false;
                }
            }
            s
        } else {
            core.to_string()
        };
        let (pre, post) = if replaced == "<address>" { (pre.trim_end_matches('<'), post.trim_start_matches('>')) } else { (pre, post) };
        out.push(format!("{pre}{replaced}{post}"));
    }
    out.join(" ")
}

/// What a person should look at in this report, worst first.
fn problems(r: &Report) -> Vec<Problem> {
    let mut p = Vec::new();
    let t = &r.totals;
    let errors = r.warnings.iter().filter(|e| e.severity == Severity::Error).count();
    if t.bounced > 0 {
        let why = r.bounce_reasons.first().map(|x| format!(" The most common reply: \"{}\".", x.reply)).unwrap_or_default();
        p.push(Problem {
            severity: Severity::Error,
            title: format!("{} recipient{} bounced", t.bounced, plural(t.bounced)),
            hint: format!(
                "These won't be tried again and their senders were told.{why} Check the addresses, or the server settings if \
                 the reply is about logging in or relaying."
            ),
            link: Some("log:bounced".into()),
        });
    }
    if errors > 0 {
        p.push(Problem {
            severity: Severity::Error,
            title: format!("{errors} error{} in the event log", plural(errors as u64)),
            hint: "Open the event log to see what failed and when.".into(),
            link: Some("events:error".into()),
        });
    }
    let attempts = t.delivered + t.deferred + t.bounced;
    if t.deferred >= DEFERRAL_MIN && (t.deferred as f64) > DEFERRAL_RATE * attempts as f64 {
        let why = r.deferral_reasons.first().map(|x| format!(" The most common reply: \"{}\".", x.reply)).unwrap_or_default();
        p.push(Problem {
            severity: Severity::Warning,
            title: format!("{} of {} delivery attempts were deferred", t.deferred, attempts),
            hint: format!(
                "The server said 'try later'; the mail stays queued and is tried again.{why} If it keeps happening, check the \
                 server's limits (messages per hour) or ask its administrator."
            ),
            link: Some("log:deferred".into()),
        });
    }
    if t.refused > 0 {
        let why = r.refusal_reasons.first().map(|x| format!(" The most common reason: \"{}\".", x.reply)).unwrap_or_default();
        p.push(Problem {
            severity: Severity::Warning,
            title: format!("{} recipient{} refused at intake", t.refused, plural(t.refused)),
            hint: format!("The program that handed the mail in was told at once and nothing was queued.{why}"),
            link: Some("log:refused".into()),
        });
    }
    if let Some(k) = r.kept_since.filter(|k| *k > r.from) {
        let since = Timestamp::from_millisecond(k).map(|t| t.to_zoned(TimeZone::system()).strftime("%Y-%m-%d %H:%M").to_string());
        p.push(Problem {
            severity: Severity::Info,
            title: format!("This range starts before the oldest mail kept ({})", since.unwrap_or_default()),
            hint: "The report counts only what the mail log keeps; older rows are removed after the retention period (settings).".into(),
            link: Some("settings".into()),
        });
    }
    p
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn berlin() -> TimeZone {
        TimeZone::get("Europe/Berlin").expect("the system time zone database has Europe/Berlin")
    }

    fn ms(s: &str) -> i64 {
        s.parse::<Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn replies_that_differ_in_addresses_ids_and_numbers_group_together() {
        let g = group_reply;
        assert_eq!(
            g("550 5.1.1 <bob@example.com>: Recipient address rejected: User unknown"),
            g("550 5.1.1 <carol@example.org>: Recipient address rejected: User unknown")
        );
        assert_eq!(g("550 5.1.1 <bob@example.com>: User unknown"), "550 5.1.1 <address>: User unknown");
        assert_eq!(g("451 4.7.1 Try again in 300 seconds (queue id 4Fq2Lx0AbC9)"), "451 4.7.1 Try again in # seconds (queue id <id>)");
        assert_eq!(g("421 4.7.0 [192.0.2.1] too many connections"), "421 4.7.0 [#.#.#.#] too many connections");
        assert_eq!(g("550-5.7.1   Message   rejected"), "550-5.7.1 Message rejected");
        // Codes are kept: a 450 and a 550 with the same text are different reasons.
        assert_ne!(g("450 4.2.0 mailbox busy"), g("550 5.2.0 mailbox busy"));
        // Words without digits or @ are left alone; short words with digits only lose their numbers.
        assert_eq!(g("connection to mx1.example.net timed out"), "connection to mx#.example.net timed out");
        assert_eq!(g(""), "");
    }

    #[test]
    fn days_and_hours_follow_local_time_across_dst() {
        let tz = berlin();
        // 2026-03-29: clocks go from 02:00 to 03:00 (CET → CEST): a 23-hour day.
        let d: jiff::civil::Date = "2026-03-29".parse().unwrap();
        let (from, to) = day_range_in(&tz, d, 1);
        assert_eq!((from, to), (ms("2026-03-28T23:00:00Z"), ms("2026-03-29T22:00:00Z")));
        let hours = bucket_starts(&tz, from, to);
        assert_eq!(hours.len(), 23);
        // 2026-10-25: 03:00 CEST back to 02:00 CET: a 25-hour day.
        let (from, to) = day_range_in(&tz, "2026-10-25".parse().unwrap(), 1);
        assert_eq!(to - from, 25 * 3_600_000);
        assert_eq!(bucket_starts(&tz, from, to).len(), 25);
        // Yesterday seen from just after midnight on the day after the change: the 25-hour day.
        let now = ms("2026-10-25T23:30:00Z"); // 00:30 CET on the 26th
        let y = local_date(&tz, now).yesterday().unwrap();
        assert_eq!(day_range_in(&tz, y, 1), (from, to));
        // Over 14 days the chart is per local day, each starting at a local midnight.
        let (from, to) = day_range_in(&tz, "2026-03-20".parse().unwrap(), 20);
        let days = bucket_starts(&tz, from, to);
        assert_eq!(days.len(), 20);
        assert!(days.contains(&ms("2026-03-28T23:00:00Z")) && days.contains(&ms("2026-03-29T22:00:00Z")), "{days:?}");
        // India (+05:30): hours start at half past in UTC.
        let kolkata = TimeZone::get("Asia/Kolkata").unwrap();
        let starts = bucket_starts(&kolkata, ms("2026-01-01T10:45:00Z"), ms("2026-01-01T12:00:00Z"));
        assert_eq!(starts, [ms("2026-01-01T10:30:00Z"), ms("2026-01-01T11:30:00Z")]);
    }

    /// A row of message 1, from a@x to b@y, 100 bytes.
    fn row(store: &Store, at: i64, result: &str, reply: &str) {
        store
            .conn()
            .execute(
                crate::journal::mail_log::INSERT,
                rusqlite::params![at, 1, "<m@x>", "a@x", "b@y", 100, "relay.example.net:587", None::<String>, result, reply, 5, "global"],
            )
            .unwrap();
    }

    #[test]
    fn rows_land_in_their_local_hour_on_a_dst_day_and_a_range_before_the_kept_data_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("q.sqlite3")).unwrap();
        let tz = berlin();
        let (from, to) = day_range_in(&tz, "2026-03-29".parse().unwrap(), 1);
        // 01:59 CET is hour 1 (the second bucket), 03:00 CEST hour 3 (the third: 02:00 never was).
        row(&store, ms("2026-03-29T00:59:00Z"), "received", "");
        row(&store, ms("2026-03-29T01:00:00Z"), "sent", "250 ok");
        let r = build_in(&store, &tz, from, to).unwrap();
        assert_eq!(r.hours.len(), 23);
        assert_eq!((r.hours[1].received, r.hours[1].delivered, r.hours[2].delivered), (1, 0, 1));
        assert_eq!(r.kept_since, None, "nothing was removed: the data is complete");
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert_eq!(r.servers[0].max_delay_ms, 60_000);
        // Retention removes what is older than 01:00 UTC: a report of the whole day says its
        // range reaches past the data kept.
        crate::journal::retention::prune_before(&store, ms("2026-03-29T01:00:00Z")).unwrap();
        let r = build_in(&store, &tz, from, to).unwrap();
        assert_eq!(r.kept_since, Some(ms("2026-03-29T01:00:00Z")));
        assert!(r.problems.iter().any(|p| p.title.contains("before the oldest mail kept")), "{:?}", r.problems);
        assert_eq!((r.hours[1].received, r.hours[2].delivered), (0, 1), "the pruned row is gone");
        // A range starting after the oldest row does not.
        let r = build_in(&store, &tz, ms("2026-03-29T01:00:00Z"), to).unwrap();
        assert!(r.problems.is_empty(), "{:?}", r.problems);
    }

    #[test]
    fn a_prune_that_removes_the_slowest_delivery_of_a_bucket_leaves_the_next_slowest_as_the_maximum() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("q.sqlite3")).unwrap();
        let t = ms("2026-03-29T10:00:00Z");
        // Message 1 taken in at 09:00, delivered at 10:05 (65 min); message 2 taken in at
        // 10:01:40, delivered at 10:05:02 (202 s): both deliveries in the 10:00 bucket.
        row(&store, t - 3_600_000, "received", "");
        row(&store, t + 300_000, "sent", "250 ok");
        store
            .conn()
            .execute_batch(&format!(
                "INSERT INTO mail_log (at, message, message_id, sender, recipient, size, server, tls, result, reply, duration_ms)
                 VALUES ({0}, 2, '<n@x>', 'a@x', 'c@y', 10, 'sendmail', NULL, 'received', '', 0),
                        ({1}, 2, '<n@x>', 'a@x', 'c@y', 10, 'relay.example.net:587', NULL, 'sent', '250 ok', 5)",
                t + 100_000,
                t + 302_000
            ))
            .unwrap();
        let (from, to) = (ms("2026-03-29T00:00:00Z"), ms("2026-03-30T00:00:00Z"));
        let r = build_in(&store, &berlin(), from, to).unwrap();
        assert_eq!((r.servers[0].delivered, r.servers[0].max_delay_ms), (2, 3_900_000));
        // The prune removes the slow delivery (and both 'received' rows): the bucket keeps the
        // fast one, whose delay was fixed when it was written.
        crate::journal::retention::prune_before(&store, t + 301_000).unwrap();
        let r = build_in(&store, &berlin(), from, to).unwrap();
        assert_eq!((r.servers[0].delivered, r.servers[0].avg_delay_ms, r.servers[0].max_delay_ms), (1, 202_000, 202_000));
    }

    #[test]
    fn the_rollup_triggers_look_up_a_message_by_its_index_not_every_received_row() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("q.sqlite3")).unwrap();
        store
            .conn()
            .execute_batch(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
                 INSERT INTO mail_log (at, message, message_id, sender, recipient, size, server, tls, result, reply, duration_ms)
                 SELECT 1000 + i, i, '', 'a@x', 'b@y', 1, 'sendmail', NULL, 'received', '', 0 FROM n;",
            )
            .unwrap();
        // What intake and delivery pay per row (VM steps, triggers included): a walk of the 5,000
        // 'received' rows (mail_log_by_result) would take tens of thousands.
        for (message, result) in [(6000, "received"), (6000, "received"), (6000, "sent"), (17, "sent")] {
            let mut insert = store.conn().prepare(crate::journal::mail_log::INSERT).unwrap();
            insert.execute(rusqlite::params![9000, message, "", "a@x", "c@y", 1, "mx", None::<String>, result, "", 0, "global"]).unwrap();
            let steps = insert.get_status(rusqlite::StatementStatus::VmStep);
            assert!(steps < 1_000, "{result} row of message {message}: {steps} steps");
        }
    }

    /// xorshift64*: seeded, so a failure repeats.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: u64) -> i64 {
            (self.next() % n) as i64
        }
    }

    /// One message's rows as intake and delivery write them: its 'received' rows all at one time,
    /// then per recipient sent, deferred then sent, bounced or held; or refused at intake; now
    /// and then a delivery of a message with no 'received' row (no delay known).
    fn random_message(conn: &rusqlite::Connection, rng: &mut Rng, id: i64, base: i64) {
        let insert = |at: i64, message: Option<i64>, sender: &str, rcpt: &str, size: i64, server: &str, result: &str, reply: &str| {
            // Without the profile column: the first rows go into a queue from before the rollups (and profiles).
            conn.execute(
                "INSERT INTO mail_log (at, message, message_id, sender, recipient, size, server, tls, result, reply, duration_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                rusqlite::params![at, message, "<m@x>", sender, rcpt, size, server, None::<String>, result, reply, 5],
            )
            .unwrap();
        };
        let t = base + rng.below(36 * 3_600_000);
        let sender = format!("s{}@x", rng.below(4));
        let size = 1 + rng.below(10_000);
        let rcpts: Vec<String> = (0..1 + rng.below(3)).map(|_| format!("r{}@y", rng.below(6))).collect();
        if rng.below(20) == 0 {
            for r in &rcpts {
                insert(t, None, &sender, r, size, "sendmail", "refused", &format!("553 5.1.3 <{r}>: no domain"));
            }
            return;
        }
        let received = rng.below(20) != 0;
        if received {
            for r in &rcpts {
                insert(t, Some(id), &sender, r, size, "sendmail", "received", "");
            }
        }
        for r in &rcpts {
            let server = format!("mx{}.example:25", rng.below(2));
            let mut at = t + rng.below(7_200_000);
            match rng.below(10) {
                0 => insert(at, Some(id), &sender, r, size, &server, "bounced", &format!("550 5.1.1 <{r}>: unknown")),
                1 => insert(at, Some(id), &sender, r, size, "queue", "held", "held by a person"),
                2 => {
                    insert(at, Some(id), &sender, r, size, &server, "deferred", &format!("451 4.7.1 try again in {} s", rng.below(900)));
                    at += rng.below(3_600_000);
                    insert(at, Some(id), &sender, r, size, &server, "sent", "250 ok");
                }
                _ => insert(at, Some(id), &sender, r, size, &server, "sent", "250 ok"),
            }
        }
    }

    /// The report read through the rollups equals the one counted row by row, over local days
    /// (Berlin across its DST change, Kolkata's half-hour offset), a long range charted per day,
    /// and ranges that start and end anywhere.
    fn assert_rollups_count_as_rows(store: &Store, rng: &mut Rng, base: i64) {
        let berlin = berlin();
        let kolkata = TimeZone::get("Asia/Kolkata").unwrap();
        let mut ranges = Vec::new();
        for tz in [&berlin, &kolkata] {
            for d in ["2026-03-28", "2026-03-29"] {
                ranges.push((tz.clone(), day_range_in(tz, d.parse().unwrap(), 1)));
            }
        }
        ranges.push((berlin.clone(), day_range_in(&berlin, "2026-03-20".parse().unwrap(), 20)));
        for _ in 0..3 {
            let from = base - 3_600_000 + rng.below(40 * 3_600_000);
            ranges.push((berlin.clone(), (from, from + rng.below(2 * 86_400_000))));
        }
        for (tz, (from, to)) in ranges {
            let rolled = build_from(&Queries::new(store, from, to), &tz).unwrap();
            let counted = build_from(&Queries { rollups: false, ..Queries::new(store, from, to) }, &tz).unwrap();
            assert_eq!(rolled, counted, "{tz:?} {from}..{to}");
        }
        // Emptied buckets leave no rows behind.
        let empty: i64 = store
            .conn()
            .query_row(
                "SELECT (SELECT count(*) FROM rollup_total WHERE n = 0) + (SELECT count(*) FROM rollup_sender WHERE messages = 0)
                      + (SELECT count(*) FROM rollup_recipient WHERE n = 0) + (SELECT count(*) FROM rollup_server WHERE n = 0)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(empty, 0);
    }

    #[test]
    fn rollups_equal_a_direct_count_after_the_migration_random_inserts_and_prunes() {
        let base = ms("2026-03-28T00:10:00Z");
        for seed in 1..=3u64 {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ seed);
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("q.sqlite3");
            // Rows written before the rollups existed: migration 7 adds them up.
            let conn = crate::outbox::store::create_at_version(&path, 6).unwrap();
            let mut id = 0;
            // One transaction per round of messages: a commit per row would fsync each.
            conn.execute_batch("BEGIN").unwrap();
            for _ in 0..150 {
                id += 1;
                random_message(&conn, &mut rng, id, base);
            }
            conn.execute_batch("COMMIT").unwrap();
            drop(conn);
            let store = Store::open(&path).unwrap();
            assert_rollups_count_as_rows(&store, &mut rng, base);
            for round in 0..4 {
                store.conn().execute_batch("BEGIN").unwrap();
                for _ in 0..100 {
                    id += 1;
                    random_message(store.conn(), &mut rng, id, base);
                }
                store.conn().execute_batch("COMMIT").unwrap();
                crate::journal::retention::prune_before(&store, base + rng.below(8 * 3_600_000) * (round + 1)).unwrap();
                assert_rollups_count_as_rows(&store, &mut rng, base);
            }
        }
    }
}
