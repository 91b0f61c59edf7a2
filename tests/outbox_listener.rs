//! The loopback SMTP listener against real clients and servers: `smtp-desk listen` fed by swaks
//! and by raw SMTP written here, delivered by `smtp-desk deliver --once` to aiosmtpd byte for
//! byte; PIPELINING; 552 over the size limit; AUTH with the listener's own keyring entry; never a
//! non-loopback address; 4,000 recipients; a stalled client beside a working one; kill -9 during
//! intake loses nothing acknowledged.

mod support;

use serde_json::Value;
use smtp_desk::outbox::listener::{self, Listener, Options};
use smtp_desk::outbox::sendmail::IntakeProfile;
use smtp_desk::outbox::Store;
use smtp_desk::settings::Profile;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::Server;
use support::SmtpClient as Client;
use support::{free_port, wait_until};

const BIN: &str = env!("CARGO_BIN_EXE_smtp-desk");

struct Desk {
    config: tempfile::TempDir,
    data: tempfile::TempDir,
    logs: tempfile::TempDir,
    port: u16,
}

impl Desk {
    /// The listener on a free port; relay mode to `relay_port` when given, else sending off.
    fn new(relay_port: Option<u16>, extra: &[&str]) -> Desk {
        let d = Desk {
            config: tempfile::tempdir().unwrap(),
            data: tempfile::tempdir().unwrap(),
            logs: tempfile::tempdir().unwrap(),
            port: free_port(),
        };
        let (port, relay) = (d.port.to_string(), relay_port.unwrap_or(25).to_string());
        let mode = if relay_port.is_some() { "relay" } else { "off" };
        let mut args = vec![
            "config",
            "set",
            "mode",
            mode,
            "relay.host",
            "127.0.0.1",
            "relay.port",
            &relay,
            "relay.security",
            "none",
            "sender.from_address",
            "me@example.com",
            "local_recipient",
            "admin@example.com",
            "limits.timeout_secs",
            "5",
            "listener.enabled",
            "true",
            "listener.port",
            &port,
        ];
        args.extend_from_slice(extra);
        ok(&d.run(&args, b""));
        d
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new(BIN);
        c.env("SMTP_DESK_CONFIG_DIR", self.config.path())
            .env("SMTP_DESK_DATA_DIR", self.data.path())
            .env("SMTP_DESK_LOG_DIR", self.logs.path())
            .env("SMTP_DESK_LOG", "debug");
        c
    }

    fn run(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut child = self.cmd().args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        child.wait_with_output().unwrap()
    }

    /// `smtp-desk listen`, returned once it says where it listens.
    fn listen(&self) -> Listening {
        let mut child = self.cmd().arg("listen").stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        loop {
            line.clear();
            if err.read_line(&mut line).unwrap() == 0 {
                panic!("smtp-desk listen exited: {:?}", child.wait());
            }
            if line.starts_with("listen: SMTP on ") {
                break;
            }
        }
        let stderr = std::thread::spawn(move || {
            let mut rest = String::new();
            let _ = err.read_to_string(&mut rest);
            rest
        });
        Listening { child, stderr: Some(stderr), first: line }
    }

    fn store(&self) -> Store {
        Store::open(&self.data.path().join("outbox.sqlite3")).unwrap()
    }

    fn list(&self) -> Vec<Value> {
        // Newest first; the tests read oldest first.
        let o = self.run(&["queue", "list", "--json", "--limit", "100000"], b"");
        ok(&o);
        String::from_utf8(o.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).rev().collect()
    }
}

struct Listening {
    child: Child,
    stderr: Option<std::thread::JoinHandle<String>>,
    first: String,
}

