//! The real window, driven as a person uses it: tauri-driver + WebKitWebDriver under Xvfb, the
//! real Secret Service, the real settings file. Run by scripts/test.sh inside scripts/session.sh,
//! which builds the app and sets SMTP_DESK_APP.

mod support;
use support::free_port;

use fantoccini::{elements::Element, Client, Locator};
use smtp_desk::secrets::{self, DEFAULT_PROFILE};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PASSWORD: &str = "e2e-Window-S3cret!";

/// The window tests share the session keyring entry and the window's remembered screen: one at a time.
static ONE_WINDOW: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The built app. Missing means the harness was bypassed: fail loudly rather than skip.
fn app_binary() -> PathBuf {
    let bin = std::env::var_os("SMTP_DESK_APP")
        .map(PathBuf::from)
        .expect("SMTP_DESK_APP is not set: the window tests need the built app. Run scripts/test.sh, which builds it and sets this.");
    assert!(bin.is_file(), "SMTP_DESK_APP={} does not exist", bin.display());
    bin
}

/// The port of the tauri-driver now running (one window at a time), for screenshots taken on a
/// connection of their own.
static DRIVER_PORT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);

/// tauri-driver, which starts the app (with our environment) for each session.
struct Driver {
    child: Child,
    url: String,
    /// The test's outbox, removed with the driver.
    data: PathBuf,
}

/// The outbox directory of the test whose settings are in `config`: beside it, not in it (some
/// tests check that nothing appears in the settings directory).
fn data_dir(config: &Path) -> PathBuf {
    let name = config.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    config.with_file_name(format!("{name}-outbox"))
}

impl Driver {
    fn start(config_dir: &Path) -> Self {
        Self::start_with(config_dir, &[])
    }

    /// With more environment for the app (e.g. a PATH with a stand-in systemctl first).
    fn start_with(config_dir: &Path, env: &[(&str, std::ffi::OsString)]) -> Self {
        let (port, native) = (free_port(), free_port());
        let child = Command::new("tauri-driver")
            .envs(env.iter().map(|(k, v)| (*k, v)))
            .args(["--port", &port.to_string(), "--native-port", &native.to_string()])
            .env("SMTP_DESK_CONFIG_DIR", config_dir)
            // The window is a delivery agent while open: its outbox is the test's, never the user's.
            .env("SMTP_DESK_DATA_DIR", data_dir(config_dir))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tauri-driver is not installed (scripts/setup.sh installs it)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "tauri-driver did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        DRIVER_PORT.store(port, std::sync::atomic::Ordering::SeqCst);
        Self { child, url: format!("http://127.0.0.1:{port}"), data: data_dir(config_dir) }
    }

