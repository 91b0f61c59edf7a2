//! The steps of a validation (and of the test email): resolve, connect, greeting, EHLO, TLS,
//! AUTH, envelope (and DATA), each timed, each failure turned into a category and a hint.

use super::address;
use super::conn::{bounded, Error as Wire, Session, Stream};
use super::failure::{Category, Failure, Place};
use super::redact::Redactor;
use super::reply::{Capabilities, Reply};
use super::sasl;
use super::tls::{self, CertInfo, TlsSetup};
use super::transcript::{Direction, Transcript, TranscriptLine};
use super::{CancelToken, PasswordSource, Step, StepKind, StepStatus};
use crate::error::ErrorReport;
use crate::secrets::Password;
use crate::settings::{AuthMethod, Mechanism, Profile, Security};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// What the run is for.
pub(crate) enum Goal<'a> {
    /// Stop after RCPT TO, then RSET and QUIT.
    Validate { recipient: &'a str },
    /// Send `message` (CRLF lines, not dot-stuffed) to `to`.
    Send { to: &'a str, message: &'a [u8] },
}

/// Everything a run produced; secrets already redacted.
pub(crate) struct Run {
    pub steps: Vec<Step>,
    pub failure: Option<Failure>,
    pub warnings: Vec<String>,
    pub transcript: Vec<TranscriptLine>,
    /// The server's last reply (the final DATA reply after a successful send).
    pub last_reply: Option<Reply>,
}

/// How long we wait for the answer to a "does this port speak TLS?" check after a missing
/// greeting: a real TLS server answers a ClientHello within a round trip, and the whole run must
/// still end within the timeout plus a second.
const TLS_SNIFF: Duration = Duration::from_millis(600);

/// The whole run (validation or test email) ends after this many step timeouts, however the
/// time is spread: a server whose every reply comes just inside the step timeout must not keep
/// the user waiting for steps × timeout (with the 600 s maximum, over an hour). Three step
/// timeouts leave room for one slow step and normal ones, while a run against a working server
/// takes a fraction of one.
pub const RUN_LIMIT_FACTOR: u32 = 3;

type StepResult = Result<(StepStatus, String), Failure>;

/// Runs the steps in order, reporting each to `on_step` as it finishes.
pub(crate) async fn run(
    profile: &Profile,
    password: PasswordSource<'_>,
    goal: Goal<'_>,
    cancel: &CancelToken,
    on_step: &mut (dyn FnMut(&Step) + Send),
) -> Run {
    let security = profile.relay.security;
    let mut plan = vec![StepKind::Resolve, StepKind::Connect];
    if security == Security::ImplicitTls {
        plan.extend([StepKind::Tls, StepKind::Banner, StepKind::Ehlo]);
    } else {
        plan.extend([StepKind::Banner, StepKind::Ehlo, StepKind::Tls]);
    }
    plan.extend([StepKind::Auth, StepKind::Envelope]);
    if matches!(goal, Goal::Send { .. }) {
        plan.push(StepKind::Data);
    }

    let mut p = Probe::new(profile, password, cancel);
    let mut steps = Vec::with_capacity(plan.len());
    let mut failure = None;
    for (i, &kind) in plan.iter().enumerate() {
        p.details.clear();
        let deadline = p.step_deadline();
        if let Some(s) = p.session.as_mut() {
            s.deadline = deadline;
        }
        let started = Instant::now();
        let result = if cancel.is_cancelled() {
            Err(Failure::cancelled())
        } else if Instant::now() >= p.run_deadline {
            Err(p.run_timeout(kind, &goal))
        } else {
            match p.step(kind, &goal).await {
                // A step cut short by the overall limit says so, not "the server stopped answering".
                Err(f) if f.category == Category::Timeout && Instant::now() >= p.run_deadline => Err(p.run_timeout(kind, &goal)),
                r => r,
            }
        };
        // What to redact is known once the password is (at the login step at the latest); lines
        // read from then on are redacted as they are read. Server text in the step is already
        // redacted and cleaned; this pass catches text from elsewhere (I/O and TLS errors).
        let secrets = p.t.redactor().clone();
        let (status, summary, fail) = match result {
            Ok((status, summary)) => (status, summary, None),
            Err(f) => (StepStatus::Failed, f.message.clone(), Some(f)),
        };
        let step = Step {
            step: kind,
            title: kind.title().into(),
            status,
            duration_ms: started.elapsed().as_millis() as u64,
            summary: secrets.tidy(&summary),
            details: p.details.drain(..).map(|(k, v)| (secrets.tidy(&k), secrets.tidy(&v))).collect(),
            failure: fail.clone().map(|f| redact_failure(f, &secrets)),
        };
        on_step(&step);
        steps.push(step);
        if let Some(f) = fail {
            for &rest in &plan[i + 1..] {
                let step = Step {
                    step: rest,
                    title: rest.title().into(),
                    status: StepStatus::Skipped,
                    duration_ms: 0,
                    summary: "Not run: an earlier step failed.".into(),
                    details: Vec::new(),
                    failure: None,
                };
                on_step(&step);
                steps.push(step);
            }
            failure = Some(redact_failure(f, &secrets));
            break;
        }
    }
    if let Some(f) = &failure {
        p.quit_politely(f.category).await;
    }
    let secrets = p.t.redactor().clone();
    let warnings = p.warnings.iter().map(|w| secrets.tidy(w)).collect();
    let last_reply = p.last_reply.map(|r| Reply { lines: r.lines.iter().map(|l| secrets.tidy(l)).collect(), ..r });
    Run { steps, failure, warnings, transcript: p.t.into_lines(), last_reply }
}

