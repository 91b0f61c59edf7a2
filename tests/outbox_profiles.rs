//! Mail per profile (issue 10) through the real `smtp-desk` binary and real SMTP servers
//! (aiosmtpd): each profile's mail goes to its own server and is recorded with its name; an
//! unknown profile is refused; the admin policy (a file in a temp dir, `SMTP_DESK_POLICY`) stops
//! all delivery while it is invalid, refuses senders outside its domain, and holds back only the
//! profile that breaks it.

mod support;

use serde_json::{json, Value};
use smtp_desk::settings::{self, profiles};
use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;
use support::desk::{ok, Desk};
use support::SmtpClient as Client;
use support::{wait_until, Server};

/// A desk whose Global profile relays to `a`, with a profile `alerts` that overrides only
/// `relay.port` (to `b`), and a policy file path (absent until written).
struct Setup {
    desk: Desk,
    policy: tempfile::TempDir,
}

impl Setup {
    fn new(a: &Server, b: &Server) -> Setup {
        let desk = Desk::relay(a.port, &[]);
        let s = Setup { desk, policy: tempfile::tempdir().unwrap() };
        s.change(|st| {
            profiles::create(st, "alerts", None)?;
            profiles::set_override(st, "alerts", "relay.port", json!(b.port))
        });
        s
    }

    fn change(&self, f: impl FnOnce(&mut settings::Settings) -> Result<(), settings::Error>) {
        let path = self.desk.config.path().join("settings.json");
        settings::modify(&path, settings::WriteOptions::default(), f).unwrap();
    }

    fn policy_file(&self) -> PathBuf {
        self.policy.path().join("policy.json")
    }

    fn set_policy(&self, text: &str) {
        std::fs::write(self.policy_file(), text).unwrap();
    }

    fn run(&self, args: &[&str], stdin: &[u8]) -> Output {
        use std::io::Write;
        let mut c = self.desk.cmd();
        c.env("SMTP_DESK_POLICY", self.policy_file()).args(args);
        let mut child = c
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        child.wait_with_output().unwrap()
    }

    fn sendmail(&self, args: &[&str], subject: &str) -> Output {
        let body = format!("Subject: {subject}\n\nbody of {subject}\n");
        self.run(&[&["sendmail", "-i"], args].concat(), body.as_bytes())
    }

    fn deliver_once(&self) {
        ok(&self.run(&["deliver", "--once"], b""));
    }

