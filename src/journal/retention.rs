//! Retention: mail-log and event rows older than the setting (`logs.retention_days`) are deleted
//! by the delivery agent, when it starts and about once a day, a few thousand rows per
//! transaction so a large prune never keeps intake waiting for the write lock.

use super::Error;
use crate::outbox::Store;

/// Rows deleted per transaction: at ~100 bytes an index entry this is a few ms of work, short
/// enough that `sendmail` (waiting up to its busy timeout) never notices.
/// (Small in tests, so that tests with a few hundred rows prune in several batches.)
const BATCH: u32 = if cfg!(test) { 64 } else { 5_000 };

const DAY_MS: i64 = 86_400_000;

/// How many rows a prune deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub mail_log: u64,
    pub events: u64,
}

/// Deletes the rows of the mail log and the event log older than `days` days (from now).
pub fn prune(store: &Store, days: u32) -> Result<Pruned, Error> {
    let cutoff = crate::outbox::now_millis() - i64::from(days) * DAY_MS;
    prune_before(store, cutoff)
}

/// Deletes the rows older than `cutoff` (ms since the epoch), [`BATCH`] per transaction.
pub fn prune_before(store: &Store, cutoff: i64) -> Result<Pruned, Error> {
    let pruned = Pruned { mail_log: delete_before(store, "mail_log", cutoff)?, events: delete_before(store, "events", cutoff)? };
    if pruned != Pruned::default() {
        store
            .conn()
            .execute("INSERT INTO pruned (id, before) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE SET before = max(before, ?1)", [cutoff])
            .map_err(|e| Error::storage(store, e))?;
    }
    Ok(pruned)
}

fn delete_before(store: &Store, table: &str, cutoff: i64) -> Result<u64, Error> {
    // Each batch is its own transaction; the inner select walks the time index, oldest first.
    let sql = format!("DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE at < ?1 ORDER BY at LIMIT {BATCH})");
    let mut total = 0u64;
    loop {
        let n = batch(store, table, &sql, cutoff).map_err(|e| Error::storage(store, e))?;
        total += n as u64;
        if n < BATCH as usize {
            return Ok(total);
        }
    }
}

fn batch(store: &Store, table: &str, sql: &str, cutoff: i64) -> rusqlite::Result<usize> {
    let tx = rusqlite::Transaction::new_unchecked(store.conn(), rusqlite::TransactionBehavior::Immediate)?;
    let n = tx.prepare_cached(sql)?.execute([cutoff])?;
    if table == "mail_log" && n > 0 {
        // The mail log's triggers subtracted the deleted rows from the rollups (migration 7), all
        // but a maximum: the oldest bucket left is the only one that can have lost some of its
        // rows (older ones lost all and are gone), so its maximum delay is worked out again.
        tx.prepare_cached(
            "UPDATE rollup_server SET delay_max = (SELECT max(delay_ms) FROM mail_log
               WHERE result = 'sent' AND at >= rollup_server.bucket AND at < rollup_server.bucket + 900000 AND server = rollup_server.server)
             WHERE bucket = (SELECT min(bucket) FROM rollup_server)",
        )?
        .execute([])?;
    }
    tx.commit()?;
    Ok(n)
}

/// Where the kept data starts (ms): rows older than this were removed by retention. `None` while
/// nothing was ever removed — a young database is complete, however little it holds. A report
/// whose range starts earlier says so.
pub fn kept_since(store: &Store) -> Result<Option<i64>, Error> {
    use rusqlite::OptionalExtension;
    store.conn().query_row("SELECT before FROM pruned", [], |r| r.get(0)).optional().map_err(|e| Error::storage(store, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prunes_old_rows_in_batches_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("q.sqlite3")).unwrap();
        assert_eq!(kept_since(&store).unwrap(), None);
        let now = crate::outbox::now_millis();
        let old = now - 100 * DAY_MS;
        store
            .conn()
            .execute_batch(&format!(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 12000)
                 INSERT INTO mail_log (at, message, message_id, sender, recipient, size, server, tls, result, reply, duration_ms)
                 SELECT {old} + i, NULL, '', 'a@b', 'c@d', 1, 'sendmail', NULL, 'refused', 'no', 0 FROM n;
                 INSERT INTO mail_log (at, message, message_id, sender, recipient, size, server, tls, result, reply, duration_ms)
                 VALUES ({now}, 1, '<m>', 'a@b', 'c@d', 1, 'sendmail', NULL, 'received', '', 0);
                 INSERT INTO events (at, severity, category, summary) VALUES ({old}, 'info', 'app', 'old'), ({now}, 'info', 'app', 'new');"
            ))
            .unwrap();
        assert_eq!(kept_since(&store).unwrap(), None, "nothing removed yet: the data is complete");
        let pruned = prune_before(&store, now - 90 * DAY_MS).unwrap();
        assert_eq!(pruned, Pruned { mail_log: 12_000, events: 1 });
        let left: i64 = store.conn().query_row("SELECT count(*) FROM mail_log", [], |r| r.get(0)).unwrap();
        assert_eq!(left, 1);
        assert_eq!(kept_since(&store).unwrap(), Some(now - 90 * DAY_MS), "the cutoff of what was removed");
        assert_eq!(prune(&store, 90).unwrap(), Pruned::default(), "nothing more to prune");
        assert_eq!(kept_since(&store).unwrap(), Some(now - 90 * DAY_MS), "a prune that removed nothing leaves it");
    }
}
