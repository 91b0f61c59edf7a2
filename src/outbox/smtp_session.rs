//! The SMTP server dialogue of intake (RFC 5321), over any byte stream: `sendmail -bs` on
//! standard input and output (Symfony Mailer, SwiftMailer), and the loopback listener's TCP
//! connections ([`super::listener`]). Each message is committed before its 250 is written.
//!
//! Offered: EHLO/HELO, MAIL (SIZE, BODY, RET, ENVID, SMTPUTF8), RCPT (NOTIFY kept), DATA with
//! dot-unstuffing (§4.5.2), RSET, NOOP, VRFY (252), HELP, QUIT, PIPELINING (RFC 2920: replies are
//! written out when no more pipelined input waits, and at once after each message), and AUTH
//! PLAIN / LOGIN (RFC 4954) when the caller sets a local login, which is then required before MAIL.
//!
//! The stream's read timeout is the caller's (a socket's `SO_RCVTIMEO`); a read that times out
//! ends the session with a 421. Every read is bounded: a command line, an AUTH answer and each
//! piece of a DATA line, so a client can't make the session hold more than the size limit.

use super::intake::Intake;
use super::sendmail::{envelope_sender, submission, Envelope, IntakeProfile};
use super::store::{Dsn, Refusal};
use super::{address, Error};
use crate::secrets::Password;
use base64::Engine as _;
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};

/// RFC 5321 §4.5.3.1.8 asks for at least 100; mailing-list style callers send thousands.
pub const MAX_RECIPIENTS: usize = 10_000;
/// A command line longer than this is refused (§4.5.3.1.4 allows 512 octets; extensions add some).
const MAX_COMMAND: usize = 4096;
/// DATA is read in pieces of at most this many bytes, so a line without an end can't grow memory.
const DATA_PIECE: u64 = 64 * 1024;
/// Failed logins before the session is closed.
const MAX_AUTH_FAILURES: usize = 3;
/// Unrecognised or out-of-order commands before the session is closed (a client speaking
/// something else, e.g. HTTP, to the port).
const MAX_ERRORS: usize = 20;

/// A local login the listener takes (a profile's own, never the relay's). Cannot print its
/// password. Mail sent after it goes with its profile.
#[derive(Debug, Clone)]
pub struct LocalLogin {
    pub username: String,
    pub password: Password,
    pub profile: IntakeProfile,
}

impl LocalLogin {
    /// Whether `username` and `password` match, comparing in time independent of where they differ.
    fn matches(&self, username: &[u8], password: &[u8]) -> bool {
        let user = same_bytes(username, self.username.as_bytes());
        let pass = same_bytes(password, self.password.expose().as_bytes());
        user & pass
    }
}

fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// How a session serves: who it is, what it takes.
#[derive(Clone, Copy)]
pub struct Config<'a> {
    /// The profile of mail sent without a login: supplies the From address for an added From
    /// header and where local mail goes, and is recorded with the message.
    pub profile: &'a IntakeProfile,
    /// The size limit announced (`SIZE n`) and enforced (552).
    pub max_bytes: usize,
    /// The intake's name: in the greeting and the queue's `source` column.
    pub source: &'a str,
    /// The logins taken: when any is set, AUTH PLAIN and LOGIN are offered; a client that logs
    /// in sends with its login's profile.
    pub logins: &'a [LocalLogin],
    /// A login is required before MAIL.
    pub login_required: bool,
    /// Envelope senders outside the admin policy's sender domain are refused at MAIL.
    pub policy: Option<&'a crate::policy::State>,
    pub max_recipients: usize,
    /// Called with each message's id once it is committed (the listener wakes delivery).
    pub on_accept: Option<&'a (dyn Fn(i64) + Sync)>,
}

