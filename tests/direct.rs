//! Direct delivery through the real `smtp-desk` binary (`sendmail`, then `deliver --once`): a real
//! DNS server (dnsmasq, named by `SMTP_DESK_DNS_SERVER`) serving MX, A, TXT and null-MX records
//! for `.test` domains, real SMTP servers (aiosmtpd) on loopback addresses at port 25 as the MX
//! hosts, and an HTTPS server for MTA-STS policies (port 443).
//!
//! Ports 25, 53 and 443 need a network namespace of their own: each test re-runs itself under
//! `unshare -rn` (its own loopback, no real network), and the inner run does the work.

mod support;

use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use support::desk::{ok, Desk};
use support::dns::{dnsmasq_on, Killed};
use support::{wait_until, Pki, Server};

/// An MX host: aiosmtpd on `ip`:25.
fn mx_server(ip: &str, extra: &[&str]) -> Server {
    let mut args = vec!["--host", ip, "--port", "25"];
    args.extend_from_slice(extra);
    Server::start(&args)
}

/// dnsmasq on 127.0.0.1:53 with `records`, named by `SMTP_DESK_DNS_SERVER` for every command run.
fn dns(records: &[&str]) -> Killed {
    let records: Vec<String> = records.iter().map(|r| r.to_string()).collect();
    let (dns, _) = dnsmasq_on("127.0.0.1", Some(53), &records);
    dns
}

/// A desk in Direct mode, sending as me@sender.test, with `env` set for each command.
fn direct_desk() -> Desk {
    let d = Desk { config: tempfile::tempdir().unwrap(), data: tempfile::tempdir().unwrap() };
    let args = [
        "config",
        "set",
        "mode",
        "direct",
        "ehlo_name",
        "desk.sender.test",
        "sender.from_address",
        "me@sender.test",
        "limits.timeout_secs",
        "3",
    ];
    ok(&d.run(&args, b""));
    d
}

/// Sends one message to `to`, then runs delivery until nothing is queued or sending (sendmail
/// starts a run of its own; `deliver --once` makes sure one ran).
fn send(desk: &Desk, to: &[&str]) {
    let mut args = vec!["sendmail", "-i", "-f", "me@sender.test"];
    args.extend_from_slice(to);
    ok(&desk.run(&args, b"From: me@sender.test\nSubject: direct\n\nHello over port 25.\n"));
    // 0, or 75 (EX_TEMPFAIL) when this run was the one that deferred something: which run
    // delivers (sendmail's own or this one) is a race, so either is right here.
    let run = desk.run(&["deliver", "--once"], b"");
    assert!(matches!(run.status.code(), Some(0 | 75)), "deliver --once: {:?}: {}", run.status.code(), String::from_utf8_lossy(&run.stderr));
    let settled = wait_until(Duration::from_secs(20), || {
        desk.list()
            .iter()
            .all(|m| m["recipients"].as_array().unwrap().iter().all(|r| !matches!(r["state"].as_str(), Some("queued" | "sending"))))
    });
    assert!(settled, "delivery did not finish: {:?}", desk.list());
}

/// Each recipient's (state, last reply).
fn states(desk: &Desk) -> std::collections::HashMap<String, (String, String)> {
    desk.list()
        .iter()
        .flat_map(|m| m["recipients"].as_array().unwrap().clone())
        .map(|r| {
            let address = r["address"].as_str().unwrap().to_string();
            (address, (r["state"].as_str().unwrap().to_string(), r["last_reply"].as_str().unwrap_or("").to_string()))
        })
        .collect()
}

/// The mail log's delivery rows (not intake's).
fn log(desk: &Desk) -> Vec<Value> {
    let o = desk.run(&["log", "--json"], b"");
    ok(&o);
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["result"] != "received")
        .collect()
}

fn log_of<'a>(rows: &'a [Value], recipient: &str) -> &'a Value {
    rows.iter().find(|r| r["recipient"] == recipient).unwrap_or_else(|| panic!("no log row for {recipient}: {rows:?}"))
}

fn rcpts(server: &Server) -> Vec<Vec<String>> {
    server.received().iter().map(|m| m["rcpt_tos"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_string()).collect()).collect()
}

