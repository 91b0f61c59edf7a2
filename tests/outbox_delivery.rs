//! Delivery of the outbox to a real SMTP server (aiosmtpd, tests/servers/smtp_server.py) through
//! the real `smtp-desk` binary: intake → `deliver --once` → delivered byte for byte; server down →
//! deferred → up → delivered; 5xx and 4xx per recipient; Mode Off; the connection cap; and kill -9
//! of the agent mid-drain.

mod support;

use serde_json::Value;
use smtp_desk::outbox::{Dsn, Store, Submission};
use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::Server;

const BIN: &str = env!("CARGO_BIN_EXE_smtp-desk");

struct Desk {
    config: tempfile::TempDir,
    data: tempfile::TempDir,
}

impl Desk {
    /// Relay mode to 127.0.0.1:`port`, no TLS, no login.
    fn relay(port: u16, extra: &[&str]) -> Desk {
        let d = Desk { config: tempfile::tempdir().unwrap(), data: tempfile::tempdir().unwrap() };
        let port = port.to_string();
        let mut args = vec![
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
            "local_recipient",
            "admin@example.com",
            "limits.timeout_secs",
            "5",
        ];
        args.extend_from_slice(extra);
        ok(&d.run(&args, b""));
        d
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new(BIN);
        c.env("SMTP_DESK_CONFIG_DIR", self.config.path()).env("SMTP_DESK_DATA_DIR", self.data.path());
        c
    }

    fn run(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut child = self.cmd().args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        child.wait_with_output().unwrap()
    }

    fn store(&self) -> Store {
        Store::open(&self.data.path().join("outbox.sqlite3")).unwrap()
    }

    fn list(&self) -> Vec<Value> {
        let o = self.run(&["queue", "list", "--json", "--limit", "100000"], b"");
        ok(&o);
        String::from_utf8(o.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    /// Queues `n` messages directly (one transaction), as intake would.
    fn queue(&self, n: usize, recipients: &[&str]) {
        let batch: Vec<Submission> = (0..n)
            .map(|i| {
                let mid = format!("<m{i}@test>");
                Submission {
                    sender: "me@example.com".into(),
                    recipients: recipients.iter().map(|r| r.to_string()).collect(),
                    body: format!("From: me@example.com\r\nTo: x@example.com\r\nMessage-ID: {mid}\r\nSubject: n{i}\r\n\r\nmessage {i}\r\n")
                        .into_bytes(),
                    subject: format!("n{i}"),
                    message_id: mid,
                    source: "test".into(),
                    options: Dsn::default(),
                }
            })
            .collect();
        self.store().insert(&batch).unwrap();
    }

    fn deliver_once(&self) -> Output {
        self.run(&["deliver", "--once"], b"")
    }
}

fn ok(o: &Output) {
    assert!(o.status.success(), "exit {:?}: {}", o.status.code(), String::from_utf8_lossy(&o.stderr));
}

fn recipient_states(m: &Value) -> HashMap<String, (String, String)> {
    m["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["address"].as_str().unwrap().to_string(),
                (r["state"].as_str().unwrap().to_string(), r["last_reply"].as_str().unwrap_or("").to_string()),
            )
        })
        .collect()
}

fn message_ids(server: &Server) -> Vec<String> {
    server
        .received()
        .iter()
        .map(|m| {
            let c = m["content"].as_str().unwrap();
            c.lines().find_map(|l| l.strip_prefix("Message-ID: ")).unwrap_or("").trim().to_string()
        })
        .collect()
}

fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

