//! The outbox's intake through the real `smtp-desk` binary, as the programs on a machine call it:
//! each real caller's sendmail command line, every refusal (exit code, nothing stored), a
//! 4,000-recipient message, the queue listing and management, and kill -9 during `-bs` intake.

use serde_json::Value;
use smtp_desk::outbox::Store;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_smtp-desk");

/// A private settings dir and data dir, with a from address, a from name and (optionally)
/// "local mail goes to".
struct Desk {
    config: tempfile::TempDir,
    data: tempfile::TempDir,
}

impl Desk {
    fn new() -> Desk {
        Desk::with_local(Some("admin@example.com"))
    }

    fn with_local(local: Option<&str>) -> Desk {
        let d = Desk { config: tempfile::tempdir().unwrap(), data: tempfile::tempdir().unwrap() };
        let mut args = vec!["config", "set", "sender.from_address", "me@example.com", "sender.from_name", "SMTP Desk"];
        if let Some(l) = local {
            args.extend(["local_recipient", l]);
        }
        let o = d.run(&args, b"");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        d
    }

    fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("SMTP_DESK_CONFIG_DIR", self.config.path()).env("SMTP_DESK_DATA_DIR", self.data.path());
        c
    }

    fn run(&self, args: &[&str], stdin: &[u8]) -> Output {
        run_with(self.cmd(BIN).args(args), stdin)
    }

    fn sendmail(&self, args: &[&str], stdin: &[u8]) -> Output {
        self.run(&[&["sendmail"], args].concat(), stdin)
    }

    /// `queue list --json`, parsed: one object per line.
    fn list(&self) -> Vec<Value> {
        // Newest first; the tests read oldest first.
        let o = self.run(&["queue", "list", "--json", "--limit", "100000"], b"");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap().lines().map(|l| serde_json::from_str(l).expect("one JSON object per line")).rev().collect()
    }

    fn only(&self) -> (Value, String) {
        let list = self.list();
        assert_eq!(list.len(), 1, "{list:?}");
        let id = list[0]["id"].as_i64().unwrap();
        let raw = Store::open(&self.data.path().join("outbox.sqlite3")).unwrap().raw_message(id).unwrap();
        (list[0].clone(), String::from_utf8(raw).unwrap())
    }
}

fn run_with(cmd: &mut Command, stdin: &[u8]) -> Output {
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    // A writer thread, so a refusal that exits before reading everything can't deadlock the test.
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

fn ok(o: &Output) {
    assert!(o.status.success(), "exit {:?}: {}", o.status.code(), String::from_utf8_lossy(&o.stderr));
}

fn recipients(m: &Value) -> Vec<String> {
    m["recipients"].as_array().unwrap().iter().map(|r| r["address"].as_str().unwrap().to_string()).collect()
}

fn header<'a>(raw: &'a str, name: &str) -> Option<&'a str> {
    let head = &raw[..raw.find("\r\n\r\n").unwrap()];
    head.split("\r\n").find_map(|l| l.split_once(':').filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim()))
}

/// Every line ends in CRLF, and the header section ends with an empty line.
fn assert_crlf(raw: &str) {
    assert!(!raw.replace("\r\n", "").contains(['\r', '\n']), "bare CR or LF left: {raw:?}");
    assert!(raw.contains("\r\n\r\n") && raw.ends_with("\r\n"), "{raw:?}");
}

fn assert_added(raw: &str, from: &str) {
    assert_eq!(header(raw, "From"), Some(from), "{raw}");
    assert!(header(raw, "Date").is_some_and(|d| d.ends_with("+0000") || d.ends_with("-0000")), "{raw}");
    assert!(header(raw, "Message-ID").is_some_and(|m| m.starts_with('<') && m.ends_with("@example.com>")), "{raw}");
}

// ---- each real caller's command line ----

#[test]
fn cronie() {
    let d = Desk::new();
    let msg = "From: root (Cron Daemon)\nTo: root\nSubject: Cron <root@host> /usr/local/bin/backup\nContent-Type: text/plain; charset=UTF-8\n\nbackup done\n";
    ok(&d.sendmail(&["-FCronDaemon", "-i", "-odi", "-oem", "-oi", "-t", "-f", "root"], msg.as_bytes()));
    let (m, raw) = d.only();
    assert_eq!(m["sender"], "me@example.com", "a bare local sender becomes the profile's from address");
    assert_eq!(recipients(&m), ["admin@example.com"], "root goes where local mail goes");
    assert_eq!(header(&raw, "From"), Some("root (Cron Daemon)"), "an existing From is kept");
    assert_eq!(header(&raw, "To"), Some("root"));
    assert!(header(&raw, "Date").is_some() && header(&raw, "Message-ID").is_some());
    assert_crlf(&raw);
}

