//! The mail log end to end through the real `smtp-desk` binary: a delivery over STARTTLS to a
//! real server (aiosmtpd) logs 'received' then 'sent' with the TLS version, Message-ID, sender
//! and size, and a 5xx recipient 'bounced' with the reply; sendmail and SMTP-session refusals
//! log 'refused'; hold logs 'held'; `smtp-desk log` filters and formats (table, --json, --csv);
//! the log never holds the password or the body; retention prunes old rows.
//!
//! The delivery test logs in with a password from the keyring: run it in scripts/session.sh.

mod support;

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::process::Output;
use support::desk::{ok, Desk};
use support::{CertKind, Pki, Server, PASSWORD, USER};

const BODY: &str = "the body text nobody may log 7f3a";

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// `smtp-desk log --json` with `args`, newest first.
fn log(desk: &Desk, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["log", "--json"];
    if !args.contains(&"--limit") {
        all.extend_from_slice(&["--limit", "0"]);
    }
    all.extend_from_slice(args);
    let o = desk.run(&all, b"");
    ok(&o);
    stdout(&o).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn message(id: &str) -> Vec<u8> {
    format!("From: app@example.com\nTo: ok@example.com\nMessage-ID: <{id}@test>\nSubject: log test\n\n{BODY}\n").into_bytes()
}

/// Every mail-log row as text, to search for what must never be there.
fn every_row(desk: &Desk) -> String {
    let conn = rusqlite::Connection::open(desk.path()).unwrap();
    let mut stmt = conn.prepare("SELECT * FROM mail_log").unwrap();
    let n = stmt.column_count();
    let rows: Vec<String> = stmt
        .query_map([], |r| Ok((0..n).map(|i| format!("{:?}", r.get_ref(i).unwrap())).collect::<Vec<_>>().join("|")))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    rows.join("\n")
}

#[test]
fn a_delivery_over_starttls_is_logged_with_tls_and_never_the_password_or_body() {
    let pki = Pki::new();
    let server = Server::start_tls(
        "starttls",
        &pki.server_cert(CertKind::Good),
        &["--user", &support::login(), "--refuse-rcpt", "nobody@example.com"],
    );
    let ca = pki.ca_pem.to_str().unwrap().to_string();
    let desk = Desk::relay(
        server.port,
        &["relay.security", "start_tls", "relay.ca_file", &ca, "auth.method", "password", "auth.username", USER, "bounces.send", "false"],
    );
    ok(&desk.run(&["password", "set"], PASSWORD.as_bytes()));
    // The session's keyring outlives the test: leave the default profile without a password,
    // as the next test binaries expect, pass or fail.
    struct ClearPassword<'a>(&'a Desk);
    impl Drop for ClearPassword<'_> {
        fn drop(&mut self) {
            let _ = self.0.run(&["password", "clear"], b"");
        }
    }
    let _clear = ClearPassword(&desk);
    ok(&desk.run(&["sendmail", "-f", "app@example.com", "ok@example.com", "nobody@example.com"], &message("log-1")));
    ok(&desk.run(&["deliver", "--once"], b""));
    assert_eq!(server.received().len(), 1, "the message reached the server");

    let rows = log(&desk, &[]);
    let find = |result: &str, to: &str| {
        rows.iter().find(|r| r["result"] == result && r["recipient"] == to).unwrap_or_else(|| panic!("no {result} row for {to}: {rows:#?}"))
    };
    let (received, sent, bounced) =
        (find("received", "ok@example.com"), find("sent", "ok@example.com"), find("bounced", "nobody@example.com"));
    find("received", "nobody@example.com");
    for r in [received, sent, bounced] {
        assert_eq!((r["message_id"].as_str(), r["sender"].as_str()), (Some("<log-1@test>"), Some("app@example.com")), "{r}");
        assert!(r["size"].as_u64().unwrap() > BODY.len() as u64, "{r}");
    }
    assert_eq!(received["server"], "sendmail");
    assert_eq!(received["tls"], Value::Null);
    assert_eq!(sent["tls"], "TLS 1.3", "{sent}");
    assert_eq!(sent["server"], format!("127.0.0.1:{}", server.port));
    assert!(sent["reply"].as_str().unwrap().starts_with("250"), "{sent}");
    assert!(bounced["reply"].as_str().unwrap().starts_with("550 5.1.1 <nobody@example.com>"), "{bounced}");
    assert_eq!(bounced["tls"], "TLS 1.3");
    // Newest first: the attempt after the intake.
    let pos = |r: &Value| rows.iter().position(|x| x == r).unwrap();
    assert!(pos(sent) < pos(received), "{rows:#?}");
    assert!(sent["at"].as_i64() >= received["at"].as_i64());

    // The table and the CSV show the same rows.
    let table = stdout(&desk.run(&["log"], b""));
    assert!(table.starts_with("TIME") && table.contains("TLS 1.3") && table.contains("bounced"), "{table}");
    let csv = stdout(&desk.run(&["log", "--csv"], b""));
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    assert_eq!(reader.headers().unwrap().iter().collect::<Vec<_>>()[..4], ["time", "queue_id", "message_id", "from"]);
    assert_eq!(reader.records().count(), rows.len(), "{csv}");

    // Never the password (anywhere in the database or its WAL) nor the body (in the log's rows
    // and what the commands print; the queue itself keeps the message until it is deleted).
    let json = stdout(&desk.run(&["log", "--json"], b""));
    for (what, text) in [("log rows", every_row(&desk)), ("table", table), ("csv", csv), ("json", json)] {
        assert!(!text.contains(PASSWORD) && !text.contains(BODY), "{what}: {text}");
    }
    for file in [desk.path(), desk.data.path().join("outbox.sqlite3-wal")] {
        let bytes = std::fs::read(&file).unwrap_or_default();
        assert!(!bytes.windows(PASSWORD.len()).any(|w| w == PASSWORD.as_bytes()), "{} holds the password", file.display());
    }
}

