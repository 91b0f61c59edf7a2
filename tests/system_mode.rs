//! System mode (issue 11): the system service run as root with its machine-wide folders under a
//! temporary `SMTP_DESK_SYSTEM_ROOT`, a real aiosmtpd relay with a login, the password as a real
//! `systemd-creds` credential, and `sendmail` run by another local user (`runuser`): the mail is
//! delivered, the queue records who sent it, and that user can read neither the credential nor
//! the queue. With the service stopped, the user's `sendmail` exits 75 with a clear message.
//!
//! Needs root (to make a user and run commands as it). CI runs as root: there a missing root is a
//! failure; a developer's non-root run skips with a printed reason.

mod support;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;
use support::{Server, PASSWORD, USER};

const BIN: &str = env!("CARGO_BIN_EXE_smtp-desk");
const TEST_USER: &str = "smtpdesk-test";

/// Whether the test can run: root. Not root in CI (`CI=true`) fails loudly; elsewhere it skips.
fn root_or_skip(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test} needs root (it makes a user and runs sendmail as it); CI must run it as root"
    );
    eprintln!("SKIPPED {test}: needs root (it makes the user {TEST_USER} and runs sendmail as it with runuser)");
    false
}

/// The test user's uid, made (`useradd -M -r`) if missing.
fn test_user() -> u32 {
    // Tests run on parallel threads: two useradd at once fight over /etc/passwd's lock.
    static MAKING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = MAKING.lock().unwrap_or_else(|e| e.into_inner());
    let id = |_: ()| Command::new("id").args(["-u", TEST_USER]).output().unwrap();
    let mut o = id(());
    if !o.status.success() {
        let made = Command::new("useradd").args(["-M", "-r", "-s", "/usr/sbin/nologin", TEST_USER]).output().unwrap();
        assert!(made.status.success(), "useradd: {}", String::from_utf8_lossy(&made.stderr));
        o = id(());
    }
    String::from_utf8_lossy(&o.stdout).trim().parse().unwrap()
}

/// A machine-wide root of its own (etc/, var/spool/, run/ under it), traversable by the test user.
struct System {
    root: tempfile::TempDir,
}

impl System {
    fn new() -> System {
        let root = tempfile::tempdir().unwrap();
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        System { root }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    /// `smtp-desk ARGS` as root in system mode (`--system`), with `input` on standard input.
    fn root_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--system").args(args).env("SMTP_DESK_SYSTEM_ROOT", self.root.path()).env("HOME", self.path("root-home"));
        c.env_remove("SMTP_DESK_CONFIG_DIR").env_remove("SMTP_DESK_DATA_DIR").env_remove("SMTP_DESK_POLICY").env_remove("SMTP_DESK_MODE");
        c.env("SMTP_DESK_LOG_DIR", self.path("log"));
        c
    }

    fn root_run(&self, args: &[&str], input: &str) -> Output {
        run_with_input(self.root_cmd(args), input)
    }

    /// `smtp-desk ARGS` as the test user, choosing its mode by the rules (no `--system`): it has
    /// no settings of its own (its home does not exist) and the system's exist.
    fn user_run(&self, args: &[&str], input: &str) -> Output {
        let mut c = Command::new("runuser");
        c.args(["-u", TEST_USER, "--", "env", "-i"]);
        c.arg(format!("SMTP_DESK_SYSTEM_ROOT={}", self.root.path().display()));
        c.arg(format!("HOME={}", self.path("no-such-home").display()));
        c.arg("PATH=/usr/bin:/bin").arg(user_bin()).args(args);
        run_with_input(c, input)
    }

    /// The system service: `smtp-desk --system deliver --daemon` as root, its output in a file.
    fn start_service(&self) -> Child {
        let log = std::fs::File::create(self.path("service.log")).unwrap();
        let child =
            self.root_cmd(&["deliver", "--daemon"]).stdin(Stdio::null()).stdout(log.try_clone().unwrap()).stderr(log).spawn().unwrap();
        let socket = self.path("run/smtp-desk/submit.sock");
        assert!(support::wait_until(Duration::from_secs(10), || socket.exists()), "the service did not listen:\n{}", self.service_log());
        child
    }

    fn service_log(&self) -> String {
        std::fs::read_to_string(self.path("service.log")).unwrap_or_default()
    }

    /// Relay settings for `server`, logging in with a password, saved as root.
    fn configure(&self, server: &Server) {
        let port = server.port.to_string();
        let pairs = [
            ("mode", "relay"),
            ("relay.host", "127.0.0.1"),
            ("relay.port", port.as_str()),
            ("relay.security", "none"),
            ("auth.method", "password"),
            ("auth.username", USER),
            ("sender.from_address", "server@example.com"),
        ];
        let mut args = vec!["config", "set"];
        args.extend(pairs.iter().flat_map(|(k, v)| [*k, *v]));
        ok(&self.root_run(&args, ""));
    }
}

