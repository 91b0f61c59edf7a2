//! The password against the real Secret Service (gnome-keyring under dbus-run-session, set up by
//! scripts/session.sh): store, read back, replace, clear; and it never reaches the settings file.

use smtp_desk::account::{self, Edit, PasswordChange};
use smtp_desk::secrets::{self, Password};
use smtp_desk::settings::{AuthMethod, Mode, Settings};
use std::io::Write;
use std::process::{Command, Stdio};

fn settings() -> Settings {
    let mut s = Settings::default();
    s.profile.mode = Mode::Relay;
    s.profile.relay.host = "smtp.example.com".into();
    s.profile.auth.method = AuthMethod::Password;
    s.profile.auth.username = "keyring-user".into();
    s.profile.sender.from_address = "keyring@example.com".into();
    s
}

/// A save of `s` from a form that read a fresh (missing) settings file.
fn from_defaults(s: &Settings) -> Edit<'_> {
    static DEFAULTS: std::sync::LazyLock<Settings> = std::sync::LazyLock::new(Settings::default);
    Edit { base: &DEFAULTS, edited: s, keep_mine: &[] }
}

#[test]
fn store_read_replace_clear() {
    let profile = "test-store-read-replace-clear";
    secrets::clear(profile).expect("the Secret Service is reachable (run inside scripts/session.sh)");
    assert!(secrets::get(profile).unwrap().is_none());

    secrets::set(profile, &Password::new("first-Pa55").unwrap()).unwrap();
    assert_eq!(secrets::get(profile).unwrap().unwrap().expose(), "first-Pa55");
    assert!(secrets::is_saved(profile).unwrap());

    secrets::set(profile, &Password::new("second-Pa55 with spaces & ünïcode").unwrap()).unwrap();
    assert_eq!(secrets::get(profile).unwrap().unwrap().expose(), "second-Pa55 with spaces & ünïcode");

    secrets::clear(profile).unwrap();
    assert!(secrets::get(profile).unwrap().is_none());
    secrets::clear(profile).expect("clearing twice is fine");
}

#[test]
fn password_debug_is_redacted_and_bad_passwords_are_refused() {
    let p = Password::new("do-not-print-me\n").unwrap();
    assert_eq!(p.expose(), "do-not-print-me", "one trailing newline from a pipe is dropped");
    assert!(!format!("{p:?}").contains("do-not-print-me"));
    assert!(matches!(Password::new(""), Err(secrets::Error::Empty)));
    assert!(matches!(Password::new("a\nb"), Err(secrets::Error::ControlCharacter)));
    assert!(matches!(Password::new("a\0b"), Err(secrets::Error::ControlCharacter)));
}

#[test]
fn saving_settings_with_a_password_keeps_it_out_of_the_file() {
    let profile = "test-save-with-password";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.json");
    let secret = "Unique-Keyring-Secret-9f3b";
    let saved = account::save(&path, profile, from_defaults(&settings()), PasswordChange::Set(Password::new(secret).unwrap())).unwrap();
    assert_eq!(saved.password_saved, Some(true));
    assert_eq!(secrets::get(profile).unwrap().unwrap().expose(), secret);
    let file = std::fs::read_to_string(&path).unwrap();
    assert!(!file.contains(secret), "the password reached the settings file: {file}");
    assert!(file.contains("keyring-user"));

    // Keep leaves it (and does not ask: the caller knows), Clear removes it.
    assert_eq!(account::save(&path, profile, from_defaults(&settings()), PasswordChange::Keep).unwrap().password_saved, None);
    assert_eq!(secrets::get(profile).unwrap().unwrap().expose(), secret);
    assert_eq!(account::save(&path, profile, from_defaults(&settings()), PasswordChange::Clear).unwrap().password_saved, Some(false));
    assert!(secrets::get(profile).unwrap().is_none());
}