impl Listening {
    /// Stops it (SIGKILL) and returns what it printed.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let rest = self.stderr.take().map(|h| h.join().unwrap()).unwrap_or_default();
        format!("{}{rest}", self.first)
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ok(o: &Output) {
    assert!(o.status.success(), "exit {:?}: {}", o.status.code(), String::from_utf8_lossy(&o.stderr));
}

/// How long the listener tests wait for each reply.
const REPLY_WAIT: Duration = Duration::from_secs(20);

fn queued_id(reply: &str) -> Option<i64> {
    reply.trim().strip_prefix("250 2.0.0 Ok: queued as ").and_then(|id| id.parse().ok())
}

#[test]
fn listener_intake_is_delivered_byte_for_byte() {
    let server = Server::start(&[]);
    let desk = Desk::new(Some(server.port), &[]);
    let l = desk.listen();
    let mut c = Client::connect(desk.port, REPLY_WAIT);
    let ehlo = c.command("EHLO client.example");
    for ext in ["PIPELINING", "8BITMIME", "SMTPUTF8", "SIZE 26214400"] {
        assert!(ehlo.contains(ext), "{ext} announced: {ehlo}");
    }
    assert!(!ehlo.contains("AUTH"), "no login set, no AUTH: {ehlo}");
    assert!(c.command("MAIL FROM:<app@example.com> BODY=8BITMIME").starts_with("250"));
    assert!(c.command("RCPT TO:<bob@example.com>").starts_with("250"));
    assert!(c.command("RCPT TO:<root>").starts_with("250"), "a bare local name goes to local_recipient");
    assert!(c.command("DATA").starts_with("354"));
    let body = "From: App <app@example.com>\r\nTo: bob@example.com\r\nSubject: Caf\u{e9} report\r\n\r\nLine one\r\n..leading dot\r\n...two dots\r\n\r\n\u{fc}ber\r\n";
    c.send(&format!("{body}.\r\n"));
    let id = queued_id(&c.reply()).expect("250 queued as");
    assert!(c.command("QUIT").starts_with("221"));
    drop(l);

    let stored = desk.store().raw_message(id).unwrap();
    let text = String::from_utf8(stored.clone()).unwrap();
    let unstuffed = body.replace("\r\n..", "\r\n.");
    let (head, rest) = unstuffed.split_once("\r\n\r\n").unwrap();
    assert!(text.starts_with(&format!("{head}\r\n")), "the client's headers first, as sent: {text}");
    assert!(text.ends_with(&format!("\r\n\r\n{rest}")), "the body as sent, dots unstuffed: {text}");
    assert!(text.contains("\r\nDate: ") && text.contains("\r\nMessage-ID: <"), "the missing Date and Message-ID are added: {text}");

    ok(&desk.run(&["deliver", "--once"], b""));
    assert!(wait_until(Duration::from_secs(10), || desk.list()[0]["state"] == "sent"), "{:?}", desk.list());
    let got = server.received();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["content"].as_str().unwrap().as_bytes(), &stored[..], "the server has exactly the queued bytes");
    let mut rcpts: Vec<&str> = got[0]["rcpt_tos"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    rcpts.sort();
    assert_eq!(rcpts, ["admin@example.com", "bob@example.com"]);
    assert_eq!(got[0]["mail_from"], "app@example.com");
}

/// swaks with --pipeline, and a client that writes a whole transaction (and a second one) in
/// one go: every reply comes back in order.
#[test]
fn pipelining_works() {
    let desk = Desk::new(None, &[]);
    let _l = desk.listen();
    let port = desk.port.to_string();
    let o = Command::new("swaks")
        .args(["--server", "127.0.0.1", "--port", &port, "--pipeline", "--from", "a@example.com", "--to", "b@example.com"])
        .args(["--header", "Subject: swaks pipelined", "--body", "hello"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success() && out.contains("<-  250 2.0.0 Ok: queued as"), "swaks:\n{out}{}", String::from_utf8_lossy(&o.stderr));

    let mut c = Client::connect(desk.port, REPLY_WAIT);
    let rcpts: String = (0..3).map(|i| format!("RCPT TO:<r{i}@example.com>\r\n")).collect();
    c.send(&format!("EHLO x\r\nMAIL FROM:<a@example.com>\r\n{rcpts}DATA\r\n"));
    let replies: Vec<String> = (0..6).map(|_| c.reply()).collect();
    assert!(replies[0].contains("250-PIPELINING"));
    let codes: Vec<&str> = replies[1..].iter().map(|r| &r[..3]).collect();
    assert_eq!(codes, ["250", "250", "250", "250", "354"], "{replies:?}");
    c.send("Subject: one\r\n\r\nfirst\r\n.\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<z@example.com>\r\nDATA\r\n");
    let codes: Vec<String> = (0..4).map(|_| c.reply()[..3].to_string()).collect();
    assert_eq!(codes, ["250", "250", "250", "354"]);
    c.send("Subject: two\r\n\r\nsecond\r\n.\r\nQUIT\r\n");
    assert!(queued_id(&c.reply()).is_some());
    assert!(c.reply().starts_with("221"));
    let subjects: Vec<String> = desk.list().iter().map(|m| m["subject"].as_str().unwrap().to_string()).collect();
    assert_eq!(subjects, ["swaks pipelined", "one", "two"]);
}

/// Over the size limit: 552 for SIZE= on MAIL FROM and for the data itself; nothing stored; the
/// session goes on.
#[test]
fn over_size_is_refused_with_552_and_nothing_stored() {
    let desk = Desk::new(None, &[]);
    let _l = desk.listen();
    let limit = smtp_desk::outbox::MAX_MESSAGE_BYTES;
    let mut c = Client::connect(desk.port, REPLY_WAIT);
    c.command("EHLO x");
    let r = c.command(&format!("MAIL FROM:<a@example.com> SIZE={}", limit + 1));
    assert!(r.starts_with("552 "), "{r}");
    assert!(c.command("MAIL FROM:<a@example.com>").starts_with("250"));
    assert!(c.command("RCPT TO:<b@example.com>").starts_with("250"));
    assert!(c.command("DATA").starts_with("354"));
    let line = format!("{}\r\n", "x".repeat(998));
    let mut sent = 0;
    c.send("Subject: big\r\n\r\n");
    while sent <= limit {
        c.send(&line);
        sent += line.len();
    }
    c.send(".\r\n");
    let r = c.reply();
    assert!(r.starts_with("552 "), "{r}");
    assert!(c.command("NOOP").starts_with("250"), "the session is still in step");
    assert!(c.command("QUIT").starts_with("221"));
    assert!(desk.list().is_empty(), "nothing stored");
}

/// With listener.username set, AUTH is announced and required, the password comes from the
/// listener's own keyring entry, a wrong one is refused, and no password reaches the log.
/// Needs the Secret Service (scripts/session.sh).
#[test]
fn login_is_required_when_set_and_a_wrong_password_refused() {
    let desk = Desk::new(None, &["listener.username", "cron"]);
    ok(&desk.run(&["password", "clear", "--listener"], b""));
    let o = desk.run(&["listen"], b"");
    assert_eq!(o.status.code(), Some(64), "no saved password: {}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("password set --listener"));
    ok(&desk.run(&["password", "set", "--listener"], b"right-Pa55\n"));
    let l = desk.listen();
    let port = desk.port.to_string();
    let swaks = |extra: &[&str]| {
        let o = Command::new("swaks")
            .args(["--server", "127.0.0.1", "--port", &port, "--from", "a@example.com", "--to", "b@example.com", "--body", "hi"])
            .args(extra)
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let out = swaks(&[]);
    assert!(out.contains("250-AUTH PLAIN LOGIN") && out.contains("<** 530 5.7.0 Authentication required"), "{out}");
    let out = swaks(&["--auth", "PLAIN", "--auth-user", "cron", "--auth-password", "wrong-Pa55"]);
    assert!(out.contains("<** 535 5.7.8"), "{out}");
    let out = swaks(&["--auth", "LOGIN", "--auth-user", "cron", "--auth-password", "wrong-Pa55"]);
    assert!(out.contains("<** 535 5.7.8"), "{out}");
    let out = swaks(&["--auth", "LOGIN", "--auth-user", "cron", "--auth-password", "right-Pa55"]);
    assert!(out.contains("<-  235 ") && out.contains("queued as"), "{out}");
    let out = swaks(&["--auth", "PLAIN", "--auth-user", "cron", "--auth-password", "right-Pa55"]);
    assert!(out.contains("queued as"), "{out}");
    let printed = l.stop();
    assert_eq!(desk.list().len(), 2);
    let mut logged = printed;
    for f in std::fs::read_dir(desk.logs.path()).unwrap() {
        logged.push_str(&std::fs::read_to_string(f.unwrap().path()).unwrap_or_default());
    }
    assert!(logged.contains("failed login"), "failed logins are noted: {logged}");
    assert!(!logged.contains("Pa55"), "no password in the log or output: {logged}");
    let settings = std::fs::read_to_string(desk.config.path().join("settings.json")).unwrap();
    assert!(!settings.contains("Pa55"), "{settings}");
    ok(&desk.run(&["password", "clear", "--listener"], b""));
}

/// Only loopback: any other address is refused before binding, and a running listener can't
/// be reached on this machine's other addresses.
#[test]
fn a_non_loopback_address_is_never_bound() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _guard = rt.enter();
    for ip in [IpAddr::V4(Ipv4Addr::UNSPECIFIED), "::".parse().unwrap(), "192.0.2.1".parse().unwrap()] {
        let mut o = Options::loopback(0);
        o.addresses.push(ip);
        match Listener::bind(o) {
            Err(listener::Error::NotLoopback(bad)) => assert_eq!(bad, ip),
            other => panic!("{ip} was not refused: {:?}", other.map(|l| l.local_addrs())),
        }
    }
    let desk = Desk::new(None, &[]);
    let _l = desk.listen();
    // This machine's address towards the outside (no packet is sent by a UDP connect).
    let outside = std::net::UdpSocket::bind("0.0.0.0:0").and_then(|s| s.connect("192.0.2.1:9").map(|()| s)).and_then(|s| s.local_addr());
    if let Ok(SocketAddr::V4(a)) = outside {
        if !a.ip().is_loopback() {
            let r = TcpStream::connect_timeout(&SocketAddr::new(IpAddr::V4(*a.ip()), desk.port), Duration::from_secs(2));
            assert!(r.is_err(), "the listener answered on {}", a.ip());
        }
    }
    assert!(TcpStream::connect(("127.0.0.1", desk.port)).is_ok());
}

#[test]
fn a_message_with_4000_recipients() {
    let desk = Desk::new(None, &[]);
    let _l = desk.listen();
    let mut c = Client::connect(desk.port, REPLY_WAIT);
    c.command("EHLO x");
    let rcpts: String = (0..4000).map(|i| format!("RCPT TO:<user{i}@example.com>\r\n")).collect();
    c.send(&format!("MAIL FROM:<a@example.com>\r\n{rcpts}DATA\r\n"));
    for i in 0..4001 {
        let r = c.reply();
        assert!(r.starts_with("250"), "reply {i}: {r}");
    }
    assert!(c.reply().starts_with("354"));
    c.send("Subject: many\r\n\r\nhi\r\n.\r\n");
    let id = queued_id(&c.reply()).unwrap();
    let m = desk.store().show(id).unwrap();
    assert_eq!(m.summary.recipients.len(), 4000);
}

/// A client that stops mid-message holds only its own session: another is served at once.
/// And with a short read timeout, the silent one gets a 421 and nothing of it is stored.
#[test]
fn a_stalled_client_does_not_block_another_session() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.sqlite3");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let mut options = Options::loopback(0);
    options.read_timeout = Duration::from_secs(2);
    let l = {
        let _g = rt.enter();
        Listener::bind(options).unwrap()
    };
    let port = l.local_addrs()[0].port();
    let cancel = smtp_desk::smtp::CancelToken::new();
    let mut profile = Profile::default();
    profile.sender.from_address = "me@example.com".into();
    let (p, c2) = (path.clone(), cancel.clone());
    let profile = IntakeProfile { name: "global".into(), profile };
    let served = rt.spawn(async move { l.serve(&p, profile, smtp_desk::policy::State::Absent, &c2).await });

    let mut stalled = Client::connect(port, REPLY_WAIT);
    stalled.send("EHLO x\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n");
    for _ in 0..4 {
        stalled.reply();
    }
    stalled.send("Subject: never finished\r\n\r\nhalf a mess");

    let started = Instant::now();
    let mut other = Client::connect(port, REPLY_WAIT);
    other.command("EHLO y");
    other.command("MAIL FROM:<a@example.com>");
    other.command("RCPT TO:<c@example.com>");
    other.command("DATA");
    other.send("Subject: done\r\n\r\nwhole\r\n.\r\n");
    assert!(queued_id(&other.reply()).is_some());
    assert!(started.elapsed() < Duration::from_secs(1), "served while the other stalled: {:?}", started.elapsed());

    let r = stalled.reply();
    assert!(r.starts_with("421 4.4.2"), "the silent client is told and closed: {r}");
    cancel.cancel();
    rt.block_on(served).unwrap().unwrap();
    let s = Store::open(&path).unwrap();
    let list = s.page(&Default::default()).unwrap().messages;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].subject, "done");
}

