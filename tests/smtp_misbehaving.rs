//! Validation against scripted servers that misbehave in ways real servers won't on demand: no
//! greeting, garbage, 421, hang-ups, TLS on the wrong side, slow and endless replies. Each must
//! end in the right category within the timeout plus one second.

mod support;

use smtp_desk::settings::Security;
use smtp_desk::smtp::{self, CancelToken, StepKind};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::*;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const TIMEOUT_SECS: u32 = 1;

/// Starts a server that runs `script` on every connection; returns its port.
async fn scripted<F, Fut>(script: F) -> u16
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let script = Arc::new(script);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(script(stream));
        }
    });
    port
}

/// Validates against 127.0.0.1:`port` with a 1 s timeout; asserts the category and the time bound.
async fn expect(port: u16, security: Security, category: &str, step: StepKind) -> smtp::Outcome {
    let mut p = profile(port, security);
    p.limits.timeout_secs = TIMEOUT_SECS;
    let (o, _, took) = validate(&p, None, None).await;
    assert_eq!(support::category(&o), category, "{o:#?}");
    assert_eq!(o.failed_step(), Some(step), "{o:#?}");
    assert!(took <= Duration::from_secs(u64::from(TIMEOUT_SECS) + 1), "took {took:?}");
    let f = o.failure.as_ref().unwrap();
    assert!(!f.message.is_empty() && !f.hint.is_empty());
    o
}

async fn hold(_s: TcpStream) {
    tokio::time::sleep(Duration::from_secs(30)).await;
}

#[tokio::test]
async fn no_greeting_is_a_timeout() {
    let port = scripted(|s| async move { hold(s).await }).await;
    let o = expect(port, Security::StartTls, "timeout", StepKind::Banner).await;
    assert!(o.failure.unwrap().message.contains("greeting"));
}