#[test]
fn refusals_by_sendmail_and_the_smtp_session_are_logged() {
    let desk = Desk::relay(9, &[]);
    // A bad recipient on the command line, and a message naming no one (-t without To).
    let o = desk.run(&["sendmail", "-f", "app@example.com", "bad address@@example.com"], &message("r-1"));
    assert_eq!(o.status.code(), Some(65), "{}", String::from_utf8_lossy(&o.stderr));
    let o = desk.run(&["sendmail", "-t", "-f", "app@example.com"], b"Subject: nobody\n\nhi\n");
    assert_eq!(o.status.code(), Some(65));
    // sendmail -bs: a 5xx to RCPT (bad address) and to DATA (over the size the session takes is
    // 25 MiB: too big to send here, so a message whose only recipient was refused is not tried).
    let script = "EHLO c\r\nMAIL FROM:<app@example.com>\r\nRCPT TO:<bad\rx@example.com>\r\nRCPT TO:<ok@example.com>\r\nDATA\r\nSubject: s\r\n\r\nhi\r\n.\r\nQUIT\r\n";
    let o = desk.run(&["sendmail", "-bs"], script.as_bytes());
    ok(&o);
    assert!(stdout(&o).contains("553 5.1.3"), "{}", stdout(&o));

    let refused = log(&desk, &["--result", "refused"]);
    assert_eq!(refused.len(), 3, "{refused:#?}");
    for r in &refused {
        // Named as the received rows of the same intake are, so a report groups them together.
        let by = if r["recipient"] == "bad\rx@example.com" { "sendmail -bs" } else { "sendmail" };
        assert_eq!(
            (r["message"].clone(), r["server"].as_str(), r["sender"].as_str()),
            (Value::Null, Some(by), Some("app@example.com")),
            "{r}"
        );
    }
    let by_to = |to: &str| refused.iter().find(|r| r["recipient"] == to).unwrap_or_else(|| panic!("{to}: {refused:#?}"));
    let bad = by_to("bad address@@example.com");
    assert!(bad["reply"].as_str().unwrap().contains("bad address@@example.com"), "{bad}");
    assert_eq!(bad["message_id"], "<r-1@test>");
    assert!(by_to("")["reply"].as_str().unwrap().starts_with("no recipient"), "{refused:#?}");
    assert!(by_to("bad\rx@example.com")["reply"].as_str().unwrap().starts_with("553 5.1.3"), "{refused:#?}");
    // The accepted recipient of the -bs session was taken in, not refused.
    assert_eq!(log(&desk, &["--result", "received"]).len(), 1);
}

#[test]
fn the_listener_logs_what_it_refuses() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let desk = Desk::relay(9, &["listener.enabled", "true", "listener.port", &port.to_string()]);
    let mut child = desk.cmd().arg("listen").stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    let conn = (0..100).find_map(|_| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });
    let conn = conn.expect("the listener answers");
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut w = conn;
    let mut say = |line: &str| -> String {
        if !line.is_empty() {
            w.write_all(format!("{line}\r\n").as_bytes()).unwrap();
        }
        let mut reply = String::new();
        loop {
            let mut l = String::new();
            reader.read_line(&mut l).unwrap();
            reply.push_str(&l);
            if l.as_bytes().get(3) != Some(&b'-') {
                return reply;
            }
        }
    };
    say("");
    say("EHLO c");
    let too_big = say("MAIL FROM:<app@example.com> SIZE=999999999999");
    assert!(too_big.starts_with("552"), "{too_big}");
    say("MAIL FROM:<app@example.com>");
    let local = say("RCPT TO:<x@>");
    assert!(local.starts_with('5'), "{local}");
    say("QUIT");
    let _ = child.kill();
    let _ = child.wait();
    let refused = log(&desk, &["--result", "refused"]);
    assert_eq!(refused.len(), 2, "{refused:#?}");
    assert!(refused.iter().all(|r| r["server"] == "smtp listener"), "{refused:#?}");
    assert!(refused.iter().any(|r| r["reply"].as_str().unwrap().starts_with("552") && r["size"] == 999_999_999_999u64), "{refused:#?}");
}

