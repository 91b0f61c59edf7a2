//! DKIM through the real `smtp-desk` binary, the real Secret Service (run under
//! scripts/session.sh), a real DNS server (dnsmasq, `SMTP_DESK_DNS_SERVER`) and a real SMTP
//! server (aiosmtpd): keys made for both algorithms land in the keyring and nowhere on disk, the
//! record is shown and checked, and mail delivered through the relay carries a signature that
//! mail-auth verifies against the published key.
//!
//! Every test uses its own selector and domain, so their keyring entries never meet.

mod support;

use serde_json::Value;
use smtp_desk::secrets;
use std::path::Path;
use std::process::Output;
use std::time::Duration;
use support::desk::{ok, Desk};
use support::dns::{dnsmasq, Killed};
use support::{wait_until, Server};

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A desk relaying to `port` that signs for `domain` with `selector` and `algorithm` (`enabled`
/// turns signing on).
fn desk(port: u16, selector: &str, domain: &str, algorithm: &str, enabled: bool) -> Desk {
    let on = if enabled { "true" } else { "false" };
    Desk::relay(port, &["dkim.selector", selector, "dkim.domain", domain, "dkim.algorithm", algorithm, "dkim.enabled", on])
}

/// `dkim ARGS --json` parsed.
fn key_json(d: &Desk, args: &[&str]) -> Value {
    let o = d.run(&[&["dkim"], args, &["--json"]].concat(), b"");
    ok(&o);
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&o)))
}

/// dnsmasq publishing `value` (cut into 255-byte character-strings) at `name`, or nothing.
fn dns_with(name: &str, value: Option<&str>) -> (Killed, u16) {
    let records: Vec<String> = match value {
        Some(v) => {
            let parts: Vec<String> = v.as_bytes().chunks(255).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
            vec![format!("--txt-record={name},{}", parts.join(","))]
        }
        None => vec![],
    };
    dnsmasq(&records)
}

