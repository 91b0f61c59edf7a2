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

/// A plain-text server offering only AUTH NTLM: `334` to the command, `challenge` to the
/// negotiate message, then `535` quoting the authenticate message back (as a careless server
/// might). Returns the port.
async fn ntlm_server(challenge: String) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let (read, mut write) = tcp.into_split();
        let mut lines = BufReader::new(read).lines();
        write.write_all(b"220 scripted ESMTP\r\n").await.unwrap();
        let mut sasl_step = 0;
        while let Ok(Some(line)) = lines.next_line().await {
            let reply = match line.split(' ').next().unwrap_or("") {
                "EHLO" => "250-scripted\r\n250 AUTH NTLM\r\n".to_string(),
                "AUTH" => "334 NTLM supported\r\n".to_string(),
                "QUIT" => "221 bye\r\n".to_string(),
                "*" => "501 5.7.0 cancelled\r\n".to_string(),
                _ if sasl_step == 0 => {
                    sasl_step = 1;
                    format!("334 {challenge}\r\n")
                }
                _ => format!("535 5.7.8 bad credentials in {line}\r\n"),
            };
            if write.write_all(reply.as_bytes()).await.is_err() {
                break;
            }
        }
    });
    port
}

fn ntlm_challenge() -> String {
    use base64::Engine as _;
    use ntlmclient::{ChallengeMessage, Flags, Message};
    let msg = Message::Challenge(ChallengeMessage {
        target_name: "CORP".into(),
        flags: Flags::NEGOTIATE_UNICODE | Flags::NEGOTIATE_NTLM,
        challenge: [7; 8],
        context: (0, 0),
        target_information: Vec::new(),
        os_version: Default::default(),
    });
    base64::engine::general_purpose::STANDARD.encode(msg.to_bytes().unwrap())
}

fn ntlm_profile(port: u16) -> Profile {
    let mut p = profile(port);
    p.auth.mechanism = crate::settings::Mechanism::Ntlm;
    p.auth.username = "CORP\\alice".into();
    p
}

#[tokio::test]
async fn an_ntlm_answer_echoed_back_is_redacted_and_the_messages_are_placeholders() {
    let port = ntlm_server(ntlm_challenge()).await;
    let pw = Password::new("s3cret-pw").unwrap();
    let (profile, cancel) = (ntlm_profile(port), CancelToken::new());
    let mut o = super::Opener::new(&profile, super::Secret::Given(Some(&pw)), &cancel, None);
    let mut failed = None;
    for step in super::steps(o.profile) {
        o.start_step();
        if let Err(f) = o.step(step).await {
            failed = Some((step, f.failure));
            break;
        }
    }
    let (step, failure) = failed.expect("the login was refused");
    assert_eq!((step, failure.category), (StepKind::Auth, Category::AuthRejected));
    let shown = crate::smtp::transcript::render(&o.t.into_lines());
    assert!(shown.contains(" -> <NTLM negotiate>\n<-  334 <NTLM challenge>\n -> <NTLM authenticate, redacted>\n"), "{shown}");
    assert!(shown.contains("535 5.7.8 bad credentials in ********"), "the echoed answer is shown: {shown}");
    assert!(!shown.contains("TlRMTVNTUA") && !failure.message.contains("TlRMTVNTUA"), "{shown}\n{}", failure.message);
}

#[tokio::test]
async fn a_challenge_that_is_not_ntlm_fails_the_login_as_a_broken_server() {
    let port = ntlm_server("bm90IG50bG0=".into()).await;
    let pw = Password::new("s3cret-pw").unwrap();
    let Err(StepFailure { step, failure }) = open(&ntlm_profile(port), Some(&pw), &CancelToken::new()).await.0 else {
        panic!("the challenge was not NTLM")
    };
    assert_eq!((step, failure.category), (StepKind::Auth, Category::NotSmtp));
    assert!(failure.message.contains("NTLM challenge"), "{}", failure.message);
}