fn set_env(key: &str, value: &Path) {
    // The inner run is one test on one thread: nothing reads the environment meanwhile.
    std::env::set_var(key, value);
}

#[test]
fn two_domains_in_one_message_each_get_only_their_recipients() {
    if !support::netns::inside("two_domains_in_one_message_each_get_only_their_recipients", &[]) {
        return;
    }
    let _dns = dns(&[
        "--mx-host=a.test,mx.a.test,10",
        "--mx-host=b.test,mx.b.test,10",
        "--host-record=mx.a.test,127.0.0.11",
        "--host-record=mx.b.test,127.0.0.12",
    ]);
    set_env("SMTP_DESK_DNS_SERVER", Path::new("127.0.0.1:53"));
    let (a, b) = (mx_server("127.0.0.11", &[]), mx_server("127.0.0.12", &["--refuse-rcpt", "gone@b.test"]));
    let desk = direct_desk();
    send(&desk, &["x@a.test", "y@a.test", "z@b.test", "gone@b.test"]);
    assert_eq!(rcpts(&a), vec![vec!["x@a.test".to_string(), "y@a.test".to_string()]]);
    assert_eq!(rcpts(&b), vec![vec!["z@b.test".to_string()]]);
    let s = states(&desk);
    assert_eq!(s["x@a.test"].0, "sent");
    assert_eq!(s["z@b.test"].0, "sent");
    // A 5xx fails only that recipient.
    assert_eq!(s["gone@b.test"].0, "failed", "{s:?}");
    let rows = log(&desk);
    assert_eq!(log_of(&rows, "x@a.test")["server"], "mx.a.test:25 [127.0.0.11]");
    assert_eq!(log_of(&rows, "z@b.test")["server"], "mx.b.test:25 [127.0.0.12]");
}

#[test]
fn the_second_mx_takes_the_mail_when_the_first_is_down_and_an_unreachable_domain_defers_only_its_own() {
    if !support::netns::inside("the_second_mx_takes_the_mail_when_the_first_is_down_and_an_unreachable_domain_defers_only_its_own", &[]) {
        return;
    }
    let _dns = dns(&[
        "--mx-host=d.test,mx1.d.test,10",
        "--mx-host=d.test,mx2.d.test,20",
        "--host-record=mx1.d.test,127.0.0.21",
        "--host-record=mx2.d.test,127.0.0.22",
        "--mx-host=down.test,mx.down.test,10",
        "--host-record=mx.down.test,127.0.0.23",
    ]);
    set_env("SMTP_DESK_DNS_SERVER", Path::new("127.0.0.1:53"));
    // Nothing listens on 127.0.0.21 nor 127.0.0.23.
    let second = mx_server("127.0.0.22", &[]);
    let desk = direct_desk();
    send(&desk, &["r@d.test", "s@down.test"]);
    assert_eq!(rcpts(&second), vec![vec!["r@d.test".to_string()]]);
    let s = states(&desk);
    assert_eq!(s["r@d.test"].0, "sent", "{s:?}");
    assert_eq!(s["s@down.test"].0, "deferred", "{s:?}");
    assert!(s["s@down.test"].1.contains("no mail server of down.test answered"), "{s:?}");
    assert_eq!(log_of(&log(&desk), "r@d.test")["server"], "mx2.d.test:25 [127.0.0.22]");
}

#[test]
fn a_null_mx_fails_for_good_and_an_implicit_mx_is_used() {
    if !support::netns::inside("a_null_mx_fails_for_good_and_an_implicit_mx_is_used", &[]) {
        return;
    }
    // A null MX (RFC 7505): preference 0, the root as exchange (raw RDATA 0000 00).
    let _dns = dns(&["--dns-rr=null.test,15,000000", "--host-record=null.test,127.0.0.41", "--host-record=implicit.test,127.0.0.42"]);
    set_env("SMTP_DESK_DNS_SERVER", Path::new("127.0.0.1:53"));
    let (decoy, implicit) = (mx_server("127.0.0.41", &[]), mx_server("127.0.0.42", &[]));
    let desk = direct_desk();
    send(&desk, &["n@null.test", "i@implicit.test"]);
    let s = states(&desk);
    assert_eq!(s["n@null.test"].0, "failed", "{s:?}");
    assert!(s["n@null.test"].1.contains("null MX (RFC 7505)"), "{s:?}");
    assert!(log_of(&log(&desk), "n@null.test")["reply"].as_str().unwrap().contains("RFC 7505"));
    assert!(rcpts(&decoy).is_empty(), "a null MX domain's own address is not used");
    assert_eq!(s["i@implicit.test"].0, "sent", "{s:?}");
    assert_eq!(rcpts(&implicit), vec![vec!["i@implicit.test".to_string()]]);
}