#[test]
fn debian_cron() {
    let d = Desk::new();
    let msg = "From: root (Cron Daemon)\nTo: user\nSubject: Cron <user@host> true\nMIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n\nsortie: été\n";
    ok(&d.sendmail(&["-i", "-FCronDaemon", "-B8BITMIME", "-oem", "user"], msg.as_bytes()));
    let (m, raw) = d.only();
    assert_eq!(recipients(&m), ["admin@example.com"]);
    assert_eq!(m["sender"], "me@example.com");
    assert!(raw.contains("sortie: été\r\n"), "8-bit body kept byte for byte");
    let store = Store::open(&d.data.path().join("outbox.sqlite3")).unwrap();
    assert_eq!(store.show(m["id"].as_i64().unwrap()).unwrap().body_type.as_deref(), Some("8BITMIME"), "-B is kept with the message");
}

#[test]
fn git_send_email() {
    let d = Desk::new();
    let msg = "From: Dev <dev@example.com>\nTo: list@example.com\nCc: rev@example.com\nSubject: [PATCH] fix\nDate: Mon, 1 Jan 2024 10:00:00 +0000\nMessage-ID: <20240101.1@example.com>\nX-Mailer: git-send-email 2.43.0\nMIME-Version: 1.0\nContent-Transfer-Encoding: 8bit\n\n---\n.\n a.txt | 1 +\n";
    ok(&d.sendmail(&["-f", "dev@example.com", "-i", "list@example.com", "rev@example.com", "hidden@example.com"], msg.as_bytes()));
    let (m, raw) = d.only();
    assert_eq!(m["sender"], "dev@example.com");
    assert_eq!(recipients(&m), ["list@example.com", "rev@example.com", "hidden@example.com"]);
    assert_eq!(header(&raw, "Date"), Some("Mon, 1 Jan 2024 10:00:00 +0000"), "nothing added when present");
    assert_eq!(header(&raw, "Message-ID"), Some("<20240101.1@example.com>"));
    assert_eq!(m["message_id"], "<20240101.1@example.com>");
    assert!(raw.contains("\r\n---\r\n.\r\n a.txt"), "with -i a lone '.' is content: {raw}");
}

#[test]
fn php_mail() {
    let d = Desk::new();
    let msg =
        "To: customer@example.com\nSubject: Your order\nX-PHP-Originating-Script: 33:order.php\nBcc: archive@example.com\n\nThanks!\n";
    ok(&d.sendmail(&["-t", "-i"], msg.as_bytes()));
    let (m, raw) = d.only();
    assert_eq!(m["sender"], "me@example.com");
    assert_eq!(recipients(&m), ["customer@example.com", "archive@example.com"]);
    assert!(header(&raw, "Bcc").is_none() && !raw.contains("archive@"), "Bcc removed: {raw}");
    assert_added(&raw, "\"SMTP Desk\" <me@example.com>");
    assert_crlf(&raw);
    assert_eq!(m["subject"], "Your order");
}

#[test]
fn mutt() {
    let d = Desk::new();
    let msg = "Date: Tue, 2 Jan 2024 09:00:00 +0100\nFrom: Me <me@example.com>\nTo: a@example.com\nBcc: b@example.com\nSubject: hello\nMessage-ID: <m1@example.com>\nUser-Agent: NeoMutt/20231103\n\nhi\n.\nstill the body\n";
    ok(&d.sendmail(&["-oem", "-oi", "-f", "me@example.com", "--", "a@example.com", "b@example.com"], msg.as_bytes()));
    let (m, raw) = d.only();
    assert_eq!(recipients(&m), ["a@example.com", "b@example.com"]);
    assert!(header(&raw, "Bcc").is_none(), "Bcc removed even without -t");
    assert!(raw.contains("hi\r\n.\r\nstill the body\r\n"));
}

#[test]
fn logwatch() {
    let d = Desk::new();
    let msg = "To: root\nFrom: Logwatch\nSubject: Logwatch for host (Linux)\nMIME-Version: 1.0\nContent-Transfer-Encoding: 7bit\nContent-Type: text/plain; charset=\"iso-8859-1\"\n\n ################### Logwatch 7.7 ####################\n";
    ok(&d.sendmail(&["-t"], msg.as_bytes()));
    let (m, raw) = d.only();
    assert_eq!(recipients(&m), ["admin@example.com"]);
    assert_eq!(header(&raw, "From"), Some("Logwatch"));
}

