//! Bounces (RFC 3464 delivery status notifications): when a recipient fails for good, a
//! `multipart/report; report-type=delivery-status` message queued to the envelope sender.
//!
//! Never to a null sender, never for a bounce (bounces go out with the null sender `<>`, RFC 5321
//! §4.5.5, so two servers can't bounce at each other forever), not when the caller asked for no
//! failure notice (`-N never` / `-N success`), and at most [`Budget::per_hour`] an hour: a storm of
//! failures must not fill the disk with reports; past the cap the failure is only logged.
//! Bounces carry the original headers (`text/rfc822-headers`), or the whole message when the
//! caller asked `-R full`.
//!
//! A bounce is written in the same transaction as the failure it reports: under the delivery
//! agent's `synchronous=NORMAL` a power loss may undo both (the recipient is tried again and
//! fails again, bouncing then), never one without the other.

use super::claim::Job;
use std::collections::VecDeque;

/// The `source` of a queued bounce: how a bounce is known again (never bounced in turn).
pub const SOURCE: &str = "bounce";

/// The longest server reply quoted in a report field (a header line may not exceed 998 bytes).
const MAX_QUOTED: usize = 900;

/// The bounce settings in force for a pass, and the bounces queued in the last hour.
#[derive(Debug, Clone)]
pub struct Budget {
    pub per_hour: u32,
    /// The `From:` of a bounce (the profile's from address: relays often allow only that).
    pub from: String,
    /// This machine's name, as the `Reporting-MTA`.
    pub reporting_mta: String,
    /// When each bounce of the last hour was queued (ms since the epoch), oldest first.
    recent: VecDeque<i64>,
}

impl Budget {
    /// `recent`: when the bounces already queued in the last hour were queued.
    pub fn new(per_hour: u32, from: &str, reporting_mta: &str, mut recent: Vec<i64>) -> Budget {
        recent.sort_unstable();
        Budget { per_hour, from: from.to_string(), reporting_mta: reporting_mta.to_string(), recent: recent.into() }
    }

    fn take(&mut self, now: i64) -> bool {
        while self.recent.front().is_some_and(|&t| t <= now - 3_600_000) {
            self.recent.pop_front();
        }
        if self.recent.len() >= self.per_hour as usize {
            return false;
        }
        self.recent.push_back(now);
        true
    }
}

impl super::Store {
    /// When the bounces of the last hour were queued, for [`Budget::new`].
    pub fn bounces_last_hour(&self) -> Result<Vec<i64>, super::Error> {
        let since = super::now_millis() - 3_600_000;
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT received_at FROM message WHERE source = ?1 AND received_at > ?2")
            .map_err(|e| self.storage(e))?;
        let rows = stmt.query_map(rusqlite::params![SOURCE, since], |r| r.get(0)).map_err(|e| self.storage(e))?;
        rows.collect::<rusqlite::Result<Vec<i64>>>().map_err(|e| self.storage(e))
    }
}

/// One recipient that failed for good.
#[derive(Debug, Clone)]
pub struct Failure {
    pub recipient: String,
    /// The server's reply, or why delivery gave up.
    pub reply: String,
    /// Gave up after the maximum age (rather than a 5xx).
    pub expired: bool,
    /// The server the failure came from (`host:port`, direct delivery adds ` [address]`), `None`
    /// when it reached none (e.g. a null MX): the report's `Remote-MTA`.
    pub remote: Option<String>,
}

/// Why no bounce is written for `job`, if none should be.
pub fn skip_reason(job: &Job) -> Option<&'static str> {
    if job.is_bounce {
        return Some("it is itself a bounce");
    }
    if job.sender.is_empty() {
        return Some("its sender is the null sender");
    }
    if let Some(n) = &job.dsn.notify {
        if !n.split(',').any(|k| k.trim().eq_ignore_ascii_case("FAILURE")) {
            return Some("its sender asked for no failure notice (-N)");
        }
    }
    None
}

