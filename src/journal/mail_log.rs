//! The mail log: one row per recipient for each thing that happened to mail — taken in, sent,
//! deferred, bounced, refused at intake, held — read newest first in keyset pages, filtered by
//! result, time range and address.

use super::{Cursor, Error, Listing};
use crate::outbox::Store;
use rusqlite::types::Value;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Adds one row; the parameters in order: at, message (or NULL), message_id, sender, recipient,
/// size, server, tls (or NULL), result, reply, duration_ms, profile. Written by intake and delivery in
/// their own transactions, so a row exists exactly when what it records was committed.
pub(crate) const INSERT: &str =
    "INSERT INTO mail_log (at, message, message_id, sender, recipient, size, server, tls, result, reply, duration_ms, profile)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";

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
    /// The profile the mail was (to be) sent with; absent on rows written before profiles existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub profile: Option<String>,
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
    /// Rows of this profile (its canonical name, `global` for Global).
    #[serde(default)]
    #[ts(optional = nullable)]
    pub profile: Option<String>,
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

const COLUMNS: &str = "id, at, message, message_id, sender, recipient, size, server, tls, result, reply, duration_ms, profile";

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
        profile: r.get(12)?,
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
    if let Some(p) = q.profile.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        l.filter("profile = ?", Value::Text(p.to_string()));
    }
    let address = q.address.as_deref().map(str::trim).filter(|a| !a.is_empty());
    if let Some(r) = q.result {
        // Alone, the result walks mail_log_by_result (a result with no rows costs nothing); with an
        // address, the address indexes lead (`+` keeps SQLite from choosing the result index):
        // an address is the narrower of the two.
        l.filter(if address.is_some() { "+result = ?" } else { "result = ?" }, Value::Text(r.as_str().into()));
    }
    // The address as recipient, or as sender: two walks of their own indexes (mail_log_by_recipient,
    // mail_log_by_sender), merged; an OR would make SQLite read and sort every match.
    let mut either = Vec::new();
    if let Some(a) = address {
        l.args.push(Value::Text(a.to_string()));
        let n = l.args.len();
        either = vec![format!("recipient = ?{n} COLLATE NOCASE"), format!("sender = ?{n} COLLATE NOCASE")];
    }
    let rows = l.read_either(&either, entry, |e| Cursor { at: e.at, id: e.id })?;
    Ok(LogPage { entries: rows.rows, older: rows.older, newer: rows.newer })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store with one row per `(at, sender, recipient, result)`; ids follow the order given.
    fn store_with(rows: &[(i64, &str, &str, &str)]) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("q.sqlite3")).unwrap();
        for (at, sender, recipient, result) in rows {
            store
                .conn()
                .execute(
                    INSERT,
                    rusqlite::params![at, 1, "<m@x>", sender, recipient, 10, "sendmail", None::<&str>, result, "", 0, "global"],
                )
                .unwrap();
        }
        (dir, store)
    }

    fn ids(p: &LogPage) -> Vec<i64> {
        p.entries.iter().map(|e| e.id).collect()
    }

    fn cursor(e: &Entry) -> Cursor {
        Cursor { at: e.at, id: e.id }
    }

    #[test]
    fn pages_newest_first_both_ways_also_at_equal_times() {
        // Rows 2-5 share one time: the id breaks the tie, so no row is lost or shown twice.
        let rows: Vec<(i64, &str, &str, &str)> = [10, 20, 20, 20, 20, 30, 40].iter().map(|&at| (at, "a@x", "b@x", "received")).collect();
        let (_dir, s) = store_with(&rows);
        let q = LogQuery { limit: 3, ..LogQuery::default() };
        let first = page(&s, &q).unwrap();
        assert_eq!((ids(&first), first.older, first.newer), (vec![7, 6, 5], true, false));
        let second = page(&s, &LogQuery { before: first.entries.last().map(cursor), ..q.clone() }).unwrap();
        assert_eq!((ids(&second), second.older, second.newer), (vec![4, 3, 2], true, true));
        let third = page(&s, &LogQuery { before: second.entries.last().map(cursor), ..q.clone() }).unwrap();
        assert_eq!((ids(&third), third.older, third.newer), (vec![1], false, true));
        // Back up: the page after the third's first row is the second again, then the first.
        let back = page(&s, &LogQuery { after: third.entries.first().map(cursor), ..q.clone() }).unwrap();
        assert_eq!((ids(&back), back.older, back.newer), (vec![4, 3, 2], true, true));
        let top = page(&s, &LogQuery { after: back.entries.first().map(cursor), ..q.clone() }).unwrap();
        assert_eq!((ids(&top), top.older, top.newer), (vec![7, 6, 5], true, false));
    }

    #[test]
    fn filters_by_time_result_and_address() {
        let (_dir, s) = store_with(&[
            (100, "app@x", "Bob@Y", "received"),
            (200, "app@x", "bob@y", "sent"),
            (300, "bob@y", "bob@y", "received"),
            (400, "other@x", "carol@y", "bounced"),
            (500, "BOB@Y", "dave@y", "refused"),
        ]);
        let got = |q: LogQuery| ids(&page(&s, &q).unwrap());
        assert_eq!(got(LogQuery { since: Some(200), until: Some(400), ..LogQuery::default() }), [3, 2], "since inclusive, until exclusive");
        assert_eq!(got(LogQuery { result: Some(LogResult::Received), ..LogQuery::default() }), [3, 1]);
        // As recipient or as sender, any case; row 3 (to and from bob) once.
        assert_eq!(got(LogQuery { address: Some(" bob@y ".into()), ..LogQuery::default() }), [5, 3, 2, 1]);
        assert_eq!(got(LogQuery { address: Some("bob@y".into()), result: Some(LogResult::Received), ..LogQuery::default() }), [3, 1]);
        assert_eq!(got(LogQuery { address: Some("bob@y".into()), since: Some(150), until: Some(500), ..LogQuery::default() }), [3, 2]);
        // Paging through an address filter, both ways.
        let q = LogQuery { address: Some("bob@y".into()), limit: 2, ..LogQuery::default() };
        let first = page(&s, &q).unwrap();
        assert_eq!((ids(&first), first.older, first.newer), (vec![5, 3], true, false));
        let next = page(&s, &LogQuery { before: first.entries.last().map(cursor), ..q.clone() }).unwrap();
        assert_eq!((ids(&next), next.older, next.newer), (vec![2, 1], false, true));
        let back = page(&s, &LogQuery { after: next.entries.first().map(cursor), ..q.clone() }).unwrap();
        assert_eq!((ids(&back), back.older, back.newer), (vec![5, 3], true, false));
        assert!(matches!(
            page(&s, &LogQuery { since: Some(2), until: Some(1), ..LogQuery::default() }),
            Err(Error::BadQuery { field, .. }) if field == "until"
        ));
    }

    /// The address filter walks the two address indexes in (at, id) order and merges them: no
    /// scan of the log, no sort of every match (which a busy sender's million rows would cost).
    #[test]
    fn the_address_filter_walks_its_indexes() {
        let (_dir, s) = store_with(&[]);
        let either = ["recipient = ?1 COLLATE NOCASE".to_string(), "sender = ?1 COLLATE NOCASE".to_string()];
        for (filters, order) in [
            (vec![], "at DESC, id DESC"),
            (vec!["at <= ?2 AND (at < ?2 OR id < ?3)".to_string()], "at DESC, id DESC"),
            (vec!["at >= ?2 AND (at > ?2 OR id > ?3)".to_string(), "+result = ?4".to_string()], "at ASC, id ASC"),
        ] {
            let sql =
                format!("EXPLAIN QUERY PLAN {} ORDER BY {order} LIMIT 51", super::super::select("mail_log", COLUMNS, &filters, &either));
            let mut stmt = s.conn().prepare(&sql).unwrap();
            let n = stmt.parameter_count();
            let params: Vec<Value> = (0..n).map(|_| Value::Integer(1)).collect();
            let plan: Vec<String> =
                stmt.query_map(rusqlite::params_from_iter(params), |r| r.get::<_, String>(3)).unwrap().map(Result::unwrap).collect();
            let plan = plan.join("\n");
            assert!(plan.contains("USING INDEX mail_log_by_recipient") && plan.contains("USING INDEX mail_log_by_sender"), "{sql}\n{plan}");
            assert!(!plan.contains("TEMP B-TREE") && !plan.contains("SCAN mail_log"), "{sql}\n{plan}");
        }
        // A result alone walks its own index, newest first: `--result refused` with no refusals
        // reads nothing instead of the whole log.
        let sql = format!("EXPLAIN QUERY PLAN SELECT {COLUMNS} FROM mail_log WHERE result = ?1 ORDER BY at DESC, id DESC LIMIT 51");
        let plan: Vec<String> =
            s.conn().prepare(&sql).unwrap().query_map(["refused"], |r| r.get::<_, String>(3)).unwrap().map(Result::unwrap).collect();
        assert_eq!(plan, ["SEARCH mail_log USING INDEX mail_log_by_result (result=?)"], "{sql}");
    }

    /// `cargo test -p smtp-desk --release --lib -- --ignored --nocapture page_of_a_million`: a page of
    /// 1,000,000 rows, unfiltered and by address (a sender of most rows, a rare recipient).
    #[test]
    #[ignore = "a measurement: builds a million rows"]
    fn page_of_a_million_rows() {
        let (_dir, s) = store_with(&[]);
        s.conn()
            .execute_batch(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000)
                 INSERT INTO mail_log (at, message, message_id, sender, recipient, size, server, tls, result, reply, duration_ms)
                 SELECT 1700000000000 + i * 1000, i, '<' || i || '@x>', CASE WHEN i % 10 = 0 THEN 'u' || (i % 997) || '@x' ELSE 'cron@x' END,
                        CASE WHEN i % 5000 = 0 THEN 'rare@y' ELSE 'r' || (i % 5003) || '@y' END, 4000, 'relay:587', 'TLS 1.3',
                        CASE i % 3 WHEN 0 THEN 'received' WHEN 1 THEN 'sent' ELSE 'deferred' END, '250 ok', 12 FROM n;",
            )
            .unwrap();
        for (what, q) in [
            ("newest page", LogQuery::default()),
            ("busy sender", LogQuery { address: Some("CRON@x".into()), ..LogQuery::default() }),
            ("rare recipient", LogQuery { address: Some("rare@y".into()), ..LogQuery::default() }),
            (
                "busy sender, bounced (none)",
                LogQuery { address: Some("cron@x".into()), result: Some(LogResult::Bounced), ..LogQuery::default() },
            ),
            (
                "sent, deep",
                LogQuery {
                    result: Some(LogResult::Sent),
                    before: Some(Cursor { at: 1700000000000 + 500_000_000, id: 500_000 }),
                    ..LogQuery::default()
                },
            ),
        ] {
            let started = std::time::Instant::now();
            let p = page(&s, &q).unwrap();
            eprintln!("{what}: {} rows in {:?}", p.entries.len(), started.elapsed());
        }
        // What the address filter cost as one OR (before it was split into two index walks).
        for address in ["cron@x", "rare@y", "nobody@z"] {
            let started = std::time::Instant::now();
            let n = s
                .conn()
                .prepare(&format!(
                    "SELECT {COLUMNS} FROM mail_log WHERE (recipient = ?1 COLLATE NOCASE OR sender = ?1 COLLATE NOCASE) ORDER BY at DESC, id DESC LIMIT 51"
                ))
                .unwrap()
                .query_map([address], |_| Ok(()))
                .unwrap()
                .count();
            eprintln!("{address} as one OR: {n} rows in {:?}", started.elapsed());
            let started = std::time::Instant::now();
            let n = page(&s, &LogQuery { address: Some(address.into()), ..LogQuery::default() }).unwrap().entries.len();
            eprintln!("{address} merged: {n} rows in {:?}", started.elapsed());
        }
    }
}
