//! Crash safety of delivery: the agent (`smtp-desk deliver --once` and `--daemon`, in turn) is
//! killed with SIGKILL ten times at random points while it drains 2,000 messages to Postfix's
//! `smtp-sink`, which records every message it accepts (`-D`); then a last run drains the rest.
//! Every message must arrive, nothing may stay `sending`, and the only duplicates allowed are
//! messages that were in flight at a kill (delivered but not yet recorded as sent), at most two
//! per connection per kill (the one being sent and the one whose result awaits its commit).
//!
//! The per-round figures go straight to stderr (not through the test harness's capture), so they
//! show in the test command's output. `CRASH_SEED=n` replays a run's kill points.

use smtp_desk::outbox::{Dsn, MessageSummary, PageQuery, State, Store, Submission};
use std::collections::{HashMap, HashSet};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_smtp-desk");
const SINK: &str = "/usr/sbin/smtp-sink";
const MESSAGES: usize = 2_000;
const KILLS: usize = 10;
const CONNECTIONS: usize = 4;
/// Messages a drain pass claims at a time into the stock its workers share (`CLAIM` in
/// src/outbox/deliver.rs), refilled once when it runs empty: with each of the [`CONNECTIONS`]
/// workers holding at most two more (one sending, one awaiting its commit), at most CLAIM + 2 ×
/// connections are `sending` at any moment. Claimed but unsent messages go back to queued after
/// a kill; only [`UNRECORDED_PER_CONNECTION`] per connection can become duplicates.
const CLAIM: usize = 64;
/// Messages a worker may have delivered but not yet recorded: the duplicates one kill can cause.
const UNRECORDED_PER_CONNECTION: usize = 2;
/// The last line of every test message: a record in the dump counts only once it is there.
const END: &[u8] = b"crash-test-end <crash-";

/// Writes past the test harness's output capture, so the figures are seen on a passing run too.
macro_rules! report {
    ($($t:tt)*) => {{
        let _ = writeln!(std::io::stderr().lock(), $($t)*);
    }};
}

/// A small deterministic generator (xorshift64*): the kill points, replayable from the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// Postfix's smtp-sink on a loopback port, appending every accepted message to one dump file.
struct Sink {
    child: Child,
    port: u16,
    dump: PathBuf,
    _dir: tempfile::TempDir,
}

