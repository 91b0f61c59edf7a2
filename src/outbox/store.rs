//! The queue's SQLite database: its schema and migrations, how it is opened (WAL, `busy_timeout`,
//! `synchronous=FULL`), and the writes intake and delivery share.
//!
//! Durability: every commit is fsynced (`synchronous=FULL`, plus `fullfsync` where the OS has it,
//! i.e. macOS) before intake says "accepted". `NORMAL` would be ~35x faster here but can lose a
//! committed message on power loss; batching ([`super::Intake`]) wins the speed back instead.

use super::{now_millis, Error, State};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a writer waits for another process's transaction (another `sendmail`, the agent)
/// before giving up with a temporary failure.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The WAL size (pages) past which an intake process folds the WAL into the database and empties it.
///
/// Why: every `sendmail` is a new process and usually the queue's only connection, and SQLite's
/// first connection rebuilds the WAL index by reading and checksumming the whole WAL, which then
/// also forgets how much of it was already checkpointed. So SQLite's auto-checkpoint (1,000 pages)
/// never lets the WAL start over: past it, every commit checkpointed again (two more fsyncs) and
/// every open read 4 MB. Emptying the WAL (`wal_checkpoint(TRUNCATE)`) once it holds 128 pages
/// costs three more fsyncs about every 18th 4 KB message and keeps that read under 0.5 MB. The
/// agent keeps SQLite's default: it stays open, so it never pays the rebuild per message.
pub const INTAKE_WAL_PAGES: u64 = 128;
/// How long folding the WAL waits for readers (the agent) before leaving it for the next message.
const FOLD_WAIT: Duration = Duration::from_millis(200);

/// Each entry moves the schema from version `i` to `i + 1` (`PRAGMA user_version`). Append only.
const MIGRATIONS: &[&str] = &[
    r"
CREATE TABLE message (
    id          INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: a deleted id can't name a new message
    received_at INTEGER NOT NULL,                  -- ms since the Unix epoch
    sender      TEXT NOT NULL,                     -- envelope sender; '' is the null sender
    size        INTEGER NOT NULL,
    subject     TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    source      TEXT NOT NULL,                     -- 'sendmail', 'sendmail -bs', later 'listener'
    body_type   TEXT,                              -- -B / BODY=: 7BIT, 8BITMIME
    dsn_notify  TEXT,                              -- -N
    dsn_ret     TEXT,                              -- -R
    dsn_envid   TEXT,                              -- -V
    body        BLOB NOT NULL                      -- last, so listings never read it
);
CREATE TABLE recipient (
    message     INTEGER NOT NULL REFERENCES message(id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    address     TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'deferred', 'held', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_reply  TEXT,
    next_try_at INTEGER,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (message, position)
) WITHOUT ROWID;
CREATE INDEX recipient_by_state ON recipient(state, next_try_at);
CREATE INDEX recipient_by_address ON recipient(address);
CREATE TABLE flush_request (
    id           INTEGER PRIMARY KEY,
    requested_at INTEGER NOT NULL
);
",
    r"
-- Every delivery attempt, per recipient: what the mail log (issue 7) reads. No foreign key: the
-- log outlives a deleted message.
CREATE TABLE attempts (
    id          INTEGER PRIMARY KEY,
    message     INTEGER NOT NULL,
    recipient   TEXT NOT NULL,
    at          INTEGER NOT NULL,   -- ms since the Unix epoch, when the attempt ended
    server      TEXT NOT NULL,      -- host:port
    result      TEXT NOT NULL CHECK (result IN ('sent', 'deferred', 'failed')),
    reply       TEXT NOT NULL,      -- the server's reply, or why there was none
    duration_ms INTEGER NOT NULL
);
CREATE INDEX attempts_by_message ON attempts(message);
CREATE INDEX attempts_by_time ON attempts(at);
",
    r"
-- The queue screen (issue 8): a page of 100,000 messages in a few ms. Listings read this index
-- instead of the table, whose rows carry the message body (a 4 KB body puts each row on pages of
-- its own); a state filter walks (state, message) newest first instead of probing every message.
CREATE INDEX message_listing ON message(id, received_at, sender, size, subject, message_id);
CREATE INDEX recipient_by_state_message ON recipient(state, message);
",
    r"
-- Search by address (issue 8): every sender and recipient address seen, once each (kept by
-- triggers, so intake, bounces and anything later fill it in their own transaction). A search
-- matches the few distinct addresses first, then walks each one's messages newest first by index
-- (recipient_by_address, message_by_sender) instead of reading every recipient.
CREATE TABLE search_address (address TEXT PRIMARY KEY) WITHOUT ROWID;
INSERT OR IGNORE INTO search_address SELECT sender FROM message UNION SELECT address FROM recipient;
CREATE TRIGGER search_address_of_sender AFTER INSERT ON message
    BEGIN INSERT OR IGNORE INTO search_address (address) VALUES (NEW.sender); END;
CREATE TRIGGER search_address_of_recipient AFTER INSERT ON recipient
    BEGIN INSERT OR IGNORE INTO search_address (address) VALUES (NEW.address); END;
CREATE INDEX message_by_sender ON message(sender, id);
",
    r"
-- The mail log and the event log (issue 9, src/journal/). One mail-log row per recipient for each
-- thing that happened to it: taken in, tried (sent, deferred, bounced), refused at intake, held.
-- The row copies what the log shows (Message-ID, sender, size) so it outlives the message; no
-- body, ever. `attempts` (every delivery attempt) becomes part of it.
CREATE TABLE mail_log (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,   -- ms since the Unix epoch
    message     INTEGER,            -- the queue id; NULL when intake refused the mail (no message made)
    message_id  TEXT NOT NULL,
    sender      TEXT NOT NULL,      -- envelope sender; '' is the null sender
    recipient   TEXT NOT NULL,
    size        INTEGER NOT NULL,   -- bytes
    server      TEXT NOT NULL,      -- host:port tried; for received, refused and held: who (sendmail, listener, bounce, queue)
    tls         TEXT,               -- the TLS version of a delivery ('TLS 1.3'), NULL without TLS
    result      TEXT NOT NULL CHECK (result IN ('received', 'sent', 'deferred', 'bounced', 'refused', 'held')),
    reply       TEXT NOT NULL,      -- the server's reply, or why there was none
    duration_ms INTEGER NOT NULL
);
INSERT INTO mail_log (id, at, message, message_id, sender, recipient, size, server, tls, result, reply, duration_ms)
    SELECT a.id, a.at, a.message, coalesce(m.message_id, ''), coalesce(m.sender, ''), a.recipient, coalesce(m.size, 0),
           a.server, NULL, CASE a.result WHEN 'failed' THEN 'bounced' ELSE a.result END, a.reply, a.duration_ms
    FROM attempts a LEFT JOIN message m ON m.id = a.message;
DROP TABLE attempts;
CREATE INDEX mail_log_by_time ON mail_log(at);
CREATE INDEX mail_log_by_message ON mail_log(message);
CREATE INDEX mail_log_by_recipient ON mail_log(recipient COLLATE NOCASE, at);
CREATE INDEX mail_log_by_sender ON mail_log(sender COLLATE NOCASE, at);
CREATE TABLE events (
    id       INTEGER PRIMARY KEY,
    at       INTEGER NOT NULL,      -- ms since the Unix epoch
    severity TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'error')),
    category TEXT NOT NULL,         -- settings, validation, test_email, queue, agent, listener, app
    summary  TEXT NOT NULL,         -- one line, never a secret
    detail   TEXT                   -- JSON: the fields changed, a validation's report and transcript
);
CREATE INDEX events_by_time ON events(at);
",
    r"
