//! AUTH NTLM against a real Postfix (Cyrus SASL's NTLM, see tests/support/postfix.rs): each user
//! name form logs in and a test email is accepted, a wrong password fails at the login with the
//! auth hint, and no transcript holds the password or an NTLM message. Needs root: skipped with a
//! reason for a developer who is not, a failure in CI.

mod support;

use smtp_desk::settings::{AuthMethod, Mechanism, Profile, Security};
use smtp_desk::smtp::{self, CancelToken, Outcome, StepKind, StepStatus};
use support::postfix::{self, Postfix};

const PASSWORD: &str = "Ntlm-Pa55word!";

/// The server, or `None` (after saying why) where it can't run and this is not CI.
fn server(users: &[(&str, &str)], mechanisms: &str) -> Option<Postfix> {
    if let Some(why) = postfix::unavailable() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("the AUTH NTLM tests must run in CI, as root with Postfix and Cyrus SASL: {why}");
        }
        eprintln!("SKIPPED: the AUTH NTLM tests need root, Postfix and Cyrus SASL: {why}");
        return None;
    }
    Some(Postfix::start_offering(users, mechanisms))
}

fn ntlm_profile(port: u16, user: &str, mechanism: Mechanism) -> Profile {
    let mut p = support::profile(port, Security::None);
    p.auth.method = AuthMethod::Password;
    p.auth.username = user.into();
    p.auth.mechanism = mechanism;
    p
}

fn auth_step(o: &Outcome) -> &smtp::Step {
    o.steps.iter().find(|s| s.step == StepKind::Auth).expect("an AUTH step")
}

/// No form of the password and no NTLM message (their base64 starts `TlRMTVNTUA`, "NTLMSSP\0")
/// anywhere in what the run shows.
fn assert_nothing_secret(o: &Outcome, user: &str) {
    let json = serde_json::to_string(o).unwrap();
    support::assert_no_secret(&json, user, PASSWORD);
    assert!(!json.contains("TlRMTVNTUA"), "an NTLM message is shown: {json}");
}

#[tokio::test]
async fn each_user_name_form_logs_in_with_ntlm_and_a_test_email_is_accepted() {
    let users = [("ntlmuser@example.test", PASSWORD), ("alice", PASSWORD), ("bob", PASSWORD)];
    let Some(server) = server(&users, "PLAIN LOGIN NTLM") else { return };
    let pw = support::password(PASSWORD);
    for user in ["ntlmuser@example.test", "alice", "CORP\\bob"] {
        let (o, _, took) = support::validate(&ntlm_profile(server.port, user, Mechanism::Ntlm), Some(&pw), None).await;
        assert!(o.ok, "{user}: {:?}\n{}", o.failure, server.log());
        assert_eq!(auth_step(&o).status, StepStatus::Ok);
        assert!(auth_step(&o).summary.contains("with NTLM"), "{}", auth_step(&o).summary);
        let shown = smtp::transcript::render(&o.transcript);
        for placeholder in ["<NTLM negotiate>", "334 <NTLM challenge>", "<NTLM authenticate, redacted>", "235 "] {
            assert!(shown.contains(placeholder), "{user}: no {placeholder:?} in\n{shown}");
        }
        assert_nothing_secret(&o, user);
        assert!(took.as_secs() < 10, "{user}: took {took:?}");
    }
    let log = server.log();
    assert!(log.contains("sasl_method=NTLM, sasl_username=ntlmuser@example.test"), "{log}");
    assert!(log.contains("sasl_method=NTLM, sasl_username=bob"), "{log}");

    let p = ntlm_profile(server.port, "CORP\\bob", Mechanism::Ntlm);
    let job = smtp::Job::from_values(p, Some(pw));
    let sent = smtp::send_test(&job, "friend@example.org", &CancelToken::new(), &mut |_| {}).await.unwrap();
    assert!(sent.ok, "{:?}\n{}", sent.failure, server.log());
    let queue_id = sent.queue_id.clone().expect("Postfix names its queue id");
    assert!(sent.reply.as_deref().unwrap_or("").starts_with("250"), "{:?}", sent.reply);
    assert_nothing_secret(&sent, "CORP\\bob");
    let accepted = support::wait_until(std::time::Duration::from_secs(5), || {
        server.log().lines().any(|l| l.contains(&queue_id) && l.contains("to=<friend@example.org>") && l.contains("status=sent"))
    });
    assert!(accepted, "Postfix did not take {queue_id}:\n{}", server.log());
}

