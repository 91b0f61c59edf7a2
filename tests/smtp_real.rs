//! Validation and the test email against a real SMTP server (aiosmtpd), started per test:
//! plain text, STARTTLS with a test CA, implicit TLS, AUTH PLAIN/LOGIN, refusals, and a test
//! email whose received headers, body and envelope are checked.

mod support;

use smtp_desk::settings::{Mechanism, Security};
use smtp_desk::smtp::{self, CancelToken, StepKind, StepStatus};
use support::*;

fn step(o: &smtp::Outcome, kind: StepKind) -> &smtp::Step {
    o.steps.iter().find(|s| s.step == kind).unwrap_or_else(|| panic!("no {kind:?} step"))
}

fn detail<'a>(s: &'a smtp::Step, key: &str) -> &'a str {
    s.details.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).unwrap_or_else(|| panic!("no detail {key} in {:?}", s.details))
}

#[tokio::test]
async fn plaintext_without_login_passes_with_warnings() {
    let server = Server::start(&[]);
    let (o, streamed, _) = validate(&profile(server.port, Security::None), None, Some("rcpt@example.org")).await;
    assert!(o.ok, "{o:#?}");
    assert_eq!(streamed.len(), 7, "each step is streamed as it finishes");
    let kinds: Vec<_> = o.steps.iter().map(|s| s.step).collect();
    assert_eq!(
        kinds,
        [StepKind::Resolve, StepKind::Connect, StepKind::Banner, StepKind::Ehlo, StepKind::Tls, StepKind::Auth, StepKind::Envelope]
    );
    assert!(step(&o, StepKind::Banner).summary.starts_with("220 test.smtp.local"));
    assert_eq!(detail(step(&o, StepKind::Ehlo), "SIZE"), "33554432 bytes (32 MiB)");
    assert!(o.warnings.iter().any(|w| w.starts_with("Plain text connection")), "{:?}", o.warnings);
    assert!(o.warnings.iter().any(|w| w.starts_with("Anonymous relay accepted")), "{:?}", o.warnings);
    let text = smtp::render_transcript(&o.transcript);
    assert!(
        text.contains(" -> EHLO client.test") && text.contains(" -> RCPT TO:<rcpt@example.org>") && text.contains(" -> RSET"),
        "{text}"
    );
    assert!(server.received().is_empty(), "validation sends no message");
    let json = serde_json::to_value(&o).unwrap();
    assert_eq!(json["steps"][0]["step"], "resolve");
    assert_eq!(json["steps"][4]["status"], "warning");
    assert_eq!(json["transcript"][0]["dir"], "info");
}

#[tokio::test]
async fn localhost_resolves_through_the_hosts_file() {
    let server = Server::start(&[]);
    let mut p = profile(server.port, Security::None);
    p.relay.host = "localhost".into();
    let (o, _, _) = validate(&p, None, None).await;
    assert!(o.ok, "{o:#?}");
    assert!(detail(step(&o, StepKind::Resolve), "addresses").contains("127.0.0.1"));
}

#[tokio::test]
async fn starttls_with_trusted_custom_ca_and_auth_plain() {
    let pki = Pki::new();
    let server = Server::start_tls("starttls", &pki.server_cert(CertKind::Good), &["--require-starttls", "--user", &login()]);
    let mut p = with_login(profile(server.port, Security::StartTls));
    p.relay.ca_file = Some(pki.ca_pem.clone());
    p.auth.mechanism = Mechanism::Plain;
    let pw = password(PASSWORD);
    let (o, _, _) = validate(&p, Some(&pw), None).await;
    assert!(o.ok, "{o:#?}");
    let tls = step(&o, StepKind::Tls);
    assert_eq!(tls.status, StepStatus::Ok);
    assert!(detail(tls, "protocol").starts_with("TLS 1."));
    assert_eq!(detail(tls, "valid for names"), "localhost, 127.0.0.1");
    assert!(detail(tls, "issuer").contains("SMTP Desk Test CA"));
    assert_eq!(detail(tls, "SHA-256 fingerprint").len(), 32 * 3 - 1);
    assert!(detail(tls, "verification").starts_with("trusted"));
    assert!(detail(tls, "capabilities after TLS").contains("AUTH"));
    assert_eq!(detail(step(&o, StepKind::Auth), "mechanism"), "PLAIN");
    let text = smtp::render_transcript(&o.transcript);
    assert!(text.contains(" -> STARTTLS") && text.contains(" ~> AUTH PLAIN ********") && text.contains("<~  235"), "{text}");
    assert_no_secret(&serde_json::to_string(&o).unwrap(), USER, PASSWORD);
}

