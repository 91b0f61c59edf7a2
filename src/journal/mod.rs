//! The journal: what happened to mail and to the app, kept in the outbox's database — the mail
//! log (one row per recipient per event), the event log (settings changes, validations, queue
//! actions, agents starting and stopping), the reports and the dashboard built from them, and
//! pruning what is older than the retention setting.
//!
//! Rows are written where the thing happens, in the same transaction ([`mail_log::INSERT`] from
//! intake and delivery recording; [`events::record`] from the CLI and the window); this module
//! reads them. Times are ms since the Unix epoch. Nothing here ever holds a message body or a
//! secret.

pub mod dashboard;
pub mod events;
pub mod export;
pub mod mail_log;
pub mod report;
pub mod retention;
pub mod time;

use crate::error::{ErrorKind, ErrorReport};

/// What can go wrong reading or writing the journal.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the mail log database {path} can't be used: {message}")]
    Storage { path: String, message: String },
    /// A query the caller built is wrong (a range that ends before it starts, an unknown result).
    #[error("{field}: {message}")]
    BadQuery { field: String, message: String },
    /// An export (CSV) could not be written out.
    #[error("the export could not be written: {message}")]
    Export { message: String },
}

impl Error {
    pub(crate) fn storage(store: &crate::outbox::Store, e: rusqlite::Error) -> Self {
        Error::Storage { path: store.path().display().to_string(), message: e.to_string() }
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Storage { .. } => ErrorKind::QueueStorage,
            Error::BadQuery { .. } => ErrorKind::BadArguments,
            Error::Export { .. } => ErrorKind::ExportFailed,
        }
    }
}

impl From<&Error> for ErrorReport {
    fn from(e: &Error) -> Self {
        let mut r = ErrorReport::new(e.kind(), e.to_string());
        if let Error::BadQuery { field, .. } = e {
            r.field = Some(field.clone());
        }
        r
    }
}

impl From<crate::outbox::Error> for Error {
    fn from(e: crate::outbox::Error) -> Self {
        match e {
            crate::outbox::Error::Storage { path, message } => Error::Storage { path, message },
            other => Error::Storage { path: String::new(), message: other.to_string() },
        }
    }
}

/// Keyset position in a newest-first listing: rows before or after this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, ts_rs::TS)]
pub struct Cursor {
    /// ms since the Unix epoch.
    pub at: i64,
    pub id: i64,
}

/// The most rows one page may ask for.
pub const MAX_PAGE: u32 = 500;

/// A newest-first keyset listing over `table` (which has `id` and `at`): the filters (SQL with
/// numbered parameters `?1`… over `args`), then a page before or after a cursor. Shared by the
/// mail log and the event log.
pub(crate) struct Listing<'a> {
    pub table: &'static str,
    pub columns: &'static str,
    pub filters: Vec<String>,
    pub args: Vec<rusqlite::types::Value>,
    pub before: Option<Cursor>,
    pub after: Option<Cursor>,
    pub limit: u32,
    pub store: &'a crate::outbox::Store,
}

/// Rows of one page, newest first, and whether there are older and newer rows beyond it.
pub(crate) struct Rows<T> {
    pub rows: Vec<T>,
    pub older: bool,
    pub newer: bool,
}

impl Listing<'_> {
    /// Adds a filter whose one parameter is `value`; `sql` names it as `?`.
    pub fn filter(&mut self, sql: &str, value: rusqlite::types::Value) {
        self.args.push(value);
        self.filters.push(sql.replace('?', &format!("?{}", self.args.len())));
    }

    pub fn read<T>(
        self,
        map: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
        cursor_of: impl Fn(&T) -> Cursor,
    ) -> Result<Rows<T>, Error> {
        self.read_either(&[], map, cursor_of)
    }

    /// As [`Listing::read`], for the rows that also match any one of `either` (SQL over the same
    /// numbered parameters). An OR of two indexed columns makes SQLite read every match and sort
    /// them; here each alternative is its own index walk in (at, id) order, merged (a compound
    /// ORDER BY), so a page reads about one page of rows per alternative. A row matching several
    /// comes from the first only.
    pub fn read_either<T>(
        self,
        either: &[String],
        map: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
        cursor_of: impl Fn(&T) -> Cursor,
    ) -> Result<Rows<T>, Error> {
        let store = self.store;
        let limit = match self.limit {
            0 => 50,
            n => n.min(MAX_PAGE),
        };
        let newest_first = self.after.is_none();
        // Rows beyond `c` on one side, under the filters: older (at, id) < c, or newer.
        let beyond = |c: Cursor, older: bool, args: &mut Vec<rusqlite::types::Value>| {
            args.push(rusqlite::types::Value::Integer(c.at));
            args.push(rusqlite::types::Value::Integer(c.id));
            let (a, i) = (args.len() - 1, args.len());
            if older {
                format!("at <= ?{a} AND (at < ?{a} OR id < ?{i})")
            } else {
                format!("at >= ?{a} AND (at > ?{a} OR id > ?{i})")
            }
        };
        let select = |columns: &str, filters: &[String]| select(self.table, columns, filters, either);
        let (mut filters, mut args) = (self.filters.clone(), self.args.clone());
        if let Some(c) = self.before.or(self.after) {
            filters.push(beyond(c, newest_first, &mut args));
        }
        let order = if newest_first { "at DESC, id DESC" } else { "at ASC, id ASC" };
        let sql = format!("{} ORDER BY {order} LIMIT {}", select(self.columns, &filters), limit + 1);
        let conn = store.conn();
        let mut rows: Vec<T> = conn
            .prepare_cached(&sql)
            .and_then(|mut s| s.query_map(rusqlite::params_from_iter(args.iter()), &map)?.collect())
            .map_err(|e| Error::storage(store, e))?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        if !newest_first {
            rows.reverse();
        }
        let exists = |c: Option<Cursor>, older: bool| -> Result<bool, Error> {
            let Some(c) = c else { return Ok(false) };
            let (mut f, mut a) = (self.filters.clone(), self.args.clone());
            f.push(beyond(c, older, &mut a));
            conn.query_row(&format!("SELECT EXISTS ({})", select("id, at", &f)), rusqlite::params_from_iter(a.iter()), |r| r.get(0))
                .map_err(|e| Error::storage(store, e))
        };
        let (older, newer) = if newest_first {
            (more, if self.before.is_some() { exists(rows.first().map(&cursor_of), false)? } else { false })
        } else {
            (exists(rows.last().map(&cursor_of), true)?, more)
        };
        Ok(Rows { rows, older, newer })
    }
}

/// The rows of `table` under `filters` (ANDed), and under any one of `either` when given: one
/// SELECT, or one per alternative joined by UNION ALL (a row matching several comes from the
/// first), ready for an ORDER BY over the result's columns.
pub(crate) fn select(table: &str, columns: &str, filters: &[String], either: &[String]) -> String {
    let where_ = |f: &[String]| if f.is_empty() { String::new() } else { format!("WHERE {}", f.join(" AND ")) };
    if either.is_empty() {
        return format!("SELECT {columns} FROM {table} {}", where_(filters));
    }
    let arms: Vec<String> = either
        .iter()
        .enumerate()
        .map(|(i, alt)| {
            let mut f = filters.to_vec();
            f.push(alt.clone());
            f.extend(either[..i].iter().map(|earlier| format!("NOT ({earlier})")));
            format!("SELECT {columns} FROM {table} {}", where_(&f))
        })
        .collect();
    arms.join(" UNION ALL ")
}
