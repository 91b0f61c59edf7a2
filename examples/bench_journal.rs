//! Benchmark of the journal's reads at scale (issue 9: with 1,000,000 mail-log rows, a page of the
//! log ≤ 20 ms, today's report ≤ 300 ms, the dashboard's data ≤ 50 ms): fills an outbox's mail log
//! with `ROWS` rows of realistic traffic over `DAYS` days up to now (or all of them today), writes
//! the same deliveries as a Postfix mail log (for pflogsumm, compared by scripts/bench-journal.sh),
//! then times the reads through the core, median of `RUNS`. The database line counts the
//! rollup rows (migration 7) a report reads instead of the mail log's.
//!
//!   cargo run --release --example bench_journal -- DIR [ROWS] [DAYS] [RUNS] [--all-today]
//!
//! Traffic per message: 1 to 5 recipients (mostly 1), 1 KB to 200 KB, from 50 senders (a few send
//! most) to 5,000 recipients; office hours busier than the night. Per recipient: 93% sent, 3%
//! deferred once then sent 5 minutes later, 1% deferred twice then sent, 1% bounced (550),
//! 1% refused at intake, 1% held.

use jiff::{tz::TimeZone, Timestamp};
use smtp_desk::journal::{dashboard, mail_log, report, Cursor};
use smtp_desk::outbox::{Dsn, Store, Submission};
use std::io::Write;
use std::time::Instant;

/// xorshift64*: a few random numbers without a dependency; seeded, so runs build the same data.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const SERVER: &str = "smtp.example.net:587";
const RELAY: &str = "relay=smtp.example.net[192.0.2.10]:587";

struct Writer<'a> {
    insert: rusqlite::Statement<'a>,
    log: std::io::BufWriter<std::fs::File>,
    tz: TimeZone,
    rows: u64,
}

