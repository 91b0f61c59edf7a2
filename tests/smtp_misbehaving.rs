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
    let o = smtp::validate(&p, None, None, &cancel, &mut |_| {}).await;
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
    let o = smtp::validate(&p, Some(&pw), None, &CancelToken::new(), &mut |_| {}).await;
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
    let r = smtp::send_test(&p, None, "friend@example.org", &cancel).await.unwrap();
    assert!(!r.ok);
    assert_eq!(r.failure.as_ref().map(|f| f.category.to_string()).as_deref(), Some("cancelled"), "{r:#?}");
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
}
