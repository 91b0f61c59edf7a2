//! `smtp-desk report` (today, yesterday or a range of days, like pflogsumm: problems first, grand
//! totals, traffic per hour, top senders and recipients, reasons, servers, warnings) and
//! `smtp-desk status` (the dashboard's data).

use crate::output::print_json;
use crate::{Outcome, EXIT_BAD_INPUT, EXIT_FAILURE};
use clap::Args;
use jiff::{civil::Date, tz::TimeZone, Timestamp};
use smtp_desk::error::ErrorReport;
use smtp_desk::journal::dashboard::{self, Dashboard};
use smtp_desk::journal::report::{self, Problem, Reason, Report, Top};
use smtp_desk::journal::{self, events::Severity};
use smtp_desk::outbox::Store;
use std::fmt::Write as _;

#[derive(Args)]
#[command(group = clap::ArgGroup::new("range").args(["today", "yesterday", "from"]))]
pub struct ReportArgs {
    /// Today so far (the default).
    #[arg(long)]
    today: bool,
    /// Yesterday, midnight to midnight (local time).
    #[arg(long)]
    yesterday: bool,
    /// The first day (YYYY-MM-DD, local time).
    #[arg(long, value_name = "DAY", requires = "to")]
    from: Option<String>,
    /// The last day, included (YYYY-MM-DD).
    #[arg(long, value_name = "DAY", requires = "from")]
    to: Option<String>,
    /// The whole report as one JSON object (stable: fields are only ever added).
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct StatusArgs {
    /// The dashboard's data as one JSON object (stable: fields are only ever added).
    #[arg(long)]
    json: bool,
}

fn failed(e: &journal::Error) -> (u8, ErrorReport) {
    let code = if matches!(e, journal::Error::BadQuery { .. }) { EXIT_BAD_INPUT } else { EXIT_FAILURE };
    (code, e.into())
}

fn open() -> Result<Store, (u8, ErrorReport)> {
    Store::open_default().map_err(|e| (EXIT_FAILURE, (&e).into()))
}

fn day(field: &str, value: &str) -> Result<Date, (u8, ErrorReport)> {
    value.parse::<Date>().map_err(|_| {
        let e = journal::Error::BadQuery {
            field: field.into(),
            message: format!("{value:?} is not a day: give it as YYYY-MM-DD, e.g. 2026-03-01"),
        };
        failed(&e)
    })
}

pub fn run(a: ReportArgs) -> Outcome {
    let now = Timestamp::now().as_millisecond();
    let (from, to) = match (&a.from, &a.to) {
        (Some(f), Some(t)) => report::days(day("from", f)?, day("to", t)?).map_err(|e| failed(&e))?,
        _ if a.yesterday => report::yesterday(now),
        _ => report::today(now),
    };
    let store = open()?;
    let r = report::build(&store, from, to).map_err(|e| failed(&e))?;
    if a.json {
        print_json(&r);
    } else {
        print!("{}", render(&r, now));
    }
    Ok(())
}

pub fn status(a: StatusArgs) -> Outcome {
    let settings = smtp_desk::settings::load().map_err(|e| (EXIT_FAILURE, (&e).into()))?.settings;
    let store = open()?;
    let dir = store.path().parent().map(|p| p.to_path_buf()).unwrap_or_default();
    let d = dashboard::load(&store, &settings, agent_running(&dir), Timestamp::now().as_millisecond()).map_err(|e| failed(&e))?;
    if a.json {
        print_json(&d);
    } else {
        print!("{}", render_status(&d, Timestamp::now().as_millisecond()));
    }
    Ok(())
}

/// Whether a delivery agent runs: it keeps its wake socket bound while it holds the lock.
/// Connecting a datagram socket sends nothing (no wake) and fails when nobody is bound (a stale
/// file from a crash included); taking the lock to test it could make a starting agent back off.
fn agent_running(dir: &std::path::Path) -> bool {
    #[cfg(unix)]
    {
        std::os::unix::net::UnixDatagram::unbound().and_then(|s| s.connect(dir.join(smtp_desk::outbox::agent::WAKE_SOCKET))).is_ok()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        false
    }
}

fn local(ms: i64, format: &str) -> String {
    Timestamp::from_millisecond(ms).map(|t| t.to_zoned(TimeZone::system()).strftime(format).to_string()).unwrap_or_default()
}

/// Where the window's link goes, as a command.
fn command_for(link: &str) -> Option<String> {
    let (what, arg) = link.split_once(':').unwrap_or((link, ""));
    Some(match what {
        "log" => format!("smtp-desk log --result {arg}"),
        "queue" => format!("smtp-desk queue list --state {arg}"),
        "events" => "smtp-desk events".into(),
        "settings" => "smtp-desk config show".into(),
        _ => return None,
    })
}

fn problems(out: &mut String, problems: &[Problem]) {
    if problems.is_empty() {
        return;
    }
    let _ = writeln!(out, "Problems\n--------");
    for p in problems {
        let mark = match p.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "note",
        };
        let _ = writeln!(out, "{mark}: {}", p.title);
        let _ = writeln!(out, "  hint: {}", p.hint);
        if let Some(c) = p.link.as_deref().and_then(command_for) {
            let _ = writeln!(out, "  see: {c}");
        }
    }
    let _ = writeln!(out);
}