/// kill -9 of `smtp-desk listen` while four clients send: every message that got its 250 is in
/// the queue; at most the ones in flight (one per client) are there without it.
#[test]
fn kill_during_listener_intake_loses_nothing_acknowledged() {
    for round in 0..3u64 {
        let desk = Desk::new(None, &[]);
        let l = desk.listen();
        let port = desk.port;
        let clients: Vec<_> = (0..4)
            .map(|t| {
                std::thread::spawn(move || {
                    let mut acked = Vec::new();
                    'sessions: for s in 0.. {
                        let Ok(stream) = TcpStream::connect(("127.0.0.1", port)) else { break };
                        let mut c = Client { reader: BufReader::new(stream.try_clone().unwrap()), writer: stream };
                        if !c.reply().starts_with("220") {
                            break;
                        }
                        // Pipelined, several messages a session.
                        for m in 0..5 {
                            let text = format!(
                                "MAIL FROM:<s@example.com>\r\nRCPT TO:<r{t}@example.com>\r\nDATA\r\nSubject: c{t}s{s}m{m}\r\n\r\n{}\r\n.\r\n",
                                "x".repeat(4000)
                            );
                            if c.writer.write_all(text.as_bytes()).is_err() {
                                break 'sessions;
                            }
                            for _ in 0..3 {
                                if c.reply().is_empty() {
                                    break 'sessions;
                                }
                            }
                            match queued_id(&c.reply()) {
                                Some(id) => acked.push(id),
                                None => break 'sessions,
                            }
                        }
                        let _ = c.writer.write_all(b"QUIT\r\n");
                    }
                    acked
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(400 + 200 * round));
        l.stop(); // SIGKILL
        let acked: Vec<i64> = clients.into_iter().flat_map(|c| c.join().unwrap()).collect();
        let stored: std::collections::HashSet<i64> = desk.list().iter().map(|m| m["id"].as_i64().unwrap()).collect();
        assert!(acked.len() > 10, "round {round}: messages were acknowledged before the kill ({})", acked.len());
        for id in &acked {
            assert!(stored.contains(id), "round {round}: message {id} was acknowledged but is not in the queue");
        }
        assert!(stored.len() <= acked.len() + 4, "round {round}: {} stored, {} acknowledged", stored.len(), acked.len());
        eprintln!("round {round}: {} acknowledged, {} stored", acked.len(), stored.len());
    }
}

/// The listener is off by default and `listen` says how to turn it on; a port of 0 is refused
/// naming the field.
#[test]
fn off_by_default_and_the_port_is_checked() {
    let config = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(BIN).args(args).env("SMTP_DESK_CONFIG_DIR", config.path()).env("SMTP_DESK_DATA_DIR", data.path()).output().unwrap()
    };
    let o = run(&["listen"]);
    assert_eq!(o.status.code(), Some(64));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("off") && err.contains("listener.enabled true"), "{err}");
    let o = run(&["config", "set", "listener.port", "0"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("listener.port") && err.contains("between 1 and 65535"), "{err}");
    let o = run(&["config", "set", "listener.port", "70000"]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("listener.port"));
}

/// Past the session limit a client is told 421 and closed; the open sessions go on.
#[test]
fn sessions_over_the_limit_get_421() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let mut options = Options::loopback(0);
    options.max_sessions = 2;
    let l = {
        let _g = rt.enter();
        Listener::bind(options).unwrap()
    };
    let port = l.local_addrs()[0].port();
    let cancel = smtp_desk::smtp::CancelToken::new();
    let (p, c2) = (dir.path().join("outbox.sqlite3"), cancel.clone());
    let served = rt.spawn(async move { l.serve(&p, IntakeProfile::fallback(None), smtp_desk::policy::State::Absent, &c2).await });
    let mut first = Client::connect(port, REPLY_WAIT);
    let _second = Client::connect(port, REPLY_WAIT);
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut third = String::new();
    BufReader::new(s).read_line(&mut third).unwrap();
    assert!(third.starts_with("421 "), "{third}");
    assert!(first.command("NOOP").starts_with("250"));
    cancel.cancel();
    rt.block_on(served).unwrap().unwrap();
}