#[tokio::test]
async fn starttls_with_untrusted_ca_is_a_certificate_error() {
    let pki = Pki::new();
    let server = Server::start_tls("starttls", &pki.server_cert(CertKind::Good), &[]);
    let (o, _, _) = validate(&profile(server.port, Security::StartTls), None, None).await;
    assert_eq!(category(&o), "certificate_untrusted", "{o:#?}");
    let f = o.failure.as_ref().unwrap();
    assert!(f.message.contains("SMTP Desk Test CA") && f.hint.contains("Custom CA file"), "{f:?}");
    let tls = step(&o, StepKind::Tls);
    assert_eq!(tls.status, StepStatus::Failed);
    assert_eq!(detail(tls, "valid for names"), "localhost, 127.0.0.1", "the certificate is shown even when it fails");
    assert_eq!(o.failed_step(), Some(StepKind::Tls));
    assert!(o.steps[5..].iter().all(|s| s.status == StepStatus::Skipped));
    assert!(!smtp::render_transcript(&o.transcript).contains("~> EHLO"), "nothing is sent over an untrusted connection");
}

#[tokio::test]
async fn certificate_checking_off_passes_with_a_warning() {
    let pki = Pki::new();
    let server = Server::start_tls("starttls", &pki.server_cert(CertKind::SelfSigned), &[]);
    let mut p = profile(server.port, Security::StartTls);
    p.relay.verify_certificates = false;
    let (o, _, _) = validate(&p, None, None).await;
    assert!(o.ok, "{o:#?}");
    assert_eq!(step(&o, StepKind::Tls).status, StepStatus::Warning);
    assert!(o.warnings.iter().any(|w| w.starts_with("Certificate checking is off")));
    assert!(detail(step(&o, StepKind::Tls), "verification").starts_with("not checked (would fail"));
}

#[tokio::test]
async fn self_signed_expired_and_wrong_host_certificates() {
    let pki = Pki::new();
    for (kind, expected) in [
        (CertKind::SelfSigned, "certificate_self_signed"),
        (CertKind::Expired, "certificate_expired"),
        (CertKind::OtherHost, "certificate_wrong_host"),
    ] {
        let server = Server::start_tls("starttls", &pki.server_cert(kind), &[]);
        let mut p = profile(server.port, Security::StartTls);
        p.relay.ca_file = Some(pki.ca_pem.clone());
        let (o, _, _) = validate(&p, None, None).await;
        assert_eq!(category(&o), expected, "{o:#?}");
        if expected == "certificate_wrong_host" {
            let f = o.failure.as_ref().unwrap();
            assert!(f.message.contains("other.example, mail.other.example"), "the names it is valid for: {f:?}");
        }
    }
}

#[tokio::test]
async fn implicit_tls_with_auth_login() {
    let pki = Pki::new();
    let server = Server::start_tls("implicit", &pki.server_cert(CertKind::Good), &["--user", &login()]);
    let mut p = with_login(profile(server.port, Security::ImplicitTls));
    p.relay.ca_file = Some(pki.ca_pem.clone());
    p.auth.mechanism = Mechanism::Login;
    let pw = password(PASSWORD);
    let (o, _, _) = validate(&p, Some(&pw), None).await;
    assert!(o.ok, "{o:#?}");
    let kinds: Vec<_> = o.steps.iter().map(|s| s.step).collect();
    assert_eq!(kinds[2..5], [StepKind::Tls, StepKind::Banner, StepKind::Ehlo], "TLS comes first with implicit TLS");
    assert_eq!(detail(step(&o, StepKind::Auth), "mechanism"), "LOGIN");
    let text = smtp::render_transcript(&o.transcript);
    assert!(text.contains("<~  220") && text.contains(" ~> AUTH LOGIN") && text.contains("******** (password, base64)"), "{text}");
    assert_no_secret(&serde_json::to_string(&o).unwrap(), USER, PASSWORD);
}