/// The binary under test as the test user can run it: BIN itself, or a copy in a folder it can
/// reach when BIN's is private (a checkout under /root).
fn user_bin() -> PathBuf {
    static BIN_FOR_USER: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN_FOR_USER
        .get_or_init(|| {
            let reachable = Command::new("runuser").args(["-u", TEST_USER, "--", "test", "-x", BIN]).status().is_ok_and(|s| s.success());
            if reachable {
                return PathBuf::from(BIN);
            }
            let dir = tempfile::tempdir().unwrap().keep();
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
            let copy = dir.join("smtp-desk");
            std::fs::copy(BIN, &copy).unwrap();
            std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
            copy
        })
        .clone()
}

fn run_with_input(mut c: Command, input: &str) -> Output {
    let mut child = c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "exit {:?}: {}{}", o.status.code(), String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stop(mut service: Child) {
    // SAFETY: kill with a pid of a child this test started.
    unsafe { libc::kill(service.id() as i32, libc::SIGTERM) };
    let status = service.wait().unwrap();
    assert!(status.success(), "the service ends cleanly on SIGTERM: {status}");
}

/// Whether `systemd-creds encrypt` works here (it needs no running systemd, only its host key).
fn systemd_creds_work() -> bool {
    Command::new("systemd-creds")
        .args(["encrypt", "--name=probe", "-", "-"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

const MESSAGE: &str = "To: someone@example.net\r\nSubject: from a local user\r\n\r\nHello from cron.\r\n";

#[test]
fn a_local_users_sendmail_is_delivered_by_the_system_service_with_the_user_recorded() {
    if !root_or_skip("a_local_users_sendmail_is_delivered_by_the_system_service_with_the_user_recorded") {
        return;
    }
    let uid = test_user();
    let login = support::login();
    let server = Server::start(&["--user", &login, "--auth-required", "--auth-plaintext"]);
    let sys = System::new();
    sys.configure(&server);
    assert!(systemd_creds_work(), "systemd-creds encrypt must work here (the system password is an encrypted credential)");
    let said = sys.root_run(&["password", "set"], PASSWORD);
    ok(&said);
    let credential = sys.path("etc/smtp-desk/credentials/smtp-password.cred");
    let meta = std::fs::metadata(&credential).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600, "the credential is root's only");
    assert!(!std::fs::read(&credential).unwrap().windows(PASSWORD.len()).any(|w| w == PASSWORD.as_bytes()), "it is encrypted");

    // The user's own view: system mode, because the system's settings exist and it has none.
    let mode = ok(&sys.user_run(&["mode"], ""));
    assert!(mode.starts_with("system mode: ") && mode.contains("exists and you have no settings of your own"), "{mode}");

    let service = sys.start_service();
    let mode = ok(&sys.user_run(&["mode"], ""));
    assert!(mode.contains("the system service is taking mail"), "{mode}");
    let sent = sys.user_run(&["sendmail", "-t", "-i"], MESSAGE);
    ok(&sent);
    assert!(support::wait_until(Duration::from_secs(15), || server.received().len() == 1), "not delivered:\n{}", sys.service_log());
    let got = &server.received()[0];
    assert_eq!(got["rcpt_tos"], serde_json::json!(["someone@example.net"]));
    assert_eq!(got["mail_from"], "server@example.com", "the profile's from address replaces the user's bare name");
    assert!(got["content"].as_str().unwrap().contains("Hello from cron."));

    // The queue records who handed it in.
    let list = ok(&sys.root_run(&["queue", "list", "--json"], ""));
    let id = serde_json::from_str::<serde_json::Value>(list.lines().next().unwrap()).unwrap()["id"].as_i64().unwrap();
    let shown: serde_json::Value = serde_json::from_str(&ok(&sys.root_run(&["queue", "show", &id.to_string(), "--json"], ""))).unwrap();
    assert_eq!(shown["source"], format!("sendmail (uid {uid} {TEST_USER})"));
    assert_eq!(shown["recipients"][0]["state"], "sent", "{shown}");

    // A refusal is the service's answer with sendmail's exit code, and the mail log names the user.
    let o = sys.user_run(&["sendmail", "bad address@@"], MESSAGE);
    assert_eq!(o.status.code(), Some(65), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("contains a space"), "{o:?}");
    let log = ok(&sys.root_run(&["log", "--json"], ""));
    let refused = log.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()).find(|r| r["result"] == "refused");
    assert_eq!(refused.expect("a refused row")["server"], format!("sendmail (uid {uid} {TEST_USER})"), "{log}");

    // The user can read neither the credential nor the queue, and can't change the password.
    for path in [&credential, &sys.path("var/spool/smtp-desk/outbox.sqlite3")] {
        let o = Command::new("runuser").args(["-u", TEST_USER, "--", "cat"]).arg(path).output().unwrap();
        assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("Permission denied"), "{path:?} readable: {o:?}");
    }
    for args in [&["queue", "list"][..], &["sendmail", "-bp"]] {
        let o = sys.user_run(args, "");
        assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("queue is root's"), "{args:?}: {o:?}");
    }
    for args in [&["password", "set"][..], &["password", "status"]] {
        let o = sys.user_run(args, "other");
        assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("only root"), "{args:?}: {o:?}");
    }

    // Service stopped: the user's sendmail says so and exits 75 (EX_TEMPFAIL); nothing is queued.
    stop(service);
    assert!(!sys.path("run/smtp-desk/submit.sock").exists(), "the socket goes with the service");
    let o = sys.user_run(&["sendmail", "someone@example.net"], MESSAGE);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(75), "{err}");
    assert!(err.contains("system service is not running") && err.contains("nothing was queued"), "{err}");
    assert!(err.contains("systemctl enable --now smtp-desk"), "{err}");
    let counts: serde_json::Value = serde_json::from_str(&ok(&sys.root_run(&["queue", "counts", "--json"], ""))).unwrap();
    assert_eq!(counts["messages"], 1, "{counts}");
}

