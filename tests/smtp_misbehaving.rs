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