#[test]
fn a_dns_server_that_does_not_answer_defers_the_mail() {
    if !support::netns::inside("a_dns_server_that_does_not_answer_defers_the_mail", &[]) {
        return;
    }
    // No DNS server at all at the address named (dnsmasq stopped).
    set_env("SMTP_DESK_DNS_SERVER", Path::new("127.0.0.1:53"));
    let desk = direct_desk();
    send(&desk, &["t@a.test"]);
    let s = states(&desk);
    assert_eq!(s["t@a.test"].0, "deferred", "{s:?}");
    assert!(s["t@a.test"].1.contains("looking up the mail servers of a.test"), "{s:?}");
}

#[test]
fn starttls_is_used_when_offered_and_a_self_signed_certificate_is_accepted_and_noted() {
    if !support::netns::inside("starttls_is_used_when_offered_and_a_self_signed_certificate_is_accepted_and_noted", &[]) {
        return;
    }
    let _dns = dns(&["--mx-host=tls.test,mx.tls.test,10", "--host-record=mx.tls.test,127.0.0.51"]);
    set_env("SMTP_DESK_DNS_SERVER", Path::new("127.0.0.1:53"));
    let pki = Pki::new();
    let server = Server::start_tls("starttls", &pki.server_cert(support::CertKind::SelfSigned), &["--host", "127.0.0.51", "--port", "25"]);
    let desk = direct_desk();
    send(&desk, &["t@tls.test"]);
    assert_eq!(rcpts(&server).len(), 1);
    let row = log_of(&log(&desk), "t@tls.test").clone();
    assert_eq!(row["result"], "sent", "{row}");
    assert!(row["tls"].as_str().is_some_and(|t| t.starts_with("TLS")), "{row}");
    assert!(row["reply"].as_str().unwrap().contains("certificate does not verify"), "{row}");
}

/// An MTA-STS domain: its MX mx.DOMAIN with a certificate from the test CA, its policy served
/// over HTTPS at mta-sts.DOMAIN (127.0.0.61:443), allowing `allowed`.
struct StsDomain {
    dns: Killed,
    web: Option<Killed>,
    mx: Server,
    _pki: Pki,
    _root: tempfile::TempDir,
}

/// The DNS of an MTA-STS domain whose TXT record has `id`.
fn sts_dns(domain: &str, id: &str) -> Killed {
    dns(&[
        &format!("--mx-host={domain},mx.{domain},10"),
        &format!("--host-record=mx.{domain},127.0.0.62"),
        &format!("--host-record=mta-sts.{domain},127.0.0.61"),
        &format!("--txt-record=_mta-sts.{domain},v=STSv1; id={id}"),
    ])
}

fn sts_domain(domain: &str, mode: &str, allowed: &str) -> StsDomain {
    let mx_name = format!("mx.{domain}");
    let dns = sts_dns(domain, "20261123");
    set_env("SMTP_DESK_DNS_SERVER", Path::new("127.0.0.1:53"));
    let pki = Pki::new();
    set_env("SMTP_DESK_EXTRA_CA", &pki.ca_pem);
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join(format!("mta-sts.{domain}/.well-known"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("mta-sts.txt"), format!("version: STSv1\r\nmode: {mode}\r\nmx: {allowed}\r\nmax_age: 86400\r\n")).unwrap();
    let (cert, key) = pki.server_cert_for(&[&format!("mta-sts.{domain}")]);
    let mut web = Command::new("/usr/bin/python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers/https_server.py"))
        .args(["--host", "127.0.0.61", "--port", "443", "--root"])
        .arg(root.path())
        .arg("--cert")
        .arg(&cert)
        .arg("--key")
        .arg(&key)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(web.stdout.take().unwrap()), &mut line).unwrap();
    assert!(line.starts_with("READY"), "{line}");
    let mx = Server::start_tls("starttls", &pki.server_cert_for(&[&mx_name]), &["--host", "127.0.0.62", "--port", "25"]);
    StsDomain { dns, web: Some(Killed(web)), mx, _pki: pki, _root: root }
}

