//! Shared by the SMTP tests: a test CA and server certificates (rcgen), the aiosmtpd server of
//! tests/servers/smtp_server.py started on a free loopback port, and profiles pointing at it.
#![allow(dead_code)]

pub mod desk;
pub mod dns;
pub mod netns;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use smtp_desk::secrets::Password;
use smtp_desk::settings::{AuthMethod, Limits, Mode, Profile, Relay, Security, Sender};
use smtp_desk::smtp::{self, CancelToken, Outcome};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const USER: &str = "alice@example.com";
pub const PASSWORD: &str = "correct horse battery";

/// A test CA, and files with server certificates it signed.
pub struct Pki {
    pub dir: tempfile::TempDir,
    ca: Issuer<'static, KeyPair>,
    pub ca_pem: PathBuf,
}

/// What a server certificate should be like.
pub enum CertKind {
    /// For localhost and 127.0.0.1, valid now, signed by the test CA.
    Good,
    /// Signed by the test CA, but for other.example only.
    OtherHost,
    /// Signed by the test CA, expired last year.
    Expired,
    /// Signed by itself.
    SelfSigned,
}

impl Pki {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, "SMTP Desk Test CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let cert = params.self_signed(&key).unwrap();
        let ca_pem = dir.path().join("ca.pem");
        std::fs::write(&ca_pem, cert.pem()).unwrap();
        Self { ca: Issuer::new(params, key), dir, ca_pem }
    }

    /// Writes a server certificate and key; returns (cert path, key path).
    pub fn server_cert(&self, kind: CertKind) -> (PathBuf, PathBuf) {
        let names = match kind {
            CertKind::OtherHost => vec!["other.example".to_string(), "mail.other.example".to_string()],
            _ => vec!["localhost".to_string(), "127.0.0.1".to_string()],
        };
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name.push(DnType::CommonName, "test.smtp.local");
        if let CertKind::Expired = kind {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let cert = match kind {
            CertKind::SelfSigned => params.self_signed(&key).unwrap(),
            _ => params.signed_by(&key, &self.ca).unwrap(),
        };
        let tag = match kind {
            CertKind::Good => "good",
            CertKind::OtherHost => "other",
            CertKind::Expired => "expired",
            CertKind::SelfSigned => "self",
        };
        let (c, k) = (self.dir.path().join(format!("{tag}.crt")), self.dir.path().join(format!("{tag}.key")));
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        (c, k)
    }
}

/// A running aiosmtpd server; killed when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
    /// Where received messages are saved, one JSON object a line.
    pub saved: PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    pub fn start(args: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let saved = dir.path().join("received.jsonl");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers/smtp_server.py");
        // Debian's python3 has aiosmtpd; a pyenv `python3` earlier on PATH may not.
        let mut child = Command::new("/usr/bin/python3")
            .arg(script)
            .args(args)
            .arg("--save")
            .arg(&saved)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start /usr/bin/python3 (is python3-aiosmtpd installed?)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().strip_prefix("READY ").unwrap_or_else(|| panic!("server did not start: {line:?}")).parse().unwrap();
        Self { child, port, saved, _dir: dir }
    }

    /// A server speaking TLS (`starttls` or `implicit`) with `cert` = (certificate, key) files.
    pub fn start_tls(mode: &str, (cert, key): &(PathBuf, PathBuf), extra: &[&str]) -> Self {
        let mut args = vec!["--tls", mode, "--cert", cert.to_str().unwrap(), "--key", key.to_str().unwrap()];
        args.extend_from_slice(extra);
        Self::start(&args)
    }

    /// The messages the server received.
    pub fn received(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.saved).unwrap_or_default().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `--user` value for the test account.
pub fn login() -> String {
    format!("{USER}:{PASSWORD}")
}

/// A relay profile for 127.0.0.1:`port`.
pub fn profile(port: u16, security: Security) -> Profile {
    Profile {
        mode: Mode::Relay,
        relay: Relay { host: "127.0.0.1".into(), port, security, verify_certificates: true, ca_file: None },
        ehlo_name: "client.test".into(),
        sender: Sender { from_name: "SMTP Desk Test".into(), from_address: "sender@example.com".into(), reply_to: None },
        limits: Limits { timeout_secs: 5, ..Limits::default() },
        ..Profile::default()
    }
}

pub fn with_login(mut p: Profile) -> Profile {
    p.auth.method = AuthMethod::Password;
    p.auth.username = USER.into();
    p
}

pub fn password(text: &str) -> Password {
    Password::new(text).unwrap()
}