/// `password set --system --file`: a 0600 root file and a printed warning; delivery reads it;
/// a file others can read is refused, not used; a credential systemd hands the service
/// (`$CREDENTIALS_DIRECTORY`) is used too.
#[test]
fn the_admin_chosen_password_file_is_root_only_warned_about_and_used() {
    if !root_or_skip("the_admin_chosen_password_file_is_root_only_warned_about_and_used") {
        return;
    }
    test_user();
    let login = support::login();
    let server = Server::start(&["--user", &login, "--auth-required", "--auth-plaintext"]);
    let sys = System::new();
    sys.configure(&server);
    let o = sys.root_run(&["password", "set", "--file"], PASSWORD);
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stderr).contains("warning: the password is kept UNENCRYPTED"), "{o:?}");
    let file = sys.path("etc/smtp-desk/credentials/smtp-password");
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(ok(&sys.root_run(&["mode"], "")).contains("a root-only file (not encrypted)"));
    let o = Command::new("runuser").args(["-u", TEST_USER, "--", "cat"]).arg(&file).output().unwrap();
    assert!(String::from_utf8_lossy(&o.stderr).contains("Permission denied"), "{o:?}");

    // Root's own sendmail writes the spool directly; `deliver --once` logs in with the file's password.
    ok(&sys.root_run(&["sendmail", "someone@example.net"], MESSAGE));
    assert!(support::wait_until(Duration::from_secs(15), || server.received().len() == 1), "not delivered");
    let shown: serde_json::Value = serde_json::from_str(&ok(&sys.root_run(&["queue", "show", "1", "--json"], ""))).unwrap();
    assert_eq!(shown["source"], "sendmail (uid 0 root)");

    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    ok(&sys.root_run(&["sendmail", "other@example.net"], MESSAGE));
    let _ = sys.root_run(&["deliver", "--once"], "");
    let events = ok(&sys.root_run(&["events", "--json"], ""));
    assert!(events.contains("can be read by others"), "an exposed password file is refused:\n{events}");
    assert_eq!(server.received().len(), 1);

    // Under systemd the service gets the password from LoadCredentialEncrypted=, decrypted into
    // $CREDENTIALS_DIRECTORY/smtp-password: that is used first (here with no file at all).
    std::fs::remove_file(&file).unwrap();
    let given = sys.path("credentials-given");
    std::fs::create_dir(&given).unwrap();
    std::fs::write(given.join("smtp-password"), PASSWORD).unwrap();
    let mut flush = sys.root_cmd(&["queue", "flush"]);
    flush.env("CREDENTIALS_DIRECTORY", &given);
    ok(&run_with_input(flush, ""));
    assert!(support::wait_until(Duration::from_secs(15), || server.received().len() == 2), "not delivered with the credential given");
}