/// A port with nothing listening (bound, then released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn sendmail_then_deliver_once_is_delivered_byte_for_byte() {
    let server = Server::start(&[]);
    let desk = Desk::relay(server.port, &[]);
    let input = b"To: Bob <bob@example.com>\nCc: carol@example.com\nSubject: Report\n\nLine one\n.leading dot\n..two dots\n\nlast\n";
    ok(&desk.run(&["sendmail", "-t", "-i"], input));
    ok(&desk.deliver_once());
    let list = desk.list();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["state"], "sent", "{list:?}");
    let stored = desk.store().raw_message(list[0]["id"].as_i64().unwrap()).unwrap();
    let got = server.received();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["content"].as_str().unwrap().as_bytes(), &stored[..], "the server has exactly the queued bytes");
    let text = String::from_utf8(stored).unwrap();
    assert!(text.contains("\r\nLine one\r\n.leading dot\r\n..two dots\r\n\r\nlast\r\n"), "{text}");
    assert!(text.contains("Message-ID: <") && text.contains("Date: ") && text.contains("From: "), "added headers: {text}");
    let mut rcpts: Vec<&str> = got[0]["rcpt_tos"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    rcpts.sort();
    assert_eq!(rcpts, ["bob@example.com", "carol@example.com"]);
    assert_eq!(got[0]["mail_from"], "me@example.com");
    // Every attempt is in the log table.
    let n: i64 = rusqlite::Connection::open(desk.data.path().join("outbox.sqlite3"))
        .unwrap()
        .query_row("SELECT count(*) FROM attempts WHERE result = 'sent'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2);
}

#[test]
fn sendmail_alone_starts_delivery() {
    let server = Server::start(&[]);
    let desk = Desk::relay(server.port, &[]);
    ok(&desk.run(&["sendmail", "bob@example.com"], b"Subject: no agent running\n\nhi\n"));
    assert!(wait_until(Duration::from_secs(10), || server.received().len() == 1), "sendmail started a one-shot delivery");
    assert!(wait_until(Duration::from_secs(5), || desk.list()[0]["state"] == "sent"));
}

#[test]
fn server_down_defers_with_the_reason_then_retry_delivers() {
    let port = free_port();
    let desk = Desk::relay(port, &[]);
    desk.queue(1, &["bob@example.com"]);
    let o = desk.deliver_once();
    assert_eq!(o.status.code(), Some(75), "a failed connection: {}", String::from_utf8_lossy(&o.stderr));
    let m = &desk.list()[0];
    let (state, reply) = &recipient_states(m)["bob@example.com"];
    assert_eq!(state, "deferred");
    assert!(reply.contains("refused"), "the reason is kept: {reply}");
    assert!(m["recipients"][0]["next_try_at"].as_i64().unwrap() > 0);
    // Not due yet: a second run leaves it alone.
    ok(&desk.deliver_once());
    assert_eq!(desk.list()[0]["recipients"][0]["attempts"], 1);

    let server = Server::start(&["--port", &port.to_string()]);
    let id = m["id"].as_i64().unwrap().to_string();
    ok(&desk.run(&["queue", "retry", &id], b""));
    ok(&desk.deliver_once());
    assert!(wait_until(Duration::from_secs(5), || desk.list()[0]["state"] == "sent"), "{:?}", desk.list());
    assert_eq!(message_ids(&server), ["<m0@test>"]);
}

#[test]
fn refused_recipients_fail_or_defer_alone_and_the_others_are_delivered() {
    let server = Server::start(&["--refuse-rcpt", "nobody@example.com", "--defer-rcpt", "later@example.com"]);
    let desk = Desk::relay(server.port, &[]);
    desk.queue(1, &["a@example.com", "nobody@example.com", "b@example.com", "later@example.com"]);
    ok(&desk.deliver_once());
    let states = recipient_states(&desk.list()[0]);
    assert_eq!(states["a@example.com"].0, "sent");
    assert_eq!(states["b@example.com"].0, "sent");
    assert_eq!(states["nobody@example.com"].0, "failed");
    assert!(states["nobody@example.com"].1.starts_with("550 5.1.1 <nobody@example.com>"), "{:?}", states["nobody@example.com"]);
    assert_eq!(states["later@example.com"].0, "deferred");
    assert!(states["later@example.com"].1.starts_with("450 4.2.0"), "{:?}", states["later@example.com"]);
    let got = server.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["rcpt_tos"], serde_json::json!(["a@example.com", "b@example.com"]));
}

#[test]
fn mode_off_sends_nothing() {
    let server = Server::start(&[]);
    let desk = Desk::relay(server.port, &["mode", "off"]);
    ok(&desk.run(&["sendmail", "bob@example.com"], b"Subject: held\n\nhi\n"));
    let o = desk.deliver_once();
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stderr).contains("held while sending is off"), "{}", String::from_utf8_lossy(&o.stderr));
    std::thread::sleep(Duration::from_millis(300));
    assert!(server.received().is_empty());
    assert_eq!(desk.list()[0]["state"], "queued");
}

#[test]
fn connection_limit_is_a_hard_cap() {
    let dir = tempfile::tempdir().unwrap();
    let sessions = dir.path().join("sessions");
    let server = Server::start(&["--sessions", sessions.to_str().unwrap(), "--data-delay", "0.1"]);
    let desk = Desk::relay(server.port, &["limits.connection_limit", "2", "limits.batch_size", "3"]);
    desk.queue(20, &["bob@example.com"]);
    ok(&desk.deliver_once());
    let mut ids = message_ids(&server);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20);
    assert_eq!(std::fs::read_to_string(&sessions).unwrap(), "2", "never more than 2 sessions at once, and both used");
    assert!(desk.list().iter().all(|m| m["state"] == "sent"));
}

#[test]
fn kill_9_mid_drain_then_restart_delivers_everything() {
    const N: usize = 300;
    let server = Server::start(&[]);
    let desk = Desk::relay(server.port, &["limits.connection_limit", "4"]);
    desk.queue(N, &["bob@example.com"]);
    let mut agent = desk.cmd().args(["deliver", "--once", "--quiet"]).stdin(Stdio::null()).spawn().unwrap();
    assert!(wait_until(Duration::from_secs(20), || server.received().len() >= N / 3), "delivery got going");
    agent.kill().unwrap(); // SIGKILL
    agent.wait().unwrap();
    let at_kill = server.received().len();
    assert!(at_kill < N, "killed mid-drain ({at_kill} of {N} delivered)");
    ok(&desk.deliver_once());
    let ids = message_ids(&server);
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), N, "every message delivered");
    let duplicates = ids.len() - unique.len();
    eprintln!("kill -9 after {at_kill} of {N} delivered; duplicates after restart: {duplicates}");
    assert!(duplicates <= 4, "at most one in flight per connection was sent again: {duplicates}");
    assert!(desk.list().iter().all(|m| m["state"] == "sent"));
}

