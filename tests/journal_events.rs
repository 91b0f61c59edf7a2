//! The event log as the command line and the delivery agents write it: settings changes (old →
//! new, passwords only "set" / "cleared"), validations with their redacted transcript, queue
//! actions with counts, `deliver --daemon` start and SIGTERM stop, and the listener's refused
//! logins, read back from the `events` table of the outbox database. The password test needs the
//! real Secret Service: run inside scripts/session.sh.

mod support;

use smtp_desk::journal::events::{self, Actor, Category, Event, EventQuery, Probe, QueueAction, Secret, Severity};
use smtp_desk::outbox::listener::{Listener, Options};
use smtp_desk::outbox::sendmail::IntakeProfile;
use smtp_desk::outbox::smtp_session::LocalLogin;
use smtp_desk::outbox::{Dsn, Store, Submission};
use smtp_desk::secrets::Password;
use smtp_desk::settings::Settings;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};
use support::desk::{ok, Desk};
use support::{assert_no_secret, free_port, login, wait_until, Server, PASSWORD, USER};

/// The events of `category`, oldest first.
fn events_of(store: &Store, category: Category) -> Vec<Event> {
    let page = events::page(store, &EventQuery { category: Some(category), limit: 500, ..EventQuery::default() }).unwrap();
    page.events.into_iter().rev().collect()
}

/// Every byte SMTP Desk keeps in its data dir (the database, its WAL), as text.
fn data_dir_text(desk: &Desk) -> String {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(desk.data.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            all.extend(std::fs::read(&path).unwrap());
        }
    }
    String::from_utf8_lossy(&all).into_owned()
}

#[test]
fn config_set_of_two_fields_records_one_event_with_both_changes_and_a_no_op_records_nothing() {
    let old_port = free_port();
    let desk = Desk::relay(old_port, &[]);
    let store = desk.store();
    let before = events_of(&store, Category::Settings).len();
    assert_eq!(before, 1, "the fixture's own config set is recorded");

    ok(&desk.run(&["config", "set", "relay.port", "2600", "limits.timeout_secs", "9"], b""));
    let all = events_of(&store, Category::Settings);
    assert_eq!(all.len(), before + 1, "one event for one save");
    let e = all.last().unwrap();
    assert_eq!(e.severity, Severity::Info);
    assert!(e.summary.contains("from the command line") && e.summary.contains("Port") && e.summary.contains("Timeout"), "{}", e.summary);
    let detail = e.detail.as_ref().unwrap();
    let changes = detail["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 2, "{detail}");
    let port = changes.iter().find(|c| c["field"] == "relay.port").unwrap();
    assert_eq!((port["old"].as_u64(), port["new"].as_u64()), (Some(u64::from(old_port)), Some(2600)));
    let timeout = changes.iter().find(|c| c["field"] == "limits.timeout_secs").unwrap();
    assert_eq!((timeout["old"].as_u64(), timeout["new"].as_u64()), (Some(5), Some(9)));
    assert_eq!(detail["by"], "command_line");

    // The same values again change nothing: nothing is recorded.
    ok(&desk.run(&["config", "set", "relay.port", "2600", "limits.timeout_secs", "9"], b""));
    assert_eq!(events_of(&store, Category::Settings).len(), before + 1);
}

/// The tests that set or need the default profile's keyring entry (one per session): one at a
/// time.
fn default_entry() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock().unwrap_or_else(|p| p.into_inner())
}

#[test]
fn password_set_and_clear_are_recorded_as_set_and_cleared_never_the_password() {
    let _turn = default_entry();
    let desk = Desk::relay(free_port(), &[]);
    ok(&desk.run(&["password", "set"], format!("{PASSWORD}\n").as_bytes()));
    ok(&desk.run(&["password", "clear"], b""));
    let all = events_of(&desk.store(), Category::Settings);
    let words: Vec<&str> = all.iter().skip(1).map(|e| e.detail.as_ref().unwrap()["changes"][0]["new"].as_str().unwrap()).collect();
    assert_eq!(words, ["set", "cleared"], "{all:?}");
    assert_eq!(all[1].summary, "Settings changed from the command line: Password set");
    assert_eq!(all[1].detail.as_ref().unwrap()["changes"][0]["field"], "password");
    let text = data_dir_text(&desk);
    assert!(!text.contains(PASSWORD), "the password is in the data dir");
}

