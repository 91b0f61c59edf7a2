//! Looking at and managing the queue: pages (newest first, filtered by state, searched by address),
//! show one message, hold / release / delete, and counts per state.
//!
//! Changes by id are all or nothing: if one id is unknown, nothing is changed.
//!
//! The window pages newest first by id ([`Store::page`], keyset: a deep page costs what the first
//! does) and reads the counts with the sending mode ([`Store::overview`]); both stay within a few
//! milliseconds at 100,000 messages (scripts/bench-outbox.sh `ONLY=queue`).

use super::store::Store;
use super::{now_millis, Error, State};
use crate::settings::Mode;
use rusqlite::{params, params_from_iter, OptionalExtension};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// One recipient of a queued message. Times are seconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct RecipientStatus {
    pub address: String,
    pub state: State,
    pub attempts: u32,
    pub last_reply: Option<String>,
    pub next_try_at: Option<i64>,
}

/// One message in a listing: the shape of each line of `queue list --json` (stable: fields are
/// only ever added).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct MessageSummary {
    pub id: i64,
    /// The least advanced state of its recipients: sending, queued, deferred, held, failed, sent.
    pub state: State,
    /// Seconds since the Unix epoch.
    pub received_at: i64,
    /// The envelope sender; "" is the null sender.
    pub sender: String,
    pub size: u64,
    pub subject: String,
    pub message_id: String,
    /// The profile it is sent with (`global` for Global); absent: queued before profiles
    /// existed, sent with the default profile.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub profile: Option<String>,
    pub recipients: Vec<RecipientStatus>,
}

/// A message with its headers, the options kept with it, and every delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct MessageDetail {
    #[serde(flatten)]
    pub summary: MessageSummary,
    pub source: String,
    pub body_type: Option<String>,
    pub dsn_notify: Option<String>,
    pub dsn_ret: Option<String>,
    pub dsn_envid: Option<String>,
    /// The header section as queued (CRLF turned into LF for reading).
    pub headers: String,
    /// Every delivery attempt, oldest first.
    pub attempts: Vec<Attempt>,
}

/// One delivery attempt for one recipient, with the server's reply (or why there was none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct Attempt {
    pub recipient: String,
    /// Seconds since the Unix epoch, when the attempt ended.
    pub at: i64,
    /// host:port
    pub server: String,
    /// sent, deferred or failed.
    pub result: State,
    pub reply: String,
    pub duration_ms: u64,
}

/// Recipients per state, and messages in all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, TS)]
pub struct Counts {
    pub messages: u64,
    pub queued: u64,
    pub sending: u64,
    pub sent: u64,
    pub deferred: u64,
    pub held: u64,
    pub failed: u64,
}

/// Which page of the queue the window shows: newest first, filtered, a page before or after the
/// one on screen (keyset: by id, not by offset, so a deep page is as quick as the first).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
pub struct PageQuery {
    /// Only messages with at least one recipient in this state.
    pub state: Option<State>,
    /// Only messages whose sender or a recipient contains this text (case-insensitive).
    pub search: Option<String>,
    /// The next (older) page: messages with ids below this one.
    pub before: Option<i64>,
    /// The previous (newer) page: messages with ids above this one.
    pub after: Option<i64>,
    /// Messages per page (1 to 500).
    pub limit: u32,
}

impl Default for PageQuery {
    fn default() -> Self {
        PageQuery { state: None, search: None, before: None, after: None, limit: 50 }
    }
}

/// A page of the queue, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct Page {
    pub messages: Vec<MessageSummary>,
    /// Older messages match too (there is a next page).
    pub older: bool,
    /// Newer messages match too (there is a previous page).
    pub newer: bool,
    /// How many messages match a state filter (an index range); `None` with a search, which would
    /// have to read every row, and with no filter, where [`Overview`]'s `counts.messages` says it.
    pub total: Option<u64>,
}

/// The queue at a glance: counts, and whether sending is off (mail is then accepted and kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct Overview {
    pub counts: Counts,
    /// Messages with a recipient waiting to be sent (queued or deferred).
    pub waiting: u64,
    /// The sending mode now: `off` keeps mail in the queue until it is turned on.
    pub mode: Mode,
}

/// The most messages one page may ask for.
const MAX_PAGE: u32 = 500;

