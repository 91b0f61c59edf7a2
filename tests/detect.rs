//! `smtp-desk detect` against real servers the test starts: dnsmasq (SRV, MX, A records) on a free
//! loopback port, a static HTTPS server (tests/servers/https_server.py, test CA) playing the
//! domain's autoconfig and the ISPDB, and aiosmtpd as the probe targets. The command is pointed at
//! them through its documented options (SMTP_DESK_DNS_SERVER, SMTP_DESK_EXTRA_CA,
//! SMTP_DESK_ISPDB_URL), as a user behind a private DNS would.
//!
//! Needs root (CI runs as root): autoconfig is fetched from port 443 and the probes knock on 465
//! and 587, so the servers listen there, each test on its own 127.x.y.z address.

mod support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use support::dns::{dnsmasq, Killed};
use support::{Pki, Server};

/// Root is needed to listen on 443/465/587; CI runs as root, so there a skip would hide a failure.
fn root_or_skip() -> bool {
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    assert!(std::env::var("CI").is_err(), "the autodetect tests need root (ports 443/465/587 on 127.x.y.z) and CI runs as root");
    eprintln!("SKIPPED: the autodetect tests need root to listen on ports 443, 465 and 587");
    false
}

/// A loopback address of its own for each server (127.0.0.0/8 is all loopback on Linux).
fn loopback(tag: u8) -> String {
    let pid = std::process::id();
    format!("127.{}.{}.{tag}", 10 + (pid % 200), (pid / 200) % 250 + 1)
}

/// The static web server over `root` (HTTPS with `cert`, else plain HTTP) on `ip:port`.
fn web(root: &Path, ip: &str, port: u16, cert: Option<&(PathBuf, PathBuf)>) -> Killed {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers/https_server.py");
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.arg(script).args(["--host", ip, "--port", &port.to_string(), "--root", root.to_str().unwrap()]);
    if let Some((c, k)) = cert {
        cmd.args(["--cert", c.to_str().unwrap(), "--key", k.to_str().unwrap()]);
    }
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    assert!(line.starts_with("READY"), "web server did not start: {line:?}");
    Killed(child)
}

fn put(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn client_config(host: &str, port: u16, socket: &str) -> String {
    format!(
        r#"<?xml version="1.0"?>
<clientConfig version="1.1"><emailProvider id="x">
  <incomingServer type="imap"><hostname>imap.x</hostname><port>993</port><socketType>SSL</socketType></incomingServer>
  <outgoingServer type="smtp"><hostname>{host}</hostname><port>{port}</port><socketType>{socket}</socketType>
    <username>%EMAILADDRESS%</username><authentication>password-cleartext</authentication></outgoingServer>
</emailProvider></clientConfig>"#
    )
}

/// Everything one test's world needs.
struct World {
    pki: Pki,
    web_root: tempfile::TempDir,
    config: tempfile::TempDir,
    dns_port: u16,
    _keep: Vec<Killed>,
}

impl World {
    fn detect(&self, args: &[&str]) -> (std::process::Output, Value) {
        let out = Command::new(env!("CARGO_BIN_EXE_smtp-desk"))
            .arg("detect")
            .args(args)
            .arg("--json")
            .env("SMTP_DESK_DNS_SERVER", format!("127.0.0.1:{}", self.dns_port))
            .env("SMTP_DESK_EXTRA_CA", &self.pki.ca_pem)
            .env("SMTP_DESK_ISPDB_URL", "https://ispdb.test/v1.1/")
            .env("SMTP_DESK_CONFIG_DIR", self.config.path())
            .env("SMTP_DESK_DATA_DIR", self.config.path().join("data"))
            .env("SMTP_DESK_POLICY", self.config.path().join("no-policy.json"))
            .output()
            .unwrap();
        let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("not JSON: {}", support::said(&out)));
        (out, json)
    }
}

fn source<'a>(d: &'a Value, name: &str) -> &'a Value {
    d["sources"].as_array().unwrap().iter().find(|s| s["source"] == name).unwrap_or_else(|| panic!("no source {name}: {d:#}"))
}

