//! `sendmail -bs`: a minimal SMTP server dialogue on standard input and output (RFC 5321), as
//! Symfony Mailer and SwiftMailer use it. Each message is committed before its 250 is written.
//!
//! Offered: EHLO/HELO, MAIL (SIZE, BODY, RET, ENVID), RCPT (NOTIFY ignored), DATA with
//! dot-unstuffing (§4.5.2), RSET, NOOP, VRFY (252), HELP, QUIT. No PIPELINING: replies are
//! written one command at a time. The later loopback listener will share this dialogue.

use super::intake::Intake;
use super::sendmail::{envelope_sender, submission, Envelope};
use super::store::Dsn;
use super::{address, Error};
use crate::settings::Profile;
use std::io::{BufRead, Read, Write};

/// RFC 5321 §4.5.3.1.8 asks for at least 100; callers with more use several messages.
const MAX_RECIPIENTS: usize = 10_000;
/// A command line longer than this is refused (§4.5.3.1.4 allows 512 octets; extensions add some).
const MAX_COMMAND: usize = 4096;

/// What a session did, for the exit status and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The ids of the messages accepted, in order.
    pub accepted: Vec<i64>,
    pub refused: usize,
}

struct Transaction {
    sender: Option<String>,
    recipients: Vec<String>,
    dsn: Dsn,
}

/// Serves one SMTP session until QUIT or the end of input.
pub fn serve(
    input: &mut impl BufRead,
    output: &mut impl Write,
    intake: &Intake,
    profile: &Profile,
    max_bytes: usize,
) -> std::io::Result<Outcome> {
    let host = crate::machine::host_name();
    let mut out = Outcome::default();
    let mut tx = Transaction { sender: None, recipients: Vec::new(), dsn: Dsn::default() };
    reply(output, &format!("220 {host} ESMTP SMTP Desk sendmail -bs"))?;
    let mut line = Vec::new();
    loop {
        line.clear();
        if (&mut *input).take(MAX_COMMAND as u64 + 1).read_until(b'\n', &mut line)? == 0 {
            return Ok(out);
        }
        if line.len() > MAX_COMMAND {
            // Skip the rest of the over-long line.
            let mut rest = Vec::new();
            input.read_until(b'\n', &mut rest)?;
            reply(output, "500 5.5.6 Line too long")?;
            continue;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        let (verb, arg) = text.split_once(' ').unwrap_or((text, ""));
        match verb.to_ascii_uppercase().as_str() {
            "EHLO" => {
                tx = Transaction { sender: None, recipients: Vec::new(), dsn: Dsn::default() };
                reply(output, &format!("250-{host}\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-ENHANCEDSTATUSCODES\r\n250 SIZE {max_bytes}"))?;
            }
            "HELO" => {
                tx = Transaction { sender: None, recipients: Vec::new(), dsn: Dsn::default() };
                reply(output, &format!("250 {host}"))?;
            }
            "MAIL" => {
                let r = mail(&mut tx, arg, profile, max_bytes);
                reply(output, &r)?;
            }
            "RCPT" => {
                let r = rcpt(&mut tx, arg, profile);
                reply(output, &r)?;
            }
            "DATA" => {
                if tx.sender.is_none() {
                    reply(output, "503 5.5.1 MAIL first")?;
                    continue;
                }
                if tx.recipients.is_empty() {
                    reply(output, "554 5.5.1 No valid recipients")?;
                    continue;
                }
                reply(output, "354 End data with <CR><LF>.<CR><LF>")?;
                let Some(raw) = read_data(input, max_bytes)? else {
                    return Ok(out);
                };
                let t = std::mem::replace(&mut tx, Transaction { sender: None, recipients: Vec::new(), dsn: Dsn::default() });
                let r = match raw {
                    Err(size) => Err(Error::TooBig { size, limit: max_bytes }),
                    Ok(raw) => {
                        let env = Envelope {
                            sender: t.sender.unwrap_or_default(),
                            recipients: t.recipients,
                            recipients_from_headers: false,
                            full_name: None,
                            dsn: t.dsn,
                            source: "sendmail -bs",
                        };
                        submission(env, &raw, profile, max_bytes).and_then(|s| intake.submit(s))
                    }
                };
                match r {
                    Ok(id) => {
                        out.accepted.push(id);
                        reply(output, &format!("250 2.0.0 Ok: queued as {id}"))?;
                    }
                    Err(e) => {
                        out.refused += 1;
                        reply(output, &refusal(&e))?;
                    }
                }
            }
            "RSET" => {
                tx = Transaction { sender: None, recipients: Vec::new(), dsn: Dsn::default() };
                reply(output, "250 2.0.0 Ok")?;
            }
            "NOOP" => reply(output, "250 2.0.0 Ok")?,
            "VRFY" => reply(output, "252 2.5.2 Cannot verify, but will accept and attempt delivery")?,
            "HELP" => reply(output, "214 2.0.0 EHLO HELO MAIL RCPT DATA RSET NOOP VRFY QUIT")?,
            "QUIT" => {
                reply(output, "221 2.0.0 Bye")?;
                return Ok(out);
            }
            _ => reply(output, "500 5.5.2 Command not recognised")?,
        }
    }
}

fn mail(tx: &mut Transaction, arg: &str, profile: &Profile, max_bytes: usize) -> String {
    if tx.sender.is_some() {
        return "503 5.5.1 Sender already given (RSET to start over)".into();
    }
    let Some(rest) = strip_prefix_ci(arg.trim_start(), "FROM:") else {
        return "501 5.5.4 Syntax: MAIL FROM:<address>".into();
    };
    let (path, params) = split_path(rest);
    let mut dsn = Dsn::default();
    for p in params.split_whitespace() {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        match k.to_ascii_uppercase().as_str() {
            "SIZE" if v.parse::<usize>().is_ok_and(|n| n > max_bytes) => {
                return format!("552 5.3.4 Message size exceeds the limit of {max_bytes} bytes");
            }
            "BODY" => dsn.body_type = Some(v.to_string()),
            "RET" => dsn.ret = Some(v.to_string()),
            "ENVID" => dsn.envid = Some(v.to_string()),
            _ => {}
        }
    }
    match envelope_sender(Some(path), profile) {
        Ok(s) => {
            tx.sender = Some(s);
            tx.dsn = dsn;
            "250 2.1.0 Ok".into()
        }
        Err(e) => format!("553 5.1.7 {e}"),
    }
}

fn rcpt(tx: &mut Transaction, arg: &str, profile: &Profile) -> String {
    if tx.sender.is_none() {
        return "503 5.5.1 MAIL first".into();
    }
    let Some(rest) = strip_prefix_ci(arg.trim_start(), "TO:") else {
        return "501 5.5.4 Syntax: RCPT TO:<address>".into();
    };
    if tx.recipients.len() >= MAX_RECIPIENTS {
        return "452 4.5.3 Too many recipients".into();
    }
    let (path, params) = split_path(rest);
    for p in params.split_whitespace() {
        if let Some(v) = strip_prefix_ci(p, "NOTIFY=") {
            tx.dsn.notify = Some(v.to_string());
        }
    }
    let addr = match address::parse_sender(path) {
        Ok(a) if a.is_empty() => return "501 5.1.3 Empty recipient".into(),
        Ok(a) => a,
        Err(e) => return format!("553 5.1.3 {e}"),
    };
    match address::resolve_recipient(addr, profile.local_recipient.as_deref()) {
        Ok(a) => {
            if !tx.recipients.contains(&a) {
                tx.recipients.push(a);
            }
            "250 2.1.5 Ok".into()
        }
        Err(e) => format!("550 5.1.1 {e}: set local_recipient in the settings"),
    }
}

/// Reads DATA to the lone "." line, undoing dot-stuffing. `Ok(None)` when the input ends first
/// (the client went away: nothing is accepted); `Err(size)` inside when over the limit.
#[allow(clippy::type_complexity)]
fn read_data(input: &mut impl BufRead, max_bytes: usize) -> std::io::Result<Option<Result<Vec<u8>, usize>>> {
    let mut body = Vec::new();
    let mut size = 0usize;
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Ok(None);
        }
        if line == b".\r\n" || line == b".\n" {
            break;
        }
        let content = if line.first() == Some(&b'.') { &line[1..] } else { &line[..] };
        size += content.len();
        // Past the limit the rest is read and dropped, so the dialogue stays in step.
        if size <= max_bytes {
            body.extend_from_slice(content);
        }
    }
    Ok(Some(if size > max_bytes { Err(size) } else { Ok(body) }))
}