    async fn open_app(&self) -> Client {
        let mut caps = serde_json::Map::new();
        caps.insert("tauri:options".into(), serde_json::json!({ "application": app_binary() }));
        let client = fantoccini::ClientBuilder::native().capabilities(caps).connect(&self.url).await.expect("WebDriver session");
        wait_for(&client, "body[data-ready='true']").await;
        client
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

async fn wait_for(c: &Client, css: &str) -> Element {
    c.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css} never appeared: {e}"))
}

async fn el(c: &Client, id: &str) -> Element {
    c.find(Locator::Id(id)).await.unwrap_or_else(|e| panic!("#{id} not found: {e}"))
}

async fn set_text(c: &Client, id: &str, text: &str) {
    let e = el(c, id).await;
    e.clear().await.unwrap();
    e.send_keys(text).await.unwrap();
    // Leave the field, as a person tabbing on would: blur-time checks run.
    e.send_keys("\u{E004}").await.unwrap();
}

async fn value(c: &Client, id: &str) -> String {
    el(c, id).await.prop("value").await.unwrap().unwrap_or_default()
}

async fn text_when(c: &Client, id: &str, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let t = match c.find(Locator::Id(id)).await {
            Ok(e) if e.is_displayed().await.unwrap_or(false) => e.text().await.unwrap_or_default(),
            _ => String::new(),
        };
        if pred(&t) {
            return t;
        }
        assert!(Instant::now() < deadline, "#{id} never showed {what}; last text: {t:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Clicks a control after bringing it to the middle of the screen: WebDriver scrolls it just into
/// view, where the form's sticky footer can lie over it.
async fn click_centered(c: &Client, id: &str) {
    c.execute(&format!("document.getElementById('{id}').scrollIntoView({{ block: 'center' }})"), vec![]).await.unwrap();
    el(c, id).await.click().await.unwrap();
}

async fn select(c: &Client, id: &str, value: &str) {
    el(c, id).await.select_by_value(value).await.unwrap_or_else(|e| panic!("#{id} has no option {value}: {e}"));
}

async fn screenshot(c: &Client, name: &str) -> PathBuf {
    assert_accessible(c, name).await;
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("test-output");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    // WebKitWebDriver's screenshot waits for the next frame, which some sessions here never get.
    // It is asked on a connection of its own, so a picture that never comes costs 10 s and not
    // the session (fantoccini would queue every later command behind it); the checks don't
    // depend on the picture.
    // An idle page repaints nothing, so give it a second of frames: a 1-pixel, nearly invisible
    // element that blinks, then goes.
    let _ = c
        .execute(
            "const d = document.createElement('div');
             d.style.cssText = 'position:fixed;left:0;top:0;width:1px;height:1px;opacity:0.02;pointer-events:none';
             document.body.appendChild(d);
             let n = 0;
             const t = setInterval(() => { d.style.background = n++ % 2 ? '#000' : '#fff'; if (n > 20) { clearInterval(t); d.remove(); } }, 50);",
            vec![],
        )
        .await;
    let session = c.session_id().await.unwrap().expect("a WebDriver session");
    let port = DRIVER_PORT.load(std::sync::atomic::Ordering::SeqCst);
    match tokio::task::spawn_blocking(move || raw_screenshot(port, &session)).await.unwrap() {
        Ok(png) => std::fs::write(&path, png).unwrap(),
        Err(why) => eprintln!("screenshot {name} skipped: {why}"),
    }
    path
}

fn raw_screenshot(port: u16, session: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
    write!(stream, "GET /session/{session}/screenshot HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n").map_err(|e| e.to_string())?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).map_err(|e| format!("WebDriver gave no picture within 10 s ({e})"))?;
    let reply = String::from_utf8_lossy(&reply);
    let body = reply.split_once("\r\n\r\n").map(|(_, b)| b).ok_or("no HTTP body")?;
    let json: serde_json::Value = serde_json::from_str(body).map_err(|e| format!("{e}: {}", &body[..body.len().min(200)]))?;
    let data = json["value"].as_str().ok_or_else(|| format!("no picture: {json}"))?;
    base64::engine::general_purpose::STANDARD.decode(data).map_err(|e| e.to_string())
}

fn cli(config: &Path, args: &[&str]) {
    cli_with_input(config, args, "");
}

fn cli_with_input(config: &Path, args: &[&str], input: &str) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_smtp-desk"))
        .args(args)
        .env("SMTP_DESK_CONFIG_DIR", config)
        .env("SMTP_DESK_DATA_DIR", data_dir(config))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "smtp-desk {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test(flavor = "multi_thread")]
async fn fill_validate_save_restart_and_reload() {
    let _one = ONE_WINDOW.lock().await;
    let config = tempfile::tempdir().unwrap();
    secrets::clear(DEFAULT_PROFILE).expect("the test session's keyring is reachable");
    let driver = Driver::start(config.path());
    let c = driver.open_app().await;
    el(&c, "nav-settings").await.click().await.unwrap();

    el(&c, "mode-relay").await.click().await.unwrap();
    // A pasted host:port fills both fields.
    set_text(&c, "relay-host", "smtp.example.com:465").await;
    assert_eq!(value(&c, "relay-host").await, "smtp.example.com");
    assert_eq!(value(&c, "relay-port").await, "465");
    // 465 with STARTTLS, and no login: two warnings, neither blocks.
    text_when(&c, "relay-port-warning", "the port/TLS mismatch warning", |t| t.contains("465 expects implicit TLS")).await;
    text_when(&c, "auth-method-warning", "the anonymous relay warning", |t| t.contains("Anonymous relay")).await;

    set_text(&c, "sender-from_address", "not an address").await;
    text_when(&c, "sender-from_address-error", "the address error", |t| t.contains("plain address like name@example.com")).await;
    el(&c, "save").await.click().await.unwrap();
    assert!(!config.path().join("settings.json").exists(), "invalid settings were not saved");
    text_when(&c, "dirty-indicator", "the unsaved-changes indicator", |t| t.contains("Unsaved")).await;

    set_text(&c, "sender-from_address", "alerts@example.com").await;
    set_text(&c, "sender-from_name", "Build Server").await;
    select(&c, "relay-security", "implicit_tls").await;
    select(&c, "auth-method", "password").await;
    set_text(&c, "auth-username", "alerts@example.com").await;
    set_text(&c, "password", PASSWORD).await;
    screenshot(&c, "window-settings-filled.png").await;
    el(&c, "save").await.click().await.unwrap();
    text_when(&c, "save-status", "Saved", |t| t.contains("Saved")).await;
    text_when(&c, "password-state", "password saved", |t| t.to_lowercase().contains("saved") && !t.contains("No")).await;

    let file = std::fs::read_to_string(config.path().join("settings.json")).unwrap();
    assert!(file.contains("\"host\": \"smtp.example.com\"") && file.contains("implicit_tls"), "{file}");
    assert!(!file.contains(PASSWORD), "the password must never reach the settings file");
    let stored = secrets::get(DEFAULT_PROFILE).unwrap().expect("the password is in the keyring");
    assert_eq!(stored.expose(), PASSWORD);

    // Restart: sending is on, so the dashboard comes first; the values and "password saved" come back.
    c.close().await.unwrap();
    let c = driver.open_app().await;
    wait_for(&c, "#nav-dashboard[aria-current='page']").await;
    el(&c, "nav-settings").await.click().await.unwrap();
    assert_eq!(value(&c, "relay-host").await, "smtp.example.com");
    assert_eq!(value(&c, "relay-port").await, "465");
    assert_eq!(value(&c, "sender-from_name").await, "Build Server");
    assert_eq!(value(&c, "relay-security").await, "implicit_tls");
    text_when(&c, "password-state", "password saved", |t| t.to_lowercase().contains("saved") && !t.contains("No")).await;
    assert_eq!(value(&c, "password").await, "", "the page never receives the password");
    screenshot(&c, "window-settings.png").await;

    // The CLI changes the file while the window is open and clean: the form follows.
    cli(config.path(), &["config", "set", "sender.from_name", "Changed by CLI"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while value(&c, "sender-from_name").await != "Changed by CLI" {
        assert!(Instant::now() < deadline, "the window did not reload the changed file");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // With unsaved edits, it warns instead of throwing them away.
    set_text(&c, "sender-from_name", "My unsaved edit").await;
    cli(config.path(), &["config", "set", "limits.timeout_secs", "45"]);
    text_when(&c, "external-change", "the outside-change banner", |t| t.contains("changed outside")).await;
    assert_eq!(value(&c, "sender-from_name").await, "My unsaved edit");
    c.close().await.unwrap();
    secrets::clear(DEFAULT_PROFILE).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn corrupt_settings_file_is_left_alone_and_the_window_is_read_only() {
    let _one = ONE_WINDOW.lock().await;
    let config = tempfile::tempdir().unwrap();
    let path = config.path().join("settings.json");
    let broken = "{\n  \"schema\": 1,\n  \"profile\": { this is not json\n";
    std::fs::write(&path, broken).unwrap();
    let driver = Driver::start(config.path());
    let c = driver.open_app().await;
    el(&c, "nav-settings").await.click().await.unwrap();
    let banner = text_when(&c, "load-notice", "the read-only notice", |t| t.contains("line 3, column")).await;
    assert!(banner.contains("not valid settings JSON") && banner.contains("Start from defaults"), "{banner}");
    assert_eq!(value(&c, "settings-file-path").await, path.display().to_string());
    assert!(el(&c, "mode-off").await.prop("checked").await.unwrap().as_deref() == Some("true"));
    screenshot(&c, "window-corrupt-notice.png").await;

    // Saving is refused; the file is left byte for byte, nothing is renamed.
    set_text(&c, "sender-from_name", "Edited").await;
    el(&c, "save").await.click().await.unwrap();
    text_when(&c, "save-status", "the refusal", |t| t.contains("cannot be used as it is")).await;
    assert_eq!(std::fs::read_to_string(&path).unwrap(), broken);
    let names = || {
        let mut v: Vec<_> = std::fs::read_dir(config.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        v.sort();
        v
    };
    assert_eq!(names(), ["settings.json"], "a read never moves or creates anything");

    // Start from defaults: the broken file is kept as a backup, and saving works again.
    el(&c, "start-from-defaults").await.click().await.unwrap();
    text_when(&c, "load-notice", "the backup notice", |t| t.contains("Started from defaults")).await;
    let backups: Vec<_> = names().into_iter().filter(|n| n.starts_with("settings.json.broken-")).collect();
    assert_eq!(backups.len(), 1, "{:?}", names());
    assert_eq!(std::fs::read_to_string(config.path().join(&backups[0])).unwrap(), broken);
    set_text(&c, "sender-from_name", "Fresh start").await;
    el(&c, "save").await.click().await.unwrap();
    text_when(&c, "save-status", "Saved", |t| t == "Saved").await;
    assert!(std::fs::read_to_string(&path).unwrap().contains("Fresh start"));
    c.close().await.unwrap();
}

/// Idle means idle, in the app and in the WebKit process that draws its page: the settings-file
/// watcher once looped on its own reads of an existing settings file, at a full core, and the page
/// once kept WebKit repainting. Measured as scripts/bench-app.sh does, from 3 s after the form is
/// ready (start-up work settles), here over 5 s; a blank Tauri window uses ~0%.
async fn assert_idle(config_dir: &Path) {
    const LIMIT_PERCENT: u64 = 5;
    const SECS: u64 = 5;
    let pid = app_pid(config_dir).expect("the app's process");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let web = web_process(pid).expect("the app's WebKitWebProcess");
    let (app0, web0) = (cpu_ticks(pid), cpu_ticks(web));
    tokio::time::sleep(Duration::from_secs(SECS)).await;
    let (app_used, web_used) = (cpu_ticks(pid) - app0, cpu_ticks(web) - web0);
    let ticks_per_sec = 100; // USER_HZ on Linux
    let percent = |ticks: u64| ticks * 100 / (ticks_per_sec * SECS);
    assert!(
        percent(app_used) <= LIMIT_PERCENT && percent(web_used) <= LIMIT_PERCENT,
        "the idle window used {}% of a core in the app and {}% in WebKitWebProcess over {SECS} s (limit {LIMIT_PERCENT}%)",
        percent(app_used),
        percent(web_used)
    );
}

/// The WebKitWebProcess under `app` (a child, or a grandchild where WebKit's sandbox starts it).
fn web_process(app: u32) -> Option<u32> {
    let parent = |pid: u32| -> Option<u32> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        stat[stat.rfind(')')? + 2..].split(' ').nth(1)?.parse().ok()
    };
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
        if !comm.trim().starts_with("WebKitWebProces") {
            return None;
        }
        let mut p = parent(pid)?;
        for _ in 0..4 {
            if p == app {
                return Some(pid);
            }
            p = parent(p)?;
        }
        None
    })
}

/// The app process started for this test: the one whose environment names `config_dir`.
fn app_pid(config_dir: &Path) -> Option<u32> {
    let needle = format!("SMTP_DESK_CONFIG_DIR={}", config_dir.display());
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
        let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
        let ours = environ.split(|b| *b == 0).any(|kv| kv == needle.as_bytes());
        (comm.trim() == "smtp-desk-app" && ours).then_some(pid)
    })
}

/// User + system CPU time of a process, in clock ticks (/proc/PID/stat fields 14 and 15).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn diagnose_validates_against_a_real_server_and_sends_a_test_email() {
    let _one = ONE_WINDOW.lock().await;
    use support::{login, CertKind, Pki, Server, PASSWORD as SERVER_PASSWORD, USER};
    let pki = Pki::new();
    let server = Server::start_tls("starttls", &pki.server_cert(CertKind::Good), &["--auth-required", "--user", &login()]);
    let config = tempfile::tempdir().unwrap();
    let host = format!("localhost:{}", server.port);
    cli(
        config.path(),
        &[
            "config",
            "set",
            "mode",
            "relay",
            "relay.host",
            &host,
            "relay.security",
            "start_tls",
            "relay.ca_file",
            pki.ca_pem.to_str().unwrap(),
            "auth.method",
            "password",
            "auth.username",
            USER,
            "sender.from_address",
            "desk@example.com",
            "sender.from_name",
            "SMTP Desk test",
            "limits.timeout_secs",
            "5",
        ],
    );
    // First a wrong password: the run stops at AUTH with a hint a person can act on.
    cli_with_input(config.path(), &["password", "set"], "not-the-password");

    let driver = Driver::start(config.path());
    let c = driver.open_app().await;
    assert_idle(config.path()).await;
    el(&c, "nav-diagnose").await.click().await.unwrap();
    el(&c, "validate").await.click().await.unwrap();
    let failed = wait_for(&c, "#steps li.failed[data-step='auth']").await;
    let text = failed.text().await.unwrap();
    assert!(text.contains("535") || text.to_lowercase().contains("rejected"), "{text}");
    let hint = wait_for(&c, "#steps li.failed .hint").await.text().await.unwrap();
    assert!(!hint.is_empty());
    for step in ["resolve", "connect", "banner", "ehlo", "tls"] {
        c.find(Locator::Css(&format!("#steps li.ok[data-step='{step}'], #steps li.warning[data-step='{step}']")))
            .await
            .unwrap_or_else(|_| panic!("step {step} not shown as passed"));
    }
    screenshot(&c, "window-diagnose-auth-failed.png").await;

    // The right password, saved from the CLI: every step passes, then a test email is delivered.
    cli_with_input(config.path(), &["password", "set"], SERVER_PASSWORD);
    el(&c, "validate").await.click().await.unwrap();
    wait_for(&c, "#steps li.ok[data-step='envelope']").await;
    let transcript = el(&c, "transcript-text").await.prop("textContent").await.unwrap().unwrap_or_default();
    assert!(transcript.contains("EHLO") && transcript.contains("STARTTLS"), "{transcript}");
    assert!(!transcript.contains(SERVER_PASSWORD), "the transcript shows the password");

    set_text(&c, "test-recipient", "recipient@example.org").await;
    el(&c, "send-test").await.click().await.unwrap();
    let result = wait_for(&c, "#send-result.ok").await;
    let text = result.text().await.unwrap();
    assert!(text.contains("250") && text.contains("Message-ID"), "{text}");
    // The result sits below the step list: it is brought into view and its heading has the focus.
    assert_focused_and_in_view(&c, "send-result-heading").await;
    screenshot(&c, "window-diagnose.png").await;

    let received = server.received();
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0]["rcpt_tos"][0], "recipient@example.org");
    assert_eq!(received[0]["mail_from"], "desk@example.com");
    c.close().await.unwrap();
    secrets::clear(DEFAULT_PROFILE).unwrap();
}