fn bytes(n: u64) -> String {
    match n {
        n if n >= 10 * 1024 * 1024 => format!("{}m", n / (1024 * 1024)),
        n if n >= 10 * 1024 => format!("{}k", n / 1024),
        n => n.to_string(),
    }
}

fn duration(ms: u64) -> String {
    match ms {
        m if m < 10_000 => format!("{:.1} s", m as f64 / 1000.0),
        m if m < 3_600_000 => format!("{} s", m / 1000),
        m => format!("{:.1} h", m as f64 / 3_600_000.0),
    }
}

fn tops(out: &mut String, title: &str, tops: &[Top], by_size: bool) {
    if tops.is_empty() {
        return;
    }
    let _ = writeln!(out, "{title}\n{}", "-".repeat(title.len()));
    for t in tops {
        let (a, b) = if by_size { (bytes(t.bytes), t.count.to_string()) } else { (t.count.to_string(), bytes(t.bytes)) };
        let address = if t.address.is_empty() { "<>" } else { &t.address };
        let _ = writeln!(out, "{a:>8} {b:>8}  {address}");
    }
    let _ = writeln!(out);
}

fn reasons(out: &mut String, title: &str, reasons: &[Reason]) {
    if reasons.is_empty() {
        return;
    }
    let _ = writeln!(out, "{title}\n{}", "-".repeat(title.len()));
    for r in reasons {
        let _ = writeln!(out, "{:>8}  {}  (e.g. {})", r.count, r.reply, r.example);
    }
    let _ = writeln!(out);
}