#[test]
fn a_failed_validation_records_an_error_with_the_redacted_transcript() {
    let server = Server::start(&["--user", &login(), "--auth-plaintext"]);
    let desk = Desk::relay(server.port, &["auth.method", "password", "auth.username", USER]);
    let wrong = "wrong horse battery";
    let o = desk.run(&["validate", "--password-stdin"], wrong.as_bytes());
    assert_eq!(o.status.code(), Some(15), "fails at AUTH: {}", String::from_utf8_lossy(&o.stdout));
    let o = desk.run(&["validate", "--password-stdin"], PASSWORD.as_bytes());
    ok(&o);

    let all = events_of(&desk.store(), Category::Validation);
    assert_eq!(all.len(), 2, "{all:?}");
    let (failed, passed) = (&all[0], &all[1]);
    assert_eq!(failed.severity, Severity::Error);
    assert!(failed.summary.starts_with("Validation failed at AUTH: "), "{}", failed.summary);
    assert!(failed.summary.contains("535"), "the server's reply: {}", failed.summary);
    let detail = failed.detail.as_ref().unwrap();
    assert_eq!(detail["ok"], false);
    assert_eq!(detail["by"], "command_line");
    let transcript = detail["transcript"].as_array().unwrap();
    let auth = transcript.iter().map(|l| l["text"].as_str().unwrap()).find(|t| t.starts_with("AUTH")).expect("the AUTH line is kept");
    assert_eq!(auth, "AUTH PLAIN ********", "the AUTH payload is redacted");
    assert!(transcript.iter().any(|l| l["text"].as_str().unwrap().starts_with("535")), "{transcript:?}");
    assert_no_secret(&detail.to_string(), USER, wrong);

    assert_eq!(passed.severity, Severity::Info);
    assert!(passed.summary.starts_with("Validation passed in "), "{}", passed.summary);
    let text = data_dir_text(&desk);
    assert_no_secret(&text, USER, wrong);
    assert_no_secret(&text, USER, PASSWORD);
}

fn queue(store: &mut Store, n: usize) {
    let batch: Vec<Submission> = (0..n)
        .map(|i| Submission {
            sender: "me@example.com".into(),
            recipients: vec![format!("r{i}@example.com")],
            body: format!("From: me@example.com\r\nSubject: n{i}\r\n\r\nmessage {i}\r\n").into_bytes(),
            subject: format!("n{i}"),
            message_id: format!("<m{i}@test>"),
            source: "test".into(),
            options: Dsn::default(),
            profile: "global".into(),
        })
        .collect();
    store.insert(&batch).unwrap();
}

#[test]
fn queue_hold_release_flush_and_delete_are_recorded_with_counts() {
    // Sending off: no delivery run starts behind the test's back.
    let desk = Desk::relay(free_port(), &["mode", "off"]);
    let mut store = desk.store();
    queue(&mut store, 3);
    ok(&desk.run(&["queue", "hold", "1", "2", "3"], b""));
    ok(&desk.run(&["queue", "release", "1", "2"], b""));
    ok(&desk.run(&["queue", "flush"], b""));
    // `sendmail -q` (cron's, every few minutes) that moves nothing is not worth a line.
    ok(&desk.run(&["sendmail", "-q"], b""));
    ok(&desk.run(&["queue", "delete", "1"], b""));
    ok(&desk.run(&["queue", "delete", "--all"], b""));

    let all = events_of(&store, Category::Queue);
    let summaries: Vec<&str> = all.iter().map(|e| e.summary.as_str()).collect();
    assert_eq!(
        summaries,
        [
            "Held 3 messages from the command line",
            "Released 2 messages from the command line",
            "Flushed the queue from the command line: 0 deferred recipients made due now",
            "Deleted 1 message from the command line",
            "Deleted all 2 messages from the command line",
        ]
    );
    let held = all[0].detail.as_ref().unwrap();
    assert_eq!(held["action"], "hold");
    assert_eq!(held["ids"], serde_json::json!([1, 2, 3]));
    assert_eq!(held["changed"], 3);
    assert_eq!(all[4].detail.as_ref().unwrap()["all"], true);
}

