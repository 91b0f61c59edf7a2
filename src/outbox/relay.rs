//! One delivery connection to the relay: connect, greeting, EHLO, TLS, login, then any number of
//! message transactions (RSET between), each network step bounded by the timeout setting.
//!
//! Built on the validation's own client pieces (`smtp::conn`, `tls`, `sasl`, `reply`) rather than
//! lettre: lettre's pool bounds only idle connections (no hard cap on open ones), and one refused
//! RCPT aborts the whole message and drops the connection there, where delivery must go on to the
//! other recipients. It also lacks PIPELINING, used here when the server offers it.

use crate::secrets::Password;
use crate::settings::{AuthMethod, Profile, Security};
use crate::smtp::conn::{bounded, Error as Wire, Session, Stream};
use crate::smtp::redact::Redactor;
use crate::smtp::reply::{Capabilities, Reply};
use crate::smtp::transcript::Transcript;
use crate::smtp::{address, sasl, tls, CancelToken};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Why a connection could not be set up or went away; always temporary for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Trouble(pub String);

/// What became of one recipient in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    Sent,
    Deferred,
    Failed,
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
}

pub(crate) struct Connection {
    session: Session,
    t: Transcript,
    caps: Capabilities,
    timeout: Duration,
    /// `host:port`, as recorded with each attempt.
    pub server: String,
    /// A transaction has run on it, so the next starts with RSET.
    used: bool,
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
    /// Opens a ready-to-send connection to the profile's relay (logged in if it asks for a login).
    pub async fn open(profile: &Profile, password: Option<&Password>, cancel: &CancelToken) -> Result<Connection, Trouble> {
        let timeout = profile.limits.step_timeout();
        let host = profile.relay.host.trim();
        let port = profile.relay.port;
        let server = format!("{host}:{port}");
        let host_ascii = if host.parse::<std::net::IpAddr>().is_ok() {
            host.to_string()
        } else {
            idna::domain_to_ascii(host).map_err(|_| Trouble(format!("'{host}' is not a valid host name")))?
        };
        let deadline = Instant::now() + timeout;
        let addrs: Vec<SocketAddr> = match bounded(cancel, deadline, tokio::net::lookup_host((host_ascii.as_str(), port))).await {
            Ok(Ok(a)) => a.collect(),
            Ok(Err(e)) => return Err(Trouble(format!("looking up {host} failed: {e}"))),
            Err(e) => return Err(wire(e, &format!("looking up {host}"))),
        };
        if addrs.is_empty() {
            return Err(Trouble(format!("{host} has no address")));
        }
        let mut last = String::new();
        let mut tcp = None;
        for (i, addr) in addrs.iter().enumerate() {
            // One silent address can't use up the whole step.
            let left = deadline.saturating_duration_since(Instant::now());
            let attempt = Instant::now() + left / (addrs.len() - i) as u32;
            match bounded(cancel, attempt, TcpStream::connect(addr)).await {
                Ok(Ok(s)) => {
                    tcp = Some(s);
                    break;
                }
                Ok(Err(e)) => last = format!("connecting to {addr}: {e}"),
                Err(e) => last = wire(e, &format!("connecting to {addr}")).0,
            }
        }
        let tcp = tcp.ok_or(Trouble(last))?;
        let _ = tcp.set_nodelay(true);
        let local_ip = tcp.local_addr().ok().map(|a| a.ip());
        let mut t = Transcript::default();
        if let (Some(pw), AuthMethod::Password) = (password, profile.auth.method) {
            t.set_redactor(Redactor::new(&profile.auth.username, pw.expose()));
        }
        let verify = profile.relay.verify_certificates;
        let tls_setup = || tls::setup(&host_ascii, profile.relay.ca_file.as_deref()).map_err(|f| Trouble(f.message));
        let stream = if profile.relay.security == Security::ImplicitTls {
            Stream::Tls(Box::new(handshake(tls_setup()?, tcp, verify, cancel, Instant::now() + timeout).await?))
        } else {
            Stream::Plain(tcp)
        };
        let session = Session::new(stream, cancel.clone(), Instant::now() + timeout);
        let mut c = Connection { session, t, caps: Capabilities::default(), timeout, server, used: false };
        let banner = c.read("waiting for the greeting").await?;
        if banner.code != 220 {
            return Err(Trouble(format!("the server refused the connection: {}", banner.one_line())));
        }
        let name = crate::machine::ehlo_name_from_setting(&profile.ehlo_name, local_ip).name;
        c.hello(&name).await?;
        if profile.relay.security == Security::StartTls {
            if !c.caps.has("STARTTLS") {
                return Err(Trouble("the server does not offer STARTTLS, and the settings require it".into()));
            }
            let r = c.cmd("STARTTLS", "starting TLS").await?;
            if r.code != 220 {
                return Err(Trouble(format!("the server refused STARTTLS: {}", r.one_line())));
            }
            if c.session.has_unread() {
                return Err(Trouble("the server sent data before the TLS handshake (a possible injection); not continuing".into()));
            }
            let Connection { session, t, caps, timeout, server, used } = c;
            let Session { stream: Stream::Plain(tcp), .. } = session else { unreachable!("STARTTLS runs on a plain connection") };
            let tls = handshake(tls_setup()?, tcp, verify, cancel, Instant::now() + timeout).await?;
            let session = Session::new(Stream::Tls(Box::new(tls)), cancel.clone(), Instant::now() + timeout);
            c = Connection { session, t, caps, timeout, server, used };
            c.hello(&name).await?;
        }
        if profile.auth.method == AuthMethod::Password {
            let pw = password.ok_or_else(|| Trouble("password login is configured, but no password is saved".into()))?;
            c.login(profile, pw).await?;
        }
        Ok(c)
    }