#[test]
fn nothing_is_half_saved() {
    let profile = "test-nothing-half-saved";
    secrets::set(profile, &Password::new("old-password").unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();

    // Invalid settings: refused before the keyring is touched.
    let mut bad = settings();
    bad.profile.relay.port = 0;
    let e = account::save(
        &dir.path().join("settings.json"),
        profile,
        from_defaults(&bad),
        PasswordChange::Set(Password::new("new-password").unwrap()),
    )
    .unwrap_err();
    assert_eq!(e.kind, "invalid_settings");
    assert_eq!(e.field.as_deref(), Some("relay.port"));
    assert_eq!(secrets::get(profile).unwrap().unwrap().expose(), "old-password");

    // The file cannot be written (its directory is a file): the keyring is rolled back.
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "").unwrap();
    let e = account::save(
        &blocker.join("settings.json"),
        profile,
        from_defaults(&settings()),
        PasswordChange::Set(Password::new("new-password").unwrap()),
    )
    .unwrap_err();
    assert_eq!(e.kind, "settings_io");
    assert_eq!(secrets::get(profile).unwrap().unwrap().expose(), "old-password");
    assert!(!e.message.contains("new-password") && !e.message.contains("old-password"));
    secrets::clear(profile).unwrap();
}

/// The CLI tests share the default profile's keyring entry: one at a time.
fn default_entry() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock().unwrap_or_else(|p| p.into_inner())
}

/// The CLI records password changes in the event log, in the data dir: a throwaway one, never the
/// user's own.
fn cli() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_smtp-desk"));
    c.env("SMTP_DESK_DATA_DIR", std::env::temp_dir().join(format!("smtp-desk-keyring-test-data-{}", std::process::id())));
    c
}

#[test]
fn cli_password_set_from_stdin_and_clear() {
    let _turn = default_entry();
    let dir = tempfile::tempdir().unwrap();
    let secret = "Cli-Stdin-Secret-77";
    let mut child = cli()
        .args(["password", "set"])
        .env("SMTP_DESK_CONFIG_DIR", dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(format!("{secret}\n").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(secrets::get(secrets::DEFAULT_PROFILE).unwrap().unwrap().expose(), secret);

    let out = cli()
        .args([
            "config",
            "set",
            "mode",
            "relay",
            "relay.host",
            "smtp.example.com",
            "auth.method",
            "password",
            "auth.username",
            "u",
            "sender.from_address",
            "u@example.com",
        ])
        .env("SMTP_DESK_CONFIG_DIR", dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = cli().args(["config", "show", "--json"]).env("SMTP_DESK_CONFIG_DIR", dir.path()).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["password_saved"], true);
    let all = format!(
        "{}{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(dir.path().join("settings.json")).unwrap()
    );
    assert!(!all.contains(secret), "the password leaked into output or the file");

    let out = cli().args(["password", "clear"]).env("SMTP_DESK_CONFIG_DIR", dir.path()).output().unwrap();
    assert!(out.status.success());
    assert!(secrets::get(secrets::DEFAULT_PROFILE).unwrap().is_none());

    let out = cli().args(["password", "set"]).stdin(Stdio::null()).env("SMTP_DESK_CONFIG_DIR", dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "an empty password is bad input");
    assert!(String::from_utf8_lossy(&out.stderr).contains("password is empty"));
}

#[test]
fn missing_keyring_service_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let out = cli()
        .args(["password", "set"])
        .env("SMTP_DESK_CONFIG_DIR", dir.path())
        .env("DBUS_SESSION_BUS_ADDRESS", format!("unix:path={}/no-bus", dir.path().display()))
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(b"whatever-secret")?;
            c.wait_with_output()
        })
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("keyring") && err.contains("gnome-keyring-daemon") && err.contains("never"), "{err}");
    assert!(!err.contains("whatever-secret"));
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "no plaintext fallback file was written");
}