#[tokio::test]
async fn garbage_greeting_is_not_smtp() {
    let port = scripted(|mut s| async move {
        let _ = s.write_all(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n").await;
        hold(s).await
    })
    .await;
    let o = expect(port, Security::StartTls, "not_smtp", StepKind::Banner).await;
    assert!(o.failure.unwrap().message.contains("SSH-2.0"));
}

#[tokio::test]
async fn refusal_at_connect_shows_the_server_text() {
    let port = scripted(|mut s| async move {
        let _ = s.write_all(b"421 4.3.2 Too many connections from your address, try later\r\n").await;
    })
    .await;
    let o = expect(port, Security::StartTls, "server_refused", StepKind::Banner).await;
    assert!(o.failure.unwrap().message.contains("421 4.3.2 Too many connections"));
}

#[tokio::test]
async fn hang_up_after_ehlo_is_connection_closed() {
    // Hangs up on reading EHLO, without a reply.
    let port = scripted(|mut s| async move {
        let _ = s.write_all(b"220 hello\r\n").await;
        let mut r = BufReader::new(&mut s);
        let _ = r.read_line(&mut String::new()).await;
    })
    .await;
    expect(port, Security::StartTls, "connection_closed", StepKind::Ehlo).await;

    // Answers EHLO, then hangs up on the next command.
    let port = scripted(|mut s| async move {
        let _ = s.write_all(b"220 hello\r\n").await;
        let (rd, mut wr) = s.split();
        let mut r = BufReader::new(rd);
        let _ = r.read_line(&mut String::new()).await;
        let _ = wr.write_all(b"250-hello\r\n250 STARTTLS\r\n").await;
        let _ = r.read_line(&mut String::new()).await;
    })
    .await;
    expect(port, Security::StartTls, "connection_closed", StepKind::Tls).await;
}

#[tokio::test]
async fn plain_server_with_implicit_tls_setting_is_a_mode_mismatch() {
    let port = scripted(|mut s| async move {
        let _ = s.write_all(b"220 plain.example ESMTP\r\n").await;
        hold(s).await
    })
    .await;
    let o = expect(port, Security::ImplicitTls, "tls_mode_mismatch", StepKind::Tls).await;
    assert!(o.failure.unwrap().hint.contains("STARTTLS"));
}

#[tokio::test]
async fn tls_server_with_starttls_setting_is_a_mode_mismatch() {
    let pki = Pki::new();
    let (cert, key) = pki.server_cert(CertKind::Good);
    let acceptor = tls_acceptor(&cert, &key);
    let port = scripted(move |s| {
        let acceptor = acceptor.clone();
        async move {
            if let Ok(mut tls) = acceptor.accept(s).await {
                let _ = tls.write_all(b"220 tls.example ESMTP\r\n").await;
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
        }
    })
    .await;
    for security in [Security::StartTls, Security::None] {
        let o = expect(port, security, "tls_mode_mismatch", StepKind::Banner).await;
        assert!(o.failure.unwrap().hint.contains("Implicit TLS"));
    }
}

#[tokio::test]
async fn replies_slower_than_the_timeout() {
    let port = scripted(|mut s| async move {
        tokio::time::sleep(Duration::from_secs(3)).await;
        let _ = s.write_all(b"220 slow\r\n").await;
        hold(s).await
    })
    .await;
    expect(port, Security::StartTls, "timeout", StepKind::Banner).await;

    let port = scripted(|mut s| async move {
        let _ = s.write_all(b"220 fast greeting, slow EHLO\r\n").await;
        let (rd, mut wr) = s.split();
        let mut r = BufReader::new(rd);
        let _ = r.read_line(&mut String::new()).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let _ = wr.write_all(b"250 late\r\n").await;
    })
    .await;
    expect(port, Security::StartTls, "timeout", StepKind::Ehlo).await;
}

#[tokio::test]
async fn endless_reply_line_is_not_smtp() {
    let port = scripted(|mut s| async move {
        let _ = s.write_all(b"220 ").await;
        let chunk = vec![b'a'; 16 * 1024];
        while s.write_all(&chunk).await.is_ok() {}
    })
    .await;
    let o = expect(port, Security::StartTls, "not_smtp", StepKind::Banner).await;
    assert!(o.failure.unwrap().message.contains("longer than"));
    assert!(o.transcript.iter().all(|l| l.text.len() < 1024), "the transcript cuts long lines");
}

#[tokio::test]
async fn connection_refused() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let o = expect(port, Security::StartTls, "connection_refused", StepKind::Connect).await;
    assert!(o.failure.unwrap().hint.contains("587"));
}

#[tokio::test]
async fn unknown_host_name_is_dns_not_found() {
    let mut p = profile(25, Security::StartTls);
    p.relay.host = "no-such-host.invalid".into();
    p.limits.timeout_secs = 2;
    let (o, _, took) = validate(&p, None, None).await;
    assert_eq!(support::category(&o), "dns_not_found", "{o:#?}");
    assert!(took <= Duration::from_secs(3), "took {took:?}");
}

#[tokio::test]
async fn cancel_stops_a_step_in_progress() {
    let port = scripted(|s| async move { hold(s).await }).await;
    let mut p = profile(port, Security::StartTls);
    p.limits.timeout_secs = 30;
    let cancel = CancelToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        trigger.cancel();
    });
    let started = Instant::now();
    let o = smtp::validate(&smtp::Job::from_values(p.clone(), None), None, &cancel, &mut |_| {}).await;
    assert!(o.cancelled && !o.ok, "{o:#?}");
    assert_eq!(support::category(&o), "cancelled");
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
}