#[test]
fn deliver_daemon_start_and_sigterm_stop_are_recorded_and_an_idle_one_shot_run_is_not() {
    let server = Server::start(&[]);
    let desk = Desk::relay(server.port, &[]);
    // A one-shot run that finds nothing to do leaves no trace (one per sendmail call would flood).
    ok(&desk.run(&["deliver", "--once"], b""));
    assert!(events_of(&desk.store(), Category::Agent).is_empty());
    // One that delivers says so.
    queue(&mut desk.store(), 1);
    ok(&desk.run(&["deliver", "--once"], b""));
    let once = events_of(&desk.store(), Category::Agent);
    assert_eq!(once.len(), 1, "{once:?}");
    assert_eq!(once[0].summary, "One-shot delivery (deliver --once): 1 sent, 0 deferred, 0 failed");

    let mut daemon = desk.cmd().args(["deliver", "--daemon", "--quiet"]).stdin(Stdio::null()).spawn().unwrap();
    assert!(wait_until(Duration::from_secs(5), || events_of(&desk.store(), Category::Agent).len() == 2), "the start is recorded");
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) }, 0);
    let end = Instant::now() + Duration::from_secs(10);
    while daemon.try_wait().unwrap().is_none() {
        assert!(Instant::now() < end, "the daemon stops on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
    let all = events_of(&desk.store(), Category::Agent);
    let summaries: Vec<&str> = all.iter().skip(1).map(|e| e.summary.as_str()).collect();
    assert_eq!(
        summaries,
        ["Delivery agent started (deliver --daemon)", "Delivery agent stopped (deliver --daemon): 0 sent, 0 deferred, 0 failed"]
    );
    assert_eq!(all[2].detail.as_ref().unwrap()["action"], "stop");
}

#[test]
fn the_listener_records_start_stop_and_a_refused_login_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.sqlite3");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let mut options = Options::loopback(0);
    options.logins = vec![LocalLogin {
        username: "cron".into(),
        password: Password::new("listener-S3cret").unwrap(),
        profile: IntakeProfile::fallback(None),
    }];
    options.login_required = true;
    let l = {
        let _g = rt.enter();
        Listener::bind(options).unwrap()
    };
    let port = l.local_addrs()[0].port();
    let cancel = smtp_desk::smtp::CancelToken::new();
    let (p, c2) = (path.clone(), cancel.clone());
    let served = rt.spawn(async move { l.serve(&p, IntakeProfile::fallback(None), smtp_desk::policy::State::Absent, &c2).await });

    let tried = "Tried-Pa55word";
    // Two sessions guess: one line in the event log, not one per guess (a client guessing
    // passwords must not fill it).
    for _ in 0..2 {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut reader = BufReader::new(s.try_clone().unwrap());
        let mut writer = s;
        let mut reply = || {
            let mut all = String::new();
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                all.push_str(&line);
                if line.len() < 4 || line.as_bytes()[3] == b' ' {
                    return all;
                }
            }
        };
        assert!(reply().starts_with("220"));
        use base64::Engine as _;
        let plain = base64::engine::general_purpose::STANDARD.encode(format!("\0cron\0{tried}"));
        writer.write_all(format!("EHLO x\r\nAUTH PLAIN {plain}\r\nQUIT\r\n").as_bytes()).unwrap();
        assert!(reply().starts_with("250"));
        assert!(reply().starts_with("535"));
        assert!(reply().starts_with("221"));
        drop(writer);
    }

    let store = Store::open(&path).unwrap();
    assert!(wait_until(Duration::from_secs(5), || events_of(&store, Category::Listener).len() == 2), "the refusal is recorded");
    cancel.cancel();
    rt.block_on(served).unwrap().unwrap();

    let all = events_of(&store, Category::Listener);
    assert_eq!(all.len(), 3, "{all:?}");
    assert!(all[0].summary.starts_with("SMTP listener started on 127.0.0.1:"), "{}", all[0].summary);
    assert_eq!(all[1].severity, Severity::Warning);
    assert!(all[1].summary.starts_with("SMTP listener refused logins from 127.0.0.1 "), "{}", all[1].summary);
    assert_eq!(all[1].detail.as_ref().unwrap()["failed_logins"], 1);
    assert!(all[2].summary.starts_with("SMTP listener stopped"), "{}", all[2].summary);
    let mut bytes = Vec::new();
    for f in std::fs::read_dir(dir.path()).unwrap() {
        bytes.extend(std::fs::read(f.unwrap().path()).unwrap_or_default());
    }
    assert_no_secret(&String::from_utf8_lossy(&bytes), "cron", tried);
    assert_no_secret(&String::from_utf8_lossy(&bytes), "cron", "listener-S3cret");
}

// The shared builders, as the window calls them too.