-- Issue 9, after measuring 1M rows: a result filter with few or no matches (`log --result
-- refused`) walked the whole log; and what retention removed, so a report can say its range
-- reaches past the data kept (one row: the cutoff of the latest prune that removed anything).
CREATE INDEX mail_log_by_result ON mail_log(result, at);
CREATE TABLE pruned (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    before INTEGER NOT NULL            -- ms since the Unix epoch: rows older than this were deleted
);
",
    r"
-- Issue 9, reports at 1M rows in one day: what a report and the dashboard count, summed per
-- 15-minute bucket (`at - at % 900000`; every time zone's hours and midnights fall on one) by
-- triggers in the writer's own transaction, so a report reads a few rows per bucket instead of
-- every mail-log row (src/journal/report.rs reads them, and the raw rows for a range's unaligned
-- edges). Deletes (retention) subtract; the one partly pruned bucket's maximum delay is worked
-- out again by the prune (a maximum can't be subtracted).
--
-- The triggers' look-ups of a message's rows say `+result`: by the message's index (a few rows),
-- not by mail_log_by_result (every 'received' row), which SQLite picks without statistics.
--
-- `delay_ms` of a 'sent' row: from the message's 'received' row (the first) to this delivery,
-- fixed when the delivery is written (NULL when the message has no 'received' row).
ALTER TABLE mail_log ADD COLUMN delay_ms INTEGER;
UPDATE mail_log SET delay_ms = at - (SELECT min(r.at) FROM mail_log r WHERE r.message = mail_log.message AND +r.result = 'received')
    WHERE result = 'sent';
-- Rows and bytes per result; `messages`, `message_bytes`: messages taken in, each counted once
-- (at its first 'received' row, until its last one is deleted).
CREATE TABLE rollup_total (
    bucket        INTEGER NOT NULL,
    result        TEXT NOT NULL,
    n             INTEGER NOT NULL,
    bytes         INTEGER NOT NULL,
    messages      INTEGER NOT NULL,
    message_bytes INTEGER NOT NULL,
    PRIMARY KEY (bucket, result)
) WITHOUT ROWID;
-- Messages taken in per sender (top senders), counted as `messages` above.
CREATE TABLE rollup_sender (
    bucket   INTEGER NOT NULL,
    sender   TEXT NOT NULL,
    messages INTEGER NOT NULL,
    bytes    INTEGER NOT NULL,
    PRIMARY KEY (bucket, sender)
) WITHOUT ROWID;
-- Deliveries ('sent' rows) per recipient (top recipients).
CREATE TABLE rollup_recipient (
    bucket    INTEGER NOT NULL,
    recipient TEXT NOT NULL,
    n         INTEGER NOT NULL,
    bytes     INTEGER NOT NULL,
    PRIMARY KEY (bucket, recipient)
) WITHOUT ROWID;
-- Deliveries per server with their delays (`delayed`: how many have one).
CREATE TABLE rollup_server (
    bucket    INTEGER NOT NULL,
    server    TEXT NOT NULL,
    n         INTEGER NOT NULL,
    delayed   INTEGER NOT NULL,
    delay_sum INTEGER NOT NULL,
    delay_max INTEGER,
    PRIMARY KEY (bucket, server)
) WITHOUT ROWID;
INSERT INTO rollup_total (bucket, result, n, bytes, messages, message_bytes)
    SELECT at - at % 900000, result, count(*), sum(size), 0, 0 FROM mail_log GROUP BY 1, 2;
-- The first 'received' row of each message (a message's rows share their time).
CREATE TEMP TABLE first_received AS
    SELECT at - at % 900000 AS bucket, sender, size FROM mail_log
    WHERE id IN (SELECT min(id) FROM mail_log WHERE result = 'received' GROUP BY message);
UPDATE rollup_total SET (messages, message_bytes) =
    (SELECT count(*), coalesce(sum(size), 0) FROM first_received f WHERE f.bucket = rollup_total.bucket)
    WHERE result = 'received';
INSERT INTO rollup_sender (bucket, sender, messages, bytes) SELECT bucket, sender, count(*), sum(size) FROM first_received GROUP BY 1, 2;
DROP TABLE first_received;
INSERT INTO rollup_recipient (bucket, recipient, n, bytes)
    SELECT at - at % 900000, recipient, count(*), sum(size) FROM mail_log WHERE result = 'sent' GROUP BY 1, 2;
INSERT INTO rollup_server (bucket, server, n, delayed, delay_sum, delay_max)
    SELECT at - at % 900000, server, count(*), count(delay_ms), coalesce(sum(delay_ms), 0), max(delay_ms)
    FROM mail_log WHERE result = 'sent' GROUP BY 1, 2;

CREATE TRIGGER rollup_insert AFTER INSERT ON mail_log BEGIN
    INSERT INTO rollup_total (bucket, result, n, bytes, messages, message_bytes)
        VALUES (NEW.at - NEW.at % 900000, NEW.result, 1, NEW.size, 0, 0)
        ON CONFLICT (bucket, result) DO UPDATE SET n = n + 1, bytes = bytes + excluded.bytes;
END;
CREATE TRIGGER rollup_insert_message AFTER INSERT ON mail_log
    WHEN NEW.result = 'received'
     AND NOT EXISTS (SELECT 1 FROM mail_log WHERE message IS NEW.message AND +result = 'received' AND id <> NEW.id) BEGIN
    -- An upsert: the order triggers fire in is not defined, so the row may not be there yet.
    INSERT INTO rollup_total (bucket, result, n, bytes, messages, message_bytes)
        VALUES (NEW.at - NEW.at % 900000, 'received', 0, 0, 1, NEW.size)
        ON CONFLICT (bucket, result) DO UPDATE SET messages = messages + 1, message_bytes = message_bytes + excluded.message_bytes;
    INSERT INTO rollup_sender (bucket, sender, messages, bytes) VALUES (NEW.at - NEW.at % 900000, NEW.sender, 1, NEW.size)
        ON CONFLICT (bucket, sender) DO UPDATE SET messages = messages + 1, bytes = bytes + excluded.bytes;
END;
CREATE TRIGGER rollup_insert_sent AFTER INSERT ON mail_log WHEN NEW.result = 'sent' BEGIN
    UPDATE mail_log SET delay_ms = NEW.at - (SELECT min(at) FROM mail_log WHERE message = NEW.message AND +result = 'received')
        WHERE id = NEW.id;
    INSERT INTO rollup_recipient (bucket, recipient, n, bytes) VALUES (NEW.at - NEW.at % 900000, NEW.recipient, 1, NEW.size)
        ON CONFLICT (bucket, recipient) DO UPDATE SET n = n + 1, bytes = bytes + excluded.bytes;
    INSERT INTO rollup_server (bucket, server, n, delayed, delay_sum, delay_max)
        SELECT NEW.at - NEW.at % 900000, NEW.server, 1, delay_ms IS NOT NULL, coalesce(delay_ms, 0), delay_ms FROM mail_log WHERE id = NEW.id
        ON CONFLICT (bucket, server) DO UPDATE SET n = n + 1, delayed = delayed + excluded.delayed,
            delay_sum = delay_sum + excluded.delay_sum, delay_max = max(coalesce(delay_max, excluded.delay_max), coalesce(excluded.delay_max, delay_max));
END;
CREATE TRIGGER rollup_delete AFTER DELETE ON mail_log BEGIN
    UPDATE rollup_total SET n = n - 1, bytes = bytes - OLD.size WHERE bucket = OLD.at - OLD.at % 900000 AND result = OLD.result;
    DELETE FROM rollup_total WHERE bucket = OLD.at - OLD.at % 900000 AND result = OLD.result AND n = 0;
END;
CREATE TRIGGER rollup_delete_message AFTER DELETE ON mail_log
    WHEN OLD.result = 'received' AND NOT EXISTS (SELECT 1 FROM mail_log WHERE message IS OLD.message AND +result = 'received') BEGIN
    UPDATE rollup_total SET messages = messages - 1, message_bytes = message_bytes - OLD.size
        WHERE bucket = OLD.at - OLD.at % 900000 AND result = 'received';
    UPDATE rollup_sender SET messages = messages - 1, bytes = bytes - OLD.size WHERE bucket = OLD.at - OLD.at % 900000 AND sender = OLD.sender;
    DELETE FROM rollup_sender WHERE bucket = OLD.at - OLD.at % 900000 AND sender = OLD.sender AND messages = 0;
END;
CREATE TRIGGER rollup_delete_sent AFTER DELETE ON mail_log WHEN OLD.result = 'sent' BEGIN
    UPDATE rollup_recipient SET n = n - 1, bytes = bytes - OLD.size WHERE bucket = OLD.at - OLD.at % 900000 AND recipient = OLD.recipient;
    DELETE FROM rollup_recipient WHERE bucket = OLD.at - OLD.at % 900000 AND recipient = OLD.recipient AND n = 0;
    UPDATE rollup_server SET n = n - 1, delayed = delayed - (OLD.delay_ms IS NOT NULL), delay_sum = delay_sum - coalesce(OLD.delay_ms, 0)
        WHERE bucket = OLD.at - OLD.at % 900000 AND server = OLD.server;
    DELETE FROM rollup_server WHERE bucket = OLD.at - OLD.at % 900000 AND server = OLD.server AND n = 0;
END;
",
    r"
-- The event log by category (issue 9): `events --category`, and the dashboard's look-up of the
-- latest certificate seen, walk their own category newest first instead of every event.
CREATE INDEX events_by_category ON events(category, at);
",
    r"
-- Profiles (issue 10): the profile each message is sent with, and each mail-log row's. NULL: a
-- message queued before profiles existed, sent with the default profile of the day; a log row
-- written before. `recipient.profile` copies its message's, so a delivery pass claims one
-- profile's due mail by index (recipient_due) instead of walking every profile's. The listing
-- index carries the profile: a page must not read message rows (the column sits after the body).
ALTER TABLE message ADD COLUMN profile TEXT;
ALTER TABLE recipient ADD COLUMN profile TEXT;
DROP INDEX message_listing;
CREATE INDEX message_listing ON message(id, received_at, sender, size, subject, message_id, profile);
CREATE INDEX recipient_due ON recipient(state, profile, next_try_at);
ALTER TABLE mail_log ADD COLUMN profile TEXT;
CREATE INDEX mail_log_by_profile ON mail_log(profile, at);
",
];

/// Creates a database at schema `version` (older than the current), for tests of a migration.
#[cfg(test)]
pub(crate) fn create_at_version(path: &Path, version: usize) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    for (i, sql) in MIGRATIONS.iter().enumerate().take(version) {
        conn.execute_batch(sql)?;
        conn.pragma_update(None, "user_version", (i + 1) as i64)?;
    }
    Ok(conn)
}

/// DSN and body options a caller gave (`-B`, `-N`, `-R`, `-V`), kept for delivery.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dsn {
    pub body_type: Option<String>,
    pub notify: Option<String>,
    pub ret: Option<String>,
    pub envid: Option<String>,
}

