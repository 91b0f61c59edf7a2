//! `smtp-desk health --json` against a real DNS server: dnsmasq (tests/support/dns.rs), pointed
//! at through the documented SMTP_DESK_DNS_SERVER, serving a well set up `good.test` and domains
//! that are wrong one way each; it also answers the "my address" name myip.opendns.com (which
//! the command asks of SMTP_DESK_DNS_SERVER when that is set) and the blocklists' zones. The
//! port 25 test runs in a network namespace of its own (`unshare -rn`), where it can play
//! gmail.com's mail server on 127.0.0.25:25.

mod support;

use serde_json::Value;
use std::process::{Command, Output};
use support::dns::{dnsmasq, dnsmasq_on, Killed};

const GOOD_IP: &str = "192.0.2.10";
const DKIM_KEY: &str = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

/// The zones every world has: the blocklists answer NXDOMAIN (not listed) unless a test adds a
/// listing, reverse names of TEST-NET-1 likewise unless a PTR is given.
fn base() -> Vec<String> {
    let mut r: Vec<String> = ["zen.spamhaus.org", "bl.spamcop.net", "b.barracudacentral.org", "2.0.192.in-addr.arpa"]
        .iter()
        .map(|z| format!("--local=/{z}/"))
        .collect();
    r.extend([
        // good.test: everything right for 192.0.2.10 and the EHLO name mail.good.test.
        format!("--host-record=mail.good.test,{GOOD_IP}"),
        "--mx-host=good.test,mx.good.test,10".into(),
        "--host-record=mx.good.test,192.0.2.11".into(),
        format!("--txt-record=good.test,v=spf1 ip4:{GOOD_IP} -all"),
        format!("--txt-record=smtpdesk._domainkey.good.test,{DKIM_KEY}"),
        "--txt-record=_dmarc.good.test,v=DMARC1; p=reject; rua=mailto:dmarc@good.test".into(),
        "--txt-record=_mta-sts.good.test,v=STSv1; id=20260101".into(),
        "--txt-record=_smtp._tls.good.test,v=TLSRPTv1; rua=mailto:tls@good.test".into(),
        // nospf.test: MX only.
        "--mx-host=nospf.test,mx.good.test,10".into(),
        // twospf.test: two SPF records.
        "--mx-host=twospf.test,mx.good.test,10".into(),
        "--txt-record=twospf.test,v=spf1 mx -all".into(),
        format!("--txt-record=twospf.test,v=spf1 ip4:{GOOD_IP} ~all"),
        // hardfail.test: SPF -all without our IP, DMARC p=reject, no DKIM key.
        "--mx-host=hardfail.test,mx.good.test,10".into(),
        "--txt-record=hardfail.test,v=spf1 ip4:192.0.2.99 -all".into(),
        "--txt-record=_dmarc.hardfail.test,v=DMARC1; p=reject".into(),
        // nomx.test: an SPF record but no MX (mail to it goes to its address, if any).
        format!("--txt-record=nomx.test,v=spf1 ip4:{GOOD_IP} -all"),
        // nullmx.test: a null MX (RFC 7505); policy.test: DMARC p=none, a malformed MTA-STS record, a revoked DKIM key.
        "--mx-host=nullmx.test,.,0".into(),
        "--mx-host=policy.test,mx.good.test,10".into(),
        format!("--txt-record=policy.test,v=spf1 ip4:{GOOD_IP} -all"),
        "--txt-record=_dmarc.policy.test,v=DMARC1; p=none".into(),
        "--txt-record=_mta-sts.policy.test,id=2026".into(),
        "--txt-record=smtpdesk._domainkey.policy.test,v=DKIM1; p=".into(),
        // 192.0.2.20: forward-confirmed, but as other.good.test.
        "--ptr-record=20.2.0.192.in-addr.arpa,other.good.test".into(),
        "--address=/other.good.test/192.0.2.20".into(),
        // 192.0.2.21: its PTR names a host that resolves elsewhere.
        "--ptr-record=21.2.0.192.in-addr.arpa,liar.good.test".into(),
        "--address=/liar.good.test/192.0.2.99".into(),
        // 192.0.2.30: listed on Spamhaus ZEN; 192.0.2.40: SpamCop refuses the query.
        "--address=/30.2.0.192.zen.spamhaus.org/127.0.0.2".into(),
        "--address=/40.2.0.192.bl.spamcop.net/127.255.255.254".into(),
    ]);
    r
}

/// A settings directory whose Global profile sends as jo@good.test with EHLO name mail.good.test
/// and DKIM on, plus the profile `lost` whose EHLO name does not resolve.
struct Desk {
    config: tempfile::TempDir,
    dns: String,
    _dns: Option<Killed>,
}

