//! One delivery connection to the relay: connect, greeting, EHLO, TLS, login, then any number of
//! message transactions (RSET between), each network step bounded by the timeout setting.
//!
//! Opened by the validation's own steps (`smtp::session`), so what "Validate configuration"
//! checked is what delivery does; the transactions are here, on the same client pieces
//! (`smtp::conn`, `reply`) rather than lettre: lettre's pool bounds only idle connections (no
//! hard cap on open ones), and one refused RCPT aborts the whole message and drops the connection
//! there, where delivery must go on to the other recipients. It also lacks PIPELINING, used here
//! when the server offers it.

use super::store::Dsn;
use crate::secrets::Password;
use crate::settings::Profile;
use crate::smtp::conn::{Error as Wire, Session};
use crate::smtp::reply::{Capabilities, Reply};
use crate::smtp::session::{self, Opened};
use crate::smtp::tls::CertInfo;
use crate::smtp::transcript::Transcript;
use crate::smtp::{address, CancelToken};
use std::time::Duration;
use tokio::time::Instant;

/// Why a connection could not be set up or went away; always temporary for delivery (an opening
/// step's category, which the validation shows, does not change that: the settings may be
/// fixed, or the server come back, before the next try).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Trouble(pub String);

/// What became of one recipient in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    Sent,
    Deferred,
    Failed,
}

impl From<Verdict> for super::claim::Outcome {
    fn from(v: Verdict) -> Self {
        match v {
            Verdict::Sent => Self::Sent,
            Verdict::Deferred => Self::Deferred,
            Verdict::Failed => Self::Failed,
        }
    }
}

/// The outcome for each recipient, in the order given, with the server's reply (or our reason).
#[derive(Debug, Clone)]
pub(crate) struct Transaction {
    pub results: Vec<(Verdict, String)>,
    /// False when the connection can't carry another message (lost, timed out, out of step).
    pub usable: bool,
}

/// What the relay needs to send one message.
pub(crate) struct Envelope<'a> {
    pub sender: &'a str,
    pub recipients: Vec<&'a str>,
    pub body: &'a [u8],
    pub eight_bit: bool,
    /// The caller's DSN requests, sent when the server offers DSN (RFC 3461).
    pub dsn: &'a Dsn,
}

pub(crate) struct Connection {
    session: Session,
    t: Transcript,
    caps: Capabilities,
    timeout: Duration,
    /// A transaction was begun and not finished (MAIL accepted, no final reply to the data), so
    /// the next one starts with RSET.
    dirty: bool,
    /// The buffer the message is prepared in, kept between messages.
    payload: Vec<u8>,
    /// The TLS version negotiated ("TLS 1.3"), `None` on a plain connection: the mail log shows it.
    tls: Option<String>,
}

/// How a lost reply after the whole message is recorded: the server may have the message, and a
/// retry may deliver it twice (the last reply and the attempt say so).
pub(crate) const MAY_HAVE_BEEN_DELIVERED: &str = "may have been delivered";

fn set(results: &mut [Option<(Verdict, String)>], which: &[usize], v: Verdict, why: &str) {
    for &i in which {
        results[i] = Some((v.clone(), why.to_string()));
    }
}

/// RFC 3461 §4.1: NOTIFY is NEVER, or a list of SUCCESS, FAILURE, DELAY; anything else is not sent.
fn dsn_notify(value: &str) -> Option<String> {
    let words: Vec<String> = value.split(',').map(|w| w.trim().to_ascii_uppercase()).collect();
    let ok = if words.len() == 1 && words[0] == "NEVER" {
        true
    } else {
        !words.is_empty() && words.iter().all(|w| matches!(w.as_str(), "SUCCESS" | "FAILURE" | "DELAY"))
    };
    ok.then(|| words.join(","))
}

/// RFC 3461 §4.3: RET is FULL or HDRS.
fn dsn_ret(value: &str) -> Option<&'static str> {
    match value.trim().to_ascii_uppercase().as_str() {
        "FULL" => Some("FULL"),
        "HDRS" => Some("HDRS"),
        _ => None,
    }
}

/// RFC 3461 §4: xtext, `+XX` for '+', '=', and anything outside '!'..='~'.
fn xtext(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if (b'!'..=b'~').contains(&b) && b != b'+' && b != b'=' {
            out.push(b as char);
        } else {
            out.push_str(&format!("+{b:02X}"));
        }
    }
    out
}