fn tls_acceptor(cert: &std::path::Path, key: &std::path::Path) -> tokio_rustls::TlsAcceptor {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(cert).unwrap().collect::<Result<Vec<_>, _>>().unwrap();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

// ---- the overall deadline (issue 6, item 5) -------------------------------------------------

/// Step timeout for the slow-server tests; the whole run may take 3 × this.
const SLOW_TIMEOUT_SECS: u32 = 2;

/// How long the slow server waits before each reply: every step's replies together come in
/// 1.5–1.7 s, inside the 2 s step timeout, so only an overall limit can stop the run early.
fn slow_delay(verb: &str) -> Duration {
    Duration::from_millis(match verb {
        "GREETING" | "EHLO" | "AUTH" | "." => 1500,
        "MAIL" | "RCPT" | "DATA" => 750,
        "STARTTLS" => 200,
        _ => 0,
    })
}

/// One side of a slow SMTP conversation; returns the stream when the client asked for STARTTLS.
async fn slow_conversation<S>(stream: S, tls: bool) -> Option<S>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut s = BufReader::new(stream);
    if !tls {
        tokio::time::sleep(slow_delay("GREETING")).await;
        s.get_mut().write_all(b"220 slow.example ESMTP\r\n").await.ok()?;
    }
    let mut in_data = false;
    loop {
        let mut line = String::new();
        if s.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let verb = if in_data {
            if line != ".\r\n" {
                continue;
            }
            ".".to_string()
        } else {
            line.split([' ', ':', '\r', '\n']).next().unwrap_or("").to_ascii_uppercase()
        };
        let reply: &[u8] = match verb.as_str() {
            "EHLO" if tls => b"250-slow.example\r\n250 AUTH PLAIN LOGIN\r\n",
            "EHLO" => b"250-slow.example\r\n250 STARTTLS\r\n",
            "STARTTLS" => b"220 2.0.0 Ready to start TLS\r\n",
            "AUTH" => b"235 2.7.0 Authentication successful\r\n",
            "MAIL" | "RCPT" | "RSET" => b"250 2.1.0 Ok\r\n",
            "DATA" => b"354 End data with <CR><LF>.<CR><LF>\r\n",
            "." => b"250 2.0.0 Ok: queued as SLOW1\r\n",
            "QUIT" => b"221 2.0.0 Bye\r\n",
            _ => b"500 5.5.2 What?\r\n",
        };
        in_data = verb == "DATA";
        tokio::time::sleep(slow_delay(&verb)).await;
        s.get_mut().write_all(reply).await.ok()?;
        if verb == "STARTTLS" {
            return Some(s.into_inner());
        }
        if verb == "QUIT" {
            return None;
        }
    }
}

/// A server whose replies each come just inside the step timeout, with STARTTLS; returns its
/// port and the CA file that makes its certificate trusted.
async fn slow_server() -> (u16, Pki) {
    let pki = Pki::new();
    let (cert, key) = pki.server_cert(CertKind::Good);
    let acceptor = tls_acceptor(&cert, &key);
    let port = scripted(move |s| {
        let acceptor = acceptor.clone();
        async move {
            if let Some(tcp) = slow_conversation(s, false).await {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    slow_conversation(tls, true).await;
                }
            }
        }
    })
    .await;
    (port, pki)
}

fn assert_overall_limit(f: &smtp::Failure, took: Duration) {
    let limit = Duration::from_secs(u64::from(SLOW_TIMEOUT_SECS * smtp::RUN_LIMIT_FACTOR));
    eprintln!("stopped after {took:?} (limit {limit:?})");
    assert_eq!(f.category.to_string(), "timeout", "{f:?}");
    assert!(f.message.contains("overall time limit of 6 s (3 × the 2 s timeout)"), "{f:?}");
    assert!(f.hint.contains("limits.timeout_secs"), "{f:?}");
    assert!(took >= limit - Duration::from_millis(100), "stopped before the limit: {took:?}");
    assert!(took <= limit + Duration::from_secs(1), "took {took:?}, more than 3 × the timeout + 1 s");
}

