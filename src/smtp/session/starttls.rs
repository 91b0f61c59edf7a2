//! Step 5: TLS — STARTTLS or implicit TLS, the handshake, and the certificate with its verdict.

use super::{Opener, Report, StepResult};
use crate::settings::Security;
use crate::smtp::conn::{bounded, Error as Wire, Session, Stream};
use crate::smtp::failure::{hints, Failure};
use crate::smtp::tls::{self, CertInfo};
use crate::smtp::StepStatus;

impl Opener<'_> {
    pub(super) async fn tls_step(&mut self) -> StepResult {
        let mut report = Report::default();
        match self.profile.relay.security {
            Security::None => {
                let mut w = "Plain text connection: the mail (and any password) travels unencrypted.".to_string();
                if self.caps.has("STARTTLS") {
                    w.push_str(" The server offers STARTTLS: choose it.");
                }
                report.warn(w.clone());
                report.done(StepStatus::Warning, w)
            }
            Security::ImplicitTls => {
                let (status, summary) = self.handshake("Implicit TLS", &mut report).await?;
                report.done(status, summary)
            }
            Security::StartTls => {
                if !self.caps.has("STARTTLS") && self.opportunistic {
                    let w = format!("{} offers no STARTTLS: the mail travels unencrypted to it.", self.host);
                    report.warn(w.clone());
                    return report.done(StepStatus::Warning, w);
                }
                if !self.caps.has("STARTTLS") {
                    return Err(self.place().starttls_not_offered(&self.caps.summary()).into());
                }
                let r = self.cmd("STARTTLS", "starting TLS").await?;
                if r.code != 220 {
                    return Err(hints::starttls_refused(&r).into());
                }
                if self.session.as_ref().is_some_and(Session::has_unread) {
                    return Err(hints::data_before_tls().into());
                }
                let (status, summary) = self.handshake("STARTTLS", &mut report).await?;
                self.say_hello().await.map_err(|f| report.fail(f))?;
                report.detail("capabilities after TLS", self.caps.summary());
                report.done(status, summary)
            }
        }
    }

    /// The TLS handshake over the current plain connection, with the certificate verdict; its
    /// rows go to `report` (also when the certificate is refused: that is when they matter most).
    async fn handshake(&mut self, how: &str, report: &mut Report) -> Result<(StepStatus, String), super::Failed> {
        let setup = match self.tls.take() {
            Some(s) => s,
            None => tls::setup(&self.host_ascii, self.profile.relay.ca_file.as_deref()).map_err(|f| report.fail(f))?,
        };
        if setup.custom_cas > 0 {
            report.detail("custom CA file", format!("{} certificate(s) added", setup.custom_cas));
        }
        let Some(Session { stream: Stream::Plain(tcp), deadline, .. }) = self.session.take() else {
            unreachable!("TLS starts on a plain connection");
        };
        let result = bounded(self.cancel, deadline, setup.connector.connect(setup.server_name.clone(), tcp)).await;
        let place = self.place();
        let tls_stream = match result {
            Err(Wire::Cancelled) => return Err(report.fail(Failure::cancelled())),
            Err(_) => return Err(report.fail(place.stalled("negotiating TLS"))),
            Ok(Err(e)) => return Err(report.fail(self.handshake_failure(&e))),
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
        report.detail("mode", how);
        report.detail("protocol", version.clone());
        report.detail("cipher", cipher);
        if let Some(c) = &cert {
            report.details.extend(c.details());
        }
        self.cert = cert.clone();
        let verify = self.profile.relay.verify_certificates;
        let verdict = setup.verifier.verdict();
        let custom_ca = setup.custom_cas > 0;
        self.tls = Some(setup);
        let mut status = StepStatus::Ok;
        let mut unverified = None;
        match tls::judge(verdict, verify) {
            tls::Judgement::Trusted => report.detail("verification", "trusted: issued by a trusted CA, valid now, for this host name"),
            tls::Judgement::Rejected(e) => {
                report.detail("verification", format!("FAILED: {e}"));
                return Err(report.fail(tls::certificate_failure(&e, &self.host, cert.as_ref(), custom_ca)));
            }
            tls::Judgement::Unchecked(None) => report.detail("verification", "would pass (checking is off)"),
            tls::Judgement::Unchecked(Some(e)) => {
                report.detail("verification", format!("not checked (would fail: {e})"));
                unverified = Some(e);
            }
        }
        if !verify && self.opportunistic {
            // Opportunistic TLS: encrypted either way; the verdict is kept for the log.
            if let Some(e) = unverified {
                status = StepStatus::Warning;
                report.warn(format!(
                    "{}'s certificate does not verify ({e}); used anyway, as mail servers do without an MTA-STS policy.",
                    self.host
                ));
            }
        } else if !verify {
            status = StepStatus::Warning;
            report.warn(
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
                hints::tls_version_too_old(err)
            }
            Some(err) => place.tls_handshake_failed(err),
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
}