    fn lines(&self, args: &[&str]) -> Vec<Value> {
        let o = self.run(args, b"");
        ok(&o);
        String::from_utf8(o.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    /// `queue list --json`, oldest first.
    fn queue(&self) -> Vec<Value> {
        let mut q = self.lines(&["queue", "list", "--json"]);
        q.reverse();
        q
    }
}

fn subjects(server: &Server) -> Vec<String> {
    let mut out: Vec<String> = server
        .received()
        .iter()
        .map(|m| m["content"].as_str().unwrap().lines().find_map(|l| l.strip_prefix("Subject: ")).unwrap_or("").trim().to_string())
        .collect();
    out.sort();
    out
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn each_profile_s_mail_goes_to_its_own_server_and_names_its_profile() {
    let (a, b) = (Server::start(&[]), Server::start(&[]));
    let s = Setup::new(&a, &b);
    ok(&s.sendmail(&["--profile", "alerts", "ops@example.com"], "for-alerts"));
    ok(&s.sendmail(&["team@example.com"], "for-default"));
    s.deliver_once();
    assert!(wait_until(Duration::from_secs(10), || a.received().len() + b.received().len() >= 2));
    assert_eq!(subjects(&b), ["for-alerts"], "server B gets the alerts profile's mail only");
    assert_eq!(subjects(&a), ["for-default"], "server A gets the default profile's mail only");

    let q = s.queue();
    let profile_of = |subject: &str| q.iter().find(|m| m["subject"] == subject).unwrap()["profile"].clone();
    assert_eq!((profile_of("for-alerts"), profile_of("for-default")), (json!("alerts"), json!("global")));
    let id = q.iter().find(|m| m["subject"] == "for-alerts").unwrap()["id"].as_i64().unwrap().to_string();
    let detail: Value = serde_json::from_slice(&s.run(&["queue", "show", &id, "--json"], b"").stdout).unwrap();
    assert_eq!(detail["profile"], "alerts");
    assert!(detail["attempts"][0]["server"].as_str().unwrap().ends_with(&format!(":{}", b.port)), "{detail}");

    let log = s.lines(&["log", "--json"]);
    assert_eq!(log.len(), 4, "received and sent for each: {log:?}");
    for row in &log {
        let want = if row["recipient"] == "ops@example.com" { "alerts" } else { "global" };
        assert_eq!(row["profile"], want, "{row}");
    }
    let only = s.lines(&["log", "--json", "--profile", "alerts"]);
    assert_eq!(only.len(), 2);
    assert!(only.iter().all(|r| r["recipient"] == "ops@example.com"));
    let table = String::from_utf8(s.run(&["queue", "list"], b"").stdout).unwrap();
    assert!(table.contains("[alerts]") && table.contains("[global]"), "{table}");
}

#[test]
fn an_unknown_profile_is_refused_and_nothing_is_queued() {
    let (a, b) = (Server::start(&[]), Server::start(&[]));
    let s = Setup::new(&a, &b);
    let o = s.sendmail(&["--profile", "marketing", "ops@example.com"], "nowhere");
    assert_eq!(o.status.code(), Some(64), "{}", stderr(&o));
    let said = stderr(&o);
    assert!(said.contains("marketing") && said.contains("global, alerts"), "{said}");
    assert!(s.queue().is_empty());
    // The same for the SMTP dialogue on standard input.
    let o = s.run(&["sendmail", "-bs", "--profile", "marketing"], b"QUIT\r\n");
    assert_eq!(o.status.code(), Some(64), "{}", stderr(&o));
}

#[test]
fn an_invalid_policy_stops_all_delivery_until_it_is_fixed() {
    let (a, b) = (Server::start(&[]), Server::start(&[]));
    let s = Setup::new(&a, &b);
    s.set_policy("{ \"schema\": 1, \"require_tls\": tru");
    // Intake still takes mail: only sending stops.
    ok(&s.sendmail(&["--profile", "alerts", "ops@example.com"], "held-alerts"));
    ok(&s.sendmail(&["team@example.com"], "held-default"));
    s.deliver_once();
    std::thread::sleep(Duration::from_millis(300));
    assert!(a.received().is_empty() && b.received().is_empty(), "nothing is sent while the policy is invalid");
    let q = s.queue();
    assert_eq!(q.len(), 2);
    for m in &q {
        assert_eq!(m["state"], "queued", "kept, never bounced: {m}");
        let why = m["recipients"][0]["last_reply"].as_str().unwrap_or_default();
        assert!(why.contains("admin policy") && why.contains("policy.json"), "the reason is noted: {why}");
    }
    let events = s.lines(&["events", "--json"]);
    let errors: Vec<&Value> =
        events.iter().filter(|e| e["severity"] == "error" && e["summary"].as_str().unwrap().contains("admin policy")).collect();
    assert_eq!(errors.len(), 1, "one error event (not one per pass): {events:?}");
    s.deliver_once();
    let events = s.lines(&["events", "--json"]);
    assert_eq!(events.iter().filter(|e| e["severity"] == "error" && e["summary"].as_str().unwrap().contains("admin policy")).count(), 1);

    s.set_policy("{ \"schema\": 1, \"reason\": \"Set by IT\" }");
    s.deliver_once();
    assert!(wait_until(Duration::from_secs(10), || a.received().len() + b.received().len() >= 2));
    assert_eq!((subjects(&a), subjects(&b)), (vec!["held-default".to_string()], vec!["held-alerts".to_string()]));
}

#[test]
fn the_policy_s_sender_domain_refuses_other_senders_at_intake() {
    let (a, b) = (Server::start(&[]), Server::start(&[]));
    let s = Setup::new(&a, &b);
    s.set_policy("{ \"schema\": 1, \"sender_domain\": \"example.com\" }");
    let o = s.sendmail(&["-f", "x@other.example", "ops@example.com"], "wrong-domain");
    assert_eq!(o.status.code(), Some(77), "{}", stderr(&o));
    assert!(stderr(&o).contains("other.example") && stderr(&o).contains("example.com"), "{}", stderr(&o));
    assert!(s.queue().is_empty(), "nothing was queued");
    let refused = s.lines(&["log", "--json", "--result", "refused"]);
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!((refused[0]["sender"].as_str(), refused[0]["profile"].as_str()), (Some("x@other.example"), Some("global")));
    assert!(refused[0]["reply"].as_str().unwrap().contains("sender domain"), "{}", refused[0]);
    // The SMTP dialogue refuses it at MAIL, with the same row.
    let o = s.run(&["sendmail", "-bs", "--profile", "alerts"], b"EHLO c\r\nMAIL FROM:<y@other.example>\r\nQUIT\r\n");
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(said.contains("550 5.7.1"), "{said}");
    let refused = s.lines(&["log", "--json", "--result", "refused", "--profile", "alerts"]);
    assert_eq!(refused.len(), 1, "{refused:?}");
    // A sender in the domain goes.
    ok(&s.sendmail(&["-f", "app@example.com", "ops@example.com"], "right-domain"));
    assert_eq!(s.queue().len(), 1);
}

#[test]
fn a_profile_that_breaks_the_policy_waits_while_the_others_are_sent() {
    let (a, b) = (Server::start(&[]), Server::start(&[]));
    let s = Setup::new(&a, &b);
    s.change(|st| profiles::set_override(st, "alerts", "sender.from_address", json!("alerts@other.example")));
    s.set_policy("{ \"schema\": 1, \"sender_domain\": \"example.com\" }");
    ok(&s.sendmail(&["--profile", "alerts", "-f", "app@example.com", "ops@example.com"], "blocked-alerts"));
    ok(&s.sendmail(&["team@example.com"], "fine-default"));
    s.deliver_once();
    assert!(wait_until(Duration::from_secs(10), || !a.received().is_empty()));
    assert_eq!(subjects(&a), ["fine-default"]);
    assert!(b.received().is_empty());
    let q = s.queue();
    let blocked = q.iter().find(|m| m["subject"] == "blocked-alerts").unwrap();
    assert_eq!(blocked["state"], "queued");
    let why = blocked["recipients"][0]["last_reply"].as_str().unwrap();
    assert!(why.contains("alerts") && why.contains("sender.from_address"), "{why}");
    let events = s.lines(&["events", "--json"]);
    assert!(events.iter().any(|e| e["summary"].as_str().unwrap().contains("profile alerts can't be used")), "{events:?}");
}

/// A bounce goes out with the failed message's profile: its From is that profile's address, and
/// it is queued (and logged) under that profile.
#[test]
fn a_bounce_uses_the_failed_message_s_profile() {
    let a = Server::start(&[]);
    let b = Server::start(&["--refuse-rcpt", "nobody@example.com"]);
    let s = Setup::new(&a, &b);
    s.change(|st| profiles::set_override(st, "alerts", "sender.from_address", json!("alerts@example.com")));
    ok(&s.sendmail(&["--profile", "alerts", "-f", "app@example.com", "nobody@example.com"], "refused-here"));
    s.deliver_once();
    assert!(wait_until(Duration::from_secs(10), || !b.received().is_empty()), "the bounce goes through B too");
    let bounce = &b.received()[0];
    let content = bounce["content"].as_str().unwrap();
    assert!(content.contains("From: Mail Delivery System <alerts@example.com>"), "{content}");
    assert!(a.received().is_empty());
    let q = s.queue();
    assert!(q.iter().all(|m| m["profile"] == "alerts"), "{q:?}");
}

#[test]
fn a_policy_that_disables_the_listener_keeps_it_from_starting_and_says_why() {
    let (a, b) = (Server::start(&[]), Server::start(&[]));
    let s = Setup::new(&a, &b);
    let port = support::free_port();
    s.change(|st| {
        profiles::set_override(st, "global", "listener.enabled", json!(true))?;
        profiles::set_override(st, "global", "listener.port", json!(port))
    });
    s.set_policy("{ \"schema\": 1, \"disable_listener\": true, \"reason\": \"Set by IT\" }");
    let o = s.run(&["listen"], b"");
    assert_eq!(o.status.code(), Some(64), "{}", stderr(&o));
    let said = stderr(&o);
    assert!(said.contains("admin policy") && said.contains("turns the SMTP listener off") && said.contains("Set by IT"), "{said}");
}

/// One keyring test at a time in this binary: the listener entries are the user's, not the test's.
fn keyring_turn() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock().unwrap_or_else(|p| p.into_inner())
}

impl Client {
    /// Logs in (AUTH PLAIN) and hands in one message; the final reply.
    fn send_as(&mut self, user: &str, password: &str, to: &str, subject: &str) -> String {
        use base64::Engine as _;
        assert!(self.command("EHLO client").contains("AUTH PLAIN"));
        let token = base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"));
        let r = self.command(&format!("AUTH PLAIN {token}"));
        assert!(r.starts_with("235"), "{r}");
        assert!(self.command("MAIL FROM:<app@example.com>").starts_with("250"));
        assert!(self.command(&format!("RCPT TO:<{to}>")).starts_with("250"));
        assert!(self.command("DATA").starts_with("354"));
        self.command(&format!("Subject: {subject}\r\n\r\nbody\r\n."))
    }
}

/// The listener with two logins (Global's and the alerts profile's, each password in its own
/// keyring entry): each client's mail goes with its login's profile to that profile's server.
/// Needs the Secret Service: run inside scripts/session.sh.
#[test]
fn listener_logins_choose_each_client_s_profile() {
    use smtp_desk::secrets::{self, Password};
    let _turn = keyring_turn();
    let (a, b) = (Server::start(&[]), Server::start(&[]));
    let s = Setup::new(&a, &b);
    let port = support::free_port();
    s.change(|st| {
        profiles::set_override(st, "global", "listener.enabled", json!(true))?;
        profiles::set_override(st, "global", "listener.port", json!(port))?;
        profiles::set_override(st, "global", "listener.username", json!("cron"))?;
        profiles::set_override(st, "alerts", "listener.username", json!("alerts-app"))
    });
    secrets::set_listener_of(secrets::DEFAULT_PROFILE, &Password::new("Cron-Listener-1").unwrap())
        .expect("the Secret Service is reachable (run inside scripts/session.sh)");
    secrets::set_listener_of("alerts", &Password::new("Alerts-Listener-2").unwrap()).unwrap();

    let mut listen = s.desk.cmd();
    listen.env("SMTP_DESK_POLICY", s.policy_file()).arg("listen").stderr(std::process::Stdio::piped());
    let mut child = listen.spawn().unwrap();
    let up = wait_until(Duration::from_secs(10), || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    let sent = up.then(|| {
        let first = Client::connect(port, Duration::from_secs(10)).send_as("cron", "Cron-Listener-1", "team@example.com", "via-cron");
        let second =
            Client::connect(port, Duration::from_secs(10)).send_as("alerts-app", "Alerts-Listener-2", "ops@example.com", "via-alerts");
        let mut anonymous = Client::connect(port, Duration::from_secs(10));
        anonymous.command("EHLO client");
        let refused = anonymous.command("MAIL FROM:<app@example.com>");
        (first, second, refused)
    });
    let _ = child.kill();
    let _ = child.wait();
    secrets::clear_listener_of(secrets::DEFAULT_PROFILE).unwrap();
    secrets::clear_listener_of("alerts").unwrap();
    let (first, second, refused) = sent.expect("the listener started");
    assert!(first.starts_with("250") && second.starts_with("250"), "{first} {second}");
    assert!(refused.starts_with("530"), "Global's login guards the port: {refused}");

    s.deliver_once();
    assert!(wait_until(Duration::from_secs(10), || a.received().len() + b.received().len() >= 2));
    assert_eq!((subjects(&a), subjects(&b)), (vec!["via-cron".to_string()], vec!["via-alerts".to_string()]));
    let q = s.queue();
    let profile_of = |subject: &str| q.iter().find(|m| m["subject"] == subject).unwrap()["profile"].clone();
    assert_eq!((profile_of("via-cron"), profile_of("via-alerts")), (json!("global"), json!("alerts")));
}

fn server_events(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn count(path: &std::path::Path, name: &str) -> usize {
    server_events(path).iter().filter(|e| e["event"] == name).count()
}

/// A daemon delivering two profiles in turn keeps each one's connection: a pass for the other
/// profile does not close it. With `connection_limit` 1 the cap holds across profiles: the kept
/// connection of one is closed before the other's is opened.
#[test]
fn kept_connections_are_per_profile_and_the_cap_spans_profiles() {
    let dir = tempfile::tempdir().unwrap();
    for limit in [4, 1] {
        let (ev_a, ev_b) = (dir.path().join(format!("a{limit}")), dir.path().join(format!("b{limit}")));
        let a = Server::start(&["--events", ev_a.to_str().unwrap()]);
        let b = Server::start(&["--events", ev_b.to_str().unwrap()]);
        let s = Setup::new(&a, &b);
        s.change(|st| {
            profiles::set_override(st, "global", "limits.max_idle_secs", json!(30))?;
            profiles::set_override(st, "global", "limits.connection_limit", json!(limit))
        });
        let mut daemon = s.desk.cmd();
        daemon.env("SMTP_DESK_POLICY", s.policy_file()).args(["deliver", "--daemon", "--quiet"]).stdin(std::process::Stdio::null());
        let mut daemon = daemon.spawn().unwrap();
        assert!(wait_until(Duration::from_secs(5), || s.desk.data.path().join("deliver.sock").exists()), "the daemon listens");
        for i in 1..=4 {
            let profile = if i % 2 == 1 { "alerts" } else { "global" };
            ok(&s.sendmail(&["--profile", profile, "bob@example.com"], &format!("m{i}")));
            assert!(wait_until(Duration::from_secs(5), || a.received().len() + b.received().len() == i), "message {i} delivered");
        }
        let _ = daemon.kill();
        let _ = daemon.wait();
        assert_eq!((a.received().len(), b.received().len()), (2, 2));
        if limit == 4 {
            assert_eq!((count(&ev_a, "connect"), count(&ev_b, "connect")), (1, 1), "one connection per profile carried its mail");
        } else {
            assert_eq!((count(&ev_a, "connect"), count(&ev_b, "connect")), (2, 2), "one connection at a time: each turn reconnects");
            assert_eq!(count(&ev_b, "disconnect"), 2, "B's kept connection was closed to make room for A's");
        }
    }
}

/// Renaming a profile takes the mail queued under its old name along, so it is still sent with
/// that profile. Renaming reads the keyring (the profile's passwords move): run inside
/// scripts/session.sh.
#[test]
fn mail_queued_for_a_renamed_profile_follows_it() {
    let _turn = keyring_turn();
    let (a, b) = (Server::start(&[]), Server::start(&[]));
    let s = Setup::new(&a, &b);
    // Sending is off for the profile, so its mail waits in the queue (sendmail would deliver it at once).
    s.change(|st| profiles::set_override(st, "alerts", "mode", json!("off")));
    ok(&s.sendmail(&["--profile", "alerts", "ops@example.com"], "queued-before-rename"));
    ok(&s.run(&["profile", "rename", "alerts", "ops"], b""));
    assert_eq!(s.queue()[0]["profile"], "ops", "the queued message follows the rename");
    assert!(b.received().is_empty());
    s.change(|st| profiles::reset(st, "ops", "mode"));
    s.deliver_once();
    assert!(wait_until(Duration::from_secs(10), || !b.received().is_empty()));
    assert_eq!(subjects(&b), ["queued-before-rename"], "still sent with the renamed profile's server");
    assert!(a.received().is_empty());
    let log = s.lines(&["log", "--json"]);
    let profiles_logged: Vec<&str> = log.iter().map(|r| r["profile"].as_str().unwrap()).collect();
    assert!(profiles_logged.contains(&"alerts") && profiles_logged.contains(&"ops"), "the log keeps each row's name: {log:?}");
}