#[tokio::test]
async fn slow_replies_each_in_time_stop_at_the_overall_limit() {
    let (port, pki) = slow_server().await;
    let mut p = with_login(profile(port, Security::StartTls));
    p.relay.ca_file = Some(pki.ca_pem.clone());
    p.limits.timeout_secs = SLOW_TIMEOUT_SECS;
    let pw = password(PASSWORD);
    let started = Instant::now();
    let o = smtp::validate(&smtp::Job::from_values(p.clone(), Some(pw.clone())), None, &CancelToken::new(), &mut |_| {}).await;
    let took = started.elapsed();
    // Greeting 1.5 s, EHLO 1.5 s, STARTTLS + EHLO 1.7 s: the login reply would come at 6.2 s.
    assert_overall_limit(o.failure.as_ref().expect("the run is stopped"), took);
    assert_eq!(o.failed_step(), Some(StepKind::Auth), "{o:#?}");
    assert!(o.failure.as_ref().unwrap().message.contains("'Login'"), "names the step it stopped in");
}

#[tokio::test]
async fn slow_test_email_stops_at_the_overall_limit_in_the_cli() {
    let (port, pki) = slow_server().await;
    let config = tempfile::tempdir().unwrap();
    let dir = config.path().to_path_buf();
    let cli = move |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_smtp-desk")).args(args).env("SMTP_DESK_CONFIG_DIR", &dir).output().unwrap()
    };
    let port_text = port.to_string();
    let set = cli(&[
        "config",
        "set",
        "mode",
        "relay",
        "relay.host",
        "127.0.0.1",
        "relay.port",
        &port_text,
        "relay.security",
        "start_tls",
        "relay.ca_file",
        pki.ca_pem.to_str().unwrap(),
        "sender.from_address",
        "sender@example.com",
        "limits.timeout_secs",
        &SLOW_TIMEOUT_SECS.to_string(),
    ]);
    assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));
    let started = Instant::now();
    let send = cli.clone();
    let out = tokio::task::spawn_blocking(move || send(&["send-test", "--to", "friend@example.org", "--json"])).await.unwrap();
    let took = started.elapsed();
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{out:?}"));
    let failure: smtp::Failure = smtp::Failure::new(
        smtp::Category::Timeout,
        result["failure"]["message"].as_str().unwrap_or_default(),
        result["failure"]["hint"].as_str().unwrap_or_default(),
    );
    assert_eq!(result["failure"]["category"], "timeout", "{result:#}");
    // Greeting 1.5, EHLO 1.5, STARTTLS + EHLO 1.7, MAIL 0.75: the RCPT reply would come at 6.2 s.
    assert_overall_limit(&failure, took);
    assert_eq!(out.status.code(), Some(i32::from(StepKind::Envelope.exit_code())), "{result:#}");
    let help = cli(&["send-test", "--help"]);
    assert!(String::from_utf8_lossy(&help.stdout).contains("the whole run stops after 3 x that"));
}

#[tokio::test]
async fn cancel_stops_a_test_email_in_progress() {
    let port = scripted(|s| async move { hold(s).await }).await;
    let mut p = profile(port, Security::StartTls);
    p.limits.timeout_secs = 30;
    let cancel = CancelToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        trigger.cancel();
    });
    let started = Instant::now();
    let r = smtp::send_test(&smtp::Job::from_values(p.clone(), None), "friend@example.org", &cancel, &mut |_| {}).await.unwrap();
    assert!(!r.ok);
    assert_eq!(r.failure.as_ref().map(|f| f.category.to_string()).as_deref(), Some("cancelled"), "{r:#?}");
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
}

// ---- hostile servers: CPU, terminal control, echoed credentials -----------------------------

/// What one run of the `smtp-desk` command printed.
struct CliRun {
    stdout: String,
    stderr: String,
    code: Option<i32>,
    took: Duration,
}