#[test]
fn a_daemon_is_woken_by_sendmail_and_by_deliver_once() {
    let server = Server::start(&[]);
    let desk = Desk::relay(server.port, &[]);
    let mut daemon = desk.cmd().args(["deliver", "--daemon", "--quiet"]).stdin(Stdio::null()).spawn().unwrap();
    assert!(wait_until(Duration::from_secs(5), || desk.data.path().join("deliver.sock").exists()), "the daemon listens");
    ok(&desk.run(&["sendmail", "bob@example.com"], b"Subject: one\n\nhi\n"));
    assert!(wait_until(Duration::from_secs(5), || server.received().len() == 1), "sendmail woke the daemon");
    // Queued behind the daemon's back (no wake): `deliver --once` only wakes it, and it delivers.
    desk.queue(1, &["carol@example.com"]);
    let o = desk.deliver_once();
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stderr).contains("woken"), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(wait_until(Duration::from_secs(5), || server.received().len() == 2));
    let second = desk.cmd().args(["deliver", "--daemon"]).output().unwrap();
    assert_eq!(second.status.code(), Some(64), "one daemon at a time");
    daemon.kill().unwrap();
    daemon.wait().unwrap();
}

#[test]
fn a_message_deferred_past_the_maximum_age_fails() {
    let desk = Desk::relay(free_port(), &["limits.max_queue_age_hours", "1"]);
    desk.queue(1, &["bob@example.com"]);
    let old = smtp_desk_now_millis() - 2 * 3_600_000;
    rusqlite::Connection::open(desk.data.path().join("outbox.sqlite3"))
        .unwrap()
        .execute("UPDATE message SET received_at = ?1", [old])
        .unwrap();
    assert_eq!(desk.deliver_once().status.code(), Some(75));
    let (state, reply) = recipient_states(&desk.list()[0])["bob@example.com"].clone();
    assert_eq!(state, "failed");
    assert!(reply.starts_with("gave up after 1 hours in the queue") && reply.contains("refused"), "{reply}");
    let o = desk.run(&["config", "set", "limits.max_queue_age_hours", "0"], b"");
    assert!(
        !o.status.success() && String::from_utf8_lossy(&o.stderr).contains("max_queue_age_hours"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn smtp_desk_now_millis() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// Issue 8, Mode Off: mail is accepted and kept queued (not held: that is a person's decision),
/// no one-shot agent is started for it, and turning sending on delivers it.
#[test]
fn mode_off_keeps_mail_without_an_agent_and_sending_on_delivers_it() {
    let server = Server::start(&[]);
    let desk = Desk::relay(server.port, &["mode", "off"]);
    ok(&desk.run(&["sendmail", "bob@example.com"], b"Subject: kept\n\nhi\n"));
    // A detached one-shot run would have taken the agent lock (creating the file) by now.
    std::thread::sleep(Duration::from_millis(800));
    assert!(!desk.data.path().join("deliver.lock").exists(), "sendmail started a delivery agent while sending is off");
    assert_eq!(desk.list()[0]["state"], "queued");
    assert!(server.received().is_empty());

    ok(&desk.run(&["config", "set", "mode", "relay"], b""));
    let deadline = Instant::now() + Duration::from_secs(15);
    while server.received().is_empty() {
        assert!(Instant::now() < deadline, "turning sending on did not deliver the kept mail");
        std::thread::sleep(Duration::from_millis(100));
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while desk.list()[0]["state"] != "sent" {
        assert!(Instant::now() < deadline, "{:?}", desk.list());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Issue 8: the window is the delivery agent while it is open, unless `deliver --daemon` already
/// runs: then the window's agent only wakes the daemon, which delivers.
#[tokio::test(flavor = "multi_thread")]
async fn a_window_agent_leaves_delivery_to_a_running_daemon() {
    use smtp_desk::outbox::agent::Kind;
    use smtp_desk::outbox::runner::{self, Finished};
    let server = Server::start(&[]);
    let desk = Desk::relay(server.port, &[]);
    let mut daemon = desk.cmd().args(["deliver", "--daemon", "--quiet"]).stdin(Stdio::null()).spawn().unwrap();
    assert!(wait_until(Duration::from_secs(5), || desk.data.path().join("deliver.sock").exists()), "the daemon listens");
    desk.queue(1, &["window@example.com"]);
    let path = desk.data.path().join("outbox.sqlite3");
    let cancel = smtp_desk::smtp::CancelToken::new();
    let run = tokio::time::timeout(Duration::from_secs(5), runner::run(&path, Kind::Window, &cancel, &mut |_| {})).await;
    assert_eq!(run.expect("the window's agent returned at once").unwrap(), Finished::WokeRunningAgent);
    assert!(wait_until(Duration::from_secs(5), || server.received().len() == 1), "the woken daemon delivered");
    daemon.kill().unwrap();
    daemon.wait().unwrap();
}
