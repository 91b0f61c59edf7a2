//! The window's delivery agent through the runner API (`Kind::Window`, in this process, as the
//! window runs it): taking over from a `deliver --daemon` that stops, hosting the listener and
//! restarting it when its settings change, and telling permanent failures through the events hook.
//!
//! The runner reads the settings from `SMTP_DESK_CONFIG_DIR`, which is process-wide: the tests
//! here take turns ([`serial`]).

mod support;

use smtp_desk::outbox::agent::{self, Kind};
use smtp_desk::outbox::runner::{self, Events, Failure, Finished};
use smtp_desk::outbox::{Dsn, Store, Submission};
use smtp_desk::smtp::CancelToken;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::desk::{ok, Desk};
use support::free_port;
use support::Server;

async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    TURN.lock().await
}

impl Desk {
    /// [`Desk::relay`], and this process reads its settings too (the runner runs in here).
    fn relay_here(port: u16, extra: &[&str]) -> Desk {
        let d = Desk::relay(port, extra);
        std::env::set_var("SMTP_DESK_CONFIG_DIR", d.config.path());
        std::env::set_var("SMTP_DESK_DATA_DIR", d.data.path());
        d
    }

    /// Queues one message directly, as intake would, and wakes the agent as intake does.
    fn send(&self, subject: &str, recipients: &[&str]) {
        let mid = format!("<{subject}@test>");
        Store::open(&self.path())
            .unwrap()
            .insert(&[Submission {
                sender: "me@example.com".into(),
                recipients: recipients.iter().map(|r| r.to_string()).collect(),
                body: format!("From: me@example.com\r\nTo: x@example.com\r\nMessage-ID: {mid}\r\nSubject: {subject}\r\n\r\nhi\r\n")
                    .into_bytes(),
                subject: subject.into(),
                message_id: mid,
                source: "test".into(),
                options: Dsn::default(),
                profile: "global".into(),
            }])
            .unwrap();
        agent::poke(self.data.path());
    }

    fn lock_holder(&self) -> String {
        std::fs::read_to_string(self.data.path().join(agent::LOCK_FILE)).unwrap_or_default()
    }
}

async fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    f()
}

/// A child killed when the test ends, even by a failed assertion.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What the agent told: notices and failures, shared with the test.
#[derive(Clone, Default)]
struct Told {
    notices: Arc<Mutex<Vec<String>>>,
    failures: Arc<Mutex<Vec<(Failure, usize)>>>,
}

impl Events for Told {
    fn notice(&mut self, text: &str) {
        self.notices.lock().unwrap().push(text.to_string());
    }

    fn failed(&mut self, failures: &[Failure], total: usize) {
        self.failures.lock().unwrap().extend(failures.iter().map(|f| (f.clone(), total)));
    }
}

impl Told {
    fn noticed(&self, part: &str) -> bool {
        self.notices.lock().unwrap().iter().any(|n| n.contains(part))
    }
}

/// Starts the window's agent as a task; returns its cancel token and handle.
fn start_window(desk: &Desk, told: &Told) -> (CancelToken, tokio::task::JoinHandle<Result<Finished, smtp_desk::outbox::Error>>) {
    let cancel = CancelToken::new();
    let (path, c, mut t) = (desk.path(), cancel.clone(), told.clone());
    (cancel, tokio::spawn(async move { runner::run(&path, Kind::Window, &c, &mut t).await }))
}

/// Issue 8: a window that found `deliver --daemon` running wakes it, waits, and takes delivery
/// over when the daemon stops (here by SIGTERM); closing the window while it waits ends it at once.
#[tokio::test(flavor = "multi_thread")]
async fn the_window_takes_over_delivery_when_the_daemon_stops() {
    let _turn = serial().await;
    let server = Server::start(&[]);
    let desk = Desk::relay_here(server.port, &[]);
    let mut daemon = Reaped(desk.cmd().args(["deliver", "--daemon", "--quiet"]).stdin(Stdio::null()).spawn().unwrap());
    assert!(wait_until(Duration::from_secs(5), || desk.lock_holder().starts_with("daemon")).await, "the daemon runs");

    // Closing the window while it waits for the daemon: the agent ends at once.
    let told = Told::default();
    let (cancel, run) = start_window(&desk, &told);
    assert!(wait_until(Duration::from_secs(5), || told.noticed("takes over")).await, "{:?}", told.notices);
    cancel.cancel();
    let r = tokio::time::timeout(Duration::from_secs(2), run).await.expect("a cancelled wait ends at once");
    assert_eq!(r.unwrap().unwrap(), Finished::WokeRunningAgent);

    let told = Told::default();
    let (cancel, run) = start_window(&desk, &told);
    assert!(wait_until(Duration::from_secs(5), || told.noticed("takes over")).await, "{:?}", told.notices);
    desk.send("while-daemon", &["a@example.com"]);
    assert!(wait_until(Duration::from_secs(5), || server.received().len() == 1).await, "the woken daemon delivered");

    unsafe { libc::kill(daemon.0.id() as i32, libc::SIGTERM) };
    daemon.0.wait().unwrap();
    let pid = std::process::id().to_string();
    assert!(
        wait_until(Duration::from_secs(5), || desk.lock_holder() == format!("window {pid}")).await,
        "the window took the lock: {:?}",
        desk.lock_holder()
    );
    assert!(wait_until(Duration::from_secs(5), || desk.data.path().join(agent::WAKE_SOCKET).exists()).await);
    desk.send("after-daemon", &["b@example.com"]);
    assert!(
        wait_until(Duration::from_secs(10), || server.received().len() == 2).await,
        "the window's agent delivered after the daemon stopped"
    );
    assert!(!run.is_finished());
    cancel.cancel();
    let r = tokio::time::timeout(Duration::from_secs(5), run).await.expect("the agent stops when the window closes");
    assert!(matches!(r.unwrap().unwrap(), Finished::Delivered(s) if s.sent == 1));
    assert_eq!(desk.lock_holder(), format!("window {pid}"), "nobody else took it meanwhile");
    assert!(agent::AgentLock::try_take(desk.data.path(), Kind::Once).unwrap().is_ok(), "the lock is free again");
}