#[tokio::test]
async fn wrong_password_is_rejected_and_redacted() {
    let user = login();
    let server = Server::start(&["--user", &user, "--auth-plaintext"]);
    let wrong = "wrong-password-123";
    for mechanism in [Mechanism::Plain, Mechanism::Login] {
        let mut p = with_login(profile(server.port, Security::None));
        p.auth.mechanism = mechanism;
        let pw = password(wrong);
        let (o, _, _) = validate(&p, Some(&pw), None).await;
        assert_eq!(category(&o), "auth_rejected", "{o:#?}");
        assert!(o.failure.as_ref().unwrap().message.contains("535"), "{:?}", o.failure);
        assert_eq!(o.failed_step(), Some(StepKind::Auth));
        assert_no_secret(&serde_json::to_string(&o).unwrap(), USER, wrong);
        assert!(smtp::render_transcript(&o.transcript).contains(" -> QUIT"), "a refusal ends the session politely");
    }
}

#[tokio::test]
async fn login_required_but_none_configured() {
    let user = login();
    let server = Server::start(&["--user", &user, "--auth-plaintext", "--auth-required"]);
    let (o, _, _) = validate(&profile(server.port, Security::None), None, None).await;
    assert_eq!(category(&o), "auth_required", "{o:#?}");
    assert_eq!(o.failed_step(), Some(StepKind::Envelope));
    assert!(o.failure.as_ref().unwrap().hint.contains("Password"));
}

#[tokio::test]
async fn auth_only_after_starttls_and_missing_password() {
    let pki = Pki::new();
    let server = Server::start_tls("starttls", &pki.server_cert(CertKind::Good), &["--user", &login()]);
    let p = with_login(profile(server.port, Security::None));
    let pw = password(PASSWORD);
    let (o, _, _) = validate(&p, Some(&pw), None).await;
    assert_eq!(category(&o), "auth_only_after_starttls", "{o:#?}");
    let (o, _, _) = validate(&p, None, None).await;
    assert_eq!(category(&o), "password_missing", "{o:#?}");
}

#[tokio::test]
async fn starttls_required_but_not_offered() {
    let server = Server::start(&[]);
    let (o, _, _) = validate(&profile(server.port, Security::StartTls), None, None).await;
    assert_eq!(category(&o), "starttls_not_offered", "{o:#?}");
    assert_eq!(o.failed_step(), Some(StepKind::Tls));
}

#[tokio::test]
async fn refused_recipient_shows_the_server_text() {
    let server = Server::start(&["--refuse-rcpt", "nobody@example.org"]);
    let (o, _, _) = validate(&profile(server.port, Security::None), None, Some("nobody@example.org")).await;
    assert_eq!(category(&o), "recipient_refused", "{o:#?}");
    let f = o.failure.as_ref().unwrap();
    assert!(f.message.contains("550 5.1.1") && f.message.contains("User unknown"), "{f:?}");
    assert_eq!(o.failed_step(), Some(StepKind::Envelope));
}