    async fn read(&mut self, doing: &str) -> Result<Reply, Trouble> {
        self.session.deadline = Instant::now() + self.timeout;
        self.session.read_reply(&mut self.t).await.map_err(|e| wire(e, doing))
    }

    async fn cmd_shown(&mut self, line: &str, shown: &str, doing: &str) -> Result<Reply, Trouble> {
        self.session.deadline = Instant::now() + self.timeout;
        self.session.send(&mut self.t, line, shown).await.map_err(|e| wire(e, doing))?;
        self.read(doing).await
    }

    async fn cmd(&mut self, line: &str, doing: &str) -> Result<Reply, Trouble> {
        self.cmd_shown(line, line, doing).await
    }

    async fn hello(&mut self, name: &str) -> Result<(), Trouble> {
        let r = self.cmd(&format!("EHLO {name}"), "sending EHLO").await?;
        if r.code == 250 {
            self.caps = Capabilities::from_ehlo(&r);
            return Ok(());
        }
        let helo = self.cmd(&format!("HELO {name}"), "sending HELO").await?;
        if helo.code == 250 {
            self.caps = Capabilities::default();
            return Ok(());
        }
        Err(Trouble(format!("the server rejected 'EHLO {name}': {}", r.one_line())))
    }

    async fn login(&mut self, profile: &Profile, password: &Password) -> Result<(), Trouble> {
        let user = profile.auth.username.as_str();
        let wanted = profile.auth.mechanism.candidates();
        let Some(mech) = wanted.iter().find(|m| self.caps.offers(m)).copied() else {
            return Err(Trouble(format!("the server offers no login SMTP Desk can use (AUTH {})", self.caps.auth_summary())));
        };
        let pw = password.expose();
        let r = if mech == "PLAIN" {
            self.cmd_shown(&format!("AUTH PLAIN {}", sasl::plain(user, pw)), "AUTH PLAIN ********", "logging in").await?
        } else {
            let mut r = self.cmd("AUTH LOGIN", "logging in").await?;
            if r.code == 334 {
                r = self.cmd_shown(&sasl::login_step(user), "********", "logging in").await?;
                if r.code == 334 {
                    r = self.cmd_shown(&sasl::login_step(pw), "********", "logging in").await?;
                }
            }
            r
        };
        if r.code == 235 {
            Ok(())
        } else {
            Err(Trouble(format!("the server rejected the login for {user}: {}", r.one_line())))
        }
    }