impl<'a> Config<'a> {
    /// `sendmail -bs`: no login (the caller already runs as this user), the given size limit.
    pub fn bs(profile: &'a IntakeProfile, max_bytes: usize) -> Config<'a> {
        Config {
            profile,
            max_bytes,
            source: "sendmail -bs",
            logins: &[],
            login_required: false,
            policy: None,
            max_recipients: MAX_RECIPIENTS,
            on_accept: None,
        }
    }
}

/// A buffered input that can tell whether more (pipelined) input is already waiting, so replies
/// are written out only when the client may be waiting for them.
pub trait Input: BufRead {
    fn has_buffered(&self) -> bool;
}

impl<R: Read> Input for BufReader<R> {
    fn has_buffered(&self) -> bool {
        !self.buffer().is_empty()
    }
}

impl Input for &[u8] {
    fn has_buffered(&self) -> bool {
        !self.is_empty()
    }
}

/// What a session did, for the exit status and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The ids of the messages accepted, in order.
    pub accepted: Vec<i64>,
    pub refused: usize,
    /// Failed login attempts (the names and passwords tried are never kept).
    pub failed_logins: usize,
    /// The session ended because the client was silent longer than the read timeout.
    pub timed_out: bool,
}

#[derive(Default)]
struct Transaction {
    sender: Option<String>,
    recipients: Vec<String>,
    seen: HashSet<String>,
    dsn: Dsn,
}

/// One line read: its bytes (with the line end), or why not.
enum Line {
    Text(Vec<u8>),
    TooLong,
    End,
}

/// Why the session stops early.
enum Stop {
    /// The client went away or was silent too long (already noted in the outcome).
    Client,
    Io(std::io::Error),
}

impl From<std::io::Error> for Stop {
    fn from(e: std::io::Error) -> Self {
        Stop::Io(e)
    }
}

struct Session<'s, I: Input, O: Write> {
    input: &'s mut I,
    output: &'s mut O,
    config: &'s Config<'s>,
    host: String,
    out: Outcome,
}

/// Serves one SMTP session until QUIT, the end of input, or a read timeout (421).
pub fn serve(input: &mut impl Input, output: &mut impl Write, intake: &Intake, config: &Config) -> std::io::Result<Outcome> {
    let mut s = Session { input, output, config, host: crate::machine::host_name(), out: Outcome::default() };
    let r = s.run(intake);
    let _ = s.output.flush();
    match r {
        Ok(()) | Err(Stop::Client) => Ok(s.out),
        Err(Stop::Io(e)) => Err(e),
    }
}

