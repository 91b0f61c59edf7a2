//! Delivery of the outbox to a real SMTP server (aiosmtpd, tests/servers/smtp_server.py) through
//! the real `smtp-desk` binary: intake → `deliver --once` → delivered byte for byte; server down →
//! deferred → up → delivered; 5xx and 4xx per recipient; Mode Off; the connection cap; and kill -9
//! of the agent mid-drain.

mod support;

use serde_json::Value;
use smtp_desk::outbox::{Dsn, Submission};
use std::collections::HashMap;
use std::io::Write;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};
use support::desk::{ok, Desk};
use support::Server;
use support::{free_port, wait_until};

impl Desk {
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
                    profile: "global".into(),
                }
            })
            .collect();
        self.store().insert(&batch).unwrap();
    }

    fn deliver_once(&self) -> Output {
        self.run(&["deliver", "--once"], b"")
    }
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
        .query_row("SELECT count(*) FROM mail_log WHERE result = 'sent'", [], |r| r.get(0))
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
    let got: Vec<Value> = server.received().into_iter().filter(|m| m["mail_from"] != "").collect();
    assert_eq!(got.len(), 1, "the message, beside the bounce for nobody@: {got:?}");
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
    // In flight per connection: the message being sent and the one before it whose result the
    // writer may not have committed yet (results are group-committed).
    assert!(duplicates <= 2 * 4, "at most the messages in flight were sent again: {duplicates}");
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

