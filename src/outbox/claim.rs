//! The store's side of delivery: claiming due recipients (each claim one short transaction, never
//! held across a network wait), recording each attempt's outcome, and `queue retry`.

use super::store::{Dsn, Store};
use super::{bounce, retry};
use super::{now_millis, Error};
use rusqlite::{params, OptionalExtension, TransactionBehavior};

/// Due: queued, or deferred whose next try has come.
const DUE: &str = "(state = 'queued' OR (state = 'deferred' AND next_try_at <= ?1))";

/// A message claimed for delivery, with the recipients claimed (now `sending`).
#[derive(Debug, Clone)]
pub struct Job {
    pub id: i64,
    pub sender: String,
    /// The Message-ID header, for the mail log.
    pub message_id: String,
    pub body: Vec<u8>,
    pub received_at: i64,
    pub eight_bit: bool,
    /// The caller's DSN requests (`-N`, `-R`, `-V`), sent on when the server offers DSN.
    pub dsn: Dsn,
    /// A bounce SMTP Desk wrote itself: never bounced in turn.
    pub is_bounce: bool,
    /// (position, address) of each claimed recipient.
    pub recipients: Vec<(i64, String)>,
    /// The profile it was queued for; `None` for mail queued before profiles (the default's).
    pub profile: Option<String>,
}

/// What one attempt did for one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    Deferred,
    Failed,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Sent => "sent",
            Outcome::Deferred => "deferred",
            Outcome::Failed => "failed",
        }
    }
}

/// One recipient's result, for [`Store::record`].
#[derive(Debug, Clone)]
pub struct RecipientResult {
    pub position: i64,
    pub address: String,
    pub outcome: Outcome,
    pub reply: String,
}

/// One attempt at one claimed message, to be recorded.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub job: Job,
    /// When the attempt started (ms since the epoch).
    pub started: i64,
    pub results: Vec<RecipientResult>,
    /// The TLS version of the connection ("TLS 1.3"), `None` without TLS (or no connection): the
    /// mail log shows it.
    pub tls: Option<String>,
    /// Where this attempt went when it is not the drain's one server (direct delivery: the MX
    /// host that took it): the mail log's server column.
    pub server: Option<String>,
}

/// How the store applied a batch of results (a deferral past the maximum age becomes a failure).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub sent: usize,
    pub deferred: usize,
    pub failed: usize,
    /// Bounces queued for the failures.
    pub bounces: usize,
}

impl Tally {
    pub fn add(&mut self, o: &Tally) {
        self.sent += o.sent;
        self.deferred += o.deferred;
        self.failed += o.failed;
        self.bounces += o.bounces;
    }
}

/// What recording needs besides the results: where the attempts went, when to give up, and
/// whether (and how many) bounces to write.
pub struct Recording<'a> {
    /// `host:port`, as recorded with each attempt.
    pub server: &'a str,
    /// The profile the attempts used (canonical name): on each mail-log row, and the bounces'.
    pub profile: &'a str,
    pub max_age_ms: i64,
    pub bounces: Option<&'a mut bounce::Budget>,
}