/// [`crate::smtp::codec::data_payload`] into `out`, a line at a time (memchr) rather than a byte
/// at a time: the same bytes, at a fraction of the cost, which a drain of thousands of messages
/// a second notices.
fn data_payload(message: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.reserve(message.len() + 16);
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', message).chain(std::iter::once(message.len())) {
        let line = &message[start..end];
        if line.is_empty() && end == message.len() {
            break;
        }
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        // A CR ends the line only before an LF; an unterminated last line is kept whole.
        let terminated = end < message.len();
        out.extend_from_slice(if terminated { line.strip_suffix(b"\r").unwrap_or(line) } else { line });
        out.extend_from_slice(b"\r\n");
        start = end + 1;
    }
    out.extend_from_slice(b".\r\n");
}

fn wire(e: Wire, doing: &str) -> Trouble {
    Trouble(match e {
        Wire::Timeout => format!("no answer in time while {doing}"),
        Wire::Closed => format!("the server closed the connection while {doing}"),
        Wire::Cancelled => "delivery was stopped".into(),
        Wire::NotSmtp(m) => format!("the server's answer is not SMTP while {doing}: {m}"),
        Wire::Io(e) => format!("{e} while {doing}"),
    })
}

impl Connection {
    /// Opens a ready-to-send connection to the profile's relay (logged in if it asks for a login):
    /// the validation's own opening steps, any failure of which is temporary here. Also gives the
    /// relay's certificate when TLS got that far, whether or not the opening then succeeded (an
    /// expired one fails it): its end goes to the dashboard.
    pub async fn open(
        profile: &Profile,
        password: Option<&Password>,
        cancel: &CancelToken,
    ) -> (Result<Connection, Trouble>, Option<CertInfo>) {
        let (opened, cert) = session::open(profile, password, cancel).await;
        match opened {
            Ok(o) => (Ok(Connection::from_opened(o, profile)), cert),
            Err(e) => (Err(Trouble(e.to_string())), cert),
        }
    }

    /// Opens a connection to one MX host for direct delivery: [`session::open_at`] its `addrs`
    /// (the profile's host is the MX name, for TLS). Also gives the certificate seen and the
    /// opening's warnings (an unverified certificate used, no STARTTLS offered).
    pub async fn open_at(
        profile: &Profile,
        addrs: Vec<std::net::IpAddr>,
        opportunistic: bool,
        cancel: &CancelToken,
    ) -> (Result<Connection, Trouble>, Option<CertInfo>, Vec<String>) {
        let (opened, cert, warnings) = session::open_at(profile, addrs, opportunistic, cancel).await;
        match opened {
            Ok(o) => (Ok(Connection::from_opened(o, profile)), cert, warnings),
            Err(e) => (Err(Trouble(e.to_string())), cert, warnings),
        }
    }

    fn from_opened(opened: Opened, profile: &Profile) -> Connection {
        let Opened { session, transcript: t, caps } = opened;
        let tls = match &session.stream {
            crate::smtp::conn::Stream::Tls(s) => Some(crate::smtp::tls::negotiated(s.get_ref().1).0),
            crate::smtp::conn::Stream::Plain(_) => None,
        };
        Connection { session, t, caps, timeout: profile.limits.step_timeout(), dirty: false, payload: Vec::new(), tls }
    }

    /// The TLS version of this connection ("TLS 1.3"), `None` without TLS.
    pub fn tls(&self) -> Option<String> {
        self.tls.clone()
    }

    async fn read(&mut self, doing: &str) -> Result<Reply, Trouble> {
        self.session.deadline = Instant::now() + self.timeout;
        self.session.read_reply(&mut self.t).await.map_err(|e| wire(e, doing))
    }

    async fn cmd(&mut self, line: &str, doing: &str) -> Result<Reply, Trouble> {
        self.session.deadline = Instant::now() + self.timeout;
        self.session.send(&mut self.t, line, line).await.map_err(|e| wire(e, doing))?;
        self.read(doing).await
    }

    /// Checks that a connection kept idle is still good (NOOP), before it carries a message.
    pub async fn check(&mut self) -> Result<(), Trouble> {
        let r = self.cmd("NOOP", "checking the kept connection").await?;
        if r.code == 250 {
            Ok(())
        } else {
            Err(Trouble(format!("the server answered NOOP with {}", r.one_line())))
        }
    }