/// A world where `web_ip` serves HTTPS on 443 for `names` (and the ISPDB), DNS says what `records` say.
fn world(web_ip: &str, names: &[&str], records: Vec<String>, files: &[(&str, String)]) -> World {
    let pki = Pki::new();
    let web_root = tempfile::tempdir().unwrap();
    for (rel, text) in files {
        put(web_root.path(), rel, text);
    }
    std::fs::create_dir_all(web_root.path().join("ispdb.test/v1.1")).unwrap();
    let mut all: Vec<&str> = names.to_vec();
    all.push("ispdb.test");
    let cert = pki.server_cert_for(&all);
    let server = web(web_root.path(), web_ip, 443, Some(&cert));
    let mut records = records;
    records.push(format!("--host-record=ispdb.test,{web_ip}"));
    let (dns, dns_port) = dnsmasq(&records);
    World { pki, web_root, config: tempfile::tempdir().unwrap(), dns_port, _keep: vec![server, dns] }
}

#[test]
fn everything_published_answers_from_the_highest_priority_source_and_applies() {
    if !root_or_skip() {
        return;
    }
    let (web_ip, smtp_ip) = (loopback(1), loopback(2));
    let d = "all.test";
    let w = world(
        &web_ip,
        &["autoconfig.all.test", "all.test"],
        vec![
            format!("--host-record=autoconfig.{d},{web_ip}"),
            format!("--host-record={d},{web_ip}"),
            format!("--host-record=smtp.{d},{smtp_ip}"),
            format!("--srv-host=_submission._tcp.{d},srv.{d},587"),
            format!("--mx-host={d},mx.{d},10"),
        ],
        &[
            ("autoconfig.all.test/mail/config-v1.1.xml", client_config("smtp.%EMAILDOMAIN%", 465, "SSL")),
            ("all.test/.well-known/autoconfig/mail/config-v1.1.xml", client_config("wellknown.all.test", 587, "STARTTLS")),
            ("ispdb.test/v1.1/all.test", client_config("ispdb.all.test", 587, "STARTTLS")),
        ],
    );
    let smtp_cert = w.pki.server_cert_for(&["smtp.all.test"]);
    let _tls = Server::start_tls("implicit", &smtp_cert, &["--host", &smtp_ip, "--port", "465"]);
    let (out, json) = w.detect(&["jo@all.test"]);
    assert!(out.status.success(), "{}", support::said(&out));
    let best = &json["best"];
    assert_eq!(best["source"], "autoconfig", "{json:#}");
    assert_eq!(best["host"], "smtp.all.test");
    assert_eq!(best["port"], 465);
    assert_eq!(best["security"], "implicit_tls");
    assert_eq!(best["username"], "jo@all.test");
    assert_eq!(best["trust"], "trusted");
    assert_eq!(source(&json, "autoconfig")["status"], "found");
    // The answer came from the top source; each source says what it did.
    for s in json["sources"].as_array().unwrap() {
        assert!(!s["summary"].as_str().unwrap().is_empty(), "{s:#}");
    }

    // --apply fills the profile through the settings path of `config set`.
    let out = Command::new(env!("CARGO_BIN_EXE_smtp-desk"))
        .args(["detect", "jo@all.test", "--apply"])
        .env("SMTP_DESK_DNS_SERVER", format!("127.0.0.1:{}", w.dns_port))
        .env("SMTP_DESK_EXTRA_CA", &w.pki.ca_pem)
        .env("SMTP_DESK_ISPDB_URL", "https://ispdb.test/v1.1/")
        .env("SMTP_DESK_CONFIG_DIR", w.config.path())
        .env("SMTP_DESK_DATA_DIR", w.config.path().join("data"))
        .env("SMTP_DESK_POLICY", w.config.path().join("no-policy.json"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", support::said(&out));
    let shown = support::cli_in(w.config.path(), &w.config.path().join("no-policy.json"), &["config", "show", "--json"], None);
    let settings: Value = serde_json::from_slice(&shown.stdout).unwrap_or_else(|_| panic!("{}", support::said(&shown)));
    let text = settings.to_string();
    for expected in [
        "\"host\":\"smtp.all.test\"",
        "\"port\":465",
        "\"implicit_tls\"",
        "\"username\":\"jo@all.test\"",
        "\"from_address\":\"jo@all.test\"",
    ] {
        assert!(text.contains(expected), "{expected} not in {settings:#}");
    }
    drop(w.web_root);
}

#[test]
fn srv_only() {
    if !root_or_skip() {
        return;
    }
    let web_ip = loopback(3);
    let w = world(&web_ip, &[], vec!["--srv-host=_submissions._tcp.srv.test,mail.srv.test,465".into()], &[]);
    let (out, json) = w.detect(&["jo@srv.test"]);
    assert!(out.status.success(), "{}", support::said(&out));
    assert_eq!(json["best"]["source"], "srv", "{json:#}");
    assert_eq!(json["best"]["host"], "mail.srv.test");
    assert_eq!(json["best"]["security"], "implicit_tls");
    // Sources of higher priority finished first and say why not; lower ones may have been stopped.
    assert!(source(&json, "autoconfig")["summary"].as_str().unwrap().contains("NXDOMAIN"), "{json:#}");
}

#[test]
fn probe_only() {
    if !root_or_skip() {
        return;
    }
    let (web_ip, smtp_ip) = (loopback(4), loopback(5));
    // probe.test's web server serves a broken file at .well-known: reported as bad XML.
    let w = world(
        &web_ip,
        &["probe.test"],
        vec![format!("--host-record=smtp.probe.test,{smtp_ip}"), format!("--host-record=probe.test,{web_ip}")],
        &[("probe.test/.well-known/autoconfig/mail/config-v1.1.xml", "<clientConfig><oops></clientConfig>".into())],
    );
    let cert = w.pki.server_cert_for(&["smtp.probe.test"]);
    let _tls = Server::start_tls("implicit", &cert, &["--host", &smtp_ip, "--port", "465"]);
    let _starttls = Server::start_tls("starttls", &cert, &["--host", &smtp_ip, "--port", "587"]);
    let (out, json) = w.detect(&["jo@probe.test"]);
    assert!(out.status.success(), "{}", support::said(&out));
    assert_eq!(json["best"]["source"], "probe", "{json:#}");
    assert_eq!(json["best"]["host"], "smtp.probe.test");
    assert_eq!(json["best"]["port"], 465);
    assert_eq!(json["best"]["trust"], "trusted", "the certificate checks out with the extra CA: {json:#}");
    // Every source of higher priority had to finish first, so each says why it found nothing.
    assert_eq!(source(&json, "ispdb")["status"], "nothing", "an ISPDB 404: {json:#}");
    assert!(source(&json, "ispdb")["summary"].as_str().unwrap().contains("404"));
    assert_eq!(source(&json, "srv")["status"], "nothing");
    assert_eq!(source(&json, "well_known")["status"], "failed");
    assert!(source(&json, "well_known")["summary"].as_str().unwrap().starts_with("bad XML"), "{json:#}");
    assert!(source(&json, "autoconfig")["summary"].as_str().unwrap().contains("NXDOMAIN"));
    let ports: Vec<u64> = json["candidates"].as_array().unwrap().iter().map(|c| c["port"].as_u64().unwrap()).collect();
    assert!(ports.contains(&587), "587 with STARTTLS is a candidate too: {json:#}");
}

#[test]
fn a_malicious_autoconfig_is_flagged_never_chosen_silently() {
    if !root_or_skip() {
        return;
    }
    let web_ip = loopback(6);
    let w = world(
        &web_ip,
        &["autoconfig.victim.test", "autoconfig.lonely.test"],
        vec![
            format!("--host-record=autoconfig.victim.test,{web_ip}"),
            "--srv-host=_submission._tcp.victim.test,smtp.victim.test,587".into(),
            format!("--host-record=autoconfig.lonely.test,{web_ip}"),
        ],
        &[
            ("autoconfig.victim.test/mail/config-v1.1.xml", client_config("smtp.evil.test", 465, "SSL")),
            ("autoconfig.lonely.test/mail/config-v1.1.xml", client_config("smtp.evil.test", 465, "SSL")),
        ],
    );
    // A trusted source exists: it wins, the other domain's host is listed as needing confirmation.
    let (out, json) = w.detect(&["jo@victim.test"]);
    assert!(out.status.success(), "{}", support::said(&out));
    assert_eq!(json["best"]["host"], "smtp.victim.test", "{json:#}");
    let evil = json["candidates"].as_array().unwrap().iter().find(|c| c["host"] == "smtp.evil.test").expect("listed");
    assert_eq!(evil["trust"], "confirm");
    assert!(evil["note"].as_str().unwrap().contains("must confirm"), "{evil:#}");

    // Nothing else: it is proposed only with the flag, the command says so (exit 22) and --apply
    // refuses without --confirm-host.
    let (out, json) = w.detect(&["jo@lonely.test"]);
    assert_eq!(out.status.code(), Some(22), "{}", support::said(&out));
    assert_eq!(json["best"]["host"], "smtp.evil.test");
    assert_eq!(json["best"]["trust"], "confirm");
    assert!(String::from_utf8_lossy(&out.stderr).contains("outside lonely.test"), "{}", support::said(&out));
    let (out, _) = w.detect(&["jo@lonely.test", "--apply"]);
    assert_eq!(out.status.code(), Some(22));
    assert!(!w.config.path().join("settings.json").exists(), "nothing saved without --confirm-host");
    let (out, _) = w.detect(&["jo@lonely.test", "--apply", "--confirm-host"]);
    assert!(out.status.success(), "confirmed by the user: {}", support::said(&out));
    let saved = std::fs::read_to_string(w.config.path().join("settings.json")).unwrap();
    assert!(saved.contains("smtp.evil.test"), "{saved}");
}

#[test]
fn a_plain_http_autoconfig_is_flagged_not_used() {
    if !root_or_skip() {
        return;
    }
    let (web_ip, plain_ip) = (loopback(7), loopback(8));
    // autoconfig.plain.test only over plain HTTP; plain.test's HTTPS .well-known redirects to http://.
    let w = world(
        &web_ip,
        &["plain.test"],
        vec![format!("--host-record=autoconfig.plain.test,{plain_ip}"), format!("--host-record=plain.test,{web_ip}")],
        &[("plain.test/.well-known/autoconfig/mail/config-v1.1.xml.redirect", "http://plain.test/config.xml".into())],
    );
    let plain_root = tempfile::tempdir().unwrap();
    put(plain_root.path(), "autoconfig.plain.test/mail/config-v1.1.xml", &client_config("smtp.plain.test", 587, "STARTTLS"));
    let _plain = web(plain_root.path(), &plain_ip, 80, None);
    let (out, json) = w.detect(&["jo@plain.test"]);
    assert_eq!(out.status.code(), Some(21), "nothing usable: {}", support::said(&out));
    assert!(json["best"].is_null(), "{json:#}");
    let auto = source(&json, "autoconfig");
    assert_eq!(auto["status"], "failed");
    assert!(auto["summary"].as_str().unwrap().contains("plain HTTP"), "{auto:#}");
    let well_known = source(&json, "well_known");
    assert!(well_known["summary"].as_str().unwrap().contains("redirect to http://plain.test/config.xml not followed"), "{well_known:#}");
    let flagged = &json["candidates"][0];
    assert_eq!(flagged["host"], "smtp.plain.test");
    assert_eq!(flagged["trust"], "refused");
}

#[test]
fn every_source_failing_the_deadline_holds_and_the_builtin_table_answers_offline() {
    // A DNS server that never answers and an ISPDB that accepts connections and never replies.
    let dns = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let ispdb = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let run = |addr: &str| {
        let started = std::time::Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_smtp-desk"))
            .args(["detect", addr, "--json", "--deadline", "1500"])
            .env("SMTP_DESK_DNS_SERVER", dns.local_addr().unwrap().to_string())
            .env("SMTP_DESK_ISPDB_URL", format!("https://127.0.0.1:{}/v1.1/", ispdb.local_addr().unwrap().port()))
            .output()
            .unwrap();
        let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", support::said(&out)));
        (out, json, started.elapsed())
    };
    let (out, json, took) = run("jo@blackhole.test");
    assert_eq!(out.status.code(), Some(21), "{}", support::said(&out));
    for s in json["sources"].as_array().unwrap().iter().filter(|s| s["source"] != "builtin") {
        assert!(s["status"] == "timed_out" || s["status"] == "failed", "{s:#}");
    }
    // DNS never answers, so the DNS sources were cut by the overall deadline, and say so. (No
    // wall-clock assert: a slow machine must not fail this; the benchmark measures the time.)
    assert_eq!(source(&json, "srv")["status"], "timed_out", "{json:#}");
    assert!(source(&json, "srv")["summary"].as_str().unwrap().contains("deadline (1500 ms)"));
    // …and what it was waiting for.
    assert!(source(&json, "srv")["tried"].to_string().contains("_submission._tcp.blackhole.test"), "{json:#}");
    eprintln!("every source failing: answered in {} ms (deadline 1500 ms), {took:?} with the process", json["elapsed_ms"]);

    let (out, json, _) = run("someone@gmail.com");
    assert!(out.status.success(), "{}", support::said(&out));
    assert_eq!(json["best"]["source"], "builtin");
    assert_eq!(json["best"]["host"], "smtp.gmail.com");
}

#[tokio::test]
async fn a_run_is_cancelled_within_moments_and_says_so() {
    let dns = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let options =
        smtp_desk::detect::Options { deadline: Duration::from_secs(30), dns_server: Some(dns.local_addr().unwrap()), ..Default::default() };
    let cancel = tokio_util::sync::CancellationToken::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        stop.cancel();
    });
    let d = tokio::time::timeout(Duration::from_secs(20), smtp_desk::detect::detect("jo@cancel.test", &options, &cancel))
        .await
        .expect("cancelled long before the 30 s deadline")
        .unwrap();
    assert!(d.cancelled);
    assert!(d.best.is_none());
    let srv = d.sources.iter().find(|s| s.source == smtp_desk::detect::Source::Srv).unwrap();
    assert_eq!(srv.status, smtp_desk::detect::Status::Cancelled);
    assert!(srv.tried.iter().any(|(what, why)| what == "_submission._tcp.cancel.test" && why.contains("cancelled")), "{srv:?}");
}