fn redact_failure(mut f: Failure, secrets: &Redactor) -> Failure {
    f.message = secrets.tidy(&f.message);
    f.hint = secrets.tidy(&f.hint);
    f
}

struct Probe<'a> {
    profile: &'a Profile,
    password: Option<Password>,
    /// The keyring read still under way, if the caller started one.
    pending: Option<tokio::sync::oneshot::Receiver<Result<Option<Password>, crate::secrets::Error>>>,
    cancel: &'a CancelToken,
    timeout: Duration,
    /// When the whole run must end: [`RUN_LIMIT_FACTOR`] × the step timeout after it started.
    run_deadline: Instant,
    /// This end of the connection, for an address-literal EHLO name.
    local_ip: Option<IpAddr>,
    /// The host as the user wrote it, for messages.
    host: String,
    /// The host in the form DNS and TLS use (IDNA ASCII, or the address literal).
    host_ascii: String,
    addrs: Vec<IpAddr>,
    session: Option<Session>,
    t: Transcript,
    caps: Capabilities,
    tls: Option<TlsSetup>,
    /// The rows of the step in progress.
    details: Vec<(String, String)>,
    warnings: Vec<String>,
    last_reply: Option<Reply>,
}

impl<'a> Probe<'a> {
    fn new(profile: &'a Profile, password: PasswordSource<'a>, cancel: &'a CancelToken) -> Self {
        let host = profile.relay.host.trim().to_string();
        let timeout = Duration::from_secs(u64::from(profile.limits.timeout_secs.max(1)));
        let (password, pending) = match password {
            PasswordSource::Ready(p) => (p.cloned(), None),
            PasswordSource::Pending(rx) => (None, Some(rx)),
        };
        let mut t = Transcript::default();
        t.set_redactor(redactor(profile, password.as_ref()));
        Self {
            profile,
            password,
            pending,
            cancel,
            timeout,
            run_deadline: Instant::now() + timeout * RUN_LIMIT_FACTOR,
            local_ip: None,
            host_ascii: host.trim_start_matches('[').trim_end_matches(']').to_string(),
            host,
            addrs: Vec::new(),
            session: None,
            t,
            caps: Capabilities::default(),
            tls: None,
            details: Vec::new(),
            warnings: Vec::new(),
            last_reply: None,
        }
    }

    /// The password, waiting (bounded, cancellable) for the keyring read if it is still going.
    async fn password(&mut self) -> Result<Option<Password>, Failure> {
        if let Some(rx) = self.pending.take() {
            let read = match bounded(self.cancel, self.step_deadline(), rx).await {
                Err(Wire::Cancelled) => return Err(Failure::cancelled()),
                // Reported by `run` as the overall limit.
                Err(_) if Instant::now() >= self.run_deadline => return Err(self.place().stalled("waiting for the keyring")),
                Err(_) => Err(crate::secrets::Error::Locked("no answer from the keyring in time".into())),
                Ok(Err(_)) => Err(crate::secrets::Error::Platform("the keyring reader stopped".into())),
                Ok(Ok(r)) => r,
            };
            self.password = read.map_err(|e| {
                let r = ErrorReport::from(&e);
                Failure::new(Category::KeyringFailed, r.message, r.hint.unwrap_or_default())
            })?;
        }
        Ok(self.password.clone())
    }

    /// When the current step runs out of time: its own timeout, but never past the run's end.
    fn step_deadline(&self) -> Instant {
        (Instant::now() + self.timeout).min(self.run_deadline)
    }

    /// The failure when the whole run passed its overall limit during `kind`.
    fn run_timeout(&self, kind: StepKind, goal: &Goal<'_>) -> Failure {
        let step = self.timeout.as_secs();
        let what = match goal {
            Goal::Validate { .. } => "The validation",
            Goal::Send { .. } => "Sending the test email",
        };
        Failure::new(
            Category::Timeout,
            format!(
                "{what} was stopped at its overall time limit of {} s ({RUN_LIMIT_FACTOR} × the {step} s timeout), during the step \
                 '{}': {} answers, but too slowly.",
                step * u64::from(RUN_LIMIT_FACTOR),
                kind.title(),
                self.host
            ),
            format!(
                "Each step may take up to the timeout ({step} s) and the whole run {RUN_LIMIT_FACTOR} times that. The server (or a \
                 firewall or antivirus proxy in between) is very slow right now: try again later, or raise the timeout \
                 (limits.timeout_secs)."
            ),
        )
    }