#[test]
fn mta_sts_enforce_with_a_listed_mx_and_a_valid_certificate_delivers() {
    if !support::netns::inside("mta_sts_enforce_with_a_listed_mx_and_a_valid_certificate_delivers", &[]) {
        return;
    }
    let mut d = sts_domain("sts.test", "enforce", "*.sts.test");
    let desk = direct_desk();
    send(&desk, &["p@sts.test"]);
    assert_eq!(rcpts(&d.mx), vec![vec!["p@sts.test".to_string()]]);
    let row = log_of(&log(&desk), "p@sts.test").clone();
    assert_eq!(row["result"], "sent", "{row}");
    assert!(row["tls"].as_str().is_some_and(|t| t.starts_with("TLS")), "{row}");
    assert!(row["reply"].as_str().unwrap().contains("MTA-STS enforce"), "{row}");
    // The policy is cached beside the outbox.
    let cache = std::fs::read_to_string(desk.data.path().join("mta-sts.json")).unwrap();
    assert!(cache.contains("sts.test") && cache.contains("enforce"), "{cache}");
    // A new policy id whose policy can't be fetched (the web server is gone): the cached policy
    // still applies (RFC 8461 §5.1), it is not dropped to "no policy".
    d.web.take();
    d.dns = {
        drop(std::mem::replace(&mut d.dns, Killed(Command::new("true").spawn().unwrap())));
        sts_dns("sts.test", "20261124")
    };
    send(&desk, &["p2@sts.test"]);
    let row = log_of(&log(&desk), "p2@sts.test").clone();
    assert_eq!(row["result"], "sent", "{row}");
    let reply = row["reply"].as_str().unwrap();
    assert!(reply.contains("MTA-STS enforce") && reply.contains("the cached policy is used"), "{row}");
}

#[test]
fn mta_sts_enforce_whose_mx_pattern_does_not_match_defers_with_the_reason() {
    if !support::netns::inside("mta_sts_enforce_whose_mx_pattern_does_not_match_defers_with_the_reason", &[]) {
        return;
    }
    let d = sts_domain("sts2.test", "enforce", "mail.elsewhere.test");
    let desk = direct_desk();
    send(&desk, &["q@sts2.test"]);
    assert!(rcpts(&d.mx).is_empty(), "an MX the policy doesn't list gets nothing");
    let s = states(&desk);
    assert_eq!(s["q@sts2.test"].0, "deferred", "{s:?}");
    assert!(s["q@sts2.test"].1.contains("MTA-STS policy of sts2.test (mode enforce) allows only mx mail.elsewhere.test"), "{s:?}");
}

#[test]
fn mta_sts_testing_delivers_as_without_a_policy_and_says_so() {
    if !support::netns::inside("mta_sts_testing_delivers_as_without_a_policy_and_says_so", &[]) {
        return;
    }
    let d = sts_domain("sts3.test", "testing", "mail.elsewhere.test");
    let desk = direct_desk();
    send(&desk, &["t@sts3.test"]);
    assert_eq!(rcpts(&d.mx), vec![vec!["t@sts3.test".to_string()]]);
    let row = log_of(&log(&desk), "t@sts3.test").clone();
    assert_eq!(row["result"], "sent", "{row}");
    assert!(row["reply"].as_str().unwrap().contains("MTA-STS policy of sts3.test is in testing mode"), "{row}");
}