#[tokio::test]
async fn test_email_is_received_with_headers_body_and_envelope() {
    let pki = Pki::new();
    let server = Server::start_tls("starttls", &pki.server_cert(CertKind::Good), &["--require-starttls", "--user", &login()]);
    let mut p = with_login(profile(server.port, Security::StartTls));
    p.relay.ca_file = Some(pki.ca_pem.clone());
    let pw = password(PASSWORD);
    let r = smtp::send_test(&smtp::Job::from_values(p.clone(), Some(pw.clone())), "friend@example.org", &CancelToken::new(), &mut |_| {})
        .await
        .unwrap();
    assert!(r.ok, "{r:#?}");
    assert_eq!(r.reply.as_deref().unwrap(), "250 2.0.0 Ok: queued as TESTQ42");
    assert_eq!(r.queue_id.as_deref(), Some("TESTQ42"));
    assert_eq!(r.failed_step(), None);
    assert_eq!(r.steps.last().unwrap().step, StepKind::Data);
    assert_no_secret(&serde_json::to_string(&r).unwrap(), USER, PASSWORD);

    let received = server.received();
    assert_eq!(received.len(), 1);
    let m = &received[0];
    assert_eq!(m["mail_from"], "sender@example.com");
    assert_eq!(m["rcpt_tos"], serde_json::json!(["friend@example.org"]));
    let content = m["content"].as_str().unwrap();
    let (headers, body) = content.split_once("\r\n\r\n").expect("headers, blank line, body");
    assert!(
        headers.contains("From: \"SMTP Desk Test\" <sender@example.com>") || headers.contains("From: SMTP Desk Test <sender@example.com>"),
        "{headers}"
    );
    assert!(headers.contains("To: friend@example.org"), "{headers}");
    assert!(headers.contains("Subject: SMTP Desk test email"), "{headers}");
    assert!(headers.contains(&format!("Message-ID: {}", r.message_id.as_deref().unwrap())), "{headers}");
    assert!(headers.contains("Date: "), "{headers}");
    assert!(
        body.contains("Sending host: ")
            && body.contains("Profile:      default")
            && body.contains(&format!("127.0.0.1:{} (STARTTLS)", server.port)),
        "{body}"
    );
}

#[tokio::test]
async fn test_email_refusal_has_the_validation_category() {
    let server = Server::start(&["--refuse-rcpt", "nobody@example.org"]);
    let r = smtp::send_test(
        &smtp::Job::from_values(profile(server.port, Security::None), None),
        "nobody@example.org",
        &CancelToken::new(),
        &mut |_| {},
    )
    .await
    .unwrap();
    assert!(!r.ok);
    assert_eq!(r.failure.as_ref().unwrap().category.to_string(), "recipient_refused");
    assert!(r.reply.as_deref().unwrap().starts_with("550"), "{:?}", r.reply);
    assert!(server.received().is_empty());
    let bad = smtp::send_test(
        &smtp::Job::from_values(profile(server.port, Security::None), None),
        "not an address",
        &CancelToken::new(),
        &mut |_| {},
    )
    .await;
    assert_eq!(bad.unwrap_err().kind, "invalid_recipient");
}

#[tokio::test]
async fn password_still_being_read_from_the_keyring() {
    let user = login();
    let server = Server::start(&["--user", &user, "--auth-plaintext"]);
    let p = with_login(profile(server.port, Security::None));

    // Arrives while DNS, connect and EHLO run: the login waits for it.
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let _ = tx.send(Ok(Some(password(PASSWORD))));
    });
    let o = smtp::validate(&smtp::Job::with_password_read(p.clone(), rx), None, &CancelToken::new(), &mut |_| {}).await;
    assert!(o.ok, "{o:#?}");
    assert_no_secret(&serde_json::to_string(&o).unwrap(), USER, PASSWORD);

    // A keyring that can't be read is the login step's failure, with the keyring's hint.
    let (tx, rx) = tokio::sync::oneshot::channel();
    let _ = tx.send(Err(smtp_desk::secrets::Error::Locked("collection is locked".into())));
    let o = smtp::validate(&smtp::Job::with_password_read(p.clone(), rx), None, &CancelToken::new(), &mut |_| {}).await;
    assert_eq!(category(&o), "keyring_failed", "{o:#?}");
    assert_eq!(o.failed_step(), Some(StepKind::Auth));
}

// ---- the OS trust store (issue 6, item 7) ---------------------------------------------------