/// A message accepted for the queue: what intake hands the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// The envelope sender; `""` is the null sender.
    pub sender: String,
    /// The envelope recipients, resolved and without repeats; never empty.
    pub recipients: Vec<String>,
    /// The normalised message (CRLF).
    pub body: Vec<u8>,
    pub subject: String,
    pub message_id: String,
    pub source: String,
    pub options: Dsn,
    /// The profile it is sent with, by canonical name (`global` for Global).
    pub profile: String,
}

/// Mail intake refused (never queued), for the mail log: one row per recipient named, or one
/// with recipient "" when none was.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Refusal {
    /// The envelope sender, as far as it was known.
    pub sender: String,
    pub recipients: Vec<String>,
    /// The Message-ID header, if the message was read that far.
    pub message_id: String,
    /// Bytes read (or announced with SIZE=); 0 when the message was not read.
    pub size: u64,
    /// Who refused: the intake source, as on received rows ("sendmail", "sendmail -bs", "smtp listener").
    pub server: String,
    /// The reply (or error) given to the client.
    pub reply: String,
    /// The profile the mail would have been sent with (canonical name).
    pub profile: String,
}

/// An open queue database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// Opened for intake: keep the WAL small ([`INTAKE_WAL_PAGES`]).
    intake: bool,
}