/// Runs a validation; returns the outcome, the steps streamed, and how long it took.
pub async fn validate(profile: &Profile, password: Option<&Password>, recipient: Option<&str>) -> (Outcome, Vec<smtp::Step>, Duration) {
    let started = Instant::now();
    let mut streamed = Vec::new();
    let mut on_step = |s: &smtp::Step| streamed.push(s.clone());
    let outcome =
        smtp::validate(&smtp::Job::from_values(profile.clone(), password.cloned()), recipient, &CancelToken::new(), &mut on_step).await;
    (outcome, streamed, started.elapsed())
}

/// Asserts that no form of `password` is anywhere in `json` (a serialised result).
pub fn assert_no_secret(json: &str, user: &str, password: &str) {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    for secret in [password.to_string(), b64(password), b64(&format!("\0{user}\0{password}"))] {
        assert!(!json.contains(&secret), "the result contains a secret ({secret}): {json}");
    }
}

/// The category of a failed outcome, as its JSON name.
pub fn category(o: &Outcome) -> String {
    o.failure.as_ref().map(|f| f.category.to_string()).unwrap_or_else(|| "none".into())
}

impl Pki {
    /// Like [`CertKind::Good`], but its validity ends at the start of `end` (UTC); returns (cert
    /// path, key path).
    pub fn server_cert_ending(&self, end: jiff::civil::Date) -> (PathBuf, PathBuf) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, "test.smtp.local");
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(end.year().into(), end.month() as u8, end.day() as u8);
        let cert = params.signed_by(&key, &self.ca).unwrap();
        let (c, k) = (self.dir.path().join(format!("ending-{end}.crt")), self.dir.path().join(format!("ending-{end}.key")));
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        (c, k)
    }
}

/// Polls `f` every 50 ms until it holds or `limit` passes; one last look at the end.
pub fn wait_until(limit: std::time::Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = std::time::Instant::now() + limit;
    while std::time::Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    f()
}

/// A loopback port with nothing listening (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Runs the `smtp-desk` command with its settings in `config`, its data in `config/data` and the
/// admin policy file `policy` (absent unless the test writes it), feeding `stdin` if given.
pub fn cli_in(config: &std::path::Path, policy: &std::path::Path, args: &[&str], stdin: Option<&str>) -> std::process::Output {
    use std::process::Stdio;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_smtp-desk"))
        .args(args)
        .env("SMTP_DESK_CONFIG_DIR", config)
        .env("SMTP_DESK_DATA_DIR", config.join("data"))
        .env("SMTP_DESK_POLICY", policy)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

/// What a command printed, standard output then standard error.
pub fn said(out: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// A real Postfix with SASL logins (PLAIN, LOGIN, NTLM), for the AUTH NTLM tests.
pub mod postfix;

impl Pki {
    /// A server certificate for `names` (host names or IP addresses), valid now, signed by the
    /// test CA; returns (cert path, key path).
    pub fn server_cert_for(&self, names: &[&str]) -> (PathBuf, PathBuf) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
        params.distinguished_name.push(DnType::CommonName, names[0]);
        let cert = params.signed_by(&key, &self.ca).unwrap();
        let tag = names[0].replace(['*', '/'], "_");
        let (c, k) = (self.dir.path().join(format!("{tag}.crt")), self.dir.path().join(format!("{tag}.key")));
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        (c, k)
    }
}

/// The test OAuth2 server, for the OAuth2 sign-in tests.
pub mod oauth_server;

/// A raw SMTP client for the listener tests: writes what it is told, reads whole replies.
pub struct SmtpClient {
    pub reader: std::io::BufReader<std::net::TcpStream>,
    pub writer: std::net::TcpStream,
}

impl SmtpClient {
    /// Connects to 127.0.0.1:`port`, waiting at most `timeout` for each read, and reads the 220 greeting.
    pub fn connect(port: u16, timeout: std::time::Duration) -> SmtpClient {
        let s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(timeout)).unwrap();
        let mut c = SmtpClient { reader: std::io::BufReader::new(s.try_clone().unwrap()), writer: s };
        let greeting = c.reply();
        assert!(greeting.starts_with("220 "), "{greeting}");
        c
    }

    pub fn send(&mut self, text: &str) {
        use std::io::Write;
        self.writer.write_all(text.as_bytes()).unwrap();
    }

    /// One reply, all its lines; "" when the server closed.
    pub fn reply(&mut self) -> String {
        use std::io::BufRead;
        let mut all = String::new();
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line).unwrap_or(0) == 0 {
                return all;
            }
            all.push_str(&line);
            if line.as_bytes().get(3) != Some(&b'-') {
                return all;
            }
        }
    }

    pub fn command(&mut self, text: &str) -> String {
        self.send(&format!("{text}\r\n"));
        self.reply()
    }
}