    fn place(&self) -> Place<'_> {
        Place { host: &self.host, port: self.profile.relay.port, timeout_secs: self.profile.limits.timeout_secs.max(1) }
    }

    fn detail(&mut self, k: &str, v: impl Into<String>) {
        self.details.push((k.into(), v.into()));
    }

    async fn step(&mut self, kind: StepKind, goal: &Goal<'_>) -> StepResult {
        match kind {
            StepKind::Resolve => self.resolve().await,
            StepKind::Connect => self.connect().await,
            StepKind::Banner => self.banner().await,
            StepKind::Ehlo => self.ehlo().await,
            StepKind::Tls => self.tls_step().await,
            StepKind::Auth => self.auth().await,
            StepKind::Envelope => match goal {
                Goal::Validate { recipient } => self.envelope(recipient, true).await,
                Goal::Send { to, .. } => self.envelope(to, false).await,
            },
            StepKind::Data => match goal {
                Goal::Send { message, .. } => self.data(message).await,
                Goal::Validate { .. } => Ok((StepStatus::Skipped, "Nothing to send.".into())),
            },
        }
    }

    /// Maps a wire error to a failure, saying what we were doing.
    fn wire(&self, e: Wire, doing: &str) -> Failure {
        let place = self.place();
        match e {
            Wire::Cancelled => Failure::cancelled(),
            Wire::Timeout => place.stalled(doing),
            Wire::Closed => place.closed(doing),
            Wire::NotSmtp(what) => place.not_smtp(&what),
            Wire::Io(e) => match e.kind() {
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::UnexpectedEof => {
                    place.closed(doing)
                }
                _ => place.network(doing, &e),
            },
        }
    }

    /// Sends a command and reads the reply.
    async fn cmd(&mut self, line: &str, doing: &str) -> Result<Reply, Failure> {
        self.cmd_shown(line, line, doing).await
    }

    /// Sends a command recorded as `shown` (a placeholder for credentials) and reads the reply.
    async fn cmd_shown(&mut self, line: &str, shown: &str, doing: &str) -> Result<Reply, Failure> {
        let s = self.session.as_mut().expect("connected before any command");
        let r = match s.send(&mut self.t, line, shown).await {
            Ok(()) => s.read_reply(&mut self.t).await,
            Err(e) => Err(e),
        };
        let r = r.map_err(|e| self.wire(e, doing))?;
        self.last_reply = Some(r.clone());
        Ok(r)
    }

    // ---- 1. resolve ----------------------------------------------------------------------

    async fn resolve(&mut self) -> StepResult {
        if let Ok(ip) = self.host_ascii.parse::<IpAddr>() {
            self.addrs = vec![ip];
            self.detail("addresses", ip.to_string());
            return Ok((StepStatus::Ok, format!("{ip} is an address: no DNS lookup needed.")));
        }
        let ascii = idna::domain_to_ascii(&self.host_ascii).map_err(|_| {
            Failure::new(
                Category::InvalidSettings,
                format!("'{}' is not a valid host name.", self.host),
                "Check the host setting: a name like smtp.example.com, or an IP address.",
            )
        })?;
        if ascii != self.host_ascii {
            self.detail("DNS form (IDNA)", ascii.clone());
        }
        self.host_ascii = ascii;
        let deadline = self.step_deadline();
        let resolver = {
            use hickory_resolver::config::LookupIpStrategy;
            let mut builder = hickory_resolver::TokioResolver::builder_tokio().map_err(|e| {
                Failure::new(
                    Category::DnsFailed,
                    format!("This machine's DNS settings can't be read: {e}."),
                    "Check /etc/resolv.conf (or the network settings), or enter the server's IP address as the host.",
                )
            })?;
            let opts = builder.options_mut();
            opts.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
            opts.timeout = self.timeout;
            opts.attempts = 1;
            builder.build()
        };
        let lookup = bounded(self.cancel, deadline, resolver.lookup_ip(self.host_ascii.as_str())).await;
        let place = self.place();
        let ips = match lookup {
            Err(Wire::Cancelled) => return Err(Failure::cancelled()),
            Err(_) => return Err(dns_timeout(&place)),
            Ok(Err(e)) if e.is_nx_domain() || e.is_no_records_found() => return Err(place.dns_not_found()),
            Ok(Err(e)) => {
                let timed_out = e.proto().is_some_and(|p| matches!(p.kind(), hickory_resolver::proto::ProtoErrorKind::Timeout));
                return Err(if timed_out {
                    dns_timeout(&place)
                } else {
                    Failure::new(
                        Category::DnsFailed,
                        format!("Looking up {} failed: {e}.", self.host),
                        "Check this machine's network and DNS settings, or try again in a moment.",
                    )
                });
            }
            Ok(Ok(found)) => found.iter().collect::<Vec<_>>(),
        };
        if ips.is_empty() {
            return Err(place.dns_not_found());
        }
        let list = ips.iter().map(IpAddr::to_string).collect::<Vec<_>>().join(", ");
        self.addrs = ips;
        self.detail("addresses", list.clone());
        Ok((StepStatus::Ok, format!("{} → {list}", self.host)))
    }

    // ---- 2. connect ----------------------------------------------------------------------

    async fn connect(&mut self) -> StepResult {
        let port = self.profile.relay.port;
        let deadline = self.step_deadline();
        let (mut timed_out, mut refused, mut unreachable, mut other) = (false, 0usize, false, None);
        let count = self.addrs.len();
        for (i, ip) in self.addrs.clone().into_iter().enumerate() {
            let addr = SocketAddr::new(ip, port);
            // Share what is left of the step between the addresses not yet tried, so one silent
            // address can't use up the whole timeout.
            let left = deadline.saturating_duration_since(Instant::now());
            let attempt_deadline = Instant::now() + left / (count - i) as u32;
            self.t.info(format!("Trying {addr}..."));
            let started = Instant::now();
            let result = bounded(self.cancel, attempt_deadline, TcpStream::connect(addr)).await;
            let ms = started.elapsed().as_millis();
            match result {
                Ok(Ok(tcp)) => {
                    let _ = tcp.set_nodelay(true);
                    self.local_ip = tcp.local_addr().ok().map(|a| a.ip());
                    self.t.info(format!("Connected to {addr}."));
                    self.detail(&addr.to_string(), format!("connected in {ms} ms"));
                    self.session = Some(Session::new(Stream::Plain(tcp), self.cancel.clone(), deadline));
                    return Ok((StepStatus::Ok, format!("Connected to {addr} in {ms} ms.")));
                }
                Err(Wire::Cancelled) => return Err(Failure::cancelled()),
                Err(_) => {
                    timed_out = true;
                    self.t.info(format!("No answer from {addr} after {ms} ms."));
                    self.detail(&addr.to_string(), format!("no answer after {ms} ms"));
                }
                Ok(Err(e)) => {
                    self.t.info(format!("{addr}: {e}"));
                    self.detail(&addr.to_string(), format!("{e} after {ms} ms"));
                    match e.kind() {
                        std::io::ErrorKind::ConnectionRefused => refused += 1,
                        std::io::ErrorKind::NetworkUnreachable | std::io::ErrorKind::HostUnreachable => unreachable = true,
                        _ => other = Some(e),
                    }
                }
            }
        }
        let place = self.place();
        Err(if timed_out {
            place.timeout("connecting")
        } else if refused > 0 {
            place.connection_refused()
        } else if unreachable {
            Failure::new(
                Category::NetworkUnreachable,
                format!("{}:{port} can't be reached from this machine: no route to it.", self.host),
                "Check this machine's network connection. If only an IPv6 address is listed, this network may have no IPv6.",
            )
        } else {
            place.network("connecting to", &other.unwrap_or_else(|| std::io::Error::other("no address")))
        })
    }

    // ---- 3. greeting ---------------------------------------------------------------------

    async fn banner(&mut self) -> StepResult {
        let s = self.session.as_mut().expect("connected");
        match s.read_reply(&mut self.t).await {
            Ok(r) => {
                self.last_reply = Some(r.clone());
                self.detail("greeting", r.one_line());
                if r.code == 220 {
                    Ok((StepStatus::Ok, r.one_line()))
                } else {
                    Err(Failure::new(
                        Category::ServerRefused,
                        format!("The server refused the connection: {}", r.one_line()),
                        "421 means the server is busy or limits connections: try again later. 554 means it refuses \
                         this machine (often its IP address is on a blocklist, or it only takes mail from its own network): \
                         read the server's text and ask the mail provider.",
                    ))
                }
            }
            Err(Wire::Timeout) if self.profile.relay.security != Security::ImplicitTls => {
                if self.speaks_tls().await {
                    Err(self.place().expects_implicit_tls())
                } else if self.cancel.is_cancelled() {
                    Err(Failure::cancelled())
                } else {
                    Err(self.place().stalled("waiting for the server's greeting (220)"))
                }
            }
            Err(e) => Err(self.wire(e, "waiting for the server's greeting (220)")),
        }
    }

    /// After a missing greeting: does the port answer a TLS ClientHello? Then it wants implicit TLS.
    async fn speaks_tls(&mut self) -> bool {
        let Some(Session { stream: Stream::Plain(tcp), .. }) = self.session.take() else { return false };
        let setup = match self.tls.take() {
            Some(s) => s,
            // A broken CA file must not hide the mismatch: sniff with the public roots only.
            None => {
                match tls::setup(&self.host_ascii, self.profile.relay.ca_file.as_deref()).or_else(|_| tls::setup(&self.host_ascii, None)) {
                    Ok(s) => s,
                    Err(_) => return false,
                }
            }
        };
        self.t.info("No greeting; checking whether the server expects TLS at once...");
        let deadline = (Instant::now() + TLS_SNIFF.min(self.timeout)).min(self.run_deadline);
        let result = bounded(self.cancel, deadline, setup.connector.connect(setup.server_name.clone(), tcp)).await;
        self.tls = Some(setup);
        let tls = match result {
            Ok(Ok(_)) => true,
            Ok(Err(e)) => e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                .is_some_and(|r| !matches!(r, rustls::Error::InvalidMessage(_))),
            Err(_) => false,
        };
        if tls {
            self.t.info("The server answered with a TLS handshake.");
        }
        tls
    }

    // ---- 4. EHLO -------------------------------------------------------------------------

    /// The EHLO name in its ASCII (punycode) form, and why it is not this machine's own name
    /// when the settings leave it empty and that name is not a valid host name.
    fn ehlo_name(&self) -> crate::machine::EhloName {
        let name = self.profile.ehlo_name.trim();
        if name.is_empty() {
            return crate::machine::ehlo_name(self.local_ip);
        }
        // Settings checks make it a host name or an address literal; only a host name has an ASCII form.
        let ascii = if name.starts_with('[') { None } else { idna::domain_to_ascii(name).ok() };
        crate::machine::EhloName { name: ascii.unwrap_or_else(|| name.to_string()), fallback_reason: None }
    }

    /// EHLO (falling back to HELO); returns whether only HELO worked.
    async fn say_hello(&mut self) -> Result<bool, Failure> {
        let name = self.ehlo_name().name;
        let r = self.cmd(&format!("EHLO {name}"), "sending EHLO").await?;
        if r.code == 250 {
            self.caps = Capabilities::from_ehlo(&r);
            return Ok(false);
        }
        if r.code >= 500 {
            let helo = self.cmd(&format!("HELO {name}"), "sending HELO").await?;
            if helo.code == 250 {
                self.caps = Capabilities::default();
                return Ok(true);
            }
        }
        Err(Failure::new(
            Category::EhloRejected,
            format!("The server rejected the greeting 'EHLO {name}': {}", r.one_line()),
            "Some servers accept only a fully qualified EHLO name that resolves in DNS: set 'EHLO name' to this \
             machine's full name (e.g. host.example.com).",
        ))
    }

    async fn ehlo(&mut self) -> StepResult {
        let name = self.ehlo_name();
        self.detail("EHLO name", name.name.clone());
        if name.name != self.profile.ehlo_name.trim() && !self.profile.ehlo_name.trim().is_empty() {
            self.detail("EHLO name as set", self.profile.ehlo_name.trim().to_string());
        }
        if let Some(why) = name.fallback_reason {
            self.detail("EHLO name chosen", why.clone());
            self.warnings.push(format!("EHLO name: {why}."));
        }
        let helo_only = self.say_hello().await?;
        self.details.extend(self.caps.details());
        if helo_only {
            let w = "The server refused EHLO and accepted only HELO: no extensions (no STARTTLS, no AUTH).".to_string();
            self.warnings.push(w.clone());
            return Ok((StepStatus::Warning, w));
        }
        Ok((StepStatus::Ok, self.caps.summary()))
    }

    // ---- 5. TLS --------------------------------------------------------------------------

    async fn tls_step(&mut self) -> StepResult {
        match self.profile.relay.security {
            Security::None => {
                let mut w = "Plain text connection: the mail (and any password) travels unencrypted.".to_string();
                if self.caps.has("STARTTLS") {
                    w.push_str(" The server offers STARTTLS: choose it.");
                }
                self.warnings.push(w.clone());
                Ok((StepStatus::Warning, w))
            }
            Security::ImplicitTls => self.handshake("Implicit TLS").await,
            Security::StartTls => {
                if !self.caps.has("STARTTLS") {
                    let port = self.profile.relay.port;
                    return Err(Failure::new(
                        Category::StarttlsNotOffered,
                        format!("{}:{port} does not offer STARTTLS (it offers: {}).", self.host, self.caps.summary()),
                        if port == 465 {
                            "Port 465 is for implicit TLS: choose 'Implicit TLS'.".to_string()
                        } else {
                            "Use the port your provider gives for STARTTLS (usually 587), or 'Implicit TLS' on 465. Choose \
                             'None' only on a network you trust: everything, the password too, would travel in plain text."
                                .to_string()
                        },
                    ));
                }
                let r = self.cmd("STARTTLS", "starting TLS").await?;
                if r.code != 220 {
                    return Err(Failure::new(
                        Category::StarttlsRefused,
                        format!("The server offered STARTTLS but refused it: {}", r.one_line()),
                        "The server's TLS setup is broken or overloaded: try again later, or try 'Implicit TLS' on port 465.",
                    ));
                }
                if self.session.as_ref().is_some_and(Session::has_unread) {
                    return Err(Failure::new(
                        Category::TlsHandshakeFailed,
                        "The server sent data after its STARTTLS reply, before TLS began (a sign of a tampered connection).",
                        "Don't use this network for mail until the cause is found; try another network.",
                    ));
                }
                let status = self.handshake("STARTTLS").await?;
                self.say_hello().await?;
                self.detail("capabilities after TLS", self.caps.summary());
                Ok(status)
            }
        }
    }

    /// The TLS handshake over the current plain connection, with the certificate verdict.
    async fn handshake(&mut self, how: &str) -> StepResult {
        let setup = match self.tls.take() {
            Some(s) => s,
            None => tls::setup(&self.host_ascii, self.profile.relay.ca_file.as_deref())?,
        };
        if setup.custom_cas > 0 {
            self.detail("custom CA file", format!("{} certificate(s) added", setup.custom_cas));
        }
        let Some(Session { stream: Stream::Plain(tcp), deadline, .. }) = self.session.take() else {
            unreachable!("TLS starts on a plain connection");
        };
        let result = bounded(self.cancel, deadline, setup.connector.connect(setup.server_name.clone(), tcp)).await;
        let place = self.place();
        let tls_stream = match result {
            Err(Wire::Cancelled) => return Err(Failure::cancelled()),
            Err(_) => return Err(place.stalled("negotiating TLS")),
            Ok(Err(e)) => return Err(self.handshake_failure(&e)),
            Ok(Ok(s)) => s,
        };
        let (_, conn) = tls_stream.get_ref();
        let (version, cipher) = tls::negotiated(conn);
        let cert = conn.peer_certificates().and_then(|c| c.first()).and_then(CertInfo::parse);
        self.t.info(format!("TLS started with {version}, cipher {cipher}"));
        if let Some(c) = &cert {
            self.t.info(format!("TLS peer DN=\"{}\"", c.subject));
        }
        self.t.tls = true;
        self.detail("mode", how);
        self.detail("protocol", version.clone());
        self.detail("cipher", cipher);
        if let Some(c) = &cert {
            self.details.extend(c.details());
        }
        let verify = self.profile.relay.verify_certificates;
        let verdict = setup.verifier.verdict();
        let custom_ca = setup.custom_cas > 0;
        self.tls = Some(setup);
        let mut status = StepStatus::Ok;
        match tls::judge(verdict, verify) {
            tls::Judgement::Trusted => self.detail("verification", "trusted: issued by a trusted CA, valid now, for this host name"),
            tls::Judgement::Rejected(e) => {
                self.detail("verification", format!("FAILED: {e}"));
                return Err(tls::certificate_failure(&e, &self.host, cert.as_ref(), custom_ca));
            }
            tls::Judgement::Unchecked(None) => self.detail("verification", "would pass (checking is off)"),
            tls::Judgement::Unchecked(Some(e)) => self.detail("verification", format!("not checked (would fail: {e})")),
        }
        if !verify {
            status = StepStatus::Warning;
            self.warnings.push(
                "Certificate checking is off: anyone on the network path could pretend to be the server and read the password.".into(),
            );
        }
        let deadline = self.step_deadline();
        self.session = Some(Session::new(Stream::Tls(Box::new(tls_stream)), self.cancel.clone(), deadline));
        Ok((status, format!("{how}: {version}, certificate {}", if verify { "trusted" } else { "not checked" })))
    }

    fn handshake_failure(&self, e: &std::io::Error) -> Failure {
        let place = self.place();
        let implicit = self.profile.relay.security == Security::ImplicitTls;
        match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
            Some(rustls::Error::InvalidMessage(_)) if implicit => {
                place.expects_plain_start("the first record from the server is not a TLS handshake")
            }
            Some(err @ (rustls::Error::PeerIncompatible(_) | rustls::Error::AlertReceived(rustls::AlertDescription::ProtocolVersion))) => {
                Failure::new(
                    Category::TlsVersionTooOld,
                    format!("The server and SMTP Desk have no TLS version in common: {err}."),
                    "The server probably offers only TLS 1.0 or 1.1, which are no longer safe and not supported. Ask its \
                     administrator to enable TLS 1.2 or 1.3.",
                )
            }
            Some(err) => Failure::new(
                Category::TlsHandshakeFailed,
                format!("The TLS handshake with {} failed: {err}.", self.host),
                "Check the security setting for this port (465: Implicit TLS, 587/25: STARTTLS); if it is right, the \
                 server's TLS setup is broken: tell its administrator.",
            ),
            None if matches!(e.kind(), std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset) => {
                if implicit {
                    place.expects_plain_start("the server closed the connection instead of answering the TLS handshake")
                } else {
                    place.closed("negotiating TLS")
                }
            }
            None => place.network("negotiating TLS with", e),
        }
    }

    // ---- 6. AUTH -------------------------------------------------------------------------

    async fn auth(&mut self) -> StepResult {
        let offered = self.caps.auth_summary();
        if self.profile.auth.method == AuthMethod::None {
            if !self.caps.offers_auth() {
                return Ok((StepStatus::Skipped, "No login configured.".into()));
            }
            return Ok((StepStatus::Skipped, format!("No login configured (the server offers AUTH {offered}).")));
        }
        let Some(password) = self.password().await? else {
            return Err(Failure::new(
                Category::PasswordMissing,
                "Password login is configured, but no password is saved.",
                "Save the password (in the window, or `smtp-desk password set`), then validate again.",
            ));
        };
        let user = self.profile.auth.username.clone();
        // From here on every line read is redacted as it is read (the keyring read may only now
        // have finished).
        self.t.set_redactor(redactor(self.profile, Some(&password)));
        self.detail("user", user.clone());
        self.detail("offered", if offered.is_empty() { "(none)".into() } else { offered.clone() });
        if !self.caps.offers_auth() {
            let plain = self.session.as_ref().is_some_and(|s| matches!(s.stream, Stream::Plain(_)));
            if plain && self.caps.has("STARTTLS") {
                return Err(Failure::new(
                    Category::AuthOnlyAfterStarttls,
                    "The server offers login only after STARTTLS, and this connection is plain text.",
                    "Choose 'STARTTLS' as security: the password must not travel unencrypted anyway.",
                ));
            }
            return Err(Failure::new(
                Category::AuthNotOffered,
                format!("{}:{} does not offer login (AUTH).", self.host, self.profile.relay.port),
                "This port may be for server-to-server mail (25), which takes no login: use the submission port 587 \
                 (STARTTLS) or 465 (implicit TLS). If the server relays for this machine without a login, set login to 'None'.",
            ));
        }
        let wanted: &[&str] = match self.profile.auth.mechanism {
            Mechanism::Auto => &["PLAIN", "LOGIN"],
            Mechanism::Plain => &["PLAIN"],
            Mechanism::Login => &["LOGIN"],
        };
        let Some(mech) = wanted.iter().find(|m| self.caps.offers(m)).copied() else {
            return Err(Failure::new(
                Category::NoCommonMechanism,
                format!("The server offers AUTH {offered}, but SMTP Desk would use {}.", wanted.join(" or ")),
                if self.profile.auth.mechanism != Mechanism::Auto && (self.caps.offers("PLAIN") || self.caps.offers("LOGIN")) {
                    "Set the mechanism to 'Auto'.".to_string()
                } else {
                    "SMTP Desk logs in with PLAIN or LOGIN. Ask the provider for an app password usable with them (OAuth2 \
                     support is planned)."
                        .to_string()
                },
            ));
        };
        self.detail("mechanism", mech);
        let pw = password.expose();
        let r = if mech == "PLAIN" {
            let line = format!("AUTH PLAIN {}", sasl::plain(&user, pw));
            self.cmd_shown(&line, "AUTH PLAIN ********", "logging in").await?
        } else {
            let r = self.cmd("AUTH LOGIN", "logging in").await?;
            if r.code != 334 {
                r
            } else {
                let r = self.cmd_shown(&sasl::login_step(&user), "******** (user name, base64)", "logging in").await?;
                if r.code != 334 {
                    r
                } else {
                    self.cmd_shown(&sasl::login_step(pw), "******** (password, base64)", "logging in").await?
                }
            }
        };
        if r.code == 235 {
            return Ok((StepStatus::Ok, format!("Logged in as {user} with {mech}.")));
        }
        let hint = match r.code {
            534 | 538 => {
                "The server wants a stronger login: providers with two-factor login need an app password (create one in \
                          the account's security settings) or OAuth2."
            }
            454 | 421 => "The server could not check the password right now (a temporary failure): try again in a few minutes.",
            504 => "The server refused this mechanism although it offered it: set the mechanism to the other one (PLAIN or LOGIN).",
            _ => {
                "Check the user name (often the full email address) and the password, then save the password again. \
                  Accounts with two-factor login need an app password."
            }
        };
        Err(Failure::new(Category::AuthRejected, format!("The server rejected the login for {user}: {}", r.one_line()), hint))
    }

    // ---- 7. envelope (and DATA) ------------------------------------------------------------

    async fn envelope(&mut self, rcpt: &str, validate: bool) -> StepResult {
        let from = self.profile.sender.from_address.clone();
        let utf8 = (!from.is_ascii() || !rcpt.is_ascii()) && self.caps.has("SMTPUTF8");
        // Both addresses are checked before MAIL FROM, so a refusal leaves nothing half-sent.
        let from_wire = self.wire_address(&from, utf8, "sender")?;
        let rcpt_wire = self.wire_address(rcpt, utf8, "recipient")?;
        let r = self.cmd(&format!("MAIL FROM:<{from_wire}>{}", if utf8 { " SMTPUTF8" } else { "" }), "giving the sender").await?;
        self.detail("MAIL FROM", r.one_line());
        if !r.is_positive() {
            return Err(self.envelope_refused(&r, Category::SenderRefused, &from));
        }
        let r = self.cmd(&format!("RCPT TO:<{rcpt_wire}>"), "giving the recipient").await?;
        self.detail("RCPT TO", r.one_line());
        if !r.is_positive() {
            return Err(self.envelope_refused(&r, Category::RecipientRefused, rcpt));
        }
        let mut status = StepStatus::Ok;
        let mut summary = format!("The server accepts mail from {from} to {rcpt}.");
        if self.profile.auth.method == AuthMethod::None {
            let w = format!("Anonymous relay accepted: {} took mail for {rcpt} without a login.", self.host);
            self.warnings.push(w.clone());
            status = StepStatus::Warning;
            summary = w;
        }
        if validate {
            // Nothing is sent: reset the transaction and say goodbye; their replies don't matter.
            let _ = self.cmd("RSET", "resetting").await;
            let _ = self.cmd("QUIT", "saying goodbye").await;
            self.session = None;
        }
        Ok((status, summary))
    }

    /// `address` in the form this server takes (see [`address::for_server`]), noted in the details
    /// when that differs from what the user wrote.
    fn wire_address(&mut self, address: &str, smtputf8: bool, role: &str) -> Result<String, Failure> {
        match address::for_server(address, smtputf8) {
            Ok(wire) => {
                if wire != address {
                    self.detail(&format!("{role} as sent (ASCII form)"), wire.clone());
                }
                Ok(wire)
            }
            Err(e @ address::Error::NonAsciiLocalPart(_)) => Err(Failure::new(
                Category::NonAsciiAddress,
                format!("The {role} can't be given to {}: {e}. Nothing was sent.", self.host),
                format!(
                    "Use an ASCII {role} address (letters a-z, digits and . _ + - before the @), or a server that supports \
                     SMTPUTF8 (international email addresses)."
                ),
            )),
            Err(e @ address::Error::BadDomain(_)) => Err(Failure::new(
                Category::InvalidSettings,
                format!("The {role} can't be used: {e}. Nothing was sent."),
                format!("Check the spelling of the {role} address's domain (after the @)."),
            )),
        }
    }

    fn envelope_refused(&self, r: &Reply, category: Category, addr: &str) -> Failure {
        if r.code == 530 && self.profile.auth.method == AuthMethod::None {
            return Failure::new(
                Category::AuthRequired,
                format!("The server wants a login before it takes mail: {}", r.one_line()),
                "Choose 'Password' login and enter the account's user name and password.",
            );
        }
        let (what, hint) = if category == Category::SenderRefused {
            (
                "sender",
                format!(
                    "The server does not let this account send as {addr}. Use the address of the account you log in with, or \
                     one your provider lets you send as; some servers also check that the sender's domain exists."
                ),
            )
        } else {
            (
                "recipient",
                format!(
                    "If the server's text says relaying is denied, it won't carry mail to other domains for you: log in with a \
                     password, or use the relay your provider gives you. If it says the user is unknown, check {addr}."
                ),
            )
        };
        Failure::new(category, format!("The server refused the {what} {addr}: {}", r.one_line()), hint)
    }

    async fn data(&mut self, message: &[u8]) -> StepResult {
        let r = self.cmd("DATA", "starting the message").await?;
        if r.code != 354 {
            return Err(message_refused(&r));
        }
        // Dot-stuffing (RFC 5321 §4.5.2), then the end-of-data line.
        let text = String::from_utf8_lossy(message);
        let mut wire = Vec::with_capacity(message.len() + 64);
        for line in text.trim_end_matches("\r\n").split("\r\n") {
            self.t.push(Direction::Client, line);
            if line.starts_with('.') {
                wire.push(b'.');
            }
            wire.extend_from_slice(line.as_bytes());
            wire.extend_from_slice(b"\r\n");
        }
        wire.extend_from_slice(b".\r\n");
        self.t.push(Direction::Client, ".");
        let s = self.session.as_mut().expect("connected");
        let r = match s.write_all(&wire).await {
            Ok(()) => s.read_reply(&mut self.t).await,
            Err(e) => Err(e),
        };
        let r = r.map_err(|e| self.wire(e, "sending the message"))?;
        self.last_reply = Some(r.clone());
        if r.code != 250 {
            return Err(message_refused(&r));
        }
        self.detail("reply", r.one_line());
        let _ = self.cmd("QUIT", "saying goodbye").await;
        self.last_reply = Some(r.clone());
        self.session = None;
        Ok((StepStatus::Ok, format!("Accepted: {}", r.one_line())))
    }

    /// After a refusal the conversation is still in step: end it properly, briefly.
    async fn quit_politely(&mut self, category: Category) {
        let in_step = matches!(
            category,
            Category::AuthRejected
                | Category::AuthRequired
                | Category::AuthNotOffered
                | Category::AuthOnlyAfterStarttls
                | Category::NoCommonMechanism
                | Category::PasswordMissing
                | Category::SenderRefused
                | Category::RecipientRefused
                | Category::NonAsciiAddress
                | Category::MessageRefused
                | Category::StarttlsNotOffered
                | Category::EhloRejected
        );
        let last = self.last_reply.clone();
        if let (true, Some(s)) = (in_step, self.session.as_mut()) {
            s.deadline = Instant::now() + Duration::from_millis(500).min(self.timeout);
            let cancel = CancelToken::new();
            s.cancel = cancel;
            if s.send(&mut self.t, "QUIT", "QUIT").await.is_ok() {
                let _ = s.read_reply(&mut self.t).await;
            }
        }
        self.last_reply = last;
        self.session = None;
    }
}

/// What to scrub from everything shown, once the password is known.
fn redactor(profile: &Profile, password: Option<&Password>) -> Redactor {
    match (password, profile.auth.method) {
        (Some(pw), AuthMethod::Password) => Redactor::new(&profile.auth.username, pw.expose()),
        _ => Redactor::default(),
    }
}

fn dns_timeout(place: &Place<'_>) -> Failure {
    Failure::new(
        Category::Timeout,
        format!("No DNS answer for {} within {} s.", place.host, place.timeout_secs),
        "This machine's DNS server does not answer: check the network connection (VPN?), or enter the server's IP address as the host.",
    )
}

fn message_refused(r: &Reply) -> Failure {
    Failure::new(
        Category::MessageRefused,
        format!("The server refused the message: {}", r.one_line()),
        "Read the server's text: it may reject the content (spam filter), the size, or the sender's domain (SPF/DMARC).",
    )
}