#[test]
fn each_address_of_an_mx_is_tried_ipv6_and_ipv4() {
    if !support::netns::inside("each_address_of_an_mx_is_tried_ipv6_and_ipv4", &[]) {
        return;
    }
    // Both hosts have an IPv6 and an IPv4 address; only one of each listens.
    let _dns = dns(&[
        "--mx-host=v4.test,mx.v4.test,10",
        "--host-record=mx.v4.test,127.0.0.71,::1",
        "--mx-host=v6.test,mx.v6.test,10",
        "--host-record=mx.v6.test,127.0.0.72,::1",
    ]);
    set_env("SMTP_DESK_DNS_SERVER", Path::new("127.0.0.1:53"));
    let (v4, v6) = (mx_server("127.0.0.71", &[]), mx_server("::1", &[]));
    let desk = direct_desk();
    // mx.v4.test's IPv6 address (::1) answers too, so v4.test goes there: stop it after v6.test.
    send(&desk, &["six@v6.test"]);
    drop(v6);
    send(&desk, &["four@v4.test"]);
    let rows = log(&desk);
    assert_eq!(log_of(&rows, "six@v6.test")["server"], "mx.v6.test:25 [::1]", "{rows:?}");
    assert_eq!(log_of(&rows, "four@v4.test")["server"], "mx.v4.test:25 [127.0.0.71]", "{rows:?}");
    assert_eq!(rcpts(&v4), vec![vec!["four@v4.test".to_string()]]);
}

/// A private Secret Service inside the test's network namespace: its own D-Bus session bus (a
/// socket file in a temporary dir) and an unlocked gnome-keyring, named in this process's
/// environment so every `smtp-desk` command run from here uses it. Killed when dropped.
struct PrivateKeyring {
    _bus: Killed,
    _keyring: Killed,
    _dir: tempfile::TempDir,
}