#[test]
fn the_ispdb_address_is_a_setting() {
    if !root_or_skip() {
        return;
    }
    let web_ip = loopback(9);
    let w = world(&web_ip, &[], vec![], &[("ispdb.test/v1.1/isp.test", client_config("smtp.isp.test", 587, "STARTTLS"))]);
    let policy = w.config.path().join("no-policy.json");
    let refused = support::cli_in(w.config.path(), &policy, &["config", "set", "detect.ispdb_url", "http://ispdb.test/v1.1/"], None);
    assert_eq!(refused.status.code(), Some(2), "{}", support::said(&refused));
    assert!(support::said(&refused).contains("detect.ispdb_url"), "{}", support::said(&refused));
    let set = support::cli_in(w.config.path(), &policy, &["config", "set", "detect.ispdb_url", "https://ispdb.test/v1.1/"], None);
    assert!(set.status.success(), "{}", support::said(&set));
    let out = Command::new(env!("CARGO_BIN_EXE_smtp-desk"))
        .args(["detect", "jo@isp.test", "--json"])
        .env("SMTP_DESK_DNS_SERVER", format!("127.0.0.1:{}", w.dns_port))
        .env("SMTP_DESK_EXTRA_CA", &w.pki.ca_pem)
        .env_remove("SMTP_DESK_ISPDB_URL")
        .env("SMTP_DESK_CONFIG_DIR", w.config.path())
        .env("SMTP_DESK_DATA_DIR", w.config.path().join("data"))
        .env("SMTP_DESK_POLICY", &policy)
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", support::said(&out)));
    assert_eq!(json["best"]["source"], "ispdb", "{json:#}");
    assert_eq!(json["best"]["host"], "smtp.isp.test");
    assert_eq!(json["best"]["trust"], "trusted");
}
