//! Benchmark of the queue screen's reads (issue 8: "a page in ≤ 20 ms" at 100,000 messages): fills
//! an outbox with `N` messages in bulk (1,000 per transaction), spreads their recipients over the
//! states, then times `Store::page` (first page, a deep page, filtered, searched) and
//! `Store::overview` through the core, median of `RUNS`. Run by scripts/bench-outbox.sh `ONLY=queue`.
//!
//!   cargo run --release --example queue_page -- DIR [N] [RUNS] [BODY_BYTES]

use smtp_desk::outbox::{Dsn, PageQuery, State, Store, Submission};
use smtp_desk::settings::Mode;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().expect("usage: queue_page DIR [N] [RUNS] [BODY_BYTES]"));
    let n: usize = args.next().map_or(100_000, |a| a.parse().expect("N"));
    let runs: usize = args.next().map_or(50, |a| a.parse().expect("RUNS"));
    let body_bytes: usize = args.next().map_or(4096, |a| a.parse().expect("BODY_BYTES"));
    let path = dir.join("outbox.sqlite3");
    let _ = std::fs::remove_file(&path);
    let mut store = Store::open(&path).expect("the outbox opens");

    let started = Instant::now();
    let line = "a line of the benchmark message, padded to about sixty-four bytes.\r\n";
    let body_text: String = line.repeat(body_bytes / line.len() + 1)[..body_bytes].to_string();
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let batch: Vec<Submission> = chunk
            .iter()
            .map(|&i| {
                let mut recipients = vec![format!("rcpt{}@example.org", i % 1000)];
                if i % 5 == 0 {
                    recipients.push("team@example.net".into());
                }
                Submission {
                    sender: format!("app{}@example.com", i % 50),
                    recipients,
                    body: format!("Subject: report {i}\r\n\r\n{body_text}").into_bytes(),
                    subject: format!("report {i}"),
                    message_id: format!("<{i}@bench.example>"),
                    source: "bench".into(),
                    options: Dsn::default(),
                    profile: "global".into(),
                }
            })
            .collect();
        store.insert(&batch).expect("a batch is queued");
    }
    drop(store);
    // States as a queue that has been running looks: mostly sent, some deferred, a few held and failed.
    let conn = rusqlite::Connection::open(&path).expect("the outbox opens for the fill");
    conn.execute_batch(
        "UPDATE recipient SET state = CASE
             WHEN message % 1000 = 7 THEN 'failed'
             WHEN message % 10 = 1 THEN 'deferred'
             WHEN message % 50 = 3 THEN 'held'
             WHEN message % 3 = 0 THEN 'queued'
             ELSE 'sent' END,
           attempts = 1, last_reply = '250 2.0.0 Ok: queued';",
    )
    .expect("states are spread");
    drop(conn);
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0)
        + std::fs::metadata(dir.join("outbox.sqlite3-wal")).map(|m| m.len()).unwrap_or(0);
    eprintln!("== filled {n} messages ({body_bytes}-byte bodies, {} MB) in {:.1} s", size / 1_000_000, started.elapsed().as_secs_f64());

    let store = Store::open(&path).expect("the outbox opens");
    let oldest = store.page(&PageQuery { limit: 1, after: Some(0), ..PageQuery::default() }).expect("a page").messages[0].id;
    let cases: Vec<(&str, PageQuery)> = vec![
        ("first page (50)", PageQuery::default()),
        ("deep page (the last 50)", PageQuery { before: Some(oldest + 50), ..PageQuery::default() }),
        ("filtered: state failed", PageQuery { state: Some(State::Failed), ..PageQuery::default() }),
        ("filtered: state queued, deep", PageQuery { state: Some(State::Queued), before: Some(oldest + 500), ..PageQuery::default() }),
        ("searched: 'rcpt7@'", PageQuery { search: Some("rcpt7@".into()), ..PageQuery::default() }),
        (
            "filtered + searched: deferred, 'rcpt10@'",
            PageQuery { state: Some(State::Deferred), search: Some("rcpt10@".into()), ..PageQuery::default() },
        ),
        ("searched, no match", PageQuery { search: Some("nobody@nowhere".into()), ..PageQuery::default() }),
        ("searched broadly: 'example' (merged scan)", PageQuery { search: Some("example".into()), ..PageQuery::default() }),
    ];
    println!("queue screen reads at {n} messages (median of {runs}, through smtp_desk::outbox::Store):");
    for (name, q) in &cases {
        let (median, max, shown) = time(runs, || store.page(q).expect("a page").messages.len());
        println!("  {name:<42} median {median:6.2} ms   max {max:6.2} ms   ({shown} rows)");
    }
    let (median, max, _) = time(runs, || store.overview(Mode::Relay).expect("counts").counts.messages as usize);
    println!("  {:<42} median {median:6.2} ms   max {max:6.2} ms", "overview (counts, waiting)");
    println!("  target: a page <= 20 ms");
    drop(store);

    // What the search's upkeep (migration 4: distinct addresses by trigger, message_by_sender)
    // costs intake: one message per transaction at synchronous=FULL, as sendmail commits, with
    // and without it (dropped on this copy only).
    let one = |i: usize| Submission {
        sender: format!("app{}@example.com", i % 50),
        recipients: vec![format!("new{i}@example.org"), "team@example.net".into()],
        body: format!("Subject: intake {i}\r\n\r\n{body_text}").into_bytes(),
        subject: format!("intake {i}"),
        message_id: format!("<intake{i}@bench.example>"),
        source: "bench".into(),
        options: Dsn::default(),
        profile: "global".into(),
    };
    let mut k = 0;
    let mut intake = Store::open_for_intake(&path).expect("the outbox opens for intake");
    let (with, with_max, _) = time(runs, || {
        k += 1;
        intake.insert(&[one(k)]).expect("queued").len()
    });
    drop(intake);
    rusqlite::Connection::open(&path)
        .and_then(|c| {
            c.execute_batch(
                "DROP TRIGGER search_address_of_sender; DROP TRIGGER search_address_of_recipient; DROP INDEX message_by_sender;",
            )
        })
        .expect("the search's upkeep is dropped");
    let mut intake = Store::open_for_intake(&path).expect("the outbox opens for intake");
    let (without, without_max, _) = time(runs, || {
        k += 1;
        intake.insert(&[one(k)]).expect("queued").len()
    });
    println!("intake, one message per commit (fsync), median of {runs}:");
    println!("  {:<42} median {with:6.2} ms   max {with_max:6.2} ms", "with the search's upkeep");
    println!("  {:<42} median {without:6.2} ms   max {without_max:6.2} ms", "without (triggers and index dropped)");
}

fn time(runs: usize, mut f: impl FnMut() -> usize) -> (f64, f64, usize) {
    let mut shown = f(); // warm: the first read pulls pages into the cache
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            shown = f();
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], times[times.len() - 1], shown)
}