impl Store {
    /// Opens the queue at the usual place (`paths::outbox_file`).
    pub fn open_default() -> Result<Store, Error> {
        Store::open(&crate::paths::outbox_file())
    }

    /// Opens (creating if needed) the queue at `path`, bringing its schema up to date.
    pub fn open(path: &Path) -> Result<Store, Error> {
        let storage = |message: String| Error::Storage { path: path.display().to_string(), message };
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let wal = wal_path(path);
        let existed = path.exists() && wal.exists();
        create_private_dir(dir).map_err(|e| storage(e.to_string()))?;
        create_private_file(path).map_err(|e| storage(e.to_string()))?;
        let conn = Connection::open(path).map_err(|e| storage(e.to_string()))?;
        let store = Store { conn, path: path.to_path_buf(), intake: false };
        store.configure().map_err(|e| store.storage(e))?;
        store.migrate().map_err(|e| store.storage(e))?;
        if !existed {
            // SQLite is built without its per-connection directory fsync (.cargo/config.toml), which
            // would cost every `sendmail` a second fsync; so the entries of a newly made database
            // or WAL are made durable here, once, before anything is committed to them.
            sync_dir(dir).map_err(|e| storage(e.to_string()))?;
        }
        Ok(store)
    }

    /// Opens the queue for taking in mail (`sendmail`, `sendmail -bs`, the listener): as
    /// [`Store::open`], and each [`Store::insert`] keeps the WAL small ([`INTAKE_WAL_PAGES`]) so
    /// the next short-lived process opens the queue fast.
    pub fn open_for_intake(path: &Path) -> Result<Store, Error> {
        let mut store = Store::open(path)?;
        store.conn.pragma_update(None, "wal_autocheckpoint", 0).map_err(|e| store.storage(e))?;
        store.intake = true;
        Ok(store)
    }