/// Every file under `dir`, read whole.
fn files_under(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else if let Ok(bytes) = std::fs::read(&p) {
            out.push((p.display().to_string(), bytes));
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn generate_keeps_the_private_key_only_in_the_keyring_and_show_prints_the_record() {
    for (algorithm, k, selector) in [("rsa2048", "rsa", "gen-rsa"), ("ed25519", "ed25519", "gen-ed")] {
        let d = desk(1, selector, "gen.test", algorithm, false);
        let info = key_json(&d, &["generate"]);
        let name = format!("{selector}._domainkey.gen.test");
        assert_eq!(info["record_name"], name.as_str());
        assert_eq!(info["algorithm"], algorithm);
        let value = info["record_value"].as_str().unwrap().to_string();
        assert!(value.starts_with(&format!("v=DKIM1; k={k}; p=")), "{value}");

        // The private key is in the real Secret Service, under the profile + selector + domain entry.
        let account = secrets::dkim_account("global", selector, "gen.test");
        let stored = secrets::get_dkim(&account).unwrap().expect("the key is in the keyring");
        let (tag, b64) = stored.expose().split_once(':').unwrap();
        assert_eq!(tag, algorithm);
        use base64::Engine;
        let der = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
        assert!(der.len() > 40, "a private key");

        // ... and nowhere on disk: not in the settings, the outbox, the logs.
        let show = d.run(&["dkim", "show"], b"");
        ok(&show);
        let printed = format!("{}{}", stdout(&show), stderr(&show));
        for (path, bytes) in files_under(d.config.path()).into_iter().chain(files_under(d.data.path())) {
            assert!(!contains(&bytes, b64.as_bytes()) && !contains(&bytes, &der), "the private key is in {path}");
        }
        assert!(!printed.contains(b64), "show never prints the private key");

        // `show` prints the record to publish: the name and the whole value.
        assert!(printed.contains(&name) && printed.contains(&value), "{printed}");
        if k == "rsa" {
            assert!(value.len() > 255);
            assert!(printed.contains("pieces of at most 255"), "a long value is also shown in pieces: {printed}");
        }

        // A second generate keeps the key and names the fix; --replace makes a new one.
        let again = d.run(&["dkim", "generate"], b"");
        assert_eq!(again.status.code(), Some(1), "{}", stderr(&again));
        assert!(stderr(&again).contains("--replace"), "{}", stderr(&again));
        assert_eq!(key_json(&d, &["show"])["record_value"], value.as_str());
        let replaced = key_json(&d, &["generate", "--replace"]);
        assert_ne!(replaced["record_value"], value.as_str());

        // remove: gone from the keyring, and show says how to make one.
        ok(&d.run(&["dkim", "remove"], b""));
        assert!(secrets::get_dkim(&account).unwrap().is_none());
        let gone = d.run(&["dkim", "show"], b"");
        assert_eq!(gone.status.code(), Some(1));
        assert!(stderr(&gone).contains("smtp-desk dkim generate"), "{}", stderr(&gone));
    }
}

#[test]
fn check_says_whether_dns_holds_our_key() {
    let d = desk(1, "chk", "check.test", "rsa2048", false);
    let ours = key_json(&d, &["generate"]);
    let name = ours["record_name"].as_str().unwrap().to_string();
    let value = ours["record_value"].as_str().unwrap().to_string();
    // Another key for the same name, from another desk.
    let other = desk(1, "chk-other", "check.test", "rsa2048", false);
    let theirs = key_json(&other, &["generate"])["record_value"].as_str().unwrap().to_string();

    let check = |dns_port: u16| {
        let mut c = d.cmd();
        c.args(["dkim", "check", "--json"]).env("SMTP_DESK_DNS_SERVER", format!("127.0.0.1:{dns_port}"));
        let o = c.output().unwrap();
        let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&o)));
        (o.status.code(), v["published"].clone())
    };

    let (_dns, port) = dns_with(&name, Some(&value));
    assert_eq!(check(port), (Some(0), serde_json::json!({"state": "matches"})));

    let (_dns, port) = dns_with(&name, Some(&theirs));
    let (code, published) = check(port);
    assert_eq!(code, Some(3));
    assert_eq!(published["state"], "different");
    assert!(published["detail"].as_str().unwrap().contains("another key"), "{published}");

    let (_dns, port) = dns_with(&name, None);
    assert_eq!(check(port), (Some(3), serde_json::json!({"state": "missing"})));

    // The text form says what to publish when it is missing.
    let o = d.cmd().args(["dkim", "check"]).env("SMTP_DESK_DNS_SERVER", format!("127.0.0.1:{port}")).output().unwrap();
    assert!(stdout(&o).contains("missing") && stdout(&o).contains(&value), "{}", stdout(&o));

    for desk in [&d, &other] {
        ok(&desk.run(&["dkim", "remove"], b""));
    }
}

/// Verifies the DKIM signatures of `message` with mail-auth, asking the dnsmasq at `dns_port`.
fn verify(message: &[u8], dns_port: u16) -> Vec<mail_auth::DkimResult> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let server = format!("127.0.0.1:{dns_port}").parse().unwrap();
        let auth = smtp_desk::dns::authenticator(Some(server), Duration::from_secs(5)).unwrap();
        let parsed = mail_auth::AuthenticatedMessage::parse(message).expect("a message");
        auth.verify_dkim(mail_auth::Parameters::new(&parsed)).await.into_iter().map(|o| o.result().clone()).collect()
    })
}

/// The message the server received, as bytes with CRLF line ends (as it was sent).
fn received(server: &Server) -> Vec<u8> {
    assert!(wait_until(Duration::from_secs(15), || !server.received().is_empty()), "nothing was delivered");
    let content = server.received()[0]["content"].as_str().unwrap().to_string();
    if content.contains("\r\n") {
        content.into_bytes()
    } else {
        content.replace('\n', "\r\n").into_bytes()
    }
}