impl<I: Input, O: Write> Session<'_, I, O> {
    fn run(&mut self, intake: &Intake) -> Result<(), Stop> {
        let (cfg, host) = (self.config, self.host.clone());
        let mut tx = Transaction::default();
        // The login the client gave (an index into `cfg.logins`), which picks its profile.
        let mut authenticated: Option<usize> = None;
        let mut errors = 0usize;
        self.reply(&format!("220 {host} ESMTP SMTP Desk {}", cfg.source))?;
        loop {
            if errors >= MAX_ERRORS {
                return self.close("421 4.7.0 Too many errors, closing");
            }
            let line = match self.read_line(MAX_COMMAND)? {
                Line::End => return Ok(()),
                Line::TooLong => {
                    errors += 1;
                    self.reply("500 5.5.6 Line too long")?;
                    continue;
                }
                Line::Text(l) => l,
            };
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches(['\r', '\n']);
            let (verb, arg) = text.split_once(' ').unwrap_or((text, ""));
            let verb = verb.to_ascii_uppercase();
            let needs_login = cfg.login_required && authenticated.is_none();
            let profile = authenticated.map_or(cfg.profile, |i| &cfg.logins[i].profile);
            let r: String = match verb.as_str() {
                "EHLO" => {
                    tx = Transaction::default();
                    let auth = if !cfg.logins.is_empty() && authenticated.is_none() { "250-AUTH PLAIN LOGIN\r\n" } else { "" };
                    format!(
                        "250-{host}\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-ENHANCEDSTATUSCODES\r\n{auth}250 SIZE {}",
                        cfg.max_bytes
                    )
                }
                "HELO" => {
                    tx = Transaction::default();
                    format!("250 {host}")
                }
                "AUTH" => match cfg.logins {
                    [] => "502 5.5.1 AUTH is not offered here".into(),
                    _ if authenticated.is_some() => "503 5.5.1 Already authenticated".into(),
                    _ if tx.sender.is_some() => "503 5.5.1 AUTH not allowed during a mail transaction".into(),
                    logins => match self.auth(arg, logins)? {
                        Some(Some(i)) => {
                            authenticated = Some(i);
                            "235 2.7.0 Authentication successful".into()
                        }
                        Some(None) => {
                            self.out.failed_logins += 1;
                            if self.out.failed_logins >= MAX_AUTH_FAILURES {
                                return self.close("421 4.7.8 Too many failed logins, closing");
                            }
                            "535 5.7.8 Authentication credentials invalid".into()
                        }
                        None => "501 5.7.0 Authentication cancelled or malformed".into(),
                    },
                },
                "MAIL" if needs_login => "530 5.7.0 Authentication required".into(),
                "MAIL" => {
                    let r = mail(&mut tx, arg, cfg, profile);
                    if refuses_mail(&r) || r.starts_with(POLICY_REFUSAL) {
                        let size = arg.split_whitespace().find_map(|p| strip_prefix_ci(p, "SIZE=")).and_then(|v| v.parse().ok());
                        let sender = path_text(arg, "FROM:");
                        let refusal = Refusal { sender, size: size.unwrap_or(0), profile: profile.name.clone(), ..Refusal::default() };
                        self.log_refusal(intake, refusal, &r);
                    }
                    r
                }
                "RCPT" => {
                    let r = rcpt(&mut tx, arg, cfg, profile);
                    if refuses_mail(&r) {
                        let refusal = Refusal {
                            sender: tx.sender.clone().unwrap_or_default(),
                            recipients: vec![path_text(arg, "TO:")],
                            profile: profile.name.clone(),
                            ..Refusal::default()
                        };
                        self.log_refusal(intake, refusal, &r);
                    }
                    r
                }
                "DATA" if tx.sender.is_none() => "503 5.5.1 MAIL first".into(),
                "DATA" if tx.recipients.is_empty() => "554 5.5.1 No valid recipients".into(),
                "DATA" => {
                    self.reply("354 End data with <CR><LF>.<CR><LF>")?;
                    let raw = self.read_data(cfg.max_bytes)?;
                    let t = std::mem::take(&mut tx);
                    let mut turned_away = Refusal {
                        sender: t.sender.clone().unwrap_or_default(),
                        recipients: t.recipients.clone(),
                        size: match &raw {
                            Ok(raw) => raw.len() as u64,
                            Err(size) => *size as u64,
                        },
                        profile: profile.name.clone(),
                        ..Refusal::default()
                    };
                    let r = match raw {
                        Err(size) => Err(Error::TooBig { size, limit: cfg.max_bytes }),
                        Ok(raw) => {
                            turned_away.message_id = super::sendmail::message_id_of(&raw);
                            let env = Envelope {
                                sender: t.sender.unwrap_or_default(),
                                recipients: t.recipients,
                                recipients_from_headers: false,
                                full_name: None,
                                dsn: t.dsn,
                                source: cfg.source,
                            };
                            submission(env, &raw, profile, cfg.max_bytes).and_then(|s| intake.submit(s))
                        }
                    };
                    match r {
                        Ok(id) => {
                            self.out.accepted.push(id);
                            if let Some(f) = cfg.on_accept {
                                f(id);
                            }
                            format!("250 2.0.0 Ok: queued as {id}")
                        }
                        Err(e) => {
                            self.out.refused += 1;
                            let r = refusal(&e);
                            if refuses_mail(&r) {
                                self.log_refusal(intake, std::mem::take(&mut turned_away), &r);
                            }
                            r
                        }
                    }
                }
                "RSET" => {
                    tx = Transaction::default();
                    "250 2.0.0 Ok".into()
                }
                "NOOP" => "250 2.0.0 Ok".into(),
                "VRFY" => "252 2.5.2 Cannot verify, but will accept and attempt delivery".into(),
                "HELP" => "214 2.0.0 EHLO HELO AUTH MAIL RCPT DATA RSET NOOP VRFY QUIT".into(),
                "QUIT" => return self.close("221 2.0.0 Bye"),
                _ => "500 5.5.2 Command not recognised".into(),
            };
            if r.starts_with('5') && !matches!(verb.as_str(), "RCPT" | "DATA" | "MAIL") {
                errors += 1;
            }
            self.reply(&r)?;
            if verb == "DATA" {
                // The verdict on a message goes out at once, even with more pipelined input
                // waiting: a committed message whose 250 sits in a buffer is a duplicate when
                // the connection breaks and the client sends it again.
                let r = self.output.flush();
                self.written(r)?;
            }
        }
    }

    /// An AUTH exchange: `Some(Some(i))` when the client gave login `i`, `Some(None)` when it gave
    /// none of them; `None` when it cancelled or sent something unreadable.
    fn auth(&mut self, arg: &str, logins: &[LocalLogin]) -> Result<Option<Option<usize>>, Stop> {
        // Every login is compared (in time independent of where they differ), not the first match
        // only, so the time taken does not tell which login names exist.
        let which = |user: &[u8], pass: &[u8]| {
            logins.iter().enumerate().fold(None, |hit, (i, l)| if l.matches(user, pass) { hit.or(Some(i)) } else { hit })
        };
        let (mechanism, initial) = arg.trim().split_once(' ').map(|(m, i)| (m, Some(i.trim()))).unwrap_or((arg.trim(), None));
        match mechanism.to_ascii_uppercase().as_str() {
            "PLAIN" => {
                let Some(answer) = self.auth_answer(initial, "334 ")? else { return Ok(None) };
                // authzid NUL authcid NUL password (RFC 4616); an authzid other than the login is refused.
                let parts: Vec<&[u8]> = answer.split(|&b| b == 0).collect();
                let [authz, user, pass] = parts[..] else { return Ok(None) };
                Ok(Some(which(user, pass).filter(|_| authz.is_empty() || authz == user)))
            }
            "LOGIN" => {
                let Some(user) = self.auth_answer(initial, "334 VXNlcm5hbWU6")? else { return Ok(None) };
                let Some(pass) = self.auth_answer(None, "334 UGFzc3dvcmQ6")? else { return Ok(None) };
                Ok(Some(which(&user, &pass)))
            }
            _ => Ok(None),
        }
    }

    /// The decoded answer to a `334` challenge (or the initial response given with AUTH).
    fn auth_answer(&mut self, initial: Option<&str>, challenge: &str) -> Result<Option<Vec<u8>>, Stop> {
        let text = match initial {
            Some("=") => return Ok(Some(Vec::new())),
            Some(i) => i.to_string(),
            None => {
                self.reply(challenge)?;
                match self.read_line(MAX_COMMAND)? {
                    Line::End => return Err(Stop::Client),
                    Line::TooLong => return Ok(None),
                    Line::Text(l) => String::from_utf8_lossy(&l).trim_end_matches(['\r', '\n']).to_string(),
                }
            }
        };
        if text == "*" {
            return Ok(None);
        }
        Ok(base64::engine::general_purpose::STANDARD.decode(text.trim()).ok())
    }

    /// Reads DATA to the lone "." line, undoing dot-stuffing; `Err(size)` inside when over the
    /// limit (the rest is read and dropped, so the dialogue stays in step).
    fn read_data(&mut self, max_bytes: usize) -> Result<Result<Vec<u8>, usize>, Stop> {
        let mut body = Vec::new();
        let mut size = 0usize;
        let mut line = Vec::new();
        let mut at_line_start = true;
        loop {
            line.clear();
            self.flush_if_waiting()?;
            let r = (&mut *self.input).take(DATA_PIECE).read_until(b'\n', &mut line);
            let n = self.io(r)?;
            if n == 0 {
                // The client went away inside DATA: nothing is accepted.
                return Err(Stop::Client);
            }
            let start = at_line_start;
            at_line_start = line.ends_with(b"\n");
            if start && (line == b".\r\n" || line == b".\n") {
                break;
            }
            let content = if start && line.first() == Some(&b'.') { &line[1..] } else { &line[..] };
            size += content.len();
            if size <= max_bytes {
                body.extend_from_slice(content);
            }
        }
        Ok(if size > max_bytes { Err(size) } else { Ok(body) })
    }

    /// One command line of at most `max` bytes; a longer one is read to its end and dropped.
    fn read_line(&mut self, max: usize) -> Result<Line, Stop> {
        self.flush_if_waiting()?;
        let mut line = Vec::new();
        let r = (&mut *self.input).take(max as u64 + 1).read_until(b'\n', &mut line);
        if self.io(r)? == 0 {
            return Ok(Line::End);
        }
        if line.len() <= max {
            return Ok(Line::Text(line));
        }
        while !line.ends_with(b"\n") {
            line.clear();
            let r = (&mut *self.input).take(DATA_PIECE).read_until(b'\n', &mut line);
            if self.io(r)? == 0 {
                return Ok(Line::End);
            }
        }
        Ok(Line::TooLong)
    }

    /// A read's result; a timeout ends the session with a 421, as RFC 5321 §4.5.3.2 allows.
    fn io<T>(&mut self, r: std::io::Result<T>) -> Result<T, Stop> {
        match r {
            Ok(v) => Ok(v),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                self.out.timed_out = true;
                let _ = self.close("421 4.4.2 Timeout waiting for the client, closing");
                Err(Stop::Client)
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe) => Err(Stop::Client),
            Err(e) => Err(Stop::Io(e)),
        }
    }

    /// Writes the replies out unless more pipelined commands already wait (RFC 2920 §3.2).
    fn flush_if_waiting(&mut self) -> Result<(), Stop> {
        if !self.input.has_buffered() {
            let r = self.output.flush();
            self.written(r)?;
        }
        Ok(())
    }

    fn reply(&mut self, text: &str) -> Result<(), Stop> {
        let r = self.output.write_all(text.as_bytes()).and_then(|()| self.output.write_all(b"\r\n"));
        self.written(r)
    }

    fn written(&mut self, r: std::io::Result<()>) -> Result<(), Stop> {
        match r {
            Ok(()) => Ok(()),
            // A client that stopped reading (or went away) ends its session, nobody else's.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::BrokenPipe
                        | std::io::ErrorKind::ConnectionReset
                ) =>
            {
                Err(Stop::Client)
            }
            Err(e) => Err(Stop::Io(e)),
        }
    }

    /// Writes a 'refused' row (per recipient) to the mail log, for the reply `reply`. A failure
    /// to write it does not change the reply: it is only noted.
    fn log_refusal(&self, intake: &Intake, mut refusal: Refusal, reply: &str) {
        refusal.server = self.config.source.into();
        refusal.reply = reply.to_string();
        if let Err(e) = intake.refuse(refusal) {
            tracing::warn!("a refusal could not be written to the mail log: {e}");
        }
    }

    fn close(&mut self, text: &str) -> Result<(), Stop> {
        self.reply(text)?;
        let r = self.output.flush();
        self.written(r)
    }
}