/// The element with this id has the keyboard focus and is wholly inside the viewport.
async fn assert_focused_and_in_view(c: &Client, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let seen = c
            .execute(
                "const e = document.getElementById(arguments[0]); if (!e) return 'missing';
                 const r = e.getBoundingClientRect();
                 return JSON.stringify({ active: document.activeElement === e, activeId: document.activeElement && document.activeElement.id,
                   top: r.top, bottom: r.bottom, height: window.innerHeight });",
                vec![serde_json::json!(id)],
            )
            .await
            .unwrap();
        let seen: serde_json::Value = serde_json::from_str(seen.as_str().unwrap_or("{}")).unwrap_or_default();
        let in_view = seen["top"].as_f64().is_some_and(|t| t >= 0.0)
            && seen["bottom"].as_f64().zip(seen["height"].as_f64()).is_some_and(|(b, h)| b <= h);
        if seen["active"] == true && in_view {
            return;
        }
        assert!(Instant::now() < deadline, "#{id} is not focused and in view: {seen}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Closes the window as a window manager's close button would (tests/servers/close_window.py).
fn ask_window_to_close() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers/close_window.py");
    let out = Command::new("/usr/bin/python3").arg(script).arg("SMTP Desk").output().expect("python3-xlib (scripts/setup.sh installs it)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test(flavor = "multi_thread")]
async fn closing_with_unsaved_changes_asks_first() {
    let _one = ONE_WINDOW.lock().await;
    let config = tempfile::tempdir().unwrap();
    let driver = Driver::start(config.path());
    let c = driver.open_app().await;
    el(&c, "nav-settings").await.click().await.unwrap();
    set_text(&c, "sender-from_name", "Not saved yet").await;
    text_when(&c, "dirty-indicator", "the unsaved-changes indicator", |t| t.contains("Unsaved")).await;

    ask_window_to_close();
    wait_for(&c, "#confirm-close[open]").await;
    el(&c, "confirm-close-cancel").await.click().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(value(&c, "sender-from_name").await, "Not saved yet", "keep editing keeps the window and the edit");

    ask_window_to_close();
    wait_for(&c, "#confirm-close[open]").await;
    screenshot(&c, "window-confirm-close.png").await;
    // The window may go away before WebDriver answers the click: its reply is not the test.
    let _ = el(&c, "confirm-close-discard").await.click().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.title().await.is_ok() {
        assert!(Instant::now() < deadline, "the window did not close after 'Discard and close'");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!config.path().join("settings.json").exists(), "discarded edits were not saved");
}

/// The window and the CLI edit the same file: a save keeps the CLI's change to another field, and
/// the same field changed on both sides is shown as a conflict, never silently lost.
#[tokio::test(flavor = "multi_thread")]
async fn window_save_keeps_a_cli_change_to_another_field_and_shows_conflicts() {
    let _one = ONE_WINDOW.lock().await;
    let config = tempfile::tempdir().unwrap();
    let path = config.path().join("settings.json");
    cli(config.path(), &["config", "set", "mode", "relay", "relay.host", "smtp.example.com", "sender.from_address", "desk@example.com"]);
    let driver = Driver::start(config.path());
    let c = driver.open_app().await;
    el(&c, "nav-settings").await.click().await.unwrap();
    assert_eq!(value(&c, "relay-host").await, "smtp.example.com");

    set_text(&c, "sender-from_name", "Window edit").await;
    cli(config.path(), &["config", "set", "limits.timeout_secs", "45"]);
    text_when(&c, "external-change", "the outside-change banner", |t| t.contains("changed outside")).await;
    el(&c, "external-change-keep").await.click().await.unwrap();
    el(&c, "save").await.click().await.unwrap();
    text_when(&c, "save-status", "Saved", |t| t == "Saved").await;
    let file: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(file["profile"]["sender"]["from_name"], "Window edit", "the window's change is saved");
    assert_eq!(file["profile"]["limits"]["timeout_secs"], 45, "the CLI's change is kept");
    assert_eq!(value(&c, "limits-timeout_secs").await, "45", "the form shows the file as saved");

    // The same field changed on both sides: refused, the field marked, the CLI's value kept.
    set_text(&c, "relay-host", "window.example.com").await;
    cli(config.path(), &["config", "set", "relay.host", "cli.example.com"]);
    text_when(&c, "external-change", "the outside-change banner", |t| t.contains("changed outside")).await;
    el(&c, "external-change-keep").await.click().await.unwrap();
    el(&c, "save").await.click().await.unwrap();
    let conflict = text_when(&c, "conflict", "the conflict banner", |t| t.contains("Server")).await;
    assert!(conflict.contains("Keep my values"), "{conflict}");
    text_when(&c, "relay-host-error", "the conflicting field marked", |t| t.contains("cli.example.com")).await;
    assert_eq!(el(&c, "relay-host").await.attr("aria-invalid").await.unwrap().as_deref(), Some("true"));
    screenshot(&c, "window-settings-conflict.png").await;
    let file: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(file["profile"]["relay"]["host"], "cli.example.com", "a conflict writes nothing");

    // The user keeps theirs: saved, and the earlier merge still holds.
    el(&c, "conflict-keep").await.click().await.unwrap();
    text_when(&c, "save-status", "Saved", |t| t == "Saved").await;
    let file: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(file["profile"]["relay"]["host"], "window.example.com");
    assert_eq!(file["profile"]["limits"]["timeout_secs"], 45);
    assert_eq!(file["profile"]["sender"]["from_name"], "Window edit");
    c.close().await.unwrap();
}

/// Runs axe-core (the npm package, installed by scripts/setup.sh) in the real window and fails on
/// any violation, naming the rule and the elements. Called for every screenshot, so every screen
/// and state a test shows is checked as it is rendered (colours, focus, labels), in the theme the
/// window is in.
async fn assert_accessible(c: &Client, what: &str) {
    let axe = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/node_modules/axe-core/axe.min.js"))
        .expect("axe-core is installed (scripts/setup.sh runs npm ci at the top level)");
    c.execute(&axe, vec![]).await.expect("axe-core loads in the window");
    let found = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { resultTypes: ['violations'] })
               .then((r) => done(r.violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)))
               .catch((e) => done([`axe failed: ${e}`]));",
            vec![],
        )
        .await
        .expect("axe-core runs");
    let violations: Vec<String> = serde_json::from_value(found).expect("a list of violations");
    assert!(violations.is_empty(), "accessibility violations on {what}:\n{}", violations.join("\n"));
}

/// A relay that takes the envelope and the message, then never answers the final dot: the test
/// email hangs until Cancel. Returns its port.
fn stalling_relay() -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut out = stream.try_clone().unwrap();
                let mut lines = BufReader::new(stream).lines();
                let _ = out.write_all(b"220 stall.example ESMTP\r\n");
                let mut in_data = false;
                while let Some(Ok(line)) = lines.next() {
                    let reply: &[u8] = if in_data {
                        if line == "." {
                            in_data = false;
                            continue; // the stall: no reply to the message
                        }
                        continue;
                    } else {
                        match line.get(..4).map(str::to_ascii_uppercase).as_deref() {
                            Some("EHLO") => b"250-stall.example\r\n250 8BITMIME\r\n",
                            Some("DATA") => {
                                in_data = true;
                                b"354 go ahead\r\n"
                            }
                            Some("QUIT") => b"221 bye\r\n",
                            _ => b"250 ok\r\n",
                        }
                    };
                    if out.write_all(reply).is_err() {
                        break;
                    }
                }
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_test_email_is_cancelled_from_the_window() {
    let _one = ONE_WINDOW.lock().await;
    let port = stalling_relay();
    let config = tempfile::tempdir().unwrap();
    let port_text = port.to_string();
    cli(
        config.path(),
        &[
            "config",
            "set",
            "mode",
            "relay",
            "relay.host",
            "127.0.0.1",
            "relay.port",
            &port_text,
            "relay.security",
            "none",
            "sender.from_address",
            "desk@example.com",
            "limits.timeout_secs",
            "60",
        ],
    );
    let driver = Driver::start(config.path());
    let c = driver.open_app().await;
    el(&c, "nav-diagnose").await.click().await.unwrap();
    set_text(&c, "test-recipient", "recipient@example.org").await;
    assert!(!el(&c, "send-test-cancel").await.is_displayed().await.unwrap(), "Cancel shows only while sending");
    el(&c, "send-test").await.click().await.unwrap();
    text_when(&c, "send-result", "the sending notice", |t| t.contains("Sending a test email")).await;
    // Let it reach the stall (the message is sent, the reply never comes).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(c.find(Locator::Css("#send-result.ok, #send-result.failed")).await.is_err(), "the stalled send ended by itself");
    let cancel = el(&c, "send-test-cancel").await;
    assert!(cancel.is_displayed().await.unwrap(), "a Cancel button shows while sending");
    let pressed = Instant::now();
    cancel.click().await.unwrap();
    let heading = text_when(&c, "send-result-heading", "cancelled", |t| t.contains("cancelled")).await;
    let took = pressed.elapsed();
    assert!(took < Duration::from_millis(1500), "the cancel took {took:?}");
    assert!(heading.starts_with("Test email cancelled"), "{heading}");
    assert_focused_and_in_view(&c, "send-result-heading").await;
    assert!(!el(&c, "send-test-cancel").await.is_displayed().await.unwrap(), "Cancel goes away when the run ends");
    assert!(el(&c, "send-test").await.is_enabled().await.unwrap(), "a new test email can be sent");
    screenshot(&c, "window-diagnose-send-cancelled.png").await;
    c.close().await.unwrap();
}

