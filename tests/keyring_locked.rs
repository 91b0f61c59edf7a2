//! A locked keyring is explained, not hidden, and never leaves a change half-applied: the
//! password commands fail with "locked" and how to unlock; saving with the password kept does
//! not ask the keyring at all; a change that timed out does not take effect when the user
//! unlocks later; and a rollback that fails is reported and logged.
//!
//! In its own test binary because locking the session keyring would disturb other tests; its
//! tests take turns. The keyring is unlocked the way a person does it, by typing the password
//! into gnome-keyring's prompt (tests/servers/answer_unlock_prompt.py), never by replacing the
//! daemon: that would strand this process's keyring session.

use smtp_desk::account::{self, PasswordChange};
use smtp_desk::secrets::{self, Keyring, OsKeyring, Password};
use smtp_desk::settings::{AuthMethod, Mode, Settings};
use std::cell::Cell;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

const LOGIN: &str = "/org/freedesktop/secrets/collection/login";

/// The tests lock the one session keyring: one at a time, each with a short keyring timeout.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    let turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
    assert!(
        std::env::var_os("SMTP_DESK_SESSION_KEYRING_PASSWORD").is_some(),
        "run inside scripts/session.sh: these tests lock and unlock a throwaway keyring"
    );
    std::env::set_var("SMTP_DESK_KEYRING_TIMEOUT_SECS", "2");
    turn
}

fn settings() -> Settings {
    let mut s = Settings::default();
    s.profile.mode = Mode::Relay;
    s.profile.relay.host = "smtp.example.com".into();
    s.profile.auth.method = AuthMethod::Password;
    s.profile.auth.username = "locked-user".into();
    s.profile.sender.from_address = "locked@example.com".into();
    s
}