impl Desk {
    fn new(records: Vec<String>) -> Desk {
        let (dns, port) = dnsmasq(&records);
        Desk::with(Some(dns), format!("127.0.0.1:{port}"))
    }

    fn with(dns: Option<Killed>, address: String) -> Desk {
        let d = Desk { config: tempfile::tempdir().unwrap(), dns: address, _dns: dns };
        d.ok(&["config", "set", "ehlo_name", "mail.good.test", "sender.from_address", "jo@good.test", "dkim.enabled", "true"]);
        d.ok(&["profile", "create", "lost"]);
        d.ok(&["config", "set", "--profile", "lost", "ehlo_name", "nowhere.good.test"]);
        d
    }

    fn cmd(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_smtp-desk"))
            .args(args)
            .env("SMTP_DESK_CONFIG_DIR", self.config.path())
            .env("SMTP_DESK_DATA_DIR", self.config.path().join("data"))
            .env("SMTP_DESK_POLICY", self.config.path().join("no-policy.json"))
            .env("SMTP_DESK_DNS_SERVER", &self.dns)
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) {
        let out = self.cmd(args);
        assert!(out.status.success(), "{args:?}: {}", support::said(&out));
    }

    /// `health --json ARGS`: the exit code and the report.
    fn health(&self, args: &[&str]) -> (i32, Value) {
        let mut all = vec!["health", "--json"];
        if !args.contains(&"--timeout") {
            all.extend(["--timeout", "2"]);
        }
        all.extend(args);
        let out = self.cmd(&all);
        let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("not JSON: {}", support::said(&out)));
        (out.status.code().unwrap(), json)
    }
}

/// The line of `check` (for blocklists: the one whose summary names `list`).
fn line<'a>(report: &'a Value, check: &str) -> &'a Value {
    let (check, list) = check.split_once(':').unwrap_or((check, ""));
    report["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["check"] == check && l["summary"].as_str().unwrap().contains(list))
        .unwrap_or_else(|| panic!("no line {check} {list}: {report:#}"))
}

fn status(report: &Value, check: &str) -> String {
    line(report, check)["status"].as_str().unwrap().to_string()
}

#[track_caller]
fn expect(report: &Value, check: &str, want: &str, summary_has: &str) {
    let l = line(report, check);
    assert_eq!(l["status"], want, "{check}: {l:#}");
    assert!(l["summary"].as_str().unwrap().contains(summary_has), "{check}: {l:#}");
    if want != "ok" {
        assert!(!l["hint"].as_str().unwrap().is_empty(), "{check} has no hint: {l:#}");
    }
}

fn record(report: &Value, check: &str) -> String {
    line(report, check)["record"].as_str().unwrap_or_else(|| panic!("{check} has no record: {report:#}")).to_string()
}