#[test]
fn unattended_upgrades() {
    let d = Desk::new();
    let msg = "From: root\nTo: root\nSubject: unattended-upgrades result for host: SUCCESS\nContent-Type: text/plain; charset=\"utf-8\"\n\nUnattended upgrade result: All upgrades installed\n";
    ok(&d.sendmail(&["-oi", "-t"], msg.as_bytes()));
    let (m, raw) = d.only();
    assert_eq!(recipients(&m), ["admin@example.com"]);
    assert_eq!(m["sender"], "me@example.com");
    assert!(header(&raw, "Message-ID").is_some());
}

#[test]
fn mdadm() {
    let d = Desk::new();
    let msg = "From: mdadm monitoring <mdadm@host.example.com>\nTo: root\nSubject: Fail event on /dev/md0:host\n\nThis is an automatically generated mail message from mdadm\nrunning on host\n.\n";
    ok(&d.sendmail(&["-t", "-fmdadm@host.example.com"], msg.as_bytes()));
    let (m, raw) = d.only();
    assert_eq!(m["sender"], "mdadm@host.example.com", "attached -f value");
    assert_eq!(recipients(&m), ["admin@example.com"]);
    assert!(raw.ends_with("running on host\r\n"), "without -i a lone '.' ends the message: {raw}");
}

#[test]
fn symfony_bs() {
    let d = Desk::new();
    let script = "EHLO [127.0.0.1]\r\nMAIL FROM:<app@example.com>\r\nRCPT TO:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n\
                  From: app@example.com\r\nTo: a@example.com\r\nSubject: welcome\r\n\r\n..starts with a dot\r\nline\r\n.\r\nQUIT\r\n";
    let o = d.sendmail(&["-bs"], script.as_bytes());
    ok(&o);
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(out.starts_with("220 "), "{out}");
    assert!(out.contains("250 2.0.0 Ok: queued as 1\r\n") && out.ends_with("221 2.0.0 Bye\r\n"), "{out}");
    let (m, raw) = d.only();
    assert_eq!(m["sender"], "app@example.com");
    assert_eq!(recipients(&m), ["a@example.com", "b@example.com"]);
    assert!(raw.contains("\r\n\r\n.starts with a dot\r\nline\r\n"), "dot-unstuffed: {raw}");
    assert!(header(&raw, "Date").is_some() && header(&raw, "Message-ID").is_some());
}

#[test]
fn runs_as_sendmail_and_mailq_by_name() {
    let d = Desk::new();
    let bin_dir = tempfile::tempdir().unwrap();
    for name in ["sendmail", "mailq", "newaliases"] {
        std::os::unix::fs::symlink(BIN, bin_dir.path().join(name)).unwrap();
    }
    let sendmail = bin_dir.path().join("sendmail");
    ok(&run_with(d.cmd(sendmail.to_str().unwrap()).args(["-t", "-i"]), b"To: a@example.com\nSubject: via symlink\n\nx\n"));
    let o = run_with(&mut d.cmd(bin_dir.path().join("mailq").to_str().unwrap()), b"");
    ok(&o);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.starts_with("-Queue ID-") && text.contains("a@example.com (queued)") && text.contains("in 1 Request."), "{text}");
    ok(&run_with(&mut d.cmd(bin_dir.path().join("newaliases").to_str().unwrap()), b""));
    ok(&d.sendmail(&["-bi"], b""));
    ok(&d.sendmail(&["-I"], b""));
}

// ---- refusals: the documented exit code, nothing stored ----