    /// Opens the queue for a delivery agent: messages a crashed agent left `sending` go back to
    /// `queued` first. Returns how many recipients were put back.
    ///
    /// Only one agent may run at a time (the delivery step adds that lock); call this after taking it.
    pub fn open_for_delivery(path: &Path) -> Result<(Store, usize), Error> {
        let store = Store::open(path)?;
        let n = store.requeue_interrupted()?;
        Ok((store, n))
    }

    /// Puts every recipient left `sending` back to `queued`, keeping its attempt count.
    pub fn requeue_interrupted(&self) -> Result<usize, Error> {
        self.conn
            .execute("UPDATE recipient SET state = 'queued', updated_at = ?1 WHERE state = 'sending'", [now_millis()])
            .map_err(|e| self.storage(e))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    pub(crate) fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    pub(crate) fn storage(&self, e: rusqlite::Error) -> Error {
        Error::Storage { path: self.path.display().to_string(), message: e.to_string() }
    }

    fn configure(&self) -> rusqlite::Result<()> {
        self.conn.busy_timeout(BUSY_TIMEOUT)?;
        // Each `sendmail` is a short-lived process and usually the only connection: by default its
        // close would checkpoint the WAL into the database and delete it (two more fsyncs and a
        // new WAL file per message). The WAL stays instead; intake folds it in once it holds
        // INTAKE_WAL_PAGES, the agent at SQLite's auto-checkpoint (1,000 pages).
        self.conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
        // journal_mode answers with a row; the others are silent.
        let _: String = self.conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        self.conn
            .execute_batch("PRAGMA synchronous = FULL; PRAGMA fullfsync = ON; PRAGMA checkpoint_fullfsync = ON; PRAGMA foreign_keys = ON;")
    }

    fn migrate(&self) -> rusqlite::Result<()> {
        let version = |c: &Connection| c.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)).map(|v| v as usize);
        if version(&self.conn)? >= MIGRATIONS.len() {
            return Ok(());
        }
        // IMMEDIATE takes the write lock first, so two processes creating the queue at once
        // don't both run the same migration.
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let from = version(&tx)?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(from) {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        }
        tx.commit()
    }

    /// Commits a batch of messages in one transaction (one fsync) and returns their ids in order.
    /// All or nothing: on error nothing of the batch is stored.
    pub fn insert(&mut self, batch: &[Submission]) -> Result<Vec<i64>, Error> {
        let ids = self.insert_inner(batch).map_err(|e| self.storage(e))?;
        if self.intake {
            self.fold_wal_if_large();
        }
        Ok(ids)
    }

    /// Checkpoints the WAL into the database and truncates it, if it holds more than
    /// [`INTAKE_WAL_PAGES`] pages. Runs after a commit: the batch is durable already, so a failure
    /// or a busy reader only leaves the WAL for the next time.
    fn fold_wal_if_large(&self) {
        const FRAME: u64 = 4096 + 24; // the default page size, plus the frame header
        let size = std::fs::metadata(wal_path(&self.path)).map(|m| m.len()).unwrap_or(0);
        if size <= INTAKE_WAL_PAGES * FRAME {
            return;
        }
        let _ = self.conn.busy_timeout(FOLD_WAIT);
        let folded = self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get::<_, i64>(0));
        let _ = self.conn.busy_timeout(BUSY_TIMEOUT);
        match folded {
            Ok(0) => {}
            Ok(_) => tracing::debug!("outbox WAL not folded: a reader is busy; the next message tries again"),
            Err(e) => tracing::debug!("outbox WAL not folded: {e}"),
        }
    }

    fn insert_inner(&mut self, batch: &[Submission]) -> rusqlite::Result<Vec<i64>> {
        let now = now_millis();
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut ids = Vec::with_capacity(batch.len());
        {
            let mut message = tx.prepare_cached(
                "INSERT INTO message (received_at, sender, size, subject, message_id, source, body_type, dsn_notify, dsn_ret, dsn_envid, body, profile)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?;
            let mut recipient = tx.prepare_cached(
                "INSERT INTO recipient (message, position, address, state, updated_at, profile) VALUES (?1, ?2, ?3, 'queued', ?4, ?5)",
            )?;
            let mut log = tx.prepare_cached(crate::journal::mail_log::INSERT)?;
            for s in batch {
                let o = &s.options;
                message.execute(params![
                    now,
                    s.sender,
                    s.body.len() as i64,
                    s.subject,
                    s.message_id,
                    s.source,
                    o.body_type,
                    o.notify,
                    o.ret,
                    o.envid,
                    s.body,
                    s.profile
                ])?;
                let id = tx.last_insert_rowid();
                for (i, r) in s.recipients.iter().enumerate() {
                    recipient.execute(params![id, i as i64, r, now, s.profile])?;
                    log.execute(params![
                        now,
                        id,
                        s.message_id,
                        s.sender,
                        r,
                        s.body.len() as i64,
                        s.source,
                        None::<&str>,
                        "received",
                        "",
                        0,
                        s.profile
                    ])?;
                }
                ids.push(id);
            }
        }
        tx.commit()?;
        Ok(ids)
    }

    /// Writes 'refused' rows to the mail log for mail intake turned away, in one transaction.
    pub fn record_refusals(&mut self, refusals: &[Refusal]) -> Result<(), Error> {
        let now = now_millis();
        let path = self.path.display().to_string();
        let storage = |e: rusqlite::Error| Error::Storage { path: path.clone(), message: e.to_string() };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(storage)?;
        {
            let mut log = tx.prepare_cached(crate::journal::mail_log::INSERT).map_err(storage)?;
            for r in refusals {
                let none = [String::new()];
                let recipients = if r.recipients.is_empty() { &none[..] } else { &r.recipients[..] };
                for to in recipients {
                    let size = i64::try_from(r.size).unwrap_or(i64::MAX);
                    log.execute(params![
                        now,
                        None::<i64>,
                        r.message_id,
                        r.sender,
                        to,
                        size,
                        r.server,
                        None::<&str>,
                        "refused",
                        r.reply,
                        0,
                        r.profile
                    ])
                    .map_err(storage)?;
                }
            }
        }
        tx.commit().map_err(storage)
    }

    /// Notes that someone asked for the queue to be flushed (`sendmail -q`, `queue flush`), for
    /// the delivery agent to act on.
    pub fn record_flush_request(&self) -> Result<(), Error> {
        self.conn.execute("INSERT INTO flush_request (requested_at) VALUES (?1)", [now_millis()]).map(|_| ()).map_err(|e| self.storage(e))
    }

    /// The latest flush request, if any (ms since the epoch).
    pub fn last_flush_request(&self) -> Result<Option<i64>, Error> {
        self.conn
            .query_row("SELECT max(requested_at) FROM flush_request", [], |r| r.get::<_, Option<i64>>(0))
            .optional()
            .map(Option::flatten)
            .map_err(|e| self.storage(e))
    }

    /// Sets the state of recipients of `message` (delivery and tests use this).
    pub fn set_recipient_state(&self, message: i64, address: &str, state: State, reply: Option<&str>) -> Result<usize, Error> {
        self.conn
            .execute(
                "UPDATE recipient SET state = ?3, last_reply = coalesce(?4, last_reply), updated_at = ?5 WHERE message = ?1 AND address = ?2",
                params![message, address, state.as_str(), reply, now_millis()],
            )
            .map_err(|e| self.storage(e))
    }
}