/// Queues a bounce for `failed` recipients of `job` inside the caller's transaction: one for all
/// of a message's failures recorded together, even when they came from several servers (direct
/// delivery's domains). Returns how many bounces were queued (0 or 1).
pub(crate) fn queue(
    tx: &rusqlite::Connection,
    job: &Job,
    failed: &[Failure],
    profile: &str,
    now: i64,
    budget: &mut Budget,
) -> rusqlite::Result<usize> {
    if let Some(why) = skip_reason(job) {
        tracing::debug!("no bounce for message {}: {why}", job.id);
        return Ok(0);
    }
    if !budget.take(now) {
        let who: Vec<&str> = failed.iter().map(|f| f.recipient.as_str()).collect();
        tracing::warn!(
            "no bounce to {} for message {} (failed: {}): already {} bounces in the last hour, the limit",
            job.sender,
            job.id,
            who.join(", "),
            budget.per_hour
        );
        return Ok(0);
    }
    let report = report(job, failed, budget);
    tx.prepare_cached(
        "INSERT INTO message (received_at, sender, size, subject, message_id, source, body_type, body, profile)
         VALUES (?1, '', ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(rusqlite::params![
        now,
        report.body.len() as i64,
        SUBJECT,
        report.message_id,
        SOURCE,
        (!report.body.is_ascii()).then_some("8BITMIME"),
        report.body,
        profile
    ])?;
    let id = tx.last_insert_rowid();
    // The bounce goes out with the failed message's profile: its From is that profile's address.
    tx.prepare_cached(
        "INSERT INTO recipient (message, position, address, state, updated_at, profile) VALUES (?1, 0, ?2, 'queued', ?3, ?4)",
    )?
    .execute(rusqlite::params![id, job.sender, now, profile])?;
    // Taken in like any message, so its delivery is counted as received and delivered alike.
    tx.prepare_cached(crate::journal::mail_log::INSERT)?.execute(rusqlite::params![
        now,
        id,
        report.message_id,
        "",
        job.sender,
        report.body.len() as i64,
        SOURCE,
        None::<&str>,
        "received",
        "",
        0,
        profile
    ])?;
    tracing::info!("bounce {id} queued to {} for message {}", job.sender, job.id);
    Ok(1)
}

const SUBJECT: &str = "Undelivered Mail Returned to Sender";

/// A built report.
pub struct Report {
    pub message_id: String,
    pub body: Vec<u8>,
}

/// The RFC 3464 report for `failed` recipients of `job` (CRLF line ends).
pub fn report(job: &Job, failed: &[Failure], budget: &Budget) -> Report {
    let date = email_date(std::time::SystemTime::now());
    let mta = if budget.reporting_mta.is_empty() { "localhost" } else { budget.reporting_mta.as_str() };
    let unique = format!("{}.{}.{}", super::now_millis(), job.id, std::process::id());
    let message_id = format!("<bounce.{unique}@{mta}>");
    let boundary = format!("=_smtp-desk-report-{unique}");
    let arrival = email_date(std::time::UNIX_EPOCH + std::time::Duration::from_millis(job.received_at.max(0) as u64));

    let mut text = String::new();
    text.push_str(&format!("This is the mail system at host {mta}.\r\n\r\n"));
    text.push_str("Your message could not be delivered to one or more recipients.\r\n");
    text.push_str("It is attached below (its headers only, unless you asked for the whole message).\r\n\r\n");
    for f in failed {
        text.push_str(&format!("<{}>: {}\r\n", f.recipient, clip(&f.reply)));
    }

    let mut status = format!("Reporting-MTA: dns; {mta}\r\n");
    if let Some(envid) = job.dsn.envid.as_deref().filter(|e| !e.is_empty()) {
        status.push_str(&format!("Original-Envelope-Id: {}\r\n", clip(envid)));
    }
    status.push_str(&format!("Arrival-Date: {arrival}\r\n"));
    for f in failed {
        status.push_str("\r\n");
        status.push_str(&format!("Final-Recipient: rfc822; {}\r\n", f.recipient));
        status.push_str("Action: failed\r\n");
        status.push_str(&format!("Status: {}\r\n", status_code(f)));
        if let Some(host) = f.remote.as_deref().map(host_of).filter(|h| !h.is_empty()) {
            status.push_str(&format!("Remote-MTA: dns; {host}\r\n"));
        }
        if let Some(reply) = smtp_reply(&f.reply) {
            status.push_str(&format!("Diagnostic-Code: smtp; {}\r\n", clip(reply)));
        }
        status.push_str(&format!("Last-Attempt-Date: {date}\r\n"));
    }

    let (original_type, original) = if job.dsn.ret.as_deref().is_some_and(|r| r.eq_ignore_ascii_case("FULL")) {
        ("message/rfc822", &job.body[..])
    } else {
        ("text/rfc822-headers", headers_of(&job.body))
    };

    let mut body = Vec::with_capacity(2048 + original.len());
    let mut put = |s: &str| body.extend_from_slice(s.as_bytes());
    put(&format!("From: Mail Delivery System <{}>\r\n", budget.from));
    put(&format!("To: <{}>\r\n", job.sender));
    put(&format!("Subject: {SUBJECT}\r\n"));
    put(&format!("Date: {date}\r\n"));
    put(&format!("Message-ID: {message_id}\r\n"));
    // RFC 3834: automatic responders must not answer this.
    put("Auto-Submitted: auto-replied\r\n");
    put("MIME-Version: 1.0\r\n");
    put(&format!("Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"{boundary}\"\r\n\r\n"));
    put("This is a MIME-encapsulated message.\r\n\r\n");
    put(&format!("--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Description: Notification\r\n\r\n{text}\r\n"));
    put(&format!("--{boundary}\r\nContent-Type: message/delivery-status\r\nContent-Description: Delivery report\r\n\r\n{status}\r\n"));
    put(&format!("--{boundary}\r\nContent-Type: {original_type}\r\nContent-Description: Undelivered message\r\n\r\n"));
    body.extend_from_slice(original);
    if !body.ends_with(b"\r\n") {
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Report { message_id, body }
}

/// The host of a server as the mail log names it: `host:port`, or `host:port [address]`.
fn host_of(server: &str) -> &str {
    let server = server.split_once(" [").map_or(server, |(s, _)| s);
    server.rsplit_once(':').map_or(server, |(h, _)| h)
}

/// An RFC 5322 date in UTC (`+0000`, not the obsolete `GMT` httpdate writes).
fn email_date(t: std::time::SystemTime) -> String {
    let d = httpdate::fmt_http_date(t);
    d.strip_suffix(" GMT").map_or(d.clone(), |s| format!("{s} +0000"))
}

/// The server's reply inside our reason, if the reason quotes one ("550 5.1.1 …", or after
/// "last: " for a give-up).
fn smtp_reply(reason: &str) -> Option<&str> {
    let looks = |s: &str| s.len() >= 3 && s.as_bytes()[..3].iter().all(u8::is_ascii_digit) && matches!(s.as_bytes()[0], b'2'..=b'5');
    let quoted = reason.rsplit_once("last: ").map_or(reason, |(_, r)| r);
    let quoted = quoted.split_once(": ").filter(|(_, r)| looks(r) && !looks(quoted)).map_or(quoted, |(_, r)| r);
    looks(quoted).then_some(quoted)
}

/// The RFC 3463 status: the enhanced code the server gave, else one from its reply code; a
/// give-up is 4.4.7 (delivery time expired).
fn status_code(f: &Failure) -> String {
    if f.expired {
        return "4.4.7".into();
    }
    if let Some(reply) = smtp_reply(&f.reply) {
        if let Some(enhanced) = reply.split_whitespace().nth(1).filter(|e| is_enhanced(e)) {
            return enhanced.to_string();
        }
        return format!("{}.0.0", &reply[..1]);
    }
    "5.0.0".into()
}

fn is_enhanced(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 3
        && matches!(parts[0], "2" | "4" | "5")
        && parts[1..].iter().all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Control characters out and cut to fit one header line.
fn clip(s: &str) -> String {
    let clean: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if clean.len() <= MAX_QUOTED {
        return clean;
    }
    let mut end = MAX_QUOTED;
    while !clean.is_char_boundary(end) {
        end -= 1;
    }
    clean[..end].to_string()
}

/// The header block of a CRLF message, with its final line break.
fn headers_of(message: &[u8]) -> &[u8] {
    match message.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => &message[..i + 2],
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::Dsn;

    fn job(sender: &str) -> Job {
        Job {
            id: 7,
            sender: sender.into(),
            message_id: "<m@example.com>".into(),
            body: b"From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n".to_vec(),
            received_at: 0,
            eight_bit: false,
            dsn: Dsn::default(),
            is_bounce: false,
            recipients: vec![],
            profile: None,
        }
    }

    #[test]
    fn the_reply_and_its_status_are_found_in_our_reasons() {
        let f = |reply: &str, expired| Failure { recipient: "x@y".into(), reply: reply.into(), expired, remote: None };
        assert_eq!(status_code(&f("550 5.1.1 <x@y>: unknown", false)), "5.1.1");
        assert_eq!(status_code(&f("554 no such user", false)), "5.0.0");
        assert_eq!(status_code(&f("the message was refused: 552 5.3.4 too big", false)), "5.3.4");
        assert_eq!(status_code(&f("gave up after 1 hours in the queue; last: 451 4.3.0 busy", true)), "4.4.7");
        assert_eq!(smtp_reply("gave up after 1 hours in the queue; last: connection refused"), None);
        assert_eq!(smtp_reply("the sender was refused: 553 5.7.1 no"), Some("553 5.7.1 no"));
    }

    #[test]
    fn the_remote_host_is_named_without_port_or_address() {
        assert_eq!(host_of("smtp.example.com:587"), "smtp.example.com");
        assert_eq!(host_of("mx.v6.test:25 [::1]"), "mx.v6.test");
        assert_eq!(host_of("mx.a.test:25 [127.0.0.11]"), "mx.a.test");
    }

    #[test]
    fn null_senders_bounces_and_no_failure_notice_get_no_bounce() {
        assert!(skip_reason(&job("a@example.com")).is_none());
        assert!(skip_reason(&job("")).is_some());
        assert!(skip_reason(&Job { is_bounce: true, ..job("a@example.com") }).is_some());
        let never = Job { dsn: Dsn { notify: Some("never".into()), ..Dsn::default() }, ..job("a@example.com") };
        assert!(skip_reason(&never).is_some());
        let both = Job { dsn: Dsn { notify: Some("success,failure".into()), ..Dsn::default() }, ..job("a@example.com") };
        assert!(skip_reason(&both).is_none());
    }

    #[test]
    fn the_budget_allows_so_many_an_hour() {
        let mut b = Budget::new(2, "me@example.com", "host", vec![1_000]);
        assert!(b.take(2_000));
        assert!(!b.take(3_000), "two in the last hour already");
        assert!(b.take(1_000 + 3_600_000), "the first one is over an hour old");
    }
}