/// Mail taken by the listener is delivered without anyone running `deliver`: it starts a
/// one-shot delivery run, as sendmail does.
#[test]
fn listener_intake_wakes_delivery() {
    let server = Server::start(&[]);
    let desk = Desk::new(Some(server.port), &[]);
    let _l = desk.listen();
    let port = desk.port.to_string();
    let o = Command::new("swaks")
        .args(["--server", "127.0.0.1", "--port", &port, "--from", "a@example.com", "--to", "b@example.com", "--body", "hi"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("queued as"));
    assert!(wait_until(Duration::from_secs(10), || server.received().len() == 1), "delivered without a deliver command");
}

/// `deliver --daemon` runs the listener when the settings turn it on, and delivers what it takes.
#[test]
fn the_daemon_runs_the_listener_when_enabled() {
    let server = Server::start(&[]);
    let desk = Desk::new(Some(server.port), &[]);
    let mut daemon =
        desk.cmd().args(["deliver", "--daemon"]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let mut err = BufReader::new(daemon.stderr.take().unwrap());
    let mut line = String::new();
    let started = loop {
        line.clear();
        if err.read_line(&mut line).unwrap() == 0 {
            break false;
        }
        if line.contains("SMTP listener on 127.0.0.1:") {
            break true;
        }
    };
    assert!(started, "the daemon said where it listens: {line}");
    let mut c = Client::connect(desk.port, REPLY_WAIT);
    c.command("EHLO x");
    c.command("MAIL FROM:<a@example.com>");
    c.command("RCPT TO:<b@example.com>");
    c.command("DATA");
    c.send("Subject: via the daemon\r\n\r\nhi\r\n.\r\n");
    assert!(queued_id(&c.reply()).is_some());
    assert!(wait_until(Duration::from_secs(10), || server.received().len() == 1), "the daemon delivered it");
    let _ = daemon.kill();
    let _ = daemon.wait();
}