    /// The MAIL FROM line: SIZE, BODY, SMTPUTF8 and the DSN's RET and ENVID as the server offers.
    fn mail_line(&self, sender: &str, env: &Envelope<'_>, smtputf8: bool) -> String {
        let mut mail = format!("MAIL FROM:<{sender}>");
        if self.caps.size().is_some() {
            mail.push_str(&format!(" SIZE={}", env.body.len()));
        }
        if env.eight_bit && self.caps.has("8BITMIME") {
            mail.push_str(" BODY=8BITMIME");
        }
        if smtputf8 {
            mail.push_str(" SMTPUTF8");
        }
        if self.caps.has("DSN") {
            if let Some(ret) = env.dsn.ret.as_deref().and_then(dsn_ret) {
                mail.push_str(&format!(" RET={ret}"));
            }
            if let Some(envid) = env.dsn.envid.as_deref().filter(|e| !e.is_empty()) {
                mail.push_str(&format!(" ENVID={}", xtext(envid)));
            }
        }
        mail
    }

    /// The RCPT TO line: the DSN's NOTIFY and ORCPT (the address as queued) when offered.
    fn rcpt_line(&self, address: &str, original: &str, env: &Envelope<'_>) -> String {
        let mut line = format!("RCPT TO:<{address}>");
        if self.caps.has("DSN") {
            if let Some(notify) = env.dsn.notify.as_deref().and_then(dsn_notify) {
                line.push_str(&format!(" NOTIFY={notify}"));
            }
            if original.is_ascii() {
                line.push_str(&format!(" ORCPT=rfc822;{}", xtext(original)));
            }
        }
        line
    }

    /// Sends one message: MAIL, every RCPT and DATA in one write when the server offers
    /// PIPELINING (RFC 2920: DATA may end the group), then the message; one at a time otherwise.
    pub async fn send(&mut self, env: &Envelope<'_>) -> Transaction {
        let n = env.recipients.len();
        let all = |v: Verdict, why: String, usable: bool| Transaction { results: vec![(v, why); n], usable };
        let smtputf8 = self.caps.has("SMTPUTF8") && (!env.sender.is_ascii() || env.recipients.iter().any(|r| !r.is_ascii()));
        let mut results: Vec<Option<(Verdict, String)>> = vec![None; n];
        let mut rcpt_lines = Vec::with_capacity(n);
        for (i, r) in env.recipients.iter().enumerate() {
            match address::for_server(r, smtputf8) {
                Ok(a) => rcpt_lines.push((i, self.rcpt_line(&a, r, env))),
                Err(e) => results[i] = Some((Verdict::Failed, e.to_string())),
            }
        }
        if rcpt_lines.is_empty() {
            return Transaction { results: results.into_iter().map(Option::unwrap).collect(), usable: true };
        }
        let sender = match address::for_server(env.sender, smtputf8) {
            Ok(s) => s,
            Err(e) => return all(Verdict::Failed, format!("the sender: {e}"), true),
        };
        let pipelining = self.caps.has("PIPELINING");
        let rset = self.dirty;
        let mut commands: Vec<String> = Vec::with_capacity(n + 3);
        if rset {
            commands.push("RSET".into());
        }
        commands.push(self.mail_line(&sender, env, smtputf8));
        commands.extend(rcpt_lines.iter().map(|(_, l)| l.clone()));
        if pipelining {
            commands.push("DATA".into());
        }
        self.dirty = true;
        let replies = match self.exchange(&commands).await {
            Ok(r) => r,
            Err(Trouble(why)) => return all(Verdict::Deferred, why, false),
        };
        let mut replies = replies.into_iter();
        if rset {
            let r = replies.next().expect("one reply per command");
            if r.code != 250 {
                return all(Verdict::Deferred, format!("the server refused RSET: {}", r.one_line()), false);
            }
        }
        let mail_reply = replies.next().expect("one reply per command");
        let mut accepted = Vec::new();
        for (i, _) in &rcpt_lines {
            let r = replies.next().expect("one reply per command");
            results[*i] = Some(if !mail_reply.is_positive() {
                // The RCPT replies mean nothing without a sender.
                let v = if mail_reply.code >= 500 { Verdict::Failed } else { Verdict::Deferred };
                (v, format!("the sender was refused: {}", mail_reply.one_line()))
            } else if r.is_positive() {
                accepted.push(*i);
                (Verdict::Sent, r.one_line())
            } else if r.code >= 500 {
                (Verdict::Failed, r.one_line())
            } else {
                (Verdict::Deferred, r.one_line())
            });
        }
        let finish = |results: Vec<Option<(Verdict, String)>>, usable| Transaction {
            results: results.into_iter().map(|r| r.unwrap_or((Verdict::Deferred, "not tried".into()))).collect(),
            usable,
        };
        let data = if pipelining {
            replies.next().expect("one reply per command")
        } else if accepted.is_empty() {
            return finish(results, true);
        } else {
            match self.cmd("DATA", "starting the message").await {
                Ok(r) => r,
                Err(Trouble(why)) => {
                    set(&mut results, &accepted, Verdict::Deferred, &why);
                    return finish(results, false);
                }
            }
        };
        if data.code != 354 {
            if !accepted.is_empty() {
                let v = if data.code >= 500 { Verdict::Failed } else { Verdict::Deferred };
                set(&mut results, &accepted, v, &format!("the message was refused: {}", data.one_line()));
            }
            return finish(results, true);
        }
        if accepted.is_empty() {
            // A server that said 354 with no recipient: end the empty message at once (RFC 2920 §3.1).
            let r = self.cmd(".", "ending an empty message").await;
            self.dirty = r.is_err();
            return finish(results, r.is_ok());
        }
        self.session.deadline = Instant::now() + self.timeout;
        let mut payload = std::mem::take(&mut self.payload);
        data_payload(env.body, &mut payload);
        let written = self.session.write_all(&payload).await;
        self.payload = payload;
        if let Err(e) = written {
            set(&mut results, &accepted, Verdict::Deferred, &wire(e, "sending the message").0);
            return finish(results, false);
        }
        match self.read("waiting for the reply to the message").await {
            Ok(r) if r.is_positive() => set(&mut results, &accepted, Verdict::Sent, &r.one_line()),
            Ok(r) => {
                let v = if r.code >= 500 { Verdict::Failed } else { Verdict::Deferred };
                set(&mut results, &accepted, v, &format!("the message was refused: {}", r.one_line()));
            }
            Err(Trouble(why)) => {
                // The whole message went out; the server may have taken it and the reply got lost.
                set(
                    &mut results,
                    &accepted,
                    Verdict::Deferred,
                    &format!("{MAY_HAVE_BEEN_DELIVERED}: {why} (after the whole message was sent)"),
                );
                return finish(results, false);
            }
        }
        self.dirty = false;
        finish(results, true)
    }