fn private_keyring() -> PrivateKeyring {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let (run, data) = (dir.path().join("run"), dir.path().join("data"));
    for d in [&run, &data] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::set_permissions(&run, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let socket = run.join("bus");
    let address = format!("unix:path={}", socket.display());
    let bus = Killed(
        Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--nopidfile"])
            .arg(format!("--address={address}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start dbus-daemon"),
    );
    assert!(wait_until(Duration::from_secs(5), || socket.exists()), "the private D-Bus did not start");
    set_env("DBUS_SESSION_BUS_ADDRESS", Path::new(&address));
    set_env("XDG_RUNTIME_DIR", &run);
    set_env("XDG_DATA_HOME", &data);
    let mut keyring = Command::new("gnome-keyring-daemon")
        .args(["--foreground", "--unlock", "--components=secrets"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start gnome-keyring-daemon");
    // The password only unlocks this throwaway keyring.
    keyring.stdin.take().unwrap().write_all(b"netns-keyring").unwrap();
    PrivateKeyring { _bus: bus, _keyring: Killed(keyring), _dir: dir }
}

/// Verifies the DKIM signatures of `message` with mail-auth, asking the dnsmasq on 127.0.0.1:53.
fn verify_dkim(message: &[u8]) -> Vec<mail_auth::DkimResult> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let auth = smtp_desk::dns::authenticator(Some("127.0.0.1:53".parse().unwrap()), Duration::from_secs(5)).unwrap();
        let parsed = mail_auth::AuthenticatedMessage::parse(message).expect("a message");
        auth.verify_dkim(mail_auth::Parameters::new(&parsed)).await.into_iter().map(|o| o.result().clone()).collect()
    })
}

/// DKIM on mail sent direct, verified on the message the MX received, against the key published
/// in the test's DNS.
///
/// The key lives in the keyring (Secret Service over D-Bus). The session bus this test binary may
/// have been started with (scripts/session.sh) can be an abstract unix socket, and abstract
/// sockets belong to a network namespace: from inside `unshare -rn` it can't be reached. So the
/// inner run starts its own bus (a socket file, `dbus-daemon --address=unix:path=…`) and an
/// unlocked gnome-keyring on it, and makes the key there with `smtp-desk dkim generate`; the test
/// needs no session of its own and touches no other keyring.
#[test]
fn direct_mail_is_dkim_signed_and_the_signature_verifies_against_the_published_key() {
    if !support::netns::inside("direct_mail_is_dkim_signed_and_the_signature_verifies_against_the_published_key", &[]) {
        return;
    }
    let _keyring = private_keyring();
    let desk = direct_desk();
    let (mx1, mx2) = (mx_server("127.0.0.81", &[]), mx_server("127.0.0.82", &[]));
    for (n, (algorithm, selector)) in [("ed25519", "direct-ed"), ("rsa2048", "direct-rsa")].into_iter().enumerate() {
        let dkim =
            ["config", "set", "dkim.selector", selector, "dkim.domain", "sender.test", "dkim.algorithm", algorithm, "dkim.enabled", "true"];
        ok(&desk.run(&dkim, b""));
        // gnome-keyring takes a moment to claim its name on the bus.
        let mut generated = None;
        let made = wait_until(Duration::from_secs(10), || {
            let o = desk.run(&["dkim", "generate", "--json"], b"");
            if o.status.success() {
                generated = Some(serde_json::from_slice::<Value>(&o.stdout).unwrap());
            }
            o.status.success()
        });
        assert!(made, "dkim generate failed: {}", String::from_utf8_lossy(&desk.run(&["dkim", "generate", "--json"], b"").stderr));
        let info = generated.unwrap();
        let (name, value) = (info["record_name"].as_str().unwrap(), info["record_value"].as_str().unwrap());
        assert_eq!(name, format!("{selector}._domainkey.sender.test"));
        // A TXT record's strings hold 255 bytes each (an RSA key needs two).
        let strings: Vec<String> = value.as_bytes().chunks(255).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
        let _dns = dns(&[
            "--mx-host=dk1.test,mx.dk1.test,10",
            "--host-record=mx.dk1.test,127.0.0.81",
            "--mx-host=dk2.test,mx.dk2.test,10",
            "--host-record=mx.dk2.test,127.0.0.82",
            &format!("--txt-record={name},{}", strings.join(",")),
        ]);
        set_env("SMTP_DESK_DNS_SERVER", Path::new("127.0.0.1:53"));
        // One message to two domains: signed once, each MX gets a signature that verifies.
        send(&desk, &["k@dk1.test", "l@dk2.test"]);
        for mx in [&mx1, &mx2] {
            let got = mx.received();
            assert_eq!(got.len(), n + 1, "{got:?}");
            let content = got[n]["content"].as_str().unwrap();
            let message = if content.contains("\r\n") { content.to_string() } else { content.replace('\n', "\r\n") };
            assert!(message.starts_with("DKIM-Signature:"), "{message}");
            assert!(message.contains("d=sender.test") && message.contains(&format!("s={selector}")), "{message}");
            assert_eq!(verify_dkim(message.as_bytes()), vec![mail_auth::DkimResult::Pass], "{algorithm}: {message}");
            // A body changed on the way fails: the signature covers what the MX received.
            let tampered = message.replace("Hello over port 25.", "Hello over port 26.");
            assert!(format!("{:?}", verify_dkim(tampered.as_bytes())).contains("FailedBodyHashMatch"), "{algorithm}");
        }
    }
}

/// A message failing for good in two domains in one pass (a null MX, and an MX refusing the
/// recipient with 550) gets ONE bounce naming both recipients, not one per domain. The bounce
/// goes direct too, to the sender domain's MX.
#[test]
fn failures_in_two_domains_of_one_message_make_one_bounce_listing_both() {
    if !support::netns::inside("failures_in_two_domains_of_one_message_make_one_bounce_listing_both", &[]) {
        return;
    }
    let _dns = dns(&[
        "--dns-rr=null2.test,15,000000",
        "--mx-host=refuses.test,mx.refuses.test,10",
        "--host-record=mx.refuses.test,127.0.0.91",
        "--mx-host=sender.test,mx.sender.test,10",
        "--host-record=mx.sender.test,127.0.0.92",
    ]);
    set_env("SMTP_DESK_DNS_SERVER", Path::new("127.0.0.1:53"));
    let refuses = mx_server("127.0.0.91", &["--refuse-rcpt", "gone@refuses.test"]);
    let sender = mx_server("127.0.0.92", &[]);
    let desk = direct_desk();
    send(&desk, &["n@null2.test", "gone@refuses.test", "ok@refuses.test"]);
    assert_eq!(rcpts(&refuses), vec![vec!["ok@refuses.test".to_string()]]);
    let s = states(&desk);
    assert_eq!((s["n@null2.test"].0.as_str(), s["gone@refuses.test"].0.as_str()), ("failed", "failed"), "{s:?}");
    let bounces: Vec<Value> = sender.received().into_iter().filter(|m| m["mail_from"] == "").collect();
    assert_eq!(bounces.len(), 1, "one bounce for the message: {bounces:#?}");
    assert_eq!(bounces[0]["rcpt_tos"], serde_json::json!(["me@sender.test"]));
    let content = bounces[0]["content"].as_str().unwrap();
    for failed in ["n@null2.test", "gone@refuses.test"] {
        assert!(content.contains(&format!("Final-Recipient: rfc822; {failed}")), "{failed} is in the bounce: {content}");
    }
    assert!(!content.contains("Final-Recipient: rfc822; ok@refuses.test"), "{content}");
    // Each failure names the host that refused it; the null MX reached none.
    assert!(content.contains("Remote-MTA: dns; mx.refuses.test"), "{content}");
    assert_eq!(content.matches("Remote-MTA:").count(), 1, "{content}");
    assert!(content.contains("5.1.1") && content.contains("RFC 7505"), "{content}");
}

/// Each server's events (connect, ehlo, mail, rcpt, disconnect), in order.
fn server_events(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["event"].as_str().unwrap().to_string())
        .collect()
}