impl Sink {
    fn start() -> Sink {
        assert!(Path::new(SINK).exists(), "{SINK} is missing: install Debian's postfix package (scripts/setup.sh test does)");
        let dir = tempfile::tempdir().unwrap();
        let dump = dir.path().join("dump");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut cmd = Command::new(SINK);
        // As root smtp-sink insists on dropping to another user, who must be able to write the dump.
        if unsafe { libc::geteuid() } == 0 {
            std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
            cmd.args(["-u", "nobody"]);
        }
        let child = cmd.arg("-D").arg(&dump).arg(format!("127.0.0.1:{port}")).arg("256").stdin(Stdio::null()).spawn().unwrap();
        let end = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < end, "smtp-sink did not start listening");
            std::thread::sleep(Duration::from_millis(20));
        }
        Sink { child, port, dump, _dir: dir }
    }

    /// How many times each message (by number) is in the dump, counting complete records only.
    fn received(&self) -> HashMap<usize, usize> {
        let bytes = std::fs::read(&self.dump).unwrap_or_default();
        let mut seen = HashMap::new();
        for line in bytes.split(|&b| b == b'\n') {
            if let Some(rest) = line.strip_prefix(END) {
                let n: usize = std::str::from_utf8(rest).unwrap().trim_end().trim_end_matches("@test>").parse().unwrap();
                *seen.entry(n).or_insert(0) += 1;
            }
        }
        seen
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Counts complete records as the dump grows, reading only what was added.
struct Tail {
    path: PathBuf,
    pos: u64,
    carry: Vec<u8>,
    records: usize,
}

impl Tail {
    fn poll(&mut self) -> usize {
        if let Ok(mut f) = std::fs::File::open(&self.path) {
            let mut data = std::mem::take(&mut self.carry);
            let before = data.len();
            f.seek(SeekFrom::Start(self.pos)).unwrap();
            f.read_to_end(&mut data).unwrap();
            self.pos += (data.len() - before) as u64;
            self.records += data.windows(END.len()).filter(|w| *w == END).count();
            // A marker cut by the end of the read is completed by the next one.
            self.carry = data[data.len().saturating_sub(END.len() - 1)..].to_vec();
        }
        self.records
    }
}

fn message(i: usize) -> Submission {
    let mid = format!("<crash-{i}@test>");
    let mut body = format!("From: me@example.com\r\nTo: bob@example.com\r\nMessage-ID: {mid}\r\nSubject: crash {i}\r\n\r\n");
    for l in 0..12 {
        body.push_str(&format!("line {l:02} of message {i}, some text to give it a realistic size............\r\n"));
    }
    body.push_str(&format!("crash-test-end {mid}\r\n"));
    Submission {
        sender: "me@example.com".into(),
        recipients: vec!["bob@example.com".into()],
        body: body.into_bytes(),
        subject: format!("crash {i}"),
        message_id: mid,
        source: "test".into(),
        options: Dsn::default(),
        profile: "global".into(),
    }
}

fn message_number(message_id: &str) -> usize {
    message_id.trim_start_matches("<crash-").trim_end_matches("@test>").parse().unwrap()
}

/// What one kill left behind.
struct Round {
    in_flight: usize,
    owed: usize,
}

#[test]
fn kill_9_the_agent_ten_times_mid_drain_then_everything_is_delivered_once_or_in_flight_twice() {
    let started = Instant::now();
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1);
    let mut rng = Rng(seed);
    let sink = Sink::start();
    let (config, data) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let desk = |args: &[&str]| {
        let mut c = Command::new(BIN);
        c.env("SMTP_DESK_CONFIG_DIR", config.path()).env("SMTP_DESK_DATA_DIR", data.path()).args(args);
        c
    };
    let port = sink.port.to_string();
    let connections = CONNECTIONS.to_string();
    let set = desk(&[
        "config",
        "set",
        "mode",
        "relay",
        "relay.host",
        "127.0.0.1",
        "relay.port",
        &port,
        "relay.security",
        "none",
        "sender.from_address",
        "me@example.com",
        "limits.timeout_secs",
        "10",
        "limits.connection_limit",
        &connections,
        "limits.batch_size",
        "50",
    ])
    .output()
    .unwrap();
    assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));

    let queue = data.path().join("outbox.sqlite3");
    {
        let mut store = Store::open(&queue).unwrap();
        let all: Vec<Submission> = (0..MESSAGES).map(message).collect();
        for chunk in all.chunks(250) {
            store.insert(chunk).unwrap();
        }
    }
    report!(
        "crash test: {MESSAGES} messages queued in {:?}; {KILLS} kills, claim {CLAIM} + 2 × {CONNECTIONS} connections = at most {} claimed; seed {seed} (CRASH_SEED={seed} replays)",
        started.elapsed(),
        CLAIM + 2 * CONNECTIONS
    );

    let mut tail = Tail { path: sink.dump.clone(), pos: 0, carry: Vec::new(), records: 0 };
    let mut rounds = Vec::new();
    let mut records_before = 0;
    let mut unique_before = 0;
    for round in 0..KILLS {
        let mode = if round % 2 == 0 { "--once" } else { "--daemon" };
        let undelivered = (MESSAGES - unique_before) as u64;
        // Most kills after a random number of deliveries (spread so the queue lasts all ten
        // rounds), some after a random few milliseconds: while starting, claiming or connecting.
        let early = rng.range(0, 4) == 0;
        let after_records = rng.range(1, (undelivered * 8 / 5 / (KILLS - round + 1) as u64).max(2));
        let after_ms = rng.range(0, 40);
        let extra_us = rng.range(0, 3_000);
        let t0 = Instant::now();
        let mut agent = desk(&["deliver", mode, "--quiet"]).stdin(Stdio::null()).spawn().unwrap();
        let start_records = tail.poll();
        let how = loop {
            if let Some(status) = agent.try_wait().unwrap() {
                panic!("round {round}: the agent ended ({status}) before the kill: the kill points left nothing to drain");
            }
            if early && t0.elapsed() >= Duration::from_millis(after_ms) {
                break format!("{after_ms} ms after start");
            }
            if !early && tail.poll() - start_records >= after_records as usize {
                std::thread::sleep(Duration::from_micros(extra_us));
                break format!("after {after_records} deliveries + {extra_us} µs");
            }
            assert!(t0.elapsed() < Duration::from_secs(30), "round {round}: no progress in 30 s");
            std::thread::sleep(Duration::from_micros(500));
        };
        agent.kill().unwrap(); // SIGKILL
        agent.wait().unwrap();
        let alive_ms = t0.elapsed().as_millis();
        // Let the sink finish writing what it had accepted before the kill.
        std::thread::sleep(Duration::from_millis(300));
        let received = sink.received();
        let records: usize = received.values().sum();
        let store = Store::open(&queue).unwrap();
        let sending = every(&store, Some(State::Sending));
        let owed = sending.iter().filter(|m| received.contains_key(&message_number(&m.message_id))).count();
        drop(store);
        report!(
            "round {:>2} {mode:<8} killed {how:<32} (alive {alive_ms:>4} ms): delivered {:>4}/{MESSAGES}, {:>3} new duplicates; in flight at the kill {:>2}, of them already delivered (to be sent again) {:>2}",
            round + 1,
            received.len(),
            (records - records_before) - (received.len() - unique_before),
            sending.len(),
            owed
        );
        assert!(sending.len() <= CLAIM + 2 * CONNECTIONS, "round {round}: {} claimed, over {CLAIM} + 2 × {CONNECTIONS}", sending.len());
        assert!(
            owed <= UNRECORDED_PER_CONNECTION * CONNECTIONS,
            "round {round}: {owed} delivered but unrecorded, over {UNRECORDED_PER_CONNECTION} × {CONNECTIONS} connections"
        );
        rounds.push(Round { in_flight: sending.len(), owed });
        records_before = records;
        unique_before = received.len();
    }

    let last = desk(&["deliver", "--once"]).stdin(Stdio::null()).output().unwrap();
    assert!(last.status.success(), "the last run: {}", String::from_utf8_lossy(&last.stderr));
    std::thread::sleep(Duration::from_millis(300));
    let received = sink.received();
    let records: usize = received.values().sum();
    let missing: Vec<usize> = (0..MESSAGES).filter(|i| !received.contains_key(i)).collect();
    let duplicates = records - received.len();
    let owed: usize = rounds.iter().map(|r| r.owed).sum();
    let in_flight: usize = rounds.iter().map(|r| r.in_flight).sum();
    report!(
        "crash test: after the last run {} of {MESSAGES} delivered, {} missing; {duplicates} duplicates in all (in flight at the kills: {in_flight}, delivered but unrecorded: {owed}); {:?} in all",
        received.len(),
        missing.len(),
        started.elapsed()
    );
    assert!(missing.is_empty(), "lost messages: {missing:?}");
    assert!(received.keys().all(|&i| i < MESSAGES), "the sink got messages that were never queued");
    assert!(duplicates <= owed, "{duplicates} duplicates, but only {owed} were in flight and already delivered at the kills");
    let store = Store::open(&queue).unwrap();
    let counts = store.counts().unwrap();
    assert_eq!(counts.sending, 0, "nothing may be left sending: {counts:?}");
    assert_eq!((counts.sent, counts.messages), (MESSAGES as u64, MESSAGES as u64), "all sent: {counts:?}");
    let ids: HashSet<String> = every(&store, None).into_iter().filter(|m| m.state == State::Sent).map(|m| m.message_id).collect();
    assert_eq!(ids.len(), MESSAGES);
}

/// Every message (in `state`), newest first, page by page.
fn every(store: &Store, state: Option<State>) -> Vec<MessageSummary> {
    let mut all = Vec::new();
    let mut before = None;
    loop {
        let page = store.page(&PageQuery { state, before, limit: 500, ..PageQuery::default() }).unwrap();
        before = page.messages.last().map(|m| m.id);
        all.extend(page.messages);
        if !page.older || before.is_none() {
            return all;
        }
    }
}