fn sendmail(d: &Desk, subject: &str) {
    let text = format!("To: team@example.com\nSubject: {subject}\n\nThe report is attached.\nSecond line.\n");
    ok(&d.run(&["sendmail", "-i", "team@example.com"], text.as_bytes()));
}

#[test]
fn relayed_mail_is_signed_and_the_signature_verifies_for_rsa_and_ed25519() {
    for (algorithm, selector) in [("rsa2048", "relay-rsa"), ("ed25519", "relay-ed")] {
        let server = Server::start(&[]);
        let d = desk(server.port, selector, "signed.test", algorithm, true);
        let info = key_json(&d, &["generate"]);
        let (_dns, dns_port) = dns_with(info["record_name"].as_str().unwrap(), Some(info["record_value"].as_str().unwrap()));

        sendmail(&d, &format!("signed with {algorithm}"));
        ok(&d.run(&["deliver", "--once"], b""));
        let message = received(&server);
        let text = String::from_utf8_lossy(&message).to_string();
        assert!(text.starts_with("DKIM-Signature:"), "the signature comes first: {text}");
        let header: String = text.split("\r\n\r\n").next().unwrap().to_string();
        assert!(header.contains(&format!("s={selector}")) && header.contains("d=signed.test") && header.contains("c=relaxed/relaxed"));
        let h = header.replace("\r\n", "").replace(['\t', ' '], "").to_ascii_lowercase();
        for signed in ["from", "to", "subject", "date", "message-id"] {
            let tags = h.split("h=").nth(1).unwrap().split(';').next().unwrap().to_string();
            assert!(tags.split(':').any(|t| t == signed), "{signed} is signed: h={tags}");
        }

        assert_eq!(verify(&message, dns_port), vec![mail_auth::DkimResult::Pass], "{algorithm}: {text:?}");

        // A body changed on the way fails.
        let tampered = text.replace("The report is attached.", "The report is NOT attached.");
        let results = verify(tampered.as_bytes(), dns_port);
        assert!(format!("{results:?}").contains("FailedBodyHashMatch"), "{algorithm}: {results:?}");
        // So does a changed Subject, and a Reply-To added on the way (signed as absent).
        let tampered = text.replace("Subject: signed with", "Subject: SIGNED with");
        let results = verify(tampered.as_bytes(), dns_port);
        assert!(matches!(results.as_slice(), [mail_auth::DkimResult::Fail(_)]), "{algorithm}: {results:?}");
        let tampered = text.replacen("\r\n\r\n", "\r\nReply-To: thief@evil.test\r\n\r\n", 1);
        let results = verify(tampered.as_bytes(), dns_port);
        assert!(matches!(results.as_slice(), [mail_auth::DkimResult::Fail(_)]), "{algorithm}: {results:?}");

        ok(&d.run(&["dkim", "remove"], b""));
    }
}

#[test]
fn signing_on_without_a_key_holds_the_mail_with_the_reason_until_a_key_is_made() {
    let server = Server::start(&[]);
    let d = desk(server.port, "held", "held.test", "ed25519", true);
    sendmail(&d, "waits for its key");
    ok(&d.run(&["deliver", "--once"], b""));
    std::thread::sleep(Duration::from_millis(300));
    assert!(server.received().is_empty(), "nothing goes out unsigned while signing is on and the key is missing");

    let queued = d.list();
    assert_eq!(queued.len(), 1);
    let note = queued[0].to_string();
    assert!(note.contains("DKIM") && note.contains("smtp-desk dkim generate"), "the queue says why and the fix: {note}");
    let events = d.run(&["events", "--json"], b"");
    ok(&events);
    assert!(stdout(&events).contains("DKIM signing is on but no DKIM key"), "{}", stdout(&events));

    // Once the key exists, the mail goes, signed.
    let info = key_json(&d, &["generate"]);
    let (_dns, dns_port) = dns_with(info["record_name"].as_str().unwrap(), Some(info["record_value"].as_str().unwrap()));
    ok(&d.run(&["deliver", "--once"], b""));
    assert_eq!(verify(&received(&server), dns_port), vec![mail_auth::DkimResult::Pass]);
    ok(&d.run(&["dkim", "remove"], b""));
}