#[test]
fn every_refusal_stores_nothing() {
    let d = Desk::new();
    let msg = b"To: a@example.com\nSubject: s\n\nbody\n";
    let cases: Vec<(&str, Vec<&str>, Vec<u8>, i32)> = vec![
        ("unknown flag", vec!["-x", "a@example.com"], msg.to_vec(), 64),
        ("-f without a value", vec!["a@example.com", "-f"], msg.to_vec(), 64),
        ("no recipient and no -t", vec!["-i"], msg.to_vec(), 64),
        ("unsupported mode", vec!["-bd"], msg.to_vec(), 64),
        ("-t but no recipient headers", vec!["-t"], b"Subject: s\n\nbody\n".to_vec(), 65),
        ("-t but an empty group", vec!["-t"], b"To: undisclosed-recipients:;\n\nbody\n".to_vec(), 65),
        ("empty message", vec!["a@example.com"], Vec::new(), 65),
        ("NUL byte", vec!["a@example.com"], b"Subject: a\0b\n\nbody\n".to_vec(), 65),
        ("CR/LF in a recipient", vec!["a@example.com\r\nRCPT TO:<evil@example.com>"], msg.to_vec(), 65),
        ("LF in the sender", vec!["-f", "me@example.com\nX", "a@example.com"], msg.to_vec(), 65),
        ("bad recipient", vec!["a@"], msg.to_vec(), 65),
        ("unreadable To with -t", vec!["-t"], b"To: <a@example.com\n\nb\n".to_vec(), 65),
        ("over the size limit", vec!["-i", "a@example.com"], vec![b'x'; 25 * 1024 * 1024 + 1], 73),
    ];
    for (what, args, input, code) in cases {
        let o = d.sendmail(&args, &input);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "{what}: {err}");
        assert!(err.starts_with("sendmail: "), "{what}: a clear message: {err}");
        assert!(d.list().is_empty(), "{what}: nothing stored");
    }
}

#[test]
fn bare_local_recipient_without_the_setting_is_refused_with_67() {
    let d = Desk::with_local(None);
    for args in [&["root"][..], &["-t"]] {
        let o = d.sendmail(args, b"To: root\nSubject: s\n\nbody\n");
        assert_eq!(o.status.code(), Some(67), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(String::from_utf8_lossy(&o.stderr).contains("local_recipient"));
    }
    assert!(d.list().is_empty());
    let o = d.run(&["config", "set", "local_recipient", "not an address"], b"");
    assert_eq!(o.status.code(), Some(2), "the setting is validated");
    let o = d.run(&["config", "set", "local_recipient", "ops@example.com"], b"");
    ok(&o);
    ok(&d.sendmail(&["root"], b"Subject: s\n\nbody\n"));
    assert_eq!(recipients(&d.only().0), ["ops@example.com"]);
}

#[test]
fn storage_failure_exits_75() {
    let d = Desk::new();
    let file = d.data.path().join("not-a-dir");
    std::fs::write(&file, b"").unwrap();
    let mut c = d.cmd(BIN);
    c.env("SMTP_DESK_DATA_DIR", file.join("sub")).args(["sendmail", "a@example.com"]);
    let o = run_with(&mut c, b"Subject: s\n\nbody\n");
    assert_eq!(o.status.code(), Some(75), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("could not be opened or written"));
}

// ---- size ----

#[test]
fn four_thousand_recipients() {
    let d = Desk::new();
    let rcpts: Vec<String> = (0..4000).map(|i| format!("user{i}@example.com")).collect();
    let mut args = vec!["-i"];
    args.extend(rcpts.iter().map(String::as_str));
    let started = std::time::Instant::now();
    ok(&d.sendmail(&args, b"Subject: all hands\n\nhello\n"));
    eprintln!("4,000 recipients queued in {:?}", started.elapsed());
    let (m, _) = d.only();
    assert_eq!(recipients(&m), rcpts);

    // The same through the headers with -t, folded over many lines, plus a Bcc half.
    let d = Desk::new();
    let to = rcpts[..2000].join(",\n ");
    let bcc = rcpts[2000..].join(",\n ");
    ok(&d.sendmail(&["-t", "-i"], format!("To: {to}\nBcc: {bcc}\nSubject: all\n\nx\n").as_bytes()));
    let (m, raw) = d.only();
    assert_eq!(recipients(&m), rcpts);
    assert!(!raw.contains("user3999@"), "Bcc removed");
}

// ---- queue listing and management ----

#[test]
fn queue_list_json_and_mailq() {
    let d = Desk::new();
    let o = d.sendmail(&["-bp"], b"");
    ok(&o);
    assert_eq!(String::from_utf8(o.stdout).unwrap(), "Mail queue is empty\n");
    ok(&d.sendmail(&["-f", "<>", "a@example.com", "b@example.com"], b"Subject: first\n\n1\n"));
    ok(&d.sendmail(&["c@example.com"], b"Subject: second\n\n2\n"));
    let list = d.list();
    assert_eq!(list.len(), 2);
    let o = d.run(&["queue", "list", "--json"], b"");
    let first = String::from_utf8(o.stdout).unwrap().lines().next().unwrap().to_string();
    let order = [
        "\"id\":",
        "\"state\":",
        "\"received_at\":",
        "\"sender\":",
        "\"size\":",
        "\"subject\":",
        "\"message_id\":",
        "\"recipients\":[{\"address\":",
    ];
    let at: Vec<usize> = order.iter().map(|k| first.find(k).unwrap_or_else(|| panic!("{k} missing: {first}"))).collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]) && at[0] == 1, "stable field order: {first}");
    let r: Vec<&str> = list[0]["recipients"][0].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(r, ["address", "attempts", "last_reply", "next_try_at", "state"]);
    assert_eq!(list[0]["sender"], "", "null sender");
    assert_eq!(list[0]["state"], "queued");
    assert_eq!(list[1]["subject"], "second");

    let o = d.run(&["queue", "list", "--json", "--search", "C@EXAMPLE"], b"");
    assert_eq!(String::from_utf8(o.stdout).unwrap().lines().count(), 1, "search by address, any case");
    let ids = |o: Output| -> Vec<i64> {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap().lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["id"].as_i64().unwrap()).collect()
    };
    // Newest first, paged by keyset as the window does: --before the last id shown, --after the first.
    ok(&d.sendmail(&["d@example.com"], b"Subject: third\n\n3\n"));
    assert_eq!(ids(d.run(&["queue", "list", "--json"], b"")), [3, 2, 1]);
    assert_eq!(ids(d.run(&["queue", "list", "--json", "--limit", "1"], b"")), [3]);
    assert_eq!(ids(d.run(&["queue", "list", "--json", "--limit", "1", "--before", "3"], b"")), [2]);
    assert_eq!(ids(d.run(&["queue", "list", "--json", "--limit", "2", "--before", "2"], b"")), [1]);
    assert_eq!(ids(d.run(&["queue", "list", "--json", "--limit", "1", "--after", "1"], b"")), [2]);
    assert_eq!(ids(d.run(&["queue", "list", "--json", "--limit", "5", "--after", "1"], b"")), [3, 2]);
    assert_eq!(ids(d.run(&["queue", "list", "--json", "--search", "example.com", "--before", "3"], b"")), [2, 1]);
    let o = d.run(&["queue", "list", "--offset", "1"], b"");
    assert!(!o.status.success(), "--offset is gone");

    let o = d.sendmail(&["-bp"], b"");
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("MAILER-DAEMON") && text.contains("b@example.com (queued)") && text.ends_with("in 3 Requests.\n"), "{text}");
    let o = d.run(&["queue", "list", "--help"], b"");
    assert!(String::from_utf8(o.stdout).unwrap().contains("one object per message per line"), "the format is documented");

    let o = d.sendmail(&["-q"], b"");
    ok(&o);
    assert!(o.stderr.is_empty(), "-q is silent like sendmail's: {}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(d.list().len(), 3, "sending is off here: the flush leaves the queue as it is");
    let o = d.run(&["queue", "flush"], b"");
    ok(&o);
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(
        said.contains("sending is off: 3 messages are kept; turn sending on to deliver them") && !said.contains("delivery is running"),
        "{said}"
    );
}

