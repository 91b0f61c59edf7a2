//! The relay certificate's end on the dashboard: delivery over STARTTLS to a real server
//! (aiosmtpd) keeps what the certificate said in the event log (once a day, not per connection);
//! `smtp-desk status --json` then shows a warning when it ends within two weeks, an error once it
//! has ended (delivery fails on it), and nothing when it has long to go.

mod support;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde_json::Value;
use std::time::{Duration, Instant};
use support::desk::{ok, Desk};
use support::Server;

fn json_lines(desk: &Desk, args: &[&str]) -> Vec<Value> {
    let o = desk.run(args, b"");
    ok(&o);
    String::from_utf8(o.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// The dashboard's problems about the relay's certificate.
fn certificate_problems(desk: &Desk) -> Vec<Value> {
    let d = status(desk);
    d["problems"].as_array().unwrap().iter().filter(|p| p["title"].as_str().unwrap().contains("certificate of")).cloned().collect()
}

/// A desk delivering over STARTTLS (checking on, the test CA trusted) to a server with `cert`:
/// each message handed to `sendmail`, whose one-shot delivery run is waited for before the next,
/// so each goes over a connection of its own.
fn deliver_through(pki: &support::Pki, cert: &(std::path::PathBuf, std::path::PathBuf), messages: usize) -> (Server, Desk) {
    let server = Server::start_tls("starttls", cert, &[]);
    let ca = pki.ca_pem.to_str().unwrap().to_string();
    let desk = Desk::relay(server.port, &["relay.security", "start_tls", "relay.ca_file", &ca, "bounces.send", "false"]);
    for i in 0..messages {
        let msg = format!("From: app@example.com\nTo: ok@example.com\nSubject: cert {i}\n\nbody\n");
        ok(&desk.run(&["sendmail", "-f", "app@example.com", "ok@example.com"], msg.as_bytes()));
        let done = || {
            let tried = json_lines(&desk, &["log", "--json"]).iter().filter(|r| r["result"] != "received").count();
            tried == i + 1 && status(&desk)["agent_running"] == false
        };
        let end = Instant::now() + Duration::from_secs(20);
        while !done() {
            assert!(Instant::now() < end, "message {i} was not tried: {:#?}", json_lines(&desk, &["log", "--json"]));
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    (server, desk)
}

fn status(desk: &Desk) -> Value {
    let o = desk.run(&["status", "--json"], b"");
    ok(&o);
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The UTC day `days` from today, and how the app shows it (the local date of its first moment).
fn day_from_today(days: i64) -> (Date, String) {
    let day = jiff::Timestamp::now().to_zoned(TimeZone::UTC).date().checked_add(jiff::Span::new().days(days)).unwrap();
    let shown = day.to_zoned(TimeZone::UTC).unwrap().timestamp().to_zoned(TimeZone::system()).date().to_string();
    (day, shown)
}

#[test]
fn a_certificate_ending_within_two_weeks_is_a_warning_on_the_dashboard() {
    let pki = support::Pki::new();
    let (end, shown) = day_from_today(8);
    let (server, desk) = deliver_through(&pki, &pki.server_cert_ending(end), 2);
    assert_eq!(server.received().len(), 2, "a certificate ending soon still works");

    // Two connections, one event: the same certificate is kept once a day.
    let events = json_lines(&desk, &["events", "--json", "--category", "certificate"]);
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["severity"], "warning");
    assert_eq!(events[0]["detail"]["host"], "127.0.0.1");
    assert!(events[0]["summary"].as_str().unwrap().contains(&format!("ends on {shown}")), "{events:#?}");

    let problems = certificate_problems(&desk);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    let p = &problems[0];
    assert_eq!(p["severity"], "warning");
    let hint = p["hint"].as_str().unwrap();
    // Ending at the start of a UTC day 8 days on: 7 or 8 calendar days away, by the time zone.
    let days = ["(in 7 days)", "(in 8 days)"];
    assert!(
        hint.starts_with(&format!("The certificate of 127.0.0.1 ends on {shown} (in ")) && days.iter().any(|d| hint.contains(d)),
        "{p:#}"
    );
    assert!(hint.contains("Tell the server's administrator") && hint.contains("wait in the queue"), "{p:#}");
}

#[test]
fn a_certificate_valid_for_a_year_is_no_problem() {
    let pki = support::Pki::new();
    let (end, shown) = day_from_today(365);
    let (server, desk) = deliver_through(&pki, &pki.server_cert_ending(end), 1);
    assert_eq!(server.received().len(), 1);
    let events = json_lines(&desk, &["events", "--json", "--category", "certificate"]);
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["severity"], "info");
    assert!(events[0]["summary"].as_str().unwrap().contains(&format!("ends on {shown}")), "{events:#?}");
    assert_eq!(certificate_problems(&desk), Vec::<Value>::new());
}

#[test]
fn an_expired_certificate_fails_delivery_and_the_dashboard_says_so() {
    let pki = support::Pki::new();
    let (server, desk) = deliver_through(&pki, &pki.server_cert(support::CertKind::Expired), 1);
    assert_eq!(server.received().len(), 0, "nothing goes over a connection with an expired certificate");
    let log = json_lines(&desk, &["log", "--json", "--result", "deferred"]);
    assert!(log[0]["reply"].as_str().unwrap().contains("outside its validity period"), "{log:#?}");

    let problems = certificate_problems(&desk);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    let p = &problems[0];
    assert_eq!(p["severity"], "error");
    // Expired on 2021-01-01 00:00 UTC: the last day of 2020 west of Greenwich.
    let title = p["title"].as_str().unwrap();
    assert!(
        title == "The certificate of 127.0.0.1 ended on 2021-01-01" || title == "The certificate of 127.0.0.1 ended on 2020-12-31",
        "{p:#}"
    );
    assert!(p["hint"].as_str().unwrap().contains("renews the certificate"), "{p:#}");

    // With certificate checking turned off the mail goes out: the dashboard must not say it
    // fails, but still that the connection can't be trusted.
    ok(&desk.run(&["config", "set", "relay.verify_certificates", "false"], b""));
    let problems = certificate_problems(&desk);
    assert_eq!((problems.len(), problems[0]["severity"].as_str()), (1, Some("warning")), "{problems:#?}");
    assert!(problems[0]["hint"].as_str().unwrap().contains("checking is off"), "{problems:#?}");
}