/// A message's state: the least advanced of its recipients'.
/// The reply of a mail-log 'held' row.
pub const HELD_BY_A_PERSON: &str = "held by a person";

fn message_state(recipients: &[RecipientStatus]) -> State {
    PRECEDENCE.into_iter().find(|s| recipients.iter().any(|r| r.state == *s)).unwrap_or(State::Sent)
}

/// What a page matches: a state, a LIKE pattern.
struct Matching<'a> {
    state: Option<&'static str>,
    pattern: Option<&'a str>,
}

/// At most this many distinct addresses matching a search are looked up one by one (each an
/// index walk of at most a page); more, and the search merges two ordered scans instead.
const FEW_ADDRESSES: usize = 64;

/// The statement [`Store::matching_ids`] runs: ?1 below, ?2 above, ?3 limit, ?4 state, ?5 pattern.
fn matching_sql(m: &Matching, upward: bool) -> String {
    let order = if upward { "ASC" } else { "DESC" };
    match (m.state, m.pattern) {
        (None, None) => format!("SELECT id FROM message INDEXED BY message_listing WHERE id < ?1 AND id > ?2 ORDER BY id {order} LIMIT ?3"),
        (Some(_), None) => format!(
            "SELECT DISTINCT message FROM recipient INDEXED BY recipient_by_state_message
             WHERE state = ?4 AND message < ?1 AND message > ?2 ORDER BY message {order} LIMIT ?3"
        ),
        (state, Some(_)) => {
            let in_state = |col: &str| match state {
                Some(_) => format!(" AND EXISTS (SELECT 1 FROM recipient s WHERE s.message = {col} AND s.state = ?4)"),
                None => String::new(),
            };
            // A compound SELECT with ORDER BY is a merge of two ordered scans: lazy, so a
            // search that matches often stops after a page.
            format!(
                "SELECT m.id FROM message m INDEXED BY message_listing
                   WHERE m.id < ?1 AND m.id > ?2 AND m.sender LIKE ?5 ESCAPE '\\'{}
                 UNION
                 SELECT r.message FROM recipient r
                   WHERE r.message < ?1 AND r.message > ?2 AND r.address LIKE ?5 ESCAPE '\\'{}
                 ORDER BY 1 {order} LIMIT ?3",
                in_state("m.id"),
                in_state("r.message")
            )
        }
    }
}

/// The order in which a message's state is taken from its recipients' states.
const PRECEDENCE: [State; 6] = [State::Sending, State::Queued, State::Deferred, State::Held, State::Failed, State::Sent];

