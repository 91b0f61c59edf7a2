//! The mail log as CSV (RFC 4180, a header row, newest first): every row a query matches, read
//! through keyset pages so an export of a million rows holds one page in memory. The CLI's
//! `log --csv` and the window's "Export CSV" both write it.

use super::mail_log::{self, Entry, LogQuery};
use super::{time, Error, MAX_PAGE};
use crate::outbox::Store;
use std::io::Write;

/// The header row, in column order.
/// `profile` came last (issue 10): columns are only ever added at the end.
pub const HEADER: [&str; 12] =
    ["time", "queue_id", "message_id", "from", "to", "size", "server", "tls", "result", "reply", "duration_ms", "profile"];

/// Writes every row `q` matches (its `before`/`after`/`limit` are ignored: the whole range) to
/// `out` as CSV; returns how many rows were written.
pub fn write_csv(store: &Store, q: &LogQuery, out: impl Write) -> Result<u64, Error> {
    let mut w = csv::Writer::from_writer(out);
    let failed = |e: csv::Error| Error::Export { message: e.to_string() };
    w.write_record(HEADER).map_err(failed)?;
    let mut page_query = LogQuery { before: None, after: None, limit: MAX_PAGE, ..q.clone() };
    let mut rows = 0u64;
    loop {
        let page = mail_log::page(store, &page_query)?;
        for e in &page.entries {
            w.write_record(record(e)).map_err(failed)?;
            rows += 1;
        }
        match page.entries.last() {
            Some(last) if page.older => page_query.before = Some(super::Cursor { at: last.at, id: last.id }),
            _ => break,
        }
    }
    w.flush().map_err(|e| Error::Export { message: e.to_string() })?;
    Ok(rows)
}

fn record(e: &Entry) -> [String; 12] {
    [
        time::rfc3339(e.at),
        e.message.map(|m| m.to_string()).unwrap_or_default(),
        cell(&e.message_id),
        cell(&e.sender),
        cell(&e.recipient),
        e.size.to_string(),
        cell(&e.server),
        e.tls.clone().unwrap_or_default(),
        e.result.to_string(),
        cell(&e.reply),
        e.duration_ms.to_string(),
        e.profile.clone().unwrap_or_default(),
    ]
}

/// Text from outside (an address a program gave, a server's reply) that a spreadsheet would run
/// as a formula (`=`, `+`, `-`, `@` first) gets a leading `'` (OWASP's advice on CSV injection).
fn cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_defused_and_plain_text_kept() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("@a"), "'@a");
        assert_eq!(cell("250 2.0.0 Ok"), "250 2.0.0 Ok");
        assert_eq!(cell("a@example.com"), "a@example.com");
    }
}