/// A CA in the system trust store for as long as it lives; removed (and the store rebuilt)
/// when dropped, also when the test fails.
struct SystemCa {
    file: std::path::PathBuf,
}

impl SystemCa {
    /// Installs `pem` with Debian's update-ca-certificates; `None` (with a loud message) when
    /// this process can't change the system store.
    fn install(pem: &std::path::Path) -> Option<Self> {
        let uid = std::process::Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
        let dir = std::path::Path::new("/usr/local/share/ca-certificates");
        if uid.as_deref().ok() != Some("0") || !dir.is_dir() {
            eprintln!(
                "\n!!!!!!!! SKIPPED system_trust_store_is_used_without_a_ca_file: installing a CA into the system trust store \
                 needs root and {} (uid {:?}). Run the tests as root (CI does) to check item 7. !!!!!!!!\n",
                dir.display(),
                uid
            );
            return None;
        }
        let file = dir.join(format!("smtp-desk-test-{}.crt", std::process::id()));
        let ca = SystemCa { file };
        std::fs::copy(pem, &ca.file).unwrap();
        ca.update();
        Some(ca)
    }

    fn update(&self) {
        let out = std::process::Command::new("update-ca-certificates").output().expect("run update-ca-certificates");
        assert!(out.status.success(), "update-ca-certificates: {}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for SystemCa {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
        let _ = std::process::Command::new("update-ca-certificates").output();
    }
}

#[tokio::test]
async fn system_trust_store_is_used_without_a_ca_file() {
    let pki = Pki::new();
    let server = Server::start_tls("starttls", &pki.server_cert(CertKind::Good), &[]);
    let p = profile(server.port, Security::StartTls);
    assert!(p.relay.ca_file.is_none());
    let (o, _, _) = validate(&p, None, None).await;
    assert_eq!(category(&o), "certificate_untrusted", "not trusted before it is installed: {o:#?}");

    let Some(_installed) = SystemCa::install(&pki.ca_pem) else { return };
    let (o, _, _) = validate(&p, None, None).await;
    assert!(o.ok, "a CA in the system store is trusted without the CA-file setting: {o:#?}");
    assert!(detail(step(&o, StepKind::Tls), "verification").starts_with("trusted"));
}

// ---- non-ASCII addresses (issue 6, item 8) ---------------------------------------------------

/// A server recording EHLO, MAIL and RCPT as they arrive; returns it and its event file.
fn recording_server(extra: &[&str]) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let mut args = vec!["--events", events.to_str().unwrap()];
    args.extend_from_slice(extra);
    (Server::start(&args), dir)
}