/// The queue holds other people's mail: only its owner may read it. A directory made here is
/// made durable in its parent too.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)?;
    match dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(parent) => sync_dir(parent),
        None => Ok(()),
    }
}

/// Flushes a directory's entries (new files in it) to disk. Windows has no such call: its
/// file system journals them.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

fn wal_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

/// Creates the database file readable by its owner only; SQLite gives the -wal and -shm files the same mode.
fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut o = std::fs::OpenOptions::new();
    o.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(n: usize) -> Submission {
        Submission {
            sender: "a@example.com".into(),
            recipients: (0..n).map(|i| format!("r{i}@example.com")).collect(),
            body: b"Subject: x\r\n\r\nbody\r\n".to_vec(),
            subject: "x".into(),
            message_id: "<1@example.com>".into(),
            source: "test".into(),
            options: Dsn::default(),
            profile: "global".into(),
        }
    }

    #[test]
    fn opens_with_wal_full_sync_and_current_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/outbox.sqlite3");
        let s = Store::open(&path).unwrap();
        let mode: String = s.conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        let sync: i64 = s.conn.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
        let version = s.conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)).unwrap() as usize;
        assert_eq!((mode.as_str(), sync, version), ("wal", 2, MIGRATIONS.len()));
        assert!(wal_path(&path).exists(), "the WAL is made (and its directory synced) when the queue is opened");
        drop(s);
        Store::open(&path).expect("reopening an up-to-date queue");
    }

    /// Every short-lived intake process reads the whole WAL when it opens the queue: it must stay small.
    #[test]
    fn intake_keeps_the_wal_small() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.sqlite3");
        for _ in 0..300 {
            let mut s = Store::open_for_intake(&path).unwrap();
            let mut m = sub(1);
            m.body = vec![b'x'; 4096];
            s.insert(&[m]).unwrap();
        }
        let frames = std::fs::metadata(wal_path(&path)).unwrap().len() / (4096 + 24);
        assert!(frames < 2 * INTAKE_WAL_PAGES, "the WAL holds {frames} pages");
    }

    #[test]
    fn interrupted_sending_goes_back_to_queued() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.sqlite3");
        let mut s = Store::open(&path).unwrap();
        let id = s.insert(&[sub(2)]).unwrap()[0];
        s.set_recipient_state(id, "r0@example.com", State::Sending, None).unwrap();
        s.set_recipient_state(id, "r1@example.com", State::Sent, Some("250 ok")).unwrap();
        drop(s);
        let (s, n) = Store::open_for_delivery(&path).unwrap();
        assert_eq!(n, 1);
        let states: Vec<String> = s
            .conn
            .prepare("SELECT state FROM recipient ORDER BY position")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(states, ["queued", "sent"]);
    }

    /// Migration 4 fills the search's distinct addresses from what is queued already, and the
    /// triggers keep them from then on.
    #[test]
    fn search_addresses_are_filled_from_an_older_queue_and_kept_at_intake() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.sqlite3");
        {
            let conn = Connection::open(&path).unwrap();
            for (i, sql) in MIGRATIONS.iter().enumerate().take(3) {
                conn.execute_batch(sql).unwrap();
                conn.pragma_update(None, "user_version", (i + 1) as i64).unwrap();
            }
            conn.execute_batch(
                "INSERT INTO message (received_at, sender, size, subject, message_id, source, body) VALUES (1, 'old@a', 1, '', '', 't', x'00');
                 INSERT INTO recipient (message, position, address, state, updated_at) VALUES (1, 0, 'Old@B', 'queued', 1);",
            )
            .unwrap();
        }
        let mut s = Store::open(&path).unwrap();
        s.insert(&[sub(2)]).unwrap();
        let mut stmt = s.conn().prepare("SELECT address FROM search_address ORDER BY address").unwrap();
        let got: Vec<String> = stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
        assert_eq!(got, ["Old@B", "a@example.com", "old@a", "r0@example.com", "r1@example.com"]);
    }

    /// Migration 5 turns the old `attempts` into mail-log rows: 'failed' becomes 'bounced', and
    /// the Message-ID, sender and size are copied from the message (empty when it is gone).
    #[test]
    fn attempts_of_an_older_queue_become_mail_log_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.sqlite3");
        {
            let conn = Connection::open(&path).unwrap();
            for (i, sql) in MIGRATIONS.iter().enumerate().take(4) {
                conn.execute_batch(sql).unwrap();
                conn.pragma_update(None, "user_version", (i + 1) as i64).unwrap();
            }
            conn.execute_batch(
                "INSERT INTO message (received_at, sender, size, subject, message_id, source, body) VALUES (1, 'app@a', 1234, '', '<m1@a>', 't', x'00');
                 INSERT INTO attempts (message, recipient, at, server, result, reply, duration_ms) VALUES
                    (1, 'x@b', 10, 'relay:587', 'deferred', '451 later', 5),
                    (1, 'x@b', 20, 'relay:587', 'failed', '550 no such user', 6),
                    (1, 'y@b', 20, 'relay:587', 'sent', '250 ok', 7),
                    (9, 'z@b', 30, 'relay:587', 'sent', '250 ok', 8);",
            )
            .unwrap();
        }
        let s = Store::open(&path).unwrap();
        type Row = (i64, Option<i64>, String, String, String, i64, String, String, Option<String>, i64);
        let rows: Vec<Row> = s
            .conn()
            .prepare("SELECT at, message, message_id, sender, recipient, size, result, reply, tls, duration_ms FROM mail_log ORDER BY id")
            .unwrap()
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let row = |at, m, mid: &str, from: &str, to: &str, size, result: &str, reply: &str, ms| {
            (at, Some(m), mid.to_string(), from.to_string(), to.to_string(), size, result.to_string(), reply.to_string(), None, ms)
        };
        assert_eq!(
            rows,
            [
                row(10, 1, "<m1@a>", "app@a", "x@b", 1234, "deferred", "451 later", 5),
                row(20, 1, "<m1@a>", "app@a", "x@b", 1234, "bounced", "550 no such user", 6),
                row(20, 1, "<m1@a>", "app@a", "y@b", 1234, "sent", "250 ok", 7),
                row(30, 9, "", "", "z@b", 0, "sent", "250 ok", 8),
            ]
        );
        let attempts: i64 = s.conn().query_row("SELECT count(*) FROM sqlite_master WHERE name = 'attempts'", [], |r| r.get(0)).unwrap();
        assert_eq!(attempts, 0, "the attempts table is gone");
    }

    /// Migration 9: mail queued before profiles keeps no profile (sent with the default one) and
    /// is claimed apart from a named profile's; each profile's mail is claimed only by its pass.
    #[test]
    fn older_mail_has_no_profile_and_each_profile_is_claimed_apart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.sqlite3");
        {
            let conn = create_at_version(&path, 8).unwrap();
            conn.execute_batch(
                "INSERT INTO message (received_at, sender, size, subject, message_id, source, body) VALUES (1, 'old@a', 1, '', '<old@a>', 't', x'00');
                 INSERT INTO recipient (message, position, address, state, updated_at) VALUES (1, 0, 'x@b', 'queued', 1);",
            )
            .unwrap();
        }
        let mut s = Store::open(&path).unwrap();
        let mut alerts = sub(1);
        alerts.profile = "alerts".into();
        let id = s.insert(&[alerts]).unwrap()[0];
        assert_eq!(s.waiting_profiles().unwrap(), [None, Some("alerts".to_string())]);
        assert_eq!(s.show(1).unwrap().summary.profile, None);
        assert_eq!(s.show(id).unwrap().summary.profile.as_deref(), Some("alerts"));
        let old = s.claim(10, None).unwrap();
        assert_eq!(old.iter().map(|j| j.id).collect::<Vec<_>>(), [1], "only the mail queued before profiles");
        assert!(s.claim(10, Some("global")).unwrap().is_empty());
        let named = s.claim(10, Some("alerts")).unwrap();
        assert_eq!((named.len(), named[0].profile.as_deref()), (1, Some("alerts")));
        let logged: Vec<Option<String>> = s
            .conn()
            .prepare("SELECT profile FROM mail_log ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(logged, [Some("alerts".to_string())], "the intake row names the profile");

        s.unclaim_all(&named).unwrap();
        assert_eq!(s.rename_profile("alerts", "pager").unwrap(), 1);
        assert_eq!(s.waiting_profiles().unwrap(), [Some("pager".to_string())]);
        assert_eq!(s.claim(10, Some("pager")).unwrap().len(), 1, "the renamed profile's pass takes its mail");
    }
}
