//! "Validate configuration" and the test email in Direct mode: the recipient domain's MX hosts
//! from a real DNS server (dnsmasq), real SMTP servers (aiosmtpd, STARTTLS with a self-signed
//! certificate) on port 25 of loopback addresses, the first that answers used.
//!
//! Port 25 and 53 need a network namespace of their own: each test re-runs itself inside
//! `unshare -rn` (root in a new user and network namespace, only loopback, no real network)
//! (tests/support/netns.rs), and the inner run does the work.

mod support;

use smtp_desk::settings::{Mode, Profile};
use smtp_desk::smtp::{self, CancelToken, StepKind, StepStatus};
use support::dns::dnsmasq_on;
use support::{CertKind, Pki, Server};

fn direct_profile() -> Profile {
    Profile { mode: Mode::Direct, ..support::profile(25, smtp_desk::settings::Security::StartTls) }
}

/// The records of the test zone: `rcpt.test` → mx1 (10), mx2 (20); `nullmx.test` says "no mail".
fn zone() -> Vec<String> {
    [
        "--mx-host=rcpt.test,mx1.rcpt.test,10",
        "--mx-host=rcpt.test,mx2.rcpt.test,20",
        "--host-record=mx1.rcpt.test,127.0.0.2",
        "--host-record=mx2.rcpt.test,127.0.0.3",
        "--mx-host=one.test,mx.one.test,10",
        "--host-record=mx.one.test,127.0.0.2",
        // RFC 7505: MX 0 "." (preference 0, the root name), as raw RDATA.
        "--dns-rr=nullmx.test,15,000000",
    ]
    .map(String::from)
    .to_vec()
}

/// aiosmtpd on `ip`:25 with STARTTLS and a self-signed certificate.
fn mx_server(pki: &Pki, ip: &str) -> Server {
    Server::start_tls("starttls", &pki.server_cert(CertKind::SelfSigned), &["--host", ip, "--port", "25"])
}

async fn validate(to: Option<&str>) -> smtp::Outcome {
    let job = smtp::Job::from_values(direct_profile(), None);
    smtp::validate(&job, to, &CancelToken::new(), &mut |_| {}).await
}

fn step(o: &smtp::Outcome, kind: StepKind) -> &smtp::Step {
    o.steps.iter().find(|s| s.step == kind).unwrap_or_else(|| panic!("no {kind:?} step in {:#?}", o.steps))
}

#[tokio::test]
async fn validate_asks_the_first_mx_and_warns_about_its_certificate() {
    if !support::netns::inside("validate_asks_the_first_mx_and_warns_about_its_certificate", &[("SMTP_DESK_DNS_SERVER", "127.0.0.1:53")]) {
        return;
    }
    let _dns = dnsmasq_on("127.0.0.1", Some(53), &zone());
    let pki = Pki::new();
    let _mx1 = mx_server(&pki, "127.0.0.2");
    let o = validate(Some("someone@one.test")).await;
    assert!(o.ok, "{o:#?}");
    let kinds: Vec<StepKind> = o.steps.iter().map(|s| s.step).collect();
    assert_eq!(
        kinds,
        [StepKind::Mx, StepKind::Resolve, StepKind::Connect, StepKind::Banner, StepKind::Ehlo, StepKind::Tls, StepKind::Envelope],
        "no login step in Direct mode"
    );
    assert_eq!(step(&o, StepKind::Mx).status, StepStatus::Ok);
    assert!(step(&o, StepKind::Mx).summary.contains("mx.one.test"), "{:?}", step(&o, StepKind::Mx));
    assert!(step(&o, StepKind::Connect).summary.contains("127.0.0.2:25"));
    let tls = step(&o, StepKind::Tls);
    assert_eq!(tls.status, StepStatus::Warning, "{tls:#?}");
    assert!(o.warnings.iter().any(|w| w.contains("does not verify")), "{:?}", o.warnings);
    assert!(!o.warnings.iter().any(|w| w.contains("Anonymous relay")), "an MX takes mail for its domain: {:?}", o.warnings);
    assert_eq!(step(&o, StepKind::Envelope).status, StepStatus::Ok);
    let transcript = smtp::render_transcript(&o.transcript);
    assert!(transcript.contains("mail servers (MX) of one.test"), "{transcript}");
    assert!(transcript.contains("STARTTLS") && transcript.contains("RCPT TO:<someone@one.test>"), "{transcript}");
}