impl CliRun {
    fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// The `smtp-desk` command with its settings in `dir`; killed after `limit`.
fn cli(dir: &std::path::Path, args: &[&str], limit: Duration) -> CliRun {
    use std::process::{Command, Stdio};
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_smtp-desk"))
        .args(args)
        .env("SMTP_DESK_CONFIG_DIR", dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while child.try_wait().unwrap().is_none() && started.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    CliRun {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code(),
        took: started.elapsed(),
    }
}

/// A settings directory holding `profile`.
fn settings_dir(profile: &smtp_desk::settings::Profile) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let settings = smtp_desk::settings::Settings { profile: profile.clone(), ..Default::default() };
    smtp_desk::settings::save_to(&dir.path().join("settings.json"), &settings).unwrap();
    dir
}

/// Greets with `greeting`, answers EHLO with `ehlo`, DATA with 354 (then 250 after the
/// message), QUIT with 221, anything else with 250.
async fn script(s: TcpStream, greeting: Arc<Vec<u8>>, ehlo: Arc<Vec<u8>>) {
    let (rd, mut wr) = s.into_split();
    let mut r = BufReader::new(rd);
    if wr.write_all(&greeting).await.is_err() {
        return;
    }
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let cmd = line.trim_end().to_ascii_uppercase();
        if cmd == "DATA" {
            let _ = wr.write_all(b"354 go ahead \x1b[5m\r\n").await;
            while r.read_line(&mut line).await.unwrap_or(0) > 0 && !line.ends_with("\r\n.\r\n") {}
        }
        let reply: &[u8] = if cmd.starts_with("EHLO") {
            &ehlo
        } else if cmd == "QUIT" {
            let _ = wr.write_all(b"221 bye\r\n").await;
            return;
        } else {
            "250 2.0.0 ok \u{202e}gnp.exe\u{202c} \u{1b}]8;;http://x\u{7}link\r\n".as_bytes()
        };
        if wr.write_all(reply).await.is_err() {
            return;
        }
    }
}

async fn script_server(greeting: &[u8], ehlo: Vec<u8>) -> u16 {
    let (greeting, ehlo) = (Arc::new(greeting.to_vec()), Arc::new(ehlo));
    scripted(move |s| script(s, greeting.clone(), ehlo.clone())).await
}

/// Runs a blocking closure (the CLI) off the test's runtime, so the scripted server keeps serving.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_ehlo_with_100000_mechanisms_finishes_within_the_timeout() {
    // One EHLO reply inside the reader's limits (lines under 4096 bytes, 190 lines) listing about
    // 110,000 distinct AUTH mechanisms. A quadratic capability parser pins a core for minutes.
    let mut ehlo = b"250-hostile.example\r\n".to_vec();
    let mut n = 0u32;
    for i in 0..190 {
        let mut l = String::from(if i == 189 { "250 AUTH" } else { "250-AUTH" });
        while l.len() < 4080 {
            l.push_str(&format!(" {n:06X}"));
            n += 1;
        }
        ehlo.extend_from_slice(l.as_bytes());
        ehlo.extend_from_slice(b"\r\n");
    }
    let port = script_server(b"220 hostile.example ESMTP\r\n", ehlo).await;
    let mut p = profile(port, Security::None);
    p.limits.timeout_secs = 5;
    let dir = settings_dir(&p);
    let run = blocking(move || cli(dir.path(), &["validate"], Duration::from_secs(30))).await;
    let (out, code, took) = (run.all(), run.code, run.took);
    println!("hostile EHLO with {n} mechanisms: `smtp-desk validate` (timeout 5 s) took {took:?}, exit {code:?}");
    assert!(took < Duration::from_secs(5), "ran past the 5 s timeout: {took:?}");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains(&format!("… {} more not shown", n - 64)), "the list is cut: {out}");
    assert!(out.len() < 16 * 1024, "the output stays readable: {} bytes", out.len());
}

/// Characters that must never reach a terminal or a text view as themselves.
fn unsafe_char(c: char) -> bool {
    c.is_control() && c != '\n' || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{61c}')
}

/// Every string in a JSON document.
fn json_strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|v| json_strings(v, out)),
        serde_json::Value::Object(o) => o.iter().for_each(|(k, v)| {
            out.push(k.clone());
            json_strings(v, out)
        }),
        _ => {}
    }
}

/// What the checks found, reported all at once: one run shows every output that leaks.
#[derive(Default)]
struct Findings(Vec<String>);