#[tokio::test]
async fn a_wrong_ntlm_password_fails_at_the_login_with_the_auth_hint() {
    let Some(server) = server(&[("alice", PASSWORD)], "PLAIN LOGIN NTLM") else { return };
    let wrong = "Wrong-Pa55word!";
    let (o, _, _) = support::validate(&ntlm_profile(server.port, "alice", Mechanism::Ntlm), Some(&support::password(wrong)), None).await;
    assert!(!o.ok);
    assert_eq!(support::category(&o), "auth_rejected", "{:?}", o.failure);
    assert_eq!(auth_step(&o).status, StepStatus::Failed);
    let failure = o.failure.as_ref().unwrap();
    assert!(failure.message.contains("535"), "{}", failure.message);
    assert!(failure.hint.starts_with("Check the user name"), "{}", failure.hint);
    let json = serde_json::to_string(&o).unwrap();
    support::assert_no_secret(&json, "alice", wrong);
    assert!(!json.contains("TlRMTVNTUA"), "an NTLM message is shown: {json}");
}

#[tokio::test]
async fn auto_takes_ntlm_only_when_the_server_offers_nothing_else() {
    let Some(both) = server(&[("alice", PASSWORD)], "PLAIN LOGIN NTLM") else { return };
    let pw = support::password(PASSWORD);
    let (o, _, _) = support::validate(&ntlm_profile(both.port, "alice", Mechanism::Auto), Some(&pw), None).await;
    assert!(o.ok, "{:?}", o.failure);
    assert!(auth_step(&o).summary.contains("with PLAIN"), "{}", auth_step(&o).summary);
    drop(both);

    let only = server(&[("alice", PASSWORD)], "NTLM").unwrap();
    let (o, _, _) = support::validate(&ntlm_profile(only.port, "alice", Mechanism::Auto), Some(&pw), None).await;
    assert!(o.ok, "{:?}\n{}", o.failure, only.log());
    assert!(auth_step(&o).summary.contains("with NTLM"), "{}", auth_step(&o).summary);
}

/// The command line, as a user of an Exchange-like server would: `config set auth.mechanism
/// ntlm`, the password in the keyring (a profile's own entry, so no other test's is touched;
/// inside scripts/session.sh), `validate` and `send-test`; a wrong password (from standard input)
/// exits with the login's code and the auth hint. No output holds the password or an NTLM message.
#[test]
fn the_cli_validates_and_sends_with_ntlm_from_the_keyring() {
    let Some(server) = server(&[("bob", PASSWORD)], "PLAIN LOGIN NTLM") else { return };
    let port = server.port.to_string();
    let desk =
        support::desk::Desk::relay(server.port, &["auth.method", "password", "auth.username", "CORP\\bob", "auth.mechanism", "ntlm"]);
    let profile = "ntlm-cli-test";
    let ok = |o: &std::process::Output, what: &str| {
        let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        assert!(o.status.success(), "{what}: {:?}\n{text}\n{}", o.status, server.log());
        assert!(!text.contains(PASSWORD) && !text.contains("TlRMTVNTUA"), "{what} shows a secret:\n{text}");
        text
    };
    ok(&desk.run(&["profile", "create", profile], b""), "profile create");
    // Its own relay.port gives the profile its own keyring entry.
    ok(&desk.run(&["config", "set", "--profile", profile, "relay.port", &port], b""), "config set --profile");
    ok(&desk.run(&["password", "set", "--profile", profile], format!("{PASSWORD}\n").as_bytes()), "password set");
    let validated = desk.run(&["validate", "--profile", profile, "--transcript"], b"");
    let sent = desk.run(&["send-test", "--profile", profile, "--to", "friend@example.org", "--transcript"], b"");
    let wrong = desk.run(&["validate", "--profile", profile, "--password-stdin"], b"Wrong-Pa55word!\n");
    let cleared = desk.run(&["password", "clear", "--profile", profile], b"");

    let text = ok(&validated, "validate");
    assert!(text.contains("<NTLM authenticate, redacted>") && text.contains("with NTLM"), "{text}");
    let text = ok(&sent, "send-test");
    assert!(text.contains("queued as"), "{text}");
    let text = format!("{}{}", String::from_utf8_lossy(&wrong.stdout), String::from_utf8_lossy(&wrong.stderr));
    assert_eq!(wrong.status.code(), Some(15), "a wrong password fails at the login:\n{text}");
    assert!(text.contains("Check the user name") && !text.contains("Wrong-Pa55word!"), "{text}");
    ok(&cleared, "password clear");
}