/// A worker keeps its session open for its next message to the same domain (up to
/// `limits.batch_size`), and takes such a message first from the claimed stock: six messages
/// queued alternately to two domains, over one connection at a time with batches of three, take
/// one session per domain, not six.
#[test]
fn messages_to_one_domain_share_a_session_up_to_the_batch_size() {
    if !support::netns::inside("messages_to_one_domain_share_a_session_up_to_the_batch_size", &[]) {
        return;
    }
    let _dns = dns(&[
        "--mx-host=one.test,mx.one.test,10",
        "--host-record=mx.one.test,127.0.0.101",
        "--mx-host=two.test,mx.two.test,10",
        "--host-record=mx.two.test,127.0.0.102",
    ]);
    set_env("SMTP_DESK_DNS_SERVER", Path::new("127.0.0.1:53"));
    let dir = tempfile::tempdir().unwrap();
    let (ev1, ev2) = (dir.path().join("one"), dir.path().join("two"));
    let one = mx_server("127.0.0.101", &["--events", ev1.to_str().unwrap()]);
    let two = mx_server("127.0.0.102", &["--events", ev2.to_str().unwrap()]);
    let desk = direct_desk();
    ok(&desk.run(&["config", "set", "limits.connection_limit", "1", "limits.batch_size", "3"], b""));
    // Queued straight into the store, so one delivery pass finds them all.
    let submission = |n: usize, to: &str| smtp_desk::outbox::Submission {
        sender: "me@sender.test".into(),
        recipients: vec![to.to_string()],
        body: format!("From: me@sender.test\r\nSubject: m{n}\r\n\r\nbody {n}\r\n").into_bytes(),
        subject: format!("m{n}"),
        message_id: format!("<m{n}@sender.test>"),
        source: "test".into(),
        options: Default::default(),
        profile: "global".into(),
    };
    let mut queued = Vec::new();
    for n in 0..6 {
        queued.push(submission(n, if n % 2 == 0 { "a@one.test" } else { "b@two.test" }));
    }
    desk.store().insert(&queued).unwrap();
    ok(&desk.run(&["deliver", "--once"], b""));
    assert!(wait_until(Duration::from_secs(20), || one.received().len() == 3 && two.received().len() == 3), "all six delivered");
    for events in [server_events(&ev1), server_events(&ev2)] {
        assert_eq!(events.iter().filter(|e| *e == "connect").count(), 1, "one session for three messages: {events:?}");
        assert_eq!(events.iter().filter(|e| *e == "mail").count(), 3, "{events:?}");
    }
    // A fourth message to one domain starts a new session: batch_size is the most one carries.
    let more: Vec<_> = (6..10).map(|n| submission(n, "c@one.test")).collect();
    desk.store().insert(&more).unwrap();
    ok(&desk.run(&["deliver", "--once"], b""));
    assert!(wait_until(Duration::from_secs(20), || one.received().len() == 7), "four more delivered");
    let events = server_events(&ev1);
    assert_eq!(events.iter().filter(|e| *e == "connect").count(), 3, "1 + 2 sessions (3 + 1 messages): {events:?}");
}