#[test]
fn hold_release_delete() {
    let d = Desk::new();
    for i in 0..3 {
        ok(&d.sendmail(&[&format!("r{i}@example.com")], b"Subject: s\n\nb\n"));
    }
    ok(&d.run(&["queue", "hold", "1", "2"], b""));
    let held = d.run(&["queue", "list", "--json", "--state", "held"], b"");
    let held: Vec<Value> = String::from_utf8(held.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(held.iter().map(|m| m["id"].as_i64().unwrap()).collect::<Vec<_>>(), [2, 1], "newest first");
    assert!(String::from_utf8(d.sendmail(&["-bp"], b"").stdout).unwrap().contains("1         !"), "mailq marks held messages");

    let o = d.run(&["queue", "release", "2", "--json"], b"");
    assert_eq!(String::from_utf8(o.stdout).unwrap().trim(), r#"{"changed":1}"#);
    let states: Vec<String> = d.list().iter().map(|m| m["state"].as_str().unwrap().to_string()).collect();
    assert_eq!(states, ["held", "queued", "queued"]);

    let o = d.run(&["queue", "delete", "3", "99"], b"");
    assert_eq!(o.status.code(), Some(2), "an unknown id is refused");
    assert_eq!(d.list().len(), 3, "and nothing was deleted");
    ok(&d.run(&["queue", "delete", "3"], b""));
    assert_eq!(d.list().len(), 2);
    let o = d.run(&["queue", "counts", "--json"], b"");
    let counts: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((counts["messages"].as_u64(), counts["held"].as_u64(), counts["queued"].as_u64()), (Some(2), Some(1), Some(1)), "{counts}");
    let o = d.run(&["queue", "delete", "--all"], b"");
    assert_eq!(String::from_utf8(o.stdout).unwrap().trim(), "2 message(s) deleted.");
    assert!(d.list().is_empty());
    let o = d.run(&["queue", "counts", "--json"], b"");
    assert_eq!(
        String::from_utf8(o.stdout).unwrap().trim(),
        r#"{"messages":0,"queued":0,"sending":0,"sent":0,"deferred":0,"held":0,"failed":0}"#,
        "recipients go with their messages"
    );
    let o = d.run(&["queue", "show", "1"], b"");
    assert_eq!(o.status.code(), Some(2));
}

// ---- crash safety ----

/// kill -9 while a `-bs` client streams messages: every message whose 250 the client saw is in
/// the queue afterwards, and at most the one in flight is there without its 250.
#[test]
fn kill_during_bs_intake_loses_nothing_acknowledged() {
    for round in 0..3 {
        let d = Desk::new();
        let mut child =
            d.cmd(BIN).arg("sendmail").arg("-bs").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
        let mut input = child.stdin.take().unwrap();
        let output = BufReader::new(child.stdout.take().unwrap());
        let writer = std::thread::spawn(move || {
            let _ = input.write_all(b"EHLO test\r\n");
            for i in 0.. {
                let m = format!(
                    "MAIL FROM:<s@example.com>\r\nRCPT TO:<r{i}@example.com>\r\nDATA\r\nSubject: m{i}\r\n\r\n{}\r\n.\r\n",
                    "x".repeat(4000)
                );
                if input.write_all(m.as_bytes()).is_err() {
                    break;
                }
            }
        });
        let reader = std::thread::spawn(move || {
            output
                .lines()
                .map_while(Result::ok)
                .filter_map(|l| l.strip_prefix("250 2.0.0 Ok: queued as ").map(|id| id.parse::<i64>().unwrap()))
                .collect::<Vec<_>>()
        });
        std::thread::sleep(std::time::Duration::from_millis(300 + 150 * round));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let acked = reader.join().unwrap();
        writer.join().unwrap();
        let stored: Vec<i64> = d.list().iter().map(|m| m["id"].as_i64().unwrap()).collect();
        assert!(!acked.is_empty(), "some messages were acknowledged before the kill");
        for id in &acked {
            assert!(stored.contains(id), "round {round}: message {id} was acknowledged but is not in the queue");
        }
        assert!(stored.len() <= acked.len() + 1, "round {round}: {} stored, {} acknowledged", stored.len(), acked.len());
        eprintln!("round {round}: {} acknowledged, {} stored", acked.len(), stored.len());
    }
}

/// Refusals inside `-bs` get SMTP replies (not exit codes) and store nothing; the session goes on.
#[test]
fn bs_refusals_store_nothing() {
    let d = Desk::with_local(None);
    let big = 25 * 1024 * 1024 + 1;
    let script = format!(
        "HELO x\r\nMAIL FROM:<a@example.com> SIZE={big}\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<root>\r\nDATA\r\n\
         RCPT TO:<b@example.com>\r\nDATA\r\n\r\n.\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n{}\r\n.\r\nBOGUS\r\nQUIT\r\n",
        "x".repeat(big)
    );
    let o = d.sendmail(&["-bs"], script.as_bytes());
    ok(&o);
    let out = String::from_utf8(o.stdout).unwrap();
    let codes: Vec<&str> = out.lines().map(|l| &l[..3]).collect();
    assert_eq!(codes, ["220", "250", "552", "250", "550", "554", "250", "354", "554", "250", "250", "354", "552", "500", "221"], "{out}");
    assert!(d.list().is_empty());
}

#[test]
fn dsn_options_are_kept_with_the_message() {
    let d = Desk::new();
    ok(&d.sendmail(&["-N", "failure,delay", "-Rhdrs", "-V", "env-42", "-i", "a@example.com"], b"Subject: s\n\nb\n"));
    let o = d.run(&["queue", "show", "1", "--json"], b"");
    ok(&o);
    let m: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (m["dsn_notify"].as_str(), m["dsn_ret"].as_str(), m["dsn_envid"].as_str()),
        (Some("failure,delay"), Some("hdrs"), Some("env-42"))
    );
    assert_eq!(m["source"], "sendmail");
    assert!(m["headers"].as_str().unwrap().contains("Subject: s\n"), "{m}");
}