fn events(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn count_events(path: &std::path::Path, name: &str) -> usize {
    events(path).iter().filter(|e| e["event"] == name).count()
}

/// Queues one message from `sender` to `recipients` with the given DSN options.
fn queue_from(desk: &Desk, sender: &str, recipients: &[&str], options: Dsn, subject: &str) {
    let mid = format!("<{subject}@test>");
    desk.store()
        .insert(&[Submission {
            sender: sender.into(),
            recipients: recipients.iter().map(|r| r.to_string()).collect(),
            body: format!("From: {sender}\r\nTo: x@example.com\r\nMessage-ID: {mid}\r\nSubject: {subject}\r\n\r\nbody of {subject}\r\n")
                .into_bytes(),
            subject: subject.into(),
            message_id: mid,
            source: "test".into(),
            options,
            profile: "global".into(),
        }])
        .unwrap();
}

#[test]
fn dsn_parameters_go_on_the_wire_only_when_the_server_offers_dsn() {
    let dir = tempfile::tempdir().unwrap();
    let ev = dir.path().join("events");
    let server = Server::start(&["--dsn", "--events", ev.to_str().unwrap()]);
    let desk = Desk::relay(server.port, &[]);
    let input = b"To: bob@example.com\nSubject: dsn\n\nhi\n";
    ok(&desk.run(&["sendmail", "-t", "-i", "-N", "success,failure", "-R", "hdrs", "-V", "id+1=x"], input));
    ok(&desk.deliver_once());
    assert_eq!(server.received().len(), 1);
    let e = events(&ev);
    let mail: Vec<&Value> = e.iter().filter(|e| e["event"] == "mail_dsn").collect();
    let rcpt: Vec<&Value> = e.iter().filter(|e| e["event"] == "rcpt_dsn").collect();
    assert_eq!(mail[0]["dsn"], serde_json::json!(["RET=HDRS", "ENVID=id+2B1+3Dx"]), "{e:?}");
    assert_eq!(rcpt[0]["dsn"], serde_json::json!(["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;bob@example.com"]), "{e:?}");

    // A server without DSN gets none of them (aiosmtpd would refuse them with 555).
    let plain_ev = dir.path().join("plain-events");
    let plain = Server::start(&["--events", plain_ev.to_str().unwrap()]);
    let desk = Desk::relay(plain.port, &[]);
    ok(&desk.run(&["sendmail", "-t", "-i", "-N", "never", "-R", "full", "-V", "abc"], input));
    ok(&desk.deliver_once());
    assert_eq!(plain.received().len(), 1, "{:?}", desk.list());
    let e = events(&plain_ev);
    let mail = e.iter().find(|e| e["event"] == "mail").unwrap();
    assert!(!mail["options"].as_array().unwrap().iter().any(|o| o.as_str().unwrap().starts_with("RET=")), "{mail:?}");
}

/// The parts of a received bounce: (content type of the whole, the delivery-status text, the third part's type).
fn bounce_parts(content: &str) -> (String, String, String) {
    let m = mailparse::parse_mail(content.as_bytes()).unwrap();
    let status = m.subparts.iter().find(|p| p.ctype.mimetype == "message/delivery-status").expect("a message/delivery-status part");
    let status = String::from_utf8(status.get_body_raw().unwrap()).unwrap();
    let third = m.subparts.get(2).map(|p| p.ctype.mimetype.clone()).unwrap_or_default();
    (format!("{}; report-type={}", m.ctype.mimetype, m.ctype.params.get("report-type").cloned().unwrap_or_default()), status, third)
}

#[test]
fn a_refused_recipient_bounces_to_the_sender_once_and_never_for_null_senders_or_bounces() {
    let server = Server::start(&["--refuse-rcpt", "nobody@example.com", "--refuse-rcpt", "gone@example.com"]);
    let desk = Desk::relay(server.port, &[]);
    queue_from(&desk, "alice@example.com", &["bob@example.com", "nobody@example.com"], Dsn::default(), "original");
    queue_from(&desk, "", &["nobody@example.com"], Dsn::default(), "from-null");
    // Its bounce goes to gone@, which is refused too: that failure must not bounce again.
    queue_from(&desk, "gone@example.com", &["nobody@example.com"], Dsn::default(), "loop");
    ok(&desk.deliver_once());

    let got = server.received();
    let bounces: Vec<&Value> = got.iter().filter(|m| m["mail_from"] == "").collect();
    assert_eq!(bounces.len(), 1, "one bounce, to alice only: {got:#?}");
    assert_eq!(bounces[0]["rcpt_tos"], serde_json::json!(["alice@example.com"]));
    let content = bounces[0]["content"].as_str().unwrap();
    let (ctype, status, third) = bounce_parts(content);
    assert_eq!(ctype, "multipart/report; report-type=delivery-status");
    assert!(status.contains("Final-Recipient: rfc822; nobody@example.com\r\n"), "{status}");
    assert!(status.contains("Action: failed\r\n"), "{status}");
    assert!(status.contains("Status: 5.1.1\r\n"), "{status}");
    assert!(status.contains("Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.com>: Recipient address rejected"), "{status}");
    assert!(!status.contains("bob@example.com"), "only the failed recipient is reported: {status}");
    assert_eq!(third, "text/rfc822-headers");
    assert!(content.contains("Subject: original\r\n") && !content.contains("body of original"), "headers only by default");
    // Every message is settled: the bounce sent, the loop's bounce failed and not bounced again.
    let list = desk.list();
    assert_eq!(list.len(), 5, "3 queued + 2 bounces (alice's, sent; gone@'s, failed): {list:#?}");
    let failed_bounce = list.iter().find(|m| m["sender"] == "" && m["state"] == "failed");
    assert!(failed_bounce.is_some(), "{list:#?}");
    // The report's own sender is the null sender, so running again creates nothing more.
    ok(&desk.deliver_once());
    assert_eq!(desk.list().len(), 5);
    // The mail log takes the bounces in like any message: received (from "bounce") and then sent
    // or bounced in turn, so a report counts them on both sides.
    let conn = rusqlite::Connection::open(desk.data.path().join("outbox.sqlite3")).unwrap();
    let taken: Vec<(String, String)> = conn
        .prepare("SELECT recipient, result FROM mail_log WHERE server = 'bounce' ORDER BY recipient")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(taken, [("alice@example.com".to_string(), "received".to_string()), ("gone@example.com".into(), "received".into())]);
}

#[test]
fn bounces_stop_at_the_hourly_limit_and_can_be_turned_off() {
    let server = Server::start(&["--refuse-rcpt", "nobody@example.com"]);
    let desk = Desk::relay(server.port, &["bounces.max_per_hour", "2"]);
    for i in 0..4 {
        queue_from(&desk, "alice@example.com", &["nobody@example.com"], Dsn::default(), &format!("m{i}"));
    }
    ok(&desk.deliver_once());
    let bounces = || server.received().iter().filter(|m| m["mail_from"] == "").count();
    assert_eq!(bounces(), 2, "two an hour");
    // The limit holds across runs (counted from the queue), and -N never asks for none.
    queue_from(&desk, "alice@example.com", &["nobody@example.com"], Dsn::default(), "later");
    ok(&desk.deliver_once());
    assert_eq!(bounces(), 2);

    let server = Server::start(&["--refuse-rcpt", "nobody@example.com"]);
    let desk = Desk::relay(server.port, &["bounces.send", "false"]);
    queue_from(&desk, "alice@example.com", &["nobody@example.com"], Dsn::default(), "off");
    let never = Dsn { notify: Some("NEVER".into()), ..Dsn::default() };
    queue_from(&desk, "alice@example.com", &["nobody@example.com"], never, "never");
    ok(&desk.deliver_once());
    assert_eq!(server.received().len(), 0, "no bounce when turned off");
    assert!(desk.list().iter().all(|m| m["state"] == "failed"));
}

#[test]
fn a_daemon_keeps_an_idle_connection_for_the_next_message_then_closes_it() {
    let dir = tempfile::tempdir().unwrap();
    let ev = dir.path().join("events");
    let server = Server::start(&["--events", ev.to_str().unwrap()]);
    let desk = Desk::relay(server.port, &["limits.max_idle_secs", "2"]);
    let mut daemon = desk.cmd().args(["deliver", "--daemon", "--quiet"]).stdin(Stdio::null()).spawn().unwrap();
    assert!(wait_until(Duration::from_secs(5), || desk.data.path().join("deliver.sock").exists()), "the daemon listens");
    for i in 1..=3 {
        ok(&desk.run(&["sendmail", "bob@example.com"], format!("Subject: {i}\n\nhi\n").as_bytes()));
        assert!(wait_until(Duration::from_secs(5), || server.received().len() == i), "message {i} delivered");
    }
    assert_eq!(count_events(&ev, "connect"), 1, "one connection carried all three: {:?}", events(&ev));
    assert_eq!(count_events(&ev, "disconnect"), 0, "kept open while idle");
    let idle_since = Instant::now();
    assert!(wait_until(Duration::from_secs(5), || count_events(&ev, "disconnect") == 1), "closed when the idle time was up");
    let closed_after = idle_since.elapsed();
    assert!(closed_after >= Duration::from_millis(1000), "not before the idle time: {closed_after:?}");
    // The next message opens a new connection.
    ok(&desk.run(&["sendmail", "bob@example.com"], b"Subject: 4\n\nhi\n"));
    assert!(wait_until(Duration::from_secs(5), || server.received().len() == 4));
    assert_eq!(count_events(&ev, "connect"), 2);
    terminate(&daemon);
    let status = wait_exit(&mut daemon, Duration::from_secs(5)).expect("the daemon stops on SIGTERM");
    assert!(status.success(), "{status:?}");
    assert!(wait_until(Duration::from_secs(2), || count_events(&ev, "disconnect") == 2), "the kept connection was closed at exit");
}

fn terminate(child: &std::process::Child) {
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
}

fn wait_exit(child: &mut std::process::Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    None
}

#[test]
fn sigterm_mid_drain_requeues_what_was_not_sent_and_the_next_run_delivers_it() {
    const N: usize = 40;
    let server = Server::start(&["--data-delay", "0.3"]);
    let desk = Desk::relay(server.port, &["limits.connection_limit", "2"]);
    desk.queue(N, &["bob@example.com"]);
    let mut agent = desk.cmd().args(["deliver", "--daemon"]).stdin(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    assert!(wait_until(Duration::from_secs(10), || server.received().len() >= 2), "delivery got going");
    let asked = Instant::now();
    terminate(&agent);
    let status = wait_exit(&mut agent, Duration::from_secs(5)).expect("exits within the step timeout (5 s)");
    let took = asked.elapsed();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut agent.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "exit 0: {status:?} {stderr}");
    assert!(took < Duration::from_secs(2), "the in-flight messages finished, nothing waited for the timeout: {took:?}");
    let at_stop = server.received().len();
    assert!(at_stop < N, "stopped mid-drain ({at_stop} of {N})");
    let list = desk.list();
    assert!(list.iter().all(|m| m["state"] == "sent" || m["state"] == "queued"), "nothing left sending or deferred: {list:?}");
    assert_eq!(list.iter().filter(|m| m["state"] == "sent").count(), at_stop, "every delivered message is recorded as sent");
    assert!(stderr.contains("queued again"), "{stderr}");
    // The lock is free: a one-shot run (not a wake) delivers the rest.
    ok(&desk.deliver_once());
    let mut ids = message_ids(&server);
    let total = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!((ids.len(), total), (N, N), "every message delivered once");
}

/// A relay scripted to misbehave where aiosmtpd won't: connection `n` (0-based, in accept
/// order) goes silent after the message's final dot when `stall(n)`. No PIPELINING. Counts the
/// messages it answered 250 to.
fn scripted_relay(stall: impl Fn(usize) -> bool + Send + Sync + 'static) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{BufRead, BufReader};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let delivered = Arc::new(AtomicUsize::new(0));
    let count = delivered.clone();
    let stall = Arc::new(stall);
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut out) = stream else { return };
            let (count, stall) = (count.clone(), stall.clone());
            std::thread::spawn(move || {
                let mut input = BufReader::new(out.try_clone().unwrap());
                let _ = out.write_all(b"220 scripted ESMTP\r\n");
                let mut line = String::new();
                loop {
                    line.clear();
                    if input.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" => b"250-scripted\r\n250 8BITMIME\r\n",
                        "DATA" => {
                            let _ = out.write_all(b"354 go on\r\n");
                            loop {
                                line.clear();
                                if input.read_line(&mut line).unwrap_or(0) == 0 {
                                    return;
                                }
                                if line == ".\r\n" {
                                    break;
                                }
                            }
                            if stall(n) {
                                std::thread::sleep(Duration::from_secs(60));
                                return;
                            }
                            count.fetch_add(1, Ordering::SeqCst);
                            b"250 2.0.0 queued\r\n"
                        }
                        "QUIT" => {
                            let _ = out.write_all(b"221 bye\r\n");
                            return;
                        }
                        _ => b"250 ok\r\n",
                    };
                    if out.write_all(reply).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, delivered)
}

#[test]
fn a_hung_session_holds_only_its_own_message_which_is_recorded_as_possibly_delivered() {
    use std::sync::atomic::Ordering;
    const N: usize = 30;
    let (port, delivered) = scripted_relay(|n| n == 0);
    let desk = Desk::relay(port, &["limits.connection_limit", "3"]);
    desk.queue(N, &["bob@example.com"]);
    let started = Instant::now();
    let mut agent = desk.cmd().args(["deliver", "--once", "--quiet"]).stdin(Stdio::null()).spawn().unwrap();
    assert!(wait_until(Duration::from_secs(4), || delivered.load(Ordering::SeqCst) == N - 1), "the other sessions went on");
    let others_done = started.elapsed();
    assert!(others_done < Duration::from_secs(3), "well before the 5 s timeout: {others_done:?}");
    let status = wait_exit(&mut agent, Duration::from_secs(10)).expect("the hung session times out");
    assert!(status.success(), "{status:?}");
    let list = desk.list();
    let stalled: Vec<&Value> = list.iter().filter(|m| m["state"] != "sent").collect();
    assert_eq!(stalled.len(), 1, "{list:?}");
    let (state, reply) = recipient_states(stalled[0])["bob@example.com"].clone();
    assert_eq!(state, "deferred");
    assert!(reply.starts_with("may have been delivered: no answer in time"), "{reply}");
    // The attempt row says so too (the mail log shows it).
    let logged: String = rusqlite::Connection::open(desk.data.path().join("outbox.sqlite3"))
        .unwrap()
        .query_row("SELECT reply FROM mail_log WHERE message = ?1 AND result = 'deferred'", [stalled[0]["id"].as_i64().unwrap()], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(logged, reply);
}

#[test]
fn sigterm_with_a_hung_server_puts_the_message_back_and_exits_within_the_step_timeout() {
    let (port, _) = scripted_relay(|_| true);
    let desk = Desk::relay(port, &["limits.connection_limit", "1"]);
    desk.queue(3, &["bob@example.com"]);
    let mut agent = desk.cmd().args(["deliver", "--once", "--quiet"]).stdin(Stdio::null()).spawn().unwrap();
    // The first message's data went out and the server says nothing.
    std::thread::sleep(Duration::from_millis(700));
    let asked = Instant::now();
    terminate(&agent);
    let status = wait_exit(&mut agent, Duration::from_secs(8)).expect("the agent stops");
    let took = asked.elapsed();
    assert!(status.success(), "exit 0: {status:?}");
    assert!(took <= Duration::from_secs(5), "within the 5 s step timeout: {took:?}");
    let list = desk.list();
    assert!(list.iter().all(|m| m["state"] == "queued"), "back to queued, not deferred or sending: {list:?}");
    assert!(list.iter().all(|m| m["recipients"][0]["attempts"] == 0), "a cut-off attempt is not counted: {list:?}");
}
