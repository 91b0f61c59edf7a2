//! [`super::open`] against a scripted server: the step and category a failure carries (what the
//! probe reports) reach delivery as one typed error, with the password scrubbed.

use super::{open, StepFailure};
use crate::secrets::Password;
use crate::settings::{AuthMethod, Profile, Security};
use crate::smtp::{CancelToken, Category, StepKind};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// A plain-text server that greets, offers AUTH PLAIN, and answers AUTH with `auth_reply`.
async fn server(auth_reply: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let (read, mut write) = tcp.into_split();
        let mut lines = BufReader::new(read).lines();
        write.write_all(b"220 scripted ESMTP\r\n").await.unwrap();
        while let Ok(Some(line)) = lines.next_line().await {
            let reply: &[u8] = match line.split(' ').next().unwrap_or("") {
                "EHLO" => b"250-scripted\r\n250 AUTH PLAIN\r\n",
                "AUTH" => auth_reply.as_bytes(),
                "QUIT" => b"221 bye\r\n",
                _ => b"502 no\r\n",
            };
            if write.write_all(reply).await.is_err() {
                break;
            }
        }
    });
    port
}

fn profile(port: u16) -> Profile {
    let mut p = Profile::default();
    p.relay.host = "127.0.0.1".into();
    p.relay.port = port;
    p.relay.security = Security::None;
    p.auth.method = AuthMethod::Password;
    p.auth.username = "alice".into();
    p.limits.timeout_secs = 5;
    p
}

#[tokio::test]
async fn a_rejected_login_is_the_auth_step_s_failure_without_the_password() {
    let port = server("535 5.7.8 bad credentials for s3cret-pw\r\n").await;
    let pw = Password::new("s3cret-pw").unwrap();
    let Err(StepFailure { step, failure }) = open(&profile(port), Some(&pw), &CancelToken::new()).await.0 else {
        panic!("the login was refused")
    };
    assert_eq!((step, failure.category), (StepKind::Auth, Category::AuthRejected));
    assert!(!failure.message.contains("s3cret-pw") && !failure.hint.contains("s3cret-pw"), "{failure:?}");
}

#[tokio::test]
async fn a_missing_password_stops_at_the_login_and_a_good_one_opens() {
    let port = server("235 2.7.0 ok\r\n").await;
    let Err(StepFailure { step, failure }) = open(&profile(port), None, &CancelToken::new()).await.0 else { panic!("no password") };
    assert_eq!((step, failure.category), (StepKind::Auth, Category::PasswordMissing));

    let port = server("235 2.7.0 ok\r\n").await;
    let opened = open(&profile(port), Some(&Password::new("pw").unwrap()), &CancelToken::new()).await.0.expect("logged in");
    assert!(opened.caps.offers("PLAIN"));
}
