//! Looking at and managing the queue: list (paged, filtered by state, searched by address),
//! show one message, hold / release / delete, and counts per state.
//!
//! Changes by id are all or nothing: if one id is unknown, nothing is changed.

use super::store::Store;
use super::{now_millis, Error, State};
use rusqlite::{params, params_from_iter, OptionalExtension};
use serde::Serialize;

/// Which messages a listing shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// Only messages with at least one recipient in this state.
    pub state: Option<State>,
    /// Only messages whose sender or a recipient contains this text (case-insensitive).
    pub search: Option<String>,
    pub limit: usize,
    pub offset: usize,
}

impl Default for Filter {
    fn default() -> Self {
        Filter { state: None, search: None, limit: 100, offset: 0 }
    }
}

/// One recipient of a queued message. Times are seconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecipientStatus {
    pub address: String,
    pub state: State,
    pub attempts: u32,
    pub last_reply: Option<String>,
    pub next_try_at: Option<i64>,
}

/// One message in a listing: the shape of each line of `queue list --json` (stable: fields are
/// only ever added).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    pub recipients: Vec<RecipientStatus>,
}

/// A message with its headers and the options kept with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
}

/// Recipients per state, and messages in all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub messages: u64,
    pub queued: u64,
    pub sending: u64,
    pub sent: u64,
    pub deferred: u64,
    pub held: u64,
    pub failed: u64,
}

/// The order in which a message's state is taken from its recipients' states.
const PRECEDENCE: [State; 6] = [State::Sending, State::Queued, State::Deferred, State::Held, State::Failed, State::Sent];

impl Store {
    /// A page of messages, oldest first.
    pub fn list(&self, filter: &Filter) -> Result<Vec<MessageSummary>, Error> {
        self.list_inner(filter, None).map_err(|e| self.storage(e))
    }

    fn list_inner(&self, f: &Filter, only: Option<i64>) -> rusqlite::Result<Vec<MessageSummary>> {
        let pattern = f.search.as_ref().map(|s| format!("%{}%", s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")));
        let mut stmt = self.conn().prepare_cached(
            "SELECT m.id, m.received_at, m.sender, m.size, m.subject, m.message_id FROM message m
             WHERE (?1 IS NULL OR EXISTS (SELECT 1 FROM recipient r WHERE r.message = m.id AND r.state = ?1))
               AND (?2 IS NULL OR m.sender LIKE ?2 ESCAPE '\\'
                    OR EXISTS (SELECT 1 FROM recipient r WHERE r.message = m.id AND r.address LIKE ?2 ESCAPE '\\'))
               AND (?5 IS NULL OR m.id = ?5)
             ORDER BY m.id LIMIT ?3 OFFSET ?4",
        )?;
        let rows = stmt.query_map(params![f.state.map(State::as_str), pattern, f.limit as i64, f.offset as i64, only], |r| {
            Ok(MessageSummary {
                id: r.get(0)?,
                state: State::Queued,
                received_at: r.get::<_, i64>(1)? / 1000,
                sender: r.get(2)?,
                size: r.get::<_, i64>(3)? as u64,
                subject: r.get(4)?,
                message_id: r.get(5)?,
                recipients: Vec::new(),
            })
        })?;
        let mut out = rows.collect::<rusqlite::Result<Vec<_>>>()?;
        for m in &mut out {
            m.recipients = self.recipients(m.id)?;
            m.state = PRECEDENCE.into_iter().find(|s| m.recipients.iter().any(|r| r.state == *s)).unwrap_or(State::Sent);
        }
        Ok(out)
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
        let summary = self.list_inner(&Filter::default(), Some(id)).map_err(|e| self.storage(e))?.pop().ok_or(Error::NotFound(id))?;
        let end = body.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 2).unwrap_or(body.len());
        let headers = String::from_utf8_lossy(&body[..end]).replace("\r\n", "\n");
        Ok(MessageDetail { summary, source, body_type, dsn_notify, dsn_ret, dsn_envid, headers })
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
    pub fn hold(&mut self, ids: &[i64]) -> Result<usize, Error> {
        self.change(ids, "UPDATE recipient SET state = 'held', updated_at = ?2 WHERE message = ?1 AND state IN ('queued', 'deferred')")
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
