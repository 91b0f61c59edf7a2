//! The journal commands of `smtp-desk`: `log` (the mail log as a table, JSON lines or CSV) and
//! `events` (the event log), newest first, filtered, read through keyset pages.

use crate::{Outcome, EXIT_BAD_INPUT, EXIT_FAILURE};
use smtp_desk::error::ErrorReport;
use smtp_desk::journal::events::{self, Category, Event, EventQuery, Severity};
use smtp_desk::journal::mail_log::{self, Entry, LogQuery, LogResult};
use smtp_desk::journal::{export, time, Cursor, Error, MAX_PAGE};
use smtp_desk::outbox::Store;
use std::io::Write;

const TIMES_HELP: &str = "Times (--since, --until): YYYY-MM-DD, 'YYYY-MM-DD HH:MM' (local time) or RFC 3339
(2024-05-01T08:00:00Z). --since is inclusive; --until is exclusive, and a date alone there means
up to the end of that day (--since 2024-05-01 --until 2024-05-01 is that day).";

pub const LOG_HELP: &str = "One row per recipient for each thing that happened: received (taken in), sent, deferred,
bounced, refused (at intake), held. Newest first.

Times (--since, --until): YYYY-MM-DD, 'YYYY-MM-DD HH:MM' (local time) or RFC 3339
(2024-05-01T08:00:00Z). --since is inclusive; --until is exclusive, and a date alone there means
up to the end of that day (--since 2024-05-01 --until 2024-05-01 is that day).

--json prints one JSON object per line; --csv writes every matching row (RFC 4180, with a header).";

#[derive(clap::Args)]
pub struct LogArgs {
    /// Rows from this time on.
    #[arg(long, value_name = "T")]
    since: Option<String>,
    /// Rows before this time.
    #[arg(long, value_name = "T")]
    until: Option<String>,
    /// Only this result: received, sent, deferred, bounced, refused, held.
    #[arg(long, value_name = "R", value_parser = parse_result)]
    result: Option<LogResult>,
    /// Only rows with this sender or recipient (any case).
    #[arg(long, value_name = "A")]
    address: Option<String>,
    /// Only rows of this profile (global for Global).
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// How many rows (newest first; 0: all). Default 50.
    #[arg(long, value_name = "N", conflicts_with = "csv")]
    limit: Option<u64>,
    /// One JSON object per line.
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// CSV of every matching row.
    #[arg(long)]
    csv: bool,
}

#[derive(clap::Args)]
pub struct EventArgs {
    /// Events from this time on.
    #[arg(long, value_name = "T")]
    since: Option<String>,
    /// Events before this time.
    #[arg(long, value_name = "T")]
    until: Option<String>,
    /// This severity or worse: info, warning, error.
    #[arg(long, value_name = "S", value_parser = parse_severity)]
    severity: Option<Severity>,
    /// Only this category: settings, validation, test_email, queue, agent, listener, app, certificate.
    #[arg(long, value_name = "C", value_parser = parse_category)]
    category: Option<Category>,
    /// How many events (newest first; 0: all). Default 50.
    #[arg(long, value_name = "N")]
    limit: Option<u64>,
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
}

pub const EVENTS_HELP: &str = TIMES_HELP;

fn parse_result(s: &str) -> Result<LogResult, String> {
    LogResult::parse(s).ok_or_else(|| format!("one of: {}", LogResult::ALL.map(LogResult::as_str).join(", ")))
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    Severity::parse(s).ok_or_else(|| format!("one of: {}", Severity::ALL.map(Severity::as_str).join(", ")))
}

fn parse_category(s: &str) -> Result<Category, String> {
    Category::parse(s).ok_or_else(|| format!("one of: {}", Category::ALL.map(Category::as_str).join(", ")))
}

fn failed(e: &Error) -> (u8, ErrorReport) {
    let code = if matches!(e, Error::BadQuery { .. }) { EXIT_BAD_INPUT } else { EXIT_FAILURE };
    (code, ErrorReport::from(e))
}

/// `--since` and `--until` as ms, each error naming its flag.
fn range(since: Option<&str>, until: Option<&str>) -> Result<(Option<i64>, Option<i64>), Error> {
    Ok((since.map(|t| time::parse_since("--since", t)).transpose()?, until.map(|t| time::parse_until("--until", t)).transpose()?))
}

fn open() -> Result<Store, Error> {
    Ok(Store::open_default()?)
}

