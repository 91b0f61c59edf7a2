//! Step 7 and 8: the envelope (MAIL FROM, RCPT TO; RSET after a validation) and DATA with the
//! message, written through [`crate::smtp::codec`].

use super::{Probe, Report, StepResult};
use crate::settings::AuthMethod;
use crate::smtp::address;
use crate::smtp::codec;
use crate::smtp::failure::{hints, Category, Failure};
use crate::smtp::reply::Reply;
use crate::smtp::transcript::Direction;
use crate::smtp::StepStatus;

impl Probe<'_> {
    pub(super) async fn envelope(&mut self, rcpt: &str, validate: bool) -> StepResult {
        let mut report = Report::default();
        let from = self.o.profile.sender.from_address.clone();
        let utf8 = (!from.is_ascii() || !rcpt.is_ascii()) && self.o.caps.has("SMTPUTF8");
        // Both addresses are checked before MAIL FROM, so a refusal leaves nothing half-sent.
        let from_wire = self.wire_address(&from, utf8, "sender", &mut report).map_err(|f| report.fail(f))?;
        let rcpt_wire = self.wire_address(rcpt, utf8, "recipient", &mut report).map_err(|f| report.fail(f))?;
        let r = self
            .o
            .cmd(&format!("MAIL FROM:<{from_wire}>{}", if utf8 { " SMTPUTF8" } else { "" }), "giving the sender")
            .await
            .map_err(|f| report.fail(f))?;
        report.detail("MAIL FROM", r.one_line());
        if !r.is_positive() {
            return Err(report.fail(self.envelope_refused(&r, Category::SenderRefused, &from)));
        }
        let r = self.o.cmd(&format!("RCPT TO:<{rcpt_wire}>"), "giving the recipient").await.map_err(|f| report.fail(f))?;
        report.detail("RCPT TO", r.one_line());
        if !r.is_positive() {
            return Err(report.fail(self.envelope_refused(&r, Category::RecipientRefused, rcpt)));
        }
        let mut status = StepStatus::Ok;
        let mut summary = format!("The server accepts mail from {from} to {rcpt}.");
        // A mail server taking mail for its own domain without a login is normal (Direct mode).
        if self.o.profile.auth.method == AuthMethod::None && !self.o.opportunistic {
            let w = format!("Anonymous relay accepted: {} took mail for {rcpt} without a login.", self.o.host);
            report.warn(w.clone());
            status = StepStatus::Warning;
            summary = w;
        }
        if validate {
            // Nothing is sent: reset the transaction and say goodbye; their replies don't matter.
            let _ = self.o.cmd("RSET", "resetting").await;
            let _ = self.o.cmd("QUIT", "saying goodbye").await;
            self.o.session = None;
        }
        report.done(status, summary)
    }

    /// `address` in the form this server takes (see [`address::for_server`]), noted in the details
    /// when that differs from what the user wrote.
    fn wire_address(&self, address: &str, smtputf8: bool, role: &str, report: &mut Report) -> Result<String, Failure> {
        match address::for_server(address, smtputf8) {
            Ok(wire) => {
                if wire != address {
                    report.detail(&format!("{role} as sent (ASCII form)"), wire.clone());
                }
                Ok(wire)
            }
            Err(e @ address::Error::NonAsciiLocalPart(_)) => Err(self.o.place().non_ascii_address(role, &e)),
            Err(e @ address::Error::BadDomain(_)) => Err(hints::bad_address_domain(role, &e)),
        }
    }

    fn envelope_refused(&self, r: &Reply, category: Category, addr: &str) -> Failure {
        if r.code == 530 && self.o.profile.auth.method == AuthMethod::None {
            return hints::auth_required(r);
        }
        if category == Category::SenderRefused {
            hints::sender_refused(addr, r)
        } else {
            hints::recipient_refused(addr, r)
        }
    }

    pub(super) async fn data(&mut self, message: &[u8]) -> StepResult {
        let mut report = Report::default();
        let r = self.o.cmd("DATA", "starting the message").await?;
        if r.code != 354 {
            return Err(hints::message_refused(&r).into());
        }
        let message = codec::normalize_line_ends(message);
        for line in codec::lines(&message) {
            self.o.t.push(Direction::Client, &String::from_utf8_lossy(line));
        }
        self.o.t.push(Direction::Client, ".");
        let wire = codec::data_payload(&message);
        let s = self.o.session.as_mut().expect("connected");
        let r = match s.write_all(&wire).await {
            Ok(()) => s.read_reply(&mut self.o.t).await,
            Err(e) => Err(e),
        };
        let r = r.map_err(|e| self.o.wire(e, "sending the message"))?;
        self.o.last_reply = Some(r.clone());
        if r.code != 250 {
            return Err(hints::message_refused(&r).into());
        }
        report.detail("reply", r.one_line());
        let _ = self.o.cmd("QUIT", "saying goodbye").await;
        self.o.last_reply = Some(r.clone());
        self.o.session = None;
        report.done(StepStatus::Ok, format!("Accepted: {}", r.one_line()))
    }
}