#[test]
fn a_window_save_names_each_field_old_to_new_and_the_passwords_only_as_set_or_cleared() {
    let old = Settings::default();
    let mut new = old.clone();
    new.profile.relay.host = "smtp.example.com".into();
    new.profile.listener.enabled = true;
    new.profile.sender.reply_to = Some("r@example.com".into());
    let e = events::settings_saved(&old, &new, &[(Secret::Server, Some(true)), (Secret::Listener, Some(false))], Actor::Window).unwrap();
    assert_eq!(e.category, Category::Settings);
    assert_eq!(
        e.summary,
        "Settings changed from the window: Server (empty) → smtp.example.com; Reply-To (not set) → r@example.com; \
         SMTP listener off → on; Password set; and 1 more"
    );
    let changes = e.detail.as_ref().unwrap()["changes"].as_array().unwrap().clone();
    let fields: Vec<&str> = changes.iter().map(|c| c["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["relay.host", "sender.reply_to", "listener.enabled", "password", "listener.password"]);
    assert_eq!(changes[4]["new"], "cleared");
    // Nothing changed, passwords kept: no event.
    assert!(events::settings_saved(&old, &old, &[(Secret::Server, None)], Actor::Window).is_none());
}

#[test]
fn queue_actions_and_probes_read_the_same_from_the_window() {
    let e = events::queue_action(QueueAction::Hold, Some(&[4, 5, 6]), 3, Actor::Window);
    assert_eq!(e.summary, "Held 3 messages from the window");
    assert_eq!(e.detail.as_ref().unwrap()["by"], "window");
    let e = events::queue_action(QueueAction::Retry, Some(&[4]), 1, Actor::Window);
    assert_eq!(e.summary, "Retried 1 message now from the window");
    let refused = smtp_desk::ErrorReport::new(smtp_desk::ErrorKind::InvalidRecipient, "the recipient is not an address");
    let e = events::probe_refused(Probe::TestEmail, &refused, Actor::Window);
    assert_eq!((e.category, e.severity), (Category::TestEmail, Severity::Error));
}

#[test]
fn an_event_log_that_cannot_be_written_is_only_logged() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"not a directory").unwrap();
    // The database's directory is a file: opening fails, and the caller goes on.
    events::record_at(&blocker.join("outbox.sqlite3"), &events::app_problem(Severity::Warning, "x"));
}

#[test]
fn a_repeated_app_warning_is_recorded_once_per_interval_across_processes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.sqlite3");
    let warning = events::app_problem(Severity::Warning, "The keyring did not answer in time during delivery");
    // Two stores stand for two one-shot runs (two processes): the second sees the first's line.
    events::record_unless_repeated(&Store::open(&path).unwrap(), &warning);
    events::record_unless_repeated(&Store::open(&path).unwrap(), &warning);
    events::record_unless_repeated(&Store::open(&path).unwrap(), &events::app_problem(Severity::Warning, "another problem"));
    assert_eq!(events_of(&Store::open(&path).unwrap(), Category::App).len(), 2);
}

#[test]
fn replacing_a_broken_settings_file_is_recorded_as_a_warning_naming_the_backup() {
    let desk = Desk::relay(free_port(), &[]);
    std::fs::write(desk.config.path().join("settings.json"), b"{ not json").unwrap();
    ok(&desk.run(&["config", "set", "--replace-broken-file", "relay.port", "2700"], b""));
    let store = desk.store();
    let app = events_of(&store, Category::App);
    assert_eq!(app.len(), 1, "{app:?}");
    assert_eq!(app[0].severity, Severity::Warning);
    assert!(app[0].summary.contains(".broken-") && app[0].summary.ends_with("(from the command line)"), "{}", app[0].summary);
    let changed = events_of(&store, Category::Settings);
    assert!(changed.last().unwrap().summary.contains("Port 587 → 2700"), "{}", changed.last().unwrap().summary);
}

#[test]
fn delivery_without_a_readable_password_warns_once_not_once_per_run() {
    let server = Server::start(&["--user", &login(), "--auth-plaintext"]);
    let desk = Desk::relay(server.port, &["auth.method", "password", "auth.username", USER]);
    // No password saved (another test of the session may have left one).
    let _turn = default_entry();
    ok(&desk.run(&["password", "clear"], b""));
    queue(&mut desk.store(), 1);
    // Each run defers the mail (the login could not be made) and sees the same problem; the flush
    // starts a run of its own too.
    assert_eq!(desk.run(&["deliver", "--once"], b"").status.code(), Some(75));
    ok(&desk.run(&["queue", "flush"], b""));
    desk.run(&["deliver", "--once"], b"");
    std::thread::sleep(Duration::from_millis(300));
    let app = events_of(&desk.store(), Category::App);
    let about_password: Vec<&Event> = app.iter().filter(|e| e.summary.to_lowercase().contains("password")).collect();
    assert_eq!(about_password.len(), 1, "{app:?}");
    assert_eq!(about_password[0].severity, Severity::Warning);
}