pub fn log(a: LogArgs) -> Outcome {
    let run = || -> Result<(), Error> {
        let (since, until) = range(a.since.as_deref(), a.until.as_deref())?;
        let q = LogQuery {
            since,
            until,
            result: a.result,
            address: a.address.clone(),
            profile: a
                .profile
                .as_deref()
                .map(|p| if smtp_desk::settings::profiles::is_global(p) { "global".into() } else { p.to_string() }),
            ..LogQuery::default()
        };
        if let (Some(s), Some(u)) = (since, until) {
            if u <= s {
                return Err(Error::BadQuery { field: "--until".into(), message: "the end of the range is not after its start".into() });
            }
        }
        let store = open()?;
        let stdout = std::io::stdout();
        if a.csv {
            export::write_csv(&store, &q, stdout.lock())?;
            return Ok(());
        }
        let mut rows = Vec::new();
        walk(
            a.limit.unwrap_or(50),
            |limit, before| {
                let p = mail_log::page(&store, &LogQuery { limit, before, ..q.clone() })?;
                let next = p.entries.last().filter(|_| p.older).map(|e| Cursor { at: e.at, id: e.id });
                Ok((p.entries, next))
            },
            |e: Entry| rows.push(e),
        )?;
        let mut out = stdout.lock();
        if a.json {
            for e in &rows {
                let _ = writeln!(out, "{}", serde_json::to_string(e).expect("an entry serialises"));
            }
        } else if rows.is_empty() {
            let _ = writeln!(out, "No mail-log rows match.");
        } else {
            let table: Vec<Vec<String>> = rows
                .iter()
                .map(|e| {
                    vec![
                        time::local(e.at),
                        e.result.to_string(),
                        e.message.map(|m| m.to_string()).unwrap_or_else(|| "-".into()),
                        if e.sender.is_empty() { "<>".into() } else { e.sender.clone() },
                        e.recipient.clone(),
                        e.server.clone(),
                        e.tls.clone().unwrap_or_else(|| "-".into()),
                        e.profile.clone().unwrap_or_else(|| "-".into()),
                        e.reply.clone(),
                    ]
                })
                .collect();
            print_table(&mut out, &["TIME", "RESULT", "QUEUE", "FROM", "TO", "SERVER", "TLS", "PROFILE", "REPLY"], &table);
        }
        Ok(())
    };
    run().map_err(|e| failed(&e))
}

pub fn events(a: EventArgs) -> Outcome {
    let run = || -> Result<(), Error> {
        let (since, until) = range(a.since.as_deref(), a.until.as_deref())?;
        let q = EventQuery { since, until, severity: a.severity, category: a.category, ..EventQuery::default() };
        let store = open()?;
        let mut rows = Vec::new();
        walk(
            a.limit.unwrap_or(50),
            |limit, before| {
                let p = events::page(&store, &EventQuery { limit, before, ..q.clone() })?;
                let next = p.events.last().filter(|_| p.older).map(|e| Cursor { at: e.at, id: e.id });
                Ok((p.events, next))
            },
            |e: Event| rows.push(e),
        )?;
        let mut out = std::io::stdout().lock();
        if a.json {
            for e in &rows {
                let _ = writeln!(out, "{}", serde_json::to_string(e).expect("an event serialises"));
            }
        } else if rows.is_empty() {
            let _ = writeln!(out, "No events match.");
        } else {
            let table: Vec<Vec<String>> = rows
                .iter()
                .map(|e| vec![time::local(e.at), e.severity.as_str().into(), e.category.as_str().into(), e.summary.clone()])
                .collect();
            print_table(&mut out, &["TIME", "SEVERITY", "CATEGORY", "SUMMARY"], &table);
        }
        Ok(())
    };
    run().map_err(|e| failed(&e))
}

/// Reads up to `want` rows (0: all) newest first through keyset pages: `page(limit, before)`
/// gives a page and the cursor of the next older one, if any.
fn walk<T>(
    want: u64,
    mut page: impl FnMut(u32, Option<Cursor>) -> Result<(Vec<T>, Option<Cursor>), Error>,
    mut each: impl FnMut(T),
) -> Result<(), Error> {
    let (mut got, mut before) = (0u64, None);
    loop {
        let limit = if want == 0 { MAX_PAGE } else { (want - got).min(u64::from(MAX_PAGE)) as u32 };
        let (rows, next) = page(limit, before)?;
        for r in rows {
            each(r);
            got += 1;
        }
        match next {
            Some(c) if want == 0 || got < want => before = Some(c),
            _ => return Ok(()),
        }
    }
}

/// Columns padded to their widest cell; the last one is left as it is (replies are long).
fn print_table(out: &mut impl Write, header: &[&str], rows: &[Vec<String>]) {
    let clean = |s: &str| s.replace(['\r', '\n', '\t'], " ");
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(clean(cell).chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let last = cells.len() - 1;
        let parts: Vec<String> =
            cells.iter().enumerate().map(|(i, c)| if i == last { c.clone() } else { format!("{c:<w$}", w = widths[i]) }).collect();
        parts.join("  ").trim_end().to_string()
    };
    let _ = writeln!(out, "{}", line(header.iter().map(|h| h.to_string()).collect()));
    for row in rows {
        let _ = writeln!(out, "{}", line(row.iter().map(|c| clean(c)).collect()));
    }
}