#[test]
fn a_well_set_up_domain_passes_every_line_and_the_ip_is_learned_through_dns() {
    let mut records = base();
    records.push(format!("--host-record=myip.opendns.com,{GOOD_IP}"));
    let desk = Desk::new(records);
    let (code, r) = desk.health(&[]);
    assert_eq!(r["domain"], "good.test");
    assert_eq!(r["ehlo_name"], "mail.good.test");
    assert_eq!(r["public_ip"], GOOD_IP, "{r:#}");
    expect(&r, "public_ip", "ok", "myip.opendns.com");
    expect(&r, "ehlo_name", "ok", "mail.good.test resolves to 192.0.2.10");
    expect(&r, "reverse_dns", "ok", "forward-confirmed");
    expect(&r, "spf", "ok", "pass");
    expect(&r, "dkim", "ok", "smtpdesk._domainkey.good.test");
    expect(&r, "dmarc", "ok", "p=reject");
    assert!(line(&r, "dmarc")["summary"].as_str().unwrap().contains("SPF and DKIM"), "{r:#}");
    expect(&r, "mx", "ok", "mx.good.test");
    expect(&r, "mta_sts", "ok", "v=STSv1");
    expect(&r, "tls_rpt", "ok", "v=TLSRPTv1");
    for list in ["Spamhaus", "SpamCop", "Barracuda"] {
        expect(&r, &format!("blocklist:{list}"), "ok", "not listed");
    }
    // gmail.com is not in this DNS: port 25 can't be tried, which is unknown, not a failure.
    expect(&r, "port25", "unknown", "gmail.com");
    assert!(r["lines"].as_array().unwrap().iter().all(|l| l["record"].is_null()), "nothing to publish: {r:#}");
    assert_eq!(code, 0, "{r:#}");

    // The same, read by a person.
    let out = desk.cmd(&["health", "--timeout", "2"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("✓ SPF") && text.contains("✓ Reverse DNS") && text.contains("? Port 25"), "{text}");
}

#[test]
fn each_wrong_record_fails_its_line_with_the_record_to_publish() {
    let desk = Desk::new(base());
    let ip = ["--ip", GOOD_IP];

    let (code, r) = desk.health(&[&ip[..], &["--domain", "nospf.test"]].concat());
    expect(&r, "public_ip", "ok", "(given)");
    expect(&r, "spf", "failed", "none");
    assert_eq!(record(&r, "spf"), format!("nospf.test. TXT \"v=spf1 ip4:{GOOD_IP} ~all\""));
    expect(&r, "dmarc", "warning", "no DMARC record");
    assert_eq!(record(&r, "dmarc"), "_dmarc.nospf.test. TXT \"v=DMARC1; p=none; rua=mailto:postmaster@nospf.test\"");
    expect(&r, "dkim", "failed", "no DKIM record at smtpdesk._domainkey.nospf.test");
    expect(&r, "mta_sts", "ok", "not published");
    expect(&r, "mx", "ok", "mx.good.test");
    assert_eq!(code, 30, "a failed line makes the exit code 30: {r:#}");

    let (_, r) = desk.health(&[&ip[..], &["--domain", "twospf.test"]].concat());
    expect(&r, "spf", "failed", "permerror: twospf.test publishes 2 v=spf1 records");
    let merged = record(&r, "spf");
    assert!(merged.starts_with(&format!("twospf.test. TXT \"v=spf1 ip4:{GOOD_IP} ")) && merged.contains(" mx "), "{merged}");
    assert_eq!(merged.matches("all").count(), 1, "{merged}");

    let (_, r) = desk.health(&[&ip[..], &["--domain", "hardfail.test"]].concat());
    expect(&r, "spf", "failed", "fail: hardfail.test's SPF does not allow 192.0.2.10");
    assert_eq!(record(&r, "spf"), format!("hardfail.test. TXT \"v=spf1 ip4:{GOOD_IP} ip4:192.0.2.99 -all\""));
    expect(&r, "dmarc", "failed", "p=reject, but mail from hardfail.test would not align");

    let (_, r) = desk.health(&[&ip[..], &["--domain", "nomx.test"]].concat());
    expect(&r, "mx", "warning", "no MX record");
    let (_, r) = desk.health(&[&ip[..], &["--domain", "ghost.test"]].concat());
    expect(&r, "mx", "failed", "does not exist");
    let (_, r) = desk.health(&[&ip[..], &["--domain", "nullmx.test"]].concat());
    expect(&r, "mx", "failed", "null MX");

    let (_, r) = desk.health(&[&ip[..], &["--domain", "policy.test"]].concat());
    expect(&r, "dmarc", "ok", "p=none; mail from policy.test aligns through SPF (p=none: receivers only report)");
    expect(&r, "mta_sts", "warning", "none starts with v=STSv1");
    expect(&r, "tls_rpt", "ok", "not published");
    expect(&r, "dkim", "failed", "revoked");

    // Reverse DNS: forward-confirmed under another name; a PTR that lies; none.
    let (_, r) = desk.health(&["--ip", "192.0.2.20"]);
    expect(&r, "reverse_dns", "warning", "other.good.test");
    assert!(line(&r, "reverse_dns")["hint"].as_str().unwrap().contains("ehlo_name other.good.test"), "{r:#}");
    expect(&r, "ehlo_name", "warning", "not to the public IP 192.0.2.20");
    let (_, r) = desk.health(&["--ip", "192.0.2.21"]);
    expect(&r, "reverse_dns", "failed", "does not resolve back");
    let (_, r) = desk.health(&["--ip", "192.0.2.22"]);
    expect(&r, "reverse_dns", "failed", "no PTR");

    // Blocklists: listed is failed; refused (127.255.255.x) is unknown, never listed.
    let (code, r) = desk.health(&["--ip", "192.0.2.30"]);
    expect(&r, "blocklist:Spamhaus", "failed", "is listed (answer 127.0.0.2)");
    assert!(line(&r, "blocklist:Spamhaus")["hint"].as_str().unwrap().contains("https://check.spamhaus.org/"));
    expect(&r, "blocklist:SpamCop", "ok", "not listed");
    assert_eq!(code, 30);
    let (_, r) = desk.health(&["--ip", "192.0.2.40"]);
    expect(&r, "blocklist:SpamCop", "unknown", "refused the query");
    assert_eq!(status(&r, "blocklist:Spamhaus"), "ok");

    // The EHLO name of profile `lost` does not resolve.
    let (_, r) = desk.health(&[&ip[..], &["--profile", "lost"]].concat());
    assert_eq!(r["ehlo_name"], "nowhere.good.test");
    expect(&r, "ehlo_name", "failed", "does not resolve");
    assert_eq!(record(&r, "ehlo_name"), format!("nowhere.good.test. A {GOOD_IP}"));
}

#[test]
fn without_a_public_ip_the_lines_that_need_it_say_unknown() {
    // No myip.opendns.com in this DNS: the address can't be learned.
    let desk = Desk::new(base());
    let (code, r) = desk.health(&[]);
    assert!(r["public_ip"].is_null(), "{r:#}");
    expect(&r, "public_ip", "unknown", "myip.opendns.com");
    for check in ["reverse_dns", "spf", "blocklist:Spamhaus", "blocklist:SpamCop", "blocklist:Barracuda"] {
        assert_eq!(status(&r, check), "unknown", "{check}: {r:#}");
    }
    expect(&r, "mx", "ok", "mx.good.test");
    assert_eq!(code, 0, "unknown is not failed: {r:#}");

    // Bad input is refused with the exit code 2 and a message naming the fix.
    let out = desk.cmd(&["health", "--domain", "not a domain"]);
    assert_eq!(out.status.code(), Some(2), "{}", support::said(&out));
    assert!(support::said(&out).contains("--domain"), "{}", support::said(&out));
    let out = desk.cmd(&["health", "--profile", "nope"]);
    assert_eq!(out.status.code(), Some(2), "{}", support::said(&out));
}

#[test]
fn a_dns_server_that_never_answers_gives_unknown_lines_within_three_timeouts() {
    // A DNS server that takes queries (UDP and TCP) and never answers.
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = udp.local_addr().unwrap().port();
    let _tcp = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let desk = Desk::with(None, format!("127.0.0.1:{port}"));
    for args in [&["--timeout", "1"][..], &["--timeout", "1", "--ip", GOOD_IP]] {
        let started = std::time::Instant::now();
        let (code, r) = desk.health(args);
        let took = started.elapsed();
        assert!(took < std::time::Duration::from_millis(4500), "{args:?} took {took:?}");
        for l in r["lines"].as_array().unwrap() {
            if l["check"] != "public_ip" {
                assert_eq!(l["status"], "unknown", "{args:?}: {l:#}");
            }
        }
        assert_eq!(code, 0, "{r:#}");
    }
}

#[test]
fn port_25_open_refused_and_dropped() {
    if !support::netns::inside("port_25_open_refused_and_dropped", &[]) {
        return;
    }
    let mx_ip = "127.0.0.25";
    let mut records = base();
    records.extend([
        // Dropping privileges to "nobody" fails in a user namespace.
        "--user=root".to_string(),
        "--mx-host=gmail.com,gmail-smtp-in.l.google.com,5".into(),
        format!("--host-record=gmail-smtp-in.l.google.com,{mx_ip}"),
    ]);
    let (dns, port) = dnsmasq_on("127.0.0.1", None, &records);
    let desk = Desk::with(Some(dns), format!("127.0.0.1:{port}"));
    let args = ["--ip", GOOD_IP, "--timeout", "1"];

    // Nothing listens: refused. Only Direct mode needs port 25, so elsewhere it is a warning.
    let (_, r) = desk.health(&args);
    expect(&r, "port25", "warning", "refused the connection");
    desk.ok(&["config", "set", "mode", "direct"]);
    let (code, r) = desk.health(&args);
    expect(&r, "port25", "failed", "refused the connection");
    assert!(line(&r, "port25")["hint"].as_str().unwrap().contains("Relay mode"), "{r:#}");
    assert_eq!(code, 30);

    // A listener: reachable.
    {
        let _listener = std::net::TcpListener::bind((mx_ip, 25)).unwrap();
        let (_, r) = desk.health(&args);
        expect(&r, "port25", "ok", "connected to gmail-smtp-in.l.google.com (127.0.0.25:25)");
    }

    // A listener whose queue is full drops the connection attempts (SYNs go unanswered), as a
    // provider's block does: a timeout. (No iptables here; a backlog of 0 with one connection
    // waiting makes Linux drop further SYNs.)
    let listener = std::net::TcpListener::bind((mx_ip, 25)).unwrap();
    shrink_backlog(&listener);
    let _waiting = std::net::TcpStream::connect((mx_ip, 25)).unwrap();
    let started = std::time::Instant::now();
    let (_, r) = desk.health(&args);
    expect(&r, "port25", "failed", "timed out after 1 s: outgoing port 25 is blocked");
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "took {:?}", started.elapsed());
}

fn shrink_backlog(listener: &std::net::TcpListener) {
    use std::os::fd::AsRawFd;
    // Calling listen() again on a listening socket sets its backlog (Linux).
    assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
}