#[tokio::test]
async fn validate_passes_over_a_first_mx_that_is_down() {
    if !support::netns::inside("validate_passes_over_a_first_mx_that_is_down", &[("SMTP_DESK_DNS_SERVER", "127.0.0.1:53")]) {
        return;
    }
    let _dns = dnsmasq_on("127.0.0.1", Some(53), &zone());
    let pki = Pki::new();
    // mx1 (127.0.0.2) has no server: connection refused.
    let _mx2 = mx_server(&pki, "127.0.0.3");
    let o = validate(Some("someone@rcpt.test")).await;
    assert!(o.ok, "{o:#?}");
    assert!(step(&o, StepKind::Mx).summary.contains("mx1.rcpt.test, mx2.rcpt.test"), "{:?}", step(&o, StepKind::Mx));
    assert!(step(&o, StepKind::Connect).summary.contains("127.0.0.3:25"), "{:?}", step(&o, StepKind::Connect));
    assert!(step(&o, StepKind::Resolve).details.iter().any(|(k, _)| k.contains("mx1.rcpt.test")), "mx1 is named as passed over");
    assert!(o.warnings.iter().any(|w| w.contains("mx1.rcpt.test") && w.contains("mx2.rcpt.test was used")), "{:?}", o.warnings);
    let transcript = smtp::render_transcript(&o.transcript);
    assert!(transcript.contains("127.0.0.2:25") && transcript.contains("127.0.0.3:25"), "{transcript}");
}

#[tokio::test]
async fn send_test_goes_to_the_recipients_mx() {
    if !support::netns::inside("send_test_goes_to_the_recipients_mx", &[("SMTP_DESK_DNS_SERVER", "127.0.0.1:53")]) {
        return;
    }
    let _dns = dnsmasq_on("127.0.0.1", Some(53), &zone());
    let pki = Pki::new();
    let mx = mx_server(&pki, "127.0.0.2");
    let job = smtp::Job::from_values(direct_profile(), None);
    let o = smtp::send_test(&job, "someone@one.test", &CancelToken::new(), &mut |_| {}).await.unwrap();
    assert!(o.ok, "{o:#?}");
    assert_eq!(o.steps.first().map(|s| s.step), Some(StepKind::Mx));
    let got = mx.received();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["rcpt_tos"][0], "someone@one.test");
}

#[tokio::test]
async fn a_null_mx_fails_the_mx_step_clearly() {
    if !support::netns::inside("a_null_mx_fails_the_mx_step_clearly", &[("SMTP_DESK_DNS_SERVER", "127.0.0.1:53")]) {
        return;
    }
    let _dns = dnsmasq_on("127.0.0.1", Some(53), &zone());
    let o = validate(Some("someone@nullmx.test")).await;
    assert!(!o.ok);
    assert_eq!(o.failed_step(), Some(StepKind::Mx), "{o:#?}");
    let f = o.failure.as_ref().unwrap();
    assert!(f.message.contains("null MX") && f.message.contains("nullmx.test"), "{f:?}");
    assert!(o.steps[1..].iter().all(|s| s.status == StepStatus::Skipped));
}

#[tokio::test]
async fn direct_validation_without_a_recipient_names_the_field() {
    // No network is touched: the refusal comes first.
    let report = smtp::check_validate(&direct_profile(), None).unwrap_err();
    assert_eq!(report.field.as_deref(), Some("to"));
    assert!(report.message.contains("test recipient"), "{}", report.message);
    let o = validate(None).await;
    assert!(!o.ok && o.steps.is_empty());
    assert!(o.failure.unwrap().message.contains("test recipient"));
    // A relay still validates with the sender as recipient.
    assert!(smtp::check_validate(&support::profile(25, smtp_desk::settings::Security::StartTls), None).is_ok());
}