/// The mode rules, without root: the flag, the environment, the user's own settings.
#[test]
fn mode_says_which_mode_and_why() {
    let sys = System::new();
    let home = sys.path("home");
    let run = |args: &[&str], env: &[(&str, &Path)]| {
        let mut c = Command::new(BIN);
        c.args(args)
            .env("SMTP_DESK_SYSTEM_ROOT", sys.root.path())
            .env("HOME", &home)
            .env_remove("SMTP_DESK_CONFIG_DIR")
            .env_remove("SMTP_DESK_MODE")
            // Your own settings are looked for in ~/.config (scripts/session.sh points XDG_CONFIG_HOME elsewhere).
            .env_remove("XDG_CONFIG_HOME");
        for (k, v) in env {
            c.env(k, v);
        }
        ok(&c.output().unwrap())
    };
    assert!(run(&["mode"], &[]).starts_with("desktop mode: there are no system settings"));
    assert!(run(&["--system", "mode"], &[]).starts_with("system mode: --system was given"));
    assert!(run(&["mode"], &[("SMTP_DESK_MODE", Path::new("system"))]).starts_with("system mode: SMTP_DESK_MODE is set to 'system'"));
    std::fs::create_dir_all(sys.path("etc/smtp-desk")).unwrap();
    std::fs::write(sys.path("etc/smtp-desk/settings.json"), "{}").unwrap();
    let out = run(&["mode"], &[]);
    assert!(out.starts_with("system mode: ") && out.contains("you have no settings of your own"), "{out}");
    assert!(out.contains(&format!("queue:    {}", sys.path("var/spool/smtp-desk/outbox.sqlite3").display())), "{out}");
    std::fs::create_dir_all(home.join(".config/smtp-desk")).unwrap();
    std::fs::write(home.join(".config/smtp-desk/settings.json"), "{}").unwrap();
    assert!(run(&["mode"], &[]).starts_with("desktop mode: you have settings of your own"));
    assert!(run(&["mode"], &[("SMTP_DESK_CONFIG_DIR", &sys.path("cfg"))]).starts_with("desktop mode: SMTP_DESK_CONFIG_DIR"));
    let json: serde_json::Value = serde_json::from_str(&run(&["--system", "mode", "--json"], &[])).unwrap();
    assert_eq!(json["mode"], "system");
    assert_eq!(json["service_running"], false);
}

/// `config import --password-stdin` in system mode keeps the password as the system credential
/// (encrypted), not in a keyring the server does not have.
#[test]
fn an_import_in_system_mode_keeps_the_password_as_an_encrypted_credential() {
    if !root_or_skip("an_import_in_system_mode_keeps_the_password_as_an_encrypted_credential") {
        return;
    }
    let login = support::login();
    let server = Server::start(&["--user", &login, "--auth-required", "--auth-plaintext"]);
    let (from, to) = (System::new(), System::new());
    from.configure(&server);
    let file = from.path("exported.json");
    ok(&from.root_run(&["config", "export", "--output", file.to_str().unwrap()], ""));
    ok(&to.root_run(&["config", "import", file.to_str().unwrap(), "--password-stdin"], &format!("{PASSWORD}\n")));
    let credential = to.path("etc/smtp-desk/credentials/smtp-password.cred");
    assert_eq!(std::fs::metadata(&credential).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(ok(&to.root_run(&["password", "status"], "")).contains("encrypted systemd credential"));
    assert!(ok(&to.root_run(&["config", "show"], "")).contains("saved as the system credential"));
    ok(&to.root_run(&["validate"], ""));
}

/// Renaming or deleting a profile in system mode moves or removes its credential (a server has no
/// keyring to ask).
#[test]
fn a_profiles_credential_follows_its_rename_and_goes_with_its_delete() {
    if !root_or_skip("a_profiles_credential_follows_its_rename_and_goes_with_its_delete") {
        return;
    }
    let login = support::login();
    let server = Server::start(&["--user", &login, "--auth-required", "--auth-plaintext"]);
    let sys = System::new();
    sys.configure(&server);
    ok(&sys.root_run(&["profile", "create", "ops"], ""));
    ok(&sys.root_run(&["config", "set", "--profile", "ops", "auth.username", "ops@example.com"], ""));
    ok(&sys.root_run(&["password", "set", "--profile", "ops"], "ops-secret"));
    let cred = |name: &str| sys.path(&format!("etc/smtp-desk/credentials/smtp-password-{name}.cred"));
    assert!(cred("ops").exists());
    ok(&sys.root_run(&["profile", "rename", "ops", "night"], ""));
    assert!(!cred("ops").exists() && cred("night").exists(), "the credential moved with the profile");
    assert!(ok(&sys.root_run(&["password", "status", "--profile", "night"], "")).contains("password saved"));
    ok(&sys.root_run(&["profile", "delete", "night"], ""));
    assert!(!cred("night").exists(), "the credential went with the profile");
}