/// How a MAIL refused by the admin policy's sender domain starts (logged as 'refused', unlike
/// other 5.7 replies).
const POLICY_REFUSAL: &str = "550 5.7.1 ";

fn mail(tx: &mut Transaction, arg: &str, cfg: &Config, profile: &IntakeProfile) -> String {
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
            "SIZE" => match v.parse::<u64>() {
                Ok(n) if n > cfg.max_bytes as u64 => return format!("552 5.3.4 Message size exceeds the limit of {} bytes", cfg.max_bytes),
                Ok(_) => {}
                // A size too large for u64 is over any limit too.
                Err(_) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
                    return format!("552 5.3.4 Message size exceeds the limit of {} bytes", cfg.max_bytes)
                }
                Err(_) => return "501 5.5.4 SIZE takes a number".into(),
            },
            "BODY" => dsn.body_type = Some(v.to_string()),
            "RET" => dsn.ret = Some(v.to_string()),
            "ENVID" => dsn.envid = Some(v.to_string()),
            _ => {}
        }
    }
    match envelope_sender(Some(path), &profile.profile) {
        Ok(s) if cfg.policy.is_some_and(|p| p.check_sender(&s).is_err()) => {
            let e = cfg.policy.and_then(|p| p.check_sender(&s).err()).map(|e| e.to_string()).unwrap_or_default();
            format!("{POLICY_REFUSAL}{}", e.replace(['\r', '\n'], " "))
        }
        Ok(s) => {
            tx.sender = Some(s);
            tx.dsn = dsn;
            "250 2.1.0 Ok".into()
        }
        Err(e) => format!("553 5.1.7 {}", one_line(&e)),
    }
}