impl Findings {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.0.push(what());
        }
    }

    /// No control or bidi character in `text`.
    fn clean(&mut self, what: &str, text: &str) {
        let bad = text.chars().find(|&c| unsafe_char(c));
        self.check(bad.is_none(), || format!("{what} holds the raw character {bad:?}: {text}"));
    }

    /// No control or bidi character in `json`, escaped or not, nor in any string in it.
    fn clean_json(&mut self, what: &str, json: &str) {
        self.clean(what, json);
        self.check(!json.contains("\\u001b") && !json.contains("\\u0007"), || format!("{what} holds escaped controls: {json}"));
        self.clean(what, &json_text(json));
    }

    /// No credential form of `password`, nor half of a long one, in `text`.
    fn no_credential(&mut self, what: &str, text: &str, password: &str) {
        let cleaned = password.replace('\t', "\\t");
        let forms = [
            password.to_string(),
            cleaned,
            b64(password).trim_end_matches('=').to_string(),
            b64(&format!("\0{USER}\0{password}")).trim_end_matches('=').to_string(),
            b64(&format!("{USER}\0{USER}\0{password}")).trim_end_matches('=').to_string(),
            b64(USER).trim_end_matches('=').to_string(),
        ];
        for f in forms {
            let (head, tail) = f.split_at(f.len() / 2);
            let leaked = if text.contains(&f) {
                Some("the credential form")
            } else if f.len() >= 8 && (text.contains(head) || text.contains(tail)) {
                Some("half of the credential form")
            } else {
                None
            };
            if let Some(how) = leaked {
                self.0.push(format!("{what} contains {how} {f:?}"));
                return;
            }
        }
    }

    fn assert_none(self) {
        assert!(self.0.is_empty(), "{} finding(s):\n{}", self.0.len(), self.0.join("\n"));
    }
}

const HOSTILE_GREETING: &[u8] = b"220 mail.example \x1b[2K\r\x1b[32m\xe2\x9c\x93 TLS trusted\x1b[0m \x1b]52;c;aGk=\x07\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_text_never_reaches_the_terminal_json_or_window() {
    let ehlo = "250-mail.example \u{1b}[1A\r\n250-X-\u{202e}DELIVERED\u{2069}\r\n250-\u{9b}31m\r\n250 SIZE 1000\r\n".as_bytes().to_vec();
    let port = script_server(HOSTILE_GREETING, ehlo).await;
    let p = profile(port, Security::None);

    let mut found = Findings::default();
    // What the window receives: the steps as they stream, and the outcome.
    let (o, streamed, _) = validate(&p, None, None).await;
    assert!(o.ok, "{o:#?}");
    let summary = &o.steps[2].summary;
    found.check(summary.contains("\\x1b[2K\\r\\x1b[32m✓ TLS trusted\\x1b[0m \\x1b]52;c;aGk=\\x07"), || {
        format!("shown escaped: {summary:?}")
    });
    found.clean_json("the outcome", &serde_json::to_string(&o).unwrap());
    found.clean_json("the streamed steps", &serde_json::to_string(&streamed).unwrap());
    let sent =
        smtp::send_test(&smtp::Job::from_values(p.clone(), None), "rcpt@example.com", &CancelToken::new(), &mut |_| {}).await.unwrap();
    assert!(sent.ok, "{sent:#?}");
    found.clean("the send result's reply", sent.reply.as_deref().unwrap_or_default());
    found.clean_json("the send result", &serde_json::to_string(&sent).unwrap());

    // What the CLI prints.
    let dir = settings_dir(&p);
    let (text, json, send_text, send_json) = blocking(move || {
        let limit = Duration::from_secs(20);
        (
            cli(dir.path(), &["validate", "--transcript"], limit),
            cli(dir.path(), &["validate", "--json"], limit),
            cli(dir.path(), &["send-test", "--to", "rcpt@example.com", "--transcript"], limit),
            cli(dir.path(), &["send-test", "--to", "rcpt@example.com", "--json"], limit),
        )
    })
    .await;
    for (what, run) in [("validate", &text), ("send-test", &send_text)] {
        let out = run.all();
        assert_eq!(run.code, Some(0), "{out}");
        found.clean(what, &out);
        found.check(out.contains("\\x1b]52;c;aGk=\\x07"), || format!("{what} shows the greeting escaped: {out}"));
    }
    for (what, run) in [("validate --json", &json), ("send-test --json", &send_json)] {
        assert_eq!(run.code, Some(0), "{}", run.all());
        found.clean_json(what, &run.stdout);
        found.clean(what, &run.stderr);
    }
    found.assert_none();
}

fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// How the echoing server answers the credentials.
#[derive(Clone, Copy, Debug)]
enum Echo {
    /// Multi-line 334 / 535 replies echoing the AUTH line and every credential form, each placed
    /// across the 512-byte cut of a transcript line and of a reply shown on one line.
    Replies,
    /// A line that is not SMTP, with the credential across the 120-character cut of the quote in
    /// the "not SMTP" message.
    NotSmtp,
}

/// The echo of `received` (a client line) and of `password`'s forms, with reply code `code`.
fn echo_reply(code: u16, received: &str, password: &str) -> String {
    let forms = [
        received.to_string(),
        password.to_string(),
        b64(password),
        b64(password).trim_end_matches('=').to_string(),
        b64(&format!("\0{USER}\0{password}")),
        b64(USER),
    ];
    let mut out = String::new();
    for f in forms {
        // "535-" + pad + " " puts the form's middle on byte 512, the cut.
        let pad = 512usize.saturating_sub(4 + 1 + f.len() / 2);
        out.push_str(&format!("{code}-{} {f} tail\r\n", "x".repeat(pad)));
    }
    out.push_str(&format!("{code}-decoded: \0{USER}\0{password}\r\n"));
    out.push_str(&format!("{code} 5.7.8 Authentication failed for {USER}: password {password} is wrong\r\n"));
    out
}

/// A server offering AUTH PLAIN LOGIN that echoes what it receives, as `echo` says.
async fn echo_server(password: &str, echo: Echo) -> u16 {
    let password = Arc::new(password.to_string());
    scripted(move |s| {
        let password = password.clone();
        async move {
            let (rd, mut wr) = s.into_split();
            let mut r = BufReader::new(rd);
            let _ = wr.write_all(b"220 echo.example ESMTP\r\n").await;
            let mut line = String::new();
            loop {
                line.clear();
                if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return;
                }
                let received = line.trim_end_matches(['\r', '\n']).to_string();
                let upper = received.to_ascii_uppercase();
                let reply = if upper.starts_with("EHLO") {
                    "250-echo.example\r\n250 AUTH PLAIN LOGIN\r\n".to_string()
                } else if upper == "QUIT" {
                    let _ = wr.write_all(b"221 bye\r\n").await;
                    return;
                } else if upper == "AUTH LOGIN" {
                    format!("334-echo: {received}\r\n334 VXNlcm5hbWU6\r\n")
                } else if received == b64(USER) {
                    // LOGIN's user name: asks for the password, echoing what it got.
                    echo_reply(334, &received, &password).replace("334 5.7.8", "334-5.7.8") + "334 UGFzc3dvcmQ6\r\n"
                } else if matches!(echo, Echo::NotSmtp) {
                    // The cut falls three quarters into what was received: in the password's part
                    // of a PLAIN response too.
                    let pad = 120usize.saturating_sub(received.len() * 3 / 4);
                    format!("{}{received}\r\n", "x".repeat(pad))
                } else {
                    echo_reply(535, &received, &password)
                };
                if wr.write_all(reply.as_bytes()).await.is_err() {
                    return;
                }
            }
        }
    })
    .await
}

/// Every output of one run as text: JSON strings unescaped, so a tab is a tab.
fn json_text(json: &str) -> String {
    let mut strings = Vec::new();
    json_strings(&serde_json::from_str(json).unwrap_or_else(|e| panic!("not JSON ({e}): {json}")), &mut strings);
    format!("{json}\n{}", strings.join("\n"))
}