/// Issue 7 item 4: the Settings page validates what is on the form. The saved file points at a port
/// nothing listens on and no password is saved; the form gets the real server's port and a typed
/// password, Validate passes against the real server, and nothing is written until Save.
#[tokio::test(flavor = "multi_thread")]
async fn the_form_validates_unsaved_values_then_saves_them() {
    let _one = ONE_WINDOW.lock().await;
    use support::{login, CertKind, Pki, Server, PASSWORD as SERVER_PASSWORD, USER};
    let pki = Pki::new();
    let server = Server::start_tls("starttls", &pki.server_cert(CertKind::Good), &["--auth-required", "--user", &login()]);
    let config = tempfile::tempdir().unwrap();
    let path = config.path().join("settings.json");
    let wrong_port = free_port().to_string();
    cli(
        config.path(),
        &[
            "config",
            "set",
            "mode",
            "relay",
            "relay.host",
            "localhost",
            "relay.port",
            &wrong_port,
            "relay.security",
            "start_tls",
            "relay.ca_file",
            pki.ca_pem.to_str().unwrap(),
            "auth.method",
            "password",
            "auth.username",
            USER,
            "sender.from_address",
            "desk@example.com",
            "limits.timeout_secs",
            "5",
        ],
    );
    let _ = secrets::clear(DEFAULT_PROFILE);
    let before = std::fs::read(&path).unwrap();

    let driver = Driver::start(config.path());
    let c = driver.open_app().await;
    el(&c, "nav-settings").await.click().await.unwrap();
    assert_eq!(value(&c, "relay-port").await, wrong_port);

    // The core's verdict as the form shows it: a port/TLS mismatch warning, then gone again.
    set_text(&c, "relay-port", "465").await;
    text_when(&c, "relay-port-warning", "the port/TLS mismatch warning", |t| t.contains("Port 465 expects implicit TLS")).await;
    // The verdict's IPC round trip, as the form measured it (typing to verdict on screen, after the pause).
    let mut trips = Vec::new();
    for name in ["A", "Ab", "Abc", "Abcd", "Abcde"] {
        set_text(&c, "sender-from_name", name).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let ms = el(&c, "settings-form").await.attr("data-check-ms").await.unwrap().unwrap_or_default();
        trips.push(ms.parse::<f64>().unwrap_or(f64::NAN));
    }
    eprintln!("check_settings round trip, typing to verdict on screen (ms): {trips:?}");
    let name = el(&c, "sender-from_name").await;
    name.clear().await.unwrap();
    name.send_keys("\u{E004}").await.unwrap();

    set_text(&c, "relay-port", &server.port.to_string()).await;
    set_text(&c, "password", SERVER_PASSWORD).await;
    el(&c, "form-validate").await.click().await.unwrap();
    let heading = text_when(&c, "form-run-heading", "the validation's verdict", |t| {
        t.starts_with("Validation passed") || t.starts_with("Validation failed") || t.starts_with("Not tried")
    })
    .await;
    let detail = el(&c, "form-run-text").await.text().await.unwrap_or_default();
    assert!(heading.starts_with("Validation passed"), "{heading}: {detail}");
    assert_eq!(std::fs::read(&path).unwrap(), before, "validating the form wrote the settings file");
    assert!(secrets::get(DEFAULT_PROFILE).unwrap().is_none(), "validating the form saved the password");
    let offer = el(&c, "form-run-save").await;
    assert!(offer.is_displayed().await.unwrap(), "a passing run offers Save");
    screenshot(&c, "window-settings-validated-unsaved.png").await;

    offer.click().await.unwrap();
    text_when(&c, "save-status", "Saved", |t| t == "Saved").await;
    let file: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(file["profile"]["relay"]["port"], server.port, "Save writes the port that passed");
    assert!(secrets::get(DEFAULT_PROFILE).unwrap().is_some(), "Save keeps the typed password in the keyring");
    assert!(!el(&c, "form-run-save").await.is_displayed().await.unwrap(), "nothing left to save");
    screenshot(&c, "window-settings-validated-saved.png").await;
    c.close().await.unwrap();
    secrets::clear(DEFAULT_PROFILE).unwrap();
}

/// The queue table's rows as (id, state), in order.
async fn queue_rows(c: &Client) -> Vec<(i64, String)> {
    let rows = c
        .execute("return [...document.querySelectorAll('#queue-rows tr')].map((r) => [Number(r.dataset.id), r.dataset.state]);", vec![])
        .await
        .unwrap();
    serde_json::from_value(rows).unwrap()
}

async fn rows_when(c: &Client, what: &str, pred: impl Fn(&[(i64, String)]) -> bool) -> Vec<(i64, String)> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let rows = queue_rows(c).await;
        if pred(&rows) {
            return rows;
        }
        assert!(Instant::now() < deadline, "the queue never showed {what}; rows: {rows:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Ticks row `id`'s checkbox. The rows re-render live (the agent's events), so a row found may
/// be replaced before the click lands: find it again then.
async fn select_row(c: &Client, id: i64) {
    let css = format!("#queue-rows tr[data-id='{id}'] input[type=checkbox]");
    for attempt in 0.. {
        let clicked = match c.find(Locator::Css(&css)).await {
            Ok(e) => e.click().await,
            Err(e) => Err(e),
        };
        match clicked {
            Ok(_) => return,
            Err(e) if attempt < 20 => {
                eprintln!("row {id} not clickable yet ({e}); again");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("row {id} could not be selected: {e}"),
        }
    }
}

/// Issue 8, the Queue screen: mail kept while sending is off (the banner says so), rows, filter,
/// search, hold and release, delete after confirming; then the window, as the delivery agent,
/// defers mail for a server that is down (rows change live) and a flush delivers it to a live one.
#[tokio::test(flavor = "multi_thread")]
async fn the_queue_screen_manages_mail_and_a_flush_delivers_it() {
    let _one = ONE_WINDOW.lock().await;
    let config = tempfile::tempdir().unwrap();
    let down = free_port().to_string();
    cli(
        config.path(),
        &[
            "config",
            "set",
            "mode",
            "off",
            "relay.host",
            "127.0.0.1",
            "relay.port",
            &down,
            "relay.security",
            "none",
            "sender.from_address",
            "desk@example.com",
            "limits.timeout_secs",
            "5",
        ],
    );
    for i in 1..=4 {
        cli_with_input(config.path(), &["sendmail", &format!("to{i}@example.org")], &format!("Subject: report {i}\n\nbody {i}\n"));
    }
    let driver = Driver::start(config.path());
    let c = driver.open_app().await;
    el(&c, "nav-queue").await.click().await.unwrap();
    let rows = rows_when(&c, "four queued messages", |r| r.len() == 4).await;
    assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), [4, 3, 2, 1], "newest first");
    assert!(rows.iter().all(|r| r.1 == "queued"), "{rows:?}");
    let banner = text_when(&c, "queue-off", "the sending-off banner", |t| t.contains("Sending is off")).await;
    assert!(banner.starts_with("Sending is off: 4 messages are waiting; they will be sent when you turn sending on"), "{banner}");
    let row = el(&c, "queue-rows").await.text().await.unwrap();
    assert!(row.contains("to3@example.org") && row.contains("report 3") && row.contains("desk@example.com"), "{row}");
    screenshot(&c, "window-queue-sending-off.png").await;

    // Hold two, filter by state, release one.
    select_row(&c, 1).await;
    select_row(&c, 2).await;
    el(&c, "queue-hold").await.click().await.unwrap();
    text_when(&c, "queue-status", "held", |t| t == "Held 2 messages.").await;
    rows_when(&c, "two held", |r| r.iter().filter(|x| x.1 == "held").count() == 2).await;
    select(&c, "queue-state-filter", "held").await;
    rows_when(&c, "only the held ones", |r| r.iter().map(|x| x.0).collect::<Vec<_>>() == [2, 1]).await;
    select_row(&c, 2).await;
    el(&c, "queue-release").await.click().await.unwrap();
    text_when(&c, "queue-status", "released", |t| t.starts_with("Released 1 message")).await;
    rows_when(&c, "message 2 released", |r| r.iter().map(|x| x.0).collect::<Vec<_>>() == [1]).await;
    select(&c, "queue-state-filter", "").await;

    // Search by address, then delete one after confirming.
    set_text(&c, "queue-search", "TO4@").await;
    rows_when(&c, "the search's one match", |r| r.iter().map(|x| x.0).collect::<Vec<_>>() == [4]).await;
    select_row(&c, 4).await;
    el(&c, "queue-delete").await.click().await.unwrap();
    wait_for(&c, "#queue-confirm[open]").await;
    assert_eq!(el(&c, "queue-confirm-title").await.text().await.unwrap(), "Delete 1 message?");
    screenshot(&c, "window-queue-confirm-delete.png").await;
    el(&c, "queue-confirm-delete").await.click().await.unwrap();
    text_when(&c, "queue-status", "how many were deleted", |t| t == "Deleted 1 message.").await;
    text_when(&c, "queue-counts", "the count dropping", |t| t.starts_with("3 messages in the queue")).await;
    let search = el(&c, "queue-search").await;
    search.clear().await.unwrap();
    search.send_keys("\u{E007}").await.unwrap(); // Enter: search now
    rows_when(&c, "three left", |r| r.iter().map(|x| x.0).collect::<Vec<_>>() == [3, 2, 1]).await;

    // Sending on, server down: the window's agent defers them, and the rows say so by themselves.
    cli(config.path(), &["config", "set", "mode", "relay"]);
    text_when(&c, "queue-counts", "the deferrals", |t| t.contains("2 deferred")).await;
    rows_when(&c, "two deferred, one held", |r| r == [(3, "deferred".into()), (2, "deferred".into()), (1, "held".into())]).await;
    assert!(!el(&c, "queue-off").await.is_displayed().await.unwrap(), "the banner goes when sending is on");

    // The server comes up; Flush now delivers the deferred mail; held mail stays held.
    let server = support::Server::start(&[]);
    cli(config.path(), &["config", "set", "relay.port", &server.port.to_string()]);
    el(&c, "queue-flush").await.click().await.unwrap();
    rows_when(&c, "the flushed mail sent", |r| r == [(3, "sent".into()), (2, "sent".into()), (1, "held".into())]).await;
    text_when(&c, "queue-counts", "the counts after the flush", |t| t.contains("2 sent")).await;
    assert_eq!(server.received().len(), 2);
    c.find(Locator::Css("#queue-rows tr[data-id='3'] button[data-open]")).await.unwrap().click().await.unwrap();
    let detail = text_when(&c, "queue-detail", "the details", |t| t.contains("Attempts")).await;
    assert!(detail.contains("deferred") && detail.contains("sent") && detail.contains("250"), "every attempt with its reply: {detail}");
    screenshot(&c, "window-queue-light.png").await;
    select(&c, "theme", "dark").await;
    screenshot(&c, "window-queue-dark.png").await;
    // The live queue must not feed on itself: its own reads trigger no event, so the window idles.
    assert_idle(config.path()).await;
    c.close().await.unwrap();
}

/// A systemctl stand-in, as in tests/delivery_service.rs: logs its arguments beside itself;
/// enable/disable flip a marker that is-enabled and is-active report. A test must not change
/// the machine's own systemd, and there is no user manager under the test session anyway.
const SYSTEMCTL: &str = r#"#!/bin/sh
echo "$*" >> "${0%/*}/systemctl.log"
marker="${0%/*}/enabled"
case "$2" in
  enable) : > "$marker" ;;
  disable) /bin/rm -f "$marker" ;;
  is-enabled|is-active) if [ -e "$marker" ]; then [ "$2" = is-enabled ] && echo enabled || echo active; else echo disabled; exit 1; fi ;;
esac
exit 0
"#;

/// A systemctl with no user manager behind it (a container, a session without systemd).
const NO_USER_MANAGER: &str = "#!/bin/sh\necho 'Failed to connect to bus: No medium found' >&2\nexit 1\n";