fn rcpt(tx: &mut Transaction, arg: &str, cfg: &Config, profile: &IntakeProfile) -> String {
    if tx.sender.is_none() {
        return "503 5.5.1 MAIL first".into();
    }
    let Some(rest) = strip_prefix_ci(arg.trim_start(), "TO:") else {
        return "501 5.5.4 Syntax: RCPT TO:<address>".into();
    };
    if tx.recipients.len() >= cfg.max_recipients {
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
        Err(e) => return format!("553 5.1.3 {}", one_line(&e)),
    };
    match address::resolve_recipient(addr, profile.profile.local_recipient.as_deref()) {
        Ok(a) => {
            if tx.seen.insert(a.clone()) {
                tx.recipients.push(a);
            }
            "250 2.1.5 Ok".into()
        }
        Err(e) => format!("550 5.1.1 {}: set local_recipient in the settings", one_line(&e)),
    }
}

/// Whether a reply turns mail away for good (a 5xx about the address, the size or the content):
/// the mail log's 'refused'. Protocol (5.5.x: syntax, order) and login (5.7.x) replies are not.
fn refuses_mail(reply: &str) -> bool {
    reply.starts_with('5') && !reply.get(4..8).is_some_and(|c| c == "5.5." || c == "5.7.")
}

/// The address in a MAIL FROM: / RCPT TO: argument, without its angle brackets.
fn path_text(arg: &str, prefix: &str) -> String {
    let rest = strip_prefix_ci(arg.trim_start(), prefix).unwrap_or(arg);
    let (path, _) = split_path(rest);
    path.trim().trim_start_matches('<').trim_end_matches('>').to_string()
}