#[test]
fn the_cli_logs_keyring_changes_without_the_password_and_runs_without_a_log() {
    let _turn = default_entry();
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let secret = "Logged-Never-Secret-31";
    let mut child = cli()
        .args(["password", "set"])
        .env("SMTP_DESK_CONFIG_DIR", dir.path())
        .env("SMTP_DESK_LOG_DIR", &logs)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(secret.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success());
    let files: Vec<_> = std::fs::read_dir(&logs).expect("the log directory was made").map(|f| f.unwrap().path()).collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("smtp-desk.") && name.ends_with(".log"), "{name}");
    let log = std::fs::read_to_string(&files[0]).unwrap();
    assert!(log.contains("smtp-desk[") && log.contains("password saved in the keyring"), "{log}");
    assert!(!log.contains(secret), "the password reached the log: {log}");

    // A log directory that cannot be made costs the log, never the command.
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, "").unwrap();
    let out = cli()
        .args(["password", "clear"])
        .env("SMTP_DESK_CONFIG_DIR", dir.path())
        .env("SMTP_DESK_LOG_DIR", blocker.join("logs"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(secrets::get(secrets::DEFAULT_PROFILE).unwrap().is_none());
}

/// The window's save with the SMTP listener's password: its own keyring entry, set, kept and
/// cleared with the file, in the saved profile's own listener entry; never in the file; both entries put back when the file can't be written.
#[test]
fn saving_the_listener_password_alongside_the_settings() {
    use smtp_desk::account::PasswordChanges;
    let profile = "test-save-listener-password";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.json");
    let (server, local) = ("Server-Side-Secret-41", "Listener-Local-Secret-58");
    let mut s = settings();
    s.profile.listener.enabled = true;
    s.profile.listener.username = "cron".into();
    let set = |p: &str| PasswordChange::Set(Password::new(p).unwrap());

    secrets::clear_listener_of(profile).unwrap();
    let saved =
        account::save_all(&path, profile, from_defaults(&s), PasswordChanges { password: set(server), listener_password: set(local) })
            .unwrap();
    assert_eq!((saved.password_saved, saved.listener_password_saved), (Some(true), Some(true)));
    assert_eq!(secrets::get_listener_of(profile).unwrap().unwrap().expose(), local);
    assert_eq!(secrets::get(profile).unwrap().unwrap().expose(), server, "each password in its own entry");
    let file = std::fs::read_to_string(&path).unwrap();
    assert!(!file.contains(local) && !file.contains(server), "a password reached the settings file: {file}");
    assert!(file.contains("\"cron\""), "{file}");

    // Keep asks nothing; the relay's Keep leaves the listener's change alone and the other way round.
    let saved = account::save_all(&path, profile, from_defaults(&s), PasswordChanges::default()).unwrap();
    assert_eq!((saved.password_saved, saved.listener_password_saved), (None, None));
    assert_eq!(secrets::get_listener_of(profile).unwrap().unwrap().expose(), local);

    // The file cannot be written: both entries are put back as they were.
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "").unwrap();
    let changes = PasswordChanges { password: set("Other-Server-1"), listener_password: PasswordChange::Clear };
    let e = account::save_all(&blocker.join("settings.json"), profile, from_defaults(&s), changes).unwrap_err();
    assert_eq!(e.kind, "settings_io");
    assert_eq!(secrets::get_listener_of(profile).unwrap().unwrap().expose(), local, "the listener's password was put back");
    assert_eq!(secrets::get(profile).unwrap().unwrap().expose(), server, "the server's password was put back");

    let changes = PasswordChanges { password: PasswordChange::Keep, listener_password: PasswordChange::Clear };
    let saved = account::save_all(&path, profile, from_defaults(&s), changes).unwrap();
    assert_eq!((saved.password_saved, saved.listener_password_saved), (None, Some(false)));
    assert!(secrets::get_listener_of(profile).unwrap().is_none());
    assert_eq!(secrets::get(profile).unwrap().unwrap().expose(), server);
    secrets::clear(profile).unwrap();
}