#[test]
fn hold_logs_one_held_row_per_recipient_it_held() {
    let desk = Desk::relay(9, &["mode", "off"]);
    ok(&desk.run(&["sendmail", "-f", "app@example.com", "a@example.com", "b@example.com"], &message("h-1")));
    let id = desk.list()[0]["id"].as_i64().unwrap().to_string();
    ok(&desk.run(&["queue", "hold", &id], b""));
    ok(&desk.run(&["queue", "hold", &id], b""));
    let held = log(&desk, &["--result", "held"]);
    let mut to: Vec<&str> = held.iter().map(|r| r["recipient"].as_str().unwrap()).collect();
    to.sort();
    assert_eq!(to, ["a@example.com", "b@example.com"], "held once each, not again: {held:#?}");
    for r in &held {
        assert_eq!(
            (r["server"].as_str(), r["reply"].as_str(), r["message_id"].as_str()),
            (Some("queue"), Some("held by a person"), Some("<h-1@test>"))
        );
        assert_eq!(r["message"].as_i64().unwrap().to_string(), id);
    }
}

/// Rows written straight into the log at known times.
fn insert(desk: &Desk, rows: &[(i64, &str, &str, &str)]) {
    drop(desk.store());
    let conn = rusqlite::Connection::open(desk.path()).unwrap();
    for (at, sender, recipient, result) in rows {
        conn.execute(
            "INSERT INTO mail_log (at, message, message_id, sender, recipient, size, server, tls, result, reply, duration_ms)
             VALUES (?1, 1, '<x@test>', ?2, ?3, 100, 'relay:587', NULL, ?4, '250 ok', 5)",
            rusqlite::params![at, sender, recipient, result],
        )
        .unwrap();
    }
}

fn ms(date: &str) -> i64 {
    let d = jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M", date).unwrap();
    d.to_zoned(jiff::tz::TimeZone::system()).unwrap().timestamp().as_millisecond()
}

#[test]
fn log_filters_by_time_result_and_address() {
    let desk = Desk::relay(9, &[]);
    insert(
        &desk,
        &[
            (ms("2024-05-01 08:00"), "app@example.com", "bob@example.com", "sent"),
            (ms("2024-05-01 09:30"), "app@example.com", "carol@example.com", "bounced"),
            (ms("2024-05-02 10:00"), "Bob@Example.com", "dave@example.com", "sent"),
            (ms("2024-05-03 11:00"), "app@example.com", "erin@example.com", "deferred"),
        ],
    );
    let to = |args: &[&str]| log(&desk, args).iter().map(|r| r["recipient"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    assert_eq!(to(&["--since", "2024-05-01", "--until", "2024-05-01"]), ["carol@example.com", "bob@example.com"]);
    assert_eq!(to(&["--since", "2024-05-01 09:00"]), ["erin@example.com", "dave@example.com", "carol@example.com"]);
    assert_eq!(to(&["--until", "2024-05-02T00:00:00Z", "--result", "sent"]), ["bob@example.com"]);
    assert_eq!(to(&["--address", "BOB@example.com"]), ["dave@example.com", "bob@example.com"]);
    assert_eq!(to(&["--result", "sent", "--limit", "1"]), ["dave@example.com"]);
    let csv = stdout(&desk.run(&["log", "--csv", "--result", "sent"], b""));
    assert_eq!(csv.lines().count(), 3, "a header and two rows: {csv}");
    assert!(csv.lines().nth(1).unwrap().contains("dave@example.com"), "{csv}");

    let o = desk.run(&["log", "--since", "last tuesday"], b"");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--since") && err.contains("YYYY-MM-DD") && err.contains("RFC 3339"), "{err}");
    let o = desk.run(&["log", "--result", "lost"], b"");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("bounced"));
}

#[test]
fn the_agent_prunes_rows_past_the_retention_and_keeps_the_rest() {
    let desk = Desk::relay(9, &["logs.retention_days", "30"]);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let day = 86_400_000;
    insert(&desk, &[(now - 40 * day, "a@x", "old@x", "sent"), (now - 20 * day, "a@x", "kept@x", "sent"), (now, "a@x", "new@x", "sent")]);
    {
        let conn = rusqlite::Connection::open(desk.path()).unwrap();
        conn.execute(
            "INSERT INTO events (at, severity, category, summary) VALUES (?1, 'info', 'app', 'old'), (?2, 'info', 'app', 'new')",
            [now - 40 * day, now],
        )
        .unwrap();
    }
    ok(&desk.run(&["deliver", "--once"], b""));
    let to: Vec<String> = log(&desk, &[]).iter().map(|r| r["recipient"].as_str().unwrap().to_string()).collect();
    assert_eq!(to, ["new@x", "kept@x"]);
    let conn = rusqlite::Connection::open(desk.path()).unwrap();
    let events: Vec<String> =
        conn.prepare("SELECT summary FROM events ORDER BY at").unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    assert!(!events.contains(&"old".to_string()) && events.contains(&"new".to_string()), "{events:?}");

    let o = desk.run(&["config", "set", "logs.retention_days", "0"], b"");
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("3650"), "{}", String::from_utf8_lossy(&o.stderr));
}