impl Writer<'_> {
    #[allow(clippy::too_many_arguments)]
    fn row(
        &mut self,
        at: i64,
        message: Option<i64>,
        mid: &str,
        sender: &str,
        rcpt: &str,
        size: i64,
        server: &str,
        result: &str,
        reply: &str,
    ) {
        self.insert
            .execute(rusqlite::params![at, message, mid, sender, rcpt, size, server, None::<String>, result, reply, 120])
            .expect("insert");
        self.rows += 1;
    }

    fn line(&mut self, at: i64, program: &str, text: &str) {
        let t = Timestamp::from_millisecond(at).unwrap().to_zoned(self.tz.clone());
        let _ = writeln!(self.log, "{} mailhost postfix/{program}: {text}", t.strftime("%b %e %H:%M:%S"));
    }
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let all_today = args.iter().any(|a| a == "--all-today");
    args.retain(|a| a != "--all-today");
    let mut args = args.into_iter();
    let dir = std::path::PathBuf::from(args.next().expect("usage: bench_journal DIR [ROWS] [DAYS] [RUNS] [--all-today]"));
    let rows: u64 = args.next().map_or(1_000_000, |a| a.parse().expect("ROWS"));
    let days: i64 = args.next().map_or(30, |a| a.parse().expect("DAYS"));
    let runs: usize = args.next().map_or(7, |a| a.parse().expect("RUNS"));
    let path = dir.join("outbox.sqlite3");
    let tz = TimeZone::system();
    let now = Timestamp::now().as_millisecond();
    let (today, _) = report::today(now);

    let built = Instant::now();
    for f in ["outbox.sqlite3", "outbox.sqlite3-wal", "outbox.sqlite3-shm"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    drop(Store::open(&path).expect("the outbox opens"));
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    {
        let mut conn = rusqlite::Connection::open(&path).expect("open");
        conn.execute_batch("PRAGMA synchronous = OFF").unwrap();
        let tx = conn.transaction().unwrap();
        let mut w = Writer {
            insert: tx.prepare(smtp_desk_insert()).unwrap(),
            log: std::io::BufWriter::new(std::fs::File::create(dir.join("maillog")).expect("maillog")),
            tz: tz.clone(),
            rows: 0,
        };
        // Messages' times, in order: office hours (8–18) four times as busy as the night.
        let start = if all_today { today } else { now - days * 86_400_000 };
        let estimate = (rows as f64 / 3.1) as usize + 1;
        let mut times: Vec<i64> = Vec::with_capacity(estimate);
        while times.len() < estimate {
            let t = start + (rng.unit() * (now - start) as f64) as i64;
            let hour = Timestamp::from_millisecond(t).unwrap().to_zoned(tz.clone()).hour();
            if (8..18).contains(&hour) || rng.unit() < 0.25 {
                times.push(t);
            }
        }
        times.sort_unstable();
        let mut pid = 1000;
        for (n, &t) in times.iter().enumerate() {
            if w.rows >= rows {
                break;
            }
            let id = n as i64 + 1;
            let qid = format!("{:X}", 0x1_0000_0000u64 + id as u64);
            let mid = format!("<{id}.bench@example.com>");
            // A few senders send most: the square skews towards the first ones.
            let sender = format!("sender{}@example.com", ((rng.unit().powi(2)) * 50.0) as u64);
            let size = (1024.0 * (200f64).powf(rng.unit())) as i64;
            let nrcpt = match rng.below(100) {
                0..=69 => 1,
                70..=89 => 2,
                _ => 3 + rng.below(3) as usize,
            };
            let rcpts: Vec<String> = (0..nrcpt).map(|_| format!("user{}@example.org", ((rng.unit().powi(2)) * 5000.0) as u64)).collect();
            let fates: Vec<u64> = rcpts.iter().map(|_| rng.below(100)).collect();
            pid += 1;
            // Refused at intake: no queue entry, one row per recipient (Postfix: NOQUEUE reject).
            let kept: Vec<(&String, u64)> = rcpts.iter().zip(fates.iter().copied()).filter(|(_, f)| *f != 99).collect();
            for (r, _) in rcpts.iter().zip(&fates).filter(|(_, f)| **f == 99) {
                let reply = format!("553 5.1.3 <{r}>: the address has no domain");
                w.row(t, None, &mid, &sender, r, size, "sendmail", "refused", &reply);
                w.line(
                    t,
                    &format!("smtpd[{pid}]"),
                    &format!(
                        "NOQUEUE: reject: RCPT from localhost[127.0.0.1]: {reply}; from=<{sender}> to=<{r}> proto=ESMTP helo=<localhost>"
                    ),
                );
            }
            if kept.is_empty() {
                continue;
            }
            w.line(t, &format!("pickup[{pid}]"), &format!("{qid}: uid=1000 from=<{sender}>"));
            w.line(t, &format!("cleanup[{}]", pid + 1), &format!("{qid}: message-id={mid}"));
            for (r, _) in &kept {
                w.row(t, Some(id), &mid, &sender, r, size, "sendmail", "received", "");
            }
            w.line(t, "qmgr[900]", &format!("{qid}: from=<{sender}>, size={size}, nrcpt={} (queue active)", kept.len()));
            let mut held = false;
            for (r, fate) in kept {
                let delay = 200 + rng.below(2800) as i64;
                let status = |at: i64, dsn: &str, status: &str, text: &str| {
                    let d = (at - t) as f64 / 1000.0;
                    format!(
                        "{qid}: to=<{r}>, {RELAY}, delay={d:.1}, delays=0.01/0/0.1/{:.1}, dsn={dsn}, status={status} ({text})",
                        d - 0.11
                    )
                };
                let greylisted = format!("450 4.2.0 <{r}>: Recipient address rejected: Greylisted, try again later");
                let said = |reply: &str| format!("host smtp.example.net[192.0.2.10] said: {reply} (in reply to RCPT TO command)");
                let sent = format!("250 2.0.0 Ok: queued as {:X}", rng.next() & 0xFFFF_FFFF);
                let mut at = t + delay;
                match fate {
                    0..=3 => {
                        // Deferred once (and for 3, twice), then sent.
                        for _ in 0..(if fate == 3 { 2 } else { 1 }) {
                            w.row(at, Some(id), &mid, &sender, r, size, SERVER, "deferred", &greylisted);
                            let l = status(at, "4.2.0", "deferred", &said(&greylisted));
                            w.line(at, &format!("smtp[{}]", pid + 2), &l);
                            at += 300_000;
                        }
                        w.row(at, Some(id), &mid, &sender, r, size, SERVER, "sent", &sent);
                        let l = status(at, "2.0.0", "sent", &sent);
                        w.line(at, &format!("smtp[{}]", pid + 2), &l);
                    }
                    4 => {
                        let reply = format!("550 5.1.1 <{r}>: Recipient address rejected: User unknown in local recipient table");
                        w.row(at, Some(id), &mid, &sender, r, size, SERVER, "bounced", &reply);
                        let l = status(at, "5.1.1", "bounced", &said(&reply));
                        w.line(at, &format!("smtp[{}]", pid + 2), &l);
                    }
                    5 => {
                        w.row(at, Some(id), &mid, &sender, r, size, "queue", "held", "held by a person");
                        held = true;
                    }
                    _ => {
                        w.row(at, Some(id), &mid, &sender, r, size, SERVER, "sent", &sent);
                        let l = status(at, "2.0.0", "sent", &sent);
                        w.line(at, &format!("smtp[{}]", pid + 2), &l);
                    }
                }
            }
            if held {
                w.line(
                    t,
                    &format!("cleanup[{}]", pid + 1),
                    &format!("{qid}: hold: header Subject: bench from local; from=<{sender}> to=<{}>", rcpts[0]),
                );
            } else {
                w.line(t + 3000, "qmgr[900]", &format!("{qid}: removed"));
            }
        }
        let total = w.rows;
        w.log.flush().unwrap();
        drop(w);
        tx.commit().unwrap();
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
        eprintln!("built {total} rows in {:.1} s", built.elapsed().as_secs_f64());
    }
    // A queue that is not empty: 30 messages waiting (their 'received' rows are now).
    let mut store = Store::open(&path).expect("the outbox opens");
    let batch: Vec<Submission> = (0..30)
        .map(|i| Submission {
            sender: "sender1@example.com".into(),
            recipients: vec![format!("user{i}@example.org")],
            body: b"Subject: waiting\r\n\r\nx\r\n".to_vec(),
            subject: "waiting".into(),
            message_id: format!("<w{i}@example.com>"),
            source: "sendmail".into(),
            options: Dsn::default(),
            profile: "global".into(),
        })
        .collect();
    store.insert(&batch).unwrap();

    let size =
        ["outbox.sqlite3", "outbox.sqlite3-wal"].iter().map(|f| std::fs::metadata(dir.join(f)).map(|m| m.len()).unwrap_or(0)).sum::<u64>();
    let maillog = std::fs::metadata(dir.join("maillog")).map(|m| m.len()).unwrap_or(0);
    let today_rows = mail_log_count(&store, today);
    println!(
        "database: {:.1} MB ({} rows; {today_rows} of them today; {} rollup rows); Postfix log of the same: {:.1} MB",
        size as f64 / 1e6,
        count(&store),
        rollup_rows(&store),
        maillog as f64 / 1e6
    );

    // `target_ms` 0: the issue sets none; the figure is for comparison.
    let time = |name: &str, target_ms: f64, f: &mut dyn FnMut() -> usize| {
        let mut ms: Vec<f64> = (0..runs)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(f());
                t.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        ms.sort_by(f64::total_cmp);
        let median = ms[ms.len() / 2];
        let verdict = match target_ms {
            0.0 => "no target".to_string(),
            t if median <= t => format!("target ≤ {t} ms: ok"),
            t => format!("target ≤ {t} ms: OVER"),
        };
        println!("{name:<38} {median:>9.2} ms  ({verdict}; min {:.2}, max {:.2})", ms[0], ms[ms.len() - 1]);
    };
    let page = |q: mail_log::LogQuery| mail_log::page(&store, &q).expect("page").entries.len();
    time("log: first page (50)", 20.0, &mut || page(mail_log::LogQuery { limit: 50, ..Default::default() }));
    // A page in the middle of the range (keyset: the cursor of a row half-way back).
    let mid_at = now - (now - if all_today { today } else { now - days * 86_400_000 }) / 2;
    let deep =
        mail_log::page(&store, &mail_log::LogQuery { until: Some(mid_at), limit: 1, ..Default::default() }).unwrap().entries[0].clone();
    let cursor = Cursor { at: deep.at, id: deep.id };
    time("log: deep page (50)", 20.0, &mut || page(mail_log::LogQuery { before: Some(cursor), limit: 50, ..Default::default() }));
    time("log: address filter (50)", 20.0, &mut || {
        page(mail_log::LogQuery { address: Some("user1@example.org".into()), limit: 50, ..Default::default() })
    });
    time("log: bounced only (50)", 20.0, &mut || {
        page(mail_log::LogQuery { result: Some(mail_log::LogResult::Bounced), limit: 50, ..Default::default() })
    });
    let (from, to) = report::today(now);
    time("report: today", 300.0, &mut || report::build(&store, from, to).expect("report").hours.len());
    let (yf, yt) = report::yesterday(now);
    if !all_today {
        time("report: yesterday (a whole day)", 300.0, &mut || report::build(&store, yf, yt).expect("report").hours.len());
        let week = (yt - 7 * 86_400_000, yt);
        time("report: the last 7 days", 0.0, &mut || report::build(&store, week.0, week.1).expect("report").hours.len());
    }
    let mut settings = smtp_desk::settings::Settings::default();
    settings.profile.mode = smtp_desk::settings::Mode::Relay;
    settings.profile.relay.host = "smtp.example.net".into();
    time("dashboard", 50.0, &mut || dashboard::load(&store, &settings, true, now).expect("dashboard").latest_events.len());
}

fn smtp_desk_insert() -> &'static str {
    "INSERT INTO mail_log (at, message, message_id, sender, recipient, size, server, tls, result, reply, duration_ms)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
}

fn count(store: &Store) -> u64 {
    mail_log_count(store, i64::MIN)
}

fn mail_log_count(store: &Store, since: i64) -> u64 {
    let conn = rusqlite::Connection::open(store.path()).unwrap();
    conn.query_row("SELECT count(*) FROM mail_log WHERE at >= ?1", [since], |r| r.get::<_, i64>(0)).unwrap() as u64
}

/// Rows of the report's rollups (migration 7: per 15 minutes, totals by result, senders,
/// recipients, servers): what a report reads instead of the mail log's rows.
fn rollup_rows(store: &Store) -> u64 {
    let conn = rusqlite::Connection::open(store.path()).unwrap();
    conn.query_row(
        "SELECT (SELECT count(*) FROM rollup_total) + (SELECT count(*) FROM rollup_sender)
              + (SELECT count(*) FROM rollup_recipient) + (SELECT count(*) FROM rollup_server)",
        [],
        |r| r.get::<_, i64>(0),
    )
    .unwrap() as u64
}
