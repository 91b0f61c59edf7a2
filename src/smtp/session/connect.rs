//! Steps 2 and 3: the TCP connection (each address in turn) and the server's greeting, including
//! the check whether a silent port wants implicit TLS.

use super::{Opener, Report, StepResult, TLS_SNIFF};
use crate::settings::Security;
use crate::smtp::conn::{bounded, Error as Wire, Session, Stream};
use crate::smtp::failure::{hints, Failure};
use crate::smtp::tls;
use crate::smtp::StepStatus;
use std::net::SocketAddr;
use tokio::net::TcpStream;
use tokio::time::Instant;

impl Opener<'_> {
    pub(super) async fn connect(&mut self) -> StepResult {
        let mut report = Report::default();
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
                    report.detail(&addr.to_string(), format!("connected in {ms} ms"));
                    self.session = Some(Session::new(Stream::Plain(tcp), self.cancel.clone(), deadline));
                    return report.done(StepStatus::Ok, format!("Connected to {addr} in {ms} ms."));
                }
                Err(Wire::Cancelled) => return Err(report.fail(Failure::cancelled())),
                Err(_) => {
                    timed_out = true;
                    self.t.info(format!("No answer from {addr} after {ms} ms."));
                    report.detail(&addr.to_string(), format!("no answer after {ms} ms"));
                }
                Ok(Err(e)) => {
                    self.t.info(format!("{addr}: {e}"));
                    report.detail(&addr.to_string(), format!("{e} after {ms} ms"));
                    match e.kind() {
                        std::io::ErrorKind::ConnectionRefused => refused += 1,
                        std::io::ErrorKind::NetworkUnreachable | std::io::ErrorKind::HostUnreachable => unreachable = true,
                        _ => other = Some(e),
                    }
                }
            }
        }
        let place = self.place();
        Err(report.fail(if timed_out {
            place.timeout("connecting")
        } else if refused > 0 {
            place.connection_refused()
        } else if unreachable {
            place.network_unreachable()
        } else {
            place.network("connecting to", &other.unwrap_or_else(|| std::io::Error::other("no address")))
        }))
    }

    pub(super) async fn banner(&mut self) -> StepResult {
        let mut report = Report::default();
        let s = self.session.as_mut().expect("connected");
        match s.read_reply(&mut self.t).await {
            Ok(r) => {
                self.last_reply = Some(r.clone());
                report.detail("greeting", r.one_line());
                if r.code == 220 {
                    report.done(StepStatus::Ok, r.one_line())
                } else {
                    Err(report.fail(hints::server_refused(&r)))
                }
            }
            Err(Wire::Timeout) if self.profile.relay.security != Security::ImplicitTls => {
                if self.speaks_tls().await {
                    Err(self.place().expects_implicit_tls().into())
                } else if self.cancelled() {
                    Err(Failure::cancelled().into())
                } else {
                    Err(self.place().stalled("waiting for the server's greeting (220)").into())
                }
            }
            Err(e) => Err(self.wire(e, "waiting for the server's greeting (220)").into()),
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
        let deadline = (Instant::now() + TLS_SNIFF.min(self.timeout)).min(self.step_deadline());
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
}