    /// Sends `commands` and reads one reply each: all in one write when the server offers
    /// PIPELINING (RFC 2920), else one at a time.
    async fn exchange(&mut self, commands: &[String]) -> Result<Vec<Reply>, Trouble> {
        let mut replies = Vec::with_capacity(commands.len());
        if self.caps.has("PIPELINING") {
            let mut bytes = Vec::with_capacity(commands.iter().map(|c| c.len() + 2).sum());
            for c in commands {
                self.t.push(crate::smtp::Direction::Client, c);
                bytes.extend_from_slice(c.as_bytes());
                bytes.extend_from_slice(b"\r\n");
            }
            self.session.deadline = Instant::now() + self.timeout;
            self.session.write_all(&bytes).await.map_err(|e| wire(e, "sending the envelope"))?;
            for _ in commands {
                replies.push(self.read("reading the replies to the envelope").await?);
            }
        } else {
            for c in commands {
                replies.push(self.cmd(c, "sending the envelope").await?);
            }
        }
        // The transcript is only for redaction while reading; don't let it grow over a long batch.
        self.t.clear();
        Ok(replies)
    }

    /// Ends the session politely, briefly.
    pub async fn quit(mut self) {
        self.session.deadline = Instant::now() + self.timeout.min(Duration::from_secs(2));
        if self.session.send(&mut self.t, "QUIT", "QUIT").await.is_ok() {
            let _ = self.session.read_reply(&mut self.t).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_payload_is_the_codec_s() {
        let cases: &[&[u8]] =
            &[b"", b"a", b"a\r\n", b"a\n.b\r\n..c\n\n.\r\nend", b".first\r\nx\r", b"cr\ronly\r\n\r\n", b"Gr\xfc\xdfe\n\xff\r\n."];
        let mut out = Vec::new();
        for &c in cases {
            data_payload(c, &mut out);
            assert_eq!(out, crate::smtp::codec::data_payload(c), "{:?}", String::from_utf8_lossy(c));
        }
        // Random messages of the characters that matter.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..2000 {
            let len = (seed % 40) as usize;
            let msg: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    b".\r\nab"[(seed % 5) as usize]
                })
                .collect();
            data_payload(&msg, &mut out);
            assert_eq!(out, crate::smtp::codec::data_payload(&msg), "{:?}", String::from_utf8_lossy(&msg));
        }
    }
}