impl Store {
    /// Claims up to `max` messages of `profile` (as queued: `None` is mail queued before profiles)
    /// with due recipients, marking those recipients `sending`, in one short transaction: queued
    /// ones first, then deferred ones whose time has come.
    ///
    /// Both walks follow `recipient_due` (state, profile, next_try_at, then the key), so a claim
    /// reads only the rows it takes: no sort of the whole queue per claim, which made a long drain
    /// quadratic, and no walk past other profiles' mail.
    pub fn claim(&mut self, max: usize, profile: Option<&str>) -> Result<Vec<Job>, Error> {
        let now = now_millis();
        let path = self.path().display().to_string();
        let storage = |e: rusqlite::Error| Error::Storage { path: path.clone(), message: e.to_string() };
        let tx = self.conn_mut().transaction_with_behavior(TransactionBehavior::Immediate).map_err(storage)?;
        let mut jobs = Vec::new();
        {
            let mut ids: Vec<i64> = Vec::with_capacity(max);
            for sql in [
                "SELECT message FROM recipient INDEXED BY recipient_due WHERE state = 'queued' AND profile IS ?1 ORDER BY next_try_at, message",
                "SELECT message FROM recipient INDEXED BY recipient_due
                 WHERE state = 'deferred' AND profile IS ?1 AND next_try_at <= ?2 ORDER BY next_try_at, message",
            ] {
                if ids.len() >= max {
                    break;
                }
                let mut stmt = tx.prepare_cached(sql).map_err(storage)?;
                let mut rows =
                    if sql.contains("?2") { stmt.query(params![profile, now]) } else { stmt.query(params![profile]) }.map_err(storage)?;
                while let Some(row) = rows.next().map_err(storage)? {
                    let id: i64 = row.get(0).map_err(storage)?;
                    if !ids.contains(&id) {
                        ids.push(id);
                        if ids.len() >= max {
                            break;
                        }
                    }
                }
            }
            let mut rcpts = tx
                .prepare_cached(&format!("SELECT position, address FROM recipient WHERE message = ?2 AND {DUE} ORDER BY position"))
                .map_err(storage)?;
            let mut mark = tx
                .prepare_cached(&format!("UPDATE recipient SET state = 'sending', updated_at = ?1 WHERE message = ?2 AND {DUE}"))
                .map_err(storage)?;
            let mut message = tx
                .prepare_cached(
                    "SELECT sender, body, received_at, body_type, dsn_notify, dsn_ret, dsn_envid, source, message_id, profile FROM message WHERE id = ?1",
                )
                .map_err(storage)?;
            for id in ids {
                let recipients: Vec<(i64, String)> = rcpts
                    .query_map(params![now, id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(storage)?
                    .collect::<rusqlite::Result<_>>()
                    .map_err(storage)?;
                if recipients.is_empty() {
                    continue;
                }
                mark.execute(params![now, id]).map_err(storage)?;
                let job = message
                    .query_row([id], |r| {
                        let body: Vec<u8> = r.get(1)?;
                        let body_type: Option<String> = r.get(3)?;
                        let eight_bit = body_type.as_deref().is_some_and(|b| b.eq_ignore_ascii_case("8BITMIME")) || !body.is_ascii();
                        Ok(Job {
                            id,
                            sender: r.get(0)?,
                            message_id: r.get(8)?,
                            body,
                            received_at: r.get(2)?,
                            eight_bit,
                            dsn: Dsn { body_type, notify: r.get(4)?, ret: r.get(5)?, envid: r.get(6)? },
                            is_bounce: r.get::<_, String>(7)? == bounce::SOURCE,
                            recipients: Vec::new(),
                            profile: r.get(9)?,
                        })
                    })
                    .map_err(storage)?;
                jobs.push(Job { recipients, ..job });
            }
        }
        tx.commit().map_err(storage)?;
        Ok(jobs)
    }

    /// Records one attempt; see [`Store::record_all`].
    pub fn record(&mut self, attempt: &Attempt, how: Recording<'_>) -> Result<Tally, Error> {
        Ok(self.record_all(std::slice::from_ref(attempt), how)?.pop().unwrap_or_default())
    }

    /// Records attempts in one transaction (delivery batches the results of several messages
    /// into one commit): each recipient's new state, attempt count, reply and next try, and a row
    /// in the mail log each. A deferral of a message older than `max_age_ms` fails it. A failure
    /// queues a bounce to the sender when `how.bounces` allows ([`bounce`]).
    pub fn record_all(&mut self, attempts: &[Attempt], mut how: Recording<'_>) -> Result<Vec<Tally>, Error> {
        let now = now_millis();
        let path = self.path().display().to_string();
        let storage = |e: rusqlite::Error| Error::Storage { path: path.clone(), message: e.to_string() };
        let tx = self.conn_mut().transaction_with_behavior(TransactionBehavior::Immediate).map_err(storage)?;
        let mut tallies = Vec::with_capacity(attempts.len());
        {
            let mut attempts_of =
                tx.prepare_cached("SELECT attempts FROM recipient WHERE message = ?1 AND position = ?2").map_err(storage)?;
            let mut update = tx
                .prepare_cached(
                    "UPDATE recipient SET state = ?3, attempts = attempts + 1, last_reply = ?4, next_try_at = ?5, updated_at = ?6
                     WHERE message = ?1 AND position = ?2",
                )
                .map_err(storage)?;
            let mut log = tx.prepare_cached(crate::journal::mail_log::INSERT).map_err(storage)?;
            // Failures per message (its first attempt here, its failures): a message whose
            // recipients failed in several attempts (direct delivery's domains) gets one bounce.
            let mut failures: Vec<(usize, Vec<bounce::Failure>)> = Vec::new();
            for (index, Attempt { job, started, results, tls, server }) in attempts.iter().enumerate() {
                let server = server.as_deref().unwrap_or(how.server);
                let mut tally = Tally::default();
                let mut failed = Vec::new();
                for r in results {
                    let (mut outcome, mut reply, mut next) = (r.outcome, r.reply.clone(), None);
                    let mut expired = false;
                    if outcome == Outcome::Deferred {
                        if now - job.received_at >= how.max_age_ms {
                            outcome = Outcome::Failed;
                            expired = true;
                            reply = format!("gave up after {} hours in the queue; last: {reply}", how.max_age_ms / 3_600_000);
                        } else {
                            let attempts: Option<i64> =
                                attempts_of.query_row(params![job.id, r.position], |row| row.get(0)).optional().map_err(storage)?;
                            let wait = retry::next_wait(attempts.unwrap_or(0) as u32 + 1);
                            next = Some(now + wait.as_millis() as i64);
                        }
                    }
                    match outcome {
                        Outcome::Sent => tally.sent += 1,
                        Outcome::Deferred => tally.deferred += 1,
                        Outcome::Failed => tally.failed += 1,
                    }
                    update.execute(params![job.id, r.position, outcome.as_str(), reply, next, now]).map_err(storage)?;
                    let result = match outcome {
                        Outcome::Sent => "sent",
                        Outcome::Deferred => "deferred",
                        Outcome::Failed => "bounced",
                    };
                    let size = job.body.len() as i64;
                    log.execute(params![
                        now,
                        job.id,
                        job.message_id,
                        job.sender,
                        r.address,
                        size,
                        server,
                        tls,
                        result,
                        reply,
                        (now - started).max(0),
                        how.profile
                    ])
                    .map_err(storage)?;
                    if outcome == Outcome::Failed {
                        let remote = (server != super::direct::NO_HOST).then(|| server.to_string());
                        failed.push(bounce::Failure { recipient: r.address.clone(), reply, expired, remote });
                    }
                }
                if !failed.is_empty() {
                    match failures.iter_mut().find(|(first, _)| attempts[*first].job.id == job.id) {
                        Some((_, all)) => all.extend(failed),
                        None => failures.push((index, failed)),
                    }
                }
                tallies.push(tally);
            }
            if let Some(budget) = how.bounces.as_deref_mut() {
                for (first, failed) in failures {
                    tallies[first].bounces +=
                        bounce::queue(&tx, &attempts[first].job, &failed, how.profile, now, budget).map_err(storage)?;
                }
            }
        }
        tx.commit().map_err(storage)?;
        Ok(tallies)
    }

    /// Puts claimed recipients that were never tried back to where they were due (no attempt
    /// counted), in one transaction.
    pub fn unclaim_all(&mut self, jobs: &[Job]) -> Result<(), Error> {
        if jobs.is_empty() {
            return Ok(());
        }
        let now = now_millis();
        let path = self.path().display().to_string();
        let storage = |e: rusqlite::Error| Error::Storage { path: path.clone(), message: e.to_string() };
        let tx = self.conn_mut().transaction_with_behavior(TransactionBehavior::Immediate).map_err(storage)?;
        {
            let mut put_back = tx
                .prepare_cached(
                    "UPDATE recipient SET state = CASE WHEN next_try_at IS NULL THEN 'queued' ELSE 'deferred' END, updated_at = ?3
                     WHERE message = ?1 AND position = ?2 AND state = 'sending'",
                )
                .map_err(storage)?;
            for job in jobs {
                for (position, _) in &job.recipients {
                    put_back.execute(params![job.id, position, now]).map_err(storage)?;
                }
            }
        }
        tx.commit().map_err(storage)
    }

    /// Makes the deferred recipients of these messages due now (`queue retry`). Returns how many
    /// messages had a recipient made due.
    pub fn retry_now(&mut self, ids: &[i64]) -> Result<usize, Error> {
        let mut changed = 0;
        for &id in ids {
            let exists =
                self.conn().query_row("SELECT 1 FROM message WHERE id = ?1", [id], |_| Ok(())).optional().map_err(|e| self.storage(e))?;
            if exists.is_none() {
                return Err(Error::NotFound(id));
            }
            let n = self
                .conn()
                .execute(
                    "UPDATE recipient SET next_try_at = ?2, updated_at = ?2 WHERE message = ?1 AND state = 'deferred'",
                    params![id, now_millis()],
                )
                .map_err(|e| self.storage(e))?;
            changed += usize::from(n > 0);
        }
        Ok(changed)
    }

    /// Makes every deferred recipient due now (`queue flush`, `sendmail -q`).
    pub fn retry_all_now(&mut self) -> Result<usize, Error> {
        self.conn().execute("UPDATE recipient SET next_try_at = ?1 WHERE state = 'deferred'", [now_millis()]).map_err(|e| self.storage(e))
    }

    /// When the next recipient falls due: `Some(now or earlier)` if one is due already, `None` if
    /// nothing waits.
    pub fn next_due(&self) -> Result<Option<i64>, Error> {
        self.conn()
            .query_row(
                "SELECT CASE WHEN EXISTS (SELECT 1 FROM recipient WHERE state = 'queued') THEN 0
                        ELSE (SELECT min(next_try_at) FROM recipient WHERE state = 'deferred') END",
                [],
                |r| r.get::<_, Option<i64>>(0),
            )
            .map_err(|e| self.storage(e))
    }

    /// Sets the last reply of every queued recipient (why nothing is sent, e.g. Direct mode).
    pub fn note_queued(&self, why: &str) -> Result<usize, Error> {
        self.conn()
            .execute("UPDATE recipient SET last_reply = ?1 WHERE state = 'queued' AND last_reply IS NOT ?1", [why])
            .map_err(|e| self.storage(e))
    }

    /// Sets the last reply of the queued recipients of `profile` (as queued; `None`: mail queued
    /// before profiles): why that profile's mail is not sent.
    pub fn note_queued_of(&self, profile: Option<&str>, why: &str) -> Result<usize, Error> {
        self.conn()
            .execute(
                "UPDATE recipient SET last_reply = ?1 WHERE state = 'queued' AND profile IS ?2 AND last_reply IS NOT ?1",
                params![why, profile],
            )
            .map_err(|e| self.storage(e))
    }

    /// Moves the mail queued for profile `old` to `new` (a renamed profile), in one transaction;
    /// the mail log keeps the name each row was written with. Returns how many messages moved.
    pub fn rename_profile(&mut self, old: &str, new: &str) -> Result<usize, Error> {
        let path = self.path().display().to_string();
        let storage = |e: rusqlite::Error| Error::Storage { path: path.clone(), message: e.to_string() };
        let tx = self.conn_mut().transaction_with_behavior(TransactionBehavior::Immediate).map_err(storage)?;
        let moved = tx.execute("UPDATE message SET profile = ?2 WHERE profile = ?1", params![old, new]).map_err(storage)?;
        tx.execute("UPDATE recipient SET profile = ?2 WHERE profile = ?1", params![old, new]).map_err(storage)?;
        tx.commit().map_err(storage)?;
        Ok(moved)
    }

    /// The profiles (as queued; `None`: mail queued before profiles) that have mail waiting,
    /// queued or deferred. Seeks `recipient_due` once per profile rather than reading the queue.
    pub fn waiting_profiles(&self) -> Result<Vec<Option<String>>, Error> {
        let storage = |e| self.storage(e);
        let mut out = Vec::new();
        for state in ["queued", "deferred"] {
            let legacy: bool = self
                .conn()
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM recipient INDEXED BY recipient_due WHERE state = ?1 AND profile IS NULL)")
                .and_then(|mut s| s.query_row([state], |r| r.get(0)))
                .map_err(storage)?;
            if legacy && !out.contains(&None) {
                out.push(None);
            }
            let mut after = String::new();
            let mut next = self
                .conn()
                .prepare_cached("SELECT min(profile) FROM recipient INDEXED BY recipient_due WHERE state = ?1 AND profile > ?2")
                .map_err(storage)?;
            while let Some(p) = next.query_row(params![state, after], |r| r.get::<_, Option<String>>(0)).map_err(storage)? {
                if !out.contains(&Some(p.clone())) {
                    out.push(Some(p.clone()));
                }
                after = p;
            }
        }
        Ok(out)
    }

    /// When the next recipient of `profile` (as queued) falls due: as [`Store::next_due`] for one profile.
    pub fn next_due_of(&self, profile: Option<&str>) -> Result<Option<i64>, Error> {
        self.conn()
            .prepare_cached(
                "SELECT CASE WHEN EXISTS (SELECT 1 FROM recipient INDEXED BY recipient_due WHERE state = 'queued' AND profile IS ?1) THEN 0
                        ELSE (SELECT min(next_try_at) FROM recipient INDEXED BY recipient_due WHERE state = 'deferred' AND profile IS ?1) END",
            )
            .and_then(|mut s| s.query_row(params![profile], |r| r.get::<_, Option<i64>>(0)))
            .map_err(|e| self.storage(e))
    }

    /// The delivery agent's commits: `NORMAL` in WAL mode survives a crash of the process (kill -9)
    /// and loses at most the last commits on power loss; for delivery that means a message sent
    /// again, never one lost, so the agent doesn't pay an fsync per message. Intake stays `FULL`.
    pub fn relax_sync_for_delivery(&self) -> Result<(), Error> {
        self.conn().execute_batch("PRAGMA synchronous = NORMAL").map_err(|e| self.storage(e))
    }
}