fn swaks(port: u16, subject: &str) -> Output {
    Command::new("swaks")
        .args(["--server", "127.0.0.1", "--port", &port.to_string(), "--from", "a@example.com", "--to", "b@example.com"])
        .args(["--header", &format!("Subject: {subject}"), "--body", "hello", "--timeout", "5"])
        .output()
        .unwrap()
}

fn listening(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// Issue 8: the window, as the agent, hosts the listener when it is on; a change of its port or
/// turning it off applies at the next wake (the window wakes its agent on every settings change);
/// it stops with the agent.
#[tokio::test(flavor = "multi_thread")]
async fn the_window_hosts_the_listener_and_applies_its_settings_without_restart() {
    let _turn = serial().await;
    let server = Server::start(&[]);
    let first = free_port();
    let desk = Desk::relay_here(server.port, &["listener.enabled", "true", "listener.port", &first.to_string()]);
    let told = Told::default();
    let (cancel, run) = start_window(&desk, &told);
    assert!(wait_until(Duration::from_secs(5), || told.noticed("SMTP listener on")).await, "{:?}", told.notices);
    let o = swaks(first, "through-the-window");
    assert!(o.status.success(), "swaks: {}", String::from_utf8_lossy(&o.stdout));
    assert!(wait_until(Duration::from_secs(5), || server.received().len() == 1).await, "accepted and delivered");

    let second = free_port();
    ok(&desk.run(&["config", "set", "listener.port", &second.to_string()], b""));
    agent::poke(desk.data.path());
    assert!(wait_until(Duration::from_secs(5), || listening(second) && !listening(first)).await, "moved to the new port");
    let o = swaks(second, "on-the-new-port");
    assert!(o.status.success(), "swaks: {}", String::from_utf8_lossy(&o.stdout));
    assert!(wait_until(Duration::from_secs(5), || server.received().len() == 2).await);

    ok(&desk.run(&["config", "set", "listener.enabled", "false"], b""));
    agent::poke(desk.data.path());
    assert!(wait_until(Duration::from_secs(5), || !listening(second)).await, "turned off");
    ok(&desk.run(&["config", "set", "listener.enabled", "true"], b""));
    agent::poke(desk.data.path());
    assert!(wait_until(Duration::from_secs(5), || listening(second)).await, "turned on again");

    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(5), run).await.expect("the agent stops").unwrap().unwrap();
    assert!(!listening(second), "the listener stops with the agent");
}

/// Issue 8: a recipient refused for good is told through the events hook with its address and the
/// server's reply (the window turns it into a desktop notification).
#[tokio::test(flavor = "multi_thread")]
async fn a_permanent_failure_is_told_with_the_recipient_and_the_reply() {
    let _turn = serial().await;
    let server = Server::start(&["--refuse-rcpt", "nobody@example.com"]);
    let desk = Desk::relay_here(server.port, &["bounces.send", "false"]);
    let told = Told::default();
    let (cancel, run) = start_window(&desk, &told);
    desk.send("refused", &["bob@example.com", "nobody@example.com"]);
    assert!(wait_until(Duration::from_secs(10), || !told.failures.lock().unwrap().is_empty()).await, "{:?}", told.notices);
    let failures = told.failures.lock().unwrap().clone();
    assert_eq!(failures.len(), 1, "{failures:?}");
    let (f, total) = &failures[0];
    assert_eq!((f.recipient.as_str(), *total), ("nobody@example.com", 1));
    assert!(f.reply.starts_with("550"), "{}", f.reply);
    let text = runner::describe_failures(std::slice::from_ref(f), 1);
    assert!(text.starts_with("1 message failed: nobody@example.com: 550"), "{text}");
    // Delivered recipients are not told.
    assert_eq!(server.received().len(), 1);
    cancel.cancel();
    run.await.unwrap().unwrap();
}