    /// Sends one message: MAIL, every RCPT (pipelined when offered), DATA for the accepted ones.
    pub async fn send(&mut self, env: &Envelope<'_>) -> Transaction {
        let n = env.recipients.len();
        let all = |v: Verdict, why: String, usable: bool| Transaction { results: vec![(v, why); n], usable };
        let smtputf8 = self.caps.has("SMTPUTF8") && (!env.sender.is_ascii() || env.recipients.iter().any(|r| !r.is_ascii()));
        let mut results: Vec<Option<(Verdict, String)>> = vec![None; n];
        let mut rcpt_lines = Vec::with_capacity(n);
        for (i, r) in env.recipients.iter().enumerate() {
            match address::for_server(r, smtputf8) {
                Ok(a) => rcpt_lines.push((i, format!("RCPT TO:<{a}>"))),
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
        let rset = std::mem::replace(&mut self.used, true);
        let mut commands: Vec<String> = Vec::with_capacity(n + 2);
        if rset {
            commands.push("RSET".into());
        }
        commands.push(mail);
        commands.extend(rcpt_lines.iter().map(|(_, l)| l.clone()));
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
        if !mail_reply.is_positive() {
            let v = if mail_reply.code >= 500 { Verdict::Failed } else { Verdict::Deferred };
            return all(v, format!("the sender was refused: {}", mail_reply.one_line()), true);
        }
        let mut accepted = Vec::new();
        for ((i, _), r) in rcpt_lines.iter().zip(replies) {
            results[*i] = Some(if r.is_positive() {
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
        if accepted.is_empty() {
            return finish(results, true);
        }
        let set_accepted = |results: &mut Vec<Option<(Verdict, String)>>, v: Verdict, why: String| {
            for &i in &accepted {
                results[i] = Some((v.clone(), why.clone()));
            }
        };
        let data = match self.cmd("DATA", "starting the message").await {
            Ok(r) => r,
            Err(Trouble(why)) => {
                set_accepted(&mut results, Verdict::Deferred, why);
                return finish(results, false);
            }
        };
        if data.code != 354 {
            let v = if data.code >= 500 { Verdict::Failed } else { Verdict::Deferred };
            set_accepted(&mut results, v, format!("the message was refused: {}", data.one_line()));
            return finish(results, true);
        }
        self.session.deadline = Instant::now() + self.timeout;
        if let Err(e) = self.session.write_all(&crate::smtp::codec::data_payload(env.body)).await {
            set_accepted(&mut results, Verdict::Deferred, wire(e, "sending the message").0);
            return finish(results, false);
        }
        match self.read("waiting for the reply to the message").await {
            Ok(r) if r.is_positive() => set_accepted(&mut results, Verdict::Sent, r.one_line()),
            Ok(r) => {
                let v = if r.code >= 500 { Verdict::Failed } else { Verdict::Deferred };
                set_accepted(&mut results, v, format!("the message was refused: {}", r.one_line()));
            }
            Err(Trouble(why)) => {
                // The whole message went out; the server may have taken it and the reply got lost.
                set_accepted(&mut results, Verdict::Deferred, format!("may have been delivered: {why} (after the whole message was sent)"));
                return finish(results, false);
            }
        }
        finish(results, true)
    }

    /// Sends `commands` and reads one reply each: all in one write when the server offers
    /// PIPELINING (RFC 2920), else one at a time.
    async fn exchange(&mut self, commands: &[String]) -> Result<Vec<Reply>, Trouble> {
        let mut replies = Vec::with_capacity(commands.len());
        if self.caps.has("PIPELINING") {
            let mut bytes = Vec::new();
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
        let redactor = self.t.redactor().clone();
        self.t = Transcript::default();
        self.t.set_redactor(redactor);
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

/// The TLS handshake, judged by the certificate setting.
async fn handshake(
    setup: tls::TlsSetup,
    tcp: TcpStream,
    verify: bool,
    cancel: &CancelToken,
    deadline: Instant,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, Trouble> {
    let s = match bounded(cancel, deadline, setup.connector.connect(setup.server_name.clone(), tcp)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(Trouble(format!("the TLS handshake failed: {e}"))),
        Err(e) => return Err(wire(e, "negotiating TLS")),
    };
    match tls::judge(setup.verifier.verdict(), verify) {
        tls::Judgement::Rejected(e) => Err(Trouble(format!("the server's certificate is not trusted: {e}"))),
        _ => Ok(s),
    }
}