fn secrets_call(object: &str, method: &str, args: &[&str]) -> String {
    let out = Command::new("gdbus")
        .args(["call", "--session", "--dest", "org.freedesktop.secrets", "--object-path", object, "--method", method])
        .args(args)
        .output()
        .expect("gdbus");
    assert!(out.status.success(), "{method}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn lock() {
    secrets_call("/org/freedesktop/secrets", "org.freedesktop.Secret.Service.Lock", &[&format!("[objectpath '{LOGIN}']")]);
    assert!(is_locked());
}

fn is_locked() -> bool {
    secrets_call(LOGIN, "org.freedesktop.DBus.Properties.Get", &["org.freedesktop.Secret.Collection", "Locked"]).contains("true")
}

/// Types the keyring password into the unlock prompt, if one appears within `wait`.
fn answer_prompt(wait: Duration) -> bool {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers/answer_unlock_prompt.py");
    let mut child = Command::new("/usr/bin/python3")
        .arg(script)
        .arg(wait.as_secs_f32().to_string())
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("/usr/bin/python3 with python3-xlib");
    let password = std::env::var("SMTP_DESK_SESSION_KEYRING_PASSWORD").unwrap_or_default();
    child.stdin.take().unwrap().write_all(password.as_bytes()).unwrap();
    child.wait().unwrap().success()
}

fn wait_unlocked() -> bool {
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        if !is_locked() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Unlocks as a person would: answers a prompt already open, or makes a change that asks for
/// one (a throwaway item, stored with secret-tool) and answers that.
fn unlock() {
    if !is_locked() {
        return;
    }
    if !(answer_prompt(Duration::from_millis(500)) && wait_unlocked()) {
        let mut store = Command::new("secret-tool")
            .args(["store", "--label=smtp-desk test unlock", "smtp-desk-test", "unlock"])
            .stdin(Stdio::piped())
            .spawn()
            .expect("secret-tool");
        store.stdin.take().unwrap().write_all(b"unlock").unwrap();
        let answered = answer_prompt(Duration::from_secs(10));
        let _ = store.wait();
        let _ = Command::new("secret-tool").args(["clear", "smtp-desk-test", "unlock"]).status();
        assert!(answered, "no unlock prompt appeared");
    }
    assert!(wait_unlocked(), "the keyring could not be unlocked again");
}

/// Unlocks the session keyring again however the test ends.
struct Unlock;

impl Drop for Unlock {
    fn drop(&mut self) {
        unlock();
    }
}

/// Reads the password a few times over `span`: a late keyring call would show up in it.
fn settled_password(profile: &str, span: Duration) -> Vec<Option<String>> {
    let until = Instant::now() + span;
    let mut seen = Vec::new();
    while Instant::now() < until {
        let now = secrets::get(profile).expect("the keyring is unlocked").map(|p| p.expose().to_string());
        if seen.last() != Some(&now) {
            seen.push(now);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    seen
}

/// An edit of `s` made on a form that read the defaults.
fn from_defaults(s: &Settings) -> account::Edit<'_> {
    static DEFAULTS: std::sync::LazyLock<Settings> = std::sync::LazyLock::new(Settings::default);
    account::Edit { base: &DEFAULTS, edited: s, keep_mine: &[] }
}

#[test]
fn locked_keyring_gives_an_error_that_says_how_to_unlock() {
    let _turn = one_at_a_time();
    // An entry must exist: a search that finds nothing needs no unlocking.
    let mut set = Command::new(env!("CARGO_BIN_EXE_smtp-desk")).args(["password", "set"]).stdin(Stdio::piped()).spawn().unwrap();
    set.stdin.take().unwrap().write_all(b"locked-test-password").unwrap();
    assert!(set.wait().unwrap().success(), "keyring reachable before locking");
    let _unlock = Unlock;
    lock();

    // Under Xvfb the keyring shows an unlock prompt nobody answers: the wait must end.
    let started = Instant::now();
    let out = smtp_desk_cli(&["password", "clear"]);
    assert!(started.elapsed().as_secs() < 5, "the CLI waited {:?}", started.elapsed());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("keyring is locked") && err.contains("Unlock"), "{err}");
    assert!(!err.contains("locked-test-password"));
}

#[test]
fn saving_with_the_password_kept_does_not_ask_a_locked_keyring() {
    let _turn = one_at_a_time();
    let profile = "test-locked-keep";
    secrets::set(profile, &Password::new("kept-Secret-1").unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.json");
    let _unlock = Unlock;
    lock();

    let mut changed = settings();
    changed.profile.relay.port = 2525;
    let started = Instant::now();
    let saved = account::save(&path, profile, from_defaults(&changed), PasswordChange::Keep);
    let took = started.elapsed();
    assert!(saved.is_ok(), "{saved:?}");
    assert_eq!(saved.unwrap().password_saved, None, "a kept password is reported as unchanged, not asked for");
    assert!(took < Duration::from_millis(1000), "the save waited {took:?} for the locked keyring");
    assert!(std::fs::read_to_string(&path).unwrap().contains("2525"), "the port change reached the file");
    assert!(is_locked(), "nothing asked for an unlock");

    unlock();
    assert_eq!(secrets::get(profile).unwrap().unwrap().expose(), "kept-Secret-1");
    secrets::clear(profile).unwrap();
}

#[test]
fn a_change_that_timed_out_is_not_applied_when_the_keyring_is_unlocked_later() {
    let _turn = one_at_a_time();
    let profile = "test-locked-late-change";
    secrets::set(profile, &Password::new("old-Late-Secret").unwrap()).unwrap();
    let _unlock = Unlock;
    lock();

    let started = Instant::now();
    let e = secrets::set(profile, &Password::new("new-Late-Secret").unwrap()).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "waited {:?}", started.elapsed());
    assert!(matches!(e, secrets::Error::Locked(_)), "{e}");
    assert!(e.to_string().contains("not changed"), "the user is told what became of the change: {e}");

    // The user now answers the prompt the timed-out call opened: that call completes.
    assert!(answer_prompt(Duration::from_secs(5)), "the timed-out call left an unlock prompt open");
    assert!(wait_unlocked());
    let seen = settled_password(profile, Duration::from_secs(2));
    assert_eq!(seen, vec![Some("old-Late-Secret".to_string())], "the password changed behind the 'not saved' answer");
    secrets::clear(profile).unwrap();
}

#[test]
fn a_first_password_that_timed_out_is_removed_when_the_keyring_is_unlocked_later() {
    let _turn = one_at_a_time();
    let profile = "test-locked-late-first";
    secrets::clear(profile).unwrap();
    let _unlock = Unlock;
    lock();

    // No entry yet: the write itself waits for the unlock, so the late write is undone.
    let e = secrets::set(profile, &Password::new("first-Late-Secret").unwrap()).unwrap_err();
    assert!(matches!(e, secrets::Error::Locked(_)), "{e}");
    assert!(e.to_string().contains("not changed"), "{e}");
    assert!(answer_prompt(Duration::from_secs(5)), "the timed-out call left an unlock prompt open");
    assert!(wait_unlocked());
    let seen = settled_password(profile, Duration::from_secs(2));
    assert_eq!(seen.last(), Some(&None), "the late password stayed in the keyring: {seen:?}");
}

/// The real keyring, locked just before the save's second change (its rollback): no outside
/// action can hit that moment, so the test makes it, and the keyring then fails for real.
struct LockBeforeRollback {
    changes: Cell<u32>,
}

impl LockBeforeRollback {
    fn before_change(&self) {
        self.changes.set(self.changes.get() + 1);
        if self.changes.get() == 2 {
            lock();
        }
    }
}

impl Keyring for LockBeforeRollback {
    fn get(&self, profile: &str) -> Result<Option<Password>, secrets::Error> {
        OsKeyring.get(profile)
    }
    fn set(&self, profile: &str, password: &Password) -> Result<(), secrets::Error> {
        self.before_change();
        OsKeyring.set(profile, password)
    }
    fn clear(&self, profile: &str) -> Result<(), secrets::Error> {
        self.before_change();
        OsKeyring.clear(profile)
    }
}

#[test]
fn a_failed_rollback_is_reported_with_both_causes_and_logged() {
    let _turn = one_at_a_time();
    let logs = tempfile::tempdir().unwrap();
    std::env::set_var("SMTP_DESK_LOG_DIR", logs.path());
    smtp_desk::log::init("keyring-test");

    let profile = "test-locked-rollback";
    let (old, new) = ("old-Rollback-Secret", "new-Rollback-Secret");
    secrets::set(profile, &Password::new(old).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The settings file cannot be written (its directory is a file; tests run as root, who may
    // write anywhere read-only): the save must roll the keyring back, and that fails too.
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "").unwrap();
    let _unlock = Unlock;

    let keyring = LockBeforeRollback { changes: Cell::new(0) };
    let e = account::save_with(
        &keyring,
        &blocker.join("settings.json"),
        profile,
        from_defaults(&settings()),
        PasswordChange::Set(Password::new(new).unwrap()),
    )
    .unwrap_err();
    assert_eq!(keyring.changes.get(), 2, "the password was set, then put back");
    assert_eq!(e.kind, "password_rollback_failed", "{e:?}");
    assert!(e.message.contains("settings were not saved") && e.message.contains("not-a-dir"), "names the file failure: {}", e.message);
    assert!(
        e.message.contains("password could not be put back") && e.message.contains("keyring is locked"),
        "names the keyring failure: {}",
        e.message
    );
    assert!(e.message.contains("the keyring holds the new password"), "says where things stand: {}", e.message);
    let hint = e.hint.clone().unwrap_or_default();
    assert!(hint.starts_with("Fix:") && hint.contains("Unlock") && hint.contains("save again"), "{hint}");
    let shown = format!("{e:?}");
    assert!(!shown.contains(old) && !shown.contains(new), "a password reached the error: {shown}");

    let mut log = String::new();
    for f in std::fs::read_dir(logs.path()).unwrap() {
        log.push_str(&std::fs::read_to_string(f.unwrap().path()).unwrap());
    }
    let line = log.lines().find(|l| l.contains("password could not be put back")).unwrap_or_else(|| panic!("no log line about it: {log}"));
    assert!(line.contains("ERROR") && line.contains("keyring-test[") && line.contains("keyring is locked"), "{line}");
    assert!(!log.contains(old) && !log.contains(new), "a password reached the log: {log}");

    // The abandoned rollback must not land later either: the keyring stays as the error said.
    unlock();
    assert_eq!(settled_password(profile, Duration::from_secs(2)), vec![Some(new.to_string())]);
    secrets::clear(profile).unwrap();
}

fn smtp_desk_cli(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_smtp-desk")).args(args).env("SMTP_DESK_KEYRING_TIMEOUT_SECS", "2").output().unwrap()
}