fn write_script(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    // Written beside and renamed: the running app never executes half a script.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

async fn disabled(c: &Client, id: &str) -> bool {
    el(c, id).await.prop("disabled").await.unwrap().as_deref() == Some("true")
}

async fn checked(c: &Client, id: &str) -> bool {
    el(c, id).await.prop("checked").await.unwrap().as_deref() == Some("true")
}

const LISTENER_PASSWORD: &str = "e2e-Listener-L0cal!";

#[tokio::test(flavor = "multi_thread")]
async fn mail_from_this_machine_saves_the_listener_with_its_password_and_turns_the_delivery_service() {
    let _one = ONE_WINDOW.lock().await;
    let config = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let bin = home.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    write_script(&bin.join("systemctl"), SYSTEMCTL);
    let mut path = std::ffi::OsString::from(&bin);
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_default());
    // The unit goes to $XDG_CONFIG_HOME/systemd/user: the test's, never the user's.
    let xdg = home.path().join("config");
    secrets::clear_listener().expect("the test session's keyring is reachable");
    let driver = Driver::start_with(config.path(), &[("PATH", path), ("XDG_CONFIG_HOME", xdg.clone().into())]);
    let c = driver.open_app().await;
    el(&c, "nav-settings").await.click().await.unwrap();

    // The listener is off: its port, login and password wait, disabled.
    text_when(&c, "listener-password-state", "the keyring's answer", |t| t == "No password saved").await;
    assert!(!checked(&c, "listener-enabled").await);
    for id in ["listener-port", "listener-username", "listener-password"] {
        assert!(disabled(&c, id).await, "#{id} is disabled while the listener is off");
    }
    set_text(&c, "local_recipient", "root").await;
    text_when(&c, "local_recipient-error", "the core's verdict naming the field", |t| t.contains("Local recipient")).await;
    set_text(&c, "local_recipient", "admin@example.com").await;
    el(&c, "listener-enabled").await.click().await.unwrap();
    assert!(!disabled(&c, "listener-port").await && !disabled(&c, "listener-username").await);
    set_text(&c, "listener-port", "2626").await;
    set_text(&c, "listener-username", "cron").await;
    assert!(!disabled(&c, "listener-password").await, "a login asks for a password");
    set_text(&c, "listener-password", LISTENER_PASSWORD).await;
    text_when(&c, "delivery-service-state", "the service's state", |t| t.starts_with("Off")).await;
    c.execute("document.getElementById('section-local').scrollIntoView()", vec![]).await.unwrap();
    screenshot(&c, "window-settings-local.png").await;
    el(&c, "save").await.click().await.unwrap();
    text_when(&c, "save-status", "Saved", |t| t == "Saved").await;
    text_when(&c, "listener-password-state", "the listener password saved", |t| t.contains("saved in keyring")).await;
    assert_eq!(value(&c, "listener-password").await, "", "the page never gets the password back");

    let out = Command::new(env!("CARGO_BIN_EXE_smtp-desk"))
        .args(["config", "show", "--json"])
        .env("SMTP_DESK_CONFIG_DIR", config.path())
        .env("SMTP_DESK_DATA_DIR", data_dir(config.path()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let profile = &shown["settings"]["profile"];
    assert_eq!(profile["local_recipient"], "admin@example.com");
    assert_eq!(profile["listener"], serde_json::json!({ "enabled": true, "port": 2626, "username": "cron" }));
    let file = std::fs::read_to_string(config.path().join("settings.json")).unwrap();
    let all = format!("{file}{}", String::from_utf8_lossy(&out.stdout));
    assert!(!all.contains(LISTENER_PASSWORD), "the listener password must never reach the file or `config show`");
    assert_eq!(secrets::get_listener().unwrap().expect("the listener password is in the keyring").expose(), LISTENER_PASSWORD);
    assert!(secrets::get(DEFAULT_PROFILE).map(|p| p.is_none_or(|p| p.expose() != LISTENER_PASSWORD)).unwrap(), "its own entry");

    // Keep delivering when the window is closed: the user unit, through (the stand-in) systemctl.
    let unit = xdg.join("systemd/user/smtp-desk-deliver.service");
    let calls = || std::fs::read_to_string(bin.join("systemctl.log")).unwrap_or_default();
    assert!(!disabled(&c, "delivery-service").await);
    click_centered(&c, "delivery-service").await;
    text_when(&c, "delivery-service-state", "the service on", |t| t.starts_with("On")).await;
    assert!(checked(&c, "delivery-service").await);
    let written = std::fs::read_to_string(&unit).expect("the unit was written");
    assert!(written.contains("deliver --daemon"), "{written}");
    assert!(calls().contains("--user enable --now smtp-desk-deliver.service"), "{}", calls());
    text_when(&c, "dirty-indicator", "no unsaved changes", |t| t.is_empty()).await;
    click_centered(&c, "delivery-service").await;
    text_when(&c, "delivery-service-state", "the service off", |t| t.starts_with("Off")).await;
    assert!(!unit.exists(), "the unit is removed");
    assert!(calls().contains("--user disable --now smtp-desk-deliver.service"), "{}", calls());

    // How long the logs are kept: its own small section, with the registry's range; saved to the file.
    let help = el(&c, "logs-retention_days-help").await.text().await.unwrap();
    assert!(help.contains("older than this are deleted") && help.contains("once a day"), "{help}");
    set_text(&c, "logs-retention_days", "0").await;
    el(&c, "save").await.click().await.unwrap();
    text_when(&c, "logs-retention_days-error", "the range error", |t| t.contains("Keep logs for")).await;
    set_text(&c, "logs-retention_days", "30").await;
    c.execute("document.getElementById('section-logs').scrollIntoView({ block: 'center' })", vec![]).await.unwrap();
    screenshot(&c, "window-settings-logs.png").await;
    el(&c, "save").await.click().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(config.path().join("settings.json")).unwrap().contains("\"retention_days\": 30") {
        assert!(Instant::now() < deadline, "the retention was not saved");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Without systemd's user manager: said, with what to do instead, and the switch disabled.
    write_script(&bin.join("systemctl"), NO_USER_MANAGER);
    c.close().await.unwrap();
    let c = driver.open_app().await;
    el(&c, "nav-settings").await.click().await.unwrap();
    let error = text_when(&c, "delivery-service-error", "the no-systemd error", |t| !t.is_empty()).await;
    assert!(error.contains("Needs systemd's user manager") && error.contains("smtp-desk deliver --daemon"), "{error}");
    assert!(disabled(&c, "delivery-service").await);
    assert!(!checked(&c, "delivery-service").await);
    // The saved listener came back with the window.
    assert!(checked(&c, "listener-enabled").await);
    assert_eq!(value(&c, "listener-port").await, "2626");
    text_when(&c, "listener-password-state", "the listener password saved", |t| t.contains("saved in keyring")).await;
    select(&c, "theme", "dark").await;
    c.execute("document.getElementById('section-local').scrollIntoView()", vec![]).await.unwrap();
    screenshot(&c, "window-settings-local-no-systemd-dark.png").await;
    select(&c, "theme", "system").await;
    c.close().await.unwrap();
    secrets::clear_listener().unwrap();
}

/// Issue 8: mail that fails for good while the window delivers is said on the Queue screen (and
/// shown as a desktop notification: not asserted here, there is no notification daemon under
/// Xvfb; the window must neither crash nor hang without one).
#[tokio::test(flavor = "multi_thread")]
async fn a_permanent_failure_is_said_on_the_queue_screen_without_a_notification_daemon() {
    let _one = ONE_WINDOW.lock().await;
    let server = support::Server::start(&["--refuse-rcpt", "nobody@example.org"]);
    let config = tempfile::tempdir().unwrap();
    let port = server.port.to_string();
    cli(
        config.path(),
        &["config", "set", "mode", "relay", "relay.host", "127.0.0.1", "relay.port", &port, "relay.security", "none"]
            .into_iter()
            .chain(["sender.from_address", "desk@example.com", "bounces.send", "false"])
            .collect::<Vec<_>>(),
    );
    let driver = Driver::start(config.path());
    let c = driver.open_app().await;
    el(&c, "nav-queue").await.click().await.unwrap();
    wait_for(&c, "#queue-counts").await;
    cli_with_input(config.path(), &["sendmail", "nobody@example.org"], "Subject: refused\n\nbody\n");
    let said = text_when(&c, "queue-status", "the failure", |t| t.contains("failed")).await;
    assert!(said.starts_with("1 message failed: nobody@example.org: 550"), "{said}");
    select(&c, "queue-state-filter", "failed").await;
    rows_when(&c, "the failed message", |r| r == [(1, "failed".into())]).await;
    c.close().await.unwrap();
}

/// Issue 9, end to end: mail handed to `sendmail` and delivered by the window (as the delivery
/// agent) to a real server shows on the Dashboard (the window's first screen once sending is on),
/// in the Mail log with its recipient and the server's reply, and in today's Report, live (no
/// reload); each screen passes axe, in light and dark.
#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_mail_log_and_report_show_mail_sent_through_a_real_server() {
    let _one = ONE_WINDOW.lock().await;
    let server = support::Server::start(&[]);
    let config = tempfile::tempdir().unwrap();
    let port = server.port.to_string();
    cli(
        config.path(),
        &["config", "set", "mode", "relay", "relay.host", "127.0.0.1", "relay.port", &port, "relay.security", "none"]
            .into_iter()
            .chain(["sender.from_address", "desk@example.com"])
            .collect::<Vec<_>>(),
    );
    let driver = Driver::start(config.path());
    let c = driver.open_app().await;
    // Sending is on: the dashboard comes first.
    wait_for(&c, "#nav-dashboard[aria-current='page']").await;
    text_when(&c, "dashboard-today", "nothing yet", |t| t.contains("0 sent")).await;
    cli_with_input(config.path(), &["sendmail", "alice@example.org"], "Subject: e2e journal\n\nhello\n");
    let today = text_when(&c, "dashboard-today", "the message sent", |t| t.contains("1 sent")).await;
    assert!(today.contains("0 failed (bounced)"), "{today}");
    assert_eq!(server.received().len(), 1);
    let facts = text_when(&c, "dashboard-facts", "the last delivery", |t| t.contains("alice@example.org")).await;
    assert!(facts.contains(&format!("127.0.0.1:{port}")) && facts.contains("Running"), "{facts}");
    // The time as the clock read it, then how long ago: nothing redraws an idle screen, so "just now" alone would lie.
    let when =
        facts.split("Last delivery").nth(1).and_then(|t| t.split("(just now) to alice@example.org").next()).unwrap_or_default().trim();
    assert!(when.contains(':') && when.len() <= 8, "the last delivery's time: {when:?} in {facts}");
    let chart = el(&c, "dashboard-chart").await.find(Locator::Css("svg")).await.unwrap().attr("aria-label").await.unwrap().unwrap();
    assert!(chart.contains("1 sent"), "{chart}");
    screenshot(&c, "window-dashboard-light.png").await;
    select(&c, "theme", "dark").await;
    screenshot(&c, "window-dashboard-dark.png").await;
    select(&c, "theme", "light").await;

    // Today's "1 sent" opens the mail log on today's sent rows.
    c.find(Locator::Css("#dashboard-today button[data-go='log:sent:today']")).await.unwrap().click().await.unwrap();
    let sent = text_when(&c, "log-rows", "only the sent row", |t| !t.contains("Received") && t.contains("Sent")).await;
    // (The reply is cut to one line there, which WebDriver's text leaves out: it is checked in the row's detail below.)
    assert!(sent.contains("alice@example.org") && sent.contains("desk@example.com"), "{sent}");
    assert_eq!(el(&c, "log-result").await.prop("value").await.unwrap().as_deref(), Some("sent"));
    assert!(!el(&c, "log-since").await.prop("value").await.unwrap().unwrap_or_default().is_empty(), "from today");
    select(&c, "log-result", "").await;
    let rows = text_when(&c, "log-rows", "every row", |t| t.contains("Received") && t.contains("Sent")).await;
    assert!(rows.contains("alice@example.org"), "{rows}");
    select(&c, "log-result", "sent").await;
    text_when(&c, "log-rows", "only the sent row", |t| !t.contains("Received") && t.contains("Sent")).await;
    // The server, TLS, size, time taken and Message-ID open under the row (its button, by keyboard too).
    c.find(Locator::Css("#log-rows tr[data-result='sent'] button.log-toggle")).await.unwrap().click().await.unwrap();
    let detail = wait_for(&c, "#log-rows tr.log-detail:not([hidden])").await.text().await.unwrap();
    assert!(detail.contains(&format!("127.0.0.1:{port}")) && detail.contains("Message-ID") && detail.contains("250"), "{detail}");
    // At the window's default size the log fits its width: nothing scrolls sideways.
    let widths = c
        .execute("const w = document.querySelector('#screen-log .journal-table-wrap'); return [w.scrollWidth, w.clientWidth];", vec![])
        .await
        .unwrap();
    let (scroll, client) = (widths[0].as_u64().unwrap(), widths[1].as_u64().unwrap());
    assert!(scroll <= client, "the log is {scroll} px wide in {client} px");
    screenshot(&c, "window-log-light.png").await;
    select(&c, "theme", "dark").await;
    screenshot(&c, "window-log-dark.png").await;
    select(&c, "theme", "light").await;

    el(&c, "nav-report").await.click().await.unwrap();
    let title = text_when(&c, "report-title", "today's totals", |t| t.starts_with("Today: 1 sent")).await;
    assert_eq!(title, "Today: 1 sent, 0 bounced, 0 deferred");
    let totals = el(&c, "report-totals").await.text().await.unwrap();
    // Each figure is a <dt> and its <dd>, which WebKit's element text runs together.
    let totals = totals.split_whitespace().collect::<String>();
    assert!(totals.contains("Messagesreceived1Received1Sent1Deferred0Bounced0"), "{totals}");
    let senders = el(&c, "report-top-senders").await.text().await.unwrap();
    assert!(senders.contains("desk@example.com"), "{senders}");
    let servers = el(&c, "report-servers").await.text().await.unwrap();
    assert!(servers.contains(&format!("127.0.0.1:{port}")), "{servers}");
    screenshot(&c, "window-report-light.png").await;
    select(&c, "theme", "dark").await;
    screenshot(&c, "window-report-dark.png").await;
    select(&c, "theme", "light").await;

    // The queue id in the log opens the message in the Queue screen.
    el(&c, "nav-log").await.click().await.unwrap();
    c.find(Locator::Css("#log-rows td.num button[data-go^='message:']")).await.unwrap().click().await.unwrap();
    let detail = text_when(&c, "queue-detail", "the message", |t| t.contains("e2e journal")).await;
    assert!(detail.contains("alice@example.org"), "{detail}");

    // A validation run from the window, then the event log: the window's agent started, the
    // settings the command line changed, and the validation, which opens with its steps and transcript.
    el(&c, "nav-diagnose").await.click().await.unwrap();
    el(&c, "validate").await.click().await.unwrap();
    wait_for(&c, "#validate-result.ok").await;
    el(&c, "nav-events").await.click().await.unwrap();
    let events = text_when(&c, "events-rows", "the validation", |t| t.contains("Validation passed")).await;
    assert!(events.contains("Delivery agent started (the window)"), "{events}");
    assert!(events.contains("Settings changed from the command line"), "{events}");
    c.find(Locator::Css("#events-rows tr[data-category='validation'] button[data-open]")).await.unwrap().click().await.unwrap();
    wait_for(&c, "#events-detail ol.steps li.ok[data-step='connect']").await;
    let transcript = c.find(Locator::Css("#events-detail pre")).await.unwrap().text().await.unwrap();
    assert!(transcript.contains("EHLO"), "{transcript}");
    screenshot(&c, "window-events-validation-light.png").await;
    // The detail far down took the focus: the screen scrolls, the window (and its header) does not.
    let page = c
        .execute("const d = document.documentElement; return [d.scrollHeight, d.clientHeight, d.scrollWidth, d.clientWidth];", vec![])
        .await
        .unwrap();
    let page: Vec<u64> = serde_json::from_value(page).unwrap();
    assert!(page[0] <= page[1] && page[2] <= page[3], "the window itself scrolls (height, client height, width, client width): {page:?}");
    c.find(Locator::Css("#events-rows tr[data-category='settings'] button[data-open]")).await.unwrap().click().await.unwrap();
    let change = text_when(&c, "events-detail", "the settings change", |t| t.contains("Before")).await;
    assert!(change.contains(&port) && change.contains("The command line"), "{change}");
    select(&c, "theme", "dark").await;
    screenshot(&c, "window-events-dark.png").await;
    select(&c, "theme", "system").await;
    // Nothing polls: the journal screens refresh on the database's changes only.
    assert_idle(config.path()).await;
    c.close().await.unwrap();
}

/// The profile shown in the profile bar, once it is `name`.
async fn profile_shown(c: &Client, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    // Read by script: the select is replaced when the page sets it, so a found element can go stale.
    let shown = || async { c.execute("return document.getElementById('profile-select').value", vec![]).await.ok() };
    while shown().await.as_ref().and_then(|v| v.as_str()) != Some(name) {
        assert!(Instant::now() < deadline, "the window never showed profile {name}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Saves and waits for "Saved".
async fn save(c: &Client) {
    click_centered(c, "save").await;
    text_when(c, "save-status", "Saved", |t| t == "Saved").await;
}

fn saved_settings(config: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(config.join("settings.json")).unwrap()).unwrap()
}

/// Issue 10: a named profile inherits from Global field by field, overrides what it sets, and
/// switching profiles in the window never mixes their values (unsaved edits are discarded only
/// after asking).
#[tokio::test(flavor = "multi_thread")]
async fn profiles_inherit_from_global_and_switching_never_mixes_values() {
    let _one = ONE_WINDOW.lock().await;
    let config = tempfile::tempdir().unwrap();
    let driver = Driver::start(config.path());
    let c = driver.open_app().await;
    el(&c, "nav-settings").await.click().await.unwrap();

    el(&c, "mode-relay").await.click().await.unwrap();
    set_text(&c, "relay-host", "smtp.global.example").await;
    set_text(&c, "sender-from_address", "global@example.com").await;
    save(&c).await;

    // New… → alerts: everything inherited, shown disabled with Global's value.
    click_centered(&c, "profile-new").await;
    wait_for(&c, "#profile-dialog[open]").await;
    el(&c, "profile-dialog-name").await.send_keys("alerts").await.unwrap();
    el(&c, "profile-dialog-ok").await.click().await.unwrap();
    profile_shown(&c, "alerts").await;
    assert_eq!(value(&c, "relay-host").await, "smtp.global.example");
    assert!(disabled(&c, "relay-host").await, "an inherited field is not editable until overridden");
    text_when(&c, "relay-host-scope-text", "the inherited note", |t| t == "Inherited from Global: smtp.global.example").await;
    assert!(disabled(&c, "logs-retention_days").await);
    text_when(&c, "logs-retention_days-scope-text", "the Global-only note", |t| t.contains("Set in Global")).await;

    // Override the server in alerts and save: only that key is stored for alerts.
    click_centered(&c, "relay-host-scope-action").await;
    assert!(!disabled(&c, "relay-host").await, "Override makes the field editable");
    set_text(&c, "relay-host", "smtp.alerts.example").await;
    save(&c).await;
    let file = saved_settings(config.path());
    assert_eq!(file["profiles"]["alerts"], serde_json::json!({ "relay.host": "smtp.alerts.example" }), "{file}");
    assert_eq!(file["profile"]["relay"]["host"], "smtp.global.example", "Global's host is untouched: {file}");
    text_when(&c, "relay-host-scope-text", "the overridden note", |t| t.contains("Overridden")).await;
    screenshot(&c, "window-profile-alerts.png").await;

    // Global shows its own values; a change there reaches alerts' inherited fields.
    select(&c, "profile-select", "global").await;
    profile_shown(&c, "global").await;
    assert_eq!(value(&c, "relay-host").await, "smtp.global.example");
    assert!(!disabled(&c, "relay-host").await);
    set_text(&c, "sender-from_address", "changed@example.com").await;
    save(&c).await;
    select(&c, "profile-select", "alerts").await;
    profile_shown(&c, "alerts").await;
    assert_eq!(value(&c, "relay-host").await, "smtp.alerts.example");
    assert_eq!(value(&c, "sender-from_address").await, "changed@example.com", "an inherited field follows Global");
    text_when(&c, "sender-from_address-scope-text", "Global's new value", |t| t == "Inherited from Global: changed@example.com").await;

    // An unsaved edit: switching asks; "Keep editing" keeps it, "Discard" shows Global's own values.
    set_text(&c, "relay-host", "unsaved.alerts.example").await;
    text_when(&c, "dirty-indicator", "the unsaved-changes indicator", |t| t.contains("Unsaved")).await;
    select(&c, "profile-select", "global").await;
    wait_for(&c, "#profile-dialog[open]").await;
    el(&c, "profile-dialog-cancel").await.click().await.unwrap();
    profile_shown(&c, "alerts").await;
    assert_eq!(value(&c, "relay-host").await, "unsaved.alerts.example");
    select(&c, "profile-select", "global").await;
    wait_for(&c, "#profile-dialog[open]").await;
    screenshot(&c, "window-profile-switch-asks.png").await;
    el(&c, "profile-dialog-ok").await.click().await.unwrap();
    profile_shown(&c, "global").await;
    assert_eq!(value(&c, "relay-host").await, "smtp.global.example", "no value of alerts in Global");
    assert_eq!(value(&c, "sender-from_address").await, "changed@example.com");
    select(&c, "profile-select", "alerts").await;
    profile_shown(&c, "alerts").await;
    assert_eq!(value(&c, "relay-host").await, "smtp.alerts.example", "the discarded edit is gone");
    let file = saved_settings(config.path());
    assert_eq!(file["profile"]["relay"]["host"], "smtp.global.example", "{file}");
    assert_eq!(file["profiles"]["alerts"], serde_json::json!({ "relay.host": "smtp.alerts.example" }), "{file}");
    c.close().await.unwrap();
}

/// Issue 10: the admin policy's locked fields are disabled in the window and say why; an invalid
/// policy file is reported at the top (sending is stopped).
#[tokio::test(flavor = "multi_thread")]
async fn policy_locked_fields_are_disabled_and_say_why() {
    let _one = ONE_WINDOW.lock().await;
    let config = tempfile::tempdir().unwrap();
    let policy_dir = tempfile::tempdir().unwrap();
    let policy = policy_dir.path().join("policy.json");
    std::fs::write(
        &policy,
        r#"{ "schema": 1, "reason": "Set by IT (it@example.com)", "lock": { "relay.host": "smtp.corp.example" }, "require_certificate_verification": true }"#,
    )
    .unwrap();
    let driver = Driver::start_with(config.path(), &[("SMTP_DESK_POLICY", policy.clone().into_os_string())]);
    let c = driver.open_app().await;
    el(&c, "nav-settings").await.click().await.unwrap();
    el(&c, "mode-relay").await.click().await.unwrap();

    assert_eq!(value(&c, "relay-host").await, "smtp.corp.example", "the locked value is shown");
    assert!(disabled(&c, "relay-host").await, "a locked field can't be edited");
    text_when(&c, "relay-host-scope-text", "the lock's reason", |t| {
        t.contains("Locked by the admin policy") && t.contains("Set by IT (it@example.com)")
    })
    .await;
    assert!(checked(&c, "relay-verify_certificates").await);
    assert!(disabled(&c, "relay-verify_certificates").await);
    text_when(&c, "relay-verify_certificates-scope-text", "the rule", |t| t.contains("requires certificate checking")).await;
    for id in ["relay-host", "relay-verify_certificates"] {
        let described = el(&c, id).await.attr("aria-describedby").await.unwrap().unwrap_or_default();
        assert!(described.split(' ').any(|d| d == format!("{id}-scope-text")), "#{id} is described by its reason: {described}");
    }
    assert!(!el(&c, "policy-invalid").await.is_displayed().await.unwrap(), "a usable policy shows no banner");
    screenshot(&c, "window-policy-locked.png").await;

    // A named profile gets the same locks (saved first: New… asks before discarding edits).
    set_text(&c, "sender-from_address", "it@example.com").await;
    save(&c).await;
    let file = saved_settings(config.path());
    assert_eq!(file["profile"]["relay"]["host"], "smtp.corp.example", "the locked value is what is saved: {file}");
    click_centered(&c, "profile-new").await;
    wait_for(&c, "#profile-dialog[open]").await;
    el(&c, "profile-dialog-name").await.send_keys("alerts").await.unwrap();
    el(&c, "profile-dialog-ok").await.click().await.unwrap();
    profile_shown(&c, "alerts").await;
    assert!(disabled(&c, "relay-host").await && disabled(&c, "relay-verify_certificates").await);
    text_when(&c, "relay-host-scope-text", "the lock's reason in alerts", |t| t.contains("Locked by the admin policy")).await;

    // A broken policy: the window says sending is stopped, why, and where the file is.
    std::fs::write(&policy, r#"{ "schema": 1, "lokc": {} }"#).unwrap();
    c.close().await.unwrap();
    let c = driver.open_app().await;
    el(&c, "nav-settings").await.click().await.unwrap();
    text_when(&c, "policy-invalid-text", "the invalid-policy banner", |t| t.contains("Sending is stopped")).await;
    text_when(&c, "policy-invalid-path", "the policy's path", |t| t == policy.display().to_string()).await;
    screenshot(&c, "window-policy-invalid.png").await;
    c.close().await.unwrap();
}

/// "Find settings": the dialog beside the server field asks the core (here a dnsmasq with the
/// domain's SRV record, through the documented SMTP_DESK_DNS_SERVER), shows each source and fills
/// the form on confirmation; saving writes what was found.
#[tokio::test(flavor = "multi_thread")]
async fn find_settings_fills_the_form_from_the_domains_srv_record() {
    let _one = ONE_WINDOW.lock().await;
    let dns_port = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut dns = Command::new("dnsmasq")
        .args(["--no-daemon", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--bind-interfaces", "--listen-address=127.0.0.1"])
        .arg(format!("--port={dns_port}"))
        .arg("--srv-host=_submission._tcp.found.test,smtp.found.test,2587")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("dnsmasq (scripts/setup.sh test installs it)");
    let up = Instant::now() + Duration::from_secs(5);
    while std::net::UdpSocket::bind(("127.0.0.1", dns_port)).is_ok() {
        assert!(Instant::now() < up, "dnsmasq did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let config = tempfile::tempdir().unwrap();
    // Nothing answers the ISPDB (refused at once): the SRV record is what there is.
    let env = [
        ("SMTP_DESK_DNS_SERVER", std::ffi::OsString::from(format!("127.0.0.1:{dns_port}"))),
        ("SMTP_DESK_ISPDB_URL", std::ffi::OsString::from(format!("https://127.0.0.1:{}/", free_port()))),
    ];
    let driver = Driver::start_with(config.path(), &env);
    let c = driver.open_app().await;
    el(&c, "nav-settings").await.click().await.unwrap();
    // The button sits beside the server field, shown once the mode is Relay.
    el(&c, "mode-relay").await.click().await.unwrap();
    click_centered(&c, "detect-open").await;
    set_text(&c, "detect-address", "jo@found.test").await;
    el(&c, "detect-run").await.click().await.unwrap();
    text_when(&c, "detect-best", "the best candidate", |t| t.contains("smtp.found.test:2587")).await;
    let sources = el(&c, "detect-sources").await.text().await.unwrap();
    assert!(sources.contains("DNS SRV records") && sources.contains("Domain autoconfig"), "{sources}");
    el(&c, "detect-apply").await.click().await.unwrap();
    assert_eq!(value(&c, "relay-host").await, "smtp.found.test");
    assert_eq!(value(&c, "relay-port").await, "2587");
    assert_eq!(value(&c, "auth-username").await, "jo@found.test");
    el(&c, "save").await.click().await.unwrap();
    text_when(&c, "save-status", "Saved", |t| t.contains("Saved")).await;
    let file = std::fs::read_to_string(config.path().join("settings.json")).unwrap();
    assert!(file.contains("smtp.found.test") && file.contains("2587"), "{file}");
    let _ = c.close().await;
    let _ = dns.kill();
    let _ = dns.wait();
}

/// OAuth2 in the Authentication section: after a sign-in (the CLI's device flow against the test
/// OAuth2 server), the window shows who is signed in and when the token was refreshed, and Sign
/// out removes the refresh token from the keyring. No token reaches the page.
#[tokio::test(flavor = "multi_thread")]
async fn the_window_shows_the_oauth_sign_in_and_signs_out() {
    let _one = ONE_WINDOW.lock().await;
    let oauth = support::oauth_server::OAuthServer::start();
    let config = tempfile::tempdir().unwrap();
    let mut set = vec!["config".to_string(), "set".into(), "mode".into(), "relay".into(), "relay.host".into(), "127.0.0.1".into()];
    set.extend(["relay.security".into(), "none".into(), "sender.from_address".into(), "me@example.com".into()]);
    set.extend(oauth.settings());
    cli(config.path(), &set.iter().map(String::as_str).collect::<Vec<_>>());
    cli(config.path(), &["oauth", "login", "--device"]);
    let driver = Driver::start(config.path());
    let c = driver.open_app().await;
    el(&c, "nav-settings").await.click().await.unwrap();
    assert_eq!(value(&c, "auth-method").await, "oauth2");
    let shown = text_when(&c, "oauth-state", "who is signed in", |t| t.starts_with("Signed in as")).await;
    assert!(shown.contains(support::oauth_server::USER) && shown.contains("token refreshed at"), "{shown}");
    assert!(!el(&c, "password").await.is_displayed().await.unwrap(), "no password field for an OAuth2 login");
    c.execute("document.getElementById('section-auth').scrollIntoView({ block: 'start' })", vec![]).await.unwrap();
    screenshot(&c, "window-oauth-signed-in.png").await;
    let page: String = c.source().await.unwrap();
    let record = secrets::get_oauth(DEFAULT_PROFILE).unwrap().expect("signed in");
    let refresh: serde_json::Value = serde_json::from_str(record.expose()).unwrap();
    assert!(!page.contains(refresh["r"].as_str().unwrap()) && !page.contains("eyJ"), "a token reached the page");

    click_centered(&c, "oauth-sign-out").await;
    text_when(&c, "oauth-state", "signed out", |t| t == "Not signed in.").await;
    assert!(secrets::get_oauth(DEFAULT_PROFILE).unwrap().is_none(), "Sign out removes the keyring entry");
    c.close().await.unwrap();
}

/// OAuth2 sign-in when the browser can't reach the loopback (here no browser at all): the page
/// shows the provider's address while it waits; the address that page redirects to, pasted into
/// the field, finishes the sign-in. A second sign-in is cancelled: the panel goes and the page
/// says so, and nothing is left waiting (a paste afterwards is refused).
#[tokio::test(flavor = "multi_thread")]
async fn the_window_oauth_sign_in_takes_a_pasted_address_and_cancels() {
    let _one = ONE_WINDOW.lock().await;
    let oauth = support::oauth_server::OAuthServer::start();
    let config = tempfile::tempdir().unwrap();
    let mut set = vec!["config".to_string(), "set".into(), "mode".into(), "relay".into(), "relay.host".into(), "127.0.0.1".into()];
    set.extend(["relay.security".into(), "none".into(), "sender.from_address".into(), "me@example.com".into()]);
    set.extend(oauth.settings());
    cli(config.path(), &set.iter().map(String::as_str).collect::<Vec<_>>());
    let driver = Driver::start(config.path());
    let c = driver.open_app().await;
    el(&c, "nav-settings").await.click().await.unwrap();
    text_when(&c, "oauth-state", "not signed in", |t| t == "Not signed in.").await;
    assert!(!el(&c, "oauth-pending").await.is_displayed().await.unwrap(), "no panel before a sign-in");

    click_centered(&c, "oauth-sign-in").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let url = loop {
        let url = value(&c, "oauth-url").await;
        if !url.is_empty() && el(&c, "oauth-pending").await.is_displayed().await.unwrap() {
            break url;
        }
        assert!(Instant::now() < deadline, "the panel never showed the address to open");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(url.starts_with(&oauth.url("/authorize?")) && url.contains("state="), "{url}");
    c.execute("document.getElementById('oauth-pending').scrollIntoView({ block: 'center' })", vec![]).await.unwrap();
    screenshot(&c, "window-oauth-paste.png").await;

    // What the user's browser would do: open the address; the provider answers with a redirect to the loopback.
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let answer = http.get(&url).send().await.unwrap();
    assert_eq!(answer.status().as_u16(), 302, "the test server's /authorize redirects");
    let back = answer.headers()["location"].to_str().unwrap().to_string();
    assert!(back.starts_with("http://127.0.0.1:") && back.contains("code="), "{back}");
    el(&c, "oauth-paste").await.send_keys(&back).await.unwrap();
    click_centered(&c, "oauth-paste-use").await;
    let shown = text_when(&c, "oauth-state", "who is signed in", |t| t.starts_with("Signed in as")).await;
    assert!(shown.contains(support::oauth_server::USER), "{shown}");
    assert!(!el(&c, "oauth-pending").await.is_displayed().await.unwrap(), "the panel goes once signed in");
    assert!(secrets::get_oauth(DEFAULT_PROFILE).unwrap().is_some(), "the refresh token is in the keyring");

    click_centered(&c, "oauth-sign-in").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !el(&c, "oauth-pending").await.is_displayed().await.unwrap() {
        assert!(Instant::now() < deadline, "the second sign-in never showed its panel");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    click_centered(&c, "oauth-cancel").await;
    text_when(&c, "oauth-state", "cancelled", |t| t == "Sign-in cancelled.").await;
    assert!(!el(&c, "oauth-pending").await.is_displayed().await.unwrap(), "the panel goes on Cancel");
    assert!(!disabled(&c, "oauth-sign-in").await, "Sign in works again");
    let refused: serde_json::Value = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             window.__TAURI_INTERNALS__.invoke('oauth_paste', { url: 'http://127.0.0.1:1/?code=x&state=y' })
               .then(() => done('accepted'), (e) => done(e.message ?? String(e)));",
            vec![],
        )
        .await
        .unwrap();
    assert!(refused.as_str().unwrap().contains("No sign-in is waiting"), "{refused}");
    c.close().await.unwrap();
}

/// Direct mode in the window: the identity and DKIM fields and the Deliverability panel show;
/// "Check deliverability" runs against a dnsmasq (SMTP_DESK_DNS_SERVER) and ends with either one
/// line per check, each with a status word, or the reason it could not run; the DKIM card says
/// where its key stands (or why it can't). Light and dark pass axe (via `screenshot`).
#[tokio::test(flavor = "multi_thread")]
async fn direct_mode_shows_dkim_and_checks_deliverability() {
    let _one = ONE_WINDOW.lock().await;
    let (_dns, dns_port) = support::dns::dnsmasq(&[
        "--mx-host=direct.test,mx.direct.test,10".into(),
        "--host-record=mx.direct.test,127.0.0.9".into(),
        "--host-record=desk.direct.test,127.0.0.9".into(),
        "--txt-record=direct.test,\"v=spf1 -all\"".into(),
        "--txt-record=_dmarc.direct.test,\"v=DMARC1; p=none\"".into(),
        // RFC 7505 null MX ("0 ."), as raw RDATA: validation stops at its first step, no port 25 needed.
        "--dns-rr=nullmx.test,15,000000".into(),
    ]);
    let config = tempfile::tempdir().unwrap();
    let env = [("SMTP_DESK_DNS_SERVER", std::ffi::OsString::from(format!("127.0.0.1:{dns_port}")))];
    let driver = Driver::start_with(config.path(), &env);
    let c = driver.open_app().await;
    el(&c, "nav-settings").await.click().await.unwrap();
    el(&c, "mode-direct").await.click().await.unwrap();
    for id in [
        "section-signing",
        "ehlo_name",
        "dkim-enabled",
        "dkim-selector",
        "dkim-algorithm",
        "dkim-domain",
        "dkim-card",
        "section-deliverability",
    ] {
        assert!(el(&c, id).await.is_displayed().await.unwrap(), "#{id} is shown in Direct mode");
    }
    assert!(!el(&c, "section-connection").await.is_displayed().await.unwrap(), "no relay server in Direct mode");
    set_text(&c, "ehlo_name", "desk.direct.test").await;
    set_text(&c, "sender-from_address", "alerts@direct.test").await;
    click_centered(&c, "dkim-enabled").await;
    set_text(&c, "dkim-selector", "desk2026").await;
    save(&c).await;
    let saved = saved_settings(config.path());
    assert_eq!(saved["profile"]["dkim"]["selector"], "desk2026", "{saved}");
    assert_eq!(saved["profile"]["dkim"]["enabled"], true, "{saved}");
    assert_eq!(saved["profile"]["ehlo_name"], "desk.direct.test", "{saved}");
    // The card says where the key stands, or why it can't (never a private key).
    let card = text_when(&c, "dkim-state", "the key's state", |t| !t.is_empty() && !t.starts_with("Reading")).await;
    assert!(!card.contains("PRIVATE KEY"), "{card}");

    // A public IP that isn't one is refused, naming the field; a real one is used as given.
    set_text(&c, "health-ip", "not-an-ip").await;
    click_centered(&c, "health-run").await;
    let refused = text_when(&c, "health-status", "the refusal", |t| t.contains("not an IP address")).await;
    assert!(refused.contains("Public IP address"), "{refused}");
    set_text(&c, "health-ip", "127.0.0.9").await;
    click_centered(&c, "health-run").await;
    let deadline = Instant::now() + Duration::from_secs(70);
    let status = loop {
        let t = el(&c, "health-status").await.text().await.unwrap_or_default();
        if !t.is_empty() && !t.starts_with("Checking") && !t.contains("not an IP address") {
            break t;
        }
        assert!(Instant::now() < deadline, "the deliverability check never ended: {t:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let lines: Vec<(String, String, String)> = serde_json::from_value(
        c.execute(
            "return [...document.querySelectorAll('#health-lines li')].map(li => [li.dataset.check, li.dataset.status, li.querySelector('.health-badge').textContent]);",
            vec![],
        )
        .await
        .unwrap(),
    )
    .unwrap();
    // One line per check (three blocklists), each with its status in words, not colour alone.
    assert!(status.contains("direct.test") && status.contains("public IP 127.0.0.9"), "{status}");
    let checks: Vec<&str> = lines.iter().map(|(check, _, _)| check.as_str()).collect();
    for check in ["ehlo_name", "public_ip", "reverse_dns", "spf", "dkim", "dmarc", "mx", "mta_sts", "tls_rpt", "port25", "blocklist"] {
        assert!(checks.contains(&check), "no {check} line: {checks:?}");
    }
    for (check, state, badge) in &lines {
        assert!(["ok", "warning", "failed", "unknown"].contains(&state.as_str()), "{check}: {state}");
        assert!(["OK", "Warning", "Failed", "Unknown"].iter().any(|w| badge.contains(w)), "{check}: the status is said in words: {badge}");
    }
    c.execute("document.getElementById('health-status').scrollIntoView({ block: 'start' })", vec![]).await.unwrap();
    screenshot(&c, "direct-deliverability.png").await;
    c.execute("document.getElementById('section-signing').scrollIntoView({ block: 'start' })", vec![]).await.unwrap();
    screenshot(&c, "direct-signing.png").await;
    select(&c, "theme", "dark").await;
    c.execute("document.getElementById('health-status').scrollIntoView({ block: 'start' })", vec![]).await.unwrap();
    screenshot(&c, "direct-deliverability-dark.png").await;

    // Validate in Direct mode (Diagnose): the MX step, and the deliverability lines beside the steps.
    el(&c, "nav-diagnose").await.click().await.unwrap();
    set_text(&c, "test-recipient", "someone@nullmx.test").await;
    el(&c, "validate").await.click().await.unwrap();
    wait_for(&c, "#steps li[data-step='mx'].failed").await;
    let mx = el(&c, "steps").await.text().await.unwrap();
    assert!(mx.contains("Find the recipient's mail servers") && mx.contains("null MX"), "{mx}");
    let deadline = Instant::now() + Duration::from_secs(70);
    loop {
        let t = text_when(&c, "diagnose-health-status", "the check", |_| true).await;
        if !t.is_empty() && !t.starts_with("Checking") {
            break;
        }
        assert!(Instant::now() < deadline, "the deliverability check beside the validation never ended: {t:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    c.execute("document.getElementById('diagnose-health').scrollIntoView({ block: 'start' })", vec![]).await.unwrap();
    screenshot(&c, "direct-diagnose-dark.png").await;
    c.close().await.unwrap();
}