fn refusal(e: &Error) -> String {
    let code = match e {
        Error::TooBig { .. } => "552 5.3.4",
        Error::Storage { .. } | Error::Input(_) => "451 4.3.0",
        Error::BadAddress { .. } => "553 5.1.3",
        Error::LocalRecipientUnset(_) => "550 5.1.1",
        _ => "554 5.6.0",
    };
    format!("{code} {}", one_line(e))
}

/// An error as one reply line: a CR or LF from the client's input must not end the reply early.
fn one_line(e: &Error) -> String {
    e.to_string().replace(['\r', '\n'], " ")
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::store::Store;

    fn profile() -> IntakeProfile {
        let mut profile = crate::settings::Profile::default();
        profile.sender.from_address = "me@example.com".into();
        IntakeProfile { name: "global".into(), profile }
    }

    fn run(script: &str, config: &Config) -> (String, Outcome, std::path::PathBuf, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.sqlite3");
        let intake = Intake::start(Store::open(&path).unwrap());
        let mut out = Vec::new();
        let outcome = serve(&mut script.as_bytes(), &mut out, &intake, config).unwrap();
        (String::from_utf8(out).unwrap(), outcome, path, dir)
    }

    fn codes(out: &str) -> Vec<&str> {
        out.lines().filter(|l| !l.starts_with("250-")).map(|l| &l[..3]).collect()
    }

    #[test]
    fn a_dialogue_with_dot_unstuffing_and_refusals() {
        let profile = profile();
        let script = "EHLO client\r\nRCPT TO:<a@example.com>\r\nMAIL FROM:<app@example.com> BODY=8BITMIME\r\nRCPT TO:<root>\r\n\
                      RCPT TO:<a@example.com>\r\nDATA\r\nSubject: s\r\n\r\n..dotted\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<b@example.com>\r\nRSET\r\nNOOP\r\nQUIT\r\n";
        let (out, outcome, path, _dir) = run(script, &Config::bs(&profile, 10_000));
        assert_eq!(codes(&out), ["220", "250", "503", "250", "550", "250", "354", "250", "250", "250", "250", "250", "221"], "{out}");
        assert!(out.contains("250-PIPELINING\r\n") && out.contains("250 SIZE 10000\r\n") && !out.contains("AUTH"), "{out}");
        assert_eq!(outcome.accepted.len(), 1);
        let s = Store::open(&path).unwrap();
        let raw = s.raw_message(outcome.accepted[0]).unwrap();
        let text = String::from_utf8(raw).unwrap();
        assert!(text.contains("\r\n\r\n.dotted\r\n"), "{text}");
        let d = s.show(outcome.accepted[0]).unwrap();
        assert_eq!(d.summary.sender, "app@example.com");
        assert_eq!(d.body_type.as_deref(), Some("8BITMIME"));
    }

    #[test]
    fn over_size_is_refused_by_the_size_parameter_and_by_the_data() {
        let profile = profile();
        let big = "x".repeat(200);
        let script = format!(
            "EHLO c\r\nMAIL FROM:<a@example.com> SIZE=101\r\nMAIL FROM:<a@example.com> SIZE=99999999999999999999999\r\n\
             MAIL FROM:<a@example.com> SIZE=50\r\nRCPT TO:<b@example.com>\r\nDATA\r\nSubject: s\r\n\r\n{big}\r\n.\r\nQUIT\r\n"
        );
        let (out, outcome, path, _dir) = run(&script, &Config::bs(&profile, 100));
        assert_eq!(codes(&out), ["220", "250", "552", "552", "250", "250", "354", "552", "221"], "{out}");
        assert!(outcome.accepted.is_empty());
        assert_eq!(Store::open(&path).unwrap().counts().unwrap().messages, 0);
    }

    #[test]
    fn a_login_is_required_when_set_and_a_wrong_one_refused() {
        let profile = profile();
        let login = [LocalLogin { username: "cron".into(), password: Password::new("s3cret").unwrap(), profile: profile.clone() }];
        let config = Config { logins: &login, login_required: true, source: "smtp listener", ..Config::bs(&profile, 10_000) };
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let script = format!(
            "EHLO c\r\nMAIL FROM:<a@example.com>\r\nAUTH PLAIN {}\r\nAUTH LOGIN\r\n{}\r\n{}\r\nAUTH PLAIN\r\n{}\r\n\
             MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\nSubject: s\r\n\r\nhi\r\n.\r\nQUIT\r\n",
            b64("\0cron\0wrong"),
            b64("cron"),
            b64("nope"),
            b64("\0cron\0s3cret")
        );
        let (out, outcome, _path, _dir) = run(&script, &config);
        assert!(out.contains("250-AUTH PLAIN LOGIN\r\n"), "{out}");
        assert_eq!(
            codes(&out),
            ["220", "250", "530", "535", "334", "334", "535", "334", "235", "250", "250", "354", "250", "221"],
            "{out}"
        );
        assert_eq!(outcome.accepted.len(), 1);
        assert_eq!(outcome.failed_logins, 2);
        assert!(!out.contains("s3cret") && !out.contains("wrong"));
        // Three failures close the session.
        let script = format!("AUTH PLAIN {0}\r\nAUTH PLAIN {0}\r\nAUTH PLAIN {0}\r\nNOOP\r\n", b64("\0cron\0x"));
        let (out, _, _, _dir) = run(&script, &config);
        assert_eq!(codes(&out), ["220", "535", "535", "421"], "{out}");
    }

    #[test]
    fn long_lines_and_a_line_break_in_an_address_are_refused() {
        let profile = profile();
        let long = "x".repeat(10_000);
        let script = format!("NOOP {long}\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@exa\rmple.com>\r\nDATA\r\nQUIT\r\n");
        let (out, outcome, _path, _dir) = run(&script, &Config::bs(&profile, 10_000));
        assert_eq!(codes(&out), ["220", "500", "250", "553", "554", "221"], "{out}");
        assert!(outcome.accepted.is_empty());
    }
}