/// The (event, arg, options) the server recorded (not its connect and disconnect events).
fn events(dir: &tempfile::TempDir) -> Vec<(String, String, Vec<String>)> {
    std::fs::read_to_string(dir.path().join("events.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v.get("options").is_some())
        .map(|v| {
            let options = v["options"].as_array().unwrap().iter().map(|o| o.as_str().unwrap().to_string()).collect();
            (v["event"].as_str().unwrap().to_string(), v["arg"].as_str().unwrap().to_string(), options)
        })
        .collect()
}

#[tokio::test]
async fn international_domains_go_out_as_punycode_without_smtputf8() {
    let (server, dir) = recording_server(&[]);
    let mut p = profile(server.port, Security::None);
    p.sender.from_address = "sender@bücher.example".into();
    p.ehlo_name = "straße.example".into();
    let (o, _, _) = validate(&p, None, Some("info@例え.テスト")).await;
    assert!(o.ok, "{o:#?}");
    let ev = events(&dir);
    assert_eq!(ev[0], ("ehlo".into(), "xn--strae-oqa.example".into(), vec![]), "{ev:?}");
    assert_eq!(ev[1], ("mail".into(), "sender@xn--bcher-kva.example".into(), vec![]), "{ev:?}");
    assert_eq!(ev[2], ("rcpt".into(), "info@xn--r8jz45g.xn--zckzah".into(), vec![]), "{ev:?}");
    let envelope = step(&o, StepKind::Envelope);
    assert_eq!(detail(envelope, "sender as sent (ASCII form)"), "sender@xn--bcher-kva.example");
    assert_eq!(detail(step(&o, StepKind::Ehlo), "EHLO name"), "xn--strae-oqa.example");

    let r =
        smtp::send_test(&smtp::Job::from_values(p.clone(), None), "info@bücher.example", &CancelToken::new(), &mut |_| {}).await.unwrap();
    assert!(r.ok, "{r:#?}");
    let m = &server.received()[0];
    assert_eq!(m["mail_from"], "sender@xn--bcher-kva.example");
    assert_eq!(m["rcpt_tos"], serde_json::json!(["info@xn--bcher-kva.example"]));
}

#[tokio::test]
async fn non_ascii_local_part_fails_before_anything_is_sent_without_smtputf8() {
    let (server, dir) = recording_server(&[]);
    for (from, to, role) in [("jörg@example.com", "rcpt@example.org", "sender"), ("sender@example.com", "josé@example.org", "recipient")]
    {
        let mut p = profile(server.port, Security::None);
        p.sender.from_address = from.into();
        let (o, _, _) = validate(&p, None, Some(to)).await;
        assert_eq!(category(&o), "non_ascii_address", "{o:#?}");
        assert_eq!(o.failed_step(), Some(StepKind::Envelope));
        let f = o.failure.as_ref().unwrap();
        assert!(f.message.contains(&format!("The {role} can't be given")) && f.message.contains("SMTPUTF8"), "{f:?}");
        assert!(f.hint.contains("ASCII") && f.hint.contains("SMTPUTF8"), "{f:?}");
        assert!(!smtp::render_transcript(&o.transcript).contains("MAIL FROM"), "nothing of the envelope is sent");
    }
    let ev = events(&dir);
    assert!(ev.iter().all(|(e, _, _)| e == "ehlo"), "no MAIL FROM or RCPT TO reached the server: {ev:?}");

    let mut p = profile(server.port, Security::None);
    p.sender.from_address = "jörg@example.com".into();
    let r =
        smtp::send_test(&smtp::Job::from_values(p.clone(), None), "friend@example.org", &CancelToken::new(), &mut |_| {}).await.unwrap();
    assert_eq!(r.failure.as_ref().map(|f| f.category.to_string()).as_deref(), Some("non_ascii_address"), "{r:#?}");
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn smtputf8_server_gets_utf8_addresses_with_the_parameter() {
    let (server, dir) = recording_server(&["--smtputf8"]);
    let mut p = profile(server.port, Security::None);
    p.sender.from_address = "jörg@bücher.example".into();
    let r = smtp::send_test(&smtp::Job::from_values(p.clone(), None), "josé@example.org", &CancelToken::new(), &mut |_| {}).await.unwrap();
    assert!(r.ok, "{r:#?}");
    let ev = events(&dir);
    assert_eq!(ev[1], ("mail".into(), "jörg@bücher.example".into(), vec!["SMTPUTF8".into()]), "{ev:?}");
    assert_eq!(ev[2].1, "josé@example.org", "{ev:?}");
    assert_eq!(server.received()[0]["rcpt_tos"], serde_json::json!(["josé@example.org"]));
}

// ---- trying values without saving them (issue 7, item 4: the CLI) ---------------------------

/// Runs the CLI with its settings in `dir`, `stdin` piped in.
fn desk(dir: &std::path::Path, args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_smtp-desk"))
        .args(args)
        .env("SMTP_DESK_CONFIG_DIR", dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A refused command may exit before it reads standard input.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child.wait_with_output().unwrap()
}

/// Saved settings for the test server's login, on a port where nothing listens.
fn saved_with_wrong_port(dir: &std::path::Path) -> (Vec<u8>, u16) {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let closed_text = closed.to_string();
    #[rustfmt::skip]
    let set = desk(dir, &["config", "set", "mode", "relay", "relay.host", "127.0.0.1", "relay.port", &closed_text,
        "relay.security", "none", "auth.method", "password", "auth.username", USER, "sender.from_address", "sender@example.com",
        "ehlo_name", "client.test", "limits.timeout_secs", "5"], "");
    assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));
    let file = dir.join("settings.json");
    (std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display())), closed)
}