/// The scenarios: PLAIN and LOGIN, a password with a tab and one of 3 characters, replies and
/// a line that is not SMTP.
fn redaction_scenarios() -> Vec<(smtp_desk::settings::Mechanism, &'static str, Echo)> {
    use smtp_desk::settings::Mechanism;
    let mut all = Vec::new();
    for mech in [Mechanism::Plain, Mechanism::Login] {
        for pw in ["Tab\tpass-W0rd", "k9Z"] {
            for echo in [Echo::Replies, Echo::NotSmtp] {
                all.push((mech, pw, echo));
            }
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echoed_credentials_are_redacted_in_every_result() {
    let mut found = Findings::default();
    for (mech, pw, echo) in redaction_scenarios() {
        let port = echo_server(pw, echo).await;
        let mut p = with_login(profile(port, Security::None));
        p.auth.mechanism = mech;
        let what = format!("{mech:?} / {pw:?} / {echo:?}");
        let password = password(pw);

        let (o, streamed, _) = validate(&p, Some(&password), None).await;
        assert_eq!(o.failed_step(), Some(StepKind::Auth), "{what}: {o:#?}");
        found.no_credential(&format!("{what}: the outcome"), &json_text(&serde_json::to_string(&o).unwrap()), pw);
        found.no_credential(&format!("{what}: the streamed steps"), &json_text(&serde_json::to_string(&streamed).unwrap()), pw);
        found.no_credential(&format!("{what}: the rendered transcript"), &smtp::render_transcript(&o.transcript), pw);

        let sent = smtp::send_test(
            &smtp::Job::from_values(p.clone(), Some(password.clone())),
            "rcpt@example.com",
            &CancelToken::new(),
            &mut |_| {},
        )
        .await
        .unwrap();
        assert!(!sent.ok, "{what}");
        assert!(!sent.reply.as_deref().unwrap_or_default().is_empty(), "{what}: the last reply is shown");
        found.no_credential(&format!("{what}: the send result's reply"), sent.reply.as_deref().unwrap_or_default(), pw);
        found.no_credential(&format!("{what}: the send result"), &json_text(&serde_json::to_string(&sent).unwrap()), pw);
        let f = sent.failure.as_ref().unwrap();
        found.no_credential(&format!("{what}: the failure and hint"), &format!("{}\n{}", f.message, f.hint), pw);
    }
    found.assert_none();
}

/// Needs the Secret Service (run inside scripts/session.sh): the CLI reads the password there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echoed_credentials_are_redacted_in_cli_output() {
    use smtp_desk::secrets::{self, DEFAULT_PROFILE};
    let mut found = Findings::default();
    for (mech, pw, echo) in redaction_scenarios() {
        let port = echo_server(pw, echo).await;
        let mut p = with_login(profile(port, Security::None));
        p.auth.mechanism = mech;
        let what = format!("{mech:?} / {pw:?} / {echo:?}");
        secrets::set(DEFAULT_PROFILE, &password(pw)).expect("the Secret Service is reachable (run inside scripts/session.sh)");
        let dir = settings_dir(&p);
        let outputs = blocking(move || {
            let limit = Duration::from_secs(20);
            [
                ["validate", "--transcript", "", ""],
                ["validate", "--json", "", ""],
                ["send-test", "--to", "rcpt@example.com", "--transcript"],
                ["send-test", "--to", "rcpt@example.com", "--json"],
            ]
            .map(|args| {
                let args: Vec<&str> = args.into_iter().filter(|a| !a.is_empty()).collect();
                (args.join(" "), cli(dir.path(), &args, limit))
            })
        })
        .await;
        for (args, run) in outputs {
            assert_eq!(run.code, Some(15), "{what}: smtp-desk {args} fails at the login step:\n{}", run.all());
            let text = if args.contains("--json") { format!("{}\n{}", json_text(&run.stdout), run.stderr) } else { run.all() };
            found.no_credential(&format!("{what}: smtp-desk {args}"), &text, pw);
        }
    }
    secrets::clear(DEFAULT_PROFILE).unwrap();
    found.assert_none();
}