impl Store {
    /// One message's summary, looked up by id .
    fn summary(&self, id: i64) -> rusqlite::Result<Option<MessageSummary>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT id, received_at, sender, size, subject, message_id, profile FROM message INDEXED BY message_listing WHERE id = ?1",
        )?;
        let Some(mut m) = stmt
            .query_row([id], |r| {
                Ok(MessageSummary {
                    id: r.get(0)?,
                    state: State::Queued,
                    received_at: r.get::<_, i64>(1)? / 1000,
                    sender: r.get(2)?,
                    size: r.get::<_, i64>(3)? as u64,
                    subject: r.get(4)?,
                    message_id: r.get(5)?,
                    profile: r.get(6)?,
                    recipients: Vec::new(),
                })
            })
            .optional()?
        else {
            return Ok(None);
        };
        m.recipients = self.recipients(m.id)?;
        m.state = message_state(&m.recipients);
        Ok(Some(m))
    }

    fn recipients(&self, id: i64) -> rusqlite::Result<Vec<RecipientStatus>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT address, state, attempts, last_reply, next_try_at FROM recipient WHERE message = ?1 ORDER BY position",
        )?;
        let rows = stmt.query_map([id], |r| {
            let state: String = r.get(1)?;
            Ok(RecipientStatus {
                address: r.get(0)?,
                state: State::parse(&state).unwrap_or(State::Queued),
                attempts: r.get(2)?,
                last_reply: r.get(3)?,
                next_try_at: r.get::<_, Option<i64>>(4)?.map(|t| t / 1000),
            })
        })?;
        rows.collect()
    }

    /// One message with its headers.
    pub fn show(&self, id: i64) -> Result<MessageDetail, Error> {
        let row = self
            .conn()
            .query_row("SELECT source, body_type, dsn_notify, dsn_ret, dsn_envid, body FROM message WHERE id = ?1", [id], |r| {
                Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get::<_, Vec<u8>>(5)?))
            })
            .optional()
            .map_err(|e| self.storage(e))?;
        let Some((source, body_type, dsn_notify, dsn_ret, dsn_envid, body)) = row else {
            return Err(Error::NotFound(id));
        };
        let summary = self.summary(id).map_err(|e| self.storage(e))?.ok_or(Error::NotFound(id))?;
        let end = body.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 2).unwrap_or(body.len());
        let headers = String::from_utf8_lossy(&body[..end]).replace("\r\n", "\n");
        let attempts = self.attempts(id).map_err(|e| self.storage(e))?;
        Ok(MessageDetail { summary, source, body_type, dsn_notify, dsn_ret, dsn_envid, headers, attempts })
    }

    fn attempts(&self, id: i64) -> rusqlite::Result<Vec<Attempt>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT recipient, at, server, result, reply, duration_ms FROM mail_log
             WHERE message = ?1 AND result IN ('sent', 'deferred', 'bounced') ORDER BY at, id",
        )?;
        let rows = stmt.query_map([id], |r| {
            Ok(Attempt {
                recipient: r.get(0)?,
                at: r.get::<_, i64>(1)? / 1000,
                server: r.get(2)?,
                result: match r.get::<_, String>(3)?.as_str() {
                    "sent" => State::Sent,
                    "bounced" => State::Failed,
                    _ => State::Deferred,
                },
                reply: r.get(4)?,
                duration_ms: r.get::<_, i64>(5)?.max(0) as u64,
            })
        })?;
        rows.collect()
    }

    /// A page of messages, newest first (the window's queue screen).
    ///
    /// How each filter stays quick at 100,000 messages (checked with EXPLAIN QUERY PLAN, see the
    /// tests): no filter walks the `message_listing` index down from the newest id; a state walks
    /// `recipient_by_state_message`; a search merges two ordered scans (senders in
    /// `message_listing`, addresses in the recipient table's key order), stopping at a full page,
    /// so only a search that matches little reads everything (two compact scans, not the bodies).
    pub fn page(&self, q: &PageQuery) -> Result<Page, Error> {
        self.page_inner(q).map_err(|e| self.storage(e))
    }

    fn page_inner(&self, q: &PageQuery) -> rusqlite::Result<Page> {
        let limit = q.limit.clamp(1, MAX_PAGE) as usize;
        let pattern = q
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| format!("%{}%", s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")));
        let matching = Matching { state: q.state.map(State::as_str), pattern: pattern.as_deref() };
        // A newer page walks up from `after` and is turned round; anything else walks down.
        let upward = q.after.is_some() && q.before.is_none();
        let (below, above) = (q.before.unwrap_or(i64::MAX), q.after.unwrap_or(0));
        let mut ids = self.matching_ids(&matching, below, above, upward, limit + 1)?;
        let more = ids.len() > limit;
        ids.truncate(limit);
        if upward {
            ids.reverse();
        }
        // Whether anything lies the other way is known only when we came from there.
        let (older, newer) = if upward {
            let lowest = ids.last().copied().unwrap_or(above + 1);
            (!self.matching_ids(&matching, lowest, 0, false, 1)?.is_empty(), more)
        } else if q.before.is_some() {
            let highest = ids.first().copied().unwrap_or(below - 1);
            (more, !self.matching_ids(&matching, i64::MAX, highest, true, 1)?.is_empty())
        } else {
            (more, false)
        };
        let mut messages = Vec::with_capacity(ids.len());
        for id in ids {
            messages.extend(self.summary(id)?);
        }
        let total = match (matching.state, matching.pattern) {
            (Some(st), None) => Some(
                self.conn().query_row("SELECT count(DISTINCT message) FROM recipient WHERE state = ?1", [st], |r| r.get::<_, i64>(0))?
                    as u64,
            ),
            _ => None,
        };
        Ok(Page { messages, older, newer, total })
    }

    /// Ids of matching messages strictly between `above` and `below`, walking up or down.
    fn matching_ids(&self, m: &Matching, below: i64, above: i64, upward: bool, limit: usize) -> rusqlite::Result<Vec<i64>> {
        if let Some(pattern) = m.pattern {
            let mut stmt = self.conn().prepare_cached("SELECT address FROM search_address WHERE address LIKE ?1 ESCAPE '\\' LIMIT ?2")?;
            let addresses: Vec<String> =
                stmt.query_map(params![pattern, FEW_ADDRESSES as i64 + 1], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
            // Many addresses match (a broad search): it matches often, and the merged scan below
            // stops at a full page.
            if addresses.len() <= FEW_ADDRESSES {
                return self.ids_by_address(&addresses, m.state, below, above, upward, limit);
            }
        }
        let sql = matching_sql(m, upward);
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let limit = limit as i64;
        let mut values: Vec<&dyn rusqlite::ToSql> = vec![&below, &above, &limit];
        // ?4 and ?5 are bound only where the statement has them (rusqlite checks the count).
        if m.state.is_some() || m.pattern.is_some() {
            values.push(&m.state);
        }
        if m.pattern.is_some() {
            values.push(&m.pattern);
        }
        let rows = stmt.query_map(values.as_slice(), |r| r.get(0))?;
        rows.collect()
    }

    /// Ids of the messages sent from or to any of `addresses` (exactly), walking each address's
    /// index for at most `limit` ids and merging them.
    fn ids_by_address(
        &self,
        addresses: &[String],
        state: Option<&str>,
        below: i64,
        above: i64,
        upward: bool,
        limit: usize,
    ) -> rusqlite::Result<Vec<i64>> {
        let order = if upward { "ASC" } else { "DESC" };
        let in_state = |col: &str| match state {
            Some(_) => format!(" AND EXISTS (SELECT 1 FROM recipient s WHERE s.message = {col} AND s.state = ?5)"),
            None => String::new(),
        };
        let senders = format!(
            "SELECT m.id FROM message m INDEXED BY message_by_sender WHERE m.sender = ?4 AND m.id < ?1 AND m.id > ?2{} ORDER BY m.id {order} LIMIT ?3",
            in_state("m.id")
        );
        let recipients = format!(
            "SELECT DISTINCT r.message FROM recipient r INDEXED BY recipient_by_address
             WHERE r.address = ?4 AND r.message < ?1 AND r.message > ?2{} ORDER BY r.message {order} LIMIT ?3",
            in_state("r.message")
        );
        let mut ids = std::collections::BTreeSet::new();
        let limit_sql = limit as i64;
        for sql in [senders, recipients] {
            let mut stmt = self.conn().prepare_cached(&sql)?;
            for address in addresses {
                let mut values: Vec<&dyn rusqlite::ToSql> = vec![&below, &above, &limit_sql, address];
                if state.is_some() {
                    values.push(&state);
                }
                for id in stmt.query_map(values.as_slice(), |r| r.get::<_, i64>(0))? {
                    ids.insert(id?);
                }
            }
        }
        Ok(if upward { ids.into_iter().take(limit).collect() } else { ids.into_iter().rev().take(limit).collect() })
    }

    /// The counts, and what the window says about them in this sending mode.
    pub fn overview(&self, mode: Mode) -> Result<Overview, Error> {
        let counts = self.counts()?;
        let waiting = self
            .conn()
            // Two ranges of (state, message) merged in order: no temporary b-tree of ids.
            .query_row(
                "SELECT count(*) FROM (SELECT message FROM recipient WHERE state = 'queued'
                                       UNION SELECT message FROM recipient WHERE state = 'deferred' ORDER BY 1)",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(|e| self.storage(e))? as u64;
        Ok(Overview { counts, waiting, mode })
    }

    /// The whole message as queued.
    pub fn raw_message(&self, id: i64) -> Result<Vec<u8>, Error> {
        self.conn()
            .query_row("SELECT body FROM message WHERE id = ?1", [id], |r| r.get(0))
            .optional()
            .map_err(|e| self.storage(e))?
            .ok_or(Error::NotFound(id))
    }

    /// Holds the waiting recipients (queued, deferred) of these messages. Returns how many
    /// messages had a recipient held.
    /// Each recipient held gets a 'held' row in the mail log, in the same transaction.
    pub fn hold(&mut self, ids: &[i64]) -> Result<usize, Error> {
        let path = self.path().display().to_string();
        let storage = |e: rusqlite::Error| Error::Storage { path: path.clone(), message: e.to_string() };
        let now = now_millis();
        let tx = self.conn_mut().transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(storage)?;
        let mut changed = 0;
        {
            let mut message = tx.prepare("SELECT message_id, sender, size, profile FROM message WHERE id = ?1").map_err(storage)?;
            let mut found = Vec::with_capacity(ids.len());
            for &id in ids {
                let m: Option<(String, String, i64, Option<String>)> =
                    message.query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).optional().map_err(storage)?;
                found.push(m.ok_or(Error::NotFound(id))?);
            }
            // RETURNING names the recipients this call held, not those held before.
            let mut hold = tx
                .prepare(
                    "UPDATE recipient SET state = 'held', updated_at = ?2 WHERE message = ?1 AND state IN ('queued', 'deferred')
                     RETURNING address",
                )
                .map_err(storage)?;
            let mut log = tx.prepare_cached(crate::journal::mail_log::INSERT).map_err(storage)?;
            for (&id, (message_id, sender, size, profile)) in ids.iter().zip(found) {
                let held: Vec<String> = hold
                    .query_map(params_from_iter([id, now]), |r| r.get(0))
                    .map_err(storage)?
                    .collect::<Result<_, _>>()
                    .map_err(storage)?;
                changed += usize::from(!held.is_empty());
                for address in held {
                    log.execute(rusqlite::params![
                        now,
                        id,
                        message_id,
                        sender,
                        address,
                        size,
                        "queue",
                        None::<&str>,
                        "held",
                        HELD_BY_A_PERSON,
                        0,
                        profile
                    ])
                    .map_err(storage)?;
                }
            }
        }
        tx.commit().map_err(storage)?;
        Ok(changed)
    }

    /// Releases held recipients: queued again, to be tried at once.
    pub fn release(&mut self, ids: &[i64]) -> Result<usize, Error> {
        self.change(ids, "UPDATE recipient SET state = 'queued', next_try_at = NULL, updated_at = ?2 WHERE message = ?1 AND state = 'held'")
    }

    /// Deletes these messages and their recipients.
    pub fn delete(&mut self, ids: &[i64]) -> Result<usize, Error> {
        self.change(ids, "DELETE FROM message WHERE id = ?1 AND ?2 IS NOT NULL")
    }

    /// Deletes every message; returns how many.
    pub fn delete_all(&mut self) -> Result<usize, Error> {
        let path = self.path().display().to_string();
        let storage = |e: rusqlite::Error| Error::Storage { path: path.clone(), message: e.to_string() };
        let tx = self.conn_mut().transaction().map_err(storage)?;
        tx.execute("DELETE FROM recipient", []).map_err(storage)?;
        let n = tx.execute("DELETE FROM message", []).map_err(storage)?;
        tx.commit().map_err(storage)?;
        Ok(n)
    }

    fn change(&mut self, ids: &[i64], sql: &str) -> Result<usize, Error> {
        let path = self.path().display().to_string();
        let storage = |e: rusqlite::Error| Error::Storage { path: path.clone(), message: e.to_string() };
        let tx = self.conn_mut().transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(storage)?;
        for &id in ids {
            let exists = tx.query_row("SELECT 1 FROM message WHERE id = ?1", [id], |_| Ok(())).optional().map_err(storage)?;
            if exists.is_none() {
                return Err(Error::NotFound(id));
            }
        }
        let mut changed = 0;
        {
            let mut stmt = tx.prepare(sql).map_err(storage)?;
            for &id in ids {
                if stmt.execute(params_from_iter([id, now_millis()])).map_err(storage)? > 0 {
                    changed += 1;
                }
            }
        }
        tx.commit().map_err(storage)?;
        Ok(changed)
    }

    /// Recipients per state, and the number of messages.
    pub fn counts(&self) -> Result<Counts, Error> {
        let mut c = Counts {
            messages: self
                .conn()
                .query_row("SELECT count(*) FROM message", [], |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
                .map_err(|e| self.storage(e))?,
            ..Counts::default()
        };
        let mut stmt = self.conn().prepare_cached("SELECT state, count(*) FROM recipient GROUP BY state").map_err(|e| self.storage(e))?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))).map_err(|e| self.storage(e))?;
        for row in rows {
            let (state, n) = row.map_err(|e| self.storage(e))?;
            match State::parse(&state) {
                Some(State::Queued) => c.queued = n,
                Some(State::Sending) => c.sending = n,
                Some(State::Sent) => c.sent = n,
                Some(State::Deferred) => c.deferred = n,
                Some(State::Held) => c.held = n,
                Some(State::Failed) => c.failed = n,
                None => {}
            }
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::{Dsn, Submission};

    fn store_with(n: usize) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("q.sqlite3")).unwrap();
        let batch: Vec<Submission> = (1..=n)
            .map(|i| Submission {
                sender: format!("from{}@example.com", i % 3),
                recipients: vec![format!("to{i}@example.org"), "all@example.net".into()],
                body: format!("Subject: m{i}\r\n\r\nbody\r\n").into_bytes(),
                subject: format!("m{i}"),
                message_id: format!("<{i}@x>"),
                source: "test".into(),
                options: Dsn::default(),
                profile: "global".into(),
            })
            .collect();
        s.insert(&batch).unwrap();
        (dir, s)
    }

    fn ids(p: &Page) -> Vec<i64> {
        p.messages.iter().map(|m| m.id).collect()
    }

    #[test]
    fn pages_newest_first_both_ways() {
        let (_d, s) = store_with(7);
        let first = s.page(&PageQuery { limit: 3, ..PageQuery::default() }).unwrap();
        assert_eq!((ids(&first), first.older, first.newer, first.total), (vec![7, 6, 5], true, false, None));
        let second = s.page(&PageQuery { limit: 3, before: Some(5), ..PageQuery::default() }).unwrap();
        assert_eq!((ids(&second), second.older, second.newer), (vec![4, 3, 2], true, true));
        let last = s.page(&PageQuery { limit: 3, before: Some(2), ..PageQuery::default() }).unwrap();
        assert_eq!((ids(&last), last.older, last.newer), (vec![1], false, true));
        let back = s.page(&PageQuery { limit: 3, after: Some(4), ..PageQuery::default() }).unwrap();
        assert_eq!((ids(&back), back.older, back.newer), (vec![7, 6, 5], true, false));
        let back = s.page(&PageQuery { limit: 3, after: Some(1), ..PageQuery::default() }).unwrap();
        assert_eq!((ids(&back), back.older, back.newer), (vec![4, 3, 2], true, true));
    }

    #[test]
    fn filters_by_state_and_searches_addresses() {
        let (_d, mut s) = store_with(6);
        s.hold(&[2, 5]).unwrap();
        let held = s.page(&PageQuery { state: Some(State::Held), ..PageQuery::default() }).unwrap();
        assert_eq!((ids(&held), held.total), (vec![5, 2], Some(2)));
        assert!(held.messages.iter().all(|m| m.state == State::Held));
        // Case-insensitive, in a recipient or the sender; % and _ are plain text.
        let found = s.page(&PageQuery { search: Some("TO4@".into()), ..PageQuery::default() }).unwrap();
        assert_eq!((ids(&found), found.total), (vec![4], None));
        let senders = s.page(&PageQuery { search: Some("from1@".into()), ..PageQuery::default() }).unwrap();
        assert_eq!(ids(&senders), vec![4, 1]);
        assert!(s.page(&PageQuery { search: Some("to_".into()), ..PageQuery::default() }).unwrap().messages.is_empty());
        let both = s.page(&PageQuery { state: Some(State::Held), search: Some("from2".into()), ..PageQuery::default() }).unwrap();
        assert_eq!(ids(&both), vec![5, 2]);
        let both = s.page(&PageQuery { state: Some(State::Queued), search: Some("to5@".into()), ..PageQuery::default() }).unwrap();
        assert!(both.messages.is_empty(), "message 5 is held, none of its recipients queued");
        let paged = s.page(&PageQuery { search: Some("all@".into()), limit: 4, ..PageQuery::default() }).unwrap();
        assert_eq!((ids(&paged), paged.older), (vec![6, 5, 4, 3], true));
        let rest = s.page(&PageQuery { search: Some("all@".into()), limit: 4, before: Some(3), ..PageQuery::default() }).unwrap();
        assert_eq!((ids(&rest), rest.older, rest.newer), (vec![2, 1], false, true));
    }

    #[test]
    fn overview_counts_waiting_messages() {
        let (_d, mut s) = store_with(3);
        s.hold(&[1]).unwrap();
        let o = s.overview(Mode::Off).unwrap();
        assert_eq!((o.waiting, o.counts.messages, o.counts.queued, o.counts.held, o.mode), (2, 3, 4, 2, Mode::Off));
    }

    /// The queue screen's statements read indexes, never the message rows (which carry the
    /// bodies) nor a sort of every match.
    #[test]
    fn page_queries_use_indexes() {
        let (_d, s) = store_with(1);
        let cases = [(None, None), (Some("queued"), None), (None, Some("%x%")), (Some("held"), Some("%x%"))];
        for (state, pattern) in cases {
            for upward in [false, true] {
                let m = Matching { state, pattern };
                let sql = matching_sql(&m, upward);
                let mut stmt = s.conn().prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
                let values: [&dyn rusqlite::ToSql; 5] = [&9, &0, &1, &state, &pattern];
                let n = stmt.parameter_count();
                let plan: Vec<String> = stmt.query_map(&values[..n], |r| r.get::<_, String>(3)).unwrap().map(Result::unwrap).collect();
                let plan = plan.join(" | ");
                assert!(!plan.contains("TEMP B-TREE"), "{sql}: {plan}");
                assert!(!plan.contains("SCAN m ") && !plan.contains("SCAN message"), "{sql}: {plan}");
            }
        }
    }

    /// A search finds the same messages whichever way it runs: through the few matching distinct
    /// addresses (each walked by index), or, when many match, the merged scan; any case; with a
    /// state; both directions.
    #[test]
    fn search_by_distinct_addresses_matches_the_scan() {
        let (_d, mut s) = store_with(FEW_ADDRESSES + 20);
        s.hold(&[4, 5]).unwrap();
        let ids = |q: PageQuery| s.page(&q).unwrap().messages.iter().map(|m| m.id).collect::<Vec<_>>();
        let search = |text: &str| PageQuery { search: Some(text.into()), limit: 500, ..PageQuery::default() };
        // Few addresses: to7@ only (a recipient), from1@ (a sender), any case.
        assert_eq!(ids(search("TO7@")), [7]);
        let from1: Vec<i64> = (1..=(FEW_ADDRESSES as i64 + 20)).rev().filter(|i| i % 3 == 1).collect();
        assert_eq!(ids(search("from1@")), from1);
        assert_eq!(ids(PageQuery { state: Some(State::Held), ..search("from1@") }), [4]);
        assert_eq!(ids(PageQuery { limit: 2, before: Some(10), ..search("from1@") }), [7, 4]);
        assert_eq!(ids(PageQuery { limit: 2, after: Some(4), ..search("from1@") }), [10, 7]);
        assert!(ids(search("nobody@")).is_empty());
        // Many addresses match "to": the merged scan, same answer as walking every message.
        let all: Vec<i64> = (1..=(FEW_ADDRESSES as i64 + 20)).rev().collect();
        assert_eq!(ids(search("example")), all);
        assert_eq!(ids(PageQuery { limit: 3, ..search("to") }), all[..3]);
    }

    /// The search's statements read indexes: the distinct addresses, then each address's
    /// messages in order (no scan of every recipient or message, no sort).
    #[test]
    fn search_by_address_uses_indexes() {
        let (_d, s) = store_with(1);
        let plan = |sql: &str| -> String {
            let mut stmt = s.conn().prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let values: [&dyn rusqlite::ToSql; 5] = [&9, &0, &1, &"a@b", &"held"];
            let n = stmt.parameter_count();
            stmt.query_map(&values[..n], |r| r.get::<_, String>(3)).unwrap().map(Result::unwrap).collect::<Vec<_>>().join(" | ")
        };
        let p = plan("SELECT address FROM search_address WHERE address LIKE 'x' ESCAPE '\\' LIMIT 65");
        assert!(!p.contains("recipient") && !p.contains("message"), "{p}");
        for sql in [
            "SELECT m.id FROM message m INDEXED BY message_by_sender WHERE m.sender = ?4 AND m.id < ?1 AND m.id > ?2 ORDER BY m.id DESC LIMIT ?3",
            "SELECT DISTINCT r.message FROM recipient r INDEXED BY recipient_by_address
             WHERE r.address = ?4 AND r.message < ?1 AND r.message > ?2 ORDER BY r.message DESC LIMIT ?3",
        ] {
            let p = plan(sql);
            assert!(!p.contains("TEMP B-TREE") && !p.contains("SCAN"), "{sql}: {p}");
        }
    }
}