fn refusal(e: &Error) -> String {
    let code = match e {
        Error::TooBig { .. } => "552 5.3.4",
        Error::Storage { .. } | Error::Input(_) => "451 4.3.0",
        Error::BadAddress { .. } => "553 5.1.3",
        Error::LocalRecipientUnset(_) => "550 5.1.1",
        _ => "554 5.6.0",
    };
    format!("{code} {}", e.to_string().replace(['\r', '\n'], " "))
}

fn split_path(rest: &str) -> (&str, &str) {
    let rest = rest.trim_start();
    if rest.starts_with('<') {
        if let Some(end) = rest.find('>') {
            return (&rest[..=end], &rest[end + 1..]);
        }
    }
    rest.split_once(' ').unwrap_or((rest, ""))
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    (s.len() >= prefix.len() && s.is_char_boundary(prefix.len()) && s[..prefix.len()].eq_ignore_ascii_case(prefix))
        .then(|| &s[prefix.len()..])
}

fn reply(output: &mut impl Write, text: &str) -> std::io::Result<()> {
    output.write_all(text.as_bytes())?;
    output.write_all(b"\r\n")?;
    output.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::store::Store;

    #[test]
    fn a_dialogue_with_dot_unstuffing_and_refusals() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.sqlite3");
        let intake = Intake::start(Store::open(&path).unwrap());
        let mut profile = Profile::default();
        profile.sender.from_address = "me@example.com".into();
        let script = "EHLO client\r\nRCPT TO:<a@example.com>\r\nMAIL FROM:<app@example.com> BODY=8BITMIME\r\nRCPT TO:<root>\r\n\
                      RCPT TO:<a@example.com>\r\nDATA\r\nSubject: s\r\n\r\n..dotted\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<b@example.com>\r\nRSET\r\nNOOP\r\nQUIT\r\n";
        let mut out = Vec::new();
        let outcome = serve(&mut script.as_bytes(), &mut out, &intake, &profile, 10_000).unwrap();
        let out = String::from_utf8(out).unwrap();
        let codes: Vec<&str> = out.lines().filter(|l| !l.starts_with("250-")).map(|l| &l[..3]).collect();
        assert_eq!(codes, ["220", "250", "503", "250", "550", "250", "354", "250", "250", "250", "250", "250", "221"], "{out}");
        assert_eq!(outcome.accepted.len(), 1);
        drop(intake);
        let s = Store::open(&path).unwrap();
        let raw = s.raw_message(outcome.accepted[0]).unwrap();
        let text = String::from_utf8(raw).unwrap();
        assert!(text.contains("\r\n\r\n.dotted\r\n"), "{text}");
        let d = s.show(outcome.accepted[0]).unwrap();
        assert_eq!(d.summary.sender, "app@example.com");
        assert_eq!(d.body_type.as_deref(), Some("8BITMIME"));
    }
}