/// The report as pflogsumm lays it out: problems, grand totals, per-hour (or per-day) traffic
/// with a bar, top lists, reasons, servers, warnings.
pub fn render(r: &Report, now: i64) -> String {
    let mut out = String::new();
    let until = if r.to > now { format!("{} (so far)", local(now, "%Y-%m-%d %H:%M")) } else { local(r.to, "%Y-%m-%d %H:%M") };
    let _ = writeln!(
        out,
        "Mail report {} – {until} ({})\n",
        local(r.from, "%Y-%m-%d %H:%M"),
        TimeZone::system().iana_name().unwrap_or("local time")
    );
    problems(&mut out, &r.problems);
    let t = &r.totals;
    let _ = writeln!(out, "Grand totals\n------------");
    let rows: [(u64, &str); 9] = [
        (t.messages_received, "messages received"),
        (t.received, "recipients received"),
        (t.delivered, "delivered"),
        (t.deferred, "deferred (attempts)"),
        (t.bounced, "bounced"),
        (t.refused, "refused at intake"),
        (t.held, "held"),
        (t.bytes_received, "bytes received"),
        (t.bytes_delivered, "bytes delivered"),
    ];
    for (n, label) in rows {
        let _ = writeln!(out, "{:>9}  {label}", if label.starts_with("bytes") { bytes(n) } else { n.to_string() });
    }
    let _ = writeln!(out);
    let per_day = r.hours.len() > 1 && r.hours[1].start - r.hours[0].start > 3_600_000 * 2;
    let title = if per_day { "Per-day traffic" } else { "Per-hour traffic" };
    let _ = writeln!(out, "{title}\n{}", "-".repeat(title.len()));
    let _ = writeln!(
        out,
        "{:<11} {:>8} {:>9} {:>8} {:>7} {:>7}",
        if per_day { "day" } else { "hour" },
        "received",
        "delivered",
        "deferred",
        "bounced",
        "refused"
    );
    let peak = r.hours.iter().map(|h| h.received.max(h.delivered)).max().unwrap_or(0).max(1);
    for h in &r.hours {
        let bar = "█".repeat(((h.delivered * 30).div_ceil(peak)) as usize);
        let label = if per_day { local(h.start, "%Y-%m-%d") } else { local(h.start, "%H:%M") };
        let _ =
            writeln!(out, "{label:<11} {:>8} {:>9} {:>8} {:>7} {:>7}  {bar}", h.received, h.delivered, h.deferred, h.bounced, h.refused);
    }
    let _ = writeln!(out);
    tops(&mut out, "Senders by message count", &r.top_senders, false);
    tops(&mut out, "Recipients by message count", &r.top_recipients, false);
    tops(&mut out, "Senders by message size", &r.top_senders_by_size, true);
    tops(&mut out, "Recipients by message size", &r.top_recipients_by_size, true);
    reasons(&mut out, "Bounce reasons", &r.bounce_reasons);
    reasons(&mut out, "Deferral reasons", &r.deferral_reasons);
    reasons(&mut out, "Refused at intake", &r.refusal_reasons);
    if !r.servers.is_empty() {
        let _ = writeln!(out, "Servers delivered to\n--------------------");
        let _ = writeln!(out, "{:>9} {:>10} {:>10}  server", "delivered", "avg delay", "max delay");
        for s in &r.servers {
            let _ = writeln!(out, "{:>9} {:>10} {:>10}  {}", s.delivered, duration(s.avg_delay_ms), duration(s.max_delay_ms), s.server);
        }
        let _ = writeln!(out);
    }
    if !r.warnings.is_empty() {
        let _ = writeln!(out, "Warnings and errors\n-------------------");
        for e in &r.warnings {
            let _ = writeln!(out, "{}  {:<7} {}", local(e.at, "%Y-%m-%d %H:%M:%S"), e.severity.as_str(), e.summary);
        }
        let _ = writeln!(out);
    }
    out
}

pub fn render_status(d: &Dashboard, now: i64) -> String {
    let mut out = String::new();
    problems(&mut out, &d.problems);
    let mode = serde_json::to_value(d.mode).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    let via = if d.server.is_empty() { String::new() } else { format!(" via {}", d.server) };
    let _ = writeln!(out, "Sending:        {mode}{via}");
    let _ = writeln!(out, "Delivery agent: {}", if d.agent_running { "running" } else { "not running" });
    let _ = writeln!(out, "Listener:       {}", d.listener_port.map(|p| format!("port {p}")).unwrap_or_else(|| "off".into()));
    match &d.last_sent {
        Some(e) => {
            let _ = writeln!(out, "Last sent:      {} to {} via {}", local(e.at, "%Y-%m-%d %H:%M:%S"), e.recipient, e.server);
        }
        None => {
            let _ = writeln!(out, "Last sent:      never");
        }
    }
    if let Some(e) = &d.last_failure {
        let _ = writeln!(out, "Last failure:   {} {} {}: {}", local(e.at, "%Y-%m-%d %H:%M:%S"), e.result, e.recipient, e.reply);
        if let Some(h) = &d.last_failure_hint {
            let _ = writeln!(out, "                hint: {h}");
        }
    }
    let q = &d.queue;
    let _ = writeln!(
        out,
        "Queue:          {} message(s); recipients queued {}, sending {}, deferred {}, held {}, failed {}, sent {}",
        q.messages, q.queued, q.sending, q.deferred, q.held, q.failed, q.sent
    );
    if let Some(t) = d.oldest_waiting {
        let _ = writeln!(out, "Oldest waiting: {} ({} min ago)", local(t, "%Y-%m-%d %H:%M:%S"), (now - t).max(0) / 60_000);
    }
    let t = &d.today;
    let _ = writeln!(
        out,
        "Today:          received {} ({} messages), delivered {}, deferred {}, bounced {}, refused {}, held {}",
        t.received, t.messages_received, t.delivered, t.deferred, t.bounced, t.refused, t.held
    );
    if !d.latest_events.is_empty() {
        let _ = writeln!(out, "\nLatest events");
        for e in &d.latest_events {
            let _ = writeln!(out, "  {}  {:<7} {}", local(e.at, "%Y-%m-%d %H:%M:%S"), e.severity.as_str(), e.summary);
        }
    }
    out
}