#[test]
fn a_message_that_cannot_be_signed_is_an_error_naming_why() {
    // Library level: intake always adds From, so a message with none of the signed headers
    // only reaches the signer this way; the drain sends such a message unsigned.
    let mut s = smtp_desk::settings::Settings::default();
    s.profile.dkim.enabled = true;
    s.profile.dkim.selector = "nohdr".into();
    s.profile.dkim.domain = "nohdr.test".into();
    s.profile.dkim.algorithm = smtp_desk::settings::DkimAlgorithm::Ed25519;
    smtp_desk::direct::dkim::generate(&s, "global", true).unwrap();
    let signer = smtp_desk::direct::dkim::signer_for(&s, "global", &s.profile).unwrap().expect("signing is on");
    assert!(!format!("{signer:?}").contains("key:"), "Debug never shows the key");
    let e = signer.sign(b"X-Other: 1\r\n\r\nbody\r\n").unwrap_err();
    assert!(e.to_string().contains("no From"), "{e}");
    assert!(signer.sign(b"From: a@nohdr.test\r\n\r\nbody\r\n").unwrap().starts_with(b"DKIM-Signature:"));
    smtp_desk::direct::dkim::remove(&s, "global").unwrap();
    assert!(smtp_desk::direct::dkim::key_info(&s, "global").unwrap().is_none());
}

#[test]
fn a_message_that_cannot_be_signed_goes_out_unsigned_with_one_warning() {
    let server = Server::start(&[]);
    let d = desk(server.port, "unsigned", "unsigned.test", "ed25519", true);
    key_json(&d, &["generate"]);
    // Intake always adds a From; a message queued without one (an older queue, another writer)
    // can't be signed (RFC 6376 §5.4): it must still be delivered.
    let mut store = d.store();
    let no_from = |n: u32| smtp_desk::outbox::Submission {
        sender: "me@example.com".into(),
        recipients: vec!["team@example.com".into()],
        body: format!("Subject: no from {n}\r\n\r\nbody {n}\r\n").into_bytes(),
        subject: format!("no from {n}"),
        message_id: format!("<nofrom{n}@unsigned.test>"),
        source: "test".into(),
        options: Default::default(),
        profile: "global".into(),
    };
    store.insert(&[no_from(1), no_from(2)]).unwrap();
    drop(store);
    ok(&d.run(&["deliver", "--once"], b""));
    assert!(wait_until(Duration::from_secs(15), || server.received().len() == 2), "both delivered");
    for m in server.received() {
        assert!(!m["content"].as_str().unwrap().contains("DKIM-Signature"), "{m}");
    }
    let events = d.run(&["events", "--json"], b"");
    let warnings = stdout(&events).lines().filter(|l| l.contains("without a DKIM signature")).count();
    assert_eq!(warnings, 1, "one warning per pass: {}", stdout(&events));
    ok(&d.run(&["dkim", "remove"], b""));
}

#[test]
fn a_renamed_profile_keeps_its_key_and_a_deleted_one_takes_it_away() {
    let d = desk(1, "ren", "rename.test", "ed25519", false);
    ok(&d.run(&["profile", "create", "ops"], b""));
    ok(&d.run(&["config", "set", "--profile", "ops", "dkim.selector", "ren-ops"], b""));
    let before = key_json(&d, &["generate", "--profile", "ops"]);
    ok(&d.run(&["profile", "rename", "ops", "pager"], b""));
    let after = key_json(&d, &["show", "--profile", "pager"]);
    assert_eq!(after["record_value"], before["record_value"], "the published record stays valid");
    assert!(secrets::get_dkim(&secrets::dkim_account("ops", "ren-ops", "rename.test")).unwrap().is_none());
    ok(&d.run(&["profile", "delete", "pager"], b""));
    assert!(secrets::get_dkim(&secrets::dkim_account("pager", "ren-ops", "rename.test")).unwrap().is_none(), "no orphan key");
}