#[test]
fn validate_with_set_tries_a_port_without_saving_it() {
    let server = Server::start(&["--user", &login(), "--auth-plaintext"]);
    let config = tempfile::tempdir().unwrap();
    let (before, _) = saved_with_wrong_port(config.path());
    let file = config.path().join("settings.json");
    let port = server.port.to_string();

    // The saved port is wrong: nothing listens there.
    let saved = desk(config.path(), &["validate", "--password-stdin", "--json"], PASSWORD);
    assert_eq!(saved.status.code(), Some(i32::from(StepKind::Connect.exit_code())), "{}", String::from_utf8_lossy(&saved.stdout));

    // The tried port, with the password from standard input: every step passes, login included.
    let tried = desk(config.path(), &["validate", "--set", "relay.port", &port, "--password-stdin", "--json"], &format!("{PASSWORD}\n"));
    let json: serde_json::Value = serde_json::from_slice(&tried.stdout).unwrap();
    assert_eq!(tried.status.code(), Some(0), "{json:#}\n{}", String::from_utf8_lossy(&tried.stderr));
    let auth = json["steps"].as_array().unwrap().iter().find(|s| s["step"] == "auth").unwrap();
    assert_eq!(auth["status"], "ok", "the piped password logged in: {auth:#}");
    assert_no_secret(&String::from_utf8_lossy(&tried.stdout), USER, PASSWORD);
    assert_eq!(std::fs::read(&file).unwrap(), before, "the settings file is unchanged, byte for byte");

    // Several pairs, and a send-test: the message arrives; the file is still unchanged.
    #[rustfmt::skip]
    let sent = desk(config.path(), &["send-test", "--to", "friend@example.org", "--set", "relay.port", &port,
        "sender.from_name", "Tried Name", "--password-stdin"], PASSWORD);
    assert!(sent.status.success(), "{}{}", String::from_utf8_lossy(&sent.stdout), String::from_utf8_lossy(&sent.stderr));
    let received = server.received();
    assert_eq!(received.len(), 1, "{received:?}");
    assert!(received[0].to_string().contains("Tried Name"), "{}", received[0]);
    assert_eq!(std::fs::read(&file).unwrap(), before, "send-test --set saves nothing either");
}

#[test]
fn set_values_are_checked_like_config_set_and_nothing_is_saved() {
    let config = tempfile::tempdir().unwrap();
    let (before, _) = saved_with_wrong_port(config.path());
    let file = config.path().join("settings.json");
    for (args, names) in [
        (&["validate", "--set", "relay.port", "99999"][..], "relay.port"),
        (&["validate", "--set", "no.such.key", "1"][..], "no.such.key"),
        (&["validate", "--set", "relay.port", "25", "auth.method"][..], "auth.method"),
        (&["send-test", "--to", "a@example.org", "--set", "relay.host", ""][..], "relay.host"),
    ] {
        let out = desk(config.path(), args, PASSWORD);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(names), "{args:?}: the error names {names}: {err}");
        assert_eq!(std::fs::read(&file).unwrap(), before, "{args:?}: the settings file is unchanged");
    }
}

/// The exit-code table in `--help` is made from the steps: each step's code, name and causes.
#[test]
fn help_lists_every_step_exit_code() {
    for command in ["validate", "send-test"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_smtp-desk")).args([command, "--help"]).output().unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        for step in StepKind::ALL {
            let row = format!("  {:<3} {}: {}", step.exit_code(), step.name(), step.fails_when());
            assert!(help.contains(&row), "{command} --help lacks '{row}':\n{help}");
        }
        assert!(help.contains("--set <KEY> <VALUE>") && help.contains("--password-stdin"), "{help}");
    }
}
