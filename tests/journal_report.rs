//! Reports and the dashboard from real deliveries: mail handed to the real `smtp-desk sendmail`,
//! delivered to the real test server (aiosmtpd, tests/servers/smtp_server.py) which refuses some
//! recipients (550) and defers one (450); then `smtp-desk report --json` and `status --json` are
//! checked against figures worked out by hand.

mod support;

use serde_json::{json, Value};
use std::time::Duration;
use support::desk::{ok, Desk};
use support::wait_until;
use support::Server;

fn json_of(desk: &Desk, args: &[&str]) -> Value {
    let o = desk.run(args, b"");
    ok(&o);
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)))
}

fn top(v: &Value) -> Vec<(String, u64, u64)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|t| (t["address"].as_str().unwrap().to_string(), t["count"].as_u64().unwrap(), t["bytes"].as_u64().unwrap()))
        .collect()
}

const REFUSED: &str = "550 5.1.1 <address>: Recipient address rejected: User unknown in local recipient table";
const GREYLISTED: &str = "450 4.2.0 <address>: Recipient address rejected: Greylisted, try again later";

#[test]
fn todays_report_matches_deliveries_counted_by_hand() {
    let server =
        Server::start(&["--refuse-rcpt", "bad@example.net", "--refuse-rcpt", "bad2@example.net", "--defer-rcpt", "slow@example.net"]);
    // No bounce reports to the senders: each would be a fourth message, and the figures below
    // are about the three handed in.
    let desk = Desk::relay(server.port, &["bounces.send", "false"]);
    // Sending off while the three messages are handed in, so they are delivered in one go, in
    // order, whatever the machine's speed.
    ok(&desk.run(&["config", "set", "mode", "off"], b""));
    let send = |from: &str, to: &[&str], subject: &str| {
        let mut args = vec!["sendmail", "-f", from];
        args.extend_from_slice(to);
        ok(&desk.run(&args, format!("Subject: {subject}\n\nHello.\n").as_bytes()));
    };
    // M1: alice → bob, carol (both accepted).
    send("alice@example.com", &["bob@example.com", "carol@example.com"], "one");
    // M2: alice → bob (accepted), bad and bad2 (550: bounced), slow (450: deferred).
    send("alice@example.com", &["bob@example.com", "bad@example.net", "bad2@example.net", "slow@example.net"], "two");
    // M3: dave → bob (accepted).
    send("dave@example.com", &["bob@example.com"], "three");
    ok(&desk.run(&["config", "set", "mode", "relay"], b""));
    ok(&desk.run(&["deliver", "--once"], b""));
    let settled = wait_until(Duration::from_secs(20), || {
        let list = desk.list();
        list.len() == 3
            && list.iter().all(|m| m["recipients"].as_array().unwrap().iter().all(|r| r["state"] != "queued" && r["state"] != "sending"))
    });
    let list = desk.list();
    assert!(settled, "{list:#?}");
    let size = |subject: &str| {
        list.iter().find(|m| m["subject"] == subject).unwrap_or_else(|| panic!("{subject}: {list:#?}"))["size"].as_u64().unwrap()
    };
    let (s1, s2, s3) = (size("one"), size("two"), size("three"));

    let r = json_of(&desk, &["report", "--today", "--json"]);
    // Recipients taken in: M1 2 + M2 4 + M3 1 = 7, in 3 messages.
    // Delivered: M1 2 (bob, carol) + M2 1 (bob) + M3 1 (bob) = 4.
    // Deferred: slow once (its next try is minutes away). Bounced: bad, bad2. Nothing refused or held.
    // Bytes received count each message once: s1 + s2 + s3; delivered count each copy:
    // 2·s1 (bob, carol) + s2 (bob) + s3 (bob).
    assert_eq!(
        r["totals"],
        json!({
            "messages_received": 3, "received": 7, "delivered": 4, "deferred": 1, "bounced": 2, "refused": 0, "held": 0,
            "bytes_received": s1 + s2 + s3, "bytes_delivered": 2 * s1 + s2 + s3,
        }),
        "{r:#}"
    );
    // Every row falls in some hour of today, and the hours add up to the totals.
    let hours = r["hours"].as_array().unwrap();
    assert!((23..=25).contains(&hours.len()), "{}", hours.len());
    let sum = |k: &str| hours.iter().map(|h| h[k].as_u64().unwrap()).sum::<u64>();
    assert_eq!([sum("received"), sum("delivered"), sum("deferred"), sum("bounced"), sum("refused")], [7, 4, 1, 2, 0]);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let busy: Vec<i64> = hours.iter().filter(|h| h["received"].as_u64() != Some(0)).map(|h| h["start"].as_i64().unwrap()).collect();
    assert!(!busy.is_empty() && busy.iter().all(|s| *s <= now && now - s < 2 * 3_600_000), "{busy:?}");

    // Senders count messages taken in (not recipients): alice 2 (M1, M2: s1 + s2 bytes), dave 1 (M3: s3).
    let senders = top(&r["top_senders"]);
    assert_eq!(senders, [("alice@example.com".into(), 2, s1 + s2), ("dave@example.com".into(), 1, s3)]);
    // By size: M2 has 4 recipients to M3's 1 but each message counts once: s1 + s2 > s3.
    assert_eq!(top(&r["top_senders_by_size"]), senders);
    // Recipients count deliveries: bob 3 (M1, M2, M3: s1 + s2 + s3), carol 1 (M1: s1). The
    // refused and deferred recipients got nothing.
    let recipients = top(&r["top_recipients"]);
    assert_eq!(recipients, [("bob@example.com".into(), 3, s1 + s2 + s3), ("carol@example.com".into(), 1, s1)]);
    // By size: the same rows, largest first.
    let mut by_size = recipients.clone();
    by_size.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
    assert_eq!(top(&r["top_recipients_by_size"]), by_size);

    // bad and bad2 got the same reply but for their addresses: one reason, counted twice, shown
    // with the latest recipient (bad2: RCPT order).
    assert_eq!(r["bounce_reasons"], json!([{ "reply": REFUSED, "count": 2, "example": "bad2@example.net" }]), "{r:#}");
    assert_eq!(r["deferral_reasons"], json!([{ "reply": GREYLISTED, "count": 1, "example": "slow@example.net" }]));
    assert_eq!(r["refusal_reasons"], json!([]));

    // One server, all 4 deliveries; delays (taken in → accepted) are real but short.
    let servers = r["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 1, "{servers:?}");
    assert_eq!(
        (servers[0]["server"].as_str().unwrap(), servers[0]["delivered"].as_u64()),
        (format!("127.0.0.1:{}", server.port).as_str(), Some(4))
    );
    let (avg, max) = (servers[0]["avg_delay_ms"].as_u64().unwrap(), servers[0]["max_delay_ms"].as_u64().unwrap());
    assert!(avg <= max && max < 60_000, "avg {avg} max {max}");

    // Problems first: the bounces (an error) with a link to them; 1 deferral in 7 attempts is
    // under the deferral threshold (a fifth of the attempts, and at least 5).
    let problems = r["problems"].as_array().unwrap();
    assert_eq!(problems[0]["severity"], "error", "{problems:#?}");
    assert_eq!(problems[0]["title"], "2 recipients bounced");
    assert_eq!(problems[0]["link"], "log:bounced");
    assert!(!problems.iter().any(|p| p["link"] == "log:deferred"), "{problems:#?}");

    // The human report says the same, problems first.
    let text = String::from_utf8(desk.run(&["report", "--today"], b"").stdout).unwrap();
    let (p, t) = (text.find("2 recipients bounced").unwrap(), text.find("Grand totals").unwrap());
    assert!(p < t, "{text}");
    assert!(text.contains(REFUSED) && text.contains("bob@example.com"), "{text}");

    // The dashboard: the last success and failure are the newest such rows. The three messages
    // go out over parallel connections and their results are written in one transaction, in the
    // order the attempts ended, so which one is newest is up to the machine.
    let d = json_of(&desk, &["status", "--json"]);
    assert_eq!(d["mode"], "relay");
    assert_eq!(d["server"], format!("127.0.0.1:{}", server.port));
    assert_eq!(d["last_sent"]["result"], "sent", "{d:#}");
    assert!(["bob@example.com", "carol@example.com"].contains(&d["last_sent"]["recipient"].as_str().unwrap()), "{d:#}");
    let (failure, hint) = (&d["last_failure"], d["last_failure_hint"].as_str().unwrap());
    match failure["recipient"].as_str().unwrap() {
        "slow@example.net" => assert!(failure["result"] == "deferred" && hint.contains("tried again"), "{d:#}"),
        "bad@example.net" | "bad2@example.net" => assert!(failure["result"] == "bounced" && hint.contains("user is unknown"), "{d:#}"),
        other => panic!("{other} did not fail: {d:#}"),
    }
    assert_eq!(d["agent_running"], false);
    assert_eq!(d["today"], r["totals"]);
    assert_eq!(d["queue"]["failed"], 2);
    // bad and bad2 failed for good and are still in the queue: a problem with a link to them.
    assert!(d["problems"].as_array().unwrap().iter().any(|p| p["link"] == "queue:failed"), "{d:#}");
    // The oldest waiting message is M2 (slow is deferred).
    assert_eq!(d["oldest_waiting"].as_i64().unwrap() / 1000, list[1]["received_at"].as_i64().unwrap());
}

#[test]
fn refusals_at_intake_and_holds_are_counted() {
    let server = Server::start(&[]);
    let desk = Desk::relay(server.port, &["mode", "off"]);
    // Refused: an address with a space (no queue entry, the program is told at once).
    let o = desk.run(&["sendmail", "-f", "alice@example.com", "not an address"], b"Subject: x\n\nx\n");
    assert!(!o.status.success());
    // Held: one message, two recipients, held while sending is off.
    ok(&desk.run(&["sendmail", "-f", "alice@example.com", "bob@example.com", "carol@example.com"], b"Subject: y\n\ny\n"));
    let id = desk.list()[0]["id"].as_i64().unwrap().to_string();
    ok(&desk.run(&["queue", "hold", &id], b""));
    let r = json_of(&desk, &["report", "--today", "--json"]);
    // One refusal (the one recipient); 2 recipients taken in and then held.
    assert_eq!(
        (r["totals"]["refused"].as_u64(), r["totals"]["received"].as_u64(), r["totals"]["held"].as_u64()),
        (Some(1), Some(2), Some(2)),
        "{r:#}"
    );
    assert_eq!(r["refusal_reasons"].as_array().unwrap().len(), 1, "{r:#}");
    assert!(r["problems"].as_array().unwrap().iter().any(|p| p["link"] == "log:refused"), "{r:#}");
}
